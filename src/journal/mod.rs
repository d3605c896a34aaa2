//! The journal: an append-only, hash-chained record of every run, action and manual task.
//!
//! It is the evidence an auditor receives, and the memory that lets a crashed apply converge.
//! Records are only ever inserted, each committed (SQLite WAL, `synchronous=FULL`) before
//! the step it describes proceeds: an action's *intent* is durable before the connector is
//! called, its *result* after the read-back. Every record carries a global sequence number
//! and the hash of the record before it, so `verify` detects an edited, deleted or reordered
//! record. The journal never stores secrets: bodies hold names, ids and states only.
//!
//! The storage is a SQLite file, or a PostgreSQL database shared by several runners
//! ([`postgres`]): the same tables, records and chain, behind the same functions on
//! [`Journal`].

mod group;
mod location;
mod lock;
pub mod migrate;
pub mod postgres;
mod queries;
mod records;

pub use group::SharedJournal;

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use location::Location;
pub use lock::{JournalLock, LockError, LockPurpose};
pub use queries::{RunSummary, TaskState};
pub use records::*;

/// The three record tables; one hash chain runs through all of them in `seq` order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Table {
    Runs,
    Actions,
    Tasks,
}

impl Table {
    const ALL: [Table; 3] = [Table::Runs, Table::Actions, Table::Tasks];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Table::Runs => "runs",
            Table::Actions => "actions",
            Table::Tasks => "tasks",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("journal {path}: {source}")]
    Sql {
        path: String,
        source: rusqlite::Error,
    },
    #[error("journal {path}: cannot create its directory: {source}")]
    Dir {
        path: String,
        source: std::io::Error,
    },
    #[error("journal record {seq} is not readable: {message}")]
    Corrupt { seq: i64, message: String },
    #[error("journal {path}: {message}")]
    Write { path: String, message: String },
    #[error("{path} is not an offboard journal (it has none of the journal's tables)")]
    NotAJournal { path: String },
    #[error("no journal at {path}")]
    Missing { path: String },
    #[error("a journal already exists at {path}; it is never overwritten")]
    Exists { path: String },
    #[error("journal {location}: {message}")]
    Postgres { location: String, message: String },
}

/// A record's body; secrets are redacted before anything is stored: the journal is
/// append-only and could never be cleaned.
fn to_body<T: Serialize>(body: &T) -> Result<String, JournalError> {
    let text = serde_json::to_string(body).map_err(|e| JournalError::Corrupt {
        seq: -1,
        message: e.to_string(),
    })?;
    Ok(crate::redact::redact(&text).into_owned())
}

/// One stored record, as read back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredRecord {
    pub seq: i64,
    pub table: Table,
    pub kind: String,
    pub at: String,
    pub body: String,
    pub prev_hash: String,
    pub hash: String,
}

impl StoredRecord {
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, JournalError> {
        serde_json::from_str(&self.body).map_err(|e| JournalError::Corrupt {
            seq: self.seq,
            message: e.to_string(),
        })
    }
}

pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What `verify` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    pub records: usize,
    pub problems: Vec<String>,
}

