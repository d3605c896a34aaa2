//! The executor under injected faults (temporary errors, rate limits, permanent refusals,
//! restores the read-back does not show), on two file systems and one leaver: retries are
//! bounded and counted, one failing system never stops another, and every outcome is
//! journaled with its remediation.

use std::path::PathBuf;

use std::sync::Arc;
use std::time::{Duration, Instant};

use offboard::apply::retry::{RetryPolicy, Retrying};
use offboard::apply::{Executor, Target};
use offboard::connector::fault::{Fault, FaultInjecting};
use offboard::connector::file::FileConnector;
use offboard::connector::{self, AccountStatus, Connector, Observed};
use offboard::journal::{ActionOutcome, Journal};
use offboard::plan::Plan;
use offboard::policy::{self, Action, FileFormat};
use offboard::reconcile::{self, PlanInput};
use offboard::roster;

const AT: &str = "2026-11-23T09:00:00Z";

/// Two file systems (an identity provider and a chat app) and one leaver.
struct Fixture {
    dir: tempfile::TempDir,
    plan: Plan,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let accounts = |id: &str| {
        serde_json::json!({"accounts": [
            {"id": id, "username": "leo", "emails": ["leo@acme.com"], "status": "active", "groups": ["all"], "sessions": 1},
            {"id": format!("{id}-ann"), "username": "ann", "emails": ["ann@acme.com"], "status": "active", "groups": ["all"]}
        ]})
        .to_string()
    };
    std::fs::create_dir_all(dir.path().join("inventory/accounts")).unwrap();
    std::fs::write(
        dir.path().join("inventory/accounts/idp.json"),
        accounts("i1"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("inventory/accounts/chat.json"),
        accounts("c1"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("inventory/people.csv"),
        "email,name,status,termination_type,last_day\nleo@acme.com,Leo,terminated,voluntary,2026-11-01\nann@acme.com,Ann,active,,\n",
    )
    .unwrap();
    let text = "system idp {\n connector file\n tier identity-provider\n correlate email=\"email\"\n on-leave disable remove-groups\n max-disable-share \"100%\"\n}\nsystem chat {\n connector file\n tier collaboration\n correlate email=\"email\"\n on-leave disable\n max-disable-share \"100%\"\n}\npeople {\n source csv path=\"inventory/people.csv\"\n}\n";
    let policy = policy::load_texts(vec![(PathBuf::from("policies/a.kdl"), text.into())]).unwrap();
    let roster = roster::load(
        policy.people.as_ref().unwrap(),
        dir.path(),
        &jiff::tz::TimeZone::UTC,
    )
    .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let observed: Observed = rt.block_on(connector::refresh(&policy, dir.path(), &|_| {}));
    let plan = reconcile::plan(&PlanInput {
        policy: &policy,
        roster: &roster,
        observed: &observed,
        now: AT.parse().unwrap(),
        only: None,
        known_tasks: None,
        git_commit: None,
        dirty: None,
    })
    .unwrap();
    assert_eq!(plan.changes.len(), 2);
    Fixture { dir, plan }
}

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        min_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(50),
        max_retries: 4,
        max_retry_after: Duration::from_secs(5),
    }
}

fn file_connector(f: &Fixture, system: &str) -> FileConnector {
    FileConnector::new(
        system,
        f.dir
            .path()
            .join(format!("inventory/accounts/{system}.json")),
        FileFormat::Json,
    )
}

fn run(f: &Fixture, idp: Arc<dyn Connector>) -> Vec<offboard::apply::ChangeReport> {
    let journal = Journal::create(&f.dir.path().join("journal.db"), "test", "localhost").unwrap();
    let mut targets = std::collections::BTreeMap::new();
    targets.insert(
        "idp".to_string(),
        Target {
            connector: Arc::new(Retrying::new(idp, fast_retries())),
            concurrency: 2,
        },
    );
    let chat: Arc<dyn Connector> = Arc::new(file_connector(f, "chat"));
    targets.insert(
        "chat".to_string(),
        Target {
            connector: Arc::new(Retrying::new(chat, fast_retries())),
            concurrency: 2,
        },
    );
    let executor = Executor {
        targets,
        journal: offboard::journal::SharedJournal::new(journal),
        run_id: "test-run".into(),
        touched: Default::default(),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let reports = rt.block_on(executor.execute(&f.plan, &|_| {})).unwrap();
    assert!(executor.journal.lock().verify().unwrap().ok());
    reports
}

fn report<'a>(
    reports: &'a [offboard::apply::ChangeReport],
    system: &str,
) -> &'a offboard::apply::ChangeReport {
    reports.iter().find(|r| r.change.system == system).unwrap()
}

