//! The LDAP connector end to end against a real slapd: a directory (tier `directory`) and a
//! file identity provider; plan -> apply -> re-audit; then independent `ldapwhoami` and
//! `ldapsearch` checks that the leaver cannot bind, sits in the disabled OU, in no group.

use offboard_test_support as common;

use std::path::Path;

use assert_cmd::Command;
use common::{LDAP_SUFFIX as S, Slapd};
use predicates::prelude::*;

const AT: &str = "2026-11-23T09:00:00Z";
const PASSWORD_VAR: &str = "OFFBOARD_TEST_LDAP_PASSWORD";

fn offboard(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("offboard").unwrap();
    cmd.env("OFFBOARD_NO_NOTIFY", "1");
    cmd.arg("-C")
        .arg(dir)
        .env(PASSWORD_VAR, common::LDAP_ADMIN_PASSWORD)
        .env("OFFBOARD_ACTOR", "ldap-test")
        .env_remove("NO_COLOR");
    cmd
}

fn person(uid: &str, name: &str) -> String {
    format!(
        "dn: uid={uid},ou=People,{S}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {name}\nsn: {name}\nmail: {uid}@acme.com\nuserPassword: pw-{uid}\n\n"
    )
}

fn group(cn: &str, members: &[&str]) -> String {
    let members: String = members
        .iter()
        .map(|m| format!("member: uid={m},ou=People,{S}\n"))
        .collect();
    format!("dn: cn={cn},ou=Groups,{S}\nobjectClass: groupOfNames\ncn: {cn}\n{members}\n")
}

/// Leo and Mia leave; Ann stays. The identity provider is a file export.
fn organisation(slapd: &Slapd, extra_ldif: &str) -> tempfile::TempDir {
    slapd.add(&format!(
        "{}{}{}{}{}{extra_ldif}",
        person("leo", "Leo"),
        person("mia", "Mia"),
        person("ann", "Ann"),
        group("eng", &["leo", "ann"]),
        group("ops", &["mia", "ann", "leo"]),
    ));
    let dir = tempfile::tempdir().unwrap();
    common::init_journal(dir.path());
    let d = dir.path();
    std::fs::create_dir_all(d.join("policies")).unwrap();
    std::fs::create_dir_all(d.join("inventory/accounts")).unwrap();
    std::fs::write(
        d.join("inventory/people.csv"),
        "email,name,status,termination_type,last_day\nleo@acme.com,Leo,terminated,involuntary,2026-11-23\nmia@acme.com,Mia,terminated,voluntary,2026-11-20\nann@acme.com,Ann,active,,\n",
    )
    .unwrap();
    let idp: Vec<serde_json::Value> = ["leo", "mia", "ann"]
        .iter()
        .map(|u| serde_json::json!({"id": u, "username": u, "emails": [format!("{u}@acme.com")], "status": "active", "groups": ["all"]}))
        .collect();
    std::fs::write(
        d.join("inventory/accounts/idp.json"),
        serde_json::json!({"accounts": idp}).to_string(),
    )
    .unwrap();
    std::fs::write(
        d.join("policies/policy.kdl"),
        format!(
            r#"system idp {{
    connector file
    tier identity-provider
    correlate email="email"
    on-leave disable remove-groups
}}
system corp-ldap {{
    connector ldap url="{url}" bind-dn="{admin}" password-env={PASSWORD_VAR} base-dn="ou=People,{S}" disabled-ou="ou=Disabled Users,{S}" group-base-dn="ou=Groups,{S}" flavor=openldap page-size=2
    tier directory
    correlate email="mail"
    on-leave disable remove-groups move reset-password
}}
rule involuntary {{
    when "person.termination_type == \"involuntary\""
    cutoff immediately
}}
defaults {{
    max-disable-share "100%"
}}
people {{
    source csv path="inventory/people.csv"
}}
"#,
            url = slapd.url(),
            admin = common::LDAP_ADMIN,
        ),
    )
    .unwrap();
    dir
}

