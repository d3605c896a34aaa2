//! The `google` connector end to end against `GoogleStandIn` (a stand-in written from Google's
//! documentation, not Google), with every request offboard sends checked against Google's
//! published discovery document for the Directory API (PyPI google-api-python-client
//! 2.202.0): plan -> apply -> re-audit -> rollback; quota errors (403 `rateLimitExceeded`,
//! `userRateLimitExceeded`, 429) waited out; a token that expires mid-run renewed once; the
//! service account's key never leaked.

use offboard_test_support as common;

use std::path::Path;

use assert_cmd::Command;
use common::discovery::Discovery;
use common::{GoogleStandIn, GoogleUser, Quota};
use offboard::connector::Connector;
use offboard::connector::google::Google;
use offboard::policy::Action;
use predicates::prelude::*;

const AT: &str = "2026-11-23T09:00:00Z";

fn offboard(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("offboard").unwrap();
    cmd.env("OFFBOARD_NO_NOTIFY", "1");
    cmd.arg("-C")
        .arg(dir)
        .env("OFFBOARD_ACTOR", "google-test")
        .env("NO_COLOR", "1");
    cmd
}

/// Every request the stand-in received is one the discovery document describes.
fn assert_described(google: &GoogleStandIn) {
    let violations = Discovery::directory().check_all(&google.requests());
    assert!(violations.is_empty(), "{violations:#?}");
}

struct Domain {
    gus: String,
    ann: String,
}

/// Gus leaves; Ann stays.
fn domain(google: &GoogleStandIn) -> Domain {
    google.add_admin();
    let gus = google.add_user(GoogleUser {
        external_id: Some("E9".into()),
        ..GoogleUser::new("gus@acme.com")
    });
    let ann = google.add_user(GoogleUser::new("ann@acme.com"));
    google.add_group("sales@acme.com", "Sales", &[&gus, &ann]);
    google.add_group("all@acme.com", "Everyone", &[&gus, &ann]);
    google.add_token(&gus, "1234.apps.googleusercontent.com", "Slack");
    google.add_asp(&gus, "Thunderbird");
    google.add_token(&ann, "1234.apps.googleusercontent.com", "Slack");
    Domain { gus, ann }
}

fn repository(google: &GoogleStandIn) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    common::init_journal(dir.path());
    let d = dir.path();
    std::fs::create_dir_all(d.join("policies")).unwrap();
    std::fs::create_dir_all(d.join("inventory")).unwrap();
    std::fs::write(
        d.join("inventory/people.csv"),
        "email,name,department,status,termination_type,last_day\n\
         gus@acme.com,Gus,Sales,terminated,voluntary,2026-11-20\n\
         ann@acme.com,Ann,Sales,active,,\n\
         offboard-admin@acme.com,Offboard,IT,active,,\n",
    )
    .unwrap();
    std::fs::write(
        d.join("policies/policy.kdl"),
        format!(
            r#"system workspace {{
    owner "it-ops@acme.com"
    {google}
    tier identity-provider
    correlate email="email"
    on-leave disable revoke-sessions remove-groups
}}
defaults {{
    cutoff end-of-last-day
    max-disable-share "100%"
}}
people {{
    source csv path="inventory/people.csv"
}}
"#,
            google = google.connector_line(d),
        ),
    )
    .unwrap();
    dir
}

