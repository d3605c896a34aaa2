//! The process-wide secret redactor: every secret value offboard resolves is registered here,
//! and text that leaves the process (connector errors, journal records, rendered plans and
//! reports, panic messages) passes through [`redact`] first.
//!
//! It is a leaf: it knows nothing of where secrets come from (`connector::secret` resolves
//! them and calls [`register`]), so the shared vocabulary and the journal can use it
//! without depending on connectors.

use std::borrow::Cow;
use std::sync::RwLock;

/// Every secret value resolved in this process.
static REGISTERED: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Shown instead of a secret.
pub const REDACTED: &str = "[redacted]";

/// Secrets shorter than this are not searched for: a 1-character "secret" would redact
/// every occurrence of that character (such a secret is refused when it is resolved).
pub const MIN_SECRET_LEN: usize = 4;

/// Remember a resolved secret, so that [`redact`] replaces it wherever it appears.
pub fn register(value: &str) {
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
