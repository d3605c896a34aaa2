//! The journal in PostgreSQL: the same three tables, records, hash chain and verification as
//! the SQLite file, for teams whose CI runners and servers share one journal.
//!
//! Every append is one transaction that first takes a transaction-scoped advisory lock
//! ([`APPEND_LOCK`]), then reads the head and inserts after it: appends from concurrent
//! processes queue on the lock, so the chain stays one line and never forks (two writers
//! reading the same head would otherwise both insert the next `seq`; the primary key would
//! refuse one, but only after it had done its work). Readers take no lock. The schema carries
//! a version ([`SCHEMA_VERSION`]); a journal written by a newer offboard is refused rather
//! than misread. The connection string comes from the command line or the environment, never
//! from the policy; errors name the server without the password.

use std::cell::RefCell;

use postgres::{Client, NoTls};

use super::{JournalError, StoredRecord, Table};

/// The schema this offboard writes and reads.
pub const SCHEMA_VERSION: i32 = 1;

/// The advisory lock key appends serialise on (an arbitrary constant: "offboard" in ASCII).
const APPEND_LOCK: i64 = 0x006f_6666_626f_6172;

/// The advisory lock key one applier at a time holds for a whole run ("apply" in ASCII):
/// the database's counterpart of the lock file beside a SQLite journal.
pub const APPLY_LOCK: i64 = 0x0061_7070_6c79;

/// A connection to a journal database.
pub struct PgStore {
    client: RefCell<Client>,
    /// The connection string without its password, for messages.
    pub location: String,
}

/// `url` without the password (`postgres://user:secret@host/db` -> `postgres://user@host/db`).
pub fn without_password(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}@{}", &url[..scheme + 3], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

/// The connection settings of `url`, its password (when it has none) from `PGPASSWORD` or
/// the file `OFFBOARD_JOURNAL_PASSWORD_FILE` names; the password is registered with the
/// redactor whatever its source.
pub fn config(url: &str) -> Result<postgres::Config, JournalError> {
    let fail = |message: String| JournalError::Postgres {
        location: without_password(url),
        message,
    };
    let mut config: postgres::Config = url.parse().map_err(|e: postgres::Error| {
        fail(format!(
            "not a valid connection string: {}",
            crate::redact::redact(&e.to_string())
        ))
    })?;
    if config.get_password().is_none() {
        if let Ok(password) = std::env::var("PGPASSWORD") {
            config.password(password);
        } else if let Ok(file) = std::env::var("OFFBOARD_JOURNAL_PASSWORD_FILE") {
            let password = std::fs::read_to_string(&file).map_err(|e| {
                fail(format!(
                    "cannot read the password file {file} (OFFBOARD_JOURNAL_PASSWORD_FILE): {e}"
                ))
            })?;
            config.password(password.trim_end_matches(['\r', '\n']));
        }
    }
    if let Some(password) = config.get_password() {
        crate::redact::register(&String::from_utf8_lossy(password));
    }
    Ok(config)
}

/// Connect with `config`; errors name the server, never the password.
pub fn connect_with(config: &postgres::Config, location: &str) -> Result<Client, JournalError> {
    config.connect(NoTls).map_err(|e| JournalError::Postgres {
        location: location.to_string(),
        message: crate::redact::redact(&e.to_string()).into_owned(),
    })
}

impl PgStore {
    /// Connect to the journal database at `url` (TLS is not negotiated: use a local socket,
    /// a tunnel, or a server on the runner's network).
    pub fn connect(url: &str) -> Result<PgStore, JournalError> {
        let location = without_password(url);
        let client = connect_with(&config(url)?, &location)?;
        Ok(PgStore {
            client: RefCell::new(client),
            location,
        })
    }

    fn error(&self, e: postgres::Error) -> JournalError {
        JournalError::Postgres {
            location: self.location.clone(),
            message: crate::redact::redact(&e.to_string()).into_owned(),
        }
    }

