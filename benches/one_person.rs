//! Time to zero for one leaver: `offboard apply -p` (the binary, from command start to exit,
//! the re-audit included) against the latency-injecting SCIM stand-in, with 10 systems across
//! 4 tiers and 50 ms per request, at 1,000 and at 100,000 accounts per system. Beside it, the
//! full read a plan without `-p` makes (`offboard plan`), at the same sizes.
//!
//! The ideal is the request chain that cannot be shortened: one lookup per system (all
//! systems at once), then per tier the slowest system's chain for one account (a conditional
//! PATCH and its read-back; the first request to a system also asks for its service provider
//! configuration), then the re-audit's lookup. The target: within 1.5x of the ideal, and the
//! same time at both sizes. Run with `cargo bench --bench one_person`.

mod latency_injecting_scim;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const SYSTEMS: usize = 10;
const LATENCY: Duration = Duration::from_millis(50);
/// Tiers in revocation order, and how many systems each holds (10 in all).
const TIERS: [(&str, usize); 4] = [
    ("identity-provider", 1),
    ("directory", 2),
    ("privileged", 3),
    ("business", 4),
];
/// People in the roster; the leaver is one of them.
const PEOPLE: usize = 1000;
const LEAVER: &str = "u42@acme.example";
/// Requests in the ideal chain: lookup, then per tier the service provider configuration,
/// the conditional PATCH and the read-back, then the re-audit's lookup.
const IDEAL_REQUESTS: u32 = 1 + 4 * 3 + 1;

fn main() {
    let offboard = env!("CARGO_BIN_EXE_offboard");
    let ideal = LATENCY * IDEAL_REQUESTS;
    println!(
        "one leaver, {SYSTEMS} systems in 4 tiers, {} ms per request; ideal {:.2} s",
        LATENCY.as_millis(),
        ideal.as_secs_f64()
    );
    for accounts in [1_000, 100_000] {
        let port = latency_injecting_scim::start(SYSTEMS, accounts, LATENCY);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            std::thread::sleep(Duration::from_millis(20));
        }
        let dir = tempfile::tempdir().expect("tempdir");
        write_repository(dir.path(), port);
        run(offboard, dir.path(), &["journal", "init"]);
        let started = Instant::now();
        let out = run(
            offboard,
            dir.path(),
            &["apply", "-p", LEAVER, "--auto-approve"],
        );
        let targeted = started.elapsed();
        assert!(
            out.contains(&format!("{SYSTEMS} disabled"))
                && out.contains("0 active credentials remain for 1 leaver"),
            "{out}"
        );
        let started = Instant::now();
        run(offboard, dir.path(), &["plan", "--summary"]);
        let full = started.elapsed();
        println!(
            "{accounts:>7} accounts per system: apply -p {:.2} s ({:.2}x ideal); full-read plan {:.2} s",
            targeted.as_secs_f64(),
            targeted.as_secs_f64() / ideal.as_secs_f64(),
            full.as_secs_f64()
        );
    }
}

/// `offboard -C dir ARGS...`; its stdout, or a panic with everything it printed.
fn run(offboard: &str, dir: &Path, args: &[&str]) -> String {
    let out = Command::new(offboard)
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("BENCH_SCIM_TOKEN", "bench-token")
        .env("NO_COLOR", "1")
        .env("OFFBOARD_ACTOR", "bench@acme.example")
        .output()
        .expect("offboard runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "offboard {args:?}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// A policy repository: the SCIM systems (one stand-in tenant each), and a roster of
/// `u0..` with one involuntary leaver.
fn write_repository(dir: &Path, port: u16) {
    std::fs::create_dir_all(dir.join("policies")).expect("policies/");
    std::fs::create_dir_all(dir.join("inventory")).expect("inventory/");
    let mut systems = String::new();
    let mut s = 0;
    for (tier, count) in TIERS {
        for _ in 0..count {
            systems.push_str(&format!(
                "system app-{s} {{\n    connector scim url=\"http://127.0.0.1:{port}/t{s}/v2\" token-env=BENCH_SCIM_TOKEN page-size=1000 manage-groups=#false\n    tier {tier}\n    correlate email=\"email\"\n    on-leave disable\n}}\n"
            ));
            s += 1;
        }
    }
    std::fs::write(dir.join("policies/systems.kdl"), systems).expect("systems.kdl");
    std::fs::write(
        dir.join("policies/settings.kdl"),
        "defaults { cutoff immediately; concurrency 8 }\npeople { source csv path=\"inventory/people.csv\"; key email }\n",
    )
    .expect("settings.kdl");
    let mut roster = String::from("email,name,status,termination_type,termination_at\n");
    for i in 0..PEOPLE {
        let email = format!("u{i}@acme.example");
        if email == LEAVER {
            roster.push_str(&format!(
                "{email},U {i},terminated,involuntary,2026-11-01T09:00:00Z\n"
            ));
        } else {
            roster.push_str(&format!("{email},U {i},active,,\n"));
        }
    }
    std::fs::write(dir.join("inventory/people.csv"), roster).expect("people.csv");
}
