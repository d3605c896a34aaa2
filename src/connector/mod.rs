//! Connectors: how offboard reads (and later changes) accounts in other systems.
//!
//! One object-safe async trait, one folder per kind (see [`kind`] for the registry and how to
//! add one). A connector knows its system's API and
//! nothing about policy, people or plans: it lists accounts in a common shape and reports
//! errors as permanent or temporary, so retrying is a wrapper around any connector rather
//! than a loop inside one. The planner never sees a connector, only the [`Observed`]
//! snapshot that [`refresh`] fills.

pub mod fault;
pub mod kind;
mod refresh;
pub mod retry;
pub mod secret;

// The connector kinds, one folder each, and their registry (see `kind` for adding one).
pub mod file;
pub mod ldap;
pub mod scim;

kind::registry! {
    File => file::FileSettings,
    Scim => scim::ScimSettings,
    Ldap => ldap::LdapSettings,
}

use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

pub use refresh::{Keep, Observed, SystemSnapshot, refresh, refresh_keeping};

use crate::policy::Action;

/// Whether an account can be used to sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountStatus {
    Active,
    Disabled,
}

impl fmt::Display for AccountStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AccountStatus::Active => "active",
            AccountStatus::Disabled => "disabled",
        })
    }
}

/// An account as every connector reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub id: String,
    pub username: String,
    #[serde(default)]
    pub emails: Vec<String>,
    #[serde(default)]
    pub employee_id: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    pub status: AccountStatus,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub entitlements: Vec<String>,
    #[serde(default)]
    pub licenses: Vec<String>,
    #[serde(default)]
    pub privileged: bool,
    #[serde(default)]
    pub last_login: Option<Timestamp>,
    /// Open sessions, when the system reports them.
    #[serde(default)]
    pub sessions: Option<u32>,
    /// The container the account lives in (an LDAP parent DN), when the system has one.
    #[serde(default)]
    pub container: Option<String>,
    /// Any other attribute, for correlation (`correlate email="mail"`).
    #[serde(default, deserialize_with = "scalar_attributes")]
    pub attributes: BTreeMap<String, String>,
}

/// Exports carry attributes of any JSON type; correlation compares text, so scalars are
/// kept as text and nulls dropped.
fn scalar_attributes<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    let raw: BTreeMap<String, serde_json::Value> = BTreeMap::deserialize(d)?;
    Ok(raw
        .into_iter()
        .filter_map(|(k, v)| match v {
            serde_json::Value::Null => None,
            serde_json::Value::String(s) => Some((k, s)),
            other => Some((k, other.to_string())),
        })
        .collect())
}

impl Account {
    /// Values of an attribute named in `correlate` (`email` yields every address). Built-in
    /// names come first; when the built-in field is empty, `attributes` is searched too.
    pub fn attribute_values(&self, name: &str) -> Vec<&str> {
        let builtin = self.builtin_values(name);
        if !builtin.is_empty() {
            return builtin;
        }
        self.attributes
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .into_iter()
            .filter(|v| !v.is_empty())
            .collect()
    }

    fn builtin_values(&self, name: &str) -> Vec<&str> {
        // `employee-id`, `Employee_ID` and `employee_id` are the same attribute.
        let is = |candidate: &str| {
            name.len() == candidate.len()
                && name
                    .bytes()
                    .zip(candidate.bytes())
                    .all(|(a, b)| a.to_ascii_lowercase() == b || (a == b'-' && b == b'_'))
        };
        if is("id") {
            vec![self.id.as_str()]
        } else if is("username") || is("user_name") || is("username_attribute") {
            vec![self.username.as_str()]
        } else if is("email") || is("emails") || is("mail") {
            self.emails.iter().map(String::as_str).collect()
        } else if is("employee_id") || is("employeenumber") {
            self.employee_id.as_deref().into_iter().collect()
        } else if is("display_name") || is("name") || is("cn") {
            self.display_name.as_deref().into_iter().collect()
        } else {
            Vec::new()
        }
        .into_iter()
        .filter(|v| !v.is_empty())
        .collect()
    }

    /// A short, stable digest of everything offboarding cares about. `apply` compares it with
    /// the plan's to refuse acting on an account that changed since it was planned.
    pub fn fingerprint(&self) -> String {
        let mut bytes = Vec::with_capacity(256);
        self.digest_into(&mut bytes);
        blake3::hash(&bytes).to_hex()[..16].to_string()
    }

