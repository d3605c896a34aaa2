//! The `ldap` connector: OpenLDAP and Active Directory over LDAP (ldap3, rustls).
//!
//! Accounts are the person entries under `base-dn` (and `disabled-ou`), listed with the
//! RFC 2696 paged-results control. An account's id is its login name (`uid`, or
//! `sAMAccountName` on AD) because it survives the move to the disabled OU, unlike its DN.
//! Disabling follows the flavour: OpenLDAP's ppolicy lock (`pwdAccountLockedTime:
//! 000001010000Z`), AD's ACCOUNTDISABLE bit in `userAccountControl` (other bits preserved).
//! Group memberships come from `memberOf`; removing one deletes the member value from the
//! group. Every operation opens its own bound connection: simple, and nothing stale is kept.
//! Passwords are never logged; a reset password is random and never leaves this module.
//! Entries are decoded by [`entry`], which turns malformed server replies into errors.

use std::collections::HashSet;
use std::fmt;
use std::io::Read;
use std::time::Duration;

use async_trait::async_trait;
use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError, Mod, Scope};

pub mod entry;
mod find;
mod settings;

pub use settings::{LdapFlavor, LdapSettings};

use entry::{ACCOUNTDISABLE, Entry, LOCKED_FOREVER, split_dn};

use super::kind::Kind;
use super::secret::Secret;
use super::{Account, Connector, ConnectorError, ErrorKind, Lookup, Restore};
use crate::policy::Action;

pub struct Ldap3 {
    system: String,
    cfg: LdapSettings,
    password: Secret,
    capabilities: Vec<Action>,
}

impl fmt::Debug for Ldap3 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ldap3")
            .field("system", &self.system)
            .field("url", &self.cfg.url)
            .field("bind_dn", &self.cfg.bind_dn)
            .field("password", &self.password)
            .finish()
    }
}

/// RFC 4515 escaping for a value inside a filter.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '*' => out.push_str("\\2a"),
            '(' => out.push_str("\\28"),
            ')' => out.push_str("\\29"),
            '\\' => out.push_str("\\5c"),
            '\0' => out.push_str("\\00"),
            c => out.push(c),
        }
    }
    out
}

fn same_dn(a: &str, b: &str) -> bool {
    crate::connector::same_container(a, b)
}

/// 24 random bytes from the OS, as a password no one will ever see.
fn random_password() -> std::io::Result<String> {
    let mut bytes = [0u8; 24];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789!#%+-=";
    Ok(bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect())
}

impl Ldap3 {
    pub fn new(system: &str, cfg: &LdapSettings, password: Secret) -> Ldap3 {
        Ldap3 {
            system: system.to_string(),
            cfg: cfg.clone(),
            password,
            capabilities: cfg.capabilities(),
        }
    }

    fn ad(&self) -> bool {
        self.cfg.flavor == LdapFlavor::ActiveDirectory
    }

