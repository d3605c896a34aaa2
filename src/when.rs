//! One way to show an instant to a person, in every command: `2026-11-23 09:00 UTC`.
//!
//! Plans, journal listings, tasks and certificates are read side by side (a reviewer checks
//! a plan's cutoff against the run that applied it), so human-readable output uses this
//! format everywhere, always with its zone. Machine output (`--format json`, plan files, the
//! journal itself) keeps full RFC 3339 instants.

use jiff::Timestamp;

/// `2026-11-23 09:00 UTC`.
pub fn human(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M UTC").to_string()
}

/// [`human`] for an instant stored as RFC 3339 text (journal records); text that is not an
/// instant is shown as it is.
pub fn human_text(text: &str) -> String {
    text.parse::<Timestamp>()
        .map(human)
        .unwrap_or_else(|_| text.to_string())
}
