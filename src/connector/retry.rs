//! Retrying: a wrapper that retries any connector's temporary errors.
//!
//! Exponential backoff with jitter and a cap, honouring `Retry-After` when the remote sent
//! one. Permanent errors are returned at once: retrying a revoked token only delays the
//! report. Connectors themselves never loop.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use backon::{ExponentialBuilder, Retryable};

use super::{Account, Conditional, Connector, ConnectorError, ErrorKind, Lookup, Restore};
use crate::policy::Action;

#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub min_delay: Duration,
    pub max_delay: Duration,
    /// Retries after the first attempt.
    pub max_retries: usize,
    /// Longest `Retry-After` honoured; longer waits fail the attempt instead of stalling apply.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            min_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
            max_retries: 5,
            max_retry_after: Duration::from_secs(120),
        }
    }
}

pub struct Retrying<C> {
    inner: C,
    policy: RetryPolicy,
}

impl<C: Connector> Retrying<C> {
    pub fn new(inner: C, policy: RetryPolicy) -> Self {
        Retrying { inner, policy }
    }

    fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_min_delay(self.policy.min_delay)
            .with_max_delay(self.policy.max_delay)
            .with_max_times(self.policy.max_retries)
            .with_jitter()
    }

    /// Run `op` with retries; `op` returns its result and the calls it made. Returns the
    /// final result and the calls made in all.
    async fn run<T, F, Fut>(&self, op: F) -> (Result<T, ConnectorError>, u32)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = (Result<T, ConnectorError>, u32)>,
    {
        let calls = AtomicU32::new(0);
        let max_after = self.policy.max_retry_after;
        let mut op = op;
        let result = (|| {
            let attempt = op();
            let calls = &calls;
            async move {
                let (result, n) = attempt.await;
                calls.fetch_add(n, Ordering::SeqCst);
                result
            }
        })
        .retry(self.backoff())
        .when(|e: &ConnectorError| {
            e.kind == ErrorKind::Temporary
                && e.retry_after
                    .is_none_or(|s| Duration::from_secs(s) <= max_after)
        })
        .adjust(|e: &ConnectorError, delay| match (e.retry_after, delay) {
            // Never retry sooner than the remote asked; `None` delay means retries are spent.
            (Some(s), Some(d)) => Some(d.max(Duration::from_secs(s))),
            (_, d) => d,
        })
        .await;
        (result, calls.load(Ordering::SeqCst))
    }
}

#[async_trait]
impl<C: Connector> Connector for Retrying<C> {
    fn system(&self) -> &str {
        self.inner.system()
    }
    fn capabilities(&self) -> Vec<Action> {
        self.inner.capabilities()
    }
    async fn list_accounts(&self) -> Result<Vec<Account>, ConnectorError> {
        self.run(|| async { (self.inner.list_accounts().await, 1) })
            .await
            .0
    }
    async fn read_account(&self, id: &str) -> Result<Option<Account>, ConnectorError> {
        self.read_counted(id).await.0
    }
    async fn find_accounts(
        &self,
        lookups: &[Lookup],
    ) -> Result<Option<Vec<Account>>, ConnectorError> {
        self.run(|| async { (self.inner.find_accounts(lookups).await, 1) })
            .await
            .0
    }
    async fn perform(&self, id: &str, action: Action) -> Result<(), ConnectorError> {
        self.perform_counted(id, action).await.0
    }
    /// One attempt, never retried: if the response is lost after the write happened, a
    /// retry would meet our own new version and report `Changed`, hiding that offboard made
    /// the change. The caller falls back to its ordinary, retried path instead.
    async fn perform_if_unchanged(
        &self,
        id: &str,
        action: Action,
        version: &str,
    ) -> Result<Conditional, ConnectorError> {
        self.inner.perform_if_unchanged(id, action, version).await
    }
    async fn hand_off(&self, id: &str, to: &str) -> Result<(), ConnectorError> {
        self.hand_off_counted(id, to).await.0
    }
    async fn restore(&self, id: &str, restore: &Restore) -> Result<(), ConnectorError> {
        self.restore_counted(id, restore).await.0
    }
    async fn hand_off_counted(&self, id: &str, to: &str) -> (Result<(), ConnectorError>, u32) {
        self.run(|| self.inner.hand_off_counted(id, to)).await
    }
    async fn read_counted(&self, id: &str) -> (Result<Option<Account>, ConnectorError>, u32) {
        self.run(|| self.inner.read_counted(id)).await
    }
    async fn perform_counted(&self, id: &str, action: Action) -> (Result<(), ConnectorError>, u32) {
        self.run(|| self.inner.perform_counted(id, action)).await
    }
    async fn restore_counted(
        &self,
        id: &str,
        restore: &Restore,
    ) -> (Result<(), ConnectorError>, u32) {
        self.run(|| self.inner.restore_counted(id, restore)).await
    }
}
