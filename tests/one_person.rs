//! One person, right now: `plan -p` and `apply -p` look up the named person's accounts in
//! each system instead of reading every account (a targeted read), say so in the plan, cut
//! only that person, re-audit them with a targeted read, and leave the journal's baselines
//! (how many accounts each system had) to full reads.

use offboard_test_support as common;

use std::path::Path;

use assert_cmd::Command;

use common::offboard;

fn status(dir: &Path, system: &str, id: &str) -> String {
    common::account_status(dir, system, id).expect("the account is in the export")
}

fn stdout(cmd: &mut Command, code: i32) -> String {
    let out = cmd.assert().code(code).get_output().stdout.clone();
    String::from_utf8(out).unwrap()
}

#[test]
fn a_targeted_plan_says_what_it_did_not_look_for() {
    let dir = common::example_copy();
    common::init_journal(dir.path());
    let text = stdout(
        offboard(dir.path()).args(["plan", "-p", "jdoe", "--at", "2026-11-23T09:00:00Z"]),
        0,
    );
    insta::assert_snapshot!("targeted_plan", text);
    let json = stdout(
        offboard(dir.path()).args([
            "plan",
            "-p",
            "jdoe",
            "--at",
            "2026-11-23T09:00:00Z",
            "--format",
            "json",
        ]),
        0,
    );
    let plan: serde_json::Value = serde_json::from_str(&json).unwrap();
    let refreshed = plan["refreshed"].as_array().unwrap();
    assert!(
        refreshed
            .iter()
            .filter(|s| s["connector"] != "manual")
            .all(|s| s["targeted"] == true),
        "{refreshed:?}"
    );
}

#[test]
fn apply_p_cuts_one_person_and_leaves_the_baselines_to_full_reads() {
    let dir = common::example_copy();
    common::init_journal(dir.path());
    let out = stdout(
        offboard(dir.path()).args(["apply", "-p", "john.doe@acme.com", "--auto-approve"]),
        0,
    );
    assert!(
        out.contains("0 active credentials remain for 1 leaver"),
        "{out}"
    );
    assert_eq!(status(dir.path(), "okta", "00u1a2b3"), "disabled");
    // Jane Roe, another due leaver, was not named: untouched.
    assert_eq!(status(dir.path(), "okta", "00u79mgh"), "active");
    let runs = stdout(
        offboard(dir.path()).args(["journal", "list", "--format", "json"]),
        0,
    );
    let runs: serde_json::Value = serde_json::from_str(&runs).unwrap();
    let start = &runs[0]["start"];
    assert_eq!(start["changes"], 5, "{start}");
    assert_eq!(start["trigger"], "apply -p john.doe@acme.com", "{start}");
    assert!(
        start["system_accounts"]
            .as_object()
            .is_none_or(|counts| counts.is_empty()),
        "a targeted read's counts are no baseline: {start}"
    );
    // The next full plan is not refused as if systems had shrunk to one account each.
    let full = stdout(
        offboard(dir.path()).args(["plan", "--at", "2026-11-23T09:00:00Z", "--summary"]),
        0,
    );
    assert!(full.contains("jane.roe@acme.com"), "{full}");
}

#[test]
fn apply_p_refuses_a_plan_file_beside_it() {
    let dir = common::example_copy();
    let assert = offboard(dir.path())
        .args(["apply", "plan.json", "-p", "jdoe"])
        .assert()
        .code(1);
    let err = String::from_utf8(assert.get_output().stderr.clone()).unwrap();
    assert!(err.contains("cannot be used with"), "{err}");
}