#[test]
fn plan_apply_reaudit_rollback_with_every_request_described() {
    let google = GoogleStandIn::start();
    let g = domain(&google);
    let repo = repository(&google);
    let dir = repo.path();

    let plan = offboard(dir).args(["plan", "--at", AT]).assert().code(0);
    let text = String::from_utf8_lossy(&plan.get_output().stdout).to_string();
    insta::with_settings!({filters => vec![(r"policy [0-9a-f]{7}", "policy [hash]")]}, {
        insta::assert_snapshot!("google_plan", text);
    });
    offboard(dir)
        .args(["apply", "--auto-approve", "--at", AT])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("0 active credentials remain"));

    let gus = google.user_json(&g.gus).unwrap();
    assert_eq!(gus["suspended"], true);
    assert_eq!(google.sign_outs(&g.gus), 1);
    assert!(google.tokens_of(&g.gus).is_empty(), "OAuth tokens deleted");
    assert!(google.asps_of(&g.gus).is_empty(), "app passwords deleted");
    assert!(google.groups_of(&g.gus).is_empty());
    assert_eq!(google.user_json(&g.ann).unwrap()["suspended"], false);
    assert_eq!(google.tokens_of(&g.ann).len(), 1);
    assert_eq!(google.groups_of(&g.ann).len(), 2);

    let run = common::last_run_id(|| offboard(dir));
    offboard(dir)
        .args(["rollback", &run, "--auto-approve"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("Rollback complete"));
    assert_eq!(google.user_json(&g.gus).unwrap()["suspended"], false);
    let mut groups = google.groups_of(&g.gus);
    groups.sort();
    assert_eq!(groups, ["all@acme.com", "sales@acme.com"]);
    assert_described(&google);
}

#[test]
fn quota_errors_are_waited_out() {
    let google = GoogleStandIn::start();
    let g = domain(&google);
    let dir = tempfile::tempdir().unwrap();
    let connector = offboard::connector::retry::Retrying::new(
        Google::new("workspace", &google.settings(dir.path()), dir.path()).unwrap(),
        offboard::connector::retry::RetryPolicy::default(),
    );
    common::runtime().block_on(async {
        for quota in [
            Quota::RateLimitExceeded,
            Quota::UserRateLimitExceeded,
            Quota::TooManyRequests,
        ] {
            google.throttle_next(2, quota);
            let (result, calls) = connector.perform_counted(&g.gus, Action::Disable).await;
            result.unwrap_or_else(|e| panic!("{quota:?}: {e:?}"));
            assert_eq!(calls, 3, "{quota:?}: two refusals, then the write");
        }
    });
    assert_eq!(google.user_json(&g.gus).unwrap()["suspended"], true);
    assert_described(&google);
}

#[test]
fn a_token_that_expires_mid_run_is_replaced_once() {
    let google = GoogleStandIn::start();
    let g = domain(&google);
    let dir = tempfile::tempdir().unwrap();
    let connector = Google::new("workspace", &google.settings(dir.path()), dir.path()).unwrap();
    common::runtime().block_on(async {
        connector.list_accounts().await.unwrap();
        assert_eq!(google.tokens_issued(), 1);
        google.expire_tokens();
        connector.perform(&g.gus, Action::Disable).await.unwrap();
        connector
            .perform(&g.gus, Action::RevokeSessions)
            .await
            .unwrap();
    });
    assert_eq!(google.tokens_issued(), 2, "one new token, then cached");
    assert_described(&google);
}

#[test]
fn the_service_account_key_never_leaves_the_process() {
    let google = GoogleStandIn::start();
    domain(&google);
    let repo = repository(&google);
    let dir = repo.path();
    let key: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(common::google::KEY_FILE)).unwrap())
            .unwrap();
    let private_key = key["private_key"].as_str().unwrap().to_string();
    // A line from the middle of the key: any fragment would be a leak.
    let fragment = private_key.lines().nth(5).unwrap().to_string();
    let outputs = common::everything_written(dir, || offboard(dir), AT, common::google::KEY_FILE);
    for text in &outputs {
        assert!(!text.contains(&fragment), "the private key leaked");
        assert!(!text.contains("ya29."), "an access token leaked");
    }
    assert_described(&google);
}

/// The checker can fail: a request the discovery document does not describe is reported.
#[test]
fn the_discovery_check_reports_an_undescribed_request() {
    let discovery = Discovery::directory();
    let violations = discovery.check_all(&[
        "GET /admin/directory/v1/users?customer=my_customer&maxResults=9999".to_string(),
        "POST /admin/directory/v1/users/123/suspend".to_string(),
    ]);
    assert_eq!(violations.len(), 2, "{violations:#?}");
}
