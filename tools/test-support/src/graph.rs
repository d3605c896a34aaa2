//! A stand-in for the part of Microsoft Graph v1.0 and the Microsoft identity platform token
//! endpoint that offboard's `graph` connector speaks (the project's Graph contract note
//! lists every call). It is **not Microsoft Graph**: Microsoft publishes no local
//! Graph or Entra server, so this is an in-process HTTP server written from Microsoft's
//! published documentation, stateful enough for the connector's tests and benchmarks to
//! observe real effects (a disabled account, a removed membership, a licence that stays
//! because a group grants it). Where the documentation leaves wording open, the messages
//! here are the stand-in's own; codes and shapes follow these Microsoft Learn pages:
//!
//! - token endpoint, `client_secret` and the AADSTS error bodies: "Microsoft identity platform
//!   and the OAuth 2.0 client credentials flow"
//!   <https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow>
//!   and "Microsoft Entra authentication and authorization error codes"
//!   <https://learn.microsoft.com/en-us/entra/identity-platform/reference-error-codes>;
//! - client assertions (RS256, `x5t#S256`, aud/iss/sub/exp): "Microsoft identity platform
//!   application authentication certificate credentials"
//!   <https://learn.microsoft.com/en-us/entra/identity-platform/certificate-credentials>;
//! - error bodies and 401 `InvalidAuthenticationToken`: "Microsoft Graph error responses and
//!   resource types" <https://learn.microsoft.com/en-us/graph/errors>;
//! - 429 with `Retry-After`: "Microsoft Graph throttling guidance"
//!   <https://learn.microsoft.com/en-us/graph/throttling>;
//! - `$select`, `$top`, `$filter` (`eq`, `any`, doubled quotes): "Use query parameters"
//!   <https://learn.microsoft.com/en-us/graph/query-parameters> and "List users"
//!   <https://learn.microsoft.com/en-us/graph/api/user-list>; `signInActivity` only when
//!   selected, as "List users" documents;
//! - `@odata.nextLink` with an opaque `$skiptoken`: "Paging Microsoft Graph data in your app"
//!   <https://learn.microsoft.com/en-us/graph/paging>;
//! - get, update, delete a user: "Get user" (user-get), "Update user" (user-update), "Delete
//!   a user" (user-delete); soft delete and restore: "Get deleted item"
//!   (directory-deleteditems-get) and "Restore deleted item" (directory-deleteditems-restore),
//!   all under <https://learn.microsoft.com/en-us/graph/api/>;
//! - "user: revokeSignInSessions" (user-revokesigninsessions);
//! - memberships: "List a user's direct memberships" (user-list-memberof), "Add members"
//!   (group-post-members), "Remove member" (group-delete-members), "List groups" (group-list);
//!   dynamic groups refuse changes per "Dynamic membership rules for groups"
//!   <https://learn.microsoft.com/en-us/entra/identity/users/groups-dynamic-membership>;
//! - licences: "List subscribedSkus" (subscribedsku-list), "user: assignLicense"
//!   (user-assignlicense), the licenseAssignmentState resource, and "What is group-based
//!   licensing" <https://learn.microsoft.com/en-us/entra/fundamentals/concept-group-based-licensing>
//!   (an inherited licence cannot be removed from the user, and leaves with the membership);
//! - "List appRoleAssignments granted to a user" (user-list-approleassignments), "Grant an
//!   appRoleAssignment to a user" (user-post-approleassignments), "Delete appRoleAssignment"
//!   (user-delete-approleassignments);
//! - "List methods" (authentication-list-methods) and the per-type delete pages, e.g.
//!   "Delete microsoftAuthenticatorAuthenticationMethod";
//! - OneDrive hand-off: "driveItem: invite" (driveitem-invite) and "List sharing permissions
//!   on a driveItem" (driveitem-list-permissions);
//! - "Combine multiple HTTP requests using JSON batching"
//!   <https://learn.microsoft.com/en-us/graph/json-batching>.
//!
//! The server runs on its own tokio runtime in its own thread, so plain `#[test]`s,
//! `#[tokio::test]`s and benchmarks use it alike; dropping it shuts it down. Everything is one
//! fallback handler that routes by splitting the path: `$batch` dispatches its sub-requests
//! through the very same function, so a batched request answers exactly as a single one. The
//! state sits behind one `std::sync::Mutex`, never held across an `.await`.
//!
//! Faults are opt-in: [`GraphStandIn::throttle_next`] answers the next HTTP requests to
//! `/v1.0` (a `$batch` counts once) with 429 before any effect, [`GraphStandIn::expire_tokens`]
//! invalidates every token mid-run, [`GraphStandIn::set_latency`] slows every answer.

use crate::stand_in::{self, Reply, parse_pairs, pct_decode};
use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// Every user starts with this password method (the id Microsoft documents for it).
const PASSWORD_METHOD_ID: &str = "28c10230-6103-485e-b985-444c60001490";
/// `signInSessionsValidFromDateTime` of a user whose sessions were never revoked.
const CREATED: &str = "2024-01-01T00:00:00Z";
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const SYNCED: &str = "Unable to update the specified properties for on-premises mastered Directory Sync objects or objects currently undergoing migration.";
const DYNAMIC: &str = "Insufficient privileges to complete the operation. Group membership of dynamic groups cannot be changed.";
const ON_PREMISES: &str = "Cannot Update a mail-enabled security groups and or distribution list.";
const INHERITED: &str = "User license is inherited from a group membership and it cannot be removed directly from the user.";

const USER_FIELDS: &[&str] = &[
    "id",
    "userPrincipalName",
    "mail",
    "otherMails",
    "employeeId",
    "displayName",
    "accountEnabled",
    "onPremisesSyncEnabled",
    "onPremisesSamAccountName",
    "assignedLicenses",
    "licenseAssignmentStates",
    "signInActivity",
    "signInSessionsValidFromDateTime",
];
const GROUP_FIELDS: &[&str] = &[
    "id",
    "displayName",
    "groupTypes",
    "onPremisesSyncEnabled",
    "membershipRule",
    "securityEnabled",
    "mailEnabled",
];
/// `$filter` forms of the contract: `field eq 'v'` on these, `otherMails/any(m:m eq 'v')`.
const USER_EQ: &[&str] = &[
    "userPrincipalName",
    "mail",
    "employeeId",
    "onPremisesSamAccountName",
];
const USER_ANY: &[&str] = &["otherMails"];
/// URL segment of each deletable authentication method type (the password has none).
const METHOD_SEGMENTS: &[(&str, &str)] = &[
    (
        "microsoftAuthenticatorMethods",
        "microsoftAuthenticatorAuthenticationMethod",
    ),
    ("phoneMethods", "phoneAuthenticationMethod"),
    ("fido2Methods", "fido2AuthenticationMethod"),
    ("softwareOathMethods", "softwareOathAuthenticationMethod"),
    ("emailMethods", "emailAuthenticationMethod"),
    (
        "temporaryAccessPassMethods",
        "temporaryAccessPassAuthenticationMethod",
    ),
    (
        "windowsHelloForBusinessMethods",
        "windowsHelloForBusinessAuthenticationMethod",
    ),
];

/// A user to seed; [`GraphUser::new`] fills the usual defaults, tests change the rest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GraphUser {
    pub upn: String,
    pub mail: Option<String>,
    pub other_mails: Vec<String>,
    pub employee_id: Option<String>,
    pub display_name: String,
    pub enabled: bool,
    /// `onPremisesSyncEnabled`: mastered in on-premises AD, so Graph refuses to disable or
    /// delete it.
    pub synced: bool,
    pub sam_account_name: Option<String>,
    pub last_sign_in: Option<String>,
}

impl GraphUser {
    /// Enabled, cloud-only, `mail` and `displayName` equal to the UPN.
    pub fn new(upn: &str) -> GraphUser {
        GraphUser {
            upn: upn.to_string(),
            mail: Some(upn.to_string()),
            other_mails: Vec::new(),
            employee_id: None,
            display_name: upn.to_string(),
            enabled: true,
            synced: false,
            sam_account_name: None,
            last_sign_in: None,
        }
    }
}

/// How a group's membership is managed, which decides whether Graph may change it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupKind {
    Assigned,
    /// `groupTypes: ["DynamicMembership"]`: a rule decides, member changes are refused.
    Dynamic,
    /// `onPremisesSyncEnabled: true`: mastered in AD, member changes are refused.
    OnPremises,
    /// A distribution list (`mailEnabled: true`, `securityEnabled: false`): Exchange Online
    /// owns its members, Graph refuses member changes.
    MailEnabled,
}

struct Lic {
    sku: String,
    /// The group that grants it, `None` for a direct assignment.
    via: Option<String>,
    disabled: Vec<String>,
}

