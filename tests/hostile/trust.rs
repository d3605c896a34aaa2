//! A pull request cannot redirect credentials: changed endpoints are read with the trusted
//! settings, new ones not at all, and apply never writes through a symlinked export.

use super::*;

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
