//! Access tokens for a service account with domain-wide delegation ("Using OAuth 2.0 for
//! Server to Server Applications"): a JWT signed with the account's private key, naming the
//! admin it acts as (`sub`) and the Directory API scopes, exchanged at Google's token
//! endpoint, then cached until shortly before it expires. The key file, the assertion and the
//! token never appear in messages; tokens are registered with the redactor.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::settings::GoogleSettings;
use crate::connector::ConnectorError;
use crate::connector::assertion::SigningKey;
use crate::connector::secret::Secret;
use crate::connector::transport::{TokenCache, TokenEndpoint, request_token};

/// What offboard asks for: manage users, read groups, manage group memberships, and users' tokens and
/// application-specific passwords (with sign-out).
pub const SCOPES: &str = "https://www.googleapis.com/auth/admin.directory.user https://www.googleapis.com/auth/admin.directory.group.readonly https://www.googleapis.com/auth/admin.directory.group.member https://www.googleapis.com/auth/admin.directory.user.security";

#[derive(Deserialize)]
struct KeyFile {
    private_key: String,
    #[serde(default)]
    private_key_id: Option<String>,
    client_email: String,
    #[serde(default)]
    token_uri: Option<String>,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
}

pub(super) struct Tokens {
    system: String,
    key: Box<SigningKey>,
    client_email: String,
    admin: String,
    token_url: String,
    cache: TokenCache,
}

impl Tokens {
    pub(super) fn load(
        system: &str,
        cfg: &GoogleSettings,
        root: &Path,
    ) -> Result<Tokens, ConnectorError> {
        let file = Secret::resolve(
            system,
            "Google service account key",
            &cfg.service_account,
            root,
        )?;
        let key: KeyFile = serde_json::from_str(file.expose()).map_err(|_| {
            ConnectorError::permanent(system, "the service account key is not a JSON key file")
                .hint("download a JSON key for the service account (IAM > Service accounts > Keys) and point service-account-file= at it")
        })?;
        crate::redact::register(&key.private_key);
        let signing = SigningKey::from_pem(system, &key.private_key, "service account key")?
            .with_kid(key.private_key_id.clone());
        let token_url = cfg
            .token_url
            .clone()
            .or(key.token_uri)
            .unwrap_or_else(|| "https://oauth2.googleapis.com/token".to_string());
        Ok(Tokens {
            system: system.to_string(),
            key: Box::new(signing),
            client_email: key.client_email,
            admin: cfg.admin.clone(),
            token_url,
            cache: TokenCache::default(),
        })
    }

    pub(super) async fn get(&self, client: &reqwest::Client) -> Result<Secret, ConnectorError> {
        self.cache.get(self.request(client)).await
    }

    pub(super) async fn invalidate(&self, token: &Secret) {
        self.cache.forget(token).await;
    }

    /// A new access token and its lifetime.
    async fn request(
        &self,
        client: &reqwest::Client,
    ) -> Result<(Secret, Duration), ConnectorError> {
        let now = jiff::Timestamp::now().as_second();
        let assertion = self.key.sign(
            &self.system,
            &Claims {
                iss: &self.client_email,
                sub: &self.admin,
                scope: SCOPES,
                aud: &self.token_url,
                iat: now,
                exp: now + 3600,
            },
        )?;
        let form = [
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", assertion.as_str()),
        ];
        let endpoint = TokenEndpoint {
            url: &self.token_url,
            name: "Google",
            hint: "check admin= (an admin who manages users and groups), and that the service account's client id is allowed these scopes under domain-wide delegation (Admin console > Security > API controls)",
        };
        let (token, lifetime) = request_token(&self.system, client, &endpoint, &form).await?;
        Ok((Secret::new(token), lifetime))
    }
}
