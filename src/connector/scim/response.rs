//! What a SCIM server sends back, read with explicit limits: bodies, list pages, users, groups.
//!
//! Everything here is a pure function of bytes or JSON values, so a server that is broken or
//! hostile can be replayed without a network (the `scim` fuzz target in `fuzz/` does exactly
//! that). The limits are the defence against such a server: a body larger than
//! [`MAX_BODY_BYTES`] is refused while it streams in (before it can exhaust memory), JSON
//! nesting stops at serde_json's 128 levels, and [`Pager`] refuses a listing that repeats a
//! page, never ends, or grows past [`MAX_RESOURCES`]. Nothing a server sends is dropped
//! silently: a user without an `id` (RFC 7643 §3.1 makes it mandatory) is an error naming
//! its position, because an account offboard cannot address is an account it cannot cut.

use std::collections::{BTreeMap, HashSet};

use serde_json::Value;

use crate::connector::{Account, AccountStatus};

/// The largest response body read (64 MiB): a page of 1,000 rich SCIM users is about 2 MiB.
pub const MAX_BODY_BYTES: usize = 64 << 20;
/// The most resources one listing may hold; a larger one is a server that never stops.
pub const MAX_RESOURCES: usize = 10_000_000;
/// The enterprise extension's schema URN, where `employeeNumber` lives.
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// A response body as JSON (`Null` for an empty one), or why it is not.
pub fn body(bytes: &[u8]) -> Result<Value, String> {
    if bytes.len() > MAX_BODY_BYTES {
        return Err(too_large());
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(bytes).map_err(|e| format!("the response is not JSON: {e}"))
}

/// The message for a body over the limit.
pub fn too_large() -> String {
    format!("the response is larger than {} MiB", MAX_BODY_BYTES >> 20)
}

/// One page of a `ListResponse` (RFC 7644 §3.4.2).
#[derive(Debug)]
pub struct Page {
    pub resources: Vec<Value>,
    /// `totalResults`, when the server sent it.
    pub total: Option<usize>,
}

/// A `ListResponse` body as a page: `Resources` must be a list of objects when present,
/// `totalResults` a non-negative integer when present.
pub fn page(body: Value) -> Result<Page, String> {
    let Value::Object(mut fields) = body else {
        return Err("a list response must be a JSON object".to_string());
    };
    let total = match fields.get("totalResults") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| format!("totalResults is not a count: {}", short(v)))?,
        ),
    };
    let resources = match fields.remove("Resources") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items,
        Some(other) => return Err(format!("Resources is not a list: {}", short(&other))),
    };
    if let Some(i) = resources.iter().position(|r| !r.is_object()) {
        return Err(format!("Resources[{i}] is not an object"));
    }
    Ok(Page { resources, total })
}

/// Follows a listing page by page and decides when it is complete, or broken.
///
/// Complete: `totalResults` resources read, or an empty page, or (for a server that omits
/// `totalResults`) a page shorter than requested. Broken: a page whose ids were all seen
/// before (a server ignoring `startIndex` would otherwise loop forever), or more than
/// [`MAX_RESOURCES`].
#[derive(Debug)]
pub struct Pager {
    resources: Vec<Value>,
    seen: HashSet<String>,
    limit: usize,
}

impl Default for Pager {
    fn default() -> Self {
        Pager::with_limit(MAX_RESOURCES)
    }
}

/// What to do after a page.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// Ask for the page starting at this 1-based index.
    From(usize),
    Done,
}

impl Pager {
    /// A pager refusing listings of more than `limit` resources.
    pub fn with_limit(limit: usize) -> Pager {
        Pager {
            resources: Vec::new(),
            seen: HashSet::new(),
            limit,
        }
    }

    /// Takes one page that answered a request for `requested` resources.
    pub fn take(&mut self, page: Page, requested: usize) -> Result<Next, String> {
        let n = page.resources.len();
        if n == 0 {
            return Ok(Next::Done);
        }
        let mut new = 0;
        for r in &page.resources {
            match r.get("id").and_then(Value::as_str) {
                Some(id) => new += usize::from(self.seen.insert(id.to_string())),
                None => new += 1,
            }
        }
        if new == 0 {
            return Err(format!(
                "the server sent the page at index {} again (it ignores startIndex?)",
                self.resources.len() + 1
            ));
        }
        if self.resources.len() + n > self.limit {
            return Err(format!(
                "the listing grew past {} resources without ending",
                self.limit
            ));
        }
        self.resources.extend(page.resources);
        let done = match page.total {
            Some(total) => self.resources.len() >= total,
            None => n < requested,
        };
        Ok(if done {
            Next::Done
        } else {
            Next::From(self.resources.len() + 1)
        })
    }

    pub fn into_resources(self) -> Vec<Value> {
        self.resources
    }
}

