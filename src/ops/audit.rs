//! The audit as an operation: policy, roster and the live state of the systems in scope ->
//! findings. Leavers the journal records as fully offboarded are not reported again as
//! leftover access (their evidence is the certificate), and only the accounts the audit can
//! report on are kept while systems are read.

use std::collections::HashSet;

use super::{Cause, Observer, OpError, Workspace, inputs, journal};
use crate::audit::{self, Audit, AuditError, AuditInput};
use crate::journal::{Record, Verdict};
use crate::reconcile::PlanError;

/// What to audit.
#[derive(Debug, Clone, Default)]
pub struct AuditRequest {
    /// Only these systems (empty: all).
    pub systems: Vec<String>,
    /// As of another instant (`2026-11-28` or RFC 3339); `None`: now.
    pub at: Option<String>,
}

/// Audit the workspace's systems.
pub fn audit(
    ws: &Workspace,
    request: &AuditRequest,
    observer: &dyn Observer,
) -> Result<Audit, OpError> {
    let policy = inputs::load_policy(ws)?;
    if let Some(unknown) = request.systems.iter().find(|s| policy.system(s).is_none()) {
        return Err(
            OpError::new(format!("--system {unknown}: no such system in the policy")).hint(
                "name a system the policy declares (`offboard validate` lists how many there are)",
            ),
        );
    }
    let roster = inputs::load_roster(ws, &policy, observer)?;
    let now = inputs::parse_at(request.at.as_deref(), &policy)?;
    let offboarded = offboarded(ws)?;
    let keep = audit::relevance(&policy, &roster, now);
    let observed = inputs::read_live_state(ws, &policy, &keep, observer)?;
    audit::audit(&AuditInput {
        policy: &policy,
        roster: &roster,
        observed: &observed,
        now,
        offboarded: &offboarded,
        systems: &request.systems,
    })
    .map_err(|e| {
        let diagnostics = match &e {
            AuditError::Role { diagnostic, .. } => vec![(**diagnostic).clone()],
            AuditError::Plan(PlanError::Conditions(failures)) => {
                failures.iter().map(|f| f.diagnostic.clone()).collect()
            }
            AuditError::Plan(PlanError::Refresh(_)) => Vec::new(),
        };
        let cause = Cause {
            diagnostics,
            ..Cause::default()
        };
        OpError::new(e.to_string()).causes(vec![cause], Some((*policy.sources).clone()))
    })
}

/// People whose offboarding the journal records as complete (no active credential left),
/// by roster key in lower case. No journal: nobody.
pub fn offboarded(ws: &Workspace) -> Result<HashSet<String>, OpError> {
    if !journal::exists(ws)? {
        return Ok(HashSet::new());
    }
    let journal = journal::read(ws)?;
    let mut out = HashSet::new();
    for stored in journal.records().map_err(journal::evidence)? {
        if let Record::RunFinish(finish) = stored.record().map_err(journal::evidence)? {
            for leaver in finish.leavers {
                if leaver.verdict != Verdict::Red {
                    out.insert(leaver.person.to_lowercase());
                }
            }
        }
    }
    Ok(out)
}
