//! The `okta` connector end to end against `OktaStandIn` (a stand-in written from Okta's
//! documentation, not Okta) behind Stoplight Prism, which validates every request offboard
//! sends and every answer the stand-in gives against Okta's published API description (npm
//! @okta/openapi 2.15.0): plan -> apply -> re-audit -> rollback; `disable` as suspend or
//! deactivate; deprovisioned users seen; the empty-listing trap refused; rate limits paced
//! before they bite and 429s waited out; a service app's token renewed mid-run; the API
//! token never leaked.

use offboard_test_support as common;

use std::path::Path;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use common::{OktaBehindPrism, OktaStandIn, OktaUser};
use offboard::connector::Connector;
use offboard::connector::okta::{Credential, Okta, OktaSettings};
use offboard::policy::{Action, SecretRef};
use predicates::prelude::*;

const AT: &str = "2026-11-23T09:00:00Z";

fn offboard(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("offboard").unwrap();
    cmd.env("OFFBOARD_NO_NOTIFY", "1");
    cmd.arg("-C")
        .arg(dir)
        .env("OFFBOARD_ACTOR", "okta-test")
        .env("NO_COLOR", "1");
    cmd
}

struct Org {
    lena: String,
    vic: String,
    ann: String,
}

/// Lena (employee) and Vic (contractor, past retention) leave; Ann stays.
fn org(okta: &OktaStandIn) -> Org {
    let lena = okta.add_user(OktaUser {
        employee_number: Some("E7".into()),
        ..OktaUser::new("lena@acme.com")
    });
    let vic = okta.add_user(OktaUser::new("vic@acme.com"));
    let ann = okta.add_user(OktaUser::new("ann@acme.com"));
    okta.add_group("Sales", "OKTA_GROUP", &[&lena, &ann]);
    okta.add_group("Domain Users", "APP_GROUP", &[&lena, &ann]);
    okta.add_factor(&lena, "push");
    okta.add_factor(&lena, "sms");
    okta.add_grant(&lena, "0oaslackapp0001");
    okta.add_factor(&ann, "push");
    Org { lena, vic, ann }
}

fn repository(okta: &OktaBehindPrism, disable: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    common::init_journal(dir.path());
    let d = dir.path();
    std::fs::create_dir_all(d.join("policies")).unwrap();
    std::fs::create_dir_all(d.join("inventory")).unwrap();
    std::fs::write(
        d.join("inventory/people.csv"),
        "email,name,department,employment,status,termination_type,last_day\n\
         lena@acme.com,Lena,Sales,employee,terminated,voluntary,2026-11-20\n\
         vic@acme.com,Vic,Sales,contractor,terminated,voluntary,2026-09-30\n\
         ann@acme.com,Ann,Sales,employee,active,,\n",
    )
    .unwrap();
    std::fs::write(
        d.join("policies/policy.kdl"),
        format!(
            r#"system okta {{
    owner "it-ops@acme.com"
    {okta} disable={disable}
    tier identity-provider
    correlate email="email"
    on-leave disable revoke-sessions reset-mfa remove-groups
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
            okta = okta.okta.connector_line(d, &okta.url()),
        ),
    )
    .unwrap();
    dir
}

