//! The typed bodies of journal records, and the queries commands need.

use std::collections::{BTreeMap, HashSet};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{Journal, JournalError, StoredRecord, Table};
use crate::connector::ErrorKind;
use crate::plan::AccountState;
use crate::policy::Action;

/// The first record of a journal: its lineage.
pub const JOURNAL_INIT: &str = "journal-init";
pub const RUN_START: &str = "run-start";
pub const RUN_FINISH: &str = "run-finish";
pub const ACTION_INTENT: &str = "intent";
pub const ACTION_RESULT: &str = "result";
pub const TASK_OPEN: &str = "task-open";
pub const TASK_DONE: &str = "task-done";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunMode {
    Apply,
    Rollback,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalInit {
    pub lineage: String,
    pub created_by: String,
    pub host: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunStart {
    pub run_id: String,
    pub mode: RunMode,
    pub initiator: String,
    pub host: String,
    pub policy_hash: String,
    pub git_commit: Option<String>,
    pub allow_dirty: bool,
    pub plan_hash: String,
    pub plan_created_at: Timestamp,
    /// For rollbacks: the run being undone.
    pub rollback_of: Option<String>,
    pub changes: usize,
    /// How many people the plan's roster listed: the next plan refuses a roster that lost
    /// more than `max-roster-drop` of them (an HR feed glitch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roster_people: Option<usize>,
    /// How many accounts each system reported: the next plan refuses a system that
    /// suddenly reports none (an empty export).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub system_accounts: BTreeMap<String, usize>,
    /// Who the run offboards, as the plan described them: the certificate names the person
    /// from the journal alone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub leavers: Vec<LeaverRecord>,
}

/// One leaver of a run, as the plan described them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaverRecord {
    pub person: String,
    pub name: String,
    pub department: String,
    pub termination_type: Option<crate::roster::TerminationType>,
    pub cutoff: Timestamp,
    /// Every rule whose condition matched.
    pub rules: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunOutcome {
    /// Every change confirmed and no active credential remains.
    Success,
    /// Something failed or remains active.
    Failed,
}

/// Re-audit verdict for one leaver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// No active credential anywhere.
    Green,
    /// No active credential, but manual tasks are pending.
    Yellow,
    /// An account is still active, or a change failed.
    Red,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaverAudit {
    pub person: String,
    pub verdict: Verdict,
    /// `system/account` still active.
    pub active_accounts: Vec<String>,
    pub failed_changes: usize,
    pub open_tasks: usize,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyCounts {
    pub disabled: usize,
    pub deleted: usize,
    pub updated: usize,
    pub restored: usize,
    pub tasks_opened: usize,
    pub already_done: usize,
    pub skipped: usize,
    pub failed: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunFinish {
    pub run_id: String,
    pub outcome: RunOutcome,
    pub counts: ApplyCounts,
    pub leavers: Vec<LeaverAudit>,
    /// Active accounts found by the re-audit for the run's leavers.
    pub active_credentials: usize,
    /// Systems the re-audit could not read.
    pub unreadable_systems: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionIntent {
    pub run_id: String,
    pub change_id: String,
    pub person: String,
    pub system: String,
    pub account_id: String,
    pub actions: Vec<Action>,
    pub expected_fingerprint: String,
    pub before: Option<AccountState>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActionOutcome {
    /// Performed and confirmed by read-back.
    Done,
    /// The account already was in the desired state; nothing was called.
    AlreadyDone,
    /// The account changed since the plan; not touched.
    SkippedStale,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionResult {
    pub run_id: String,
    pub change_id: String,
    pub person: String,
    pub system: String,
    pub account_id: String,
    pub outcome: ActionOutcome,
    /// Actions actually called on the connector.
    pub performed: Vec<Action>,
    /// Connector calls made for this change (reads, actions, read-back), retries included.
    pub attempts: u32,
    /// Of those, calls repeated after a temporary error (absent in older journals).
    #[serde(default)]
    pub retries: u32,
    pub error_kind: Option<ErrorKind>,
    pub error: Option<String>,
    pub hint: Option<String>,
    /// What the read-back showed (`None`: the account no longer exists).
    pub read_back: Option<AccountState>,
    /// Actions whose effect the system cannot show (e.g. a password reset).
    pub unobservable: Vec<Action>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskOpen {
    pub task_id: String,
    pub run_id: String,
    pub person: String,
    pub system: String,
    pub owner: String,
    pub due: Timestamp,
    pub actions: Vec<Action>,
    pub escalate_to: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskDone {
    pub task_id: String,
    pub by: String,
    pub note: String,
    pub closed_at: Timestamp,
}

/// A run with its start and (when it finished) its end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunSummary {
    pub start: RunStart,
    pub started_at: String,
    pub finish: Option<RunFinish>,
    pub finished_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskState {
    pub open: TaskOpen,
    pub opened_at: String,
    pub done: Option<TaskDone>,
}

impl Journal {
    pub fn runs(&self) -> Result<Vec<RunSummary>, JournalError> {
        let mut runs: Vec<RunSummary> = Vec::new();
        let mut finishes: BTreeMap<String, (RunFinish, String)> = BTreeMap::new();
        for r in self.records()?.iter().filter(|r| r.table == Table::Runs) {
            match r.kind.as_str() {
                RUN_START => runs.push(RunSummary {
                    start: r.parse()?,
                    started_at: r.at.clone(),
                    finish: None,
                    finished_at: None,
                }),
                RUN_FINISH => {
                    let f: RunFinish = r.parse()?;
                    finishes.insert(f.run_id.clone(), (f, r.at.clone()));
                }
                _ => {}
            }
        }
        for run in &mut runs {
            if let Some((f, at)) = finishes.remove(&run.start.run_id) {
                run.finish = Some(f);
                run.finished_at = Some(at);
            }
        }
        Ok(runs)
    }

    /// The start of the newest apply run: what the last run saw of the roster and systems.
    pub fn last_apply(&self) -> Result<Option<RunStart>, JournalError> {
        Ok(self
            .runs()?
            .into_iter()
            .rev()
            .find(|r| r.start.mode == RunMode::Apply)
            .map(|r| r.start))
    }

    /// The run whose id is `id` or starts with it (unambiguously).
    pub fn find_run(&self, id: &str) -> Result<Option<RunSummary>, JournalError> {
        let matches: Vec<RunSummary> = self
            .runs()?
            .into_iter()
            .filter(|r| r.start.run_id.starts_with(id))
            .collect();
        Ok(if matches.len() == 1 {
            matches.into_iter().next()
        } else {
            None
        })
    }

    /// Records belonging to one run (its start and finish, actions and tasks opened in it).
    pub fn run_records(&self, run_id: &str) -> Result<Vec<StoredRecord>, JournalError> {
        Ok(self
            .records()?
            .into_iter()
            .filter(|r| {
                serde_json::from_str::<serde_json::Value>(&r.body)
                    .ok()
                    .and_then(|v| {
                        v.get("run_id")
                            .and_then(|x| x.as_str())
                            .map(|x| x == run_id)
                    })
                    .unwrap_or(false)
            })
            .collect())
    }

    pub fn results(&self, run_id: &str) -> Result<Vec<ActionResult>, JournalError> {
        self.run_records(run_id)?
            .iter()
            .filter(|r| r.table == Table::Actions && r.kind == ACTION_RESULT)
            .map(|r| r.parse())
            .collect()
    }

    pub fn intents(&self, run_id: &str) -> Result<Vec<ActionIntent>, JournalError> {
        self.run_records(run_id)?
            .iter()
            .filter(|r| r.table == Table::Actions && r.kind == ACTION_INTENT)
            .map(|r| r.parse())
            .collect()
    }

    /// Changes an earlier run left unfinished: an intent with no result (a crash) or a
    /// failed result (some actions may have run). Their accounts are expected to differ from
    /// the plan's fingerprint. A change that finished is not in the set, so a later change
    /// to its account (a rollback, an admin) makes a re-applied old plan skip it.
    pub fn touched_changes(&self) -> Result<HashSet<String>, JournalError> {
        let mut unfinished: BTreeMap<String, bool> = BTreeMap::new();
        for r in self.records()? {
            if r.table != Table::Actions {
                continue;
            }
            match r.kind.as_str() {
                ACTION_INTENT => {
                    let intent: ActionIntent = r.parse()?;
                    unfinished.insert(intent.change_id, true);
                }
                ACTION_RESULT => {
                    let result: ActionResult = r.parse()?;
                    let open = matches!(result.outcome, ActionOutcome::Failed)
                        && !result.performed.is_empty();
                    unfinished.insert(result.change_id, open);
                }
                _ => {}
            }
        }
        Ok(unfinished
            .into_iter()
            .filter(|(_, open)| *open)
            .map(|(id, _)| id)
            .collect())
    }

    pub fn tasks(&self) -> Result<Vec<TaskState>, JournalError> {
        let mut tasks: Vec<TaskState> = Vec::new();
        let mut done: BTreeMap<String, TaskDone> = BTreeMap::new();
        for r in self.records()?.iter().filter(|r| r.table == Table::Tasks) {
            match r.kind.as_str() {
                TASK_OPEN => tasks.push(TaskState {
                    open: r.parse()?,
                    opened_at: r.at.clone(),
                    done: None,
                }),
                TASK_DONE => {
                    let d: TaskDone = r.parse()?;
                    done.insert(d.task_id.clone(), d);
                }
                _ => {}
            }
        }
        for t in &mut tasks {
            t.done = done.remove(&t.open.task_id);
        }
        Ok(tasks)
    }

    /// `(person, system)` pairs that already have a task (open or done): the planner does
    /// not plan them again.
    pub fn known_tasks(&self) -> Result<HashSet<(String, String)>, JournalError> {
        Ok(self
            .tasks()?
            .into_iter()
            .map(|t| (t.open.person, t.open.system))
            .collect())
    }
}
