//! The typed records of the journal.
//!
//! [`Record`] is every kind of record there is. The table and kind stored beside a body
//! follow from the variant, so nothing can be filed under the wrong kind, and
//! [`StoredRecord::record`] gives back exactly the value that was written: every field,
//! including a rollback's restore steps, round-trips (tested below).

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{JournalError, StoredRecord, Table, to_body};
use crate::connector::{ErrorKind, Restore};
use crate::plan::AccountState;
use crate::policy::Action;

/// The first record of a journal: its lineage.
pub const JOURNAL_INIT: &str = "journal-init";
pub const RUN_START: &str = "run-start";
pub const RUN_FINISH: &str = "run-finish";
pub const ACTION_INTENT: &str = "intent";
pub const ACTION_RESULT: &str = "result";
pub const TASK_OPEN: &str = "task-open";
pub const TASK_DONE: &str = "task-done";
pub const OVERRIDE: &str = "override";
pub const OVERRIDE_REVOKED: &str = "override-revoked";
pub const TRIGGER: &str = "trigger";
pub const MESSAGE: &str = "message";
pub const DELIVERY: &str = "delivery";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunMode {
    Apply,
    Rollback,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalInit {
    pub lineage: String,
    pub created_by: String,
    pub host: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunStart {
    pub run_id: String,
    pub mode: RunMode,
    pub initiator: String,
    pub host: String,
    pub policy_hash: String,
    pub git_commit: Option<String>,
    pub allow_dirty: bool,
    pub plan_hash: String,
    pub plan_created_at: Timestamp,
    /// For rollbacks: the run being undone.
    pub rollback_of: Option<String>,
    pub changes: usize,
    /// How many people the plan's roster listed: the next plan refuses a roster that lost
    /// more than `max-roster-drop` of them (an HR feed glitch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roster_people: Option<usize>,
    /// How many accounts each system reported: the next plan refuses a system that
    /// suddenly reports none (an empty export).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub system_accounts: BTreeMap<String, usize>,
    /// Who the run offboards, as the plan described them: the certificate names the person
    /// from the journal alone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub leavers: Vec<LeaverRecord>,
    /// What started the run, as the operator wrote it: `apply`, `apply PLANFILE`,
    /// `apply -p PERSON`, `leave PERSON`, `rollback RUN` (a server will add its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,
    /// The emergency override this run carries out (`leave --emergency`): rolling the run
    /// back revokes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emergency_override: Option<String>,
}

/// One leaver of a run, as the plan described them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaverRecord {
    pub person: String,
    pub name: String,
    pub department: String,
    pub termination_type: Option<crate::roster::TerminationType>,
    pub cutoff: Timestamp,
    /// Every rule whose condition matched.
    pub rules: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunOutcome {
    /// Every change confirmed and no active credential remains.
    Success,
    /// Something failed or remains active.
    Failed,
}

/// Re-audit verdict for one leaver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// No active credential anywhere.
    Green,
    /// No active credential, but manual tasks are pending.
    Yellow,
    /// An account is still active, or a change failed.
    Red,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaverAudit {
    pub person: String,
    pub verdict: Verdict,
    /// `system/account` still active.
    pub active_accounts: Vec<String>,
    pub failed_changes: usize,
    pub open_tasks: usize,
    /// `system/account` still active but mastered in a directory that has cut it (an Entra
    /// ID user synced from AD): it follows at the next sync, so the verdict is yellow.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub following: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyCounts {
    pub disabled: usize,
    pub deleted: usize,
    pub updated: usize,
    pub restored: usize,
    pub tasks_opened: usize,
    pub already_done: usize,
    pub skipped: usize,
    pub failed: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunFinish {
    pub run_id: String,
    pub outcome: RunOutcome,
    pub counts: ApplyCounts,
    pub leavers: Vec<LeaverAudit>,
    /// Active accounts found by the re-audit for the run's leavers.
    pub active_credentials: usize,
    /// Systems the re-audit could not read.
    pub unreadable_systems: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionIntent {
    pub run_id: String,
    pub change_id: String,
    pub person: String,
    pub system: String,
    pub account_id: String,
    pub actions: Vec<Action>,
    pub expected_fingerprint: String,
    pub before: Option<AccountState>,
    /// For a rollback: the steps that undo the original change (`actions` is then empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub restore: Vec<Restore>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActionOutcome {
    /// Performed and confirmed by read-back.
    Done,
    /// The account already was in the desired state; nothing was called.
    AlreadyDone,
    /// The account changed since the plan; not touched.
    SkippedStale,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionResult {
    pub run_id: String,
    pub change_id: String,
    pub person: String,
    pub system: String,
    pub account_id: String,
    pub outcome: ActionOutcome,
    /// Actions actually called on the connector.
    pub performed: Vec<Action>,
    /// Connector calls made for this change (reads, actions, read-back), retries included.
    pub attempts: u32,
    /// Of those, calls repeated after a temporary error (absent in older journals).
    #[serde(default)]
    pub retries: u32,
    pub error_kind: Option<ErrorKind>,
    pub error: Option<String>,
    pub hint: Option<String>,
    /// What the read-back showed (`None`: the account no longer exists).
    pub read_back: Option<AccountState>,
    /// Actions whose effect the system cannot show (e.g. a password reset).
    pub unobservable: Vec<Action>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskOpen {
    pub task_id: String,
    pub run_id: String,
    pub person: String,
    pub system: String,
    pub owner: String,
    pub due: Timestamp,
    pub actions: Vec<Action>,
    pub escalate_to: Option<String>,
    /// The exact steps, when the system's kind gave them (see [`crate::plan::Task::steps`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskDone {
    pub task_id: String,
    pub by: String,
    pub note: String,
    pub closed_at: Timestamp,
}

/// An emergency override (`offboard leave --emergency`): an operator's word that a person
/// must be cut now, before HR's export says so. Plans read the roster through every override
/// not revoked (see [`crate::roster::emergency`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverrideRecord {
    pub override_id: String,
    /// The run that carries it out (journaled in the same transaction).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// The person's roster key.
    pub person: String,
    pub name: String,
    pub reason: String,
    pub ticket: Option<String>,
    /// Who recorded it, and where.
    pub by: String,
    pub host: String,
    pub at: Timestamp,
}

impl OverrideRecord {
    /// The override as the roster overlay takes it.
    pub fn emergency(&self) -> crate::roster::emergency::Emergency {
        crate::roster::emergency::Emergency {
            id: self.override_id.clone(),
            person: self.person.clone(),
            at: self.at,
            by: self.by.clone(),
            reason: self.reason.clone(),
            ticket: self.ticket.clone(),
            confirmed: false,
        }
    }
}

/// An override withdrawn (by rolling back the run it triggered): plans no longer apply it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverrideRevoked {
    pub override_id: String,
    /// The rollback run that revoked it (journaled in the same transaction).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    pub by: String,
    pub at: Timestamp,
    /// Why, as the operator's command put it (`rollback RUN`).
    pub why: String,
}

/// An HR webhook event `offboard serve` accepted (signature, timestamp and replay checked),
/// journaled before it was answered and before anything was done about it: the evidence of
/// when offboard knew.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriggerRecord {
    /// The policy's `trigger` that received it.
    pub source: String,
    /// The sender's event id (replays of it are refused).
    pub event_id: String,
    pub received_at: Timestamp,
    /// The sender's own timestamp, when its scheme signs one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<Timestamp>,
    /// blake3 of the body as received.
    pub payload_digest: String,
    /// The person's roster key, and name.
    pub person: String,
    pub name: String,
    /// Whether the event is a termination (other HR changes are acknowledged and ignored).
    pub termination: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub termination_type: Option<crate::roster::TerminationType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_day: Option<jiff::civil::Date>,
    /// What the policy said to do: `auto-apply`, `approval` or `ignored`.
    pub disposition: String,
}

impl TriggerRecord {
    /// The id an [`OverrideRevoked`] record names when a rollback withdraws this event.
    pub fn revocation_id(&self) -> String {
        format!("hr-event:{}:{}", self.source, self.event_id)
    }

    /// The facts the roster overlay takes (see [`crate::roster::hr_event`]).
    pub fn facts(&self) -> crate::roster::hr_event::HrFacts {
        crate::roster::hr_event::HrFacts {
            source: self.source.clone(),
            event_id: self.event_id.clone(),
            person: self.person.clone(),
            received_at: self.received_at,
            termination_type: self.termination_type,
            last_day: self.last_day,
            confirmed: false,
        }
    }
}

/// A notification to send, journaled once (its id is derived from what it is about, so a
/// restart or a second runner cannot send it twice) before any attempt to deliver it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRecord {
    pub message_id: String,
    /// `approval`, `report`, `task`, `escalation`, `failure`.
    pub kind: String,
    pub recipients: Vec<String>,
    pub subject: String,
    pub body: String,
    pub created_at: Timestamp,
    /// The run, task or event it is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub about: Option<String>,
}

/// One attempt to deliver a message to one recipient, and how it went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    pub message_id: String,
    pub recipient: String,
    /// `smtp` or `chat:NAME`.
    pub channel: String,
    pub attempt: u32,
    pub at: Timestamp,
    pub delivered: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// No further attempt will be made (delivered, or undeliverable by configuration).
    #[serde(default)]
    pub final_attempt: bool,
}

/// Every record the journal holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    JournalInit(JournalInit),
    RunStart(RunStart),
    RunFinish(RunFinish),
    Intent(ActionIntent),
    Result(ActionResult),
    TaskOpen(TaskOpen),
    TaskDone(TaskDone),
    Override(OverrideRecord),
    OverrideRevoked(OverrideRevoked),
    Trigger(TriggerRecord),
    Message(MessageRecord),
    Delivery(DeliveryRecord),
}

