//! A stand-in for the part of the Google Workspace Admin SDK Directory API, and of Google's
//! OAuth 2.0 token endpoint for service accounts, that offboard's `google` connector speaks. It
//! is **not Google**: Google publishes no local Workspace server, so this is an in-process HTTP
//! server written from Google's published description, stateful enough for the connector's
//! tests and benchmarks to observe real effects (a suspended account, a removed membership, a
//! revoked application token). Where the documentation leaves wording open, the messages here
//! are the stand-in's own and say so; codes and shapes follow these pages:
//!
//! - every path, HTTP method, query parameter, OAuth scope and resource shape: the Directory
//!   API discovery document `admin.directory_v1.json` (revision 20261104) as shipped in PyPI
//!   `google-api-python-client` 2.202.0; [`crate::discovery`] checks recorded requests against
//!   that very file;
//! - the token endpoint (JWT bearer grant, RS256, `kid`, the `iss`/`sub`/`scope`/`aud`/`iat`/
//!   `exp` claims, at most one hour between `iat` and `exp`, the token response and the error
//!   table): "Using OAuth 2.0 for Server to Server Applications"
//!   <https://developers.google.com/identity/protocols/oauth2/service-account>, with domain-wide
//!   delegation as "Control API access with domain-wide delegation"
//!   <https://support.google.com/a/answer/162106> describes it (the client is granted a list of
//!   scopes, see [`GoogleStandIn::delegate_scopes`]);
//! - the service account key file: "Create and delete service account keys"
//!   <https://cloud.google.com/iam/docs/keys-create-delete>;
//! - users: "Directory API: User Accounts"
//!   <https://developers.google.com/workspace/admin/directory/v1/guides/manage-users> and the
//!   `users.list`, `users.get`, `users.patch`, `users.update`, `users.delete`, `users.undelete`
//!   and `users.signOut` reference pages under
//!   <https://developers.google.com/workspace/admin/directory/reference/rest/v1/users>;
//!   `query` as "Search for users"
//!   <https://developers.google.com/workspace/admin/directory/v1/guides/search-users>
//!   (`email`, `externalId`, `givenName`, `familyName`, `name`, `isSuspended`, `isAdmin`,
//!   `isArchived`, `orgUnitPath` and bare words; clauses separated by spaces are ANDed);
//! - application tokens and application-specific passwords: the `tokens` and `asps` reference
//!   pages <https://developers.google.com/workspace/admin/directory/reference/rest/v1/tokens>,
//!   <https://developers.google.com/workspace/admin/directory/reference/rest/v1/asps>;
//! - groups and members: "Directory API: Groups"
//!   <https://developers.google.com/workspace/admin/directory/v1/guides/manage-groups>, "Search
//!   for groups" <https://developers.google.com/workspace/admin/directory/v1/guides/search-groups>
//!   and "Directory API: Group Members"
//!   <https://developers.google.com/workspace/admin/directory/v1/guides/manage-group-members>
//!   (409 `duplicate` "Member already exists.");
//! - error bodies (`{"error": {"code", "message", "errors": [{"message", "domain",
//!   "reason"}]}}`, 401 `authError` with `UNAUTHENTICATED`, 403 `insufficientPermissions` with
//!   `ACCESS_TOKEN_SCOPE_INSUFFICIENT`): Google's "Errors" design guide
//!   <https://cloud.google.com/apis/design/errors> and "Troubleshoot Directory API" errors
//!   <https://developers.google.com/workspace/admin/reseller/v1/support/directory_api_common_errors>;
//! - quota errors (403 `usageLimits` `userRateLimitExceeded`/`rateLimitExceeded`, 429
//!   `RESOURCE_EXHAUSTED`): "Directory API: Limits and Quotas"
//!   <https://developers.google.com/workspace/admin/directory/v1/limits>.
//!
//! As Google does, list responses leave out an empty array (`users`, `groups`, `items`) rather
//! than sending `[]`, and `nextPageToken` appears only when there is a next page; the page
//! token is opaque.
//!
//! The server runs on its own tokio runtime in its own thread, so plain `#[test]`s,
//! `#[tokio::test]`s and benchmarks use it alike; dropping it shuts it down. Everything is one
//! fallback handler that routes by splitting the path; the state sits behind one
//! `std::sync::Mutex`, never held across an `.await`.
//!
//! Faults are opt-in: [`GoogleStandIn::throttle_next`] answers the next Directory requests with
//! a quota error before any effect, [`GoogleStandIn::expire_tokens`] invalidates every token
//! mid-run, [`GoogleStandIn::set_latency`] slows every answer, and
//! [`GoogleStandIn::delegate_scopes`] narrows what domain-wide delegation grants.

use crate::stand_in::{self, Reply, parse_pairs, pct_decode};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::hash::{BuildHasher, RandomState};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// The file [`GoogleStandIn::service_account`] writes into the directory it is given.
pub const KEY_FILE: &str = "google-service-account.json";

const DIRECTORY: &str = "/admin/directory/v1/";
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const SCOPE_PREFIX: &str = "https://www.googleapis.com/auth/";
const MY_CUSTOMER: &str = "my_customer";
/// `creationTime` of seeded users, and `lastLoginTime` of users who never signed in (the value
/// Google reports for them).
const CREATED: &str = "2024-01-02T03:04:05.000Z";
const NEVER: &str = "1970-01-01T00:00:00.000Z";

const UNAUTHORIZED_CLIENT: &str = "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.";
const BAD_SIGNATURE: &str = "Invalid JWT Signature.";
const SHORT_LIVED: &str = "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.";
const INVALID_CREDENTIALS: &str = "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.";

const S_USER: &str = "https://www.googleapis.com/auth/admin.directory.user";
const S_USER_RO: &str = "https://www.googleapis.com/auth/admin.directory.user.readonly";
const S_USER_SECURITY: &str = "https://www.googleapis.com/auth/admin.directory.user.security";
const S_GROUP: &str = "https://www.googleapis.com/auth/admin.directory.group";
const S_GROUP_RO: &str = "https://www.googleapis.com/auth/admin.directory.group.readonly";
const S_GROUP_MEMBER: &str = "https://www.googleapis.com/auth/admin.directory.group.member";
const S_CLOUD: &str = "https://www.googleapis.com/auth/cloud-platform";

// The scopes each method accepts, any one of them, as the discovery document lists them.
const USERS_LIST: &[&str] = &[S_USER, S_USER_RO, S_CLOUD];
const USERS_GET: &[&str] = &[S_USER, S_USER_RO];
const USERS_WRITE: &[&str] = &[S_USER];
const SECURITY: &[&str] = &[S_USER_SECURITY];
const GROUPS_LIST: &[&str] = &[S_GROUP, S_GROUP_RO];
const MEMBERS_WRITE: &[&str] = &[S_GROUP, S_GROUP_MEMBER];
const MEMBERS_READ: &[&str] = &[S_GROUP, S_GROUP_RO, S_GROUP_MEMBER];

