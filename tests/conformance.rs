//! The connector conformance suite: one set of test bodies, run against every backend (the
//! file connector, a real SCIM 2.0 server, OpenLDAP and OpenLDAP posing as Active Directory,
//! the Microsoft Graph stand-in, the Okta stand-in behind a validating Prism proxy, and the
//! Google Workspace stand-in with its requests checked against Google's discovery document),
//! gated on declared capabilities: listing, reading, disable, group removal, delete, move,
//! password reset, restore, conditional writes and how an unreachable system's error is
//! classified.

use offboard_test_support as common;

use std::sync::Arc;

use offboard::connector::file::FileConnector;
use offboard::connector::google::{Google, GoogleSettings};
use offboard::connector::graph::{Graph, GraphSettings};
use offboard::connector::ldap::Ldap3;
use offboard::connector::ldap::{LdapFlavor, LdapSettings};
use offboard::connector::okta::{Okta, OktaSettings};
use offboard::connector::scim::ScimSettings;
use offboard::connector::scim::{Scim, Token};
use offboard::connector::secret::Secret;
use offboard::connector::{AccountStatus, Conditional, Connector, ErrorKind, Lookup, Restore};
use offboard::policy::{Action, FileFormat, SecretRef};

/// A connector with seven seeded users `user0..user6@acme.com`; `eng` holds users 0-2 and
/// `all` holds everyone.
struct Backend {
    connector: Arc<dyn Connector>,
    ids: Vec<String>,
    /// A connector of the same kind aimed at nothing, and the error kind it must report.
    unreachable: (Arc<dyn Connector>, ErrorKind),
    _guard: Box<dyn std::any::Any + Send>,
    /// Checked after each case: a validating proxy saw no violation of the vendor's API
    /// description.
    check: Option<Box<dyn Fn() + Send + Sync>>,
    /// How the system names the seeded groups `eng` and `all` (Google names groups by their
    /// address).
    group: fn(&str) -> String,
}

impl Backend {
    fn finish(&self) {
        if let Some(check) = &self.check {
            check();
        }
    }
}

const USERS: usize = 7;

async fn file_backend() -> Option<Backend> {
    let dir = tempfile::tempdir().unwrap();
    let accounts: Vec<serde_json::Value> = (0..USERS)
        .map(|i| {
            let mut groups = vec!["all"];
            if i < 3 {
                groups.insert(0, "eng");
            }
            serde_json::json!({"id": format!("f{i}"), "username": format!("user{i}@acme.com"),
                "emails": [format!("user{i}@acme.com")], "status": "active", "groups": groups})
        })
        .collect();
    let path = dir.path().join("app.json");
    std::fs::write(&path, serde_json::json!({"accounts": accounts}).to_string()).unwrap();
    Some(Backend {
        connector: Arc::new(FileConnector::new("app", path, FileFormat::Json)),
        ids: (0..USERS).map(|i| format!("f{i}")).collect(),
        // A missing export will not appear by retrying.
        unreachable: (
            Arc::new(FileConnector::new(
                "app",
                dir.path().join("missing.json"),
                FileFormat::Json,
            )),
            ErrorKind::Permanent,
        ),
        _guard: Box::new(dir),
        check: None,
        group: str::to_string,
    })
}

