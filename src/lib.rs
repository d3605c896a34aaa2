//! offboard: declarative employee offboarding.
//!
//! Policy (KDL) + HR roster + live accounts -> a reviewable plan -> ordered, verified,
//! journaled revocation. The library is layered: `policy` and `rules` are pure and know
//! nothing of connectors or the CLI; `cli` is the only module that talks to the terminal.

pub mod apply;
pub mod audit;
pub mod cli;
pub mod connector;
pub mod escape;
#[doc(hidden)]
pub mod fuzz_targets;
pub mod journal;
pub mod lines;
pub mod notify;
pub mod ops;
pub mod plan;
pub mod policy;
pub mod policytest;
pub mod reconcile;
pub mod redact;
pub mod roster;
pub mod rules;
pub mod server;
pub mod vcs;
pub mod vocabulary;
pub mod when;
