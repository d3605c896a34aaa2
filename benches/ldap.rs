//! LDAP connector throughput against a real slapd (Debian slapd, OpenLDAP 2.5).
//!
//! Prints figures: list throughput for 10,000 entries (paged results), and apply throughput
//! (lock, remove groups, move to the disabled OU, with read-back) through the executor.
//! Run with `cargo bench --bench ldap` after `bash tests/run.sh` installed slapd.

use offboard_test_support as common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use offboard::connector::ldap::Ldap3;
use offboard::connector::ldap::{LdapFlavor, LdapSettings};
use offboard::connector::secret::Secret;
use offboard::connector::{Connector, SystemSnapshot};
use offboard::journal::ActionOutcome;
use offboard::plan::{AccountState, Change};
use offboard::policy::{Action, SecretRef, Tier};

const ENTRIES: usize = 10_000;
const APPLY: usize = 1_000;
const CONCURRENCY: usize = 4;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let s = common::LDAP_SUFFIX;
    let slapd = common::Slapd::start();
    let start = Instant::now();
    let mut ldif = String::new();
    for i in 0..ENTRIES {
        ldif.push_str(&format!(
            "dn: uid=u{i},ou=People,{s}\nobjectClass: inetOrgPerson\nuid: u{i}\ncn: U {i}\nsn: {i}\nmail: u{i}@acme.com\n\n"
        ));
    }
    let members: String = (0..APPLY + 1)
        .map(|i| format!("member: uid=u{i},ou=People,{s}\n"))
        .collect();
    ldif.push_str(&format!(
        "dn: cn=all,ou=Groups,{s}\nobjectClass: groupOfNames\ncn: all\n{members}\n"
    ));
    slapd.add(&ldif);
    println!(
        "seeded {ENTRIES} entries in {:.2} s",
        start.elapsed().as_secs_f64()
    );

    let cfg = |page_size| LdapSettings {
        url: slapd.url(),
        bind_dn: common::LDAP_ADMIN.into(),
        password: SecretRef::Env("UNUSED".into()),
        base_dn: format!("ou=People,{s}"),
        disabled_ou: Some(format!("ou=Disabled Users,{s}")),
        group_base_dn: None,
        flavor: LdapFlavor::Openldap,
        starttls: false,
        page_size,
        timeout: jiff::SignedDuration::from_secs(30),
    };
    for page in [500u32, 2000] {
        let c = Ldap3::new("dir", &cfg(page), Secret::new(common::LDAP_ADMIN_PASSWORD));
        let start = Instant::now();
        let n = c.list_accounts().await.unwrap().len();
        let secs = start.elapsed().as_secs_f64();
        assert_eq!(n, ENTRIES);
        println!(
            "list {ENTRIES} entries, page size {page}: {secs:.2} s ({:.0} entries/s)",
            ENTRIES as f64 / secs
        );
    }

    let c = Ldap3::new("dir", &cfg(1000), Secret::new(common::LDAP_ADMIN_PASSWORD));
    let snapshot = SystemSnapshot::new(c.list_accounts().await.unwrap());
    let by_id: BTreeMap<&str, _> = snapshot
        .accounts
        .iter()
        .map(|a| (a.id.as_str(), a))
        .collect();
    let changes: Vec<Change> = (0..APPLY)
        .map(|i| {
            let a = by_id[format!("u{i}").as_str()];
            common::change_for(
                "dir",
                Tier::Directory,
                a,
                vec![Action::Disable, Action::RemoveGroups, Action::Move],
                Some(AccountState {
                    status: offboard::connector::AccountStatus::Disabled,
                    groups: vec![],
                    licenses: vec![],
                    sessions: None,
                    container: Some(format!("ou=Disabled Users,{s}")),
                    app_roles: Vec::new(),
                }),
            )
        })
        .collect();
    let plan = common::plan_of(changes);
    let dir = tempfile::tempdir().unwrap();
    let executor = common::executor(vec![("dir".into(), Arc::new(c), CONCURRENCY)], dir.path());
    let start = Instant::now();
    let reports = executor.execute(&plan, &|_| {}).await.unwrap();
    let secs = start.elapsed().as_secs_f64();
    let done = reports
        .iter()
        .filter(|r| r.outcome == ActionOutcome::Done)
        .count();
    assert_eq!(
        done,
        APPLY,
        "{:?}",
        reports
            .iter()
            .find(|r| r.outcome != ActionOutcome::Done)
            .map(|r| &r.error)
    );
    println!(
        "apply {APPLY} accounts (lock + remove from group + move, read-back, journal), concurrency {CONCURRENCY}: {secs:.2} s ({:.0} accounts/s)",
        APPLY as f64 / secs
    );
}
