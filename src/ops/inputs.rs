//! The three inputs of every plan, each read with the guards that refuse implausible data:
//! the policy (valid, or every diagnostic), the roster (inside the repository, every field
//! the policy reads, not shrunk past `max-roster-drop`, with the journal's emergency
//! overrides laid over it) and the live state (every system
//! read, none suddenly empty).

use std::time::Instant;

use jiff::Timestamp;

use super::{Cause, Observer, OpError, Workspace, journal};
use crate::connector::{self, Observed, lookup};
use crate::policy::{self, Policy};
use crate::roster::{self, Person, Roster};

/// The policy of the workspace, or every diagnostic.
pub fn load_policy(ws: &Workspace) -> Result<Policy, OpError> {
    policy::load_dir(&ws.policies_dir, &ws.root).map_err(|e| {
        let cause = Cause {
            diagnostics: e.diagnostics.clone(),
            ..Cause::default()
        };
        OpError::new(format!("{e}; run `offboard validate` after fixing it."))
            .causes(vec![cause], Some(e.sources.clone()))
    })
}

/// `validate`: the policy, checked on its own and, when the roster is readable, against it
/// (a misspelt `person.FIELD` or `correlate` column would otherwise match nobody, silently).
/// An unreadable roster is a warning here: validating a policy must not need the HR export.
/// Failures carry every diagnostic, for text and JSON alike.
pub fn validate(ws: &Workspace, observer: &dyn Observer) -> Result<Policy, policy::PolicyError> {
    let policy = policy::load_dir(&ws.policies_dir, &ws.root)?;
    let Some(source) = &policy.people else {
        return Ok(policy);
    };
    let roster = match roster::load(source, &ws.root, &policy.defaults.timezone) {
        Ok(r) => r,
        Err(e) => {
            observer.warn(&format!(
                "the roster could not be read, so the fields the policy reads were not checked against it: {}",
                e.problems.first().map_or("", |p| p.message.as_str())
            ));
            return Ok(policy);
        }
    };
    let diagnostics = policy.check_roster_fields(&roster.columns);
    if diagnostics.is_empty() {
        Ok(policy)
    } else {
        Err(policy::PolicyError {
            sources: (*policy.sources).clone(),
            diagnostics,
        })
    }
}

/// The roster the policy declares, refused when a field the policy reads is missing or when
/// it lost more people since the last apply than `max-roster-drop` allows.
pub fn load_roster(
    ws: &Workspace,
    policy: &Policy,
    observer: &dyn Observer,
) -> Result<Roster, OpError> {
    let Some(source) = &policy.people else {
        return Err(OpError::new("the policy declares no roster.")
            .hint("add `people { source csv path=\"inventory/people.csv\" }` to a policy file"));
    };
    check_data_paths(ws, policy)?;
    let roster = roster::load(source, &ws.root, &policy.defaults.timezone)
        .map_err(|e| OpError::new(e.to_string()))?;
    let missing = policy.check_roster_fields(&roster.columns);
    if !missing.is_empty() {
        let message = format!(
            "the policy reads {} the roster {} does not have; nothing is planned from it.",
            if missing.len() == 1 {
                "a field"
            } else {
                "fields"
            },
            source.path.display()
        );
        let cause = Cause {
            diagnostics: missing,
            ..Cause::default()
        };
        return Err(OpError::new(message).causes(vec![cause], Some((*policy.sources).clone())));
    }
    let previous = journal::last_apply(ws)?.and_then(|run| run.roster_people);
    if let Err(why) = roster::check_drop(roster.people.len(), previous, source.max_roster_drop) {
        if !ws.allow_roster_drop {
            return Err(OpError::new(format!(
                "{}: {why}; no plan is made from it.",
                source.path.display()
            ))
            .hint("check the HR export; if these people really left the roster, run again with --allow-roster-drop"));
        }
        observer.warn(&format!("{why}; accepted because of --allow-roster-drop"));
    }
    let mut roster = roster;
    overlay_overrides(ws, &mut roster, observer)?;
    Ok(roster)
}

