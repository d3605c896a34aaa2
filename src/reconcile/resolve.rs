//! Turning the rules that matched a leaver into one decision: when, what, whether to delete.
//!
//! Conflicts resolve toward safety: the earliest cutoff wins, the shortest `delete-after`
//! wins, and any retention (a `retain` rule or a legal hold in the roster) beats deletion.
//! `defaults` fill in only what no matching rule decided. An emergency override (see
//! [`crate::roster::emergency`]) cuts at its own moment and deletes nothing until HR confirms;
//! nor does an HR webhook event the export has not caught up with ([`crate::roster::hr_event`]).

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use crate::policy::{Action, Cutoff, Defaults, Retention, Rule};
use crate::roster::Person;

/// Name used in plans when `defaults` made a decision.
pub const DEFAULTS: &str = "defaults";
/// Name used in plans when the roster's legal-hold flag forbids deletion.
pub const LEGAL_HOLD: &str = "legal hold (roster)";

#[derive(Debug, Clone, PartialEq)]
pub struct Resolution {
    pub cutoff: Timestamp,
    pub cutoff_rule: Cutoff,
    /// The rule (or `defaults`) whose cutoff won.
    pub cutoff_source: String,
    pub delete_at: Option<Timestamp>,
    pub delete_source: Option<String>,
    pub retained_by: Vec<String>,
    /// Actions rules add on top of each system's `on-leave`, with the rule that added each.
    pub extra_actions: Vec<(Action, String)>,
    pub notify: Vec<String>,
    /// Names of all matching rules, in policy order.
    pub matched: Vec<String>,
    /// HR recorded neither `termination_at` nor `last_day`: cut now, delete nothing.
    pub undated: bool,
}

/// The instant the last working day ends (midnight after it, in the policy's time zone).
pub fn end_of_last_day(person: &Person, tz: &TimeZone) -> Option<Timestamp> {
    let day = person.last_day?;
    let next = day.tomorrow().ok()?;
    next.to_zoned(tz.clone()).ok().map(|z| z.timestamp())
}

fn cutoff_instant(
    cutoff: Cutoff,
    person: &Person,
    end_of_day: Option<Timestamp>,
    now: Timestamp,
) -> Timestamp {
    // Without dates a leaver is cut now: missing data must never delay revocation.
    let anchor = end_of_day.or(person.termination_at).unwrap_or(now);
    match cutoff {
        // As soon as the roster records the termination, even if HR dated it later.
        Cutoff::Immediately => person.termination_at.map_or(now, |t| t.min(now)),
        Cutoff::EndOfLastDay => anchor,
        Cutoff::Offset(d) => anchor.checked_add(d).unwrap_or(anchor),
    }
}

pub fn resolve(
    defaults: &Defaults,
    person: &Person,
    matched: &[&Rule],
    now: Timestamp,
) -> Resolution {
    let end_of_day = end_of_last_day(person, &defaults.timezone);

    let mut cutoffs: Vec<(Timestamp, Cutoff, String)> = matched
        .iter()
        .filter_map(|r| {
            r.cutoff.map(|c| {
                (
                    cutoff_instant(c, person, end_of_day, now),
                    c,
                    r.name.value.clone(),
                )
            })
        })
        .collect();
    if cutoffs.is_empty() {
        cutoffs.push((
            cutoff_instant(defaults.cutoff, person, end_of_day, now),
            defaults.cutoff,
            DEFAULTS.to_string(),
        ));
    }
    // An emergency override cuts at its own moment, whatever the rules say about timing
    // (and is named as the cause when a rule would cut at the same moment).
    // (Not in a plan `--at` an instant before the override existed.)
    if let Some(e) = person.emergency.as_ref().filter(|e| e.at <= now) {
        cutoffs.insert(
            0,
            (
                e.at,
                Cutoff::Immediately,
                format!("emergency override {}", e.id),
            ),
        );
    }
    // Earliest wins; ties go to the first rule in policy order (stable sort).
    cutoffs.sort_by_key(|c| c.0);
    let (cutoff, cutoff_rule, cutoff_source) = cutoffs.swap_remove(0);

    let mut deletes: Vec<(SignedDuration, String)> = matched
        .iter()
        .filter_map(|r| r.delete_after.map(|d| (d, r.name.value.clone())))
        .collect();
    if deletes.is_empty()
        && let Some(d) = defaults.delete_after
    {
        deletes.push((d, DEFAULTS.to_string()));
    }
    deletes.sort_by_key(|d| d.0);
    let mut delete = deletes.into_iter().next();

    let mut retained_by = Vec::new();
    let mut retain_for: Option<SignedDuration> = None;
    for r in matched {
        match r.retain {
            Some(Retention::Forever) => retained_by.push(r.name.value.clone()),
            Some(Retention::For(d)) => {
                retain_for = Some(retain_for.map_or(d, |x: SignedDuration| x.max(d)))
            }
            None => {}
        }
    }
    if person.legal_hold && retained_by.is_empty() {
        retained_by.push(LEGAL_HOLD.to_string());
    }
    if !retained_by.is_empty() {
        delete = None;
    } else if let (Some((d, _)), Some(r)) = (&mut delete, retain_for) {
        *d = (*d).max(r);
    }
    // Without any HR date the cutoff is "now" on every run, so a deletion counted from it
    // would slide forward for ever and never arrive. Such a leaver is cut at once (missing
    // data must never delay revocation) but nothing is deleted until HR records a date;
    // plans warn and `audit` reports it every time.
    let undated = person.termination_at.is_none() && person.last_day.is_none();
    // Nor is anything deleted on an operator's word alone: deletion waits for HR to confirm
    // an emergency override.
    let unconfirmed = person.emergency.as_ref().is_some_and(|e| !e.confirmed)
        || person.hr_event.as_ref().is_some_and(|e| !e.confirmed);
    if undated || unconfirmed {
        delete = None;
    }
    let delete_at = delete
        .as_ref()
        .and_then(|(d, _)| cutoff.checked_add(*d).ok());

    let mut extra_actions = Vec::new();
    let mut notify: Vec<String> = Vec::new();
    for r in matched {
        for a in &r.on_leave {
            if !extra_actions.iter().any(|(x, _)| x == a) {
                extra_actions.push((*a, r.name.value.clone()));
            }
        }
        for n in &r.notify {
            if !notify.contains(n) {
                notify.push(n.clone());
            }
        }
    }

    Resolution {
        cutoff,
        cutoff_rule,
        cutoff_source,
        delete_at,
        delete_source: delete.map(|(_, s)| s),
        retained_by,
        extra_actions,
        notify,
        matched: matched.iter().map(|r| r.name.value.clone()).collect(),
        undated,
    }
}
