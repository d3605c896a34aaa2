//! The audit: access that offboarding missed, found in live state. Pure, like the planner.
//!
//! An audit looks at every account of every system and reports what should not be there:
//! leavers still active, accounts nobody owns or several people match, access no role
//! explains, offboarded people who are active again, exemptions that no longer fit, and
//! dormant accounts. It reuses the planner for "who is past cutoff" so the two can never
//! disagree, and it changes nothing. Renderers live in `render`.

pub mod certificate;
mod findings;
mod grants;
pub mod render;

pub use findings::{Audit, Finding, Kind, Severity, SystemSummary};
use grants::{GrantCache, Grants};

use std::collections::{HashMap, HashSet};

use jiff::Timestamp;

use crate::connector::Observed;
use crate::plan::{LeaverState, NoteKind};
use crate::policy::{Diagnostic, Policy};
use crate::reconcile::correlate::{PersonIndex, Situation, situate};
use crate::reconcile::{self, PlanError, PlanInput};
use crate::roster::Roster;

/// Everything an audit looks at.
pub struct AuditInput<'a> {
    pub policy: &'a Policy,
    pub roster: &'a Roster,
    pub observed: &'a Observed,
    pub now: Timestamp,
    /// Person keys whose offboarding the journal records as complete.
    pub offboarded: &'a HashSet<String>,
    /// Only these systems (empty: all).
    pub systems: &'a [String],
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("the condition of role `{role}` failed for {person}")]
    Role {
        role: String,
        person: String,
        diagnostic: Box<Diagnostic>,
    },
}

