//! Positions inside KDL string literals.
//!
//! A rhai condition is a KDL string, and rhai reports errors as line/column *within the
//! string's value*. To point at the right character in the policy file we map each value
//! character back to its byte in the literal, accounting for escapes (`\"` is two bytes in
//! the file, one in the value) and raw strings (`#"..."#`). Multi-line strings (`"""`) are
//! dedented by KDL, so they fall back to the whole literal.

/// For each character of the literal's value, the byte offset of its first source byte within
/// `literal`, plus one trailing entry for the end of the value (the closing quote).
pub fn value_offsets(literal: &str) -> Option<Vec<usize>> {
    if literal.starts_with("\"\"\"") || literal.trim_start_matches('#').starts_with("\"\"\"") {
        return None;
    }
    let hashes = literal.bytes().take_while(|&b| b == b'#').count();
    let rest = &literal[hashes..];
    if !rest.starts_with('"') {
        // A bare identifier: value and source are the same characters.
        if hashes > 0 {
            return None;
        }
        let mut offsets: Vec<usize> = literal.char_indices().map(|(i, _)| i).collect();
        offsets.push(literal.len());
        return Some(offsets);
    }
    let body_start = hashes + 1;
    let body_end = literal.len().checked_sub(1 + hashes)?;
    if body_end < body_start {
        return None;
    }
    let body = &literal[body_start..body_end];
    let mut offsets = Vec::with_capacity(body.len() + 1);
    if hashes > 0 {
        offsets.extend(body.char_indices().map(|(i, _)| body_start + i));
    } else {
        let mut chars = body.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if c != '\\' {
                offsets.push(body_start + i);
                continue;
            }
            match chars.next() {
                Some((_, 'u')) => {
                    // \u{XXXX}: one value character.
                    for (_, c) in chars.by_ref() {
                        if c == '}' {
                            break;
                        }
                    }
                    offsets.push(body_start + i);
                }
                Some((_, c)) if c.is_whitespace() => {
                    // Whitespace escape: the backslash and following whitespace vanish.
                    while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
                }
                Some(_) => offsets.push(body_start + i),
                None => offsets.push(body_start + i),
            }
        }
    }
    offsets.push(body_end);
    Some(offsets)
}

/// Byte range (relative to the literal) of `len` value characters starting at the 1-based
/// `line`/`column` of the value; `None` when the literal cannot be mapped.
pub fn locate(
    literal: &str,
    value: &str,
    line: usize,
    column: usize,
    len: usize,
) -> Option<(usize, usize)> {
    let offsets = value_offsets(literal)?;
    if offsets.len() != value.chars().count() + 1 {
        return None;
    }
    let mut index = None;
    let (mut l, mut c) = (1usize, 1usize);
    for (i, ch) in value.chars().enumerate() {
        if l == line && c == column {
            index = Some(i);
            break;
        }
        if ch == '\n' {
            l += 1;
            c = 1;
        } else {
            c += 1;
        }
    }
    // rhai reports "end of input" one past the last character.
    let index = index.unwrap_or(offsets.len() - 1);
    let end_index = (index + len).min(offsets.len() - 1);
    let start = offsets[index];
    let end = offsets[end_index].max(start + 1);
    Some((start, end - start))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_escaped_quotes() {
        let lit = r#""a == \"b\" && c""#;
        let value = "a == \"b\" && c";
        let (start, len) = locate(lit, value, 1, 13, 1).unwrap();
        assert_eq!(&lit[start..start + len], "c");
        let (start, _) = locate(lit, value, 1, 6, 1).unwrap();
        assert_eq!(&lit[start..start + 2], "\\\"");
    }

    #[test]
    fn maps_raw_strings() {
        let lit = r##"#"x == "y""#"##;
        let (start, len) = locate(lit, r#"x == "y""#, 1, 6, 3).unwrap();
        assert_eq!(&lit[start..start + len], "\"y\"");
    }

    #[test]
    fn end_of_input_points_at_closing_quote() {
        let lit = "\"a ==\"";
        let (start, _) = locate(lit, "a ==", 1, 5, 1).unwrap();
        assert_eq!(start, 5);
    }

    #[test]
    fn multiline_strings_are_not_mapped() {
        assert!(value_offsets("\"\"\"\n  a\n  \"\"\"").is_none());
    }
}
