//! Emergency overrides (`offboard leave --emergency`), end to end on the bundled example:
//! cutting someone HR still lists as active through a pseudo-terminal, what the journal,
//! later plans and `audit` make of the override, HR confirming it, rolling its run back
//! (which revokes it), and the refusals that keep an override from being recorded by accident.

use offboard_test_support as common;

use std::path::Path;

use common::offboard;

const SMITH: &str = "john.smith@acme.com";
/// John Smith's Okta account: active in the example, and HR lists him as active.
const SMITH_OKTA: &str = "00ushgm9";

/// The example's journal, opened read-only as an auditor would.
fn journal_of(dir: &Path) -> offboard::journal::Journal {
    offboard::journal::Journal::open_read_only(&dir.join(".offboard/journal.db")).unwrap()
}

fn status(dir: &Path, system: &str, id: &str) -> String {
    common::account_status(dir, system, id).expect("the account is in the export")
}

fn on_a_terminal(dir: &Path, args: &[&str]) -> rexpect::session::PtySession {
    common::on_a_terminal(dir, args, "sec@acme.com")
}

/// Cut John Smith in an emergency, as a script would; returns the run id and override id.
fn emergency_cut(dir: &Path) -> (String, String) {
    let summary = emergency_summary(dir);
    (
        summary["run_id"].as_str().unwrap().to_string(),
        summary["emergency_override"].as_str().unwrap().to_string(),
    )
}

/// `leave --emergency` for John Smith as a script: its JSON summary.
fn emergency_summary(dir: &Path) -> serde_json::Value {
    let out = offboard(dir)
        .args([
            "leave",
            SMITH,
            "--emergency",
            "--reason",
            "credentials posted on a forum",
            "--ticket",
            "SEC-42",
            "--auto-approve",
            "--format",
            "json",
        ])
        .assert()
        .code(0)
        .get_output()
        .clone();
    serde_json::from_slice(&out.stdout).unwrap()
}

/// What an administrator does by hand: disable the account, empty its groups, end its
/// sessions.
fn cut_by_hand(dir: &Path, system: &str, id: &str) {
    let file = dir.join(format!("inventory/accounts/{system}.json"));
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let account = v["accounts"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|a| a["id"] == id)
        .expect("the account is in the export");
    account["status"] = "disabled".into();
    account["groups"] = serde_json::json!([]);
    account["sessions"] = 0.into();
    std::fs::write(&file, serde_json::to_string_pretty(&v).unwrap()).unwrap();
}

