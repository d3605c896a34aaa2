//! Targeted reads over LDAP: the accounts of a few people through one search filter
//! (`(&(objectClass=person)(|(mail=a@x)(uid=b)...))`, RFC 4515) instead of every entry.
//!
//! Each correlated attribute maps to the directory attribute the account field is read from:
//! `email` to `mail`, `username` and `id` to the login attribute (`uid`, or `sAMAccountName`
//! in Active Directory), `employee-id` to `employeeNumber`, display names to `displayName`
//! and `cn`. Their equality rules ignore case, as correlation does. Values are escaped; the
//! terms go out in chunks so a filter stays a size every server accepts. What comes back is
//! selected again with correlation's own matching. An attribute with no directory
//! counterpart makes the lookup `None`, and the caller lists every entry instead.

use super::{Ldap3, escape};
use crate::connector::lookup::{self, Lookup};
use crate::connector::{Account, ConnectorError};

/// Filter terms per search.
const TERMS_PER_SEARCH: usize = 50;

impl Ldap3 {
    /// The directory attributes a looked-up attribute is read from.
    fn directory_attributes(&self, lookup: &Lookup) -> Option<Vec<&'static str>> {
        match lookup.canonical_attribute().as_str() {
            "id" | "username" | "usernameattribute" => Some(vec![self.login_attr()]),
            "email" | "emails" | "mail" => Some(vec!["mail"]),
            "employeeid" | "employeenumber" => Some(vec!["employeeNumber"]),
            "displayname" | "name" | "cn" => Some(vec!["displayName", "cn"]),
            _ => None,
        }
    }

    /// The entries `lookups` find, as accounts; `None` when one of them has no directory form.
    pub(super) async fn find_by(
        &self,
        lookups: &[Lookup],
    ) -> Result<Option<Vec<Account>>, ConnectorError> {
        let mut terms = Vec::new();
        for l in lookups {
            let Some(attributes) = self.directory_attributes(l) else {
                return Ok(None);
            };
            let value = escape(&l.value);
            terms.extend(attributes.iter().map(|a| format!("({a}={value})")));
        }
        let mut ldap = self.connect().await?;
        let mut entries = Vec::new();
        let mut failed = None;
        for chunk in terms.chunks(TERMS_PER_SEARCH) {
            let filter = format!("(&{}(|{}))", self.person_filter(), chunk.concat());
            match self.search(&mut ldap, &filter).await {
                Ok(found) => entries.extend(found),
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        let _ = ldap.unbind().await;
        if let Some(e) = failed {
            return Err(e);
        }
        let accounts = entries
            .iter()
            .filter_map(|e| e.account(self.cfg.flavor))
            .collect();
        Ok(Some(lookup::select(accounts, lookups)))
    }
}
