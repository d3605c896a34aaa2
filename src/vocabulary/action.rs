//! The actions offboarding takes on an account, in the words a policy uses for them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Something done to a leaver's account. The order is the order actions run in within one
/// change (a `BTreeMap` of wanted actions), so `delete` comes after everything that needs the
/// account to exist; `ALL` and `NAMES` follow it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Disable,
    RevokeSessions,
    /// Share the account's files with the manager (OneDrive), before licences and groups go.
    HandOffFiles,
    RemoveGroups,
    RemoveLicenses,
    Move,
    ResetPassword,
    /// Remove registered sign-in factors (authenticator apps, phones, security keys).
    ResetMfa,
    /// Remove the account's application role assignments.
    RemoveAppRoles,
    /// Hand the mailbox to the manager (shared mailbox, forwarding, delegation). Where the
    /// system's API cannot do it, the kind makes it a task with exact instructions.
    HandOffMailbox,
    Delete,
    /// Recover a physical item (laptop, badge); only a manual lane can do it.
    Collect,
}

impl Action {
    pub const ALL: &'static [Action] = &[
        Action::Disable,
        Action::RevokeSessions,
        Action::HandOffFiles,
        Action::RemoveGroups,
        Action::RemoveLicenses,
        Action::Move,
        Action::ResetPassword,
        Action::ResetMfa,
        Action::RemoveAppRoles,
        Action::HandOffMailbox,
        Action::Delete,
        Action::Collect,
    ];
    pub const NAMES: &'static [&'static str] = &[
        "disable",
        "revoke-sessions",
        "hand-off-files",
        "remove-groups",
        "remove-licenses",
        "move",
        "reset-password",
        "reset-mfa",
        "remove-app-roles",
        "hand-off-mailbox",
        "delete",
        "collect",
    ];

    pub fn parse(s: &str) -> Option<Self> {
        Self::NAMES
            .iter()
            .position(|n| *n == s)
            .map(|i| Self::ALL[i])
    }

    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
