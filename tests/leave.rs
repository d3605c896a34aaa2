//! `offboard leave`, the guided flow, driven through a pseudo-terminal as an operator would:
//! name someone ambiguous, pick from the numbered list, review the plan, answer `yes`, watch,
//! and read the summary. Also the script form (`--auto-approve --format json`) and refusals.

use offboard_test_support as common;

use std::path::Path;

fn status(dir: &Path, system: &str, id: &str) -> String {
    common::account_status(dir, system, id).expect("the account is in the export")
}

fn leave_on_a_terminal(dir: &Path, args: &[&str]) -> rexpect::session::PtySession {
    let args: Vec<&str> = std::iter::once("leave")
        .chain(args.iter().copied())
        .collect();
    common::on_a_terminal(dir, &args, "tester@acme.com")
}

#[test]
fn an_operator_picks_among_matches_confirms_and_reads_the_summary() {
    let dir = common::example_copy();
    common::init_journal(dir.path());
    let mut session = leave_on_a_terminal(dir.path(), &[]);
    session
        .exp_string("Who is leaving? (email, username, employee id or name): ")
        .unwrap();
    session.send_line("John").unwrap();
    session.exp_string("Several people match:").unwrap();
    session
        .exp_string("1) John Doe <john.doe@acme.com>, Product Management (terminated)")
        .unwrap();
    session
        .exp_string("2) John Smith <john.smith@acme.com>, Engineering (active)")
        .unwrap();
    session.exp_string("Which one? [1-2]: ").unwrap();
    session.send_line("1").unwrap();
    session
        .exp_string("~ okta     00u1a2b3     john.doe@acme.com  active -> disabled")
        .unwrap();
    session.exp_string("Cut John Doe's access now?").unwrap();
    session.exp_string("Enter a value: ").unwrap();
    session.send_line("yes").unwrap();
    session
        .exp_string("okta: 00u1a2b3 (john.doe@acme.com) disable, revoke-sessions, remove-groups: done (confirmed by read-back)")
        .unwrap();
    session
        .exp_string("John Doe <john.doe@acme.com>: 4 accounts cut in 4 systems (okta, corp-ad, github, slack), 1 manual task opened.")
        .unwrap();
    session
        .exp_string("Verification: YELLOW: no active credential left; manual tasks pending.")
        .unwrap();
    session
        .exp_string("Certificate: offboard report john.doe@acme.com")
        .unwrap();
    session.exp_eof().unwrap();
    assert_eq!(status(dir.path(), "okta", "00u1a2b3"), "disabled");
    // John Smith, the other match, and Jane Roe, another leaver, were not touched.
    assert_eq!(status(dir.path(), "okta", "00u79mgh"), "active");
}

#[test]
fn anything_but_yes_changes_nothing() {
    let dir = common::example_copy();
    common::init_journal(dir.path());
    let mut session = leave_on_a_terminal(dir.path(), &["jdoe"]);
    session.exp_string("Enter a value: ").unwrap();
    session.send_line("y").unwrap();
    session
        .exp_string("Cancelled. Nothing was changed.")
        .unwrap();
    session.exp_eof().unwrap();
    assert_eq!(status(dir.path(), "okta", "00u1a2b3"), "active");
}

use common::offboard;

#[test]
fn a_script_gets_json_and_ambiguity_or_an_active_person_changes_nothing() {
    let dir = common::example_copy();
    common::init_journal(dir.path());
    // Without a terminal, several matches are listed, never guessed.
    let out = offboard(dir.path())
        .args(["leave", "John"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("`John` matches 2 people; nothing was changed:"),
        "{err}"
    );
    assert!(
        err.contains("John Smith <john.smith@acme.com>, Engineering (active)"),
        "{err}"
    );
    // Someone HR lists as active is refused.
    let out = offboard(dir.path())
        .args(["leave", "john.smith@acme.com", "--auto-approve"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("is active in the roster"), "{err}");
    // JSON needs --auto-approve.
    offboard(dir.path())
        .args(["leave", "jdoe", "--format", "json"])
        .assert()
        .code(1);
    assert_eq!(status(dir.path(), "okta", "00u1a2b3"), "active");
    let out = offboard(dir.path())
        .args(["leave", "jdoe", "--auto-approve", "--format", "json"])
        .assert()
        .code(0)
        .get_output()
        .clone();
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["person"]["email"], "john.doe@acme.com");
    assert_eq!(
        summary["systems_cut"],
        serde_json::json!(["okta", "corp-ad", "github", "slack"])
    );
    assert_eq!(summary["verdict"], "yellow");
    assert_eq!(summary["tasks_opened"], 1);
    assert_eq!(summary["certificate"], "offboard report john.doe@acme.com");
    // The plan went to stderr, out of the way of the JSON.
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("~ okta     00u1a2b3"), "{err}");
    assert_eq!(status(dir.path(), "okta", "00u1a2b3"), "disabled");
    // The journal says what started the run.
    let runs = offboard(dir.path())
        .args(["journal", "list", "--format", "json"])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let runs: serde_json::Value = serde_json::from_slice(&runs).unwrap();
    assert_eq!(runs[0]["start"]["trigger"], "leave john.doe@acme.com");
}

/// What an operator reads: the plan, then the summary (snapshot; run ids and the plan's
/// instant vary and are filtered).
#[test]
fn the_summary_reads_as_documented() {
    let dir = common::example_copy();
    common::init_journal(dir.path());
    let out = offboard(dir.path())
        .args(["leave", "jdoe", "--auto-approve"])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    insta::with_settings!({filters => vec![
        (r"\d{8}T\d{6}Z-[0-9a-f]{6}", "[RUN]"),
        (r"as of \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC", "as of [NOW]"),
    ]}, {
        insta::assert_snapshot!("leave_summary", text);
    });
}