pub fn audit(input: &AuditInput) -> Result<Audit, AuditError> {
    let AuditInput {
        policy,
        roster,
        observed,
        now,
        ..
    } = *input;
    let in_scope =
        |system: &str| input.systems.is_empty() || input.systems.iter().any(|s| s == system);
    // Computed once per system: a location scans the policy file, and findings are many.
    let locations: HashMap<&str, String> = policy
        .systems
        .iter()
        .map(|s| (s.name(), policy.sources.location(s.span)))
        .collect();
    let location = |system: &str| locations.get(system).cloned();
    let mut findings = Vec::new();
    // Person-level findings (not about one account), added after the account findings.
    let mut undated: Vec<Finding> = Vec::new();
    let mut push = |kind: Kind,
                    system: &str,
                    account: &str,
                    label: &str,
                    owner: Option<String>,
                    evidence: String,
                    remediation: &str| {
        findings.push(Finding {
            kind,
            severity: kind.severity(),
            system: system.to_string(),
            account: account.to_string(),
            account_label: label.to_string(),
            owner,
            evidence,
            remediation: remediation.to_string(),
            policy_location: location(system),
        });
    };

    // The planner decides who is past cutoff; its planned changes on active accounts are
    // exactly the leavers' live access.
    let plan = reconcile::plan(&PlanInput {
        policy,
        roster,
        observed,
        now,
        only: None,
        known_tasks: Some(&Default::default()),
        git_commit: None,
        dirty: None,
    })?;
    for l in plan.leavers.iter().filter(|l| l.undated) {
        undated.push(Finding {
            kind: Kind::UndatedLeaver,
            severity: Kind::UndatedLeaver.severity(),
            system: "roster".to_string(),
            account: l.person.clone(),
            account_label: l.name.clone(),
            owner: Some(l.person.clone()),
            evidence: format!(
                "{} is terminated in HR with neither termination_at nor last_day: access is cut, but no deletion is scheduled",
                l.person
            ),
            remediation: "record the termination date or last day in the HR system; deletion is scheduled from it on the next plan".to_string(),
            policy_location: policy.people.as_ref().map(|p| policy.sources.location(p.span)),
        });
    }
    // An operator's emergency word that HR has not backed in time: either HR is behind or
    // the override was a mistake, and someone must decide which.
    let grace = policy.defaults.override_confirm_within;
    for person in &roster.people {
        let Some(e) = person.emergency.as_ref().filter(|e| !e.confirmed) else {
            continue;
        };
        if now < e.at.checked_add(grace).unwrap_or(e.at) {
            continue;
        }
        let key = roster.key_of(person);
        undated.push(Finding {
            kind: Kind::UnconfirmedOverride,
            severity: Kind::UnconfirmedOverride.severity(),
            system: "roster".to_string(),
            account: key.clone(),
            account_label: person.name.clone(),
            owner: Some(key.clone()),
            evidence: format!(
                "emergency override {} ({} by {}: {}{}) cuts {key}, and HR has not recorded them as terminated within override-confirm-within ({})",
                e.id,
                crate::when::human(e.at),
                e.by,
                e.reason,
                e.ticket.as_deref().map(|t| format!("; ticket {t}")).unwrap_or_default(),
                crate::policy::duration::format(grace),
            ),
            remediation: "record the termination in the HR system; if the override was a mistake, roll back its run (`offboard journal list` shows it), which restores the access and revokes the override".to_string(),
            policy_location: policy.people.as_ref().map(|p| policy.sources.location(p.span)),
        });
    }
    // HR's webhook said one thing; its export must say the same, in time.
    for person in &roster.people {
        let Some(e) = person.hr_event.as_ref() else {
            continue;
        };
        let why = if e.confirmed {
            match crate::roster::hr_event::disagreement(person, e) {
                Some(why) => why,
                None => continue,
            }
        } else if now >= e.received_at.checked_add(grace).unwrap_or(e.received_at) {
            format!(
                "the export does not list them as terminated within override-confirm-within ({})",
                crate::policy::duration::format(grace)
            )
        } else {
            continue;
        };
        let key = roster.key_of(person);
        undated.push(Finding {
            kind: Kind::HrDisagrees,
            severity: Kind::HrDisagrees.severity(),
            system: "roster".to_string(),
            account: key.clone(),
            account_label: person.name.clone(),
            owner: Some(key.clone()),
            evidence: format!(
                "HR event {} from {} ({}) terminated {key}; {why}",
                e.event_id,
                e.source,
                crate::when::human(e.received_at),
            ),
            remediation: "correct the HR system or its export so both agree; offboard acted on the event, and the export's facts decide once it lists the person as terminated".to_string(),
            policy_location: policy.people.as_ref().map(|p| policy.sources.location(p.span)),
        });
    }
    let due: HashMap<&str, &crate::plan::Leaver> = plan
        .leavers
        .iter()
        .filter(|l| l.state == LeaverState::Due)
        .map(|l| (l.person.as_str(), l))
        .collect();
    for c in &plan.changes {
        let (Some(account), Some(before)) = (&c.account, &c.before) else {
            continue;
        };
        if before.status != crate::connector::AccountStatus::Active || !in_scope(&c.system) {
            continue;
        }
        let Some(leaver) = due.get(c.person.as_str()) else {
            continue;
        };
        if input.offboarded.contains(&c.person.to_lowercase()) {
            push(
                Kind::Recreated,
                &c.system,
                &account.id,
                &account.label,
                Some(c.person.clone()),
                format!(
                    "{} was offboarded (journal) but this account is active again",
                    c.person
                ),
                "disable it now, then find out who re-enabled or recreated it (the system's admin log)",
            );
        } else {
            push(
                Kind::LeaverActive,
                &c.system,
                &account.id,
                &account.label,
                Some(c.person.clone()),
                format!(
                    "{} left (cutoff {}), the account is still active",
                    c.person,
                    leaver.cutoff.strftime("%Y-%m-%d %H:%M UTC")
                ),
                "run `offboard plan` and `offboard apply` for this person",
            );
        }
    }
    for n in &plan.notes {
        if !in_scope(&n.system) {
            continue;
        }
        match n.kind {
            NoteKind::Orphan => push(
                Kind::Orphan,
                &n.system,
                &n.account.id,
                &n.account.label,
                None,
                "active, and no roster person matches it through the system's `correlate` rules"
                    .into(),
                "find its owner and fix the correlation, exempt it with a reason and owner, or disable it",
            ),
            NoteKind::Disputed => push(
                Kind::Disputed,
                &n.system,
                &n.account.id,
                &n.account.label,
                None,
                format!("matches {}", n.owners.join(", ")),
                "give the account one owner (fix its attributes) or exempt it as a shared account",
            ),
            NoteKind::Exempt | NoteKind::Follows => {}
        }
    }

    let index = PersonIndex::new(roster, &policy.systems);
    let offboarded_or_leaving: HashSet<usize> = roster
        .people
        .iter()
        .enumerate()
        .filter(|(_, p)| p.is_leaver())
        .map(|(i, _)| i)
        .collect();
    let granted = GrantCache::new(policy, roster, now);
    let enforced = policy.systems.iter().any(|s| s.enforce_roles);

    for system in &policy.systems {
        if !in_scope(system.name()) {
            continue;
        }
        let Some(snapshot) = observed.systems.get(system.name()) else {
            continue;
        };
        for e in &system.exemptions {
            let exists = snapshot.accounts.iter().any(|a| {
                a.id.eq_ignore_ascii_case(&e.account) || a.username.eq_ignore_ascii_case(&e.account)
            });
            let owner_left = roster
                .people
                .iter()
                .any(|p| p.is_leaver() && p.email.eq_ignore_ascii_case(&e.owner));
            if !exists || owner_left {
                let why = if !exists {
                    format!(
                        "exempt \"{}\" matches no account in {}",
                        e.account,
                        system.name()
                    )
                } else {
                    format!("the exemption's owner {} has left", e.owner)
                };
                push(
                    Kind::StaleExemption,
                    system.name(),
                    &e.account,
                    &e.account,
                    Some(e.owner.clone()),
                    why,
                    "remove the exemption, or give it a current owner",
                );
            }
        }
        for account in snapshot.accounts.iter().filter(|a| a.is_active()) {
            let owner = match situate(system, account, &index) {
                Situation::Owned(i) => Some(i),
                _ => None,
            };
            if let Some(i) = owner
                && offboarded_or_leaving.contains(&i)
            {
                continue; // leavers are reported above, not as dormant or excess
            }
            if let Some(last) = dormant_since(policy, account, now) {
                push(
                    Kind::Dormant,
                    system.name(),
                    &account.id,
                    account.label(),
                    owner.map(|i| roster.key_of(&roster.people[i])),
                    format!(
                        "last login {} ({} days ago)",
                        last.strftime("%Y-%m-%d"),
                        now.duration_since(last).as_hours() / 24
                    ),
                    "confirm the account is still needed, or disable it",
                );
            }
            let (Some(i), true) = (owner, system.enforce_roles && enforced) else {
                continue;
            };
            let grants = granted.of(i)?;
            let excess = excess_access(&grants, system, account);
            if !excess.is_empty() {
                let names: Vec<&str> = excess.iter().map(|s| s.as_str()).collect();
                push(
                    Kind::ExcessAccess,
                    system.name(),
                    &account.id,
                    account.label(),
                    Some(roster.key_of(&roster.people[i])),
                    format!("holds {} that no role grants", names.join(", ")),
                    "remove the access, or add a role that grants it and have the change reviewed",
                );
            }
        }
    }

    findings.append(&mut undated);
    findings.sort_by(|a, b| {
        (std::cmp::Reverse(a.severity), a.kind, &a.system, &a.account).cmp(&(
            std::cmp::Reverse(b.severity),
            b.kind,
            &b.system,
            &b.account,
        ))
    });
    let systems = policy
        .systems
        .iter()
        .filter(|s| in_scope(s.name()))
        .filter_map(|s| {
            let snap = observed.systems.get(s.name())?;
            Some(SystemSummary {
                system: s.name().to_string(),
                accounts: snap.total,
                findings: findings.iter().filter(|f| f.system == s.name()).count(),
            })
        })
        .collect();
    Ok(Audit {
        generated_at: now,
        policy_hash: policy.content_hash.clone(),
        roster_hash: roster.hash.clone(),
        systems,
        findings,
    })
}

