//! The journal's contract, one test body per property, run against both backends: a SQLite
//! file and a real PostgreSQL server (started by the harness; `bash tests/run.sh` installs
//! Debian's postgresql). Records round-trip, the chain verifies, an edit is detected, a
//! journal is never started twice or opened where there is none, and appends from
//! concurrent processes keep one linear chain.

use offboard_test_support as common;

use offboard::journal::{Journal, JournalError, Record, TaskDone};

/// Where a test's journal lives; `tamper` edits a record behind offboard's back.
enum Backend {
    Sqlite(tempfile::TempDir),
    Postgres(common::Postgres),
}

impl Backend {
    fn both() -> Vec<Backend> {
        vec![
            Backend::Sqlite(tempfile::tempdir().unwrap()),
            Backend::Postgres(common::Postgres::start()),
        ]
    }

    fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    fn create(&self) -> Result<Journal, JournalError> {
        match self {
            Backend::Sqlite(dir) => Journal::create(&dir.path().join("j.db"), "tester", "h"),
            Backend::Postgres(pg) => Journal::create_postgres(&pg.url(), "tester", "h"),
        }
    }

    fn open(&self) -> Result<Journal, JournalError> {
        match self {
            Backend::Sqlite(dir) => Journal::open(&dir.path().join("j.db")),
            Backend::Postgres(pg) => Journal::open_postgres(&pg.url()),
        }
    }

    fn tamper(&self, seq: i64) {
        let sql =
            format!("UPDATE tasks SET body = replace(body, 'wiped', 'kept') WHERE seq = {seq}");
        match self {
            Backend::Sqlite(dir) => {
                rusqlite::Connection::open(dir.path().join("j.db"))
                    .unwrap()
                    .execute_batch(&sql)
                    .unwrap();
            }
            Backend::Postgres(pg) => {
                postgres::Client::connect(&pg.url(), postgres::NoTls)
                    .unwrap()
                    .batch_execute(&sql)
                    .unwrap();
            }
        }
    }
}

fn done(n: usize) -> Record {
    Record::TaskDone(TaskDone {
        task_id: format!("t{n}"),
        by: "it@acme.com".into(),
        note: "wiped".into(),
        closed_at: jiff::Timestamp::UNIX_EPOCH,
    })
}

#[test]
fn records_round_trip_and_the_chain_verifies_on_both_backends() {
    for backend in Backend::both() {
        let name = backend.name();
        let mut journal = backend.create().unwrap();
        let lineage = journal.identity().unwrap().lineage;
        assert_eq!(journal.append(&done(1)).unwrap(), 2, "{name}");
        assert_eq!(journal.append_batch(&[done(2), done(3)]).unwrap(), [3, 4]);
        drop(journal);

        let journal = backend.open().unwrap();
        let identity = journal.identity().unwrap();
        assert_eq!(identity.lineage, lineage, "{name}");
        assert_eq!(identity.head_seq, 4, "{name}");
        assert_eq!(
            journal.hash_at(4).unwrap(),
            Some(identity.head_hash),
            "{name}"
        );
        let records = journal.typed_records().unwrap();
        assert_eq!(records.len(), 4, "{name}");
        assert_eq!(records[2].0, done(2), "{name}");
        assert!(journal.verify().unwrap().ok(), "{name}");

        // An edit behind offboard's back is found.
        backend.tamper(3);
        let verification = backend.open().unwrap().verify().unwrap();
        assert!(
            verification
                .problems
                .iter()
                .any(|p| p.contains("record 3") && p.contains("edited")),
            "{name}: {:?}",
            verification.problems
        );
    }
}

#[test]
fn a_journal_is_never_started_twice_nor_opened_where_there_is_none() {
    for backend in Backend::both() {
        let name = backend.name();
        assert!(
            matches!(backend.open(), Err(JournalError::Missing { .. })),
            "{name}"
        );
        backend.create().unwrap();
        assert!(
            matches!(backend.create(), Err(JournalError::Exists { .. })),
            "{name}"
        );
    }
}

/// Four writers, each its own connection, appending at once: one linear chain, no record
/// lost, none forked.
#[test]
fn concurrent_appends_keep_one_linear_chain_on_both_backends() {
    for backend in Backend::both() {
        let name = backend.name();
        backend.create().unwrap();
        std::thread::scope(|s| {
            for w in 0..4 {
                let backend = &backend;
                s.spawn(move || {
                    let mut journal = backend.open().unwrap();
                    for n in 0..25 {
                        journal.append(&done(w * 100 + n)).unwrap();
                    }
                });
            }
        });
        let journal = backend.open().unwrap();
        let verification = journal.verify().unwrap();
        assert!(verification.ok(), "{name}: {:?}", verification.problems);
        assert_eq!(verification.records, 101, "{name}");
    }
}