impl Verification {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

pub struct Journal {
    backend: Backend,
    /// The file, or the database's connection string without its password.
    path: PathBuf,
}

/// Where the records are.
enum Backend {
    Sqlite(Connection),
    Postgres(Box<postgres::PgStore>),
}

/// The newest record of each table by primary key (an index lookup each), then the newest
/// of those: the head of the chain.
fn head_of(conn: &Connection) -> rusqlite::Result<Option<(i64, String)>> {
    let mut head: Option<(i64, String)> = None;
    for t in Table::ALL {
        let last: Option<(i64, String)> = conn
            .query_row(
                &format!(
                    "SELECT seq, hash FROM {} ORDER BY seq DESC LIMIT 1",
                    t.name()
                ),
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        if let Some(last) = last
            && head.as_ref().is_none_or(|h| last.0 > h.0)
        {
            head = Some(last);
        }
    }
    Ok(head)
}

/// A journal's first record: a lineage no other journal has (time, process, host, place).
fn init_record(created_by: &str, host: &str, place: &str) -> Record {
    let mut h = blake3::Hasher::new();
    h.update(&Timestamp::now().as_nanosecond().to_le_bytes());
    h.update(&std::process::id().to_le_bytes());
    h.update(host.as_bytes());
    h.update(place.as_bytes());
    Record::JournalInit(JournalInit {
        lineage: h.finalize().to_hex()[..32].to_string(),
        created_by: created_by.to_string(),
        host: host.to_string(),
    })
}

fn record_hash(seq: i64, table: Table, kind: &str, at: &str, body: &str, prev: &str) -> String {
    let mut h = blake3::Hasher::new();
    for part in [&seq.to_string(), table.name(), kind, at, body, prev] {
        h.update(&(part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    h.finalize().to_hex().to_string()
}

impl Journal {
    /// Start a new journal at `path` (`offboard journal init`): its first record gives it a
    /// lineage, the id plans record so that `apply` can tell this journal from any other.
    /// An existing file is never overwritten.
    pub fn create(path: &Path, created_by: &str, host: &str) -> Result<Journal, JournalError> {
        Journal::start(&Location::File(path.to_path_buf()), created_by, host)
    }

    /// Start a new journal in the PostgreSQL database at `url`: the tables (with their
    /// schema version), then the first record. A database that holds a journal already is
    /// never written over.
    pub fn create_postgres(
        url: &str,
        created_by: &str,
        host: &str,
    ) -> Result<Journal, JournalError> {
        Journal::start(&Location::Postgres(url.to_string()), created_by, host)
    }

    /// An empty journal at `location`, then its first record.
    fn start(location: &Location, created_by: &str, host: &str) -> Result<Journal, JournalError> {
        let mut journal = Journal::create_empty(location)?;
        let shown = journal.path.display().to_string();
        journal.append(&init_record(created_by, host, &shown))?;
        Ok(journal)
    }

    /// A journal at `location` with its tables and no record (a new journal, or the target of
    /// `journal migrate`); a file or database that holds records is never written over.
    pub(crate) fn create_empty(location: &Location) -> Result<Journal, JournalError> {
        let journal = match location {
            Location::File(path) => {
                let shown = path.display().to_string();
                if std::fs::metadata(path).is_ok_and(|m| m.len() > 0) {
                    return Err(JournalError::Exists { path: shown });
                }
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|source| JournalError::Dir {
                        path: shown.clone(),
                        source,
                    })?;
                }
                Journal::connect(path)?
            }
            Location::Postgres(url) => {
                let store = postgres::PgStore::connect(url)?;
                store.create_schema()?;
                Journal {
                    path: PathBuf::from(&store.location),
                    backend: Backend::Postgres(Box::new(store)),
                }
            }
        };
        if journal.head()?.is_some() {
            return Err(JournalError::Exists {
                path: journal.path.display().to_string(),
            });
        }
        Ok(journal)
    }

    /// Open the journal in the PostgreSQL database at `url`, to read or append. A database
    /// without one is an error, never a silently started journal.
    pub fn open_postgres(url: &str) -> Result<Journal, JournalError> {
        let store = postgres::PgStore::connect(url)?;
        let shown = store.location.clone();
        if !store.has_schema()? {
            return Err(JournalError::Missing { path: shown });
        }
        Ok(Journal {
            backend: Backend::Postgres(Box::new(store)),
            path: PathBuf::from(shown),
        })
    }

    /// Open an existing journal to append to it. A missing journal is an error, never a
    /// silently started new one: a lost CI cache must not re-open every manual task.
    pub fn open(path: &Path) -> Result<Journal, JournalError> {
        let shown = path.display().to_string();
        match std::fs::metadata(path) {
            Err(_) => return Err(JournalError::Missing { path: shown }),
            Ok(m) if m.len() == 0 => return Err(JournalError::NotAJournal { path: shown }),
            Ok(_) => {}
        }
        Journal::connect(path)
    }

    fn connect(path: &Path) -> Result<Journal, JournalError> {
        let shown = path.display().to_string();
        let sql = |source| JournalError::Sql {
            path: shown.clone(),
            source,
        };
        let conn = Connection::open(path).map_err(sql)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .map_err(sql)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = FULL;
             CREATE TABLE IF NOT EXISTS runs    (seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, at TEXT NOT NULL, body TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS actions (seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, at TEXT NOT NULL, body TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS tasks   (seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, at TEXT NOT NULL, body TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);",
        )
        .map_err(sql)?;
        Ok(Journal {
            backend: Backend::Sqlite(conn),
            path: path.to_path_buf(),
        })
    }

    /// The journal's lineage and head, as a plan records them. A journal written before
    /// lineages existed takes its first record's hash as its lineage.
    pub fn identity(&self) -> Result<crate::plan::JournalRef, JournalError> {
        let (head_seq, head_hash) = self.head()?.unwrap_or((0, GENESIS.to_string()));
        let first: Option<(String, String, String)> = match &self.backend {
            Backend::Sqlite(conn) => conn
                .query_row("SELECT kind, body, hash FROM runs WHERE seq = 1", [], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .optional()
                .map_err(|e| self.sql(e))?,
            Backend::Postgres(pg) => pg.first_run()?,
        };
        let lineage = match first {
            Some((kind, body, _)) if kind == JOURNAL_INIT => {
                serde_json::from_str::<JournalInit>(&body)
                    .map_err(|e| JournalError::Corrupt {
                        seq: 1,
                        message: e.to_string(),
                    })?
                    .lineage
            }
            Some((_, _, hash)) => format!("legacy-{}", &hash[..hash.len().min(16)]),
            None => "legacy-empty".to_string(),
        };
        Ok(crate::plan::JournalRef {
            lineage,
            head_seq,
            head_hash,
        })
    }

    /// The hash of record `seq`, if there is one.
    pub fn hash_at(&self, seq: i64) -> Result<Option<String>, JournalError> {
        let conn = match &self.backend {
            Backend::Sqlite(conn) => conn,
            Backend::Postgres(pg) => return pg.hash_at(seq),
        };
        for table in Table::ALL {
            let hash: Option<String> = conn
                .query_row(
                    &format!("SELECT hash FROM {} WHERE seq = ?1", table.name()),
                    [seq],
                    |r| r.get(0),
                )
                .optional()
                .map_err(|e| self.sql(e))?;
            if hash.is_some() {
                return Ok(hash);
            }
        }
        Ok(None)
    }

    /// The newest record's sequence number and hash.
    fn head(&self) -> Result<Option<(i64, String)>, JournalError> {
        match &self.backend {
            Backend::Sqlite(conn) => head_of(conn).map_err(|e| self.sql(e)),
            Backend::Postgres(pg) => pg.head(),
        }
    }

    /// Open an existing journal without writing to it: `verify`, `list`, `show` and
    /// `report` read evidence this way, so a read-only copy handed to an auditor works and
    /// nothing is created beside it. A file that is not an offboard journal (empty, or
    /// another database) is an error, never "a verified journal of 0 records".
    pub fn open_read_only(path: &Path) -> Result<Journal, JournalError> {
        use rusqlite::OpenFlags;
        let shown = path.display().to_string();
        let sql = |source| JournalError::Sql {
            path: shown.clone(),
            source,
        };
        match std::fs::metadata(path) {
            Err(_) => return Err(JournalError::Missing { path: shown }),
            Ok(m) if m.len() == 0 => return Err(JournalError::NotAJournal { path: shown }),
            Ok(_) => {}
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        // Without a write-ahead log beside it the file holds every record, and it is read
        // as immutable: SQLite then creates no `-wal`/`-shm` files next to the evidence. With
        // one (a writer is active, or crashed), the log must be read too.
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        let conn = if Path::new(&wal).exists() {
            Connection::open_with_flags(path, flags).map_err(sql)?
        } else {
            let encoded: String = path
                .display()
                .to_string()
                .chars()
                .map(|c| match c {
                    '%' => "%25".to_string(),
                    '?' => "%3f".to_string(),
                    '#' => "%23".to_string(),
                    c => c.to_string(),
                })
                .collect();
            let uri = format!("file:{encoded}?immutable=1");
            Connection::open_with_flags(uri, flags | OpenFlags::SQLITE_OPEN_URI).map_err(sql)?
        };
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .map_err(sql)?;
        let tables: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('runs', 'actions', 'tasks')",
                [],
                |r| r.get(0),
            )
            .map_err(sql)?;
        if tables != 3 {
            return Err(JournalError::NotAJournal { path: shown });
        }
        Ok(Journal {
            backend: Backend::Sqlite(conn),
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn sql(&self, source: rusqlite::Error) -> JournalError {
        JournalError::Sql {
            path: self.path.display().to_string(),
            source,
        }
    }

    /// Append one record, durably, and return its sequence number.
    pub fn append(&mut self, record: &Record) -> Result<i64, JournalError> {
        let body = record.body()?;
        let seqs = self.append_encoded(&[(record.table(), record.kind(), body)])?;
        Ok(seqs[0])
    }

    /// Append records in order, in one transaction (one fsync), and return their sequence
    /// numbers.
    pub fn append_batch(&mut self, records: &[Record]) -> Result<Vec<i64>, JournalError> {
        let encoded = records
            .iter()
            .map(|r| Ok((r.table(), r.kind(), r.body()?)))
            .collect::<Result<Vec<_>, JournalError>>()?;
        self.append_encoded(&encoded)
    }

    /// Append already encoded records (table, kind, JSON body) in one transaction.
    pub(crate) fn append_encoded(
        &mut self,
        records: &[(Table, &'static str, String)],
    ) -> Result<Vec<i64>, JournalError> {
        let at = Timestamp::now().to_string();
        let conn = match &mut self.backend {
            Backend::Sqlite(conn) => conn,
            Backend::Postgres(pg) => return pg.append(records, &at),
        };
        let path = self.path.display().to_string();
        let sql = |source| JournalError::Sql {
            path: path.clone(),
            source,
        };
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sql)?;
        let head = head_of(&tx).map_err(sql)?;
        let (mut seq, mut prev) = head.unwrap_or((0, GENESIS.to_string()));
        let mut seqs = Vec::with_capacity(records.len());
        for (table, kind, body) in records {
            seq += 1;
            let hash = record_hash(seq, *table, kind, &at, body, &prev);
            tx.execute(
                &format!(
                    "INSERT INTO {} (seq, kind, at, body, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    table.name()
                ),
                params![seq, kind, at, body, prev, hash],
            )
            .map_err(sql)?;
            seqs.push(seq);
            prev = hash;
        }
        tx.commit().map_err(sql)?;
        Ok(seqs)
    }

    /// Every record of every table, in sequence order.
    pub fn records(&self) -> Result<Vec<StoredRecord>, JournalError> {
        let conn = match &self.backend {
            Backend::Sqlite(conn) => conn,
            Backend::Postgres(pg) => return pg.records(),
        };
        let mut out = Vec::new();
        for table in Table::ALL {
            let mut stmt = conn
                .prepare(&format!(
                    "SELECT seq, kind, at, body, prev_hash, hash FROM {} ORDER BY seq",
                    table.name()
                ))
                .map_err(|e| self.sql(e))?;
            let rows = stmt
                .query_map([], |r| {
                    Ok(StoredRecord {
                        seq: r.get(0)?,
                        table,
                        kind: r.get(1)?,
                        at: r.get(2)?,
                        body: r.get(3)?,
                        prev_hash: r.get(4)?,
                        hash: r.get(5)?,
                    })
                })
                .map_err(|e| self.sql(e))?;
            for row in rows {
                out.push(row.map_err(|e| self.sql(e))?);
            }
        }
        out.sort_by_key(|r| r.seq);
        Ok(out)
    }

    /// Recompute the chain: gaps (deleted records), edits and reordering are all reported.
    pub fn verify(&self) -> Result<Verification, JournalError> {
        let records = self.records()?;
        Ok(verify_records(&records))
    }
}

/// Check a sequence of records (sorted by `seq`) against its hash chain.
pub fn verify_records(records: &[StoredRecord]) -> Verification {
    let mut problems = Vec::new();
    let mut prev = GENESIS.to_string();
    for (i, r) in records.iter().enumerate() {
        let expected_seq = i as i64 + 1;
        if r.seq != expected_seq {
            problems.push(format!(
                "record {expected_seq} is missing (next is {}): records were deleted",
                r.seq
            ));
            break;
        }
        if r.prev_hash != prev {
            problems.push(format!(
                "record {} ({} {}) does not follow record {}: the chain was reordered or rewritten",
                r.seq,
                r.table.name(),
                r.kind,
                r.seq - 1
            ));
        }
        let recomputed = record_hash(r.seq, r.table, &r.kind, &r.at, &r.body, &r.prev_hash);
        if recomputed != r.hash {
            problems.push(format!(
                "record {} ({} {}) was edited: its content no longer matches its hash",
                r.seq,
                r.table.name(),
                r.kind
            ));
        }
        prev = r.hash.clone();
    }
    Verification {
        records: records.len(),
        problems,
    }
}
