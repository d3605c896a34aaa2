//! Robust parsing: no roster or export panics or hangs, and every bad one is refused with a reason.

use super::*;

fn roster_csv(text: &str) -> Result<usize, String> {
    offboard::roster::parse_csv(
        text.as_bytes(),
        std::path::Path::new("people.csv"),
        offboard::policy::PersonKey::Email,
        &jiff::tz::TimeZone::UTC,
    )
    .map(|r| r.people.len())
    .map_err(|e| e.to_string())
}

fn roster_json(text: &str) -> Result<usize, String> {
    offboard::roster::parse_json(
        text.as_bytes(),
        std::path::Path::new("people.json"),
        offboard::policy::PersonKey::Email,
        &jiff::tz::TimeZone::UTC,
    )
    .map(|r| r.people.len())
    .map_err(|e| e.to_string())
}

/// Hostile rosters, each with the text its refusal must contain.
#[test]
fn hostile_rosters_are_refused_with_a_reason() {
    let h = "email,name,status";
    let cases: Vec<(String, &str)> = vec![
        (format!("{h}\n"), "ok:0"),
        (String::new(), "no `email` column"),
        ("\u{feff}".to_string(), "no `email` column"),
        (
            format!("{h},email\na@x.com,A,active,b@x.com\n"),
            "the same column",
        ),
        (
            format!("{h},EMAIL\na@x.com,A,active,b@x.com\n"),
            "the same column",
        ),
        (format!("{h},e-mail\na@x.com,A,active,b@x.com\n"), "ok:1"),
        (
            format!("{h}\na@x.com,A,active\nA@X.COM,B,active\n"),
            "duplicate email",
        ),
        (
            format!("{h}\na@x.com,A,terminated,extra\n"),
            "unreadable row",
        ),
        (format!("{h}\na@x.com,\"A\0B\",active\n"), "NUL byte"),
        (format!("{h}\n,A,active\n"), "missing email"),
        (format!("{h}\na@x.com,,active\n"), "missing name"),
        (format!("{h}\na@x.com,A,\n"), "missing status"),
        (format!("{h}\na@x.com,A,fired\n"), "unknown status"),
        (
            format!("{h},last_day\na@x.com,A,terminated,31/12/2026\n"),
            "is not a date",
        ),
        (
            format!("{h},last_day\na@x.com,A,terminated,2026-02-30\n"),
            "is not a date",
        ),
        (
            format!("{h},termination_at\na@x.com,A,terminated,yesterday\n"),
            "is not a date and time",
        ),
        (
            format!("{h},legal_hold\na@x.com,A,terminated,perhaps\n"),
            "is not true or false",
        ),
        (
            format!("{h},employment\na@x.com,A,active,slave\n"),
            "unknown employment",
        ),
        (
            format!("{h},termination_type\na@x.com,A,terminated,fired\n"),
            "unknown termination_type",
        ),
        (
            format!("{h}\na@x.com,\"A\nB\",active\nb@x.com,B,gone\n"),
            "people.csv:4",
        ),
        (format!("{}\n", "x,".repeat(5000)), "the same column"),
    ];
    for (text, expected) in cases {
        let got = roster_csv(&text);
        let shown: String = text.chars().take(80).collect();
        match (expected.strip_prefix("ok:"), &got) {
            (Some(n), Ok(people)) => assert_eq!(people.to_string(), n, "{shown:?}"),
            (None, Err(e)) => assert!(
                e.contains(expected),
                "{shown:?}: {}",
                e.chars().take(400).collect::<String>()
            ),
            _ => panic!("{shown:?}: expected {expected}"),
        }
    }
    let json_cases = [
        ("", "invalid JSON"),
        ("{}", "expected an array of people"),
        ("{\"people\": 5}", "invalid JSON"),
        ("[1]", "entry 1 is a number"),
        ("[[]]", "entry 1 is an array"),
        ("[null]", "entry 1 is null"),
        (
            "[{\"email\": \"a@x.com\", \"name\": \"A\", \"status\": {\"x\": 1}}]",
            "holds an object",
        ),
        (
            "[{\"email\": \"a@x.com\", \"email\": \"b@x.com\", \"name\": \"A\", \"status\": \"active\"}]",
            "the same field twice",
        ),
        ("{\"people\": [], \"people\": []}", "appears twice"),
        (&"[".repeat(100_000), "invalid JSON"),
    ];
    for (text, expected) in json_cases {
        let e = roster_json(text).unwrap_err();
        assert!(e.contains(expected), "{}: {e}", &text[..text.len().min(80)]);
    }
}

