//! `offboard journal init | list | show RUN | verify`: start the journal once, then read
//! the evidence. Reading never writes: a read-only copy handed to an auditor verifies.

use clap::{Args, Subcommand};

use super::{Exit, Format, GlobalArgs, common};
use crate::journal::{RunOutcome, RunSummary};

#[derive(Debug, Args)]
pub struct JournalArgs {
    #[command(subcommand)]
    pub command: JournalCommand,
}

#[derive(Debug, Subcommand)]
pub enum JournalCommand {
    /// Start a new, empty journal with a fresh lineage (once per policy repository)
    #[command(
        long_about = "Create the journal that `apply`, `rollback` and `tasks done` append to. \
`apply` never starts a journal on its own: a CI runner that lost its copy must restore it, not \
silently begin again and re-open every manual task. An existing journal is never overwritten."
    )]
    Init,
    /// Every run: when, who, policy, outcome
    List {
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// One run's records: intents, results, read-backs, tasks
    Show {
        /// Run id (or a unique prefix)
        run: String,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Recompute the hash chain; exit 1 if any record was edited, deleted or reordered
    Verify,
}

pub fn run(global: &GlobalArgs, args: &JournalArgs) -> Exit {
    if let JournalCommand::Init = args.command {
        return init(global);
    }
    let journal = match common::read_journal(global) {
        Ok(j) => j,
        Err(e) => return e,
    };
    let result = match &args.command {
        JournalCommand::List { format } => journal.runs().map(|runs| {
            match format {
                Format::Json => println!("{}", serde_json::to_string_pretty(&runs).unwrap_or_default()),
                Format::Text => print!("{}", list_text(&runs)),
            }
            Exit::Success
        }),
        JournalCommand::Show { run, format } => journal.find_run(run).and_then(|found| {
            let Some(summary) = found else {
                eprintln!("Error: no single run matches `{run}`; see `offboard journal list`");
                return Ok(Exit::Error);
            };
            let records = journal.run_records(&summary.start.run_id)?;
            match format {
                Format::Json => {
                    let bodies: Vec<serde_json::Value> = records
                        .iter()
                        .map(|r| {
                            serde_json::json!({
                                "seq": r.seq, "table": r.table, "kind": r.kind, "at": r.at,
                                "body": serde_json::from_str::<serde_json::Value>(&r.body).unwrap_or_default(),
                                "hash": r.hash,
                            })
                        })
                        .collect();
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&serde_json::json!({"run": summary, "records": bodies}))
                            .unwrap_or_default()
                    );
                }
                Format::Text => {
                    print!("{}", list_text(std::slice::from_ref(&summary)));
                    println!();
                    for r in &records {
                        println!("  #{:<5} {:<8} {:<11} {}  {}", r.seq, format!("{:?}", r.table).to_lowercase(), r.kind, r.at, r.body);
                    }
                }
            }
            Ok(Exit::Success)
        }),
        JournalCommand::Init => Ok(Exit::Success),
        JournalCommand::Verify => journal.verify().map(|v| {
            if v.ok() {
                // The head hash anchors the chain: recorded elsewhere (a CI log, a ticket),
                // it also reveals records removed from the end.
                let head = journal.records().ok().and_then(|r| r.last().map(|x| x.hash.clone())).unwrap_or_default();
                println!("Journal verified: {} records, hash chain intact. Head {}.", v.records, head.get(..16).unwrap_or(&head));
                Exit::Success
            } else {
                for p in &v.problems {
                    eprintln!("Error: {p}");
                }
                eprintln!("Error: the journal at {} has been tampered with ({} problems in {} records).", global.journal_path().display(), v.problems.len(), v.records);
                Exit::Error
            }
        }),
    };
    result.unwrap_or_else(super::apply::journal_error)
}

fn init(global: &GlobalArgs) -> Exit {
    let path = global.journal_path();
    match crate::journal::Journal::create(&path, &common::actor(global), &common::host())
        .and_then(|j| j.identity())
    {
        Ok(id) => {
            println!(
                "Started the journal {} (lineage {}).",
                path.display(),
                &id.lineage[..id.lineage.len().min(12)]
            );
            Exit::Success
        }
        Err(e) => {
            eprintln!("Error: {e}");
            Exit::Error
        }
    }
}

fn list_text(runs: &[RunSummary]) -> String {
    if runs.is_empty() {
        return "No runs yet.\n".into();
    }
    let mut out = format!(
        "{:<24}  {:<8}  {:<20}  {:<24}  {:>7}  {:<9}  {}\n",
        "Run", "Mode", "Started", "Initiator", "Changes", "Outcome", "Active credentials"
    );
    for r in runs {
        let (outcome, active) = match &r.finish {
            Some(f) => (
                match f.outcome {
                    RunOutcome::Success => "success",
                    RunOutcome::Failed => "failed",
                },
                f.active_credentials.to_string(),
            ),
            None => ("unfinished", "-".into()),
        };
        out.push_str(&format!(
            "{:<24}  {:<8}  {:<20}  {:<24}  {:>7}  {:<9}  {}\n",
            r.start.run_id,
            format!("{:?}", r.start.mode).to_lowercase(),
            r.started_at.get(..19).unwrap_or(&r.started_at),
            r.start.initiator,
            r.start.changes,
            outcome,
            active
        ));
    }
    out
}
