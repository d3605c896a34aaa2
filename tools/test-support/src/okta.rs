//! A stand-in for the part of the Okta Management API, and the org authorization server's
//! token endpoint, that offboard's `okta` connector speaks. It is **not Okta**: Okta publishes
//! no local server, so this is an in-process HTTP server written from Okta's published
//! documentation, stateful enough for the connector's tests to observe real effects (a
//! suspended user, a removed membership, factors that are gone, a user deleted for good).
//!
//! Every answer must also validate against Okta's own machine-readable description, the
//! Swagger 2.0 document of npm `@okta/openapi` 2.15.0 (`dist/spec.json`): the tests put
//! Stoplight Prism in front of the stand-in as a validating proxy ([`crate::prism::Prism`]),
//! and a response Prism rejects fails the test. Where the documentation leaves wording open,
//! the messages here are the stand-in's own; codes and shapes follow these pages:
//!
//! - `Authorization: SSWS {token}`: "Create an API token"
//!   <https://developer.okta.com/docs/guides/create-an-api-token/main/> and the spec's
//!   `api_token` security definition;
//! - OAuth 2.0 for a service app (`client_credentials` with a `private_key_jwt` client
//!   assertion, `okta.*` scopes, `Authorization: Bearer`): "Implement OAuth for Okta with a
//!   service app" <https://developer.okta.com/docs/guides/implement-oauth-for-okta-serviceapp/main/>,
//!   "Build a JWT for client authentication"
//!   <https://developer.okta.com/docs/guides/build-self-signed-jwt/main/> (aud is the token
//!   endpoint, iss = sub = client id, exp at most one hour ahead, jti not reused) and "OAuth 2.0
//!   Scopes" <https://developer.okta.com/docs/api/oauth2/>; a service app without an admin
//!   role sees no users (empty lists, 404 on a user), as the service-app guide warns;
//! - error bodies (`errorCode`, `errorSummary`, `errorLink`, `errorId`, `errorCauses`) and the
//!   codes E0000001, E0000006, E0000007, E0000011, E0000016, E0000031, E0000047: "Error codes"
//!   <https://developer.okta.com/docs/reference/error-codes/>;
//! - "List all users" (listUsers): without `filter`/`search` it leaves out DEPROVISIONED users;
//!   `filter`, `search` (which includes them) and `q`; `limit` (default and maximum 200):
//!   <https://developer.okta.com/docs/api/openapi/okta-management/management/tag/User/#tag/User/operation/listUsers>;
//! - paging with `Link: <...>; rel="self"` and `rel="next"` carrying an opaque `after` cursor,
//!   and the `filter`/`search` expression grammar (`eq`, `sw`, `and`, `or`, double quotes):
//!   "Design principles" <https://developer.okta.com/docs/api/#pagination> and
//!   <https://developer.okta.com/docs/api/#filter>;
//! - "Retrieve a user" (by id or login), "List all groups of a user" (the BUILT_IN Everyone
//!   group holds every user), "Delete a user" (deactivateOrDeleteUser: the first call only
//!   deactivates, the second deletes for good) under the same User tag;
//! - "User lifecycle" (suspend: ACTIVE only; unsuspend: SUSPENDED only; deactivate; activate
//!   with `sendEmail=false` answers a `UserActivationToken`; reset_factors):
//!   <https://developer.okta.com/docs/api/openapi/okta-management/management/tag/UserLifecycle/>;
//! - "Revoke all user sessions" (`oauthTokens=true`):
//!   <https://developer.okta.com/docs/api/openapi/okta-management/management/tag/UserSessions/>;
//! - "List all user grants" and "Revoke all user grants":
//!   <https://developer.okta.com/docs/api/openapi/okta-management/management/tag/UserGrant/>;
//! - "List all enrolled factors" (factorType, provider, status):
//!   <https://developer.okta.com/docs/api/openapi/okta-management/management/tag/UserFactor/>;
//! - "List all groups" (`q` matches the start of the name), "Assign a user to a group" and
//!   "Unassign a user from a group", which only OKTA_GROUP groups allow: APP_GROUP and
//!   BUILT_IN memberships are managed by their source, and Okta answers 403 E0000006 (the
//!   code Okta's own Terraform provider works around, okta/terraform-provider-okta#118):
//!   <https://developer.okta.com/docs/api/openapi/okta-management/management/tag/Group/>;
//! - `X-Rate-Limit-Limit`, `X-Rate-Limit-Remaining`, `X-Rate-Limit-Reset` (UTC epoch seconds
//!   of the window's end) on every `/api/v1` answer, and 429 E0000047 when the window's budget
//!   is spent: "Rate limits overview" <https://developer.okta.com/docs/reference/rate-limits/>
//!   and "Rate limit best practices"
//!   <https://developer.okta.com/docs/reference/rl-best-practices/>. Okta keeps one bucket per
//!   endpoint family; the stand-in keeps one for all of `/api/v1`.
//!
//! Where the spec and the documentation disagree the spec wins, because Prism enforces it:
//! `DELETE /api/v1/users/{id}` answers 202 (the spec's only code; the documentation shows
//! 204); the `date-time` properties and profile strings that Okta sends as `null` are left
//! out (the spec types them `string`, so `null` is a violation); `_links` values are objects
//! (the spec's `additionalProperties: {type: object}`), so a group has no `logo` array; the
//! lifecycle calls whose 200 declares no schema answer `{}` (an empty body with a JSON
//! content type breaks Prism's proxy); the spec declares no error responses at all, so every
//! documented error code above is something Prism reports only as a warning. The token
//! endpoint is not in the spec: Prism refuses `/oauth2/v1/token`, so clients fetch tokens from
//! the stand-in directly ([`OktaStandIn::token_url`]); [`OktaStandIn::set_public_url`] makes
//! the links the stand-in writes point at the proxy.
//!
//! The server runs on its own tokio runtime in its own thread, so plain `#[test]`s,
//! `#[tokio::test]`s and benchmarks use it alike; dropping it shuts it down. Everything is one
//! fallback handler that routes by splitting the path. The state sits behind one
//! `std::sync::Mutex`, never held across an `.await`.
//!
//! Faults are opt-in: [`OktaStandIn::throttle_next`] answers the next `/api/v1` requests with
//! 429 before any effect, [`OktaStandIn::set_rate_limit`] makes the budget small,
//! [`OktaStandIn::expire_tokens`] invalidates every OAuth token mid-run,
//! [`OktaStandIn::set_no_admin_role`] hides every user, [`OktaStandIn::set_latency`] slows
//! every answer.

use crate::stand_in::{self, Reply, parse_pairs, pct_decode};
use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value, json};

/// `created` (and the other timestamps) of everything seeded.
const CREATED: &str = "2024-01-01T00:00:00.000Z";
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Eight characters between an id's three-character prefix and its nine-digit counter, so
/// that ids are 20 characters like Okta's and sort in creation order.
const ID_TAG: &str = "4oFfB0rd";
const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// The default user type every user has (`type.id`).
const USER_TYPE_ID: &str = "oty4oFfB0rd000000000";
/// The spec's `UserStatus` enum.
const USER_STATUSES: &[&str] = &[
    "ACTIVE",
    "DEPROVISIONED",
    "LOCKED_OUT",
    "PASSWORD_EXPIRED",
    "PROVISIONED",
    "RECOVERY",
    "STAGED",
    "SUSPENDED",
];
/// The spec's `FactorType` enum, with the provider (`FactorProvider`) and id prefix Okta uses
/// for each.
const FACTOR_TYPES: &[(&str, &str, &str)] = &[
    ("call", "OKTA", "clf"),
    ("email", "OKTA", "emf"),
    ("hotp", "CUSTOM", "chf"),
    ("push", "OKTA", "opf"),
    ("question", "OKTA", "ufs"),
    ("sms", "OKTA", "mbl"),
    ("token:hardware", "YUBICO", "ykf"),
    ("token:hotp", "CUSTOM", "chf"),
    ("token:software:totp", "OKTA", "ost"),
    ("token", "RSA", "rsa"),
    ("u2f", "FIDO", "fuf"),
    ("web", "DUO", "dsf"),
    ("webauthn", "FIDO", "fwf"),
];
/// `filter`/`search` attributes of users, and of groups.
const USER_FIELDS: &[&str] = &[
    "id",
    "status",
    "profile.login",
    "profile.email",
    "profile.firstName",
    "profile.lastName",
    "profile.employeeNumber",
    "profile.secondEmail",
];
const GROUP_FIELDS: &[&str] = &["id", "type", "profile.name"];

