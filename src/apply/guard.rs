//! Guards checked before any change: a stale plan, a plan made against another journal (or
//! an older head of this one), an implausibly large disable.

use serde::Serialize;

use crate::plan::{ChangeKind, JournalRef, Plan};
use crate::policy::{Action, Policy};
use crate::roster::Roster;

/// The plan was made under another policy or from another roster.
pub fn stale_plan(plan: &Plan, policy: &Policy, roster: &Roster) -> Option<String> {
    let short = |h: &str| h.get(..7).unwrap_or(h).to_string();
    if plan.policy.content_hash != policy.content_hash {
        return Some(format!(
            "stale plan: it was made under policy {}, but the policy is now {}; make a new plan and review it",
            short(&plan.policy.content_hash),
            short(&policy.content_hash)
        ));
    }
    if plan.roster.hash != roster.hash {
        return Some(format!(
            "stale plan: it was made from roster {}, but the roster is now {} (people joined, left or changed); make a new plan and review it",
            short(&plan.roster.hash),
            short(&roster.hash)
        ));
    }
    None
}

/// Why a plan must not be applied to this journal: it was made against another journal (a
/// different lineage), or against a head this journal no longer has (truncated, replaced,
/// restored from an old copy). A journal that only grew since the plan is fine: account
/// fingerprints guard each change. `planned_head_hash` is this journal's hash at the
/// plan's head sequence number, if it still has that record.
pub fn journal_mismatch(
    planned: Option<&JournalRef>,
    current: &JournalRef,
    planned_head_hash: Option<&str>,
) -> Option<String> {
    let short = |h: &str| h.get(..12).unwrap_or(h).to_string();
    let Some(planned) = planned else {
        return Some(format!(
            "the plan was made without a journal, but the journal now exists (lineage {}): the plan did not see its runs and tasks",
            short(&current.lineage)
        ));
    };
    if planned.lineage != current.lineage {
        return Some(format!(
            "the plan was made against journal lineage {}, but this journal is lineage {} (another journal, or one started anew)",
            short(&planned.lineage),
            short(&current.lineage)
        ));
    }
    if current.head_seq < planned.head_seq {
        return Some(format!(
            "the journal went backwards: the plan saw {} records, it now has {} (truncated, or restored from an older copy)",
            planned.head_seq, current.head_seq
        ));
    }
    if planned.head_seq > 0 && planned_head_hash != Some(planned.head_hash.as_str()) {
        return Some(format!(
            "record {} of the journal is not the one the plan saw: the journal was replaced or rewritten",
            planned.head_seq
        ));
    }
    None
}

/// A system where the plan would disable or delete more than the policy allows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MassDisable {
    pub system: String,
    pub planned: usize,
    pub accounts: usize,
    pub share: f64,
    pub limit: f64,
}

pub fn mass_disable(plan: &Plan, policy: &Policy) -> Vec<MassDisable> {
    let mut out = Vec::new();
    for refreshed in &plan.refreshed {
        // A targeted read counted only the named people's accounts: no share of the system
        // can be computed, and every person was named explicitly.
        if refreshed.accounts == 0 || refreshed.targeted {
            continue;
        }
        let planned = plan
            .changes
            .iter()
            .filter(|c| c.system == refreshed.system)
            .filter(|c| c.kind == ChangeKind::Delete || c.actions.contains(&Action::Disable))
            .count();
        let limit = policy
            .system(&refreshed.system)
            .and_then(|s| s.max_disable_share)
            .unwrap_or(policy.defaults.max_disable_share)
            .0;
        let share = planned as f64 / refreshed.accounts as f64;
        if share > limit {
            out.push(MassDisable {
                system: refreshed.system.clone(),
                planned,
                accounts: refreshed.accounts,
                share,
                limit,
            });
        }
    }
    out
}