struct AppRole {
    id: String,
    app_role_id: String,
    resource_id: String,
    created: String,
}

struct Permission {
    id: String,
    email: String,
    roles: Vec<String>,
}

struct UserRec {
    id: String,
    user: GraphUser,
    licenses: Vec<Lic>,
    app_roles: Vec<AppRole>,
    /// (method id, `@odata.type` without `#microsoft.graph.`)
    methods: Vec<(String, String)>,
    has_drive: bool,
    permissions: Vec<Permission>,
    sessions_valid_from: Option<String>,
    deleted_at: Option<String>,
}

struct GroupRec {
    id: String,
    name: String,
    kind: GroupKind,
    members: Vec<String>,
}

struct Store {
    next_id: u64,
    users: Vec<UserRec>,
    groups: Vec<GroupRec>,
    /// (skuId, skuPartNumber)
    skus: Vec<(String, String)>,
    /// Service principals app roles are assigned on: (resourceId, displayName).
    resources: Vec<(String, String)>,
    /// Trusted certificates: (`x5t#S256` thumbprint, public key).
    keys: Vec<(String, DecodingKey)>,
    tokens: HashMap<String, Instant>,
    tokens_issued: usize,
    token_lifetime: u64,
    throttle: usize,
    /// Requests inside a `$batch` still to answer 429 (see `throttle_batched_next`).
    throttle_batched: usize,
    /// `METHOD /v1.0/path` prefixes answered 403, as for a missing application permission.
    forbidden: Vec<String>,
    retry_after: u64,
    latency: Duration,
    requests: Vec<String>,
    bodies: Vec<String>,
}

impl Store {
    /// Deterministic lowercase GUID-looking ids; `kind` tells them apart when debugging.
    fn new_id(&mut self, kind: u32) -> String {
        self.next_id += 1;
        format!("{kind:08x}-0000-4000-8000-{:012x}", self.next_id)
    }
}

struct Shared {
    base: String,
    store: Mutex<Store>,
}

/// The running stand-in; see the module documentation.
pub struct GraphStandIn {
    shared: Arc<Shared>,
    /// Dropped last: shuts the server down.
    _serving: stand_in::Serving,
}

impl GraphStandIn {
    pub const TENANT: &'static str = "contoso.onmicrosoft.com";
    pub const CLIENT_ID: &'static str = "6731de76-14a6-49ae-97bc-6eba6914391e";
    pub const CLIENT_SECRET: &'static str = "graph-test-secret-3f9a";

    /// Bind 127.0.0.1 on a free port and serve until dropped. The listener is bound before
    /// this returns, so the first request cannot race the start.
    pub fn start() -> GraphStandIn {
        let (listener, port) = stand_in::bind("graph stand-in");
        let shared = Arc::new(Shared {
            base: format!("http://127.0.0.1:{port}"),
            store: Mutex::new(Store {
                next_id: 0,
                users: Vec::new(),
                groups: Vec::new(),
                skus: Vec::new(),
                resources: Vec::new(),
                keys: Vec::new(),
                tokens: HashMap::new(),
                tokens_issued: 0,
                token_lifetime: 3599,
                throttle: 0,
                throttle_batched: 0,
                forbidden: Vec::new(),
                retry_after: 0,
                latency: Duration::ZERO,
                requests: Vec::new(),
                bodies: Vec::new(),
            }),
        });
        let router = Router::new()
            .fallback(serve_http)
            .with_state(Arc::clone(&shared));
        let serving = stand_in::serve("graph stand-in", listener, router);
        GraphStandIn {
            shared,
            _serving: serving,
        }
    }

    /// `http://127.0.0.1:PORT`: both the authority and Graph.
    pub fn url(&self) -> String {
        self.shared.base.clone()
    }

    /// The token endpoint of [`Self::TENANT`], which is also the assertion's `aud`.
    pub fn token_url(&self) -> String {
        format!("{}/{}/oauth2/v2.0/token", self.shared.base, Self::TENANT)
    }

