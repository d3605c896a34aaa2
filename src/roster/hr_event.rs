//! HR's word by webhook: the facts of a termination event laid over a roster export that
//! has not caught up yet.
//!
//! `offboard serve` journals every accepted HR event (see [`crate::journal::TriggerRecord`]).
//! Until the nightly export agrees, every plan reads the roster through the events: the
//! person is a leaver with the event's termination type and last day, and the policy's rules
//! decide the cutoff as usual (an involuntary termination is cut at once, a resignation at
//! the end of the last day). Like an emergency override, an event alone never deletes:
//! deletion waits until the export lists the person as terminated (*confirmed*), and from
//! then on the export's facts decide. Where the export later disagrees with the event (the
//! person is still active after `override-confirm-within`, or HR's type or last day differ),
//! `audit` reports it. The overlay is pure: the roster file is never written.

use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use super::{Roster, Status, TerminationType};

/// One journaled HR event's facts, as the overlay needs them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HrFacts {
    /// The trigger (`trigger NAME` in the policy) and the sender's event id.
    pub source: String,
    pub event_id: String,
    /// The roster key of the person.
    pub person: String,
    /// When offboard received it: the termination's "when did we know".
    pub received_at: Timestamp,
    pub termination_type: Option<TerminationType>,
    pub last_day: Option<Date>,
    /// Whether the export lists the person as terminated too.
    #[serde(default)]
    pub confirmed: bool,
}

/// Overlay `events` (oldest first) on `roster`. A person's newest event gives the facts (HR
/// corrected itself: an earlier last day, another termination type), and their first event
/// the moment offboard knew (the termination instant). Returns the events whose person the
/// roster does not hold. The roster's hash then covers the events too, so a plan saved
/// before an event arrived is stale.
pub fn apply<'a>(roster: &mut Roster, events: &'a [HrFacts]) -> Vec<&'a HrFacts> {
    let mut missing = Vec::new();
    // Per person (roster key, any case): (first received, newest event).
    let mut latest: Vec<(String, Timestamp, &HrFacts)> = Vec::new();
    for e in events {
        let key = e.person.to_lowercase();
        match latest.iter_mut().find(|(k, ..)| *k == key) {
            Some((_, _, newest)) => *newest = e,
            None => latest.push((key, e.received_at, e)),
        }
    }
    let mut applied = Vec::new();
    for (_, first_known, e) in latest {
        let key = roster.key;
        let Some(person) = roster
            .people
            .iter_mut()
            .find(|p| p.key(key).eq_ignore_ascii_case(&e.person))
        else {
            missing.push(e);
            continue;
        };
        let mut e = e.clone();
        // Laid over a roster that already has an event laid over it (a correction judged
        // against the journal's events): the earlier event, not the export, says terminated.
        let earlier = person.hr_event.as_ref().filter(|h| !h.confirmed).cloned();
        // Confirmed by the export alone, not by an emergency override or an event laid over it.
        e.confirmed = earlier.is_none()
            && person.status == Status::Terminated
            && person.emergency.as_ref().is_none_or(|o| o.confirmed);
        if !e.confirmed {
            person.status = Status::Terminated;
            person.termination_at = Some(
                earlier
                    .as_ref()
                    .map_or(first_known, |h| h.received_at.min(first_known)),
            );
            if e.last_day.is_some() {
                person.last_day = e.last_day;
            }
            if e.termination_type.is_some() {
                person.termination_type = e.termination_type;
            }
        }
        applied.push(format!("{}/{}", e.source, e.event_id));
        person.hr_event = Some(e);
    }
    roster.cover(b"\0event\0", applied);
    missing
}

