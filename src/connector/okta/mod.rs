//! The `okta` connector: Okta's own Management API (`/api/v1`), not SCIM.
//!
//! Okta is a SCIM *client* for the apps it provisions, not a SCIM service provider for its
//! own users, so cutting Okta itself goes through its Management API: list users (`limit`,
//! `Link: rel="next"` cursors), their groups (read group by group, a few requests per group
//! rather than one per user), and the lifecycle operations. Two details
//! decide whether a leaver is seen and cut at all:
//!
//! - The default user listing leaves out `DEPROVISIONED` users, so the connector also lists
//!   them (`filter=status eq "DEPROVISIONED"`): a re-created or deactivated account must be
//!   seen, or the plan could miss a leaver's second account.
//! - A service app without an admin role gets `200 OK` with an empty list. An empty identity
//!   provider must never read as "nobody has access": an org with no users is refused.
//!
//! `disable` is a policy choice ([`DisableAs`]): `suspend` (the default: reversible,
//! assignments stay) or `deactivate` (deprovisions every app downstream). `revoke-sessions`
//! clears the user's sessions with their OAuth tokens and revokes the user's grants;
//! `reset-mfa` resets every enrolled factor; `remove-groups` leaves the groups Okta manages
//! (groups an app or directory masters are reported as held). `delete` on a user that is not
//! deactivated needs two calls, as Okta documents: the first `DELETE` only deactivates.
//! Requests, rate limits and errors are in [`http`]; the credential in [`auth`].

mod auth;
mod http;
mod settings;

pub use settings::{Credential, DisableAs, OktaSettings};

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;

use async_trait::async_trait;
use futures::StreamExt;
use reqwest::Method;
use serde_json::Value;

use super::kind::Kind;
use super::percent::encode as enc;
use super::transport;
use super::{Account, AccountStatus, Connector, ConnectorError, Lookup, Restore};
use crate::policy::Action;

/// How many `or` clauses one `search` carries.
const SEARCH_CLAUSES: usize = 10;
/// How many users' groups are read at once.
const READ_CONCURRENCY: usize = 8;

pub struct Okta {
    system: String,
    /// The org URL, `https://ORG.okta.com`.
    base: String,
    client: reqwest::Client,
    auth: auth::Auth,
    disable_as: DisableAs,
    page_size: u32,
    reserve_percent: u32,
    capabilities: Vec<Action>,
    window: std::sync::Mutex<http::Window>,
    /// Users' statuses as last read (see `remembered_status`).
    statuses: std::sync::Mutex<HashMap<String, String>>,
}

