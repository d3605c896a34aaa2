//! One Microsoft Graph exchange: the bearer token, the JSON body read within a size limit,
//! `@odata.nextLink` paging, and failures classified as Graph's documentation describes
//! ("Microsoft Graph error responses", "Microsoft Graph throttling guidance"): 429 and 5xx are
//! temporary and carry `Retry-After`; 401 means the token is no longer good, so it is replaced
//! once; 403 is a missing application permission, named in the hint; other 4xx are permanent,
//! with Graph's `error.code` and `error.message`. 404 is `Ok(None)`: for an idempotent
//! offboarding step, "not there" is done.
//!
//! Reads that belong together go in one JSON batch ("Combine multiple HTTP requests using
//! JSON batching"): up to 20 GETs in one round trip, each answer judged as if it had been sent
//! alone. A batch of reads is only ever reads, so repeating one after a failure is safe.

use std::collections::HashSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::Graph;
use crate::connector::transport;
use crate::connector::{ConnectorError, ErrorKind};

/// The most requests Graph takes in one `$batch`.
pub(super) const MAX_BATCH: usize = 20;
/// The most pages one listing may take: 10 million objects at 999 per page, so a server that
/// never stops paging is an error, not a hang.
const MAX_PAGES: usize = 10_100;

impl Graph {
    /// `path` below `/v1.0` (or a full `@odata.nextLink` of this Graph), as a URL.
    fn url_of(&self, path: &str) -> Result<String, ConnectorError> {
        if path.starts_with("http://") || path.starts_with("https://") {
            // A nextLink comes from the server: the token goes only to the Graph we chose.
            if path.starts_with(&format!("{}/", self.base)) {
                return Ok(path.to_string());
            }
            return Err(ConnectorError::permanent(
                &self.system,
                "Graph sent an @odata.nextLink outside the configured graph-url",
            )
            .hint("the token is sent only to graph-url; check that graph-url= is the Graph endpoint itself"));
        }
        Ok(format!("{}/{}", self.base, path.trim_start_matches('/')))
    }