    /// Append every field to `out`, each length-prefixed so that no two accounts collide by
    /// shifting bytes between fields. Encoding fields directly (not a serialisation), and
    /// hashing many accounts' bytes in one go, keeps a refresh of a million accounts cheap.
    pub fn digest_into(&self, out: &mut Vec<u8>) {
        fn text(out: &mut Vec<u8>, s: &str) {
            out.extend_from_slice(&(s.len() as u64).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        fn list(out: &mut Vec<u8>, items: &[String]) {
            out.extend_from_slice(&(items.len() as u64).to_le_bytes());
            for i in items {
                text(out, i);
            }
        }
        fn opt(out: &mut Vec<u8>, s: Option<&str>) {
            match s {
                Some(s) => {
                    out.push(1);
                    text(out, s);
                }
                None => out.push(0),
            }
        }
        text(out, &self.id);
        text(out, &self.username);
        list(out, &self.emails);
        opt(out, self.employee_id.as_deref());
        opt(out, self.display_name.as_deref());
        out.extend_from_slice(&[self.status as u8, self.privileged as u8]);
        list(out, &self.groups);
        list(out, &self.entitlements);
        list(out, &self.licenses);
        match self.last_login {
            Some(t) => {
                out.push(1);
                out.extend_from_slice(&t.as_nanosecond().to_le_bytes());
            }
            None => out.push(0),
        }
        match self.sessions {
            Some(n) => {
                out.push(1);
                out.extend_from_slice(&n.to_le_bytes());
            }
            None => out.push(0),
        }
        opt(out, self.container.as_deref());
        out.extend_from_slice(&(self.attributes.len() as u64).to_le_bytes());
        for (k, v) in &self.attributes {
            text(out, k);
            text(out, v);
        }
    }

    /// The system's version tag of the account (SCIM `meta.version`), when it has one:
    /// what a conditional write checks.
    pub fn version(&self) -> Option<&str> {
        self.attributes.get("meta.version").map(String::as_str)
    }

    pub fn is_active(&self) -> bool {
        self.status == AccountStatus::Active
    }

    /// The most recognisable name for humans: first email, else username.
    pub fn label(&self) -> &str {
        self.emails
            .first()
            .map_or(self.username.as_str(), String::as_str)
    }
}

/// Whether two container names (LDAP DNs) are the same: case and spaces around commas
/// do not matter, as in LDAP's distinguished name matching for these attributes.
pub fn same_container(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        s.split(',')
            .map(|p| p.trim().to_ascii_lowercase())
            .collect::<Vec<_>>()
            .join(",")
    };
    norm(a) == norm(b)
}

/// Whether retrying could help.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ErrorKind {
    /// Bad credentials, missing permission, malformed data: retrying will not help.
    Permanent,
    /// Timeouts, rate limits, unavailable servers: retrying may help.
    Temporary,
}

/// A connector failure, with what a human can do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
// A remote's message may hold control characters: shown escaped wherever it is printed.
#[error("{system}: {}", crate::escape::terminal(message))]
pub struct ConnectorError {
    pub system: String,
    pub kind: ErrorKind,
    pub message: String,
    pub hint: Option<String>,
    /// Seconds the remote asked us to wait (HTTP `Retry-After`).
    pub retry_after: Option<u64>,
}

impl ConnectorError {
    /// A permanent error; the message passes through the secret redactor (a remote may
    /// echo a credential in its error body).
    pub fn permanent(system: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        let message = secret::redact(&message).into_owned();
        ConnectorError {
            system: system.to_string(),
            kind: ErrorKind::Permanent,
            message,
            hint: None,
            retry_after: None,
        }
    }

    pub fn temporary(system: &str, message: impl Into<String>) -> Self {
        ConnectorError {
            kind: ErrorKind::Temporary,
            ..ConnectorError::permanent(system, message)
        }
    }

    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        let hint = hint.into();
        self.hint = Some(secret::redact(&hint).into_owned());
        self
    }
}

/// A live system offboard can read.
#[async_trait]
pub trait Connector: Send + Sync {
    /// The policy name of the system this connector serves.
    fn system(&self) -> &str;

    /// Actions this connector can perform (the planner plans nothing else for it).
    fn capabilities(&self) -> Vec<Action>;