impl Record {
    /// The table the record is stored in.
    pub fn table(&self) -> Table {
        match self {
            Record::JournalInit(_)
            | Record::RunStart(_)
            | Record::RunFinish(_)
            | Record::Override(_)
            | Record::OverrideRevoked(_)
            | Record::Trigger(_) => Table::Runs,
            Record::Intent(_) | Record::Result(_) => Table::Actions,
            Record::TaskOpen(_)
            | Record::TaskDone(_)
            | Record::Message(_)
            | Record::Delivery(_) => Table::Tasks,
        }
    }

    /// The kind stored beside the body (part of the hash chain: these names never change).
    pub fn kind(&self) -> &'static str {
        match self {
            Record::JournalInit(_) => JOURNAL_INIT,
            Record::RunStart(_) => RUN_START,
            Record::RunFinish(_) => RUN_FINISH,
            Record::Intent(_) => ACTION_INTENT,
            Record::Result(_) => ACTION_RESULT,
            Record::TaskOpen(_) => TASK_OPEN,
            Record::TaskDone(_) => TASK_DONE,
            Record::Override(_) => OVERRIDE,
            Record::OverrideRevoked(_) => OVERRIDE_REVOKED,
            Record::Trigger(_) => TRIGGER,
            Record::Message(_) => MESSAGE,
            Record::Delivery(_) => DELIVERY,
        }
    }

    /// The body as stored: JSON, passed through the secret redactor.
    pub(super) fn body(&self) -> Result<String, JournalError> {
        match self {
            Record::JournalInit(b) => to_body(b),
            Record::RunStart(b) => to_body(b),
            Record::RunFinish(b) => to_body(b),
            Record::Intent(b) => to_body(b),
            Record::Result(b) => to_body(b),
            Record::TaskOpen(b) => to_body(b),
            Record::TaskDone(b) => to_body(b),
            Record::Override(b) => to_body(b),
            Record::OverrideRevoked(b) => to_body(b),
            Record::Trigger(b) => to_body(b),
            Record::Message(b) => to_body(b),
            Record::Delivery(b) => to_body(b),
        }
    }

    /// The run a record belongs to (task closures and the journal's first record have none).
    pub fn run_id(&self) -> Option<&str> {
        match self {
            Record::RunStart(b) => Some(&b.run_id),
            Record::RunFinish(b) => Some(&b.run_id),
            Record::Intent(b) => Some(&b.run_id),
            Record::Result(b) => Some(&b.run_id),
            Record::TaskOpen(b) => Some(&b.run_id),
            Record::Override(b) => b.run_id.as_deref(),
            Record::OverrideRevoked(b) => b.run_id.as_deref(),
            Record::JournalInit(_)
            | Record::TaskDone(_)
            | Record::Trigger(_)
            | Record::Message(_)
            | Record::Delivery(_) => None,
        }
    }
}

