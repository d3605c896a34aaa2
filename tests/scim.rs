//! The SCIM connector end to end against a real scim2-server: two SCIM tenants plus a file
//! system, plan -> apply -> re-audit, checked independently over plain HTTP; then faults:
//! a wrong token, the server stopped mid-apply, and a canary secret that must never leak.

use offboard_test_support as common;

use std::path::Path;
use std::time::Duration;

use assert_cmd::Command;
use assert_cmd::cargo::CommandCargoExt;
use common::{ScimClient, ScimServer};
use predicates::prelude::*;

const AT: &str = "2026-11-23T09:00:00Z";
const TOKEN_VAR: &str = "OFFBOARD_TEST_SCIM_TOKEN";

fn offboard(dir: &Path, token: &str) -> Command {
    let mut cmd = Command::cargo_bin("offboard").unwrap();
    cmd.env("OFFBOARD_NO_NOTIFY", "1");
    cmd.arg("-C")
        .arg(dir)
        .env(TOKEN_VAR, token)
        .env("OFFBOARD_ACTOR", "scim-test")
        .env_remove("NO_COLOR");
    cmd
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// People: `n` leavers (the first is a contractor past retention) and three colleagues.
fn roster(n: usize) -> String {
    let mut csv =
        String::from("email,name,department,employment,status,termination_type,last_day\n");
    for i in 0..n {
        let (employment, last_day) = if i == 0 {
            ("contractor", "2026-09-30")
        } else {
            ("employee", "2026-11-20")
        };
        csv.push_str(&format!(
            "leaver{i}@acme.com,Leaver {i},Sales,{employment},terminated,voluntary,{last_day}\n"
        ));
    }
    for name in ["ann", "bob", "cid"] {
        csv.push_str(&format!("{name}@acme.com,{name},Sales,employee,active,,\n"));
    }
    csv
}

fn people(n: usize) -> Vec<String> {
    let mut v: Vec<String> = (0..n).map(|i| format!("leaver{i}@acme.com")).collect();
    v.extend([
        "ann@acme.com".into(),
        "bob@acme.com".into(),
        "cid@acme.com".into(),
    ]);
    v
}

struct Org {
    dir: tempfile::TempDir,
    okta: ScimClient,
    zoom: ScimClient,
    /// email -> id, per tenant
    okta_ids: Vec<(String, String)>,
    zoom_ids: Vec<(String, String)>,
}

/// Seed both tenants and write a policy repository pointing at them.
fn organisation(server: &ScimServer, leavers: usize, okta_concurrency: u32) -> Org {
    let dir = tempfile::tempdir().unwrap();
    common::init_journal(dir.path());
    let okta = ScimClient::new(&server.url("okta"));
    let zoom = ScimClient::new(&server.url("zoom"));
    let emails = people(leavers);
    let (okta_ids, zoom_ids) = rt().block_on(async {
        let mut okta_ids = Vec::new();
        let mut zoom_ids = Vec::new();
        for e in &emails {
            okta_ids.push((e.clone(), okta.create_user(e, e, true).await));
            zoom_ids.push((e.clone(), zoom.create_user(e, e, true).await));
        }
        let all: Vec<&str> = okta_ids.iter().map(|(_, id)| id.as_str()).collect();
        okta.create_group("everyone", &all).await;
        okta.create_group("sales", &all[..all.len().min(4)]).await;
        let zall: Vec<&str> = zoom_ids.iter().map(|(_, id)| id.as_str()).collect();
        zoom.create_group("licensed", &zall).await;
        (okta_ids, zoom_ids)
    });
    std::fs::create_dir_all(dir.path().join("policies")).unwrap();
    std::fs::create_dir_all(dir.path().join("inventory/accounts")).unwrap();
    std::fs::write(dir.path().join("inventory/people.csv"), roster(leavers)).unwrap();
    let wiki: Vec<serde_json::Value> = emails
        .iter()
        .enumerate()
        .map(|(i, e)| serde_json::json!({"id": format!("w{i}"), "username": e, "emails": [e], "status": "active", "groups": ["editors"]}))
        .collect();
    std::fs::write(
        dir.path().join("inventory/accounts/wiki.json"),
        serde_json::json!({"accounts": wiki}).to_string(),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("policies/policy.kdl"),
        format!(
            r#"system okta {{
    connector scim url="{okta}" token-env={TOKEN_VAR} page-size=5 timeout="10s"
    tier identity-provider
    correlate email="email"
    on-leave disable remove-groups
    concurrency {okta_concurrency}
}}
system zoom {{
    connector scim url="{zoom}" token-env={TOKEN_VAR} hard-delete=#true
    tier business
    correlate email="email"
    on-leave disable remove-groups
    concurrency 2
}}
system wiki {{
    connector file
    tier collaboration
    correlate email="email"
    on-leave disable remove-groups
}}
rule contractors {{
    when "person.employment == \"contractor\""
    delete-after "30d"
}}
defaults {{
    cutoff end-of-last-day
    max-disable-share "100%"
}}
people {{
    source csv path="inventory/people.csv"
}}
"#,
            okta = server.url("okta"),
            zoom = server.url("zoom"),
        ),
    )
    .unwrap();
    Org {
        dir,
        okta,
        zoom,
        okta_ids,
        zoom_ids,
    }
}

