//! SCIM connector throughput against the real scim2-server (PyPI scim2-server 0.8.3).
//!
//! Prints figures: list throughput for 5,000 users, and apply throughput (PATCH active=false
//! with If-Match, then read-back) through the executor, next to a plain HTTP client doing
//! the same PATCH + GET per user. Run with `cargo bench --bench scim` after
//! `bash tests/run.sh` has installed the server into target/venv.

use offboard_test_support as common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use offboard::connector::scim::ScimSettings;
use offboard::connector::scim::{Scim, Token};
use offboard::connector::{Connector, SystemSnapshot};
use offboard::plan::Change;
use offboard::policy::{Action, SecretRef, Tier};

const USERS: usize = 5000;
const APPLY: usize = 1000;
const CONCURRENCY: usize = 4;

fn connector(url: &str, page_size: u32) -> Scim {
    let cfg = ScimSettings {
        url: url.to_string(),
        token: SecretRef::Env("UNUSED".into()),
        page_size,
        timeout: jiff::SignedDuration::from_secs(30),
        hard_delete: false,
        manage_groups: false,
        user_attribute: "userName".into(),
    };
    Scim::new("bench", &cfg, Token::new(common::SCIM_TOKEN)).unwrap()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let server = tokio::task::spawn_blocking(common::ScimServer::start)
        .await
        .unwrap();
    let url = server.url("bench");
    let client = Arc::new(common::ScimClient::new(&url));
    let start = Instant::now();
    let ids: Vec<String> = futures::stream::iter(0..USERS)
        .map(|i| {
            let client = client.clone();
            async move {
                client
                    .create_user(&format!("u{i}@acme.com"), &format!("u{i}@acme.com"), true)
                    .await
            }
        })
        .buffered(CONCURRENCY)
        .collect()
        .await;
    println!(
        "seeded {USERS} users in {:.2} s",
        start.elapsed().as_secs_f64()
    );

    for page in [100u32, 500] {
        let c = connector(&url, page);
        let start = Instant::now();
        let accounts = c.list_accounts().await.unwrap();
        let s = start.elapsed().as_secs_f64();
        assert_eq!(accounts.len(), USERS);
        println!(
            "list {USERS} users, page size {page}: {s:.2} s ({:.0} users/s)",
            USERS as f64 / s
        );
    }

    // Apply: disable the first APPLY users through the executor (conditional PATCH, read-back).
    let c = connector(&url, 500);
    let snapshot = SystemSnapshot::new(c.list_accounts().await.unwrap());
    let by_id: BTreeMap<&str, _> = snapshot
        .accounts
        .iter()
        .map(|a| (a.id.as_str(), a))
        .collect();
    let changes: Vec<Change> = ids[..APPLY]
        .iter()
        .map(|id| {
            let a = by_id[id.as_str()];
            common::change_for(
                "bench",
                Tier::IdentityProvider,
                a,
                vec![Action::Disable],
                None,
            )
        })
        .collect();
    let plan = common::plan_of(changes);
    let dir = tempfile::tempdir().unwrap();
    let executor = common::executor(vec![("bench".into(), Arc::new(c), CONCURRENCY)], dir.path());
    let start = Instant::now();
    let reports = executor.execute(&plan, &|_| {}).await.unwrap();
    let s = start.elapsed().as_secs_f64();
    assert!(
        reports
            .iter()
            .all(|r| r.outcome == offboard::journal::ActionOutcome::Done)
    );
    let ours = APPLY as f64 / s;
    let calls = reports.iter().map(|r| r.attempts as f64).sum::<f64>() / reports.len() as f64;
    println!(
        "apply {APPLY} disables via offboard (PATCH If-Match the planned version, read-back, journal), concurrency {CONCURRENCY}: {s:.2} s ({ours:.0} accounts/s, {calls:.2} requests per account)"
    );

    // Baseline: a plain HTTP client doing PATCH + GET per user on the next APPLY users.
    let http = reqwest::Client::new();
    let start = Instant::now();
    futures::stream::iter(ids[APPLY..2 * APPLY].iter().cloned())
        .map(|id| {
            let http = http.clone();
            let url = url.clone();
            async move {
                let body = serde_json::json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "replace", "path": "active", "value": false}]});
                let r = http.patch(format!("{url}/Users/{id}")).bearer_auth(common::SCIM_TOKEN)
                    .header("Content-Type", "application/scim+json").body(body.to_string()).send().await.unwrap();
                assert!(r.status().is_success());
                let r = http.get(format!("{url}/Users/{id}")).bearer_auth(common::SCIM_TOKEN).send().await.unwrap();
                assert!(r.status().is_success());
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
    let s = start.elapsed().as_secs_f64();
    let plain = APPLY as f64 / s;
    println!(
        "plain HTTP client PATCH + GET, concurrency {CONCURRENCY}: {s:.2} s ({plain:.0} accounts/s)"
    );
    println!("offboard / plain = {:.2}", ours / plain);
    drop(server);
}
