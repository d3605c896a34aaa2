//! The `file` connector: account exports on disk (JSON or CSV).
//!
//! It makes the bundled example runnable with no servers, and it is how teams start: export
//! accounts from a system without an API, plan against the export. The file is the system's
//! state: reading parses it strictly (ids unique and non-empty, the export must be this
//! system's, physical line numbers in errors), and acting rewrites it atomically (a
//! temporary file renamed over it, never through a symlink), so `apply` works end to end
//! without servers. Settings live in [`settings`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use serde::Deserialize;

mod settings;

pub use settings::FileSettings;

use super::kind::Kind;
use super::{Account, AccountStatus, Connector, ConnectorError, Lookup, Restore};
use crate::lines::{LineCounter, offset_in};
use crate::policy::{Action, FileFormat};

/// Exports parsed at once, process-wide: one per core.
static PARSERS: std::sync::LazyLock<tokio::sync::Semaphore> = std::sync::LazyLock::new(|| {
    tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
});

pub struct FileConnector {
    system: String,
    path: PathBuf,
    format: FileFormat,
    capabilities: Vec<Action>,
    /// The parsed export, reused while the file is unchanged on disk; the lock also
    /// serialises read-modify-write cycles.
    cache: tokio::sync::Mutex<Option<Cached>>,
}

/// The export as last read or written, and the file stamp it corresponds to.
struct Cached {
    doc: serde_json::Value,
    stamp: Stamp,
}

/// Length and modification time: if either moved, someone else wrote the file.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<std::time::SystemTime>,
}

async fn stamp(path: &Path) -> std::io::Result<Stamp> {
    let meta = tokio::fs::metadata(path).await?;
    Ok(Stamp {
        len: meta.len(),
        modified: meta.modified().ok(),
    })
}

fn accounts_mut(doc: &mut serde_json::Value) -> Option<&mut Vec<serde_json::Value>> {
    match doc {
        serde_json::Value::Array(a) => Some(a),
        serde_json::Value::Object(o) => match o.get_mut("accounts") {
            Some(serde_json::Value::Array(a)) => Some(a),
            _ => None,
        },
        _ => None,
    }
}

impl FileConnector {
    pub fn new(system: &str, path: PathBuf, format: FileFormat) -> Self {
        FileConnector {
            system: system.to_string(),
            path,
            format,
            capabilities: FileSettings::ACTIONS.to_vec(),
            cache: tokio::sync::Mutex::new(None),
        }
    }

    fn error(&self, message: impl Into<String>) -> ConnectorError {
        ConnectorError::permanent(&self.system, message)
    }

    /// Apply `edit` to the account with `id` in the export; `Ok(false)` if it does not exist.
    async fn edit(
        &self,
        id: &str,
        edit: impl FnOnce(&mut Vec<serde_json::Value>, usize),
    ) -> Result<bool, ConnectorError> {
        if self.format == FileFormat::Csv {
            return Err(self
                .error(format!("{} is a CSV export, which offboard only reads", self.path.display()))
                .hint("convert the export to JSON ({\"accounts\": [...]}) to let apply change it, or make this system manual"));
        }
        let mut cache = self.cache.lock().await;
        let doc = self.load(&mut cache).await?;
        let Some(accounts) = accounts_mut(doc) else {
            return Err(self.error("the export has no `accounts` array"));
        };
        let Some(index) = accounts
            .iter()
            .position(|a| a.get("id").and_then(|v| v.as_str()) == Some(id))
        else {
            return Ok(false);
        };
        edit(accounts, index);
        // The export is replaced by rename: a symlink would silently become a regular file
        // (and the file it pointed at would keep the old accounts).
        if std::fs::symlink_metadata(&self.path).is_ok_and(|m| m.file_type().is_symlink()) {
            *cache = None;
            return Err(self
                .error(format!(
                    "{} is a symlink, which apply does not replace",
                    self.path.display()
                ))
                .hint("point the connector's `path=` at the export file itself"));
        }
        let mut text = serde_json::to_vec_pretty(&*doc).map_err(|e| self.error(e.to_string()))?;
        text.push(b'\n');
        let written = write_atomically(&self.path, &text).await;
        // Whatever happened, the next call re-reads what is really on disk if unsure.
        match written.and(stamp(&self.path).await) {
            Ok(new_stamp) => {
                if let Some(c) = cache.as_mut() {
                    c.stamp = new_stamp;
                }
                Ok(true)
            }
            Err(e) => {
                *cache = None;
                Err(self.error(format!("cannot write {}: {e}", self.path.display())))
            }
        }
    }