/// The command line with a PostgreSQL journal: `--journal postgres://...` or
/// `OFFBOARD_JOURNAL`, the password from `PGPASSWORD` (never in the connection string, never
/// in any output), `journal init`, a whole `apply`, `verify`, and the apply lock.
#[test]
fn apply_with_a_postgres_journal_from_the_command_line() {
    let pg = common::Postgres::start();
    let dir = common::example_copy();
    let url = pg.url_without_password();
    let offboard = |args: &[&str]| {
        let mut cmd = common::offboard(dir.path());
        cmd.env("OFFBOARD_JOURNAL", &url)
            .env("PGPASSWORD", common::postgres::PG_PASSWORD)
            .args(args);
        cmd
    };
    let no_password = |out: &std::process::Output| {
        for stream in [&out.stdout, &out.stderr] {
            let text = String::from_utf8_lossy(stream);
            assert!(!text.contains(common::postgres::PG_PASSWORD), "{text}");
        }
    };

    // No journal in the database yet: apply refuses, never starts one.
    let out = offboard(&["apply", "--auto-approve"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("no journal at postgres://offboard@127.0.0.1")
    );
    no_password(&out);

    let out = offboard(&["journal", "init"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("Started the journal {url}")));

    // One applier at a time: an apply waits, then names the holder.
    let held = offboard::journal::JournalLock::acquire(
        &offboard::journal::Location::Postgres(pg.url()),
        "alice@acme.com on ci-runner-7",
        std::time::Duration::from_secs(1),
    )
    .unwrap();
    let out = offboard(&["apply", "--auto-approve", "--lock-timeout", "1s"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("alice@acme.com on ci-runner-7"), "{err}");
    drop(held);

    let out = offboard(&["apply", "--auto-approve"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    no_password(&out);
    let out = offboard(&["journal", "verify"]).output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("hash chain intact"));
    // The same journal through --journal and the password in the URL works too.
    let out = common::offboard(dir.path())
        .args(["--journal", &pg.url(), "journal", "list"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("success"));
    assert_eq!(
        common::account_status(dir.path(), "okta", "00u1a2b3").as_deref(),
        Some("disabled")
    );
}

/// `journal migrate`: SQLite -> PostgreSQL -> SQLite gives byte-identical `journal show`
/// and `verify`; a target that holds a journal, and a source that fails verification, are
/// refused.
#[test]
fn migrate_round_trip_sqlite_postgres_sqlite() {
    let pg = common::Postgres::start();
    let dir = common::example_copy();
    common::init_journal(dir.path());
    common::offboard(dir.path())
        .args(["apply", "--auto-approve"])
        .assert()
        .success();
    let original = dir.path().join(".offboard/journal.db");
    let back = dir.path().join("back/journal.db");
    let show = |journal: &str| {
        let runs = common::offboard(dir.path())
            .args(["--journal", journal, "journal", "list", "--format", "json"])
            .output()
            .unwrap();
        let runs: serde_json::Value = serde_json::from_slice(&runs.stdout).unwrap();
        let run = runs[0]["start"]["run_id"].as_str().unwrap().to_string();
        let out = common::offboard(dir.path())
            .args([
                "--journal",
                journal,
                "journal",
                "show",
                &run,
                "--format",
                "json",
            ])
            .output()
            .unwrap();
        assert!(out.status.success());
        out.stdout
    };

    let migrate = |from: &str, to: &str| {
        common::offboard(dir.path())
            .args(["journal", "migrate", from, to])
            .output()
            .unwrap()
    };
    let original = original.to_str().unwrap();
    let out = migrate(original, &pg.url());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("the copy verifies"), "{said}");
    assert!(!said.contains(common::postgres::PG_PASSWORD), "{said}");
    let out = migrate(&pg.url(), back.to_str().unwrap());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(show(original), show(&pg.url()));
    assert_eq!(show(original), show(back.to_str().unwrap()));

    // A target with a journal is never written over.
    let out = migrate(original, &pg.url());
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
    // A broken chain is not copied.
    rusqlite::Connection::open(&back)
        .unwrap()
        .execute_batch("DELETE FROM actions WHERE seq = 3")
        .unwrap();
    let out = migrate(
        back.to_str().unwrap(),
        dir.path().join("third.db").to_str().unwrap(),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("fails verification"));
    assert!(!dir.path().join("third.db").exists());
}

/// Four `apply` processes at once against one PostgreSQL journal: one applies, the others
/// wait for the lock and then refuse their plan (made against a head the journal has moved
/// past), or find nothing left to do; the chain verifies, and no change was carried out twice.
#[test]
fn four_concurrent_applies_share_one_postgres_journal() {
    let pg = common::Postgres::start();
    let dir = common::example_copy();
    let journal = offboard::journal::Location::Postgres(pg.url());
    journal.create("tester", "h").unwrap();
    let children: Vec<std::process::Child> = (0..4)
        .map(|_| {
            std::process::Command::new(env!("CARGO_BIN_EXE_offboard"))
                .arg("-C")
                .arg(dir.path())
                .args([
                    "--journal",
                    &pg.url(),
                    "apply",
                    "--auto-approve",
                    "--lock-timeout",
                    "60s",
                ])
                .env("NO_COLOR", "1")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outcomes: Vec<(Option<i32>, String)> = children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        })
        .collect();
    let applied = outcomes.iter().filter(|(code, _)| *code == Some(0)).count();
    assert!(applied >= 1, "{outcomes:?}");
    for (code, err) in &outcomes {
        assert!(
            *code == Some(0) || err.contains("Nothing was changed"),
            "a refused apply says so: {code:?} {err}"
        );
    }
    let journal = journal.open_read_only().unwrap();
    assert!(journal.verify().unwrap().ok());
    let runs = journal.runs().unwrap();
    let mut performed = std::collections::HashSet::new();
    for run in &runs {
        for result in journal.results(&run.start.run_id).unwrap() {
            if !result.performed.is_empty() {
                assert!(
                    performed.insert(result.change_id.clone()),
                    "change {} was carried out twice",
                    result.change_id
                );
            }
        }
    }
    assert!(!performed.is_empty());
}