    fn store(&self) -> MutexGuard<'_, Store> {
        self.shared.store.lock().unwrap()
    }

    // ---- credentials and faults

    /// Trust a certificate for client assertions: `x5t#S256` must be the SHA-256 of its DER,
    /// the signature must verify with `public_key_pem` (SPKI "PUBLIC KEY" or PKCS#1 "RSA
    /// PUBLIC KEY"). Panics on PEM that is not an RSA key: that is a bug in the test.
    pub fn trust_certificate(&self, cert_pem: &str, public_key_pem: &str) {
        let thumbprint = URL_SAFE_NO_PAD.encode(Sha256::digest(pem_der(cert_pem)).as_slice());
        let (n, e) = rsa_components(&pem_der(public_key_pem))
            .expect("graph stand-in: the public key is not an RSA key in DER");
        let key = DecodingKey::from_rsa_raw_components(&n, &e);
        self.store().keys.push((thumbprint, key));
    }

    pub fn set_token_lifetime(&self, secs: u64) {
        self.store().token_lifetime = secs;
    }

    /// Invalidate every token issued so far, as if they all expired now.
    pub fn expire_tokens(&self) {
        self.store().tokens.clear();
    }

    pub fn tokens_issued(&self) -> usize {
        self.store().tokens_issued
    }

    /// The next `n` requests to `/v1.0` get 429 with `Retry-After: retry_after_secs`.
    /// Answer the next `n` requests *inside* `$batch`es with 429 and `Retry-After`, while
    /// the batch itself answers 200, as Graph does.
    pub fn throttle_batched_next(&self, n: usize, retry_after_secs: u64) {
        let mut st = self.store();
        st.throttle_batched = n;
        st.retry_after = retry_after_secs;
    }

    /// Answer every request starting with `request_prefix` (`"PATCH /v1.0/users"`) with 403
    /// `Authorization_RequestDenied`, as Graph does when the app lacks a permission.
    pub fn forbid(&self, request_prefix: &str) {
        self.store().forbidden.push(request_prefix.to_string());
    }

    pub fn throttle_next(&self, n: usize, retry_after_secs: u64) {
        let mut st = self.store();
        st.throttle = n;
        st.retry_after = retry_after_secs;
    }

    pub fn set_latency(&self, d: Duration) {
        self.store().latency = d;
    }

    /// Every HTTP request as `METHOD /path?query`, exactly as received, in order.
    pub fn requests(&self) -> Vec<String> {
        self.store().requests.clone()
    }

    /// The bodies of [`Self::requests`], same order (empty string when none).
    pub fn request_bodies(&self) -> Vec<String> {
        self.store().bodies.clone()
    }

    pub fn clear_requests(&self) {
        let mut st = self.store();
        st.requests.clear();
        st.bodies.clear();
    }

    // ---- seeding (unknown ids panic: they are bugs in the test)

    pub fn add_user(&self, u: GraphUser) -> String {
        let mut st = self.store();
        assert!(
            !st.users
                .iter()
                .any(|x| x.user.upn.eq_ignore_ascii_case(&u.upn)),
            "graph stand-in: duplicate userPrincipalName {}",
            u.upn
        );
        let id = st.new_id(1);
        st.users.push(UserRec {
            id: id.clone(),
            user: u,
            licenses: Vec::new(),
            app_roles: Vec::new(),
            methods: vec![(
                PASSWORD_METHOD_ID.into(),
                "passwordAuthenticationMethod".into(),
            )],
            has_drive: true,
            permissions: Vec::new(),
            sessions_valid_from: None,
            deleted_at: None,
        });
        id
    }

    /// `members` are user ids (or UPNs).
    pub fn add_group(&self, name: &str, kind: GroupKind, members: &[&str]) -> String {
        let mut st = self.store();
        let members: Vec<String> = members
            .iter()
            .map(|m| seeded_user(&st, m).id.clone())
            .collect();
        let id = st.new_id(2);
        st.groups.push(GroupRec {
            id: id.clone(),
            name: name.to_string(),
            kind,
            members,
        });
        id
    }

    /// Add a member whatever the group's kind (seeding, not the API).
    pub fn add_member(&self, gid: &str, uid: &str) {
        let mut st = self.store();
        let uid = seeded_user(&st, uid).id.clone();
        let g = seeded_group(&mut st, gid);
        if !g.members.contains(&uid) {
            g.members.push(uid);
        }
    }

    /// A subscribed SKU; returns its skuId.
    pub fn add_sku(&self, part_number: &str) -> String {
        let mut st = self.store();
        let id = st.new_id(3);
        st.skus.push((id.clone(), part_number.to_string()));
        id
    }

    /// A direct licence, or with `via_group` one the group grants (the user is made a member
    /// if not already; it lasts as long as the membership).
    pub fn assign_license(&self, uid: &str, sku_id: &str, via_group: Option<&str>) {
        let mut st = self.store();
        assert!(
            st.skus.iter().any(|(s, _)| s == sku_id),
            "graph stand-in: unknown skuId {sku_id}"
        );
        let user_id = seeded_user(&st, uid).id.clone();
        let via = via_group.map(|gid| {
            let g = seeded_group(&mut st, gid);
            if !g.members.contains(&user_id) {
                g.members.push(user_id.clone());
            }
            g.id.clone()
        });
        let u = seeded_user_mut(&mut st, uid);
        if !u.licenses.iter().any(|l| l.sku == sku_id && l.via == via) {
            u.licenses.push(Lic {
                sku: sku_id.to_string(),
                via,
                disabled: Vec::new(),
            });
        }
    }

    /// An app role assignment (the default access role) on the service principal named
    /// `resource_display_name`; returns the assignment id.
    pub fn add_app_role(&self, uid: &str, resource_display_name: &str) -> String {
        let mut st = self.store();
        seeded_user(&st, uid);
        let resource_id = match st
            .resources
            .iter()
            .find(|(_, n)| n == resource_display_name)
        {
            Some((rid, _)) => rid.clone(),
            None => {
                let rid = st.new_id(7);
                st.resources
                    .push((rid.clone(), resource_display_name.to_string()));
                rid
            }
        };
        let id = st.new_id(4);
        seeded_user_mut(&mut st, uid).app_roles.push(AppRole {
            id: id.clone(),
            app_role_id: "00000000-0000-0000-0000-000000000000".into(),
            resource_id,
            created: now_rfc3339(),
        });
        id
    }

    /// An authentication method of type `#microsoft.graph.{odata_type_suffix}`; returns its id.
    pub fn add_auth_method(&self, uid: &str, odata_type_suffix: &str) -> String {
        let mut st = self.store();
        seeded_user(&st, uid);
        let id = st.new_id(5);
        seeded_user_mut(&mut st, uid)
            .methods
            .push((id.clone(), odata_type_suffix.to_string()));
        id
    }

    pub fn set_has_drive(&self, uid: &str, has_drive: bool) {
        seeded_user_mut(&mut self.store(), uid).has_drive = has_drive;
    }

    pub fn set_enabled(&self, uid: &str, enabled: bool) {
        seeded_user_mut(&mut self.store(), uid).user.enabled = enabled;
    }

    // ---- inspection (deleted users have no memberships or licences to show)

    /// The full resource, `signInActivity` included; `None` when deleted or absent.
    pub fn user_json(&self, id: &str) -> Option<Value> {
        let st = self.store();
        find_user(&st, id).map(|i| user_resource(&st, &st.users[i]))
    }

    pub fn is_deleted(&self, id: &str) -> bool {
        self.store()
            .users
            .iter()
            .any(|u| u.id == id && u.deleted_at.is_some())
    }

    /// Display names of the groups the user is a member of.
    pub fn groups_of(&self, uid: &str) -> Vec<String> {
        let st = self.store();
        let Some(i) = find_user(&st, uid) else {
            return Vec::new();
        };
        let id = &st.users[i].id;
        st.groups
            .iter()
            .filter(|g| g.members.contains(id))
            .map(|g| g.name.clone())
            .collect()
    }

    /// SKU part numbers the user holds, directly or through a group.
    pub fn licenses_of(&self, uid: &str) -> Vec<String> {
        let st = self.store();
        let Some(i) = find_user(&st, uid) else {
            return Vec::new();
        };
        let mut out: Vec<String> = Vec::new();
        for l in effective_licenses(&st, &st.users[i]) {
            let part = st
                .skus
                .iter()
                .find(|(s, _)| *s == l.sku)
                .map_or(&l.sku, |(_, p)| p);
            if !out.contains(part) {
                out.push(part.clone());
            }
        }
        out
    }

    /// Resource display names of the user's app role assignments.
    pub fn app_roles_of(&self, uid: &str) -> Vec<String> {
        let st = self.store();
        let Some(u) = st.users.iter().find(|u| u.id == uid) else {
            return Vec::new();
        };
        u.app_roles
            .iter()
            .map(|a| resource_name(&st, &a.resource_id))
            .collect()
    }

    /// `@odata.type` suffixes of the user's authentication methods.
    pub fn auth_methods_of(&self, uid: &str) -> Vec<String> {
        let st = self.store();
        let Some(u) = st.users.iter().find(|u| u.id == uid) else {
            return Vec::new();
        };
        u.methods.iter().map(|(_, t)| t.clone()).collect()
    }

    /// Emails granted write on the user's OneDrive root.
    pub fn drive_grants_of(&self, uid: &str) -> Vec<String> {
        let st = self.store();
        let Some(u) = st.users.iter().find(|u| u.id == uid) else {
            return Vec::new();
        };
        let mut out: Vec<String> = Vec::new();
        for p in u
            .permissions
            .iter()
            .filter(|p| p.roles.iter().any(|r| r == "write"))
        {
            if !out.contains(&p.email) {
                out.push(p.email.clone());
            }
        }
        out
    }

    /// When `revokeSignInSessions` last ran for the user, if ever.
    pub fn sessions_revoked_at(&self, uid: &str) -> Option<String> {
        let st = self.store();
        st.users
            .iter()
            .find(|u| u.id == uid)?
            .sessions_valid_from
            .clone()
    }
}

fn seeded_user<'a>(st: &'a Store, key: &str) -> &'a UserRec {
    match find_user(st, key) {
        Some(i) => &st.users[i],
        None => panic!("graph stand-in: no user {key}"),
    }
}

fn seeded_user_mut<'a>(st: &'a mut Store, key: &str) -> &'a mut UserRec {
    match find_user(st, key) {
        Some(i) => &mut st.users[i],
        None => panic!("graph stand-in: no user {key}"),
    }
}

fn seeded_group<'a>(st: &'a mut Store, gid: &str) -> &'a mut GroupRec {
    match st.groups.iter_mut().find(|g| g.id == gid) {
        Some(g) => g,
        None => panic!("graph stand-in: no group {gid}"),
    }
}

// ---- HTTP

