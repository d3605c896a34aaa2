//! Output people can read at any size: a 10k-person organisation's plan fits one GitHub
//! comment, long note lists are summarised, finished leavers are a count.

use offboard_test_support as common;

use std::path::Path;

use assert_cmd::Command;

const AT: &str = "2026-11-29T12:00:00Z";

fn org(people: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let options = offboard_gen::Options {
        people,
        accounts: people * 6,
        systems: 6,
        ..Default::default()
    };
    offboard_gen::generate(&options, dir.path()).unwrap();
    dir
}

fn plan(dir: &Path, format: &str) -> String {
    let out = Command::cargo_bin("offboard")
        .unwrap()
        .env("OFFBOARD_NO_NOTIFY", "1")
        .arg("-C")
        .arg(dir)
        .args(["plan", "--at", AT, "--format", format])
        .env("NO_COLOR", "1")
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    String::from_utf8(out).unwrap()
}

#[test]
fn a_ten_thousand_person_plan_fits_one_github_comment() {
    let dir = org(10_000);
    let md = plan(dir.path(), "markdown");
    let chars = md.chars().count();
    assert!(chars <= 65_536, "{chars} characters");
    assert!(
        md.contains("more leavers: see the plan artifact"),
        "{}",
        &md[md.len() - 2000..]
    );
    // The summary and the tail always make it in.
    assert!(md.starts_with("### offboard plan\n\n**Plan: "));
    assert!(md.contains("Noted, not changed: "));
    // The JSON plan keeps every note.
    let json: serde_json::Value = serde_json::from_str(&plan(dir.path(), "json")).unwrap();
    let notes = json["notes"].as_array().unwrap().len();
    assert!(notes > 20);
    assert!(md.contains(&format!("Noted, not changed: {notes} accounts")));
}

#[test]
fn long_note_lists_are_summarised_per_system_and_kind() {
    let dir = org(10_000);
    let text = plan(dir.path(), "text");
    let notes = text
        .split("\nNoted, not changed:")
        .nth(1)
        .and_then(|rest| rest.split("\n\n").next())
        .unwrap();
    insta::assert_snapshot!("ten_thousand_notes", format!("Noted, not changed:{notes}"));
}

#[test]
fn finished_leavers_are_a_count_not_a_block() {
    let dir = common::example_copy();
    let d = dir.path();
    common::init_journal(d);
    let offboard = || {
        let mut cmd = Command::cargo_bin("offboard").unwrap();
        cmd.env("OFFBOARD_NO_NOTIFY", "1");
        cmd.arg("-C").arg(d).env("NO_COLOR", "1");
        cmd
    };
    offboard()
        .args(["apply", "--auto-approve", "--at", "2026-11-23T09:00:00Z"])
        .assert()
        .code(0);
    // Someone re-enables John Doe's Okta account: one leaver has a change again.
    let okta = d.join("inventory/accounts/okta.json");
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&okta).unwrap()).unwrap();
    for a in doc["accounts"].as_array_mut().unwrap() {
        if a["id"] == "00u1a2b3" {
            a["status"] = "active".into();
        }
    }
    std::fs::write(&okta, doc.to_string()).unwrap();
    let out = offboard()
        .args(["plan", "--at", "2026-11-23T09:00:00Z"])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("following actions for 1 leaver ("), "{text}");
    assert_eq!(
        text.matches("\n  # ").count(),
        2,
        "John and the scheduled leaver: {text}"
    );
    assert!(
        text.contains("7 leavers due (6 already offboarded), 1 scheduled"),
        "{text}"
    );
}

/// Run ids, wall-clock times and hashes differ per run.
fn stable() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.add_filter(r"\d{8}T\d{6}Z-[0-9a-f]{6}", "[run]");
    s.add_filter(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC", "[time]");
    s.add_filter(r"(policy|plan) [0-9a-f]{12}", "$1 [hash]");
    s.add_filter(
        r" on [A-Za-z0-9._-]+: (\d+) change",
        " on [host]: $1 change",
    );
    s
}

