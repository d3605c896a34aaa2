//! What each person's roles grant, for the `excess-access` finding: roles are evaluated at
//! most once per person (from whichever thread asks first), and people whose roles match
//! alike share one map of grants.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;

use super::AuditError;
use crate::policy::Policy;
use crate::reconcile::context;
use crate::roster::Roster;

/// Groups and entitlements per system.
pub(super) type Grants = BTreeMap<String, BTreeSet<String>>;

/// Each person's grants, evaluated at most once, from whichever thread asks first. People
/// whose roles match alike share one map: at 100k people, a map each would cost gigabytes.
pub(super) struct GrantCache<'a> {
    policy: &'a Policy,
    roster: &'a Roster,
    now: Timestamp,
    per_person: Vec<std::sync::OnceLock<std::sync::Arc<Grants>>>,
    by_roles: std::sync::Mutex<rustc_hash::FxHashMap<Vec<usize>, std::sync::Arc<Grants>>>,
}

impl<'a> GrantCache<'a> {
    pub(super) fn new(policy: &'a Policy, roster: &'a Roster, now: Timestamp) -> Self {
        GrantCache {
            policy,
            roster,
            now,
            per_person: roster.people.iter().map(|_| Default::default()).collect(),
            by_roles: Default::default(),
        }
    }

    pub(super) fn of(&self, i: usize) -> Result<std::sync::Arc<Grants>, AuditError> {
        if let Some(g) = self.per_person[i].get() {
            return Ok(g.clone());
        }
        let roles = matching_roles(self.policy, self.roster, i, self.now)?;
        let shared = {
            // A poisoned lock only means another thread panicked mid-insert; the map is
            // still a valid cache.
            let mut by_roles = self
                .by_roles
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            by_roles
                .entry(roles)
                .or_insert_with_key(|roles| std::sync::Arc::new(grants_of(self.policy, roles)))
                .clone()
        };
        Ok(self.per_person[i].get_or_init(|| shared).clone())
    }
}

/// Indices of the roles whose condition holds for the person.
fn matching_roles(
    policy: &Policy,
    roster: &Roster,
    i: usize,
    now: Timestamp,
) -> Result<Vec<usize>, AuditError> {
    let person = &roster.people[i];
    // Most role conditions are read straight from the row; the rhai context is built only
    // for one that needs it.
    let fields = context::PersonFields(person);
    let mut ctx = None;
    let mut matched = Vec::new();
    for (r, role) in policy.roles.iter().enumerate() {
        let result = match role.condition.value.eval_fields(&fields) {
            Some(b) => Ok(b),
            None => role.condition.value.eval(
                ctx.get_or_insert_with(|| context::person(person, None)),
                None,
                now,
            ),
        };
        match result {
            Ok(true) => matched.push(r),
            Ok(false) => {}
            Err(e) => {
                return Err(AuditError::Role {
                    role: role.name.value.clone(),
                    person: roster.key_of(person),
                    diagnostic: Box::new(policy.evaluation_diagnostic(&role.condition, &e)),
                });
            }
        }
    }
    Ok(matched)
}

/// Groups and entitlements per system that the given roles grant.
fn grants_of(policy: &Policy, roles: &[usize]) -> Grants {
    let mut out = Grants::new();
    for &r in roles {
        for g in &policy.roles[r].grants {
            let entry = out.entry(g.system.clone()).or_default();
            entry.extend(g.group.iter().cloned());
            entry.extend(g.entitlement.iter().cloned());
        }
    }
    out
}
