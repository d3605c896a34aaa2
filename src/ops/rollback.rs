//! Rolling back as an operation: give back the access an apply run took (a mistaken
//! termination). [`prepare`] decides, from the journal alone, what can be restored (disabled
//! accounts enabled, removed groups and licences re-added from the state recorded before the
//! change) and what cannot (deletions, session revocations, password resets, moves);
//! [`execute`] restores it as a journaled run of its own, each step read back. Rolling back
//! the run of an emergency override (`leave --emergency`) also revokes the override (and a
//! rollback revokes the HR webhook events of the people it restores), so the
//! next plan does not cut the person again.

use std::collections::HashMap;
use std::time::Duration;

use super::journal::{self, evidence};
use super::{OpError, Workspace};
use crate::apply::Executor;
use crate::apply::retry::RetryPolicy;
use crate::connector::Restore;
use crate::journal::{
    ActionOutcome, ApplyCounts, JournalLock, OverrideRecord, OverrideRevoked, Record, RunFinish,
    RunMode, RunOutcome, RunStart, RunSummary,
};
use crate::policy::{Action, Policy, Tier};

pub use crate::apply::restore::Restoration;

/// What a rollback of one run would do.
pub struct RollbackPlan {
    /// The policy now: it says how each system is reached today.
    pub policy: Policy,
    pub run: RunSummary,
    pub restorations: Vec<Restoration>,
    /// Steps that cannot be undone, one line each (`system account (person): action ...`).
    pub irreversible: Vec<String>,
    /// The emergency override the run carried out, still in force: the rollback revokes it,
    /// or the next plan would cut the person again.
    pub revokes: Option<OverrideRecord>,
    /// The HR webhook events in force for the people it restores: the rollback revokes them
    /// too (a termination HR sent by mistake), or `serve` would cut them again.
    pub revokes_events: Vec<crate::journal::TriggerRecord>,
}

/// How one restoration ended, as it happens.
#[derive(Debug, Clone, Copy)]
pub enum Restored<'a> {
    /// Restored, confirmed by read-back.
    Done,
    Failed(&'a str),
    /// Its system left the policy since the run: nothing can reach it.
    NotInPolicy,
}

/// What a rollback did.
pub struct RolledBack {
    pub run_id: String,
    pub counts: ApplyCounts,
    pub outcome: RunOutcome,
}

/// What rolling back `run` (an id or unique prefix) would restore, only for `persons`
/// (roster keys, as journaled) when any are given.
pub fn prepare(ws: &Workspace, run: &str, persons: &[String]) -> Result<RollbackPlan, OpError> {
    let policy = super::inputs::load_policy(ws)?;
    let journal = journal::read(ws)?;
    let Some(run) = journal.find_run(run).map_err(evidence)? else {
        return Err(OpError::new(format!(
            "no single run matches `{run}`; see `offboard journal list`"
        )));
    };
    if run.start.mode != RunMode::Apply {
        return Err(OpError::new(format!(
            "run {} is itself a rollback; apply a new plan instead",
            run.start.run_id
        )));
    }
    let intents: HashMap<String, _> = journal
        .intents(&run.start.run_id)
        .map_err(evidence)?
        .into_iter()
        .map(|i| (i.change_id.clone(), i))
        .collect();
    let wanted: Vec<String> = persons.iter().map(|p| p.trim().to_lowercase()).collect();
    let results = journal.results(&run.start.run_id).map_err(evidence)?;
    for p in &wanted {
        if !results.iter().any(|r| r.person.to_lowercase() == *p) {
            let mut people: Vec<&str> = results.iter().map(|r| r.person.as_str()).collect();
            people.sort_unstable();
            people.dedup();
            return Err(OpError::new(format!(
                "run {} changed nothing for `{p}`.",
                run.start.run_id
            ))
            .hint(format!(
                "give the roster key as the journal records it; the run changed: {}",
                people.join(", ")
            )));
        }
    }
    let mut restorations = Vec::new();
    let mut irreversible = Vec::new();
    for result in results {
        if result.outcome != ActionOutcome::Done || result.performed.is_empty() {
            continue;
        }
        if !wanted.is_empty() && !wanted.contains(&result.person.to_lowercase()) {
            continue;
        }
        let before = intents
            .get(&result.change_id)
            .and_then(|i| i.before.clone());
        let mut steps = Vec::new();
        for action in &result.performed {
            match action {
                Action::Disable => steps.push(Restore::Enable),
                Action::RemoveGroups => {
                    let groups = before
                        .as_ref()
                        .map(|b| b.groups.clone())
                        .unwrap_or_default();
                    if !groups.is_empty() {
                        steps.push(Restore::AddGroups(groups));
                    }
                }
                Action::RemoveLicenses => {
                    let licenses = before
                        .as_ref()
                        .map(|b| b.licenses.clone())
                        .unwrap_or_default();
                    if !licenses.is_empty() {
                        steps.push(Restore::AddLicenses(licenses));
                    }
                }
                other => irreversible.push(format!(
                    "{} {} ({}): {other} cannot be undone",
                    result.system, result.account_id, result.person
                )),
            }
        }
        if !steps.is_empty() && !result.performed.contains(&Action::Delete) {
            restorations.push(Restoration {
                tier: policy
                    .system(&result.system)
                    .map_or(Tier::Business, |s| s.tier),
                person: result.person,
                system: result.system,
                account_id: result.account_id,
                before,
                steps,
            });
        }
    }
    let revokes = match &run.start.emergency_override {
        Some(id) => journal
            .overrides()
            .map_err(evidence)?
            .into_iter()
            .find(|o| &o.override_id == id)
            .filter(|o| wanted.is_empty() || wanted.contains(&o.person.to_lowercase())),
        None => None,
    };
    let restored: std::collections::HashSet<String> = restorations
        .iter()
        .map(|r| r.person.to_lowercase())
        .collect();
    let revoked = journal.revoked().map_err(evidence)?;
    let revokes_events = journal
        .triggers()
        .map_err(evidence)?
        .into_iter()
        .filter(|t| {
            t.termination
                && restored.contains(&t.person.to_lowercase())
                && !revoked.contains(&t.revocation_id())
        })
        .collect();
    Ok(RollbackPlan {
        policy,
        run,
        restorations,
        irreversible,
        revokes,
        revokes_events,
    })
}