/// The `User` properties the discovery document marks read-only: a patch or update may carry
/// them (a read-modify-write sends them back) and they are ignored, as Google does.
const READ_ONLY: &[&str] = &[
    "agreedToTerms",
    "aliases",
    "archivalTime",
    "creationTime",
    "customerId",
    "deletionTime",
    "etag",
    "isAdmin",
    "isDelegatedAdmin",
    "isEnforcedIn2Sv",
    "isEnrolledIn2Sv",
    "isMailboxSetup",
    "kind",
    "lastLoginTime",
    "nonEditableAliases",
    "suspensionReason",
    "suspensionTime",
    "thumbnailPhotoEtag",
    "thumbnailPhotoUrl",
];
const USER_QUERY_FIELDS: &[&str] = &[
    "email",
    "externalId",
    "givenName",
    "familyName",
    "name",
    "isSuspended",
    "isAdmin",
    "isArchived",
    "orgUnitPath",
];
const GROUP_QUERY_FIELDS: &[&str] = &["email", "name"];

/// A user to seed; [`GoogleUser::new`] fills the usual defaults, tests change the rest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GoogleUser {
    /// `primaryEmail`.
    pub email: String,
    pub given_name: String,
    pub family_name: String,
    /// One `externalIds` entry of type `organization` (an employee number).
    pub external_id: Option<String>,
    pub suspended: bool,
    /// `isAdmin`: a super administrator, the only kind of user delegation may impersonate.
    pub is_admin: bool,
}

impl GoogleUser {
    /// Active, not an administrator, no external id; the names come from the address's local
    /// part (`jane.doe@…` is Jane Doe, `jane@…` is Jane Test).
    pub fn new(email: &str) -> GoogleUser {
        let local = email.split('@').next().unwrap_or(email);
        let (given, family) = local.split_once('.').unwrap_or((local, "test"));
        GoogleUser {
            email: email.to_string(),
            given_name: capitalised(given),
            family_name: capitalised(family),
            external_id: None,
            suspended: false,
            is_admin: false,
        }
    }
}

fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Which quota error [`GoogleStandIn::throttle_next`] answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quota {
    /// 403, `usageLimits` / `rateLimitExceeded`.
    RateLimitExceeded,
    /// 403, `usageLimits` / `userRateLimitExceeded`.
    UserRateLimitExceeded,
    /// 429, `usageLimits` / `quotaExceeded`, status `RESOURCE_EXHAUSTED`.
    TooManyRequests,
}

/// A third-party application's OAuth grant (what `tokens.list` shows).
struct AppGrant {
    client_id: String,
    display: String,
    scopes: Vec<String>,
}

struct AspRec {
    code_id: i64,
    name: String,
    /// Milliseconds since the epoch.
    created_ms: i64,
}

struct UserRec {
    id: String,
    user: GoogleUser,
    org_unit: String,
    archived: bool,
    aliases: Vec<String>,
    last_login: Option<String>,
    deleted_at: Option<String>,
    sign_outs: u32,
    grants: Vec<AppGrant>,
    asps: Vec<AspRec>,
}

struct GroupRec {
    id: String,
    email: String,
    name: String,
    /// (user id, role); a deleted user's membership stays here, hidden, and comes back with
    /// `users.undelete`.
    members: Vec<(String, String)>,
}

struct TrustedKey {
    client_email: String,
    key_id: String,
    key: DecodingKey,
}

struct AccessToken {
    expiry: Instant,
    scopes: Vec<String>,
    /// The impersonated user (`sub`); `None` for the service account itself.
    subject: Option<String>,
}

struct Store {
    next_id: u64,
    next_code: i64,
    users: Vec<UserRec>,
    groups: Vec<GroupRec>,
    keys: Vec<TrustedKey>,
    /// Scopes domain-wide delegation grants; `None` grants whatever is asked.
    delegated: Option<Vec<String>>,
    tokens: HashMap<String, AccessToken>,
    tokens_issued: usize,
    token_lifetime: u64,
    throttle: usize,
    quota: Quota,
    latency: Duration,
    requests: Vec<String>,
    bodies: Vec<String>,
}

struct Shared {
    base: String,
    store: Mutex<Store>,
}

/// The running stand-in; see the module documentation.
pub struct GoogleStandIn {
    shared: Arc<Shared>,
    /// Dropped last: shuts the server down.
    _serving: stand_in::Serving,
}

impl GoogleStandIn {
    /// `customerId` of every user; `customer=` accepts it as well as `my_customer`.
    pub const CUSTOMER_ID: &'static str = "C03az79cb";
    /// The service account [`Self::service_account`] writes a key for.
    pub const CLIENT_EMAIL: &'static str = "offboard@offboard-test.iam.gserviceaccount.com";
    pub const CLIENT_ID: &'static str = "1234567890";
    pub const PROJECT_ID: &'static str = "offboard-test";

    /// Bind 127.0.0.1 on a free port and serve until dropped. The listener is bound before
    /// this returns, so the first request cannot race the start.
    pub fn start() -> GoogleStandIn {
        let (listener, port) = stand_in::bind("google stand-in");
        let shared = Arc::new(Shared {
            base: format!("http://127.0.0.1:{port}"),
            store: Mutex::new(Store {
                next_id: 0,
                next_code: 0,
                users: Vec::new(),
                groups: Vec::new(),
                keys: Vec::new(),
                delegated: None,
                tokens: HashMap::new(),
                tokens_issued: 0,
                token_lifetime: 3599,
                throttle: 0,
                quota: Quota::UserRateLimitExceeded,
                latency: Duration::ZERO,
                requests: Vec::new(),
                bodies: Vec::new(),
            }),
        });
        let router = Router::new()
            .fallback(serve_http)
            .with_state(Arc::clone(&shared));
        let serving = stand_in::serve("google stand-in", listener, router);
        GoogleStandIn {
            shared,
            _serving: serving,
        }
    }

    /// `http://127.0.0.1:PORT`: the token endpoint is `{url}/token`, the Directory API is under
    /// `{url}/admin/directory/v1/`.
    pub fn url(&self) -> String {
        self.shared.base.clone()
    }

    /// `{url}/token`, the token endpoint and so the assertion's `aud`.
    pub fn token_url(&self) -> String {
        format!("{}/token", self.shared.base)
    }

