//! Okta connector throughput against `OktaStandIn` with Okta-like latency and rate limits.
//!
//! A tenant of 10,000 users in 20 groups, every answer delayed by 50 ms. Prints: listing the
//! org (users paged by 200, deactivated users, then each group's members); apply of
//! `disable` + `revoke-sessions` for 1,000 leavers with no rate limit, against the ideal of
//! its requests at the latency and concurrency; and apply for 100 leavers under a rate limit
//! announced in `X-Rate-Limit-*` headers (1,200 requests a minute, in 5-second windows),
//! against the ideal the limit allows after offboard's reserve, and how many 429s it met.
//! Run with `cargo bench --bench okta`.

use offboard_test_support as common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use offboard::connector::okta::{Okta, OktaSettings};
use offboard::connector::{Connector, SystemSnapshot};
use offboard::policy::Action;

const USERS: usize = 10_000;
const GROUPS: usize = 20;
const LATENCY: Duration = Duration::from_millis(50);
const CONCURRENCY: usize = 16;

async fn apply(
    okta: &common::OktaStandIn,
    cfg: &OktaSettings,
    dir: &std::path::Path,
    snapshot: &SystemSnapshot,
    ids: &[String],
) -> (f64, usize) {
    let connector = Okta::new("bench", cfg, dir).unwrap();
    okta.clear_requests();
    let actions = [Action::Disable, Action::RevokeSessions];
    let s = common::apply_timed(Arc::new(connector), snapshot, ids, &actions, CONCURRENCY).await;
    (s, okta.requests().len())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let okta = common::OktaStandIn::start();
    let ids: Vec<String> = (0..USERS)
        .map(|i| okta.add_user(common::OktaUser::new(&format!("u{i}@acme.com"))))
        .collect();
    for g in 0..GROUPS {
        let members: Vec<&str> = ids
            .iter()
            .skip(g)
            .step_by(GROUPS)
            .map(String::as_str)
            .collect();
        okta.add_group(&format!("team-{g}"), "OKTA_GROUP", &members);
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = okta.settings(dir.path(), &okta.url());
    okta.set_latency(LATENCY);
    let ms = LATENCY.as_secs_f64();

    let connector = Okta::new("bench", &cfg, dir.path()).unwrap();
    okta.clear_requests();
    let start = Instant::now();
    let accounts = connector.list_accounts().await.unwrap();
    let s = start.elapsed().as_secs_f64();
    assert_eq!(accounts.len(), USERS);
    let requests = okta.requests().len();
    // The fewest: user pages in sequence, one deactivated page, the group page, then each
    // group's member pages (1,000 a page), eight groups at a time.
    let member_pages = GROUPS * (USERS / GROUPS).div_ceil(1000);
    let ideal = (USERS.div_ceil(200) + 2) as f64 * ms + member_pages as f64 * ms / 8.0;
    println!(
        "list {USERS} users in {GROUPS} groups, {}-ms latency: {s:.1} s, {requests} requests; ideal {ideal:.1} s; offboard / ideal = {:.2}",
        LATENCY.as_millis(),
        s / ideal
    );
    let snapshot = SystemSnapshot::new(accounts);

    let leavers = 1000;
    let (s, requests) = apply(&okta, &cfg, dir.path(), &snapshot, &ids[..leavers]).await;
    let per_change = requests as f64 / leavers as f64;
    // The fewest: suspend, clear sessions (with OAuth tokens), revoke grants.
    let ideal = (3 * leavers) as f64 * ms / CONCURRENCY as f64;
    println!(
        "apply disable + revoke-sessions to {leavers} of {USERS} users, no rate limit, concurrency {CONCURRENCY}: {s:.1} s, {per_change:.2} requests per change; ideal with 3 writes per change {ideal:.1} s; offboard / ideal = {:.2}; with offboard's requests {:.1} s, offboard / that = {:.2}",
        s / ideal,
        per_change * leavers as f64 * ms / CONCURRENCY as f64,
        s / (per_change * leavers as f64 * ms / CONCURRENCY as f64)
    );

    // Under Okta's rate limit, announced in X-Rate-Limit-* headers.
    let (limit, window) = (100u32, Duration::from_secs(5));
    okta.set_rate_limit(limit, window);
    let leavers = 100;
    let rest = &ids[1000..1000 + leavers];
    let (s, requests) = apply(&okta, &cfg, dir.path(), &snapshot, rest).await;
    let usable = f64::from(limit) * (1.0 - f64::from(cfg.rate_limit_reserve) / 100.0);
    let ideal = requests as f64 / usable * window.as_secs_f64();
    println!(
        "apply to {leavers} leavers under a limit of {limit} requests per {} s (reserve {}%): {s:.1} s, {requests} requests, {} answered 429; ideal at the usable rate {ideal:.1} s; offboard / ideal = {:.2}",
        window.as_secs(),
        cfg.rate_limit_reserve,
        okta.requests_over_limit(),
        s / ideal
    );
    drop(okta);
}