/// A user to seed; [`OktaUser::new`] fills the usual defaults, tests change the rest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OktaUser {
    pub login: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub employee_number: Option<String>,
    pub second_email: Option<String>,
    /// `lastLogin`, a `date-time` such as `2024-05-01T09:30:00.000Z`; left out when `None`.
    pub last_login: Option<String>,
    /// One of the spec's `UserStatus` values; `ACTIVE` by default.
    pub status: String,
}

impl OktaUser {
    /// ACTIVE, `email` equal to the login, names derived from its local part
    /// (`jane.doe@acme.com` is Jane Doe).
    pub fn new(login: &str) -> OktaUser {
        let local = login.split('@').next().unwrap_or(login);
        let mut parts = local.split(['.', '_', '-', '+']).filter(|p| !p.is_empty());
        let first_name = parts.next().map_or_else(|| "Test".to_string(), capitalise);
        let rest: Vec<String> = parts.map(capitalise).collect();
        let last_name = if rest.is_empty() {
            "User".to_string()
        } else {
            rest.join(" ")
        };
        OktaUser {
            login: login.to_string(),
            email: login.to_string(),
            first_name,
            last_name,
            employee_number: None,
            second_email: None,
            last_login: None,
            status: "ACTIVE".to_string(),
        }
    }
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

struct FactorRec {
    id: String,
    factor_type: &'static str,
    provider: &'static str,
}

struct GrantRec {
    id: String,
    client: String,
    scope_id: String,
}

struct UserRec {
    id: String,
    user: OktaUser,
    created: String,
    activated: Option<String>,
    status_changed: Option<String>,
    last_updated: String,
    password_changed: Option<String>,
    factors: Vec<FactorRec>,
    grants: Vec<GrantRec>,
    /// Clears with `oauthTokens=true`.
    sessions_cleared: u32,
    sessions_cleared_at: Option<String>,
}

struct GroupRec {
    id: String,
    name: String,
    /// `OKTA_GROUP`, `APP_GROUP` or `BUILT_IN` (only Everyone).
    kind: &'static str,
    description: Option<String>,
    /// User ids; empty for Everyone, which holds every user implicitly.
    members: Vec<String>,
    last_updated: String,
    last_membership_updated: String,
    /// The app an APP_GROUP is imported from.
    source_app: Option<String>,
}

impl GroupRec {
    fn has(&self, uid: &str) -> bool {
        self.kind == "BUILT_IN" || self.members.iter().any(|m| m == uid)
    }
}

struct Token {
    expires: Instant,
    scopes: Vec<String>,
}

struct RateWindow {
    limit: u32,
    length: Duration,
    start: Option<Instant>,
    /// UTC epoch seconds at which the current window ends.
    reset: u64,
    used: u32,
}

struct Store {
    next_id: u64,
    users: Vec<UserRec>,
    groups: Vec<GroupRec>,
    /// Trusted client assertion keys: (client id, public key).
    keys: Vec<(String, DecodingKey)>,
    tokens: HashMap<String, Token>,
    used_jti: Vec<String>,
    tokens_issued: usize,
    token_lifetime: u64,
    public_url: Option<String>,
    no_admin_role: bool,
    rate: RateWindow,
    throttle: usize,
    over_limit: usize,
    latency: Duration,
    requests: Vec<String>,
}

impl Store {
    /// A deterministic Okta-looking id: `prefix` (`00u`, `00g`, ...) and 17 alphanumerics.
    fn new_id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        okta_id(prefix, self.next_id)
    }
}

fn okta_id(prefix: &str, n: u64) -> String {
    let mut digits = [b'0'; 9];
    let mut v = n;
    for d in digits.iter_mut().rev() {
        *d = BASE62[(v % 62) as usize];
        v /= 62;
    }
    let digits: String = digits.iter().map(|&b| b as char).collect();
    format!("{prefix}{ID_TAG}{digits}")
}

struct Shared {
    base: String,
    store: Mutex<Store>,
}

impl Shared {
    /// The base URL written into links: the proxy's when one is set.
    fn public(&self, st: &Store) -> String {
        st.public_url.clone().unwrap_or_else(|| self.base.clone())
    }
}

/// The running stand-in; see the module documentation.
pub struct OktaStandIn {
    shared: Arc<Shared>,
    /// Dropped last: shuts the server down.
    _serving: stand_in::Serving,
}

