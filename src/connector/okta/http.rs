//! One Okta Management API exchange: the credential header, rate limits, `Link` paging, and
//! failures classified as Okta documents them ("Error codes", "Rate limits").
//!
//! Okta's limits are per org and shared with every other integration, so the connector slows
//! down *before* the limit: every answer carries `X-Rate-Limit-Limit`, `-Remaining` and
//! `-Reset`, and when what remains of the window falls under the reserve the policy sets, the
//! next request waits for the window to reset. A 429 is temporary and carries the wait until
//! the reset as `Retry-After`. The per-system concurrency stays the ceiling; this only lowers
//! the pace. 401 renews a service app's token once; 403 is a missing admin role or scope; 404
//! is `Ok(None)` (for an idempotent step, "not there" is done).

use std::collections::HashSet;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::Okta;
use crate::connector::transport;
use crate::connector::{ConnectorError, ErrorKind};

/// 10 million users at 200 per page.
const MAX_PAGES: usize = 50_100;
/// The longest a request waits for a rate-limit window to reset.
const MAX_WAIT: Duration = Duration::from_secs(60);

/// What the last answer said about the rate-limit window.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Window {
    limit: u64,
    remaining: u64,
    /// UTC epoch seconds when the window resets.
    reset: i64,
}

/// One answer: its body (`None` for 404) and the next page's URL, if any.
pub(super) struct Reply {
    pub body: Option<Value>,
    pub next: Option<String>,
}

impl Okta {
    fn url_of(&self, path: &str) -> Result<String, ConnectorError> {
        if path.starts_with("http://") || path.starts_with("https://") {
            // A `Link` comes from the server: the credential goes only to the org we chose.
            if path.starts_with(&format!("{}/", self.base)) {
                return Ok(path.to_string());
            }
            return Err(ConnectorError::permanent(
                &self.system,
                "Okta sent a next-page link outside the configured url",
            )
            .hint("the credential is sent only to url=; check that it is the Okta org itself"));
        }
        Ok(format!("{}/{}", self.base, path.trim_start_matches('/')))
    }

    /// Take one request from the window's budget, first waiting for the next window when
    /// what remains is within the reserve. The budget is counted here as requests leave, not
    /// only when answers report it, so concurrent requests cannot all spend the last of it.
    async fn pace(&self) {
        loop {
            let wait = {
                let Ok(mut w) = self.window.lock() else {
                    return;
                };
                if w.limit == 0 {
                    return;
                }
                let reserve = w.limit * u64::from(self.reserve_percent) / 100;
                let now = jiff::Timestamp::now().as_second();
                if w.remaining > reserve || w.reset <= now {
                    if w.reset <= now {
                        // A new window: its budget is unknown until an answer reports it,
                        // so one request at a time goes ahead to learn it.
                        w.reset = now + 1;
                        w.remaining = reserve + 1;
                    }
                    w.remaining = w.remaining.saturating_sub(1);
                    return;
                }
                (w.reset - now).clamp(1, MAX_WAIT.as_secs() as i64)
            };
            tokio::time::sleep(Duration::from_secs(wait as u64)).await;
        }
    }

