//! LatencyInjectingScim: a minimal SCIM 2.0 stand-in that waits a fixed time on every request.
//!
//! Not a SCIM implementation to test against (the real scim2-server does that): it answers
//! just enough for the connector's disable (service provider configuration, list users, a
//! filtered list (`ATTR eq "VALUE"` terms joined by `or`, on `userName` and `emails.value`,
//! case-insensitive as RFC 7643 says), GET a user, PATCH `active` with If-Match, 204) and
//! adds a fixed latency, so the executor's scheduling can be compared with
//! the ideal time. It is written in Rust on tokio because a Python stand-in serialises
//! requests on its interpreter lock and measured itself rather than the executor: at 80
//! concurrent connections it made apply look 2.5x slower than ideal.
//!
//! Tenants are path prefixes /t0/v2 ... /tN/v2, each seeded with users u0..u{USERS-1}.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

struct User {
    active: bool,
    version: u64,
}

/// One tenant's users, and their ids in listing order (sorted once, not per page).
struct Tenant {
    users: HashMap<String, User>,
    order: Vec<String>,
}

type Store = Arc<Mutex<HashMap<String, Tenant>>>;

/// Start the stand-in on its own thread and runtime; returns the port it listens on.
pub fn start(tenants: usize, users: usize, latency: Duration) -> u16 {
    let std_listener = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind 127.0.0.1");
    let port = std_listener.local_addr().expect("local address").port();
    std_listener.set_nonblocking(true).expect("non-blocking");
    let store: Store = Arc::new(Mutex::new(
        (0..tenants)
            .map(|t| {
                let order: Vec<String> = (0..users).map(|i| format!("u{i}")).collect();
                let users = order
                    .iter()
                    .map(|id| {
                        (
                            id.clone(),
                            User {
                                active: true,
                                version: 1,
                            },
                        )
                    })
                    .collect();
                (format!("t{t}"), Tenant { users, order })
            })
            .collect(),
    ));
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("stand-in runtime");
        rt.block_on(async move {
            let listener = TcpListener::from_std(std_listener).expect("tokio listener");
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let store = store.clone();
                tokio::spawn(async move {
                    let _ = serve(stream, store, latency).await;
                });
            }
        });
    });
    port
}

/// One keep-alive connection: request after request until the client closes it.
async fn serve(stream: TcpStream, store: Store, latency: Duration) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    loop {
        let mut request_line = String::new();
        if read.read_line(&mut request_line).await? == 0 {
            return Ok(());
        }
        let mut parts = request_line.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let target = parts.next().unwrap_or("/").to_string();
        let (mut length, mut if_match) = (0usize, None::<String>);
        loop {
            let mut line = String::new();
            if read.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                match name.trim().to_ascii_lowercase().as_str() {
                    "content-length" => length = value.trim().parse().unwrap_or(0),
                    "if-match" => if_match = Some(value.trim().to_string()),
                    _ => {}
                }
            }
        }
        let mut body = vec![0; length];
        read.read_exact(&mut body).await?;
        tokio::time::sleep(latency).await;
        let (status, reply) = route(&store, &method, &target, if_match.as_deref());
        // One write per response: a head and a body in two small writes meet Nagle's
        // algorithm and the client's delayed ACK, and every response waits 40 ms.
        let response = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/scim+json\r\nContent-Length: {}\r\n\r\n{reply}",
            reply.len()
        );
        write.write_all(response.as_bytes()).await?;
    }
}

fn user_json(id: &str, u: &User) -> serde_json::Value {
    serde_json::json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": id,
        "userName": format!("{id}@acme.example"),
        "emails": [{"value": format!("{id}@acme.example")}],
        "active": u.active,
        "meta": {"version": format!("W/\"{}\"", u.version)},
    })
}

fn route(store: &Store, method: &str, target: &str, if_match: Option<&str>) -> (String, String) {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let mut store = store
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let Some(tenant) = parts.first().and_then(|t| store.get_mut(*t)) else {
        return (
            "404 Not Found".into(),
            r#"{"detail":"unknown tenant"}"#.into(),
        );
    };
    match parts.as_slice() {
        // ETags are declared, so the connector writes with If-Match and no read first.
        [_, _, "ServiceProviderConfig"] => (
            "200 OK".into(),
            r#"{"etag":{"supported":true},"patch":{"supported":true}}"#.into(),
        ),
        [_, _, "Groups", ..] => (
            "200 OK".into(),
            r#"{"totalResults":0,"Resources":[]}"#.into(),
        ),
        [_, _, "Users"] => {
            let param = |name: &str, default: usize| {
                query
                    .split('&')
                    .filter_map(|kv| kv.split_once('='))
                    .find(|(k, _)| *k == name)
                    .and_then(|(_, v)| v.parse().ok())
                    .unwrap_or(default)
            };
            let (start, count) = (param("startIndex", 1).max(1), param("count", 100));
            let filter = query
                .split('&')
                .filter_map(|kv| kv.split_once('='))
                .find(|(k, _)| *k == "filter")
                .map(|(_, v)| percent_decode(v));
            let mut ids: Vec<&String> = match &filter {
                // Every user's userName and email is `{id}@acme.example`: a value names one.
                Some(filter) => terms(filter)
                    .iter()
                    .filter_map(|value| {
                        let id = value.to_lowercase();
                        let id = id.strip_suffix("@acme.example")?;
                        tenant.users.get_key_value(id).map(|(k, _)| k)
                    })
                    .collect(),
                None => tenant.order.iter().collect(),
            };
            ids.dedup();
            let page: Vec<serde_json::Value> = ids
                .iter()
                .skip(start - 1)
                .take(count)
                .map(|id| user_json(id, &tenant.users[*id]))
                .collect();
            let body = serde_json::json!({
                "totalResults": ids.len(),
                "startIndex": start,
                "Resources": page,
            });
            ("200 OK".into(), body.to_string())
        }
        [_, _, "Users", id] => {
            let Some(user) = tenant.users.get_mut(*id) else {
                return ("404 Not Found".into(), r#"{"detail":"not found"}"#.into());
            };
            if method == "PATCH" {
                let current = format!("W/\"{}\"", user.version);
                if if_match.is_some_and(|m| m != current) {
                    return (
                        "412 Precondition Failed".into(),
                        r#"{"detail":"changed"}"#.into(),
                    );
                }
                user.active = false;
                user.version += 1;
                return ("204 No Content".into(), String::new());
            }
            ("200 OK".into(), user_json(id, user).to_string())
        }
        _ => (
            "404 Not Found".into(),
            r#"{"detail":"unknown path"}"#.into(),
        ),
    }
}

/// The values of a filter's `userName eq "..."` and `emails.value eq "..."` terms.
fn terms(filter: &str) -> Vec<String> {
    filter
        .split(" or ")
        .filter_map(|term| {
            let (attribute, value) = term.trim().split_once(" eq ")?;
            matches!(attribute, "userName" | "emails.value")
                .then(|| serde_json::from_str::<String>(value.trim()).ok())
                .flatten()
        })
        .collect()
}

/// `application/x-www-form-urlencoded` decoding of a query value.
fn percent_decode(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or(""), 16) {
                    Ok(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
