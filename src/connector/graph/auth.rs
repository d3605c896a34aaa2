//! Access tokens from the Microsoft identity platform: the OAuth 2.0 client credentials flow.
//!
//! The app registration proves itself with a client secret, or with a certificate: offboard
//! signs a short-lived client assertion (a JWT, RS256, carrying the certificate's SHA-256
//! thumbprint as `x5t#S256`, audience the token endpoint) with the certificate's private key,
//! as "Microsoft identity platform certificate credentials" describes. The token is cached
//! until five minutes before it expires, and dropped when Graph says it is no longer valid
//! (a token revoked or expired early), so one expiry mid-apply costs one new token, not a
//! failed change. Secrets, assertions and tokens never appear in messages: errors quote the
//! identity platform's `error` code and its description, which never echo credentials, and
//! every token is registered with the redactor in case a server echoes it anyway.

use std::path::Path;
use std::time::Duration;

use base64::Engine;
use serde::Serialize;
use sha2::Digest;

use super::settings::{Credential, GraphSettings};
use crate::connector::ConnectorError;
use crate::connector::assertion::{SigningKey, assertion_id, pem_block};
use crate::connector::secret::Secret;
use crate::connector::transport::{TokenCache, TokenEndpoint, request_token};

/// How long a client assertion is valid (Microsoft accepts up to ten minutes).
const ASSERTION_LIFETIME: i64 = 5 * 60;

enum Proof {
    Secret(Secret),
    Certificate(Box<SigningKey>),
}

/// The token source of one graph system.
pub(super) struct Tokens {
    system: String,
    token_url: String,
    client_id: String,
    scope: String,
    proof: Proof,
    cache: TokenCache,
}

#[derive(Serialize)]
struct AssertionClaims<'a> {
    aud: &'a str,
    iss: &'a str,
    sub: &'a str,
    jti: String,
    nbf: i64,
    iat: i64,
    exp: i64,
}

impl Tokens {
    pub(super) fn load(
        system: &str,
        cfg: &GraphSettings,
        root: &Path,
    ) -> Result<Tokens, ConnectorError> {
        let proof = match &cfg.credential {
            Credential::Secret(source) => Proof::Secret(Secret::resolve(
                system,
                "Graph client secret",
                source,
                root,
            )?),
            Credential::Certificate(source) => {
                let pem = Secret::resolve(system, "Graph certificate", source, root)?;
                certificate(system, pem.expose())?
            }
        };
        Ok(Tokens {
            system: system.to_string(),
            token_url: format!(
                "{}/{}/oauth2/v2.0/token",
                cfg.authority,
                crate::connector::percent::encode(&cfg.tenant)
            ),
            client_id: cfg.client_id.clone(),
            scope: format!("{}/.default", cfg.graph_url),
            proof,
            cache: TokenCache::default(),
        })
    }

    /// A valid token: the cached one, or a new one.
    pub(super) async fn get(&self, client: &reqwest::Client) -> Result<Secret, ConnectorError> {
        self.cache.get(self.request(client)).await
    }

    /// Graph refused `token`: forget it (unless another request already replaced it).
    pub(super) async fn invalidate(&self, token: &Secret) {
        self.cache.forget(token).await;
    }

    async fn request(
        &self,
        client: &reqwest::Client,
    ) -> Result<(Secret, Duration), ConnectorError> {
        let mut form = vec![
            ("client_id", self.client_id.clone()),
            ("scope", self.scope.clone()),
            ("grant_type", "client_credentials".to_string()),
        ];
        match &self.proof {
            Proof::Secret(secret) => form.push(("client_secret", secret.expose().to_string())),
            Proof::Certificate(key) => {
                form.push((
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_string(),
                ));
                form.push(("client_assertion", self.assertion(key)?));
            }
        }
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let endpoint = TokenEndpoint {
            url: &self.token_url,
            name: "the Microsoft identity platform",
            hint: "check tenant=, client-id= and the credential: the secret's or certificate's expiry in the app registration, and that the certificate uploaded there is the one offboard holds",
        };
        let (token, lifetime) = request_token(&self.system, client, &endpoint, &form).await?;
        Ok((Secret::new(token), lifetime))
    }

    fn assertion(&self, key: &SigningKey) -> Result<String, ConnectorError> {
        let now = jiff::Timestamp::now().as_second();
        let claims = AssertionClaims {
            aud: &self.token_url,
            iss: &self.client_id,
            sub: &self.client_id,
            jti: assertion_id(now),
            nbf: now,
            iat: now,
            exp: now + ASSERTION_LIFETIME,
        };
        key.sign(&self.system, &claims)
    }
}

/// The private key and the certificate's thumbprint, from one PEM file holding both.
fn certificate(system: &str, pem: &str) -> Result<Proof, ConnectorError> {
    let unusable = |what: &str| {
        ConnectorError::permanent(system, format!("the Graph certificate file {what}")).hint(
            "give certificate-file= a PEM with the certificate uploaded to the app registration and its RSA private key (e.g. `cat cert.pem key.pem`)",
        )
    };
    let cert =
        pem_block(pem, "CERTIFICATE").ok_or_else(|| unusable("holds no CERTIFICATE block"))?;
    let body: String = cert
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .flat_map(|l| l.trim().chars())
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|_| unusable("has a CERTIFICATE block that is not base64"))?;
    let thumbprint =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(&der));
    let key = SigningKey::from_pem(system, pem, "Graph certificate file")?;
    Ok(Proof::Certificate(Box::new(
        key.with_thumbprint(thumbprint),
    )))
}