impl OktaStandIn {
    /// The API token (`Authorization: SSWS ...`), acting with a super admin's roles.
    pub const API_TOKEN: &'static str = "00okta-test-token-7c2e1b";
    /// The API service app tests register a key for with [`Self::trust_key`].
    pub const CLIENT_ID: &'static str = "0oa1offboardtest0001";
    /// The Okta API scopes granted to every service app; a token request for any other scope
    /// is refused with `invalid_scope`.
    pub const GRANTED_SCOPES: &'static [&'static str] = &[
        "okta.users.read",
        "okta.users.manage",
        "okta.groups.read",
        "okta.groups.manage",
    ];

    /// Bind 127.0.0.1 on a free port and serve until dropped. The listener is bound before
    /// this returns, so the first request cannot race the start.
    pub fn start() -> OktaStandIn {
        let (listener, port) = stand_in::bind("okta stand-in");
        let mut store = Store {
            next_id: 0,
            users: Vec::new(),
            groups: Vec::new(),
            keys: Vec::new(),
            tokens: HashMap::new(),
            used_jti: Vec::new(),
            tokens_issued: 0,
            token_lifetime: 3600,
            public_url: None,
            no_admin_role: false,
            rate: RateWindow {
                limit: 10_000,
                length: Duration::from_secs(60),
                start: None,
                reset: 0,
                used: 0,
            },
            throttle: 0,
            over_limit: 0,
            latency: Duration::ZERO,
            requests: Vec::new(),
        };
        let everyone = store.new_id("00g");
        store.groups.push(GroupRec {
            id: everyone,
            name: "Everyone".into(),
            kind: "BUILT_IN",
            description: Some("All users in your organization".into()),
            members: Vec::new(),
            last_updated: CREATED.into(),
            last_membership_updated: CREATED.into(),
            source_app: None,
        });
        let shared = Arc::new(Shared {
            base: format!("http://127.0.0.1:{port}"),
            store: Mutex::new(store),
        });
        let router = Router::new()
            .fallback(serve_http)
            .with_state(Arc::clone(&shared));
        let serving = stand_in::serve("okta stand-in", listener, router);
        OktaStandIn {
            shared,
            _serving: serving,
        }
    }

    /// `http://127.0.0.1:PORT`: the org URL, for both the API and the token endpoint.
    pub fn url(&self) -> String {
        self.shared.base.clone()
    }

    /// The org authorization server's token endpoint, which is also the assertion's `aud`.
    pub fn token_url(&self) -> String {
        format!("{}/oauth2/v1/token", self.shared.base)
    }

    /// Write `url` (a validating proxy in front of the stand-in) into `Link` headers and
    /// `_links` instead of the stand-in's own URL; assertions may then name either token URL
    /// as their `aud`.
    pub fn set_public_url(&self, url: &str) {
        self.store().public_url = Some(url.trim_end_matches('/').to_string());
    }

    fn store(&self) -> MutexGuard<'_, Store> {
        self.shared.store.lock().unwrap()
    }

    // ---- credentials and faults

    /// Trust `public_key_pem` (SPKI "PUBLIC KEY" or PKCS#1 "RSA PUBLIC KEY") for the client
    /// assertions of the service app `client_id`. Panics on PEM that is not an RSA public
    /// key: that is a bug in the test.
    pub fn trust_key(&self, client_id: &str, public_key_pem: &str) {
        let key = DecodingKey::from_rsa_pem(public_key_pem.as_bytes())
            .unwrap_or_else(|e| panic!("okta stand-in: not an RSA public key in PEM: {e}"));
        self.store().keys.push((client_id.to_string(), key));
    }

    /// `expires_in` of the access tokens issued from now on (3600 s by default).
    pub fn set_token_lifetime(&self, secs: u64) {
        self.store().token_lifetime = secs;
    }

    /// Invalidate every OAuth access token issued so far, as if they all expired now.
    pub fn expire_tokens(&self) {
        self.store().tokens.clear();
    }

    pub fn tokens_issued(&self) -> usize {
        self.store().tokens_issued
    }

    /// `limit` requests to `/api/v1` per `window` (10,000 per 60 s by default); the window
    /// starts over now.
    pub fn set_rate_limit(&self, limit: u32, window: Duration) {
        let mut st = self.store();
        st.rate = RateWindow {
            limit,
            length: window,
            start: None,
            reset: 0,
            used: 0,
        };
    }

    /// The next `n` requests to `/api/v1` get 429 E0000047 before any effect, with
    /// `X-Rate-Limit-Remaining: 0` and a reset one second ahead.
    pub fn throttle_next(&self, n: usize) {
        self.store().throttle = n;
    }

    /// How many 429s were served, forced or for a spent window.
    pub fn requests_over_limit(&self) -> usize {
        self.store().over_limit
    }

    /// Emulate a service app whose principal has no admin role: user and group listings
    /// answer 200 with an empty array, and every user or group by id answers 404.
    pub fn set_no_admin_role(&self, on: bool) {
        self.store().no_admin_role = on;
    }

    pub fn set_latency(&self, d: Duration) {
        self.store().latency = d;
    }

    /// Every HTTP request as `METHOD /path?query`, exactly as received, in order (through
    /// Prism, the query is as Prism re-encodes it: `+` for spaces).
    pub fn requests(&self) -> Vec<String> {
        self.store().requests.clone()
    }

    pub fn clear_requests(&self) {
        self.store().requests.clear();
    }

    // ---- seeding (unknown ids panic: they are bugs in the test)

    /// Returns the new user's id (`00u` and 17 alphanumerics). A member of Everyone.
    pub fn add_user(&self, u: OktaUser) -> String {
        assert!(
            USER_STATUSES.contains(&u.status.as_str()),
            "okta stand-in: {} is not a UserStatus",
            u.status
        );
        let mut st = self.store();
        assert!(
            !st.users
                .iter()
                .any(|x| x.user.login.eq_ignore_ascii_case(&u.login)),
            "okta stand-in: duplicate login {}",
            u.login
        );
        let id = st.new_id("00u");
        let staged = u.status == "STAGED";
        let has_password = !matches!(u.status.as_str(), "STAGED" | "PROVISIONED");
        st.users.push(UserRec {
            id: id.clone(),
            created: CREATED.into(),
            activated: (!staged).then(|| CREATED.to_string()),
            status_changed: (!staged).then(|| CREATED.to_string()),
            last_updated: CREATED.into(),
            password_changed: has_password.then(|| CREATED.to_string()),
            user: u,
            factors: Vec::new(),
            grants: Vec::new(),
            sessions_cleared: 0,
            sessions_cleared_at: None,
        });
        id
    }

    /// `kind` is `"OKTA_GROUP"` or `"APP_GROUP"`; `members` are user ids or logins. Returns
    /// the group id (`00g...`).
    pub fn add_group(&self, name: &str, kind: &str, members: &[&str]) -> String {
        let kind: &'static str = match kind {
            "OKTA_GROUP" => "OKTA_GROUP",
            "APP_GROUP" => "APP_GROUP",
            other => panic!("okta stand-in: group type {other} (OKTA_GROUP or APP_GROUP)"),
        };
        let mut st = self.store();
        let members: Vec<String> = members
            .iter()
            .map(|m| st.users[seeded_user(&st, m)].id.clone())
            .collect();
        let id = st.new_id("00g");
        let source_app = (kind == "APP_GROUP").then(|| st.new_id("0oa"));
        st.groups.push(GroupRec {
            id: id.clone(),
            name: name.to_string(),
            kind,
            description: None,
            members,
            last_updated: CREATED.into(),
            last_membership_updated: CREATED.into(),
            source_app,
        });
        id
    }

    /// Add a member whatever the group's type (seeding, not the API).
    pub fn add_member(&self, gid: &str, uid: &str) {
        let mut st = self.store();
        let user_id = st.users[seeded_user(&st, uid)].id.clone();
        let g = match st.groups.iter_mut().find(|g| g.id == gid) {
            Some(g) => g,
            None => panic!("okta stand-in: no group {gid}"),
        };
        if !g.has(&user_id) {
            g.members.push(user_id);
        }
    }

    /// An ACTIVE factor of one of the spec's `FactorType` values (`push`, `sms`,
    /// `token:software:totp`, `webauthn`, ...); returns its id.
    pub fn add_factor(&self, uid: &str, factor_type: &str) -> String {
        let Some(&(factor_type, provider, prefix)) =
            FACTOR_TYPES.iter().find(|(t, _, _)| *t == factor_type)
        else {
            panic!("okta stand-in: {factor_type} is not a FactorType");
        };
        let mut st = self.store();
        let i = seeded_user(&st, uid);
        let id = st.new_id(prefix);
        st.users[i].factors.push(FactorRec {
            id: id.clone(),
            factor_type,
            provider,
        });
        id
    }

    /// A grant (consent to an OAuth client's scope) of the user to `client`; returns its id.
    pub fn add_grant(&self, uid: &str, client: &str) -> String {
        let mut st = self.store();
        let i = seeded_user(&st, uid);
        let id = st.new_id("oag");
        let scope_id = st.new_id("scp");
        st.users[i].grants.push(GrantRec {
            id: id.clone(),
            client: client.to_string(),
            scope_id,
        });
        id
    }

    /// Set a status directly (seeding, not the API): one of the spec's `UserStatus` values.
    pub fn set_status(&self, uid: &str, status: &str) {
        assert!(
            USER_STATUSES.contains(&status),
            "okta stand-in: {status} is not a UserStatus"
        );
        let mut st = self.store();
        let i = seeded_user(&st, uid);
        change_status(&mut st.users[i], status);
    }

    // ---- inspection (whatever set_no_admin_role says)

    /// The user as `GET /api/v1/users/{id}` answers it; `None` once deleted for good.
    pub fn user_json(&self, id: &str) -> Option<Value> {
        let st = self.store();
        let i = find_user(&st, id)?;
        Some(user_resource(&self.shared.public(&st), &st.users[i]))
    }

    pub fn status_of(&self, id: &str) -> Option<String> {
        let st = self.store();
        find_user(&st, id).map(|i| st.users[i].user.status.clone())
    }

    /// Names of the user's groups, Everyone first.
    pub fn groups_of(&self, uid: &str) -> Vec<String> {
        let st = self.store();
        let Some(i) = find_user(&st, uid) else {
            return Vec::new();
        };
        let id = &st.users[i].id;
        st.groups
            .iter()
            .filter(|g| g.has(id))
            .map(|g| g.name.clone())
            .collect()
    }

    /// `factorType` of each enrolled factor.
    pub fn factors_of(&self, uid: &str) -> Vec<String> {
        let st = self.store();
        find_user(&st, uid).map_or_else(Vec::new, |i| {
            st.users[i]
                .factors
                .iter()
                .map(|f| f.factor_type.to_string())
                .collect()
        })
    }

    /// The client of each grant.
    pub fn grants_of(&self, uid: &str) -> Vec<String> {
        let st = self.store();
        find_user(&st, uid).map_or_else(Vec::new, |i| {
            st.users[i]
                .grants
                .iter()
                .map(|g| g.client.clone())
                .collect()
        })
    }

    /// How many times the user's sessions were cleared with `oauthTokens=true`.
    pub fn sessions_cleared(&self, uid: &str) -> u32 {
        let st = self.store();
        find_user(&st, uid).map_or(0, |i| st.users[i].sessions_cleared)
    }

    /// When the user's sessions were last cleared (with or without `oauthTokens`), if ever.
    pub fn sessions_cleared_at(&self, uid: &str) -> Option<String> {
        let st = self.store();
        find_user(&st, uid).and_then(|i| st.users[i].sessions_cleared_at.clone())
    }
}

