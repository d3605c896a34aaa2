//! What an audit reports: findings of a few kinds, each with a severity, the account, its
//! owner when known, the evidence and the remediation; per-system counts; and the report's
//! provenance (policy and roster hashes). Plain data, rendered by `render`.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A leaver past cutoff whose account is still active.
    LeaverActive,
    /// An offboarded person's account that is active again.
    Recreated,
    /// An active account that correlates to nobody and is not exempt.
    Orphan,
    /// An account that correlates to several people.
    Disputed,
    /// Access no role of an active person grants.
    ExcessAccess,
    /// An exemption whose account is gone or whose owner has left.
    StaleExemption,
    /// An active account with no login for longer than the policy allows.
    Dormant,
    /// A terminated person with neither a termination date nor a last day in HR: cut, but
    /// no deletion can be scheduled.
    UndatedLeaver,
    /// An emergency override HR has not confirmed within `override-confirm-within`.
    UnconfirmedOverride,
    /// An HR webhook event the export has not backed in time, or contradicts.
    HrDisagrees,
}

impl Kind {
    pub const ALL: [Kind; 10] = [
        Kind::LeaverActive,
        Kind::Recreated,
        Kind::Orphan,
        Kind::Disputed,
        Kind::ExcessAccess,
        Kind::StaleExemption,
        Kind::Dormant,
        Kind::UndatedLeaver,
        Kind::UnconfirmedOverride,
        Kind::HrDisagrees,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::LeaverActive => "leaver-active",
            Kind::Recreated => "recreated",
            Kind::Orphan => "orphan",
            Kind::Disputed => "disputed",
            Kind::ExcessAccess => "excess-access",
            Kind::StaleExemption => "stale-exemption",
            Kind::Dormant => "dormant",
            Kind::UndatedLeaver => "undated-leaver",
            Kind::UnconfirmedOverride => "unconfirmed-override",
            Kind::HrDisagrees => "hr-disagrees",
        }
    }

    pub fn severity(self) -> Severity {
        match self {
            Kind::LeaverActive | Kind::Recreated => Severity::Critical,
            Kind::Orphan | Kind::UnconfirmedOverride | Kind::HrDisagrees => Severity::High,
            Kind::Disputed | Kind::ExcessAccess | Kind::UndatedLeaver => Severity::Medium,
            Kind::StaleExemption | Kind::Dormant => Severity::Low,
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Kind::LeaverActive => "A leaver past their cutoff still has an active account",
            Kind::Recreated => {
                "An account of a person whose offboarding was completed is active again"
            }
            Kind::Orphan => {
                "An active account correlates to nobody in the roster and is not exempt"
            }
            Kind::Disputed => "An account correlates to several people",
            Kind::ExcessAccess => "An active person holds access that none of their roles grants",
            Kind::StaleExemption => "An exemption's account no longer exists or its owner has left",
            Kind::UndatedLeaver => {
                "HR records a leaver with neither a termination date nor a last day"
            }
            Kind::UnconfirmedOverride => {
                "An emergency override cuts someone HR has not recorded as terminated in time"
            }
            Kind::Dormant => {
                "An active account has not been used for longer than the policy allows"
            }
            Kind::HrDisagrees => {
                "The HR export contradicts, or has not caught up with, an HR webhook event offboard acted on"
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub kind: Kind,
    pub severity: Severity,
    pub system: String,
    pub account: String,
    pub account_label: String,
    pub owner: Option<String>,
    pub evidence: String,
    pub remediation: String,
    /// Where the system is declared (`file:line:column`), for code-scanning UIs.
    pub policy_location: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Audit {
    pub generated_at: Timestamp,
    pub policy_hash: String,
    pub roster_hash: String,
    pub systems: Vec<SystemSummary>,
    pub findings: Vec<Finding>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemSummary {
    pub system: String,
    pub accounts: usize,
    pub findings: usize,
}

impl Audit {
    pub fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    }

    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }
}
