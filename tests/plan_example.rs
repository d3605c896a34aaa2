//! `offboard plan` on the bundled example: golden text, JSON and Markdown, determinism, CLI.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use jiff::Timestamp;
use offboard::connector::{self, Observed};
use offboard::plan::{ChangeKind, LeaverState, NoteKind, Plan, render};
use offboard::policy::{self, Action};
use offboard::reconcile::{self, PlanInput};
use offboard::roster;
use predicates::prelude::*;

/// The instant the example is planned at (its roster was written for this morning).
const AT: &str = "2026-11-23T09:00:00Z";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn observe(policy: &policy::Policy, root: &Path) -> Observed {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let observed = rt.block_on(connector::refresh(policy, root, &|_| {}));
    assert!(observed.failures.is_empty(), "{:?}", observed.failures);
    observed
}

fn example_plan() -> Plan {
    let root = root();
    let policy = policy::load_dir(&root.join("policies"), &root).unwrap();
    let roster = roster::load(
        policy.people.as_ref().unwrap(),
        &root,
        &policy.defaults.timezone,
    )
    .unwrap();
    let observed = observe(&policy, &root);
    reconcile::plan(&PlanInput {
        policy: &policy,
        roster: &roster,
        observed: &observed,
        now: AT.parse::<Timestamp>().unwrap(),
        only: None,
        known_tasks: None,
        git_commit: None,
        dirty: None,
    })
    .unwrap()
}

fn leaver<'a>(plan: &'a Plan, email: &str) -> &'a offboard::plan::Leaver {
    plan.leavers
        .iter()
        .find(|l| l.person == email)
        .unwrap_or_else(|| panic!("{email} not in plan"))
}

#[test]
fn example_covers_every_kind_of_leaver() {
    let plan = example_plan();
    // Involuntary: cut now, before the end of the day.
    let john = leaver(&plan, "john.doe@acme.com");
    assert_eq!(john.state, LeaverState::Due);
    assert_eq!(john.rules, ["involuntary"]);
    assert!(john.cutoff <= AT.parse::<Timestamp>().unwrap());
    let okta = plan
        .changes
        .iter()
        .find(|c| c.person == john.person && c.system == "okta")
        .unwrap();
    assert_eq!(
        okta.actions,
        [
            Action::Disable,
            Action::RevokeSessions,
            Action::RemoveGroups
        ]
    );
    // Voluntary, last day in the future: scheduled, nothing planned.
    let sarah = leaver(&plan, "sarah.mitchell@acme.com");
    assert_eq!(sarah.state, LeaverState::Scheduled);
    assert!(plan.changes.iter().all(|c| c.person != sarah.person));
    // Contractor past retention: deleted.
    assert!(
        plan.changes
            .iter()
            .any(|c| c.person == "marco.rossi@acme.com" && c.kind == ChangeKind::Delete)
    );
    // Legal hold past 90 days: disabled, never deleted.
    let grace = leaver(&plan, "grace.okafor@acme.com");
    assert_eq!(grace.retained_by, ["legal-hold"]);
    assert!(
        plan.changes
            .iter()
            .filter(|c| c.person == grace.person)
            .all(|c| c.kind != ChangeKind::Delete)
    );
    assert!(
        plan.changes
            .iter()
            .any(|c| c.person == grace.person && c.actions.contains(&Action::Disable))
    );
    // Manual laptop lane.
    assert!(
        plan.changes.iter().any(|c| c.person == john.person
            && c.kind == ChangeKind::Task
            && c.system == "laptops")
    );
    // Orphans and disputed accounts are noted, never changed.
    assert!(
        plan.notes
            .iter()
            .any(|n| n.kind == NoteKind::Orphan && n.account.label == "old.intern@acme.com")
    );
    assert!(plan.notes.iter().any(|n| n.kind == NoteKind::Disputed));
    assert!(plan.changes.iter().all(|c| {
        c.account
            .as_ref()
            .is_none_or(|a| a.label != "support@acme.com")
    }));
    // Case-insensitive correlation: Jane's CRM account has a differently cased email.
    assert!(
        plan.changes
            .iter()
            .any(|c| c.person == "jane.roe@acme.com" && c.system == "salesforce")
    );
}