    /// What an answer says about the window: a later window replaces ours; within the same
    /// window, the lower count wins (requests still in flight are already counted here).
    fn remember_window(&self, headers: &reqwest::header::HeaderMap) {
        let number = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<i64>().ok())
        };
        if let (Some(limit), Some(remaining), Some(reset)) = (
            number("X-Rate-Limit-Limit"),
            number("X-Rate-Limit-Remaining"),
            number("X-Rate-Limit-Reset"),
        ) && let Ok(mut w) = self.window.lock()
        {
            let remaining = remaining.max(0) as u64;
            // A reset further ahead than the longest wait is not believed: pacing would
            // otherwise stop every request for as long as the server says.
            let reset = reset.min(jiff::Timestamp::now().as_second() + MAX_WAIT.as_secs() as i64);
            if reset > w.reset || w.limit == 0 {
                *w = Window {
                    limit: limit.max(0) as u64,
                    remaining,
                    reset,
                };
            } else if reset == w.reset {
                w.remaining = w.remaining.min(remaining);
            }
        }
    }

    /// One request; `Ok(Reply { body: None, .. })` for 404.
    pub(super) async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Reply, ConnectorError> {
        let url = self.url_of(path)?;
        let what = format!("{method} {}", short(path, &self.base));
        let mut renewed = false;
        loop {
            self.pace().await;
            let auth = self.authorization().await?;
            let mut req = self
                .client
                .request(method.clone(), &url)
                .header("Authorization", auth.expose())
                .header("Accept", "application/json");
            if let Some(b) = body {
                req = req
                    .header("Content-Type", "application/json")
                    .body(b.to_string());
            }
            let answer = transport::exchange(&self.system, &what, &self.base, req).await?;
            self.remember_window(&answer.headers);
            let next = next_link(&answer.headers);
            if answer.status == StatusCode::UNAUTHORIZED && self.renewable() && !renewed {
                self.forget_token(&auth).await;
                renewed = true;
                continue;
            }
            if answer.status == StatusCode::NOT_FOUND {
                return Ok(Reply { body: None, next });
            }
            if answer.status.is_success() {
                let body = answer.json(
                    &self.system,
                    &what,
                    "check that url= is the Okta org (https://ORG.okta.com)",
                )?;
                return Ok(Reply {
                    body: Some(body),
                    next,
                });
            }
            // A 429 waits until the window resets.
            let retry_after = answer
                .headers
                .get("X-Rate-Limit-Reset")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<i64>().ok())
                .map(|r| (r - jiff::Timestamp::now().as_second()).max(1) as u64);
            return Err(self.status_error(&what, answer.status, &answer.bytes, retry_after));
        }
    }

    /// Every element of a listing, following `Link: <...>; rel="next"` to the end.
    pub(super) async fn all(&self, first: &str) -> Result<Vec<Value>, ConnectorError> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut next = first.to_string();
        for _ in 0..MAX_PAGES {
            let answer = self.call(Method::GET, &next, None).await?;
            let Some(Value::Array(items)) = answer.body else {
                return Err(ConnectorError::permanent(
                    &self.system,
                    format!("GET {}: not a list", short(&next, &self.base)),
                )
                .hint("check that url= is the Okta org (https://ORG.okta.com)"));
            };
            out.extend(items);
            match answer.next {
                None => return Ok(out),
                Some(link) if !seen.insert(link.clone()) => {
                    return Err(ConnectorError::permanent(
                        &self.system,
                        "Okta repeated a next-page link: the listing would never end",
                    ));
                }
                Some(link) => next = link,
            }
        }
        Err(ConnectorError::permanent(
            &self.system,
            format!("a listing passed {MAX_PAGES} pages"),
        ))
    }

    fn status_error(
        &self,
        what: &str,
        status: StatusCode,
        bytes: &[u8],
        retry_after: Option<u64>,
    ) -> ConnectorError {
        let body: Value = serde_json::from_slice(bytes).unwrap_or(Value::Null);
        let code = body.get("errorCode").and_then(Value::as_str).unwrap_or("");
        let summary = body
            .get("errorSummary")
            .and_then(Value::as_str)
            .map(|m| m.chars().take(300).collect::<String>())
            .unwrap_or_default();
        let message = format!("{what}: HTTP {} {code} {summary}", status.as_u16())
            .trim_end()
            .to_string();
        let base = ConnectorError::permanent(&self.system, message);
        match status.as_u16() {
            401 => base.hint("Okta refused the credential: check the API token (or the service app's key and client id) and that it has not expired"),
            403 => base.hint("the token's admin (or the service app) lacks an admin role or scope for this: see the okta connector's setup (docs/connectors/okta.md)"),
            429 | 500..=599 => ConnectorError {
                kind: ErrorKind::Temporary,
                retry_after,
                ..base.hint("Okta's rate limit or a server error; retried automatically after the window resets")
            },
            _ => base.hint("Okta rejected the request; see its error summary"),
        }
    }
}

/// The `rel="next"` target among the answer's `Link` headers (RFC 8288). Targets are read
/// between `<` and `>`, so a comma inside a URL does not split it.
fn next_link(headers: &reqwest::header::HeaderMap) -> Option<String> {
    for value in headers
        .get_all("Link")
        .iter()
        .filter_map(|v| v.to_str().ok())
    {
        let mut rest = value;
        while let Some(open) = rest.find('<') {
            let close = rest[open..].find('>')? + open;
            let target = &rest[open + 1..close];
            let after = &rest[close + 1..];
            let params = &after[..after.find('<').unwrap_or(after.len())];
            let is_next = params.split(';').any(|p| {
                let p: String = p
                    .chars()
                    .filter(|c| !c.is_whitespace() && *c != ',')
                    .collect();
                p == "rel=\"next\"" || p == "rel=next"
            });
            if is_next {
                return Some(target.to_string());
            }
            rest = after;
        }
    }
    None
}

/// A path as messages show it: without the org and the query.
fn short<'a>(path: &'a str, base: &str) -> &'a str {
    let path = path.strip_prefix(base).unwrap_or(path);
    path.split('?').next().unwrap_or(path)
}
