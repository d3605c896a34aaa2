//! Emergency overrides: an operator's word that someone must be cut now, before HR's export
//! says so (`offboard leave --emergency`).
//!
//! A termination for cause or a compromised account cannot wait for the next HR export. The
//! override is journaled (who, when, why, which ticket) and, until it is revoked, every plan
//! reads the roster through it: the person is a leaver whose cutoff is the moment of the
//! override, whatever the rules say about timing. What HR has not confirmed is never made
//! permanent: nothing is deleted on an unconfirmed override, and `audit` reports one HR has
//! not confirmed within the policy's `override-confirm-within`. Once HR lists the person as
//! terminated the override is *confirmed*: HR's dates decide deletion again, and the cutoff
//! stays immediate (the person was cut already).
//!
//! An emergency is treated as an involuntary termination when HR gives no termination type,
//! so the policy's rules for involuntary leavers (revoking sessions, ...) apply to it. The
//! overlay is pure: [`apply`] takes the overrides the journal holds and changes the roster
//! in memory; the roster file is never written.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{Roster, Status, TerminationType};

/// One emergency override in force, as the roster overlay needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Emergency {
    /// The override's id, as journaled (`ovr-...`).
    pub id: String,
    /// The roster key of the person it cuts.
    pub person: String,
    /// When it was recorded: the person's cutoff.
    pub at: Timestamp,
    /// Who recorded it.
    pub by: String,
    pub reason: String,
    pub ticket: Option<String>,
    /// Whether HR's export lists the person as terminated too.
    #[serde(default)]
    pub confirmed: bool,
}

/// Overlay `overrides` on `roster`: each names a person (by roster key, any letter case) who
/// becomes a leaver as of the override. Returns the overrides whose person the roster does
/// not hold (reported by the caller; the override stays in force for when they appear). The
/// roster's hash then covers the overrides too, so a plan saved before an override was
/// recorded or revoked is stale.
pub fn apply<'a>(roster: &mut Roster, overrides: &'a [Emergency]) -> Vec<&'a Emergency> {
    let mut missing = Vec::new();
    let mut applied = Vec::new();
    for e in overrides {
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
        e.confirmed = person.is_leaver();
        if !e.confirmed {
            person.status = Status::Terminated;
            person.termination_at = Some(e.at);
            person.last_day = None;
        }
        if person.termination_type.is_none() {
            person.termination_type = Some(TerminationType::Involuntary);
        }
        applied.push(e.id.clone());
        // The earliest override of a person is the one that counts.
        if person
            .emergency
            .as_ref()
            .is_none_or(|known| known.at > e.at)
        {
            person.emergency = Some(e);
        }
    }
    roster.cover(b"\0", applied);
    missing
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::roster::tests::two_people as roster;

    fn emergency(person: &str, at: &str) -> Emergency {
        Emergency {
            id: format!("ovr-{person}"),
            person: person.into(),
            at: at.parse().unwrap(),
            by: "sec@acme.example".into(),
            reason: "for cause".into(),
            ticket: Some("SEC-1".into()),
            confirmed: false,
        }
    }

    #[test]
    fn an_override_makes_an_active_person_a_leaver_as_of_its_moment() {
        let mut r = roster();
        let overrides = [
            emergency("ANN@acme.example", "2026-11-30T08:00:00Z"),
            emergency("nobody@acme.example", "2026-11-30T08:00:00Z"),
        ];
        let missing = apply(&mut r, &overrides);
        assert_eq!(missing, vec![&overrides[1]]);
        let ann = &r.people[0];
        assert!(ann.is_leaver());
        assert_eq!(ann.termination_at, Some(overrides[0].at));
        assert_eq!(ann.termination_type, Some(TerminationType::Involuntary));
        let e = ann.emergency.as_ref().unwrap();
        assert!(!e.confirmed);
        assert_ne!(r.hash, "h", "a saved plan must go stale");
    }

    #[test]
    fn hr_confirms_an_override_by_listing_the_person_as_terminated() {
        let mut r = roster();
        let before = r.people[1].clone();
        apply(
            &mut r,
            &[emergency("bo@acme.example", "2026-11-30T08:00:00Z")],
        );
        let bo = &r.people[1];
        assert!(bo.emergency.as_ref().unwrap().confirmed);
        // HR's facts stay: its dates decide deletion once it agrees.
        assert_eq!(bo.last_day, before.last_day);
        assert_eq!(bo.termination_type, before.termination_type);
    }

    #[test]
    fn no_override_no_change() {
        let mut r = roster();
        let before = r.people.clone();
        assert!(apply(&mut r, &[]).is_empty());
        assert_eq!(r.people, before);
        assert_eq!(r.hash, "h");
    }
}