fn plan_json(dir: &Path) -> serde_json::Value {
    let out = offboard(dir)
        .args(["plan", "--format", "json"])
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

fn smith_in(plan: &serde_json::Value) -> Option<serde_json::Value> {
    plan["leavers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["person"] == SMITH)
        .cloned()
}

/// The audit's findings of one kind, as of `days` from now.
fn findings(dir: &Path, kind: &str, days: i64) -> Vec<serde_json::Value> {
    let at = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_hours(24 * days))
        .unwrap()
        .to_string();
    let out = offboard(dir)
        .args(["audit", "--format", "json", "--at", &at])
        .output()
        .unwrap();
    let audit: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    audit["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == kind)
        .cloned()
        .collect()
}

#[test]
fn an_emergency_cuts_an_active_person_on_a_terminal_and_is_journaled_first() {
    let dir = common::example_copy();
    common::init_journal(dir.path());
    let mut session = on_a_terminal(
        dir.path(),
        &[
            "leave",
            "John Smith",
            "--emergency",
            "--reason",
            "credentials posted on a forum",
            "--ticket",
            "SEC-42",
        ],
    );
    session
        .exp_string("EMERGENCY: John Smith <john.smith@acme.com>. HR still lists them as active")
        .unwrap();
    session
        .exp_string("HR has not confirmed: nothing deleted until it does")
        .unwrap();
    session
        .exp_string("~ okta     00ushgm9     john.smith@acme.com  active -> disabled")
        .unwrap();
    session.exp_string("Cut John Smith's access now?").unwrap();
    session.exp_string("Enter a value: ").unwrap();
    session.send_line("yes").unwrap();
    session
        .exp_string("okta: 00ushgm9 (john.smith@acme.com) disable, revoke-sessions, remove-groups: done (confirmed by read-back)")
        .unwrap();
    session
        .exp_string("John Smith <john.smith@acme.com>: 5 accounts cut in 5 systems")
        .unwrap();
    session.exp_string("Emergency override: ovr-").unwrap();
    session
        .exp_string("in force until HR's export agrees")
        .unwrap();
    session.exp_eof().unwrap();
    assert_eq!(status(dir.path(), "okta", SMITH_OKTA), "disabled");

    // The journal holds the override (who, why, ticket) before the run it triggered.
    let journal = journal_of(dir.path());
    let records = journal.typed_records().unwrap();
    let kinds: Vec<&str> = records.iter().map(|(r, _)| r.kind()).collect();
    let at_override = kinds.iter().position(|k| *k == "override").unwrap();
    assert_eq!(kinds[at_override + 1], "run-start", "{kinds:?}");
    let overrides = journal.overrides().unwrap();
    assert_eq!(overrides.len(), 1);
    let o = &overrides[0];
    assert_eq!(
        (
            o.person.as_str(),
            o.by.as_str(),
            o.reason.as_str(),
            o.ticket.as_deref()
        ),
        (
            SMITH,
            "sec@acme.com",
            "credentials posted on a forum",
            Some("SEC-42")
        )
    );
    let run = journal.last_apply().unwrap().unwrap();
    assert_eq!(
        run.emergency_override.as_deref(),
        Some(o.override_id.as_str())
    );
    assert_eq!(
        run.trigger.as_deref(),
        Some("leave john.smith@acme.com --emergency")
    );

    // Later full plans treat him as a leaver cut at the override, and delete nothing.
    let plan = plan_json(dir.path());
    let smith = smith_in(&plan).expect("the override makes him a leaver");
    assert_eq!(smith["emergency"]["id"], o.override_id.as_str());
    assert_eq!(smith["emergency"]["confirmed"], false);
    assert_eq!(smith["delete_at"], serde_json::Value::Null);
    assert_eq!(smith["state"], "due");

    // A day's grace for HR, then the audit asks someone to decide.
    assert!(findings(dir.path(), "unconfirmed-override", 0).is_empty());
    let late = findings(dir.path(), "unconfirmed-override", 2);
    assert_eq!(late.len(), 1, "{late:?}");
    assert_eq!(late[0]["account"], SMITH);
    assert_eq!(late[0]["severity"], "high");
    let evidence = late[0]["evidence"].as_str().unwrap();
    assert!(evidence.contains(&o.override_id), "{evidence}");
    assert!(evidence.contains("ticket SEC-42"), "{evidence}");
}

#[test]
fn rolling_back_the_emergency_run_on_a_terminal_gives_access_back_and_revokes_the_override() {
    let dir = common::example_copy();
    common::init_journal(dir.path());
    let (run, override_id) = emergency_cut(dir.path());
    assert_eq!(status(dir.path(), "okta", SMITH_OKTA), "disabled");

    let mut session = on_a_terminal(dir.path(), &["rollback", &run]);
    session
        .exp_string("+ okta 00ushgm9 (john.smith@acme.com): enable, re-add 2 groups")
        .unwrap();
    session
        .exp_string(&format!("- emergency override {override_id}"))
        .unwrap();
    session
        .exp_string("is revoked: plans follow HR's roster for john.smith@acme.com again")
        .unwrap();
    session
        .exp_string("Do you want to give this access back?")
        .unwrap();
    session.exp_string("Enter a value: ").unwrap();
    session.send_line("yes").unwrap();
    session.exp_string("Rollback complete").unwrap();
    session.exp_eof().unwrap();

    assert_eq!(status(dir.path(), "okta", SMITH_OKTA), "active");
    let journal = journal_of(dir.path());
    assert!(journal.overrides().unwrap().is_empty());
    // HR's roster rules again: no leaver, no finding, nothing for the next apply to cut.
    assert!(smith_in(&plan_json(dir.path())).is_none());
    assert!(findings(dir.path(), "unconfirmed-override", 2).is_empty());
    // A second rollback has nothing left to revoke.
    let out = offboard(dir.path())
        .args(["rollback", &run, "--auto-approve"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains("emergency override"), "{text}");
}

#[test]
fn hr_confirming_the_termination_confirms_the_override() {
    let dir = common::example_copy();
    common::init_journal(dir.path());
    emergency_cut(dir.path());
    // HR's export catches up: John Smith is terminated, last day today.
    let roster = dir.path().join("inventory/people.csv");
    let text = std::fs::read_to_string(&roster).unwrap();
    let today = jiff::Zoned::now().date().to_string();
    let updated: String = text
        .lines()
        .map(|line| {
            if line.contains(SMITH) {
                let mut cols: Vec<String> = line.split(',').map(str::to_string).collect();
                let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
                let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
                cols[col("status")] = "terminated".into();
                cols[col("termination_type")] = "involuntary".into();
                cols[col("last_day")] = today.clone();
                cols.join(",")
            } else {
                line.to_string()
            }
        })
        .map(|l| l + "\n")
        .collect();
    std::fs::write(&roster, updated).unwrap();

    let smith = smith_in(&plan_json(dir.path())).expect("a leaver");
    assert_eq!(smith["emergency"]["confirmed"], true);
    assert!(findings(dir.path(), "unconfirmed-override", 2).is_empty());
}

#[test]
fn no_override_is_recorded_by_accident() {
    let dir = common::example_copy();
    common::init_journal(dir.path());
    // Without --emergency, an active person is refused, and the hint names the way.
    let out = offboard(dir.path())
        .args(["leave", SMITH, "--auto-approve"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("--emergency --reason"), "{err}");
    // A reason or a ticket needs --emergency; --emergency needs a reason.
    for (args, missing) in [
        (
            vec!["leave", SMITH, "--reason", "x", "--auto-approve"],
            "--emergency",
        ),
        (
            vec!["leave", SMITH, "--ticket", "SEC-1", "--auto-approve"],
            "--emergency",
        ),
        (
            vec!["leave", SMITH, "--emergency", "--auto-approve"],
            "--reason",
        ),
    ] {
        let out = offboard(dir.path())
            .args(&args)
            .assert()
            .code(1)
            .get_output()
            .clone();
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(
            err.contains("required arguments were not provided") && err.contains(missing),
            "{args:?}: {err}"
        );
    }
    // A blank reason is no evidence.
    let out = offboard(dir.path())
        .args([
            "leave",
            SMITH,
            "--emergency",
            "--reason",
            "  ",
            "--auto-approve",
        ])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("needs a reason"), "{err}");
    // Cancelling at the question records nothing.
    let mut session = on_a_terminal(
        dir.path(),
        &["leave", SMITH, "--emergency", "--reason", "for cause"],
    );
    session.exp_string("Enter a value: ").unwrap();
    session.send_line("no").unwrap();
    session
        .exp_string("Cancelled. Nothing was changed.")
        .unwrap();
    session.exp_eof().unwrap();
    assert_eq!(status(dir.path(), "okta", SMITH_OKTA), "active");
    let journal = journal_of(dir.path());
    assert!(journal.overrides().unwrap().is_empty());
    assert!(smith_in(&plan_json(dir.path())).is_none());
}

/// Review findings: the override and its run are one transaction and `journal show RUN`
/// lists both; a second emergency for someone already under one is refused; an emergency
/// for someone with nothing left to cut is still journaled (with an empty run, the handle
/// to roll it back).
#[test]
fn the_override_belongs_to_its_run_and_is_never_doubled_or_dropped() {
    let dir = common::example_copy();
    common::init_journal(dir.path());
    let (run, override_id) = emergency_cut(dir.path());
    let out = offboard(dir.path())
        .args(["journal", "show", &run])
        .assert()
        .code(0)
        .get_output()
        .clone();
    let shown = String::from_utf8(out.stdout).unwrap();
    assert!(
        shown.contains(&format!(
            "EMERGENCY OVERRIDE {override_id} by tester@acme.com"
        )),
        "{shown}"
    );
    // Already cut by an override: another is refused; without --emergency, what remains
    // may still be cut.
    let out = offboard(dir.path())
        .args([
            "leave",
            SMITH,
            "--emergency",
            "--reason",
            "again",
            "--auto-approve",
        ])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains(&format!("already cut by emergency override {override_id}")),
        "{err}"
    );
    let journal = journal_of(dir.path());
    assert_eq!(journal.overrides().unwrap().len(), 1);

    // Someone whose access was removed by hand already: the override is still journaled.
    let rollback = offboard(dir.path())
        .args(["rollback", &run, "--auto-approve"])
        .output()
        .unwrap();
    assert!(rollback.status.success());
    for (system, id) in [
        ("okta", SMITH_OKTA),
        ("corp-ad", "jsmith"),
        ("vpn", "1717"),
        ("github", "4865050"),
        ("slack", "U001COTT9JX"),
    ] {
        cut_by_hand(dir.path(), system, id);
    }
    let summary = emergency_summary(dir.path());
    assert_eq!(summary["accounts_cut"], serde_json::json!([]), "{summary}");
    let second = summary["emergency_override"].as_str().unwrap().to_string();
    let journal = journal_of(dir.path());
    let in_force = journal.overrides().unwrap();
    assert_eq!(in_force.len(), 1);
    assert_eq!(in_force[0].override_id, second);
}

/// What the operator reads, snapshot-tested: the emergency banner, the plan's override
/// line, the summary, and the rollback that revokes the override (ids and times filtered).
#[test]
fn the_emergency_and_its_rollback_read_as_documented() {
    let dir = common::example_copy();
    common::init_journal(dir.path());
    let out = offboard(dir.path())
        .args([
            "leave",
            SMITH,
            "--emergency",
            "--reason",
            "credentials posted on a forum",
            "--ticket",
            "SEC-42",
            "--auto-approve",
        ])
        .env("OFFBOARD_ACTOR", "sec@acme.com")
        .output()
        .unwrap();
    assert!(out.status.success());
    let run = journal_of(dir.path()).last_apply().unwrap().unwrap().run_id;
    let rollback = offboard(dir.path())
        .args(["rollback", &run, "--auto-approve"])
        .output()
        .unwrap();
    assert!(rollback.status.success());
    let text = format!(
        "--- leave (stderr)\n{}--- leave (stdout)\n{}--- rollback (stdout)\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&rollback.stdout)
    );
    insta::with_settings!({filters => vec![
        (r"\d{8}T\d{6}Z-[0-9a-f]{6}", "[ID]"),
        (r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC", "[TIME]"),
        (r"due \d{4}-\d{2}-\d{2}", "due [DAY]"),
        // The roster's hash covers the override's id.
        (r"roster [0-9a-f]{7}", "roster [HASH]"),
    ]}, {
        insta::assert_snapshot!("emergency_and_rollback", text);
    });
}
