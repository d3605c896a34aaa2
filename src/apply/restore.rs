//! Giving access back (`offboard rollback`): one account's restore steps, journaled and proven
//! like every other change.
//!
//! A [`Restoration`] names the account and the steps (enable, re-add groups, re-add licences)
//! a rollback takes on it. The executor journals the intent with the steps, performs them
//! through the system's connector (with its layers: retries are counted the same way), reads
//! the account back and journals the result: a restore is done only when the system shows
//! the account enabled and every group and licence back. There is no plan fingerprint to
//! check: a rollback restores whatever the account became since.

use super::{Calls, Executor, Target, change_key, verify};
use crate::connector::{ConnectorError, Restore};
use crate::journal::{ActionIntent, ActionOutcome, ActionResult, JournalError, Record};
use crate::plan::AccountState;
use crate::policy::Tier;

/// One account to give access back to.
#[derive(Debug, Clone)]
pub struct Restoration {
    pub person: String,
    pub system: String,
    pub tier: Tier,
    pub account_id: String,
    /// The account as the journal recorded it before the original change.
    pub before: Option<AccountState>,
    pub steps: Vec<Restore>,
}

impl Restoration {
    /// The journal's id for this step back on the account.
    pub fn change_id(&self) -> String {
        change_key(&self.person, &self.system, Some(&self.account_id), &[])
    }
}

/// How one restoration ended.
#[derive(Debug, Clone)]
pub struct RestoreReport {
    /// `None` when the account was restored, confirmed by read-back.
    pub error: Option<ConnectorError>,
    pub read_back: Option<AccountState>,
    /// Connector calls made (steps and read-back), retries included.
    pub attempts: u32,
    pub retries: u32,
}

impl Executor {
    /// Restore one account: intent, steps, read-back, result, each journaled.
    pub async fn restore(
        &self,
        target: &Target,
        r: &Restoration,
    ) -> Result<RestoreReport, JournalError> {
        let change_id = r.change_id();
        self.journal(Record::Intent(ActionIntent {
            run_id: self.run_id.clone(),
            change_id: change_id.clone(),
            person: r.person.clone(),
            system: r.system.clone(),
            account_id: r.account_id.clone(),
            actions: Vec::new(),
            expected_fingerprint: String::new(),
            before: r.before.clone(),
            restore: r.steps.clone(),
        }))
        .await?;
        let mut calls = Calls::default();
        let outcome = restore_and_read_back(target, r, &mut calls).await;
        let (read_back, error) = match outcome {
            Ok(state) => (Some(state), None),
            Err(e) => (None, Some(e)),
        };
        self.journal(Record::Result(ActionResult {
            run_id: self.run_id.clone(),
            change_id,
            person: r.person.clone(),
            system: r.system.clone(),
            account_id: r.account_id.clone(),
            outcome: if error.is_none() {
                ActionOutcome::Done
            } else {
                ActionOutcome::Failed
            },
            performed: Vec::new(),
            attempts: calls.made,
            retries: calls.retries,
            error_kind: error.as_ref().map(|e| e.kind),
            error: error.as_ref().map(|e| e.message.clone()),
            hint: error.as_ref().and_then(|e| e.hint.clone()),
            read_back: read_back.clone(),
            unobservable: Vec::new(),
        }))
        .await?;
        Ok(RestoreReport {
            error,
            read_back,
            attempts: calls.made,
            retries: calls.retries,
        })
    }
}

/// Every step, then the read-back that must show each of them.
async fn restore_and_read_back(
    target: &Target,
    r: &Restoration,
    calls: &mut Calls,
) -> Result<AccountState, ConnectorError> {
    for step in &r.steps {
        let (result, n) = target.connector.restore_counted(&r.account_id, step).await;
        calls.add(n);
        result?;
    }
    let (after, n) = target.connector.read_counted(&r.account_id).await;
    calls.add(n);
    let Some(account) = after? else {
        return Err(ConnectorError::permanent(
            &r.system,
            "read-back: the account no longer exists",
        ));
    };
    let missing: Vec<String> = r
        .steps
        .iter()
        .filter_map(|s| verify::restore_missing(s, &account))
        .collect();
    if !missing.is_empty() {
        return Err(ConnectorError::permanent(
            &r.system,
            format!("read-back does not show: {}", missing.join("; ")),
        )
        .hint(
            "the system accepted the call but did not apply it; check the connector's permissions",
        ));
    }
    Ok(AccountState::of(&account))
}
