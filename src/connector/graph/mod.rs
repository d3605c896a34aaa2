//! The `graph` connector: Microsoft Entra ID (and Microsoft 365) through Microsoft Graph v1.0.
//!
//! Most companies' identity provider is Entra ID, and offboarding starts there: disable the
//! user (`accountEnabled`), revoke its refresh tokens and sessions (`revokeSignInSessions`),
//! leave its groups, reclaim its licences (`assignLicense`), remove its registered sign-in
//! methods and app role assignments, and, when retention allows, delete it (a soft delete:
//! Entra ID keeps deleted users restorable for 30 days). Each step is idempotent (a 404 is
//! done) and its effect is read back by the executor. The Graph calls, their permissions
//! and what stays manual are listed in `docs/connectors/graph.md`.
//!
//! Reading asks only for the fields offboarding needs (`$select`), a page of up to 999 users
//! at a time (`@odata.nextLink`), then each user's direct groups (`memberOf`, cast to groups)
//! and app role assignments, a bounded number at once. A targeted read (`plan -p`) finds
//! users with `$filter` on `userPrincipalName`, `mail`, `otherMails`, `employeeId` and
//! `onPremisesSamAccountName`.
//!
//! Some access cannot be removed through Graph (see [`user`]): dynamic groups, licences
//! inherited from them, and accounts synced from on-premises AD, which are disabled in the
//! directory. The connector reports them and the planner makes them tasks and notes; Exchange
//! Online's mailbox conversion is a task with its cmdlets ([`settings`]). The leaver's OneDrive
//! is shared with the manager the plan names (`hand-off-files`, `driveItem: invite`). Tokens come from
//! [`auth`]; HTTP, paging and error classification from [`http`].

mod auth;
mod http;
mod settings;
mod user;

pub use settings::{Credential, GraphSettings, ON_PREMISES};

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use async_trait::async_trait;
use futures::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};

use super::kind::Kind;
use super::percent::encode as enc;
use super::{Account, Connector, ConnectorError, Lookup, Restore};
use crate::policy::Action;
use auth::Tokens;
use user::{GROUP_FIELDS, Group, Membership, USER_FIELDS};

/// How many `or` clauses one `$filter` carries (Graph limits a filter's complexity).
const FILTER_CLAUSES: usize = 12;

pub struct Graph {
    system: String,
    /// `{graph-url}/v1.0`.
    base: String,
    tokens: Tokens,
    client: reqwest::Client,
    page_size: u32,
    read_concurrency: usize,
    select: String,
    capabilities: Vec<Action>,
    /// Licence names (`skuPartNumber`) by sku id, read once.
    skus: tokio::sync::OnceCell<HashMap<String, String>>,
}