async fn serve_http(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let target = stand_in::target(&uri);
    let latency = {
        let mut st = shared.store.lock().unwrap();
        st.requests.push(format!("{method} {target}"));
        st.bodies.push(String::from_utf8_lossy(&body).into_owned());
        st.latency
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let reply = dispatch(
        &shared,
        method.as_str(),
        uri.path(),
        uri.query().unwrap_or(""),
        &headers,
        &body,
    );
    reply.into_response("application/json", "graph stand-in")
}

fn dispatch(
    shared: &Shared,
    method: &str,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Reply {
    if let Some(rest) = path
        .strip_prefix("/v1.0")
        .filter(|r| r.is_empty() || r.starts_with('/'))
    {
        {
            let mut st = shared.store.lock().unwrap();
            if st.throttle > 0 {
                st.throttle -= 1;
                let mut r = graph_error(429, "TooManyRequests", "Too many requests");
                r.headers.push(("Retry-After", st.retry_after.to_string()));
                return r;
            }
            let request = format!("{method} {path}");
            if st.forbidden.iter().any(|p| request.starts_with(p.as_str())) {
                return graph_error(
                    403,
                    "Authorization_RequestDenied",
                    "Insufficient privileges to complete the operation.",
                );
            }
        }
        if !authorised(shared, headers) {
            return graph_error(
                401,
                "InvalidAuthenticationToken",
                "Access token has expired or is not yet valid.",
            );
        }
        if rest == "/$batch" || rest == "/%24batch" {
            return if method == "POST" {
                batch(shared, body)
            } else {
                no_segment("$batch")
            };
        }
        return graph(shared, method, rest, query, body);
    }
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segs.as_slice() {
        [tenant, "oauth2", "v2.0", "token"] if method == "POST" => {
            token(shared, &pct_decode(tenant, false), body)
        }
        [_, "oauth2", "v2.0", "token"] => aad_error(
            400,
            "invalid_request",
            900561,
            "The endpoint only accepts POST requests.",
        ),
        other => {
            let mut r = no_segment(other.last().copied().unwrap_or("/"));
            r.status = 404;
            r
        }
    }
}

fn authorised(shared: &Shared, headers: &HeaderMap) -> bool {
    let Some(value) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let Some((scheme, token)) = value.split_once(' ') else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return false;
    }
    let st = shared.store.lock().unwrap();
    st.tokens
        .get(token.trim())
        .is_some_and(|expiry| *expiry > Instant::now())
}

// ---- the token endpoint

fn token(shared: &Shared, tenant: &str, body: &[u8]) -> Reply {
    let form = parse_pairs(&String::from_utf8_lossy(body));
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let missing = |p: &str| {
        aad_error(
            400,
            "invalid_request",
            900144,
            &format!("The request body must contain the following parameter: '{p}'."),
        )
    };
    if !tenant.eq_ignore_ascii_case(GraphStandIn::TENANT) {
        return aad_error(
            400,
            "invalid_request",
            90002,
            &format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
            ),
        );
    }
    match get("grant_type") {
        Some("client_credentials") => {}
        Some(other) => {
            return aad_error(
                400,
                "unsupported_grant_type",
                70003,
                &format!("The app requested an unsupported grant type '{other}'."),
            );
        }
        None => return missing("grant_type"),
    }
    let Some(client_id) = get("client_id") else {
        return missing("client_id");
    };
    if client_id != GraphStandIn::CLIENT_ID {
        return aad_error(
            400,
            "unauthorized_client",
            700016,
            &format!(
                "Application with identifier '{client_id}' was not found in the directory '{tenant}'."
            ),
        );
    }
    let Some(scope) = get("scope") else {
        return missing("scope");
    };
    if scope != format!("{}/.default", shared.base)
        && scope != "https://graph.microsoft.com/.default"
    {
        return aad_error(
            400,
            "invalid_scope",
            1002012,
            &format!(
                "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
            ),
        );
    }
    match (get("client_secret"), get("client_assertion")) {
        (Some(_), Some(_)) => {
            return aad_error(
                400,
                "invalid_request",
                90014,
                "Send exactly one client credential: client_secret or client_assertion (stand-in wording).",
            );
        }
        (Some(secret), None) => {
            if secret != GraphStandIn::CLIENT_SECRET {
                return aad_error(
                    401,
                    "invalid_client",
                    7000215,
                    &format!(
                        "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
                    ),
                );
            }
        }
        (None, Some(assertion)) => {
            match get("client_assertion_type") {
                Some(JWT_BEARER) => {}
                Some(other) => {
                    return aad_error(
                        400,
                        "invalid_request",
                        50027,
                        &format!("Invalid client_assertion_type '{other}'."),
                    );
                }
                None => return missing("client_assertion_type"),
            }
            let token_url = format!("{}/{tenant}/oauth2/v2.0/token", shared.base);
            if let Err(r) = verify_assertion(shared, &token_url, assertion) {
                return r;
            }
        }
        (None, None) => {
            return aad_error(
                401,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            );
        }
    }
    let mut st = shared.store.lock().unwrap();
    st.tokens_issued += 1;
    let n = st.tokens_issued;
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let access_token = format!(
        "gsi.{n:06}.{:016x}",
        RandomState::new().hash_one((n, nanos))
    );
    let life = st.token_lifetime;
    st.tokens.insert(
        access_token.clone(),
        Instant::now() + Duration::from_secs(life),
    );
    Reply::json(
        200,
        json!({"token_type": "Bearer", "expires_in": life, "ext_expires_in": life, "access_token": access_token}),
    )
}

/// Verify a client assertion as "certificate credentials" describes. jsonwebtoken checks the
/// RS256 signature only; the claims are checked here so each failure gets its own message.
fn verify_assertion(shared: &Shared, token_url: &str, assertion: &str) -> Result<(), Reply> {
    let invalid = |code: u32, msg: String| aad_error(401, "invalid_client", code, &msg);
    let header = jsonwebtoken::decode_header(assertion)
        .map_err(|e| invalid(50027, format!("JWT token is invalid or malformed ({e}).")))?;
    if header.alg != Algorithm::RS256 {
        return Err(invalid(
            700027,
            format!(
                "Client assertion failed signature validation: alg {:?} is not RS256.",
                header.alg
            ),
        ));
    }
    let Some(thumbprint) = header.x5t_s256 else {
        return Err(invalid(
            700027,
            "Client assertion failed signature validation: no x5t#S256 header.".into(),
        ));
    };
    let key = {
        let st = shared.store.lock().unwrap();
        st.keys
            .iter()
            .find(|(t, _)| *t == thumbprint)
            .map(|(_, k)| k.clone())
    };
    let Some(key) = key else {
        return Err(invalid(
            700027,
            format!(
                "Client assertion failed signature validation. [Reason - The key was not found., Thumbprint of key used by client: '{thumbprint}']"
            ),
        ));
    };
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<Value>(assertion, &key, &validation)
        .map_err(|e| {
            invalid(
                700027,
                format!("Client assertion failed signature validation ({e})."),
            )
        })?
        .claims;
    let claim = |name: &str| claims.get(name).and_then(Value::as_str);
    if claim("aud") != Some(token_url) {
        return Err(invalid(
            50027,
            format!("Invalid JWT token: the audience must be '{token_url}'."),
        ));
    }
    if claim("iss") != Some(GraphStandIn::CLIENT_ID)
        || claim("sub") != Some(GraphStandIn::CLIENT_ID)
    {
        return Err(invalid(
            50027,
            "Invalid JWT token: iss and sub must both be the client id.".into(),
        ));
    }
    if claim("jti").is_none_or(str::is_empty) {
        return Err(invalid(50027, "Invalid JWT token: no jti claim.".into()));
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let Some(exp) = claims.get("exp").and_then(Value::as_u64) else {
        return Err(invalid(50027, "Invalid JWT token: no exp claim.".into()));
    };
    if exp <= now || exp > now + 600 {
        return Err(invalid(700024, "Client assertion is not within its valid time range (exp must be in the future, at most 10 minutes ahead).".into()));
    }
    if claims
        .get("nbf")
        .and_then(Value::as_u64)
        .is_some_and(|nbf| nbf > now + 300)
    {
        return Err(invalid(
            700024,
            "Client assertion is not within its valid time range (nbf is in the future).".into(),
        ));
    }
    Ok(())
}

// ---- Graph

fn graph(shared: &Shared, method: &str, path: &str, query: &str, body: &[u8]) -> Reply {
    let owned: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| pct_decode(s, false))
        .collect();
    let segs: Vec<&str> = owned.iter().map(String::as_str).collect();
    let q = Query::parse(query);
    let base = shared.base.as_str();
    let mut guard = shared.store.lock().unwrap();
    let st = &mut *guard;
    match (method, segs.as_slice()) {
        ("GET", ["users"]) => list_users(st, base, &q),
        ("GET", ["users", id]) => get_user(st, base, id, &q),
        ("PATCH", ["users", id]) => patch_user(st, id, body),
        ("DELETE", ["users", id]) => delete_user(st, id),
        ("POST", ["users", id, "revokeSignInSessions"]) => match find_user(st, id) {
            Some(i) => {
                st.users[i].sessions_valid_from = Some(now_rfc3339());
                Reply::json(
                    200,
                    json!({"@odata.context": format!("{base}/v1.0/$metadata#Edm.Boolean"), "value": true}),
                )
            }
            None => not_found(id),
        },
        ("GET", ["users", id, "memberOf"] | ["users", id, "memberOf", "microsoft.graph.group"]) => {
            member_of(st, base, id, &segs.join("/"), &q)
        }
        ("POST", ["users", id, "assignLicense"]) => assign_license(st, base, id, body),
        ("GET", ["users", id, "appRoleAssignments"]) => match find_user(st, id) {
            Some(i) => {
                let st: &Store = st;
                let u = &st.users[i];
                let value: Vec<Value> = u
                    .app_roles
                    .iter()
                    .map(|a| app_role_json(st, u, a))
                    .collect();
                Reply::json(
                    200,
                    json!({"@odata.context": format!("{base}/v1.0/$metadata#users('{}')/appRoleAssignments", u.id), "value": value}),
                )
            }
            None => not_found(id),
        },
        ("POST", ["users", id, "appRoleAssignments"]) => post_app_role(st, id, body),
        ("DELETE", ["users", id, "appRoleAssignments", aid]) => match find_user(st, id) {
            Some(i) => {
                let roles = &mut st.users[i].app_roles;
                match roles.iter().position(|a| a.id.eq_ignore_ascii_case(aid)) {
                    Some(p) => {
                        roles.remove(p);
                        Reply::empty(204)
                    }
                    None => not_found(aid),
                }
            }
            None => not_found(id),
        },
        ("GET", ["users", id, "authentication", "methods"]) => match find_user(st, id) {
            Some(i) => {
                let value: Vec<Value> = st.users[i]
                    .methods
                    .iter()
                    .map(|(mid, t)| json!({"@odata.type": format!("#microsoft.graph.{t}"), "id": mid}))
                    .collect();
                Reply::json(
                    200,
                    json!({"@odata.context": format!("{base}/v1.0/$metadata#users('{}')/authentication/methods", st.users[i].id), "value": value}),
                )
            }
            None => not_found(id),
        },
        ("DELETE", ["users", id, "authentication", seg, mid]) => delete_method(st, id, seg, mid),
        ("POST", ["users", id, "drive", "root", "invite"]) => invite(st, id, body),
        ("GET", ["users", id, "drive", "root", "permissions"]) => match find_user(st, id) {
            Some(i) if st.users[i].has_drive => {
                let value: Vec<Value> = st.users[i]
                    .permissions
                    .iter()
                    .map(permission_json)
                    .collect();
                Reply::json(200, json!({"value": value}))
            }
            Some(_) => no_drive(),
            None => not_found(id),
        },
        ("GET", ["groups"]) => {
            let o = match list_opts(&q, GROUP_FIELDS, "group", &["displayName"], &[]) {
                Ok(o) => o,
                Err(r) => return r,
            };
            let items: Vec<Value> = st
                .groups
                .iter()
                .filter(|g| {
                    o.clauses.is_empty()
                        || o.clauses
                            .iter()
                            .any(|c| matches!(c, Clause::Eq(_, v) if ci_eq(&g.name, v)))
                })
                .map(group_json)
                .collect();
            Reply::json(
                200,
                page(
                    base,
                    "groups",
                    &context(base, "groups", &o.select),
                    &o,
                    items,
                ),
            )
        }
        ("GET", ["groups", gid]) => {
            let select = match parse_select(&q, GROUP_FIELDS, "group") {
                Ok(s) => s,
                Err(r) => return r,
            };
            match st.groups.iter().find(|g| g.id.eq_ignore_ascii_case(gid)) {
                Some(g) => {
                    let mut v = project(group_json(g), select.as_deref());
                    v["@odata.context"] =
                        json!(format!("{}/$entity", context(base, "groups", &select)));
                    Reply::json(200, v)
                }
                None => not_found(gid),
            }
        }
        ("POST", ["groups", gid, "members", "$ref"]) => add_member_ref(st, gid, body),
        ("DELETE", ["groups", gid, "members", uid, "$ref"]) => remove_member(st, gid, uid),
        ("GET", ["subscribedSkus"]) => {
            let value: Vec<Value> = st
                .skus
                .iter()
                .map(|(id, part)| json!({"skuId": id, "skuPartNumber": part, "capabilityStatus": "Enabled", "appliesTo": "User"}))
                .collect();
            Reply::json(
                200,
                json!({"@odata.context": format!("{base}/v1.0/$metadata#subscribedSkus"), "value": value}),
            )
        }
        ("GET", ["directory", "deletedItems", "microsoft.graph.user"]) => {
            let st: &Store = st;
            let value: Vec<Value> = st
                .users
                .iter()
                .filter(|u| u.deleted_at.is_some())
                .map(|u| deleted_json(st, u))
                .collect();
            Reply::json(
                200,
                json!({"@odata.context": format!("{base}/v1.0/$metadata#directoryObjects"), "value": value}),
            )
        }
        ("GET", ["directory", "deletedItems", id]) => match find_deleted(st, id) {
            Some(i) => Reply::json(200, deleted_json(st, &st.users[i])),
            None => not_found(id),
        },
        ("POST", ["directory", "deletedItems", id, "restore"]) => match find_deleted(st, id) {
            Some(i) => {
                st.users[i].deleted_at = None;
                let mut v = user_resource(st, &st.users[i]);
                v["@odata.context"] =
                    json!(format!("{base}/v1.0/$metadata#directoryObjects/$entity"));
                v["@odata.type"] = json!("#microsoft.graph.user");
                Reply::json(200, v)
            }
            None => not_found(id),
        },
        (_, other) => no_segment(other.last().copied().unwrap_or("v1.0")),
    }
}