/// The accounts an audit can report, for [`crate::connector::refresh_keeping`]: everything
/// not owned by a stayer, plus stayers' active accounts that are dormant or hold access no
/// role grants. The audit finds the same findings in the kept accounts as in all of them.
pub fn relevance<'a>(
    policy: &'a Policy,
    roster: &'a Roster,
    now: Timestamp,
) -> impl Fn(&crate::policy::System, &crate::connector::Account) -> bool + Sync + 'a {
    let index = PersonIndex::new(roster, &policy.systems);
    let grants = GrantCache::new(policy, roster, now);
    move |system, account| match situate(system, account, &index) {
        Situation::Owned(i) if roster.people[i].is_leaver() => true,
        Situation::Owned(i) => {
            account.is_active()
                && (dormant_since(policy, account, now).is_some()
                    || system.enforce_roles
                        // A role that fails to evaluate keeps the account: the audit
                        // itself then reports the failure.
                        && grants
                            .of(i)
                            .map_or(true, |g| !excess_access(&g, system, account).is_empty()))
        }
        Situation::Orphan => account.is_active(),
        Situation::Disputed(_) | Situation::Exempt(_) => true,
    }
}

/// The last login of an account unused for longer than the policy allows.
fn dormant_since(
    policy: &Policy,
    account: &crate::connector::Account,
    now: Timestamp,
) -> Option<Timestamp> {
    account
        .last_login
        .filter(|&last| now.duration_since(last) > policy.defaults.dormant_after)
}

/// The account's groups and entitlements that `grants` does not cover.
fn excess_access<'a>(
    grants: &Grants,
    system: &crate::policy::System,
    account: &'a crate::connector::Account,
) -> Vec<&'a String> {
    let allowed = grants.get(system.name());
    account
        .groups
        .iter()
        .chain(&account.entitlements)
        .filter(|g| allowed.is_none_or(|a| !a.contains(*g)))
        .collect()
}