#[test]
fn plan_apply_reaudit_rollback_through_prism() {
    let okta = OktaBehindPrism::start();
    let o = org(&okta.okta);
    let repo = repository(&okta, "suspend");
    let dir = repo.path();

    let plan = offboard(dir).args(["plan", "--at", AT]).assert().code(0);
    let text = String::from_utf8_lossy(&plan.get_output().stdout).to_string();
    insta::with_settings!({filters => vec![(r"policy [0-9a-f]{7}", "policy [hash]")]}, {
        insta::assert_snapshot!("okta_plan", text);
    });

    offboard(dir)
        .args(["apply", "--auto-approve", "--at", AT])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("0 active credentials remain"));

    // Independently, in the stand-in's state.
    let s = &okta.okta;
    assert_eq!(s.status_of(&o.lena).as_deref(), Some("SUSPENDED"));
    assert!(
        s.sessions_cleared(&o.lena) >= 1,
        "sessions and OAuth tokens cleared"
    );
    assert!(s.grants_of(&o.lena).is_empty(), "grants revoked");
    assert!(s.factors_of(&o.lena).is_empty(), "factors reset");
    assert_eq!(
        s.groups_of(&o.lena),
        ["Everyone", "Domain Users"],
        "only Okta-managed groups are left"
    );
    assert_eq!(
        s.status_of(&o.vic),
        None,
        "the contractor past retention is deleted"
    );
    assert_eq!(s.status_of(&o.ann).as_deref(), Some("ACTIVE"));
    assert_eq!(s.factors_of(&o.ann), ["push"]);
    offboard(dir)
        .arg("tasks")
        .assert()
        .code(0)
        .stdout(predicate::str::contains("group 'Domain Users' is imported"));

    let run = common::last_run_id(|| offboard(dir));
    offboard(dir)
        .args(["rollback", &run, "-p", "lena@acme.com", "--auto-approve"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("Rollback complete"));
    assert_eq!(s.status_of(&o.lena).as_deref(), Some("ACTIVE"));
    assert_eq!(s.groups_of(&o.lena), ["Everyone", "Sales", "Domain Users"]);
    okta.prism.assert_no_violations();
}

#[test]
fn disable_can_mean_deactivate_and_the_plan_says_so() {
    let okta = OktaBehindPrism::start();
    let o = org(&okta.okta);
    let repo = repository(&okta, "deactivate");
    let dir = repo.path();
    offboard(dir)
        .args(["plan", "--at", AT])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("active -> deactivated"));
    offboard(dir)
        .args(["apply", "--auto-approve", "--at", AT])
        .assert()
        .code(0);
    assert_eq!(
        okta.okta.status_of(&o.lena).as_deref(),
        Some("DEPROVISIONED")
    );
    // Deactivated users are left out of Okta's default listing; offboard still sees them.
    let settings = okta.okta.settings(dir, &okta.url());
    let connector = Okta::new("okta", &settings, dir).unwrap();
    let accounts = common::runtime()
        .block_on(connector.list_accounts())
        .unwrap();
    assert!(
        accounts.iter().any(|a| a.id == o.lena),
        "a deactivated user is listed"
    );
    okta.prism.assert_no_violations();
}

#[test]
fn a_credential_that_sees_nobody_is_refused_not_read_as_no_access() {
    let okta = OktaBehindPrism::start();
    org(&okta.okta);
    okta.okta.set_no_admin_role(true);
    let repo = repository(&okta, "suspend");
    offboard(repo.path())
        .args(["plan", "--at", AT])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no users at all"))
        .stderr(predicate::str::contains("admin role"));
    okta.prism.assert_no_violations();
}

#[test]
fn requests_slow_down_before_the_rate_limit_not_after() {
    let okta = OktaBehindPrism::start();
    let dir = tempfile::tempdir().unwrap();
    let ids: Vec<String> = (0..12)
        .map(|i| okta.okta.add_user(OktaUser::new(&format!("u{i}@acme.com"))))
        .collect();
    // Ten requests per two-second window; offboard keeps 20% of each window in reserve.
    okta.okta.set_rate_limit(10, Duration::from_secs(2));
    let cfg = OktaSettings {
        rate_limit_reserve: 20,
        ..okta.okta.settings(dir.path(), &okta.url())
    };
    let connector = Okta::new("okta", &cfg, dir.path()).unwrap();
    let start = Instant::now();
    common::runtime().block_on(async {
        for id in &ids {
            connector.perform(id, Action::RevokeSessions).await.unwrap();
        }
    });
    assert_eq!(okta.okta.requests_over_limit(), 0, "never ran into a 429");
    assert!(
        start.elapsed() >= Duration::from_secs(4),
        "24 requests at 8 per window take at least three windows"
    );
    okta.prism.assert_no_violations();
}

