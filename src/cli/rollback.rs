//! `offboard rollback RUN`: re-enable what a run disabled (a mistaken termination).
//!
//! Only reversible steps are undone: disabled accounts are enabled and removed groups and
//! licenses re-added from the state the journal recorded before the change. Deletions,
//! session revocations, password resets and moves cannot be undone and are listed as such.
//! The rollback is itself a journaled run, confirmed with a literal `yes`.

use std::collections::HashMap;
use std::time::Duration;

use clap::Args;

use super::apply::{confirm, journal_error};
use super::{Exit, GlobalArgs, common};
use crate::apply::Executor;
use crate::connector::Restore;
use crate::journal::{
    ActionOutcome, ApplyCounts, JournalLock, Record, RunFinish, RunMode, RunOutcome, RunStart,
};
use crate::ops::apply::{new_run_id, targets};
use crate::plan::{AccountRef, Change, ChangeKind};
use crate::policy::{Action, Tier};

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The apply run to undo (id or unique prefix, see `offboard journal list`)
    pub run: String,
    /// Undo only this person's changes (their roster key, e.g. the email; repeatable)
    #[arg(short = 'p', long = "person", value_name = "PERSON")]
    pub persons: Vec<String>,
    /// Skip the interactive `yes`
    #[arg(long)]
    pub auto_approve: bool,
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

/// Rollback's own question: without a terminal, the hint is rollback's `--auto-approve`,
/// not apply's plan file.
fn confirm_rollback(question: &str) -> bool {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        eprintln!(
            "Error: the rollback needs a literal `yes`, and there is no terminal to ask on.\n  hint: review the list above and run again with --auto-approve"
        );
        return false;
    }
    confirm(question)
}

pub fn run(global: &GlobalArgs, args: &RollbackArgs) -> Exit {
    match run_inner(global, args) {
        Ok(e) | Err(e) => e,
    }
}

