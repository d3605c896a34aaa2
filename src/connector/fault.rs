//! `FaultInjecting`: a wrapper that makes any connector fail on purpose, for tests.
//!
//! Real servers are used for real behaviour; this exists only to inject what real servers do
//! rarely and unpredictably: temporary errors, rate limits with `Retry-After`, permanent
//! refusals and latency. It is named for what it is so it is never mistaken for a backend.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;

use super::{Account, Connector, ConnectorError, Restore};
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
    async fn perform(&self, id: &str, action: Action) -> Result<(), ConnectorError> {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        if let Some(f) = &self.always {
            return Err(self.error(f));
        }
        let next = self.script.lock().ok().and_then(|mut s| s.pop_front());
        if let Some(f) = next {
            return Err(self.error(&f));
        }
        self.inner.perform(id, action).await
    }
    async fn restore(&self, id: &str, restore: &Restore) -> Result<(), ConnectorError> {
        self.inner.restore(id, restore).await
    }
}
