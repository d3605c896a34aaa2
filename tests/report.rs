//! `offboard report PERSON`: certificates for a completed leaver, a leaver with a failed
//! change and a leaver with an open manual task, from a real journal.

use offboard_test_support as common;

use std::path::Path;

use assert_cmd::Command;

const AT: &str = "2026-11-23T09:00:00Z";

fn offboard(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("offboard").unwrap();
    cmd.env("OFFBOARD_NO_NOTIFY", "1");
    cmd.arg("-C")
        .arg(dir)
        .env("OFFBOARD_ACTOR", "it-ops@acme.com")
        .env_remove("NO_COLOR");
    cmd
}

/// The example with the VPN export as CSV (which apply cannot change: Marco's VPN delete
/// fails), applied; John's laptop is handed back, Jane's is not.
fn applied() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    common::init_journal(dir.path());
    let d = dir.path();
    common::copy_dir(&common::root().join("policies"), &d.join("policies"));
    std::fs::remove_dir_all(d.join("policies/examples")).ok();
    common::copy_dir(&common::root().join("inventory"), &d.join("inventory"));
    let vpn: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(d.join("inventory/accounts/vpn.json")).unwrap(),
    )
    .unwrap();
    let mut csv = String::from("id,username,emails,status,groups\n");
    for a in vpn["accounts"].as_array().unwrap() {
        let list = |k: &str| {
            a[k].as_array()
                .map(|v| {
                    v.iter()
                        .map(|x| x.as_str().unwrap())
                        .collect::<Vec<_>>()
                        .join(";")
                })
                .unwrap_or_default()
        };
        csv.push_str(&format!(
            "{},{},{},{},{}\n",
            a["id"].as_str().unwrap(),
            a["username"].as_str().unwrap(),
            list("emails"),
            a["status"].as_str().unwrap(),
            list("groups")
        ));
    }
    std::fs::write(d.join("inventory/accounts/vpn.csv"), csv).unwrap();
    let systems = std::fs::read_to_string(d.join("policies/systems.kdl"))
        .unwrap()
        .replace(
            "connector file path=\"inventory/accounts/vpn.json\" format=json",
            "connector file path=\"inventory/accounts/vpn.csv\" format=csv",
        );
    std::fs::write(d.join("policies/systems.kdl"), systems).unwrap();
    let plan = d.join("p.json");
    offboard(d)
        .args(["plan", "--at", AT, "--out"])
        .arg(&plan)
        .assert()
        .code(0);
    offboard(d).arg("apply").arg(&plan).assert().code(1);
    let john = task_of(d, "john.doe@acme.com");
    offboard(d)
        .args([
            "tasks",
            "done",
            &john,
            "--note",
            "laptop LAP-1234 returned to IT",
        ])
        .assert()
        .code(0);
    dir
}

/// The id of the manual task opened for `person`.
fn task_of(dir: &Path, person: &str) -> String {
    let out = offboard(dir)
        .args(["tasks", "--format", "json"])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let tasks: serde_json::Value = serde_json::from_slice(&out).unwrap();
    tasks
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["task"]["open"]["person"] == person)
        .and_then(|t| t["task"]["open"]["task_id"].as_str())
        .unwrap_or_else(|| panic!("no task for {person}"))
        .to_string()
}

fn report(dir: &Path, person: &str, format: &str) -> String {
    let out = offboard(dir)
        .args(["report", person, "--format", format])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    String::from_utf8(out).unwrap()
}