fn list_users(st: &Store, base: &str, q: &Query) -> Reply {
    let o = match list_opts(q, USER_FIELDS, "user", USER_EQ, USER_ANY) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let items: Vec<Value> = st
        .users
        .iter()
        .filter(|u| u.deleted_at.is_none())
        .filter(|u| o.clauses.is_empty() || o.clauses.iter().any(|c| user_matches(u, c)))
        .map(|u| user_resource(st, u))
        .collect();
    Reply::json(
        200,
        page(base, "users", &context(base, "users", &o.select), &o, items),
    )
}

fn get_user(st: &Store, base: &str, id: &str, q: &Query) -> Reply {
    let select = match parse_select(q, USER_FIELDS, "user") {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some(i) = find_user(st, id) else {
        return not_found(id);
    };
    let mut v = project(user_resource(st, &st.users[i]), select.as_deref());
    v["@odata.context"] = json!(format!("{}/$entity", context(base, "users", &select)));
    Reply::json(200, v)
}

fn patch_user(st: &mut Store, id: &str, body: &[u8]) -> Reply {
    let Some(i) = find_user(st, id) else {
        return not_found(id);
    };
    let patch = match json_object(body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let (mut enabled, mut display_name) = (None, None);
    for (k, v) in &patch {
        match (k.as_str(), v) {
            ("accountEnabled", Value::Bool(b)) => enabled = Some(*b),
            ("displayName", Value::String(s)) => display_name = Some(s.clone()),
            ("accountEnabled" | "displayName", _) => {
                return bad_request(&format!(
                    "Invalid value specified for property '{k}' of resource 'User'."
                ));
            }
            _ => {
                return bad_request(&format!(
                    "Property '{k}' is not supported by the stand-in (only accountEnabled and displayName)."
                ));
            }
        }
    }
    let u = &mut st.users[i];
    if u.user.synced {
        return bad_request(SYNCED);
    }
    if let Some(b) = enabled {
        u.user.enabled = b;
    }
    if let Some(n) = display_name {
        u.user.display_name = n;
    }
    Reply::empty(204)
}

fn delete_user(st: &mut Store, id: &str) -> Reply {
    let Some(i) = find_user(st, id) else {
        return not_found(id);
    };
    if st.users[i].user.synced {
        return bad_request(SYNCED);
    }
    st.users[i].deleted_at = Some(now_rfc3339());
    Reply::empty(204)
}

fn member_of(st: &Store, base: &str, id: &str, path: &str, q: &Query) -> Reply {
    let o = match list_opts(q, GROUP_FIELDS, "group", &[], &[]) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let Some(i) = find_user(st, id) else {
        return not_found(id);
    };
    let uid = &st.users[i].id;
    let items: Vec<Value> = st
        .groups
        .iter()
        .filter(|g| g.members.contains(uid))
        .map(|g| {
            let mut v = group_json(g);
            v["@odata.type"] = json!("#microsoft.graph.group");
            v
        })
        .collect();
    Reply::json(
        200,
        page(base, path, &context(base, "groups", &o.select), &o, items),
    )
}

fn assign_license(st: &mut Store, base: &str, id: &str, body: &[u8]) -> Reply {
    let Some(i) = find_user(st, id) else {
        return not_found(id);
    };
    let obj = match json_object(body) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let (Some(add), Some(remove)) = (
        obj.get("addLicenses").and_then(Value::as_array),
        obj.get("removeLicenses").and_then(Value::as_array),
    ) else {
        return bad_request(
            "Both addLicenses and removeLicenses are required (either may be empty).",
        );
    };
    // Validate everything before changing anything: the request is all or nothing.
    let mut adds: Vec<(String, Vec<String>)> = Vec::new();
    for a in add {
        let Some(sku) = a.get("skuId").and_then(Value::as_str) else {
            return bad_request(
                "Invalid value specified for property 'skuId' of resource 'AssignedLicense'.",
            );
        };
        let sku = sku.to_ascii_lowercase();
        if !st.skus.iter().any(|(s, _)| *s == sku) {
            return bad_request(&format!(
                "License {sku} does not correspond to a valid company License."
            ));
        }
        let disabled = match a.get("disabledPlans") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(plans)) => plans
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            Some(_) => {
                return bad_request(
                    "Invalid value specified for property 'disabledPlans' of resource 'AssignedLicense'.",
                );
            }
        };
        adds.push((sku, disabled));
    }
    let mut removes: Vec<String> = Vec::new();
    for r in remove {
        let Some(sku) = r.as_str().map(str::to_ascii_lowercase) else {
            return bad_request(
                "Invalid value specified for property 'removeLicenses' of resource 'User'.",
            );
        };
        let u = &st.users[i];
        if !u.licenses.iter().any(|l| l.via.is_none() && l.sku == sku) {
            let inherited = effective_licenses(st, u).iter().any(|l| l.sku == sku);
            return bad_request(if inherited {
                INHERITED
            } else {
                "User does not have a corresponding license."
            });
        }
        removes.push(sku);
    }
    let u = &mut st.users[i];
    u.licenses
        .retain(|l| l.via.is_some() || !removes.contains(&l.sku));
    for (sku, disabled) in adds {
        match u
            .licenses
            .iter_mut()
            .find(|l| l.via.is_none() && l.sku == sku)
        {
            Some(l) => l.disabled = disabled,
            None => u.licenses.push(Lic {
                sku,
                via: None,
                disabled,
            }),
        }
    }
    let mut v = user_resource(st, &st.users[i]);
    if let Some(m) = v.as_object_mut() {
        m.remove("signInActivity");
    }
    v["@odata.context"] = json!(format!("{base}/v1.0/$metadata#users/$entity"));
    Reply::json(200, v)
}

