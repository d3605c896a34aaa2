//! Targeted reads over SCIM: the accounts of a few people through `GET /Users?filter=...`
//! (RFC 7644 §3.4.2.2) instead of listing every user.
//!
//! Each correlated attribute maps to the SCIM attribute it is read from: `username` to the
//! connector's `user-attribute` (`userName` by default), `email` to `emails.value`,
//! `employee-id` to the enterprise extension's `employeeNumber`, `externalId` and display
//! names as themselves, `id` to a plain `GET /Users/{id}`. Values are compared with `eq`,
//! which RFC 7643 makes case-insensitive for these attributes, as correlation is. Terms are
//! joined with `or`, a few per request so URLs stay short. A server that ignores the filter
//! (and lists everyone) costs time, not correctness: what comes back is selected again here
//! with correlation's own matching. An attribute with no SCIM counterpart makes the lookup
//! `None`, and the caller lists every user instead.

use serde_json::Value;

use super::{Scim, response};
use crate::connector::lookup::{self, Lookup};
use crate::connector::{Account, ConnectorError};

/// Filter terms per request: a long `or` chain makes URLs some servers and proxies refuse.
const TERMS_PER_REQUEST: usize = 10;

/// How one looked-up attribute is searched.
enum Search {
    /// `GET /Users/{id}`.
    ById,
    /// A filter on these SCIM attribute paths (any of them may hold the value).
    Filter(Vec<String>),
}

impl Scim {
    fn search_for(&self, lookup: &Lookup) -> Option<Search> {
        let paths = |p: &[&str]| Some(Search::Filter(p.iter().map(|s| s.to_string()).collect()));
        match lookup.canonical_attribute().as_str() {
            "id" => Some(Search::ById),
            "username" | "usernameattribute" => {
                Some(Search::Filter(vec![self.user_attribute.clone()]))
            }
            "email" | "emails" | "mail" => paths(&["emails.value"]),
            "employeeid" | "employeenumber" => Some(Search::Filter(vec![format!(
                "{}:employeeNumber",
                response::ENTERPRISE
            )])),
            "externalid" => paths(&["externalId"]),
            "displayname" | "name" | "cn" => paths(&["displayName", "name.formatted"]),
            _ => None,
        }
    }

    /// The users `lookups` find, as accounts; `None` when one of them has no SCIM form.
    pub(super) async fn find(
        &self,
        lookups: &[Lookup],
    ) -> Result<Option<Vec<Account>>, ConnectorError> {
        let mut ids = Vec::new();
        let mut terms = Vec::new();
        for l in lookups {
            match self.search_for(l) {
                None => return Ok(None),
                Some(Search::ById) => ids.push(l.value.as_str()),
                Some(Search::Filter(paths)) => {
                    // A JSON string is a SCIM string literal: quotes and backslashes escaped.
                    let literal = serde_json::to_string(&l.value).unwrap_or_default();
                    terms.extend(paths.iter().map(|p| format!("{p} eq {literal}")));
                }
            }
        }
        let mut users: Vec<Value> = Vec::new();
        for chunk in terms.chunks(TERMS_PER_REQUEST) {
            let filter = chunk.join(" or ");
            users.extend(self.list_all("Users", &[("filter", filter)]).await?);
        }
        for id in ids {
            if let Some(user) = self.get_user(id).await? {
                users.push(user.body);
            }
        }
        let carry_groups = response::users_carry_groups(&users);
        let mut accounts = Vec::with_capacity(users.len());
        for user in &users {
            let id = user.get("id").and_then(Value::as_str).unwrap_or("");
            let groups = if carry_groups {
                Vec::new()
            } else {
                self.groups_of(id)
                    .await?
                    .into_iter()
                    .map(|(_, name, _)| name)
                    .collect()
            };
            accounts.push(self.to_account(user, groups)?);
        }
        Ok(Some(lookup::select(accounts, lookups)))
    }
}