/// Where the export, once it lists the person as terminated, disagrees with the event.
pub fn disagreement(person: &super::Person, e: &HrFacts) -> Option<String> {
    if !e.confirmed {
        return None;
    }
    let mut out = Vec::new();
    if let (Some(event), Some(export)) = (e.termination_type, person.termination_type)
        && event != export
    {
        out.push(format!(
            "termination type {event} in the event, {export} in the export"
        ));
    }
    if let Some(event) = e.last_day
        && person.last_day != Some(event)
    {
        out.push(format!(
            "last day {event} in the event, {} in the export",
            person
                .last_day
                .map_or("none".to_string(), |d| d.to_string())
        ));
    }
    (!out.is_empty()).then(|| out.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::roster::tests::two_people as roster;

    fn event(person: &str, kind: TerminationType, last_day: &str) -> HrFacts {
        HrFacts {
            source: "bamboohr".into(),
            event_id: format!("evt-{person}"),
            person: person.into(),
            received_at: "2026-11-30T08:00:00Z".parse().unwrap(),
            termination_type: Some(kind),
            last_day: Some(last_day.parse().unwrap()),
            confirmed: false,
        }
    }

    #[test]
    fn an_event_makes_an_active_person_a_leaver_with_its_facts() {
        let mut r = roster();
        let events = [
            event(
                "ANN@acme.example",
                TerminationType::Involuntary,
                "2026-11-30",
            ),
            event(
                "nobody@acme.example",
                TerminationType::Voluntary,
                "2026-12-01",
            ),
        ];
        let missing = apply(&mut r, &events);
        assert_eq!(missing, vec![&events[1]]);
        let ann = &r.people[0];
        assert!(ann.is_leaver());
        assert_eq!(ann.termination_type, Some(TerminationType::Involuntary));
        assert_eq!(ann.last_day, Some("2026-11-30".parse().unwrap()));
        assert_eq!(ann.termination_at, Some(events[0].received_at));
        assert!(!ann.hr_event.as_ref().unwrap().confirmed);
        assert_ne!(r.hash, "h", "a saved plan must go stale");
    }

    #[test]
    fn the_newest_event_gives_the_facts_and_the_first_the_moment() {
        let mut r = roster();
        let first = event("ann@acme.example", TerminationType::Voluntary, "2026-12-31");
        let mut correction = event("ann@acme.example", TerminationType::Voluntary, "2026-12-05");
        correction.event_id = "evt-correction".into();
        correction.received_at = "2026-12-01T08:00:00Z".parse().unwrap();
        apply(&mut r, &[first.clone(), correction]);
        let ann = &r.people[0];
        assert_eq!(ann.last_day, Some("2026-12-05".parse().unwrap()));
        assert_eq!(ann.termination_at, Some(first.received_at));
        assert_eq!(ann.hr_event.as_ref().unwrap().event_id, "evt-correction");
    }

    #[test]
    fn a_correction_laid_over_an_overlaid_roster_gives_its_facts() {
        let mut r = roster();
        let first = event("ann@acme.example", TerminationType::Voluntary, "2026-12-31");
        apply(&mut r, std::slice::from_ref(&first));
        let mut correction = event(
            "ann@acme.example",
            TerminationType::Involuntary,
            "2026-12-01",
        );
        correction.event_id = "evt-correction".into();
        correction.received_at = "2026-12-01T08:00:00Z".parse().unwrap();
        apply(&mut r, &[correction]);
        let ann = &r.people[0];
        let e = ann.hr_event.as_ref().unwrap();
        assert!(!e.confirmed, "the export never said terminated");
        assert_eq!(ann.termination_type, Some(TerminationType::Involuntary));
        assert_eq!(ann.last_day, Some("2026-12-01".parse().unwrap()));
        assert_eq!(ann.termination_at, Some(first.received_at));
    }

    #[test]
    fn the_export_confirms_and_its_facts_win_and_disagreement_is_named() {
        let mut r = roster();
        apply(
            &mut r,
            &[event(
                "bo@acme.example",
                TerminationType::Involuntary,
                "2026-12-24",
            )],
        );
        let bo = &r.people[1];
        let e = bo.hr_event.as_ref().unwrap();
        assert!(e.confirmed);
        assert_eq!(bo.termination_type, Some(TerminationType::Voluntary));
        assert_eq!(
            disagreement(bo, e).as_deref(),
            Some("termination type involuntary in the event, voluntary in the export")
        );
    }
}
