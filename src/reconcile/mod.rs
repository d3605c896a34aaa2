//! The planner: (policy, roster, observed accounts, now) -> plan. Pure and deterministic.
//!
//! Nothing here performs I/O or reads the clock: connectors have already filled
//! [`Observed`], and `now` is an input, so the same inputs give the same plan byte for byte
//! (Terraform's and Oxide's reconfigurator's discipline). The planner decides *what* must
//! change and *why*; it never changes anything. A condition that fails to evaluate fails the
//! plan naming the person and rule: a leaver is never skipped silently.

mod by_hand;
pub(crate) mod context;
pub mod correlate;
pub mod resolve;

use std::collections::{BTreeMap, HashMap};

use jiff::Timestamp;

use crate::connector::{Account, AccountStatus, Observed};
use crate::plan::{
    AccountRef, AccountState, Change, ChangeKind, FORMAT_VERSION, Leaver, LeaverState, Note,
    NoteKind, Plan, PolicyRef, RefreshedSystem, RosterRef, Task,
};
use crate::policy::{Action, Diagnostic, Policy, Rule, System};
use crate::roster::Roster;
use crate::rules::{EvalError, PersonContext};
use correlate::{PersonIndex, Situation};
use resolve::Resolution;

/// The `person` a condition sees, as the planner builds it (for benchmarks and tools).
pub fn person_context(
    person: &crate::roster::Person,
    policy: &Policy,
) -> crate::rules::PersonContext {
    context::person(
        person,
        resolve::end_of_last_day(person, &policy.defaults.timezone),
    )
}

/// The accounts a plan can act on or note, for [`crate::connector::refresh_keeping`]: every
/// account not owned by a stayer (leavers' accounts, orphans, disputed and exempt ones).
/// With `only` (`plan -p`), just those people's accounts. The planner gives the same plan
/// from the kept accounts as from all of them.
pub fn plan_relevance<'a>(
    policy: &'a Policy,
    roster: &'a Roster,
    only: Option<&'a [usize]>,
) -> impl Fn(&System, &Account) -> bool + Sync + 'a {
    let index = PersonIndex::new(roster, &policy.systems);
    move |system, account| match correlate::situate(system, account, &index) {
        Situation::Owned(i) => {
            roster.people[i].is_leaver() && only.is_none_or(|only| only.binary_search(&i).is_ok())
        }
        Situation::Orphan => only.is_none() && account.is_active(),
        Situation::Disputed(_) | Situation::Exempt(_) => only.is_none(),
    }
}

/// Everything the planner looks at.
pub struct PlanInput<'a> {
    pub policy: &'a Policy,
    pub roster: &'a Roster,
    pub observed: &'a Observed,
    pub now: Timestamp,
    /// Plan only for these roster indices (`plan -p`); `None` means every leaver.
    pub only: Option<&'a [usize]>,
    /// `(person key, manual system)` pairs the journal already has a task for.
    pub known_tasks: Option<&'a std::collections::HashSet<(String, String)>>,
    /// Git provenance of the policy, when known.
    pub git_commit: Option<String>,
    pub dirty: Option<bool>,
}