/// A group's name as offboard shows it: `displayName`, else its id.
pub fn group_name(group: &Value) -> String {
    group
        .get("displayName")
        .or_else(|| group.get("id"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

/// Group names by member id, from the `members` of `/Groups` resources.
pub fn memberships(groups: &[Value]) -> BTreeMap<String, Vec<String>> {
    let mut by_member: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for group in groups {
        let name = group_name(group);
        let members = group.get("members").and_then(Value::as_array);
        for id in members
            .into_iter()
            .flatten()
            .filter_map(|m| m.get("value").and_then(Value::as_str))
        {
            by_member
                .entry(id.to_string())
                .or_default()
                .push(name.clone());
        }
    }
    by_member
}

/// Whether any user carries its own `groups` (then `/Groups` need not be read).
pub fn users_carry_groups(users: &[Value]) -> bool {
    users.iter().any(|u| {
        u.get("groups")
            .and_then(Value::as_array)
            .is_some_and(|g| !g.is_empty())
    })
}

/// A SCIM user as an account. `user_attribute` names the attribute shown as the username
/// (`userName` when the user lacks it); `groups` are used when the user has none of its own.
pub fn account(user: &Value, user_attribute: &str, groups: Vec<String>) -> Result<Account, String> {
    let text = |pointer: &str| user.pointer(pointer).and_then(Value::as_str);
    let id = match user.get("id") {
        Some(Value::String(id)) if !id.is_empty() => id.clone(),
        Some(other) => return Err(format!("a user's id is not a string: {}", short(other))),
        None => return Err("a user has no id (RFC 7643 requires one)".to_string()),
    };
    let username = user
        .get(user_attribute)
        .or_else(|| user.get("userName"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let emails = user
        .get("emails")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| e.get("value").and_then(Value::as_str).map(str::to_string))
        .collect();
    let own_groups: Vec<String> = user
        .get("groups")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|g| {
            g.get("display")
                .or_else(|| g.get("value"))
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .collect();
    let mut groups = if own_groups.is_empty() {
        groups
    } else {
        own_groups
    };
    groups.sort();
    let mut attributes = BTreeMap::new();
    for (key, pointer) in [
        ("externalId", "/externalId"),
        ("meta.version", "/meta/version"),
        ("meta.lastModified", "/meta/lastModified"),
    ] {
        if let Some(v) = text(pointer) {
            attributes.insert(key.to_string(), v.to_string());
        }
    }
    Ok(Account {
        id,
        username,
        emails,
        employee_id: user
            .get(ENTERPRISE)
            .and_then(|x| x.get("employeeNumber"))
            .and_then(Value::as_str)
            .map(str::to_string),
        display_name: text("/displayName")
            .or_else(|| text("/name/formatted"))
            .map(str::to_string),
        // SCIM says an absent `active` means active; anything but `false` is not a disable.
        status: if user.get("active").and_then(Value::as_bool).unwrap_or(true) {
            AccountStatus::Active
        } else {
            AccountStatus::Disabled
        },
        groups,
        entitlements: Vec::new(),
        licenses: Vec::new(),
        privileged: false,
        last_login: None,
        sessions: None,
        container: None,
        attributes,
        app_roles: Vec::new(),
        held: Vec::new(),
        mastered_by: None,
    })
}

/// A value shortened for a message (the value comes from a server: keep errors bounded).
fn short(v: &Value) -> String {
    let text = v.to_string();
    match text.char_indices().nth(60) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn users(ids: &[&str]) -> Page {
        Page {
            resources: ids.iter().map(|id| json!({"id": id})).collect(),
            total: None,
        }
    }

    #[test]
    fn a_user_without_an_id_is_an_error_not_a_missing_account() {
        assert!(account(&json!({"userName": "a"}), "userName", vec![]).is_err());
        assert!(account(&json!({"id": 7}), "userName", vec![]).is_err());
        assert!(account(&json!({"id": ""}), "userName", vec![]).is_err());
        let a = account(&json!({"id": "u1", "active": "no"}), "userName", vec![]).unwrap();
        assert_eq!(a.status, AccountStatus::Active);
    }

    #[test]
    fn a_server_repeating_a_page_is_refused_instead_of_looping() {
        let mut pager = Pager::default();
        assert_eq!(pager.take(users(&["a", "b"]), 2), Ok(Next::From(3)));
        let again = pager.take(users(&["a", "b"]), 2).unwrap_err();
        assert!(again.contains("again"), "{again}");
    }

    #[test]
    fn a_listing_that_never_ends_is_cut_at_the_limit() {
        let mut pager = Pager::with_limit(3);
        let endless = |ids: &[&str]| Page {
            total: Some(usize::MAX),
            ..users(ids)
        };
        assert_eq!(pager.take(endless(&["a", "b"]), 2), Ok(Next::From(3)));
        let e = pager.take(endless(&["c", "d"]), 2).unwrap_err();
        assert!(e.contains("past 3 resources"), "{e}");
    }

    #[test]
    fn without_total_results_paging_goes_on_until_a_short_page() {
        let mut pager = Pager::default();
        assert_eq!(pager.take(users(&["a", "b"]), 2), Ok(Next::From(3)));
        assert_eq!(pager.take(users(&["c"]), 2), Ok(Next::Done));
        assert_eq!(pager.into_resources().len(), 3);
    }

    #[test]
    fn malformed_pages_are_errors() {
        assert!(page(json!([])).is_err());
        assert!(page(json!({"totalResults": -1})).is_err());
        assert!(page(json!({"totalResults": 1, "Resources": {"id": "a"}})).is_err());
        assert!(page(json!({"totalResults": 1, "Resources": ["a"]})).is_err());
        assert_eq!(
            page(json!({"totalResults": 2, "Resources": []}))
                .unwrap()
                .total,
            Some(2)
        );
    }

    #[test]
    fn bodies_are_json_or_empty() {
        assert_eq!(body(b"  \n"), Ok(Value::Null));
        assert!(body(b"<html>").is_err());
        let deep = "[".repeat(100_000);
        assert!(body(deep.as_bytes()).is_err());
    }
}
