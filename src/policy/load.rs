//! Finding, reading and merging policy files.
//!
//! `policies/*.kdl` (not recursive: `policies/examples/` and `policies/tests/` hold other
//! sets) are read in name order, parsed into one [`Builder`] and checked as a whole. The only
//! I/O of the policy module lives here; [`load_texts`] is the pure entry point that tests and
//! the git provenance code (policy at another revision) use.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::diagnostic::Diagnostic;
use super::model::Policy;
use super::parse::Builder;
use super::source::Sources;

/// Policy files larger than this are refused before parsing.
pub const MAX_FILE_BYTES: u64 = 32 * 1024 * 1024;

/// An invalid policy: every diagnostic, plus the sources they point into.
#[derive(Debug)]
pub struct PolicyError {
    pub sources: Sources,
    pub diagnostics: Vec<Diagnostic>,
}

impl std::fmt::Display for PolicyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.diagnostics.len();
        write!(
            f,
            "the policy has {n} {}",
            if n == 1 { "error" } else { "errors" }
        )
    }
}

impl std::error::Error for PolicyError {}

/// Load every `*.kdl` file directly inside `dir`; paths are shown relative to `display_base`.
pub fn load_dir(dir: &Path, display_base: &Path) -> Result<Policy, PolicyError> {
    let fail = |d: Diagnostic| PolicyError {
        sources: Sources::default(),
        diagnostics: vec![d],
    };
    let entries = std::fs::read_dir(dir).map_err(|e| {
        fail(
            Diagnostic::general(
                "policy::no-directory",
                format!("cannot read the policy directory {}: {e}", dir.display()),
            )
            .help("run offboard from the policy repository root, or pass -C DIR / --policies DIR"),
        )
    })?;
    // Every `*.kdl` entry must be a readable regular file: a dangling symlink, a loop, a
    // directory or a FIFO named like a policy file is an error, never silently skipped (a
    // rule that vanished from the policy would change who is cut).
    let mut paths: Vec<PathBuf> = Vec::new();
    let mut unusable = Vec::new();
    for entry in entries {
        let path = match entry {
            Ok(e) => e.path(),
            Err(e) => {
                unusable.push(format!("an entry of {} cannot be read: {e}", dir.display()));
                continue;
            }
        };
        if path.extension().is_none_or(|x| x != "kdl") {
            continue;
        }
        let shown = path
            .strip_prefix(display_base)
            .unwrap_or(&path)
            .display()
            .to_string();
        match std::fs::metadata(&path) {
            Ok(m) if m.is_file() => paths.push(path),
            Ok(m) => unusable.push(format!("{shown} is {}, not a policy file", file_kind(&m))),
            Err(e) => unusable.push(format!(
                "{shown} cannot be read ({e}){}",
                if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
                    ": a symlink whose target is missing or loops"
                } else {
                    ""
                }
            )),
        }
    }
    if !unusable.is_empty() {
        return Err(PolicyError {
            sources: Sources::default(),
            diagnostics: unusable
                .into_iter()
                .map(|m| {
                    Diagnostic::general("policy::unreadable", m).help(
                        "every policies/*.kdl must be a readable regular file: fix or remove the entry",
                    )
                })
                .collect(),
        });
    }
    paths.sort();
    if paths.is_empty() {
        return Err(fail(
            Diagnostic::general(
                "policy::no-files",
                format!("no policy files (*.kdl) in {}", dir.display()),
            )
            .help("policies live in `policies/*.kdl`; see the README for an example"),
        ));
    }

    let mut texts = Vec::new();
    let mut problems = Vec::new();
    for path in paths {
        let shown = path
            .strip_prefix(display_base)
            .unwrap_or(&path)
            .to_path_buf();
        match read_policy_file(&path) {
            Ok(text) => texts.push((shown, text)),
            Err(message) => problems.push(
                Diagnostic::general(
                    "policy::unreadable",
                    format!("{}: {message}", shown.display()),
                )
                .help("policy files must be readable UTF-8 text under 32 MiB"),
            ),
        }
    }
    match load_texts(texts) {
        Ok(policy) if problems.is_empty() => Ok(policy),
        Ok(policy) => Err(PolicyError {
            sources: Arc::unwrap_or_clone(policy.sources),
            diagnostics: problems,
        }),
        Err(mut e) => {
            problems.append(&mut e.diagnostics);
            e.diagnostics = problems;
            Err(e)
        }
    }
}

/// Where a data file (roster, account export) named by the policy really is: `path` is
/// relative to `root`, symlinks are followed, and the result must lie inside `root` or one of
/// `extra_roots`. A policy pull request must not be able to make offboard read (and echo in
/// its errors) `/proc/self/environ` or a secret file elsewhere on the runner.
pub fn confine(root: &Path, path: &Path, extra_roots: &[PathBuf]) -> Result<PathBuf, String> {
    let joined = root.join(path);
    // A file that does not exist yet is judged by its directory.
    let real = match std::fs::canonicalize(&joined) {
        Ok(p) => p,
        Err(_) => match joined.parent().map(std::fs::canonicalize) {
            Some(Ok(dir)) => dir.join(joined.file_name().unwrap_or_default()),
            _ => return Ok(joined),
        },
    };
    let roots = std::iter::once(root.to_path_buf()).chain(extra_roots.iter().cloned());
    for r in roots {
        if let Ok(r) = std::fs::canonicalize(&r)
            && real.starts_with(&r)
        {
            return Ok(joined);
        }
    }
    Err(format!(
        "{} resolves to {}, outside the policy repository",
        path.display(),
        real.display()
    ))
}

/// What a non-regular file is, for messages.
pub fn file_kind(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_block_device() || t.is_char_device() {
        "a device"
    } else {
        "not a regular file"
    }
}

fn read_policy_file(path: &Path) -> Result<String, String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!(
            "file is {} MiB; policy files are limited to {} MiB",
            meta.len() / (1024 * 1024),
            MAX_FILE_BYTES / (1024 * 1024)
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    String::from_utf8(bytes).map_err(|e| format!("not UTF-8 text ({e})"))
}

/// Parse and check already-read policy files: `(display path, text)` pairs.
pub fn load_texts(files: Vec<(PathBuf, String)>) -> Result<Policy, PolicyError> {
    let mut files = files;
    files.sort_by(|a, b| a.0.cmp(&b.0));
    let content_hash = content_hash(&files);

    let mut sources = Sources::default();
    let mut builder = Builder::default();
    for (path, text) in files {
        let id = sources.add(&path, text);
        let text = sources.file(id).text.clone();
        builder.add_file(id, &text);
    }
    let (parts, diagnostics, secrets) = builder.finish();
    for span in secrets {
        sources.mask(span);
    }
    match parts {
        Some(parts) => Ok(Policy {
            systems: parts.systems,
            roles: parts.roles,
            rules: parts.rules,
            defaults: parts.defaults,
            people: parts.people,
            notifications: parts.notifications,
            triggers: parts.triggers,
            content_hash,
            sources: Arc::new(sources),
        }),
        None => Err(PolicyError {
            sources,
            diagnostics,
        }),
    }
}

/// blake3 over every file's path and bytes, in path order.
fn content_hash(files: &[(PathBuf, String)]) -> String {
    let mut hasher = blake3::Hasher::new();
    for (path, text) in files {
        let path = path.to_string_lossy();
        hasher.update(&(path.len() as u64).to_le_bytes());
        hasher.update(path.as_bytes());
        hasher.update(&(text.len() as u64).to_le_bytes());
        hasher.update(text.as_bytes());
    }
    hasher.finalize().to_hex().to_string()
}
