//! Escaping what offboard interpolates into text a person reads.
//!
//! Roster values, account fields and remote error messages are not offboard's: a department
//! holding a newline or an escape sequence must not be able to forge a plan line, recolour a
//! terminal or hide a change. Text renderers pass every interpolated value through
//! [`terminal`]; control characters come out as visible escapes (`\n`, `\e`, `\x07`).

use std::borrow::Cow;

/// `s` with every control character (C0, DEL, C1) shown as a visible escape.
pub fn terminal(s: &str) -> Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{1b}' => out.push_str("\\e"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// [`terminal`] in place, for copies of reports made for display.
pub fn terminal_in_place(s: &mut String) {
    if let Cow::Owned(escaped) = terminal(s) {
        *s = escaped;
    }
}

/// The first problems of a long list, and a count of the rest: a million bad rows must not
/// print a million lines.
pub const MAX_PROBLEMS: usize = 100;

#[cfg(test)]
mod tests {
    use super::terminal;

    #[test]
    fn control_characters_become_visible() {
        assert_eq!(terminal("Sales"), "Sales");
        assert_eq!(
            terminal("Sales\n  ~ okta x\u{1b}[31m\u{7}\u{9b}"),
            "Sales\\n  ~ okta x\\e[31m\\x07\\x9b"
        );
    }
}
