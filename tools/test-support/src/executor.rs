//! Driving offboard's executor directly (benchmarks, connector tests): a journal, a plan of
//! given changes, an executor over given connectors.

use std::path::Path;

/// Start the journal `apply` appends to, as `offboard journal init` does.
pub fn init_journal(dir: &Path) {
    offboard::journal::Journal::create(&dir.join(".offboard/journal.db"), "test", "localhost")
        .unwrap();
}

/// A plan holding only `changes`, for driving the executor directly (benchmarks).
pub fn plan_of(changes: Vec<offboard::plan::Change>) -> offboard::plan::Plan {
    use offboard::plan::{FORMAT_VERSION, Plan, PolicyRef, RosterRef};
    Plan {
        format_version: FORMAT_VERSION,
        created_at: jiff::Timestamp::UNIX_EPOCH,
        policy: PolicyRef {
            content_hash: "bench".into(),
            git_commit: None,
            dirty: None,
        },
        roster: RosterRef {
            source: "bench".into(),
            hash: "bench".into(),
            people: 0,
        },
        refreshed: Vec::new(),
        leavers: Vec::new(),
        changes,
        notes: Vec::new(),
        warnings: Vec::new(),
        journal: None,
    }
}

/// An update of one account with `actions`, as the planner would write it.
pub fn change_for(
    system: &str,
    tier: offboard::policy::Tier,
    account: &offboard::connector::Account,
    actions: Vec<offboard::policy::Action>,
    after: Option<offboard::plan::AccountState>,
) -> offboard::plan::Change {
    offboard::plan::Change {
        person: account.username.clone(),
        system: system.to_string(),
        tier,
        kind: offboard::plan::ChangeKind::Update,
        account: Some(offboard::plan::AccountRef {
            id: account.id.clone(),
            username: account.username.clone(),
            label: account.username.clone(),
            fingerprint: account.fingerprint(),
            version: account.version().map(str::to_string),
        }),
        actions,
        before: None,
        after,
        task: None,
        rules: Vec::new(),
        hand_off_to: None,
    }
}

/// An executor for benchmarks and tests: each `(system, connector, concurrency)` behind the
/// default retries, journaling into `dir/j.db`.
pub fn executor(
    systems: Vec<(
        String,
        std::sync::Arc<dyn offboard::connector::Connector>,
        usize,
    )>,
    dir: &Path,
) -> offboard::apply::Executor {
    executor_with(
        systems,
        offboard::journal::Journal::create(&dir.join("j.db"), "test", "localhost").unwrap(),
    )
}

/// An executor for `systems` appending to `journal` (either backend).
pub fn executor_with(
    systems: Vec<(
        String,
        std::sync::Arc<dyn offboard::connector::Connector>,
        usize,
    )>,
    journal: offboard::journal::Journal,
) -> offboard::apply::Executor {
    use offboard::apply::retry::{RetryPolicy, Retrying};
    let targets = systems
        .into_iter()
        .map(|(name, connector, concurrency)| {
            let target = offboard::apply::Target {
                connector: std::sync::Arc::new(Retrying::new(connector, RetryPolicy::default())),
                concurrency,
            };
            (name, target)
        })
        .collect();
    offboard::apply::Executor {
        targets,
        journal: offboard::journal::SharedJournal::new(journal),
        run_id: "bench".into(),
        touched: Default::default(),
    }
}

/// Apply `actions` to the accounts `ids` of `snapshot` through a real executor and journal,
/// `concurrency` at a time, and return the seconds it took; every change must be done. What
/// the vendor benchmarks time.
pub async fn apply_timed(
    connector: std::sync::Arc<dyn offboard::connector::Connector>,
    snapshot: &offboard::connector::SystemSnapshot,
    ids: &[String],
    actions: &[offboard::policy::Action],
    concurrency: usize,
) -> f64 {
    let by_id: std::collections::HashMap<&str, &offboard::connector::Account> = snapshot
        .accounts
        .iter()
        .map(|a| (a.id.as_str(), a))
        .collect();
    let changes = ids
        .iter()
        .map(|id| {
            change_for(
                "bench",
                offboard::policy::Tier::IdentityProvider,
                by_id[id.as_str()],
                actions.to_vec(),
                None,
            )
        })
        .collect();
    let plan = plan_of(changes);
    let journal = tempfile::tempdir().expect("a temporary directory");
    let executor = executor(
        vec![("bench".into(), connector, concurrency)],
        journal.path(),
    );
    let start = std::time::Instant::now();
    let reports = executor.execute(&plan, &|_| {}).await.expect("apply runs");
    let seconds = start.elapsed().as_secs_f64();
    assert!(
        reports
            .iter()
            .all(|r| r.outcome == offboard::journal::ActionOutcome::Done),
        "every change done"
    );
    seconds
}
