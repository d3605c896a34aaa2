//! `offboard apply` end to end on copies of the bundled example: plan then apply, stale plans,
//! changed accounts, mass changes, the apply lock, rollback, and a journal that was tampered
//! with. The executor under injected faults is `apply_faults.rs`.

use offboard_test_support as common;

use std::path::{Path, PathBuf};

use common::{account_status, copy_dir, root};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use offboard::journal::{Journal, JournalLock, Location};
use predicates::prelude::*;

const AT: &str = "2026-11-23T09:00:00Z";

/// A private copy of the bundled example (policies + inventory).
fn example() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    common::init_journal(dir.path());
    copy_dir(&root().join("policies"), &dir.path().join("policies"));
    std::fs::remove_dir_all(dir.path().join("policies/examples")).ok();
    copy_dir(&root().join("inventory"), &dir.path().join("inventory"));
    dir
}

fn offboard(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("offboard").unwrap();
    cmd.env("OFFBOARD_NO_NOTIFY", "1");
    cmd.arg("-C")
        .arg(dir)
        .env_remove("NO_COLOR")
        .env("OFFBOARD_ACTOR", "tester@acme.com");
    cmd
}

fn save_plan(dir: &Path) -> PathBuf {
    let file = dir.join("p.json");
    offboard(dir)
        .args(["plan", "--at", AT, "--out"])
        .arg(&file)
        .assert()
        .code(0);
    file
}

#[test]
fn plan_apply_then_nothing_left_to_do() {
    let dir = example();
    let file = save_plan(dir.path());
    offboard(dir.path())
        .arg("apply")
        .arg(&file)
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "0 active credentials remain for 7 leavers",
        ))
        .stdout(predicate::str::contains(
            "Apply complete: 14 disabled, 7 deleted",
        ))
        .stderr(predicate::str::contains("confirmed by read-back"));
    // The exports changed: John is disabled in okta, Marco's vpn account is gone.
    assert_eq!(
        account_status(dir.path(), "okta", "00u1a2b3").as_deref(),
        Some("disabled")
    );
    assert_eq!(account_status(dir.path(), "vpn", "9174"), None);
    // Untouched: the active colleague and the disputed shared account.
    assert_eq!(
        account_status(dir.path(), "salesforce", "005bhJtwY6miAO5").as_deref(),
        Some("active")
    );
    // A new plan has nothing to do (tasks are already open in the journal).
    offboard(dir.path())
        .args(["plan", "--at", AT, "--detailed-exitcode"])
        .assert()
        .code(0)
        .stdout(predicate::str::starts_with(
            "No changes. Access matches policy.",
        ));
    // Applying the same file again converges without doing anything twice.
    offboard(dir.path())
        .arg("apply")
        .arg(&file)
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "0 disabled, 0 deleted, 0 updated, 0 tasks opened, 21 already done",
        ));
    offboard(dir.path())
        .args(["journal", "verify"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("hash chain intact"));
    offboard(dir.path()).arg("tasks").assert().code(0).stdout(
        predicate::str::contains("laptops").and(predicate::str::contains("john.doe@acme.com")),
    );
}

#[test]
fn apply_without_plan_file_and_without_terminal_aborts() {
    let dir = example();
    offboard(dir.path())
        .args(["apply", "--at", AT])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no terminal"))
        .stderr(predicate::str::contains("Nothing was changed"));
    assert_eq!(
        account_status(dir.path(), "okta", "00u1a2b3").as_deref(),
        Some("active")
    );
    let journal = Journal::open_read_only(&dir.path().join(".offboard/journal.db")).unwrap();
    assert!(journal.runs().unwrap().is_empty());
}

#[test]
fn stale_plan_is_refused() {
    let dir = example();
    let file = save_plan(dir.path());
    let rules = dir.path().join("policies/rules.kdl");
    let mut text = std::fs::read_to_string(&rules).unwrap();
    text.push_str("\n// a reviewed change after the plan was made\n");
    std::fs::write(&rules, text).unwrap();
    offboard(dir.path())
        .arg("apply")
        .arg(&file)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("stale plan"));
    assert_eq!(
        account_status(dir.path(), "okta", "00u1a2b3").as_deref(),
        Some("active")
    );
}

