//! The `google` connector: Google Workspace through the Admin SDK Directory API.
//!
//! A service account with domain-wide delegation acts as an admin ([`auth`]). Reading lists
//! the customer's users (`maxResults`, `pageToken`) and the customer's groups with their
//! members (`members.list`, a few requests per group rather than one per user); reading one
//! user asks for its groups (`groups.list` with `userKey`); a targeted read searches by
//! `email=` or `externalId=`. `disable` suspends the user; `revoke-sessions` signs the user out of every
//! session (`users.signOut`) and deletes the OAuth tokens they granted to apps and their
//! application-specific passwords, which outlive a sign-out; `remove-groups` leaves every
//! group; `delete` deletes (Google keeps the user restorable for 20 days). Rollback
//! unsuspends and re-adds groups. Quota errors (403 `rateLimitExceeded` and
//! `userRateLimitExceeded`, 429) are temporary, retried with backoff; a 404 is done.

mod auth;
mod settings;

pub use settings::GoogleSettings;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::Path;

use async_trait::async_trait;
use futures::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::kind::Kind;
use super::percent::encode as enc;
use super::transport;
use super::{Account, AccountStatus, Connector, ConnectorError, ErrorKind, Lookup, Restore};
use crate::policy::Action;

const DIRECTORY: &str = "admin/directory/v1";
const MAX_PAGES: usize = 20_100;
/// How many users' groups are read at once.
const READ_CONCURRENCY: usize = 8;

pub struct Google {
    system: String,
    /// `{api-url}/admin/directory/v1`.
    base: String,
    customer: String,
    tokens: auth::Tokens,
    client: reqwest::Client,
    page_size: u32,
    capabilities: Vec<Action>,
}

impl fmt::Debug for Google {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Google")
            .field("system", &self.system)
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl Google {
    pub fn new(system: &str, cfg: &GoogleSettings, root: &Path) -> Result<Google, ConnectorError> {
        let client = super::transport::client(system, cfg.timeout)?;
        Ok(Google {
            system: system.to_string(),
            base: format!("{}/{DIRECTORY}", cfg.api_url),
            customer: cfg.customer.clone(),
            tokens: auth::Tokens::load(system, cfg, root)?,
            client,
            page_size: cfg.page_size,
            capabilities: cfg.capabilities(),
        })
    }

    /// One request below the Directory API's root; `Ok(None)` for 404.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Option<Value>, ConnectorError> {
        let url = format!("{}/{}", self.base, path.trim_start_matches('/'));
        let what = format!("{method} {}", path.split('?').next().unwrap_or(path));
        let mut renewed = false;
        loop {
            let token = self.tokens.get(&self.client).await?;
            let mut req = self
                .client
                .request(method.clone(), &url)
                .bearer_auth(token.expose())
                .header("Accept", "application/json");
            if let Some(b) = body {
                req = req
                    .header("Content-Type", "application/json")
                    .body(b.to_string());
            }
            let answer = transport::exchange(&self.system, &what, &self.base, req).await?;
            if answer.status == StatusCode::UNAUTHORIZED && !renewed {
                self.tokens.invalidate(&token).await;
                renewed = true;
                continue;
            }
            if answer.status == StatusCode::NOT_FOUND {
                return Ok(None);
            }
            if answer.status.is_success() {
                return answer
                    .json(&self.system, &what, "check the connector's api-url=")
                    .map(Some);
            }
            let retry_after = answer.retry_after();
            return Err(self.status_error(&what, answer.status, &answer.bytes, retry_after));
        }
    }

    /// Every item of a listing under `key`, following `nextPageToken` to the end. Google
    /// leaves the array out of an empty page.
    async fn all(&self, path: &str, key: &str) -> Result<Vec<Value>, ConnectorError> {
        self.all_of(path, key).await?.ok_or_else(|| {
            ConnectorError::permanent(&self.system, format!("GET {path}: HTTP 404"))
                .hint("check the connector's api-url= and customer=")
        })
    }

