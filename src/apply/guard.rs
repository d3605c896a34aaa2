//! Guards checked before any change: a stale plan, an implausibly large disable.

use serde::Serialize;

use crate::plan::{ChangeKind, Plan};
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
        if refreshed.accounts == 0 {
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
