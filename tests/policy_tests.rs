//! `offboard test` on the bundled example, a broken expectation, and the shipped CI recipes.

use offboard_test_support as common;

use assert_cmd::Command;
use predicates::prelude::*;

fn offboard(dir: &std::path::Path) -> Command {
    let mut cmd = Command::cargo_bin("offboard").unwrap();
    cmd.env("OFFBOARD_NO_NOTIFY", "1");
    cmd.arg("-C").arg(dir).env_remove("NO_COLOR");
    cmd
}

/// A private copy of the bundled policy (its tests included) and inventory.
fn example_with_tests() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for part in ["policies", "inventory"] {
        common::copy_dir(&common::root().join(part), &dir.path().join(part));
    }
    dir
}

#[test]
fn the_bundled_policy_tests_pass() {
    offboard(&common::root())
        .arg("test")
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "test result: ok. 6 passed; 0 failed.",
        ));
}

#[test]
fn a_broken_expectation_fails_with_a_readable_diff() {
    let dir = example_with_tests();
    let tests = dir.path().join("policies/tests/rules.kdl");
    let text = std::fs::read_to_string(&tests).unwrap();
    // Someone believes a legal hold still lets the contractor account be deleted.
    let broken = text.replace(
        "    expect netsuite \"ns-hal\" disable\n",
        "    expect netsuite \"ns-hal\" delete\n",
    );
    assert_ne!(broken, text);
    std::fs::write(&tests, broken).unwrap();
    let out = offboard(dir.path())
        .arg("test")
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8(out).unwrap();
    assert!(out.contains("FAIL  a legal hold disables but never deletes"));
    insta::assert_snapshot!("policy_test_failure", out);
    let junit = offboard(dir.path())
        .args(["test", "--format", "junit"])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let junit = String::from_utf8(junit).unwrap();
    assert!(
        junit.contains("failures=\"1\"")
            && junit.contains("<failure message=\"expected actions differ\">")
    );
}

#[test]
fn shipped_ci_recipes_are_valid_yaml_with_the_expected_jobs() {
    let gh: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(common::root().join("inventory/ci/github-actions.yml")).unwrap(),
    )
    .unwrap();
    for job in ["review", "apply", "cut-leavers", "audit"] {
        assert!(
            gh["jobs"][job]["steps"]
                .as_sequence()
                .is_some_and(|s| !s.is_empty()),
            "github job {job}"
        );
    }
    let gh_text =
        std::fs::read_to_string(common::root().join("inventory/ci/github-actions.yml")).unwrap();
    assert!(
        gh_text.contains("--compare")
            && gh_text.contains("upload-sarif")
            && gh_text.contains("apply plan.json")
            && gh_text.contains("offboard journal init")
            && gh_text.contains("apply --auto-approve")
            && gh_text.contains("*/15 * * * *")
    );
    let gl: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(common::root().join("inventory/ci/gitlab-ci.yml")).unwrap(),
    )
    .unwrap();
    for job in ["review", "apply", "cut-leavers", "audit"] {
        assert!(
            gl[job]["script"]
                .as_sequence()
                .is_some_and(|s| !s.is_empty()),
            "gitlab job {job}"
        );
    }
    // The journal is shared in PostgreSQL (or a durable path), never kept in a CI cache,
    // which evicts it.
    for recipe in ["github-actions.yml", "gitlab-ci.yml"] {
        let text =
            std::fs::read_to_string(common::root().join("inventory/ci").join(recipe)).unwrap();
        assert!(text.contains("OFFBOARD_JOURNAL"), "{recipe}");
        assert!(
            !text.contains("actions/cache") && !text.contains("cache:"),
            "{recipe} keeps the journal in a cache"
        );
    }
}

/// A policy test file is read like a policy file: every problem, each with file, line,
/// column and a hint, and no test runs while any is left.
#[test]
fn a_broken_test_file_gets_the_policys_diagnostics() {
    let dir = example_with_tests();
    std::fs::write(
        dir.path().join("policies/tests/broken.kdl"),
        r#"test "typos everywhere" {
    at "2026-13-01"
    person "kim@acme.com" status=terminated status=active
    account okta id="00u-kim" emial="kim@acme.com" sessions="two"
    expect okta "00u-kim" disabel
    at "2026-11-23T09:00:00Z"
}

test "nothing expected" {
    at "2026-11-23T09:00:00Z"
}

tset "misspelt node" {
}
"#,
    )
    .unwrap();
    let out = offboard(dir.path())
        .env("NO_COLOR", "1")
        .arg("test")
        .assert()
        .code(1)
        .get_output()
        .clone();
    assert!(out.stdout.is_empty(), "no test ran");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("the policy tests have 8 problems; no test was run."));
    insta::assert_snapshot!("policy_test_file_diagnostics", stderr);
}
