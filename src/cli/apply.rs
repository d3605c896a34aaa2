//! `offboard apply`: execute a plan (after confirmation), then re-audit.

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::{Exit, GlobalArgs, common};
use crate::apply::retry::{RetryPolicy, Retrying};
use crate::apply::{ChangeReport, Executor, Target, guard, reaudit};
use crate::connector::{self, ConnectorError, ErrorKind};
use crate::journal::{
    ActionOutcome, ApplyCounts, JournalLock, LeaverAudit, Record, RunFinish, RunMode, RunOutcome,
    RunStart, Verdict,
};
use crate::plan::{self, render};
use crate::policy::{Action, Policy, Tier, duration};

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

pub fn new_run_id() -> String {
    let now = jiff::Timestamp::now();
    let mut h = blake3::Hasher::new();
    h.update(&now.as_nanosecond().to_le_bytes());
    h.update(&std::process::id().to_le_bytes());
    format!(
        "{}-{}",
        now.strftime("%Y%m%dT%H%M%SZ"),
        &h.finalize().to_hex()[..6]
    )
}

pub fn targets(
    global: &GlobalArgs,
    policy: &Policy,
    concurrency: Option<usize>,
    retry: RetryPolicy,
) -> Result<BTreeMap<String, Target>, Exit> {
    let mut targets = BTreeMap::new();
    for system in &policy.systems {
        let Some(settings) = system.connector() else {
            continue;
        };
        let connector = settings.connect(system.name(), &global.root).map_err(|e| {
            // The hint says how to fix it (e.g. which variable to set): never drop it.
            match &e.hint {
                Some(hint) => eprintln!("Error: {e}\n  hint: {hint}"),
                None => eprintln!("Error: {e}"),
            }
            Exit::Error
        })?;
        let limit = concurrency
            .or(system.concurrency.map(|c| c as usize))
            .unwrap_or(policy.defaults.concurrency as usize);
        targets.insert(
            system.name().to_string(),
            Target {
                connector: Arc::new(Retrying::new(
                    Arc::<dyn connector::Connector>::from(connector),
                    retry,
                )),
                concurrency: limit,
            },
        );
    }
    Ok(targets)
}

pub fn run(global: &GlobalArgs, args: &ApplyArgs) -> Exit {
    match run_inner(global, args) {
        Ok(exit) | Err(exit) => exit,
    }
}

