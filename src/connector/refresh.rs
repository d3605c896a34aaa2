//! Refreshing live state: every system's accounts, read concurrently, into one snapshot.
//!
//! The snapshot ([`Observed`]) is the planner's only view of the world, so it records for
//! each system either its accounts (with a fingerprint of the whole list) or the error that
//! prevented reading them. A failing system never hides the others' results.

use std::collections::BTreeMap;
use std::path::Path;

use futures::future::join_all;
use serde::{Deserialize, Serialize};

use super::{Account, Connector, ConnectorError, Lookup};
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
    /// Read by a targeted lookup ([`refresh_targeted`]): `accounts` and `total` cover only the
    /// people looked up, so nothing can be said about the system's other accounts (orphans,
    /// disputes, its size).
    #[serde(default)]
    pub targeted: bool,
}

/// Which accounts of a system a refresh keeps in memory. A plan needs only the accounts
/// that can change or be noted, an audit only those that can yield a finding; at a million
/// accounts, keeping the rest would cost more memory than everything else together.
pub type Keep<'k> = dyn Fn(&System, &Account) -> bool + Sync + 'k;

/// What a targeted read looks up in each system (see [`super::lookup::lookups_for`]).
pub type Lookups<'l> = dyn Fn(&System) -> Vec<Lookup> + Sync + 'l;

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
            targeted: false,
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
    refresh_with(policy, root, on_done, keep, None).await
}

/// A targeted read (see [`super::lookup`]): every system is asked for the accounts that have
/// the values `lookups` gives for it, and only a system whose connector cannot look up by
/// them is listed whole. The snapshots of targeted systems are marked so. `keep` applies to
/// both.
pub async fn refresh_targeted(
    policy: &Policy,
    root: &Path,
    on_done: &(dyn Fn(&str) + Sync),
    keep: &Keep<'_>,
    lookups: &Lookups<'_>,
) -> Observed {
    refresh_with(policy, root, on_done, keep, Some(lookups)).await
}

/// What one system's read returned.
enum Read {
    Full(Vec<Account>),
    Targeted(Vec<Account>),
}

async fn refresh_with(
    policy: &Policy,
    root: &Path,
    on_done: &(dyn Fn(&str) + Sync),
    keep: &Keep<'_>,
    lookups: Option<&Lookups<'_>>,
) -> Observed {
    let tasks = policy.systems.iter().filter_map(|system| {
        let connector = system.connector()?.connect(system.name(), root);
        let name = system.name().to_string();
        Some(async move {
            let read = match connector {
                // Reads are retried like writes: a rate limit must not fail a whole plan.
                Ok(c) => {
                    let c: std::sync::Arc<dyn Connector> = std::sync::Arc::from(c);
                    let c = super::retry::Retrying::new(c, super::retry::RetryPolicy::default());
                    read(&c, lookups.map(|f| f(system))).await
                }
                Err(e) => Err(e),
            };
            let result = match read {
                // Sorting and hashing need no policy: they run on the blocking pool, in
                // parallel with other systems' work.
                Ok(read) => {
                    let (accounts, targeted) = match read {
                        Read::Full(accounts) => (accounts, false),
                        Read::Targeted(accounts) => (accounts, true),
                    };
                    match tokio::task::spawn_blocking(move || sort_and_fingerprint(accounts)).await
                    {
                        Ok((accounts, fingerprint)) => {
                            let mut snapshot =
                                SystemSnapshot::from_sorted(accounts, fingerprint, &|a| {
                                    keep(system, a)
                                });
                            snapshot.targeted = targeted;
                            Ok(snapshot)
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

/// A targeted lookup when there are `lookups` and the connector can do it; else a full list.
async fn read(
    connector: &dyn Connector,
    lookups: Option<Vec<Lookup>>,
) -> Result<Read, ConnectorError> {
    if let Some(lookups) = lookups {
        // Nobody to look up: correlation needs a value, so no account can be theirs.
        if lookups.is_empty() {
            return Ok(Read::Targeted(Vec::new()));
        }
        if let Some(mut found) = connector.find_accounts(&lookups).await? {
            // Several lookups (or filter chunks) may find one account.
            found.sort_unstable_by(|a, b| a.id.cmp(&b.id));
            found.dedup_by(|a, b| a.id == b.id);
            return Ok(Read::Targeted(found));
        }
    }
    connector.list_accounts().await.map(Read::Full)
}