/// Restore what `plan` lists, as a journaled rollback run; `on_done` sees each restoration
/// with its error, if any.
pub fn execute(
    ws: &Workspace,
    plan: &RollbackPlan,
    actor: &str,
    host: &str,
    on_done: &dyn Fn(&Restoration, Restored<'_>),
) -> Result<RolledBack, OpError> {
    let _lock = JournalLock::acquire(
        &ws.journal,
        &format!("{actor} on {host}"),
        Duration::from_secs(30),
    )
    .map_err(|e| OpError::new(e.to_string()))?;
    let mut journal = journal::open(ws)?;
    // Connectors (and their secrets) first: a missing secret must stop the rollback before
    // a run is journaled that could never finish.
    let policy = &plan.policy;
    let targets = super::apply::targets(ws, policy, None, RetryPolicy::default())?;
    let run_id = super::apply::new_run_id();
    let original = &plan.run.start;
    let mut records = vec![Record::RunStart(RunStart {
        run_id: run_id.clone(),
        mode: RunMode::Rollback,
        initiator: actor.to_string(),
        host: host.to_string(),
        policy_hash: policy.content_hash.clone(),
        git_commit: None,
        allow_dirty: false,
        plan_hash: original.plan_hash.clone(),
        plan_created_at: original.plan_created_at,
        rollback_of: Some(original.run_id.clone()),
        changes: plan.restorations.len(),
        roster_people: None,
        system_accounts: Default::default(),
        leavers: Vec::new(),
        trigger: Some(format!("rollback {}", original.run_id)),
        emergency_override: None,
    })];
    // Revoked in the same transaction as the run that gives the access back.
    if let Some(o) = &plan.revokes {
        records.push(Record::OverrideRevoked(OverrideRevoked {
            override_id: o.override_id.clone(),
            run_id: Some(run_id.clone()),
            by: actor.to_string(),
            at: jiff::Timestamp::now(),
            why: format!("rollback {}", original.run_id),
        }));
    }
    for t in &plan.revokes_events {
        records.push(Record::OverrideRevoked(OverrideRevoked {
            override_id: t.revocation_id(),
            run_id: Some(run_id.clone()),
            by: actor.to_string(),
            at: jiff::Timestamp::now(),
            why: format!("rollback {}", original.run_id),
        }));
    }
    journal.append_batch(&records).map_err(evidence)?;
    let executor = Executor {
        targets,
        journal: crate::journal::SharedJournal::new(journal),
        run_id: run_id.clone(),
        touched: Default::default(),
    };
    let runtime = super::runtime()?;
    let mut counts = ApplyCounts::default();
    for r in &plan.restorations {
        let Some(target) = executor.targets.get(&r.system) else {
            on_done(r, Restored::NotInPolicy);
            counts.failed += 1;
            continue;
        };
        let report = runtime
            .block_on(executor.restore(target, r))
            .map_err(evidence)?;
        match &report.error {
            None => {
                counts.restored += 1;
                on_done(r, Restored::Done);
            }
            Some(e) => {
                counts.failed += 1;
                on_done(r, Restored::Failed(&e.message));
            }
        }
    }
    let outcome = if counts.failed == 0 {
        RunOutcome::Success
    } else {
        RunOutcome::Failed
    };
    executor
        .journal
        .lock()
        .append(&Record::RunFinish(RunFinish {
            run_id: run_id.clone(),
            outcome,
            counts,
            leavers: Vec::new(),
            active_credentials: 0,
            unreadable_systems: Vec::new(),
        }))
        .map_err(evidence)?;
    Ok(RolledBack {
        run_id,
        counts,
        outcome,
    })
}
