//! The credential Okta sees: an API token (`SSWS`), or an OAuth 2.0 access token for an API
//! service app, obtained with a private-key client assertion (Okta's "Implement OAuth for
//! Okta with a service app") and cached until shortly before it expires. Neither ever
//! appears in a message; access tokens are registered with the redactor.

use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use super::settings::{Credential, OktaSettings};
use crate::connector::ConnectorError;
use crate::connector::assertion::{SigningKey, assertion_id};
use crate::connector::secret::Secret;
use crate::connector::transport::{TokenCache, TokenEndpoint, request_token};

/// The scopes offboard asks a service app's token for: read and manage users and groups.
pub const SCOPES: &str = "okta.users.read okta.users.manage okta.groups.read okta.groups.manage";

pub(super) enum Auth {
    /// `SSWS <token>`, as the header value.
    Token(Secret),
    ServiceApp(Box<ServiceApp>),
}

/// An API service app: signs a client assertion for each new access token.
pub(super) struct ServiceApp {
    system: String,
    token_url: String,
    client_id: String,
    key: SigningKey,
    cache: TokenCache,
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
                Ok(Auth::ServiceApp(Box::new(ServiceApp {
                    system: system.to_string(),
                    token_url: cfg
                        .token_url
                        .clone()
                        .unwrap_or_else(|| format!("{}/oauth2/v1/token", cfg.url)),
                    client_id: client_id.clone(),
                    key,
                    cache: TokenCache::default(),
                })))
            }
        }
    }

    /// Whether a 401 may be cured by a new token (a service app's), or is final (a token).
    pub(super) fn renewable(&self) -> bool {
        matches!(self, Auth::ServiceApp(_))
    }

    /// The `Authorization` header's value.
    pub(super) async fn header(&self, client: &reqwest::Client) -> Result<Secret, ConnectorError> {
        match self {
            Auth::Token(token) => Ok(token.clone()),
            Auth::ServiceApp(app) => app.cache.get(app.request(client)).await,
        }
    }

    /// Okta refused `header`: forget it, unless another request already replaced it.
    pub(super) async fn forget(&self, header: &Secret) {
        if let Auth::ServiceApp(app) = self {
            app.cache.forget(header).await;
        }
    }
}

impl ServiceApp {
    /// A new access token (as the header value) and its lifetime.
    async fn request(
        &self,
        client: &reqwest::Client,
    ) -> Result<(Secret, Duration), ConnectorError> {
        let system = &self.system;
        let now = jiff::Timestamp::now().as_second();
        let assertion = self.key.sign(
            system,
            &Claims {
                aud: &self.token_url,
                iss: &self.client_id,
                sub: &self.client_id,
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
        let endpoint = TokenEndpoint {
            url: &self.token_url,
            name: "Okta",
            hint: "check client-id=, the key registered with the service app, its granted scopes (okta.users.manage, okta.groups.manage) and that DPoP is not required for it",
        };
        let (token, lifetime) = request_token(system, client, &endpoint, &form).await?;
        Ok((Secret::new(format!("Bearer {token}")), lifetime))
    }
}