#[test]
fn a_429_storm_is_waited_out_until_the_window_resets() {
    let okta = OktaBehindPrism::start();
    let dir = tempfile::tempdir().unwrap();
    let id = okta.okta.add_user(OktaUser::new("rita@acme.com"));
    let connector = offboard::connector::retry::Retrying::new(
        Okta::new(
            "okta",
            &okta.okta.settings(dir.path(), &okta.url()),
            dir.path(),
        )
        .unwrap(),
        offboard::connector::retry::RetryPolicy::default(),
    );
    okta.okta.throttle_next(3);
    let (result, calls) =
        common::runtime().block_on(connector.perform_counted(&id, Action::ResetMfa));
    result.unwrap();
    assert!(
        calls >= 2,
        "throttled at least once, then done ({calls} calls)"
    );
    assert_eq!(okta.okta.requests_over_limit(), 3);
    okta.prism.assert_no_violations();
}

/// The token endpoint is not in Okta's published description, so Prism cannot proxy it: the
/// service app asks the stand-in for tokens directly (`token-url=`) and sends every API
/// request through Prism.
#[test]
fn a_service_app_token_that_expires_mid_run_is_replaced_once() {
    let okta = OktaBehindPrism::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let status = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(d.join("okta.pem"))
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl is installed by tests/run.sh");
    assert!(status.success());
    let public = std::process::Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(d.join("okta.pem"))
        .output()
        .unwrap();
    let s = &okta.okta;
    s.trust_key(
        OktaStandIn::CLIENT_ID,
        &String::from_utf8_lossy(&public.stdout),
    );
    let id = s.add_user(OktaUser::new("rita@acme.com"));
    let cfg = OktaSettings {
        credential: Credential::ServiceApp {
            client_id: OktaStandIn::CLIENT_ID.into(),
            private_key: SecretRef::File("okta.pem".into()),
            key_id: None,
        },
        token_url: Some(s.token_url()),
        ..s.settings(d, &okta.url())
    };
    let connector = Okta::new("okta", &cfg, d).unwrap();
    common::runtime().block_on(async {
        connector.list_accounts().await.unwrap();
        assert_eq!(s.tokens_issued(), 1);
        s.expire_tokens();
        connector.perform(&id, Action::Disable).await.unwrap();
        connector
            .perform(&id, Action::RevokeSessions)
            .await
            .unwrap();
    });
    assert_eq!(s.tokens_issued(), 2, "one new token, then cached");
    assert_eq!(s.status_of(&id).as_deref(), Some("SUSPENDED"));
    okta.prism.assert_no_violations();
}

#[test]
fn the_api_token_never_leaves_the_process() {
    let okta = OktaBehindPrism::start();
    org(&okta.okta);
    let repo = repository(&okta, "suspend");
    let dir = repo.path();
    let outputs = common::everything_written(dir, || offboard(dir), AT, common::okta::TOKEN_FILE);
    for text in &outputs {
        assert!(
            !text.contains(OktaStandIn::API_TOKEN),
            "the API token leaked"
        );
        assert!(!text.contains("SSWS"), "an authorization header leaked");
    }
    okta.prism.assert_no_violations();
}

/// The checker can fail: a request Okta's description forbids is reported.
#[test]
fn prism_reports_a_request_the_description_forbids() {
    let okta = OktaBehindPrism::start();
    let id = okta.okta.add_user(OktaUser::new("rita@acme.com"));
    let url = format!("{}/api/v1/users/{id}/lifecycle/activate", okta.url());
    let status = common::runtime().block_on(async {
        reqwest::Client::new()
            .post(url)
            .header("Authorization", format!("SSWS {}", OktaStandIn::API_TOKEN))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    });
    assert_eq!(status, 422, "`sendEmail` is required by the description");
    assert!(!okta.prism.violations().is_empty());
}