    fn login_attr(&self) -> &'static str {
        entry::login_attribute(self.cfg.flavor)
    }

    fn person_filter(&self) -> &'static str {
        if self.ad() {
            // Computer accounts are also `user`s; they are dropped after the search (a
            // `!(objectClass=computer)` term is undefined where that class is unknown).
            "(objectClass=user)"
        } else {
            "(objectClass=person)"
        }
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(self.cfg.timeout.as_secs().max(1) as u64)
    }

    fn error(&self, op: &str, e: LdapError) -> ConnectorError {
        match e {
            LdapError::LdapResult { result } => {
                let text = if result.text.is_empty() {
                    String::new()
                } else {
                    format!(": {}", result.text)
                };
                let message = format!("{op}: LDAP result {}{text}", result.rc);
                let base = ConnectorError::permanent(&self.system, message);
                match result.rc {
                    49 => base.hint("invalid credentials: check bind-dn= and the password the policy points to"),
                    50 => base.hint("insufficient access: give the bind account write access to users and groups"),
                    32 => base.hint("no such object: check base-dn=, disabled-ou= and group DNs"),
                    65 => base.hint("object class violation: a groupOfNames must keep at least one member; add a placeholder member to the group or remove the group by hand"),
                    53 => base.hint("the server is unwilling: AD needs LDAPS (ldaps://) to change passwords"),
                    3 | 11 | 51 | 52 => ConnectorError {
                        kind: ErrorKind::Temporary,
                        ..base.hint("the directory is busy or unavailable; retried automatically")
                    },
                    _ => base,
                }
            }
            LdapError::Timeout { .. } => {
                ConnectorError::temporary(&self.system, format!("{op}: timed out"))
                    .hint(format!("check that {} is reachable", self.cfg.url))
            }
            other => ConnectorError::temporary(&self.system, format!("{op}: {other}"))
                .hint(format!("check that {} is reachable", self.cfg.url)),
        }
    }

    /// A bound connection (the driver runs in the background until `unbind`).
    async fn connect(&self) -> Result<Ldap, ConnectorError> {
        let settings = LdapConnSettings::new()
            .set_conn_timeout(self.timeout())
            .set_starttls(self.cfg.starttls);
        let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &self.cfg.url)
            .await
            .map_err(|e| self.error("connect", e))?;
        ldap3::drive!(conn);
        ldap.with_timeout(self.timeout())
            .simple_bind(&self.cfg.bind_dn, self.password.expose())
            .await
            .and_then(|r| r.success())
            .map_err(|e| self.error("bind", e))?;
        Ok(ldap)
    }

    fn attributes(&self) -> Vec<&'static str> {
        let mut attrs = vec![
            "objectClass",
            "uid",
            "mail",
            "employeeNumber",
            "cn",
            "displayName",
            "memberOf",
        ];
        if self.ad() {
            attrs.extend(["sAMAccountName", "userAccountControl", "lastLogonTimestamp"]);
        } else {
            attrs.push("pwdAccountLockedTime");
        }
        attrs
    }

    /// Every person entry matching `filter` under the search bases, page by page.
    async fn search(&self, ldap: &mut Ldap, filter: &str) -> Result<Vec<Entry>, ConnectorError> {
        let mut bases = vec![self.cfg.base_dn.clone()];
        if let Some(ou) = &self.cfg.disabled_ou {
            let inside = ou
                .to_ascii_lowercase()
                .ends_with(&self.cfg.base_dn.to_ascii_lowercase());
            if !inside {
                bases.push(ou.clone());
            }
        }
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        for base in bases {
            let adapters: Vec<Box<dyn Adapter<_, _>>> = vec![
                Box::new(EntriesOnly::new()),
                Box::new(PagedResults::new(self.cfg.page_size as i32)),
            ];
            let mut stream = ldap
                .streaming_search_with(adapters, &base, Scope::Subtree, filter, self.attributes())
                .await
                .map_err(|e| self.error("search", e))?;
            while let Some(raw) = stream.next().await.map_err(|e| self.error("search", e))? {
                // Not ldap3's `SearchEntry::construct`: it panics on a malformed entry.
                let e = Entry::decode(raw.0).map_err(|e| {
                    ConnectorError::permanent(&self.system, format!("search: {e}"))
                        .hint("the directory sent an entry that breaks RFC 4511; check url= points at an LDAP server")
                })?;
                if seen.insert(e.dn.to_ascii_lowercase()) {
                    out.push(e);
                }
            }
            stream
                .finish()
                .await
                .success()
                .map_err(|e| self.error("search", e))?;
        }
        Ok(out)
    }

    async fn find(&self, ldap: &mut Ldap, id: &str) -> Result<Option<Entry>, ConnectorError> {
        let filter = format!(
            "(&{}({}={}))",
            self.person_filter(),
            self.login_attr(),
            escape(id)
        );
        Ok(self.search(ldap, &filter).await?.into_iter().next())
    }

    async fn modify(
        &self,
        ldap: &mut Ldap,
        op: &str,
        dn: &str,
        mods: Vec<Mod<Vec<u8>>>,
    ) -> Result<(), ConnectorError> {
        ldap.modify(dn, mods)
            .await
            .and_then(|r| r.success())
            .map(|_| ())
            .map_err(|e| self.error(op, e))
    }

    async fn act(&self, ldap: &mut Ldap, id: &str, action: Action) -> Result<(), ConnectorError> {
        let Some(entry) = self.find(ldap, id).await? else {
            return Ok(()); // no entry, no access
        };
        let set = |attr: &str, value: Vec<u8>| {
            Mod::Replace(attr.as_bytes().to_vec(), HashSet::from([value]))
        };
        match action {
            Action::Disable if self.ad() => {
                let uac = entry
                    .first("userAccountControl")
                    .and_then(|v| v.parse::<u32>().ok())
                    .unwrap_or(0x200);
                if uac & ACCOUNTDISABLE == 0 {
                    let value = (uac | ACCOUNTDISABLE).to_string().into_bytes();
                    self.modify(
                        ldap,
                        "disable",
                        &entry.dn,
                        vec![set("userAccountControl", value)],
                    )
                    .await?;
                }
            }
            Action::Disable => {
                if entry.first("pwdAccountLockedTime") != Some(LOCKED_FOREVER) {
                    self.modify(
                        ldap,
                        "disable",
                        &entry.dn,
                        vec![set("pwdAccountLockedTime", LOCKED_FOREVER.into())],
                    )
                    .await?;
                }
            }
            Action::RemoveGroups => {
                for group in entry.all("memberOf") {
                    let remove = Mod::Delete(
                        b"member".to_vec(),
                        HashSet::from([entry.dn.clone().into_bytes()]),
                    );
                    match self
                        .modify(ldap, &format!("remove from {group}"), &group, vec![remove])
                        .await
                    {
                        Ok(()) => {}
                        // Already gone from that group (16: noSuchAttribute): nothing to do.
                        Err(e) if e.message.contains("LDAP result 16") => {}
                        Err(e) => return Err(e),
                    }
                }
            }
            Action::Move => {
                let Some(ou) = &self.cfg.disabled_ou else {
                    return Err(ConnectorError::permanent(
                        &self.system,
                        "no disabled-ou= configured",
                    ));
                };
                let (rdn, parent) = split_dn(&entry.dn);
                if !same_dn(parent, ou) {
                    ldap.modifydn(&entry.dn, rdn, true, Some(ou))
                        .await
                        .and_then(|r| r.success())
                        .map_err(|e| self.error("move", e))?;
                }
            }
            Action::ResetPassword => {
                let password = random_password().map_err(|e| {
                    ConnectorError::permanent(
                        &self.system,
                        format!("cannot generate a password: {e}"),
                    )
                })?;
                let m = if self.ad() {
                    // AD: unicodePwd is the quoted password in UTF-16LE, over LDAPS only.
                    let quoted: Vec<u8> = format!("\"{password}\"")
                        .encode_utf16()
                        .flat_map(u16::to_le_bytes)
                        .collect();
                    set("unicodePwd", quoted)
                } else {
                    set("userPassword", password.into_bytes())
                };
                self.modify(ldap, "reset password", &entry.dn, vec![m])
                    .await?;
                // ppolicy clears a lockout when the password changes; a reset must never
                // re-open an account that was locked, so the lock is put back.
                if !self.ad() && entry.first("pwdAccountLockedTime").is_some() {
                    let lock = set("pwdAccountLockedTime", LOCKED_FOREVER.into());
                    self.modify(ldap, "keep locked", &entry.dn, vec![lock])
                        .await?;
                }
            }
            Action::Delete => match ldap.delete(&entry.dn).await.and_then(|r| r.success()) {
                Ok(_) => {}
                Err(LdapError::LdapResult { result }) if result.rc == 32 => {}
                Err(e) => return Err(self.error("delete", e)),
            },
            other => {
                return Err(ConnectorError::permanent(
                    &self.system,
                    format!("the ldap connector cannot `{other}`"),
                ));
            }
        }
        Ok(())
    }

    async fn restore_on(
        &self,
        ldap: &mut Ldap,
        id: &str,
        restore: &Restore,
    ) -> Result<(), ConnectorError> {
        let Some(entry) = self.find(ldap, id).await? else {
            return Err(ConnectorError::permanent(
                &self.system,
                format!("{id} no longer exists; it cannot be restored"),
            ));
        };
        match restore {
            Restore::Enable if self.ad() => {
                let uac = entry
                    .first("userAccountControl")
                    .and_then(|v| v.parse::<u32>().ok())
                    .unwrap_or(0x202);
                let m = Mod::Replace(
                    b"userAccountControl".to_vec(),
                    HashSet::from([(uac & !ACCOUNTDISABLE).to_string().into_bytes()]),
                );
                self.modify(ldap, "enable", &entry.dn, vec![m]).await
            }
            Restore::Enable => {
                if entry.first("pwdAccountLockedTime").is_none() {
                    return Ok(());
                }
                let m = Mod::Delete(b"pwdAccountLockedTime".to_vec(), HashSet::new());
                self.modify(ldap, "enable", &entry.dn, vec![m]).await
            }
            Restore::AddGroups(_) | Restore::AddLicenses(_) => Err(ConnectorError::permanent(
                &self.system,
                "group names alone do not identify LDAP groups",
            )
            .hint("re-add the memberships by hand; `offboard journal show RUN` lists the groups removed")),
        }
    }
}

