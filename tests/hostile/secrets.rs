//! Secrets stay secret: a token a server echoes never reaches errors or the journal, inline
//! secrets are found and masked, data paths stay inside the repository.

use super::*;

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
