//! A directory entry as the server encoded it (RFC 4511 `SearchResultEntry`), and as an account.
//!
//! ldap3 decodes the wire into BER tags; turning a tag into an entry is done here rather than
//! with ldap3's `SearchEntry::construct`, which panics on anything malformed (a DN that is not
//! UTF-8, an attribute without values): a directory that is broken or hostile must give an
//! error, not bring down a plan. [`Entry::decode`] checks the shape step by step, merges
//! attribute names case-insensitively (LDAP names are; a server sending `mail` and `MAIL`
//! must not make the result depend on hash order) and keeps values that are not UTF-8 as
//! lossy text. [`Entry::account`] maps an entry to offboard's [`Account`] for either flavour.
//! Both are pure, so the `ldap` fuzz target in `fuzz/` runs them on arbitrary bytes.

use std::collections::BTreeMap;

use ldap3::asn1::{PL, StructureTag, TagClass};

use super::LdapFlavor;
use crate::connector::{Account, AccountStatus};

/// ppolicy's "locked until an administrator unlocks it" value.
pub const LOCKED_FOREVER: &str = "000001010000Z";
/// AD `userAccountControl` ACCOUNTDISABLE.
pub const ACCOUNTDISABLE: u32 = 0x2;
/// RFC 4511 §4.5.2: `SearchResultEntry ::= [APPLICATION 4] SEQUENCE { ... }`.
const SEARCH_RESULT_ENTRY: u64 = 4;

/// One entry as read: its DN and its attributes, names lower-cased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub dn: String,
    pub attrs: BTreeMap<String, Vec<String>>,
}

impl Entry {
    /// Decodes a `SearchResultEntry` protocol operation.
    pub fn decode(op: StructureTag) -> Result<Entry, String> {
        if op.class != TagClass::Application || op.id != SEARCH_RESULT_ENTRY {
            return Err(format!(
                "expected a search result entry, got tag {:?} {}",
                op.class, op.id
            ));
        }
        let mut parts = constructed(op, "the entry")?.into_iter();
        let dn = parts
            .next()
            .ok_or_else(|| "the entry has no DN".to_string())
            .and_then(|t| primitive(t, "the DN"))?;
        let dn = String::from_utf8(dn).map_err(|_| "the entry's DN is not UTF-8".to_string())?;
        let list = parts
            .next()
            .ok_or_else(|| format!("the entry {dn} has no attribute list"))?;
        let mut attrs: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for attribute in constructed(list, "the attribute list")? {
            let mut pair = constructed(attribute, "an attribute")?.into_iter();
            let (Some(name), Some(values)) = (pair.next(), pair.next()) else {
                return Err(format!("an attribute of {dn} lacks its name or values"));
            };
            let name = String::from_utf8_lossy(&primitive(name, "an attribute name")?)
                .to_ascii_lowercase();
            let slot = attrs.entry(name).or_default();
            for value in constructed(values, "attribute values")? {
                slot.push(String::from_utf8_lossy(&primitive(value, "a value")?).into_owned());
            }
        }
        Ok(Entry { dn, attrs })
    }

    pub fn first(&self, name: &str) -> Option<&str> {
        self.attrs
            .get(&name.to_ascii_lowercase())
            .and_then(|v| v.first())
            .map(String::as_str)
    }

    pub fn all(&self, name: &str) -> Vec<String> {
        self.attrs
            .get(&name.to_ascii_lowercase())
            .cloned()
            .unwrap_or_default()
    }

    /// The entry as an account, or `None` for what is not a person's login: AD computer
    /// objects, and entries without the flavour's login attribute (nothing could address them).
    pub fn account(&self, flavor: LdapFlavor) -> Option<Account> {
        if self
            .all("objectClass")
            .iter()
            .any(|c| c.eq_ignore_ascii_case("computer"))
        {
            return None;
        }
        let ad = flavor == LdapFlavor::ActiveDirectory;
        let id = self.first(login_attribute(flavor))?.to_string();
        let disabled = if ad {
            self.first("userAccountControl")
                .and_then(|v| v.parse::<u32>().ok())
                .is_some_and(|uac| uac & ACCOUNTDISABLE != 0)
        } else {
            // Only the administrative lock counts: a timed lockout after failed logins
            // expires by itself, so such an account is still active.
            self.first("pwdAccountLockedTime") == Some(LOCKED_FOREVER)
        };
        let last_login = self
            .first("lastLogonTimestamp")
            .and_then(|v| v.parse::<i64>().ok())
            .and_then(|filetime| {
                // Windows FILETIME: 100 ns ticks since 1601-01-01.
                jiff::Timestamp::from_second((filetime / 10_000_000).checked_sub(11_644_473_600)?)
                    .ok()
            });
        let mut groups: Vec<String> = self
            .all("memberOf")
            .iter()
            .map(|dn| first_rdn_value(dn).to_string())
            .collect();
        groups.sort();
        let (_, parent) = split_dn(&self.dn);
        let mut attributes = BTreeMap::new();
        attributes.insert("dn".to_string(), self.dn.clone());
        Some(Account {
            id: id.clone(),
            username: id,
            emails: self.all("mail"),
            employee_id: self.first("employeeNumber").map(str::to_string),
            display_name: self
                .first("displayName")
                .or_else(|| self.first("cn"))
                .map(str::to_string),
            status: if disabled {
                AccountStatus::Disabled
            } else {
                AccountStatus::Active
            },
            groups,
            entitlements: Vec::new(),
            licenses: Vec::new(),
            privileged: false,
            last_login,
            sessions: None,
            container: Some(parent.to_string()),
            attributes,
            app_roles: Vec::new(),
            held: Vec::new(),
            mastered_by: None,
        })
    }
}