async fn scim_backend() -> Option<Backend> {
    if common::skip_real_servers("scim conformance") {
        return None;
    }
    let server = tokio::task::spawn_blocking(common::ScimServer::start)
        .await
        .unwrap();
    let url = server.url("conformance");
    let client = common::ScimClient::new(&url);
    let mut ids = Vec::new();
    for i in 0..USERS {
        ids.push(
            client
                .create_user(
                    &format!("user{i}@acme.com"),
                    &format!("user{i}@acme.com"),
                    true,
                )
                .await,
        );
    }
    client
        .create_group("eng", &[&ids[0], &ids[1], &ids[2]])
        .await;
    let all: Vec<&str> = ids.iter().map(String::as_str).collect();
    client.create_group("all", &all).await;
    let cfg = ScimSettings {
        url,
        token: SecretRef::Env("UNUSED".into()),
        page_size: 2, // seven users: four pages
        timeout: jiff::SignedDuration::from_secs(10),
        hard_delete: true,
        manage_groups: true,
        user_attribute: "userName".into(),
    };
    let scim = Scim::new("app", &cfg, Token::new(common::SCIM_TOKEN)).unwrap();
    let nowhere = ScimSettings {
        url: format!("http://127.0.0.1:{}/scim/v2", common::free_port()),
        timeout: jiff::SignedDuration::from_secs(2),
        ..cfg
    };
    let nowhere = Scim::new("app", &nowhere, Token::new(common::SCIM_TOKEN)).unwrap();
    Some(Backend {
        connector: Arc::new(scim),
        ids,
        unreachable: (Arc::new(nowhere), ErrorKind::Temporary),
        _guard: Box::new(server),
        check: None,
        group: str::to_string,
    })
}

fn ldap_backend_with(flavor: LdapFlavor) -> Option<Backend> {
    if common::skip_real_servers("ldap conformance") {
        return None;
    }
    let slapd = common::Slapd::start();
    let s = common::LDAP_SUFFIX;
    let (user_class, login, group_class) = match flavor {
        LdapFlavor::ActiveDirectory => ("user\nuserAccountControl: 512", "sAMAccountName", "group"),
        LdapFlavor::Openldap => ("inetOrgPerson", "uid", "groupOfNames"),
    };
    let mut ldif = String::new();
    let mut ids = Vec::new();
    for i in 0..USERS {
        let name = format!("user{i}@acme.com");
        ldif.push_str(&format!(
            "dn: cn=User {i},ou=People,{s}\nobjectClass: {user_class}\n{login}: {name}\ncn: User {i}\nsn: {i}\nmail: {name}\nuserPassword: pw{i}\n\n"
        ));
        ids.push(name);
    }
    let member = |i: usize| format!("member: cn=User {i},ou=People,{s}\n");
    ldif.push_str(&format!(
        "dn: cn=eng,ou=Groups,{s}\nobjectClass: {group_class}\ncn: eng\n{}{}{}\n",
        member(0),
        member(1),
        member(2)
    ));
    ldif.push_str(&format!(
        "dn: cn=all,ou=Groups,{s}\nobjectClass: {group_class}\ncn: all\n{}\n",
        (0..USERS).map(member).collect::<String>()
    ));
    slapd.add(&ldif);
    let cfg = LdapSettings {
        url: slapd.url(),
        bind_dn: common::LDAP_ADMIN.into(),
        password: SecretRef::Env("UNUSED".into()),
        base_dn: format!("ou=People,{s}"),
        disabled_ou: Some(format!("ou=Disabled Users,{s}")),
        group_base_dn: Some(format!("ou=Groups,{s}")),
        flavor,
        starttls: false,
        page_size: 2, // seven users: four pages
        timeout: jiff::SignedDuration::from_secs(10),
    };
    let ldap = Ldap3::new("directory", &cfg, Secret::new(common::LDAP_ADMIN_PASSWORD));
    let nowhere = LdapSettings {
        url: format!("ldap://127.0.0.1:{}", common::free_port()),
        timeout: jiff::SignedDuration::from_secs(2),
        ..cfg
    };
    let nowhere = Ldap3::new(
        "directory",
        &nowhere,
        Secret::new(common::LDAP_ADMIN_PASSWORD),
    );
    Some(Backend {
        connector: Arc::new(ldap),
        ids,
        unreachable: (Arc::new(nowhere), ErrorKind::Temporary),
        _guard: Box::new(slapd),
        check: None,
        group: str::to_string,
    })
}

