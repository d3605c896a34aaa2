//! Durations as written in policies: `"90d"`, `"48h"`, `"+2d"`, `"-1d"`, `"7y"`.
//!
//! KDL v2 forbids bare values that start with a digit, so durations are always strings; this
//! module turns them into `jiff::SignedDuration`s and back for display. Calendar units are
//! deliberately fixed-length (a day is 24 h, a year 365 d): retention periods are policy
//! thresholds, not calendar arithmetic.

use jiff::SignedDuration;

/// Units accepted in policies, with their length in seconds.
const UNITS: &[(&str, i64)] = &[
    ("s", 1),
    ("m", 60),
    ("h", 3600),
    ("d", 86_400),
    ("w", 7 * 86_400),
    ("y", 365 * 86_400),
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("`{0}` is not a duration")]
    Malformed(String),
    #[error("unknown unit `{unit}` in `{text}`")]
    UnknownUnit { text: String, unit: String },
    #[error("`{0}` is too large")]
    TooLarge(String),
    #[error("`{0}` needs a sign here (`+` or `-`)")]
    MissingSign(String),
    #[error("`{0}` must not be negative")]
    Negative(String),
}

/// How a duration string may be signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sign {
    /// A length of time: `"90d"` (a leading `+` is tolerated, `-` is an error).
    Unsigned,
    /// An offset: `"+2d"`, `"-1d"` (the sign is required, so intent is explicit).
    Required,
}

pub fn parse(text: &str, sign: Sign) -> Result<SignedDuration, DurationError> {
    let trimmed = text.trim();
    let (negative, body) = match trimmed.as_bytes().first() {
        Some(b'+') => (false, &trimmed[1..]),
        Some(b'-') => (true, &trimmed[1..]),
        _ if sign == Sign::Required => return Err(DurationError::MissingSign(text.into())),
        _ => (false, trimmed),
    };
    if negative && sign == Sign::Unsigned {
        return Err(DurationError::Negative(text.into()));
    }
    let digits_end = body
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(body.len());
    let (digits, unit) = body.split_at(digits_end);
    if digits.is_empty() {
        return Err(DurationError::Malformed(text.into()));
    }
    if unit.is_empty() {
        return Err(DurationError::UnknownUnit {
            text: text.into(),
            unit: String::new(),
        });
    }
    let Some(&(_, seconds_per_unit)) = UNITS.iter().find(|(u, _)| *u == unit) else {
        return Err(DurationError::UnknownUnit {
            text: text.into(),
            unit: unit.into(),
        });
    };
    let amount: i64 = digits
        .parse()
        .map_err(|_| DurationError::TooLarge(text.into()))?;
    let seconds = amount
        .checked_mul(seconds_per_unit)
        // Keep well inside what timestamps can be offset by (jiff spans ~±10,000 years).
        .filter(|s| *s <= 1_000 * 365 * 86_400)
        .ok_or_else(|| DurationError::TooLarge(text.into()))?;
    Ok(SignedDuration::from_secs(if negative {
        -seconds
    } else {
        seconds
    }))
}

pub const HELP: &str = "write a number and a unit as a quoted string: \"30d\", \"48h\", \"2w\", \"7y\" (units: s, m, h, d, w, y)";

/// Display a duration the way a policy would write it (largest exact unit).
pub fn format(d: SignedDuration) -> String {
    let secs = d.as_secs();
    let sign = if secs < 0 { "-" } else { "" };
    let abs = secs.unsigned_abs() as i64;
    for &(unit, len) in UNITS.iter().rev() {
        if abs != 0 && abs % len == 0 {
            return format!("{sign}{}{unit}", abs / len);
        }
    }
    format!("{sign}{abs}s")
}

/// Display an offset with an explicit sign: `+2d`, `-1d`.
pub fn format_offset(d: SignedDuration) -> String {
    let s = format(d);
    if s.starts_with('-') {
        s
    } else {
        format!("+{s}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_signs() {
        assert_eq!(parse("90d", Sign::Unsigned).unwrap().as_secs(), 90 * 86_400);
        assert_eq!(parse("+2d", Sign::Required).unwrap().as_secs(), 2 * 86_400);
        assert_eq!(parse("-4h", Sign::Required).unwrap().as_secs(), -4 * 3600);
        assert_eq!(
            parse("7y", Sign::Unsigned).unwrap().as_secs(),
            7 * 365 * 86_400
        );
    }

    #[test]
    fn rejects_bad_input() {
        assert!(matches!(
            parse("90", Sign::Unsigned),
            Err(DurationError::UnknownUnit { .. })
        ));
        assert!(matches!(
            parse("90x", Sign::Unsigned),
            Err(DurationError::UnknownUnit { .. })
        ));
        assert!(matches!(
            parse("d", Sign::Unsigned),
            Err(DurationError::Malformed(_))
        ));
        assert!(matches!(
            parse("2d", Sign::Required),
            Err(DurationError::MissingSign(_))
        ));
        assert!(matches!(
            parse("-2d", Sign::Unsigned),
            Err(DurationError::Negative(_))
        ));
        assert!(matches!(
            parse("99999999999999999999d", Sign::Unsigned),
            Err(DurationError::TooLarge(_))
        ));
    }

    #[test]
    fn formats_in_largest_exact_unit() {
        assert_eq!(format(SignedDuration::from_hours(48)), "2d");
        assert_eq!(format_offset(SignedDuration::from_hours(-24)), "-1d");
        assert_eq!(format(SignedDuration::from_secs(90)), "90s");
    }
}