impl fmt::Debug for Okta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Okta")
            .field("system", &self.system)
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl Okta {
    pub fn new(system: &str, cfg: &OktaSettings, root: &Path) -> Result<Okta, ConnectorError> {
        let client = super::transport::client(system, cfg.timeout)?;
        Ok(Okta {
            system: system.to_string(),
            base: cfg.url.clone(),
            client,
            auth: auth::Auth::load(system, cfg, root)?,
            disable_as: cfg.disable_as,
            page_size: cfg.page_size,
            reserve_percent: cfg.rate_limit_reserve,
            capabilities: cfg.capabilities(),
            window: Default::default(),
            statuses: Default::default(),
        })
    }

    async fn user(&self, id: &str) -> Result<Option<Value>, ConnectorError> {
        Ok(self
            .call(Method::GET, &format!("api/v1/users/{}", enc(id)), None)
            .await?
            .body)
    }

    /// Every group of the user, page by page; none when the user does not exist.
    async fn groups_of(&self, id: &str) -> Result<Vec<Value>, ConnectorError> {
        let path = format!("api/v1/users/{}/groups?limit=200", enc(id));
        let first = self.call(Method::GET, &path, None).await?;
        match first.body {
            None => Ok(Vec::new()),
            Some(Value::Array(mut groups)) => {
                if let Some(next) = first.next {
                    groups.extend(self.all(&next).await?);
                }
                Ok(groups)
            }
            Some(_) => Err(self.broken("a user's groups that are not a list")),
        }
    }

    async fn complete(&self, user: Value) -> Result<Account, ConnectorError> {
        let id = user
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| self.broken("a user without an id"))?
            .to_string();
        let groups = self.groups_of(&id).await?;
        Ok(account(&user, &groups))
    }

    /// The status as last read, taken once: a disable right after a read needs no second
    /// read. A stale one costs a refused transition and a fresh read, never a wrong write.
    fn remembered_status(&self, id: &str) -> Option<String> {
        self.statuses.lock().ok().and_then(|mut s| s.remove(id))
    }

    fn remember_status(&self, user: &Value) {
        if let (Some(id), Some(status), Ok(mut s)) = (
            user.get("id").and_then(Value::as_str),
            user.get("status").and_then(Value::as_str),
            self.statuses.lock(),
        ) {
            s.insert(id.to_string(), status.to_string());
        }
    }

    async fn complete_all(&self, users: Vec<Value>) -> Result<Vec<Account>, ConnectorError> {
        futures::stream::iter(users)
            .map(|u| async move { self.complete(u).await })
            .buffered(READ_CONCURRENCY)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect()
    }

    /// Every user's groups, read group by group: a few requests per group instead of one
    /// per user. `Everyone` holds every user and grants nothing, so it is not read.
    async fn memberships(&self) -> Result<HashMap<String, Vec<Value>>, ConnectorError> {
        let groups = self.all("api/v1/groups?limit=200").await?;
        let groups = groups
            .into_iter()
            .filter(|g| group_type(g) != "BUILT_IN")
            .collect();
        transport::groups_by_member(groups, READ_CONCURRENCY, |gid| async move {
            self.all(&format!("api/v1/groups/{}/users?limit=1000", enc(&gid)))
                .await
        })
        .await
    }

    fn broken(&self, what: &str) -> ConnectorError {
        ConnectorError::permanent(&self.system, format!("Okta returned {what}"))
            .hint("report the object to Okta support; offboard cannot address it")
    }

    async fn post(&self, path: String) -> Result<(), ConnectorError> {
        self.call(Method::POST, &path, None).await.map(|_| ())
    }

    async fn status_of(&self, id: &str) -> Result<Option<String>, ConnectorError> {
        Ok(self.user(id).await?.map(|u| {
            u.get("status")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        }))
    }

    async fn disable(&self, id: &str) -> Result<(), ConnectorError> {
        let mut remembered = self.remembered_status(id);
        loop {
            let fresh = remembered.is_none();
            let status = match remembered.take() {
                Some(status) => status,
                None => match self.status_of(id).await? {
                    Some(status) => status,
                    None => return Ok(()), // no account, no access
                },
            };
            let path = |op: &str| format!("api/v1/users/{}/lifecycle/{op}", enc(id));
            let result = match (self.disable_as, status.as_str()) {
                (_, "SUSPENDED" | "DEPROVISIONED") => return Ok(()),
                // Okta suspends only an active user; any other is deactivated.
                (DisableAs::Suspend, "ACTIVE") => self.post(path("suspend")).await,
                _ => self.post(path("deactivate") + "?sendEmail=false").await,
            };
            match result {
                // The user changed since it was read: read it again and decide again.
                Err(e) if !fresh && e.message.contains("HTTP 400") => continue,
                other => return other,
            }
        }
    }

    async fn revoke_sessions(&self, id: &str) -> Result<(), ConnectorError> {
        let sessions = format!("api/v1/users/{}/sessions?oauthTokens=true", enc(id));
        self.call(Method::DELETE, &sessions, None).await?;
        let grants = format!("api/v1/users/{}/grants", enc(id));
        self.call(Method::DELETE, &grants, None).await.map(|_| ())
    }

    async fn remove_groups(&self, id: &str) -> Result<(), ConnectorError> {
        for g in self.groups_of(id).await? {
            if group_type(&g) != "OKTA_GROUP" {
                continue; // held: see `account`
            }
            let Some(gid) = g.get("id").and_then(Value::as_str) else {
                continue;
            };
            let path = format!("api/v1/groups/{}/users/{}", enc(gid), enc(id));
            self.call(Method::DELETE, &path, None).await?;
        }
        Ok(())
    }

    /// Okta's first `DELETE` of a user that is not deactivated only deactivates it; the
    /// second deletes it.
    async fn delete(&self, id: &str) -> Result<(), ConnectorError> {
        let path = format!("api/v1/users/{}", enc(id));
        for _ in 0..2 {
            if self.status_of(id).await?.is_none() {
                return Ok(());
            }
            self.call(Method::DELETE, &path, None).await?;
        }
        match self.status_of(id).await? {
            None => Ok(()),
            Some(status) => Err(ConnectorError::temporary(
                &self.system,
                format!("user {id} is still there ({status}) after two deletes"),
            )),
        }
    }

    async fn enable(&self, id: &str) -> Result<(), ConnectorError> {
        let Some(status) = self.status_of(id).await? else {
            return Err(ConnectorError::permanent(
                &self.system,
                format!("user {id} no longer exists"),
            )
            .hint("a deleted Okta user cannot be recovered; create the account again"));
        };
        let path = |op: &str| format!("api/v1/users/{}/lifecycle/{op}", enc(id));
        match status.as_str() {
            "SUSPENDED" => self.post(path("unsuspend")).await,
            "DEPROVISIONED" => self.post(path("activate") + "?sendEmail=false").await,
            _ => Ok(()),
        }
    }

    async fn add_groups(&self, id: &str, names: &[String]) -> Result<(), ConnectorError> {
        for name in names {
            let path = format!("api/v1/groups?q={}&limit=200", enc(name));
            let found = self.all(&path).await?;
            let Some(gid) = found
                .iter()
                .find(|g| group_name(g) == *name && group_type(g) == "OKTA_GROUP")
                .and_then(|g| g.get("id"))
                .and_then(Value::as_str)
            else {
                return Err(ConnectorError::permanent(
                    &self.system,
                    format!("group {name} no longer exists"),
                )
                .hint("add the user to the group by hand"));
            };
            let path = format!("api/v1/groups/{}/users/{}", enc(gid), enc(id));
            self.call(Method::PUT, &path, None).await?;
        }
        Ok(())
    }

    /// `search` clauses for a lookup, or `None` when Okta cannot search on it.
    fn clauses(lookup: &Lookup) -> Option<Vec<String>> {
        let v = lookup.value.replace('\\', "\\\\").replace('"', "\\\"");
        let attribute = lookup
            .attribute
            .to_ascii_lowercase()
            .replace(['-', '_'], "");
        Some(match attribute.as_str() {
            "email" | "emails" | "mail" => vec![
                format!("profile.email eq \"{v}\""),
                format!("profile.secondEmail eq \"{v}\""),
                format!("profile.login eq \"{v}\""),
            ],
            "username" | "login" => vec![format!("profile.login eq \"{v}\"")],
            "employeeid" | "employeenumber" => {
                vec![format!("profile.employeeNumber eq \"{v}\"")]
            }
            _ => return None,
        })
    }
}

