//! Hostile input, by class: each case states what an attacker (a pull-request author, an HR
//! export, a remote system) tries, and asserts the safe outcome. Issue 14's catalogue grows
//! here; the fuzz targets cover the same parsers with generated input.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use offboard::policy;

/// Load a policy with one rule whose condition is `condition`.
fn with_condition(condition: &str) -> Result<policy::Policy, String> {
    let text = format!(
        "system idp {{\n    connector file\n    tier identity-provider\n    correlate email=\"email\"\n}}\nrule r {{\n    when {}\n    cutoff immediately\n}}\n",
        kdl_string(condition)
    );
    policy::load_texts(vec![(PathBuf::from("policies/a.kdl"), text)]).map_err(|e| {
        e.diagnostics
            .iter()
            .map(|d| format!("{} | {}", d.message, d.help.clone().unwrap_or_default()))
            .collect::<Vec<_>>()
            .join("\n")
    })
}

/// A KDL v2 raw string holding `s` as it is.
fn kdl_string(s: &str) -> String {
    format!("#\"{s}\"#")
}

/// Conditions are pure functions of person, account and now: every function with an effect
/// (time, sleep, output, exit, mutation, parsing) is refused when the policy loads.
#[test]
fn conditions_cannot_sleep_read_the_clock_print_exit_or_mutate() {
    let cases = [
        ("sleep(30)", "sleep"),
        ("sleep(1e300) == ()", "sleep"),
        ("timestamp() > 0", "timestamp"),
        ("print(person.email) == ()", "print"),
        ("debug(person) == ()", "debug"),
        ("exit(1)", "exit"),
        ("parse_json(\"{}\") == ()", "parse_json"),
        ("person.mixin(#{department: \"Sales\"}) == ()", "mixin"),
        ("person.remove(\"legal_hold\") == ()", "remove"),
        ("person.email.pad(1000000, \"!\") == ()", "pad"),
        ("person.email.make_upper() == ()", "make_upper"),
        ("type_of(person) == \"map\"", "type_of"),
        ("Fn(\"x\").call() == 1", "Fn"),
        ("person.email.crop(1) == ()", "crop"),
        ("person.groups.push(\"admins\") == ()", "push"),
        ("person.groups.clear() == ()", "clear"),
    ];
    for (condition, function) in cases {
        let started = Instant::now();
        let e = with_condition(condition).unwrap_err();
        assert!(
            e.contains(&format!("`{function}` is not available in conditions")),
            "{condition}: {e}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{condition} took too long"
        );
    }
}

/// Functions a condition does need still work.
#[test]
fn the_documented_functions_are_available() {
    for condition in [
        "person.email.ends_with(\"@acme.com\")",
        "person.department.to_lower().contains(\"eng\")",
        "person.name.len() > 0 && !person.title.is_empty()",
        "\"admins\" in person.groups",
        "person.email.split(\"@\").len() == 2",
    ] {
        with_condition(condition).unwrap_or_else(|e| panic!("{condition}: {e}"));
    }
}

/// Strings cannot smuggle calls past the check, and nesting is limited as documented.
#[test]
fn strings_and_nesting_do_not_escape_the_sandbox() {
    with_condition("person.department == \"sleep(30)\"").unwrap();
    let deep = format!("{}true{}", "(".repeat(65), ")".repeat(65));
    let e = with_condition(&deep).unwrap_err();
    assert!(e.contains("more than 64 levels"), "{e}");
    let ok = format!("{}true{}", "(".repeat(64), ")".repeat(64));
    with_condition(&ok).unwrap();
}

// --- output cannot be forged ------------------------------------------------------------

use offboard_test_support as common;

use assert_cmd::Command;

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

// --- secrets stay secret -------------------------------------------------------------------

#[test]
fn a_secret_echoed_by_a_server_never_reaches_errors_or_the_journal() {
    use offboard::connector::ConnectorError;
    use offboard::connector::secret::Secret;
    use offboard::policy::SecretRef;
    let token = "tok-\"s3cr3t\\canary-7f1e";
    // SAFETY: set before any other thread of this test reads the variable.
    unsafe { std::env::set_var("OFFBOARD_HOSTILE_TOKEN", token) };
    let secret = Secret::resolve(
        "okta",
        "SCIM bearer token",
        &SecretRef::Env("OFFBOARD_HOSTILE_TOKEN".into()),
        std::path::Path::new("."),
    )
    .unwrap();
    assert_eq!(secret.expose(), token);
    // A server answering 401 with the request's Authorization header in its body.
    let e = ConnectorError::permanent(
        "okta",
        format!("401 Unauthorized: {{\"echo\": \"Bearer {token}\"}}"),
    )
    .hint(format!("the server said Bearer {token}"));
    assert!(
        !e.message.contains("s3cr3t") && e.message.contains("[redacted]"),
        "{}",
        e.message
    );
    assert!(!e.hint.as_deref().unwrap_or("").contains("s3cr3t"));
    // The journal stores a body that would hold it (as JSON, with its quote escaped).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.db");
    let mut journal = offboard::journal::Journal::create(&path, "t", "h").unwrap();
    journal
        .append(&offboard::journal::Record::TaskDone(
            offboard::journal::TaskDone {
                task_id: "t1".into(),
                by: "it".into(),
                note: format!("pasted {token} by mistake"),
                closed_at: jiff::Timestamp::UNIX_EPOCH,
            },
        ))
        .unwrap();
    drop(journal);
    let bytes = std::fs::read(&path).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    assert!(!text.contains("s3cr3t"), "the journal holds the secret");
    assert!(text.contains("pasted [redacted] by mistake"));
}

