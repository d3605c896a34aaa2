//! `offboard tasks [done ID --note ..]`: the manual lanes (laptops, badges, vendors).

use clap::{Args, Subcommand};
use jiff::Timestamp;

use super::{Exit, Format, GlobalArgs, common};
use crate::journal::{Record, TaskDone, TaskState};

#[derive(Debug, Args)]
pub struct TasksArgs {
    #[command(subcommand)]
    pub command: Option<TasksCommand>,
    /// Include closed tasks
    #[arg(long)]
    pub all: bool,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Subcommand)]
pub enum TasksCommand {
    /// Close a task, recording who closed it and when
    Done {
        /// Task id (see `offboard tasks`)
        id: String,
        /// What was done (e.g. "laptop LAP-1234 received")
        #[arg(long)]
        note: String,
    },
}

pub fn run(global: &GlobalArgs, args: &TasksArgs) -> Exit {
    if !global.journal_path().exists() {
        println!(
            "No tasks: nothing has been applied yet (no journal at {}).",
            global.journal_path().display()
        );
        return if args.command.is_some() {
            Exit::Error
        } else {
            Exit::Success
        };
    }
    // Listing reads; closing a task appends, and only to a chain that verifies.
    let opened = match &args.command {
        Some(TasksCommand::Done { .. }) => common::open_journal(global),
        None => common::read_journal(global),
    };
    let mut journal = match opened {
        Ok(j) => j,
        Err(e) => return e,
    };
    let tasks = match journal.tasks() {
        Ok(t) => t,
        Err(e) => return super::apply::journal_error(e),
    };
    match &args.command {
        Some(TasksCommand::Done { id, note }) => {
            let Some(task) = tasks.iter().find(|t| t.open.task_id == *id) else {
                eprintln!("Error: no task `{id}`; see `offboard tasks`");
                return Exit::Error;
            };
            if let Some(done) = &task.done {
                eprintln!(
                    "Error: task {id} was already closed by {} at {}",
                    done.by,
                    crate::when::human(done.closed_at)
                );
                return Exit::Error;
            }
            let by = common::actor(global);
            let done = TaskDone {
                task_id: id.clone(),
                by: by.clone(),
                note: note.clone(),
                closed_at: Timestamp::now(),
            };
            match journal.append(&Record::TaskDone(done)) {
                Ok(_) => {
                    println!(
                        "Closed task {id} ({} for {}) as {by}.",
                        task.open.system, task.open.person
                    );
                    Exit::Success
                }
                Err(e) => super::apply::journal_error(e),
            }
        }
        None => {
            // Escalation follows the policy's `escalate-after`; without a policy, 48 hours.
            let escalate_after = common::load_policy(global)
                .map(|p| p.defaults.escalate_after)
                .unwrap_or(jiff::SignedDuration::from_hours(48));
            let now = Timestamp::now();
            let shown: Vec<&TaskState> = tasks
                .iter()
                .filter(|t| args.all || t.done.is_none())
                .collect();
            match args.format {
                Format::Json => {
                    let rows: Vec<serde_json::Value> = shown
                        .iter()
                        .map(|t| {
                            serde_json::json!({
                                "task": t,
                                "state": state(t, now, escalate_after),
                            })
                        })
                        .collect();
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&rows).unwrap_or_default()
                    );
                }
                Format::Text => {
                    if shown.is_empty() {
                        println!("No open tasks.");
                    } else {
                        let rows: Vec<Vec<String>> = shown
                            .iter()
                            .map(|t| {
                                let state = state(t, now, escalate_after);
                                let note = match (&t.done, state, &t.open.escalate_to) {
                                    (Some(d), _, _) => format!(
                                        "closed by {} at {} ({})",
                                        d.by,
                                        crate::when::human(d.closed_at),
                                        d.note
                                    ),
                                    (None, "escalated", Some(to)) => format!("escalated to {to}"),
                                    _ => String::new(),
                                };
                                vec![
                                    t.open.task_id.clone(),
                                    state.to_string(),
                                    t.open.system.clone(),
                                    t.open.person.clone(),
                                    t.open.owner.clone(),
                                    crate::when::human(t.open.due),
                                    note,
                                ]
                            })
                            .collect();
                        print!(
                            "{}",
                            super::table::render(
                                &["Task", "State", "System", "Person", "Owner", "Due", ""],
                                &rows,
                                &[]
                            )
                        );
                    }
                }
            }
            Exit::Success
        }
    }
}

fn state(t: &TaskState, now: Timestamp, escalate_after: jiff::SignedDuration) -> &'static str {
    if t.done.is_some() {
        "done"
    } else if t
        .open
        .due
        .checked_add(escalate_after)
        .is_ok_and(|e| now > e)
    {
        "escalated"
    } else if now > t.open.due {
        "overdue"
    } else {
        "open"
    }
}
