//! The connector conformance suite: one set of test bodies, run against every backend
//! (the file connector and a real SCIM 2.0 server), gated on declared capabilities.

mod common;

use std::sync::Arc;

use offboard::connector::file::FileConnector;
use offboard::connector::ldap::Ldap3;
use offboard::connector::ldap::{LdapFlavor, LdapSettings};
use offboard::connector::scim::ScimSettings;
use offboard::connector::scim::{Scim, Token};
use offboard::connector::secret::Secret;
use offboard::connector::{AccountStatus, Connector};
use offboard::policy::{Action, FileFormat, SecretRef};

/// A connector with seven seeded users `user0..user6@acme.com`; `eng` holds users 0-2 and
/// `all` holds everyone.
struct Backend {
    connector: Arc<dyn Connector>,
    ids: Vec<String>,
    _guard: Box<dyn std::any::Any + Send>,
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
        _guard: Box::new(dir),
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
    Some(Backend {
        connector: Arc::new(scim),
        ids,
        _guard: Box::new(server),
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
    Some(Backend {
        connector: Arc::new(ldap),
        ids,
        _guard: Box::new(slapd),
    })
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
            let mut expected = vec!["all".to_string()];
            if i < 3 {
                expected.insert(0, "eng".into());
            }
            let mut groups = a.groups.clone();
            groups.sort();
            expected.sort();
            assert_eq!(groups, expected, "groups of user{i}");
        }
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
            other.groups.contains(&"eng".to_string()),
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
}

macro_rules! conformance {
    ($backend:ident: $($case:ident),* $(,)?) => {
        mod $backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(b) = super::$backend().await else { return };
                    super::cases::$case(&b).await;
                }
            )*
        }
    };
}

conformance!(file_backend: list_returns_every_account, read_account_and_missing, disable_is_confirmed_and_idempotent, remove_groups_is_confirmed_and_idempotent, delete_is_confirmed_and_idempotent);
conformance!(scim_backend: list_returns_every_account, read_account_and_missing, disable_is_confirmed_and_idempotent, remove_groups_is_confirmed_and_idempotent, delete_is_confirmed_and_idempotent);
conformance!(openldap_backend: list_returns_every_account, read_account_and_missing, disable_is_confirmed_and_idempotent, remove_groups_is_confirmed_and_idempotent, delete_is_confirmed_and_idempotent);
conformance!(active_directory_backend: list_returns_every_account, read_account_and_missing, disable_is_confirmed_and_idempotent, remove_groups_is_confirmed_and_idempotent, delete_is_confirmed_and_idempotent);
