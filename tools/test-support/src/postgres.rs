//! A real PostgreSQL server (Debian's `postgresql` package) started as a plain process for
//! one test: `initdb` into a temporary directory, then `postgres` on a free port of
//! 127.0.0.1, with password authentication for a role that owns one database. PostgreSQL
//! refuses to run as root, so under root (CI containers) both run as the `postgres` system
//! user the package creates. Stopped (fast shutdown) on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::servers::{start_with_retries, stop, wait_listening};

pub const PG_USER: &str = "offboard";
pub const PG_PASSWORD: &str = "pg-journal-secret-81f2";
pub const PG_DATABASE: &str = "journal";

/// A private PostgreSQL server; `url()` is the connection string offboard is given.
pub struct Postgres {
    child: Option<Child>,
    pub port: u16,
    _dir: tempfile::TempDir,
}

/// The directory of PostgreSQL's programs: `OFFBOARD_PG_BIN`, or the newest Debian install.
fn bin_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("OFFBOARD_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
                .filter(|p| p.join("postgres").exists())
                .collect()
        })
        .unwrap_or_default();
    versions.sort();
    versions.pop().unwrap_or_else(|| {
        panic!("PostgreSQL not found under /usr/lib/postgresql: run `bash tests/run.sh` (it installs Debian's postgresql)")
    })
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// `program args...`, as the `postgres` system user when we are root.
fn command(program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

impl Postgres {
    /// Start a fresh server; panics with the reason if three attempts fail.
    pub fn start() -> Postgres {
        start_with_retries("postgres", Postgres::try_start)
    }

    fn try_start(port: u16) -> Result<Postgres, String> {
        let bin = bin_dir();
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let data = dir.path().join("data");
        let password_file = dir.path().join("pw");
        std::fs::write(&password_file, PG_PASSWORD).map_err(|e| e.to_string())?;
        if is_root() {
            // The server's files belong to the user it runs as.
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .map_err(|e| e.to_string())?;
            if !status.success() {
                return Err(format!("chown of {} failed", dir.path().display()));
            }
        }
        let out = command(&bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-U", PG_USER, "--auth=scram-sha-256", "--no-sync"])
            .arg(format!("--pwfile={}", password_file.display()))
            .output()
            .map_err(|e| format!("initdb could not run: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "initdb failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        // The server's log goes to a file: a pipe nobody reads would fill and stall it.
        let log_path = dir.path().join("postgres.log");
        let log = std::fs::File::create(&log_path).map_err(|e| e.to_string())?;
        let mut child = command(&bin.join("postgres"))
            .arg("-D")
            .arg(&data)
            .args(["-h", "127.0.0.1", "-p", &port.to_string()])
            .arg("-k")
            .arg(dir.path())
            .args(["-c", "fsync=off", "-c", "max_connections=50"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("postgres could not run: {e}"))?;
        if let Err(e) = wait_listening(&mut child, port, "postgres") {
            stop(child);
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            return Err(format!("{e}\n{log}"));
        }
        let server = Postgres {
            child: Some(child),
            port,
            _dir: dir,
        };
        // One database for the journal, created through the server itself (the check that it
        // accepts password logins, too); the server may still be starting up.
        let mut last = String::new();
        for _ in 0..50 {
            match postgres::Client::connect(&server.url_of("postgres"), postgres::NoTls) {
                Ok(mut client) => {
                    client
                        .batch_execute(&format!("CREATE DATABASE {PG_DATABASE}"))
                        .map_err(|e| format!("CREATE DATABASE failed: {e}"))?;
                    return Ok(server);
                }
                Err(e) => last = e.to_string(),
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        Err(format!("postgres did not accept a login: {last}"))
    }

    fn url_of(&self, database: &str) -> String {
        format!(
            "postgres://{PG_USER}:{PG_PASSWORD}@127.0.0.1:{}/{database}",
            self.port
        )
    }

    /// The connection string of the journal database, password included.
    pub fn url(&self) -> String {
        self.url_of(PG_DATABASE)
    }

    /// A further empty database `name` on this server; its connection string.
    pub fn database(&self, name: &str) -> String {
        let mut client = postgres::Client::connect(&self.url_of("postgres"), postgres::NoTls)
            .expect("the server accepts logins");
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("CREATE DATABASE");
        self.url_of(name)
    }

    /// The connection string without the password (offboard reads it from the environment).
    pub fn url_without_password(&self) -> String {
        format!("postgres://{PG_USER}@127.0.0.1:{}/{PG_DATABASE}", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Some(child) = self.child.take() {
            // SIGINT: PostgreSQL's fast shutdown (SIGKILL would leave shared memory behind).
            // SAFETY: signalling our own child process.
            unsafe {
                libc::kill(child.id() as i32, libc::SIGINT);
            }
            let mut child = child;
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while std::time::Instant::now() < deadline {
                if matches!(child.try_wait(), Ok(Some(_))) {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            stop(child);
        }
    }
}
