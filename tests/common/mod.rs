//! Test harness shared by the integration tests: real servers started on 127.0.0.1, and
//! small file helpers. A real server that cannot start fails the test loudly; only the
//! explicit `OFFBOARD_SKIP_REAL_SERVERS=1` (for quick local loops, never CI) skips.

#![allow(dead_code)]

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// `true` when the developer asked to skip real servers (never set in CI).
pub fn skip_real_servers(what: &str) -> bool {
    if std::env::var("OFFBOARD_SKIP_REAL_SERVERS").is_ok_and(|v| v == "1") {
        assert!(
            std::env::var("CI").is_err(),
            "OFFBOARD_SKIP_REAL_SERVERS must not be set in CI"
        );
        eprintln!("SKIPPED {what}: OFFBOARD_SKIP_REAL_SERVERS=1");
        return true;
    }
    false
}

/// A private copy of the bundled example (policies without the per-connector examples, and
/// the inventory), without a journal.
pub fn example_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&root().join("policies"), &dir.path().join("policies"));
    std::fs::remove_dir_all(dir.path().join("policies/examples")).ok();
    copy_dir(&root().join("inventory"), &dir.path().join("inventory"));
    dir
}

/// Make `dir` a git repository with everything in it committed once (fixed author and time).
pub fn commit_all(dir: &Path, message: &str) {
    let repo = git2::Repository::init(dir).unwrap();
    let mut index = repo.index().unwrap();
    index
        .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
        .unwrap();
    index.write().unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let sig = git2::Signature::new("a", "a@acme.com", &git2::Time::new(1_795_000_000, 0)).unwrap();
    repo.commit(Some("HEAD"), &sig, &sig, message, &tree, &[])
        .unwrap();
}