fn seeded_user(st: &Store, key: &str) -> usize {
    match find_user(st, key) {
        Some(i) => i,
        None => panic!("okta stand-in: no user {key}"),
    }
}

/// By id, or by login (case-insensitive), as "Retrieve a user" accepts either.
fn find_user(st: &Store, key: &str) -> Option<usize> {
    st.users
        .iter()
        .position(|u| u.id == key || u.user.login.eq_ignore_ascii_case(key))
}

/// A user the caller may see: none without an admin role.
fn visible_user(st: &Store, key: &str) -> Option<usize> {
    if st.no_admin_role {
        return None;
    }
    find_user(st, key)
}

fn visible_group(st: &Store, gid: &str) -> Option<usize> {
    if st.no_admin_role {
        return None;
    }
    st.groups.iter().position(|g| g.id == gid)
}

fn change_status(u: &mut UserRec, status: &str) {
    let now = now_okta();
    u.user.status = status.to_string();
    u.status_changed = Some(now.clone());
    u.last_updated = now;
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
    reply.into_response("application/json", "okta stand-in")
}

fn dispatch(
    shared: &Shared,
    method: &str,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Reply {
    if path == "/oauth2/v1/token" {
        return if method == "POST" {
            token(shared, body)
        } else {
            oauth_error(
                405,
                "invalid_request",
                "The token endpoint only accepts POST requests (stand-in wording).",
            )
        };
    }
    let Some(rest) = path.strip_prefix("/api/v1/") else {
        return okta_error(
            404,
            "E0000007",
            &format!("Not found: Resource not found: {path} (Route)"),
        );
    };
    let rate = match rate_gate(shared) {
        Ok(h) => h,
        Err(r) => return r,
    };
    let mut reply = api(shared, method, rest, query, headers);
    reply.headers.extend(rate);
    reply
}

/// Count the request against the rate-limit window: the `X-Rate-Limit-*` headers of the
/// answer, or the 429 that replaces it.
fn rate_gate(shared: &Shared) -> Result<Vec<(&'static str, String)>, Reply> {
    let mut guard = shared.store.lock().unwrap();
    let st = &mut *guard;
    if st.throttle > 0 {
        st.throttle -= 1;
        st.over_limit += 1;
        return Err(too_many(rate_headers(
            st.rate.limit,
            0,
            epoch_ceil(Duration::from_secs(1)),
        )));
    }
    let now = Instant::now();
    let w = &mut st.rate;
    if w.start.is_none_or(|s| now.duration_since(s) >= w.length) {
        w.start = Some(now);
        w.used = 0;
        w.reset = epoch_ceil(w.length);
    }
    if w.used >= w.limit {
        let headers = rate_headers(w.limit, 0, w.reset);
        st.over_limit += 1;
        return Err(too_many(headers));
    }
    w.used += 1;
    Ok(rate_headers(w.limit, w.limit - w.used, w.reset))
}

fn rate_headers(limit: u32, remaining: u32, reset: u64) -> Vec<(&'static str, String)> {
    vec![
        ("X-Rate-Limit-Limit", limit.to_string()),
        ("X-Rate-Limit-Remaining", remaining.to_string()),
        ("X-Rate-Limit-Reset", reset.to_string()),
    ]
}

fn too_many(headers: Vec<(&'static str, String)>) -> Reply {
    let mut r = okta_error(
        429,
        "E0000047",
        "API call exceeded rate limit due to too many requests.",
    );
    r.headers = headers;
    r
}

/// UTC epoch seconds `ahead` from now, rounded up.
fn epoch_ceil(ahead: Duration) -> u64 {
    let d = (SystemTime::now() + ahead)
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

enum Principal {
    /// An API token: its creator's roles, every scope.
    ApiToken,
    /// An OAuth access token: the scopes it was issued with.
    App(Vec<String>),
}

impl Principal {
    /// A `.manage` scope includes its `.read`.
    fn allows(&self, scope: &str) -> bool {
        match self {
            Principal::ApiToken => true,
            Principal::App(granted) => granted.iter().any(|g| {
                g == scope
                    || scope
                        .strip_suffix(".read")
                        .is_some_and(|stem| *g == format!("{stem}.manage"))
            }),
        }
    }
}

fn authorise(shared: &Shared, headers: &HeaderMap) -> Option<Principal> {
    let value = headers.get("authorization")?.to_str().ok()?;
    let (scheme, credential) = value.trim().split_once(' ')?;
    let credential = credential.trim();
    if scheme.eq_ignore_ascii_case("SSWS") {
        return (credential == OktaStandIn::API_TOKEN).then_some(Principal::ApiToken);
    }
    if !scheme.eq_ignore_ascii_case("Bearer") {
        return None;
    }
    let st = shared.store.lock().unwrap();
    let t = st.tokens.get(credential)?;
    (t.expires > Instant::now()).then(|| Principal::App(t.scopes.clone()))
}

/// The scope "OAuth 2.0 Scopes" names for each call.
fn required_scope(method: &str, segs: &[&str]) -> &'static str {
    match (method, segs.first().copied()) {
        ("GET", Some("groups")) => "okta.groups.read",
        (_, Some("groups")) => "okta.groups.manage",
        ("GET", _) => "okta.users.read",
        _ => "okta.users.manage",
    }
}

// ---- the token endpoint

fn token(shared: &Shared, body: &[u8]) -> Reply {
    let form = parse_pairs(&String::from_utf8_lossy(body));
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    match get("grant_type") {
        Some("client_credentials") => {}
        Some(other) => {
            return oauth_error(
                400,
                "unsupported_grant_type",
                &format!(
                    "The authorization grant type '{other}' is not supported by the authorization server. Configured grant types: [client_credentials]."
                ),
            );
        }
        None => {
            return oauth_error(
                400,
                "invalid_request",
                "The token request must specify a 'grant_type'. Valid values: [client_credentials]",
            );
        }
    }
    if get("client_secret").is_some() {
        return oauth_error(
            401,
            "invalid_client",
            "Client authentication failed: this service app authenticates with private_key_jwt, not a client secret (stand-in wording).",
        );
    }
    let Some(assertion) = get("client_assertion") else {
        return oauth_error(
            401,
            "invalid_client",
            "Client authentication failed. Either the client or the client credentials are invalid.",
        );
    };
    if get("client_assertion_type") != Some(JWT_BEARER) {
        return oauth_error(
            400,
            "invalid_request",
            &format!("The client_assertion_type must be '{JWT_BEARER}' (stand-in wording)."),
        );
    }
    let client_id = match verify_assertion(shared, assertion) {
        Ok(c) => c,
        Err(r) => return r,
    };
    if get("client_id").is_some_and(|c| c != client_id) {
        return oauth_error(
            401,
            "invalid_client",
            "The client_id does not match the client_assertion's issuer (stand-in wording).",
        );
    }
    let scopes: Vec<String> = get("scope")
        .unwrap_or("")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    if scopes.is_empty() {
        return oauth_error(
            400,
            "invalid_scope",
            "The authorization server resource does not have any configured default scopes, 'scope' must be provided.",
        );
    }
    if scopes
        .iter()
        .any(|s| !OktaStandIn::GRANTED_SCOPES.contains(&s.as_str()))
    {
        return oauth_error(
            400,
            "invalid_scope",
            "The requested scope is invalid, unknown, or malformed.",
        );
    }
    let mut st = shared.store.lock().unwrap();
    st.tokens_issued += 1;
    let n = st.tokens_issued;
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let access_token = format!(
        "okta-at.{n:06}.{:016x}",
        RandomState::new().hash_one((n, nanos))
    );
    let life = st.token_lifetime;
    st.tokens.insert(
        access_token.clone(),
        Token {
            expires: Instant::now() + Duration::from_secs(life),
            scopes: scopes.clone(),
        },
    );
    let mut r = Reply::json(
        200,
        json!({
            "token_type": "Bearer",
            "expires_in": life,
            "access_token": access_token,
            "scope": scopes.join(" "),
        }),
    );
    r.headers.push(("Cache-Control", "no-store".into()));
    r.headers.push(("Pragma", "no-cache".into()));
    r
}

/// Verify a client assertion as "Build a JWT for client authentication" describes; the
/// signature with the keys trusted for its issuer, the claims here so each failure gets its
/// own message. Returns the client id.
fn verify_assertion(shared: &Shared, assertion: &str) -> Result<String, Reply> {
    let invalid = |msg: &str| oauth_error(401, "invalid_client", msg);
    let header = jsonwebtoken::decode_header(assertion).map_err(|_| {
        invalid("The client_assertion is not a well-formed JWT (stand-in wording).")
    })?;
    let alg = header.alg;
    if !matches!(alg, Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512) {
        return Err(invalid(
            "The client_assertion signature algorithm is not supported: RS256, RS384 or RS512 (stand-in wording).",
        ));
    }
    let unverified: Value =
        jsonwebtoken::dangerous::insecure_decode_claims(assertion).map_err(|_| {
            invalid("The client_assertion is not a well-formed JWT (stand-in wording).")
        })?;
    let Some(issuer) = unverified.get("iss").and_then(Value::as_str) else {
        return Err(invalid(
            "The client_assertion token must have an 'iss' claim (stand-in wording).",
        ));
    };
    let (keys, public) = {
        let st = shared.store.lock().unwrap();
        let keys: Vec<DecodingKey> = st
            .keys
            .iter()
            .filter(|(c, _)| c == issuer)
            .map(|(_, k)| k.clone())
            .collect();
        (keys, shared.public(&st))
    };
    if keys.is_empty() {
        return Err(invalid("Invalid value for 'client_id' parameter."));
    }
    let mut validation = Validation::new(alg);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let Some(claims) = keys.iter().find_map(|k| {
        jsonwebtoken::decode::<Value>(assertion, k, &validation)
            .ok()
            .map(|d| d.claims)
    }) else {
        return Err(invalid("The client_assertion signature is invalid."));
    };
    let accepted = [
        format!("{}/oauth2/v1/token", shared.base),
        format!("{public}/oauth2/v1/token"),
    ];
    let audience_ok = match claims.get("aud") {
        Some(Value::String(a)) => accepted.contains(a),
        Some(Value::Array(list)) => list
            .iter()
            .any(|a| a.as_str().is_some_and(|a| accepted.iter().any(|x| x == a))),
        _ => false,
    };
    if !audience_ok {
        return Err(invalid(
            "The audience claim for client_assertion must be the endpoint invoked for the request.",
        ));
    }
    let claim = |name: &str| claims.get(name).and_then(Value::as_str);
    let Some(client_id) = claim("iss") else {
        return Err(invalid(
            "The client_assertion token must have an 'iss' claim (stand-in wording).",
        ));
    };
    if claim("sub") != Some(client_id) {
        return Err(invalid(
            "The client_assertion token's 'sub' claim must be the client_id, like its 'iss' (stand-in wording).",
        ));
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let Some(exp) = claims.get("exp").and_then(Value::as_u64) else {
        return Err(invalid(
            "The client_assertion token must have an 'exp' claim (stand-in wording).",
        ));
    };
    if exp <= now {
        return Err(invalid("The client_assertion token is expired."));
    }
    if exp > now + 3600 {
        return Err(invalid(
            "The client_assertion token has an expiration too far into the future.",
        ));
    }
    if let Some(jti) = claim("jti") {
        let mut st = shared.store.lock().unwrap();
        if st.used_jti.iter().any(|j| j == jti) {
            return Err(invalid(
                "The client_assertion token has already been used (its jti was seen before).",
            ));
        }
        st.used_jti.push(jti.to_string());
    }
    Ok(client_id.to_string())
}

// ---- the Management API

fn api(shared: &Shared, method: &str, rest: &str, query: &str, headers: &HeaderMap) -> Reply {
    let Some(principal) = authorise(shared, headers) else {
        return okta_error(401, "E0000011", "Invalid token provided");
    };
    let owned: Vec<String> = rest
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| pct_decode(s, false))
        .collect();
    let segs: Vec<&str> = owned.iter().map(String::as_str).collect();
    let scope = required_scope(method, &segs);
    if !principal.allows(scope) {
        let mut r = okta_error(
            403,
            "E0000006",
            "You do not have permission to perform the requested action",
        );
        r.headers.push((
            "WWW-Authenticate",
            format!(
                "Bearer authorization_uri=\"{}/oauth2/v1/authorize\", realm=\"IdpRealm\", scope=\"{scope}\", error=\"insufficient_scope\", error_description=\"The access token provided does not contain the required scopes.\", resource=\"/api/v1/{rest}\"",
                shared.base
            ),
        ));
        return r;
    }
    let q = Query::parse(query);
    let mut guard = shared.store.lock().unwrap();
    let st = &mut *guard;
    let base = shared.public(st);
    match (method, segs.as_slice()) {
        ("GET", ["users"]) => list_users(st, &base, &q),
        ("GET", ["users", id]) => match visible_user(st, id) {
            Some(i) => Reply::json(200, user_resource(&base, &st.users[i])),
            None => user_not_found(id),
        },
        ("DELETE", ["users", id]) => match visible_user(st, id) {
            Some(i) if st.users[i].user.status == "DEPROVISIONED" => {
                let uid = st.users.remove(i).id;
                for g in &mut st.groups {
                    g.members.retain(|m| *m != uid);
                }
                Reply::empty(202)
            }
            Some(i) => {
                change_status(&mut st.users[i], "DEPROVISIONED");
                Reply::empty(202)
            }
            None => user_not_found(id),
        },
        ("GET", ["users", id, "groups"]) => match visible_user(st, id) {
            Some(i) => {
                let uid = &st.users[i].id;
                let groups: Vec<Value> = st
                    .groups
                    .iter()
                    .filter(|g| g.has(uid))
                    .map(|g| group_resource(&base, g))
                    .collect();
                Reply::json(200, Value::Array(groups))
            }
            None => user_not_found(id),
        },
        ("GET", ["users", id, "factors"]) => match visible_user(st, id) {
            Some(i) => {
                let u = &st.users[i];
                let factors: Vec<Value> = u
                    .factors
                    .iter()
                    .map(|f| factor_resource(&base, u, f))
                    .collect();
                Reply::json(200, Value::Array(factors))
            }
            None => user_not_found(id),
        },
        ("GET", ["users", id, "grants"]) => match visible_user(st, id) {
            Some(i) => {
                let u = &st.users[i];
                let grants: Vec<Value> = u
                    .grants
                    .iter()
                    .map(|g| grant_resource(&base, u, g))
                    .collect();
                Reply::json(200, Value::Array(grants))
            }
            None => user_not_found(id),
        },
        ("DELETE", ["users", id, "grants"]) => match visible_user(st, id) {
            Some(i) => {
                st.users[i].grants.clear();
                Reply::empty(204)
            }
            None => user_not_found(id),
        },
        ("DELETE", ["users", id, "sessions"]) => match visible_user(st, id) {
            Some(i) => {
                let u = &mut st.users[i];
                u.sessions_cleared_at = Some(now_okta());
                if q.get("oauthTokens").is_some_and(|v| v == "true") {
                    u.sessions_cleared += 1;
                }
                Reply::empty(204)
            }
            None => user_not_found(id),
        },
        ("POST", ["users", id, "lifecycle", op]) => lifecycle(st, &base, id, op, &q),
        ("GET", ["groups"]) => list_groups(st, &base, &q),
        ("GET", ["groups", gid, "users"]) => match visible_group(st, gid) {
            Some(g) => list_group_users(st, &base, g, &q),
            None => group_not_found(gid),
        },
        ("GET", ["groups", gid]) => match visible_group(st, gid) {
            Some(g) => Reply::json(200, group_resource(&base, &st.groups[g])),
            None => group_not_found(gid),
        },
        ("PUT", ["groups", gid, "users", uid]) => membership(st, gid, uid, true),
        ("DELETE", ["groups", gid, "users", uid]) => membership(st, gid, uid, false),
        _ => okta_error(
            404,
            "E0000007",
            &format!("Not found: Resource not found: /api/v1/{rest} (Route)"),
        ),
    }
}

/// The spec declares 200 without a schema for each of these but activate; they answer `{}`.
fn lifecycle(st: &mut Store, base: &str, key: &str, op: &str, q: &Query) -> Reply {
    let Some(i) = visible_user(st, key) else {
        return user_not_found(key);
    };
    let status = st.users[i].user.status.clone();
    match op {
        "suspend" => {
            if status != "ACTIVE" {
                return okta_error(400, "E0000001", "Cannot suspend a user that is not active");
            }
            change_status(&mut st.users[i], "SUSPENDED");
        }
        "unsuspend" => {
            if status != "SUSPENDED" {
                return okta_error(
                    400,
                    "E0000001",
                    "Cannot unsuspend a user that is not suspended",
                );
            }
            change_status(&mut st.users[i], "ACTIVE");
        }
        "deactivate" => {
            // The documentation names no error for this; the wording is the stand-in's.
            if status == "DEPROVISIONED" {
                return okta_error(
                    400,
                    "E0000001",
                    "Cannot deactivate a user that is already deprovisioned",
                );
            }
            change_status(&mut st.users[i], "DEPROVISIONED");
        }
        "activate" => {
            if !matches!(status.as_str(), "STAGED" | "DEPROVISIONED") {
                return okta_error(
                    403,
                    "E0000016",
                    "Activation failed because the user is already active",
                );
            }
            let token = st.new_id("act");
            let u = &mut st.users[i];
            change_status(u, "ACTIVE");
            u.activated = u.status_changed.clone();
            // sendEmail defaults to true: the email carries the token, the answer is empty.
            return if q.get("sendEmail") == Some("false") {
                Reply::json(
                    200,
                    json!({"activationToken": token, "activationUrl": format!("{base}/welcome/{token}")}),
                )
            } else {
                Reply::json(200, json!({}))
            };
        }
        "reset_factors" => {
            let u = &mut st.users[i];
            u.factors.clear();
            u.last_updated = now_okta();
        }
        _ => {
            return okta_error(
                404,
                "E0000007",
                &format!("Not found: Resource not found: {op} (Route)"),
            );
        }
    }
    Reply::json(200, json!({}))
}

/// Only OKTA_GROUP memberships change through the API; both calls are idempotent and answer
/// 204, as the spec declares.
fn membership(st: &mut Store, gid: &str, uid: &str, add: bool) -> Reply {
    let Some(g) = visible_group(st, gid) else {
        return group_not_found(gid);
    };
    let Some(u) = visible_user(st, uid) else {
        return user_not_found(uid);
    };
    if st.groups[g].kind != "OKTA_GROUP" {
        return okta_error(
            403,
            "E0000006",
            "You do not have permission to perform the requested action",
        );
    }
    let user_id = st.users[u].id.clone();
    let group = &mut st.groups[g];
    let present = group.members.contains(&user_id);
    if add != present {
        if add {
            group.members.push(user_id);
        } else {
            group.members.retain(|m| *m != user_id);
        }
        let now = now_okta();
        group.last_membership_updated = now.clone();
        group.last_updated = now;
    }
    Reply::empty(204)
}

fn list_users(st: &Store, base: &str, q: &Query) -> Reply {
    let limit = match page_limit(q, 200) {
        Ok(l) => l,
        Err(r) => return r,
    };
    let after = match cursor(q) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let mut keep: Vec<(&str, String)> = Vec::new();
    // `search` and `filter` are alternatives; `q` only applies without either.
    let matcher: Box<dyn Fn(&UserRec) -> bool> = if let Some(raw) = q.get("search") {
        let Some(expr) = parse_expr(raw, USER_FIELDS) else {
            return invalid_search();
        };
        keep.push(("search", raw.to_string()));
        Box::new(move |u: &UserRec| eval(&expr, |f| user_field(u, f)).is_some())
    } else if let Some(raw) = q.get("filter") {
        let Some(expr) = parse_expr(raw, USER_FIELDS) else {
            return invalid_search();
        };
        keep.push(("filter", raw.to_string()));
        // A deprovisioned user passes a filter only through a clause on its status.
        Box::new(move |u: &UserRec| {
            eval(&expr, |f| user_field(u, f))
                .is_some_and(|with_status| with_status || u.user.status != "DEPROVISIONED")
        })
    } else if let Some(raw) = q.get("q") {
        let prefix = raw.to_lowercase();
        keep.push(("q", raw.to_string()));
        Box::new(move |u: &UserRec| {
            u.user.status != "DEPROVISIONED"
                && [&u.user.first_name, &u.user.last_name, &u.user.email]
                    .iter()
                    .any(|v| v.to_lowercase().starts_with(&prefix))
        })
    } else {
        Box::new(|u: &UserRec| u.user.status != "DEPROVISIONED")
    };
    let items: Vec<(String, Value)> = if st.no_admin_role {
        Vec::new()
    } else {
        // Only the page (and one more, to know whether another follows) is rendered.
        st.users
            .iter()
            .filter(|u| after.as_deref().is_none_or(|a| u.id.as_str() > a))
            .filter(|&u| matcher(u))
            .take(limit + 1)
            .map(|u| (u.id.clone(), user_resource(base, u)))
            .collect()
    };
    paged(base, "/api/v1/users", items, after.as_deref(), limit, &keep)
}

fn list_groups(st: &Store, base: &str, q: &Query) -> Reply {
    let limit = match page_limit(q, 10_000) {
        Ok(l) => l,
        Err(r) => return r,
    };
    let after = match cursor(q) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let mut keep: Vec<(&str, String)> = Vec::new();
    let expr = match q.get("search").or_else(|| q.get("filter")) {
        Some(raw) => {
            let Some(expr) = parse_expr(raw, GROUP_FIELDS) else {
                return invalid_search();
            };
            let name = if q.get("search").is_some() {
                "search"
            } else {
                "filter"
            };
            keep.push((name, raw.to_string()));
            Some(expr)
        }
        None => None,
    };
    let prefix = q.get("q").map(str::to_lowercase);
    if let Some(raw) = q.get("q") {
        keep.push(("q", raw.to_string()));
    }
    let items: Vec<(String, Value)> = if st.no_admin_role {
        Vec::new()
    } else {
        st.groups
            .iter()
            .filter(|g| {
                prefix
                    .as_ref()
                    .is_none_or(|p| g.name.to_lowercase().starts_with(p.as_str()))
            })
            .filter(|g| {
                expr.as_ref()
                    .is_none_or(|e| eval(e, |f| group_field(g, f)).is_some())
            })
            .map(|g| (g.id.clone(), group_resource(base, g)))
            .collect()
    };
    paged(
        base,
        "/api/v1/groups",
        items,
        after.as_deref(),
        limit,
        &keep,
    )
}

/// "List all member users" (`GET /api/v1/groups/{groupId}/users`): the group's members, paged
/// like the user listing (Everyone holds every user that is not deactivated).
fn list_group_users(st: &Store, base: &str, g: usize, q: &Query) -> Reply {
    let limit = match page_limit(q, 1000) {
        Ok(l) => l,
        Err(r) => return r,
    };
    let after = match cursor(q) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let group = &st.groups[g];
    let items: Vec<(String, Value)> = st
        .users
        .iter()
        .filter(|u| after.as_deref().is_none_or(|a| u.id.as_str() > a))
        .filter(|u| {
            group.has(&u.id) && (group.kind != "BUILT_IN" || u.user.status != "DEPROVISIONED")
        })
        .take(limit + 1)
        .map(|u| (u.id.clone(), user_resource(base, u)))
        .collect();
    let path = format!("/api/v1/groups/{}/users", group.id);
    paged(base, &path, items, after.as_deref(), limit, &[])
}

/// One page of `items` (sorted by id, which is creation order) after the cursor's id, with
/// `Link` headers: `self`, and `next` (an opaque `after`) when more remain.
fn paged(
    base: &str,
    path: &str,
    items: Vec<(String, Value)>,
    after: Option<&str>,
    limit: usize,
    keep: &[(&str, String)],
) -> Reply {
    let rest: Vec<(String, Value)> = items
        .into_iter()
        .filter(|(id, _)| after.is_none_or(|a| id.as_str() > a))
        .collect();
    let more = rest.len() > limit;
    let page: Vec<(String, Value)> = rest.into_iter().take(limit).collect();
    let link = |after: Option<String>, rel: &str| {
        let mut params: Vec<String> = Vec::new();
        if let Some(a) = after {
            params.push(format!("after={}", pct_encode(&a)));
        }
        params.push(format!("limit={limit}"));
        for (k, v) in keep {
            params.push(format!("{k}={}", pct_encode(v)));
        }
        format!("<{base}{path}?{}>; rel=\"{rel}\"", params.join("&"))
    };
    let mut headers = vec![(
        "Link",
        link(after.map(|a| URL_SAFE_NO_PAD.encode(a)), "self"),
    )];
    if let Some((last, _)) = page.last().filter(|_| more) {
        headers.push(("Link", link(Some(URL_SAFE_NO_PAD.encode(last)), "next")));
    }
    let body: Vec<Value> = page.into_iter().map(|(_, v)| v).collect();
    let mut r = Reply::json(200, Value::Array(body));
    r.headers = headers;
    r
}

/// `limit`: `max` when absent, and larger values are treated as `max` (Okta's default and
/// maximum are the same for users, 200, and for groups, 10,000).
fn page_limit(q: &Query, max: usize) -> Result<usize, Reply> {
    match q.get("limit") {
        None => Ok(max),
        Some(raw) => match raw.trim().parse::<i64>() {
            Ok(n) if n >= 1 => Ok(usize::try_from(n).unwrap_or(max).min(max)),
            _ => Err(okta_error(
                400,
                "E0000001",
                &format!("Api validation failed: limit ('{raw}' is not a positive number)"),
            )),
        },
    }
}

/// The id an `after` cursor stands for.
fn cursor(q: &Query) -> Result<Option<String>, Reply> {
    let Some(raw) = q.get("after") else {
        return Ok(None);
    };
    URL_SAFE_NO_PAD
        .decode(raw)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .map(Some)
        .ok_or_else(|| {
            okta_error(
                400,
                "E0000001",
                "Api validation failed: after (not a cursor this server issued)",
            )
        })
}

fn invalid_search() -> Reply {
    okta_error(400, "E0000031", "Invalid search criteria.")
}

// ---- filter and search expressions

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Sw,
}

struct Clause {
    field: &'static str,
    op: Op,
    value: String,
}

/// `attr eq "v"` and `attr sw "v"` clauses joined by `and` (binding tighter) and `or`, no
/// parentheses: a disjunction of conjunctions. `None` for anything else.
fn parse_expr(src: &str, fields: &[&'static str]) -> Option<Vec<Vec<Clause>>> {
    let mut groups: Vec<Vec<Clause>> = vec![Vec::new()];
    let mut rest = src.trim();
    loop {
        let (clause, after) = parse_clause(rest, fields)?;
        groups.last_mut()?.push(clause);
        let after = after.trim_start();
        if after.is_empty() {
            return Some(groups);
        }
        let end = after.find(char::is_whitespace)?;
        let (word, tail) = after.split_at(end);
        if word.eq_ignore_ascii_case("or") {
            groups.push(Vec::new());
        } else if !word.eq_ignore_ascii_case("and") {
            return None;
        }
        rest = tail.trim_start();
    }
}

fn parse_clause<'a>(s: &'a str, fields: &[&'static str]) -> Option<(Clause, &'a str)> {
    let end = s.find(char::is_whitespace)?;
    let (name, r) = s.split_at(end);
    let field = fields
        .iter()
        .copied()
        .find(|f| f.eq_ignore_ascii_case(name))?;
    let r = r.trim_start();
    let end = r.find(char::is_whitespace)?;
    let (op, r) = r.split_at(end);
    let op = if op.eq_ignore_ascii_case("eq") {
        Op::Eq
    } else if op.eq_ignore_ascii_case("sw") {
        Op::Sw
    } else {
        return None;
    };
    let (value, r) = quoted(r.trim_start())?;
    Some((Clause { field, op, value }, r))
}

/// A double-quoted string, `\"` and `\\` escaped.
fn quoted(r: &str) -> Option<(String, &str)> {
    let body = r.strip_prefix('"')?;
    let mut out = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?.1),
            '"' => return Some((out, &body[i + 1..])),
            _ => out.push(c),
        }
    }
    None
}

