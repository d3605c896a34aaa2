//! The journal is offboard's state, as Terraform's is: started once and explicitly, never
//! replaced, truncated or extended after tampering without `apply` noticing, and readable
//! as evidence without being written. Relative paths follow `-C`, and inputs that would
//! silently shrink the plan (an emptied roster or export, a FIFO) are refused.

use offboard_test_support as common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use predicates::prelude::*;

const AT: &str = "2026-11-23T09:00:00Z";

/// A private copy of the bundled example, without a journal.
fn example() -> tempfile::TempDir {
    common::example_copy()
}

use common::offboard;

fn init(dir: &Path) {
    offboard(dir)
        .args(["journal", "init"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("Started the journal"));
}

fn save_plan(dir: &Path, name: &str) -> PathBuf {
    let file = dir.join(name);
    offboard(dir)
        .args(["plan", "--at", AT, "--out"])
        .arg(&file)
        .assert()
        .code(0);
    file
}

fn journal(dir: &Path) -> PathBuf {
    dir.join(".offboard/journal.db")
}

/// Every file under `dir` with a digest of its bytes, to show that a command wrote nothing.
fn snapshot(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out: Vec<(PathBuf, String)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            let digest = blake3::hash(&std::fs::read(&p).unwrap())
                .to_hex()
                .to_string();
            (p, digest)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn apply_never_starts_a_journal_of_its_own() {
    let dir = example();
    offboard(dir.path())
        .args(["apply", "--auto-approve", "--at", AT])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no journal at"))
        .stderr(predicate::str::contains("offboard journal init"));
    assert!(!journal(dir.path()).exists());
    init(dir.path());
    offboard(dir.path())
        .args(["journal", "init"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("never overwritten"));
    offboard(dir.path())
        .args(["apply", "--auto-approve", "--at", AT])
        .assert()
        .code(0);
}

#[test]
fn a_plan_for_another_journal_or_an_older_head_is_refused() {
    let dir = example();
    let d = dir.path();
    init(d);
    // Another journal: the file was replaced by a fresh one.
    let plan = save_plan(d, "p.json");
    std::fs::remove_file(journal(d)).unwrap();
    init(d);
    offboard(d)
        .arg("apply")
        .arg(&plan)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("journal lineage"))
        .stderr(predicate::str::contains("Nothing was changed"));

    // An older copy restored after the plan saw a newer head: the journal grows by an
    // apply, an admin re-enables an account, the plan is made, the old copy put back.
    let old = d.join("old-journal.db");
    std::fs::copy(journal(d), &old).unwrap();
    offboard(d)
        .args(["apply", "--auto-approve", "--at", AT])
        .assert()
        .code(0);
    let okta = d.join("inventory/accounts/okta.json");
    let text = std::fs::read_to_string(&okta).unwrap();
    let mut accounts: serde_json::Value = serde_json::from_str(&text).unwrap();
    for a in accounts["accounts"].as_array_mut().unwrap() {
        if a["id"] == "00u1a2b3" {
            a["status"] = "active".into();
        }
    }
    std::fs::write(&okta, accounts.to_string()).unwrap();
    let plan = save_plan(d, "p2.json");
    // A restore puts back the database file alone (a fresh CI runner has no write-ahead log
    // of a later state beside it).
    for side in ["journal.db-wal", "journal.db-shm"] {
        std::fs::remove_file(d.join(".offboard").join(side)).ok();
    }
    std::fs::copy(&old, journal(d)).unwrap();
    offboard(d)
        .arg("apply")
        .arg(&plan)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("the journal went backwards"));
}

#[test]
fn a_plan_made_before_the_journal_existed_is_refused() {
    let dir = example();
    let plan = save_plan(dir.path(), "p.json");
    init(dir.path());
    offboard(dir.path())
        .arg("apply")
        .arg(&plan)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("made without a journal"));
}

