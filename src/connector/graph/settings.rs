//! The `connector graph` settings: the tenant and app registration, the credential (a client
//! secret or a certificate), the identity platform and Graph URLs (national clouds, tests),
//! paging, timeouts, whether users may be deleted, and what the kind leaves to people.

use std::path::Path;

use jiff::SignedDuration;

use super::Graph;
use crate::connector::kind::Kind;
use crate::connector::{Account, Connector, ConnectorError};
use crate::policy::props::Properties;
use crate::policy::{Action, SecretRef};

/// How the app registration proves itself to the Microsoft identity platform.
#[derive(Debug, Clone, PartialEq)]
pub enum Credential {
    /// `client-secret-env=`/`client-secret-file=`: a client secret.
    Secret(SecretRef),
    /// `certificate-env=`/`certificate-file=`: a PEM holding the certificate uploaded to the
    /// app registration and its private key; offboard signs a client assertion with it.
    Certificate(SecretRef),
}

/// `connector graph tenant=... client-id=... client-secret-env=...|certificate-file=... ...`.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphSettings {
    pub tenant: String,
    pub client_id: String,
    pub credential: Credential,
    /// The Microsoft identity platform (`https://login.microsoftonline.com`, or a national
    /// cloud's, such as `https://login.microsoftonline.us`).
    pub authority: String,
    /// Microsoft Graph (`https://graph.microsoft.com`, or a national cloud's).
    pub graph_url: String,
    pub page_size: u32,
    pub timeout: SignedDuration,
    /// Deleting is allowed (`delete=#true`): Entra ID keeps deleted users restorable for 30
    /// days, then removes them for good.
    pub delete: bool,
    /// Read `signInActivity` (needs `AuditLog.Read.All` and an Entra ID P1 licence).
    pub sign_in_activity: bool,
    /// How many requests may be in flight while reading a whole tenant.
    pub read_concurrency: u32,
}

/// What Entra Connect-synced accounts are mastered by.
pub const ON_PREMISES: &str = "on-premises Active Directory";

impl Kind for GraphSettings {
    const NAME: &'static str = "graph";
    const EXAMPLE: &'static str = "connector graph tenant=\"contoso.onmicrosoft.com\" client-id=\"6731de76-14a6-49ae-97bc-6eba6914391e\" certificate-file=\"secrets/offboard-graph.pem\"";
    const PROPERTIES: &'static [&'static str] = &[
        "tenant",
        "client-id",
        "client-secret-env",
        "client-secret-file",
        "certificate-env",
        "certificate-file",
        "authority",
        "graph-url",
        "page-size",
        "timeout",
        "delete",
        "sign-in-activity",
        "read-concurrency",
    ];
    const ACTIONS: &'static [Action] = &[
        Action::Disable,
        Action::RevokeSessions,
        Action::HandOffFiles,
        Action::RemoveGroups,
        Action::RemoveLicenses,
        Action::ResetMfa,
        Action::RemoveAppRoles,
        Action::HandOffMailbox,
        Action::Delete,
    ];

    fn read(props: &mut Properties<'_, '_>) -> Option<Self> {
        let tenant = props.required_string("tenant")?;
        let client_id = props.required_string("client-id")?;
        let certificate = ["certificate-env", "certificate-file"]
            .into_iter()
            .find(|k| props.has(k));
        let secret = ["client-secret-env", "client-secret-file"]
            .into_iter()
            .find(|k| props.has(k));
        if let (Some(certificate), Some(secret)) = (certificate, secret) {
            props.not_both(certificate, secret)?;
        }
        let credential = if certificate.is_some() {
            Credential::Certificate(props.secret("certificate")?)
        } else {
            Credential::Secret(props.secret("client-secret")?)
        };
        let authority = props.url_or(
            "authority",
            &["https://", "http://"],
            "https://login.microsoftonline.com",
        )?;
        let graph_url = props.url_or(
            "graph-url",
            &["https://", "http://"],
            "https://graph.microsoft.com",
        )?;
        Some(GraphSettings {
            tenant,
            client_id,
            credential,
            authority: authority.trim_end_matches('/').to_string(),
            graph_url: graph_url.trim_end_matches('/').to_string(),
            // Graph pages users at most 999 at a time.
            page_size: props.integer("page-size", 1..=999, 999)?,
            timeout: props.duration("timeout", SignedDuration::from_secs(30))?,
            delete: props.bool("delete", false),
            sign_in_activity: props.bool("sign-in-activity", false),
            read_concurrency: props.integer("read-concurrency", 1..=64, 8)?,
        })
    }

    fn switched_off(&self, action: Action) -> Option<&'static str> {
        match action {
            Action::Delete if !self.delete => Some(
                "a graph connector deletes only with `delete=#true` (Entra ID keeps deleted users restorable for 30 days)",
            ),
            _ => None,
        }
    }

    fn credential_route(&self) -> Option<(String, String)> {
        Some((
            format!("{} {} {}", self.authority, self.graph_url, self.tenant),
            format!("{} {:?}", self.client_id, self.credential),
        ))
    }

    fn by_hand(&self, action: Action) -> bool {
        // Converting a mailbox, forwarding and delegation are Exchange Online operations
        // (PowerShell), not Graph v1.0 ones.
        action == Action::HandOffMailbox
    }

    fn instructions(
        &self,
        action: Action,
        account: &Account,
        manager: Option<&str>,
    ) -> Vec<String> {
        if action != Action::HandOffMailbox {
            return Vec::new();
        }
        let mailbox = ps_quote(account.emails.first().unwrap_or(&account.username));
        let mut steps = vec![format!(
            "Set-Mailbox -Identity {mailbox} -Type Shared   (in Exchange Online PowerShell, within 30 days of the licence's removal, or the mailbox is deleted with it)"
        )];
        match manager {
            Some(manager) => {
                let manager = ps_quote(manager);
                steps.push(format!(
                    "Add-MailboxPermission -Identity {mailbox} -User {manager} -AccessRights FullAccess -InheritanceType All -AutoMapping $true"
                ));
                steps.push(format!(
                    "Set-Mailbox -Identity {mailbox} -ForwardingSmtpAddress {manager} -DeliverToMailboxAndForward $true"
                ));
            }
            None => steps.push(
                "the roster names no manager: choose who receives the mailbox, then grant FullAccess and forwarding to them".to_string(),
            ),
        }
        steps
    }

    fn connect(&self, system: &str, root: &Path) -> Result<Box<dyn Connector>, ConnectorError> {
        Ok(Box::new(Graph::new(system, self, root)?))
    }
}

/// A PowerShell single-quoted string: nothing inside is interpreted, `'` is doubled.
fn ps_quote(s: &str) -> String {
    let clean: String = s.chars().filter(|c| !c.is_control()).collect();
    format!("'{}'", clean.replace('\'', "''"))
}