/// Lay the journal's emergency overrides in force over the roster (see
/// [`roster::emergency`]): until one is revoked, its person is a leaver cut as of it. Then
/// the HR events `serve` received (see [`roster::hr_event`]), for an export behind them.
fn overlay_overrides(
    ws: &Workspace,
    roster: &mut Roster,
    observer: &dyn Observer,
) -> Result<(), OpError> {
    let overrides = match ws.overrides.get() {
        Some(known) => known,
        None if !journal::exists(ws)? => return Ok(()),
        None => {
            let read: Vec<roster::emergency::Emergency> = journal::read(ws)?
                .overrides()
                .map_err(journal::evidence)?
                .iter()
                .map(|o| o.emergency())
                .collect();
            ws.overrides.get_or_init(|| read)
        }
    };
    for missing in roster::emergency::apply(roster, overrides) {
        observer.warn(&format!(
            "emergency override {} names {}, whom the roster does not list; it applies when they appear",
            missing.id, missing.person
        ));
    }
    let events = match ws.hr_events.get() {
        Some(known) => known,
        None => {
            let read: Vec<roster::hr_event::HrFacts> = journal::read(ws)?
                .triggers_in_force()
                .map_err(journal::evidence)?
                .iter()
                .filter(|t| t.termination)
                .map(|t| t.facts())
                .collect();
            ws.hr_events.get_or_init(|| read)
        }
    };
    for missing in roster::hr_event::apply(roster, events) {
        observer.warn(&format!(
            "HR event {} from {} names {}, whom the roster does not list; it applies when they appear",
            missing.event_id, missing.source, missing.person
        ));
    }
    Ok(())
}

/// The roster and every data file a connector reads must resolve inside the repository (or
/// a data root), checked before anything is read.
fn check_data_paths(ws: &Workspace, policy: &Policy) -> Result<(), OpError> {
    let mut paths: Vec<(String, &std::path::Path)> = Vec::new();
    if let Some(p) = &policy.people {
        paths.push(("the roster".to_string(), &p.path));
    }
    for s in &policy.systems {
        if let Some(path) = s.connector().and_then(|c| c.data_path()) {
            paths.push((format!("system {}", s.name()), path));
        }
    }
    let mut refused: Vec<String> = paths
        .into_iter()
        .filter_map(|(what, path)| {
            policy::confine(&ws.root, path, &ws.data_roots)
                .err()
                .map(|why| format!("{what}: {why}; nothing is read from it."))
        })
        .collect();
    let Some(last) = refused.pop() else {
        return Ok(());
    };
    let causes = refused
        .into_iter()
        .map(|message| Cause {
            message: Some(message),
            ..Cause::default()
        })
        .collect();
    Err(OpError::new(last)
        .causes(causes, None)
        .hint("keep data files in the policy repository; to read them from a mounted directory, pass --data-root DIR"))
}

/// Read every system `policy` connects to, keeping the accounts `keep` selects. A system
/// that cannot be read, or that reports no accounts although the last apply saw some, stops
/// the plan: nothing is planned from partial or implausible live state.
pub fn read_live_state(
    ws: &Workspace,
    policy: &Policy,
    keep: &connector::Keep<'_>,
    observer: &dyn Observer,
) -> Result<Observed, OpError> {
    read_systems(ws, policy, keep, None, observer)
}

/// The live state of `people` only: each system is asked for their accounts with its own
/// filters (a targeted read, see [`connector::lookup`]), so the time to read does not grow
/// with the size of the organisation. Systems that cannot look up are read whole.
pub fn read_live_state_of(
    ws: &Workspace,
    policy: &Policy,
    keep: &connector::Keep<'_>,
    people: &[&Person],
    observer: &dyn Observer,
) -> Result<Observed, OpError> {
    read_systems(ws, policy, keep, Some(people), observer)
}

