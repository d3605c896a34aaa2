//! Access tokens for a service account with domain-wide delegation ("Using OAuth 2.0 for
//! Server to Server Applications"): a JWT signed with the account's private key, naming the
//! admin it acts as (`sub`) and the Directory API scopes, exchanged at Google's token
//! endpoint, then cached until shortly before it expires. The key file, the assertion and the
//! token never appear in messages; tokens are registered with the redactor.

use std::path::Path;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::settings::GoogleSettings;
use crate::connector::ConnectorError;
use crate::connector::assertion::SigningKey;
use crate::connector::secret::Secret;

/// What offboard asks for: manage users, read groups, manage group memberships, and users' tokens and
/// application-specific passwords (with sign-out).
pub const SCOPES: &str = "https://www.googleapis.com/auth/admin.directory.user https://www.googleapis.com/auth/admin.directory.group.readonly https://www.googleapis.com/auth/admin.directory.group.member https://www.googleapis.com/auth/admin.directory.user.security";
const EARLY: Duration = Duration::from_secs(300);

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

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

pub(super) struct Tokens {
    system: String,
    key: Box<SigningKey>,
    client_email: String,
    admin: String,
    token_url: String,
    cached: tokio::sync::Mutex<Option<(Secret, Instant)>>,
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
            cached: tokio::sync::Mutex::new(None),
        })
    }

    pub(super) async fn get(&self, client: &reqwest::Client) -> Result<Secret, ConnectorError> {
        let mut cached = self.cached.lock().await;
        if let Some((token, until)) = cached.as_ref()
            && Instant::now() < *until
        {
            return Ok(token.clone());
        }
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
        let resp = client
            .post(&self.token_url)
            .form(&form)
            .send()
            .await
            .map_err(|e| {
                ConnectorError::temporary(
                    &self.system,
                    format!("cannot reach Google's token endpoint: {e}"),
                )
                .hint("check that it is reachable from here")
            })?;
        let status = resp.status();
        let bytes = resp.bytes().await.unwrap_or_default();
        if !status.is_success() {
            let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
            let error = body.get("error").and_then(|v| v.as_str()).unwrap_or("");
            let description = body
                .get("error_description")
                .and_then(|v| v.as_str())
                .unwrap_or("");
            let message = format!(
                "Google refused a token: HTTP {} {error} {description}",
                status.as_u16()
            );
            return Err(if status.is_server_error() || status.as_u16() == 429 {
                ConnectorError::temporary(&self.system, message).hint("retried automatically")
            } else {
                ConnectorError::permanent(&self.system, message).hint(
                    "check admin= (a super admin), and that the service account's client id is allowed these scopes under domain-wide delegation (Admin console > Security > API controls)",
                )
            });
        }
        let token: TokenResponse = serde_json::from_slice(&bytes).map_err(|_| {
            ConnectorError::permanent(
                &self.system,
                "Google's token endpoint answered without a token",
            )
        })?;
        crate::redact::register(&token.access_token);
        let lifetime = Duration::from_secs(token.expires_in.unwrap_or(3599).max(60));
        let secret = Secret::new(token.access_token);
        let until = Instant::now() + lifetime.saturating_sub(EARLY).max(lifetime / 2);
        *cached = Some((secret.clone(), until));
        Ok(secret)
    }

    pub(super) async fn invalidate(&self, token: &Secret) {
        let mut cached = self.cached.lock().await;
        if cached
            .as_ref()
            .is_some_and(|(t, _)| t.expose() == token.expose())
        {
            *cached = None;
        }
    }
}