#[test]
fn journal_listings_and_tasks_read_as_tables() {
    let dir = common::example_copy();
    let d = dir.path();
    common::init_journal(d);
    let offboard = |actor: &str| {
        let mut cmd = Command::cargo_bin("offboard").unwrap();
        cmd.env("OFFBOARD_NO_NOTIFY", "1");
        cmd.arg("-C")
            .arg(d)
            .env("NO_COLOR", "1")
            .env("OFFBOARD_ACTOR", actor);
        cmd
    };
    let long = "a.very.long.initiator.name@users.noreply.github.example.com";
    offboard(long)
        .args(["apply", "--auto-approve", "--at", "2026-11-23T09:00:00Z"])
        .assert()
        .code(0);
    let run = |actor: &str, args: &[&str]| {
        let out = offboard(actor)
            .args(args)
            .assert()
            .code(0)
            .get_output()
            .stdout
            .clone();
        String::from_utf8(out).unwrap()
    };
    let list = run("x@acme.com", &["journal", "list"]);
    let lines: Vec<&str> = list.lines().collect();
    let outcome = |l: &str| l.find("success").or_else(|| l.find("Outcome"));
    assert_eq!(outcome(lines[0]), outcome(lines[1]), "{list}");
    let run_id = lines[1].split_whitespace().next().unwrap().to_string();
    let show = run("x@acme.com", &["journal", "show", &run_id]);
    assert!(!show.contains("{\""), "journal show prints JSON: {show}");
    // Changes run concurrently, so records interleave differently each time: the snapshot
    // holds the lines without their record numbers, sorted.
    let mut records: Vec<String> = show
        .lines()
        .filter(|l| l.starts_with('#'))
        .map(|l| {
            l.split_once(' ')
                .map_or(l, |(_, rest)| rest.trim_start())
                .to_string()
        })
        .collect();
    records.sort();
    let show = records.join("\n");
    // Task states follow the wall clock (open, overdue, escalated): the layout is checked,
    // not the words.
    let tasks = run("x@acme.com", &["tasks"]);
    assert!(tasks.starts_with("Task "), "{tasks}");
    let column = |l: &str, word: &str| l.find(word);
    let task_lines: Vec<&str> = tasks.lines().collect();
    assert_eq!(task_lines.len(), 8, "{tasks}");
    for l in &task_lines[1..] {
        assert_eq!(
            column(l, "laptops"),
            column(task_lines[0], "System"),
            "{tasks}"
        );
        assert_eq!(
            column(l, "it-assets@"),
            column(task_lines[0], "Owner"),
            "{tasks}"
        );
    }
    stable().bind(|| {
        insta::assert_snapshot!("journal_list", list);
        insta::assert_snapshot!("journal_show", show);
    });
}

#[test]
fn verbose_shows_per_system_timings_and_an_empty_saved_plan_says_so() {
    let dir = common::example_copy();
    let d = dir.path();
    let out = Command::cargo_bin("offboard")
        .unwrap()
        .env("OFFBOARD_NO_NOTIFY", "1")
        .arg("-C")
        .arg(d)
        .args(["-v", "plan", "--at", "2026-11-23T09:00:00Z"])
        .assert()
        .code(0)
        .get_output()
        .stderr
        .clone();
    let stderr = String::from_utf8(out).unwrap();
    for system in [
        "okta",
        "corp-ad",
        "slack",
        "github",
        "vpn",
        "netsuite",
        "salesforce",
    ] {
        assert!(
            stderr.contains(&format!("refresh: {system} read in ")),
            "{stderr}"
        );
    }
    assert!(stderr.contains("refresh: 7 systems in "), "{stderr}");
    // After the apply there is nothing left to do, and saving the plan says so.
    common::init_journal(d);
    let out = Command::cargo_bin("offboard")
        .unwrap()
        .env("OFFBOARD_NO_NOTIFY", "1")
        .arg("-C")
        .arg(d)
        .args([
            "-v",
            "apply",
            "--auto-approve",
            "--at",
            "2026-11-23T09:00:00Z",
        ])
        .assert()
        .code(0)
        .get_output()
        .stderr
        .clone();
    // `-v` on apply: the calls each change took (read, one per action, read-back).
    let stderr = String::from_utf8(out).unwrap();
    assert!(
        stderr.contains("okta: 00u1a2b3 (john.doe@acme.com) disable, revoke-sessions, remove-groups: done (confirmed by read-back) [5 calls]"),
        "{stderr}"
    );
    let out = Command::cargo_bin("offboard")
        .unwrap()
        .env("OFFBOARD_NO_NOTIFY", "1")
        .arg("-C")
        .arg(d)
        .args([
            "plan",
            "--at",
            "2026-11-23T09:00:00Z",
            "--out",
            "empty.json",
        ])
        .assert()
        .code(0)
        .get_output()
        .clone();
    let stderr = String::from_utf8(out.stderr).unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.starts_with("No changes."), "{stdout}");
    assert!(
        stderr.contains("it has no changes, so there is nothing to apply"),
        "{stderr}"
    );
}

#[test]
fn a_ten_thousand_person_policy_impact_fits_one_github_comment() {
    let dir = org(10_000);
    let d = dir.path();
    common::commit_all(d, "org");
    // A policy change that touches hundreds of leavers: deletions come 89 days sooner.
    let settings = d.join("policies/settings.kdl");
    let text = std::fs::read_to_string(&settings).unwrap();
    std::fs::write(
        &settings,
        text.replace("delete-after \"90d\"", "delete-after \"1d\""),
    )
    .unwrap();
    let out = Command::cargo_bin("offboard")
        .unwrap()
        .env("OFFBOARD_NO_NOTIFY", "1")
        .arg("-C")
        .arg(d)
        .args([
            "plan",
            "--at",
            AT,
            "--compare",
            "HEAD",
            "--format",
            "markdown",
        ])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let md = String::from_utf8(out).unwrap();
    let chars = md.chars().count();
    assert!(chars <= 65_536, "{chars} characters");
    assert!(md.contains("### offboard: impact of the policy change"));
    assert!(
        md.contains("more (run `offboard plan --compare` for all of them)")
            || md.contains("The plan diff is too long for a comment"),
        "{}",
        &md[..2000.min(md.len())]
    );
    assert!(md.contains("Before: "), "the summary always fits");
}
