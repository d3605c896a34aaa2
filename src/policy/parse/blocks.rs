//! Block structure checked before the KDL parser runs, for the inputs it cannot survive.
//!
//! The `kdl` crate recurses once per level of `{`, so thousands of levels overflow the stack
//! (a crash, not a diagnostic); and its error recovery backtracks through every slashdashed
//! block (`/-{`) that is never closed, so a few hundred bytes of them take minutes (fuzzing
//! found files of 170 bytes taking seconds and 220 bytes taking two minutes). Both are
//! found here by one linear scan that skips strings and comments, and reported as ordinary
//! diagnostics, as are strings that are not closed on their line and comments that run to
//! the end of the file (the scan cannot see past them, and the parser's recovery from them
//! is just as slow). Unclosed blocks
//! without a slashdash are left to the parser, whose messages are better and which handles
//! them quickly.

use std::time::Duration;

use kdl::{KdlDocument, KdlError};

use super::{Diagnostic, FileId, Span};

/// How long the KDL parser may take on a small file. Real policy files parse in
/// milliseconds; the scan below catches the slow inputs fuzzing has found, and this is the
/// backstop for any it has not. Large files get more (see [`budget_for`]): the parser is
/// linear on them, at about a microsecond per byte unoptimised.
pub(super) const PARSE_BUDGET: Duration = Duration::from_secs(1);

/// The parse budget for a file of `len` bytes: [`PARSE_BUDGET`] plus 5 s per MiB, in
/// proportion (a 100 KiB file gets 1.5 s; real ones parse in a few milliseconds).
pub(super) fn budget_for(len: usize) -> Duration {
    PARSE_BUDGET + Duration::from_secs_f64(5.0 * len as f64 / (1024.0 * 1024.0))
}

/// Parse `text` on a thread of its own and wait at most `budget`; `None` when the parser has
/// not finished by then. The thread is left to finish on its own (nothing can stop it), so
/// this bounds how long a command waits, not the CPU a pathological file costs; commands
/// exit right after reporting it.
pub(super) fn parse_within(text: &str, budget: Duration) -> Option<Result<KdlDocument, KdlError>> {
    let (done, result) = std::sync::mpsc::channel();
    let owned = text.to_string();
    let spawned = std::thread::Builder::new()
        .name("kdl-parse".into())
        .spawn(move || {
            let _ = done.send(KdlDocument::parse_v2(&owned));
        });
    if spawned.is_err() {
        // No thread to spare: parse here, unbounded, rather than not at all.
        return Some(KdlDocument::parse_v2(text));
    }
    result.recv_timeout(budget).ok()
}

/// The diagnostic for a file the parser did not finish in time.
pub(super) fn too_slow(file: FileId) -> Diagnostic {
    Diagnostic::error(
        "policy::kdl-syntax",
        Span::new(file, 0, 1),
        "the KDL parser did not finish this file in time",
    )
    .label("in this file")
    .help("the file has a syntax error the parser recovers from very slowly (often an unclosed `{` or string after `/-`); look for unbalanced braces and quotes")
}

/// Deepest `{ ... }` nesting a policy file may have (real policies use three).
pub(super) const MAX_BLOCK_DEPTH: usize = 64;

/// What makes a file unsafe to hand to the KDL parser.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum BlockProblem {
    /// The `{` that opens the block one level too deep.
    TooDeep(usize),
    /// The first `{` never closed, in a file with a slashdash.
    Unclosed(usize),
    /// A string (or `/*` comment) that runs to the end of the file, from here.
    Unterminated(usize),
    /// A `\` escape KDL does not have (`\q`, `\/`, `\u{D800}`), here.
    BadEscape(usize),
    /// The closing `"""` of a multi-line string that does not stand on a line of its own.
    BadClose(usize),
    /// A character KDL does not allow outside comments (a control character, a
    /// bidirectional formatting character, a byte order mark past the start), here.
    Disallowed(usize),
    /// A type annotation whose `(` is not followed by one name and `)`, here.
    BadTypeAnnotation(usize),
    /// A line of a multi-line string without the closing line's indentation, here.
    BadIndent(usize),
}