/// The attribute holding the login name, which is also the account id.
pub fn login_attribute(flavor: LdapFlavor) -> &'static str {
    match flavor {
        LdapFlavor::ActiveDirectory => "sAMAccountName",
        _ => "uid",
    }
}

fn constructed(tag: StructureTag, what: &str) -> Result<Vec<StructureTag>, String> {
    match tag.payload {
        PL::C(items) => Ok(items),
        PL::P(_) => Err(format!("{what} is not a constructed value")),
    }
}

fn primitive(tag: StructureTag, what: &str) -> Result<Vec<u8>, String> {
    match tag.payload {
        PL::P(bytes) => Ok(bytes),
        PL::C(_) => Err(format!("{what} is not an octet string")),
    }
}

/// `cn=eng,ou=Groups,dc=x` -> `eng`.
fn first_rdn_value(dn: &str) -> &str {
    let rdn = split_dn(dn).0;
    rdn.split_once('=').map_or(rdn, |(_, v)| v)
}

/// `uid=a,ou=People,dc=x` -> (`uid=a`, `ou=People,dc=x`); an escaped comma (`CN=Doe\, John`)
/// stays inside its RDN.
pub fn split_dn(dn: &str) -> (&str, &str) {
    let bytes = dn.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b',' => return (&dn[..i], &dn[i + 1..]),
            _ => i += 1,
        }
    }
    (dn, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn octets(s: &[u8]) -> StructureTag {
        StructureTag {
            class: TagClass::Universal,
            id: 4,
            payload: PL::P(s.to_vec()),
        }
    }

    fn seq(items: Vec<StructureTag>, class: TagClass, id: u64) -> StructureTag {
        StructureTag {
            class,
            id,
            payload: PL::C(items),
        }
    }

    fn entry(dn: &[u8], attrs: Vec<(&str, Vec<&[u8]>)>) -> StructureTag {
        let list = attrs
            .into_iter()
            .map(|(name, values)| {
                let values = values.into_iter().map(octets).collect();
                seq(
                    vec![
                        octets(name.as_bytes()),
                        seq(values, TagClass::Universal, 17),
                    ],
                    TagClass::Universal,
                    16,
                )
            })
            .collect();
        seq(
            vec![octets(dn), seq(list, TagClass::Universal, 16)],
            TagClass::Application,
            4,
        )
    }

    #[test]
    fn split_dn_keeps_escaped_commas_in_the_rdn() {
        assert_eq!(
            split_dn("CN=Doe\\, John,OU=People,DC=corp"),
            ("CN=Doe\\, John", "OU=People,DC=corp")
        );
        assert_eq!(split_dn("uid=a,ou=People"), ("uid=a", "ou=People"));
        assert_eq!(split_dn("dc=local"), ("dc=local", ""));
        assert_eq!(first_rdn_value("cn=Eng\\, Ops,ou=Groups"), "Eng\\, Ops");
    }

    #[test]
    fn an_entry_decodes_with_names_merged_case_insensitively() {
        let e = Entry::decode(entry(
            b"uid=a,ou=People,dc=x",
            vec![
                ("uid", vec![b"a"]),
                ("mail", vec![b"a@x"]),
                ("MAIL", vec![b"b@x"]),
            ],
        ))
        .unwrap();
        assert_eq!(e.all("Mail"), ["a@x", "b@x"]);
        let a = e.account(LdapFlavor::Openldap).unwrap();
        assert_eq!(
            (a.id.as_str(), a.container.as_deref()),
            ("a", Some("ou=People,dc=x"))
        );
    }

    #[test]
    fn malformed_entries_are_errors_not_panics() {
        assert!(Entry::decode(entry(b"\xff\xfe", vec![])).is_err());
        assert!(Entry::decode(seq(vec![], TagClass::Application, 4)).is_err());
        assert!(Entry::decode(octets(b"x")).is_err());
        let no_values = seq(
            vec![
                octets(b"uid=a"),
                seq(
                    vec![seq(vec![octets(b"uid")], TagClass::Universal, 16)],
                    TagClass::Universal,
                    16,
                ),
            ],
            TagClass::Application,
            4,
        );
        assert!(Entry::decode(no_values).is_err());
    }

    #[test]
    fn an_absurd_logon_timestamp_is_no_timestamp() {
        let e = Entry::decode(entry(
            b"cn=a,dc=x",
            vec![
                ("sAMAccountName", vec![b"a"]),
                ("lastLogonTimestamp", vec![b"-9223372036854775808"]),
            ],
        ))
        .unwrap();
        assert_eq!(
            e.account(LdapFlavor::ActiveDirectory).unwrap().last_login,
            None
        );
    }
}
