//! The executor: carries out a reviewed plan, tier by tier, and proves each change.
//!
//! Tiers run in revocation order (identity provider first); within a tier systems run
//! concurrently, each with its own concurrency limit. For every account change the executor
//! journals its intent, re-reads the account (refusing to act on one that changed since the
//! plan), performs only the actions whose effect is not already there, reads the account
//! back and journals the result. One failing system never stops the others, and a failed
//! tier does not stop later tiers: cutting the rest of a leaver's access is always safer
//! than waiting. The executor makes no policy choices; rule names are carried, not read.

pub mod guard;
pub mod reaudit;
pub mod restore;
pub mod verify;

pub use crate::connector::retry;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use futures::StreamExt;
use futures::future::join_all;

use crate::connector::{Account, Conditional, Connector, ConnectorError, ErrorKind};
use crate::journal::{
    ActionIntent, ActionOutcome, ActionResult, JournalError, Record, SharedJournal, TaskOpen,
};
use crate::plan::{AccountState, Change, ChangeKind, Plan};
use crate::policy::{Action, Tier};
use verify::Effect;

/// One system as the executor drives it.
pub struct Target {
    /// The system's connector with its layers (retrying, in production).
    pub connector: Arc<dyn Connector>,
    pub concurrency: usize,
}

/// What happened to one change.
#[derive(Debug, Clone)]
pub struct ChangeReport {
    pub change: Change,
    pub outcome: ActionOutcome,
    pub performed: Vec<Action>,
    /// Connector calls made (reads, actions, read-back), retries included.
    pub attempts: u32,
    /// Of those, calls repeated after a temporary error.
    pub retries: u32,
    pub error: Option<ConnectorError>,
    pub read_back: Option<AccountState>,
    pub unobservable: Vec<Action>,
}

impl ChangeReport {
    /// One line saying how the change went, as `apply`, `leave` and `serve` report it as it
    /// happens (escaped: account, person and error text come from elsewhere).
    pub fn progress_line(&self) -> String {
        let r = self;
        let c = &r.change;
        let account = c.account.as_ref().map_or("", |a| a.id.as_str());
        let actions = c
            .actions
            .iter()
            .map(|a| a.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let outcome = match r.outcome {
            ActionOutcome::Done if r.unobservable.is_empty() => {
                "done (confirmed by read-back)".to_string()
            }
            ActionOutcome::Done => {
                let unseen: Vec<&str> = r.unobservable.iter().map(|a| a.as_str()).collect();
                format!(
                    "done (confirmed by read-back; {} not observable)",
                    unseen.join(", ")
                )
            }
            ActionOutcome::AlreadyDone => "already done".to_string(),
            ActionOutcome::SkippedStale => "skipped: account changed since the plan".to_string(),
            ActionOutcome::Failed => match &r.error {
                Some(e) => failure_text(e),
                None => "failed".to_string(),
            },
        };
        let tries = match r.retries {
            0 => String::new(),
            1 => " (1 retry)".to_string(),
            n => format!(" ({n} retries)"),
        };
        // The account, person and error text come from systems and the roster: escaped.
        crate::escape::terminal(&format!(
            "{}: {account} ({}) {actions}: {outcome}{tries}",
            c.system, c.person
        ))
        .into_owned()
    }
}

/// A failed change's error as the progress line shows it.
fn failure_text(e: &ConnectorError) -> String {
    let kind = match e.kind {
        ErrorKind::Permanent => "permanent",
        ErrorKind::Temporary => "temporary",
    };
    match &e.hint {
        Some(h) => format!("FAILED ({kind}): {}; hint: {h}", e.message),
        None => format!("FAILED ({kind}): {}", e.message),
    }
}

/// Connector calls for one change: how many were made, and how many of them were retries.
#[derive(Debug, Clone, Copy, Default)]
struct Calls {
    made: u32,
    retries: u32,
}

impl Calls {
    /// One logical call that took `attempts` tries.
    fn add(&mut self, attempts: u32) {
        self.made += attempts;
        self.retries += attempts.saturating_sub(1);
    }
}

/// A stable id for a change, the same in every plan that asks for the same thing.
pub fn change_id(c: &Change) -> String {
    change_key(
        &c.person,
        &c.system,
        c.account.as_ref().map(|a| a.id.as_str()),
        &c.actions,
    )
}

/// The id of a change on `account` of `person` in `system`, making `actions`.
fn change_key(person: &str, system: &str, account: Option<&str>, actions: &[Action]) -> String {
    let mut h = blake3::Hasher::new();
    h.update(person.as_bytes());
    h.update(b"\0");
    h.update(system.as_bytes());
    h.update(b"\0");
    if let Some(id) = account {
        h.update(id.as_bytes());
    }
    for a in actions {
        h.update(b"\0");
        h.update(a.as_str().as_bytes());
    }
    h.finalize().to_hex()[..16].to_string()
}

/// A stable id for a manual task: one per person and lane.
pub fn task_id(person: &str, system: &str) -> String {
    let mut h = blake3::Hasher::new();
    h.update(person.as_bytes());
    h.update(b"\0");
    h.update(system.as_bytes());
    format!("t-{}", &h.finalize().to_hex()[..10])
}

pub struct Executor {
    pub targets: BTreeMap<String, Target>,
    pub journal: SharedJournal,
    pub run_id: String,
    /// Changes an earlier (possibly crashed) run already started: their accounts are
    /// expected to differ from the plan's fingerprint.
    pub touched: HashSet<String>,
}

impl Executor {
    /// Append durably; concurrent changes share commits (see [`SharedJournal`]).
    async fn journal(&self, record: Record) -> Result<(), JournalError> {
        self.journal.append(record).await.map(|_| ())
    }

