//! One apply at a time per journal: an exclusive OS file lock beside a SQLite journal, or a
//! PostgreSQL session advisory lock in the journal's database.
//!
//! Either says who holds it and since when (the lock file's content; the holding session's
//! `application_name` and start), so a second apply that gives up can tell its operator whom
//! to ask. The lock is released if the holder dies, even by SIGKILL: the OS closes the file,
//! the server ends the session.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::Location;

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another process holds the journal lock ({holder}); waited {waited:?}")]
    Busy { holder: String, waited: Duration },
    #[error("cannot use lock file {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Journal(#[from] super::JournalError),
}

/// What a lock is for: each purpose is a lock of its own, so a `serve` instance (which holds
/// its lock for as long as it runs) can still take the apply lock for each run it makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockPurpose {
    /// One apply (or rollback) at a time.
    Apply,
    /// One `offboard serve` acting on the journal at a time.
    Serve,
    /// One sender of notifications at a time (a message is never sent twice at once).
    Notify,
}

impl LockPurpose {
    fn file_suffix(self) -> &'static str {
        match self {
            LockPurpose::Apply => ".lock",
            LockPurpose::Serve => ".serve.lock",
            LockPurpose::Notify => ".notify.lock",
        }
    }

    fn advisory_key(self) -> i64 {
        match self {
            LockPurpose::Apply => super::postgres::APPLY_LOCK,
            LockPurpose::Serve => super::postgres::APPLY_LOCK + 1,
            LockPurpose::Notify => super::postgres::APPLY_LOCK + 2,
        }
    }

    fn verb(self) -> &'static str {
        match self {
            LockPurpose::Apply => "apply",
            LockPurpose::Serve => "serve",
            LockPurpose::Notify => "notify",
        }
    }
}

/// Held until dropped.
pub struct JournalLock {
    held: Held,
    key: i64,
}

enum Held {
    File(File),
    /// The session holding the advisory lock.
    Postgres(Box<postgres::Client>),
}

impl JournalLock {
    /// Take the lock for `journal`, waiting up to `timeout`; `holder` describes us.
    pub fn acquire(
        journal: &Location,
        holder: &str,
        timeout: Duration,
    ) -> Result<JournalLock, LockError> {
        JournalLock::acquire_for(LockPurpose::Apply, journal, holder, timeout)
    }

    /// Take the lock for `purpose`.
    pub fn acquire_for(
        purpose: LockPurpose,
        journal: &Location,
        holder: &str,
        timeout: Duration,
    ) -> Result<JournalLock, LockError> {
        match journal {
            Location::File(path) => JournalLock::acquire_file(purpose, path, holder, timeout),
            Location::Postgres(url) => JournalLock::acquire_postgres(purpose, url, holder, timeout),
        }
    }

    fn acquire_postgres(
        purpose: LockPurpose,
        url: &str,
        holder: &str,
        timeout: Duration,
    ) -> Result<JournalLock, LockError> {
        use super::postgres::{config, connect_with, without_password};
        let key = purpose.advisory_key();
        let location = without_password(url);
        let pg = |e: postgres::Error| {
            LockError::Journal(super::JournalError::Postgres {
                location: location.clone(),
                message: crate::redact::redact(&e.to_string()).into_owned(),
            })
        };
        let mut config = config(url)?;
        // Who holds the lock is the session's name, as other sessions see it (at most 63
        // bytes: PostgreSQL's limit).
        let mut name = format!(
            "offboard {}: {holder}, pid {}",
            purpose.verb(),
            std::process::id()
        );
        while name.len() > 63 {
            name.pop();
        }
        config.application_name(&name);
        let mut client = connect_with(&config, &location)?;
        let start = Instant::now();
        loop {
            let got: bool = client
                .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
                .map_err(pg)?
                .get(0);
            if got {
                return Ok(JournalLock {
                    held: Held::Postgres(Box::new(client)),
                    key,
                });
            }
            if start.elapsed() >= timeout {
                let row = client
                    .query_opt(
                        "SELECT a.application_name || ', since ' || a.backend_start::text
                         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                         WHERE l.locktype = 'advisory' AND l.granted
                           AND ((l.classid::bigint << 32) | l.objid::bigint) = $1
                         LIMIT 1",
                        &[&key],
                    )
                    .map_err(pg)?;
                return Err(LockError::Busy {
                    holder: row
                        .and_then(|r| r.get::<_, Option<String>>(0))
                        .unwrap_or_else(|| "unknown holder".into()),
                    waited: start.elapsed(),
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn acquire_file(
        purpose: LockPurpose,
        journal: &Path,
        holder: &str,
        timeout: Duration,
    ) -> Result<JournalLock, LockError> {
        let mut path = journal.as_os_str().to_owned();
        path.push(purpose.file_suffix());
        let path = PathBuf::from(path);
        let io = |source| LockError::Io {
            path: path.display().to_string(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        let start = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) => {
                    if start.elapsed() >= timeout {
                        let mut holder = String::new();
                        let _ = file.seek(SeekFrom::Start(0));
                        let _ = file.read_to_string(&mut holder);
                        let holder = holder.trim();
                        return Err(LockError::Busy {
                            holder: if holder.is_empty() {
                                "unknown holder".into()
                            } else {
                                holder.to_string()
                            },
                            waited: start.elapsed(),
                        });
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
            }
        }
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        write!(
            file,
            "{holder}, pid {}, since {}",
            std::process::id(),
            jiff::Timestamp::now()
        )
        .map_err(io)?;
        file.flush().map_err(io)?;
        Ok(JournalLock {
            held: Held::File(file),
            key: purpose.advisory_key(),
        })
    }
}

impl Drop for JournalLock {
    fn drop(&mut self) {
        match &mut self.held {
            Held::File(file) => {
                let _ = file.set_len(0);
                let _ = file.unlock();
            }
            // Ending the session would release it too; this says so at once.
            Held::Postgres(client) => {
                let _ = client.execute("SELECT pg_advisory_unlock($1)", &[&self.key]);
            }
        }
    }
}