    fn store(&self) -> MutexGuard<'_, Store> {
        self.shared.store.lock().unwrap()
    }

    // ---- credentials and faults

    /// Trust `public_key_pem` (SPKI "PUBLIC KEY" or PKCS#1 "RSA PUBLIC KEY") as the key
    /// `key_id` of the service account `client_email`: an assertion whose header `kid` is
    /// `key_id` and whose `iss` is `client_email` must verify with it. Panics on PEM that is not
    /// an RSA public key: that is a bug in the test.
    pub fn trust_key(&self, client_email: &str, key_id: &str, public_key_pem: &str) {
        let key = DecodingKey::from_rsa_pem(public_key_pem.as_bytes())
            .unwrap_or_else(|e| panic!("google stand-in: not an RSA public key in PEM: {e}"));
        self.store().keys.push(TrustedKey {
            client_email: client_email.to_string(),
            key_id: key_id.to_string(),
            key,
        });
    }

    /// Make an RSA key pair with `openssl` (which `tests/run.sh` installs), trust its public
    /// half for [`Self::CLIENT_EMAIL`], and write the service account key file Google's console
    /// would download to `dir/`[`KEY_FILE`]; returns its path. The user to impersonate is not in
    /// the file: it is the connector's setting, and must be a seeded administrator.
    pub fn service_account(&self, dir: &Path) -> PathBuf {
        let private = openssl(
            &[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
            ],
            None,
        );
        let public = openssl(&["pkey", "-pubout"], Some(private.as_bytes()));
        let digest = Sha256::digest(public.as_bytes());
        let mut key_id = String::with_capacity(40);
        for b in &digest.as_slice()[..20] {
            let _ = write!(key_id, "{b:02x}");
        }
        self.trust_key(Self::CLIENT_EMAIL, &key_id, &public);
        let file = json!({
            "type": "service_account",
            "project_id": Self::PROJECT_ID,
            "private_key_id": key_id,
            "private_key": private,
            "client_email": Self::CLIENT_EMAIL,
            "client_id": Self::CLIENT_ID,
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": self.token_url(),
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "universe_domain": "googleapis.com",
        });
        let path = dir.join(KEY_FILE);
        let text = serde_json::to_string_pretty(&file).expect("google stand-in: key file JSON");
        std::fs::write(&path, text)
            .unwrap_or_else(|e| panic!("google stand-in: write {}: {e}", path.display()));
        path
    }

    /// Grant domain-wide delegation only these scopes (as an administrator lists them for the
    /// client id in the Admin console): an assertion asking for any other scope while
    /// impersonating a user gets 401 `unauthorized_client`. Until called, every scope under
    /// `https://www.googleapis.com/auth/` is granted.
    pub fn delegate_scopes(&self, scopes: &[&str]) {
        self.store().delegated = Some(scopes.iter().map(|s| s.to_string()).collect());
    }

    pub fn set_token_lifetime(&self, secs: u64) {
        self.store().token_lifetime = secs;
    }

    /// Invalidate every access token issued so far, as if they all expired now.
    pub fn expire_tokens(&self) {
        self.store().tokens.clear();
    }

    pub fn tokens_issued(&self) -> usize {
        self.store().tokens_issued
    }

    /// The next `n` requests to the Directory API get the quota error `kind` before anything
    /// else is looked at (the token endpoint is not throttled).
    pub fn throttle_next(&self, n: usize, kind: Quota) {
        let mut st = self.store();
        st.throttle = n;
        st.quota = kind;
    }

    pub fn set_latency(&self, d: Duration) {
        self.store().latency = d;
    }

    /// Every HTTP request as `METHOD /path?query`, exactly as received, in order (`/token`
    /// included).
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

    // ---- seeding (unknown users and groups panic: they are bugs in the test)

    /// Returns the new user's id (21 digits).
    pub fn add_user(&self, u: GoogleUser) -> String {
        let mut st = self.store();
        assert!(
            live_user(&st, &u.email).is_none(),
            "google stand-in: duplicate primaryEmail {}",
            u.email
        );
        st.next_id += 1;
        let id = format!("1{:020}", 3_141_592_653_589_000_000u64 + st.next_id);
        st.users.push(UserRec {
            id: id.clone(),
            user: u,
            org_unit: "/".into(),
            archived: false,
            aliases: Vec::new(),
            last_login: None,
            deleted_at: None,
            sign_outs: 0,
            grants: Vec::new(),
            asps: Vec::new(),
        });
        id
    }

    /// An alias address of the user (it appears in `aliases` and `emails`, and finds the user
    /// as a `userKey` and in `email:` searches).
    pub fn add_alias(&self, uid: &str, alias: &str) {
        let mut st = self.store();
        let i = seeded_user(&st, uid);
        st.users[i].aliases.push(alias.to_string());
    }

    /// `lastLoginTime`, RFC 3339 (`2025-01-31T09:00:00.000Z`); never signed in until set.
    pub fn set_last_login(&self, uid: &str, rfc3339: &str) {
        let mut st = self.store();
        let i = seeded_user(&st, uid);
        st.users[i].last_login = Some(rfc3339.to_string());
    }

    pub fn set_suspended(&self, uid: &str, suspended: bool) {
        let mut st = self.store();
        let i = seeded_user(&st, uid);
        st.users[i].user.suspended = suspended;
    }

    /// A group; `members` are user ids or addresses, each added with role `MEMBER`. Returns
    /// the group id.
    pub fn add_group(&self, email: &str, name: &str, members: &[&str]) -> String {
        let mut st = self.store();
        assert!(
            find_group(&st, email).is_none(),
            "google stand-in: duplicate group {email}"
        );
        let mut list: Vec<(String, String)> = Vec::new();
        for m in members {
            let id = st.users[seeded_user(&st, m)].id.clone();
            if !list.iter().any(|(x, _)| *x == id) {
                list.push((id, "MEMBER".into()));
            }
        }
        st.next_id += 1;
        let id = format!("03{:013x}", 0x0c0f_fee0_0000u64 + st.next_id);
        st.groups.push(GroupRec {
            id: id.clone(),
            email: email.to_string(),
            name: name.to_string(),
            members: list,
        });
        id
    }

    /// A third-party application the user granted access (`tokens.list` lists it).
    pub fn add_token(&self, uid: &str, client_id: &str, display: &str) {
        let mut st = self.store();
        let i = seeded_user(&st, uid);
        st.users[i].grants.push(AppGrant {
            client_id: client_id.to_string(),
            display: display.to_string(),
            scopes: vec![
                "openid".into(),
                "https://www.googleapis.com/auth/userinfo.email".into(),
            ],
        });
    }

    /// An application-specific password; returns its `codeId`.
    pub fn add_asp(&self, uid: &str, name: &str) -> i64 {
        let mut st = self.store();
        let i = seeded_user(&st, uid);
        st.next_code += 1;
        let code_id = st.next_code;
        st.users[i].asps.push(AspRec {
            code_id,
            name: name.to_string(),
            created_ms: jiff::Timestamp::now().as_millisecond(),
        });
        code_id
    }

    // ---- inspection (a deleted user is found by id; its memberships are hidden)

    /// The `User` resource as `users.get` answers it; `None` when deleted or absent.
    pub fn user_json(&self, id: &str) -> Option<Value> {
        let st = self.store();
        live_user(&st, id).map(|i| user_resource(&st.users[i]))
    }

    pub fn is_deleted(&self, id: &str) -> bool {
        self.store()
            .users
            .iter()
            .any(|u| u.id == id && u.deleted_at.is_some())
    }

    /// Addresses of the groups the user is a member of (none once deleted).
    pub fn groups_of(&self, uid: &str) -> Vec<String> {
        let st = self.store();
        let Some(i) = live_user(&st, uid) else {
            return Vec::new();
        };
        let id = &st.users[i].id;
        st.groups
            .iter()
            .filter(|g| g.members.iter().any(|(m, _)| m == id))
            .map(|g| g.email.clone())
            .collect()
    }

    /// Primary addresses of the group's members that are not deleted.
    pub fn members_of(&self, gid: &str) -> Vec<String> {
        let st = self.store();
        let Some(g) = find_group(&st, gid) else {
            return Vec::new();
        };
        st.groups[g]
            .members
            .iter()
            .filter_map(|(m, _)| {
                st.users
                    .iter()
                    .find(|u| u.id == *m && u.deleted_at.is_none())
            })
            .map(|u| u.user.email.clone())
            .collect()
    }

    /// Client ids of the applications the user still grants access.
    pub fn tokens_of(&self, uid: &str) -> Vec<String> {
        let st = self.store();
        let Some(i) = any_user(&st, uid) else {
            return Vec::new();
        };
        st.users[i]
            .grants
            .iter()
            .map(|g| g.client_id.clone())
            .collect()
    }

    /// Names of the user's application-specific passwords.
    pub fn asps_of(&self, uid: &str) -> Vec<String> {
        let st = self.store();
        let Some(i) = any_user(&st, uid) else {
            return Vec::new();
        };
        st.users[i].asps.iter().map(|a| a.name.clone()).collect()
    }

    /// How many times `users.signOut` ran for the user.
    pub fn sign_outs(&self, uid: &str) -> u32 {
        let st = self.store();
        any_user(&st, uid).map_or(0, |i| st.users[i].sign_outs)
    }
}

