//! Leavers held for approval: people whom only an HR event makes leavers, whose rules do not
//! say `auto-apply`, and whose saved plan nobody has applied yet.
//!
//! `offboard serve` acts on its own only where the policy allows it. For such a person it
//! saves a plan and asks the approvers, and until someone applies it (an apply run, made
//! after the event, that names them as a leaver) the scheduler and the periodic reconcile
//! leave them out, saying so. The hold ends by itself when the HR export lists the person
//! as terminated: from then on they are an ordinary leaver, cut at their cutoff.

use super::{Observer, OpError, Workspace, inputs, journal};
use crate::journal::{RunMode, TriggerRecord};
use crate::policy::Policy;
use crate::roster::Roster;

/// Each held person's newest approval event (its person is the roster key).
pub fn held(
    ws: &Workspace,
    policy: &Policy,
    observer: &dyn Observer,
) -> Result<Vec<TriggerRecord>, OpError> {
    if !journal::exists(ws)? {
        return Ok(Vec::new());
    }
    let roster = inputs::load_roster(ws, policy, observer)?;
    held_in(ws, &roster)
}

/// The same, for a roster already read through the journal's overlays (the one a plan is
/// made from, so the holds and the plan see the same events).
pub fn held_in(ws: &Workspace, roster: &Roster) -> Result<Vec<TriggerRecord>, OpError> {
    if !journal::exists(ws)? {
        return Ok(Vec::new());
    }
    let journal = journal::read(ws)?;
    let triggers = journal.triggers_in_force().map_err(journal::evidence)?;
    let runs = journal.runs().map_err(journal::evidence)?;
    let mut out = Vec::new();
    for person in &roster.people {
        let Some(e) = person.hr_event.as_ref().filter(|e| !e.confirmed) else {
            continue;
        };
        let key = roster.key_of(person);
        // The event whose facts are in force, and what it asked for.
        let Some(t) = triggers
            .iter()
            .rev()
            .find(|t| t.source == e.source && t.event_id == e.event_id)
        else {
            continue;
        };
        if t.disposition != "approval" {
            continue;
        }
        let approved = runs.iter().any(|r| {
            r.start.mode == RunMode::Apply
                && r.start.plan_created_at >= t.received_at
                && r.start
                    .leavers
                    .iter()
                    .any(|l| l.person.eq_ignore_ascii_case(&key))
        });
        if !approved {
            let mut t = t.clone();
            t.person = key;
            out.push(t);
        }
    }
    Ok(out)
}