#[test]
fn account_changed_since_the_plan_is_skipped() {
    let dir = example();
    let file = save_plan(dir.path());
    // Someone adds John to a group after the plan was reviewed.
    let okta = dir.path().join("inventory/accounts/okta.json");
    let text = std::fs::read_to_string(&okta).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    for a in v["accounts"].as_array_mut().unwrap() {
        if a["id"] == "00u1a2b3" {
            a["groups"]
                .as_array_mut()
                .unwrap()
                .push("finance-admins".into());
        }
    }
    std::fs::write(&okta, serde_json::to_string(&v).unwrap()).unwrap();
    offboard(dir.path())
        .arg("apply")
        .arg(&file)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "00u1a2b3 (john.doe@acme.com) disable, revoke-sessions, remove-groups: skipped",
        ))
        .stdout(predicate::str::contains("RED").and(predicate::str::contains("okta/00u1a2b3")));
    assert_eq!(
        account_status(dir.path(), "okta", "00u1a2b3").as_deref(),
        Some("active")
    );
    // Everyone else was still offboarded.
    assert_eq!(
        account_status(dir.path(), "okta", "00u79mgh").as_deref(),
        Some("disabled")
    );
}

#[test]
fn mass_disable_is_refused_unless_allowed() {
    let dir = example();
    for entry in std::fs::read_dir(dir.path().join("policies")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|x| x == "kdl") {
            let text = std::fs::read_to_string(&path).unwrap();
            let lowered: String = text
                .lines()
                .map(|l| {
                    if l.trim_start().starts_with("max-disable-share") {
                        "    max-disable-share \"2%\""
                    } else {
                        l
                    }
                })
                .collect::<Vec<_>>()
                .join("\n");
            std::fs::write(&path, lowered).unwrap();
        }
    }
    let file = save_plan(dir.path());
    offboard(dir.path())
        .arg("apply")
        .arg(&file)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "above its max-disable-share of 2%",
        ))
        .stderr(predicate::str::contains("--allow-mass-disable"));
    assert_eq!(
        account_status(dir.path(), "okta", "00u1a2b3").as_deref(),
        Some("active")
    );
    offboard(dir.path())
        .arg("apply")
        .arg(&file)
        .arg("--allow-mass-disable")
        .assert()
        .code(0);
    assert_eq!(
        account_status(dir.path(), "okta", "00u1a2b3").as_deref(),
        Some("disabled")
    );
}

#[test]
fn second_apply_waits_then_names_the_lock_holder() {
    let dir = example();
    let file = save_plan(dir.path());
    let journal = Location::File(dir.path().join(".offboard/journal.db"));
    let _held = JournalLock::acquire(
        &journal,
        "alice@acme.com on ci-runner-7",
        Duration::from_secs(1),
    )
    .unwrap();
    let start = Instant::now();
    offboard(dir.path())
        .arg("apply")
        .arg(&file)
        .args(["--lock-timeout", "1s"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("alice@acme.com on ci-runner-7"));
    assert!(start.elapsed() >= Duration::from_secs(1));
    assert_eq!(
        account_status(dir.path(), "okta", "00u1a2b3").as_deref(),
        Some("active")
    );
}

#[test]
fn rollback_re_enables_what_a_run_disabled() {
    let dir = example();
    let file = save_plan(dir.path());
    offboard(dir.path())
        .arg("apply")
        .arg(&file)
        .assert()
        .code(0);
    let out = offboard(dir.path())
        .args(["journal", "list", "--format", "json"])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let runs: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let run_id = runs[0]["start"]["run_id"].as_str().unwrap().to_string();
    offboard(dir.path())
        .args(["rollback", &run_id, "--auto-approve"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("Cannot be undone"))
        .stdout(predicate::str::contains(
            "vpn 9174 (marco.rossi@acme.com): delete cannot be undone",
        ))
        .stdout(predicate::str::contains("Rollback complete"));
    assert_eq!(
        account_status(dir.path(), "okta", "00u1a2b3").as_deref(),
        Some("active")
    );
    let okta: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("inventory/accounts/okta.json")).unwrap(),
    )
    .unwrap();
    let john = okta["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == "00u1a2b3")
        .unwrap();
    assert_eq!(john["groups"], serde_json::json!(["everyone", "product"]));
    offboard(dir.path())
        .args(["journal", "verify"])
        .assert()
        .code(0);
    offboard(dir.path())
        .args(["journal", "list"])
        .assert()
        .stdout(predicate::str::contains("rollback"));
    // Re-applying the old plan does not undo the rollback: the restored accounts changed
    // since the plan, so they are skipped, not disabled again.
    offboard(dir.path())
        .arg("apply")
        .arg(&file)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "00u1a2b3 (john.doe@acme.com) disable, revoke-sessions, remove-groups: skipped",
        ));
    assert_eq!(
        account_status(dir.path(), "okta", "00u1a2b3").as_deref(),
        Some("active")
    );
}