fn run_inner(global: &GlobalArgs, args: &RollbackArgs) -> Result<Exit, Exit> {
    let policy = common::load_policy(global)?;
    let journal = common::read_journal(global)?;
    let Some(run) = journal.find_run(&args.run).map_err(journal_error)? else {
        eprintln!(
            "Error: no single run matches `{}`; see `offboard journal list`",
            args.run
        );
        return Err(Exit::Error);
    };
    if run.start.mode != RunMode::Apply {
        eprintln!(
            "Error: run {} is itself a rollback; apply a new plan instead",
            run.start.run_id
        );
        return Err(Exit::Error);
    }
    let intents: HashMap<String, _> = journal
        .intents(&run.start.run_id)
        .map_err(journal_error)?
        .into_iter()
        .map(|i| (i.change_id.clone(), i))
        .collect();

    // `-p`: the people whose changes are undone, by their roster key (as journaled).
    let wanted: Vec<String> = args
        .persons
        .iter()
        .map(|p| p.trim().to_lowercase())
        .collect();
    let results = journal.results(&run.start.run_id).map_err(journal_error)?;
    for p in &wanted {
        if !results.iter().any(|r| r.person.to_lowercase() == *p) {
            let mut people: Vec<&str> = results.iter().map(|r| r.person.as_str()).collect();
            people.sort_unstable();
            people.dedup();
            eprintln!(
                "Error: run {} changed nothing for `{p}`.\n  hint: give the roster key as the journal records it; the run changed: {}",
                run.start.run_id,
                people.join(", ")
            );
            return Err(Exit::Error);
        }
    }
    let mut work: Vec<(Change, Vec<Restore>)> = Vec::new();
    let mut irreversible: Vec<String> = Vec::new();
    for result in results {
        if result.outcome != ActionOutcome::Done || result.performed.is_empty() {
            continue;
        }
        if !wanted.is_empty() && !wanted.contains(&result.person.to_lowercase()) {
            continue;
        }
        let before = intents
            .get(&result.change_id)
            .and_then(|i| i.before.clone());
        let mut steps = Vec::new();
        for action in &result.performed {
            match action {
                Action::Disable => steps.push(Restore::Enable),
                Action::RemoveGroups => {
                    let groups = before
                        .as_ref()
                        .map(|b| b.groups.clone())
                        .unwrap_or_default();
                    if !groups.is_empty() {
                        steps.push(Restore::AddGroups(groups));
                    }
                }
                Action::RemoveLicenses => {
                    let licenses = before
                        .as_ref()
                        .map(|b| b.licenses.clone())
                        .unwrap_or_default();
                    if !licenses.is_empty() {
                        steps.push(Restore::AddLicenses(licenses));
                    }
                }
                other => irreversible.push(format!(
                    "{} {} ({}): {other} cannot be undone",
                    result.system, result.account_id, result.person
                )),
            }
        }
        if !steps.is_empty() && !result.performed.contains(&Action::Delete) {
            let tier = policy
                .system(&result.system)
                .map_or(Tier::Business, |s| s.tier);
            work.push((
                Change {
                    person: result.person.clone(),
                    system: result.system.clone(),
                    tier,
                    kind: ChangeKind::Update,
                    account: Some(AccountRef {
                        id: result.account_id.clone(),
                        username: String::new(),
                        label: result.account_id.clone(),
                        fingerprint: String::new(),
                        version: None,
                    }),
                    actions: Vec::new(),
                    before,
                    after: None,
                    task: None,
                    rules: Vec::new(),
                },
                steps,
            ));
        }
    }
    drop(journal);

    if work.is_empty() {
        println!("Nothing in run {} can be restored.", run.start.run_id);
        for line in &irreversible {
            println!("  {line}");
        }
        return Ok(Exit::Success);
    }
    println!(
        "Rollback of run {} will restore {} {}:",
        run.start.run_id,
        work.len(),
        plural(work.len(), "account", "accounts")
    );
    for (c, steps) in &work {
        let what: Vec<String> = steps
            .iter()
            .map(|s| match s {
                Restore::Enable => "enable".to_string(),
                Restore::AddGroups(g) => {
                    format!("re-add {} {}", g.len(), plural(g.len(), "group", "groups"))
                }
                Restore::AddLicenses(l) => format!(
                    "re-add {} {}",
                    l.len(),
                    plural(l.len(), "license", "licenses")
                ),
            })
            .collect();
        let id = c.account.as_ref().map_or("", |a| a.id.as_str());
        println!("  + {} {id} ({}): {}", c.system, c.person, what.join(", "));
    }
    if !irreversible.is_empty() {
        println!("\nCannot be undone (handle by hand):");
        for line in &irreversible {
            println!("  {line}");
        }
    }
    if !args.auto_approve && !confirm_rollback("Do you want to give this access back?") {
        eprintln!("Rollback cancelled. Nothing was changed.");
        return Err(Exit::Error);
    }

    let actor = common::actor(global);
    let host = common::host();
    let _lock = JournalLock::acquire(
        &global.journal_path(),
        &format!("{actor} on {host}"),
        Duration::from_secs(30),
    )
    .map_err(|e| {
        eprintln!("Error: {e}");
        Exit::Error
    })?;
    let mut journal = common::open_journal(global)?;
    // Connectors (and their secrets) first: a missing secret must stop the rollback before
    // a run is journaled that could never finish.
    let targets = targets(
        global.workspace(),
        &policy,
        None,
        crate::apply::retry::RetryPolicy::default(),
    )
    .map_err(|e| common::report(global, &e))?;
    let run_id = new_run_id();
    journal
        .append(&Record::RunStart(RunStart {
            run_id: run_id.clone(),
            mode: RunMode::Rollback,
            initiator: actor,
            host,
            policy_hash: policy.content_hash.clone(),
            git_commit: None,
            allow_dirty: false,
            plan_hash: run.start.plan_hash.clone(),
            plan_created_at: run.start.plan_created_at,
            rollback_of: Some(run.start.run_id.clone()),
            changes: work.len(),
            roster_people: None,
            system_accounts: Default::default(),
            leavers: Vec::new(),
        }))
        .map_err(journal_error)?;
    let executor = Executor {
        targets,
        journal: crate::journal::SharedJournal::new(journal),
        run_id: run_id.clone(),
        touched: Default::default(),
    };
    let runtime = common::runtime()?;
    let mut counts = ApplyCounts::default();
    for (change, steps) in &work {
        let Some(target) = executor.targets.get(&change.system) else {
            eprintln!(
                "Error: {} is not in the policy any more; restore {} by hand",
                change.system, change.person
            );
            counts.failed += 1;
            continue;
        };
        let report = runtime
            .block_on(executor.restore(target, change, steps))
            .map_err(journal_error)?;
        let id = change.account.as_ref().map_or("", |a| a.id.as_str());
        match report.outcome {
            ActionOutcome::Done => {
                counts.restored += 1;
                if !global.quiet {
                    eprintln!(
                        "{}: {id} ({}) restored (confirmed by read-back)",
                        change.system, change.person
                    );
                }
            }
            _ => {
                counts.failed += 1;
                let e = report.error.map(|e| e.message).unwrap_or_default();
                eprintln!("{}: {id} ({}) FAILED: {e}", change.system, change.person);
            }
        }
    }
    let outcome = if counts.failed == 0 {
        RunOutcome::Success
    } else {
        RunOutcome::Failed
    };
    executor
        .journal
        .lock()
        .append(&Record::RunFinish(RunFinish {
            run_id: run_id.clone(),
            outcome,
            counts,
            leavers: Vec::new(),
            active_credentials: 0,
            unreadable_systems: Vec::new(),
        }))
        .map_err(journal_error)?;
    let mut done = format!(
        "Rollback {} (run {run_id}): {} restored, {} failed",
        if counts.failed == 0 {
            "complete"
        } else {
            "incomplete"
        },
        counts.restored,
        counts.failed
    );
    if !irreversible.is_empty() {
        done.push_str(&format!(
            "; {} {} cannot be undone (listed above)",
            irreversible.len(),
            plural(irreversible.len(), "step", "steps")
        ));
    }
    println!("{done}.");
    if counts.failed > 0 {
        eprintln!(
            "  hint: see `offboard journal show {run_id}` for each failure; fix the cause and run the rollback again (restoring an account twice is harmless)"
        );
    }
    Ok(if outcome == RunOutcome::Success {
        Exit::Success
    } else {
        Exit::Error
    })
}
