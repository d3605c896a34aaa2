//! `offboard rollback RUN`: re-enable what a run disabled (a mistaken termination).
//!
//! Only reversible steps are undone: disabled accounts are enabled and removed groups and
//! licenses re-added from the state the journal recorded before the change. Deletions,
//! session revocations, password resets and moves cannot be undone and are listed as such.
//! The rollback is itself a journaled run, confirmed with a literal `yes`.

use clap::Args;

use super::apply::confirm;
use super::{Exit, GlobalArgs, common};
use crate::connector::Restore;
use crate::journal::RunOutcome;
use crate::ops;

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
    let ws = global.workspace();
    let fail = |e: ops::OpError| common::report(global, &e);
    let plan = ops::rollback::prepare(ws, &args.run, &args.persons).map_err(fail)?;
    let run_id = &plan.run.start.run_id;
    if plan.restorations.is_empty() && plan.revokes.is_none() {
        println!("Nothing in run {run_id} can be restored.");
        for line in &plan.irreversible {
            println!("  {line}");
        }
        return Ok(Exit::Success);
    }
    let n = plan.restorations.len();
    println!(
        "Rollback of run {run_id} will restore {n} {}:",
        plural(n, "account", "accounts")
    );
    for r in &plan.restorations {
        let what: Vec<String> = r
            .steps
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
        println!(
            "  + {} {} ({}): {}",
            r.system,
            r.account_id,
            r.person,
            what.join(", ")
        );
    }
    if let Some(o) = &plan.revokes {
        let esc = crate::escape::terminal;
        println!(
            "  - emergency override {} ({}, by {}: {}) is revoked: plans follow HR's roster for {} again",
            o.override_id,
            crate::when::human(o.at),
            esc(&o.by),
            esc(&o.reason),
            esc(&o.person)
        );
    }
    for t in &plan.revokes_events {
        let esc = crate::escape::terminal;
        println!(
            "  - HR event {} from {} ({}) is revoked: plans follow HR's roster for {} again",
            esc(&t.event_id),
            esc(&t.source),
            crate::when::human(t.received_at),
            esc(&t.person)
        );
    }
    if !plan.irreversible.is_empty() {
        println!("\nCannot be undone (handle by hand):");
        for line in &plan.irreversible {
            println!("  {line}");
        }
    }
    if !args.auto_approve && !confirm_rollback("Do you want to give this access back?") {
        eprintln!("Rollback cancelled. Nothing was changed.");
        return Err(Exit::Error);
    }
    let quiet = global.quiet;
    let on_done = |r: &ops::rollback::Restoration, outcome: ops::rollback::Restored<'_>| {
        use ops::rollback::Restored;
        match outcome {
            Restored::Done if !quiet => eprintln!(
                "{}: {} ({}) restored (confirmed by read-back)",
                r.system, r.account_id, r.person
            ),
            Restored::Done => {}
            Restored::Failed(e) => {
                eprintln!("{}: {} ({}) FAILED: {e}", r.system, r.account_id, r.person)
            }
            Restored::NotInPolicy => eprintln!(
                "Error: {} is not in the policy any more; restore {} by hand",
                r.system, r.person
            ),
        }
    };
    let actor = common::actor(global);
    let host = common::host();
    let done = ops::rollback::execute(ws, &plan, &actor, &host, &on_done).map_err(fail)?;
    let counts = done.counts;
    let mut line = format!(
        "Rollback {} (run {}): {} restored, {} failed",
        if counts.failed == 0 {
            "complete"
        } else {
            "incomplete"
        },
        done.run_id,
        counts.restored,
        counts.failed
    );
    if !plan.irreversible.is_empty() {
        line.push_str(&format!(
            "; {} {} cannot be undone (listed above)",
            plan.irreversible.len(),
            plural(plan.irreversible.len(), "step", "steps")
        ));
    }
    println!("{line}.");
    if counts.failed > 0 {
        eprintln!(
            "  hint: see `offboard journal show {}` for each failure; fix the cause and run the rollback again (restoring an account twice is harmless)",
            done.run_id
        );
    }
    Ok(if done.outcome == RunOutcome::Success {
        Exit::Success
    } else {
        Exit::Error
    })
}