/// `None` when no conjunction matches; `Some(true)` when one that matches has a `status`
/// clause (which is how a filter asks for deprovisioned users).
fn eval<'a>(expr: &[Vec<Clause>], field: impl Fn(&str) -> Option<&'a str>) -> Option<bool> {
    let mut result = None;
    for group in expr {
        let all = group.iter().all(|c| {
            field(c.field).is_some_and(|actual| match (c.field, c.op) {
                ("id", Op::Eq) => actual == c.value,
                (_, Op::Eq) => actual.to_lowercase() == c.value.to_lowercase(),
                (_, Op::Sw) => actual.to_lowercase().starts_with(&c.value.to_lowercase()),
            })
        });
        if all {
            let with_status = group.iter().any(|c| c.field == "status");
            result = Some(result.unwrap_or(false) || with_status);
        }
    }
    result
}

fn user_field<'a>(u: &'a UserRec, field: &str) -> Option<&'a str> {
    let p = &u.user;
    match field {
        "id" => Some(u.id.as_str()),
        "status" => Some(p.status.as_str()),
        "profile.login" => Some(p.login.as_str()),
        "profile.email" => Some(p.email.as_str()),
        "profile.firstName" => Some(p.first_name.as_str()),
        "profile.lastName" => Some(p.last_name.as_str()),
        "profile.employeeNumber" => p.employee_number.as_deref(),
        "profile.secondEmail" => p.second_email.as_deref(),
        _ => None,
    }
}