#[test]
fn apply_refuses_to_append_to_a_broken_chain() {
    let dir = example();
    let d = dir.path();
    init(d);
    offboard(d)
        .args(["apply", "--auto-approve", "--at", AT])
        .assert()
        .code(0);
    let conn = rusqlite::Connection::open(journal(d)).unwrap();
    conn.execute(
        "UPDATE actions SET body = replace(body, 'okta', 'OKTA') WHERE seq = (SELECT min(seq) FROM actions)",
        [],
    )
    .unwrap();
    drop(conn);
    // Even with nothing to change, a broken chain is reported before anything else.
    let before = rusqlite::Connection::open(journal(d))
        .unwrap()
        .query_row("SELECT count(*) FROM runs", [], |r| r.get::<_, i64>(0))
        .unwrap();
    offboard(d)
        .args(["apply", "--auto-approve", "--at", AT])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("fails verification"))
        .stderr(predicate::str::contains("was edited"))
        .stderr(predicate::str::contains("Nothing was changed"));
    let after = rusqlite::Connection::open(journal(d))
        .unwrap()
        .query_row("SELECT count(*) FROM runs", [], |r| r.get::<_, i64>(0))
        .unwrap();
    assert_eq!(before, after);
}

#[test]
fn evidence_is_read_without_writing_and_an_empty_file_is_no_journal() {
    let dir = example();
    let d = dir.path();
    init(d);
    offboard(d)
        .args(["apply", "--auto-approve", "--at", AT])
        .assert()
        .code(0);
    // An auditor's copy: a directory holding only the journal file.
    let evidence = tempfile::tempdir().unwrap();
    let copy = evidence.path().join("journal.db");
    std::fs::copy(journal(d), &copy).unwrap();
    let before = snapshot(evidence.path());
    for args in [
        vec!["journal", "verify"],
        vec!["journal", "list"],
        vec!["report", "john.doe@acme.com"],
        vec!["tasks"],
    ] {
        offboard(d)
            .arg("--journal")
            .arg(&copy)
            .args(&args)
            .assert()
            .code(0);
    }
    assert_eq!(
        snapshot(evidence.path()),
        before,
        "reading wrote to the evidence"
    );

    let empty = evidence.path().join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    offboard(d)
        .arg("--journal")
        .arg(&empty)
        .args(["journal", "verify"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("is not an offboard journal"));
}

#[test]
fn apply_at_a_future_instant_is_refused() {
    let dir = example();
    init(dir.path());
    offboard(dir.path())
        .args(["apply", "--auto-approve", "--at", "2999-01-01"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "is in the future, and apply acts now",
        ))
        .stderr(predicate::str::contains("offboard plan --at 2999-01-01"));
}

#[test]
fn relative_paths_follow_dash_c() {
    let dir = example();
    let elsewhere = tempfile::tempdir().unwrap();
    let mut cmd = offboard(dir.path());
    cmd.current_dir(elsewhere.path())
        .args(["--journal", "state/j.db", "journal", "init"])
        .assert()
        .code(0);
    assert!(dir.path().join("state/j.db").exists());
    assert!(!elsewhere.path().join("state").exists());
    let mut cmd = offboard(dir.path());
    cmd.current_dir(elsewhere.path())
        .args([
            "--journal",
            "state/j.db",
            "plan",
            "--at",
            AT,
            "--out",
            "p.json",
        ])
        .assert()
        .code(0);
    assert!(dir.path().join("p.json").exists());
    let mut cmd = offboard(dir.path());
    cmd.current_dir(elsewhere.path())
        .args(["--journal", "state/j.db", "apply", "p.json"])
        .assert()
        .code(0);
}

#[test]
fn an_empty_or_shrunken_roster_is_refused_unless_allowed() {
    let dir = example();
    let d = dir.path();
    init(d);
    let roster = d.join("inventory/people.csv");
    let full = std::fs::read_to_string(&roster).unwrap();
    let header = full.lines().next().unwrap().to_string();
    std::fs::write(&roster, format!("{header}\n")).unwrap();
    offboard(d)
        .args(["plan", "--at", AT])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("lists nobody"))
        .stderr(predicate::str::contains("--allow-roster-drop"));

    std::fs::write(&roster, &full).unwrap();
    offboard(d)
        .args(["apply", "--auto-approve", "--at", AT])
        .assert()
        .code(0);
    // The HR feed loses half the company: the last run saw 40 people.
    let half: Vec<&str> = full.lines().take(21).collect();
    std::fs::write(&roster, half.join("\n") + "\n").unwrap();
    offboard(d)
        .args(["plan", "--at", AT])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "lists 20 people but the journal's last run saw 40: 20 went missing (50%, more than max-roster-drop 10%)",
        ));
    offboard(d)
        .args(["plan", "--at", AT, "--allow-roster-drop"])
        .assert()
        .code(0)
        .stderr(predicate::str::contains(
            "accepted because of --allow-roster-drop",
        ));
}

