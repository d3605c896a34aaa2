//! The repository's own files as tests use them: its root, private copies of the bundled
//! example, and git repositories made of a directory.

use std::path::{Path, PathBuf};

/// The offboard repository (this crate lives in `tools/test-support`).
pub fn root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}
/// Copy the directory `from` to `to`, recursively.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A private copy of the bundled example (policies without the per-connector examples, and
/// the inventory), without a journal.
pub fn example_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&root().join("policies"), &dir.path().join("policies"));
    std::fs::remove_dir_all(dir.path().join("policies/examples")).ok();
    copy_dir(&root().join("inventory"), &dir.path().join("inventory"));
    dir
}

/// Make `dir` a git repository with everything in it committed once (fixed author and time).
pub fn commit_all(dir: &Path, message: &str) {
    let repo = git2::Repository::init(dir).unwrap();
    let mut index = repo.index().unwrap();
    index
        .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
        .unwrap();
    index.write().unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let sig = git2::Signature::new("a", "a@acme.com", &git2::Time::new(1_795_000_000, 0)).unwrap();
    repo.commit(Some("HEAD"), &sig, &sig, message, &tree, &[])
        .unwrap();
}

/// The `status` of account `id` in the JSON export `inventory/accounts/SYSTEM.json` under
/// `dir`; `None` when the export has no such account.
pub fn account_status(dir: &Path, system: &str, id: &str) -> Option<String> {
    let text =
        std::fs::read_to_string(dir.join(format!("inventory/accounts/{system}.json"))).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == id)
        .map(|a| a["status"].as_str().unwrap().to_string())
}

/// `offboard -C dir` as a test runs it: no colour, a fixed actor for the journal, and no
/// notifications sent (the bundled example's relay is not running; messages are still
/// journaled). Tests of notifications remove `OFFBOARD_NO_NOTIFY`.
pub fn offboard(dir: &Path) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("offboard").expect("the offboard binary");
    cmd.arg("-C")
        .arg(dir)
        .env("NO_COLOR", "1")
        .env("OFFBOARD_ACTOR", "tester@acme.com")
        .env("OFFBOARD_NO_NOTIFY", "1");
    cmd
}