    /// Every account, with status, groups and entitlements.
    async fn list_accounts(&self) -> Result<Vec<Account>, ConnectorError>;

    /// One account by id; `Ok(None)` when it does not exist (any more).
    async fn read_account(&self, id: &str) -> Result<Option<Account>, ConnectorError>;

    /// Carry out one action. Must be idempotent: disabling a disabled account and deleting a
    /// missing one succeed. Confirmation is the caller's job (read the account back).
    async fn perform(&self, id: &str, action: Action) -> Result<(), ConnectorError>;

    /// Carry out `action` only if the account is still at `version` (its version tag when
    /// planned): a conditional write, such as SCIM's PATCH with If-Match. It lets apply
    /// skip reading the account first, with a stronger guarantee than a read: nothing can
    /// change between the check and the write. `Unsupported` (the default) when the system
    /// or the action has no conditional form.
    async fn perform_if_unchanged(
        &self,
        id: &str,
        action: Action,
        version: &str,
    ) -> Result<Conditional, ConnectorError> {
        let _ = (id, action, version);
        Ok(Conditional::Unsupported)
    }

    /// Undo a reversible action (rollback of a mistaken termination).
    async fn restore(&self, id: &str, restore: &Restore) -> Result<(), ConnectorError> {
        let _ = (id, restore);
        Err(
            ConnectorError::permanent(self.system(), "this connector cannot restore access")
                .hint("restore the account by hand in the system's console"),
        )
    }

    // The `*_counted` forms return how many calls reached the system (1, plus any retries a
    // layer such as [`retry::Retrying`] made), so the executor learns it from return values
    // whatever the stack of layers. A connector leaves them alone; a layer forwards them.

    /// [`Self::read_account`], with the number of calls it took.
    async fn read_counted(&self, id: &str) -> (Result<Option<Account>, ConnectorError>, u32) {
        (self.read_account(id).await, 1)
    }

    /// [`Self::perform`], with the number of calls it took.
    async fn perform_counted(&self, id: &str, action: Action) -> (Result<(), ConnectorError>, u32) {
        (self.perform(id, action).await, 1)
    }

    /// [`Self::restore`], with the number of calls it took.
    async fn restore_counted(
        &self,
        id: &str,
        restore: &Restore,
    ) -> (Result<(), ConnectorError>, u32) {
        (self.restore(id, restore).await, 1)
    }
}

/// What a conditional write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conditional {
    /// The account was as planned, and the action was carried out.
    Done,
    /// The account changed (or is gone) since it was planned; nothing was written.
    Changed,
    /// No conditional form for this system or action; nothing was written.
    Unsupported,
}

/// A reversible step back, used by `offboard rollback`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "values")]
pub enum Restore {
    Enable,
    AddGroups(Vec<String>),
    AddLicenses(Vec<String>),
}

#[async_trait]
impl<C: Connector + ?Sized> Connector for std::sync::Arc<C> {
    fn system(&self) -> &str {
        (**self).system()
    }
    fn capabilities(&self) -> Vec<Action> {
        (**self).capabilities()
    }
    async fn list_accounts(&self) -> Result<Vec<Account>, ConnectorError> {
        (**self).list_accounts().await
    }
    async fn read_account(&self, id: &str) -> Result<Option<Account>, ConnectorError> {
        (**self).read_account(id).await
    }
    async fn perform(&self, id: &str, action: Action) -> Result<(), ConnectorError> {
        (**self).perform(id, action).await
    }
    async fn perform_if_unchanged(
        &self,
        id: &str,
        action: Action,
        version: &str,
    ) -> Result<Conditional, ConnectorError> {
        (**self).perform_if_unchanged(id, action, version).await
    }
    async fn restore(&self, id: &str, restore: &Restore) -> Result<(), ConnectorError> {
        (**self).restore(id, restore).await
    }
    async fn read_counted(&self, id: &str) -> (Result<Option<Account>, ConnectorError>, u32) {
        (**self).read_counted(id).await
    }
    async fn perform_counted(&self, id: &str, action: Action) -> (Result<(), ConnectorError>, u32) {
        (**self).perform_counted(id, action).await
    }
    async fn restore_counted(
        &self,
        id: &str,
        restore: &Restore,
    ) -> (Result<(), ConnectorError>, u32) {
        (**self).restore_counted(id, restore).await
    }
}
