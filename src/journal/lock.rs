//! One apply at a time per journal: an exclusive OS file lock beside the database.
//!
//! The lock file also says who holds it and since when, so a second apply that gives up can
//! tell its operator whom to ask. The OS releases the lock if the holder dies (even SIGKILL).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another apply holds the journal lock ({holder}); waited {waited:?}")]
    Busy { holder: String, waited: Duration },
    #[error("cannot use lock file {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// Held until dropped.
pub struct JournalLock {
    file: File,
    path: PathBuf,
}

impl JournalLock {
    /// Take the lock for `journal`, waiting up to `timeout`; `holder` describes us.
    pub fn acquire(
        journal: &Path,
        holder: &str,
        timeout: Duration,
    ) -> Result<JournalLock, LockError> {
        let mut path = journal.as_os_str().to_owned();
        path.push(".lock");
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
        Ok(JournalLock { file, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for JournalLock {
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}