impl BlockProblem {
    pub(super) fn diagnostic(&self, file: FileId) -> Diagnostic {
        match *self {
            BlockProblem::TooDeep(offset) => Diagnostic::error(
                "policy::too-deep",
                Span::new(file, offset, 1),
                format!("blocks nest more than {MAX_BLOCK_DEPTH} levels"),
            )
            .label("too deep")
            .help("policies are systems, roles and rules a few levels deep; remove the nesting"),
            BlockProblem::Unclosed(offset) => Diagnostic::error(
                "policy::kdl-syntax",
                Span::new(file, offset, 1),
                "this `{` is never closed",
            )
            .label("unclosed block")
            .help("close the block with `}`; a file with `/-` and an unclosed block is refused before parsing (the KDL parser would take minutes on it)"),
            BlockProblem::Unterminated(offset) => Diagnostic::error(
                "policy::kdl-syntax",
                Span::new(file, offset, 1),
                "this string or comment is not closed",
            )
            .label("not closed")
            .help("close it (`\"`, `\"#` for a raw string, `*/` for a comment)"),
            BlockProblem::BadClose(offset) => Diagnostic::error(
                "policy::kdl-syntax",
                Span::new(file, offset, 3),
                "a multi-line string's closing `\"\"\"` must stand on a line of its own",
            )
            .label("text before the closing quotes")
            .help("put the closing `\"\"\"` on its own line, after nothing but indentation"),
            BlockProblem::Disallowed(offset) => Diagnostic::error(
                "policy::kdl-syntax",
                Span::new(file, offset, 1),
                "this character is not allowed in a KDL file",
            )
            .label("control or formatting character")
            .help("remove it: KDL forbids control characters and bidirectional formatting characters outside comments (they can make code read differently from what runs)"),
            BlockProblem::BadTypeAnnotation(offset) => Diagnostic::error(
                "policy::kdl-syntax",
                Span::new(file, offset, 1),
                "this `(` does not start a type annotation",
            )
            .label("expected one name, then `)`")
            .help("in KDL a `(` outside strings starts a type annotation: one name in parentheses before a node or value, like `(date)\"2026-01-01\"`; offboard's policies need none, so remove it or quote the text"),
            BlockProblem::BadIndent(offset) => Diagnostic::error(
                "policy::kdl-syntax",
                Span::new(file, offset, 1),
                "this line of a multi-line string is not indented like its closing quotes",
            )
            .label("less indented than the closing `\"\"\"`")
            .help("KDL removes the closing line's indentation from every line of a multi-line string, so each line must start with it; indent this line, or the closing quotes less"),
            BlockProblem::BadEscape(offset) => Diagnostic::error(
                "policy::kdl-syntax",
                Span::new(file, offset, 2),
                "this escape is not valid in a KDL string",
            )
            .label("invalid escape")
            .help("KDL strings know \\\" \\\\ \\b \\f \\n \\r \\t \\s, \\u{hex} and a backslash before whitespace; write the character itself, or use a raw string (#\"...\"#) where backslashes are literal"),
        }
    }
}

/// The first structural problem of `text`, if it has one.
pub(super) fn check(text: &str) -> Option<BlockProblem> {
    let b = text.as_bytes();
    let mut open: Vec<usize> = Vec::new();
    // Conservative: a `/-` inside a string counts too (then the message is ours, not the
    // parser's; it is still accurate).
    let slashdash = text.contains("/-");
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && !is_newline(b, i) {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                match skip_block_comment(b, i) {
                    Some(end) => i = end,
                    None => return Some(BlockProblem::Unterminated(i)),
                }
                continue;
            }
            b'#' | b'"' => {
                match skip_string(b, i) {
                    Ok(end) => i = end,
                    Err(problem) => return Some(problem),
                }
                continue;
            }
            b'(' => {
                match skip_type_annotation(b, i) {
                    Ok(end) => i = end,
                    Err(problem) => return Some(problem),
                }
                continue;
            }
            b'{' => {
                open.push(i);
                if open.len() > MAX_BLOCK_DEPTH {
                    return Some(BlockProblem::TooDeep(i));
                }
            }
            b'}' => {
                open.pop();
            }
            _ if disallowed_at(b, i) => return Some(BlockProblem::Disallowed(i)),
            _ => {}
        }
        i += 1;
    }
    match open.first() {
        Some(&offset) if slashdash => Some(BlockProblem::Unclosed(offset)),
        _ => None,
    }
}