/// Wall-clock times, run ids, the host and the chain head differ per run.
fn stable() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.add_filter(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z", "[time]");
    s.add_filter(r"\d{8}T\d{6}Z-[0-9a-f]{6}", "[run]");
    // Human times of when things happened (cutoffs and due dates are fixed by the example).
    s.add_filter(
        r"(started|finished|intent|result|opened|at) \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC",
        "$1 [time]",
    );
    s.add_filter(r" on [^,<]+, started", " on [host], started");
    s.add_filter(r"head [0-9a-f]{16}", "head [hash]");
    // Plans record the journal's lineage, which is random: so is the plan's hash.
    s.add_filter(r"plan [0-9a-f]{12}", "plan [hash]");
    s.add_filter(r#""plan_hash": "[0-9a-f]+""#, r#""plan_hash": "[hash]""#);
    s.add_filter(
        r"</code></td><td><code>[0-9a-f]{12}</code>",
        "</code></td><td><code>[hash]</code>",
    );
    s.add_filter(r"/tmp/\.tmp[A-Za-z0-9]+/", "[dir]/");
    // Changes run concurrently: which sequence numbers the cited records got varies.
    s.add_filter(
        r#"(?s)"cited_records": \[[^\]]*\]"#,
        r#""cited_records": "[seqs]""#,
    );
    s.add_filter(r#""host": "[^"]*""#, r#""host": "[host]""#);
    s.add_filter(r#""head": "[0-9a-f]+""#, r#""head": "[hash]""#);
    s
}

#[test]
fn certificates_for_complete_failed_and_open_task_leavers() {
    let dir = applied();
    let john = report(dir.path(), "jdoe", "text");
    assert!(
        john.contains("COMPLETE: zero active credentials confirmed"),
        "{john}"
    );
    assert!(john.contains("hash chain verified: intact"));
    let marco = report(dir.path(), "marco.rossi@acme.com", "text");
    // The certificate names the person from the journal alone.
    assert!(
        marco.starts_with(
            "Offboarding certificate for Marco Rossi (marco.rossi@acme.com), Engineering\n\nContract end termination, cutoff 2026-10-01 00:00 UTC; rules applied: contractors.\n\nNOT COMPLETE"
        ),
        "{marco}"
    );
    assert!(marco.contains("vpn 9174: delete -> FAILED"));
    let jane = report(dir.path(), "jane.roe@acme.com", "text");
    assert!(
        jane.contains("NOT COMPLETE: zero active credentials confirmed")
            && jane.contains("1 manual task is still open"),
        "{jane}"
    );
    stable().bind(|| {
        insta::assert_snapshot!("report_complete", john);
        insta::assert_snapshot!("report_failed_change", marco);
        insta::assert_snapshot!("report_open_task", jane);
        insta::assert_snapshot!(
            "report_complete_json",
            report(dir.path(), "john.doe@acme.com", "json")
        );
        insta::assert_snapshot!(
            "report_complete_html",
            report(dir.path(), "john.doe@acme.com", "html")
        );
    });
}

#[test]
fn a_tampered_journal_makes_the_certificate_untrustworthy() {
    let dir = applied();
    let conn = rusqlite::Connection::open(dir.path().join(".offboard/journal.db")).unwrap();
    conn.execute_batch(
        "UPDATE actions SET body = replace(body, 'failed', 'done') WHERE body LIKE '%marco%';",
    )
    .unwrap();
    drop(conn);
    let out = offboard(dir.path())
        .args(["report", "marco.rossi@acme.com"])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8_lossy(&out);
    assert!(
        out.contains("NOT TRUSTWORTHY") && out.contains("hash chain BROKEN"),
        "{out}"
    );
}

#[test]
fn unknown_person_is_an_error() {
    let dir = applied();
    offboard(dir.path())
        .args(["report", "nobody@acme.com"])
        .assert()
        .code(1);
}

#[test]
fn a_rollback_makes_the_certificate_incomplete_and_a_task_only_leaver_can_complete() {
    let dir = applied();
    let d = dir.path();
    // Emily had only her laptop to return.
    let emily_before = report(d, "emily.watson@acme.com", "text");
    assert!(
        emily_before.contains("1 manual task is still open"),
        "{emily_before}"
    );
    let emily = task_of(d, "emily.watson@acme.com");
    offboard(d)
        .args(["tasks", "done", &emily, "--note", "returned"])
        .assert()
        .code(0);
    assert!(
        report(d, "emily.watson@acme.com", "text")
            .contains("\nCOMPLETE: zero active credentials confirmed")
    );

    let runs = offboard(d)
        .args(["journal", "list", "--format", "json"])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let runs: serde_json::Value = serde_json::from_slice(&runs).unwrap();
    let run = runs[0]["start"]["run_id"].as_str().unwrap().to_string();
    offboard(d)
        .args(["rollback", &run, "--auto-approve"])
        .assert()
        .code(0);
    let john = report(d, "john.doe@acme.com", "text");
    assert!(john.contains("NOT COMPLETE: rollback run"), "{john}");
}
