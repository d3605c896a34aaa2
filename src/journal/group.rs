//! Group commit: many concurrent changes share one journal, and one fsync per batch.
//!
//! Apply journals an intent before touching a system and a result after, each durable
//! before the change proceeds. Committing every record on its own costs an fsync each, and
//! at dozens of changes in flight the journal, not the systems, set the pace. A writer
//! thread instead takes every record waiting, commits them in one transaction, then wakes
//! each caller: nobody proceeds before their record is on disk, and the fsync is shared.

use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::oneshot;

use super::{Journal, JournalError, Record, Table};

/// One record waiting for the writer, and where to report its sequence number.
struct Pending {
    record: (Table, &'static str, String),
    done: oneshot::Sender<Result<i64, String>>,
}

/// A journal shared by concurrent tasks: async appends are group-committed, and
/// [`SharedJournal::lock`] gives direct access for everything else.
pub struct SharedJournal {
    journal: Arc<Mutex<Journal>>,
    path: String,
    /// `None` only while dropping.
    queue: Option<mpsc::Sender<Pending>>,
    writer: Option<std::thread::JoinHandle<()>>,
}

impl Drop for SharedJournal {
    /// Stop the writer and wait for it, so the journal's last connection is closed (and its
    /// write-ahead log folded into the file) before the process exits: the file alone is
    /// then the complete evidence, ready to be copied.
    fn drop(&mut self) {
        self.queue.take();
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

impl SharedJournal {
    pub fn new(journal: Journal) -> Self {
        let path = journal.path().display().to_string();
        let journal = Arc::new(Mutex::new(journal));
        let (queue, waiting) = mpsc::channel::<Pending>();
        let writer = journal.clone();
        // The writer ends when the last sender (this handle) is dropped.
        let writer = std::thread::spawn(move || {
            while let Ok(first) = waiting.recv() {
                let mut batch = vec![first];
                batch.extend(waiting.try_iter());
                let (records, done): (Vec<_>, Vec<_>) =
                    batch.into_iter().map(|p| (p.record, p.done)).unzip();
                let result = lock(&writer).append_encoded(&records);
                match result {
                    Ok(seqs) => {
                        for (tx, seq) in done.into_iter().zip(seqs) {
                            let _ = tx.send(Ok(seq));
                        }
                    }
                    Err(e) => {
                        let message = e.to_string();
                        for tx in done {
                            let _ = tx.send(Err(message.clone()));
                        }
                    }
                }
            }
        });
        SharedJournal {
            journal,
            path,
            queue: Some(queue),
            writer: Some(writer),
        }
    }

    /// The journal itself, for reads and for records written outside apply's hot path.
    pub fn lock(&self) -> MutexGuard<'_, Journal> {
        lock(&self.journal)
    }

    /// Append one record durably, sharing the commit with whatever else is waiting.
    pub async fn append(&self, record: Record) -> Result<i64, JournalError> {
        let (done, result) = oneshot::channel();
        let pending = Pending {
            record: (record.table(), record.kind(), record.body()?),
            done,
        };
        let failed = |message: String| JournalError::Write {
            path: self.path.clone(),
            message,
        };
        self.queue
            .as_ref()
            .ok_or_else(|| failed("the journal writer stopped".into()))?
            .send(pending)
            .map_err(|_| failed("the journal writer stopped".into()))?;
        match result.await {
            Ok(Ok(seq)) => Ok(seq),
            Ok(Err(message)) => Err(failed(message)),
            Err(_) => Err(failed("the journal writer stopped".into())),
        }
    }
}

/// A poisoned lock means a panic elsewhere mid-append; SQLite rolled that transaction back,
/// so the journal itself is consistent.
fn lock(journal: &Mutex<Journal>) -> MutexGuard<'_, Journal> {
    journal.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Many tasks appending at once: every record gets its own sequence number, in one
    /// unbroken chain, and the batches really share commits.
    #[test]
    fn concurrent_appends_form_one_verified_chain() {
        let dir = tempfile::tempdir().unwrap();
        let shared = Arc::new(SharedJournal::new(
            Journal::create(&dir.path().join("j.db"), "test", "localhost").unwrap(),
        ));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        let seqs: Vec<i64> = rt.block_on(async {
            let tasks: Vec<_> = (0..200)
                .map(|i| {
                    let shared = shared.clone();
                    tokio::spawn(async move {
                        let done = super::super::TaskDone {
                            task_id: format!("t{i}"),
                            by: "test".into(),
                            note: String::new(),
                            closed_at: jiff::Timestamp::UNIX_EPOCH,
                        };
                        shared.append(Record::TaskDone(done)).await.unwrap()
                    })
                })
                .collect();
            let mut seqs = Vec::new();
            for t in tasks {
                seqs.push(t.await.unwrap());
            }
            seqs
        });
        let mut sorted = seqs.clone();
        sorted.sort_unstable();
        // Record 1 is the journal's lineage; the 200 appends follow it without a gap.
        assert_eq!(sorted, (2..=201).collect::<Vec<i64>>());
        let journal = shared.lock();
        assert!(journal.verify().unwrap().ok());
        assert_eq!(journal.records().unwrap().len(), 201);
    }
}
