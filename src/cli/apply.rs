//! `offboard apply`: execute a plan (after confirmation), then re-audit.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::{Exit, GlobalArgs, common};
use crate::apply::ChangeReport;
use crate::apply::retry::RetryPolicy;
use crate::connector::ConnectorError;
use crate::journal::{ActionOutcome, ApplyCounts, LeaverAudit, RunOutcome, Verdict};
use crate::ops;
use crate::plan::render;
use crate::policy::{Tier, duration};

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// A saved plan (from `offboard plan --out`); the file is the approval
    pub plan: Option<PathBuf>,
    /// Skip the interactive `yes` (CI); without a plan file the plan is made and applied
    #[arg(long)]
    pub auto_approve: bool,
    /// Allow disabling more than `max-disable-share` of a system's accounts
    #[arg(long)]
    pub allow_mass_disable: bool,
    /// Changes in flight per system (overrides the policy's `concurrency`)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: Option<u16>,
    /// Retries per call for temporary errors (timeouts, 429, 5xx), with exponential backoff
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub max_retries: usize,
    /// Apply even though policy files have uncommitted changes (recorded in the journal)
    #[arg(long)]
    pub allow_dirty: bool,
    /// How long to wait for another apply holding the journal lock
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    pub lock_timeout: String,
    /// Plan as of an earlier instant (only without a plan file), to reproduce a past plan;
    /// apply acts now, so a future instant is refused (preview the future with `plan --at`)
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// Without PLAN: plan and apply only for this person (email, username, employee id or
    /// name; repeatable), looking up their accounts instead of reading every account
    #[arg(
        short = 'p',
        long = "person",
        value_name = "PERSON",
        conflicts_with = "plan"
    )]
    pub persons: Vec<String>,
    /// With a name in --person: only match people in this department
    #[arg(long, value_name = "DEPARTMENT", requires = "persons")]
    pub department: Option<String>,
}

/// Ask for a literal `yes` on the terminal; anything else (or no terminal) aborts.
pub fn confirm(question: &str) -> bool {
    if !std::io::stdin().is_terminal() {
        eprintln!(
            "Error: {question} needs a literal `yes`, and there is no terminal to ask on.\n  hint: review a saved plan and apply the file, or pass --auto-approve"
        );
        return false;
    }
    print!("\n{question}\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: ");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() {
        return false;
    }
    answer.trim() == "yes"
}

fn lock_timeout(text: &str) -> Result<Duration, Exit> {
    duration::parse(text, duration::Sign::Unsigned)
        .map(|d| d.unsigned_abs())
        .map_err(|e| {
            eprintln!(
                "Error: --lock-timeout: {e}\n  hint: write a number and a unit, e.g. 30s, 5m or 1h"
            );
            Exit::Error
        })
}

/// The command line that started the run, for the journal (no secrets: paths and people).
fn trigger(args: &ApplyArgs) -> String {
    let mut words = vec!["apply".to_string()];
    if let Some(plan) = &args.plan {
        words.push(plan.display().to_string());
    }
    for person in &args.persons {
        words.push(format!("-p {person}"));
    }
    if let Some(department) = &args.department {
        words.push(format!("--department {department}"));
    }
    words.join(" ")
}

pub fn run(global: &GlobalArgs, args: &ApplyArgs) -> Exit {
    match run_inner(global, args) {
        Ok(exit) | Err(exit) => exit,
    }
}

fn run_inner(global: &GlobalArgs, args: &ApplyArgs) -> Result<Exit, Exit> {
    let ws = global.workspace();
    let request = ops::apply::ApplyRequest {
        plan_file: args.plan.as_deref().map(|p| global.resolve(p)),
        at: args.at.clone(),
        persons: args.persons.clone(),
        department: args.department.clone(),
        allow_dirty: args.allow_dirty,
        allow_mass_disable: args.allow_mass_disable,
        concurrency: args.concurrency.map(usize::from),
        retry: RetryPolicy {
            max_retries: args.max_retries,
            ..RetryPolicy::default()
        },
        lock_timeout: lock_timeout(&args.lock_timeout)?,
        actor: common::actor(global),
        host: common::host(),
        trigger: trigger(args),
        emergency: None,
        // A whole apply (a CI schedule, say) leaves held people to their approvers.
        hold_for_approval: args.plan.is_none() && args.persons.is_empty(),
    };
    let observer = common::Stderr::new(global);
    let fail = |e: ops::OpError| common::report(global, &e);
    let prepared = ops::apply::prepare(ws, &request, &observer).map_err(fail)?;
    if !prepared.from_file {
        let opts = render::TextOptions {
            color: global.color_for(std::io::stdout().is_terminal()),
        };
        common::emit(global, None, &render::text(&prepared.plan, opts))?;
    }
    if !prepared.plan.has_changes() {
        if prepared.from_file {
            println!("No changes. Access matches policy.");
        }
        // What earlier runs could not deliver, and escalations now due, go out anyway.
        common::send_notifications(global, &prepared.policy);
        return Ok(Exit::Success);
    }
    let dirty = ops::apply::guard(ws, &request, &prepared).map_err(fail)?;
    if !prepared.from_file
        && !args.auto_approve
        && !confirm("Do you want to perform these actions?")
    {
        eprintln!("Apply cancelled. Nothing was changed.");
        return Err(Exit::Error);
    }
    let quiet = global.quiet;
    let verbose = global.verbose > 0;
    let print = |r: &ChangeReport| {
        if !quiet || r.outcome == ActionOutcome::Failed {
            // `-v`: how many calls the change took (reads, actions, read-back, retries).
            let calls = if verbose {
                format!(
                    " [{} {}]",
                    r.attempts,
                    if r.attempts == 1 { "call" } else { "calls" }
                )
            } else {
                String::new()
            };
            eprintln!("{}{calls}", r.progress_line());
        }
    };
    let applied = ops::apply::execute(ws, &request, &prepared, dirty, &print).map_err(fail)?;
    common::send_notifications(global, &prepared.policy);
    let report = report_text(
        &applied.run_id,
        &applied.reports,
        &applied.audit,
        &applied.counts,
        &applied.unreadable,
    );
    common::emit(global, None, &report)?;
    Ok(if applied.outcome == RunOutcome::Success {
        Exit::Success
    } else {
        Exit::Error
    })
}

