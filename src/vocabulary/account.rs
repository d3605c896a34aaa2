//! The account: what every connector reports and everything offboarding reads of it.
//!
//! One common shape for a SCIM user, an LDAP entry, a row of a CSV export: identifiers for
//! correlation, status, the grants offboarding removes (groups, entitlements, licenses), and a
//! [`fingerprint`](Account::fingerprint) that lets `apply` refuse to act on an account that
//! changed after it was planned.

use std::collections::BTreeMap;
use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

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
    /// Application role assignments (Entra ID app roles), removed by `remove-app-roles`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub app_roles: Vec<String>,
    /// Access the system shows but will not let offboard remove through its API (a dynamic
    /// group, a group synced from on-premises, a licence inherited from one), each named with
    /// the reason. The plan turns them into a task for the system's owner: never a silent skip.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub held: Vec<String>,
    /// Where the account is mastered when not in this system (`on-premises Active Directory`
    /// for an Entra ID user synced by Entra Connect): it is disabled and deleted there, and
    /// this system follows at the next sync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mastered_by: Option<String>,
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
        // Fields added later are hashed only when set, so every account that has none keeps
        // the fingerprint it always had (plans made by an earlier version stay valid).
        if !self.app_roles.is_empty() || !self.held.is_empty() || self.mastered_by.is_some() {
            out.push(0xA5);
            list(out, &self.app_roles);
            list(out, &self.held);
            opt(out, self.mastered_by.as_deref());
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
