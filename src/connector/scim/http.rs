//! One SCIM exchange over HTTP: the request (bearer token, SCIM media types, `If-Match`),
//! the response body read with its size limit, the version (`meta.version`, else `ETag`),
//! and HTTP failures turned into permanent or temporary errors with a hint (409/412 are
//! conflicts to re-decide, 429 and 5xx are retried, honouring `Retry-After`). The token only
//! ever travels in the header: reqwest's error messages name the URL, never headers.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::{Scim, Versioned, response};
use crate::connector::{ConnectorError, ErrorKind};

impl Scim {
    pub(super) fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base, path.trim_start_matches('/'))
    }

    /// One HTTP exchange; statuses mapped to error kinds. `Ok(None)` for 404.
    pub(super) async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        if_match: Option<&str>,
    ) -> Result<Option<Versioned>, ConnectorError> {
        let mut req = self
            .client
            .request(method.clone(), self.url(path))
            .bearer_auth(self.token.expose())
            .header("Accept", "application/scim+json, application/json");
        if !query.is_empty() {
            req = req.query(query);
        }
        if let Some(v) = if_match {
            req = req.header("If-Match", v);
        }
        if let Some(b) = body {
            req = req
                .header("Content-Type", "application/scim+json")
                .body(b.to_string());
        }
        let resp = req
            .send()
            .await
            .map_err(|e| self.transport_error(&method, path, &e))?;
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get("Retry-After")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let etag = resp
            .headers()
            .get("ETag")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = self.read_body(resp, &method, path).await?;
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if status.is_success() {
            let body = response::body(&bytes).map_err(|e| {
                ConnectorError::permanent(&self.system, format!("{method} {path}: {e}"))
            })?;
            let version = body
                .pointer("/meta/version")
                .and_then(Value::as_str)
                .map(str::to_string)
                .or(etag);
            return Ok(Some(Versioned { body, version }));
        }
        let text = String::from_utf8_lossy(&bytes);
        Err(self.status_error(&method, path, status, &text, retry_after))
    }

    /// The body, streamed in and refused once it passes [`response::MAX_BODY_BYTES`].
    async fn read_body(
        &self,
        mut resp: reqwest::Response,
        method: &Method,
        path: &str,
    ) -> Result<Vec<u8>, ConnectorError> {
        let mut bytes = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| self.transport_error(method, path, &e))?
        {
            if bytes.len() + chunk.len() > response::MAX_BODY_BYTES {
                return Err(ConnectorError::permanent(
                    &self.system,
                    format!("{method} {path}: {}", response::too_large()),
                )
                .hint("lower the connector's page-size=, or check that url= points at the SCIM service"));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }

    fn transport_error(&self, method: &Method, path: &str, e: &reqwest::Error) -> ConnectorError {
        // reqwest's message names the URL, never headers, so the token cannot appear.
        let what = if e.is_timeout() {
            "timed out"
        } else if e.is_connect() {
            "could not connect"
        } else {
            "failed"
        };
        ConnectorError::temporary(
            &self.system,
            format!("{method} {path} {what}: {}", without_url_query(e)),
        )
        .hint(format!("check that {} is reachable from here", self.base))
    }

    fn status_error(
        &self,
        method: &Method,
        path: &str,
        status: StatusCode,
        text: &str,
        retry_after: Option<u64>,
    ) -> ConnectorError {
        let detail = serde_json::from_str::<Value>(text)
            .ok()
            .and_then(|v| v.get("detail").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_else(|| text.chars().take(200).collect());
        let message = format!("{method} {path}: HTTP {} {}", status.as_u16(), detail);
        let base = ConnectorError::permanent(&self.system, message);
        match status.as_u16() {
            401 => base.hint("the token was refused: check that the variable or file holds the current SCIM token"),
            403 => base.hint("the token lacks permission: grant it the provisioning scope that allows managing users and groups"),
            409 | 412 => ConnectorError {
                kind: ErrorKind::Temporary,
                ..base.hint("the resource changed at the same time; it will be read again")
            },
            429 => ConnectorError {
                kind: ErrorKind::Temporary,
                retry_after,
                ..base.hint("rate limited: lower the system's concurrency if this persists")
            },
            500..=599 => ConnectorError {
                kind: ErrorKind::Temporary,
                retry_after,
                ..base.hint("the service provider failed; retried automatically")
            },
            _ => base.hint("the service provider rejected the request; check the connector settings"),
        }
    }
}

fn without_url_query(e: &reqwest::Error) -> String {
    // The query string holds only paging and filters, but keep messages short and stable.
    e.to_string()
}