async fn graph_backend() -> Option<Backend> {
    let dir = tempfile::tempdir().unwrap();
    let graph = common::GraphStandIn::start();
    let mut ids = Vec::new();
    for i in 0..USERS {
        ids.push(graph.add_user(common::GraphUser::new(&format!("user{i}@acme.com"))));
    }
    let id = |i: usize| ids[i].as_str();
    graph.add_group("eng", common::GroupKind::Assigned, &[id(0), id(1), id(2)]);
    let all: Vec<&str> = ids.iter().map(String::as_str).collect();
    graph.add_group("all", common::GroupKind::Assigned, &all);
    let cfg = GraphSettings {
        page_size: 2, // seven users: four pages
        ..graph.settings(dir.path())
    };
    let connector = Graph::new("entra", &cfg, dir.path()).unwrap();
    let port = common::free_port();
    let nowhere = GraphSettings {
        authority: format!("http://127.0.0.1:{port}"),
        graph_url: format!("http://127.0.0.1:{port}"),
        timeout: jiff::SignedDuration::from_secs(2),
        ..cfg
    };
    let nowhere = Graph::new("entra", &nowhere, dir.path()).unwrap();
    Some(Backend {
        connector: Arc::new(connector),
        ids,
        unreachable: (Arc::new(nowhere), ErrorKind::Temporary),
        _guard: Box::new((graph, dir)),
        check: None,
        group: str::to_string,
    })
}

/// Okta's Management API, through Stoplight Prism validating every request and answer
/// against Okta's published description (npm @okta/openapi 2.15.0).
async fn okta_backend() -> Option<Backend> {
    let dir = tempfile::tempdir().unwrap();
    let okta = tokio::task::spawn_blocking(common::OktaBehindPrism::start)
        .await
        .unwrap();
    let mut ids = Vec::new();
    for i in 0..USERS {
        ids.push(
            okta.okta
                .add_user(common::OktaUser::new(&format!("user{i}@acme.com"))),
        );
    }
    let id = |i: usize| ids[i].as_str();
    okta.okta
        .add_group("eng", "OKTA_GROUP", &[id(0), id(1), id(2)]);
    let all: Vec<&str> = ids.iter().map(String::as_str).collect();
    okta.okta.add_group("all", "OKTA_GROUP", &all);
    let cfg = OktaSettings {
        page_size: 2, // seven users: four pages
        ..okta.okta.settings(dir.path(), &okta.url())
    };
    let connector = Okta::new("okta", &cfg, dir.path()).unwrap();
    let nowhere = OktaSettings {
        url: format!("http://127.0.0.1:{}", common::free_port()),
        timeout: jiff::SignedDuration::from_secs(2),
        ..cfg
    };
    let nowhere = Okta::new("okta", &nowhere, dir.path()).unwrap();
    let okta = Arc::new(okta);
    let checked = Arc::clone(&okta);
    Some(Backend {
        connector: Arc::new(connector),
        ids,
        unreachable: (Arc::new(nowhere), ErrorKind::Temporary),
        _guard: Box::new((okta, dir)),
        check: Some(Box::new(move || checked.prism.assert_no_violations())),
        group: str::to_string,
    })
}

