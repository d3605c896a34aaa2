//! `FaultInjecting`: a wrapper that makes any connector fail on purpose, for tests.
//!
//! Real servers are used for real behaviour; this exists only to inject what real servers do
//! rarely and unpredictably: temporary errors, rate limits with `Retry-After`, permanent
//! refusals and latency. It is named for what it is so it is never mistaken for a backend.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;

use super::{Account, Conditional, Connector, ConnectorError, Lookup, Restore};
use crate::policy::Action;

/// A scripted fault for the next `perform` calls.
#[derive(Debug, Clone)]
pub enum Fault {
    /// A temporary error (retrying may help).
    Temporary,
    /// HTTP 429 with `Retry-After: seconds`.
    RateLimited { retry_after: u64 },
    /// A permanent error with a remediation hint.
    Permanent { message: String, hint: String },
}

pub struct FaultInjecting<C> {
    inner: C,
    /// Faults consumed one per `perform` call, in order; when empty, calls pass through.
    script: Mutex<VecDeque<Fault>>,
    /// Fail every `perform` with this, forever (a broken system).
    always: Option<Fault>,
    latency: Duration,
    pub calls: std::sync::atomic::AtomicU32,
}

impl<C: Connector> FaultInjecting<C> {
    pub fn new(inner: C) -> Self {
        FaultInjecting {
            inner,
            script: Mutex::new(VecDeque::new()),
            always: None,
            latency: Duration::ZERO,
            calls: Default::default(),
        }
    }

    pub fn then(self, fault: Fault) -> Self {
        if let Ok(mut s) = self.script.lock() {
            s.push_back(fault);
        }
        self
    }

    pub fn always(mut self, fault: Fault) -> Self {
        self.always = Some(fault);
        self
    }

    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    fn error(&self, fault: &Fault) -> ConnectorError {
        let system = self.inner.system();
        match fault {
            Fault::Temporary => {
                ConnectorError::temporary(system, "injected temporary failure (503)")
            }
            Fault::RateLimited { retry_after } => {
                ConnectorError::temporary(system, "injected rate limit (429)")
                    .retry_after(*retry_after)
            }
            Fault::Permanent { message, hint } => {
                ConnectorError::permanent(system, message.clone()).hint(hint.clone())
            }
        }
    }
}