    /// Whether the journal's tables exist, and if so that their schema is one this offboard
    /// knows.
    pub fn has_schema(&self) -> Result<bool, JournalError> {
        let mut c = self.client.borrow_mut();
        let exists: bool = c
            .query_one("SELECT to_regclass('offboard_schema') IS NOT NULL", &[])
            .map_err(|e| self.error(e))?
            .get(0);
        if !exists {
            return Ok(false);
        }
        let version: i32 = c
            .query_one("SELECT max(version) FROM offboard_schema", &[])
            .map_err(|e| self.error(e))?
            .get(0);
        if version > SCHEMA_VERSION {
            return Err(JournalError::Postgres {
                location: self.location.clone(),
                message: format!(
                    "the journal's schema is version {version}, newer than this offboard's {SCHEMA_VERSION}; upgrade offboard"
                ),
            });
        }
        Ok(true)
    }

    /// Create the tables (`offboard journal init`), idempotently and in one transaction.
    pub fn create_schema(&self) -> Result<(), JournalError> {
        let mut c = self.client.borrow_mut();
        let mut sql = String::from(
            "BEGIN;
             CREATE TABLE IF NOT EXISTS offboard_schema (version INTEGER NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now());",
        );
        for t in Table::ALL {
            sql.push_str(&format!(
                "CREATE TABLE IF NOT EXISTS {} (seq BIGINT PRIMARY KEY, kind TEXT NOT NULL, at TEXT NOT NULL, body TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);",
                t.name()
            ));
        }
        sql.push_str(&format!(
            "INSERT INTO offboard_schema (version) SELECT {SCHEMA_VERSION} WHERE NOT EXISTS (SELECT 1 FROM offboard_schema WHERE version = {SCHEMA_VERSION});
             COMMIT;"
        ));
        c.batch_execute(&sql).map_err(|e| self.error(e))
    }

    /// The newest record's sequence number and hash.
    pub fn head(&self) -> Result<Option<(i64, String)>, JournalError> {
        head_of(&mut *self.client.borrow_mut()).map_err(|e| self.error(e))
    }

    /// Kind, body and hash of record 1, when it is in `runs`.
    pub fn first_run(&self) -> Result<Option<(String, String, String)>, JournalError> {
        let row = self
            .client
            .borrow_mut()
            .query_opt("SELECT kind, body, hash FROM runs WHERE seq = 1", &[])
            .map_err(|e| self.error(e))?;
        Ok(row.map(|r| (r.get(0), r.get(1), r.get(2))))
    }

    pub fn hash_at(&self, seq: i64) -> Result<Option<String>, JournalError> {
        let mut c = self.client.borrow_mut();
        for t in Table::ALL {
            let row = c
                .query_opt(
                    &format!("SELECT hash FROM {} WHERE seq = $1", t.name()),
                    &[&seq],
                )
                .map_err(|e| self.error(e))?;
            if let Some(row) = row {
                return Ok(Some(row.get(0)));
            }
        }
        Ok(None)
    }

    /// Every record of every table, in sequence order.
    pub fn records(&self) -> Result<Vec<StoredRecord>, JournalError> {
        let mut c = self.client.borrow_mut();
        let mut out = Vec::new();
        for table in Table::ALL {
            let rows = c
                .query(
                    &format!(
                        "SELECT seq, kind, at, body, prev_hash, hash FROM {} ORDER BY seq",
                        table.name()
                    ),
                    &[],
                )
                .map_err(|e| self.error(e))?;
            out.extend(rows.into_iter().map(|r| StoredRecord {
                seq: r.get(0),
                table,
                kind: r.get(1),
                at: r.get(2),
                body: r.get(3),
                prev_hash: r.get(4),
                hash: r.get(5),
            }));
        }
        out.sort_by_key(|r| r.seq);
        Ok(out)
    }