    /// One request; `permission` is the application permission it needs (for a 403's hint).
    /// `Ok(None)` for 404.
    pub(super) async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        permission: &'static str,
    ) -> Result<Option<Value>, ConnectorError> {
        let url = self.url_of(path)?;
        let what = format!("{method} {}", short(path, &self.base));
        let mut renewed = false;
        loop {
            let token = self.tokens.get(&self.client).await?;
            let mut req = self
                .client
                .request(method.clone(), &url)
                .bearer_auth(token.expose())
                .header("Accept", "application/json");
            if let Some(b) = body {
                req = req
                    .header("Content-Type", "application/json")
                    .body(b.to_string());
            }
            let answer = transport::exchange(&self.system, &what, &self.base, req).await?;
            if answer.status == StatusCode::UNAUTHORIZED && !renewed {
                // Expired or revoked early: one new token, then the same request again.
                self.tokens.invalidate(&token).await;
                renewed = true;
                continue;
            }
            if answer.status == StatusCode::NOT_FOUND {
                return Ok(None);
            }
            if answer.status.is_success() {
                return answer
                    .json(
                        &self.system,
                        &what,
                        "check that graph-url= points at Microsoft Graph",
                    )
                    .map(Some);
            }
            let retry_after = answer.retry_after();
            return Err(self.status_error(
                &what,
                answer.status,
                &answer.bytes,
                retry_after,
                permission,
            ));
        }
    }

    /// Every object of a collection, following `@odata.nextLink` to the end.
    pub(super) async fn all(
        &self,
        first: &str,
        permission: &'static str,
    ) -> Result<Vec<Value>, ConnectorError> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut next = first.to_string();
        for _ in 0..MAX_PAGES {
            let Some(page) = self.call(Method::GET, &next, None, permission).await? else {
                return Err(ConnectorError::permanent(
                    &self.system,
                    format!("GET {}: HTTP 404", short(&next, &self.base)),
                )
                .hint("check the connector's graph-url= (e.g. https://graph.microsoft.com)"));
            };
            let Some(values) = page.get("value").and_then(Value::as_array) else {
                return Err(ConnectorError::permanent(
                    &self.system,
                    format!(
                        "GET {}: a collection without `value`",
                        short(&next, &self.base)
                    ),
                ));
            };
            out.extend(values.iter().cloned());
            match page.get("@odata.nextLink").and_then(Value::as_str) {
                None => return Ok(out),
                Some(link) if !seen.insert(link.to_string()) => {
                    return Err(ConnectorError::permanent(
                        &self.system,
                        "Graph repeated an @odata.nextLink: the listing would never end",
                    ));
                }
                Some(link) => next = link.to_string(),
            }
        }
        Err(ConnectorError::permanent(
            &self.system,
            format!("a listing passed {MAX_PAGES} pages"),
        ))
    }

    /// GETs (paths below `/v1.0`, at most [`MAX_BATCH`]) in one `$batch`; the answers in the
    /// same order, `None` for 404. A failed answer fails the batch, classified like the
    /// request alone (a 429 inside carries its own `Retry-After`).
    pub(super) async fn batch_get(
        &self,
        gets: &[(String, &'static str)],
    ) -> Result<Vec<Option<Value>>, ConnectorError> {
        let requests: Vec<Value> = gets
            .iter()
            .enumerate()
            .map(|(i, (path, _))| {
                json!({"id": i.to_string(), "method": "GET", "url": format!("/{}", path.trim_start_matches('/'))})
            })
            .collect();
        let body = json!({ "requests": requests });
        let permission = gets.first().map_or("User.Read.All", |(_, p)| p);
        let reply = self
            .call(Method::POST, "$batch", Some(&body), permission)
            .await?
            .unwrap_or(Value::Null);
        let broken = || {
            ConnectorError::permanent(
                &self.system,
                "POST $batch: an answer without every response",
            )
            .hint("check that graph-url= points at Microsoft Graph")
        };
        let mut answers: Vec<Option<Option<Value>>> = vec![None; gets.len()];
        for r in reply
            .get("responses")
            .and_then(Value::as_array)
            .ok_or_else(broken)?
        {
            let Some(i) = r
                .get("id")
                .and_then(Value::as_str)
                .and_then(|id| id.parse::<usize>().ok())
                .filter(|i| *i < gets.len())
            else {
                return Err(broken());
            };
            let status = r.get("status").and_then(Value::as_u64).unwrap_or(0) as u16;
            let body = r.get("body").cloned().unwrap_or(Value::Null);
            answers[i] = Some(match status {
                200..=299 => Some(body),
                404 => None,
                _ => {
                    let retry_after = r
                        .pointer("/headers/Retry-After")
                        .or_else(|| r.pointer("/headers/retry-after"))
                        .and_then(|v| {
                            v.as_u64()
                                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                        });
                    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
                    let what = format!("GET {} (batched)", short(&gets[i].0, &self.base));
                    let bytes = body.to_string();
                    return Err(self.status_error(
                        &what,
                        status,
                        bytes.as_bytes(),
                        retry_after,
                        gets[i].1,
                    ));
                }
            });
        }
        answers.into_iter().map(|a| a.ok_or_else(broken)).collect()
    }

    fn status_error(
        &self,
        what: &str,
        status: StatusCode,
        bytes: &[u8],
        retry_after: Option<u64>,
        permission: &str,
    ) -> ConnectorError {
        let body: Value = serde_json::from_slice(bytes).unwrap_or(Value::Null);
        let code = body
            .pointer("/error/code")
            .and_then(Value::as_str)
            .unwrap_or("");
        let detail = body
            .pointer("/error/message")
            .and_then(Value::as_str)
            .map(|m| m.chars().take(300).collect::<String>())
            .unwrap_or_default();
        let message = format!("{what}: HTTP {} {code} {detail}", status.as_u16())
            .trim_end()
            .to_string();
        let base = ConnectorError::permanent(&self.system, message);
        match status.as_u16() {
            401 => base.hint("Graph refused a fresh token: check that the app registration has admin consent for its application permissions"),
            403 => base.hint(format!(
                "the app registration lacks the application permission {permission} (grant it, with admin consent)"
            )),
            429 | 500..=599 => ConnectorError {
                kind: ErrorKind::Temporary,
                retry_after,
                ..base.hint("Graph throttled or failed; retried automatically, honouring Retry-After")
            },
            _ => base.hint("Graph rejected the request; see its message"),
        }
    }
}

/// A path as messages show it: relative to `/v1.0`, without the query.
fn short<'a>(path: &'a str, base: &str) -> &'a str {
    let path = path.strip_prefix(base).unwrap_or(path);
    path.split('?').next().unwrap_or(path)
}