    /// The parsed export, from the cache when the file has not changed since.
    async fn load<'c>(
        &self,
        cache: &'c mut Option<Cached>,
    ) -> Result<&'c mut serde_json::Value, ConnectorError> {
        let current = stamp(&self.path)
            .await
            .map_err(|e| self.error(format!("cannot read {}: {e}", self.path.display())))?;
        if cache.as_ref().is_none_or(|c| c.stamp != current) {
            let bytes = tokio::fs::read(&self.path)
                .await
                .map_err(|e| self.error(format!("cannot read {}: {e}", self.path.display())))?;
            let text = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(&bytes);
            let doc: serde_json::Value = serde_json::from_slice(text).map_err(|e| {
                self.error(format!("{} is not valid JSON: {e}", self.path.display()))
            })?;
            *cache = Some(Cached {
                doc,
                stamp: current,
            });
        }
        match cache {
            Some(c) => Ok(&mut c.doc),
            None => Err(self.error("export cache unavailable")),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every account of the export, or (with `only`, lowercased lookup values) of a JSON
    /// export at least those whose text could hold one of them.
    async fn read_export(&self, only: Option<Vec<String>>) -> Result<Vec<Account>, ConnectorError> {
        remove_stale_temporaries(&self.path);
        // Parsing is CPU work: it runs on blocking threads, one export per core at a time,
        // which both uses every core and bounds how many raw exports are in memory at once.
        let _permit = PARSERS.acquire().await;
        // A FIFO or a device would block the read (or never end): only regular files.
        if let Ok(meta) = tokio::fs::metadata(&self.path).await
            && !meta.is_file()
        {
            return Err(ConnectorError::permanent(
                &self.system,
                format!(
                    "{} is {}, not an account export",
                    self.path.display(),
                    crate::policy::file_kind(&meta)
                ),
            )
            .hint("point the connector's `path=` at the export file itself"));
        }
        let bytes = tokio::fs::read(&self.path).await.map_err(|e| {
            ConnectorError::permanent(
                &self.system,
                format!("cannot read {}: {e}", self.path.display()),
            )
            .hint("check the connector's `path=` (relative to the policy repository root)")
        })?;
        let (system, path, format) = (self.system.clone(), self.path.clone(), self.format);
        tokio::task::spawn_blocking(move || match format {
            FileFormat::Json => parse_json(&system, &path, &bytes, only.as_deref()),
            FileFormat::Csv => parse_csv(&system, &path, &bytes),
        })
        .await
        .map_err(|e| self.error(format!("parsing {} failed: {e}", self.path.display())))?
    }
}

#[async_trait]
impl Connector for FileConnector {
    fn system(&self) -> &str {
        &self.system
    }

    fn capabilities(&self) -> Vec<Action> {
        self.capabilities.clone()
    }

    async fn list_accounts(&self) -> Result<Vec<Account>, ConnectorError> {
        self.read_export(None).await
    }

    /// The lookup reads the export and selects, with correlation's own matching. A JSON
    /// export's accounts are first pre-selected on their raw text (see [`may_hold`]), so
    /// only the few that could match are decoded: a one-person read of a 50,000-account
    /// export skips nearly all of the decoding a full read does.
    async fn find_accounts(
        &self,
        lookups: &[Lookup],
    ) -> Result<Option<Vec<Account>>, ConnectorError> {
        let needles = lookups.iter().map(|l| l.value.to_lowercase()).collect();
        Ok(Some(super::lookup::select(
            self.read_export(Some(needles)).await?,
            lookups,
        )))
    }