/// Run `openssl` with `args`, feeding it `input`; its standard output. Panics when it cannot
/// run or fails: the test cannot go on without a key.
fn openssl(args: &[&str], input: Option<&[u8]>) -> String {
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("google stand-in: cannot run openssl (bash tests/run.sh installs it): {e}")
        });
    if let Some(bytes) = input {
        let mut stdin = child.stdin.take().expect("google stand-in: openssl stdin");
        stdin
            .write_all(bytes)
            .expect("google stand-in: write to openssl");
        // Dropping stdin closes it, so openssl sees the end of its input.
    }
    let out = child
        .wait_with_output()
        .expect("google stand-in: wait for openssl");
    assert!(
        out.status.success(),
        "google stand-in: openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("google stand-in: openssl wrote non-UTF-8 PEM")
}

/// A live user by id, primary address or alias (addresses case-insensitively).
fn live_user(st: &Store, key: &str) -> Option<usize> {
    st.users.iter().position(|u| {
        u.deleted_at.is_none()
            && (u.id == key
                || u.user.email.eq_ignore_ascii_case(key)
                || u.aliases.iter().any(|a| a.eq_ignore_ascii_case(key)))
    })
}

/// A live user as [`live_user`] finds it, else a deleted one by id.
fn any_user(st: &Store, key: &str) -> Option<usize> {
    live_user(st, key).or_else(|| st.users.iter().position(|u| u.id == key))
}

fn seeded_user(st: &Store, key: &str) -> usize {
    any_user(st, key).unwrap_or_else(|| panic!("google stand-in: no user {key}"))
}

/// A group by id or address.
fn find_group(st: &Store, key: &str) -> Option<usize> {
    st.groups
        .iter()
        .position(|g| g.id == key || g.email.eq_ignore_ascii_case(key))
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
    reply.into_response("application/json; charset=UTF-8", "google stand-in")
}

