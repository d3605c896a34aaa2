//! The `graph` connector end to end against `GraphStandIn` (a stand-in written from
//! Microsoft's documentation, not Microsoft Graph) and a real slapd posing as the on-premises
//! Active Directory that Entra Connect syncs from: plan -> apply -> re-audit -> rollback,
//! checked independently in the stand-in's state and in the directory; then the cases Graph
//! cannot do (dynamic groups, inherited licences, mailbox handoff) as tasks with owners, the
//! hybrid user that follows its directory, faults (a throttling storm, a token that expires
//! mid-run, a certificate credential) and the client secret that must never leak.

use offboard_test_support as common;

use std::path::Path;

use assert_cmd::Command;
use common::{GraphStandIn, GraphUser, GroupKind, LDAP_SUFFIX as S, Slapd};
use offboard::connector::Connector;
use offboard::connector::graph::{Credential, Graph, GraphSettings};
use offboard::policy::{Action, SecretRef};
use predicates::prelude::*;

const AT: &str = "2026-11-23T09:00:00Z";
const PASSWORD_VAR: &str = "OFFBOARD_TEST_LDAP_PASSWORD";

fn offboard(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("offboard").unwrap();
    cmd.env("OFFBOARD_NO_NOTIFY", "1");
    cmd.arg("-C")
        .arg(dir)
        .env(PASSWORD_VAR, common::LDAP_ADMIN_PASSWORD)
        .env("OFFBOARD_ACTOR", "graph-test")
        .env("NO_COLOR", "1");
    cmd
}

/// Ids of the seeded Entra ID users.
struct Tenant {
    cleo: String,
    hugo: String,
    ann: String,
}

/// Cleo (cloud-only) and Hugo (synced from AD) leave; Ann and Mia (Cleo's manager) stay.
fn tenant(graph: &GraphStandIn) -> Tenant {
    let cleo = graph.add_user(GraphUser {
        employee_id: Some("E1".into()),
        ..GraphUser::new("cleo@acme.com")
    });
    let hugo = graph.add_user(GraphUser {
        synced: true,
        sam_account_name: Some("hugo".into()),
        ..GraphUser::new("hugo@acme.com")
    });
    let ann = graph.add_user(GraphUser::new("ann@acme.com"));
    let mia = graph.add_user(GraphUser::new("mia@acme.com"));
    let sales = graph.add_group("Sales", GroupKind::Assigned, &[&cleo, &ann]);
    let all_staff = graph.add_group("All Staff", GroupKind::Dynamic, &[&cleo, &hugo, &ann, &mia]);
    graph.add_group("Finance", GroupKind::OnPremises, &[&hugo]);
    let e5 = graph.add_sku("SPE_E5");
    let ems = graph.add_sku("EMS");
    let teams = graph.add_sku("TEAMS_EXPLORATORY");
    graph.assign_license(&cleo, &e5, None);
    graph.assign_license(&cleo, &ems, Some(&sales));
    graph.assign_license(&cleo, &teams, Some(&all_staff));
    graph.assign_license(&hugo, &e5, None);
    graph.assign_license(&ann, &e5, None);
    graph.add_app_role(&cleo, "Salesforce");
    graph.add_auth_method(&cleo, "microsoftAuthenticatorAuthenticationMethod");
    graph.add_auth_method(&cleo, "phoneAuthenticationMethod");
    graph.add_auth_method(&ann, "microsoftAuthenticatorAuthenticationMethod");
    Tenant { cleo, hugo, ann }
}

/// The on-premises directory: Hugo and Ann, Active Directory style.
fn directory(slapd: &Slapd) {
    let user = |cn: &str, mail: &str| {
        format!(
            "dn: cn={cn},ou=People,{S}\nobjectClass: user\nuserAccountControl: 512\nsAMAccountName: {cn}\ncn: {cn}\nsn: {cn}\nmail: {mail}\nuserPassword: pw-{cn}\n\n"
        )
    };
    slapd.add(&format!(
        "{}{}dn: cn=Finance,ou=Groups,{S}\nobjectClass: group\ncn: Finance\nmember: cn=hugo,ou=People,{S}\nmember: cn=ann,ou=People,{S}\n\n",
        user("hugo", "hugo@acme.com"),
        user("ann", "ann@acme.com"),
    ));
}