fn post_app_role(st: &mut Store, id: &str, body: &[u8]) -> Reply {
    let Some(i) = find_user(st, id) else {
        return not_found(id);
    };
    let obj = match json_object(body) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let field = |k: &str| {
        obj.get(k)
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase)
    };
    let (Some(principal), Some(resource), Some(role)) = (
        field("principalId"),
        field("resourceId"),
        field("appRoleId"),
    ) else {
        return bad_request("principalId, resourceId and appRoleId are required.");
    };
    if principal != st.users[i].id {
        return bad_request("The principalId must be the user the assignment is created on.");
    }
    if !st.resources.iter().any(|(r, _)| *r == resource) {
        return not_found(&resource);
    }
    if st.users[i]
        .app_roles
        .iter()
        .any(|a| a.resource_id == resource && a.app_role_id == role)
    {
        return bad_request("Permission being assigned already exists on the object");
    }
    let a = AppRole {
        id: st.new_id(4),
        app_role_id: role,
        resource_id: resource,
        created: now_rfc3339(),
    };
    let v = app_role_json(st, &st.users[i], &a);
    st.users[i].app_roles.push(a);
    Reply::json(201, v)
}

fn delete_method(st: &mut Store, id: &str, seg: &str, mid: &str) -> Reply {
    let Some(kind) = METHOD_SEGMENTS
        .iter()
        .find(|(s, _)| *s == seg)
        .map(|(_, k)| *k)
    else {
        return no_segment(seg);
    };
    let Some(i) = find_user(st, id) else {
        return not_found(id);
    };
    let methods = &mut st.users[i].methods;
    // A method of another type under this segment does not exist, as far as Graph is concerned.
    match methods
        .iter()
        .position(|(m, t)| m.eq_ignore_ascii_case(mid) && t == kind)
    {
        Some(p) => {
            methods.remove(p);
            Reply::empty(204)
        }
        None => not_found(mid),
    }
}

fn invite(st: &mut Store, id: &str, body: &[u8]) -> Reply {
    let Some(i) = find_user(st, id) else {
        return not_found(id);
    };
    if !st.users[i].has_drive {
        return no_drive();
    }
    let obj = match json_object(body) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let invalid = |m: &str| graph_error(400, "invalidRequest", m);
    let Some(recipients) = obj
        .get("recipients")
        .and_then(Value::as_array)
        .filter(|r| !r.is_empty())
    else {
        return invalid("At least one recipient is required.");
    };
    let Some(emails) = recipients
        .iter()
        .map(|r| r.get("email").and_then(Value::as_str))
        .collect::<Option<Vec<&str>>>()
    else {
        return invalid("Every recipient needs an email.");
    };
    let Some(roles) = obj
        .get("roles")
        .and_then(Value::as_array)
        .and_then(|r| {
            r.iter()
                .map(|x| x.as_str().filter(|s| *s == "read" || *s == "write"))
                .collect::<Option<Vec<&str>>>()
        })
        .filter(|r| !r.is_empty())
    else {
        return invalid("roles must be a non-empty list of \"read\" and \"write\".");
    };
    let mut value = Vec::new();
    for email in emails {
        let p = Permission {
            id: st.new_id(6),
            email: email.to_string(),
            roles: roles.iter().map(|r| r.to_string()).collect(),
        };
        value.push(permission_json(&p));
        st.users[i].permissions.push(p);
    }
    Reply::json(200, json!({"value": value}))
}

fn add_member_ref(st: &mut Store, gid: &str, body: &[u8]) -> Reply {
    let Some(g) = st
        .groups
        .iter()
        .position(|g| g.id.eq_ignore_ascii_case(gid))
    else {
        return not_found(gid);
    };
    let obj = match json_object(body) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let Some(uid) = obj
        .get("@odata.id")
        .and_then(Value::as_str)
        .and_then(|r| r.rsplit('/').next())
    else {
        return bad_request("Invalid object identifier: the body needs an @odata.id.");
    };
    match st.groups[g].kind {
        GroupKind::Dynamic => return bad_request(DYNAMIC),
        GroupKind::OnPremises | GroupKind::MailEnabled => return bad_request(ON_PREMISES),
        GroupKind::Assigned => {}
    }
    let Some(u) = find_user(st, uid) else {
        return not_found(uid);
    };
    let user_id = st.users[u].id.clone();
    let members = &mut st.groups[g].members;
    if members.contains(&user_id) {
        return bad_request(
            "One or more added object references already exist for the following modified properties: 'members'.",
        );
    }
    members.push(user_id);
    Reply::empty(204)
}

fn remove_member(st: &mut Store, gid: &str, uid: &str) -> Reply {
    let Some(g) = st
        .groups
        .iter()
        .position(|g| g.id.eq_ignore_ascii_case(gid))
    else {
        return not_found(gid);
    };
    match st.groups[g].kind {
        GroupKind::Dynamic => return bad_request(DYNAMIC),
        GroupKind::OnPremises | GroupKind::MailEnabled => return bad_request(ON_PREMISES),
        GroupKind::Assigned => {}
    }
    let Some(u) = find_user(st, uid) else {
        return not_found(uid);
    };
    let user_id = st.users[u].id.clone();
    let members = &mut st.groups[g].members;
    match members.iter().position(|m| *m == user_id) {
        // Licences the group granted go with the membership: they are computed from it.
        Some(p) => {
            members.remove(p);
            Reply::empty(204)
        }
        None => not_found(uid),
    }
}

fn batch(shared: &Shared, body: &[u8]) -> Reply {
    let obj = match json_object(body) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let Some(requests) = obj.get("requests").and_then(Value::as_array) else {
        return graph_error(400, "BadRequest", "Invalid batch payload format.");
    };
    if requests.is_empty() || requests.len() > 20 {
        return graph_error(
            400,
            "BadRequest",
            "Invalid batch payload format: a batch holds 1 to 20 requests.",
        );
    }
    // The whole batch is refused before anything runs if any request is malformed.
    let mut parsed: Vec<(&str, String, &str, &Value)> = Vec::new();
    for r in requests {
        let (Some(id), Some(method), Some(url)) = (
            str_field(r, "id"),
            str_field(r, "method"),
            str_field(r, "url"),
        ) else {
            return graph_error(
                400,
                "BadRequest",
                "Invalid batch payload format: every request needs id, method and url.",
            );
        };
        if parsed.iter().any(|(other, _, _, _)| *other == id) {
            return graph_error(
                400,
                "BadRequest",
                &format!("Duplicate request id '{id}' in the batch."),
            );
        }
        parsed.push((id, method.to_ascii_uppercase(), url, r));
    }
    let mut responses = Vec::new();
    for (id, method, url, r) in parsed {
        let (path, query) = url.split_once('?').unwrap_or((url, ""));
        let path = if path.starts_with('/') {
            path.to_string()
        } else {
            format!("/{path}")
        };
        let body = r.get("body").filter(|b| !b.is_null());
        let has_type = r
            .get("headers")
            .and_then(Value::as_object)
            .is_some_and(|h| h.keys().any(|k| k.eq_ignore_ascii_case("content-type")));
        // Graph throttles each request inside a batch on its own ("JSON batching": a
        // sub-response can be 429 with its own Retry-After while the batch answers 200).
        let throttled = {
            let mut st = shared.store.lock().unwrap();
            (st.throttle_batched > 0).then(|| {
                st.throttle_batched -= 1;
                st.retry_after
            })
        };
        let reply = match body {
            _ if throttled.is_some() => {
                let mut r = graph_error(429, "TooManyRequests", "Too many requests");
                r.headers
                    .push(("Retry-After", throttled.unwrap_or(0).to_string()));
                r
            }
            Some(_) if !has_type => graph_error(
                400,
                "BadRequest",
                "Content-Type header must be specified for a request with a body.",
            ),
            Some(b) => graph(shared, &method, &path, query, b.to_string().as_bytes()),
            None => graph(shared, &method, &path, query, b""),
        };
        let mut headers = Map::new();
        for (k, v) in &reply.headers {
            headers.insert(k.to_string(), json!(v));
        }
        if reply.body.is_some() {
            headers.insert("Content-Type".into(), json!("application/json"));
        }
        responses.push(
            json!({"id": id, "status": reply.status, "headers": headers, "body": reply.body}),
        );
    }
    Reply::json(200, json!({"responses": responses}))
}

// ---- resources

