//! Crash safety: `offboard apply` killed with SIGKILL at spread-out points, 20 times, with
//! the journal in a SQLite file and again in a real PostgreSQL server.
//!
//! Each time a re-run of the same plan file must converge (0 active credentials), no
//! destructive action may have run twice, and the journal's hash chain must verify.

use offboard_test_support as common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use assert_cmd::cargo::CommandCargoExt;
use offboard::journal::{ACTION_RESULT, ActionResult, Journal, Table};
use offboard::policy::Action;

const AT: &str = "2026-11-23T09:00:00Z";
const RUNS: u64 = 20;

/// `offboard -C dir`, with the journal at `journal` (a connection string) when given.
fn offboard_with(dir: &Path, journal: Option<&str>) -> std::process::Command {
    let mut cmd = std::process::Command::cargo_bin("offboard").unwrap();
    cmd.env("OFFBOARD_NO_NOTIFY", "1");
    cmd.arg("-C")
        .arg(dir)
        .arg("--quiet")
        .env("OFFBOARD_ACTOR", "crash-test");
    if let Some(url) = journal {
        cmd.env("OFFBOARD_JOURNAL", url);
    }
    cmd
}

fn run_ok(cmd: &mut std::process::Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{:?} failed:\n{}\n{}",
        cmd,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A generated organisation big enough that apply takes a while.
fn organisation() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    common::init_journal(dir.path());
    let options = offboard_gen::Options {
        people: 1000,
        accounts: 5000,
        systems: 5,
        ..Default::default()
    };
    offboard_gen::generate(&options, dir.path()).unwrap();
    dir
}

#[test]
fn killed_applies_converge_without_repeating_destructive_actions() {
    killed_applies_converge(&|_| None);
}

/// The same with the journal in PostgreSQL: a fresh database per run.
#[test]
fn killed_applies_converge_with_a_postgres_journal() {
    let pg = common::Postgres::start();
    killed_applies_converge(&|run| {
        let url = pg.database(&format!("crash{run}"));
        let out = offboard_with(Path::new("."), Some(&url))
            .args(["journal", "init"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(url)
    });
}

/// Kill and re-run 20 times; `journal_for(run)` gives run `run` its journal (`None`: the
/// organisation's SQLite file).
fn killed_applies_converge(journal_for: &dyn Fn(u64) -> Option<String>) {
    let template = organisation();
    // Measure a full apply once, to spread the kill points over its duration.
    let probe = tempfile::tempdir().unwrap();
    common::copy_dir(template.path(), probe.path());
    let journal = journal_for(RUNS);
    let offboard = |dir: &Path| offboard_with(dir, journal.as_deref());
    let plan = probe.path().join("p.json");
    run_ok(
        offboard(probe.path())
            .args(["plan", "--at", AT, "--out"])
            .arg(&plan),
    );
    let start = Instant::now();
    run_ok(offboard(probe.path()).arg("apply").arg(&plan));
    let full = start.elapsed().max(Duration::from_millis(50));

    let mut killed_mid_run = 0;
    for i in 0..RUNS {
        let journal = journal_for(i);
        let offboard = |dir: &Path| offboard_with(dir, journal.as_deref());
        let dir = tempfile::tempdir().unwrap();
        common::copy_dir(template.path(), dir.path());
        let plan: PathBuf = dir.path().join("p.json");
        run_ok(
            offboard(dir.path())
                .args(["plan", "--at", AT, "--out"])
                .arg(&plan),
        );

        // Deterministic, spread-out kill points: from just after start to past the end.
        let delay = full.mul_f64((i as f64 + 0.5) / RUNS as f64 * 1.1);
        let mut child = offboard(dir.path())
            .arg("apply")
            .arg(&plan)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        if child.try_wait().unwrap().is_none() {
            killed_mid_run += 1;
        }
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();

        // The re-run converges.
        let out = run_ok(offboard(dir.path()).arg("apply").arg(&plan));
        assert!(
            out.contains(" 0 active credentials remain"),
            "run {i}: {out}"
        );
        let journal = match &journal {
            Some(url) => Journal::open_postgres(url).unwrap(),
            None => Journal::open(&dir.path().join(".offboard/journal.db")).unwrap(),
        };
        let verification = journal.verify().unwrap();
        assert!(verification.ok(), "run {i}: {:?}", verification.problems);

        // No destructive action ran twice for the same account.
        let mut deletes: HashMap<(String, String), usize> = HashMap::new();
        for r in journal.records().unwrap() {
            if r.table == Table::Actions && r.kind == ACTION_RESULT {
                let result: ActionResult = r.parse().unwrap();
                if result.performed.contains(&Action::Delete) {
                    *deletes
                        .entry((result.system, result.account_id))
                        .or_default() += 1;
                }
            }
        }
        for (account, n) in deletes {
            assert_eq!(n, 1, "run {i}: {account:?} deleted {n} times");
        }
        // A fresh plan finds nothing left to change.
        let plan_out = run_ok(offboard(dir.path()).args(["plan", "--at", AT]));
        assert!(plan_out.starts_with("No changes."), "run {i}: {plan_out}");
    }
    assert!(
        killed_mid_run >= RUNS / 2,
        "only {killed_mid_run} of {RUNS} kills hit a running apply"
    );
}
