//! The credential Okta sees: an API token (`SSWS`), or an OAuth 2.0 access token for an API
//! service app, obtained with a private-key client assertion (Okta's "Implement OAuth for
//! Okta with a service app") and cached until shortly before it expires. Neither ever
//! appears in a message; access tokens are registered with the redactor.

use std::path::Path;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::settings::{Credential, OktaSettings};
use crate::connector::ConnectorError;
use crate::connector::assertion::{SigningKey, assertion_id};
use crate::connector::secret::Secret;

/// The scopes offboard asks a service app's token for: read and manage users and groups.
pub const SCOPES: &str = "okta.users.read okta.users.manage okta.groups.read okta.groups.manage";
const EARLY: Duration = Duration::from_secs(300);

pub(super) enum Auth {
    /// `SSWS <token>`, as the header value.
    Token(Secret),
    ServiceApp {
        system: String,
        token_url: String,
        client_id: String,
        key: Box<SigningKey>,
        /// `Bearer <token>`, until when.
        cached: tokio::sync::Mutex<Option<(Secret, Instant)>>,
    },
}

#[derive(Serialize)]
struct Claims<'a> {
    aud: &'a str,
    iss: &'a str,
    sub: &'a str,
    jti: String,
    iat: i64,
    exp: i64,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

impl Auth {
    pub(super) fn load(
        system: &str,
        cfg: &OktaSettings,
        root: &Path,
    ) -> Result<Auth, ConnectorError> {
        match &cfg.credential {
            Credential::ApiToken(source) => {
                let token = Secret::resolve(system, "Okta API token", source, root)?;
                Ok(Auth::Token(Secret::new(format!("SSWS {}", token.expose()))))
            }
            Credential::ServiceApp {
                client_id,
                private_key,
                key_id,
            } => {
                let pem =
                    Secret::resolve(system, "Okta service app private key", private_key, root)?;
                let key = SigningKey::from_pem(system, pem.expose(), "Okta private key file")?
                    .with_kid(key_id.clone());
                Ok(Auth::ServiceApp {
                    system: system.to_string(),
                    token_url: format!("{}/oauth2/v1/token", cfg.url),
                    client_id: client_id.clone(),
                    key: Box::new(key),
                    cached: tokio::sync::Mutex::new(None),
                })
            }
        }
    }

    /// Whether a 401 may be cured by a new token (a service app's), or is final (a token).
    pub(super) fn renewable(&self) -> bool {
        matches!(self, Auth::ServiceApp { .. })
    }

    /// The `Authorization` header's value.
    pub(super) async fn header(&self, client: &reqwest::Client) -> Result<Secret, ConnectorError> {
        let (system, token_url, client_id, key, cached) = match self {
            Auth::Token(token) => return Ok(token.clone()),
            Auth::ServiceApp {
                system,
                token_url,
                client_id,
                key,
                cached,
            } => (system, token_url, client_id, key, cached),
        };
        let mut cached = cached.lock().await;
        if let Some((header, until)) = cached.as_ref()
            && Instant::now() < *until
        {
            return Ok(header.clone());
        }
        let now = jiff::Timestamp::now().as_second();
        let assertion = key.sign(
            system,
            &Claims {
                aud: token_url,
                iss: client_id,
                sub: client_id,
                jti: assertion_id(now),
                iat: now,
                exp: now + 300,
            },
        )?;
        let form = [
            ("grant_type", "client_credentials"),
            ("scope", SCOPES),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion.as_str()),
        ];
        let resp = client
            .post(token_url)
            .form(&form)
            .send()
            .await
            .map_err(|e| {
                ConnectorError::temporary(
                    system,
                    format!("cannot reach Okta's token endpoint: {e}"),
                )
                .hint("check the connector's url=")
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
            let e = ConnectorError::permanent(
                system,
                format!(
                    "Okta refused a token: HTTP {} {error} {description}",
                    status.as_u16()
                ),
            );
            return Err(if status.is_server_error() || status.as_u16() == 429 {
                ConnectorError::temporary(system, e.message).hint("retried automatically")
            } else {
                e.hint("check client-id=, the key registered with the service app, its granted scopes (okta.users.manage, okta.groups.manage) and that DPoP is not required for it")
            });
        }
        let token: TokenResponse = serde_json::from_slice(&bytes).map_err(|_| {
            ConnectorError::permanent(system, "Okta's token endpoint answered without a token")
        })?;
        crate::redact::register(&token.access_token);
        let lifetime = Duration::from_secs(token.expires_in.unwrap_or(3600).max(60));
        let header = Secret::new(format!("Bearer {}", token.access_token));
        let until = Instant::now() + lifetime.saturating_sub(EARLY).max(lifetime / 2);
        *cached = Some((header.clone(), until));
        Ok(header)
    }

    /// Okta refused `header`: forget it, unless another request already replaced it.
    pub(super) async fn forget(&self, header: &Secret) {
        if let Auth::ServiceApp { cached, .. } = self {
            let mut cached = cached.lock().await;
            if cached
                .as_ref()
                .is_some_and(|(h, _)| h.expose() == header.expose())
            {
                *cached = None;
            }
        }
    }
}