#[test]
fn plan_apply_reaudit_and_independent_http_check() {
    if common::skip_real_servers("scim end to end") {
        return;
    }
    let server = ScimServer::start();
    let org = organisation(&server, 3, 2);
    let dir = org.dir.path();
    offboard(dir, common::SCIM_TOKEN)
        .args(["plan", "--at", AT])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("~ okta"))
        .stdout(predicate::str::contains("- zoom"))
        .stdout(predicate::str::contains("for 3 leavers"));
    offboard(dir, common::SCIM_TOKEN)
        .args(["apply", "--auto-approve", "--at", AT])
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "0 active credentials remain for 3 leavers",
        ));

    // Independent check with plain HTTP, not through the connector.
    rt().block_on(async {
        for (email, id) in &org.okta_ids {
            let user = org
                .okta
                .user(id)
                .await
                .expect("okta users are disabled, never deleted");
            let groups = org.okta.groups_of(id).await;
            if email.starts_with("leaver") {
                assert_eq!(user["active"], false, "{email} still active in okta");
                assert!(groups.is_empty(), "{email} still in {groups:?}");
            } else {
                assert_eq!(user["active"], true, "{email} was touched");
                assert!(groups.contains(&"everyone".to_string()));
            }
        }
        for (email, id) in &org.zoom_ids {
            let user = org.zoom.user(id).await;
            match email.as_str() {
                "leaver0@acme.com" => {
                    assert!(user.is_none(), "the contractor is deleted from zoom")
                }
                e if e.starts_with("leaver") => {
                    assert_eq!(user.unwrap()["active"], false);
                    assert!(org.zoom.groups_of(id).await.is_empty());
                }
                _ => assert_eq!(user.unwrap()["active"], true),
            }
        }
    });
    offboard(dir, common::SCIM_TOKEN)
        .args(["plan", "--at", AT, "--detailed-exitcode"])
        .assert()
        .code(0)
        .stdout(predicate::str::starts_with("No changes."));
    offboard(dir, common::SCIM_TOKEN)
        .args(["journal", "verify"])
        .assert()
        .code(0);
}

#[test]
fn wrong_token_is_a_clear_error_and_changes_nothing() {
    if common::skip_real_servers("scim wrong token") {
        return;
    }
    let server = ScimServer::start();
    let org = organisation(&server, 2, 2);
    let dir = org.dir.path();
    let wiki_before = std::fs::read_to_string(dir.join("inventory/accounts/wiki.json")).unwrap();
    let out = offboard(dir, "not-the-token")
        .args(["apply", "--auto-approve", "--at", AT])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("HTTP 401"))
        .stderr(predicate::str::contains("token was refused"))
        .stderr(predicate::str::contains(
            "no plan is made from partial live state",
        ))
        .get_output()
        .clone();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !all.contains(common::SCIM_TOKEN) && !all.contains("not-the-token"),
        "a token was printed"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("inventory/accounts/wiki.json")).unwrap(),
        wiki_before
    );
    rt().block_on(async {
        for (_, id) in &org.okta_ids {
            assert_eq!(org.okta.user(id).await.unwrap()["active"], true);
        }
    });
}