/// Whether a KDL v2 newline starts at `i`: LF, CR, vertical tab, form feed, NEL, LS or PS. A `//` comment
/// ends at any of them, and so does what the parser reads as a single-line string: a scan
/// that ended lines at LF alone would hide the blocks after a form feed from itself, and
/// fuzzing found the parser crawling through exactly those.
fn is_newline(b: &[u8], i: usize) -> bool {
    match b[i] {
        b'\n' | b'\r' | 0x0B | 0x0C => true,
        0xC2 => b.get(i + 1) == Some(&0x85),
        0xE2 => b.get(i + 1) == Some(&0x80) && matches!(b.get(i + 2), Some(0xA8 | 0xA9)),
        _ => false,
    }
}

/// How many bytes the line break at `k` takes (CRLF is one line break; NEL two bytes, LS and
/// PS three).
fn newline_len(b: &[u8], k: usize) -> usize {
    match b.get(k) {
        Some(b'\r') if b.get(k + 1) == Some(&b'\n') => 2,
        Some(0xC2) => 2,
        Some(0xE2) => 3,
        _ => 1,
    }
}

/// Whether only spaces and tabs stand between the line break before `j` and `j` (bytes
/// past ASCII are let through: they may be Unicode whitespace).
fn only_whitespace_before(b: &[u8], j: usize) -> bool {
    let mut k = j;
    while k > 0 {
        k -= 1;
        if is_newline(b, k) {
            return true;
        }
        if !matches!(b[k], b' ' | b'\t') && b[k] < 0x80 {
            return false;
        }
    }
    true
}

/// Whether a code point KDL v2 disallows outside comments starts at `i`: C0 controls other
/// than tab and the line breaks, the bidirectional formatting characters (U+200E, U+200F,
/// U+202A to U+202E, U+2066 to U+2069) and a byte order mark past the start. The parser
/// rejects them in strings and names alike (but not in comments), and its recovery from a
/// string they break was found crawling; DEL is allowed.
fn disallowed_at(b: &[u8], i: usize) -> bool {
    match b[i] {
        0x00..=0x08 | 0x0E..=0x1F => true,
        0xE2 => matches!(
            (b.get(i + 1), b.get(i + 2)),
            (Some(0x80), Some(0x8E | 0x8F | 0xAA..=0xAE)) | (Some(0x81), Some(0xA6..=0xA9))
        ),
        0xEF => i > 0 && b.get(i + 1) == Some(&0xBB) && b.get(i + 2) == Some(&0xBF),
        _ => false,
    }
}

/// The offset after the type annotation whose `(` is at `i`. KDL v2 allows only a name (an
/// identifier or a string) between the parentheses, with spaces, `/* */` comments and
/// escaped line breaks around it; in particular a `//` there starts no comment. The scan
/// must not read one as a comment either, or it would hide the rest of the line from itself,
/// and fuzzing found the parser's recovery from `(//` before unclosed `/-{` blocks taking
/// seconds for a hundred bytes (doubling with each repetition). So anything else is
/// [`BlockProblem::BadTypeAnnotation`]. Bytes past ASCII count as name characters: they may
/// be Unicode letters or spaces, and the parser judges them quickly.
fn skip_type_annotation(b: &[u8], i: usize) -> Result<usize, BlockProblem> {
    let bad = BlockProblem::BadTypeAnnotation(i);
    let mut j = skip_node_space(b, i + 1)?;
    if matches!(b.get(j), Some(b'"' | b'#')) {
        j = skip_string(b, j)?;
    } else {
        let name = b[j..]
            .iter()
            .enumerate()
            .take_while(|&(k, &c)| {
                !is_newline(b, j + k)
                    && !disallowed_at(b, j + k)
                    && (c >= 0x80 || (c.is_ascii_graphic() && !b"\\/(){};[]\"#=".contains(&c)))
            })
            .count();
        if name == 0 {
            return Err(bad);
        }
        j += name;
    }
    j = skip_node_space(b, j)?;
    match b.get(j) {
        Some(b')') => Ok(j + 1),
        _ => Err(bad),
    }
}

