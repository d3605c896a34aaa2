//! The `scim` connector: SCIM 2.0 (RFC 7643 resources, RFC 7644 protocol) over HTTPS.
//!
//! Most SaaS applications deprovision through SCIM. This module lists users with
//! `startIndex`/`count` pagination, reads group memberships from `/Groups` when the server
//! does not fill `User.groups`, and acts with PATCH (`active=false`, member removal) and
//! DELETE. Writes send `If-Match` with the version just read; a 412 means someone changed
//! the resource in between, so it is read again and the decision re-made, never overwritten
//! blindly. HTTP statuses become permanent or temporary errors with hints; retrying is the
//! caller's wrapper. The bearer token lives only in the request header: it is never part of
//! an error, a log line or `Debug` output. What the server sends back is read by
//! [`response`], with limits (body size, paging that repeats or never ends), so a broken or
//! hostile server is an error rather than a hang, a crash or a missing account.

mod find;
mod http;
pub mod response;
mod settings;

pub use settings::ScimSettings;

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::Method;
use serde_json::{Value, json};

use super::kind::Kind;
use super::{Account, Conditional, Connector, ConnectorError, Lookup, Restore};
use crate::policy::Action;

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// How often a write is re-decided after `412 Precondition Failed` before giving up.
const MAX_CONFLICTS: usize = 3;

/// A bearer token; `Debug` never shows it.
pub type Token = super::secret::Secret;

pub struct Scim {
    system: String,
    base: String,
    token: Token,
    page_size: u32,
    hard_delete: bool,
    manage_groups: bool,
    user_attribute: String,
    client: reqwest::Client,
    capabilities: Vec<Action>,
    /// `meta.version` of users as last read, so a write right after a read needs no second
    /// GET; a stale entry costs one 412 and a re-read, never a blind overwrite.
    versions: std::sync::Mutex<std::collections::HashMap<String, String>>,
    /// Whether the service provider says it supports ETags (`/ServiceProviderConfig`),
    /// asked once: only then does `If-Match` guarantee anything (RFC 7644 §3.14).
    etag_supported: tokio::sync::OnceCell<bool>,
}

impl fmt::Debug for Scim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scim")
            .field("system", &self.system)
            .field("base", &self.base)
            .field("token", &self.token)
            .finish()
    }
}

/// A response body with the resource version it came with.
struct Versioned {
    body: Value,
    version: Option<String>,
}