fn group_field<'a>(g: &'a GroupRec, field: &str) -> Option<&'a str> {
    match field {
        "id" => Some(g.id.as_str()),
        "type" => Some(g.kind),
        "profile.name" => Some(g.name.as_str()),
        _ => None,
    }
}

// ---- resources (the spec's User, Group, UserFactor, OAuth2ScopeConsentGrant)

fn user_resource(base: &str, u: &UserRec) -> Value {
    let p = &u.user;
    let mut m = Map::new();
    m.insert("id".into(), json!(u.id));
    m.insert("status".into(), json!(p.status));
    m.insert("created".into(), json!(u.created));
    // `date-time` properties Okta sends as null are left out: the spec types them `string`.
    if let Some(v) = &u.activated {
        m.insert("activated".into(), json!(v));
    }
    if let Some(v) = &u.status_changed {
        m.insert("statusChanged".into(), json!(v));
    }
    if let Some(v) = &p.last_login {
        m.insert("lastLogin".into(), json!(v));
    }
    m.insert("lastUpdated".into(), json!(u.last_updated));
    if let Some(v) = &u.password_changed {
        m.insert("passwordChanged".into(), json!(v));
    }
    m.insert("type".into(), json!({"id": USER_TYPE_ID}));
    let mut profile = Map::new();
    profile.insert("firstName".into(), json!(p.first_name));
    profile.insert("lastName".into(), json!(p.last_name));
    profile.insert("login".into(), json!(p.login));
    profile.insert("email".into(), json!(p.email));
    if let Some(v) = &p.second_email {
        profile.insert("secondEmail".into(), json!(v));
    }
    if let Some(v) = &p.employee_number {
        profile.insert("employeeNumber".into(), json!(v));
    }
    m.insert("profile".into(), Value::Object(profile));
    let mut credentials = Map::new();
    if u.password_changed.is_some() {
        credentials.insert("password".into(), json!({}));
    }
    credentials.insert("provider".into(), json!({"type": "OKTA", "name": "OKTA"}));
    m.insert("credentials".into(), Value::Object(credentials));
    let href = format!("{base}/api/v1/users/{}", u.id);
    let mut links = Map::new();
    links.insert("self".into(), json!({"href": href}));
    let ops: &[&str] = match p.status.as_str() {
        "ACTIVE" => &["suspend", "deactivate"],
        "SUSPENDED" => &["unsuspend", "deactivate"],
        "DEPROVISIONED" => &["activate"],
        "STAGED" => &["activate", "deactivate"],
        _ => &["deactivate"],
    };
    for op in ops {
        links.insert(
            (*op).into(),
            json!({"href": format!("{href}/lifecycle/{op}"), "method": "POST"}),
        );
    }
    links.insert(
        "type".into(),
        json!({"href": format!("{base}/api/v1/meta/types/user/{USER_TYPE_ID}")}),
    );
    m.insert("_links".into(), Value::Object(links));
    Value::Object(m)
}

