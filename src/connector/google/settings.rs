//! The `connector google` settings: the service account's key file, the admin it acts as
//! (domain-wide delegation), the customer, the token and API URLs (tests), paging, timeouts
//! and deletion.

use std::path::Path;

use jiff::SignedDuration;

use super::Google;
use crate::connector::kind::Kind;
use crate::connector::{Connector, ConnectorError};
use crate::policy::props::Properties;
use crate::policy::{Action, SecretRef};

/// `connector google admin=... service-account-file=... ...`.
#[derive(Debug, Clone, PartialEq)]
pub struct GoogleSettings {
    /// The service account's JSON key (`service-account-env=`/`service-account-file=`).
    pub service_account: SecretRef,
    /// The super admin (or delegated admin) the service account acts as: the assertion's
    /// `sub`, for domain-wide delegation.
    pub admin: String,
    /// `my_customer` (the admin's own account) or a customer id.
    pub customer: String,
    /// Google's OAuth 2.0 token endpoint; the key file's `token_uri` when not set.
    pub token_url: Option<String>,
    /// The Admin SDK's root (`https://admin.googleapis.com`).
    pub api_url: String,
    pub page_size: u32,
    pub timeout: SignedDuration,
    pub delete: bool,
}

impl Kind for GoogleSettings {
    const NAME: &'static str = "google";
    const EXAMPLE: &'static str = "connector google admin=\"offboard-admin@acme.com\" service-account-file=\"/run/secrets/google-offboard.json\"";
    const PROPERTIES: &'static [&'static str] = &[
        "service-account-env",
        "service-account-file",
        "admin",
        "customer",
        "token-url",
        "api-url",
        "page-size",
        "timeout",
        "delete",
    ];
    const ACTIONS: &'static [Action] = &[
        Action::Disable,
        Action::RevokeSessions,
        Action::RemoveGroups,
        Action::Delete,
    ];

    fn read(props: &mut Properties<'_, '_>) -> Option<Self> {
        let service_account = props.secret("service-account")?;
        let admin = props.required_string("admin")?;
        let token_url = if props.has("token-url") {
            Some(props.url("token-url", &["https://", "http://"])?)
        } else {
            None
        };
        let api_url = props.url_or(
            "api-url",
            &["https://", "http://"],
            "https://admin.googleapis.com",
        )?;
        Some(GoogleSettings {
            service_account,
            admin,
            customer: props
                .string("customer")
                .unwrap_or_else(|| "my_customer".to_string()),
            token_url,
            api_url: api_url.trim_end_matches('/').to_string(),
            // The Directory API pages users at most 500 at a time.
            page_size: props.integer("page-size", 1..=500, 500)?,
            timeout: props.duration("timeout", SignedDuration::from_secs(30))?,
            delete: props.bool("delete", false),
        })
    }

    fn switched_off(&self, action: Action) -> Option<&'static str> {
        match action {
            Action::Delete if !self.delete => Some(
                "a google connector deletes only with `delete=#true` (Google keeps a deleted user restorable for 20 days)",
            ),
            _ => None,
        }
    }

    fn disabled_as(&self) -> Option<&'static str> {
        Some("suspended")
    }

    fn credential_route(&self) -> Option<(String, String)> {
        Some((
            format!("{} {:?}", self.api_url, self.token_url),
            format!("{} {:?}", self.admin, self.service_account),
        ))
    }

    fn connect(&self, system: &str, root: &Path) -> Result<Box<dyn Connector>, ConnectorError> {
        Ok(Box::new(Google::new(system, self, root)?))
    }
}