fn repository(graph: &GraphStandIn, slapd: &Slapd) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    common::init_journal(dir.path());
    let d = dir.path();
    std::fs::create_dir_all(d.join("policies")).unwrap();
    std::fs::create_dir_all(d.join("inventory")).unwrap();
    std::fs::write(
        d.join("inventory/people.csv"),
        "email,name,department,manager_email,status,termination_type,last_day,legal_hold\n\
         cleo@acme.com,Cleo,Sales,mia@acme.com,terminated,voluntary,2026-11-20,false\n\
         hugo@acme.com,Hugo,Finance,mia@acme.com,terminated,involuntary,2026-11-20,true\n\
         ann@acme.com,Ann,Sales,mia@acme.com,active,,,false\n\
         mia@acme.com,Mia,Sales,,active,,,false\n",
    )
    .unwrap();
    std::fs::write(
        d.join("policies/policy.kdl"),
        format!(
            r#"system entra {{
    owner "identity@acme.com"
    {graph}
    tier identity-provider
    correlate email="email"
    on-leave disable revoke-sessions remove-groups remove-licenses reset-mfa remove-app-roles
}}
system corp-ad {{
    connector ldap url="{ldap}" bind-dn="{admin}" password-env={PASSWORD_VAR} base-dn="ou=People,{S}" group-base-dn="ou=Groups,{S}" flavor=active-directory
    tier directory
    correlate email="email"
    on-leave disable remove-groups
}}
rule handoff {{
    when "!person.legal_hold && person.manager_email != \"\""
    on-leave hand-off-files hand-off-mailbox
}}
defaults {{
    cutoff end-of-last-day
    max-disable-share "100%"
}}
people {{
    source csv path="inventory/people.csv"
}}
"#,
            graph = graph.connector_line(d),
            ldap = slapd.url(),
            admin = common::LDAP_ADMIN,
        ),
    )
    .unwrap();
    dir
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn plan_apply_reaudit_rollback_with_a_hybrid_user_and_manual_tasks() {
    if common::skip_real_servers("graph end to end (slapd)") {
        return;
    }
    let graph = GraphStandIn::start();
    let slapd = Slapd::start();
    let t = tenant(&graph);
    directory(&slapd);
    let repo = repository(&graph, &slapd);
    let dir = repo.path();

    let plan = offboard(dir).args(["plan", "--at", AT]).assert().code(0);
    let text = String::from_utf8_lossy(&plan.get_output().stdout).to_string();
    // The policy names the stand-in's port, so its hash changes from run to run.
    insta::with_settings!({filters => vec![(r"policy [0-9a-f]{7}", "policy [hash]")]}, {
        insta::assert_snapshot!("graph_plan", text);
    });

    // The pull-request comment: task steps escaped for Markdown, one per line in the cell.
    let markdown = offboard(dir)
        .args(["plan", "--at", AT, "--format", "markdown"])
        .assert()
        .code(0);
    let markdown = String::from_utf8_lossy(&markdown.get_output().stdout).to_string();
    insta::with_settings!({filters => vec![(r"policy `?[0-9a-f]{7}`?", "policy [hash]")]}, {
        insta::assert_snapshot!("graph_plan_markdown", markdown);
    });

    offboard(dir)
        .args(["apply", "--auto-approve", "--at", AT])
        .assert()
        .code(0)
        .stdout(predicate::str::contains(format!(
            "entra/{} follows its directory at the next sync",
            t.hugo
        )))
        .stdout(predicate::str::contains("0 active credentials remain"));

    // Independently, in the stand-in's state and in the directory.
    let cleo = graph.user_json(&t.cleo).unwrap();
    assert_eq!(cleo["accountEnabled"], false);
    assert!(graph.sessions_revoked_at(&t.cleo).unwrap().as_str() > "2026-01-01");
    assert_eq!(
        graph.groups_of(&t.cleo),
        ["All Staff"],
        "only the dynamic group stays"
    );
    assert_eq!(
        graph.licenses_of(&t.cleo),
        ["TEAMS_EXPLORATORY"],
        "only the licence the dynamic group grants stays"
    );
    assert!(graph.app_roles_of(&t.cleo).is_empty());
    assert_eq!(
        graph.drive_grants_of(&t.cleo),
        ["mia@acme.com"],
        "the manager has the files"
    );
    assert!(
        graph.drive_grants_of(&t.hugo).is_empty(),
        "legal hold: nothing handed off"
    );
    assert_eq!(
        graph.auth_methods_of(&t.cleo),
        ["passwordAuthenticationMethod"]
    );
    let hugo = graph.user_json(&t.hugo).unwrap();
    assert_eq!(
        hugo["accountEnabled"], true,
        "a synced user is never disabled in the cloud"
    );
    assert!(graph.sessions_revoked_at(&t.hugo).unwrap().as_str() > "2026-01-01");
    assert!(graph.licenses_of(&t.hugo).is_empty(), "cloud licences go");
    let hugo_ad = slapd.search(
        &format!("ou=People,{S}"),
        "(cn=hugo)",
        &["userAccountControl"],
    );
    assert!(hugo_ad.contains("userAccountControl: 514"), "{hugo_ad}");
    let ann = graph.user_json(&t.ann).unwrap();
    assert_eq!(ann["accountEnabled"], true);
    assert_eq!(sorted(graph.groups_of(&t.ann)), ["All Staff", "Sales"]);
    assert_eq!(
        graph.auth_methods_of(&t.ann).len(),
        2,
        "Ann's methods untouched"
    );

    // The tasks carry their owner and steps, in the journal and in `offboard tasks`.
    offboard(dir)
        .arg("tasks")
        .assert()
        .code(0)
        .stdout(predicate::str::contains("identity@acme.com"))
        .stdout(predicate::str::contains(
            "Set-Mailbox -Identity 'cleo@acme.com' -Type Shared",
        ))
        .stdout(predicate::str::contains("dynamic group 'All Staff'"))
        .stdout(predicate::str::contains("TEAMS_EXPLORATORY"));

    // Once Entra Connect has synced the disabled directory account, nothing is left to do.
    graph.set_enabled(&t.hugo, false);
    offboard(dir)
        .args(["plan", "--at", AT])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("No changes"));

    // Rollback: Cleo enabled, back in Sales with its licence, her direct licence back.
    let run = common::last_run_id(|| offboard(dir));
    offboard(dir)
        .args(["rollback", &run, "-p", "cleo@acme.com", "--auto-approve"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("Rollback complete"));
    let cleo = graph.user_json(&t.cleo).unwrap();
    assert_eq!(cleo["accountEnabled"], true);
    assert_eq!(sorted(graph.groups_of(&t.cleo)), ["All Staff", "Sales"]);
    assert_eq!(
        sorted(graph.licenses_of(&t.cleo)),
        ["EMS", "SPE_E5", "TEAMS_EXPLORATORY"]
    );
    offboard(dir).args(["journal", "verify"]).assert().code(0);
}

