//! `GET /metrics`: what an operator alerts on, in the Prometheus text format
//! (prometheus-client): leavers due and scheduled, open and overdue tasks, the last apply's
//! result per system, how long an HR event took to reach zero active credentials, failures,
//! webhooks by outcome and messages not yet delivered.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SystemLabel {
    pub system: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HookLabel {
    pub source: String,
    pub result: String,
}

pub struct Metrics {
    registry: Registry,
    pub leavers_due: Gauge,
    pub leavers_scheduled: Gauge,
    pub tasks_open: Gauge,
    pub tasks_overdue: Gauge,
    /// 1 when the last apply that touched the system made every change, 0 when one failed.
    pub last_apply_ok: Family<SystemLabel, Gauge>,
    pub failures: Counter,
    pub applies: Counter,
    pub webhooks: Family<HookLabel, Counter>,
    pub trigger_to_zero: Histogram,
    pub undelivered: Gauge,
    /// 1 when the policy in force is the checked-out commit's, 0 when `serve` is degraded
    /// (a dirty tree or an invalid policy: nothing is applied).
    pub policy_ok: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("offboard");
        let m = Metrics {
            leavers_due: Gauge::default(),
            leavers_scheduled: Gauge::default(),
            tasks_open: Gauge::default(),
            tasks_overdue: Gauge::default(),
            last_apply_ok: Family::default(),
            failures: Counter::default(),
            applies: Counter::default(),
            webhooks: Family::default(),
            trigger_to_zero: Histogram::new(exponential_buckets(0.25, 2.0, 14)),
            undelivered: Gauge::default(),
            policy_ok: Gauge::default(),
            registry: Registry::default(),
        };
        registry.register(
            "leavers_due",
            "Leavers past their cutoff still holding access after the last whole reconcile",
            m.leavers_due.clone(),
        );
        registry.register(
            "leavers_scheduled",
            "Leavers whose cutoff is still ahead",
            m.leavers_scheduled.clone(),
        );
        registry.register(
            "tasks_open",
            "Manual tasks not closed",
            m.tasks_open.clone(),
        );
        registry.register(
            "tasks_overdue",
            "Manual tasks past their due time",
            m.tasks_overdue.clone(),
        );
        registry.register(
            "last_apply_success",
            "1 when the last apply touching the system made every change, 0 when one failed",
            m.last_apply_ok.clone(),
        );
        registry.register(
            "failures",
            "Changes that failed after retries, and runs refused or broken",
            m.failures.clone(),
        );
        registry.register("applies", "Apply runs made by serve", m.applies.clone());
        registry.register(
            "webhooks",
            "HR webhook requests by source and result",
            m.webhooks.clone(),
        );
        registry.register(
            "trigger_to_zero_active_seconds",
            "From an HR event received to its leaver's re-audit finding no active credential",
            m.trigger_to_zero.clone(),
        );
        registry.register(
            "notifications_undelivered",
            "Messages with a recipient not delivered (still retried, or given up)",
            m.undelivered.clone(),
        );
        registry.register(
            "policy_ok",
            "1 when the checked-out, committed policy is in force; 0 when nothing is applied",
            m.policy_ok.clone(),
        );
        Metrics { registry, ..m }
    }

    pub fn webhook(&self, source: &str, result: &str) {
        self.webhooks
            .get_or_create(&HookLabel {
                source: source.to_string(),
                result: result.to_string(),
            })
            .inc();
    }

    /// The text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