fn rendered_error(text: &str) -> String {
    let e =
        policy::load_texts(vec![(PathBuf::from("policies/a.kdl"), text.to_string())]).unwrap_err();
    policy::diagnostic::render_text(&e.diagnostics, &e.sources, policy::RenderOptions::default())
}

#[test]
fn inline_secrets_are_found_under_their_usual_names_and_masked() {
    for prop in [
        "api_key",
        "client_secret",
        "private_key",
        "Token",
        "access_token",
        "API-KEY",
    ] {
        let text = format!(
            "system s {{\n    connector scim url=\"https://scim.example.com/v2\" token-env=T {prop}=\"sk-live-canary-91\"\n    tier business\n}}\n"
        );
        let out = rendered_error(&text);
        assert!(out.contains("policy::inline-secret"), "{prop}: {out}");
        assert!(
            !out.contains("sk-live-canary-91"),
            "{prop}: the secret is shown: {out}"
        );
    }
    for url in [
        "https://svc:hunter2-canary@scim.example.com/v2",
        "https://scim.example.com/v2?access_token=hunter2-canary",
        "https://scim.example.com/v2?x=1&api_key=hunter2-canary",
    ] {
        let text = format!(
            "system s {{\n    connector scim url=\"{url}\" token-env=T\n    tier business\n}}\n"
        );
        let out = rendered_error(&text);
        assert!(
            out.contains("credential is written inline in the URL"),
            "{url}: {out}"
        );
        assert!(!out.contains("hunter2-canary"), "{url}: {out}");
    }
}