/// Hostile account exports, each refused with a reason (never a panic, never a skip).
#[test]
fn hostile_exports_are_refused_with_a_reason() {
    use offboard::connector::Connector;
    use offboard::connector::file::FileConnector;
    use offboard::policy::FileFormat;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, FileFormat, &str)] = &[
        ("", FileFormat::Json, "not a valid account export"),
        ("{}", FileFormat::Json, "not a valid account export"),
        (
            "{\"accounts\": {}}",
            FileFormat::Json,
            "not a valid account export",
        ),
        (
            "{\"accounts\": [1]}",
            FileFormat::Json,
            "not a valid account",
        ),
        (
            "{\"accounts\": [{\"id\": \"a\"}]}",
            FileFormat::Json,
            "not a valid account",
        ),
        (
            "{\"accounts\": [{\"id\": \"a\", \"username\": \"a\", \"status\": \"zombie\"}]}",
            FileFormat::Json,
            "not a valid account",
        ),
        (
            "{\"accounts\": [{\"id\": \"\", \"username\": \"a\", \"status\": \"active\"}]}",
            FileFormat::Json,
            "empty `id`",
        ),
        (
            "{\"system\": 5, \"accounts\": []}",
            FileFormat::Json,
            "`system` must be a string",
        ),
        (
            "{\"system\": \"slack\", \"accounts\": []}",
            FileFormat::Json,
            "of system `slack`",
        ),
        ("id,username\n", FileFormat::Csv, "no `status` column"),
        (
            "id,username,status\na,a,zombie\n",
            FileFormat::Csv,
            "unknown status",
        ),
        (
            "id,username,status,sessions\na,a,active,many\n",
            FileFormat::Csv,
            "is not a number",
        ),
        (
            "id,username,status,last_login\na,a,active,yesterday\n",
            FileFormat::Csv,
            "is not a timestamp",
        ),
        (
            "id,username,status\n,a,active\n",
            FileFormat::Csv,
            "empty `id`",
        ),
        (
            "id,username,status\na,a,active\na,b,active\n",
            FileFormat::Csv,
            "given again",
        ),
    ];
    for (i, (text, format, expected)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("e{i}"));
        std::fs::write(&path, text).unwrap();
        let c = FileConnector::new("okta", path, *format);
        let e = rt.block_on(c.list_accounts()).unwrap_err();
        assert!(e.message.contains(expected), "{text:?}: {}", e.message);
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

    /// Whatever the bytes, the roster parsers answer (people or problems), never panic.
    #[test]
    fn roster_parsers_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
        let tz = jiff::tz::TimeZone::UTC;
        let _ = offboard::roster::parse_csv(&bytes, std::path::Path::new("p.csv"), offboard::policy::PersonKey::Email, &tz);
        let _ = offboard::roster::parse_json(&bytes, std::path::Path::new("p.json"), offboard::policy::PersonKey::Email, &tz);
    }

    /// Rows that look like a roster, with arbitrary cells: never a panic.
    #[test]
    fn roster_rows_never_panic(cells in proptest::collection::vec("[ -~\u{80}-\u{10ffff}\n\"\u{0}]{0,12}", 0..40)) {
        let mut text = String::from("email,name,status,last_day,termination_at,legal_hold\n");
        for row in cells.chunks(6) {
            text.push_str(&row.iter().map(|c| format!("\"{}\"", c.replace('"', "\"\""))).collect::<Vec<_>>().join(","));
            text.push('\n');
        }
        let _ = roster_csv(&text);
    }

    /// Whatever the text, the policy loader answers with a policy or diagnostics.
    #[test]
    fn the_policy_loader_never_panics(text in "[ -~\n{}\"#=/*\\\\]{0,400}") {
        let _ = policy::load_texts(vec![(PathBuf::from("policies/a.kdl"), text)]);
    }
}

#[test]
fn a_header_of_a_hundred_thousand_columns_is_answered_quickly() {
    let header: Vec<String> = (0..100_000).map(|i| format!("c{i}")).collect();
    let text = format!("{},c5\n", header.join(","));
    let started = Instant::now();
    let e = roster_csv(&text).unwrap_err();
    assert!(e.contains("the same column"), "{}", &e[..200.min(e.len())]);
    assert!(e.len() < 20_000, "the message is {} bytes", e.len());
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
}
