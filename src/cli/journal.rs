//! `offboard journal list | show RUN | verify`: read the evidence.

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
    if !global.journal_path().exists() {
        eprintln!(
            "Error: no journal at {}; nothing has been applied yet",
            global.journal_path().display()
        );
        return Exit::Error;
    }
    let journal = match common::open_journal(global) {
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