    async fn read_account(&self, id: &str) -> Result<Option<Account>, ConnectorError> {
        if self.format == FileFormat::Csv {
            return Ok(self.list_accounts().await?.into_iter().find(|a| a.id == id));
        }
        let mut cache = self.cache.lock().await;
        let doc = self.load(&mut cache).await?;
        let Some(accounts) = accounts_mut(doc) else {
            return Err(self.error("the export has no `accounts` array"));
        };
        match accounts
            .iter()
            .find(|a| a.get("id").and_then(|v| v.as_str()) == Some(id))
        {
            Some(value) => Account::deserialize(value).map(Some).map_err(|e| {
                self.error(format!(
                    "account {id} in {} is malformed: {e}",
                    self.path.display()
                ))
            }),
            None => Ok(None),
        }
    }

    async fn perform(&self, id: &str, action: Action) -> Result<(), ConnectorError> {
        if !self.capabilities.contains(&action) {
            return Err(self.error(format!("the file connector cannot `{action}`")));
        }
        let set = |key: &'static str, value: serde_json::Value| {
            move |accounts: &mut Vec<serde_json::Value>, i: usize| {
                if let Some(o) = accounts[i].as_object_mut() {
                    o.insert(key.to_string(), value);
                }
            }
        };
        // A missing account needs nothing: no account, no access.
        let _found = match action {
            Action::Disable => self.edit(id, set("status", "disabled".into())).await?,
            Action::RevokeSessions => self.edit(id, set("sessions", 0.into())).await?,
            Action::RemoveGroups => {
                self.edit(id, |accounts, i| {
                    if let Some(o) = accounts[i].as_object_mut() {
                        o.insert("groups".into(), serde_json::json!([]));
                        o.insert("entitlements".into(), serde_json::json!([]));
                    }
                })
                .await?
            }
            Action::RemoveLicenses => {
                self.edit(id, set("licenses", serde_json::json!([])))
                    .await?
            }
            Action::Delete => {
                self.edit(id, |accounts, i| {
                    accounts.remove(i);
                })
                .await?
            }
            Action::Move
            | Action::ResetPassword
            | Action::ResetMfa
            | Action::RemoveAppRoles
            | Action::HandOffMailbox
            | Action::HandOffFiles
            | Action::Collect => {
                return Err(self.error(format!("the file connector cannot `{action}`")));
            }
        };
        Ok(())
    }

    async fn restore(&self, id: &str, restore: &Restore) -> Result<(), ConnectorError> {
        let found = match restore {
            Restore::Enable => {
                self.edit(id, |accounts, i| {
                    if let Some(o) = accounts[i].as_object_mut() {
                        o.insert("status".into(), "active".into());
                    }
                })
                .await?
            }
            Restore::AddGroups(groups) => {
                self.edit(id, |a, i| add_to_list(&mut a[i], "groups", groups))
                    .await?
            }
            Restore::AddLicenses(licenses) => {
                self.edit(id, |a, i| add_to_list(&mut a[i], "licenses", licenses))
                    .await?
            }
        };
        if found {
            Ok(())
        } else {
            Err(self
                .error(format!(
                    "account {id} no longer exists; it cannot be restored"
                ))
                .hint("recreate the account by hand; deletion is irreversible"))
        }
    }
}

fn add_to_list(account: &mut serde_json::Value, key: &str, values: &[String]) {
    let Some(o) = account.as_object_mut() else {
        return;
    };
    let list = o
        .entry(key.to_string())
        .or_insert_with(|| serde_json::json!([]));
    if let Some(items) = list.as_array_mut() {
        for v in values {
            if !items.iter().any(|x| x.as_str() == Some(v)) {
                items.push(v.clone().into());
            }
        }
    }
}

/// Parse an export's bytes as `list_accounts` does (for fuzzing and tests; no I/O).
pub fn parse_export(
    system: &str,
    path: &Path,
    bytes: &[u8],
    format: FileFormat,
) -> Result<Vec<Account>, ConnectorError> {
    match format {
        FileFormat::Json => parse_json(system, path, bytes, None),
        FileFormat::Csv => parse_csv(system, path, bytes),
    }
}