#[test]
fn the_client_secret_and_tokens_never_leave_the_process() {
    if common::skip_real_servers("graph canary (slapd)") {
        return;
    }
    let graph = GraphStandIn::start();
    let slapd = Slapd::start();
    tenant(&graph);
    directory(&slapd);
    let repo = repository(&graph, &slapd);
    let dir = repo.path();
    let outputs = common::everything_written(dir, || offboard(dir), AT, common::graph::SECRET_FILE);
    assert!(graph.tokens_issued() >= 1);
    for text in &outputs {
        assert!(
            !text.contains(GraphStandIn::CLIENT_SECRET),
            "the client secret leaked"
        );
        assert!(!text.contains("Bearer "), "an authorisation header leaked");
    }
    // The stand-in saw the secret only in token requests' form bodies.
    let bodies = graph.request_bodies();
    let requests = graph.requests();
    for (request, body) in requests.iter().zip(&bodies) {
        if body.contains(GraphStandIn::CLIENT_SECRET) {
            assert!(request.contains("/oauth2/v2.0/token"), "{request}");
        }
    }
}

/// A connector on the stand-in with one seeded user, wrapped in the retry layer `apply` uses.
fn connector(
    graph: &GraphStandIn,
    dir: &Path,
) -> (offboard::connector::retry::Retrying<Graph>, String) {
    let id = graph.add_user(GraphUser::new("rita@acme.com"));
    let cfg = graph.settings(dir);
    let graph = Graph::new("entra", &cfg, dir).unwrap();
    let policy = offboard::connector::retry::RetryPolicy::default();
    (offboard::connector::retry::Retrying::new(graph, policy), id)
}