#[test]
fn example_plan_text() {
    insta::assert_snapshot!(
        "example_plan_text",
        render::text(&example_plan(), render::TextOptions::default())
    );
}

#[test]
fn example_plan_summary() {
    insta::assert_snapshot!(
        "example_plan_summary",
        render::summary(&example_plan(), render::TextOptions::default())
    );
}

#[test]
fn example_plan_markdown() {
    insta::assert_snapshot!("example_plan_markdown", render::markdown(&example_plan()));
}

#[test]
fn example_plan_json() {
    insta::assert_snapshot!("example_plan_json", example_plan().to_json());
}

#[test]
fn planning_is_deterministic() {
    let a = example_plan().to_json();
    let b = example_plan().to_json();
    assert_eq!(a, b);
}

fn offboard() -> Command {
    let mut cmd = Command::cargo_bin("offboard").unwrap();
    cmd.env("OFFBOARD_NO_NOTIFY", "1");
    cmd.current_dir(root()).env_remove("NO_COLOR");
    cmd
}

#[test]
fn cli_plan_matches_library_and_detailed_exitcode_reports_changes() {
    let out = offboard()
        .args(["plan", "--at", AT, "--format", "json"])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    // The CLI adds git provenance (this checkout's commit), which the library call has not.
    let mut cli: serde_json::Value = serde_json::from_slice(&out).unwrap();
    cli["policy"]["git_commit"] = serde_json::Value::Null;
    cli["policy"]["dirty"] = serde_json::Value::Null;
    let lib: serde_json::Value = serde_json::from_str(&example_plan().to_json()).unwrap();
    assert_eq!(cli, lib);
    offboard()
        .args(["plan", "--at", AT, "--detailed-exitcode"])
        .assert()
        .code(2);
}

#[test]
fn cli_saved_plan_renders_with_show() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plan.json");
    let printed = offboard()
        .args(["plan", "--at", AT, "--out"])
        .arg(&file)
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    offboard()
        .arg("show")
        .arg(&file)
        .assert()
        .code(0)
        .stdout(predicate::eq(String::from_utf8(printed).unwrap()));
}

#[test]
fn cli_person_by_name_and_department() {
    offboard()
        .args([
            "plan",
            "--at",
            AT,
            "-p",
            "John",
            "--department",
            "Product Management",
        ])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("# john.doe@acme.com"))
        .stdout(predicate::str::contains("for 1 leaver "));
}

#[test]
fn cli_ambiguous_person_lists_candidates_and_changes_nothing() {
    offboard()
        .args(["plan", "--at", AT, "-p", "John"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("matches 2 people"))
        .stderr(predicate::str::contains(
            "John Doe <john.doe@acme.com>, Product Management",
        ))
        .stderr(predicate::str::contains("John Smith"));
}

#[test]
fn cli_no_changes_message() {
    // Hannah Lee is on leave, not leaving: nothing to do for her.
    offboard()
        .args([
            "plan",
            "--at",
            AT,
            "-p",
            "hannah.lee@acme.com",
            "--detailed-exitcode",
        ])
        .assert()
        .code(0)
        .stdout(predicate::str::starts_with(
            "No changes. Access matches policy.",
        ))
        .stdout(predicate::str::contains("is not leaving"));
}

#[test]
fn cli_at_previews_scheduled_cutoff() {
    offboard()
        .args([
            "plan",
            "--at",
            "2026-11-28T09:00:00Z",
            "-p",
            "sarah.mitchell@acme.com",
        ])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("# sarah.mitchell@acme.com"))
        .stdout(predicate::str::contains("active -> disabled"));
}

/// `offboard schedule` on the example: every cutoff and deletion still ahead, earliest first.
#[test]
fn example_schedule() {
    let dir = offboard_test_support::example_copy();
    let out = offboard_test_support::offboard(dir.path())
        .args(["schedule", "--at", "2026-11-23T09:00:00Z"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    insta::assert_snapshot!("example_schedule", String::from_utf8(out.stdout).unwrap());
}