/// A condition that could not be evaluated for a person.
#[derive(Debug, Clone)]
pub struct ConditionFailure {
    pub person: String,
    pub rule: String,
    pub error: EvalError,
    pub diagnostic: Diagnostic,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum PlanError {
    #[error("{} condition evaluation(s) failed; no plan was made (first: {} for {})", .0.len(), .0[0].rule, .0[0].person)]
    Conditions(Vec<ConditionFailure>),
    #[error("{} system(s) could not be read: {}", .0.len(), .0.join(", "))]
    Refresh(Vec<String>),
}

/// Most condition failures reported per plan; the rest are counted.
const MAX_FAILURES: usize = 20;

pub fn plan(input: &PlanInput) -> Result<Plan, PlanError> {
    let PlanInput {
        policy,
        roster,
        observed,
        now,
        ..
    } = *input;
    if !observed.failures.is_empty() {
        return Err(PlanError::Refresh(
            observed.failures.keys().cloned().collect(),
        ));
    }

    let index = PersonIndex::new(roster, &policy.systems);
    // situations[system][account] in the order of the snapshot.
    let mut owned: HashMap<usize, Vec<(&System, &Account)>> = HashMap::new();
    let mut notes = Vec::new();
    for system in &policy.systems {
        let Some(snapshot) = observed.systems.get(system.name()) else {
            continue;
        };
        for account in &snapshot.accounts {
            match correlate::situate(system, account, &index) {
                Situation::Owned(i) => owned.entry(i).or_default().push((system, account)),
                Situation::Disputed(people) => notes.push(Note {
                    kind: NoteKind::Disputed,
                    system: system.name().to_string(),
                    account: account_ref(account),
                    owners: people
                        .iter()
                        .map(|&i| roster.key_of(&roster.people[i]))
                        .collect(),
                    detail: "matches several people; never changed automatically".into(),
                }),
                Situation::Orphan if account.is_active() => notes.push(Note {
                    kind: NoteKind::Orphan,
                    system: system.name().to_string(),
                    account: account_ref(account),
                    owners: Vec::new(),
                    detail: "active, and nobody in the roster matches it".into(),
                }),
                Situation::Orphan => {}
                Situation::Exempt(e) => {
                    let exemption = &system.exemptions[e];
                    notes.push(Note {
                        kind: NoteKind::Exempt,
                        system: system.name().to_string(),
                        account: account_ref(account),
                        owners: vec![exemption.owner.clone()],
                        detail: format!("exempt: {}", exemption.reason),
                    });
                }
            }
        }
    }

    let candidates: Vec<usize> = match input.only {
        Some(only) => only.to_vec(),
        None => (0..roster.people.len()).collect(),
    };
    let mut leavers = Vec::new();
    let mut changes: Vec<(usize, Change)> = Vec::new();
    let mut failures = Vec::new();
    let mut warnings = Vec::new();
    for i in candidates {
        let person = &roster.people[i];
        let key = roster.key_of(person);
        if !person.is_leaver() {
            if input.only.is_some() {
                warnings.push(format!(
                    "{key} is not leaving (status {}); nothing is planned for them",
                    person.status
                ));
            }
            continue;
        }
        if person.termination_at.is_none() && person.last_day.is_none() {
            warnings.push(format!(
                "{key} is terminated but HR recorded neither termination_at nor last_day: cut now, and nothing is deleted until HR records a date"
            ));
        }
        let end_of_day = resolve::end_of_last_day(person, &policy.defaults.timezone);
        let ctx = context::person(person, end_of_day);
        let person_rules = match matching_rules(policy, &ctx, None, now, &key, &mut failures) {
            Some(r) => r,
            None => continue,
        };
        let base = resolve::resolve(&policy.defaults, person, &person_rules, now);
        let accounts = owned.get(&i).map(Vec::as_slice).unwrap_or(&[]);
        let account_rules = policy
            .rules
            .iter()
            .any(|r| r.condition.value.uses_account());

        // Account-level rules (conditions that read `account`) may cut one account earlier
        // than the person's cutoff, so every leaver's accounts are looked at.
        let mut cutoff = base.cutoff;
        let mut handover = by_hand::Handover::default();
        for &(system, account) in accounts {
            let refined;
            let resolution = if account_rules {
                let actx = context::account(system.name(), account);
                match matching_rules(policy, &ctx, Some(&actx), now, &key, &mut failures) {
                    Some(rules) => {
                        refined = resolve::resolve(&policy.defaults, person, &rules, now);
                        &refined
                    }
                    None => continue,
                }
            } else {
                &base
            };
            if resolution.cutoff > now {
                continue;
            }
            cutoff = cutoff.min(resolution.cutoff);
            let manager = Some(person.manager_email.as_str()).filter(|m| !m.is_empty());
            if let Some(change) = account_change(system, account, resolution, &key, manager, now) {
                changes.push((leavers.len(), change));
            }
            handover.account(system, account, resolution, person, &key, accounts);
        }
        let (tasks, follows) = handover.finish(&key, cutoff, |system| {
            input
                .known_tasks
                .is_some_and(|k| k.contains(&(key.clone(), system.to_string())))
        });
        changes.extend(tasks.into_iter().map(|t| (leavers.len(), t)));
        notes.extend(follows);
        let state = if cutoff <= now {
            LeaverState::Due
        } else {
            LeaverState::Scheduled
        };

        if state == LeaverState::Due {
            for system in policy.systems.iter() {
                let known = input
                    .known_tasks
                    .is_some_and(|k| k.contains(&(key.clone(), system.name().to_string())));
                if let Some(manual) = system.manual()
                    && !known
                {
                    // A task asks a person to do the lane's own actions; actions rules add for
                    // systems with accounts (revoke-sessions, ...) are not a laptop's business.
                    let actions = system.on_leave.clone();
                    changes.push((
                        leavers.len(),
                        Change {
                            person: key.clone(),
                            system: system.name().to_string(),
                            tier: system.tier,
                            kind: ChangeKind::Task,
                            account: None,
                            actions: actions.clone(),
                            before: None,
                            after: None,
                            task: Some(Task {
                                owner: manual.owner.clone(),
                                due: cutoff.checked_add(manual.sla).unwrap_or(cutoff),
                                actions,
                                escalate_to: manual.escalate_to.clone(),
                                steps: Vec::new(),
                            }),
                            rules: vec![base.cutoff_source.clone()],
                            hand_off_to: None,
                        },
                    ));
                }
            }
        }

        leavers.push(Leaver {
            person: key,
            name: person.name.clone(),
            email: person.email.clone(),
            department: person.department.clone(),
            employment: person.employment,
            termination_type: person.termination_type,
            state,
            cutoff,
            cutoff_rule: base.cutoff_rule,
            delete_at: base.delete_at,
            retained_by: base.retained_by.clone(),
            rules: base.matched.clone(),
            notify: base.notify.clone(),
            accounts: accounts.len(),
            undated: base.undated,
            emergency: person
                .emergency
                .as_ref()
                .map(|e| crate::plan::EmergencyRef {
                    id: e.id.clone(),
                    by: e.by.clone(),
                    reason: e.reason.clone(),
                    confirmed: e.confirmed,
                }),
        });
    }

    if !failures.is_empty() {
        return Err(PlanError::Conditions(failures));
    }

    // Due leavers first, earliest cutoff first; changes follow their leaver, in tier order.
    let mut order: Vec<usize> = (0..leavers.len()).collect();
    order.sort_by(|&a, &b| {
        let (la, lb) = (&leavers[a], &leavers[b]);
        (la.state != LeaverState::Due, la.cutoff, &la.person).cmp(&(
            lb.state != LeaverState::Due,
            lb.cutoff,
            &lb.person,
        ))
    });
    let rank: HashMap<usize, usize> = order.iter().enumerate().map(|(r, &i)| (i, r)).collect();
    changes.sort_by(|(a, ca), (b, cb)| {
        (
            rank[a],
            ca.tier,
            &ca.system,
            ca.kind,
            ca.account.as_ref().map(|x| &x.id),
        )
            .cmp(&(
                rank[b],
                cb.tier,
                &cb.system,
                cb.kind,
                cb.account.as_ref().map(|x| &x.id),
            ))
    });
    let mut sorted_leavers: Vec<Option<Leaver>> = leavers.into_iter().map(Some).collect();
    let leavers: Vec<Leaver> = order
        .iter()
        .filter_map(|&i| sorted_leavers[i].take())
        .collect();

    if input.only.is_some() {
        // Only the named people's own notes (their synced accounts) are about them.
        notes.retain(|n| n.kind == NoteKind::Follows);
    }
    notes.sort_by(|a, b| {
        (a.kind, &a.system, &a.account.id).cmp(&(b.kind, &b.system, &b.account.id))
    });

    Ok(Plan {
        format_version: FORMAT_VERSION,
        created_at: now,
        policy: PolicyRef {
            content_hash: policy.content_hash.clone(),
            git_commit: input.git_commit.clone(),
            dirty: input.dirty,
        },
        roster: RosterRef {
            source: roster.source.display().to_string(),
            hash: roster.hash.clone(),
            people: roster.people.len(),
        },
        refreshed: refreshed(policy, observed),
        leavers,
        changes: changes.into_iter().map(|(_, c)| c).collect(),
        notes,
        warnings,
        journal: None,
    })
}

fn refreshed(policy: &Policy, observed: &Observed) -> Vec<RefreshedSystem> {
    let mut out: Vec<RefreshedSystem> = policy
        .systems
        .iter()
        .map(|s| {
            let snap = observed.systems.get(s.name());
            RefreshedSystem {
                system: s.name().to_string(),
                tier: s.tier,
                connector: s.kind().to_string(),
                accounts: snap.map_or(0, |x| x.total),
                fingerprint: snap.map(|x| x.fingerprint.clone()),
                targeted: snap.is_some_and(|x| x.targeted),
                disabled_as: s
                    .connector()
                    .and_then(|c| c.disabled_as())
                    .map(str::to_string),
            }
        })
        .collect();
    out.sort_by(|a, b| (a.tier, &a.system).cmp(&(b.tier, &b.system)));
    out
}

/// One leaver's timing as the policy decides it, without reading any system: the rules that
/// match them (person-level rules only) and the resolved cutoff and deletion. For
/// `offboard schedule` and for what `serve` does with an HR event (`auto-apply`).
pub fn leaver_timing<'p>(
    policy: &'p Policy,
    person: &crate::roster::Person,
    key: &str,
    now: Timestamp,
) -> Result<(Resolution, Vec<&'p Rule>), Vec<ConditionFailure>> {
    let ctx = person_context(person, policy);
    let mut failures = Vec::new();
    match matching_rules(policy, &ctx, None, now, key, &mut failures) {
        Some(rules) => Ok((
            resolve::resolve(&policy.defaults, person, &rules, now),
            rules,
        )),
        None => Err(failures),
    }
}