#[test]
fn server_stopped_mid_apply_is_red_then_a_rerun_converges() {
    if common::skip_real_servers("scim server stopped mid-apply") {
        return;
    }
    let mut server = ScimServer::start();
    let port = server.port;
    let org = organisation(&server, 40, 1);
    let dir = org.dir.path().to_path_buf();
    let plan = dir.join("p.json");
    offboard(&dir, common::SCIM_TOKEN)
        .args(["plan", "--at", AT, "--out"])
        .arg(&plan)
        .assert()
        .code(0);

    let apply = std::process::Command::cargo_bin("offboard")
        .unwrap()
        .env("OFFBOARD_NO_NOTIFY", "1")
        .arg("-C")
        .arg(&dir)
        .args(["apply", "--max-retries", "1"])
        .arg(&plan)
        .env(TOKEN_VAR, common::SCIM_TOKEN)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(250));
    server.stop();
    let out = apply.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains("FAILED (temporary)"), "{stderr}");
    assert!(stdout.contains("could not read okta"), "{stdout}");
    assert!(
        stdout.contains("RED") && stdout.contains("okta/(unreadable)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("identity-provider"),
        "identity-provider failures are reported prominently:\n{stdout}"
    );
    // Later tiers were not held back by the failed identity provider.
    let wiki: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("inventory/accounts/wiki.json")).unwrap(),
    )
    .unwrap();
    for a in wiki["accounts"].as_array().unwrap() {
        let leaver = a["username"].as_str().unwrap().starts_with("leaver");
        assert_eq!(
            a["status"] == "disabled",
            leaver,
            "wiki account {}",
            a["username"]
        );
    }

    // The server comes back (scim2-server keeps no state, so it is seeded again) and a
    // re-run converges.
    let server = ScimServer::start_on(port);
    let org2 = organisation(&server, 40, 2);
    std::fs::copy(
        org2.dir.path().join("policies/policy.kdl"),
        dir.join("policies/policy.kdl"),
    )
    .unwrap();
    offboard(&dir, common::SCIM_TOKEN)
        .args(["apply", "--auto-approve", "--at", AT])
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "0 active credentials remain for 40 leavers",
        ));
}

#[test]
fn canary_secret_never_appears_in_output_or_files() {
    if common::skip_real_servers("scim canary") {
        return;
    }
    const CANARY: &str = "canary-7d1e0c9b5a-do-not-print";
    // The server accepts only the canary, so every request really carries it.
    let port = common::free_port();
    let bin = std::env::var_os("OFFBOARD_SCIM_SERVER")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| common::root().join("target/venv/bin/scim2-server"));
    let mut child = std::process::Command::new(bin)
        .args(["--hostname", "127.0.0.1"])
        .args([
            "--port",
            &port.to_string(),
            "--bearer-token",
            common::SCIM_TOKEN,
            "--bearer-token",
            CANARY,
            "--dynamic-tenants",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        std::thread::sleep(Duration::from_millis(50));
    }
    let seeded = ScimClient::new(&format!("http://127.0.0.1:{port}/okta/v2"));
    let org_dir = tempfile::tempdir().unwrap();
    common::init_journal(org_dir.path());
    let dir = org_dir.path();
    rt().block_on(async {
        seeded
            .create_user("leaver0@acme.com", "leaver0@acme.com", true)
            .await;
        seeded
            .create_user("ann@acme.com", "ann@acme.com", true)
            .await;
    });
    std::fs::create_dir_all(dir.join("policies")).unwrap();
    std::fs::create_dir_all(dir.join("inventory")).unwrap();
    std::fs::write(dir.join("inventory/people.csv"), roster(1)).unwrap();
    std::fs::write(
        dir.join("policies/p.kdl"),
        format!(
            "system okta {{\n connector scim url=\"http://127.0.0.1:{port}/okta/v2\" token-env={TOKEN_VAR}\n tier identity-provider\n correlate email=\"email\"\n}}\ndefaults {{\n max-disable-share \"100%\"\n}}\npeople {{\n source csv path=\"inventory/people.csv\"\n}}\n"
        ),
    )
    .unwrap();
    let mut seen = String::new();
    for args in [
        vec!["validate"],
        vec!["plan", "--at", AT, "--out", "p.json"],
        vec!["plan", "--at", AT, "--format", "json"],
        vec!["apply", "p.json"],
        vec!["journal", "list", "--format", "json"],
        vec!["tasks"],
    ] {
        let out = offboard(dir, CANARY)
            .args(&args)
            .current_dir(dir)
            .output()
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&out.stdout));
        seen.push_str(&String::from_utf8_lossy(&out.stderr));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        seen.contains("0 active credentials remain for 1 leaver"),
        "the canary token was used:\n{seen}"
    );
    assert!(!seen.contains(CANARY), "the secret leaked into output");
    fn scan(dir: &Path) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                scan(&path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                assert!(
                    !String::from_utf8_lossy(&bytes).contains(CANARY),
                    "secret in {}",
                    path.display()
                );
            }
        }
    }
    scan(dir);
}

