//! Inputs that must never be skipped silently: account exports with duplicate or empty ids
//! or of another system, and policy directories holding entries that are not files.

use std::path::{Path, PathBuf};

use offboard::connector::Connector;
use offboard::connector::file::FileConnector;
use offboard::policy::{self, FileFormat};

fn list(path: &Path, format: FileFormat) -> Result<usize, String> {
    let connector = FileConnector::new("okta", path.to_path_buf(), format);
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(connector.list_accounts())
        .map(|a| a.len())
        .map_err(|e| {
            format!(
                "{}{}",
                e.message,
                e.hint.map(|h| format!(" / {h}")).unwrap_or_default()
            )
        })
}

fn account(id: &str) -> String {
    format!(r#"    {{"id": "{id}", "username": "u-{id}", "status": "active"}}"#)
}

#[test]
fn duplicate_and_empty_account_ids_are_errors_naming_their_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("okta.json");
    let body = [account("a"), account("b"), account("a"), account("")].join(",\n");
    std::fs::write(&path, format!("{{\n  \"accounts\": [\n{body}\n  ]\n}}\n")).unwrap();
    let e = list(&path, FileFormat::Json).unwrap_err();
    assert!(
        e.contains("line 5: account id `a` is given again (first on line 3)"),
        "{e}"
    );
    assert!(e.contains("line 6: the account has an empty `id`"), "{e}");

    let csv = dir.path().join("okta.csv");
    std::fs::write(
        &csv,
        "id,username,status\r\na,ua,active\r\n\r\nb,ub,active\r\na,ua2,disabled\r\n",
    )
    .unwrap();
    let e = list(&csv, FileFormat::Csv).unwrap_err();
    assert!(
        e.contains("line 5: account id `a` is given again (first on line 2)"),
        "{e}"
    );
}

#[test]
fn an_export_of_another_system_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("okta.json");
    std::fs::write(
        &path,
        format!(
            "{{\n  \"system\": \"slack\",\n  \"accounts\": [\n{}\n  ]\n}}\n",
            account("a")
        ),
    )
    .unwrap();
    let e = list(&path, FileFormat::Json).unwrap_err();
    assert!(
        e.contains("okta.json:2: the export is of system `slack`, not `okta`"),
        "{e}"
    );
}

#[test]
fn a_json_export_may_start_with_a_byte_order_mark() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("okta.json");
    std::fs::write(
        &path,
        format!(
            "\u{feff}{{\"system\": \"okta\", \"accounts\": [{}]}}",
            account("a")
        ),
    )
    .unwrap();
    assert_eq!(list(&path, FileFormat::Json), Ok(1));
}

fn policy_dir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("policies");
    std::fs::create_dir_all(&policies).unwrap();
    std::fs::write(
        policies.join("a.kdl"),
        "system idp {\n connector file\n tier identity-provider\n correlate email=\"email\"\n}\n",
    )
    .unwrap();
    (dir, policies)
}

fn load_error(root: &Path, policies: &Path) -> String {
    let e = policy::load_dir(policies, root).unwrap_err();
    e.diagnostics
        .iter()
        .map(|d| d.message.clone())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn policy_entries_that_are_not_regular_files_are_errors() {
    let (dir, policies) = policy_dir();
    std::os::unix::fs::symlink(policies.join("missing.kdl"), policies.join("dangling.kdl"))
        .unwrap();
    std::os::unix::fs::symlink(policies.join("loop-b.kdl"), policies.join("loop-a.kdl")).unwrap();
    std::os::unix::fs::symlink(policies.join("loop-a.kdl"), policies.join("loop-b.kdl")).unwrap();
    std::fs::create_dir(policies.join("folder.kdl")).unwrap();
    let status = std::process::Command::new("mkfifo")
        .arg(policies.join("pipe.kdl"))
        .status()
        .unwrap();
    assert!(status.success());
    let e = load_error(dir.path(), &policies);
    assert!(e.contains("policies/dangling.kdl cannot be read"), "{e}");
    assert!(
        e.contains("a symlink whose target is missing or loops"),
        "{e}"
    );
    assert!(e.contains("policies/loop-a.kdl cannot be read"), "{e}");
    assert!(
        e.contains("policies/folder.kdl is a directory, not a policy file"),
        "{e}"
    );
    assert!(
        e.contains("policies/pipe.kdl is a FIFO, not a policy file"),
        "{e}"
    );
    // Other files (READMEs, editor backups) are not policy files and stay ignored.
    let (dir, policies) = policy_dir();
    std::fs::write(policies.join("README.md"), "notes").unwrap();
    assert!(policy::load_dir(&policies, dir.path()).is_ok());
}

#[test]
fn a_fifo_as_export_is_an_error_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("okta.json");
    let status = std::process::Command::new("mkfifo")
        .arg(&path)
        .status()
        .unwrap();
    assert!(status.success());
    let e = list(&path, FileFormat::Json).unwrap_err();
    assert!(e.contains("is a FIFO, not an account export"), "{e}");
}