/// Remove `PATH.tmp-PID` files a crashed apply left beside the export (never this
/// process's own, which may be in use).
fn remove_stale_temporaries(path: &Path) {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return;
    };
    let prefix = format!("{}.tmp-", name.to_string_lossy());
    let own = format!("{prefix}{}", std::process::id());
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().to_string();
        if file.starts_with(&prefix)
            && file != own
            && file[prefix.len()..].chars().all(|c| c.is_ascii_digit())
            && entry.file_type().is_ok_and(|t| t.is_file())
        {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Write `bytes` to a temporary file beside `path`, fsync it, then rename over `path`.
async fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp-{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let mut f = tokio::fs::File::create(&tmp).await?;
    f.write_all(bytes).await?;
    f.sync_all().await?;
    drop(f);
    tokio::fs::rename(&tmp, path).await
}

/// `{"system": "okta", "accounts": [...]}` (a bare array of accounts is accepted too), each
/// account kept as the text it was parsed from, so that problems name their lines.
#[derive(Deserialize)]
struct RawExport<'a> {
    #[serde(borrow, default)]
    system: Option<&'a serde_json::value::RawValue>,
    #[serde(borrow)]
    accounts: Vec<&'a serde_json::value::RawValue>,
}

/// Whether an account's JSON text could hold one of `needles` (lowercased lookup values), as
/// any attribute: a pre-selection for targeted reads that never misses an account. Every
/// value of an account is written in its text, so in text of ASCII without escapes a value
/// equal to a needle (ignoring case, which for ASCII is ASCII's) is a substring of the text
/// in ASCII lower case. Text with a `\` escape or a byte past ASCII could spell a value
/// otherwise, and is always decoded.
fn may_hold(text: &str, needles: &[String]) -> bool {
    if text.bytes().any(|b| b == b'\\' || !b.is_ascii()) {
        return true;
    }
    // Custom attributes may be numbers or lists, whose decoded text can differ from the
    // raw (`1E3`): an account with any is decoded.
    if text.contains("\"attributes\"") {
        return true;
    }
    let lower = text.to_ascii_lowercase();
    needles.iter().any(|n| lower.contains(n.as_str()))
}

/// The id of an account a targeted read does not decode: ids are still checked across the
/// whole export (a duplicate would let a change reach another person's account).
#[derive(Deserialize)]
struct IdOnly<'a> {
    #[serde(borrow, default)]
    id: Option<std::borrow::Cow<'a, str>>,
}