fn run_inner(global: &GlobalArgs, args: &ApplyArgs) -> Result<Exit, Exit> {
    let policy = common::load_policy(global)?;
    if let Some(text) = &args.at {
        let at = common::parse_at(Some(text), &policy)?;
        if at > jiff::Timestamp::now() {
            eprintln!(
                "Error: `apply --at {text}` is in the future, and apply acts now: it would cut people before their cutoff.\n  hint: preview that moment with `offboard plan --at {text}`; the scheduled changes are applied when it comes. Nothing was changed."
            );
            return Err(Exit::Error);
        }
    }
    // The journal must exist and verify before anything is planned or asked: apply never
    // starts a journal, and never appends to a broken one.
    common::check_journal(global)?;
    let roster = common::load_roster(global, &policy)?;
    let timeout = lock_timeout(&args.lock_timeout)?;

    let from_file = args.plan.is_some();
    let plan = match args.plan.as_deref().map(|p| global.resolve(p)) {
        Some(file) => {
            let plan = plan::read_file(&file).map_err(|e| {
                eprintln!("Error: {e}");
                Exit::Error
            })?;
            if let Some(stale) = guard::stale_plan(&plan, &policy, &roster) {
                eprintln!("Error: {stale}. Nothing was changed.");
                return Err(Exit::Error);
            }
            plan
        }
        None => {
            let request = crate::ops::plan::PlanRequest {
                at: args.at.clone(),
                ..Default::default()
            };
            let observer = common::Stderr::new(global);
            let plan = crate::ops::plan::plan_with(
                global.workspace(),
                &request,
                &policy,
                &roster,
                &observer,
            )
            .map_err(|e| common::report(global, &e))?;
            let opts = render::TextOptions {
                color: global.color_for(std::io::stdout().is_terminal()),
            };
            print!("{}", render::text(&plan, opts));
            plan
        }
    };

    if !plan.has_changes() {
        if from_file {
            println!("No changes. Access matches policy.");
        }
        return Ok(Exit::Success);
    }

    // Policies are reviewed code: what runs must be what was committed.
    let provenance = crate::vcs::provenance(&global.policies_dir());
    let dirty = provenance.as_ref().is_some_and(|p| p.dirty());
    if dirty && !args.allow_dirty {
        let files = provenance
            .map(|p| p.dirty_files.join(", "))
            .unwrap_or_default();
        eprintln!(
            "Error: policy files have uncommitted changes ({files}).\n  hint: commit them (and have them reviewed), or pass --allow-dirty, which the journal records. Nothing was changed."
        );
        return Err(Exit::Error);
    }

    let mass = guard::mass_disable(&plan, &policy);
    if !mass.is_empty() && !args.allow_mass_disable {
        for m in &mass {
            eprintln!(
                "Error: the plan would disable or delete {} of {} accounts in {} ({:.0}%), above its max-disable-share of {:.0}%.",
                m.planned,
                m.accounts,
                m.system,
                m.share * 100.0,
                m.limit * 100.0
            );
        }
        eprintln!(
            "  hint: check the roster and correlation first; if this is intended, pass --allow-mass-disable. Nothing was changed."
        );
        return Err(Exit::Error);
    }

    if !from_file && !args.auto_approve && !confirm("Do you want to perform these actions?") {
        eprintln!("Apply cancelled. Nothing was changed.");
        return Err(Exit::Error);
    }

    let actor = common::actor(global);
    let host = common::host();
    let journal_path = global.journal_path();
    let _lock = JournalLock::acquire(&journal_path, &format!("{actor} on {host}"), timeout).map_err(|e| {
        eprintln!("Error: {e}\n  hint: wait for it to finish, or pass a longer --lock-timeout. Nothing was changed.");
        Exit::Error
    })?;
    let mut journal = common::open_journal(global)?;
    let current = journal.identity().map_err(journal_error)?;
    let planned_head = match &plan.journal {
        Some(j) => journal.hash_at(j.head_seq).map_err(journal_error)?,
        None => None,
    };
    if let Some(why) =
        guard::journal_mismatch(plan.journal.as_ref(), &current, planned_head.as_deref())
    {
        eprintln!(
            "Error: {why}.\n  hint: make a new plan against this journal and review it; if the journal was restored or replaced by mistake, put the right one back. Nothing was changed."
        );
        return Err(Exit::Error);
    }
    let touched = journal.touched_changes().map_err(journal_error)?;
    let known_task_ids: HashSet<String> = journal
        .tasks()
        .map_err(journal_error)?
        .into_iter()
        .map(|t| t.open.task_id)
        .collect();

    // Connectors (and their secrets) are ready before the run is journaled, so a missing
    // secret stops the apply before it starts instead of leaving an unfinished run.
    let targets = targets(
        global,
        &policy,
        args.concurrency.map(usize::from),
        RetryPolicy {
            max_retries: args.max_retries,
            ..RetryPolicy::default()
        },
    )?;
    let run_id = new_run_id();
    let plan_json = plan.to_json();
    journal
        .append(&Record::RunStart(RunStart {
            run_id: run_id.clone(),
            mode: RunMode::Apply,
            initiator: actor,
            host,
            policy_hash: policy.content_hash.clone(),
            git_commit: crate::vcs::provenance(&global.policies_dir()).and_then(|p| p.commit),
            allow_dirty: dirty,
            plan_hash: blake3::hash(plan_json.as_bytes()).to_hex().to_string(),
            plan_created_at: plan.created_at,
            rollback_of: None,
            changes: plan.changes.len(),
            roster_people: Some(plan.roster.people),
            system_accounts: plan
                .refreshed
                .iter()
                .filter(|s| s.fingerprint.is_some())
                .map(|s| (s.system.clone(), s.accounts))
                .collect(),
            leavers: plan
                .due_leavers()
                .map(|l| crate::journal::LeaverRecord {
                    person: l.person.clone(),
                    name: l.name.clone(),
                    department: l.department.clone(),
                    termination_type: l.termination_type,
                    cutoff: l.cutoff,
                    rules: l.rules.clone(),
                })
                .collect(),
        }))
        .map_err(journal_error)?;

    let executor = Executor {
        targets,
        journal: crate::journal::SharedJournal::new(journal),
        run_id: run_id.clone(),
        touched,
    };
    let runtime = common::runtime()?;
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
            eprintln!("{}{calls}", progress_line(r));
        }
    };
    let reports = runtime
        .block_on(executor.execute(&plan, &print))
        .map_err(journal_error)?;
    let tasks_opened = executor
        .open_tasks(&plan, &known_task_ids)
        .map_err(journal_error)?;

    // Re-audit: read every system again; trust nothing the executor believes. Only leavers'
    // accounts matter to it, and those are what a plan's keep filter keeps.
    let keep = crate::reconcile::plan_relevance(&policy, &roster, None);
    let observed = runtime.block_on(connector::refresh_keeping(
        &policy,
        &global.root,
        &|_| {},
        &keep,
    ));
    let tasks = lock(&executor).tasks().map_err(journal_error)?;
    let audit = reaudit::reaudit(&plan, &policy, &roster, &observed, &reports, &tasks);
    let counts = count(&reports, tasks_opened);
    let active: usize = audit.iter().map(|l| l.active_accounts.len()).sum();
    let outcome = if audit.iter().any(|l| l.verdict == Verdict::Red) {
        RunOutcome::Failed
    } else {
        RunOutcome::Success
    };
    lock(&executor)
        .append(&Record::RunFinish(RunFinish {
            run_id: run_id.clone(),
            outcome,
            counts,
            leavers: audit.clone(),
            active_credentials: active,
            unreadable_systems: observed.failures.keys().cloned().collect(),
        }))
        .map_err(journal_error)?;

    print!(
        "{}",
        report_text(&run_id, &reports, &audit, &counts, &observed.failures)
    );
    Ok(if outcome == RunOutcome::Success {
        Exit::Success
    } else {
        Exit::Error
    })
}

