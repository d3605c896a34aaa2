//! Google connector throughput against `GoogleStandIn` with Google-like latency.
//!
//! A domain of 10,000 users in 20 groups, every answer delayed by 50 ms. Prints: listing the
//! domain (users paged by 500, the groups, then each group's members) and apply of
//! `disable` and `revoke-sessions` for 1,000 leavers through the executor, each beside the ideal of the
//! same run (the fewest requests at the latency and concurrency). Google announces no rate
//! limit in headers: its quotas answer 403 `rateLimitExceeded` or 429 (see the tests).
//! Run with `cargo bench --bench google`.

use offboard_test_support as common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use offboard::connector::google::Google;
use offboard::connector::{Connector, SystemSnapshot};
use offboard::policy::Action;

const USERS: usize = 10_000;
const GROUPS: usize = 20;
const LATENCY: Duration = Duration::from_millis(50);
const CONCURRENCY: usize = 16;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let google = common::GoogleStandIn::start();
    google.add_admin();
    let ids: Vec<String> = (0..USERS)
        .map(|i| google.add_user(common::GoogleUser::new(&format!("u{i}@acme.com"))))
        .collect();
    for g in 0..GROUPS {
        let members: Vec<&str> = ids
            .iter()
            .skip(g)
            .step_by(GROUPS)
            .map(String::as_str)
            .collect();
        google.add_group(
            &format!("team-{g}@acme.com"),
            &format!("team {g}"),
            &members,
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = google.settings(dir.path());
    google.set_latency(LATENCY);
    let ms = LATENCY.as_secs_f64();

    let connector = Google::new("bench", &cfg, dir.path()).unwrap();
    google.clear_requests();
    let start = Instant::now();
    let accounts = connector.list_accounts().await.unwrap();
    let s = start.elapsed().as_secs_f64();
    assert_eq!(accounts.len(), USERS + 1);
    let requests = google.requests().len();
    // The fewest: the token, user pages (500 each) and the group page in sequence, then each
    // group's member pages (200 each), eight groups at a time.
    let member_pages = GROUPS * (USERS / GROUPS).div_ceil(200);
    let ideal = (1 + (USERS + 1).div_ceil(500) + 1) as f64 * ms
        + member_pages.div_ceil(8) as f64 * ms * 1.0;
    println!(
        "list {USERS} users in {GROUPS} groups, {}-ms latency: {s:.1} s, {requests} requests; ideal {ideal:.1} s; offboard / ideal = {:.2}",
        LATENCY.as_millis(),
        s / ideal
    );

    let snapshot = SystemSnapshot::new(accounts);
    let leavers = 1000;
    let connector = Google::new("bench", &cfg, dir.path()).unwrap();
    google.clear_requests();
    let actions = [Action::Disable, Action::RevokeSessions];
    let s = common::apply_timed(
        Arc::new(connector),
        &snapshot,
        &ids[..leavers],
        &actions,
        CONCURRENCY,
    )
    .await;
    let per_change = google.requests().len() as f64 / leavers as f64;
    // The fewest: suspend, sign out, list and delete tokens, list app passwords (none here).
    let fewest = 4.0;
    let ideal = fewest * leavers as f64 * ms / CONCURRENCY as f64;
    let with_ours = per_change * leavers as f64 * ms / CONCURRENCY as f64;
    println!(
        "apply disable + revoke-sessions to {leavers} of {USERS} users, concurrency {CONCURRENCY}: {s:.1} s ({:.1} changes/s), {per_change:.2} requests per change; ideal with {fewest} requests per change {ideal:.1} s; offboard / ideal = {:.2}; with offboard's requests {with_ours:.1} s, offboard / that = {:.2}",
        leavers as f64 / s,
        s / ideal,
        s / with_ours
    );
    drop(google);
}