fn group_resource(base: &str, g: &GroupRec) -> Value {
    let mut profile = Map::new();
    profile.insert("name".into(), json!(g.name));
    if let Some(d) = &g.description {
        profile.insert("description".into(), json!(d));
    }
    let object_class = if g.kind == "APP_GROUP" {
        "okta:windows_security_principal"
    } else {
        "okta:user_group"
    };
    let href = format!("{base}/api/v1/groups/{}", g.id);
    // Every `_links` value must be an object (the spec), so no `logo` array.
    let mut links = Map::new();
    links.insert("users".into(), json!({"href": format!("{href}/users")}));
    links.insert("apps".into(), json!({"href": format!("{href}/apps")}));
    if let Some(app) = &g.source_app {
        links.insert(
            "source".into(),
            json!({"id": app, "href": format!("{base}/api/v1/apps/{app}")}),
        );
    }
    json!({
        "id": g.id,
        "created": CREATED,
        "lastUpdated": g.last_updated,
        "lastMembershipUpdated": g.last_membership_updated,
        "objectClass": [object_class],
        "type": g.kind,
        "profile": Value::Object(profile),
        "_links": Value::Object(links),
    })
}

fn factor_resource(base: &str, u: &UserRec, f: &FactorRec) -> Value {
    let profile = match f.factor_type {
        "push" => json!({
            "credentialId": u.user.login,
            "deviceType": "SmartPhone_IPhone",
            "name": "iPhone",
            "platform": "IOS",
            "version": "17.5",
        }),
        "sms" | "call" => json!({"phoneNumber": "+1 XXX-XXX-0100"}),
        "email" => json!({"email": u.user.email}),
        "question" => json!({
            "question": "favorite_art_piece",
            "questionText": "What is your favorite piece of art?",
        }),
        "webauthn" => json!({"credentialId": f.id, "authenticatorName": "Security Key"}),
        _ => json!({"credentialId": u.user.login}),
    };
    let href = format!("{base}/api/v1/users/{}/factors/{}", u.id, f.id);
    json!({
        "id": f.id,
        "factorType": f.factor_type,
        "provider": f.provider,
        "vendorName": f.provider,
        "status": "ACTIVE",
        "created": CREATED,
        "lastUpdated": CREATED,
        "profile": profile,
        "_links": {
            "self": {"href": href, "hints": {"allow": ["GET", "DELETE"]}},
            "user": {"href": format!("{base}/api/v1/users/{}", u.id), "hints": {"allow": ["GET"]}},
        },
    })
}