#[async_trait]
impl Connector for Ldap3 {
    fn system(&self) -> &str {
        &self.system
    }

    fn capabilities(&self) -> Vec<Action> {
        self.capabilities.clone()
    }

    async fn list_accounts(&self) -> Result<Vec<Account>, ConnectorError> {
        let mut ldap = self.connect().await?;
        let entries = self.search(&mut ldap, self.person_filter()).await;
        let _ = ldap.unbind().await;
        Ok(entries?
            .iter()
            .filter_map(|e| e.account(self.cfg.flavor))
            .collect())
    }

    async fn find_accounts(
        &self,
        lookups: &[Lookup],
    ) -> Result<Option<Vec<Account>>, ConnectorError> {
        self.find_by(lookups).await
    }

    async fn read_account(&self, id: &str) -> Result<Option<Account>, ConnectorError> {
        let mut ldap = self.connect().await?;
        let entry = self.find(&mut ldap, id).await;
        let _ = ldap.unbind().await;
        Ok(entry?.as_ref().and_then(|e| e.account(self.cfg.flavor)))
    }

    async fn perform(&self, id: &str, action: Action) -> Result<(), ConnectorError> {
        let mut ldap = self.connect().await?;
        let result = self.act(&mut ldap, id, action).await;
        let _ = ldap.unbind().await;
        result
    }

    async fn restore(&self, id: &str, restore: &Restore) -> Result<(), ConnectorError> {
        let mut ldap = self.connect().await?;
        let result = self.restore_on(&mut ldap, id, restore).await;
        let _ = ldap.unbind().await;
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_compare_like_ldap_names() {
        assert!(same_dn(
            "OU=Disabled Users, DC=corp,DC=local",
            "ou=disabled users,dc=corp,dc=local"
        ));
        assert!(!same_dn("ou=People,dc=corp", "ou=Disabled Users,dc=corp"));
    }

    #[test]
    fn filter_values_are_escaped() {
        assert_eq!(escape("a*(b)\\"), "a\\2a\\28b\\29\\5c");
    }
}
