//! The `connector okta` settings: the org URL, the credential (an API token, or an OAuth 2.0
//! service app's client id and private key), what `disable` means (suspend or deactivate),
//! paging, timeouts, deletion, and how much of each rate-limit window to leave unused.

use std::path::Path;

use jiff::SignedDuration;

use super::Okta;
use crate::connector::kind::Kind;
use crate::connector::{Connector, ConnectorError};
use crate::policy::props::Properties;
use crate::policy::{Action, SecretRef};

/// How the connector proves itself to Okta.
#[derive(Debug, Clone, PartialEq)]
pub enum Credential {
    /// `token-env=`/`token-file=`: an API token (`Authorization: SSWS ...`), which acts with
    /// the admin roles of the admin who created it.
    ApiToken(SecretRef),
    /// `client-id=` with `private-key-env=`/`private-key-file=`: an API service app with
    /// admin roles, which signs a client assertion for an access token (OAuth 2.0).
    ServiceApp {
        client_id: String,
        private_key: SecretRef,
        key_id: Option<String>,
    },
}

/// What `disable` does in Okta.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisableAs {
    /// `lifecycle/suspend`: sign-in stops, app assignments stay; `unsuspend` undoes it.
    Suspend,
    /// `lifecycle/deactivate`: the user is deprovisioned from every app downstream;
    /// undoing it means reactivating and re-provisioning.
    Deactivate,
}

/// `connector okta url=... token-env=...|client-id=... private-key-file=... ...`.
#[derive(Debug, Clone, PartialEq)]
pub struct OktaSettings {
    pub url: String,
    pub credential: Credential,
    pub disable_as: DisableAs,
    pub page_size: u32,
    pub timeout: SignedDuration,
    pub delete: bool,
    /// Percent of each rate-limit window left unused: requests wait for the next window
    /// rather than spend it (Okta's limits are shared with every other integration).
    pub rate_limit_reserve: u32,
    /// A service app's token endpoint; the org authorization server's
    /// (`{url}/oauth2/v1/token`) when not set. Set it only where a proxy sits in front of the
    /// Management API (a test's validating proxy).
    pub token_url: Option<String>,
}

impl Kind for OktaSettings {
    const NAME: &'static str = "okta";
    const ARTICLE: &'static str = "an";
    const EXAMPLE: &'static str =
        "connector okta url=\"https://acme.okta.com\" token-env=OKTA_API_TOKEN disable=suspend";
    const PROPERTIES: &'static [&'static str] = &[
        "url",
        "token-env",
        "token-file",
        "client-id",
        "private-key-env",
        "private-key-file",
        "key-id",
        "disable",
        "page-size",
        "timeout",
        "delete",
        "rate-limit-reserve",
        "token-url",
    ];
    const ACTIONS: &'static [Action] = &[
        Action::Disable,
        Action::RevokeSessions,
        Action::RemoveGroups,
        Action::ResetMfa,
        Action::Delete,
    ];

    fn read(props: &mut Properties<'_, '_>) -> Option<Self> {
        let url = props.url("url", &["https://", "http://"])?;
        let token = ["token-env", "token-file"]
            .into_iter()
            .find(|k| props.has(k));
        let key = ["private-key-env", "private-key-file"]
            .into_iter()
            .find(|k| props.has(k));
        if let (Some(token), Some(key)) = (token, key) {
            props.not_both(token, key)?;
        }
        let credential = if key.is_some() {
            Credential::ServiceApp {
                client_id: props.required_string("client-id")?,
                private_key: props.secret("private-key")?,
                key_id: props.string("key-id"),
            }
        } else {
            Credential::ApiToken(props.secret("token")?)
        };
        let disable_as = match props
            .keyword("disable", &["suspend", "deactivate"], "disable mode")?
            .as_deref()
        {
            Some("deactivate") => DisableAs::Deactivate,
            _ => DisableAs::Suspend,
        };
        Some(OktaSettings {
            url: url.trim_end_matches('/').to_string(),
            credential,
            disable_as,
            // Okta pages users at most 200 at a time.
            page_size: props.integer("page-size", 1..=200, 200)?,
            timeout: props.duration("timeout", SignedDuration::from_secs(30))?,
            delete: props.bool("delete", false),
            rate_limit_reserve: props.integer("rate-limit-reserve", 0..=90, 10)?,
            token_url: if props.has("token-url") {
                Some(props.url("token-url", &["https://", "http://"])?)
            } else {
                None
            },
        })
    }

    fn switched_off(&self, action: Action) -> Option<&'static str> {
        match action {
            Action::Delete if !self.delete => Some(
                "an okta connector deletes only with `delete=#true` (a deleted Okta user cannot be recovered)",
            ),
            _ => None,
        }
    }

    fn disabled_as(&self) -> Option<&'static str> {
        Some(match self.disable_as {
            DisableAs::Suspend => "suspended",
            DisableAs::Deactivate => "deactivated",
        })
    }

    fn credential_route(&self) -> Option<(String, String)> {
        Some((
            format!("{} {:?}", self.url, self.token_url),
            format!("{:?}", self.credential),
        ))
    }

    fn connect(&self, system: &str, root: &Path) -> Result<Box<dyn Connector>, ConnectorError> {
        Ok(Box::new(Okta::new(system, self, root)?))
    }
}