fn grant_resource(base: &str, u: &UserRec, g: &GrantRec) -> Value {
    json!({
        "id": g.id,
        "status": "ACTIVE",
        "created": CREATED,
        "lastUpdated": CREATED,
        "issuer": base,
        "clientId": g.client,
        "userId": u.id,
        "scopeId": g.scope_id,
        "source": "END_USER",
        "createdBy": {"id": u.id, "type": "User"},
        "_links": {
            "self": {"href": format!("{base}/api/v1/users/{}/grants/{}", u.id, g.id)},
            "client": {"href": format!("{base}/oauth2/v1/clients/{}", g.client), "title": g.client},
        },
    })
}

// ---- errors

/// Okta's error body; `errorId` is unique per answer.
fn okta_error(status: u16, code: &str, summary: &str) -> Reply {
    static ERROR_IDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let n = ERROR_IDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Reply::json(
        status,
        json!({
            "errorCode": code,
            "errorSummary": summary,
            "errorLink": code,
            "errorId": okta_id("oae", n),
            "errorCauses": [],
        }),
    )
}

fn user_not_found(id: &str) -> Reply {
    okta_error(
        404,
        "E0000007",
        &format!("Not found: Resource not found: {id} (User)"),
    )
}

fn group_not_found(id: &str) -> Reply {
    okta_error(
        404,
        "E0000007",
        &format!("Not found: Resource not found: {id} (UserGroup)"),
    )
}

/// The token endpoint's OAuth 2.0 error body (RFC 6749 section 5.2).
fn oauth_error(status: u16, error: &str, description: &str) -> Reply {
    let mut r = Reply::json(
        status,
        json!({"error": error, "error_description": description}),
    );
    r.headers.push(("Cache-Control", "no-store".into()));
    r.headers.push(("Pragma", "no-cache".into()));
    r
}

// ---- small helpers

/// Now as Okta writes times: UTC, milliseconds, `Z`.
fn now_okta() -> String {
    let ts = jiff::Timestamp::now();
    format!(
        "{}.{:03}Z",
        ts.strftime("%Y-%m-%dT%H:%M:%S"),
        ts.subsec_millisecond()
    )
}

struct Query(Vec<(String, String)>);

impl Query {
    fn parse(raw: &str) -> Query {
        Query(parse_pairs(raw))
    }
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Everything but RFC 3986's unreserved characters percent-encoded.
fn pct_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The API token file a test policy's `okta` connector reads, relative to its repository.
pub const TOKEN_FILE: &str = "okta-api-token";

/// An [`OktaStandIn`] behind a real [`crate::Prism`] validating every request and answer
/// against Okta's published API description. Connectors talk to [`Self::url`] (Prism).
pub struct OktaBehindPrism {
    pub okta: OktaStandIn,
    pub prism: crate::Prism,
}

impl OktaBehindPrism {
    pub fn start() -> OktaBehindPrism {
        let okta = OktaStandIn::start();
        let prism = crate::Prism::start(&crate::Prism::okta_spec(), &okta.url());
        okta.set_public_url(&prism.url());
        OktaBehindPrism { okta, prism }
    }

    /// Where connectors send requests: Prism, in front of the stand-in.
    pub fn url(&self) -> String {
        self.prism.url()
    }
}

impl OktaStandIn {
    /// Settings of an `okta` connector with the API token, aimed at `url` (Prism in front of
    /// this stand-in, or the stand-in itself); the token is written to [`TOKEN_FILE`] in `repo`.
    pub fn settings(
        &self,
        repo: &std::path::Path,
        url: &str,
    ) -> offboard::connector::okta::OktaSettings {
        std::fs::write(repo.join(TOKEN_FILE), Self::API_TOKEN).expect("write okta token");
        offboard::connector::okta::OktaSettings {
            url: url.to_string(),
            credential: offboard::connector::okta::Credential::ApiToken(
                offboard::policy::SecretRef::File(TOKEN_FILE.into()),
            ),
            disable_as: offboard::connector::okta::DisableAs::Suspend,
            page_size: 200,
            timeout: jiff::SignedDuration::from_secs(10),
            delete: true,
            rate_limit_reserve: 10,
            token_url: None,
        }
    }

    /// The `connector okta ...` line of a policy in `repo` aimed at `url` (token written too).
    pub fn connector_line(&self, repo: &std::path::Path, url: &str) -> String {
        std::fs::write(repo.join(TOKEN_FILE), Self::API_TOKEN).expect("write okta token");
        format!("connector okta url=\"{url}\" token-file=\"{TOKEN_FILE}\" delete=#true")
    }
}