fn dispatch(
    shared: &Shared,
    method: &str,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Reply {
    if path == "/token" {
        return if method == "POST" {
            token(shared, body)
        } else {
            oauth_error(
                405,
                "invalid_request",
                "The token endpoint takes POST only (stand-in wording).",
            )
        };
    }
    let Some(rest) = path.strip_prefix(DIRECTORY) else {
        return google_error(404, "notFound", "Not Found");
    };
    {
        let mut st = shared.store.lock().unwrap();
        if st.throttle > 0 {
            st.throttle -= 1;
            return quota_error(st.quota);
        }
    }
    let Some(caller) = bearer(shared, headers) else {
        let mut r = Reply::json(
            401,
            json!({"error": {
                "code": 401,
                "message": INVALID_CREDENTIALS,
                "errors": [{
                    "message": "Invalid Credentials",
                    "domain": "global",
                    "reason": "authError",
                    "location": "Authorization",
                    "locationType": "header",
                }],
                "status": "UNAUTHENTICATED",
            }}),
        );
        r.headers.push((
            "WWW-Authenticate",
            "Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\"".into(),
        ));
        return r;
    };
    let owned: Vec<String> = rest.split('/').map(|s| pct_decode(s, false)).collect();
    let segs: Vec<&str> = owned.iter().map(String::as_str).collect();
    let Some((method_id, accepted)) = route(method, &segs) else {
        return google_error(404, "notFound", "Not Found");
    };
    if !accepted
        .iter()
        .any(|s| caller.scopes.iter().any(|g| g.as_str() == *s))
    {
        return insufficient_scopes(method_id);
    }
    if caller.subject.is_none() {
        // The service account's own token: it is no administrator of the domain.
        return google_error(
            403,
            "forbidden",
            "Not Authorized to access this resource/api",
        );
    }
    let q = Query::parse(query);
    let mut guard = shared.store.lock().unwrap();
    directory(&mut guard, method, &segs, &q, body)
}

struct Caller {
    scopes: Vec<String>,
    subject: Option<String>,
}

fn bearer(shared: &Shared, headers: &HeaderMap) -> Option<Caller> {
    let value = headers.get("authorization")?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let st = shared.store.lock().unwrap();
    let t = st.tokens.get(token.trim())?;
    (t.expiry > Instant::now()).then(|| Caller {
        scopes: t.scopes.clone(),
        subject: t.subject.clone(),
    })
}

/// The discovery document's method id and accepted scopes of each request the stand-in
/// serves (path relative to `admin/directory/v1/`).
fn route(method: &str, segs: &[&str]) -> Option<(&'static str, &'static [&'static str])> {
    let r: (&'static str, &'static [&'static str]) = match (method, segs) {
        ("GET", ["users"]) => ("directory.users.list", USERS_LIST),
        ("GET", ["users", _]) => ("directory.users.get", USERS_GET),
        ("PATCH", ["users", _]) => ("directory.users.patch", USERS_WRITE),
        ("PUT", ["users", _]) => ("directory.users.update", USERS_WRITE),
        ("DELETE", ["users", _]) => ("directory.users.delete", USERS_WRITE),
        ("POST", ["users", _, "undelete"]) => ("directory.users.undelete", USERS_WRITE),
        ("POST", ["users", _, "signOut"]) => ("directory.users.signOut", SECURITY),
        ("GET", ["users", _, "tokens"]) => ("directory.tokens.list", SECURITY),
        ("DELETE", ["users", _, "tokens", _]) => ("directory.tokens.delete", SECURITY),
        ("GET", ["users", _, "asps"]) => ("directory.asps.list", SECURITY),
        ("DELETE", ["users", _, "asps", _]) => ("directory.asps.delete", SECURITY),
        ("GET", ["groups"]) => ("directory.groups.list", GROUPS_LIST),
        ("GET", ["groups", _, "members"]) => ("directory.members.list", MEMBERS_READ),
        ("POST", ["groups", _, "members"]) => ("directory.members.insert", MEMBERS_WRITE),
        ("DELETE", ["groups", _, "members", _]) => ("directory.members.delete", MEMBERS_WRITE),
        _ => return None,
    };
    Some(r)
}

fn directory(st: &mut Store, method: &str, segs: &[&str], q: &Query, body: &[u8]) -> Reply {
    match (method, segs) {
        ("GET", ["users"]) => list_users(st, q),
        ("GET", ["users", key]) => match live_user(st, key) {
            Some(i) => Reply::json(200, user_resource(&st.users[i])),
            None => not_found("userKey"),
        },
        ("PATCH" | "PUT", ["users", key]) => update_user(st, key, body),
        ("DELETE", ["users", key]) => match live_user(st, key) {
            Some(i) => {
                st.users[i].deleted_at = Some(now_rfc3339());
                Reply::empty(204)
            }
            None => not_found("userKey"),
        },
        ("POST", ["users", key, "undelete"]) => undelete(st, key, body),
        ("POST", ["users", key, "signOut"]) => match live_user(st, key) {
            Some(i) => {
                st.users[i].sign_outs += 1;
                Reply::empty(204)
            }
            None => not_found("userKey"),
        },
        ("GET", ["users", key, "tokens"]) => match live_user(st, key) {
            Some(i) => {
                let u = &st.users[i];
                let items: Vec<Value> = u.grants.iter().map(|g| token_json(u, g)).collect();
                Reply::json(
                    200,
                    list_body("admin#directory#tokenList", "items", items, None),
                )
            }
            None => not_found("userKey"),
        },
        ("DELETE", ["users", key, "tokens", client]) => match live_user(st, key) {
            Some(i) => {
                let grants = &mut st.users[i].grants;
                match grants.iter().position(|g| g.client_id == *client) {
                    Some(p) => {
                        grants.remove(p);
                        Reply::empty(204)
                    }
                    None => not_found("clientId"),
                }
            }
            None => not_found("userKey"),
        },
        ("GET", ["users", key, "asps"]) => match live_user(st, key) {
            Some(i) => {
                let u = &st.users[i];
                let items: Vec<Value> = u.asps.iter().map(|a| asp_json(u, a)).collect();
                Reply::json(
                    200,
                    list_body("admin#directory#aspList", "items", items, None),
                )
            }
            None => not_found("userKey"),
        },
        ("DELETE", ["users", key, "asps", code]) => {
            let Some(i) = live_user(st, key) else {
                return not_found("userKey");
            };
            let Ok(code) = code.parse::<i64>() else {
                return google_error(
                    400,
                    "invalid",
                    &format!("Invalid value '{code}'. Values must be an integer."),
                );
            };
            let asps = &mut st.users[i].asps;
            match asps.iter().position(|a| a.code_id == code) {
                Some(p) => {
                    asps.remove(p);
                    Reply::empty(204)
                }
                None => not_found("codeId"),
            }
        }
        ("GET", ["groups"]) => list_groups(st, q),
        ("GET", ["groups", gkey, "members"]) => list_members(st, gkey, q),
        ("POST", ["groups", gkey, "members"]) => insert_member(st, gkey, body),
        ("DELETE", ["groups", gkey, "members", mkey]) => delete_member(st, gkey, mkey),
        _ => google_error(404, "notFound", "Not Found"),
    }
}

// ---- the token endpoint

fn token(shared: &Shared, body: &[u8]) -> Reply {
    let form = parse_pairs(&String::from_utf8_lossy(body));
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    match get("grant_type") {
        Some(JWT_BEARER) => {}
        Some(other) => {
            return oauth_error(
                400,
                "unsupported_grant_type",
                &format!("Invalid grant_type: {other}"),
            );
        }
        None => {
            return oauth_error(
                400,
                "invalid_request",
                "Missing required parameter: grant_type",
            );
        }
    }
    let Some(assertion) = get("assertion") else {
        return oauth_error(
            400,
            "invalid_request",
            "Missing required parameter: assertion",
        );
    };
    let claims = match verify_assertion(shared, assertion) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let scopes: Vec<String> = claims
        .get("scope")
        .and_then(Value::as_str)
        .unwrap_or("")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    if scopes.is_empty() {
        return oauth_error(400, "invalid_scope", "Empty or missing scope not allowed.");
    }
    if scopes.iter().any(|s| !s.starts_with(SCOPE_PREFIX)) {
        return oauth_error(
            400,
            "invalid_scope",
            "Invalid OAuth scope or ID token audience provided.",
        );
    }
    let subject = claims
        .get("sub")
        .and_then(Value::as_str)
        .map(str::to_string);
    let mut st = shared.store.lock().unwrap();
    if let Some(sub) = &subject {
        // Domain-wide delegation: the impersonated user must be an active super administrator
        // and every scope must be one the client was granted.
        let admin = live_user(&st, sub)
            .is_some_and(|i| st.users[i].user.is_admin && !st.users[i].user.suspended);
        let granted = st
            .delegated
            .as_ref()
            .is_none_or(|d| scopes.iter().all(|s| d.contains(s)));
        if !admin || !granted {
            return oauth_error(401, "unauthorized_client", UNAUTHORIZED_CLIENT);
        }
    }
    st.tokens_issued += 1;
    let n = st.tokens_issued;
    let nanos = jiff::Timestamp::now().as_nanosecond();
    let access_token = format!(
        "ya29.c.{n:06}{:016x}",
        RandomState::new().hash_one((n, nanos))
    );
    let life = st.token_lifetime;
    st.tokens.insert(
        access_token.clone(),
        AccessToken {
            expiry: Instant::now() + Duration::from_secs(life),
            scopes,
            subject,
        },
    );
    Reply::json(
        200,
        json!({"access_token": access_token, "expires_in": life, "token_type": "Bearer"}),
    )
}

/// Verify the assertion as "Using OAuth 2.0 for Server to Server Applications" describes:
/// jsonwebtoken checks the RS256 signature with the key named by `kid` (every trusted key when
/// there is no `kid`); the claims are checked here so each failure gets Google's message.
fn verify_assertion(shared: &Shared, assertion: &str) -> Result<Map<String, Value>, Reply> {
    let header = jsonwebtoken::decode_header(assertion).map_err(|e| {
        oauth_error(
            400,
            "invalid_grant",
            &format!("Invalid JWT: the assertion is not a JWS ({e}) (stand-in wording)."),
        )
    })?;
    if header.alg != Algorithm::RS256 {
        return Err(oauth_error(400, "invalid_grant", BAD_SIGNATURE));
    }
    let candidates: Vec<(String, DecodingKey)> = {
        let st = shared.store.lock().unwrap();
        st.keys
            .iter()
            .filter(|k| header.kid.as_deref().is_none_or(|kid| kid == k.key_id))
            .map(|k| (k.client_email.clone(), k.key.clone()))
            .collect()
    };
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let Some((email, claims)) = candidates.iter().find_map(|(email, key)| {
        jsonwebtoken::decode::<Map<String, Value>>(assertion, key, &validation)
            .ok()
            .map(|t| (email, t.claims))
    }) else {
        return Err(oauth_error(400, "invalid_grant", BAD_SIGNATURE));
    };
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    // A key of another service account does not sign for this one.
    if text("iss") != Some(email.as_str()) {
        return Err(oauth_error(400, "invalid_grant", BAD_SIGNATURE));
    }
    let audience = format!("{}/token", shared.base);
    if text("aud") != Some(audience.as_str()) {
        return Err(oauth_error(
            400,
            "invalid_grant",
            &format!("Invalid JWT: Failed audience check. The right audience is {audience}"),
        ));
    }
    let now = jiff::Timestamp::now().as_second();
    let time = |name: &str| claims.get(name).and_then(Value::as_i64);
    let fresh = matches!(
        (time("iat"), time("exp")),
        (Some(iat), Some(exp)) if exp > now && exp > iat && exp - iat <= 3600 && iat <= now + 300
    );
    if !fresh {
        return Err(oauth_error(400, "invalid_grant", SHORT_LIVED));
    }
    Ok(claims)
}

// ---- users

fn list_users(st: &Store, q: &Query) -> Reply {
    if let Some(c) = q.get("customer")
        && c != MY_CUSTOMER
        && c != GoogleStandIn::CUSTOMER_ID
    {
        return bad_request();
    }
    let domain = q.get("domain");
    if q.get("customer").is_none() && domain.is_none() {
        return bad_request();
    }
    let max = match page_size(q, 100, 500, false) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let deleted = match q.get("showDeleted") {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => return invalid(&format!("showDeleted={other}")),
    };
    let terms = match q.get("query").map(|s| parse_query(s, USER_QUERY_FIELDS)) {
        None => Vec::new(),
        Some(Ok(t)) => t,
        Some(Err(e)) => return invalid(&e),
    };
    let offset = match page_offset(q) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let mut users: Vec<&UserRec> = st
        .users
        .iter()
        .filter(|u| u.deleted_at.is_some() == deleted)
        .filter(|u| domain.is_none_or(|d| domain_of(&u.user.email).eq_ignore_ascii_case(d)))
        .filter(|u| terms.iter().all(|t| user_matches(u, t)))
        .collect();
    match q.get("orderBy") {
        None => {}
        Some("email") => users.sort_by_key(|u| u.user.email.to_lowercase()),
        Some("givenName") => users.sort_by_key(|u| u.user.given_name.to_lowercase()),
        Some("familyName") => users.sort_by_key(|u| u.user.family_name.to_lowercase()),
        Some(other) => return invalid(&format!("orderBy={other}")),
    }
    if q.get("sortOrder") == Some("DESCENDING") {
        users.reverse();
    }
    let (page, next) = paginate(users, offset, max);
    let items: Vec<Value> = page.into_iter().map(user_resource).collect();
    Reply::json(
        200,
        list_body("admin#directory#users", "users", items, next),
    )
}

fn update_user(st: &mut Store, key: &str, body: &[u8]) -> Reply {
    let Some(i) = live_user(st, key) else {
        return not_found("userKey");
    };
    let obj = match json_object(body) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let current = user_resource(&st.users[i]);
    let (mut suspended, mut archived, mut org_unit) = (None, None, None);
    for (k, v) in &obj {
        match (k.as_str(), v) {
            ("suspended", Value::Bool(b)) => suspended = Some(*b),
            ("archived", Value::Bool(b)) => archived = Some(*b),
            ("orgUnitPath", Value::String(p)) if p.starts_with('/') => org_unit = Some(p.clone()),
            ("orgUnitPath", _) => return invalid("INVALID_OU_ID"),
            ("suspended" | "archived", _) => return invalid(k),
            _ if READ_ONLY.contains(&k.as_str()) => {}
            // Sent back unchanged (a read-modify-write update): nothing to do.
            _ if current.get(k) == Some(v) => {}
            _ => {
                return invalid(&format!(
                    "{k} (the stand-in changes only suspended, archived and orgUnitPath)"
                ));
            }
        }
    }
    let u = &mut st.users[i];
    if let Some(b) = suspended {
        u.user.suspended = b;
    }
    if let Some(b) = archived {
        u.archived = b;
    }
    if let Some(p) = org_unit {
        u.org_unit = p;
    }
    Reply::json(200, user_resource(u))
}

fn undelete(st: &mut Store, key: &str, body: &[u8]) -> Reply {
    // The discovery document: "The immutable id of the user" (not an address).
    let Some(i) = st
        .users
        .iter()
        .position(|u| u.deleted_at.is_some() && u.id == key)
    else {
        return not_found("userKey");
    };
    let org_unit = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        let obj = match json_object(body) {
            Ok(o) => o,
            Err(r) => return r,
        };
        match obj.get("orgUnitPath") {
            None | Some(Value::Null) => None,
            Some(Value::String(p)) if p.starts_with('/') => Some(p.clone()),
            Some(_) => return invalid("INVALID_OU_ID"),
        }
    };
    let email = st.users[i].user.email.clone();
    if live_user(st, &email).is_some() {
        return google_error(409, "duplicate", "Entity already exists.");
    }
    let u = &mut st.users[i];
    u.deleted_at = None;
    if let Some(p) = org_unit {
        u.org_unit = p;
    }
    Reply::empty(204)
}

// ---- groups

fn list_groups(st: &Store, q: &Query) -> Reply {
    let customer = q.get("customer");
    let domain = q.get("domain");
    let user_key = q.get("userKey");
    if let Some(c) = customer
        && c != MY_CUSTOMER
        && c != GoogleStandIn::CUSTOMER_ID
    {
        return bad_request();
    }
    // The discovery document: userKey "Cannot be used with the `customer` parameter".
    if user_key.is_some() && customer.is_some() {
        return bad_request();
    }
    if user_key.is_none() && customer.is_none() && domain.is_none() {
        return bad_request();
    }
    // "Max allowed value is 200": larger values are served as 200.
    let max = match page_size(q, 200, 200, true) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let terms = match q.get("query").map(|s| parse_query(s, GROUP_QUERY_FIELDS)) {
        None => Vec::new(),
        Some(Ok(t)) => t,
        Some(Err(e)) => return invalid(&e),
    };
    let offset = match page_offset(q) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let member = match user_key {
        None => None,
        Some(k) => match live_user(st, k) {
            Some(i) => Some(st.users[i].id.as_str()),
            None => return not_found("userKey"),
        },
    };
    let mut groups: Vec<&GroupRec> = st
        .groups
        .iter()
        .filter(|g| member.is_none_or(|m| g.members.iter().any(|(x, _)| x == m)))
        .filter(|g| domain.is_none_or(|d| domain_of(&g.email).eq_ignore_ascii_case(d)))
        .filter(|g| terms.iter().all(|t| group_matches(g, t)))
        .collect();
    match q.get("orderBy") {
        None => {}
        Some("email") => groups.sort_by_key(|g| g.email.to_lowercase()),
        Some(other) => return invalid(&format!("orderBy={other}")),
    }
    if q.get("sortOrder") == Some("DESCENDING") {
        groups.reverse();
    }
    let (page, next) = paginate(groups, offset, max);
    let items: Vec<Value> = page.into_iter().map(|g| group_json(st, g)).collect();
    Reply::json(
        200,
        list_body("admin#directory#groups", "groups", items, next),
    )
}

/// members.list: the group's members that are not deleted, paged (at most 200 a page).
fn list_members(st: &Store, gkey: &str, q: &Query) -> Reply {
    let Some(g) = find_group(st, gkey) else {
        return not_found("groupKey");
    };
    let max = match page_size(q, 200, 200, true) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let offset = match page_offset(q) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let members: Vec<Value> = st.groups[g]
        .members
        .iter()
        .filter_map(|(uid, role)| {
            let i = live_user(st, uid)?;
            Some(json!({
                "kind": "admin#directory#member",
                "id": uid,
                "email": st.users[i].user.email,
                "role": role,
                "type": "USER",
                "status": "ACTIVE",
            }))
        })
        .collect();
    let (page, next) = paginate(members, offset, max);
    Reply::json(
        200,
        list_body("admin#directory#members", "members", page, next),
    )
}

fn insert_member(st: &mut Store, gkey: &str, body: &[u8]) -> Reply {
    let Some(g) = find_group(st, gkey) else {
        return not_found("groupKey");
    };
    let obj = match json_object(body) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let Some(key) = obj
        .get("email")
        .or_else(|| obj.get("id"))
        .and_then(Value::as_str)
    else {
        return google_error(400, "required", "Missing required field: memberKey");
    };
    let role = match obj.get("role") {
        None | Some(Value::Null) => "MEMBER".to_string(),
        Some(Value::String(r)) if ["MEMBER", "MANAGER", "OWNER"].contains(&r.as_str()) => r.clone(),
        Some(_) => return invalid("role"),
    };
    let Some(u) = live_user(st, key) else {
        return not_found("memberKey");
    };
    let uid = st.users[u].id.clone();
    if st.groups[g].members.iter().any(|(m, _)| *m == uid) {
        return google_error(409, "duplicate", "Member already exists.");
    }
    st.groups[g].members.push((uid, role.clone()));
    Reply::json(200, member_json(&st.users[u], &role))
}

fn delete_member(st: &mut Store, gkey: &str, mkey: &str) -> Reply {
    let Some(g) = find_group(st, gkey) else {
        return not_found("groupKey");
    };
    let Some(u) = live_user(st, mkey) else {
        return not_found("memberKey");
    };
    let uid = st.users[u].id.clone();
    let members = &mut st.groups[g].members;
    match members.iter().position(|(m, _)| *m == uid) {
        Some(p) => {
            members.remove(p);
            Reply::empty(204)
        }
        None => not_found("memberKey"),
    }
}

// ---- resources

/// The `User` resource, with the properties the discovery document's schema names.
fn user_resource(u: &UserRec) -> Value {
    let g = &u.user;
    let mut emails = vec![json!({"address": g.email, "primary": true})];
    for a in &u.aliases {
        emails.push(json!({"address": a}));
    }
    let mut v = json!({
        "kind": "admin#directory#user",
        "id": u.id,
        "primaryEmail": g.email,
        "name": {
            "givenName": g.given_name,
            "familyName": g.family_name,
            "fullName": full_name(g),
        },
        "isAdmin": g.is_admin,
        "isDelegatedAdmin": false,
        "lastLoginTime": u.last_login.as_deref().unwrap_or(NEVER),
        "creationTime": CREATED,
        "agreedToTerms": true,
        "suspended": g.suspended,
        "archived": u.archived,
        "changePasswordAtNextLogin": false,
        "ipWhitelisted": false,
        "emails": emails,
        "customerId": GoogleStandIn::CUSTOMER_ID,
        "orgUnitPath": u.org_unit,
        "isMailboxSetup": true,
        "isEnrolledIn2Sv": false,
        "isEnforcedIn2Sv": false,
        "includeInGlobalAddressList": true,
    });
    if g.suspended {
        v["suspensionReason"] = json!("ADMIN");
    }
    if let Some(x) = &g.external_id {
        v["externalIds"] = json!([{"value": x, "type": "organization"}]);
    }
    if !u.aliases.is_empty() {
        v["aliases"] = json!(u.aliases);
    }
    if let Some(d) = &u.deleted_at {
        v["deletionTime"] = json!(d);
    }
    v["etag"] = json!(etag(&v));
    v
}

fn full_name(g: &GoogleUser) -> String {
    format!("{} {}", g.given_name, g.family_name)
}

fn token_json(u: &UserRec, g: &AppGrant) -> Value {
    let mut v = json!({
        "kind": "admin#directory#token",
        "clientId": g.client_id,
        "displayText": g.display,
        "anonymous": false,
        "nativeApp": false,
        "scopes": g.scopes,
        "userKey": u.id,
    });
    v["etag"] = json!(etag(&v));
    v
}

fn asp_json(u: &UserRec, a: &AspRec) -> Value {
    let mut v = json!({
        "kind": "admin#directory#asp",
        "codeId": a.code_id,
        "name": a.name,
        "creationTime": a.created_ms.to_string(),
        "lastTimeUsed": a.created_ms.to_string(),
        "userKey": u.id,
    });
    v["etag"] = json!(etag(&v));
    v
}

fn group_json(st: &Store, g: &GroupRec) -> Value {
    let count = g
        .members
        .iter()
        .filter(|(m, _)| {
            st.users
                .iter()
                .any(|u| u.id == *m && u.deleted_at.is_none())
        })
        .count();
    let mut v = json!({
        "kind": "admin#directory#group",
        "id": g.id,
        "email": g.email,
        "name": g.name,
        "description": "",
        "directMembersCount": count.to_string(),
        "adminCreated": true,
        "nonEditableAliases": [],
    });
    v["etag"] = json!(etag(&v));
    v
}

fn member_json(u: &UserRec, role: &str) -> Value {
    let mut v = json!({
        "kind": "admin#directory#member",
        "id": u.id,
        "email": u.user.email,
        "role": role,
        "type": "USER",
        "status": "ACTIVE",
    });
    v["etag"] = json!(etag(&v));
    v
}

/// A list response: `kind`, `etag`, the items under `field` unless there are none, and
/// `nextPageToken` when there is a next page.
fn list_body(kind: &str, field: &str, items: Vec<Value>, next: Option<String>) -> Value {
    let mut m = Map::new();
    m.insert("kind".into(), json!(kind));
    if !items.is_empty() {
        m.insert(field.into(), Value::Array(items));
    }
    if let Some(t) = next {
        m.insert("nextPageToken".into(), json!(t));
    }
    let tag = etag(&Value::Object(m.clone()));
    m.insert("etag".into(), json!(tag));
    Value::Object(m)
}

/// A quoted opaque tag that changes with the content, as Google's etags do.
fn etag(v: &Value) -> String {
    let digest = Sha256::digest(v.to_string().as_bytes());
    format!("\"{}\"", URL_SAFE_NO_PAD.encode(&digest.as_slice()[..18]))
}

fn domain_of(email: &str) -> &str {
    email.rsplit_once('@').map_or("", |(_, d)| d)
}

// ---- paging and search

fn page_size(q: &Query, default: usize, max: usize, clamp: bool) -> Result<usize, Reply> {
    let Some(raw) = q.get("maxResults") else {
        return Ok(default);
    };
    match raw.trim().parse::<usize>() {
        Ok(n) if n >= 1 && (clamp || n <= max) => Ok(n.min(max)),
        _ => Err(google_error(
            400,
            "invalid",
            &format!("Invalid value '{raw}'. Values must be within the range: [1, {max}]"),
        )),
    }
}

fn page_offset(q: &Query) -> Result<usize, Reply> {
    let Some(token) = q.get("pageToken") else {
        return Ok(0);
    };
    URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix("offset:")?.parse::<usize>().ok())
        .ok_or_else(|| invalid("pageToken"))
}

fn paginate<T>(items: Vec<T>, offset: usize, max: usize) -> (Vec<T>, Option<String>) {
    let total = items.len();
    let end = offset.saturating_add(max).min(total);
    let next = (end < total).then(|| URL_SAFE_NO_PAD.encode(format!("offset:{end}")));
    (items.into_iter().skip(offset).take(max).collect(), next)
}

/// One search clause: `field` (empty for a bare word), `op` (`:`, `=`, or ' ' for a bare
/// word) and the unquoted value.
struct Term {
    field: String,
    op: char,
    value: String,
}

/// The `query` grammar of "Search for users" / "Search for groups": clauses separated by
/// spaces, each `field:value`, `field=value` or a bare word, values optionally in single or
/// double quotes (a backslash escapes the next character). Only `fields` are accepted.
fn parse_query(src: &str, fields: &[&str]) -> Result<Vec<Term>, String> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
            i += 1;
        }
        let (field, op) = match chars.get(i) {
            Some(&c) if (c == ':' || c == '=') && i > start => {
                let f: String = chars[start..i].iter().collect();
                i += 1;
                (f, c)
            }
            _ => {
                i = start;
                (String::new(), ' ')
            }
        };
        let value: String = match chars.get(i) {
            Some(&quote) if quote == '\'' || quote == '"' => {
                i += 1;
                let mut v = String::new();
                loop {
                    match chars.get(i) {
                        None => return Err(format!("unterminated quote in query {src:?}")),
                        Some(&'\\') if i + 1 < chars.len() => {
                            v.push(chars[i + 1]);
                            i += 2;
                        }
                        Some(&c) if c == quote => {
                            i += 1;
                            break;
                        }
                        Some(&c) => {
                            v.push(c);
                            i += 1;
                        }
                    }
                }
                v
            }
            _ => {
                let s = i;
                while i < chars.len() && !chars[i].is_whitespace() {
                    i += 1;
                }
                chars[s..i].iter().collect()
            }
        };
        if !field.is_empty() && !fields.contains(&field.as_str()) {
            return Err(format!(
                "query field '{field}' (the stand-in searches {})",
                fields.join(", ")
            ));
        }
        if field.starts_with("is") && (op != '=' || (value != "true" && value != "false")) {
            return Err(format!("{field} takes =true or =false"));
        }
        if value.is_empty() {
            return Err(format!("empty value for '{field}' in query {src:?}"));
        }
        out.push(Term { field, op, value });
    }
    Ok(out)
}

