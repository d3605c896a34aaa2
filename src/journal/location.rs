//! Where the journal is: a SQLite file (the default, `.offboard/journal.db`), or a
//! PostgreSQL database named by a connection string (`--journal postgres://...` or
//! `OFFBOARD_JOURNAL`), shared by every runner and server that offboards for one policy.
//!
//! A connection string may leave the password out, and should: it is then read from
//! `PGPASSWORD` or from the file `OFFBOARD_JOURNAL_PASSWORD_FILE` names, never from the
//! policy. Whatever the password's source, it is registered with the redactor, and the
//! location is only ever shown without it.

use std::fmt;
use std::path::{Path, PathBuf};

use super::{Journal, JournalError, postgres};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    File(PathBuf),
    /// A `postgres://` or `postgresql://` connection string, as given.
    Postgres(String),
}

impl Location {
    /// `text` as a location: a connection string, or a path made absolute by `resolve`.
    pub fn parse(text: &str, resolve: impl Fn(&Path) -> PathBuf) -> Location {
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            Location::Postgres(text.to_string())
        } else {
            Location::File(resolve(Path::new(text)))
        }
    }

    /// Whether a journal is there: the file exists, or the database holds the journal's
    /// tables. A database that cannot be reached is an error, never "no journal".
    pub fn exists(&self) -> Result<bool, JournalError> {
        match self {
            Location::File(path) => Ok(path.exists()),
            Location::Postgres(url) => postgres::PgStore::connect(url)?.has_schema(),
        }
    }

    /// Open to append (see [`Journal::open`]).
    pub fn open(&self) -> Result<Journal, JournalError> {
        match self {
            Location::File(path) => Journal::open(path),
            Location::Postgres(url) => Journal::open_postgres(url),
        }
    }

    /// Open to read (see [`Journal::open_read_only`]; a database is read through an ordinary
    /// connection, whose role the documented grants limit to reading and inserting).
    pub fn open_read_only(&self) -> Result<Journal, JournalError> {
        match self {
            Location::File(path) => Journal::open_read_only(path),
            Location::Postgres(url) => Journal::open_postgres(url),
        }
    }

    /// Start a journal here (`offboard journal init`).
    pub fn create(&self, created_by: &str, host: &str) -> Result<Journal, JournalError> {
        match self {
            Location::File(path) => Journal::create(path, created_by, host),
            Location::Postgres(url) => Journal::create_postgres(url, created_by, host),
        }
    }
}

/// No journal named yet (a workspace is given one before use).
impl Default for Location {
    fn default() -> Self {
        Location::File(PathBuf::new())
    }
}

/// The path, or the connection string without its password.
impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File(path) => write!(f, "{}", path.display()),
            Location::Postgres(url) => f.write_str(&postgres::without_password(url)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_strings_and_paths() {
        let resolve = |p: &Path| Path::new("/repo").join(p);
        assert_eq!(
            Location::parse("postgres://ci:pw@db/journal", resolve),
            Location::Postgres("postgres://ci:pw@db/journal".into())
        );
        assert_eq!(
            Location::parse("postgres://ci:pw@db/journal", resolve).to_string(),
            "postgres://ci@db/journal"
        );
        assert_eq!(
            Location::parse("state/journal.db", resolve),
            Location::File("/repo/state/journal.db".into())
        );
    }
}
