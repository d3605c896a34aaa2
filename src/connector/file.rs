//! The `file` connector: account exports on disk (JSON or CSV).
//!
//! It makes the bundled example runnable with no servers, and it is how teams start: export
//! accounts from a system without an API, plan against the export. Reading is all it does
//! in this module; the file is the system's state.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use serde::Deserialize;

use super::{Account, AccountStatus, Connector, ConnectorError};
use crate::policy::{Action, FileFormat};

pub struct FileConnector {
    system: String,
    path: PathBuf,
    format: FileFormat,
    capabilities: Vec<Action>,
}

impl FileConnector {
    pub fn new(system: &str, path: PathBuf, format: FileFormat, capabilities: Vec<Action>) -> Self {
        FileConnector {
            system: system.to_string(),
            path,
            format,
            capabilities,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// `{"system": "okta", "accounts": [...]}`; a bare array of accounts is accepted too.
#[derive(Deserialize)]
struct Export {
    accounts: Vec<Account>,
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
        let bytes = tokio::fs::read(&self.path).await.map_err(|e| {
            ConnectorError::permanent(
                &self.system,
                format!("cannot read {}: {e}", self.path.display()),
            )
            .hint("check the connector's `path=` (relative to the policy repository root)")
        })?;
        match self.format {
            FileFormat::Json => parse_json(&self.system, &self.path, &bytes),
            FileFormat::Csv => parse_csv(&self.system, &self.path, &bytes),
        }
    }
}

fn parse_json(system: &str, path: &Path, bytes: &[u8]) -> Result<Vec<Account>, ConnectorError> {
    let bare = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[');
    let parsed = if bare {
        serde_json::from_slice::<Vec<Account>>(bytes)
    } else {
        serde_json::from_slice::<Export>(bytes).map(|e| e.accounts)
    };
    match parsed {
        Ok(accounts) => Ok(accounts),
        Err(e) => Err(ConnectorError::permanent(
            system,
            format!("{} is not a valid account export: {e}", path.display()),
        )
        .hint("each account needs at least `id`, `username` and `status` (active|disabled)")),
    }
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
    let mut accounts = Vec::new();
    for record in reader.records() {
        let record =
            record.map_err(|e| bad(e.position().map_or(0, |p| p.line()), e.to_string()))?;
        let line = record.position().map_or(0, |p| p.line());
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
        });
    }
    Ok(accounts)
}
