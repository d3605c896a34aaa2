//! The questions commands ask the journal: runs with their outcomes, the newest apply, one
//! run's records, changes left unfinished by a crash, manual tasks with their state, and the
//! emergency overrides in force, HR events received, and messages with their deliveries.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

use super::{
    ActionIntent, ActionOutcome, ActionResult, DeliveryRecord, Journal, JournalError,
    MessageRecord, OverrideRecord, Record, RunFinish, RunMode, RunStart, StoredRecord, TaskDone,
    TaskOpen, TriggerRecord,
};

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
    /// Every record, typed, with when it was written.
    pub fn typed_records(&self) -> Result<Vec<(Record, String)>, JournalError> {
        self.records()?
            .into_iter()
            .map(|r| Ok((r.record()?, r.at)))
            .collect()
    }

    pub fn runs(&self) -> Result<Vec<RunSummary>, JournalError> {
        let mut runs: Vec<RunSummary> = Vec::new();
        let mut finishes: BTreeMap<String, (RunFinish, String)> = BTreeMap::new();
        for (record, at) in self.typed_records()? {
            match record {
                Record::RunStart(start) => runs.push(RunSummary {
                    start,
                    started_at: at,
                    finish: None,
                    finished_at: None,
                }),
                Record::RunFinish(f) => {
                    finishes.insert(f.run_id.clone(), (f, at));
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

    /// Emergency overrides in force: recorded and not revoked, oldest first.
    pub fn overrides(&self) -> Result<Vec<OverrideRecord>, JournalError> {
        let mut overrides = Vec::new();
        let mut revoked = HashSet::new();
        for (record, _) in self.typed_records()? {
            match record {
                Record::Override(o) => overrides.push(o),
                Record::OverrideRevoked(r) => {
                    revoked.insert(r.override_id);
                }
                _ => {}
            }
        }
        overrides.retain(|o| !revoked.contains(&o.override_id));
        Ok(overrides)
    }

    /// The ids of every override and HR event revoked (by rollbacks).
    pub fn revoked(&self) -> Result<HashSet<String>, JournalError> {
        Ok(self
            .typed_records()?
            .into_iter()
            .filter_map(|(r, _)| match r {
                Record::OverrideRevoked(r) => Some(r.override_id),
                _ => None,
            })
            .collect())
    }

    /// Every HR webhook event accepted and not revoked, oldest first.
    pub fn triggers_in_force(&self) -> Result<Vec<TriggerRecord>, JournalError> {
        let revoked = self.revoked()?;
        Ok(self
            .triggers()?
            .into_iter()
            .filter(|t| !revoked.contains(&t.revocation_id()))
            .collect())
    }

    /// Every HR webhook event accepted, oldest first.
    pub fn triggers(&self) -> Result<Vec<TriggerRecord>, JournalError> {
        Ok(self
            .typed_records()?
            .into_iter()
            .filter_map(|(r, _)| match r {
                Record::Trigger(t) => Some(t),
                _ => None,
            })
            .collect())
    }

    /// Every message journaled, with its delivery attempts, oldest first.
    pub fn messages(&self) -> Result<Vec<(MessageRecord, Vec<DeliveryRecord>)>, JournalError> {
        let mut messages: Vec<(MessageRecord, Vec<DeliveryRecord>)> = Vec::new();
        let mut index = HashMap::new();
        for (record, _) in self.typed_records()? {
            match record {
                // A message queued twice (two senders at once) is one message: its first
                // record, with every delivery of the id.
                Record::Message(m) if !index.contains_key(&m.message_id) => {
                    index.insert(m.message_id.clone(), messages.len());
                    messages.push((m, Vec::new()));
                }
                Record::Delivery(d) => {
                    if let Some(&i) = index.get(&d.message_id) {
                        messages[i].1.push(d);
                    }
                }
                _ => {}
            }
        }
        Ok(messages)
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
        let mut out = Vec::new();
        for r in self.records()? {
            if r.record()?.run_id() == Some(run_id) {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// [`Self::run_records`], typed.
    fn run_typed(&self, run_id: &str) -> Result<Vec<Record>, JournalError> {
        self.run_records(run_id)?
            .iter()
            .map(StoredRecord::record)
            .collect()
    }

    pub fn results(&self, run_id: &str) -> Result<Vec<ActionResult>, JournalError> {
        Ok(self
            .run_typed(run_id)?
            .into_iter()
            .filter_map(|r| match r {
                Record::Result(x) => Some(x),
                _ => None,
            })
            .collect())
    }

    pub fn intents(&self, run_id: &str) -> Result<Vec<ActionIntent>, JournalError> {
        Ok(self
            .run_typed(run_id)?
            .into_iter()
            .filter_map(|r| match r {
                Record::Intent(x) => Some(x),
                _ => None,
            })
            .collect())
    }

    /// Changes an earlier run left unfinished: an intent with no result (a crash) or a
    /// failed result (some actions may have run). Their accounts are expected to differ from
    /// the plan's fingerprint. A change that finished is not in the set, so a later change
    /// to its account (a rollback, an admin) makes a re-applied old plan skip it.
    pub fn touched_changes(&self) -> Result<HashSet<String>, JournalError> {
        let mut unfinished: BTreeMap<String, bool> = BTreeMap::new();
        for (record, _) in self.typed_records()? {
            match record {
                Record::Intent(intent) => {
                    unfinished.insert(intent.change_id, true);
                }
                Record::Result(result) => {
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
        for (record, at) in self.typed_records()? {
            match record {
                Record::TaskOpen(open) => tasks.push(TaskState {
                    open,
                    opened_at: at,
                    done: None,
                }),
                Record::TaskDone(d) => {
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