    /// Execute every account change of `plan`, tier by tier; `on_done` sees each result.
    pub async fn execute(
        &self,
        plan: &Plan,
        on_done: &(dyn Fn(&ChangeReport) + Sync),
    ) -> Result<Vec<ChangeReport>, JournalError> {
        let mut tiers: BTreeMap<Tier, BTreeMap<&str, Vec<&Change>>> = BTreeMap::new();
        for c in plan.changes.iter().filter(|c| c.kind != ChangeKind::Task) {
            tiers
                .entry(c.tier)
                .or_default()
                .entry(c.system.as_str())
                .or_default()
                .push(c);
        }
        let mut reports = Vec::new();
        for (_, systems) in tiers {
            let runs = systems
                .into_iter()
                .map(|(system, changes)| self.run_system(system, changes, on_done));
            for result in join_all(runs).await {
                reports.extend(result?);
            }
        }
        Ok(reports)
    }

    async fn run_system(
        &self,
        system: &str,
        changes: Vec<&Change>,
        on_done: &(dyn Fn(&ChangeReport) + Sync),
    ) -> Result<Vec<ChangeReport>, JournalError> {
        let Some(target) = self.targets.get(system) else {
            let mut out = Vec::new();
            for c in changes {
                let error =
                    ConnectorError::permanent(system, "the system is not in the policy any more")
                        .hint("make a new plan");
                let report = self.record_failure(c, error, Calls::default()).await?;
                on_done(&report);
                out.push(report);
            }
            return Ok(out);
        };
        let results: Vec<Result<ChangeReport, JournalError>> = futures::stream::iter(changes)
            .map(|c| async move {
                let report = self.run_change(target, c).await?;
                on_done(&report);
                Ok(report)
            })
            .buffer_unordered(target.concurrency.max(1))
            .collect()
            .await;
        results.into_iter().collect()
    }

    async fn record_failure(
        &self,
        c: &Change,
        error: ConnectorError,
        attempts: Calls,
    ) -> Result<ChangeReport, JournalError> {
        let report = ChangeReport {
            change: c.clone(),
            outcome: ActionOutcome::Failed,
            performed: Vec::new(),
            attempts: attempts.made,
            retries: attempts.retries,
            error: Some(error),
            read_back: None,
            unobservable: Vec::new(),
        };
        self.record_result(&report).await?;
        Ok(report)
    }

