//! Hostile input, by class: each case states what an attacker (a pull-request author, an HR
//! export, a remote system) tries, and asserts the safe outcome. Issue 14's catalogue grows
//! here, one module per class; the fuzz targets cover the same parsers with generated input.

mod output;
mod parsing;
mod sandbox;
mod secrets;
mod trust;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use offboard::policy;
use offboard_test_support as common;