/// `=` is equality; `:` matches a `PREFIX*`, the whole value or one of its words; all
/// case-insensitively.
fn text_matches(actual: &str, op: char, value: &str) -> bool {
    let a = actual.to_lowercase();
    let v = value.to_lowercase();
    if op == '=' {
        return a == v;
    }
    match v.strip_suffix('*') {
        Some(prefix) => a.starts_with(prefix),
        None => a == v || a.split(|c: char| !c.is_alphanumeric()).any(|w| w == v),
    }
}

fn user_matches(u: &UserRec, t: &Term) -> bool {
    let g = &u.user;
    let emails = || std::iter::once(g.email.as_str()).chain(u.aliases.iter().map(String::as_str));
    let flag = t.value == "true";
    match t.field.as_str() {
        "email" => emails().any(|e| text_matches(e, t.op, &t.value)),
        "externalId" => g.external_id.as_deref() == Some(t.value.as_str()),
        "givenName" => text_matches(&g.given_name, t.op, &t.value),
        "familyName" => text_matches(&g.family_name, t.op, &t.value),
        "name" => text_matches(&full_name(g), t.op, &t.value),
        "isSuspended" => g.suspended == flag,
        "isAdmin" => g.is_admin == flag,
        "isArchived" => u.archived == flag,
        // "This matches all org unit chains under the target."
        "orgUnitPath" => {
            let target = t.value.trim_end_matches('/');
            target.is_empty()
                || u.org_unit == target
                || u.org_unit.starts_with(&format!("{target}/"))
        }
        // A bare word: "Compare against the value in givenName, familyName, or email."
        _ => [g.given_name.as_str(), g.family_name.as_str()]
            .into_iter()
            .chain(emails())
            .any(|a| text_matches(a, ':', &t.value)),
    }
}

