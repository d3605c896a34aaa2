//! Connectors: how offboard reads (and later changes) accounts in other systems.
//!
//! One object-safe async trait, one folder per kind (see [`kind`] for the registry and how to
//! add one). A connector knows its system's API and
//! nothing about policy, people or plans: it lists accounts in a common shape and reports
//! errors as permanent or temporary, so retrying is a wrapper around any connector rather
//! than a loop inside one. The planner never sees a connector, only the [`Observed`]
//! snapshot that [`refresh`] fills.

pub mod assertion;
pub mod fault;
pub mod kind;
pub mod lookup;
pub mod percent;
mod refresh;
pub mod retry;
pub mod secret;
pub mod transport;

// The connector kinds, one folder each, and their registry (see `kind` for adding one).
pub mod file;
pub mod google;
pub mod graph;
pub mod ldap;
pub mod okta;
pub mod scim;

kind::registry! {
    File => file::FileSettings,
    Scim => scim::ScimSettings,
    Ldap => ldap::LdapSettings,
    Graph => graph::GraphSettings,
    Okta => okta::OktaSettings,
    Google => google::GoogleSettings,
}

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub use lookup::Lookup;
pub use refresh::{Keep, Observed, SystemSnapshot, refresh, refresh_keeping, refresh_targeted};

// The shared vocabulary, under the paths connectors have always used.
pub use crate::vocabulary::{Account, AccountStatus, ConnectorError, ErrorKind, same_container};

use crate::vocabulary::Action;

/// A live system offboard can read.
#[async_trait]
pub trait Connector: Send + Sync {
    /// The policy name of the system this connector serves.
    fn system(&self) -> &str;

    /// Actions this connector can perform (the planner plans nothing else for it).
    fn capabilities(&self) -> Vec<Action>;

    /// Every account, with status, groups and entitlements.
    async fn list_accounts(&self) -> Result<Vec<Account>, ConnectorError>;

    /// One account by id; `Ok(None)` when it does not exist (any more).
    async fn read_account(&self, id: &str) -> Result<Option<Account>, ConnectorError>;

    /// The accounts that have any of `lookups`' values, found with the system's own filters
    /// (a targeted read, see [`lookup`]): at least every account such a value correlates,
    /// possibly more (correlation decides). `Ok(None)` (the default) when this connector
    /// cannot look up by these attributes: the caller then lists every account.
    async fn find_accounts(
        &self,
        lookups: &[Lookup],
    ) -> Result<Option<Vec<Account>>, ConnectorError> {
        let _ = lookups;
        Ok(None)
    }

    /// Carry out one action. Must be idempotent: disabling a disabled account and deleting a
    /// missing one succeed. Confirmation is the caller's job (read the account back).
    async fn perform(&self, id: &str, action: Action) -> Result<(), ConnectorError>;

    /// Carry out `action` only if the account is still at `version` (its version tag when
    /// planned): a conditional write, such as SCIM's PATCH with If-Match. It lets apply
    /// skip reading the account first, with a stronger guarantee than a read: nothing can
    /// change between the check and the write. `Unsupported` (the default) when the system
    /// or the action has no conditional form.
    async fn perform_if_unchanged(
        &self,
        id: &str,
        action: Action,
        version: &str,
    ) -> Result<Conditional, ConnectorError> {
        let _ = (id, action, version);
        Ok(Conditional::Unsupported)
    }

    /// Share the account's files with `to` (`hand-off-files`: the leaver's manager), keeping
    /// them where they are. Must be idempotent, like [`Self::perform`].
    async fn hand_off(&self, id: &str, to: &str) -> Result<(), ConnectorError> {
        let _ = (id, to);
        Err(
            ConnectorError::permanent(self.system(), "this connector cannot hand files off")
                .hint("hand the files over by hand, as a manual system's task"),
        )
    }

