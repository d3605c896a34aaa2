//! Operations: what offboard does, as library functions with typed requests and results.
//!
//! The CLI parses arguments into a [`Workspace`] and a request, calls one operation, renders
//! its result and maps it to an exit code; the server mode will call the same functions. An
//! operation never prints: failures come back as an [`OpError`] (the message, the problems
//! that led to it with their policy diagnostics, and a hint saying what to do), and what an
//! operator should see along the way (warnings, systems read) goes to an [`Observer`].
//!
//! - [`inputs`]: the policy, the roster and the live state, each with the guards that refuse
//!   to plan from something implausible (a shrunken roster, an emptied system, data outside
//!   the repository).
//! - [`journal`]: opening the journal for reading or appending, and what plans take from it.
//! - [`plan`]: policy + roster + live state -> plan, pinned to trusted connector settings,
//!   and `--compare` between two revisions.
//! - [`apply`]: prepare (plan or read the plan), guard, and after approval execute and
//!   re-audit, journaling every step.
//! - [`leave`]: whom an operator means (one person, or candidates to choose from), for the
//!   guided offboarding of one person.
//! - [`rollback`]: what a run's rollback can restore, and restoring it as a run of its own.
//! - [`audit`]: findings on the live state (orphaned and leftover access, ...), and who the
//!   journal records as offboarded.
//! - [`report`]: one leaver's offboarding certificate, from the journal.
//! - [`tasks`]: manual tasks with their status, and closing one.
//! - [`holds`]: leavers `serve` must not cut until someone approves their plan.
//! - [`notify`]: messages queued in the journal, escalations, and sending what is due.
//! - [`schedule`]: what will happen when (cutoffs, deletions, escalations).
//! - [`policy_tests`]: the policy's unit tests, read and run.

pub mod apply;
pub mod audit;
pub mod holds;
pub mod inputs;
pub mod journal;
pub mod leave;
pub mod notify;
pub mod plan;
pub mod policy_tests;
pub mod report;
pub mod rollback;
pub mod schedule;
pub mod tasks;

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use crate::policy::{Diagnostic, Sources};

/// Where an operation works and what its operator allowed: the typed form of the global
/// command-line options (the server builds one from its configuration).
#[derive(Debug, Clone, Default)]
pub struct Workspace {
    /// The policy repository.
    pub root: PathBuf,
    pub policies_dir: PathBuf,
    /// The journal: a SQLite file or a PostgreSQL database.
    pub journal: crate::journal::Location,
    /// Directories besides the repository that data files may come from.
    pub data_roots: Vec<PathBuf>,
    /// Accept a roster that shrank more than `max-roster-drop`.
    pub allow_roster_drop: bool,
    /// Systems allowed to report no accounts although the last apply saw some.
    pub allow_empty: Vec<String>,
    /// The journal's newest apply run, read once (several guards ask for it).
    pub(crate) last_apply: OnceLock<Option<crate::journal::RunStart>>,
    /// Set once the journal is known to exist: checking a database connects to it, and
    /// several steps of one command ask (a journal, once there, does not go away).
    pub(crate) journal_exists: OnceLock<()>,
    /// The emergency overrides in force, read once (every roster load lays them over it).
    pub(crate) overrides: OnceLock<Vec<crate::roster::emergency::Emergency>>,
    /// The HR events `serve` journaled, read once (laid over the roster after overrides).
    pub(crate) hr_events: OnceLock<Vec<crate::roster::hr_event::HrFacts>>,
}

impl Workspace {
    /// The same workspace with nothing read yet: a long-running server asks afresh for
    /// every operation (the journal and the roster move under it).
    pub fn fresh(&self) -> Workspace {
        Workspace {
            root: self.root.clone(),
            policies_dir: self.policies_dir.clone(),
            journal: self.journal.clone(),
            data_roots: self.data_roots.clone(),
            allow_roster_drop: self.allow_roster_drop,
            allow_empty: self.allow_empty.clone(),
            ..Default::default()
        }
    }
}

/// Why an operation failed, with everything an operator needs to fix it.
#[derive(Debug, Clone)]
pub struct OpError {
    /// Problems found on the way, shown before the message.
    pub causes: Vec<Cause>,
    pub message: String,
    /// Further lines (candidates, verification problems), shown indented.
    pub details: Vec<String>,
    pub hint: Option<String>,
    /// The files the diagnostics of `causes` point into.
    pub sources: Option<Sources>,
}

/// One problem behind an [`OpError`]: a line, policy diagnostics, or both.
#[derive(Debug, Clone, Default)]
pub struct Cause {
    pub message: Option<String>,
    pub diagnostics: Vec<Diagnostic>,
    pub hint: Option<String>,
}

impl OpError {
    pub fn new(message: impl Into<String>) -> OpError {
        OpError {
            causes: Vec::new(),
            message: message.into(),
            details: Vec::new(),
            hint: None,
            sources: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> OpError {
        self.hint = Some(hint.into());
        self
    }

    pub fn details(mut self, details: Vec<String>) -> OpError {
        self.details = details;
        self
    }

    pub fn causes(mut self, causes: Vec<Cause>, sources: Option<Sources>) -> OpError {
        self.causes = causes;
        self.sources = sources;
        self
    }
}

impl std::fmt::Display for OpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<crate::journal::JournalError> for OpError {
    fn from(e: crate::journal::JournalError) -> OpError {
        journal::error(e)
    }
}

/// What an operation reports while it works; the CLI shows it on stderr, the server logs it.
pub trait Observer: Sync {
    /// Something the operator should know that does not stop the operation.
    fn warn(&self, text: &str);
    /// Reading live systems starts: `systems` of them.
    fn reading(&self, systems: usize) {
        let _ = systems;
    }
    /// A system was read (or failed), as it happens: for progress.
    fn read_one(&self, name: &str) {
        let _ = name;
    }
    /// After all were read: how long each took from the start (systems are read
    /// concurrently) and how many accounts it reported (`None`: it failed).
    fn system_read(&self, name: &str, after: Duration, accounts: Option<usize>) {
        let _ = (name, after, accounts);
    }
    /// Every system was read.
    fn read_done(&self, after: Duration) {
        let _ = after;
    }
}

/// The async runtime operations run connectors on.
pub fn runtime() -> Result<tokio::runtime::Runtime, OpError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| OpError::new(format!("cannot start the async runtime: {e}")))
}