/// Rules whose condition holds; `None` (with failures recorded) when one cannot be evaluated.
/// Without an account, only person-level rules are tried; with one, every rule is.
fn matching_rules<'p>(
    policy: &'p Policy,
    person: &PersonContext,
    account: Option<&crate::rules::AccountContext>,
    now: Timestamp,
    key: &str,
    failures: &mut Vec<ConditionFailure>,
) -> Option<Vec<&'p Rule>> {
    let mut matched = Vec::new();
    let mut ok = true;
    for rule in &policy.rules {
        if account.is_none() && rule.condition.value.uses_account() {
            continue;
        }
        match rule.condition.value.eval(person, account, now) {
            Ok(true) => matched.push(rule),
            Ok(false) => {}
            Err(error) => {
                ok = false;
                if failures.len() < MAX_FAILURES {
                    failures.push(ConditionFailure {
                        person: key.to_string(),
                        rule: rule.name.value.clone(),
                        diagnostic: policy.evaluation_diagnostic(&rule.condition, &error),
                        error,
                    });
                }
            }
        }
    }
    ok.then_some(matched)
}

fn account_ref(a: &Account) -> AccountRef {
    AccountRef {
        id: a.id.clone(),
        username: a.username.clone(),
        label: a.label().to_string(),
        fingerprint: a.fingerprint(),
        version: a.version().map(str::to_string),
    }
}