/// Google Workspace's Directory API stand-in; every request is checked against Google's
/// discovery document for the API.
async fn google_backend() -> Option<Backend> {
    let dir = tempfile::tempdir().unwrap();
    let google = common::GoogleStandIn::start();
    google.add_admin();
    let mut ids = Vec::new();
    for i in 0..USERS {
        ids.push(google.add_user(common::GoogleUser::new(&format!("user{i}@acme.com"))));
    }
    let id = |i: usize| ids[i].as_str();
    google.add_group("eng@acme.com", "eng", &[id(0), id(1), id(2)]);
    let all: Vec<&str> = ids.iter().map(String::as_str).collect();
    google.add_group("all@acme.com", "all", &all);
    let cfg = GoogleSettings {
        page_size: 2, // eight users with the admin: four pages
        ..google.settings(dir.path())
    };
    let connector = Google::new("google", &cfg, dir.path()).unwrap();
    let port = common::free_port();
    let nowhere = GoogleSettings {
        token_url: Some(format!("http://127.0.0.1:{port}/token")),
        api_url: format!("http://127.0.0.1:{port}"),
        timeout: jiff::SignedDuration::from_secs(2),
        ..cfg
    };
    let nowhere = Google::new("google", &nowhere, dir.path()).unwrap();
    let google = Arc::new(google);
    let checked = Arc::clone(&google);
    Some(Backend {
        connector: Arc::new(GoogleWithoutAdmin(connector)),
        ids,
        unreachable: (Arc::new(nowhere), ErrorKind::Temporary),
        _guard: Box::new((google, dir)),
        check: Some(Box::new(move || {
            let violations =
                common::discovery::Discovery::directory().check_all(&checked.requests());
            assert!(violations.is_empty(), "{violations:#?}");
        })),
        group: |g| format!("{g}@acme.com"),
    })
}

/// The Google backend's listing without the admin the connector acts as, so the shared cases
/// see exactly their seven users.
struct GoogleWithoutAdmin(Google);

#[async_trait::async_trait]
impl Connector for GoogleWithoutAdmin {
    fn system(&self) -> &str {
        self.0.system()
    }
    fn capabilities(&self) -> Vec<Action> {
        self.0.capabilities()
    }
    async fn list_accounts(
        &self,
    ) -> Result<Vec<offboard::connector::Account>, offboard::connector::ConnectorError> {
        let mut all = self.0.list_accounts().await?;
        all.retain(|a| a.username != common::google::ADMIN);
        Ok(all)
    }
    async fn read_account(
        &self,
        id: &str,
    ) -> Result<Option<offboard::connector::Account>, offboard::connector::ConnectorError> {
        self.0.read_account(id).await
    }
    async fn find_accounts(
        &self,
        lookups: &[Lookup],
    ) -> Result<Option<Vec<offboard::connector::Account>>, offboard::connector::ConnectorError>
    {
        self.0.find_accounts(lookups).await
    }
    async fn perform(
        &self,
        id: &str,
        action: Action,
    ) -> Result<(), offboard::connector::ConnectorError> {
        self.0.perform(id, action).await
    }
    async fn restore(
        &self,
        id: &str,
        restore: &Restore,
    ) -> Result<(), offboard::connector::ConnectorError> {
        self.0.restore(id, restore).await
    }
}

async fn openldap_backend() -> Option<Backend> {
    tokio::task::spawn_blocking(|| ldap_backend_with(LdapFlavor::Openldap))
        .await
        .unwrap()
}

async fn active_directory_backend() -> Option<Backend> {
    tokio::task::spawn_blocking(|| ldap_backend_with(LdapFlavor::ActiveDirectory))
        .await
        .unwrap()
}

mod cases {
    use super::*;

    pub async fn list_returns_every_account(b: &Backend) {
        let mut accounts = b.connector.list_accounts().await.unwrap();
        accounts.sort_by(|a, b| a.username.cmp(&b.username));
        assert_eq!(accounts.len(), USERS, "pagination must collect every page");
        for (i, a) in accounts.iter().enumerate() {
            assert_eq!(a.username, format!("user{i}@acme.com"));
            assert_eq!(a.emails, [format!("user{i}@acme.com")]);
            assert_eq!(a.status, AccountStatus::Active);
            let mut expected = vec![(b.group)("all")];
            if i < 3 {
                expected.insert(0, (b.group)("eng"));
            }
            let mut groups = a.groups.clone();
            groups.sort();
            expected.sort();
            assert_eq!(groups, expected, "groups of user{i}");
        }
    }