    async fn record_result(&self, r: &ChangeReport) -> Result<(), JournalError> {
        let account_id = r
            .change
            .account
            .as_ref()
            .map(|a| a.id.clone())
            .unwrap_or_default();
        self.journal(Record::Result(ActionResult {
            run_id: self.run_id.clone(),
            change_id: change_id(&r.change),
            person: r.change.person.clone(),
            system: r.change.system.clone(),
            account_id,
            outcome: r.outcome,
            performed: r.performed.clone(),
            attempts: r.attempts,
            retries: r.retries,
            error_kind: r.error.as_ref().map(|e| e.kind),
            error: r.error.as_ref().map(|e| e.message.clone()),
            hint: r.error.as_ref().and_then(|e| e.hint.clone()),
            read_back: r.read_back.clone(),
            unobservable: r.unobservable.clone(),
        }))
        .await
    }

    async fn run_change(&self, target: &Target, c: &Change) -> Result<ChangeReport, JournalError> {
        let Some(account) = &c.account else {
            return self
                .record_failure(
                    c,
                    ConnectorError::permanent(&c.system, "change has no account"),
                    Calls::default(),
                )
                .await;
        };
        let id = change_id(c);
        // Write-ahead: the intent is durable before anything touches the system.
        self.journal(Record::Intent(ActionIntent {
            run_id: self.run_id.clone(),
            change_id: id.clone(),
            person: c.person.clone(),
            system: c.system.clone(),
            account_id: account.id.clone(),
            actions: c.actions.clone(),
            expected_fingerprint: account.fingerprint.clone(),
            before: c.before.clone(),
            restore: Vec::new(),
        }))
        .await?;

        let connector = &target.connector;
        let mut attempts = Calls::default();
        // Optimistic path: when the system can write on condition that the account is still
        // at its planned version, no read is needed first; if it changed, the usual path
        // below reads it and decides again. A change an earlier run started is read first.
        // `attempted`: a conditional write whose outcome is unknown (an error, perhaps after
        // the write happened), so an effect found below may be our own.
        let mut attempted = None;
        if let ([action], Some(version)) = (c.actions.as_slice(), account.version.as_deref())
            && !self.touched.contains(&id)
        {
            attempts.add(1);
            match connector
                .perform_if_unchanged(&account.id, *action, version)
                .await
            {
                Ok(Conditional::Done) => {
                    return self.read_back(target, c, vec![*action], attempts).await;
                }
                Ok(Conditional::Changed | Conditional::Unsupported) => {}
                Err(_) => attempted = Some(*action),
            }
        }
        let (current, n) = connector.read_counted(&account.id).await;
        attempts.add(n);
        let current = match current {
            Ok(a) => a,
            Err(e) => return self.record_failure(c, e, attempts).await,
        };
        // Only actions whose effect is not already visible run; a password reset cannot be
        // seen, so it runs while the account is still active (the planner pairs it with
        // disable). This is what makes a re-run after a crash converge without repeats.
        let active = current.as_ref().is_some_and(Account::is_active);
        let pending: Vec<Action> = c
            .actions
            .iter()
            .copied()
            .filter(
                |a| match verify::effect(*a, current.as_ref(), c.after.as_ref()) {
                    Effect::Missing => true,
                    Effect::Unobservable => active,
                    Effect::Shown => false,
                },
            )
            .collect();
        let current = match current {
            Some(a) if !pending.is_empty() => a,
            // Our conditional write did happen after all: the change is ours and done.
            Some(_) if attempted.is_some() => {
                return self
                    .read_back(target, c, attempted.into_iter().collect(), attempts)
                    .await;
            }
            other => {
                let report = ChangeReport {
                    change: c.clone(),
                    outcome: ActionOutcome::AlreadyDone,
                    performed: Vec::new(),
                    attempts: attempts.made,
                    retries: attempts.retries,
                    error: None,
                    read_back: other.as_ref().map(AccountState::of),
                    unobservable: Vec::new(),
                };
                self.record_result(&report).await?;
                return Ok(report);
            }
        };
        if current.fingerprint() != account.fingerprint && !self.touched.contains(&id) {
            let report = ChangeReport {
                change: c.clone(),
                outcome: ActionOutcome::SkippedStale,
                performed: Vec::new(),
                attempts: attempts.made,
                retries: attempts.retries,
                error: Some(
                    ConnectorError::permanent(
                        &c.system,
                        format!(
                            "account {} changed since the plan was made (fingerprint {} is now {})",
                            account.id,
                            account.fingerprint,
                            current.fingerprint()
                        ),
                    )
                    .hint("make a new plan and review what changed"),
                ),
                read_back: Some(AccountState::of(&current)),
                unobservable: Vec::new(),
            };
            self.record_result(&report).await?;
            return Ok(report);
        }

        let mut performed = Vec::new();
        for action in pending {
            let (result, n) = match (action, c.hand_off_to.as_deref()) {
                (Action::HandOffFiles, Some(to)) => {
                    connector.hand_off_counted(&account.id, to).await
                }
                _ => connector.perform_counted(&account.id, action).await,
            };
            attempts.add(n);
            if let Err(e) = result {
                let report = ChangeReport {
                    change: c.clone(),
                    outcome: ActionOutcome::Failed,
                    performed,
                    attempts: attempts.made,
                    retries: attempts.retries,
                    error: Some(e),
                    read_back: None,
                    unobservable: Vec::new(),
                };
                self.record_result(&report).await?;
                return Ok(report);
            }
            performed.push(action);
        }
        self.read_back(target, c, performed, attempts).await
    }