impl fmt::Debug for Graph {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Graph")
            .field("system", &self.system)
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl Graph {
    pub fn new(system: &str, cfg: &GraphSettings, root: &Path) -> Result<Graph, ConnectorError> {
        let client = super::transport::client(system, cfg.timeout)?;
        let mut select = USER_FIELDS.to_string();
        if cfg.sign_in_activity {
            select.push_str(",signInActivity");
        }
        Ok(Graph {
            system: system.to_string(),
            base: format!("{}/v1.0", cfg.graph_url),
            tokens: Tokens::load(system, cfg, root)?,
            client,
            page_size: cfg.page_size,
            read_concurrency: cfg.read_concurrency as usize,
            select,
            capabilities: cfg.capabilities(),
            skus: tokio::sync::OnceCell::new(),
        })
    }

    async fn skus(&self) -> Result<&HashMap<String, String>, ConnectorError> {
        self.skus
            .get_or_try_init(|| async {
                let skus = self
                    .all("subscribedSkus", "LicenseAssignment.Read.All")
                    .await?;
                Ok(skus
                    .iter()
                    .filter_map(|s| {
                        Some((
                            s.get("skuId")?.as_str()?.to_string(),
                            s.get("skuPartNumber")?.as_str()?.to_string(),
                        ))
                    })
                    .collect())
            })
            .await
    }

    /// The user's direct groups.
    async fn groups_of(&self, id: &str) -> Result<Vec<Group>, ConnectorError> {
        let path = format!(
            "users/{}/memberOf/microsoft.graph.group?$select={GROUP_FIELDS}&$top=999",
            enc(id)
        );
        match self
            .call(Method::GET, &path, None, "GroupMember.Read.All")
            .await?
        {
            // Gone since it was listed: no groups.
            None => Ok(Vec::new()),
            Some(first) => {
                let mut groups: Vec<Group> = page_values(&first)
                    .iter()
                    .filter_map(Group::from_json)
                    .collect();
                if let Some(next) = first.get("@odata.nextLink").and_then(Value::as_str) {
                    let rest = self.all(next, "GroupMember.Read.All").await?;
                    groups.extend(rest.iter().filter_map(Group::from_json));
                }
                Ok(groups)
            }
        }
    }

    async fn app_role_assignments(&self, id: &str) -> Result<Vec<Value>, ConnectorError> {
        let path = format!("users/{}/appRoleAssignments", enc(id));
        match self
            .call(Method::GET, &path, None, "AppRoleAssignment.ReadWrite.All")
            .await?
        {
            None => Ok(Vec::new()),
            Some(first) => {
                let mut all = page_values(&first).to_vec();
                if let Some(next) = first.get("@odata.nextLink").and_then(Value::as_str) {
                    all.extend(self.all(next, "AppRoleAssignment.ReadWrite.All").await?);
                }
                Ok(all)
            }
        }
    }

    /// The two reads that complete a user: its direct groups and its app role assignments.
    fn detail_paths(id: &str) -> [(String, &'static str); 2] {
        [
            (
                format!(
                    "users/{}/memberOf/microsoft.graph.group?$select={GROUP_FIELDS}&$top=999",
                    enc(id)
                ),
                "GroupMember.Read.All",
            ),
            (
                format!("users/{}/appRoleAssignments", enc(id)),
                "AppRoleAssignment.ReadWrite.All",
            ),
        ]
    }

    /// Every object of a first page already fetched, following its `@odata.nextLink`.
    async fn rest_of(
        &self,
        first: Option<Value>,
        permission: &'static str,
    ) -> Result<Vec<Value>, ConnectorError> {
        let Some(first) = first else {
            // The user answered, its details did not: it changed while it was read. Reading
            // it again is right; "no groups" could hide access.
            return Err(ConnectorError::temporary(
                &self.system,
                "a user's groups or app roles answered 404 while the user exists",
            )
            .hint("the user changed while it was read; it is read again"));
        };
        let mut all = page_values(&first).to_vec();
        if let Some(next) = first.get("@odata.nextLink").and_then(Value::as_str) {
            all.extend(self.all(next, permission).await?);
        }
        Ok(all)
    }

    /// A user with the first pages of its groups and app roles, as an account.
    async fn assemble(
        &self,
        user: &Value,
        groups: Option<Value>,
        roles: Option<Value>,
    ) -> Result<Account, ConnectorError> {
        let groups = self.rest_of(groups, "GroupMember.Read.All").await?;
        let roles = self
            .rest_of(roles, "AppRoleAssignment.ReadWrite.All")
            .await?;
        let groups: Vec<Group> = groups.iter().filter_map(Group::from_json).collect();
        let roles = roles.iter().filter_map(user::app_role_name).collect();
        let skus = self.skus().await?;
        user::account(user, &groups, skus, roles).map_err(|e| self.broken(&e))
    }

    /// Listed users with their memberships and app roles, as accounts: the reads of up to ten
    /// users in one `$batch`.
    async fn complete(&self, users: &[Value]) -> Result<Vec<Account>, ConnectorError> {
        let mut gets = Vec::with_capacity(users.len() * 2);
        for u in users {
            let id = user::id_of(u).map_err(|e| self.broken(&e))?;
            gets.extend(Self::detail_paths(id));
        }
        let mut answers = self.batch_get(&gets).await?.into_iter();
        let mut accounts = Vec::with_capacity(users.len());
        for u in users {
            let (groups, roles) = (answers.next().flatten(), answers.next().flatten());
            accounts.push(self.assemble(u, groups, roles).await?);
        }
        Ok(accounts)
    }

    async fn complete_all(&self, users: Vec<Value>) -> Result<Vec<Account>, ConnectorError> {
        self.skus().await?;
        let chunks: Vec<Vec<Value>> = users
            .chunks(http::MAX_BATCH / 2)
            .map(<[Value]>::to_vec)
            .collect();
        let batches: Vec<Vec<Account>> = futures::stream::iter(chunks)
            .map(|chunk| async move { self.complete(&chunk).await })
            .buffered(self.read_concurrency.max(1))
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<Result<_, _>>()?;
        Ok(batches.into_iter().flatten().collect())
    }

    fn broken(&self, what: &str) -> ConnectorError {
        ConnectorError::permanent(&self.system, format!("Graph returned {what}"))
            .hint("report the object to Microsoft support; offboard cannot address it")
    }

    async fn get_user(&self, id: &str) -> Result<Option<Value>, ConnectorError> {
        let path = format!("users/{}?$select={}", enc(id), self.select);
        self.call(Method::GET, &path, None, "User.Read.All").await
    }

    async fn set_enabled(&self, id: &str, enabled: bool) -> Result<(), ConnectorError> {
        let path = format!("users/{}", enc(id));
        self.call(
            Method::PATCH,
            &path,
            Some(&json!({"accountEnabled": enabled})),
            "User.EnableDisableAccount.All",
        )
        .await
        .map(|_| ())
    }

    async fn remove_membership(&self, group: &Group, id: &str) -> Result<(), ConnectorError> {
        let path = format!("groups/{}/members/{}/$ref", enc(&group.id), enc(id));
        self.call(Method::DELETE, &path, None, "GroupMember.ReadWrite.All")
            .await
            .map(|_| ())
    }

    async fn remove_groups(&self, id: &str) -> Result<(), ConnectorError> {
        for group in self.groups_of(id).await? {
            // Dynamic groups are the planner's task for a person (see `user`).
            if group.membership == Membership::Assigned {
                self.remove_membership(&group, id).await?;
            }
        }
        Ok(())
    }

    /// Direct licences through `assignLicense`; a licence inherited from a group the user is
    /// an assigned member of goes with that membership (Graph refuses to remove it directly).
    async fn remove_licenses(&self, id: &str) -> Result<(), ConnectorError> {
        let Some(user) = self.get_user(id).await? else {
            return Ok(());
        };
        let mut direct = Vec::new();
        let mut via_groups = Vec::new();
        for state in page_array(&user, "licenseAssignmentStates") {
            let Some(sku) = state.get("skuId").and_then(Value::as_str) else {
                continue;
            };
            match state.get("assignedByGroup").and_then(Value::as_str) {
                None => direct.push(sku.to_string()),
                Some(gid) => via_groups.push(gid.to_string()),
            }
        }
        if page_array(&user, "licenseAssignmentStates").is_empty() {
            direct = page_array(&user, "assignedLicenses")
                .iter()
                .filter_map(|l| l.get("skuId").and_then(Value::as_str).map(str::to_string))
                .collect();
        }
        if !direct.is_empty() {
            let path = format!("users/{}/assignLicense", enc(id));
            let body = json!({"addLicenses": [], "removeLicenses": direct});
            self.call(
                Method::POST,
                &path,
                Some(&body),
                "LicenseAssignment.ReadWrite.All",
            )
            .await?;
        }
        if !via_groups.is_empty() {
            for group in self.groups_of(id).await? {
                if group.membership == Membership::Assigned && via_groups.contains(&group.id) {
                    self.remove_membership(&group, id).await?;
                }
            }
        }
        Ok(())
    }

    /// Every registered method but the password (which cannot be deleted, only reset).
    async fn reset_mfa(&self, id: &str) -> Result<(), ConnectorError> {
        let permission = "UserAuthenticationMethod.ReadWrite.All";
        let path = format!("users/{}/authentication/methods", enc(id));
        let Some(methods) = self.call(Method::GET, &path, None, permission).await? else {
            return Ok(());
        };
        let mut unknown = Vec::new();
        for m in page_values(&methods) {
            let kind = m.get("@odata.type").and_then(Value::as_str).unwrap_or("");
            let Some(mid) = m.get("id").and_then(Value::as_str) else {
                continue;
            };
            if kind.ends_with("passwordAuthenticationMethod") {
                continue;
            }
            match user::method_segment(kind) {
                Some(segment) => {
                    let path = format!("users/{}/authentication/{segment}/{}", enc(id), enc(mid));
                    self.call(Method::DELETE, &path, None, permission).await?;
                }
                None => unknown.push(kind.trim_start_matches("#microsoft.graph.").to_string()),
            }
        }
        if unknown.is_empty() {
            return Ok(());
        }
        Err(ConnectorError::permanent(
            &self.system,
            format!(
                "user {id} has sign-in methods Graph v1.0 cannot delete: {}",
                unknown.join(", ")
            ),
        )
        .hint("remove them in the Entra admin centre (user > Authentication methods); the others are gone"))
    }

    async fn remove_app_roles(&self, id: &str) -> Result<(), ConnectorError> {
        for a in self.app_role_assignments(id).await? {
            let Some(aid) = a.get("id").and_then(Value::as_str) else {
                continue;
            };
            let path = format!("users/{}/appRoleAssignments/{}", enc(id), enc(aid));
            self.call(
                Method::DELETE,
                &path,
                None,
                "AppRoleAssignment.ReadWrite.All",
            )
            .await?;
        }
        Ok(())
    }

    async fn add_groups(&self, id: &str, names: &[String]) -> Result<(), ConnectorError> {
        for name in names {
            let filter = format!("displayName eq '{}'", name.replace('\'', "''"));
            let path = format!("groups?$filter={}&$select={GROUP_FIELDS}", enc(&filter));
            let found = self.all(&path, "GroupMember.ReadWrite.All").await?;
            let Some(group) = found
                .iter()
                .filter_map(Group::from_json)
                .find(|g| g.name == *name && g.membership == Membership::Assigned)
            else {
                return Err(ConnectorError::permanent(
                    &self.system,
                    format!("group {name} no longer exists (or is no longer assigned)"),
                )
                .hint("add the user to the group by hand"));
            };
            let path = format!("groups/{}/members/$ref", enc(&group.id));
            let body = json!({"@odata.id": format!("{}/directoryObjects/{id}", self.base)});
            match self
                .call(
                    Method::POST,
                    &path,
                    Some(&body),
                    "GroupMember.ReadWrite.All",
                )
                .await
            {
                Ok(_) => {}
                // Already a member: restored.
                Err(e) if e.message.contains("already exist") => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    async fn add_licenses(&self, id: &str, names: &[String]) -> Result<(), ConnectorError> {
        let skus = self.skus().await?;
        let mut add = Vec::new();
        for name in names {
            // Inherited licences come back with their group.
            if name.contains(" (from group ") {
                continue;
            }
            let sku = skus
                .iter()
                .find(|(_, part)| *part == name)
                .map(|(sku, _)| sku.clone())
                .ok_or_else(|| {
                    ConnectorError::permanent(
                        &self.system,
                        format!("the tenant has no subscription for licence {name}"),
                    )
                })?;
            add.push(json!({"skuId": sku, "disabledPlans": []}));
        }
        if add.is_empty() {
            return Ok(());
        }
        let path = format!("users/{}/assignLicense", enc(id));
        let body = json!({"addLicenses": add, "removeLicenses": []});
        self.call(
            Method::POST,
            &path,
            Some(&body),
            "LicenseAssignment.ReadWrite.All",
        )
        .await
        .map(|_| ())
    }

    /// `$filter` clauses matching a lookup, or `None` when Graph cannot filter on it.
    fn clauses(lookup: &Lookup) -> Option<Vec<String>> {
        let v = lookup.value.replace('\'', "''");
        let attribute = lookup
            .attribute
            .to_ascii_lowercase()
            .replace(['-', '_'], "");
        Some(match attribute.as_str() {
            "email" | "emails" | "mail" => vec![
                format!("mail eq '{v}'"),
                format!("otherMails/any(m:m eq '{v}')"),
                format!("userPrincipalName eq '{v}'"),
            ],
            "username" | "userprincipalname" | "upn" => {
                vec![format!("userPrincipalName eq '{v}'")]
            }
            "employeeid" => vec![format!("employeeId eq '{v}'")],
            "onpremisessamaccountname" => vec![format!("onPremisesSamAccountName eq '{v}'")],
            _ => return None,
        })
    }
}

fn page_values(page: &Value) -> &[Value] {
    page_array(page, "value")
}

fn page_array<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

#[async_trait]
impl Connector for Graph {
    fn system(&self) -> &str {
        &self.system
    }

    fn capabilities(&self) -> Vec<Action> {
        self.capabilities.clone()
    }

    async fn list_accounts(&self) -> Result<Vec<Account>, ConnectorError> {
        let first = format!("users?$select={}&$top={}", self.select, self.page_size);
        let users = self.all(&first, "User.Read.All").await?;
        self.complete_all(users).await
    }

    async fn find_accounts(
        &self,
        lookups: &[Lookup],
    ) -> Result<Option<Vec<Account>>, ConnectorError> {
        let mut clauses = Vec::new();
        for lookup in lookups {
            match Self::clauses(lookup) {
                Some(c) => clauses.extend(c),
                None => return Ok(None),
            }
        }
        let mut users: Vec<Value> = Vec::new();
        for chunk in clauses.chunks(FILTER_CLAUSES) {
            let filter = chunk.join(" or ");
            let path = format!(
                "users?$select={}&$top={}&$filter={}",
                self.select,
                self.page_size,
                enc(&filter)
            );
            for u in self.all(&path, "User.Read.All").await? {
                let id = u.get("id").and_then(Value::as_str);
                if !users
                    .iter()
                    .any(|x| x.get("id").and_then(Value::as_str) == id)
                {
                    users.push(u);
                }
            }
        }
        self.complete_all(users).await.map(Some)
    }

    /// The user, its groups and its app roles in one round trip (`$batch`).
    async fn read_account(&self, id: &str) -> Result<Option<Account>, ConnectorError> {
        let [groups, roles] = Self::detail_paths(id);
        let user = (
            format!("users/{}?$select={}", enc(id), self.select),
            "User.Read.All",
        );
        let mut answers = self.batch_get(&[user, groups, roles]).await?.into_iter();
        let Some(user) = answers.next().flatten() else {
            return Ok(None);
        };
        let (groups, roles) = (answers.next().flatten(), answers.next().flatten());
        self.assemble(&user, groups, roles).await.map(Some)
    }

    async fn perform(&self, id: &str, action: Action) -> Result<(), ConnectorError> {
        match action {
            Action::Disable => self.set_enabled(id, false).await,
            Action::RevokeSessions => {
                let path = format!("users/{}/revokeSignInSessions", enc(id));
                self.call(Method::POST, &path, None, "User.RevokeSessions.All")
                    .await
                    .map(|_| ())
            }
            Action::RemoveGroups => self.remove_groups(id).await,
            Action::HandOffFiles => Err(ConnectorError::permanent(
                &self.system,
                "hand-off-files needs a recipient (the leaver's manager)",
            )
            .hint("the plan names the manager from the roster; re-plan")),
            Action::RemoveLicenses => self.remove_licenses(id).await,
            Action::ResetMfa => self.reset_mfa(id).await,
            Action::RemoveAppRoles => self.remove_app_roles(id).await,
            Action::Delete if self.capabilities.contains(&Action::Delete) => {
                let path = format!("users/{}", enc(id));
                self.call(Method::DELETE, &path, None, "User.ReadWrite.All")
                    .await
                    .map(|_| ())
            }
            other => Err(ConnectorError::permanent(
                &self.system,
                format!("the graph connector cannot `{other}` here"),
            )
            .hint("deleting needs `delete=#true`; mailbox handoff is a task for Exchange admins")),
        }
    }

    /// Shares the root of the user's OneDrive with `to` (write, sign-in required, no email):
    /// Microsoft's documented way to give a manager a leaver's files ("driveItem: invite").
    /// A user without a OneDrive has nothing to hand off.
    async fn hand_off(&self, id: &str, to: &str) -> Result<(), ConnectorError> {
        let path = format!("users/{}/drive/root/invite", enc(id));
        let body = json!({
            "recipients": [{"email": to}],
            "roles": ["write"],
            "requireSignIn": true,
            "sendInvitation": false,
        });
        self.call(Method::POST, &path, Some(&body), "Files.ReadWrite.All")
            .await
            .map(|_| ())
    }

    async fn restore(&self, id: &str, restore: &Restore) -> Result<(), ConnectorError> {
        match restore {
            Restore::Enable => {
                if self.get_user(id).await?.is_none() {
                    return Err(ConnectorError::permanent(
                        &self.system,
                        format!("user {id} no longer exists"),
                    )
                    .hint("a deleted user can be restored from Entra ID's deleted users for 30 days (POST /directory/deletedItems/{id}/restore)"));
                }
                self.set_enabled(id, true).await
            }
            Restore::AddGroups(groups) => self.add_groups(id, groups).await,
            Restore::AddLicenses(licenses) => self.add_licenses(id, licenses).await,
        }
    }
}
