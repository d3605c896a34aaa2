//! `offboard journal migrate FROM TO`: copy a journal between backends (a SQLite file into
//! PostgreSQL when a team moves to a shared journal, and back), record for record.
//!
//! Records are copied verbatim (sequence number, table, kind, time, body, previous hash,
//! hash), so the copy *is* the same chain: its lineage, head and every hash are those of the
//! original, and plans made against one are accepted by the other. A source that does not
//! verify is refused (a broken chain must stay where the damage can be examined), the target
//! must hold no record, and the copy is verified and compared with the source before it
//! counts as done.

use rusqlite::params;

use super::{Backend, Journal, JournalError, Location, StoredRecord};

/// What a migration copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migrated {
    pub records: usize,
    pub head: Option<String>,
}

/// Copy the journal at `from` into the empty journal location `to`.
pub fn migrate(from: &Location, to: &Location) -> Result<Migrated, JournalError> {
    let source = from.open_read_only()?;
    let records = source.records()?;
    let verification = super::verify_records(&records);
    if !verification.ok() {
        return Err(JournalError::Write {
            path: from.to_string(),
            message: format!(
                "the journal fails verification and is not copied: {}",
                verification.problems.join("; ")
            ),
        });
    }
    let mut target = Journal::create_empty(to)?;
    target.import(&records)?;
    let copied = to.open_read_only()?.records()?;
    if copied != records {
        return Err(JournalError::Write {
            path: to.to_string(),
            message: "the copy differs from the journal it was made from".into(),
        });
    }
    Ok(Migrated {
        records: records.len(),
        head: records.last().map(|r| r.hash.clone()),
    })
}

impl Journal {
    /// Insert `records` exactly as they are, in one transaction.
    fn import(&mut self, records: &[StoredRecord]) -> Result<(), JournalError> {
        let path = self.path.display().to_string();
        match &mut self.backend {
            Backend::Sqlite(conn) => {
                let sql = |source| JournalError::Sql {
                    path: path.clone(),
                    source,
                };
                let tx = conn.transaction().map_err(sql)?;
                for r in records {
                    tx.execute(
                        &format!(
                            "INSERT INTO {} (seq, kind, at, body, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                            r.table.name()
                        ),
                        params![r.seq, r.kind, r.at, r.body, r.prev_hash, r.hash],
                    )
                    .map_err(sql)?;
                }
                tx.commit().map_err(sql)
            }
            Backend::Postgres(pg) => pg.import(records),
        }
    }
}