fn report_text(
    run_id: &str,
    reports: &[ChangeReport],
    audit: &[LeaverAudit],
    counts: &ApplyCounts,
    unreadable: &BTreeMap<String, ConnectorError>,
) -> String {
    let mut out = String::new();
    let failed_idp: Vec<&ChangeReport> = reports
        .iter()
        .filter(|r| r.outcome == ActionOutcome::Failed && r.change.tier == Tier::IdentityProvider)
        .collect();
    if !failed_idp.is_empty() {
        out.push_str(&format!(
            "\n!! {} identity-provider {} FAILED: these leavers may still sign in to everything behind SSO.\n",
            failed_idp.len(),
            if failed_idp.len() == 1 { "change" } else { "changes" }
        ));
        for r in failed_idp {
            out.push_str(&format!("!!   {}\n", r.progress_line()));
        }
    }
    for (system, e) in unreadable {
        out.push_str(&format!(
            "\nRe-audit could not read {system}: {}\n",
            e.message
        ));
    }
    out.push_str(&format!("\nRe-audit (run {run_id}):\n"));
    let width = audit.iter().map(|l| l.person.len()).max().unwrap_or(0);
    for l in audit {
        let (mark, what) = match l.verdict {
            Verdict::Green => ("green ", "no active credential anywhere".to_string()),
            Verdict::Yellow => {
                let mut parts = Vec::new();
                if l.following.is_empty() {
                    parts.push("no active credential".to_string());
                } else {
                    parts.push(format!(
                        "no other active credential; {} follows its directory at the next sync",
                        l.following.join(", ")
                    ));
                }
                if l.open_tasks > 0 {
                    parts.push(format!(
                        "{} manual {} pending",
                        l.open_tasks,
                        if l.open_tasks == 1 { "task" } else { "tasks" }
                    ));
                }
                ("yellow", parts.join("; "))
            }
            Verdict::Red => {
                let mut parts = Vec::new();
                if !l.active_accounts.is_empty() {
                    parts.push(format!("still active: {}", l.active_accounts.join(", ")));
                }
                if l.failed_changes > 0 {
                    parts.push(format!(
                        "{} failed {}",
                        l.failed_changes,
                        if l.failed_changes == 1 {
                            "change"
                        } else {
                            "changes"
                        }
                    ));
                }
                ("RED   ", parts.join("; "))
            }
        };
        out.push_str(&format!("  {mark}  {:<width$}  {what}\n", l.person));
    }
    let active: usize = audit.iter().map(|l| l.active_accounts.len()).sum();
    let n = audit.len();
    out.push_str(&format!(
        "\nApply complete: {} disabled, {} deleted, {} updated, {} {} opened",
        counts.disabled,
        counts.deleted,
        counts.updated,
        counts.tasks_opened,
        if counts.tasks_opened == 1 {
            "task"
        } else {
            "tasks"
        }
    ));
    if counts.already_done > 0 {
        out.push_str(&format!(", {} already done", counts.already_done));
    }
    if counts.skipped > 0 {
        out.push_str(&format!(
            ", {} skipped (changed since the plan)",
            counts.skipped
        ));
    }
    if counts.failed > 0 {
        out.push_str(&format!(", {} FAILED", counts.failed));
    }
    out.push_str(&format!(
        "; {active} active {} remain for {n} {}.\n",
        if active == 1 {
            "credential"
        } else {
            "credentials"
        },
        if n == 1 { "leaver" } else { "leavers" }
    ));
    out
}