/// The accounts of a JSON export; with `only`, just those whose text [`may_hold`] one of
/// those values (a targeted read: the others are not decoded, only their ids checked; a full
/// read checks every account whole).
fn parse_json(
    system: &str,
    path: &Path,
    bytes: &[u8],
    only: Option<&[String]>,
) -> Result<Vec<Account>, ConnectorError> {
    // A byte-order mark is accepted, as it is for CSV (Windows tools write one).
    let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
    let invalid = |e: serde_json::Error| {
        ConnectorError::permanent(
            system,
            format!("{} is not a valid account export: {e}", path.display()),
        )
        .hint("each account needs at least `id`, `username` and `status` (active|disabled)")
    };
    let bare = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[');
    let raw = if bare {
        RawExport {
            system: None,
            accounts: serde_json::from_slice(bytes).map_err(invalid)?,
        }
    } else {
        serde_json::from_slice::<RawExport>(bytes).map_err(invalid)?
    };
    let mut lines = LineCounter::new(bytes);
    // An export of another system (a copy-paste, a wrong path) would be planned as this
    // one's accounts: the `system` it names must be this system.
    if let Some(named) = raw.system {
        let line = offset_in(bytes, named.get()).map_or(1, |o| lines.line_at(o));
        match serde_json::from_str::<String>(named.get()) {
            Ok(name) if name == system => {}
            Ok(name) => {
                return Err(ConnectorError::permanent(
                    system,
                    format!(
                        "{}:{line}: the export is of system `{name}`, not `{system}`",
                        path.display()
                    ),
                )
                .hint(
                    "point this system's `path=` at its own export, or fix the export's `system`",
                ));
            }
            Err(_) => {
                return Err(ConnectorError::permanent(
                    system,
                    format!("{}:{line}: `system` must be a string", path.display()),
                ));
            }
        }
    }
    let mut accounts = Vec::with_capacity(raw.accounts.len());
    let mut at = Vec::with_capacity(raw.accounts.len());
    let mut skipped: Vec<(std::borrow::Cow<'_, str>, usize)> = Vec::new();
    for value in raw.accounts {
        let line = offset_in(bytes, value.get()).map_or(0, |o| lines.line_at(o));
        let malformed = |e: serde_json::Error| {
            ConnectorError::permanent(
                system,
                format!("{}:{line}: not a valid account: {e}", path.display()),
            )
            .hint("each account needs at least `id`, `username` and `status` (active|disabled)")
        };
        if only.is_some_and(|needles| !may_hold(value.get(), needles)) {
            let id: IdOnly<'_> = serde_json::from_str(value.get()).map_err(malformed)?;
            skipped.push((id.id.unwrap_or_default(), line));
            continue;
        }
        let account: Account = serde_json::from_str(value.get()).map_err(malformed)?;
        accounts.push(account);
        at.push(line);
    }
    let ids: Vec<(&str, usize)> = accounts
        .iter()
        .map(|a| a.id.as_str())
        .zip(at.iter().copied())
        .chain(skipped.iter().map(|(id, line)| (id.as_ref(), *line)))
        .collect();
    check_ids(system, path, &ids)?;
    Ok(accounts)
}

/// Every account has an id, and no id is given twice: a duplicate would be planned on every
/// run and never converge, an empty id cannot be changed or read back.
fn check_ids(system: &str, path: &Path, ids: &[(&str, usize)]) -> Result<(), ConnectorError> {
    let mut problems = Vec::new();
    let mut first: HashMap<&str, usize> = HashMap::with_capacity(ids.len());
    for &(id, line) in ids {
        if id.trim().is_empty() {
            problems.push(format!("line {line}: the account has an empty `id`"));
        } else if let Some(before) = first.insert(id, line) {
            problems.push(format!(
                "line {line}: account id `{id}` is given again (first on line {before})"
            ));
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    let shown: Vec<&str> = problems.iter().take(10).map(String::as_str).collect();
    let more = problems.len().saturating_sub(shown.len());
    Err(ConnectorError::permanent(
        system,
        format!(
            "{} has {} {}: {}{}",
            path.display(),
            problems.len(),
            if problems.len() == 1 { "bad account" } else { "bad accounts" },
            shown.join("; "),
            if more > 0 { format!("; and {more} more") } else { String::new() }
        ),
    )
    .hint("every account needs its own non-empty `id`; fix the export (no account of this system is planned from it)"))
}

/// CSV columns: id, username, emails, employee_id, display_name, status, groups, licenses,
/// entitlements, privileged, last_login, sessions, container; lists are `;`-separated.
fn parse_csv(system: &str, path: &Path, bytes: &[u8]) -> Result<Vec<Account>, ConnectorError> {
    let bad = |line: u64, msg: String| {
        ConnectorError::permanent(system, format!("{}:{line}: {msg}", path.display()))
    };
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| bad(1, e.to_string()))?
        .iter()
        .map(|h| h.to_ascii_lowercase().replace([' ', '-'], "_"))
        .collect();
    for required in ["id", "username", "status"] {
        if !headers.iter().any(|h| h == required) {
            return Err(bad(1, format!("the export has no `{required}` column")));
        }
    }
    let mut accounts = Vec::new();
    let mut at = Vec::new();
    let mut lines = LineCounter::new(bytes);
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| lines.record_line(p.byte()));
            bad(line as u64, e.to_string())
        })?;
        let line = record.position().map_or(0, |p| lines.record_line(p.byte())) as u64;
        at.push(line as usize);
        let get = |name: &str| {
            headers
                .iter()
                .position(|h| h == name)
                .and_then(|i| record.get(i))
                .unwrap_or("")
                .to_string()
        };
        let list = |name: &str| -> Vec<String> {
            get(name)
                .split(';')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        };
        let opt = |name: &str| Some(get(name)).filter(|s| !s.is_empty());
        let status = match get("status").to_ascii_lowercase().as_str() {
            "active" | "enabled" => AccountStatus::Active,
            "disabled" | "inactive" | "suspended" | "locked" => AccountStatus::Disabled,
            other => {
                return Err(bad(
                    line,
                    format!("unknown status `{other}` (active|disabled)"),
                ));
            }
        };
        let last_login = match opt("last_login") {
            Some(t) => Some(
                t.parse()
                    .map_err(|_| bad(line, format!("`{t}` is not a timestamp")))?,
            ),
            None => None,
        };
        let sessions = match opt("sessions") {
            Some(n) => Some(
                n.parse()
                    .map_err(|_| bad(line, format!("`{n}` is not a number")))?,
            ),
            None => None,
        };
        let mut emails = list("emails");
        emails.extend(list("email"));
        accounts.push(Account {
            id: get("id"),
            username: get("username"),
            emails,
            employee_id: opt("employee_id"),
            display_name: opt("display_name"),
            status,
            groups: list("groups"),
            entitlements: list("entitlements"),
            licenses: list("licenses"),
            privileged: matches!(
                get("privileged").to_ascii_lowercase().as_str(),
                "true" | "yes" | "1"
            ),
            last_login,
            sessions,
            container: opt("container"),
            attributes: Default::default(),
            app_roles: Vec::new(),
            held: Vec::new(),
            mastered_by: None,
        });
    }
    let ids: Vec<(&str, usize)> = accounts
        .iter()
        .map(|a| a.id.as_str())
        .zip(at.iter().copied())
        .collect();
    check_ids(system, path, &ids)?;
    Ok(accounts)
}

