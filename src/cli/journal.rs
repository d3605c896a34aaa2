//! `offboard journal init | list | show RUN | verify | migrate FROM TO`: start the journal
//! once, then read the evidence, or copy it to another backend. Reading never writes: a
//! read-only copy handed to an auditor verifies.

use clap::{Args, Subcommand};

use super::{Exit, Format, GlobalArgs, common};
use crate::journal::{RunOutcome, RunSummary, StoredRecord};
use crate::ops::{self, OpError, journal::Checked};

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
    /// HR events received (the trigger log) and notifications with every delivery attempt
    Events {
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Recompute the hash chain; exit 1 if any record was edited, deleted or reordered
    Verify,
    /// Copy a journal to another backend, record for record (SQLite file <-> PostgreSQL)
    #[command(
        long_about = "Copy the journal FROM into TO, which must hold no journal yet: a SQLite \
file into a PostgreSQL database (`postgres://USER@HOST/DB`, the password from PGPASSWORD or \
OFFBOARD_JOURNAL_PASSWORD_FILE) when runners start sharing one journal, or back. Records are \
copied verbatim, so the copy is the same chain (same lineage, head and hashes): plans made \
against one are accepted by the other. A journal that fails verification is not copied, and \
the copy is verified and compared before the command succeeds. Point `--journal` (or \
OFFBOARD_JOURNAL) at TO afterwards and keep FROM as it is."
    )]
    Migrate {
        /// The journal to copy (a path or a connection string)
        from: String,
        /// Where to copy it (a path or a connection string; empty)
        to: String,
    },
}

pub fn run(global: &GlobalArgs, args: &JournalArgs) -> Exit {
    let ws = global.workspace();
    let shown = match &args.command {
        JournalCommand::Init => init(global),
        JournalCommand::Migrate { from, to } => {
            let from = crate::journal::Location::parse(from, |p| global.resolve(p));
            let to = crate::journal::Location::parse(to, |p| global.resolve(p));
            ops::journal::migrate(&from, &to).map(|done| {
                let head = done.head.as_deref().unwrap_or_default();
                println!(
                    "Copied {} records from {from} to {to}; the copy verifies, head {}.",
                    done.records,
                    head.get(..16).unwrap_or(head)
                );
                Exit::Success
            })
        }
        JournalCommand::List { format } => ops::journal::runs(ws).map(|runs| {
            match format {
                Format::Json => println!("{}", json(&runs)),
                Format::Text => print!("{}", list_text(&runs)),
            }
            Exit::Success
        }),
        JournalCommand::Show { run, format } => {
            ops::journal::run(ws, run).map(|(summary, records)| {
                match format {
                    Format::Json => print!("{}", show_json(&summary, &records)),
                    Format::Text => print!("{}", show_text(&summary, &records)),
                }
                Exit::Success
            })
        }
        JournalCommand::Events { format } => ops::journal::events(ws).map(|records| {
            match format {
                Format::Json => print!("{}", records_json(&records)),
                Format::Text => print!("{}", events_text(&records)),
            }
            Exit::Success
        }),
        JournalCommand::Verify => ops::journal::verify(ws).map(|checked| verify(global, &checked)),
    };
    shown.unwrap_or_else(|e| common::report(global, &e))
}

fn init(global: &GlobalArgs) -> Result<Exit, OpError> {
    let id = ops::journal::init(global.workspace(), &common::actor(global), &common::host())?;
    println!(
        "Started the journal {} (lineage {}).",
        global.workspace().journal,
        &id.lineage[..id.lineage.len().min(12)]
    );
    Ok(Exit::Success)
}