#[test]
fn data_paths_stay_inside_the_repository() {
    let dir = common::example_copy();
    let d = dir.path();
    let settings = d.join("policies/settings.kdl");
    let text = std::fs::read_to_string(&settings).unwrap();
    std::fs::write(
        &settings,
        text.replace("inventory/people.csv", "/proc/self/environ"),
    )
    .unwrap();
    let out = Command::cargo_bin("offboard")
        .unwrap()
        .arg("-C")
        .arg(d)
        .env("OFFBOARD_CANARY_ENV", "canary-value-in-env")
        .args(["plan", "--at", "2026-11-23T09:00:00Z"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("outside the policy repository"), "{stderr}");
    assert!(!stderr.contains("canary-value-in-env"), "{stderr}");
    // A symlink inside the repository that points out of it is refused the same way.
    std::fs::write(&settings, &text).unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::copy(
        d.join("inventory/people.csv"),
        outside.path().join("people.csv"),
    )
    .unwrap();
    std::fs::remove_file(d.join("inventory/people.csv")).unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("people.csv"),
        d.join("inventory/people.csv"),
    )
    .unwrap();
    Command::cargo_bin("offboard")
        .unwrap()
        .arg("-C")
        .arg(d)
        .args(["plan", "--at", "2026-11-23T09:00:00Z"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("outside the policy repository"));
    // ... unless that directory is named as a data root.
    Command::cargo_bin("offboard")
        .unwrap()
        .arg("-C")
        .arg(d)
        .arg("--data-root")
        .arg(outside.path())
        .args(["plan", "--at", "2026-11-23T09:00:00Z"])
        .assert()
        .code(0);
}

// --- a pull request cannot redirect credentials ----------------------------------------------

fn scim_policy(systems: &[(&str, &str, &str)]) -> policy::Policy {
    let mut text = String::from(
        "system hr-files {\n    connector file path=\"inventory/accounts/okta.json\"\n    tier identity-provider\n    correlate email=\"email\"\n}\n",
    );
    for (name, url, var) in systems {
        text.push_str(&format!(
            "system {name} {{\n    connector scim url=\"{url}\" token-env={var}\n    tier business\n    correlate email=\"userName\"\n}}\n"
        ));
    }
    policy::load_texts(vec![(PathBuf::from("policies/a.kdl"), text)]).unwrap()
}

#[test]
fn changed_endpoints_are_read_with_the_trusted_settings_and_new_ones_not_at_all() {
    let trusted = scim_policy(&[("slack", "https://api.slack.example/scim/v2", "SLACK_TOKEN")]);
    let proposed = scim_policy(&[
        ("slack", "https://attacker.example/collect", "SLACK_TOKEN"),
        ("zoom", "https://attacker.example/zoom", "SLACK_TOKEN"),
    ]);
    let (read, notes) = policy::pin_to_trusted(&proposed, &trusted, "origin/main");
    let url = |p: &policy::Policy, name: &str| match p.system(name).unwrap().connector() {
        Some(policy::ConnectorConfig::Scim(s)) => s.url.clone(),
        _ => String::new(),
    };
    assert_eq!(url(&read, "slack"), "https://api.slack.example/scim/v2");
    assert!(read.system("zoom").is_none());
    assert!(read.system("hr-files").is_some());
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert!(
        notes[0].starts_with("slack: its connector settings"),
        "{notes:?}"
    );
    assert!(
        notes[1].starts_with("zoom: a system with credentials"),
        "{notes:?}"
    );
    // A token source swapped to another variable is a change too.
    let swapped = scim_policy(&[("slack", "https://api.slack.example/scim/v2", "AWS_SECRET")]);
    let (read, notes) = policy::pin_to_trusted(&swapped, &trusted, "origin/main");
    assert_eq!(notes.len(), 1);
    match read.system("slack").unwrap().connector() {
        Some(policy::ConnectorConfig::Scim(s)) => {
            assert_eq!(format!("{:?}", s.token), "env:SLACK_TOKEN")
        }
        _ => unreachable!(),
    }
}

#[test]
fn a_pull_request_plan_never_sends_the_token_to_a_new_url() {
    use std::io::Read;
    use std::net::TcpListener;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    // The endpoint a pull request points the system at: it must never be contacted.
    let attacker = TcpListener::bind("127.0.0.1:0").unwrap();
    let attacker_port = attacker.local_addr().unwrap().port();
    attacker.set_nonblocking(true).unwrap();
    let contacted = Arc::new(AtomicBool::new(false));
    let flag = contacted.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let stopping = stop.clone();
    let watcher = std::thread::spawn(move || {
        while !stopping.load(Ordering::SeqCst) {
            if let Ok((mut s, _)) = attacker.accept() {
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf);
                flag.store(true, Ordering::SeqCst);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    let dir = common::example_copy();
    let d = dir.path();
    // The trusted endpoint answers 401 at once (a permanent error: no retries to wait for).
    let trusted = TcpListener::bind("127.0.0.1:0").unwrap();
    let trusted_port = trusted.local_addr().unwrap().port();
    trusted.set_nonblocking(true).unwrap();
    let stop_trusted = stop.clone();
    let answering = std::thread::spawn(move || {
        use std::io::Write;
        while !stop_trusted.load(Ordering::SeqCst) {
            if let Ok((mut s, _)) = trusted.accept() {
                let _ = s.set_nonblocking(false);
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                let _ = s.write_all(
                    b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    });
    let system = |port: u16| {
        format!(
            "system zoom {{\n    connector scim url=\"http://127.0.0.1:{port}/v2\" token-env=OFFBOARD_PR_TOKEN\n    tier business\n    correlate email=\"userName\"\n}}\n"
        )
    };
    std::fs::write(d.join("policies/zoom.kdl"), system(trusted_port)).unwrap();
    common::commit_all(d, "trusted");
    // The pull request: same system, same token variable, a new URL.
    std::fs::write(d.join("policies/zoom.kdl"), system(attacker_port)).unwrap();
    for args in [
        vec!["plan", "--at", "2026-11-23T09:00:00Z", "--compare", "HEAD"],
        vec!["plan", "--at", "2026-11-23T09:00:00Z", "--trust", "HEAD"],
    ] {
        // The trusted endpoint refuses the token: the read fails, and that is fine here.
        let out = Command::cargo_bin("offboard")
            .unwrap()
            .arg("-C")
            .arg(d)
            .env("OFFBOARD_PR_TOKEN", "pr-token-canary-value")
            .args(&args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("zoom: its connector settings (url or credential source) differ"),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("pr-token-canary-value"), "{stderr}");
    }
    std::thread::sleep(Duration::from_millis(50));
    stop.store(true, Ordering::SeqCst);
    watcher.join().unwrap();
    answering.join().unwrap();
    assert!(
        !contacted.load(Ordering::SeqCst),
        "the pull request's URL was contacted"
    );
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

#[test]
fn apply_never_replaces_a_symlinked_export_and_cleans_up_after_a_crash() {
    use offboard::connector::Connector;
    use offboard::connector::file::FileConnector;
    use offboard::policy::{Action, FileFormat};
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real.json");
    std::fs::write(
        &real,
        r#"{"accounts": [{"id": "a", "username": "a", "status": "active"}]}"#,
    )
    .unwrap();
    let link = dir.path().join("okta.json");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    // A temporary file a crashed apply left behind.
    let stale = dir.path().join("okta.json.tmp-999999");
    std::fs::write(&stale, "half-written").unwrap();
    let connector = FileConnector::new("okta", link.clone(), FileFormat::Json);
    let rt = tokio::runtime::Runtime::new().unwrap();
    assert_eq!(rt.block_on(connector.list_accounts()).unwrap().len(), 1);
    assert!(!stale.exists(), "the stale temporary file is removed");
    let e = rt
        .block_on(connector.perform("a", Action::Disable))
        .unwrap_err();
    assert!(
        e.message
            .contains("is a symlink, which apply does not replace"),
        "{}",
        e.message
    );
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

// --- robust parsing: no input panics, every bad input is a clear error -----------------------

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