fn read_systems(
    ws: &Workspace,
    policy: &Policy,
    keep: &connector::Keep<'_>,
    people: Option<&[&Person]>,
    observer: &dyn Observer,
) -> Result<Observed, OpError> {
    let total = policy
        .systems
        .iter()
        .filter(|s| s.connector().is_some())
        .count();
    observer.reading(total);
    let runtime = super::runtime()?;
    let started = Instant::now();
    let timings = std::sync::Mutex::new(Vec::new());
    let on_done = |name: &str| {
        observer.read_one(name);
        if let Ok(mut t) = timings.lock() {
            t.push((name.to_string(), started.elapsed()));
        }
    };
    let observed = match people {
        None => runtime.block_on(connector::refresh_keeping(policy, &ws.root, &on_done, keep)),
        Some(people) => {
            let lookups = |system: &crate::policy::System| lookup::lookups_for(system, people);
            runtime.block_on(connector::refresh_targeted(
                policy, &ws.root, &on_done, keep, &lookups,
            ))
        }
    };
    for (name, after) in timings.into_inner().unwrap_or_default() {
        let accounts = observed.systems.get(&name).map(|s| s.total);
        observer.system_read(&name, after, accounts);
    }
    observer.read_done(started.elapsed());
    if !observed.failures.is_empty() {
        let causes = observed
            .failures
            .values()
            .map(|e| Cause {
                message: Some(e.to_string()),
                hint: e.hint.clone(),
                diagnostics: Vec::new(),
            })
            .collect();
        return Err(OpError::new(format!(
            "{} of {total} systems could not be read; no plan is made from partial live state.",
            observed.failures.len()
        ))
        .causes(causes, None));
    }
    check_empty_systems(ws, &observed, observer)?;
    Ok(observed)
}

/// Systems that report no accounts although the last apply saw some: an empty export or a
/// service account that lost its read permission would otherwise look like "nobody has
/// access" and silently drop every change on that system.
fn check_empty_systems(
    ws: &Workspace,
    observed: &Observed,
    observer: &dyn Observer,
) -> Result<(), OpError> {
    let Some(last) = journal::last_apply(ws)? else {
        return Ok(());
    };
    let mut refused = Vec::new();
    // A targeted read sees the looked-up people's accounts only: no accounts is no news.
    for (name, snapshot) in observed.systems.iter().filter(|(_, s)| !s.targeted) {
        let before = last.system_accounts.get(name).copied().unwrap_or(0);
        if snapshot.total > 0 || before == 0 {
            continue;
        }
        if ws.allow_empty.iter().any(|s| s == name) {
            observer.warn(&format!(
                "{name} reports no accounts (the last apply saw {before}); accepted because of --allow-empty {name}"
            ));
        } else {
            refused.push(Cause {
                message: Some(format!(
                    "{name} reports no accounts, but the last apply saw {before}; it is not planned from an empty read."
                )),
                hint: Some(format!("check its export or the connector's permissions; if the system really is empty now, run again with --allow-empty {name}")),
                diagnostics: Vec::new(),
            });
        }
    }
    let Some(last) = refused.pop() else {
        return Ok(());
    };
    let mut e = OpError::new(last.message.unwrap_or_default()).causes(refused, None);
    e.hint = last.hint;
    Err(e)
}

/// `--at`: an RFC 3339 instant, or a date/date-time in the policy's time zone; now without.
pub fn parse_at(text: Option<&str>, policy: &Policy) -> Result<Timestamp, OpError> {
    let Some(text) = text else {
        return Ok(Timestamp::now());
    };
    if let Ok(t) = text.parse::<Timestamp>() {
        return Ok(t);
    }
    let civil = text.parse::<jiff::civil::DateTime>().ok().or_else(|| {
        text.parse::<jiff::civil::Date>()
            .ok()
            .map(|d| d.to_datetime(jiff::civil::Time::midnight()))
    });
    match civil.and_then(|dt| dt.to_zoned(policy.defaults.timezone.clone()).ok()) {
        Some(z) => Ok(z.timestamp()),
        None => Err(OpError::new(format!("`--at {text}` is not a time."))
            .hint("write 2026-11-28, 2026-11-28T09:00 (policy time zone) or 2026-11-28T09:00:00Z")),
    }
}