fn find_user(st: &Store, key: &str) -> Option<usize> {
    st.users.iter().position(|u| {
        u.deleted_at.is_none()
            && (u.id.eq_ignore_ascii_case(key) || u.user.upn.eq_ignore_ascii_case(key))
    })
}

fn find_deleted(st: &Store, id: &str) -> Option<usize> {
    st.users
        .iter()
        .position(|u| u.deleted_at.is_some() && u.id.eq_ignore_ascii_case(id))
}

/// Direct licences, and those of groups the user is still a member of.
fn effective_licenses<'a>(st: &'a Store, u: &'a UserRec) -> Vec<&'a Lic> {
    u.licenses
        .iter()
        .filter(|l| match &l.via {
            None => true,
            Some(gid) => st
                .groups
                .iter()
                .any(|g| g.id == *gid && g.members.contains(&u.id)),
        })
        .collect()
}

fn user_resource(st: &Store, u: &UserRec) -> Value {
    let lics = effective_licenses(st, u);
    let mut assigned: Vec<Value> = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for l in &lics {
        if seen.contains(&l.sku.as_str()) {
            continue;
        }
        seen.push(l.sku.as_str());
        let direct = lics
            .iter()
            .find(|d| d.sku == l.sku && d.via.is_none())
            .unwrap_or(l);
        assigned.push(json!({"skuId": l.sku, "disabledPlans": direct.disabled}));
    }
    let states: Vec<Value> = lics
        .iter()
        .map(|l| json!({"skuId": l.sku, "assignedByGroup": l.via, "state": "Active", "error": "None", "disabledPlans": l.disabled}))
        .collect();
    let g = &u.user;
    json!({
        "id": u.id,
        "userPrincipalName": g.upn,
        "mail": g.mail,
        "otherMails": g.other_mails,
        "employeeId": g.employee_id,
        "displayName": g.display_name,
        "accountEnabled": g.enabled,
        "onPremisesSyncEnabled": if g.synced { Value::Bool(true) } else { Value::Null },
        "onPremisesSamAccountName": g.sam_account_name,
        "assignedLicenses": assigned,
        "licenseAssignmentStates": states,
        "signInSessionsValidFromDateTime": u.sessions_valid_from.as_deref().unwrap_or(CREATED),
        "signInActivity": {"lastSignInDateTime": g.last_sign_in},
    })
}

fn deleted_json(st: &Store, u: &UserRec) -> Value {
    let mut v = user_resource(st, u);
    v["@odata.type"] = json!("#microsoft.graph.user");
    v["deletedDateTime"] = json!(u.deleted_at);
    v
}

fn group_json(g: &GroupRec) -> Value {
    let dynamic = g.kind == GroupKind::Dynamic;
    json!({
        "id": g.id,
        "displayName": g.name,
        "groupTypes": if dynamic { vec!["DynamicMembership"] } else { Vec::new() },
        "membershipRule": if dynamic { json!("user.department -eq \"Sales\"") } else { Value::Null },
        "onPremisesSyncEnabled": if g.kind == GroupKind::OnPremises { Value::Bool(true) } else { Value::Null },
        "securityEnabled": g.kind != GroupKind::MailEnabled,
        "mailEnabled": matches!(g.kind, GroupKind::OnPremises | GroupKind::MailEnabled),
    })
}

fn resource_name(st: &Store, resource_id: &str) -> String {
    st.resources
        .iter()
        .find(|(r, _)| r == resource_id)
        .map_or_else(String::new, |(_, n)| n.clone())
}

fn app_role_json(st: &Store, u: &UserRec, a: &AppRole) -> Value {
    json!({
        "id": a.id,
        "appRoleId": a.app_role_id,
        "principalId": u.id,
        "principalDisplayName": u.user.display_name,
        "principalType": "User",
        "resourceId": a.resource_id,
        "resourceDisplayName": resource_name(st, &a.resource_id),
        "createdDateTime": a.created,
        "deletedDateTime": null,
    })
}

fn permission_json(p: &Permission) -> Value {
    json!({"id": p.id, "roles": p.roles, "grantedToV2": {"user": {"email": p.email}}})
}

