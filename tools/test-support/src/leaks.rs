//! Helpers for the tests of the vendor connectors: a runtime for driving a connector from a
//! plain `#[test]`, the last run's id, and everything a command sequence left behind, which
//! the canary tests search for a secret.

use std::path::{Path, PathBuf};

/// A two-worker runtime for driving connectors from a plain `#[test]`.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// The newest run in the journal of the policy repository `dir`.
pub fn last_run_id(offboard: impl Fn() -> assert_cmd::Command) -> String {
    let out = offboard()
        .args(["journal", "list", "--format", "json"])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let runs: serde_json::Value = serde_json::from_slice(&out).expect("journal list is JSON");
    runs[0]["start"]["run_id"]
        .as_str()
        .expect("a run was journaled")
        .to_string()
}

/// Every file below `dir`.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// What `plan` (text, JSON and to a file), `apply` of that file and `audit` print, and every
/// file in `dir` afterwards except the secret's own file `secret_file`: where a leaked
/// credential would show.
pub fn everything_written(
    dir: &Path,
    offboard: impl Fn() -> assert_cmd::Command,
    at: &str,
    secret_file: &str,
) -> Vec<String> {
    let plan_file = dir.join("leavers.plan.json");
    let plan_file = plan_file.to_str().expect("a UTF-8 temporary path");
    let mut outputs = Vec::new();
    for args in [
        vec!["plan", "--at", at, "--format", "json"],
        vec!["plan", "--at", at, "-o", plan_file],
        vec!["apply", plan_file],
        vec!["audit", "--at", at, "--format", "json"],
    ] {
        let out = offboard().args(&args).output().expect("offboard runs");
        outputs.push(String::from_utf8_lossy(&out.stdout).to_string());
        outputs.push(String::from_utf8_lossy(&out.stderr).to_string());
    }
    for file in files_under(dir) {
        if file.ends_with(secret_file) {
            continue;
        }
        let bytes = std::fs::read(&file).unwrap_or_default();
        outputs.push(String::from_utf8_lossy(&bytes).to_string());
    }
    outputs
}
