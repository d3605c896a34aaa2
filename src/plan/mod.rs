//! The plan: pure data describing what `apply` will do, and its file format.
//!
//! A plan is what a reviewer approves, so it carries everything needed to judge it and to
//! refuse it later if the world moved: the policy hash, the roster hash, each system's
//! refresh fingerprint and, per change, the account's fingerprint and expected prior state.
//! Renderers (text, JSON, Markdown) read this one model. This module performs no I/O except
//! reading and writing plan files.

pub mod compare;
pub mod render;

use std::path::Path;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::connector::AccountStatus;
use crate::policy::{Action, Cutoff, Tier};
use crate::roster::{Employment, TerminationType};

/// Bumped whenever a plan file written by one version cannot be read by another. 2: account
/// fingerprints hash fields directly (format 1 plans would fail every fingerprint check).
pub const FORMAT_VERSION: u32 = 2;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub format_version: u32,
    /// The instant the plan was computed for (`--at`, else the wall clock).
    pub created_at: Timestamp,
    pub policy: PolicyRef,
    pub roster: RosterRef,
    /// What each system looked like when it was read.
    pub refreshed: Vec<RefreshedSystem>,
    /// Leavers in scope: due now, or scheduled for later.
    pub leavers: Vec<Leaver>,
    pub changes: Vec<Change>,
    /// Accounts the plan deliberately leaves alone, for the reviewer to see.
    pub notes: Vec<Note>,
    pub warnings: Vec<String>,
    /// The journal the plan was made against (Terraform's state lineage and serial):
    /// `apply` refuses the plan on another journal, or on one whose head went backwards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journal: Option<JournalRef>,
}