/// `id` (and `@odata.type`) plus the selected fields; without `$select` everything but
/// `signInActivity`, which Graph returns only when asked for.
fn project(full: Value, select: Option<&[&'static str]>) -> Value {
    let Value::Object(mut map) = full else {
        return full;
    };
    match select {
        None => {
            map.remove("signInActivity");
            Value::Object(map)
        }
        Some(fields) => {
            let mut out = Map::new();
            for k in ["@odata.type", "id"].iter().chain(fields) {
                if let Some(v) = map.remove(*k) {
                    out.insert(k.to_string(), v);
                }
            }
            Value::Object(out)
        }
    }
}

// ---- query options

struct Query(Vec<(String, String)>);

impl Query {
    fn parse(raw: &str) -> Query {
        Query(parse_pairs(raw))
    }
    /// `$select` also answers to `select`, as Graph accepts both.
    fn get(&self, name: &str) -> Option<&str> {
        let bare = name.trim_start_matches('$');
        self.0
            .iter()
            .find(|(k, _)| k == name || k == bare)
            .map(|(_, v)| v.as_str())
    }
}

enum Clause {
    Eq(&'static str, String),
    /// `otherMails/any(m:m eq 'v')`, the only collection the contract filters on.
    Any(String),
}

struct ListOpts {
    select: Option<Vec<&'static str>>,
    select_raw: Option<String>,
    filter_raw: Option<String>,
    clauses: Vec<Clause>,
    top: usize,
    skip: usize,
}

fn parse_select(
    q: &Query,
    fields: &[&'static str],
    entity: &str,
) -> Result<Option<Vec<&'static str>>, Reply> {
    let Some(raw) = q.get("$select") else {
        return Ok(None);
    };
    let mut out = Vec::new();
    for name in raw.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        match fields.iter().find(|f| f.eq_ignore_ascii_case(name)) {
            Some(f) => out.push(*f),
            None => {
                return Err(bad_request(&format!(
                    "Parsing OData Select and Expand failed: Could not find a property named '{name}' on type 'microsoft.graph.{entity}'."
                )));
            }
        }
    }
    Ok(Some(out))
}

fn list_opts(
    q: &Query,
    fields: &[&'static str],
    entity: &str,
    eq: &[&'static str],
    any: &[&'static str],
) -> Result<ListOpts, Reply> {
    let select = parse_select(q, fields, entity)?;
    let top = match q.get("$top") {
        None => 100,
        Some(raw) => match raw.trim().parse::<usize>() {
            Ok(n) if (1..=999).contains(&n) => n,
            _ => {
                return Err(bad_request(&format!(
                    "Invalid page size specified: '{raw}'. Must be between 1 and 999 inclusive."
                )));
            }
        },
    };
    let (filter_raw, clauses) = match q.get("$filter") {
        None => (None, Vec::new()),
        Some(raw) => match parse_filter(raw, eq, any) {
            Some(c) => (Some(raw.to_string()), c),
            None => {
                return Err(graph_error(
                    400,
                    "Request_UnsupportedQuery",
                    "Unsupported query.",
                ));
            }
        },
    };
    let skip = match q.get("$skiptoken") {
        None => 0,
        Some(token) => URL_SAFE_NO_PAD
            .decode(token)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.strip_prefix("offset:")?.parse::<usize>().ok())
            .ok_or_else(|| bad_request("Invalid paging token."))?,
    };
    Ok(ListOpts {
        select,
        select_raw: q.get("$select").map(str::to_string),
        filter_raw,
        clauses,
        top,
        skip,
    })
}

fn context(base: &str, set: &str, select: &Option<Vec<&'static str>>) -> String {
    match select {
        Some(s) => format!("{base}/v1.0/$metadata#{set}({})", s.join(",")),
        None => format!("{base}/v1.0/$metadata#{set}"),
    }
}

/// One page of `items`; `@odata.nextLink` repeats `$select`, `$top` and `$filter` and carries
/// the next offset in an opaque `$skiptoken`.
fn page(base: &str, path: &str, context: &str, o: &ListOpts, items: Vec<Value>) -> Value {
    let total = items.len();
    let end = o.skip.saturating_add(o.top).min(total);
    let value: Vec<Value> = items
        .into_iter()
        .skip(o.skip)
        .take(o.top)
        .map(|v| project(v, o.select.as_deref()))
        .collect();
    let mut out = json!({"@odata.context": context, "value": value});
    if end < total {
        let mut link = format!("{base}/v1.0/{path}?");
        if let Some(s) = &o.select_raw {
            link.push_str(&format!("$select={}&", pct_encode(s)));
        }
        link.push_str(&format!("$top={}&", o.top));
        if let Some(f) = &o.filter_raw {
            link.push_str(&format!("$filter={}&", pct_encode(f)));
        }
        link.push_str(&format!(
            "$skiptoken={}",
            URL_SAFE_NO_PAD.encode(format!("offset:{end}"))
        ));
        out["@odata.nextLink"] = Value::String(link);
    }
    out
}

/// The contract's `$filter` grammar, a disjunction of `field eq 'v'` and
/// `field/any(x:x eq 'v')`; `None` for anything else (which Graph calls unsupported).
fn parse_filter(src: &str, eq: &[&'static str], any: &[&'static str]) -> Option<Vec<Clause>> {
    let mut clauses = Vec::new();
    let mut rest = src.trim_start();
    loop {
        let (clause, after) = parse_clause(rest, eq, any)?;
        clauses.push(clause);
        let after = after.trim_start();
        if after.is_empty() {
            return Some(clauses);
        }
        let after = strip_prefix_ci(after, "or")?;
        if !after.starts_with(char::is_whitespace) {
            return None;
        }
        rest = after.trim_start();
    }
}

fn parse_clause<'a>(
    s: &'a str,
    eq: &[&'static str],
    any: &[&'static str],
) -> Option<(Clause, &'a str)> {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    let (name, rest) = s.split_at(end);
    let known = |fields: &[&'static str]| {
        fields
            .iter()
            .find(|f| f.eq_ignore_ascii_case(name))
            .copied()
    };
    if let Some(lambda) = rest.strip_prefix('/') {
        known(any)?;
        let r = strip_prefix_ci(lambda, "any(")?;
        let (var, r) = r.split_once(':')?;
        let var = var.trim();
        if var.is_empty() || !var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return None;
        }
        let r = r.trim_start().strip_prefix(var)?;
        let (value, r) = quoted(expect_eq(r)?)?;
        let r = r.trim_start().strip_prefix(')')?;
        Some((Clause::Any(value), r))
    } else {
        let field = known(eq)?;
        let (value, r) = quoted(expect_eq(rest)?)?;
        Some((Clause::Eq(field, value), r))
    }
}

/// ` eq ` with the whitespace around it.
fn expect_eq(r: &str) -> Option<&str> {
    if !r.starts_with(char::is_whitespace) {
        return None;
    }
    let r = strip_prefix_ci(r.trim_start(), "eq")?;
    r.starts_with(char::is_whitespace).then(|| r.trim_start())
}

/// A single-quoted OData string, `''` standing for one quote.
fn quoted(r: &str) -> Option<(String, &str)> {
    let body = r.strip_prefix('\'')?;
    let mut out = String::new();
    let mut chars = body.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c != '\'' {
            out.push(c);
        } else if chars.peek().is_some_and(|(_, n)| *n == '\'') {
            chars.next();
            out.push('\'');
        } else {
            return Some((out, &body[i + 1..]));
        }
    }
    None
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

fn ci_eq(a: &str, b: &str) -> bool {
    a.to_lowercase() == b.to_lowercase()
}

fn user_matches(u: &UserRec, c: &Clause) -> bool {
    let g = &u.user;
    match c {
        Clause::Eq(field, v) => {
            let actual = match *field {
                "userPrincipalName" => Some(g.upn.as_str()),
                "mail" => g.mail.as_deref(),
                "employeeId" => g.employee_id.as_deref(),
                "onPremisesSamAccountName" => g.sam_account_name.as_deref(),
                _ => None,
            };
            actual.is_some_and(|a| ci_eq(a, v))
        }
        Clause::Any(v) => g.other_mails.iter().any(|m| ci_eq(m, v)),
    }
}

// ---- small helpers

static REQUEST_IDS: AtomicU64 = AtomicU64::new(1);

fn request_id() -> String {
    format!(
        "5eed0000-0000-4000-9000-{:012x}",
        REQUEST_IDS.fetch_add(1, Ordering::Relaxed)
    )
}

fn graph_error(status: u16, code: &str, message: &str) -> Reply {
    let id = request_id();
    let inner = json!({"date": now_rfc3339(), "request-id": id, "client-request-id": id});
    Reply::json(
        status,
        json!({"error": {"code": code, "message": message, "innerError": inner}}),
    )
}

fn bad_request(message: &str) -> Reply {
    graph_error(400, "Request_BadRequest", message)
}

fn not_found(id: &str) -> Reply {
    graph_error(
        404,
        "Request_ResourceNotFound",
        &format!(
            "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
        ),
    )
}

fn no_segment(segment: &str) -> Reply {
    graph_error(
        400,
        "BadRequest",
        &format!("Resource not found for the segment '{segment}'."),
    )
}

fn no_drive() -> Reply {
    graph_error(404, "itemNotFound", "User's mysite not found.")
}

/// The identity platform's error body: an OAuth error plus AADSTS code, trace and time.
fn aad_error(status: u16, error: &str, code: u32, text: &str) -> Reply {
    let trace = request_id();
    let time = jiff::Timestamp::now()
        .strftime("%Y-%m-%d %H:%M:%SZ")
        .to_string();
    Reply::json(
        status,
        json!({
            "error": error,
            "error_description": format!("AADSTS{code}: {text} Trace ID: {trace} Correlation ID: {trace} Timestamp: {time}"),
            "error_codes": [code],
            "timestamp": time,
            "trace_id": trace,
            "correlation_id": trace,
            "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
        }),
    )
}

fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn json_object(body: &[u8]) -> Result<Map<String, Value>, Reply> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(graph_error(
            400,
            "BadRequest",
            "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.",
        )),
    }
}

fn now_rfc3339() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn pct_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~,'()/:$*@!".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The DER inside the first PEM block.
fn pem_der(pem: &str) -> Vec<u8> {
    let b64: String = pem
        .lines()
        .map(str::trim)
        .skip_while(|l| !l.starts_with("-----BEGIN"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    STANDARD
        .decode(b64)
        .unwrap_or_else(|e| panic!("graph stand-in: not a PEM block: {e}"))
}

/// (modulus, exponent) from an SPKI or PKCS#1 RSA public key, without leading zeros. Parsed by
/// hand because jsonwebtoken reads PEM only with its `use_pem` feature, which this crate
/// does not enable.
fn rsa_components(der: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let (tag, seq, _) = der_next(der)?;
    if tag != 0x30 {
        return None;
    }
    let (first, content, rest) = der_next(seq)?;
    match first {
        // PKCS#1 RSAPublicKey: SEQUENCE { INTEGER n, INTEGER e }
        0x02 => {
            let (t, e, _) = der_next(rest)?;
            let trim = |x: &[u8]| x[x.iter().position(|&b| b != 0).unwrap_or(x.len())..].to_vec();
            (t == 0x02).then(|| (trim(content), trim(e)))
        }
        // SubjectPublicKeyInfo: SEQUENCE { AlgorithmIdentifier, BIT STRING { RSAPublicKey } }
        0x30 => {
            let (t, bits, _) = der_next(rest)?;
            if t != 0x03 || bits.first() != Some(&0) {
                return None;
            }
            rsa_components(&bits[1..])
        }
        _ => None,
    }
}

/// One DER element: (tag, content, what follows).
fn der_next(buf: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = buf.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        first as usize
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| acc << 8 | b as usize);
        rest = &rest[n..];
        len
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// The secret file a test policy's `graph` connector reads, relative to its repository.
pub const SECRET_FILE: &str = "graph-client-secret";

impl GraphStandIn {
    /// Settings of a `graph` connector aimed at this stand-in; its client secret is written
    /// to [`SECRET_FILE`] in `repo` (the policy repository the connector resolves files in).
    pub fn settings(&self, repo: &std::path::Path) -> offboard::connector::graph::GraphSettings {
        std::fs::write(repo.join(SECRET_FILE), Self::CLIENT_SECRET).expect("write graph secret");
        offboard::connector::graph::GraphSettings {
            tenant: Self::TENANT.into(),
            client_id: Self::CLIENT_ID.into(),
            credential: offboard::connector::graph::Credential::Secret(
                offboard::policy::SecretRef::File(SECRET_FILE.into()),
            ),
            authority: self.url(),
            graph_url: self.url(),
            page_size: 999,
            timeout: jiff::SignedDuration::from_secs(10),
            delete: true,
            sign_in_activity: false,
            read_concurrency: 8,
        }
    }

    /// The `connector graph ...` line of a policy in `repo` (the secret written there too).
    pub fn connector_line(&self, repo: &std::path::Path) -> String {
        std::fs::write(repo.join(SECRET_FILE), Self::CLIENT_SECRET).expect("write graph secret");
        format!(
            "connector graph tenant=\"{}\" client-id=\"{}\" client-secret-file=\"{SECRET_FILE}\" authority=\"{url}\" graph-url=\"{url}\" delete=#true",
            Self::TENANT,
            Self::CLIENT_ID,
            url = self.url()
        )
    }
}
