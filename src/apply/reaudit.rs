//! The re-audit after apply: does any leaver of the plan still hold an active credential?
//!
//! It reads live state afresh (never trusts what apply believes it did), correlates accounts
//! to the plan's leavers, and gives each a verdict. Pure: the caller supplies the snapshot.

use std::collections::HashMap;

use crate::connector::Observed;
use crate::journal::{ActionOutcome, LeaverAudit, TaskState, Verdict};
use crate::plan::Plan;
use crate::policy::Policy;
use crate::reconcile::correlate::{PersonIndex, Situation, situate};
use crate::roster::Roster;

use super::ChangeReport;

pub fn reaudit(
    plan: &Plan,
    policy: &Policy,
    roster: &Roster,
    observed: &Observed,
    reports: &[ChangeReport],
    tasks: &[TaskState],
) -> Vec<LeaverAudit> {
    let index = PersonIndex::new(roster, &policy.systems);
    let by_key: HashMap<String, usize> = roster
        .people
        .iter()
        .enumerate()
        .map(|(i, p)| (roster.key_of(p).to_lowercase(), i))
        .collect();
    let mut active: HashMap<usize, Vec<String>> = HashMap::new();
    for system in &policy.systems {
        let Some(snapshot) = observed.systems.get(system.name()) else {
            continue;
        };
        for account in snapshot.accounts.iter().filter(|a| a.is_active()) {
            if let Situation::Owned(i) = situate(system, account, &index) {
                active
                    .entry(i)
                    .or_default()
                    .push(format!("{}/{}", system.name(), account.id));
            }
        }
    }
    plan.due_leavers()
        .map(|l| {
            let mut active_accounts = by_key
                .get(&l.person.to_lowercase())
                .and_then(|i| active.get(i))
                .cloned()
                .unwrap_or_default();
            for failed in observed.failures.keys() {
                active_accounts.push(format!("{failed}/(unreadable)"));
            }
            let failed_changes = reports
                .iter()
                .filter(|r| r.change.person == l.person && r.outcome == ActionOutcome::Failed)
                .count();
            let open_tasks = tasks
                .iter()
                .filter(|t| t.open.person == l.person && t.done.is_none())
                .count();
            let verdict = if !active_accounts.is_empty() || failed_changes > 0 {
                Verdict::Red
            } else if open_tasks > 0 {
                Verdict::Yellow
            } else {
                Verdict::Green
            };
            LeaverAudit {
                person: l.person.clone(),
                verdict,
                active_accounts,
                failed_changes,
                open_tasks,
            }
        })
        .collect()
}