#[test]
fn a_throttling_storm_is_waited_out_honouring_retry_after() {
    let graph = GraphStandIn::start();
    let dir = tempfile::tempdir().unwrap();
    let (connector, id) = connector(&graph, dir.path());
    common::runtime().block_on(async {
        connector.list_accounts().await.unwrap();
        graph.clear_requests();
        graph.throttle_next(3, 1);
        let start = std::time::Instant::now();
        let (result, calls) = connector.perform_counted(&id, Action::Disable).await;
        result.unwrap();
        assert_eq!(calls, 4, "three throttled answers, then the write");
        assert!(
            start.elapsed() >= std::time::Duration::from_secs(3),
            "Retry-After: 1 honoured"
        );
    });
    assert_eq!(graph.user_json(&id).unwrap()["accountEnabled"], false);
    let throttled = graph
        .requests()
        .iter()
        .filter(|r| r.starts_with("PATCH"))
        .count();
    assert_eq!(throttled, 4);
}

#[test]
fn a_request_throttled_inside_a_batch_is_retried_after_its_own_retry_after() {
    let graph = GraphStandIn::start();
    let dir = tempfile::tempdir().unwrap();
    let (connector, id) = connector(&graph, dir.path());
    common::runtime().block_on(async {
        connector.list_accounts().await.unwrap();
        graph.throttle_batched_next(2, 1);
        let start = std::time::Instant::now();
        let (account, calls) = connector.read_counted(&id).await;
        let account = account
            .unwrap()
            .expect("the user is read once the throttling ends");
        assert_eq!(account.id, id);
        assert!(calls >= 2, "retried ({calls} calls)");
        assert!(
            start.elapsed() >= std::time::Duration::from_secs(1),
            "the sub-response's Retry-After was honoured"
        );
    });
}

/// A distribution list cannot be changed through Graph: it is held (a task with the Exchange
/// cmdlet), never a failure that stops the other groups, never a silent skip.
#[test]
fn a_distribution_list_is_held_for_exchange_not_skipped() {
    let graph = GraphStandIn::start();
    let dir = tempfile::tempdir().unwrap();
    let (connector, id) = connector(&graph, dir.path());
    graph.add_group("All Sales DL", GroupKind::MailEnabled, &[&id]);
    graph.add_group("Sales", GroupKind::Assigned, &[&id]);
    common::runtime().block_on(async {
        let before = connector.read_account(&id).await.unwrap().unwrap();
        assert_eq!(before.groups, ["Sales"]);
        assert_eq!(before.held.len(), 1, "{:?}", before.held);
        assert!(
            before.held[0].contains("Remove-DistributionGroupMember -Identity 'All Sales DL'"),
            "{:?}",
            before.held
        );
        connector.perform(&id, Action::RemoveGroups).await.unwrap();
        let after = connector.read_account(&id).await.unwrap().unwrap();
        assert!(after.groups.is_empty());
        assert_eq!(after.held, before.held, "still held, still reported");
    });
    assert_eq!(graph.groups_of(&id), ["All Sales DL"]);
}