    /// Undo a reversible action (rollback of a mistaken termination).
    async fn restore(&self, id: &str, restore: &Restore) -> Result<(), ConnectorError> {
        let _ = (id, restore);
        Err(
            ConnectorError::permanent(self.system(), "this connector cannot restore access")
                .hint("restore the account by hand in the system's console"),
        )
    }

    // The `*_counted` forms return how many calls reached the system (1, plus any retries a
    // layer such as [`retry::Retrying`] made), so the executor learns it from return values
    // whatever the stack of layers. A connector leaves them alone; a layer forwards them.

    /// [`Self::read_account`], with the number of calls it took.
    async fn read_counted(&self, id: &str) -> (Result<Option<Account>, ConnectorError>, u32) {
        (self.read_account(id).await, 1)
    }

    /// [`Self::perform`], with the number of calls it took.
    async fn perform_counted(&self, id: &str, action: Action) -> (Result<(), ConnectorError>, u32) {
        (self.perform(id, action).await, 1)
    }

    /// [`Self::hand_off`], with the number of calls it took.
    async fn hand_off_counted(&self, id: &str, to: &str) -> (Result<(), ConnectorError>, u32) {
        (self.hand_off(id, to).await, 1)
    }

    /// [`Self::restore`], with the number of calls it took.
    async fn restore_counted(
        &self,
        id: &str,
        restore: &Restore,
    ) -> (Result<(), ConnectorError>, u32) {
        (self.restore(id, restore).await, 1)
    }
}

/// What a conditional write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conditional {
    /// The account was as planned, and the action was carried out.
    Done,
    /// The account changed (or is gone) since it was planned; nothing was written.
    Changed,
    /// No conditional form for this system or action; nothing was written.
    Unsupported,
}

/// A reversible step back, used by `offboard rollback`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "values")]
pub enum Restore {
    Enable,
    AddGroups(Vec<String>),
    AddLicenses(Vec<String>),
}

#[async_trait]
impl<C: Connector + ?Sized> Connector for std::sync::Arc<C> {
    fn system(&self) -> &str {
        (**self).system()
    }
    fn capabilities(&self) -> Vec<Action> {
        (**self).capabilities()
    }
    async fn list_accounts(&self) -> Result<Vec<Account>, ConnectorError> {
        (**self).list_accounts().await
    }
    async fn read_account(&self, id: &str) -> Result<Option<Account>, ConnectorError> {
        (**self).read_account(id).await
    }
    async fn find_accounts(
        &self,
        lookups: &[Lookup],
    ) -> Result<Option<Vec<Account>>, ConnectorError> {
        (**self).find_accounts(lookups).await
    }
    async fn perform(&self, id: &str, action: Action) -> Result<(), ConnectorError> {
        (**self).perform(id, action).await
    }
    async fn perform_if_unchanged(
        &self,
        id: &str,
        action: Action,
        version: &str,
    ) -> Result<Conditional, ConnectorError> {
        (**self).perform_if_unchanged(id, action, version).await
    }
    async fn hand_off(&self, id: &str, to: &str) -> Result<(), ConnectorError> {
        (**self).hand_off(id, to).await
    }
    async fn restore(&self, id: &str, restore: &Restore) -> Result<(), ConnectorError> {
        (**self).restore(id, restore).await
    }
    async fn hand_off_counted(&self, id: &str, to: &str) -> (Result<(), ConnectorError>, u32) {
        (**self).hand_off_counted(id, to).await
    }
    async fn read_counted(&self, id: &str) -> (Result<Option<Account>, ConnectorError>, u32) {
        (**self).read_counted(id).await
    }
    async fn perform_counted(&self, id: &str, action: Action) -> (Result<(), ConnectorError>, u32) {
        (**self).perform_counted(id, action).await
    }
    async fn restore_counted(
        &self,
        id: &str,
        restore: &Restore,
    ) -> (Result<(), ConnectorError>, u32) {
        (**self).restore_counted(id, restore).await
    }
}