fn lock(executor: &Executor) -> std::sync::MutexGuard<'_, crate::journal::Journal> {
    executor.journal.lock()
}

pub fn journal_error(e: crate::journal::JournalError) -> Exit {
    eprintln!(
        "Error: {e}\n  hint: the journal is the evidence of every change; fix its location or permissions and run again"
    );
    Exit::Error
}

fn count(reports: &[ChangeReport], tasks_opened: usize) -> ApplyCounts {
    let mut c = ApplyCounts {
        tasks_opened,
        ..ApplyCounts::default()
    };
    for r in reports {
        match r.outcome {
            ActionOutcome::Done if r.performed.contains(&Action::Delete) => c.deleted += 1,
            ActionOutcome::Done if r.performed.contains(&Action::Disable) => c.disabled += 1,
            ActionOutcome::Done => c.updated += 1,
            ActionOutcome::AlreadyDone => c.already_done += 1,
            ActionOutcome::SkippedStale => c.skipped += 1,
            ActionOutcome::Failed => c.failed += 1,
        }
    }
    c
}

fn progress_line(r: &ChangeReport) -> String {
    let c = &r.change;
    let account = c.account.as_ref().map_or("", |a| a.id.as_str());
    let actions = c
        .actions
        .iter()
        .map(|a| a.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let outcome = match r.outcome {
        ActionOutcome::Done if r.unobservable.is_empty() => {
            "done (confirmed by read-back)".to_string()
        }
        ActionOutcome::Done => {
            let unseen: Vec<&str> = r.unobservable.iter().map(|a| a.as_str()).collect();
            format!(
                "done (confirmed by read-back; {} not observable)",
                unseen.join(", ")
            )
        }
        ActionOutcome::AlreadyDone => "already done".to_string(),
        ActionOutcome::SkippedStale => "skipped: account changed since the plan".to_string(),
        ActionOutcome::Failed => match &r.error {
            Some(e) => failure(e),
            None => "failed".to_string(),
        },
    };
    let tries = match r.retries {
        0 => String::new(),
        1 => " (1 retry)".to_string(),
        n => format!(" ({n} retries)"),
    };
    // The account, person and error text come from systems and the roster: escaped.
    crate::escape::terminal(&format!(
        "{}: {account} ({}) {actions}: {outcome}{tries}",
        c.system, c.person
    ))
    .into_owned()
}

fn failure(e: &ConnectorError) -> String {
    let kind = match e.kind {
        ErrorKind::Permanent => "permanent",
        ErrorKind::Temporary => "temporary",
    };
    match &e.hint {
        Some(h) => format!("FAILED ({kind}): {}; hint: {h}", e.message),
        None => format!("FAILED ({kind}): {}", e.message),
    }
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
            out.push_str(&format!("!!   {}\n", progress_line(r)));
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
            Verdict::Yellow => (
                "yellow",
                format!(
                    "no active credential; {} manual {} pending",
                    l.open_tasks,
                    if l.open_tasks == 1 { "task" } else { "tasks" }
                ),
            ),
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
