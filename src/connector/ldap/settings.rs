//! The `connector ldap` settings: the directory, the bind account and its password's
//! source, where people live and where disabled accounts go, and the flavour.

use std::path::Path;

use jiff::SignedDuration;
use serde::{Deserialize, Serialize};

use super::Ldap3;
use crate::connector::kind::Kind;
use crate::connector::secret::Secret;
use crate::connector::{Connector, ConnectorError};
use crate::policy::props::Properties;
use crate::policy::{Action, SecretRef};

/// `connector ldap url=... bind-dn=... password-env=...|password-file=... base-dn=... ...`.
#[derive(Debug, Clone, PartialEq)]
pub struct LdapSettings {
    pub url: String,
    pub bind_dn: String,
    pub password: SecretRef,
    pub base_dn: String,
    pub disabled_ou: Option<String>,
    pub group_base_dn: Option<String>,
    pub flavor: LdapFlavor,
    pub starttls: bool,
    pub page_size: u32,
    pub timeout: SignedDuration,
}

/// Which directory server: it decides the login attribute and how an account is disabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LdapFlavor {
    Openldap,
    ActiveDirectory,
}

impl Kind for LdapSettings {
    const NAME: &'static str = "ldap";
    const ARTICLE: &'static str = "an";
    const EXAMPLE: &'static str = "connector ldap url=\"ldaps://dc1.corp.local\" bind-dn=\"CN=svc,...\" password-env=AD_BIND_PASSWORD base-dn=\"OU=People,...\"";
    const PROPERTIES: &'static [&'static str] = &[
        "url",
        "bind-dn",
        "password-env",
        "password-file",
        "base-dn",
        "disabled-ou",
        "group-base-dn",
        "flavor",
        "starttls",
        "page-size",
        "timeout",
    ];
    const ACTIONS: &'static [Action] = &[
        Action::Disable,
        Action::RemoveGroups,
        Action::Move,
        Action::ResetPassword,
        Action::Delete,
    ];

    fn read(props: &mut Properties<'_, '_>) -> Option<Self> {
        // The required settings are all checked before giving up, so one run names them all.
        let url = props.url("url", &["ldap://", "ldaps://"]);
        let bind_dn = props.required_string("bind-dn");
        let password = props.secret("password");
        let base_dn = props.required_string("base-dn");
        let flavor = match props
            .keyword("flavor", &["openldap", "active-directory"], "ldap flavor")?
            .as_deref()
        {
            Some("active-directory") => LdapFlavor::ActiveDirectory,
            _ => LdapFlavor::Openldap,
        };
        let page_size = props.integer("page-size", 1..=10_000, 500)?;
        let timeout = props.duration("timeout", SignedDuration::from_secs(30))?;
        Some(LdapSettings {
            url: url?,
            bind_dn: bind_dn?,
            password: password?,
            base_dn: base_dn?,
            disabled_ou: props.string("disabled-ou"),
            group_base_dn: props.string("group-base-dn"),
            flavor,
            starttls: props.bool("starttls", false),
            page_size,
            timeout,
        })
    }

    fn switched_off(&self, action: Action) -> Option<&'static str> {
        match action {
            Action::Move if self.disabled_ou.is_none() => {
                Some("`move` needs `disabled-ou=\"OU=Disabled Users,...\"` on the connector")
            }
            _ => None,
        }
    }

    fn credential_route(&self) -> Option<(String, String)> {
        Some((
            self.url.clone(),
            format!("{:?} as {}", self.password, self.bind_dn),
        ))
    }

    fn move_target(&self) -> Option<&str> {
        self.disabled_ou.as_deref()
    }

    fn connect(&self, system: &str, root: &Path) -> Result<Box<dyn Connector>, ConnectorError> {
        let password = Secret::resolve(system, "LDAP bind password", &self.password, root)?;
        Ok(Box::new(Ldap3::new(system, self, password)))
    }
}
