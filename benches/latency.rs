//! Apply throughput against a latency-injecting SCIM stand-in (benches/latency_injecting_scim.rs):
//! 10,000 disables over 10 systems at 20 ms per request, concurrency 8 per system, and the
//! achieved time divided by the ideal Σ over tiers of max over systems of
//! (requests × latency ÷ concurrency); then the same apply journaled in PostgreSQL (a real
//! server the harness starts; `bash tests/run.sh` installs it) as a ratio to the SQLite
//! journal's time in the same run. Run with `cargo bench --bench latency`.

use offboard_test_support as common;
mod latency_injecting_scim;

use std::sync::Arc;
use std::time::{Duration, Instant};

use offboard::connector::Connector;
use offboard::connector::scim::ScimSettings;
use offboard::connector::scim::{Scim, Token};
use offboard::journal::ActionOutcome;
use offboard::policy::{Action, SecretRef, Tier};

const SYSTEMS: usize = 10;
const PER_SYSTEM: usize = 1000;
const LATENCY_MS: u64 = 20;
const CONCURRENCY: usize = 8;
/// Requests per change: a conditional PATCH (If-Match the planned version) and the
/// read-back (GET user). The pre-read is needed only when the PATCH finds a change.
const REQUESTS_PER_CHANGE: usize = 2;

fn main() {
    // The PostgreSQL client blocks on a runtime of its own: journals are opened outside
    // the runtime that drives the apply (as `offboard apply` does; appends then run on the
    // journal's writer thread).
    let runtime = || {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    let sqlite =
        offboard::journal::Journal::create(&dir.path().join("j.db"), "bench", "h").unwrap();
    // Each executor (and its journal) is dropped outside the runtime, for the same reason.
    let (sqlite_secs, _done) = runtime().block_on(apply(sqlite, "SQLite journal"));
    let pg = common::Postgres::start();
    let postgres = offboard::journal::Journal::create_postgres(&pg.url(), "bench", "h").unwrap();
    let (pg_secs, _done) = runtime().block_on(apply(postgres, "PostgreSQL journal"));
    println!(
        "PostgreSQL journal / SQLite journal = {:.2}",
        pg_secs / sqlite_secs
    );
}

/// Apply the disables against a fresh stand-in, journaled in `journal`; the seconds taken,
/// and the executor (to be dropped by the caller).
async fn apply(
    journal: offboard::journal::Journal,
    label: &str,
) -> (f64, offboard::apply::Executor) {
    let port =
        latency_injecting_scim::start(SYSTEMS, PER_SYSTEM, Duration::from_millis(LATENCY_MS));
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        std::thread::sleep(Duration::from_millis(50));
    }

    let mut changes = Vec::new();
    let mut systems = Vec::new();
    for s in 0..SYSTEMS {
        let cfg = ScimSettings {
            url: format!("http://127.0.0.1:{port}/t{s}/v2"),
            token: SecretRef::Env("UNUSED".into()),
            page_size: 1000,
            timeout: jiff::SignedDuration::from_secs(30),
            hard_delete: false,
            manage_groups: false,
            user_attribute: "userName".into(),
        };
        let scim = Scim::new(&format!("sys{s}"), &cfg, Token::new("t")).unwrap();
        for a in scim.list_accounts().await.unwrap() {
            changes.push(common::change_for(
                &format!("sys{s}"),
                Tier::IdentityProvider,
                &a,
                vec![Action::Disable],
                None,
            ));
        }
        let connector: Arc<dyn Connector> = Arc::new(scim);
        systems.push((format!("sys{s}"), connector, CONCURRENCY));
    }
    let plan = common::plan_of(changes);
    let executor = common::executor_with(systems, journal);
    let start = Instant::now();
    let reports = executor.execute(&plan, &|_| {}).await.unwrap();
    let secs = start.elapsed().as_secs_f64();
    let done = reports
        .iter()
        .filter(|r| r.outcome == ActionOutcome::Done)
        .count();
    // One tier; every system has PER_SYSTEM changes.
    let ideal =
        (PER_SYSTEM * REQUESTS_PER_CHANGE) as f64 * LATENCY_MS as f64 / 1000.0 / CONCURRENCY as f64;
    println!(
        "{label}: apply {} disables over {SYSTEMS} systems at {LATENCY_MS} ms, concurrency {CONCURRENCY}: {secs:.2} s ({:.0}/s), ideal {ideal:.2} s, achieved/ideal = {:.2} ({done} confirmed)",
        reports.len(),
        reports.len() as f64 / secs,
        secs / ideal
    );
    (secs, executor)
}