#[test]
fn a_system_that_suddenly_reports_no_accounts_is_refused_unless_allowed() {
    let dir = example();
    let d = dir.path();
    init(d);
    offboard(d)
        .args(["apply", "--auto-approve", "--at", AT])
        .assert()
        .code(0);
    std::fs::write(
        d.join("inventory/accounts/okta.json"),
        r#"{"accounts": []}"#,
    )
    .unwrap();
    offboard(d)
        .args(["plan", "--at", AT])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "okta reports no accounts, but the last apply saw",
        ))
        .stderr(predicate::str::contains("--allow-empty okta"));
    offboard(d)
        .args(["plan", "--at", AT, "--allow-empty", "okta"])
        .assert()
        .code(0);
}

#[test]
fn a_fifo_as_roster_is_an_error_at_once() {
    let dir = example();
    let d = dir.path();
    let roster = d.join("inventory/people.csv");
    std::fs::remove_file(&roster).unwrap();
    let status = std::process::Command::new("mkfifo")
        .arg(&roster)
        .status()
        .unwrap();
    assert!(status.success());
    let started = Instant::now();
    offboard(d)
        .args(["plan", "--at", AT])
        .timeout(Duration::from_secs(20))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("not a regular file (a FIFO)"));
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[test]
fn the_examples_policy_tests_still_pass_after_the_quick_start_apply() {
    let dir = example();
    let d = dir.path();
    init(d);
    let plan = save_plan(d, "plan.json");
    offboard(d).arg("apply").arg(&plan).assert().code(0);
    offboard(d)
        .arg("test")
        .assert()
        .code(0)
        .stdout(predicate::str::contains("0 failed"));
}

#[test]
fn a_misspelt_person_field_fails_validate_and_plan() {
    let dir = example();
    let d = dir.path();
    let rules = d.join("policies/rules.kdl");
    let text = std::fs::read_to_string(&rules).unwrap();
    std::fs::write(
        &rules,
        text.replace("person.termination_type ==", "person.terminaton_type =="),
    )
    .unwrap();
    for args in [vec!["validate"], vec!["plan", "--at", AT]] {
        offboard(d)
            .args(&args)
            .assert()
            .code(1)
            .stderr(predicate::str::contains(
                "`person.terminaton_type` is not a field of the roster",
            ))
            .stderr(predicate::str::contains("did you mean `termination_type`?"));
    }
}

#[test]
fn a_failing_condition_is_reported_once_per_rule() {
    let dir = example();
    let d = dir.path();
    let rules = d.join("policies/rules.kdl");
    let mut text = std::fs::read_to_string(&rules).unwrap();
    text.push_str(
        "rule broken {\n    when \"person.name.len() / (person.title.len() - person.title.len()) > 1\"\n    cutoff immediately\n}\n",
    );
    std::fs::write(&rules, text).unwrap();
    let out = offboard(d)
        .args(["plan", "--at", AT])
        .assert()
        .code(1)
        .get_output()
        .stderr
        .clone();
    let stderr = String::from_utf8(out).unwrap();
    assert_eq!(stderr.matches("policy::evaluation").count(), 1, "{stderr}");
    assert!(
        stderr.contains("the condition of rule `broken` failed for 8 people"),
        "{stderr}"
    );
}
