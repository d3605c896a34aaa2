//! `offboard tasks [done ID --note ..]`: the manual lanes (laptops, badges, vendors).

use clap::{Args, Subcommand};
use jiff::Timestamp;

use super::{Exit, Format, GlobalArgs, common};
use crate::ops;
use crate::ops::tasks::Status;

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
    let ws = global.workspace();
    let exists = match ops::journal::exists(ws) {
        Ok(exists) => exists,
        Err(e) => return common::report(global, &e),
    };
    if !exists {
        println!(
            "No tasks: nothing has been applied yet (no journal at {}).",
            ws.journal
        );
        return if args.command.is_some() {
            Exit::Error
        } else {
            Exit::Success
        };
    }
    match &args.command {
        Some(TasksCommand::Done { id, note }) => {
            match ops::tasks::close(ws, id, note, &common::actor(global)) {
                Ok(task) => {
                    let by = task.done.as_ref().map_or("", |d| d.by.as_str());
                    println!(
                        "Closed task {id} ({} for {}) as {by}.",
                        task.open.system, task.open.person
                    );
                    Exit::Success
                }
                Err(e) => common::report(global, &e),
            }
        }
        None => {
            let shown = match ops::tasks::list(ws, args.all, Timestamp::now()) {
                Ok(shown) => shown,
                Err(e) => return common::report(global, &e),
            };
            match args.format {
                Format::Json => {
                    let rows: Vec<serde_json::Value> = shown
                        .iter()
                        .map(|(t, state)| serde_json::json!({ "task": t, "state": state }))
                        .collect();
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&rows).unwrap_or_default()
                    );
                }
                Format::Text if shown.is_empty() => println!("No open tasks."),
                Format::Text => {
                    let rows: Vec<Vec<String>> = shown
                        .iter()
                        .map(|(t, state)| {
                            let note = match (&t.done, state, &t.open.escalate_to) {
                                (Some(d), _, _) => format!(
                                    "closed by {} at {} ({})",
                                    d.by,
                                    crate::when::human(d.closed_at),
                                    d.note
                                ),
                                (None, Status::Escalated, Some(to)) => format!("escalated to {to}"),
                                _ => String::new(),
                            };
                            vec![
                                t.open.task_id.clone(),
                                state.as_str().to_string(),
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
                    for (t, _) in shown.iter().filter(|(t, _)| t.done.is_none()) {
                        if t.open.steps.is_empty() {
                            continue;
                        }
                        println!("\nSteps for {}:", t.open.task_id);
                        for step in &t.open.steps {
                            println!("  - {}", crate::escape::terminal(step));
                        }
                    }
                }
            }
            Exit::Success
        }
    }
}