    /// A targeted lookup finds exactly what correlation would match, ignoring case, with
    /// the same groups as a full list; filter metacharacters in a value find nothing.
    pub async fn find_accounts_matches_like_correlation(b: &Backend) {
        let lookup = |attribute: &str, value: &str| Lookup {
            attribute: attribute.into(),
            value: value.into(),
        };
        let lookups = [
            lookup("email", "USER1@Acme.com"),
            lookup("username", "user4@acme.com"),
            lookup("email", "ghost@acme.com"),
            lookup("email", "x\"*)(|(mail=*) or userName pr"),
        ];
        let mut found = b
            .connector
            .find_accounts(&lookups)
            .await
            .unwrap()
            .expect("email and username can be looked up");
        found.sort_by(|a, b| a.username.cmp(&b.username));
        let names: Vec<&str> = found.iter().map(|a| a.username.as_str()).collect();
        assert_eq!(names, ["user1@acme.com", "user4@acme.com"]);
        let listed = b.connector.list_accounts().await.unwrap();
        for a in &found {
            let same = listed.iter().find(|l| l.id == a.id).unwrap();
            let (mut got, mut want) = (a.groups.clone(), same.groups.clone());
            got.sort();
            want.sort();
            assert_eq!(got, want, "groups of {}", a.username);
        }
        let nobody = b
            .connector
            .find_accounts(&[lookup("email", "nobody@acme.com")])
            .await
            .unwrap();
        assert_eq!(nobody.map(|v| v.len()), Some(0));
    }

    pub async fn read_account_and_missing(b: &Backend) {
        let a = b.connector.read_account(&b.ids[3]).await.unwrap().unwrap();
        assert_eq!(a.username, "user3@acme.com");
        assert!(
            b.connector
                .read_account("no-such-account-0000")
                .await
                .unwrap()
                .is_none()
        );
    }

    pub async fn disable_is_confirmed_and_idempotent(b: &Backend) {
        b.connector
            .perform(&b.ids[1], Action::Disable)
            .await
            .unwrap();
        let a = b.connector.read_account(&b.ids[1]).await.unwrap().unwrap();
        assert_eq!(a.status, AccountStatus::Disabled);
        b.connector
            .perform(&b.ids[1], Action::Disable)
            .await
            .unwrap();
        assert_eq!(
            b.connector
                .read_account(&b.ids[1])
                .await
                .unwrap()
                .unwrap()
                .status,
            AccountStatus::Disabled
        );
        assert_eq!(
            b.connector
                .read_account(&b.ids[2])
                .await
                .unwrap()
                .unwrap()
                .status,
            AccountStatus::Active
        );
        // Disabling an account that does not exist needs nothing: it succeeds.
        b.connector
            .perform("no-such-account-0000", Action::Disable)
            .await
            .unwrap();
    }

    pub async fn remove_groups_is_confirmed_and_idempotent(b: &Backend) {
        b.connector
            .perform(&b.ids[0], Action::RemoveGroups)
            .await
            .unwrap();
        assert!(
            b.connector
                .read_account(&b.ids[0])
                .await
                .unwrap()
                .unwrap()
                .groups
                .is_empty()
        );
        b.connector
            .perform(&b.ids[0], Action::RemoveGroups)
            .await
            .unwrap();
        let other = b.connector.read_account(&b.ids[1]).await.unwrap().unwrap();
        assert!(
            other.groups.contains(&(b.group)("eng")),
            "only the target leaves its groups"
        );
    }

    pub async fn delete_is_confirmed_and_idempotent(b: &Backend) {
        if !b.connector.capabilities().contains(&Action::Delete) {
            return;
        }
        b.connector
            .perform(&b.ids[4], Action::Delete)
            .await
            .unwrap();
        assert!(b.connector.read_account(&b.ids[4]).await.unwrap().is_none());
        b.connector
            .perform(&b.ids[4], Action::Delete)
            .await
            .unwrap();
        assert_eq!(b.connector.list_accounts().await.unwrap().len(), USERS - 1);
    }