/// The offset after the node space (KDL's spaces within a node) starting at `i`: spaces,
/// tabs, `/* */` comments, and escaped line breaks (`\`, then an optional `//` comment, then
/// the line break). A comment there that is never closed is [`BlockProblem::Unterminated`].
fn skip_node_space(b: &[u8], mut i: usize) -> Result<usize, BlockProblem> {
    loop {
        match b.get(i) {
            Some(b' ' | b'\t') => i += 1,
            Some(b'/') if b.get(i + 1) == Some(&b'*') => {
                i = skip_block_comment(b, i).ok_or(BlockProblem::Unterminated(i))?
            }
            Some(b'\\') => {
                let mut k = i + 1;
                while matches!(b.get(k), Some(b' ' | b'\t')) {
                    k += 1;
                }
                if b.get(k) == Some(&b'/') && b.get(k + 1) == Some(&b'/') {
                    while k < b.len() && !is_newline(b, k) {
                        k += 1;
                    }
                }
                if k < b.len() && !is_newline(b, k) {
                    return Ok(i);
                }
                i = (k + newline_len(b, k)).min(b.len());
            }
            _ => return Ok(i),
        }
    }
}

/// The offset after a `/* ... */` comment starting at `i` (they nest in KDL); `None` when
/// it is never closed.
fn skip_block_comment(b: &[u8], mut i: usize) -> Option<usize> {
    let mut level = 1;
    i += 2;
    while i < b.len() && level > 0 {
        if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
            level += 1;
            i += 1;
        } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
            level -= 1;
            i += 1;
        }
        i += 1;
    }
    (level == 0).then_some(i)
}

/// The offset after the string starting at `i`: `"..."` with escapes, `"""..."""`, and their
/// raw forms with any number of `#`. A string that is not closed (single-line strings by the
/// end of their line) is [`BlockProblem::Unterminated`]; an escape KDL does not have is
/// [`BlockProblem::BadEscape`] (the parser would end the string there, and its recovery from
/// what follows can be just as slow). A `#` that starts no string (`#true`) is skipped alone.
fn skip_string(b: &[u8], i: usize) -> Result<usize, BlockProblem> {
    let hashes = b[i..].iter().take_while(|&&c| c == b'#').count();
    let start = i + hashes;
    if b.get(start) != Some(&b'"') {
        return Ok(i + hashes.max(1));
    }
    let unterminated = BlockProblem::Unterminated(i);
    let triple = b.get(start..start + 3) == Some(b"\"\"\"");
    // A multi-line string's `"""` ends its line; anything else after it is a syntax error
    // (and no string the scan could skip).
    if triple && (start + 3 >= b.len() || !is_newline(b, start + 3)) {
        return Err(unterminated);
    }
    let quotes = if triple { 3 } else { 1 };
    let mut j = start + quotes;
    while j < b.len() {
        if disallowed_at(b, j) {
            return Err(BlockProblem::Disallowed(j));
        }
        if hashes == 0 && b[j] == b'\\' {
            j = skip_escape(b, j)?;
            continue;
        }
        // A single-line string cannot hold a line break (an escaped one was skipped above).
        if !triple && is_newline(b, j) {
            return Err(unterminated);
        }
        let closes = b[j..].iter().take(quotes).filter(|&&c| c == b'"').count() == quotes
            && b[j + quotes..]
                .iter()
                .take(hashes)
                .filter(|&&c| c == b'#')
                .count()
                == hashes;
        if closes {
            // A multi-line string's closing quotes stand on a line of their own (after
            // whitespace only); elsewhere they end the string in a syntax error.
            if triple && !only_whitespace_before(b, j) {
                return Err(BlockProblem::BadClose(j));
            }
            if triple && let Some(line) = misindented_line(b, start + 3, j, hashes > 0) {
                return Err(BlockProblem::BadIndent(line));
            }
            return Ok(j + quotes + hashes);
        }
        j += 1;
    }
    Err(unterminated)
}