fn verify(global: &GlobalArgs, checked: &Checked) -> Exit {
    let v = &checked.verification;
    if v.ok() {
        let head = checked.head.as_deref().unwrap_or_default();
        println!(
            "Journal verified: {} records, hash chain intact. Head {}.",
            v.records,
            head.get(..16).unwrap_or(head)
        );
        Exit::Success
    } else {
        for p in &v.problems {
            eprintln!("Error: {p}");
        }
        eprintln!(
            "Error: the journal at {} has been tampered with ({} problems in {} records).",
            global.workspace().journal,
            v.problems.len(),
            v.records
        );
        Exit::Error
    }
}

fn json(value: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// Records as JSON values: sequence, table, kind, time, body and hash.
fn record_values(records: &[StoredRecord]) -> Vec<serde_json::Value> {
    records
        .iter()
        .map(|r| {
            serde_json::json!({
                "seq": r.seq, "table": r.table, "kind": r.kind, "at": r.at,
                "body": serde_json::from_str::<serde_json::Value>(&r.body).unwrap_or_default(),
                "hash": r.hash,
            })
        })
        .collect()
}

fn show_json(summary: &RunSummary, records: &[StoredRecord]) -> String {
    format!(
        "{}\n",
        json(&serde_json::json!({"run": summary, "records": record_values(records)}))
    )
}

fn records_json(records: &[StoredRecord]) -> String {
    format!(
        "{}\n",
        json(&serde_json::json!({"records": record_values(records)}))
    )
}

/// One line per record, as `journal show` prints a run's.
fn record_rows(records: &[StoredRecord]) -> Vec<Vec<String>> {
    records
        .iter()
        .map(|r| {
            vec![
                format!("#{}", r.seq),
                crate::when::human_text(&r.at),
                r.kind.clone(),
                // Event ids, names and remote errors come from elsewhere: escaped.
                crate::escape::terminal(&describe(r)).into_owned(),
            ]
        })
        .collect()
}

fn events_text(records: &[StoredRecord]) -> String {
    if records.is_empty() {
        return "No HR event received and no message sent yet.\n".to_string();
    }
    format!(
        "{}\nThe full records: offboard journal events --format json\n",
        super::table::render(
            &["Record", "At", "Kind", "What"],
            &record_rows(records),
            &[]
        )
    )
}

fn show_text(summary: &RunSummary, records: &[StoredRecord]) -> String {
    let rows = record_rows(records);
    format!(
        "{}\n{}\nThe full records: offboard journal show {} --format json\n",
        list_text(std::slice::from_ref(summary)),
        super::table::render(&["Record", "At", "Kind", "What"], &rows, &[]),
        summary.start.run_id
    )
}

/// One journal record in a line a person can read (the JSON keeps every field).
fn describe(r: &StoredRecord) -> String {
    use crate::journal::*;
    let actions =
        |a: &[crate::policy::Action]| a.iter().map(|x| x.as_str()).collect::<Vec<_>>().join(", ");
    let parsed = r.record().map(|record| match record {
        Record::RunStart(s) => {
            format!(
                "{} by {} on {}: {} {} (policy {}, plan {})",
                format!("{:?}", s.mode).to_lowercase(),
                s.initiator,
                s.host,
                s.changes,
                if s.changes == 1 { "change" } else { "changes" },
                s.policy_hash.get(..12).unwrap_or(&s.policy_hash),
                s.plan_hash.get(..12).unwrap_or(&s.plan_hash)
            )
        }
        Record::RunFinish(f) => {
            format!(
                "{}: {} active {} left, {} failed, {} {} opened",
                match f.outcome {
                    RunOutcome::Success => "success",
                    RunOutcome::Failed => "failed",
                },
                f.active_credentials,
                if f.active_credentials == 1 {
                    "credential"
                } else {
                    "credentials"
                },
                f.counts.failed,
                f.counts.tasks_opened,
                if f.counts.tasks_opened == 1 {
                    "task"
                } else {
                    "tasks"
                }
            )
        }
        Record::Intent(i) => {
            // A rollback's intent names restore steps instead of actions.
            let what = if i.actions.is_empty() {
                let steps: Vec<String> = i
                    .restore
                    .iter()
                    .map(|s| match s {
                        crate::connector::Restore::Enable => "enable".to_string(),
                        crate::connector::Restore::AddGroups(g) => {
                            format!("re-add groups {}", g.join(", "))
                        }
                        crate::connector::Restore::AddLicenses(l) => {
                            format!("re-add licenses {}", l.join(", "))
                        }
                    })
                    .collect();
                format!("restore: {}", steps.join("; "))
            } else {
                actions(&i.actions)
            };
            format!("{} {} ({}): {what}", i.system, i.account_id, i.person)
        }
        Record::Result(x) => {
            let outcome = match x.outcome {
                ActionOutcome::Done => "done, confirmed by read-back".to_string(),
                ActionOutcome::AlreadyDone => "already done".to_string(),
                ActionOutcome::SkippedStale => {
                    "skipped: the account changed since the plan".to_string()
                }
                ActionOutcome::Failed => {
                    format!("FAILED: {}", x.error.as_deref().unwrap_or("unknown error"))
                }
            };
            let retries = x.retries;
            format!(
                "{} {} ({}): {outcome}{}",
                x.system,
                x.account_id,
                x.person,
                if retries > 0 {
                    format!(
                        " after {retries} {}",
                        if retries == 1 { "retry" } else { "retries" }
                    )
                } else {
                    String::new()
                }
            )
        }
        Record::Override(o) => format!(
            "EMERGENCY OVERRIDE {} by {} on {}: cut {} ({}) now; reason: {}{}",
            o.override_id,
            o.by,
            o.host,
            o.person,
            o.name,
            o.reason,
            o.ticket
                .as_deref()
                .map(|t| format!("; ticket {t}"))
                .unwrap_or_default()
        ),
        Record::OverrideRevoked(r) => {
            format!("override {} revoked by {} ({})", r.override_id, r.by, r.why)
        }
        Record::TaskOpen(t) => {
            format!(
                "task {} for {} on {}: {} by {}, due {}",
                t.task_id,
                t.person,
                t.system,
                actions(&t.actions),
                t.owner,
                crate::when::human(t.due)
            )
        }
        Record::TaskDone(d) => format!("task {} closed by {}: {}", d.task_id, d.by, d.note),
        Record::JournalInit(j) => format!("journal created by {} on {}", j.created_by, j.host),
        Record::Trigger(t) => format!(
            "HR event {} from {} about {} ({}): {}{}; {}",
            t.event_id,
            t.source,
            t.person,
            t.name,
            if t.termination {
                "termination"
            } else {
                "not a termination"
            },
            t.termination_type
                .map(|k| format!(", {k}"))
                .unwrap_or_default(),
            t.disposition
        ),
        Record::Message(m) => format!(
            "message {} ({}) to {}: {}",
            m.message_id,
            m.kind,
            m.recipients.join(", "),
            m.subject
        ),
        Record::Delivery(d) => format!(
            "delivery of {} to {} by {} (attempt {}): {}",
            d.message_id,
            d.recipient,
            d.channel,
            d.attempt,
            if d.delivered {
                "delivered".to_string()
            } else {
                format!("FAILED: {}", d.error.as_deref().unwrap_or("unknown error"))
            }
        ),
    });
    parsed.unwrap_or_else(|e| format!("unreadable record: {e}"))
}

fn list_text(runs: &[RunSummary]) -> String {
    if runs.is_empty() {
        return "No runs yet.\n".into();
    }
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
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
            vec![
                r.start.run_id.clone(),
                format!("{:?}", r.start.mode).to_lowercase(),
                crate::when::human_text(&r.started_at),
                r.start.initiator.clone(),
                r.start.changes.to_string(),
                outcome.to_string(),
                active,
            ]
        })
        .collect();
    super::table::render(
        &[
            "Run",
            "Mode",
            "Started",
            "Initiator",
            "Changes",
            "Outcome",
            "Active credentials",
        ],
        &rows,
        &[4, 6],
    )
}