#[test]
fn plan_apply_reaudit_then_the_leaver_cannot_bind() {
    if common::skip_real_servers("ldap end to end") {
        return;
    }
    let slapd = Slapd::start();
    let dir = organisation(&slapd, "");
    let d = dir.path();
    assert!(
        slapd.can_bind(&format!("uid=leo,ou=People,{S}"), "pw-leo"),
        "precondition: leo can bind"
    );
    offboard(d)
        .args(["plan", "--at", AT])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("~ corp-ldap"))
        .stdout(predicate::str::contains("moved to ou=Disabled Users"))
        .stdout(predicate::str::contains("for 2 leavers"));
    offboard(d)
        .args(["apply", "--auto-approve", "--at", AT])
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "0 active credentials remain for 2 leavers",
        ));

    // Independent checks with ldap-utils, not through the connector.
    for uid in ["leo", "mia"] {
        assert!(
            !slapd.can_bind(
                &format!("uid={uid},ou=Disabled Users,{S}"),
                &format!("pw-{uid}")
            ),
            "{uid} can still bind"
        );
        let entry = slapd.search(
            S,
            &format!("(uid={uid})"),
            &["memberOf", "pwdAccountLockedTime"],
        );
        assert!(
            entry.contains(&format!("dn: uid={uid},ou=Disabled Users,{S}")),
            "{uid} not moved:\n{entry}"
        );
        assert!(
            !entry.contains("memberOf"),
            "{uid} still in a group:\n{entry}"
        );
        assert!(
            entry.contains("pwdAccountLockedTime: 000001010000Z"),
            "{uid} not locked:\n{entry}"
        );
    }
    let groups = slapd.search(
        &format!("ou=Groups,{S}"),
        "(objectClass=groupOfNames)",
        &["member"],
    );
    assert!(
        !groups.contains("uid=leo") && !groups.contains("uid=mia"),
        "{groups}"
    );
    assert!(
        slapd.can_bind(&format!("uid=ann,ou=People,{S}"), "pw-ann"),
        "ann must be untouched"
    );
    assert!(groups.matches("uid=ann,ou=People").count() == 2, "{groups}");

    offboard(d)
        .args(["plan", "--at", AT, "--detailed-exitcode"])
        .assert()
        .code(0)
        .stdout(predicate::str::starts_with("No changes."));
}

#[test]
fn a_group_that_would_become_empty_is_a_clear_error() {
    if common::skip_real_servers("ldap empty group") {
        return;
    }
    let slapd = Slapd::start();
    // Mia is the only member of `solo`: groupOfNames forbids removing her (rc 65).
    let dir = organisation(&slapd, &group("solo", &["mia"]));
    offboard(dir.path())
        .args(["apply", "--auto-approve", "--at", AT])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("remove from cn=solo,ou=Groups"))
        .stderr(predicate::str::contains("LDAP result 65"))
        .stderr(predicate::str::contains("must keep at least one member"))
        .stdout(predicate::str::contains("RED"));
    // Everything else was still cut: Leo is locked and moved, Mia is at least locked.
    assert!(!slapd.can_bind(&format!("uid=leo,ou=Disabled Users,{S}"), "pw-leo"));
    let mia = slapd.search(S, "(uid=mia)", &["pwdAccountLockedTime"]);
    assert!(mia.contains("pwdAccountLockedTime"), "{mia}");
}

#[test]
fn wrong_bind_password_is_a_clear_permanent_error() {
    if common::skip_real_servers("ldap wrong password") {
        return;
    }
    let slapd = Slapd::start();
    let dir = organisation(&slapd, "");
    offboard(dir.path())
        .env(PASSWORD_VAR, "not-the-password")
        .args(["plan", "--at", AT])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("LDAP result 49"))
        .stderr(predicate::str::contains(
            "invalid credentials: check bind-dn=",
        ))
        .stderr(predicate::str::contains("not-the-password").not());
}