    fn can(b: &Backend, action: Action) -> bool {
        b.connector.capabilities().contains(&action)
    }

    /// Rollback's steps: a disabled account enabled again, removed groups added back.
    pub async fn restore_undoes_disable_and_group_removal(b: &Backend) {
        let id = &b.ids[5];
        let before = b.connector.read_account(id).await.unwrap().unwrap();
        b.connector.perform(id, Action::Disable).await.unwrap();
        if let Err(e) = b.connector.restore(id, &Restore::Enable).await {
            // A connector that cannot restore says so as a permanent error with a hint.
            assert_eq!(e.kind, ErrorKind::Permanent, "{e:?}");
            assert!(e.hint.is_some(), "{e:?}");
            return;
        }
        let a = b.connector.read_account(id).await.unwrap().unwrap();
        assert_eq!(a.status, AccountStatus::Active);
        if can(b, Action::RemoveGroups) {
            b.connector.perform(id, Action::RemoveGroups).await.unwrap();
            let restored = b
                .connector
                .restore(id, &Restore::AddGroups(before.groups.clone()))
                .await;
            if let Err(e) = restored {
                // LDAP cannot tell groups apart by name: a refusal, with what to do instead.
                assert_eq!(e.kind, ErrorKind::Permanent, "{e:?}");
                assert!(e.hint.is_some(), "{e:?}");
                return;
            }
            let mut groups = b.connector.read_account(id).await.unwrap().unwrap().groups;
            let mut expected = before.groups.clone();
            groups.sort();
            expected.sort();
            assert_eq!(groups, expected);
        }
    }

    /// A conditional write happens at the planned version and is refused at a stale one.
    pub async fn conditional_write_checks_the_version(b: &Backend) {
        let id = &b.ids[6];
        let a = b.connector.read_account(id).await.unwrap().unwrap();
        let Some(version) = a.version().map(str::to_string) else {
            // No version tags: the conditional form must not write.
            let got = b
                .connector
                .perform_if_unchanged(id, Action::Disable, "any")
                .await
                .unwrap();
            assert_eq!(got, Conditional::Unsupported);
            let after = b.connector.read_account(id).await.unwrap().unwrap();
            assert_eq!(after.status, AccountStatus::Active, "nothing was written");
            return;
        };
        let stale = b
            .connector
            .perform_if_unchanged(id, Action::Disable, "W/\"stale\"")
            .await
            .unwrap();
        if stale == Conditional::Unsupported {
            let after = b.connector.read_account(id).await.unwrap().unwrap();
            assert_eq!(after.status, AccountStatus::Active, "nothing was written");
            return;
        }
        assert_eq!(stale, Conditional::Changed);
        assert_eq!(
            b.connector.read_account(id).await.unwrap().unwrap().status,
            AccountStatus::Active
        );
        let done = b
            .connector
            .perform_if_unchanged(id, Action::Disable, &version)
            .await
            .unwrap();
        assert_eq!(done, Conditional::Done);
        assert_eq!(
            b.connector.read_account(id).await.unwrap().unwrap().status,
            AccountStatus::Disabled
        );
    }

    /// `move` puts the account into the disabled container and keeps its id.
    pub async fn move_changes_the_container(b: &Backend) {
        if !can(b, Action::Move) {
            return;
        }
        let id = &b.ids[2];
        let before = b.connector.read_account(id).await.unwrap().unwrap();
        b.connector.perform(id, Action::Move).await.unwrap();
        let after = b.connector.read_account(id).await.unwrap().unwrap();
        assert_ne!(after.container, before.container, "the account moved");
        assert!(
            after
                .container
                .as_deref()
                .is_some_and(|c| c.to_lowercase().starts_with("ou=disabled users")),
            "{:?}",
            after.container
        );
        // Moving again is a no-op, not an error.
        b.connector.perform(id, Action::Move).await.unwrap();
    }