#[test]
fn plan_from_an_older_roster_is_refused() {
    let dir = example();
    let file = save_plan(dir.path());
    let people = dir.path().join("inventory/people.csv");
    let text = std::fs::read_to_string(&people).unwrap().replace("E1002,rachel.green@acme.com,rgreen,Rachel Green,Product Management,Head of Product,margaret.chen@acme.com,employee,active", "E1002,rachel.green@acme.com,rgreen,Rachel Green,Product Management,Head of Product,margaret.chen@acme.com,employee,on-leave");
    std::fs::write(&people, text).unwrap();
    offboard(dir.path())
        .arg("apply")
        .arg(&file)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "stale plan: it was made from roster",
        ));
}

fn tamper(dir: &Path, sql: &str) -> String {
    let file = save_plan(dir);
    offboard(dir).arg("apply").arg(&file).assert().code(0);
    offboard(dir).args(["journal", "verify"]).assert().code(0);
    let conn = rusqlite::Connection::open(dir.join(".offboard/journal.db")).unwrap();
    conn.execute_batch(sql).unwrap();
    drop(conn);
    let out = offboard(dir)
        .args(["journal", "verify"])
        .assert()
        .code(1)
        .get_output()
        .stderr
        .clone();
    String::from_utf8(out).unwrap()
}

#[test]
fn journal_verify_detects_an_edited_record() {
    let dir = example();
    let err = tamper(
        dir.path(),
        "UPDATE actions SET body = replace(body, 'done', 'failed') WHERE kind = 'result' AND seq = (SELECT min(seq) FROM actions WHERE kind = 'result');",
    );
    assert!(err.contains("was edited"), "{err}");
}

#[test]
fn journal_verify_detects_a_deleted_record() {
    let dir = example();
    let err = tamper(
        dir.path(),
        "DELETE FROM actions WHERE seq = (SELECT min(seq) FROM actions);",
    );
    assert!(err.contains("records were deleted"), "{err}");
}

#[test]
fn journal_verify_detects_reordered_records() {
    let dir = example();
    let err = tamper(
        dir.path(),
        "UPDATE actions SET seq = -1 WHERE seq = 3; UPDATE actions SET seq = 3 WHERE seq = 4; UPDATE actions SET seq = 4 WHERE seq = -1;",
    );
    assert!(err.contains("reordered or rewritten"), "{err}");
}

#[test]
fn rollback_of_one_person_restores_only_their_accounts_and_reads_groups_back() {
    let dir = example();
    let file = save_plan(dir.path());
    offboard(dir.path())
        .arg("apply")
        .arg(&file)
        .assert()
        .code(0);
    let out = offboard(dir.path())
        .args(["journal", "list", "--format", "json"])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let runs: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let run_id = runs[0]["start"]["run_id"].as_str().unwrap().to_string();
    offboard(dir.path())
        .args([
            "rollback",
            &run_id,
            "-p",
            "nobody@acme.com",
            "--auto-approve",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "changed nothing for `nobody@acme.com`",
        ));
    let out = offboard(dir.path())
        .args([
            "rollback",
            &run_id,
            "-p",
            "JOHN.DOE@acme.com",
            "--auto-approve",
        ])
        .assert()
        .code(0)
        .get_output()
        .clone();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stdout.contains("will restore 4 accounts:"), "{stdout}");
    assert!(
        stdout.contains("okta 00u1a2b3 (john.doe@acme.com): enable, re-add 2 groups"),
        "{stdout}"
    );
    assert!(!stdout.contains("jane.roe"), "{stdout}");
    assert!(
        stderr.contains("okta: 00u1a2b3 (john.doe@acme.com) restored (confirmed by read-back)"),
        "{stderr}"
    );
    assert_eq!(
        account_status(dir.path(), "okta", "00u1a2b3").as_deref(),
        Some("active")
    );
    // Jane Roe was not rolled back.
    assert_eq!(
        account_status(dir.path(), "okta", "00u79mgh").as_deref(),
        Some("disabled")
    );
}