fn group_matches(g: &GroupRec, t: &Term) -> bool {
    match t.field.as_str() {
        "email" => text_matches(&g.email, t.op, &t.value),
        "name" => text_matches(&g.name, t.op, &t.value),
        _ => text_matches(&g.email, ':', &t.value) || text_matches(&g.name, ':', &t.value),
    }
}

// ---- errors

/// Google's JSON error body with one error of `reason` in domain `global`.
fn google_error(status: u16, reason: &str, message: &str) -> Reply {
    Reply::json(
        status,
        json!({"error": {
            "code": status,
            "message": message,
            "errors": [{"message": message, "domain": "global", "reason": reason}],
        }}),
    )
}

/// `what` is the parameter that named nothing: `userKey`, `groupKey`, `memberKey`, ...
fn not_found(what: &str) -> Reply {
    google_error(404, "notFound", &format!("Resource Not Found: {what}"))
}

fn invalid(detail: &str) -> Reply {
    google_error(400, "invalid", &format!("Invalid Input: {detail}"))
}

fn bad_request() -> Reply {
    google_error(400, "badRequest", "Bad Request")
}

fn insufficient_scopes(method_id: &str) -> Reply {
    Reply::json(
        403,
        json!({"error": {
            "code": 403,
            "message": "Request had insufficient authentication scopes.",
            "errors": [{
                "message": "Insufficient Permission",
                "domain": "global",
                "reason": "insufficientPermissions",
            }],
            "status": "PERMISSION_DENIED",
            "details": [{
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
                "domain": "googleapis.com",
                "metadata": {"service": "admin.googleapis.com", "method": method_id},
            }],
        }}),
    )
}