#[async_trait]
impl<C: Connector> Connector for FaultInjecting<C> {
    fn system(&self) -> &str {
        self.inner.system()
    }
    fn capabilities(&self) -> Vec<Action> {
        self.inner.capabilities()
    }
    async fn list_accounts(&self) -> Result<Vec<Account>, ConnectorError> {
        self.inner.list_accounts().await
    }
    async fn read_account(&self, id: &str) -> Result<Option<Account>, ConnectorError> {
        self.inner.read_account(id).await
    }
    async fn find_accounts(
        &self,
        lookups: &[Lookup],
    ) -> Result<Option<Vec<Account>>, ConnectorError> {
        self.inner.find_accounts(lookups).await
    }
    async fn perform(&self, id: &str, action: Action) -> Result<(), ConnectorError> {
        self.perform_counted(id, action).await.0
    }
    async fn perform_if_unchanged(
        &self,
        id: &str,
        action: Action,
        version: &str,
    ) -> Result<Conditional, ConnectorError> {
        self.inner.perform_if_unchanged(id, action, version).await
    }
    async fn restore(&self, id: &str, restore: &Restore) -> Result<(), ConnectorError> {
        self.inner.restore(id, restore).await
    }
    async fn read_counted(&self, id: &str) -> (Result<Option<Account>, ConnectorError>, u32) {
        self.inner.read_counted(id).await
    }
    /// A write first meets the script: an injected fault is one call that failed; otherwise
    /// the write passes through with whatever the layers below count.
    async fn perform_counted(&self, id: &str, action: Action) -> (Result<(), ConnectorError>, u32) {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        if let Some(f) = &self.always {
            return (Err(self.error(f)), 1);
        }
        let next = self.script.lock().ok().and_then(|mut s| s.pop_front());
        if let Some(f) = next {
            return (Err(self.error(&f)), 1);
        }
        self.inner.perform_counted(id, action).await
    }
    async fn hand_off(&self, id: &str, to: &str) -> Result<(), ConnectorError> {
        self.inner.hand_off(id, to).await
    }
    async fn hand_off_counted(&self, id: &str, to: &str) -> (Result<(), ConnectorError>, u32) {
        self.inner.hand_off_counted(id, to).await
    }
    async fn restore_counted(
        &self,
        id: &str,
        restore: &Restore,
    ) -> (Result<(), ConnectorError>, u32) {
        self.inner.restore_counted(id, restore).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use super::*;
    use crate::connector::retry::{RetryPolicy, Retrying};

    /// The bottom of a stack of layers: records which methods reached it.
    #[derive(Default)]
    struct Recording {
        calls: Mutex<Vec<&'static str>>,
    }

    impl Recording {
        fn saw(&self, call: &'static str) {
            self.calls.lock().unwrap().push(call);
        }
    }

    #[async_trait]
    impl Connector for Recording {
        fn system(&self) -> &str {
            "rec"
        }
        fn capabilities(&self) -> Vec<Action> {
            vec![Action::Disable]
        }
        async fn list_accounts(&self) -> Result<Vec<Account>, ConnectorError> {
            self.saw("list");
            Ok(Vec::new())
        }
        async fn read_account(&self, _id: &str) -> Result<Option<Account>, ConnectorError> {
            self.saw("read");
            Ok(None)
        }
        async fn find_accounts(
            &self,
            _lookups: &[Lookup],
        ) -> Result<Option<Vec<Account>>, ConnectorError> {
            self.saw("find");
            Ok(Some(Vec::new()))
        }
        async fn perform(&self, _id: &str, _action: Action) -> Result<(), ConnectorError> {
            self.saw("perform");
            Ok(())
        }
        async fn perform_if_unchanged(
            &self,
            _id: &str,
            _action: Action,
            _version: &str,
        ) -> Result<Conditional, ConnectorError> {
            self.saw("conditional");
            Ok(Conditional::Done)
        }
        async fn restore(&self, _id: &str, _restore: &Restore) -> Result<(), ConnectorError> {
            self.saw("restore");
            Ok(())
        }
    }

    fn fast() -> RetryPolicy {
        RetryPolicy {
            min_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
            max_retries: 3,
            max_retry_after: Duration::from_secs(1),
        }
    }

    /// Every method goes through every layer, in any order of layers, and the calls made
    /// (retries included) come back as return values.
    #[tokio::test]
    async fn layers_forward_every_method_and_count_retries() {
        let bottom = std::sync::Arc::new(Recording::default());
        let stack: Box<dyn Connector> = Box::new(FaultInjecting::new(Retrying::new(
            FaultInjecting::new(bottom.clone()).then(Fault::Temporary),
            fast(),
        )));
        assert_eq!(stack.list_accounts().await.unwrap().len(), 0);
        assert_eq!(stack.read_counted("a").await.1, 1);
        assert_eq!(stack.find_accounts(&[]).await.unwrap(), Some(Vec::new()));
        // One injected 503 below the retry layer: two calls, and the second got through.
        let (result, calls) = stack.perform_counted("a", Action::Disable).await;
        assert!(result.is_ok());
        assert_eq!(calls, 2);
        assert_eq!(
            stack
                .perform_if_unchanged("a", Action::Disable, "v1")
                .await
                .unwrap(),
            Conditional::Done
        );
        assert_eq!(stack.restore_counted("a", &Restore::Enable).await.1, 1);
        let seen = bottom.calls.lock().unwrap().clone();
        assert_eq!(
            seen,
            ["list", "read", "find", "perform", "conditional", "restore"]
        );
    }
}
