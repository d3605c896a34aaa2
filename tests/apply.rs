//! `offboard apply` end to end on copies of the bundled example, plus executor behaviour under
//! injected faults (temporary errors, rate limits, permanent refusals).

use offboard_test_support as common;

use std::path::{Path, PathBuf};

use common::{copy_dir, root};
use std::sync::Arc;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use offboard::apply::retry::{RetryPolicy, Retrying};
use offboard::apply::{Executor, Target};
use offboard::connector::fault::{Fault, FaultInjecting};
use offboard::connector::file::FileConnector;
use offboard::connector::{self, AccountStatus, Connector, Observed};
use offboard::journal::{ActionOutcome, Journal, JournalLock};
use offboard::plan::Plan;
use offboard::policy::{self, Action, FileFormat};
use offboard::reconcile::{self, PlanInput};
use offboard::roster;
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

fn account_status(dir: &Path, system: &str, id: &str) -> Option<String> {
    let text =
        std::fs::read_to_string(dir.join(format!("inventory/accounts/{system}.json"))).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == id)
        .map(|a| a["status"].as_str().unwrap().to_string())
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
    let journal = dir.path().join(".offboard/journal.db");
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

// --- executor under injected faults ---------------------------------------------------

/// Two file systems (an identity provider and a chat app) and one leaver.
struct Fixture {
    dir: tempfile::TempDir,
    plan: Plan,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let accounts = |id: &str| {
        serde_json::json!({"accounts": [
            {"id": id, "username": "leo", "emails": ["leo@acme.com"], "status": "active", "groups": ["all"], "sessions": 1},
            {"id": format!("{id}-ann"), "username": "ann", "emails": ["ann@acme.com"], "status": "active", "groups": ["all"]}
        ]})
        .to_string()
    };
    std::fs::create_dir_all(dir.path().join("inventory/accounts")).unwrap();
    std::fs::write(
        dir.path().join("inventory/accounts/idp.json"),
        accounts("i1"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("inventory/accounts/chat.json"),
        accounts("c1"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("inventory/people.csv"),
        "email,name,status,termination_type,last_day\nleo@acme.com,Leo,terminated,voluntary,2026-11-01\nann@acme.com,Ann,active,,\n",
    )
    .unwrap();
    let text = "system idp {\n connector file\n tier identity-provider\n correlate email=\"email\"\n on-leave disable remove-groups\n max-disable-share \"100%\"\n}\nsystem chat {\n connector file\n tier collaboration\n correlate email=\"email\"\n on-leave disable\n max-disable-share \"100%\"\n}\npeople {\n source csv path=\"inventory/people.csv\"\n}\n";
    let policy = policy::load_texts(vec![(PathBuf::from("policies/a.kdl"), text.into())]).unwrap();
    let roster = roster::load(
        policy.people.as_ref().unwrap(),
        dir.path(),
        &jiff::tz::TimeZone::UTC,
    )
    .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let observed: Observed = rt.block_on(connector::refresh(&policy, dir.path(), &|_| {}));
    let plan = reconcile::plan(&PlanInput {
        policy: &policy,
        roster: &roster,
        observed: &observed,
        now: AT.parse().unwrap(),
        only: None,
        known_tasks: None,
        git_commit: None,
        dirty: None,
    })
    .unwrap();
    assert_eq!(plan.changes.len(), 2);
    Fixture { dir, plan }
}

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        min_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(50),
        max_retries: 4,
        max_retry_after: Duration::from_secs(5),
    }
}

fn file_connector(f: &Fixture, system: &str) -> FileConnector {
    FileConnector::new(
        system,
        f.dir
            .path()
            .join(format!("inventory/accounts/{system}.json")),
        FileFormat::Json,
    )
}

fn run(f: &Fixture, idp: Arc<dyn Connector>) -> Vec<offboard::apply::ChangeReport> {
    let journal = Journal::create(&f.dir.path().join("journal.db"), "test", "localhost").unwrap();
    let mut targets = std::collections::BTreeMap::new();
    targets.insert(
        "idp".to_string(),
        Target {
            connector: Arc::new(Retrying::new(idp, fast_retries())),
            concurrency: 2,
        },
    );
    let chat: Arc<dyn Connector> = Arc::new(file_connector(f, "chat"));
    targets.insert(
        "chat".to_string(),
        Target {
            connector: Arc::new(Retrying::new(chat, fast_retries())),
            concurrency: 2,
        },
    );
    let executor = Executor {
        targets,
        journal: offboard::journal::SharedJournal::new(journal),
        run_id: "test-run".into(),
        touched: Default::default(),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let reports = rt.block_on(executor.execute(&f.plan, &|_| {})).unwrap();
    assert!(executor.journal.lock().verify().unwrap().ok());
    reports
}

fn report<'a>(
    reports: &'a [offboard::apply::ChangeReport],
    system: &str,
) -> &'a offboard::apply::ChangeReport {
    reports.iter().find(|r| r.change.system == system).unwrap()
}

