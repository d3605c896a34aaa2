//! Git provenance of the policy: which commit, which branch, whether it is dirty, and the
//! policy files as they were at another revision.
//!
//! Policies change through pull requests, so every plan and journal run records the commit
//! it came from, and `apply` refuses uncommitted policy files unless told otherwise. Reading
//! another revision goes through git objects, never a checkout: the working tree is not
//! touched. Outside a git repository there is simply no provenance.

use std::path::{Path, PathBuf};

use git2::{Repository, Status, StatusOptions};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    pub commit: Option<String>,
    pub branch: Option<String>,
    /// Policy files with uncommitted or untracked changes (paths relative to the repo root).
    pub dirty_files: Vec<String>,
}

impl Provenance {
    pub fn dirty(&self) -> bool {
        !self.dirty_files.is_empty()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum VcsError {
    #[error("{path} is not inside a git repository")]
    NoRepository { path: String },
    #[error("git: {0}")]
    Git(#[from] git2::Error),
    #[error("`{rev}` has no {dir} directory")]
    NoPolicies { rev: String, dir: String },
    #[error("{path} at `{rev}` is not UTF-8 text")]
    NotText { rev: String, path: String },
}

fn relative(repo: &Repository, dir: &Path) -> Option<PathBuf> {
    let workdir = repo.workdir()?.canonicalize().ok()?;
    let dir = dir.canonicalize().ok()?;
    dir.strip_prefix(&workdir).ok().map(Path::to_path_buf)
}

/// Provenance of the policy directory, or `None` outside a git repository.
pub fn provenance(policies_dir: &Path) -> Option<Provenance> {
    let repo = Repository::discover(policies_dir).ok()?;
    let commit = repo
        .head()
        .ok()
        .and_then(|h| h.peel_to_commit().ok())
        .map(|c| c.id().to_string());
    let branch = repo
        .head()
        .ok()
        .filter(|h| h.is_branch())
        .and_then(|h| h.shorthand().ok().map(str::to_string));
    let rel = relative(&repo, policies_dir)?;
    let mut opts = StatusOptions::new();
    opts.include_untracked(true)
        .recurse_untracked_dirs(true)
        .include_ignored(false);
    if !rel.as_os_str().is_empty() {
        opts.pathspec(rel.to_string_lossy().as_ref());
    }
    let dirty_files = repo
        .statuses(Some(&mut opts))
        .map(|statuses| {
            statuses
                .iter()
                .filter(|e| e.status() != Status::CURRENT && !e.status().contains(Status::IGNORED))
                .filter_map(|e| e.path().ok().map(str::to_string))
                // Only the policy itself (`*.kdl` directly in the directory) decides what is
                // applied; tests and examples below it do not.
                .filter(|p| {
                    let path = Path::new(p);
                    path.extension().is_some_and(|x| x == "kdl")
                        && path.parent() == Some(rel.as_path())
                })
                .collect()
        })
        .unwrap_or_default();
    Some(Provenance {
        commit,
        branch,
        dirty_files,
    })
}

/// The `*.kdl` files directly in `policies_dir` as they were at `rev`, as
/// `(display path, text)` pairs; display paths are relative to `display_base`, as
/// `policy::load_dir` shows them, so content hashes are comparable.
pub fn policy_at(
    policies_dir: &Path,
    display_base: &Path,
    rev: &str,
) -> Result<Vec<(PathBuf, String)>, VcsError> {
    let repo = Repository::discover(policies_dir).map_err(|_| VcsError::NoRepository {
        path: policies_dir.display().to_string(),
    })?;
    let rel = relative(&repo, policies_dir).ok_or_else(|| VcsError::NoRepository {
        path: policies_dir.display().to_string(),
    })?;
    let tree = repo.revparse_single(rev)?.peel_to_tree()?;
    let dir_tree = if rel.as_os_str().is_empty() {
        tree
    } else {
        let entry = tree.get_path(&rel).map_err(|_| VcsError::NoPolicies {
            rev: rev.to_string(),
            dir: rel.display().to_string(),
        })?;
        entry.to_object(&repo)?.peel_to_tree()?
    };
    let shown_dir = policies_dir
        .strip_prefix(display_base)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| policies_dir.to_path_buf());
    let mut files = Vec::new();
    for entry in dir_tree.iter() {
        let Ok(name) = entry.name() else { continue };
        if !name.ends_with(".kdl") || entry.kind() != Some(git2::ObjectType::Blob) {
            continue;
        }
        let blob = entry.to_object(&repo)?.peel_to_blob()?;
        let text = String::from_utf8(blob.content().to_vec()).map_err(|_| VcsError::NotText {
            rev: rev.to_string(),
            path: name.to_string(),
        })?;
        files.push((shown_dir.join(name), text));
    }
    files.sort();
    Ok(files)
}

/// A short form of a revision for humans: `abc1234`.
pub fn short_commit(repo_path: &Path, rev: &str) -> Option<String> {
    let repo = Repository::discover(repo_path).ok()?;
    let id = repo
        .revparse_single(rev)
        .ok()?
        .peel_to_commit()
        .ok()?
        .id()
        .to_string();
    Some(id[..7].to_string())
}
