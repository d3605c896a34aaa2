//! Notifications that are sent: e-mail over SMTP and chat incoming webhooks, each message
//! journaled once and every delivery attempt journaled with its result.
//!
//! Sending follows the transactional-outbox pattern. Whatever produces a message (an apply's
//! verification report, a task assigned, a task escalated, a plan waiting for approval, a
//! failure retries could not fix) appends a [`MessageRecord`] to the journal in the same
//! step that produced the fact, under an id derived from that fact (`report:RUN`,
//! `task:TASK`, ...), so a restart, a crash or a second runner cannot queue it twice. A
//! dispatcher (after each `apply` and `leave`, and continuously in `offboard serve`) then sends
//! what the journal holds undelivered, one recipient at a time, and journals each attempt as
//! a [`DeliveryRecord`]. A failed attempt is retried with exponential backoff up to
//! [`MAX_ATTEMPTS`]; a recipient no channel can reach is given up at once. Nothing here ever
//! blocks or fails an offboarding.
//!
//! - [`compose`]: the messages, as pure functions of plans, runs and tasks.
//! - [`send`]: the channels (lettre for SMTP with STARTTLS or TLS, reqwest for Slack- and
//!   Teams-compatible webhooks), with secrets resolved from the policy's references.

pub mod compose;
pub mod send;

use jiff::{SignedDuration, Timestamp};

use crate::journal::{DeliveryRecord, MessageRecord};

/// Attempts per recipient before a message is given up (and reported as undelivered).
pub const MAX_ATTEMPTS: u32 = 6;

/// One delivery to make now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub message: MessageRecord,
    pub recipient: String,
    /// The attempt this will be (1 for the first).
    pub attempt: u32,
}

/// How long to wait after failed attempt `n` (1-based) before the next: 30 s, doubling,
/// at most an hour.
pub fn backoff(attempt: u32) -> SignedDuration {
    let secs = 30i64.saturating_mul(1i64 << attempt.saturating_sub(1).min(10));
    SignedDuration::from_secs(secs.min(3600))
}

/// What is due for delivery at `now`: every recipient of every message that has neither been
/// delivered nor given up, and whose last failed attempt is older than its backoff.
pub fn pending(messages: &[(MessageRecord, Vec<DeliveryRecord>)], now: Timestamp) -> Vec<Pending> {
    let mut out = Vec::new();
    for (message, deliveries) in messages {
        for recipient in &message.recipients {
            let tried: Vec<&DeliveryRecord> = deliveries
                .iter()
                .filter(|d| &d.recipient == recipient)
                .collect();
            if tried.iter().any(|d| d.delivered || d.final_attempt) {
                continue;
            }
            let attempts = tried.iter().map(|d| d.attempt).max().unwrap_or(0);
            if attempts >= MAX_ATTEMPTS {
                continue;
            }
            if let Some(last) = tried.iter().map(|d| d.at).max()
                && last
                    .checked_add(backoff(attempts))
                    .is_ok_and(|next| now < next)
            {
                continue;
            }
            out.push(Pending {
                message: message.clone(),
                recipient: recipient.clone(),
                attempt: attempts + 1,
            });
        }
    }
    out
}

/// Messages with a recipient not delivered: still being retried, or given up.
pub fn undelivered(messages: &[(MessageRecord, Vec<DeliveryRecord>)]) -> usize {
    messages
        .iter()
        .filter(|(m, deliveries)| {
            m.recipients
                .iter()
                .any(|r| !deliveries.iter().any(|d| &d.recipient == r && d.delivered))
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: &str, recipients: &[&str]) -> MessageRecord {
        MessageRecord {
            message_id: id.into(),
            kind: "report".into(),
            recipients: recipients.iter().map(|r| r.to_string()).collect(),
            subject: "s".into(),
            body: "b".into(),
            created_at: "2026-11-30T08:00:00Z".parse().unwrap(),
            about: None,
        }
    }

    fn delivery(id: &str, to: &str, attempt: u32, at: &str, delivered: bool) -> DeliveryRecord {
        DeliveryRecord {
            message_id: id.into(),
            recipient: to.into(),
            channel: "smtp".into(),
            attempt,
            at: at.parse().unwrap(),
            delivered,
            error: (!delivered).then(|| "refused".into()),
            final_attempt: false,
        }
    }

    #[test]
    fn delivered_recipients_are_not_sent_again_and_failures_wait_their_backoff() {
        let now: Timestamp = "2026-11-30T08:01:00Z".parse().unwrap();
        let messages = vec![(
            message("report:r1", &["a@x", "b@x", "c@x"]),
            vec![
                delivery("report:r1", "a@x", 1, "2026-11-30T08:00:00Z", true),
                // Failed 60 s ago: the first backoff (30 s) has passed.
                delivery("report:r1", "b@x", 1, "2026-11-30T08:00:00Z", false),
            ],
        )];
        let due = pending(&messages, now);
        let who: Vec<(&str, u32)> = due
            .iter()
            .map(|p| (p.recipient.as_str(), p.attempt))
            .collect();
        assert_eq!(who, vec![("b@x", 2), ("c@x", 1)]);
        // 10 s after a second failure, b waits (60 s backoff); c is still due.
        let mut later = messages.clone();
        later[0].1.push(delivery(
            "report:r1",
            "b@x",
            2,
            "2026-11-30T08:01:00Z",
            false,
        ));
        let due = pending(&later, "2026-11-30T08:01:10Z".parse().unwrap());
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].recipient, "c@x");
        assert_eq!(undelivered(&later), 1);
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(1), SignedDuration::from_secs(30));
        assert_eq!(backoff(2), SignedDuration::from_secs(60));
        assert_eq!(backoff(30), SignedDuration::from_secs(3600));
    }
}
