//! Notifications as operations: queue messages in the journal (each id once), queue the
//! escalations of overdue tasks, and send what is due (see [`crate::notify`]).
//!
//! Sending never fails an offboarding: [`dispatch`] reports what it could not deliver, and the
//! caller shows it as a warning. One sender works at a time (the journal's notify lock), so a
//! CLI run and `serve` cannot deliver the same message twice at once; each attempt is
//! journaled as soon as it is made, which leaves only the instant between a server accepting
//! a message and its journal record for a crash to repeat a delivery (at-least-once).

use std::collections::HashSet;
use std::time::Duration;

use jiff::Timestamp;

use super::{OpError, Workspace, journal};
use crate::journal::{
    DeliveryRecord, Journal, JournalError, JournalLock, LockPurpose, MessageRecord, Record,
};
use crate::notify::send::Channels;
use crate::notify::{self, compose};
use crate::policy::Policy;
use crate::roster::Roster;

/// What a dispatch did.
#[derive(Debug, Default, Clone)]
pub struct Dispatched {
    pub delivered: usize,
    /// Each attempt that failed.
    pub failed: Vec<Failed>,
    /// Another process was sending: nothing was done this time.
    pub busy: bool,
}

/// One failed delivery.
#[derive(Debug, Clone)]
pub struct Failed {
    pub message_id: String,
    pub recipient: String,
    pub error: String,
    /// No further attempt will be made (undeliverable as configured, or out of attempts).
    pub given_up: bool,
}

/// Append the messages whose ids the journal does not hold yet; returns how many.
pub fn queue(journal: &mut Journal, messages: Vec<MessageRecord>) -> Result<usize, JournalError> {
    if messages.is_empty() {
        return Ok(0);
    }
    let known: HashSet<String> = journal
        .messages()?
        .into_iter()
        .map(|(m, _)| m.message_id)
        .collect();
    let mut seen = HashSet::new();
    let fresh: Vec<Record> = messages
        .into_iter()
        .filter(|m| !known.contains(&m.message_id) && seen.insert(m.message_id.clone()))
        .map(Record::Message)
        .collect();
    if !fresh.is_empty() {
        journal.append_batch(&fresh)?;
    }
    Ok(fresh.len())
}

/// Queue an escalation for every open task overdue by more than `escalate-after`: to its
/// `escalate-to` and to the leaver's manager's manager (from the roster's manager chain).
pub fn escalations(
    ws: &Workspace,
    policy: &Policy,
    roster: &Roster,
    now: Timestamp,
) -> Result<usize, OpError> {
    if !journal::exists(ws)? || !policy.notifications.enabled() {
        return Ok(0);
    }
    let mut journal = journal::open(ws)?;
    let after = policy.defaults.escalate_after;
    let mut messages = Vec::new();
    for task in journal.tasks().map_err(journal::evidence)? {
        if task.done.is_some() || !task.open.due.checked_add(after).is_ok_and(|at| now > at) {
            continue;
        }
        let person = roster
            .people
            .iter()
            .find(|p| roster.key_of(p).eq_ignore_ascii_case(&task.open.person));
        let mut to: Vec<String> = task.open.escalate_to.iter().cloned().collect();
        if let Some(grand) = person.and_then(|p| manager_of(roster, &p.manager_email)) {
            to.push(grand);
        }
        let name = person.map_or("", |p| p.name.as_str());
        messages.extend(compose::escalation(&task.open, name, &to, now));
    }
    queue(&mut journal, messages).map_err(journal::evidence)
}

/// The manager of the person whose address is `email` (the manager's manager of a leaver).
fn manager_of(roster: &Roster, email: &str) -> Option<String> {
    if email.trim().is_empty() {
        return None;
    }
    roster
        .people
        .iter()
        .find(|p| p.email.eq_ignore_ascii_case(email.trim()))
        .map(|p| p.manager_email.trim().to_string())
        .filter(|m| !m.is_empty())
}

/// Send every due delivery (see [`notify::pending`]), journaling each attempt.
pub fn dispatch(ws: &Workspace, policy: &Policy, now: Timestamp) -> Result<Dispatched, OpError> {
    if !journal::exists(ws)? {
        return Ok(Dispatched::default());
    }
    let holder = format!("notifications, pid {}", std::process::id());
    let _lock =
        match JournalLock::acquire_for(LockPurpose::Notify, &ws.journal, &holder, Duration::ZERO) {
            Ok(lock) => lock,
            Err(crate::journal::LockError::Busy { .. }) => {
                return Ok(Dispatched {
                    busy: true,
                    ..Dispatched::default()
                });
            }
            Err(e) => return Err(OpError::new(e.to_string())),
        };
    let mut journal = journal::open(ws)?;
    let messages = journal.messages().map_err(journal::evidence)?;
    let due = notify::pending(&messages, now);
    if due.is_empty() {
        return Ok(Dispatched::default());
    }
    let channels = Channels::new(&policy.notifications, &ws.root);
    let runtime = super::runtime()?;
    let mut done = Dispatched::default();
    // One at a time, each journaled before the next is sent: a crash then repeats at most
    // the delivery in flight. (The journal's PostgreSQL client blocks, so it is written
    // outside the async sends.)
    // A channel that failed to connect is not tried again in this pass: a mail server that
    // drops connections must not hold the sender for 20 s per message.
    let mut down: HashSet<String> = HashSet::new();
    for p in due {
        let channel = Channels::channel_of(&p.recipient);
        if down.contains(&channel) {
            continue;
        }
        let result =
            runtime.block_on(channels.deliver(&p.recipient, &p.message.subject, &p.message.body));
        let (delivered, error, permanent) = match result {
            Ok(()) => (true, None, false),
            Err(f) => (false, Some(f.error), f.permanent),
        };
        let given_up = permanent || p.attempt >= notify::MAX_ATTEMPTS;
        if !delivered && !permanent {
            down.insert(channel.clone());
        }
        let record = DeliveryRecord {
            message_id: p.message.message_id.clone(),
            recipient: p.recipient.clone(),
            channel,
            attempt: p.attempt,
            at: Timestamp::now(),
            delivered,
            error: error.clone(),
            final_attempt: delivered || given_up,
        };
        journal
            .append(&Record::Delivery(record))
            .map_err(journal::evidence)?;
        match error {
            None => done.delivered += 1,
            Some(error) => done.failed.push(Failed {
                message_id: p.message.message_id,
                recipient: p.recipient,
                error,
                given_up,
            }),
        }
    }
    Ok(done)
}
