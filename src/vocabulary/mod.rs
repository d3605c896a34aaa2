//! The words every layer shares: an [`Account`] as connectors report it, the [`Action`]s taken
//! on one, and the [`ConnectorError`] a system answers with.
//!
//! This is a leaf: it depends on nothing else in offboard but the secret redactor and the
//! terminal escaper, so the policy model, the planner and the connectors can all speak it
//! without depending on each other. `connector` and `policy` re-export these types under
//! their old paths.

mod account;
mod action;
mod error;

pub use account::{Account, AccountStatus, same_container};
pub use action::Action;
pub use error::{ConnectorError, ErrorKind};