/// Apply disables with a PATCH conditional on the planned version (If-Match) and reads
/// nothing first; an account changed after the plan makes that PATCH fail with 412, and
/// apply then reads it, sees the change and refuses it as stale, leaving it active.
#[test]
fn conditional_disable_skips_the_pre_read_and_refuses_a_changed_account() {
    use offboard::connector::Connector;
    use offboard::connector::scim::ScimSettings;
    use offboard::connector::scim::{Scim, Token};
    use offboard::journal::ActionOutcome;
    use offboard::policy::{Action, SecretRef, Tier};
    use std::sync::Arc;

    if common::skip_real_servers("scim conditional disable") {
        return;
    }
    let server = ScimServer::start();
    let url = server.url("okta");
    let client = ScimClient::new(&url);
    let rt = rt();
    let (kept, changed) = rt.block_on(async {
        (
            client.create_user("kept", "kept@acme.example", true).await,
            client
                .create_user("changed", "changed@acme.example", true)
                .await,
        )
    });
    let cfg = ScimSettings {
        url: url.clone(),
        token: SecretRef::Env("UNUSED".into()),
        page_size: 100,
        timeout: jiff::SignedDuration::from_secs(10),
        hard_delete: false,
        manage_groups: false,
        user_attribute: "userName".into(),
    };
    let scim = Scim::new("okta", &cfg, Token::new(common::SCIM_TOKEN)).unwrap();
    let accounts = rt.block_on(scim.list_accounts()).unwrap();
    let changes: Vec<_> = accounts
        .iter()
        .map(|a| {
            assert!(a.version().is_some(), "scim2-server reports meta.version");
            common::change_for(
                "okta",
                Tier::IdentityProvider,
                a,
                vec![Action::Disable],
                None,
            )
        })
        .collect();
    let plan = common::plan_of(changes);

    // Someone edits one account after the plan was made.
    rt.block_on(client.request(
        reqwest::Method::PATCH,
        &format!("Users/{changed}"),
        Some(serde_json::json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "displayName", "value": "Renamed"}]
        })),
    ));

    let dir = tempfile::tempdir().unwrap();
    let executor = common::executor(vec![("okta".into(), Arc::new(scim), 2)], dir.path());
    let reports = rt.block_on(executor.execute(&plan, &|_| {})).unwrap();
    let report = |id: &str| {
        reports
            .iter()
            .find(|r| r.change.account.as_ref().is_some_and(|a| a.id == id))
            .unwrap()
    };
    let ok = report(&kept);
    assert_eq!(ok.outcome, ActionOutcome::Done);
    assert_eq!(
        ok.attempts, 2,
        "conditional PATCH and read-back, no pre-read"
    );
    let stale = report(&changed);
    assert_eq!(stale.outcome, ActionOutcome::SkippedStale);
    assert_eq!(
        stale.attempts, 2,
        "refused PATCH, then the read that saw the change"
    );

    let active = |id: &str| {
        rt.block_on(client.user(id))
            .and_then(|u| u.get("active").and_then(serde_json::Value::as_bool))
    };
    assert_eq!(active(&kept), Some(false));
    assert_eq!(
        active(&changed),
        Some(true),
        "a changed account is not touched"
    );
    assert!(executor.journal.lock().verify().unwrap().ok());
}