    /// A password reset succeeds and leaves the account in place (its effect cannot be read).
    pub async fn reset_password_keeps_the_account(b: &Backend) {
        if !can(b, Action::ResetPassword) {
            return;
        }
        let id = &b.ids[3];
        b.connector
            .perform(id, Action::ResetPassword)
            .await
            .unwrap();
        assert!(b.connector.read_account(id).await.unwrap().is_some());
    }

    /// An unreachable system is reported with the kind the retry layer acts on, and a hint.
    pub async fn an_unreachable_system_is_classified(b: &Backend) {
        let (nowhere, kind) = &b.unreachable;
        let e = nowhere.list_accounts().await.unwrap_err();
        assert_eq!(e.kind, *kind, "{e:?}");
        assert!(e.hint.is_some(), "{e:?}");
    }
}

macro_rules! conformance {
    ($backend:ident: $($case:ident),* $(,)?) => {
        mod $backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(b) = super::$backend().await else { return };
                    super::cases::$case(&b).await;
                    b.finish();
                }
            )*
        }
    };
}

conformance!(file_backend: list_returns_every_account, find_accounts_matches_like_correlation, read_account_and_missing, disable_is_confirmed_and_idempotent, remove_groups_is_confirmed_and_idempotent, delete_is_confirmed_and_idempotent, restore_undoes_disable_and_group_removal, conditional_write_checks_the_version, move_changes_the_container, reset_password_keeps_the_account, an_unreachable_system_is_classified);
conformance!(scim_backend: list_returns_every_account, find_accounts_matches_like_correlation, read_account_and_missing, disable_is_confirmed_and_idempotent, remove_groups_is_confirmed_and_idempotent, delete_is_confirmed_and_idempotent, restore_undoes_disable_and_group_removal, conditional_write_checks_the_version, move_changes_the_container, reset_password_keeps_the_account, an_unreachable_system_is_classified);
conformance!(openldap_backend: list_returns_every_account, find_accounts_matches_like_correlation, read_account_and_missing, disable_is_confirmed_and_idempotent, remove_groups_is_confirmed_and_idempotent, delete_is_confirmed_and_idempotent, restore_undoes_disable_and_group_removal, conditional_write_checks_the_version, move_changes_the_container, reset_password_keeps_the_account, an_unreachable_system_is_classified);
conformance!(active_directory_backend: list_returns_every_account, find_accounts_matches_like_correlation, read_account_and_missing, disable_is_confirmed_and_idempotent, remove_groups_is_confirmed_and_idempotent, delete_is_confirmed_and_idempotent, restore_undoes_disable_and_group_removal, conditional_write_checks_the_version, move_changes_the_container, reset_password_keeps_the_account, an_unreachable_system_is_classified);
conformance!(graph_backend: list_returns_every_account, find_accounts_matches_like_correlation, read_account_and_missing, disable_is_confirmed_and_idempotent, remove_groups_is_confirmed_and_idempotent, delete_is_confirmed_and_idempotent, restore_undoes_disable_and_group_removal, conditional_write_checks_the_version, move_changes_the_container, reset_password_keeps_the_account, an_unreachable_system_is_classified);
conformance!(okta_backend: list_returns_every_account, find_accounts_matches_like_correlation, read_account_and_missing, disable_is_confirmed_and_idempotent, remove_groups_is_confirmed_and_idempotent, delete_is_confirmed_and_idempotent, restore_undoes_disable_and_group_removal, conditional_write_checks_the_version, move_changes_the_container, reset_password_keeps_the_account, an_unreachable_system_is_classified);
conformance!(google_backend: list_returns_every_account, find_accounts_matches_like_correlation, read_account_and_missing, disable_is_confirmed_and_idempotent, remove_groups_is_confirmed_and_idempotent, delete_is_confirmed_and_idempotent, restore_undoes_disable_and_group_removal, conditional_write_checks_the_version, move_changes_the_container, reset_password_keeps_the_account, an_unreachable_system_is_classified);