fn quota_error(kind: Quota) -> Reply {
    let (status, reason, message) = match kind {
        Quota::RateLimitExceeded => (403, "rateLimitExceeded", "Rate Limit Exceeded"),
        Quota::UserRateLimitExceeded => (403, "userRateLimitExceeded", "User Rate Limit Exceeded"),
        Quota::TooManyRequests => (
            429,
            "quotaExceeded",
            "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user' of service 'admin.googleapis.com' (stand-in wording).",
        ),
    };
    let mut error = json!({
        "code": status,
        "message": message,
        "errors": [{"message": message, "domain": "usageLimits", "reason": reason}],
    });
    if status == 429 {
        error["status"] = json!("RESOURCE_EXHAUSTED");
    }
    Reply::json(status, json!({ "error": error }))
}

/// The token endpoint's error body.
fn oauth_error(status: u16, error: &str, description: &str) -> Reply {
    Reply::json(
        status,
        json!({"error": error, "error_description": description}),
    )
}

// ---- small helpers

fn json_object(body: &[u8]) -> Result<Map<String, Value>, Reply> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(google_error(400, "parseError", "Parse Error")),
    }
}

fn now_rfc3339() -> String {
    let t = jiff::Timestamp::now();
    format!(
        "{}.{:03}Z",
        t.strftime("%Y-%m-%dT%H:%M:%S"),
        t.subsec_millisecond()
    )
}

struct Query(Vec<(String, String)>);

impl Query {
    fn parse(raw: &str) -> Query {
        Query(parse_pairs(raw))
    }
    /// The first value of `name`.
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The admin test policies' `google` connectors act as (seed it with `is_admin`).
pub const ADMIN: &str = "offboard-admin@acme.com";

impl GoogleStandIn {
    /// Settings of a `google` connector aimed at this stand-in, acting as [`ADMIN`] (which
    /// must be seeded as an admin); the service account's key is written to [`KEY_FILE`]
    /// in `repo`.
    pub fn settings(&self, repo: &Path) -> offboard::connector::google::GoogleSettings {
        self.service_account(repo);
        offboard::connector::google::GoogleSettings {
            service_account: offboard::policy::SecretRef::File(KEY_FILE.into()),
            admin: ADMIN.into(),
            customer: "my_customer".into(),
            token_url: Some(self.token_url()),
            api_url: self.url(),
            page_size: 500,
            timeout: jiff::SignedDuration::from_secs(10),
            delete: true,
        }
    }

    /// The `connector google ...` line of a policy in `repo` (the key file written there).
    pub fn connector_line(&self, repo: &Path) -> String {
        self.service_account(repo);
        format!(
            "connector google admin=\"{ADMIN}\" service-account-file=\"{KEY_FILE}\" token-url=\"{}\" api-url=\"{}\" delete=#true",
            self.token_url(),
            self.url()
        )
    }

    /// Seed the admin the connector acts as.
    pub fn add_admin(&self) -> String {
        self.add_user(GoogleUser {
            is_admin: true,
            ..GoogleUser::new(ADMIN)
        })
    }
}
