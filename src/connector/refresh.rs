//! Refreshing live state: every system's accounts, read concurrently, into one snapshot.
//!
//! The snapshot ([`Observed`]) is the planner's only view of the world, so it records for
//! each system either its accounts (with a fingerprint of the whole list) or the error that
//! prevented reading them. A failing system never hides the others' results.

use std::collections::BTreeMap;
use std::path::Path;

use futures::future::join_all;
use serde::{Deserialize, Serialize};

use super::{Account, Connector, ConnectorError, for_system};
use crate::policy::Policy;

/// What one system looked like when it was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemSnapshot {
    pub accounts: Vec<Account>,
    /// Digest of the whole account list.
    pub fingerprint: String,
}

impl SystemSnapshot {
    pub fn new(mut accounts: Vec<Account>) -> Self {
        // Sorted so that the same live state always gives the same plan, byte for byte.
        accounts.sort_by(|a, b| a.id.cmp(&b.id));
        let mut h = blake3::Hasher::new();
        for a in &accounts {
            h.update(a.fingerprint().as_bytes());
        }
        SystemSnapshot {
            fingerprint: h.finalize().to_hex()[..16].to_string(),
            accounts,
        }
    }
}

/// Live state of every system with accounts; manual lanes have none.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub systems: BTreeMap<String, SystemSnapshot>,
    pub failures: BTreeMap<String, ConnectorError>,
}

/// Read every non-manual system concurrently; `on_done` is called as each finishes.
pub async fn refresh(policy: &Policy, root: &Path, on_done: &(dyn Fn(&str) + Sync)) -> Observed {
    let tasks = policy.systems.iter().filter_map(|system| {
        let connector = for_system(system, root)?;
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
            on_done(&name);
            (name, result)
        })
    });
    let mut observed = Observed::default();
    for (name, result) in join_all(tasks).await {
        match result {
            Ok(accounts) => {
                observed.systems.insert(name, SystemSnapshot::new(accounts));
            }
            Err(e) => {
                observed.failures.insert(name, e);
            }
        }
    }
    observed
}