/// What must happen to one account of a due leaver; `None` when it is already offboarded.
/// The change to one account of a due leaver; `manager` receives handed-off files.
fn account_change(
    system: &System,
    account: &Account,
    r: &Resolution,
    person: &str,
    manager: Option<&str>,
    now: Timestamp,
) -> Option<Change> {
    let before = AccountState::of(account);
    let delete_due = r.delete_at.is_some_and(|at| at <= now);
    // A synced account is disabled and deleted where it is mastered (see `by_hand`).
    let mastered = account.mastered_by.is_some();
    if delete_due && system.can(Action::Delete) && !mastered {
        // Some providers keep a deleted user's id in their groups: when the system's
        // `on-leave` removes groups, memberships go first, then the account.
        let mut actions = Vec::new();
        if system.on_leave.contains(&Action::RemoveGroups)
            && system.can(Action::RemoveGroups)
            && !before.groups.is_empty()
        {
            actions.push(Action::RemoveGroups);
        }
        actions.push(Action::Delete);
        return Some(Change {
            person: person.to_string(),
            system: system.name().to_string(),
            tier: system.tier,
            kind: ChangeKind::Delete,
            account: Some(account_ref(account)),
            actions,
            before: Some(before),
            after: None,
            task: None,
            rules: r.delete_source.iter().cloned().collect(),
            hand_off_to: None,
        });
    }

    // The system's own actions, then what rules add (where the connector can do it).
    let mut wanted: BTreeMap<Action, Option<&str>> =
        system.on_leave.iter().map(|a| (*a, None)).collect();
    for (a, rule) in &r.extra_actions {
        if system.can(*a) {
            wanted.entry(*a).or_insert(Some(rule.as_str()));
        }
    }
    let disabled_ou = system
        .connector()
        .and_then(|c| c.move_target())
        .map(str::to_string);
    let active = account.is_active();
    let mut after = before.clone();
    let mut actions = Vec::new();
    let mut rules = vec![r.cutoff_source.clone()];
    for (action, rule) in wanted {
        if (mastered && by_hand::mastered_elsewhere(action))
            || by_hand::leaves_to_people(system, action)
        {
            continue;
        }
        let needed = match action {
            Action::Disable | Action::ResetPassword => active,
            Action::RevokeSessions => active || account.sessions.is_some_and(|n| n > 0),
            Action::RemoveGroups => !after.groups.is_empty(),
            Action::RemoveLicenses => !after.licenses.is_empty(),
            Action::RemoveAppRoles => !after.app_roles.is_empty(),
            // Handed off once, while the account is still in use; without a manager it is a
            // task (see `by_hand`).
            Action::HandOffFiles => active && manager.is_some(),
            // Factors cannot be listed cheaply for every account: reset while the account can
            // still sign in (the planner pairs it with disable), like a password.
            Action::ResetMfa => active,
            // Only a kind that leaves it to people plans it, as a task (above).
            Action::HandOffMailbox => false,
            Action::Move => match (&disabled_ou, &account.container) {
                (Some(ou), Some(current)) => !crate::connector::same_container(ou, current),
                (Some(_), None) => true,
                (None, _) => false,
            },
            // An `on-leave delete` deletes at the cutoff, unless something retains the account.
            Action::Delete => r.retained_by.is_empty(),
            Action::Collect => false,
        };
        if !needed {
            continue;
        }
        match action {
            Action::Disable => after.status = AccountStatus::Disabled,
            Action::RevokeSessions => after.sessions = after.sessions.map(|_| 0),
            Action::RemoveGroups => after.groups.clear(),
            Action::RemoveLicenses => after.licenses.clear(),
            Action::RemoveAppRoles => after.app_roles.clear(),
            Action::Move => after.container = disabled_ou.clone(),
            _ => {}
        }
        actions.push(action);
        if let Some(rule) = rule
            && !rules.iter().any(|r| r == rule)
        {
            rules.push(rule.to_string());
        }
    }
    if actions.is_empty() {
        return None;
    }
    let deleting = actions.contains(&Action::Delete);
    let hand_off_to = actions
        .contains(&Action::HandOffFiles)
        .then(|| manager.map(str::to_string))
        .flatten();
    Some(Change {
        person: person.to_string(),
        system: system.name().to_string(),
        tier: system.tier,
        kind: if deleting {
            ChangeKind::Delete
        } else {
            ChangeKind::Update
        },
        account: Some(account_ref(account)),
        actions,
        before: Some(before),
        after: if deleting { None } else { Some(after) },
        task: None,
        rules,
        hand_off_to,
    })
}
