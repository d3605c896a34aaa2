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
    // Active accounts mastered elsewhere, and whether each person's directory accounts are
    // all cut: only then does a synced account merely follow.
    let mut synced: HashMap<usize, Vec<String>> = HashMap::new();
    let mut following_of: HashMap<usize, Vec<String>> = HashMap::new();
    let mut directory_active: HashMap<usize, bool> = HashMap::new();
    for system in &policy.systems {
        let Some(snapshot) = observed.systems.get(system.name()) else {
            continue;
        };
        for account in &snapshot.accounts {
            let Situation::Owned(i) = situate(system, account, &index) else {
                continue;
            };
            if system.kind() == "ldap" {
                *directory_active.entry(i).or_default() |= account.is_active();
            }
            if !account.is_active() {
                continue;
            }
            let name = format!("{}/{}", system.name(), account.id);
            if account.mastered_by.is_some() {
                synced.entry(i).or_default().push(name);
            } else {
                active.entry(i).or_default().push(name);
            }
        }
    }
    for (i, accounts) in synced {
        match directory_active.get(&i) {
            Some(false) => {}
            // No directory read for them, or still active there: the account is active.
            _ => active
                .entry(i)
                .or_default()
                .extend(accounts.iter().cloned()),
        }
        following_of.insert(i, accounts);
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
            let following: Vec<String> = by_key
                .get(&l.person.to_lowercase())
                .and_then(|i| following_of.get(i))
                .into_iter()
                .flatten()
                .filter(|a| !active_accounts.contains(a))
                .cloned()
                .collect();
            let verdict = if !active_accounts.is_empty() || failed_changes > 0 {
                Verdict::Red
            } else if open_tasks > 0 || !following.is_empty() {
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
                following,
            }
        })
        .collect()
}