#[test]
fn temporary_errors_are_retried_then_succeed() {
    let f = fixture();
    let idp = Arc::new(
        FaultInjecting::new(file_connector(&f, "idp"))
            .then(Fault::Temporary)
            .then(Fault::Temporary),
    );
    let reports = run(&f, idp.clone());
    let r = report(&reports, "idp");
    assert_eq!(r.outcome, ActionOutcome::Done);
    assert_eq!(r.performed, [Action::Disable, Action::RemoveGroups]);
    // read + 3 tries of disable + 1 remove-groups + read-back
    assert_eq!(r.attempts, 6);
    // The certificate's figure: retries, not calls.
    assert_eq!(r.retries, 2);
    assert_eq!(idp.calls.load(std::sync::atomic::Ordering::SeqCst), 4);
}

#[test]
fn permanent_errors_are_reported_with_remediation_and_other_systems_proceed() {
    let f = fixture();
    let idp = Arc::new(
        FaultInjecting::new(file_connector(&f, "idp")).always(Fault::Permanent {
            message: "403 Forbidden: token lacks okta.users.manage".into(),
            hint: "grant the service token the users.manage scope".into(),
        }),
    );
    let reports = run(&f, idp.clone());
    let r = report(&reports, "idp");
    assert_eq!(r.outcome, ActionOutcome::Failed);
    let e = r.error.as_ref().unwrap();
    assert_eq!(
        e.hint.as_deref(),
        Some("grant the service token the users.manage scope")
    );
    assert_eq!(
        idp.calls.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "permanent errors are not retried"
    );
    assert_eq!(report(&reports, "chat").outcome, ActionOutcome::Done);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let chat = rt
        .block_on(file_connector(&f, "chat").read_account("c1"))
        .unwrap()
        .unwrap();
    assert_eq!(chat.status, AccountStatus::Disabled);
    let idp_account = rt
        .block_on(file_connector(&f, "idp").read_account("i1"))
        .unwrap()
        .unwrap();
    assert_eq!(idp_account.status, AccountStatus::Active);
}

#[test]
fn rate_limits_wait_for_retry_after() {
    let f = fixture();
    let idp: Arc<dyn Connector> = Arc::new(
        FaultInjecting::new(file_connector(&f, "idp")).then(Fault::RateLimited { retry_after: 1 }),
    );
    let start = Instant::now();
    let reports = run(&f, idp);
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 was not honoured ({:?})",
        start.elapsed()
    );
    assert_eq!(report(&reports, "idp").outcome, ActionOutcome::Done);
}

#[test]
fn retries_are_bounded() {
    let f = fixture();
    let idp = Arc::new(FaultInjecting::new(file_connector(&f, "idp")).always(Fault::Temporary));
    let reports = run(&f, idp.clone());
    let r = report(&reports, "idp");
    assert_eq!(r.outcome, ActionOutcome::Failed);
    assert_eq!(
        idp.calls.load(std::sync::atomic::Ordering::SeqCst),
        5,
        "1 try + 4 retries"
    );
}

#[test]
fn a_restore_the_read_back_does_not_show_fails() {
    use offboard::connector::{Account, Restore};
    let account = |groups: &[&str]| Account {
        id: "a".into(),
        username: "a".into(),
        emails: vec![],
        employee_id: None,
        display_name: None,
        status: AccountStatus::Active,
        groups: groups.iter().map(|g| g.to_string()).collect(),
        entitlements: vec![],
        licenses: vec![],
        privileged: false,
        last_login: None,
        sessions: None,
        container: None,
        attributes: Default::default(),
        app_roles: Vec::new(),
        held: Vec::new(),
        mastered_by: None,
    };
    let step = Restore::AddGroups(vec!["everyone".into(), "product".into()]);
    assert_eq!(
        offboard::apply::verify::restore_missing(&step, &account(&["everyone"])).as_deref(),
        Some("groups product")
    );
    assert_eq!(
        offboard::apply::verify::restore_missing(&step, &account(&["Everyone", "product"])),
        None
    );
}
