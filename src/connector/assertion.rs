//! Signed JWTs that prove who a connector is: OAuth 2.0 client assertions (RFC 7523) for
//! Microsoft's certificate credentials and Okta's service apps, and the service-account
//! assertion Google exchanges for a token.
//!
//! Each vendor wants the same thing in a slightly different envelope: an RS256 signature,
//! the key named by a header (`x5t#S256` for Microsoft, `kid` for Google and optionally
//! Okta), the token endpoint as audience, a unique `jti` and a short life. This module holds
//! the private key (never printed: `Debug` is redacted) and signs claims a connector gives
//! it; what the claims say is the connector's business.

use std::fmt;

use serde::Serialize;

use super::ConnectorError;

/// An RSA private key and the header that names it.
pub struct SigningKey {
    key: jsonwebtoken::EncodingKey,
    header: jsonwebtoken::Header,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

impl SigningKey {
    /// The first `PRIVATE KEY` (PKCS#8) or `RSA PRIVATE KEY` (PKCS#1) block of `pem`.
    pub fn from_pem(system: &str, pem: &str, what: &str) -> Result<SigningKey, ConnectorError> {
        let unusable = |why: &str| {
            ConnectorError::permanent(system, format!("the {what} {why}"))
                .hint("give a PEM file with an unencrypted RSA private key")
        };
        let block = pem_block(pem, "PRIVATE KEY")
            .or_else(|| pem_block(pem, "RSA PRIVATE KEY"))
            .ok_or_else(|| unusable("holds no PRIVATE KEY block"))?;
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(block.as_bytes())
            .map_err(|_| unusable("holds a private key that is not an RSA key in PEM"))?;
        Ok(SigningKey {
            key,
            header: jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        })
    }

    /// Name the key with `kid` (Google's `private_key_id`, Okta's key id).
    pub fn with_kid(mut self, kid: Option<String>) -> SigningKey {
        self.header.kid = kid;
        self
    }

    /// Name the key by its certificate's SHA-256 thumbprint (`x5t#S256`, Microsoft).
    pub fn with_thumbprint(mut self, thumbprint: String) -> SigningKey {
        self.header.x5t_s256 = Some(thumbprint);
        self
    }

    /// The signed JWT.
    pub fn sign(&self, system: &str, claims: &impl Serialize) -> Result<String, ConnectorError> {
        jsonwebtoken::encode(&self.header, claims, &self.key).map_err(|e| {
            ConnectorError::permanent(system, format!("cannot sign the assertion: {e}"))
                .hint("the key must be an RSA private key")
        })
    }
}

/// The text of the first `-----BEGIN {label}-----` block of `pem`, markers included.
pub fn pem_block<'a>(pem: &'a str, label: &str) -> Option<&'a str> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin)?;
    let stop = pem[start..].find(&end)? + start + end.len();
    Some(&pem[start..stop])
}

/// A unique id for one assertion (`jti`): identity providers refuse a replayed one.
pub fn assertion_id(now: i64) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let seed = format!("{now}:{n}:{}", std::process::id());
    let h = blake3::hash(seed.as_bytes()).to_hex();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}