#[test]
fn temporary_errors_are_retried_then_succeed() {
    let f = fixture();
    let idp = Arc::new(
        FaultInjecting::new(file_connector(&f, "idp"))
            .then(Fault::Temporary)
            .then(Fault::Temporary),
    );
    let reports = run(&f, idp.clone());
    let r = report(&reports, "idp");
    assert_eq!(r.outcome, ActionOutcome::Done);
    assert_eq!(r.performed, [Action::Disable, Action::RemoveGroups]);
    // read + 3 tries of disable + 1 remove-groups + read-back
    assert_eq!(r.attempts, 6);
    // The certificate's figure: retries, not calls.
    assert_eq!(r.retries, 2);
    assert_eq!(idp.calls.load(std::sync::atomic::Ordering::SeqCst), 4);
}

#[test]
fn permanent_errors_are_reported_with_remediation_and_other_systems_proceed() {
    let f = fixture();
    let idp = Arc::new(
        FaultInjecting::new(file_connector(&f, "idp")).always(Fault::Permanent {
            message: "403 Forbidden: token lacks okta.users.manage".into(),
            hint: "grant the service token the users.manage scope".into(),
        }),
    );
    let reports = run(&f, idp.clone());
    let r = report(&reports, "idp");
    assert_eq!(r.outcome, ActionOutcome::Failed);
    let e = r.error.as_ref().unwrap();
    assert_eq!(
        e.hint.as_deref(),
        Some("grant the service token the users.manage scope")
    );
    assert_eq!(
        idp.calls.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "permanent errors are not retried"
    );
    assert_eq!(report(&reports, "chat").outcome, ActionOutcome::Done);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let chat = rt
        .block_on(file_connector(&f, "chat").read_account("c1"))
        .unwrap()
        .unwrap();
    assert_eq!(chat.status, AccountStatus::Disabled);
    let idp_account = rt
        .block_on(file_connector(&f, "idp").read_account("i1"))
        .unwrap()
        .unwrap();
    assert_eq!(idp_account.status, AccountStatus::Active);
}

#[test]
fn rate_limits_wait_for_retry_after() {
    let f = fixture();
    let idp: Arc<dyn Connector> = Arc::new(
        FaultInjecting::new(file_connector(&f, "idp")).then(Fault::RateLimited { retry_after: 1 }),
    );
    let start = Instant::now();
    let reports = run(&f, idp);
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 was not honoured ({:?})",
        start.elapsed()
    );
    assert_eq!(report(&reports, "idp").outcome, ActionOutcome::Done);
}

#[test]
fn retries_are_bounded() {
    let f = fixture();
    let idp = Arc::new(FaultInjecting::new(file_connector(&f, "idp")).always(Fault::Temporary));
    let reports = run(&f, idp.clone());
    let r = report(&reports, "idp");
    assert_eq!(r.outcome, ActionOutcome::Failed);
    assert_eq!(
        idp.calls.load(std::sync::atomic::Ordering::SeqCst),
        5,
        "1 try + 4 retries"
    );
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

#[test]
fn a_restore_the_read_back_does_not_show_fails() {
    use offboard::connector::{Account, Restore};
    let account = |groups: &[&str]| Account {
        id: "a".into(),
        username: "a".into(),
        emails: vec![],
        employee_id: None,
        display_name: None,
        status: AccountStatus::Active,
        groups: groups.iter().map(|g| g.to_string()).collect(),
        entitlements: vec![],
        licenses: vec![],
        privileged: false,
        last_login: None,
        sessions: None,
        container: None,
        attributes: Default::default(),
    };
    let step = Restore::AddGroups(vec!["everyone".into(), "product".into()]);
    assert_eq!(
        offboard::apply::verify::restore_missing(&step, &account(&["everyone"])).as_deref(),
        Some("groups product")
    );
    assert_eq!(
        offboard::apply::verify::restore_missing(&step, &account(&["Everyone", "product"])),
        None
    );
}
