//! Graph connector throughput against `GraphStandIn` with Microsoft-like latency.
//!
//! A tenant of 10,000 users, every answer delayed by 50 ms (a round trip to Graph from a CI
//! runner). Prints: listing the tenant (users paged by 999, then ten users' groups and app
//! roles per `$batch`, `read-concurrency` batches at a time), and apply of `disable` +
//! `revoke-sessions` for 1,000 leavers through the executor (a batched read, two writes, a
//! batched read-back, the journal). Each figure is
//! set beside the ideal of the same run: the fewest requests that work needs, times the
//! latency, divided by the concurrency. Run with `cargo bench --bench graph`
//! (`GRAPH_BENCH_LEAVERS=10000` applies to the whole tenant).

use offboard_test_support as common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use offboard::connector::graph::{Graph, GraphSettings};
use offboard::connector::{Connector, SystemSnapshot};
use offboard::policy::Action;

const USERS: usize = 10_000;
const LATENCY: Duration = Duration::from_millis(50);
const CONCURRENCY: usize = 16;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let leavers: usize = std::env::var("GRAPH_BENCH_LEAVERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
        .min(USERS);
    let graph = common::GraphStandIn::start();
    let all = graph.add_group("All Company", common::GroupKind::Assigned, &[]);
    let ids: Vec<String> = (0..USERS)
        .map(|i| {
            let id = graph.add_user(common::GraphUser::new(&format!("u{i}@acme.com")));
            graph.add_member(&all, &id);
            id
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let cfg = GraphSettings {
        read_concurrency: CONCURRENCY as u32,
        ..graph.settings(dir.path())
    };
    graph.set_latency(LATENCY);
    let ms = LATENCY.as_secs_f64();

    let c = Graph::new("bench", &cfg, dir.path()).unwrap();
    graph.clear_requests();
    let start = Instant::now();
    let accounts = c.list_accounts().await.unwrap();
    let s = start.elapsed().as_secs_f64();
    assert_eq!(accounts.len(), USERS);
    let requests = graph.requests().len();
    // The fewest: the pages (999 users each) in sequence, then each user's two reads, 20 to
    // a `$batch` (Graph's most), `CONCURRENCY` batches at a time.
    let pages = USERS.div_ceil(999);
    let batches = (2 * USERS).div_ceil(20);
    let ideal = pages as f64 * ms + batches as f64 * ms / CONCURRENCY as f64;
    println!(
        "list {USERS} users with groups and app roles, {}-ms latency, read-concurrency {CONCURRENCY}: {s:.1} s, {requests} requests; ideal {ideal:.1} s; offboard / ideal = {:.2}",
        LATENCY.as_millis(),
        s / ideal
    );

    let snapshot = SystemSnapshot::new(accounts);
    let c = Graph::new("bench", &cfg, dir.path()).unwrap();
    graph.clear_requests();
    let actions = [Action::Disable, Action::RevokeSessions];
    let s = common::apply_timed(
        Arc::new(c),
        &snapshot,
        &ids[..leavers],
        &actions,
        CONCURRENCY,
    )
    .await;
    let requests = graph.requests().len();
    let per_change = requests as f64 / leavers as f64;
    // The fewest: the two writes (PATCH accountEnabled, POST revokeSignInSessions).
    let ideal = (2 * leavers) as f64 * ms / CONCURRENCY as f64;
    let measured_ideal = per_change * leavers as f64 * ms / CONCURRENCY as f64;
    println!(
        "apply disable + revoke-sessions to {leavers} of {USERS} users, concurrency {CONCURRENCY}: {s:.1} s ({:.1} changes/s), {per_change:.2} requests per change",
        leavers as f64 / s
    );
    println!(
        "  ideal with 2 writes per change: {ideal:.1} s; offboard / ideal = {:.2}",
        s / ideal
    );
    println!(
        "  ideal with offboard's {per_change:.2} requests per change (batched read, writes, batched read-back): {measured_ideal:.1} s; offboard / that = {:.2}",
        s / measured_ideal
    );
    drop(graph);
}