impl StoredRecord {
    /// The record as written.
    pub fn record(&self) -> Result<Record, JournalError> {
        let corrupt = |message: String| JournalError::Corrupt {
            seq: self.seq,
            message,
        };
        let record = match (self.table, self.kind.as_str()) {
            (Table::Runs, JOURNAL_INIT) => Record::JournalInit(self.parse()?),
            (Table::Runs, RUN_START) => Record::RunStart(self.parse()?),
            (Table::Runs, RUN_FINISH) => Record::RunFinish(self.parse()?),
            (Table::Actions, ACTION_INTENT) => Record::Intent(self.parse()?),
            (Table::Actions, ACTION_RESULT) => Record::Result(self.parse()?),
            (Table::Tasks, TASK_OPEN) => Record::TaskOpen(self.parse()?),
            (Table::Tasks, TASK_DONE) => Record::TaskDone(self.parse()?),
            (Table::Runs, OVERRIDE) => Record::Override(self.parse()?),
            (Table::Runs, OVERRIDE_REVOKED) => Record::OverrideRevoked(self.parse()?),
            (Table::Runs, TRIGGER) => Record::Trigger(self.parse()?),
            (Table::Tasks, MESSAGE) => Record::Message(self.parse()?),
            (Table::Tasks, DELIVERY) => Record::Delivery(self.parse()?),
            (table, kind) => {
                return Err(corrupt(format!(
                    "unknown record kind `{kind}` in table {}",
                    table.name()
                )));
            }
        };
        Ok(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::AccountStatus;
    use crate::journal::Journal;

    fn every_kind() -> Vec<Record> {
        let at = Timestamp::from_second(1_750_000_000).unwrap();
        let state = AccountState {
            status: AccountStatus::Disabled,
            groups: vec!["eng".into()],
            licenses: vec!["e3".into()],
            sessions: Some(2),
            container: Some("ou=Disabled".into()),
            app_roles: Vec::new(),
        };
        vec![
            Record::RunStart(RunStart {
                run_id: "r1".into(),
                mode: RunMode::Rollback,
                initiator: "ci".into(),
                host: "h".into(),
                policy_hash: "p".into(),
                git_commit: Some("abc".into()),
                allow_dirty: true,
                plan_hash: "q".into(),
                plan_created_at: at,
                rollback_of: Some("r0".into()),
                changes: 3,
                roster_people: Some(40),
                system_accounts: BTreeMap::from([("okta".into(), 12)]),
                leavers: vec![LeaverRecord {
                    person: "ann@acme.com".into(),
                    name: "Ann".into(),
                    department: "Sales".into(),
                    termination_type: Some(crate::roster::TerminationType::Involuntary),
                    cutoff: at,
                    rules: vec!["involuntary".into()],
                }],
                trigger: Some("leave ann@acme.com".into()),
                emergency_override: Some("ovr-1".into()),
            }),
            Record::Override(OverrideRecord {
                override_id: "ovr-1".into(),
                run_id: Some("r1".into()),
                person: "ann@acme.com".into(),
                name: "Ann".into(),
                reason: "for cause".into(),
                ticket: Some("SEC-7".into()),
                by: "sec".into(),
                host: "h".into(),
                at,
            }),
            Record::OverrideRevoked(OverrideRevoked {
                override_id: "ovr-1".into(),
                run_id: Some("r2".into()),
                by: "sec".into(),
                at,
                why: "rollback r1".into(),
            }),
            Record::Intent(ActionIntent {
                run_id: "r1".into(),
                change_id: "c1".into(),
                person: "ann@acme.com".into(),
                system: "okta".into(),
                account_id: "00u1".into(),
                actions: Vec::new(),
                expected_fingerprint: "f".into(),
                before: Some(state.clone()),
                restore: vec![Restore::Enable, Restore::AddGroups(vec!["eng".into()])],
            }),
            Record::Result(ActionResult {
                run_id: "r1".into(),
                change_id: "c1".into(),
                person: "ann@acme.com".into(),
                system: "okta".into(),
                account_id: "00u1".into(),
                outcome: ActionOutcome::Failed,
                performed: vec![Action::Disable],
                attempts: 4,
                retries: 2,
                error_kind: Some(ErrorKind::Temporary),
                error: Some("HTTP 503".into()),
                hint: Some("retried".into()),
                read_back: Some(state),
                unobservable: vec![Action::ResetPassword],
            }),
            Record::TaskOpen(TaskOpen {
                task_id: "t1".into(),
                run_id: "r1".into(),
                person: "ann@acme.com".into(),
                system: "laptops".into(),
                owner: "it@acme.com".into(),
                due: at,
                actions: vec![Action::Delete],
                escalate_to: Some("cio@acme.com".into()),
                steps: vec!["Set-Mailbox ann@acme.com -Type Shared".into()],
            }),
            Record::TaskDone(TaskDone {
                task_id: "t1".into(),
                by: "bob".into(),
                note: "wiped".into(),
                closed_at: at,
            }),
            Record::RunFinish(RunFinish {
                run_id: "r1".into(),
                outcome: RunOutcome::Failed,
                counts: ApplyCounts {
                    failed: 1,
                    restored: 1,
                    ..ApplyCounts::default()
                },
                leavers: vec![LeaverAudit {
                    person: "ann@acme.com".into(),
                    verdict: Verdict::Red,
                    active_accounts: vec!["okta/00u1".into()],
                    failed_changes: 1,
                    open_tasks: 0,
                    following: Vec::new(),
                }],
                active_credentials: 1,
                unreadable_systems: vec!["github".into()],
            }),
        ]
    }

    /// What is written is what is read: every kind, every field (a rollback's restore
    /// steps used to be lost), filed under the table and kind of its variant.
    #[test]
    fn every_record_reads_back_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::create(&dir.path().join("j.db"), "test", "h").unwrap();
        let written = every_kind();
        journal.append_batch(&written).unwrap();
        let stored = journal.records().unwrap();
        assert!(matches!(
            stored[0].record().unwrap(),
            Record::JournalInit(_)
        ));
        for (record, row) in written.iter().zip(&stored[1..]) {
            assert_eq!(
                (row.table, row.kind.as_str()),
                (record.table(), record.kind())
            );
            assert_eq!(&row.record().unwrap(), record);
        }
        assert_eq!(journal.intents("r1").unwrap()[0].restore.len(), 2);
    }

    #[test]
    fn an_unknown_kind_is_corruption_not_a_silent_skip() {
        let row = StoredRecord {
            seq: 7,
            table: Table::Runs,
            kind: "run-paused".into(),
            at: String::new(),
            body: "{}".into(),
            prev_hash: String::new(),
            hash: String::new(),
        };
        let e = row.record().unwrap_err().to_string();
        assert!(e.contains("run-paused"), "{e}");
    }
}
