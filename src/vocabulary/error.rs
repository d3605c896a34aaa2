//! A connector's failure, as every layer above a connector sees it.
//!
//! It says which system failed, whether retrying could help ([`ErrorKind`]), what happened and
//! what a person can do about it. Messages and hints pass through the secret redactor when they
//! are made, because a remote's error body may echo a credential.

use serde::{Deserialize, Serialize};

use crate::redact::redact;

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
        let message = redact(&message).into_owned();
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
        self.hint = Some(redact(&hint).into_owned());
        self
    }
}
