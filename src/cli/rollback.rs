//! `offboard rollback RUN`: re-enable what a run disabled (a mistaken termination).
//!
//! Only reversible steps are undone: disabled accounts are enabled and removed groups and
//! licenses re-added from the state the journal recorded before the change. Deletions,
//! session revocations, password resets and moves cannot be undone and are listed as such.
//! The rollback is itself a journaled run, confirmed with a literal `yes`.

use std::collections::HashMap;
use std::time::Duration;

use clap::Args;

use super::apply::{confirm, journal_error, new_run_id, targets};
use super::{Exit, GlobalArgs, common};
use crate::apply::Executor;
use crate::connector::Restore;
use crate::journal::{
    ActionOutcome, ApplyCounts, JournalLock, RUN_FINISH, RUN_START, RunFinish, RunMode, RunOutcome,
    RunStart, Table,
};
use crate::plan::{AccountRef, Change, ChangeKind};
use crate::policy::{Action, Tier};

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The apply run to undo (id or unique prefix, see `offboard journal list`)
    pub run: String,
    /// Skip the interactive `yes`
    #[arg(long)]
    pub auto_approve: bool,
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

    let mut work: Vec<(Change, Vec<Restore>)> = Vec::new();
    let mut irreversible: Vec<String> = Vec::new();
    for result in journal.results(&run.start.run_id).map_err(journal_error)? {
        if result.outcome != ActionOutcome::Done || result.performed.is_empty() {
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
        "Rollback of run {} will restore {} accounts:",
        run.start.run_id,
        work.len()
    );
    for (c, steps) in &work {
        let what: Vec<String> = steps
            .iter()
            .map(|s| match s {
                Restore::Enable => "enable".to_string(),
                Restore::AddGroups(g) => format!("re-add {} groups", g.len()),
                Restore::AddLicenses(l) => format!("re-add {} licenses", l.len()),
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
    if !args.auto_approve && !confirm("Do you want to restore this access?") {
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
    let run_id = new_run_id();
    journal
        .append(
            Table::Runs,
            RUN_START,
            &RunStart {
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
            },
        )
        .map_err(journal_error)?;
    let executor = Executor {
        targets: targets(
            global,
            &policy,
            None,
            crate::apply::retry::RetryPolicy::default(),
        )?,
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
                eprintln!(
                    "{}: {id} ({}) restored (confirmed by read-back)",
                    change.system, change.person
                );
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
        .append(
            Table::Runs,
            RUN_FINISH,
            &RunFinish {
                run_id: run_id.clone(),
                outcome,
                counts,
                leavers: Vec::new(),
                active_credentials: 0,
                unreadable_systems: Vec::new(),
            },
        )
        .map_err(journal_error)?;
    println!(
        "Rollback complete (run {run_id}): {} restored, {} failed, {} irreversible listed above.",
        counts.restored,
        counts.failed,
        irreversible.len()
    );
    Ok(if outcome == RunOutcome::Success {
        Exit::Success
    } else {
        Exit::Error
    })
}