    /// Append encoded records after the head, in one transaction serialised with every
    /// other appender's; their sequence numbers.
    pub fn append(
        &self,
        records: &[(Table, &'static str, String)],
        at: &str,
    ) -> Result<Vec<i64>, JournalError> {
        let mut c = self.client.borrow_mut();
        let mut tx = c.transaction().map_err(|e| self.error(e))?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&APPEND_LOCK])
            .map_err(|e| self.error(e))?;
        let (mut seq, mut prev) = head_of(&mut tx)
            .map_err(|e| self.error(e))?
            .unwrap_or((0, super::GENESIS.to_string()));
        // Hash every record first, then one multi-row INSERT per table: a group commit of
        // many records costs a handful of round trips, not one per record.
        let mut seqs = Vec::with_capacity(records.len());
        let mut rows: Vec<(Table, i64, &str, &str, String, String)> = Vec::new();
        for (table, kind, body) in records {
            seq += 1;
            let hash = super::record_hash(seq, *table, kind, at, body, &prev);
            rows.push((
                *table,
                seq,
                kind,
                body,
                std::mem::replace(&mut prev, hash.clone()),
                hash,
            ));
            seqs.push(seq);
        }
        for table in Table::ALL {
            let mine: Vec<&(Table, i64, &str, &str, String, String)> =
                rows.iter().filter(|r| r.0 == table).collect();
            if mine.is_empty() {
                continue;
            }
            let mut sql = format!(
                "INSERT INTO {} (seq, kind, at, body, prev_hash, hash) VALUES ",
                table.name()
            );
            let mut params: Vec<&(dyn postgres::types::ToSql + Sync)> = Vec::new();
            for (n, (_, seq, kind, body, prev, hash)) in mine.iter().enumerate() {
                let base = n * 6;
                if n > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!(
                    "(${}, ${}, ${}, ${}, ${}, ${})",
                    base + 1,
                    base + 2,
                    base + 3,
                    base + 4,
                    base + 5,
                    base + 6
                ));
                params.extend_from_slice(&[seq, kind, &at, body, prev, hash]);
            }
            tx.execute(&sql, &params).map_err(|e| self.error(e))?;
        }
        tx.commit().map_err(|e| self.error(e))?;
        Ok(seqs)
    }
}

impl PgStore {
    /// Insert `records` exactly as they are, in one transaction (`journal migrate`).
    pub fn import(&self, records: &[StoredRecord]) -> Result<(), JournalError> {
        let mut c = self.client.borrow_mut();
        let mut tx = c.transaction().map_err(|e| self.error(e))?;
        for r in records {
            tx.execute(
                &format!(
                    "INSERT INTO {} (seq, kind, at, body, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6)",
                    r.table.name()
                ),
                &[&r.seq, &r.kind, &r.at, &r.body, &r.prev_hash, &r.hash],
            )
            .map_err(|e| self.error(e))?;
        }
        tx.commit().map_err(|e| self.error(e))
    }
}

/// The newest record of each table by primary key (an index lookup each), then the newest of
/// those: the head of the chain, in one round trip.
fn head_of(c: &mut impl postgres::GenericClient) -> Result<Option<(i64, String)>, postgres::Error> {
    let parts: Vec<String> = Table::ALL
        .iter()
        .map(|t| {
            format!(
                "(SELECT seq, hash FROM {} ORDER BY seq DESC LIMIT 1)",
                t.name()
            )
        })
        .collect();
    let row = c.query_opt(
        &format!("{} ORDER BY seq DESC LIMIT 1", parts.join(" UNION ALL ")),
        &[],
    )?;
    Ok(row.map(|r| (r.get(0), r.get(1))))
}

#[cfg(test)]
mod tests {
    #[test]
    fn messages_never_carry_the_password() {
        assert_eq!(
            super::without_password("postgres://offboard:s3cret@db.internal:5432/journal"),
            "postgres://offboard@db.internal:5432/journal"
        );
        assert_eq!(
            super::without_password("postgres://db.internal/journal"),
            "postgres://db.internal/journal"
        );
    }
}
