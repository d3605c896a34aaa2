//! Manual tasks as operations: list them with their state (open, overdue, escalated, done)
//! and close one, journaled with who closed it and why.

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use super::{OpError, Workspace, journal};
use crate::journal::{Record, TaskDone, TaskState};

/// Where a task stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Open,
    /// Past its due time.
    Overdue,
    /// Past its due time by more than `escalate-after`: its escalation contact is named.
    Escalated,
    Done,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Overdue => "overdue",
            Status::Escalated => "escalated",
            Status::Done => "done",
        }
    }

    pub fn of(task: &TaskState, now: Timestamp, escalate_after: SignedDuration) -> Status {
        if task.done.is_some() {
            Status::Done
        } else if task
            .open
            .due
            .checked_add(escalate_after)
            .is_ok_and(|e| now > e)
        {
            Status::Escalated
        } else if now > task.open.due {
            Status::Overdue
        } else {
            Status::Open
        }
    }
}

/// Every task the journal holds (closed ones too when `all`), with its status at `now`.
pub fn list(
    ws: &Workspace,
    all: bool,
    now: Timestamp,
) -> Result<Vec<(TaskState, Status)>, OpError> {
    // Escalation follows the policy's `escalate-after`; the journal is evidence on its own,
    // so a list without a readable policy (an auditor's copy) uses the default.
    let escalate_after = super::inputs::load_policy(ws)
        .map(|p| p.defaults)
        .unwrap_or_default()
        .escalate_after;
    let tasks = journal::read(ws)?.tasks()?;
    Ok(tasks
        .into_iter()
        .filter(|t| all || t.done.is_none())
        .map(|t| {
            let status = Status::of(&t, now, escalate_after);
            (t, status)
        })
        .collect())
}

/// Close task `id` as `by`, with `note`; refused when there is no such task or it is closed.
pub fn close(ws: &Workspace, id: &str, note: &str, by: &str) -> Result<TaskState, OpError> {
    // Closing appends, and only to a chain that verifies.
    let mut journal = journal::open(ws)?;
    let tasks = journal.tasks()?;
    let Some(task) = tasks.into_iter().find(|t| t.open.task_id == id) else {
        return Err(OpError::new(format!(
            "no task `{id}`; see `offboard tasks`"
        )));
    };
    if let Some(done) = &task.done {
        return Err(OpError::new(format!(
            "task {id} was already closed by {} at {}",
            done.by,
            crate::when::human(done.closed_at)
        )));
    }
    let done = TaskDone {
        task_id: id.to_string(),
        by: by.to_string(),
        note: note.to_string(),
        closed_at: Timestamp::now(),
    };
    journal.append(&Record::TaskDone(done.clone()))?;
    Ok(TaskState {
        done: Some(done),
        ..task
    })
}