#[test]
fn a_token_that_expires_mid_run_is_replaced_once() {
    let graph = GraphStandIn::start();
    let dir = tempfile::tempdir().unwrap();
    let (connector, id) = connector(&graph, dir.path());
    common::runtime().block_on(async {
        connector.list_accounts().await.unwrap();
        assert_eq!(graph.tokens_issued(), 1, "one token for the whole listing");
        graph.expire_tokens();
        connector.perform(&id, Action::Disable).await.unwrap();
        connector
            .perform(&id, Action::RevokeSessions)
            .await
            .unwrap();
    });
    assert_eq!(
        graph.tokens_issued(),
        2,
        "one new token after the expiry, then cached"
    );
    assert_eq!(graph.user_json(&id).unwrap()["accountEnabled"], false);
}

#[test]
fn a_certificate_credential_signs_a_client_assertion() {
    let graph = GraphStandIn::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let status = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=offboard-test", "-keyout"])
        .arg(d.join("key.pem"))
        .arg("-out")
        .arg(d.join("cert.pem"))
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl is installed by tests/run.sh");
    assert!(status.success());
    let public = std::process::Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(d.join("key.pem"))
        .output()
        .unwrap();
    let cert = std::fs::read_to_string(d.join("cert.pem")).unwrap();
    let key = std::fs::read_to_string(d.join("key.pem")).unwrap();
    graph.trust_certificate(&cert, &String::from_utf8_lossy(&public.stdout));
    std::fs::write(d.join("graph.pem"), format!("{cert}{key}")).unwrap();
    let id = graph.add_user(GraphUser::new("rita@acme.com"));
    let cfg = GraphSettings {
        credential: Credential::Certificate(SecretRef::File("graph.pem".into())),
        ..graph.settings(d)
    };
    let connector = Graph::new("entra", &cfg, d).unwrap();
    let accounts = common::runtime()
        .block_on(connector.list_accounts())
        .unwrap();
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0].id, id);
    let token_request = graph
        .requests()
        .iter()
        .zip(graph.request_bodies())
        .find(|(r, _)| r.contains("/oauth2/v2.0/token"))
        .map(|(_, body)| body)
        .unwrap();
    assert!(token_request.contains("client_assertion="));
    assert!(!token_request.contains("client_secret"));

    // A certificate the app registration does not know is refused, with a hint.
    std::fs::write(d.join("graph.pem"), format!("{cert}{}", other_key(d))).unwrap();
    let connector = Graph::new("entra", &cfg, d).unwrap();
    let e = common::runtime()
        .block_on(connector.list_accounts())
        .unwrap_err();
    assert_eq!(e.kind, offboard::connector::ErrorKind::Permanent, "{e:?}");
    assert!(e.message.contains("refused a token"), "{e:?}");
    assert!(e.hint.is_some());
}

fn other_key(d: &Path) -> String {
    let status = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(d.join("other.pem"))
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::read_to_string(d.join("other.pem")).unwrap()
}

#[test]
fn a_missing_permission_is_named_in_the_hint() {
    let graph = GraphStandIn::start();
    let dir = tempfile::tempdir().unwrap();
    let (connector, id) = connector(&graph, dir.path());
    graph.forbid("POST /v1.0/users");
    let e = common::runtime()
        .block_on(connector.perform(&id, Action::RevokeSessions))
        .unwrap_err();
    assert_eq!(e.kind, offboard::connector::ErrorKind::Permanent, "{e:?}");
    assert!(e.message.contains("Authorization_RequestDenied"), "{e:?}");
    assert!(
        e.hint
            .as_deref()
            .unwrap()
            .contains("User.RevokeSessions.All"),
        "{e:?}"
    );
}