#[cfg(test)]
mod tests {
    use super::may_hold;

    #[test]
    fn the_pre_selection_never_misses_and_skips_the_rest() {
        let needles = ["ann@acme.example".to_string(), "e1001".to_string()];
        // Letter case does not matter, as in correlation.
        assert!(may_hold(
            r#"{"id":"1","emails":["ANN@Acme.example"]}"#,
            &needles
        ));
        assert!(may_hold(r#"{"id":"2","employee_id":"E1001"}"#, &needles));
        assert!(!may_hold(
            r#"{"id":"3","emails":["bo@acme.example"]}"#,
            &needles
        ));
        // An escape or a character past ASCII could spell a value otherwise: always decoded.
        assert!(may_hold(
            r#"{"id":"4","emails":["ann\u0040acme.example"]}"#,
            &needles
        ));
        assert!(may_hold(r#"{"id":"5","username":"ÅSA"}"#, &needles));
        // Custom attributes may be numbers written otherwise (`1E3`): decoded.
        assert!(may_hold(r#"{"id":"6","attributes":{"n":1E3}}"#, &needles));
    }

    /// Accounts a targeted read does not decode still have their ids checked: a duplicate
    /// could let a change reach another person's account.
    #[test]
    fn a_targeted_read_still_refuses_duplicate_ids() {
        let export = br#"{"accounts": [
            {"id": "a1", "username": "ann", "emails": ["ann@acme.example"], "status": "active"},
            {"id": "b1", "username": "bo", "status": "active"},
            {"id": "b1", "username": "cy", "status": "active"}
        ]}"#;
        let path = std::path::Path::new("x.json");
        let needles = ["ann@acme.example".to_string()];
        let found = super::parse_json("x", path, &export[..70], Some(&needles));
        assert!(found.is_err(), "a truncated export is refused");
        let err = super::parse_json("x", path, export, Some(&needles)).unwrap_err();
        assert!(
            err.message.contains("account id `b1` is given again"),
            "{}",
            err.message
        );
        let fine = br#"[{"id": "a1", "username": "ann", "emails": ["ANN@acme.example"], "status": "active"},
                        {"id": "b1", "username": "bo", "status": "active"}]"#;
        let accounts = super::parse_json("x", path, fine, Some(&needles)).unwrap();
        assert_eq!(accounts.len(), 1);
        assert_eq!(accounts[0].id, "a1");
    }
}
