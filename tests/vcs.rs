//! Policy review in git: provenance, the dirty guard, and `plan --compare REV` for the kinds
//! of change a policy pull request makes. Repositories are real (git2) in temp directories.

use offboard_test_support as common;

use std::path::Path;

use assert_cmd::Command;
use git2::{Repository, Signature, Time};
use predicates::prelude::*;

const AT: &str = "2026-11-23T09:00:00Z";

fn offboard(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("offboard").unwrap();
    cmd.env("OFFBOARD_NO_NOTIFY", "1");
    cmd.arg("-C")
        .arg(dir)
        .env("OFFBOARD_ACTOR", "vcs-test")
        .env_remove("NO_COLOR");
    cmd
}

/// Commit everything in the work tree with a fixed author and time (stable commit ids).
fn commit(repo: &Repository, message: &str) -> String {
    let mut index = repo.index().unwrap();
    index
        .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
        .unwrap();
    index.write().unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let sig = Signature::new(
        "Policy Author",
        "author@acme.com",
        &Time::new(1_795_000_000, 0),
    )
    .unwrap();
    let parents: Vec<git2::Commit> = repo
        .head()
        .ok()
        .and_then(|h| h.peel_to_commit().ok())
        .into_iter()
        .collect();
    let parents: Vec<&git2::Commit> = parents.iter().collect();
    repo.commit(Some("HEAD"), &sig, &sig, message, &tree, &parents)
        .unwrap()
        .to_string()
}

/// The bundled example as a fresh policy repository with one commit.
fn repository() -> (tempfile::TempDir, Repository) {
    let dir = tempfile::tempdir().unwrap();
    common::init_journal(dir.path());
    common::copy_dir(
        &common::root().join("policies"),
        &dir.path().join("policies"),
    );
    std::fs::remove_dir_all(dir.path().join("policies/examples")).ok();
    common::copy_dir(
        &common::root().join("inventory"),
        &dir.path().join("inventory"),
    );
    std::fs::write(dir.path().join(".gitignore"), ".offboard/\n*.json.tmp-*\n").unwrap();
    let repo = Repository::init(dir.path()).unwrap();
    commit(&repo, "example policy");
    (dir, repo)
}

fn edit(dir: &Path, file: &str, f: impl FnOnce(String) -> String) {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, f(text)).unwrap();
}

/// The `--compare HEAD` output; the commit id depends on every file of the example, so it
/// is masked to keep the snapshots about the impact.
fn compare(dir: &Path) -> String {
    let out = offboard(dir)
        .args(["plan", "--at", AT, "--compare", "HEAD"])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    let head = text.find("HEAD (").map(|i| text[i + 6..i + 13].to_string());
    match head {
        Some(sha) if sha.chars().all(|c| c.is_ascii_hexdigit()) => text.replace(&sha, "[commit]"),
        _ => text,
    }
}

#[test]
fn plans_and_runs_record_provenance_and_dirty_policies_are_refused() {
    let (dir, repo) = repository();
    let head = repo
        .head()
        .unwrap()
        .peel_to_commit()
        .unwrap()
        .id()
        .to_string();
    let out = offboard(dir.path())
        .args(["plan", "--at", AT, "--format", "json"])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let plan: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(plan["policy"]["git_commit"], head.as_str());
    assert_eq!(plan["policy"]["dirty"], false);

    edit(dir.path(), "policies/rules.kdl", |t| {
        t + "\n// an unreviewed edit\n"
    });
    let out = offboard(dir.path())
        .args(["plan", "--at", AT, "--format", "json"])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let plan: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(plan["policy"]["dirty"], true);
    offboard(dir.path())
        .args(["apply", "--auto-approve", "--at", AT])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "uncommitted changes (policies/rules.kdl)",
        ));
    // Untracked policy files count too.
    std::fs::write(dir.path().join("policies/extra.kdl"), "// new file\n").unwrap();
    offboard(dir.path())
        .args(["apply", "--auto-approve", "--at", AT])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("policies/extra.kdl"));
    offboard(dir.path())
        .args(["apply", "--auto-approve", "--allow-dirty", "--at", AT])
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
    assert_eq!(runs[0]["start"]["allow_dirty"], true);
    assert_eq!(runs[0]["start"]["git_commit"], head.as_str());
}

#[test]
fn compare_a_new_rule() {
    let (dir, _repo) = repository();
    edit(dir.path(), "policies/rules.kdl", |t| {
        t + "\nrule marketing-immediately {\n    when \"person.department == \\\"Marketing\\\"\"\n    cutoff immediately\n}\n"
    });
    insta::assert_snapshot!("compare_new_rule", compare(dir.path()));
}

#[test]
fn compare_a_changed_cutoff() {
    let (dir, _repo) = repository();
    edit(dir.path(), "policies/rules.kdl", |t| {
        let changed = t.replace("    cutoff end-of-last-day\n", "    cutoff \"+7d\"\n");
        assert_ne!(changed, t);
        changed
    });
    insta::assert_snapshot!("compare_changed_cutoff", compare(dir.path()));
}

#[test]
fn compare_a_removed_role_grant() {
    let (dir, _repo) = repository();
    edit(dir.path(), "policies/roles.kdl", |t| {
        let mut lines: Vec<&str> = t.lines().collect();
        let i = lines
            .iter()
            .position(|l| l.trim_start().starts_with("grant "))
            .unwrap();
        lines.remove(i);
        lines.join("\n") + "\n"
    });
    insta::assert_snapshot!("compare_removed_grant", compare(dir.path()));
}

#[test]
fn compare_an_added_system() {
    let (dir, _repo) = repository();
    let wiki = serde_json::json!({"accounts": [
        {"id": "w1", "username": "john.doe", "emails": ["john.doe@acme.com"], "status": "active", "groups": ["editors"]},
        {"id": "w2", "username": "maria.garcia", "emails": ["maria.garcia@acme.com"], "status": "active", "groups": ["editors"]}
    ]});
    std::fs::write(
        dir.path().join("inventory/accounts/wiki.json"),
        wiki.to_string(),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("policies/wiki.kdl"),
        "system wiki {\n    connector file\n    tier collaboration\n    correlate email=\"email\"\n    on-leave disable remove-groups\n    max-disable-share \"50%\"\n}\n",
    )
    .unwrap();
    insta::assert_snapshot!("compare_added_system", compare(dir.path()));
}

#[test]
fn a_reformatting_is_no_change_in_plan() {
    let (dir, _repo) = repository();
    edit(dir.path(), "policies/rules.kdl", |t| {
        // Comments dropped, indentation changed, blank lines removed: same meaning.
        t.lines()
            .filter(|l| !l.trim_start().starts_with("//") && !l.trim().is_empty())
            .map(|l| {
                format!(
                    "{}{}",
                    "  ".repeat(l.len() - l.trim_start().len()),
                    l.trim_start()
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
            + "\n"
    });
    let out = compare(dir.path());
    assert!(out.starts_with("No change in plan between HEAD"), "{out}");
    assert_eq!(out.lines().count(), 1);
    insta::assert_snapshot!("compare_reformat", out);
}

#[test]
fn compare_outside_git_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    common::init_journal(dir.path());
    common::copy_dir(
        &common::root().join("policies"),
        &dir.path().join("policies"),
    );
    std::fs::remove_dir_all(dir.path().join("policies/examples")).ok();
    common::copy_dir(
        &common::root().join("inventory"),
        &dir.path().join("inventory"),
    );
    offboard(dir.path())
        .args(["plan", "--compare", "HEAD"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("not inside a git repository"));
}