/// Start the journal `apply` appends to, as `offboard journal init` does.
pub fn init_journal(dir: &Path) {
    offboard::journal::Journal::create(&dir.join(".offboard/journal.db"), "test", "localhost")
        .unwrap();
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Wait until a freshly started server listens on `port`; an error (with its stderr) if it
/// exits or does not listen within 20 s. Tests run in parallel, so a port that was free a
/// moment ago may have been taken meanwhile: the server must still be running once the
/// port answers, or the answer came from someone else.
fn wait_listening(child: &mut Child, port: u16, name: &str) -> Result<(), String> {
    let start = Instant::now();
    let exited = |child: &mut Child| -> Option<String> {
        let status = child.try_wait().ok().flatten()?;
        let mut err = String::new();
        if let Some(mut s) = child.stderr.take() {
            let _ = s.read_to_string(&mut err);
        }
        Some(format!("{name} exited at start ({status}):\n{err}"))
    };
    loop {
        if let Some(e) = exited(child) {
            return Err(e);
        }
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            std::thread::sleep(Duration::from_millis(50));
            return match exited(child) {
                Some(e) => Err(e),
                None => Ok(()),
            };
        }
        if start.elapsed() > Duration::from_secs(20) {
            return Err(format!("{name} did not listen on port {port} within 20 s"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Start a server (`spawn` on a fresh port) up to three times: a port taken by a parallel
/// test between choosing and binding it is not a failure of the server. The third failure
/// panics with the reason; nothing is ever skipped silently.
fn start_with_retries<T>(name: &str, mut attempt: impl FnMut(u16) -> Result<T, String>) -> T {
    let mut last = String::new();
    for _ in 0..3 {
        match attempt(free_port()) {
            Ok(server) => return server,
            Err(e) => last = e,
        }
    }
    panic!("{name} could not be started (3 attempts): {last}")
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// A plan holding only `changes`, for driving the executor directly (benchmarks).
pub fn plan_of(changes: Vec<offboard::plan::Change>) -> offboard::plan::Plan {
    use offboard::plan::{FORMAT_VERSION, Plan, PolicyRef, RosterRef};
    Plan {
        format_version: FORMAT_VERSION,
        created_at: jiff::Timestamp::UNIX_EPOCH,
        policy: PolicyRef {
            content_hash: "bench".into(),
            git_commit: None,
            dirty: None,
        },
        roster: RosterRef {
            source: "bench".into(),
            hash: "bench".into(),
            people: 0,
        },
        refreshed: Vec::new(),
        leavers: Vec::new(),
        changes,
        notes: Vec::new(),
        warnings: Vec::new(),
        journal: None,
    }
}

/// An update of one account with `actions`, as the planner would write it.
pub fn change_for(
    system: &str,
    tier: offboard::policy::Tier,
    account: &offboard::connector::Account,
    actions: Vec<offboard::policy::Action>,
    after: Option<offboard::plan::AccountState>,
) -> offboard::plan::Change {
    offboard::plan::Change {
        person: account.username.clone(),
        system: system.to_string(),
        tier,
        kind: offboard::plan::ChangeKind::Update,
        account: Some(offboard::plan::AccountRef {
            id: account.id.clone(),
            username: account.username.clone(),
            label: account.username.clone(),
            fingerprint: account.fingerprint(),
            version: account.version().map(str::to_string),
        }),
        actions,
        before: None,
        after,
        task: None,
        rules: Vec::new(),
    }
}

pub const SCIM_TOKEN: &str = "test-scim-token-5b1f";

/// A real `scim2-server` (PyPI scim2-server 0.8.3) on 127.0.0.1, stopped on drop.
pub struct ScimServer {
    child: Option<Child>,
    pub port: u16,
}

impl ScimServer {
    fn binary() -> PathBuf {
        std::env::var_os("OFFBOARD_SCIM_SERVER")
            .map(PathBuf::from)
            .unwrap_or_else(|| root().join("target/venv/bin/scim2-server"))
    }

    /// Start on a free port with `--dynamic-tenants`; panics with the reason if it cannot.
    pub fn start() -> ScimServer {
        start_with_retries("scim2-server", Self::try_start_on)
    }

    /// Start on `port` (a restart on the same port); panics with the reason if it cannot.
    pub fn start_on(port: u16) -> ScimServer {
        Self::try_start_on(port).unwrap_or_else(|e| panic!("{e}"))
    }

    fn try_start_on(port: u16) -> Result<ScimServer, String> {
        let bin = Self::binary();
        assert!(
            bin.exists(),
            "scim2-server not found at {}: run `bash tests/run.sh` (it installs PyPI scim2-server==0.8.3 into target/venv)",
            bin.display()
        );
        let mut child = Command::new(&bin)
            .args([
                "--hostname",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--bearer-token",
                SCIM_TOKEN,
                "--dynamic-tenants",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        if let Err(e) = wait_listening(&mut child, port, "scim2-server") {
            stop(child);
            return Err(e);
        }
        Ok(ScimServer {
            child: Some(child),
            port,
        })
    }

    /// Base URL of one tenant (each has its own store).
    pub fn url(&self, tenant: &str) -> String {
        format!("http://127.0.0.1:{}/{tenant}/v2", self.port)
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for ScimServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A tiny SCIM client for seeding and independent checks (not the connector under test).
pub struct ScimClient {
    pub base: String,
    http: reqwest::Client,
}

impl ScimClient {
    pub fn new(base: &str) -> Self {
        ScimClient {
            base: base.to_string(),
            http: reqwest::Client::new(),
        }
    }

    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}/{path}", self.base))
            .bearer_auth(SCIM_TOKEN);
        if let Some(b) = body {
            req = req
                .header("Content-Type", "application/scim+json")
                .body(b.to_string());
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn create_user(&self, user_name: &str, email: &str, active: bool) -> String {
        let (status, body) = self
            .request(
                reqwest::Method::POST,
                "Users",
                Some(json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": user_name,
                    "emails": [{"value": email, "primary": true}],
                    "active": active,
                })),
            )
            .await;
        assert_eq!(status, 201, "create user: {body}");
        body["id"].as_str().unwrap().to_string()
    }

    pub async fn create_group(&self, name: &str, members: &[&str]) -> String {
        let members: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
        let (status, body) = self
            .request(
                reqwest::Method::POST,
                "Groups",
                Some(json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                    "displayName": name,
                    "members": members,
                })),
            )
            .await;
        assert_eq!(status, 201, "create group: {body}");
        body["id"].as_str().unwrap().to_string()
    }

    pub async fn user(&self, id: &str) -> Option<Value> {
        let (status, body) = self
            .request(reqwest::Method::GET, &format!("Users/{id}"), None)
            .await;
        (status == 200).then_some(body)
    }

    /// Ids of the groups that list `id` as a member (read from every group, no filter).
    pub async fn groups_of(&self, id: &str) -> Vec<String> {
        let (_, body) = self
            .request(reqwest::Method::GET, "Groups?count=1000", None)
            .await;
        body["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|g| {
                g["members"]
                    .as_array()
                    .is_some_and(|ms| ms.iter().any(|m| m["value"] == id))
            })
            .map(|g| g["displayName"].as_str().unwrap().to_string())
            .collect()
    }
}

pub const LDAP_SUFFIX: &str = "dc=acme,dc=test";
pub const LDAP_ADMIN: &str = "cn=admin,dc=acme,dc=test";
pub const LDAP_ADMIN_PASSWORD: &str = "test-bind-secret-3c9a";

/// Attributes and classes that make slapd look enough like Active Directory for the
/// `active-directory` flavour: `sAMAccountName`, `userAccountControl`, `unicodePwd` (what a
/// password reset writes), `user`, `group`.
const AD_SCHEMA: &str = "\
attributetype ( 1.3.6.1.4.1.99999.1.1 NAME 'sAMAccountName' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.99999.1.2 NAME 'userAccountControl' EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.99999.1.3 NAME 'lastLogonTimestamp' EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.99999.1.4 NAME 'unicodePwd' SYNTAX 1.3.6.1.4.1.1466.115.121.1.40 SINGLE-VALUE )
objectclass ( 1.3.6.1.4.1.99999.2.1 NAME 'user' SUP inetOrgPerson STRUCTURAL MAY ( sAMAccountName $ userAccountControl $ lastLogonTimestamp $ unicodePwd ) )
objectclass ( 1.3.6.1.4.1.99999.2.2 NAME 'group' SUP groupOfNames STRUCTURAL )
";

/// A private OpenLDAP `slapd` (Debian slapd, OpenLDAP 2.5) on 127.0.0.1: mdb, memberof,
/// refint, ppolicy with lockout, the AD-like schema, and the base OUs. Stopped on drop.
pub struct Slapd {
    child: Option<Child>,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl Slapd {
    /// Start and seed a fresh slapd; panics with the reason if three attempts fail.
    pub fn start() -> Slapd {
        start_with_retries("slapd", Slapd::try_start)
    }

    fn try_start(port: u16) -> Result<Slapd, String> {
        let bin = PathBuf::from(
            std::env::var("OFFBOARD_SLAPD").unwrap_or_else(|_| "/usr/sbin/slapd".into()),
        );
        assert!(
            bin.exists(),
            "slapd not found at {}: run `bash tests/run.sh` (it installs Debian's slapd and ldap-utils)",
            bin.display()
        );
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("data")).unwrap();
        std::fs::write(d.join("ad.schema"), AD_SCHEMA).unwrap();
        std::fs::write(
            d.join("slapd.conf"),
            format!(
                "include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
include {dir}/ad.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
moduleload refint
moduleload ppolicy
pidfile {dir}/slapd.pid
argsfile {dir}/slapd.args
database mdb
maxsize 104857600
suffix \"{LDAP_SUFFIX}\"
rootdn \"{LDAP_ADMIN}\"
rootpw {LDAP_ADMIN_PASSWORD}
directory {dir}/data
index objectClass eq
index uid,mail,sAMAccountName eq
overlay memberof
overlay refint
refint_attributes member
overlay ppolicy
ppolicy_default \"cn=default,ou=Policies,{LDAP_SUFFIX}\"
ppolicy_use_lockout
access to attrs=userPassword by self write by anonymous auth by * none
access to * by * read
",
                dir = d.display()
            ),
        )
        .unwrap();
        let mut child = Command::new(&bin)
            .args(["-d", "0", "-h", &format!("ldap://127.0.0.1:{port}/"), "-f"])
            .arg(d.join("slapd.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        if let Err(e) = wait_listening(&mut child, port, "slapd") {
            stop(child);
            return Err(e);
        }
        // Dropping the value stops the server if seeding fails.
        let slapd = Slapd {
            child: Some(child),
            port,
            dir,
        };
        slapd.try_add(&format!(
            "dn: {LDAP_SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: Acme\ndc: acme\n\n\
             dn: ou=People,{LDAP_SUFFIX}\nobjectClass: organizationalUnit\nou: People\n\n\
             dn: ou=Groups,{LDAP_SUFFIX}\nobjectClass: organizationalUnit\nou: Groups\n\n\
             dn: ou=Disabled Users,{LDAP_SUFFIX}\nobjectClass: organizationalUnit\nou: Disabled Users\n\n\
             dn: ou=Policies,{LDAP_SUFFIX}\nobjectClass: organizationalUnit\nou: Policies\n\n\
             dn: cn=default,ou=Policies,{LDAP_SUFFIX}\nobjectClass: organizationalRole\nobjectClass: pwdPolicy\ncn: default\npwdAttribute: userPassword\npwdLockout: TRUE\n"
        ))?;
        Ok(slapd)
    }

    pub fn url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.port)
    }

    /// `ldapadd` an LDIF (seeding goes through the protocol so memberof sees it).
    pub fn add(&self, ldif: &str) {
        self.try_add(ldif).unwrap_or_else(|e| panic!("{e}"));
    }

    fn try_add(&self, ldif: &str) -> Result<(), String> {
        let path = self
            .dir
            .path()
            .join(format!("seed-{}.ldif", std::process::id()));
        std::fs::write(&path, ldif).unwrap();
        let out = Command::new("ldapadd")
            .args([
                "-x",
                "-H",
                &self.url(),
                "-D",
                LDAP_ADMIN,
                "-w",
                LDAP_ADMIN_PASSWORD,
                "-f",
            ])
            .arg(&path)
            .output()
            .map_err(|e| {
                format!("ldapadd (ldap-utils) must be installed: run `bash tests/run.sh` ({e})")
            })?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "ldapadd failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// `ldapsearch` as the admin; returns the LDIF text.
    pub fn search(&self, base: &str, filter: &str, attrs: &[&str]) -> String {
        let out = Command::new("ldapsearch")
            .args([
                "-x",
                "-LLL",
                "-o",
                "ldif-wrap=no",
                "-H",
                &self.url(),
                "-D",
                LDAP_ADMIN,
                "-w",
                LDAP_ADMIN_PASSWORD,
                "-b",
                base,
                filter,
            ])
            .args(attrs)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Whether `dn` can bind with `password` (an independent `ldapwhoami`).
    pub fn can_bind(&self, dn: &str, password: &str) -> bool {
        Command::new("ldapwhoami")
            .args(["-x", "-H", &self.url(), "-D", dn, "-w", password])
            .output()
            .unwrap()
            .status
            .success()
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// An executor for benchmarks and tests: each `(system, connector, concurrency)` behind the
/// default retries, journaling into `dir/j.db`.
pub fn executor(
    systems: Vec<(
        String,
        std::sync::Arc<dyn offboard::connector::Connector>,
        usize,
    )>,
    dir: &Path,
) -> offboard::apply::Executor {
    use offboard::apply::retry::{RetryPolicy, Retrying};
    let targets = systems
        .into_iter()
        .map(|(name, connector, concurrency)| {
            let target = offboard::apply::Target {
                connector: std::sync::Arc::new(Retrying::new(connector, RetryPolicy::default())),
                concurrency,
            };
            (name, target)
        })
        .collect();
    offboard::apply::Executor {
        targets,
        journal: offboard::journal::SharedJournal::new(
            offboard::journal::Journal::create(&dir.join("j.db"), "test", "localhost").unwrap(),
        ),
        run_id: "bench".into(),
        touched: Default::default(),
    }
}
