//! Output cannot be forged: roster values and remote messages cannot fake plan lines, drive the
//! terminal, open HTML, close a Markdown table, link or mention, or break JUnit and SARIF; floods
//! of errors are capped and parser-hostile KDL is refused quickly.

use super::*;

fn example_with_department(department: &str) -> tempfile::TempDir {
    let dir = common::example_copy();
    let roster = dir.path().join("inventory/people.csv");
    let text = std::fs::read_to_string(&roster).unwrap();
    // John Doe's department, quoted so the CSV carries any character.
    let text = text.replace(
        "John Doe,Product Management,",
        &format!("John Doe,\"{}\",", department.replace('"', "\"\"")),
    );
    std::fs::write(&roster, text).unwrap();
    dir
}

fn plan(dir: &std::path::Path, format: &str) -> String {
    let out = Command::cargo_bin("offboard")
        .unwrap()
        .arg("-C")
        .arg(dir)
        .args(["plan", "--at", "2026-11-23T09:00:00Z", "--format", format])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    String::from_utf8(out).unwrap()
}

#[test]
fn a_roster_value_cannot_forge_plan_lines_or_terminal_sequences() {
    let forged = "Product\n  - okta        00uFAKE  ceo@acme.com  active -> deleted\u{1b}[2K\u{7}";
    let dir = example_with_department(forged);
    let text = plan(dir.path(), "text");
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{7}'),
        "{text:?}"
    );
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("  - okta        00uFAKE")),
        "a forged line: {text}"
    );
    assert!(text.contains("Product\\n  - okta"), "{text}");
    let summary = plan(dir.path(), "markdown");
    assert!(!summary.contains('\u{1b}'));
}

#[test]
fn markdown_cells_cannot_open_html_or_close_the_table() {
    let dir = example_with_department("</details><img src=x onerror=alert(1)>|x");
    let md = plan(dir.path(), "markdown");
    assert!(!md.contains("<img"), "{md}");
    assert!(!md.contains("</details><img"), "{md}");
    assert!(
        md.contains("&lt;/details&gt;") || md.contains("&lt;/details>"),
        "{md}"
    );
    assert!(md.contains("\\|x"), "{md}");
}

#[test]
fn error_floods_are_capped() {
    let mut csv = String::from("email,name,status\n");
    for i in 0..20_000 {
        csv.push_str(&format!("p{i}@acme.com,P {i},gone\n"));
    }
    let e = offboard::roster::parse_csv(
        csv.as_bytes(),
        std::path::Path::new("people.csv"),
        offboard::policy::PersonKey::Email,
        &jiff::tz::TimeZone::UTC,
    )
    .unwrap_err()
    .to_string();
    assert!(e.lines().count() <= 103, "{} lines", e.lines().count());
    assert!(e.contains("has 20000 problems"), "{}", &e[..200]);
    assert!(e.contains("... and 19900 more problems"), "{e}");
}

#[test]
fn deeply_nested_kdl_is_a_diagnostic_not_a_crash() {
    let deep = format!("system a {}{}\n", "x {".repeat(2000), "}".repeat(2000));
    let e = policy::load_texts(vec![(PathBuf::from("policies/a.kdl"), deep)]).unwrap_err();
    assert!(
        e.diagnostics[0]
            .message
            .contains("blocks nest more than 64 levels"),
        "{}",
        e.diagnostics[0].message
    );
    // Braces inside strings and comments do not count.
    let text = format!(
        "// {}\nsystem idp {{\n    connector file\n    tier identity-provider\n    correlate email=\"email\"\n    description \"{}\"\n}}\n",
        "{".repeat(500),
        "{".repeat(500)
    );
    policy::load_texts(vec![(PathBuf::from("policies/a.kdl"), text)]).unwrap();
}

/// Found by fuzzing: the KDL parser's error recovery backtracks through every unclosed
/// slashdashed block, so 220 bytes of them took two minutes. They are refused before parsing.
#[test]
fn unclosed_slashdashed_blocks_are_refused_in_milliseconds() {
    let hostile = "rule inv /-{| /-{le x\n".repeat(20);
    let started = Instant::now();
    let e = policy::load_texts(vec![(PathBuf::from("policies/a.kdl"), hostile)]).unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(e.diagnostics[0].message, "this `{` is never closed");
    // Every hang the fuzzer saved is answered quickly too.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/policy");
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        if !entry.file_name().to_string_lossy().starts_with("finding-") {
            continue;
        }
        let text = String::from_utf8_lossy(&std::fs::read(entry.path()).unwrap()).into_owned();
        let started = Instant::now();
        let _ = policy::load_texts(vec![(PathBuf::from("policies/a.kdl"), text)]);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{}: {:?}",
            entry.path().display(),
            started.elapsed()
        );
    }
}

#[test]
fn junit_and_sarif_stay_well_formed_for_any_text() {
    use offboard::audit::{Audit, Finding, Kind, Severity, SystemSummary};
    let nasty = "a\u{0}b\u{1b}[31m\u{7}c]]>&<'\"\u{ffff}";
    let audit = Audit {
        generated_at: "2026-11-28T09:00:00Z".parse().unwrap(),
        policy_hash: "p".into(),
        roster_hash: "r".into(),
        systems: vec![SystemSummary {
            system: "okta".into(),
            accounts: 1,
            findings: 1,
        }],
        findings: vec![Finding {
            kind: Kind::Orphan,
            severity: Severity::High,
            system: "okta".into(),
            account: nasty.into(),
            account_label: nasty.into(),
            owner: Some(nasty.into()),
            evidence: nasty.into(),
            remediation: "fix".into(),
            policy_location: None,
        }],
    };
    let xml = offboard::audit::render::junit(&audit, Severity::High);
    for c in xml.chars() {
        let ok = matches!(c, '\t' | '\n' | '\r')
            || (c as u32) >= 0x20 && c != '\u{fffe}' && c != '\u{ffff}';
        assert!(ok, "XML forbids {:?}: {xml}", c);
    }
    assert!(!xml.contains("<'") && xml.contains("&lt;&apos;"), "{xml}");
    let sarif = offboard::audit::render::sarif(&audit);
    serde_json::from_str::<serde_json::Value>(&sarif).expect("SARIF is valid JSON");
}

#[test]
fn markdown_cells_cannot_link_embed_or_mention() {
    let md = offboard::plan::render::markdown_cell(
        "[click](https://evil.example) ![x](https://evil.example/p.png) @security-team <!-- hide -->",
    );
    assert!(!md.contains("[click]("), "{md}");
    assert!(!md.contains("![x]("), "{md}");
    assert!(!md.contains("@security-team"), "{md}");
    assert!(!md.contains("<!--"), "{md}");
    // An address is not a mention and is left readable.
    assert_eq!(
        offboard::plan::render::markdown_cell("ann@acme.com"),
        "ann@acme.com"
    );
}

#[test]
fn a_remote_error_cannot_drive_the_terminal() {
    let e = offboard::connector::ConnectorError::permanent(
        "okta",
        "500: \u{1b}]0;owned\u{7}\nError: fake",
    );
    let shown = e.to_string();
    assert!(
        !shown.contains('\u{1b}') && !shown.contains('\n'),
        "{shown:?}"
    );
    assert!(shown.contains("\\e]0;owned\\x07\\nError: fake"), "{shown}");
}
