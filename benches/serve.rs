//! Webhook received -> identity-provider account disabled (read back), for one involuntary
//! leaver, through `offboard serve`, against a real SCIM server (PyPI scim2-server) holding
//! 500 accounts. The reference, in the same run: `offboard apply -p PERSON --auto-approve`
//! for another leaver of the same organisation, from command start to exit (a targeted read,
//! the change, its read-back and the re-audit). Serve skips the process start and policy
//! load but adds the signature check, the trigger's journal write and the hand-off to its
//! worker. Run with `cargo bench --bench serve` (after `bash tests/run.sh` installed the
//! SCIM server).

use std::path::Path;
use std::time::{Duration, Instant};

use offboard::server::signature::{Scheme, sign};
use offboard_test_support as common;

const PEOPLE: usize = 500;
const TOKEN_VAR: &str = "OFFBOARD_BENCH_SCIM_TOKEN";
const SECRET: &str = "bench-webhook-secret-1a2b3c";
const ROUNDS: usize = 5;

fn main() {
    let scim = common::ScimServer::start();
    let client = common::ScimClient::new(&scim.url("idp"));
    let rt = common::runtime();
    let mut ids = Vec::new();
    for i in 0..PEOPLE {
        ids.push(rt.block_on(client.create_user(
            &format!("u{i}"),
            &format!("u{i}@acme.example"),
            true,
        )));
    }
    let dir = tempfile::tempdir().expect("tempdir");
    write_repository(dir.path(), scim.port);
    common::offboard(dir.path())
        .args(["journal", "init"])
        .assert()
        .success();
    let active = |i: usize| {
        rt.block_on(client.user(&ids[i]))
            .is_some_and(|u| u["active"] != false)
    };

    // Reference: the CLI, one leaver the roster already lists (u1..=ROUNDS).
    let mut cli = Vec::new();
    for i in 1..=ROUNDS {
        let started = Instant::now();
        common::offboard(dir.path())
            .env(TOKEN_VAR, common::SCIM_TOKEN)
            .env("OFFBOARD_NO_NOTIFY", "1")
            .args([
                "apply",
                "-p",
                &format!("u{i}@acme.example"),
                "--auto-approve",
            ])
            .assert()
            .success();
        cli.push(started.elapsed());
        assert!(!active(i));
    }

    // Serve: webhooks for active people (u101..), each timed to the SCIM read-back.
    let serving = common::ServeProcess::start(
        dir.path(),
        &[(TOKEN_VAR, common::SCIM_TOKEN), ("HR_SECRET", SECRET)],
        &["--tick", "1h", "--reconcile-every", "24h", "--no-notify"],
    );
    // The start-up reconcile reads everything once; wait for it.
    let start = Instant::now();
    while !serving.get("/metrics").1.contains("offboard_leavers_due 0") {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "{}",
            serving.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let scheme = Scheme::Generic {
        signature_header: "X-Offboard-Signature".into(),
        timestamp_header: "X-Offboard-Timestamp".into(),
    };
    let mut hooks = Vec::new();
    for round in 0..ROUNDS {
        let i = 101 + round;
        let body = serde_json::json!({
            "event_id": format!("bench-{i}"),
            "type": "termination",
            "person": {"email": format!("u{i}@acme.example")},
            "termination_type": "involuntary",
        })
        .to_string();
        let headers = sign(
            &scheme,
            SECRET.as_bytes(),
            body.as_bytes(),
            jiff::Timestamp::now(),
        );
        let started = Instant::now();
        let (status, answer) = serving.post("/hooks/hr/hr", &headers, body.as_bytes());
        assert_eq!(status, 202, "{answer}");
        while active(i) {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{}",
                serving.log()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        hooks.push(started.elapsed());
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let cli = median(&mut cli);
    let hook = median(&mut hooks);
    println!(
        "{PEOPLE} accounts, real scim2-server, median of {ROUNDS}:\n  webhook -> account disabled (read back): {:.3} s\n  reference `offboard apply -p PERSON --auto-approve`: {:.3} s\n  ratio webhook / CLI: {:.2}x",
        hook.as_secs_f64(),
        cli.as_secs_f64(),
        hook.as_secs_f64() / cli.as_secs_f64()
    );
    println!(
        "  serve's own figure (received -> re-audit, offboard_trigger_to_zero_active_seconds): {}",
        serving
            .get("/metrics")
            .1
            .lines()
            .filter(
                |l| l.starts_with("offboard_trigger_to_zero_active_seconds_sum")
                    || l.starts_with("offboard_trigger_to_zero_active_seconds_count")
            )
            .collect::<Vec<_>>()
            .join(", ")
    );
}

fn write_repository(dir: &Path, port: u16) {
    std::fs::create_dir_all(dir.join("policies")).expect("policies");
    std::fs::write(
        dir.join("policies/policy.kdl"),
        format!(
            r#"defaults {{
    max-disable-share "100%"
}}
people {{
    source csv path="people.csv"
}}
system idp {{
    connector scim url="http://127.0.0.1:{port}/idp/v2" token-env="{TOKEN_VAR}"
    tier identity-provider
    correlate email="email"
    on-leave disable
}}
rule involuntary {{
    when "person.termination_type == \"involuntary\""
    cutoff immediately
    auto-apply #true
}}
trigger "hr" scheme="generic" secret-env="HR_SECRET"
"#
        ),
    )
    .expect("policy");
    let mut csv = String::from("employee_id,email,name,status,termination_type,last_day\n");
    for i in 0..PEOPLE {
        let leaving = (1..=ROUNDS).contains(&i);
        csv.push_str(&format!(
            "E{i},u{i}@acme.example,User {i},{},{},{}\n",
            if leaving { "terminated" } else { "active" },
            if leaving { "involuntary" } else { "" },
            if leaving { "2026-11-02" } else { "" },
        ));
    }
    std::fs::write(dir.join("people.csv"), csv).expect("roster");
    common::commit_all(dir, "bench");
}