impl Scim {
    pub fn new(system: &str, cfg: &ScimSettings, token: Token) -> Result<Scim, ConnectorError> {
        let timeout = Duration::from_secs(cfg.timeout.as_secs().max(1) as u64);
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("offboard/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                ConnectorError::permanent(system, format!("cannot build the HTTP client: {e}"))
            })?;
        Ok(Scim {
            system: system.to_string(),
            base: cfg.url.trim_end_matches('/').to_string(),
            token,
            page_size: cfg.page_size,
            hard_delete: cfg.hard_delete,
            manage_groups: cfg.manage_groups,
            user_attribute: cfg.user_attribute.clone(),
            client,
            capabilities: cfg.capabilities(),
            versions: Default::default(),
            etag_supported: tokio::sync::OnceCell::new(),
        })
    }

    /// `etag.supported` of the service provider's configuration; `false` when it cannot be
    /// read, which only costs the optimisation that relies on it.
    async fn etag_supported(&self) -> bool {
        *self
            .etag_supported
            .get_or_init(|| async {
                match self
                    .send(Method::GET, "ServiceProviderConfig", &[], None, None)
                    .await
                {
                    Ok(Some(config)) => config
                        .body
                        .pointer("/etag/supported")
                        .and_then(Value::as_bool)
                        .unwrap_or(false),
                    _ => false,
                }
            })
            .await
    }

    fn remember_version(&self, id: &str, version: Option<&str>) {
        if let Ok(mut v) = self.versions.lock() {
            match version {
                Some(version) => v.insert(id.to_string(), version.to_string()),
                None => v.remove(id),
            };
        }
    }

    fn known_version(&self, id: &str) -> Option<String> {
        self.versions.lock().ok().and_then(|mut v| v.remove(id))
    }

    /// Every resource of a collection, page by page (`startIndex`/`count`) until the
    /// [`response::Pager`] says the listing is complete.
    async fn list_all(
        &self,
        collection: &str,
        extra: &[(&str, String)],
    ) -> Result<Vec<Value>, ConnectorError> {
        let mut pager = response::Pager::default();
        let mut start = 1usize;
        let broken = |e: String| {
            ConnectorError::permanent(&self.system, format!("GET {collection}: {e}")).hint(
                "the SCIM server's list response breaks RFC 7644 §3.4.2; report it to its vendor",
            )
        };
        loop {
            let mut query = vec![
                ("startIndex", start.to_string()),
                ("count", self.page_size.to_string()),
            ];
            query.extend(extra.iter().cloned());
            let body = self
                .send(Method::GET, collection, &query, None, None)
                .await?
                .ok_or_else(|| {
                    ConnectorError::permanent(&self.system, format!("GET {collection}: HTTP 404"))
                        .hint("check the connector's url= (the SCIM base URL, e.g. https://host/scim/v2)")
                })?
                .body;
            let page = response::page(body).map_err(broken)?;
            match pager.take(page, self.page_size as usize).map_err(broken)? {
                response::Next::From(next) => start = next,
                response::Next::Done => return Ok(pager.into_resources()),
            }
        }
    }

    /// Group display names by member id, from `/Groups`.
    async fn memberships(&self) -> Result<BTreeMap<String, Vec<String>>, ConnectorError> {
        if !self.manage_groups {
            return Ok(BTreeMap::new());
        }
        Ok(response::memberships(&self.list_all("Groups", &[]).await?))
    }

    /// Groups that list `id` as a member, with their versions.
    async fn groups_of(
        &self,
        id: &str,
    ) -> Result<Vec<(String, String, Option<String>)>, ConnectorError> {
        if !self.manage_groups {
            return Ok(Vec::new());
        }
        let filter = format!("members[value eq \"{}\"]", id.replace('"', "\\\""));
        let groups = self.list_all("Groups", &[("filter", filter)]).await?;
        Ok(groups
            .iter()
            .filter(|g| {
                // Some servers ignore filters; check membership ourselves.
                g.get("members")
                    .and_then(Value::as_array)
                    .is_some_and(|ms| {
                        ms.iter()
                            .any(|m| m.get("value").and_then(Value::as_str) == Some(id))
                    })
            })
            .filter_map(|g| {
                let gid = g.get("id").and_then(Value::as_str)?.to_string();
                let version = g
                    .pointer("/meta/version")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                Some((gid, response::group_name(g), version))
            })
            .collect())
    }

    fn to_account(&self, user: &Value, groups: Vec<String>) -> Result<Account, ConnectorError> {
        response::account(user, &self.user_attribute, groups).map_err(|e| {
            ConnectorError::permanent(&self.system, format!("GET Users: {e}")).hint(
                "the SCIM server returned a user offboard cannot address; report it to its vendor",
            )
        })
    }

    async fn get_user(&self, id: &str) -> Result<Option<Versioned>, ConnectorError> {
        self.send(
            Method::GET,
            &format!("Users/{}", encode(id)),
            &[],
            None,
            None,
        )
        .await
    }

    async fn disable(&self, id: &str) -> Result<(), ConnectorError> {
        let patch = json!({
            "schemas": [PATCH_OP],
            "Operations": [{"op": "replace", "path": "active", "value": false}]
        });
        // The caller has just read the user (and found it active): use that version first.
        let mut version = self.known_version(id);
        for _ in 0..MAX_CONFLICTS {
            if version.is_none() {
                let Some(user) = self.get_user(id).await? else {
                    return Ok(()); // no account, no access
                };
                if user.body.get("active").and_then(Value::as_bool) == Some(false) {
                    return Ok(());
                }
                version = user.version;
            }
            let path = format!("Users/{}", encode(id));
            match self
                .send(
                    Method::PATCH,
                    &path,
                    &[],
                    Some(&patch),
                    version.take().as_deref(),
                )
                .await
            {
                Ok(_) => return Ok(()),
                // Changed meanwhile (or our version was old): read again, decide again.
                Err(e) if is_conflict(&e) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(ConnectorError::temporary(
            &self.system,
            format!("user {id} kept changing while being disabled (HTTP 412)"),
        )
        .hint("another process is modifying this user; retry once it settles"))
    }

    async fn remove_groups(&self, id: &str) -> Result<(), ConnectorError> {
        let member_path = format!("members[value eq \"{}\"]", id.replace('"', "\\\""));
        let patch = json!({
            "schemas": [PATCH_OP],
            "Operations": [{"op": "remove", "path": member_path}]
        });
        for _ in 0..MAX_CONFLICTS {
            let groups = self.groups_of(id).await?;
            if groups.is_empty() {
                return Ok(());
            }
            let mut conflicted = false;
            for (gid, _, version) in groups {
                match self
                    .send(
                        Method::PATCH,
                        &format!("Groups/{}", encode(&gid)),
                        &[],
                        Some(&patch),
                        version.as_deref(),
                    )
                    .await
                {
                    Ok(_) => {}
                    Err(e) if is_conflict(&e) => conflicted = true,
                    Err(e) => return Err(e),
                }
            }
            if !conflicted {
                return Ok(());
            }
        }
        Err(ConnectorError::temporary(
            &self.system,
            format!("groups of {id} kept changing during removal (HTTP 412)"),
        ))
    }

    async fn delete(&self, id: &str) -> Result<(), ConnectorError> {
        // 404 (already gone) is success: `send` maps it to Ok(None).
        self.send(
            Method::DELETE,
            &format!("Users/{}", encode(id)),
            &[],
            None,
            None,
        )
        .await
        .map(|_| ())
    }
}

fn is_conflict(e: &ConnectorError) -> bool {
    e.message.contains("HTTP 412") || e.message.contains("HTTP 409")
}

/// Percent-encode an id for a path segment.
fn encode(id: &str) -> String {
    id.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[async_trait]
impl Connector for Scim {
    fn system(&self) -> &str {
        &self.system
    }

    fn capabilities(&self) -> Vec<Action> {
        self.capabilities.clone()
    }

    async fn list_accounts(&self) -> Result<Vec<Account>, ConnectorError> {
        let users = self.list_all("Users", &[]).await?;
        let mut memberships = if response::users_carry_groups(&users) {
            BTreeMap::new()
        } else {
            self.memberships().await?
        };
        users
            .iter()
            .map(|u| {
                let id = u.get("id").and_then(Value::as_str).unwrap_or("");
                let groups = memberships.remove(id).unwrap_or_default();
                self.to_account(u, groups)
            })
            .collect()
    }

    async fn find_accounts(
        &self,
        lookups: &[Lookup],
    ) -> Result<Option<Vec<Account>>, ConnectorError> {
        self.find(lookups).await
    }

    async fn read_account(&self, id: &str) -> Result<Option<Account>, ConnectorError> {
        let Some(user) = self.get_user(id).await? else {
            return Ok(None);
        };
        self.remember_version(id, user.version.as_deref());
        let groups = self
            .groups_of(id)
            .await?
            .into_iter()
            .map(|(_, name, _)| name)
            .collect();
        self.to_account(&user.body, groups).map(Some)
    }

    async fn perform(&self, id: &str, action: Action) -> Result<(), ConnectorError> {
        match action {
            Action::Disable => self.disable(id).await,
            Action::RemoveGroups if self.manage_groups => self.remove_groups(id).await,
            Action::Delete if self.hard_delete => self.delete(id).await,
            other => Err(ConnectorError::permanent(
                &self.system,
                format!("the scim connector cannot `{other}` here"),
            )
            .hint("see the connector's hard-delete= and manage-groups= settings")),
        }
    }

    async fn perform_if_unchanged(
        &self,
        id: &str,
        action: Action,
        version: &str,
    ) -> Result<Conditional, ConnectorError> {
        // A server that does not enforce If-Match would write whatever the account became
        // since the plan, so without declared ETag support the caller reads first instead.
        if action != Action::Disable || !self.etag_supported().await {
            return Ok(Conditional::Unsupported);
        }
        let patch = json!({
            "schemas": [PATCH_OP],
            "Operations": [{"op": "replace", "path": "active", "value": false}]
        });
        let path = format!("Users/{}", encode(id));
        match self
            .send(Method::PATCH, &path, &[], Some(&patch), Some(version))
            .await
        {
            Ok(Some(_)) => Ok(Conditional::Done),
            // Gone, or changed since the plan: the caller reads it and decides again.
            Ok(None) => Ok(Conditional::Changed),
            Err(e) if is_conflict(&e) => Ok(Conditional::Changed),
            Err(e) => Err(e),
        }
    }

    async fn restore(&self, id: &str, restore: &Restore) -> Result<(), ConnectorError> {
        match restore {
            Restore::Enable => {
                let patch = json!({
                    "schemas": [PATCH_OP],
                    "Operations": [{"op": "replace", "path": "active", "value": true}]
                });
                let user = self.get_user(id).await?.ok_or_else(|| {
                    ConnectorError::permanent(&self.system, format!("user {id} no longer exists"))
                        .hint("deleted users cannot be restored; recreate the account")
                })?;
                self.send(
                    Method::PATCH,
                    &format!("Users/{}", encode(id)),
                    &[],
                    Some(&patch),
                    user.version.as_deref(),
                )
                .await
                .map(|_| ())
            }
            Restore::AddGroups(groups) => {
                for name in groups {
                    let filter = format!("displayName eq \"{}\"", name.replace('"', "\\\""));
                    let found = self.list_all("Groups", &[("filter", filter)]).await?;
                    let Some(gid) = found
                        .iter()
                        .find(|g| response::group_name(g) == *name)
                        .and_then(|g| g.get("id"))
                        .and_then(Value::as_str)
                    else {
                        return Err(ConnectorError::permanent(
                            &self.system,
                            format!("group {name} no longer exists"),
                        ));
                    };
                    let patch = json!({
                        "schemas": [PATCH_OP],
                        "Operations": [{"op": "add", "path": "members", "value": [{"value": id}]}]
                    });
                    self.send(
                        Method::PATCH,
                        &format!("Groups/{}", encode(gid)),
                        &[],
                        Some(&patch),
                        None,
                    )
                    .await?;
                }
                Ok(())
            }
            Restore::AddLicenses(_) => Err(ConnectorError::permanent(
                &self.system,
                "SCIM has no licenses to restore",
            )),
        }
    }
}
