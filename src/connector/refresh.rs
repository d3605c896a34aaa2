//! Refreshing live state: every system's accounts, read concurrently, into one snapshot.
//!
//! The snapshot ([`Observed`]) is the planner's only view of the world, so it records for
//! each system either its accounts (with a fingerprint of the whole list) or the error that
//! prevented reading them. A failing system never hides the others' results.

use std::collections::BTreeMap;
use std::path::Path;

use futures::future::join_all;
use serde::{Deserialize, Serialize};

use super::{Account, Connector, ConnectorError};
use crate::policy::{Policy, System};

/// What one system looked like when it was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemSnapshot {
    /// The accounts, sorted by id: all of them, or those a [`Keep`] filter kept.
    pub accounts: Vec<Account>,
    /// How many accounts the system reported (kept or not).
    pub total: usize,
    /// Digest of the whole account list.
    pub fingerprint: String,
}

/// Which accounts of a system a refresh keeps in memory. A plan needs only the accounts
/// that can change or be noted, an audit only those that can yield a finding; at a million
/// accounts, keeping the rest would cost more memory than everything else together.
pub type Keep<'k> = dyn Fn(&System, &Account) -> bool + Sync + 'k;

impl SystemSnapshot {
    /// Every account, sorted and fingerprinted.
    pub fn new(accounts: Vec<Account>) -> Self {
        let (accounts, fingerprint) = sort_and_fingerprint(accounts);
        Self::from_sorted(accounts, fingerprint, &|_| true)
    }

    /// Keep the accounts `keep` selects from a list [`sort_and_fingerprint`] prepared.
    fn from_sorted(
        mut accounts: Vec<Account>,
        fingerprint: String,
        keep: &(dyn Fn(&Account) -> bool + Sync),
    ) -> Self {
        let total = accounts.len();
        // Deciding what to keep means correlating every account (hash lookups that mostly
        // miss the cache); large systems are split across two threads.
        let flags: Vec<bool> = if total >= 20_000 {
            let (left, right) = accounts.split_at(total / 2);
            std::thread::scope(|s| {
                let right = s.spawn(|| right.iter().map(keep).collect::<Vec<bool>>());
                let mut flags: Vec<bool> = left.iter().map(keep).collect();
                // A panic in `keep` is a bug; re-raise it rather than lose accounts.
                match right.join() {
                    Ok(r) => flags.extend(r),
                    Err(panic) => std::panic::resume_unwind(panic),
                }
                flags
            })
        } else {
            accounts.iter().map(keep).collect()
        };
        let mut flag = flags.into_iter();
        accounts.retain(|_| flag.next().unwrap_or(true));
        accounts.shrink_to_fit();
        SystemSnapshot {
            accounts,
            total,
            fingerprint,
        }
    }
}

/// Sort by id (the same live state always gives the same plan, byte for byte) and digest
/// the whole list.
fn sort_and_fingerprint(mut accounts: Vec<Account>) -> (Vec<Account>, String) {
    accounts.sort_unstable_by(|a, b| a.id.cmp(&b.id));
    let mut h = blake3::Hasher::new();
    let mut bytes = Vec::with_capacity(1 << 17);
    for a in &accounts {
        a.digest_into(&mut bytes);
        if bytes.len() >= 1 << 16 {
            h.update(&bytes);
            bytes.clear();
        }
    }
    h.update(&bytes);
    (accounts, h.finalize().to_hex()[..16].to_string())
}

/// Live state of every system with accounts; manual lanes have none.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub systems: BTreeMap<String, SystemSnapshot>,
    pub failures: BTreeMap<String, ConnectorError>,
}

/// Read every non-manual system concurrently; `on_done` is called as each finishes.
pub async fn refresh(policy: &Policy, root: &Path, on_done: &(dyn Fn(&str) + Sync)) -> Observed {
    refresh_keeping(policy, root, on_done, &|_, _| true).await
}

/// [`refresh`], keeping only the accounts `keep` selects (each system is still read and
/// fingerprinted whole). Systems are filtered as they arrive, so full account lists live only
/// between being read and being filtered (file exports are parsed one per core at a time).
/// The filter runs on this task: while it runs, other systems' reads wait to be polled,
/// which costs them milliseconds, well inside any timeout.
pub async fn refresh_keeping(
    policy: &Policy,
    root: &Path,
    on_done: &(dyn Fn(&str) + Sync),
    keep: &Keep<'_>,
) -> Observed {
    let tasks = policy.systems.iter().filter_map(|system| {
        let connector = system.connector()?.connect(system.name(), root);
        let name = system.name().to_string();
        Some(async move {
            let result = match connector {
                // Reads are retried like writes: a rate limit must not fail a whole plan.
                Ok(c) => {
                    let c: std::sync::Arc<dyn Connector> = std::sync::Arc::from(c);
                    super::retry::Retrying::new(c, super::retry::RetryPolicy::default())
                        .list_accounts()
                        .await
                }
                Err(e) => Err(e),
            };
            let result = match result {
                // Sorting and hashing need no policy: they run on the blocking pool, in
                // parallel with other systems' work.
                Ok(accounts) => {
                    match tokio::task::spawn_blocking(move || sort_and_fingerprint(accounts)).await
                    {
                        Ok((accounts, fingerprint)) => {
                            Ok(SystemSnapshot::from_sorted(accounts, fingerprint, &|a| {
                                keep(system, a)
                            }))
                        }
                        Err(e) => Err(ConnectorError::permanent(
                            &name,
                            format!("reading the accounts failed: {e}"),
                        )),
                    }
                }
                Err(e) => Err(e),
            };
            on_done(&name);
            (name, result)
        })
    });
    let mut observed = Observed::default();
    for (name, result) in join_all(tasks).await {
        match result {
            Ok(snapshot) => {
                observed.systems.insert(name, snapshot);
            }
            Err(e) => {
                observed.failures.insert(name, e);
            }
        }
    }
    observed
}