/// Which journal, and how far it reached, when a plan was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalRef {
    /// Made when the journal was created (`offboard journal init`); never changes.
    pub lineage: String,
    /// The newest record's sequence number and hash (0 and the genesis hash when empty).
    pub head_seq: i64,
    pub head_hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyRef {
    pub content_hash: String,
    #[serde(default)]
    pub git_commit: Option<String>,
    #[serde(default)]
    pub dirty: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RosterRef {
    pub source: String,
    pub hash: String,
    pub people: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshedSystem {
    pub system: String,
    pub tier: Tier,
    /// The connector kind (`file`, `scim`, `ldap`, ...) or `manual`.
    pub connector: String,
    pub accounts: usize,
    /// `None` for manual lanes, which have no accounts to read.
    pub fingerprint: Option<String>,
    /// Read by a targeted lookup: `accounts` counts the named people's accounts only, and the
    /// system's other accounts were not seen.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub targeted: bool,
    /// What `disable` leaves the account as, when the kind says more than "disabled" (Okta:
    /// `suspended` or `deactivated`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_as: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LeaverState {
    /// Cutoff passed: changes are planned.
    Due,
    /// Cutoff in the future: nothing yet.
    Scheduled,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Leaver {
    /// The roster key (email by default).
    pub person: String,
    pub name: String,
    pub email: String,
    pub department: String,
    pub employment: Employment,
    pub termination_type: Option<TerminationType>,
    pub state: LeaverState,
    pub cutoff: Timestamp,
    pub cutoff_rule: Cutoff,
    /// When accounts are deleted; `None` when never (retained or no delete rule).
    pub delete_at: Option<Timestamp>,
    /// Rules (or `legal hold (roster)`) that forbid deletion.
    pub retained_by: Vec<String>,
    /// Every rule whose condition matched.
    pub rules: Vec<String>,
    pub notify: Vec<String>,
    /// Accounts the person owns across all systems.
    pub accounts: usize,
    /// HR recorded no termination date nor last day: cut now, and no deletion is scheduled
    /// until HR records a date (a cutoff of "now" would move the deletion on every run).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub undated: bool,
    /// The emergency override that makes this person a leaver cut now (`leave --emergency`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emergency: Option<EmergencyRef>,
}

/// An emergency override as a plan shows it: which one, and whether HR agrees yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmergencyRef {
    pub id: String,
    pub by: String,
    pub reason: String,
    /// HR's export lists the person as terminated too; until it does, nothing is deleted.
    pub confirmed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    /// `~`: the account stays, with less access.
    Update,
    /// `-`: the account is removed.
    Delete,
    /// `!`: a person must do something (manual lane).
    Task,
}

impl ChangeKind {
    pub fn glyph(self) -> char {
        match self {
            ChangeKind::Update => '~',
            ChangeKind::Delete => '-',
            ChangeKind::Task => '!',
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRef {
    pub id: String,
    pub username: String,
    /// First email or username: what a reviewer recognises.
    pub label: String,
    /// The account's fingerprint when planned; apply refuses to act if it changed.
    pub fingerprint: String,
    /// The system's version tag when planned (SCIM `meta.version`), for conditional writes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// The parts of an account offboarding changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountState {
    pub status: AccountStatus,
    pub groups: Vec<String>,
    pub licenses: Vec<String>,
    pub sessions: Option<u32>,
    pub container: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub app_roles: Vec<String>,
}

impl AccountState {
    /// The state of a live account (entitlements count as groups: both are removed together).
    pub fn of(a: &crate::connector::Account) -> AccountState {
        AccountState {
            status: a.status,
            groups: a.groups.iter().chain(&a.entitlements).cloned().collect(),
            licenses: a.licenses.clone(),
            sessions: a.sessions,
            container: a.container.clone(),
            app_roles: a.app_roles.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    pub owner: String,
    pub due: Timestamp,
    pub actions: Vec<Action>,
    pub escalate_to: Option<String>,
    /// What exactly to do, when the system's kind knows (an Exchange cmdlet, the dynamic
    /// group whose rule still includes the leaver).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub person: String,
    pub system: String,
    pub tier: Tier,
    pub kind: ChangeKind,
    /// The account acted on; `None` for manual tasks.
    pub account: Option<AccountRef>,
    pub actions: Vec<Action>,
    pub before: Option<AccountState>,
    /// `None` when the account will no longer exist.
    pub after: Option<AccountState>,
    pub task: Option<Task>,
    /// The rules that produced this change (for review and audit; apply never reads them).
    pub rules: Vec<String>,
    /// Who receives the account's files (`hand-off-files`): the leaver's manager.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hand_off_to: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NoteKind {
    /// Active, and nobody in the roster owns it.
    Orphan,
    /// Several people match it; never changed automatically.
    Disputed,
    /// Exempted by policy.
    Exempt,
    /// Mastered in another system (an Entra ID user synced from on-premises AD): cut there,
    /// and this system follows at the next sync.
    Follows,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    pub kind: NoteKind,
    pub system: String,
    pub account: AccountRef,
    /// Candidate owners (disputed) or the exemption owner.
    pub owners: Vec<String>,
    pub detail: String,
}

/// Counts for the summary line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub disable: usize,
    pub delete: usize,
    /// Updates that do not disable (e.g. removing groups from an already disabled account).
    pub update: usize,
    pub tasks: usize,
}

impl Counts {
    pub fn total(&self) -> usize {
        self.disable + self.delete + self.update + self.tasks
    }
}

impl Plan {
    pub fn counts(&self) -> Counts {
        Self::count(self.changes.iter())
    }

    pub fn count<'a>(changes: impl Iterator<Item = &'a Change>) -> Counts {
        let mut c = Counts::default();
        for change in changes {
            match change.kind {
                ChangeKind::Delete => c.delete += 1,
                ChangeKind::Task => c.tasks += 1,
                ChangeKind::Update if change.actions.contains(&Action::Disable) => c.disable += 1,
                ChangeKind::Update => c.update += 1,
            }
        }
        c
    }

    pub fn has_changes(&self) -> bool {
        !self.changes.is_empty()
    }

    pub fn due_leavers(&self) -> impl Iterator<Item = &Leaver> {
        self.leavers.iter().filter(|l| l.state == LeaverState::Due)
    }

    /// The canonical JSON form (also the plan file).
    pub fn to_json(&self) -> String {
        // A plan contains only strings, numbers and timestamps; encoding cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PlanFileError {
    #[error("cannot read plan file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot write plan file {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not an offboard plan: {source}")]
    Parse {
        path: String,
        source: serde_json::Error,
    },
    #[error(
        "{path} has plan format {found}; this offboard reads format {FORMAT_VERSION}: make the plan again"
    )]
    Version { path: String, found: u32 },
}

pub fn write_file(path: &Path, plan: &Plan) -> Result<(), PlanFileError> {
    std::fs::write(path, plan.to_json()).map_err(|source| PlanFileError::Write {
        path: path.display().to_string(),
        source,
    })
}

pub fn read_file(path: &Path) -> Result<Plan, PlanFileError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| PlanFileError::Read {
        path: shown.clone(),
        source,
    })?;
    #[derive(Deserialize)]
    struct Version {
        format_version: u32,
    }
    let version: Version = serde_json::from_str(&text).map_err(|source| PlanFileError::Parse {
        path: shown.clone(),
        source,
    })?;
    if version.format_version != FORMAT_VERSION {
        return Err(PlanFileError::Version {
            path: shown,
            found: version.format_version,
        });
    }
    serde_json::from_str(&text).map_err(|source| PlanFileError::Parse {
        path: shown,
        source,
    })
}
