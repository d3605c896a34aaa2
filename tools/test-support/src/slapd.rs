//! A real OpenLDAP `slapd` with the overlays and schema the LDAP connector needs, seeded and
//! checked with the OpenLDAP command-line tools.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use crate::servers::{start_with_retries, stop, wait_listening};

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
