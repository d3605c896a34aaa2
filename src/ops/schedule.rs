//! What will happen when: every leaver's cutoff and deletion as the policy decides them, and
//! every open task's escalation, computed from the policy, the roster (with the journal's
//! overrides and HR events laid over it) and the journal's tasks. No system is read.
//!
//! `offboard schedule` lists it; `offboard serve` acts on it: when the clock passes an entry,
//! that person is applied (a targeted read and plan, the same guards as `apply`). An entry
//! in the past is not a promise that it happened: the next plan shows what remains.

use jiff::Timestamp;
use serde::Serialize;

use super::{Observer, OpError, Workspace, inputs, journal};
use crate::policy::Policy;
use crate::roster::Roster;

/// What happens at an entry's moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum What {
    /// The leaver's access is cut (their cutoff).
    Cut,
    /// Their accounts are deleted (retention ended).
    Delete,
    /// An open task is escalated (due + `escalate-after`).
    Escalate { task_id: String, system: String },
}

/// One thing that happens at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub at: Timestamp,
    /// The roster key.
    pub person: String,
    pub name: String,
    #[serde(flatten)]
    pub what: What,
    /// The rule (or `defaults`, or an override) that decided the moment.
    pub because: String,
    /// The moment is "now", for want of a date (HR recorded none, or an immediate cutoff
    /// without a termination instant): it moves with the clock, so the scheduler leaves it to
    /// the periodic reconcile instead of acting on it at every tick.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub floating: bool,
}

/// The schedule at one moment.
#[derive(Debug, Clone, Serialize)]
pub struct Schedule {
    pub now: Timestamp,
    /// Every entry, earliest first (past ones too: the scheduler compares with its last tick).
    pub entries: Vec<Entry>,
    /// People whose rules could not be evaluated (their timing is unknown: `plan` says why).
    pub unknown: Vec<String>,
}

impl Schedule {
    /// Entries after `now`.
    pub fn upcoming(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(move |e| e.at > self.now)
    }

    /// Entries in `(after, until]`: what a clock moving from `after` to `until` passed
    /// (floating ones left out: they are always "now").
    pub fn passed(&self, after: Timestamp, until: Timestamp) -> impl Iterator<Item = &Entry> {
        self.entries
            .iter()
            .filter(move |e| !e.floating && e.at > after && e.at <= until)
    }
}

/// The workspace's schedule at `now` (the present when `None`).
pub fn schedule(
    ws: &Workspace,
    now: Option<Timestamp>,
    observer: &dyn Observer,
) -> Result<Schedule, OpError> {
    let policy = inputs::load_policy(ws)?;
    let roster = inputs::load_roster(ws, &policy, observer)?;
    let now = now.unwrap_or_else(Timestamp::now);
    let tasks = if journal::exists(ws)? {
        journal::read(ws)?.tasks().map_err(journal::evidence)?
    } else {
        Vec::new()
    };
    Ok(of(&policy, &roster, &tasks, now))
}

/// The schedule of `roster` under `policy`, pure.
pub fn of(
    policy: &Policy,
    roster: &Roster,
    tasks: &[crate::journal::TaskState],
    now: Timestamp,
) -> Schedule {
    let mut entries = Vec::new();
    let mut unknown = Vec::new();
    for person in roster.people.iter().filter(|p| p.is_leaver()) {
        let key = roster.key_of(person);
        let Ok((timing, _)) = crate::reconcile::leaver_timing(policy, person, &key, now) else {
            unknown.push(key);
            continue;
        };
        // A cutoff of exactly "now" was derived from it (see `Entry::floating`).
        let floating = timing.undated || timing.cutoff == now;
        entries.push(Entry {
            at: timing.cutoff,
            person: key.clone(),
            name: person.name.clone(),
            what: What::Cut,
            because: timing.cutoff_source.clone(),
            floating,
        });
        if let (Some(at), Some(source)) = (timing.delete_at, timing.delete_source.clone()) {
            entries.push(Entry {
                at,
                person: key.clone(),
                name: person.name.clone(),
                what: What::Delete,
                because: source,
                floating,
            });
        }
    }
    let after = policy.defaults.escalate_after;
    for t in tasks.iter().filter(|t| t.done.is_none()) {
        let Ok(at) = t.open.due.checked_add(after) else {
            continue;
        };
        let name = roster
            .people
            .iter()
            .find(|p| roster.key_of(p).eq_ignore_ascii_case(&t.open.person))
            .map(|p| p.name.clone())
            .unwrap_or_default();
        entries.push(Entry {
            at,
            person: t.open.person.clone(),
            name,
            what: What::Escalate {
                task_id: t.open.task_id.clone(),
                system: t.open.system.clone(),
            },
            because: format!(
                "due {} + escalate-after {}",
                crate::when::human(t.open.due),
                crate::policy::duration::format(after)
            ),
            floating: false,
        });
    }
    entries.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.person.cmp(&b.person)));
    Schedule {
        now,
        entries,
        unknown,
    }
}
