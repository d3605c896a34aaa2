//! Driving `offboard` through a pseudo-terminal (rexpect), as an operator at a keyboard would:
//! questions are asked, `yes` is typed, progress is watched.

use std::path::Path;

use assert_cmd::cargo::CommandCargoExt;
use rexpect::session::{PtySession, spawn_command};

/// How long a step may take before the test fails.
const TIMEOUT_MS: u64 = 30_000;

/// `offboard -C dir ARGS...` on a pseudo-terminal, without colour, journaling `actor`.
pub fn on_a_terminal(dir: &Path, args: &[&str], actor: &str) -> PtySession {
    let mut cmd = std::process::Command::cargo_bin("offboard").expect("the offboard binary");
    cmd.env("OFFBOARD_NO_NOTIFY", "1");
    cmd.arg("-C")
        .arg(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .env("OFFBOARD_ACTOR", actor);
    spawn_command(cmd, Some(TIMEOUT_MS)).expect("offboard starts on a pseudo-terminal")
}