fn group_type(g: &Value) -> &str {
    g.get("type").and_then(Value::as_str).unwrap_or("")
}

fn group_name(g: &Value) -> String {
    g.pointer("/profile/name")
        .and_then(Value::as_str)
        .or_else(|| g.get("id").and_then(Value::as_str))
        .unwrap_or("")
        .to_string()
}

/// An Okta user and its groups, in offboard's account shape. Groups Okta manages are removed;
/// groups an app or a directory masters (`APP_GROUP`) are held; `Everyone` is not access.
fn account(user: &Value, groups: &[Value]) -> Account {
    let text = |p: &str| {
        user.pointer(p)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let id = text("/id").unwrap_or_default();
    let status = text("/status").unwrap_or_default();
    let mut emails: Vec<String> = Vec::new();
    for e in [text("/profile/email"), text("/profile/secondEmail")]
        .into_iter()
        .flatten()
    {
        if !emails.iter().any(|x| x.eq_ignore_ascii_case(&e)) {
            emails.push(e);
        }
    }
    let mut member_of = Vec::new();
    let mut held = Vec::new();
    for g in groups {
        match group_type(g) {
            "OKTA_GROUP" => member_of.push(group_name(g)),
            "APP_GROUP" => held.push(format!(
                "group '{}' is imported from an app or directory (APP_GROUP): Okta cannot change it; remove the membership in its source",
                group_name(g)
            )),
            _ => {}
        }
    }
    let display = match (text("/profile/firstName"), text("/profile/lastName")) {
        (Some(f), Some(l)) => Some(format!("{f} {l}")),
        (f, l) => f.or(l),
    };
    let mut attributes = BTreeMap::new();
    for (key, pointer) in [
        ("login", "/profile/login"),
        ("employeeNumber", "/profile/employeeNumber"),
        ("okta.status", "/status"),
    ] {
        if let Some(v) = text(pointer) {
            attributes.insert(key.to_string(), v);
        }
    }
    Account {
        username: text("/profile/login").unwrap_or_else(|| id.clone()),
        id,
        emails,
        employee_id: text("/profile/employeeNumber"),
        display_name: display,
        // Suspended and deactivated users cannot sign in; every other status can, or will.
        status: match status.as_str() {
            "SUSPENDED" | "DEPROVISIONED" => AccountStatus::Disabled,
            _ => AccountStatus::Active,
        },
        groups: member_of,
        entitlements: Vec::new(),
        licenses: Vec::new(),
        privileged: false,
        last_login: text("/lastLogin").and_then(|t| t.parse().ok()),
        sessions: None,
        container: None,
        attributes,
        app_roles: Vec::new(),
        held,
        mastered_by: None,
    }
}

#[async_trait]
impl Connector for Okta {
    fn system(&self) -> &str {
        &self.system
    }

    fn capabilities(&self) -> Vec<Action> {
        self.capabilities.clone()
    }

    async fn list_accounts(&self) -> Result<Vec<Account>, ConnectorError> {
        let limit = self.page_size;
        let mut users = self.all(&format!("api/v1/users?limit={limit}")).await?;
        if users.is_empty() {
            // An org always has its admins: an empty list means the credential sees nobody.
            return Err(ConnectorError::permanent(
                &self.system,
                "Okta answered the user listing with no users at all",
            )
            .hint("the API token's admin or the service app has no admin role (Okta then lists nobody): assign it a role that can read and manage users, see docs/connectors/okta.md"));
        }
        let filter = enc("status eq \"DEPROVISIONED\"");
        users.extend(
            self.all(&format!("api/v1/users?limit={limit}&filter={filter}"))
                .await?,
        );
        let memberships = self.memberships().await?;
        Ok(users
            .iter()
            .map(|u| {
                let id = u.get("id").and_then(Value::as_str).unwrap_or("");
                account(u, memberships.get(id).map_or(&[], Vec::as_slice))
            })
            .collect())
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
        for chunk in clauses.chunks(SEARCH_CLAUSES) {
            // `search` (unlike the default listing) includes deactivated users.
            let path = format!(
                "api/v1/users?limit={}&search={}",
                self.page_size,
                enc(&chunk.join(" or "))
            );
            for u in self.all(&path).await? {
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

    /// The user and its groups, asked at once.
    async fn read_account(&self, id: &str) -> Result<Option<Account>, ConnectorError> {
        let (user, groups) = futures::try_join!(self.user(id), self.groups_of(id))?;
        Ok(user.map(|user| {
            self.remember_status(&user);
            account(&user, &groups)
        }))
    }

    async fn perform(&self, id: &str, action: Action) -> Result<(), ConnectorError> {
        match action {
            Action::Disable => self.disable(id).await,
            Action::RevokeSessions => self.revoke_sessions(id).await,
            Action::RemoveGroups => self.remove_groups(id).await,
            Action::ResetMfa => {
                self.post(format!("api/v1/users/{}/lifecycle/reset_factors", enc(id)))
                    .await
            }
            Action::Delete if self.capabilities.contains(&Action::Delete) => self.delete(id).await,
            other => Err(ConnectorError::permanent(
                &self.system,
                format!("the okta connector cannot `{other}` here"),
            )
            .hint("deleting needs `delete=#true`")),
        }
    }

    async fn restore(&self, id: &str, restore: &Restore) -> Result<(), ConnectorError> {
        match restore {
            Restore::Enable => self.enable(id).await,
            Restore::AddGroups(groups) => self.add_groups(id, groups).await,
            Restore::AddLicenses(_) => Err(ConnectorError::permanent(
                &self.system,
                "Okta has no licences to restore",
            )),
        }
    }
}

impl Okta {
    fn renewable(&self) -> bool {
        self.auth.renewable()
    }

    async fn authorization(&self) -> Result<super::secret::Secret, ConnectorError> {
        self.auth.header(&self.client).await
    }

    async fn forget_token(&self, header: &super::secret::Secret) {
        self.auth.forget(header).await;
    }
}
