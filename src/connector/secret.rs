//! Secrets read from where a policy says: an environment variable or a file.
//!
//! A [`Secret`] never prints itself (`Debug` is redacted, there is no `Display`), and errors
//! about a missing secret name the variable or file, never a value.
//!
//! Every resolved secret is also registered with the process-wide redactor ([`crate::redact`]):
//! connector errors and journal records pass through it, so a server that echoes the
//! `Authorization` header in an error body cannot put the token into the append-only
//! journal or onto the terminal.

use std::fmt;
use std::path::Path;

use crate::redact::{MIN_SECRET_LEN, register};
pub use crate::redact::{REDACTED, redact};

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
