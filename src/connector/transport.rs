//! What the connectors for vendors' JSON APIs (`graph`, `okta`, `google`) share about HTTP:
//! one client with timeouts, one exchange that reads the answer within a size limit, and
//! access tokens cached until shortly before they expire.
//!
//! Each vendor classifies its own errors (its error body, its quota reasons, its permission
//! names), so that stays in the connector; what is the same everywhere is here. Transport
//! failures are temporary and name the request, never a header: a credential cannot leak
//! through an error.

use std::future::Future;
use std::time::{Duration, Instant};

use jiff::SignedDuration;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;

use super::ConnectorError;
use super::secret::Secret;

/// The most an answer may hold (a page of users with every field is a few MB).
pub const MAX_BODY_BYTES: usize = 32 << 20;

/// An HTTP client for `system` with `timeout` per request (connecting gets at most 10 s of it).
pub fn client(system: &str, timeout: SignedDuration) -> Result<reqwest::Client, ConnectorError> {
    let timeout = Duration::from_secs(timeout.as_secs().max(1) as u64);
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .user_agent(concat!("offboard/", env!("CARGO_PKG_VERSION")))
        // These APIs do not redirect; one that does is answered as an error, so the
        // credential never follows a redirect anywhere.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| {
            ConnectorError::permanent(system, format!("cannot build the HTTP client: {e}"))
        })
}

/// An answer: its status, headers and body.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub bytes: Vec<u8>,
}

impl Answer {
    /// `Retry-After` in seconds, when the server sent one.
    pub fn retry_after(&self) -> Option<u64> {
        self.headers
            .get("Retry-After")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
    }

    /// The body as JSON (`null` when empty); not JSON is a permanent error with `hint`.
    pub fn json(&self, system: &str, what: &str, hint: &str) -> Result<Value, ConnectorError> {
        if self.bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&self.bytes).map_err(|_| {
            ConnectorError::permanent(system, format!("{what}: the answer is not JSON")).hint(hint)
        })
    }
}

/// Send `request` (described as `what`, to the service at `base`) and read the whole answer.
pub async fn exchange(
    system: &str,
    what: &str,
    base: &str,
    request: reqwest::RequestBuilder,
) -> Result<Answer, ConnectorError> {
    let mut resp = request.send().await.map_err(|e| {
        let how = if e.is_timeout() {
            "timed out"
        } else if e.is_connect() {
            "could not connect"
        } else {
            "failed"
        };
        ConnectorError::temporary(system, format!("{what} {how}"))
            .hint(format!("check that {base} is reachable from here"))
    })?;
    let status = resp.status();
    let headers = resp.headers().clone();
    let mut bytes = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|_| ConnectorError::temporary(system, format!("{what}: the answer was cut off")))?
    {
        if bytes.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(ConnectorError::permanent(
                system,
                format!(
                    "{what}: the answer is larger than {} MiB",
                    MAX_BODY_BYTES >> 20
                ),
            )
            .hint("lower the connector's page-size="));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(Answer {
        status,
        headers,
        bytes,
    })
}

/// How long before its expiry a cached token is replaced.
const EARLY: Duration = Duration::from_secs(300);

/// An access token, kept until shortly before it expires. One fetch at a time: requests
/// that need a token while one is being fetched wait for it rather than fetch their own.
#[derive(Default)]
pub struct TokenCache {
    cached: tokio::sync::Mutex<Option<(Secret, Instant)>>,
}

impl TokenCache {
    /// The cached token, or the one `fetch` gets (with its lifetime), which is then cached.
    pub async fn get<F>(&self, fetch: F) -> Result<Secret, ConnectorError>
    where
        F: Future<Output = Result<(Secret, Duration), ConnectorError>>,
    {
        let mut cached = self.cached.lock().await;
        if let Some((token, until)) = cached.as_ref()
            && Instant::now() < *until
        {
            return Ok(token.clone());
        }
        let (token, lifetime) = fetch.await?;
        let until = Instant::now() + lifetime.saturating_sub(EARLY).max(lifetime / 2);
        *cached = Some((token.clone(), until));
        Ok(token)
    }

