//! The `connector scim` settings: the service's base URL, the token's source, paging,
//! timeouts, and whether deleting users and managing groups are allowed.

use std::path::Path;

use jiff::SignedDuration;

use super::Scim;
use crate::connector::kind::Kind;
use crate::connector::secret::Secret;
use crate::connector::{Connector, ConnectorError};
use crate::policy::props::Properties;
use crate::policy::{Action, SecretRef};

/// `connector scim url=... token-env=...|token-file=... ...`.
#[derive(Debug, Clone, PartialEq)]
pub struct ScimSettings {
    pub url: String,
    pub token: SecretRef,
    pub page_size: u32,
    pub timeout: SignedDuration,
    pub hard_delete: bool,
    pub manage_groups: bool,
    pub user_attribute: String,
}

impl Kind for ScimSettings {
    const NAME: &'static str = "scim";
    const EXAMPLE: &'static str =
        "connector scim url=\"https://acme.okta.com/scim/v2\" token-env=OKTA_SCIM_TOKEN";
    const PROPERTIES: &'static [&'static str] = &[
        "url",
        "token-env",
        "token-file",
        "page-size",
        "timeout",
        "hard-delete",
        "manage-groups",
        "user-attribute",
    ];
    const ACTIONS: &'static [Action] = &[Action::Disable, Action::RemoveGroups, Action::Delete];

    fn read(props: &mut Properties<'_, '_>) -> Option<Self> {
        let url = props.url("url", &["https://", "http://"])?;
        let token = props.secret("token")?;
        let page_size = props.integer("page-size", 1..=1000, 100)?;
        let timeout = props.duration("timeout", SignedDuration::from_secs(30))?;
        Some(ScimSettings {
            url,
            token,
            page_size,
            timeout,
            hard_delete: props.bool("hard-delete", false),
            manage_groups: props.bool("manage-groups", true),
            user_attribute: props
                .string("user-attribute")
                .unwrap_or_else(|| "userName".to_string()),
        })
    }

    fn switched_off(&self, action: Action) -> Option<&'static str> {
        match action {
            Action::Delete if !self.hard_delete => {
                Some("a scim connector deletes only with `hard-delete=#true`")
            }
            Action::RemoveGroups if !self.manage_groups => {
                Some("`manage-groups=#false` turns group removal off")
            }
            _ => None,
        }
    }

    fn credential_route(&self) -> Option<(String, String)> {
        Some((self.url.clone(), format!("{:?}", self.token)))
    }

    fn connect(&self, system: &str, root: &Path) -> Result<Box<dyn Connector>, ConnectorError> {
        let token = Secret::resolve(system, "SCIM bearer token", &self.token, root)?;
        Ok(Box::new(Scim::new(system, self, token)?))
    }
}