    /// [`Self::all`], or `None` when what is listed (a user's groups) does not exist.
    async fn all_of(&self, path: &str, key: &str) -> Result<Option<Vec<Value>>, ConnectorError> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let page_path = match &token {
                Some(t) => format!("{path}&pageToken={}", enc(t)),
                None => path.to_string(),
            };
            let Some(page) = self.call(Method::GET, &page_path, None).await? else {
                // Only the first page may say "no such thing"; a later one going missing
                // would drop what was already read.
                if token.is_none() {
                    return Ok(None);
                }
                return Err(ConnectorError::temporary(
                    &self.system,
                    format!("GET {path}: a later page answered 404"),
                )
                .hint("the listing changed while it was read; it is read again"));
            };
            if let Some(items) = page.get(key).and_then(Value::as_array) {
                out.extend(items.iter().cloned());
            }
            match page.get("nextPageToken").and_then(Value::as_str) {
                None | Some("") => return Ok(Some(out)),
                Some(t) if !seen.insert(t.to_string()) => {
                    return Err(ConnectorError::permanent(
                        &self.system,
                        "Google repeated a page token: the listing would never end",
                    ));
                }
                Some(t) => token = Some(t.to_string()),
            }
        }
        Err(ConnectorError::permanent(
            &self.system,
            format!("a listing passed {MAX_PAGES} pages"),
        ))
    }

    /// Google's errors ("Directory API: error codes"): quota reasons are temporary even when
    /// the status is 403.
    fn status_error(
        &self,
        what: &str,
        status: StatusCode,
        bytes: &[u8],
        retry_after: Option<u64>,
    ) -> ConnectorError {
        let body: Value = serde_json::from_slice(bytes).unwrap_or(Value::Null);
        let message = body
            .pointer("/error/message")
            .and_then(Value::as_str)
            .map(|m| m.chars().take(300).collect::<String>())
            .unwrap_or_default();
        let reason = body
            .pointer("/error/errors/0/reason")
            .and_then(Value::as_str)
            .unwrap_or("");
        let text = format!("{what}: HTTP {} {reason} {message}", status.as_u16())
            .trim_end()
            .to_string();
        let base = ConnectorError::permanent(&self.system, text);
        let quota = matches!(
            reason,
            "rateLimitExceeded" | "userRateLimitExceeded" | "quotaExceeded"
        );
        match status.as_u16() {
            403 | 429 if quota || status.as_u16() == 429 => ConnectorError {
                kind: ErrorKind::Temporary,
                retry_after,
                ..base.hint("Google's quota; retried automatically with backoff")
            },
            500..=599 => ConnectorError {
                kind: ErrorKind::Temporary,
                retry_after,
                ..base.hint("Google failed; retried automatically")
            },
            401 => base.hint("Google refused a fresh token: check the service account's domain-wide delegation"),
            403 => base.hint("not authorised: admin= must be an admin who may manage users and groups, and the delegation must allow the scopes in docs/connectors/google.md"),
            _ => base.hint("Google rejected the request; see its message"),
        }
    }

    /// The user's groups; none when the user does not exist.
    async fn groups_of(&self, id: &str) -> Result<Vec<Value>, ConnectorError> {
        let path = format!("groups?userKey={}&maxResults=200", enc(id));
        Ok(self.all_of(&path, "groups").await?.unwrap_or_default())
    }

    async fn complete(&self, user: Value) -> Result<Account, ConnectorError> {
        let id = user
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                ConnectorError::permanent(&self.system, "Google returned a user without an id")
            })?
            .to_string();
        let groups = self.groups_of(&id).await?;
        Ok(account(&user, &groups))
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

    /// Every user's groups, read group by group (`members.list`): a few requests per group
    /// instead of one per user.
    async fn memberships(&self) -> Result<HashMap<String, Vec<Value>>, ConnectorError> {
        let path = format!("groups?customer={}&maxResults=200", enc(&self.customer));
        let groups = self.all(&path, "groups").await?;
        transport::groups_by_member(groups, READ_CONCURRENCY, |gid| async move {
            let path = format!("groups/{}/members?maxResults=200", enc(&gid));
            self.all(&path, "members").await
        })
        .await
    }

    async fn set_suspended(&self, id: &str, suspended: bool) -> Result<(), ConnectorError> {
        let path = format!("users/{}", enc(id));
        self.call(
            Method::PATCH,
            &path,
            Some(&json!({ "suspended": suspended })),
        )
        .await
        .map(|_| ())
    }

    /// Sign-out, then the OAuth tokens the user granted apps and their app passwords: both
    /// outlive a sign-out.
    async fn revoke_sessions(&self, id: &str) -> Result<(), ConnectorError> {
        let user = enc(id);
        if self
            .call(Method::POST, &format!("users/{user}/signOut"), None)
            .await?
            .is_none()
        {
            return Ok(()); // no user, no sessions
        }
        let (tokens_path, asps_path) =
            (format!("users/{user}/tokens"), format!("users/{user}/asps"));
        let (tokens, asps) = futures::try_join!(
            self.call(Method::GET, &tokens_path, None),
            self.call(Method::GET, &asps_path, None),
        )?;
        for t in tokens.iter().flat_map(|t| items(t, "items")) {
            if let Some(client) = t.get("clientId").and_then(Value::as_str) {
                let path = format!("users/{user}/tokens/{}", enc(client));
                self.call(Method::DELETE, &path, None).await?;
            }
        }
        for a in asps.iter().flat_map(|a| items(a, "items")) {
            if let Some(code) = a.get("codeId").and_then(Value::as_i64) {
                let path = format!("users/{user}/asps/{code}");
                self.call(Method::DELETE, &path, None).await?;
            }
        }
        Ok(())
    }

    async fn remove_groups(&self, id: &str) -> Result<(), ConnectorError> {
        for g in self.groups_of(id).await? {
            if let Some(gid) = g.get("id").and_then(Value::as_str) {
                let path = format!("groups/{}/members/{}", enc(gid), enc(id));
                self.call(Method::DELETE, &path, None).await?;
            }
        }
        Ok(())
    }

    async fn add_groups(&self, id: &str, groups: &[String]) -> Result<(), ConnectorError> {
        for email in groups {
            let path = format!("groups/{}/members", enc(email));
            let body = json!({ "id": id, "role": "MEMBER" });
            match self.call(Method::POST, &path, Some(&body)).await {
                Ok(Some(_)) => {}
                Ok(None) => {
                    return Err(ConnectorError::permanent(
                        &self.system,
                        format!("group {email} no longer exists"),
                    )
                    .hint("add the user to the group by hand"));
                }
                // Already a member: restored.
                Err(e) if e.message.contains("HTTP 409") => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// A search query for a lookup, or `None` when Google cannot search on it.
    fn query(lookup: &Lookup) -> Option<String> {
        let v = lookup.value.replace('\\', "\\\\").replace('\'', "\\'");
        let attribute = lookup
            .attribute
            .to_ascii_lowercase()
            .replace(['-', '_'], "");
        match attribute.as_str() {
            "email" | "emails" | "mail" | "username" => Some(format!("email='{v}'")),
            "employeeid" | "externalid" => Some(format!("externalId='{v}'")),
            _ => None,
        }
    }
}

fn items<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// A Directory user and its groups (by email), in offboard's account shape.
fn account(user: &Value, groups: &[Value]) -> Account {
    let text = |p: &str| {
        user.pointer(p)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let id = text("/id").unwrap_or_default();
    let primary = text("/primaryEmail").unwrap_or_else(|| id.clone());
    let mut emails = vec![primary.clone()];
    let others = items(user, "emails")
        .iter()
        .filter_map(|e| e.get("address").and_then(Value::as_str))
        .chain(items(user, "aliases").iter().filter_map(Value::as_str));
    for e in others {
        if !emails.iter().any(|x| x.eq_ignore_ascii_case(e)) {
            emails.push(e.to_string());
        }
    }
    let employee_id = items(user, "externalIds")
        .iter()
        .find(|x| x.get("type").and_then(Value::as_str) == Some("organization"))
        .and_then(|x| x.get("value").and_then(Value::as_str))
        .map(str::to_string);
    let flag = |k: &str| user.get(k).and_then(Value::as_bool) == Some(true);
    // Google reports "never signed in" as the epoch.
    let last_login = text("/lastLoginTime")
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .filter(|t| t.as_second() > 0);
    let mut attributes = BTreeMap::new();
    attributes.insert("primaryEmail".to_string(), primary.clone());
    if let Some(ou) = text("/orgUnitPath") {
        attributes.insert("orgUnitPath".to_string(), ou);
    }
    Account {
        id,
        username: primary,
        emails,
        employee_id,
        display_name: text("/name/fullName"),
        status: if flag("suspended") || flag("archived") {
            AccountStatus::Disabled
        } else {
            AccountStatus::Active
        },
        groups: groups
            .iter()
            .filter_map(|g| g.get("email").and_then(Value::as_str).map(str::to_string))
            .collect(),
        entitlements: Vec::new(),
        licenses: Vec::new(),
        privileged: flag("isAdmin") || flag("isDelegatedAdmin"),
        last_login,
        sessions: None,
        container: None,
        attributes,
        app_roles: Vec::new(),
        held: Vec::new(),
        mastered_by: None,
    }
}

#[async_trait]
impl Connector for Google {
    fn system(&self) -> &str {
        &self.system
    }

    fn capabilities(&self) -> Vec<Action> {
        self.capabilities.clone()
    }

    async fn list_accounts(&self) -> Result<Vec<Account>, ConnectorError> {
        let path = format!(
            "users?customer={}&maxResults={}&projection=basic",
            enc(&self.customer),
            self.page_size
        );
        let users = self.all(&path, "users").await?;
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
        let mut users: Vec<Value> = Vec::new();
        for lookup in lookups {
            let Some(query) = Self::query(lookup) else {
                return Ok(None);
            };
            let path = format!(
                "users?customer={}&maxResults={}&projection=basic&query={}",
                enc(&self.customer),
                self.page_size,
                enc(&query)
            );
            for u in self.all(&path, "users").await? {
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
        let path = format!("users/{}?projection=basic", enc(id));
        let (user, groups) =
            futures::try_join!(self.call(Method::GET, &path, None), self.groups_of(id))?;
        Ok(user.map(|user| account(&user, &groups)))
    }

    async fn perform(&self, id: &str, action: Action) -> Result<(), ConnectorError> {
        match action {
            Action::Disable => self.set_suspended(id, true).await,
            Action::RevokeSessions => self.revoke_sessions(id).await,
            Action::RemoveGroups => self.remove_groups(id).await,
            Action::Delete if self.capabilities.contains(&Action::Delete) => {
                let path = format!("users/{}", enc(id));
                self.call(Method::DELETE, &path, None).await.map(|_| ())
            }
            other => Err(ConnectorError::permanent(
                &self.system,
                format!("the google connector cannot `{other}` here"),
            )
            .hint("deleting needs `delete=#true`")),
        }
    }

    async fn restore(&self, id: &str, restore: &Restore) -> Result<(), ConnectorError> {
        match restore {
            Restore::Enable => {
                let path = format!("users/{}?projection=basic", enc(id));
                if self.call(Method::GET, &path, None).await?.is_none() {
                    return Err(ConnectorError::permanent(
                        &self.system,
                        format!("user {id} no longer exists"),
                    )
                    .hint("a deleted user can be restored in the Admin console for 20 days"));
                }
                self.set_suspended(id, false).await
            }
            Restore::AddGroups(groups) => self.add_groups(id, groups).await,
            Restore::AddLicenses(_) => Err(ConnectorError::permanent(
                &self.system,
                "the google connector does not manage licences",
            )),
        }
    }
}
