//! Figures on a generated organisation (see `offboard-gen`): parse-only time (policy, roster
//! and every export read, nothing planned), parse-and-plan time in-process (what `offboard
//! plan` does), and rule evaluation
//! (every rule's condition for every person). Prints figures; run through
//! `bash benches/run.sh`, or directly: `OFFBOARD_BENCH_ORG=/tmp/org cargo bench --bench org`.

use std::path::PathBuf;
use std::time::Instant;

// The same allocator as the `offboard` binary, so the figures are the binary's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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

    // Parse only: the policy, the roster and every export, nothing correlated or planned.
    let start = Instant::now();
    let (policy, roster) = load(&org);
    let roster_secs = start.elapsed().as_secs_f64();
    let observed = rt.block_on(connector::refresh(&policy, &org, &|_| {}));
    let parse = start.elapsed().as_secs_f64();
    let accounts: usize = observed.systems.values().map(|s| s.total).sum();
    println!(
        "parse only ({} people, {accounts} accounts): {parse:.2} s (policy and roster {roster_secs:.2} s)",
        roster.people.len()
    );
    drop((observed, roster, policy));

    // What `offboard plan` does: the same reading, keeping only the accounts a plan can
    // act on, then planning.
    let start = Instant::now();
    let (policy, roster) = load(&org);
    let keep = reconcile::plan_relevance(&policy, &roster, None);
    let observed = rt.block_on(connector::refresh_keeping(&policy, &org, &|_| {}, &keep));
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
        "parse and plan in-process: {planning:.2} s, {} changes ({:.2}x parse only)",
        plan.changes.len(),
        planning / parse
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

/// The policy and the roster of a generated organisation.
fn load(org: &std::path::Path) -> (policy::Policy, roster::Roster) {
    let policy = policy::load_dir(&org.join("policies"), org).unwrap();
    let roster = roster::load(
        policy.people.as_ref().unwrap(),
        org,
        &policy.defaults.timezone,
    )
    .unwrap();
    (policy, roster)
}
