//! Secrets read from where a policy says: an environment variable or a file.
//!
//! A [`Secret`] never prints itself (`Debug` is redacted, there is no `Display`), and errors
//! about a missing secret name the variable or file, never a value.
//!
//! Every resolved secret is also registered with one process-wide redactor, [`redact`]:
//! connector errors and journal records pass through it, so a server that echoes the
//! `Authorization` header in an error body cannot put the token into the append-only
//! journal or onto the terminal.

use std::borrow::Cow;
use std::fmt;
use std::path::Path;
use std::sync::RwLock;

/// Every secret value resolved in this process.
static REGISTERED: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Shown instead of a secret.
pub const REDACTED: &str = "[redacted]";

/// Secrets shorter than this are not searched for: a 1-character "secret" would redact
/// every occurrence of that character (such a secret is refused when it is resolved).
const MIN_SECRET_LEN: usize = 4;

fn register(value: &str) {
    // As written, and as it appears inside JSON (a secret with `"` or `\\` in it is escaped
    // there, and journal bodies are JSON).
    let json = serde_json::to_string(value).unwrap_or_default();
    let json = json.trim_matches('"').to_string();
    if let Ok(mut all) = REGISTERED.write() {
        for form in [value.to_string(), json] {
            if !form.is_empty() && !all.contains(&form) {
                all.push(form);
            }
        }
        // Longest first, so a secret that contains another is replaced whole.
        all.sort_by_key(|v| std::cmp::Reverse(v.len()));
    }
}

/// `text` with every registered secret replaced by `[redacted]`.
pub fn redact(text: &str) -> Cow<'_, str> {
    let Ok(all) = REGISTERED.read() else {
        return Cow::Borrowed(text);
    };
    if !all.iter().any(|v| text.contains(v.as_str())) {
        return Cow::Borrowed(text);
    }
    let mut out = text.to_string();
    for v in all.iter() {
        out = out.replace(v.as_str(), REDACTED);
    }
    Cow::Owned(out)
}

use super::ConnectorError;
use crate::policy::SecretRef;

#[derive(Clone)]
pub struct Secret(String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value, for the one place that sends it (a header, a bind).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Read the secret `what` (e.g. "SCIM token") that a policy refers to.
    pub fn resolve(
        system: &str,
        what: &str,
        secret: &SecretRef,
        root: &Path,
    ) -> Result<Secret, ConnectorError> {
        let value = match secret {
            SecretRef::Env(var) => std::env::var(var).map_err(|_| {
                ConnectorError::permanent(
                    system,
                    format!("the environment variable {var} is not set"),
                )
                .hint(format!(
                    "export {var} with the {what} (the policy names the variable, never the value)"
                ))
            })?,
            SecretRef::File(path) => {
                let path = root.join(path);
                std::fs::read_to_string(&path).map_err(|e| {
                    ConnectorError::permanent(
                        system,
                        format!("cannot read the {what} file {}: {e}", path.display()),
                    )
                    .hint("check the *-file= setting and the file's permissions")
                })?
            }
        };
        let value = value.trim_end_matches(['\n', '\r']).to_string();
        if value.is_empty() {
            return Err(
                ConnectorError::permanent(system, format!("the {what} is empty"))
                    .hint("set the variable or file the policy names"),
            );
        }
        if value.chars().count() < MIN_SECRET_LEN {
            return Err(ConnectorError::permanent(
                system,
                format!("the {what} is shorter than {MIN_SECRET_LEN} characters"),
            )
            .hint("a credential this short is a mistake (or a placeholder): set the real one"));
        }
        register(&value);
        Ok(Secret(value))
    }
}
