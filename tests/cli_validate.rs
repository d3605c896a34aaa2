//! `offboard validate` as a user runs it: exit codes, summary line, JSON, colour.

use assert_cmd::Command;
use predicates::prelude::*;

fn offboard() -> Command {
    let mut cmd = Command::cargo_bin("offboard").unwrap();
    cmd.env("OFFBOARD_NO_NOTIFY", "1");
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("NO_COLOR");
    cmd
}

fn broken_policy_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("policies")).unwrap();
    std::fs::write(
        dir.path().join("policies/a.kdl"),
        "system okta {\n    connector file\n    tier idp\n    correlate email=\"email\"\n}\nrule r {\n    when \"persn.x\"\n}\n",
    )
    .unwrap();
    dir
}

#[test]
fn valid_example_prints_one_summary_line() {
    offboard()
        .arg("validate")
        .assert()
        .code(0)
        .stdout(predicate::str::is_match(r"^\d+ systems, \d+ roles, \d+ rules: valid\n$").unwrap());
}

#[test]
fn invalid_policy_exits_1_with_every_diagnostic() {
    let dir = broken_policy_dir();
    offboard()
        .args(["-C"])
        .arg(dir.path())
        .arg("validate")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("unknown tier `idp`"))
        .stderr(predicate::str::contains("unknown variable `persn`"))
        .stderr(predicate::str::contains("policies/a.kdl:3:10"))
        .stderr(predicate::str::contains("the policy has 2 errors"))
        .stderr(predicate::str::contains("\u{1b}[").not());
}

#[test]
fn json_format_lists_diagnostics_with_positions() {
    let dir = broken_policy_dir();
    let out = offboard()
        .arg("-C")
        .arg(dir.path())
        .args(["validate", "--format", "json"])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["valid"], false);
    let first = &v["diagnostics"][0];
    assert_eq!(first["file"], "policies/a.kdl");
    assert_eq!(first["line"], 3);
    assert_eq!(first["column"], 10);
    assert_eq!(first["code"], "policy::unknown-value");
    assert!(
        first["help"]
            .as_str()
            .unwrap()
            .contains("identity-provider")
    );
}

#[test]
fn colour_only_when_asked_and_never_with_no_color() {
    let dir = broken_policy_dir();
    offboard()
        .arg("-C")
        .arg(dir.path())
        .args(["validate", "--color", "always"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("\u{1b}["));
    offboard()
        .arg("-C")
        .arg(dir.path())
        .args(["validate", "--color", "auto"])
        .env("NO_COLOR", "1")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("\u{1b}[").not());
}

#[test]
fn policies_option_selects_another_set() {
    offboard()
        .args(["validate", "--policies", "policies/examples/scim"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("4 systems"));
}

#[test]
fn missing_policy_directory_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    offboard()
        .arg("-C")
        .arg(dir.path())
        .arg("validate")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("cannot read the policy directory"));
}