    /// The service refused `token`: forget it, unless another request already replaced it.
    pub async fn forget(&self, token: &Secret) {
        let mut cached = self.cached.lock().await;
        if cached
            .as_ref()
            .is_some_and(|(t, _)| t.expose() == token.expose())
        {
            *cached = None;
        }
    }
}

/// Who issues tokens, for messages and hints.
pub struct TokenEndpoint<'a> {
    pub url: &'a str,
    /// "the Microsoft identity platform", "Okta", "Google".
    pub name: &'a str,
    /// What to check when the endpoint refuses the credential.
    pub hint: &'a str,
}

/// One OAuth 2.0 token request (RFC 6749 §4.4, with a client assertion per RFC 7523, or
/// Google's JWT bearer grant): the access token and its lifetime. A refusal is an error with
/// the endpoint's `error` and the first line of its `error_description` (the rest are
/// request ids), temporary for 429 and 5xx. The token is registered with the redactor.
pub async fn request_token(
    system: &str,
    client: &reqwest::Client,
    endpoint: &TokenEndpoint<'_>,
    form: &[(&str, &str)],
) -> Result<(String, Duration), ConnectorError> {
    let name = endpoint.name;
    let what = format!("POST {name} token endpoint");
    let request = client.post(endpoint.url).form(form);
    let answer = exchange(system, &what, endpoint.url, request).await?;
    let body: Value = serde_json::from_slice(&answer.bytes).unwrap_or(Value::Null);
    if answer.status.is_success() {
        let Some(token) = body.get("access_token").and_then(Value::as_str) else {
            return Err(ConnectorError::permanent(
                system,
                format!("{name} answered without an access token"),
            )
            .hint("check the connector's token endpoint setting"));
        };
        crate::redact::register(token);
        // At least a minute, at most a day, whatever the endpoint claims.
        let lifetime = body
            .get("expires_in")
            .and_then(Value::as_u64)
            .unwrap_or(3599)
            .clamp(60, 24 * 3600);
        return Ok((token.to_string(), Duration::from_secs(lifetime)));
    }
    let text = |k: &str| body.get(k).and_then(Value::as_str).unwrap_or("");
    let description = text("error_description").lines().next().unwrap_or("");
    let message = format!(
        "{name} refused a token: HTTP {} {} {description}",
        answer.status.as_u16(),
        text("error")
    )
    .trim_end()
    .to_string();
    if answer.status.is_server_error() || answer.status == StatusCode::TOO_MANY_REQUESTS {
        return Err(ConnectorError::temporary(system, message).hint("retried automatically"));
    }
    Err(ConnectorError::permanent(system, message).hint(endpoint.hint))
}

/// Every member's groups, from the groups and a way to list one group's members (`members`,
/// given the group's id): the groups are read `concurrency` at a time, and the answer maps
/// each member's `id` to the group objects it is in. Reading group by group takes a few
/// requests per group where asking each user for its groups takes one per user.
pub async fn groups_by_member<F, Fut>(
    groups: Vec<Value>,
    concurrency: usize,
    members: F,
) -> Result<std::collections::HashMap<String, Vec<Value>>, ConnectorError>
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<Vec<Value>, ConnectorError>>,
{
    use futures::StreamExt;
    let members = &members;
    let listed: Vec<(Value, Vec<Value>)> = futures::stream::iter(groups)
        .map(|g| async move {
            let gid = g
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            Ok::<_, ConnectorError>((g, members(gid).await?))
        })
        .buffered(concurrency.max(1))
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    let mut by_member: std::collections::HashMap<String, Vec<Value>> = Default::default();
    for (group, members) in listed {
        for m in members {
            if let Some(id) = m.get("id").and_then(Value::as_str) {
                by_member
                    .entry(id.to_string())
                    .or_default()
                    .push(group.clone());
            }
        }
    }
    Ok(by_member)
}