    /// Read-back: a change is done only when the system shows it.
    async fn read_back(
        &self,
        target: &Target,
        c: &Change,
        performed: Vec<Action>,
        mut attempts: Calls,
    ) -> Result<ChangeReport, JournalError> {
        let Some(account) = &c.account else {
            return self
                .record_failure(
                    c,
                    ConnectorError::permanent(&c.system, "change has no account"),
                    attempts,
                )
                .await;
        };
        let (after, n) = target.connector.read_counted(&account.id).await;
        attempts.add(n);
        let after = match after {
            Ok(a) => a,
            Err(e) => {
                let report = ChangeReport {
                    change: c.clone(),
                    outcome: ActionOutcome::Failed,
                    performed,
                    attempts: attempts.made,
                    retries: attempts.retries,
                    error: Some(ConnectorError {
                        message: format!("read-back failed: {}", e.message),
                        ..e
                    }),
                    read_back: None,
                    unobservable: Vec::new(),
                };
                self.record_result(&report).await?;
                return Ok(report);
            }
        };
        let mut missing = Vec::new();
        let mut unobservable = Vec::new();
        for action in &c.actions {
            match verify::effect(*action, after.as_ref(), c.after.as_ref()) {
                Effect::Shown => {}
                Effect::Missing => missing.push(action.as_str()),
                Effect::Unobservable => unobservable.push(*action),
            }
        }
        let (outcome, error) = if missing.is_empty() {
            (ActionOutcome::Done, None)
        } else {
            (
                ActionOutcome::Failed,
                Some(
                    ConnectorError::permanent(
                        &c.system,
                        format!("read-back does not show: {}", missing.join(", ")),
                    )
                    .hint("the system accepted the call but did not apply it; check the connector's permissions"),
                ),
            )
        };
        let report = ChangeReport {
            change: c.clone(),
            outcome,
            performed,
            attempts: attempts.made,
            retries: attempts.retries,
            error,
            read_back: after.as_ref().map(AccountState::of),
            unobservable,
        };
        self.record_result(&report).await?;
        Ok(report)
    }

    /// Open a journal task for every manual change not already known; returns how many.
    pub fn open_tasks(&self, plan: &Plan, known: &HashSet<String>) -> Result<usize, JournalError> {
        let mut opened = 0;
        for c in plan.changes.iter().filter(|c| c.kind == ChangeKind::Task) {
            let Some(task) = &c.task else { continue };
            let id = task_id(&c.person, &c.system);
            if known.contains(&id) {
                continue;
            }
            self.journal.lock().append(&Record::TaskOpen(TaskOpen {
                task_id: id,
                run_id: self.run_id.clone(),
                person: c.person.clone(),
                system: c.system.clone(),
                owner: task.owner.clone(),
                due: task.due,
                actions: task.actions.clone(),
                escalate_to: task.escalate_to.clone(),
                steps: task.steps.clone(),
            }))?;
            opened += 1;
        }
        Ok(opened)
    }
}