/// The first line of a multi-line string's body (from `body`, just after the opening
/// quotes, to the closing quotes at `close`) that does not start with the closing line's
/// indentation, which KDL v2 strips from every line: the parser rejects such a string and
/// its recovery from the text inside was found crawling. Whitespace-only lines are exempt,
/// as in KDL. A string with whitespace escapes (`\` before a line break) is left to the
/// parser, which joins its lines.
fn misindented_line(b: &[u8], body: usize, close: usize, raw: bool) -> Option<usize> {
    let mut line_start = close;
    while line_start > body && !is_newline(b, line_start - 1) {
        line_start -= 1;
    }
    let indent = &b[line_start..close];
    if !raw && b[body..close].contains(&b'\\') {
        return None;
    }
    let mut i = body;
    while i < line_start {
        // The next line: from i to the next line break.
        let mut end = i;
        while end < line_start && !is_newline(b, end) {
            end += 1;
        }
        let line = &b[i..end];
        let blank = line.iter().all(|c| matches!(c, b' ' | b'\t'));
        if !blank && !line.starts_with(indent) {
            return Some(i);
        }
        i = if end < line_start {
            end + newline_len(b, end)
        } else {
            end
        };
    }
    None
}

/// The offset after the escape whose `\` is at `j`, as KDL v2 defines escapes: one of
/// `" \ b f n r t s`, `u{` and one to six hex digits naming a Unicode scalar value `}`, or
/// whitespace (a whitespace escape, which also swallows the line breaks and whitespace after
/// it). A backslash before a non-ASCII character is let through: it may be Unicode whitespace.
fn skip_escape(b: &[u8], j: usize) -> Result<usize, BlockProblem> {
    let bad = BlockProblem::BadEscape(j);
    let Some(&next) = b.get(j + 1) else {
        return Ok(j + 1);
    };
    match next {
        b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't' | b's' => Ok(j + 2),
        b'u' => {
            if b.get(j + 2) != Some(&b'{') {
                return Err(bad);
            }
            let digits = b[j + 3..]
                .iter()
                .take_while(|c| c.is_ascii_hexdigit())
                .count();
            let close = j + 3 + digits;
            if !(1..=6).contains(&digits) || b.get(close) != Some(&b'}') {
                return Err(bad);
            }
            let hex = std::str::from_utf8(&b[j + 3..close]).unwrap_or("");
            match u32::from_str_radix(hex, 16).ok().and_then(char::from_u32) {
                Some(_) => Ok(close + 1),
                None => Err(bad),
            }
        }
        _ if matches!(next, b' ' | b'\t') || is_newline(b, j + 1) => {
            let mut k = j + 1;
            while k < b.len() && (matches!(b[k], b' ' | b'\t') || is_newline(b, k)) {
                k += 1;
            }
            Ok(k)
        }
        _ if next >= 0x80 => Ok(j + 1),
        _ => Err(bad),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unclosed_slashdashed_blocks_are_found_before_parsing() {
        let hostile = "rule inv /-{| /-{le x\n".repeat(10);
        assert_eq!(check(&hostile), Some(BlockProblem::Unclosed(11)));
        // Without a slashdash the parser copes, and says it better.
        assert_eq!(check("rule a {\n"), None);
    }

    /// The backstop: a file the scan lets through but the parser takes seconds on is
    /// answered when the budget runs out.
    #[test]
    fn the_parser_is_given_a_time_budget() {
        let slow = "rule inv /-{| /-{le x\n".repeat(8);
        assert!(parse_within(&slow, Duration::from_millis(50)).is_none());
        assert!(matches!(parse_within("a 1\n", PARSE_BUDGET), Some(Ok(_))));
    }

    #[test]
    fn braces_in_strings_and_comments_do_not_count() {
        let text = "// {\n/* { /* { */ */\nsystem a {\n    description \"{\" #\"}{\"# \"\"\"\n  {\n  \"\"\"\n}\n/- x\n";
        assert_eq!(check(text), None);
        let deep = format!("a {}", "x {".repeat(65));
        assert!(matches!(check(&deep), Some(BlockProblem::TooDeep(_))));
        assert_eq!(
            check("a ##\"x /-{ y\n"),
            Some(BlockProblem::Unterminated(2))
        );
        assert_eq!(check("a /* b\n"), Some(BlockProblem::Unterminated(2)));
        // A raw string does not run past its line: what follows is still checked.
        assert_eq!(
            check("a #\"x\nb /-{ \"#"),
            Some(BlockProblem::Unterminated(2))
        );
        assert_eq!(check("a \"x\\\n  y\" b"), None);
        // Escapes: the valid ones pass (a whitespace escape may span lines), the others are
        // refused before the parser's slow recovery from them.
        for valid in [
            r#"a "\" \\ \b \f \n \r \t \s \u{41} \u{10FFFF}""#,
            "a \"x\\   \n   y\"",
        ] {
            assert_eq!(check(valid), None, "{valid}");
        }
        for bad in [
            r#"a "\q""#,
            r#"a "\/""#,
            r#"a "\u{D800}""#,
            r#"a "\u{1234567}""#,
            r#"a "\u41""#,
            r#"a "\u{}""#,
        ] {
            assert_eq!(check(bad), Some(BlockProblem::BadEscape(3)), "{bad}");
        }
        // A multi-line string closes on a line of its own.
        assert_eq!(check("a \"\"\"\n  x\n  \"\"\"\n"), None);
        assert_eq!(
            check("a \"\"\"\n x /-{ \"\"\"\n"),
            Some(BlockProblem::BadClose(13))
        );
        // Control and bidirectional characters are refused outside comments, allowed in them.
        assert_eq!(check("a \"x\u{1}y\""), Some(BlockProblem::Disallowed(4)));
        assert_eq!(check("a\u{13}b 1"), Some(BlockProblem::Disallowed(1)));
        assert_eq!(check("a \"\u{202e}\""), Some(BlockProblem::Disallowed(3)));
        assert_eq!(check("a #\"\u{2066}\"#"), Some(BlockProblem::Disallowed(4)));
        assert_eq!(check("// \u{1} \u{202e}\na \"\u{7f}\"\n"), None);
        assert_eq!(check("\u{feff}a 1\n"), None);
        // KDL v2 ends lines at a form feed, NEL, LS and PS too: a comment does not hide the
        // blocks after one.
        for newline in ["\x0B", "\x0C", "\u{85}", "\u{2028}", "\u{2029}", "\r"] {
            let text = format!("a // x{newline}/-{{ y\n");
            assert!(
                matches!(check(&text), Some(BlockProblem::Unclosed(_))),
                "{newline:?}"
            );
        }
        // Every line of a multi-line string starts with the closing line's indentation
        // (blank lines aside).
        assert_eq!(check("a \"\"\"\n    x\n\n    y\n    \"\"\"\n"), None);
        assert_eq!(
            check("a \"\"\"\n    x\nG /-{\n    \"\"\"\n"),
            Some(BlockProblem::BadIndent(12))
        );
        assert_eq!(
            check("a #\"\"\"\n  x\n y\n  \"\"\"#\n"),
            Some(BlockProblem::BadIndent(11))
        );
        // A `(` starts a type annotation, in which `//` is no comment: the scan does not
        // hide the rest of the line from itself.
        for valid in [
            "(date)a (t)\"x\" ( t )1",
            "a (#\"raw\"#)2 (/* c */ u8 /* d */)3",
            "a (t \\ // escaped line break\n )4",
            "a (\"q(\")5 (été)6",
        ] {
            assert_eq!(check(valid), None, "{valid}");
        }
        for bad in [
            "a (// /-{) /-{- \n",
            "a (x",
            "a ()",
            "a (x y)",
            "a (x\n)",
            "a (\\ x)",
        ] {
            assert_eq!(
                check(bad),
                Some(BlockProblem::BadTypeAnnotation(2)),
                "{bad}"
            );
        }
        assert_eq!(check("a (/* x"), Some(BlockProblem::Unterminated(3)));
        assert_eq!(
            check("a \"\"\"# b\n/-{ \"\"\""),
            Some(BlockProblem::Unterminated(2))
        );
    }
}
