//! Figures on a generated organisation (see `offboard-gen`): parse-only time (policy, roster
//! and every export read, nothing planned), plan time in-process, and rule evaluation
//! (every rule's condition for every person). Prints figures; run through
//! `bash benches/run.sh`, or directly: `OFFBOARD_BENCH_ORG=/tmp/org cargo bench --bench org`.

use std::path::PathBuf;
use std::time::Instant;

use offboard::connector;
use offboard::policy;
use offboard::reconcile::{self, PlanInput};
use offboard::roster;

fn main() {
    let Some(org) = std::env::var_os("OFFBOARD_BENCH_ORG").map(PathBuf::from) else {
        eprintln!(
            "set OFFBOARD_BENCH_ORG to a directory written by offboard-gen (bash benches/run.sh does)"
        );
        return;
    };
    let now: jiff::Timestamp = "2026-11-23T09:00:00Z".parse().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();

    let start = Instant::now();
    let policy = policy::load_dir(&org.join("policies"), &org).unwrap();
    let roster = roster::load(
        policy.people.as_ref().unwrap(),
        &org,
        &policy.defaults.timezone,
    )
    .unwrap();
    let observed = rt.block_on(connector::refresh(&policy, &org, &|_| {}));
    let parse = start.elapsed().as_secs_f64();
    let accounts: usize = observed.systems.values().map(|s| s.accounts.len()).sum();
    println!(
        "parse only ({} people, {accounts} accounts): {parse:.2} s",
        roster.people.len()
    );

    let start = Instant::now();
    let plan = reconcile::plan(&PlanInput {
        policy: &policy,
        roster: &roster,
        observed: &observed,
        now,
        only: None,
        known_tasks: None,
        git_commit: None,
        dirty: None,
    })
    .unwrap();
    let planning = start.elapsed().as_secs_f64();
    println!(
        "plan in-process (after parsing): {planning:.2} s, {} changes; parse + plan = {:.2} s ({:.2}x parse)",
        plan.changes.len(),
        parse + planning,
        (parse + planning) / parse
    );

    // Every rule for every person, as a worst case (the planner only evaluates leavers).
    let contexts: Vec<_> = roster
        .people
        .iter()
        .map(|p| offboard::reconcile::person_context(p, &policy))
        .collect();
    let start = Instant::now();
    let mut matched = 0usize;
    for ctx in &contexts {
        for rule in &policy.rules {
            if rule.condition.value.eval(ctx, None, now).unwrap_or(false) {
                matched += 1;
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "rule evaluation: {} people x {} rules = {} evaluations in {secs:.2} s ({:.0} ns each, {matched} matched)",
        contexts.len(),
        policy.rules.len(),
        contexts.len() * policy.rules.len(),
        secs * 1e9 / (contexts.len() * policy.rules.len()).max(1) as f64
    );
}
