//! The journal as operations use it: read (evidence may be a read-only copy), opened for
//! appending only when it exists and its hash chain verifies, and what plans take from it
//! (the newest apply run, known tasks, the journal's identity); and the `journal` commands'
//! operations: start one, list runs, show a run, verify the chain.

use std::collections::HashSet;

use super::{OpError, Workspace};
use crate::journal::{Journal, JournalError, RunStart, RunSummary, StoredRecord, Verification};
use crate::plan::JournalRef;

/// A journal error with the hint that fixes it.
pub fn error(e: JournalError) -> OpError {
    let hint = match &e {
        JournalError::Missing { .. } => Some(
            "a journal is started once, explicitly, with `offboard journal init`; if CI lost its copy, restore it instead: a new journal forgets every run and manual task",
        ),
        JournalError::NotAJournal { .. } => Some("check --journal; an empty file is not a journal"),
        _ => None,
    };
    let err = OpError::new(e.to_string());
    match hint {
        Some(h) => err.hint(h),
        None => err,
    }
}

/// A journal error in the middle of an operation: the evidence could not be written or read.
pub fn evidence(e: JournalError) -> OpError {
    OpError::new(e.to_string()).hint(
        "the journal is the evidence of every change; fix its location or permissions and run again",
    )
}

/// Open the journal to append to it: it must exist (`offboard journal init` makes one) and
/// its hash chain must verify, so nothing is ever added to evidence that was tampered with.
pub fn open(ws: &Workspace) -> Result<Journal, OpError> {
    let journal = ws.journal.open().map_err(error)?;
    refuse_broken_chain(ws, &journal)?;
    Ok(journal)
}

/// Check, without writing, that the journal exists and verifies.
pub fn check(ws: &Workspace) -> Result<(), OpError> {
    refuse_broken_chain(ws, &read(ws)?)
}

/// Open the journal only to read it.
pub fn read(ws: &Workspace) -> Result<Journal, OpError> {
    ws.journal.open_read_only().map_err(error)
}

/// Whether the workspace has a journal yet (a database that cannot be reached is an error).
pub fn exists(ws: &Workspace) -> Result<bool, OpError> {
    if ws.journal_exists.get().is_some() {
        return Ok(true);
    }
    let exists = ws.journal.exists().map_err(error)?;
    if exists {
        let _ = ws.journal_exists.set(());
    }
    Ok(exists)
}

fn refuse_broken_chain(ws: &Workspace, journal: &Journal) -> Result<(), OpError> {
    let verification = journal.verify().map_err(error)?;
    if verification.ok() {
        return Ok(());
    }
    Err(OpError::new(format!(
        "the journal {} fails verification, and nothing is appended to a broken chain:",
        ws.journal
    ))
    .details(verification.problems.clone())
    .hint("keep this file as evidence (`offboard journal verify` shows the damage); restore the journal from a verified copy, or start a new one with `offboard journal init --journal NEW` and keep the old one beside it. Nothing was changed."))
}

/// The journal's lineage and head for a new plan; `None` when there is no journal yet.
pub fn identity(ws: &Workspace) -> Result<Option<JournalRef>, OpError> {
    if !exists(ws)? {
        return Ok(None);
    }
    read(ws)?.identity().map(Some).map_err(error)
}

/// What the newest apply run recorded (roster size, accounts per system, policy commit);
/// `None` without a journal. Read once per workspace.
pub fn last_apply(ws: &Workspace) -> Result<Option<RunStart>, OpError> {
    if let Some(known) = ws.last_apply.get() {
        return Ok(known.clone());
    }
    let run = if exists(ws)? {
        ws.journal
            .open_read_only()
            .and_then(|j| j.last_apply())
            .map_err(|e| OpError::new(e.to_string()))?
    } else {
        None
    };
    let _ = ws.last_apply.set(run.clone());
    Ok(run)
}

/// The policy commit of the newest apply run, if the journal has one.
pub fn last_applied_commit(ws: &Workspace) -> Result<Option<String>, OpError> {
    Ok(last_apply(ws)?.and_then(|run| run.git_commit))
}

/// Tasks the journal already has, so plans do not ask for them again. No journal, no tasks.
pub fn known_tasks(ws: &Workspace) -> Result<HashSet<(String, String)>, OpError> {
    if !exists(ws)? {
        return Ok(HashSet::new());
    }
    ws.journal
        .open_read_only()
        .and_then(|j| j.known_tasks())
        .map_err(|e| OpError::new(e.to_string()))
}

/// Start a new journal at the workspace's path (never over an existing one); its identity.
pub fn init(ws: &Workspace, actor: &str, host: &str) -> Result<JournalRef, OpError> {
    ws.journal
        .create(actor, host)
        .and_then(|j| j.identity())
        .map_err(error)
}

/// Copy the journal at `from` into the empty `to` (see [`crate::journal::migrate`]).
pub fn migrate(
    from: &crate::journal::Location,
    to: &crate::journal::Location,
) -> Result<crate::journal::migrate::Migrated, OpError> {
    crate::journal::migrate::migrate(from, to).map_err(error)
}

/// Every run, oldest first.
pub fn runs(ws: &Workspace) -> Result<Vec<RunSummary>, OpError> {
    read(ws)?.runs().map_err(error)
}

/// One run (by id or a unique prefix) and its records.
pub fn run(ws: &Workspace, id: &str) -> Result<(RunSummary, Vec<StoredRecord>), OpError> {
    let journal = read(ws)?;
    let summary = journal.find_run(id).map_err(error)?.ok_or_else(|| {
        OpError::new(format!("no single run matches `{id}`"))
            .hint("see `offboard journal list` for the run ids")
    })?;
    let records = journal.run_records(&summary.start.run_id).map_err(error)?;
    Ok((summary, records))
}

/// The records that belong to no run: HR events received (the trigger log), and messages
/// with each delivery attempt, oldest first.
pub fn events(ws: &Workspace) -> Result<Vec<StoredRecord>, OpError> {
    let journal = read(ws)?;
    Ok(journal
        .records()
        .map_err(error)?
        .into_iter()
        .filter(|r| {
            matches!(
                r.kind.as_str(),
                crate::journal::TRIGGER | crate::journal::MESSAGE | crate::journal::DELIVERY
            )
        })
        .collect())
}

/// The journal's hash chain, recomputed.
#[derive(Debug, Clone)]
pub struct Checked {
    pub verification: Verification,
    /// The newest record's hash: recorded elsewhere (a CI log, a ticket), it also reveals
    /// records removed from the end.
    pub head: Option<String>,
}

/// Recompute the hash chain without writing (a read-only copy verifies).
pub fn verify(ws: &Workspace) -> Result<Checked, OpError> {
    let journal = read(ws)?;
    let records = journal.records().map_err(error)?;
    Ok(Checked {
        verification: crate::journal::verify_records(&records),
        head: records.last().map(|r| r.hash.clone()),
    })
}
