//! What the vendor stand-ins (`graph`, `okta`, `google`) share: serving an axum router on its
//! own tokio runtime in its own thread (so plain `#[test]`s, `#[tokio::test]`s and benchmarks
//! use a stand-in alike), stopping it on drop, and reading query strings and form bodies.

use std::future::IntoFuture;
use std::net::TcpListener;
use std::thread::JoinHandle;
use std::time::Duration;

use axum::body::Body;
use axum::http::Uri;
use axum::response::Response;
use serde_json::Value;

/// A bound listener on 127.0.0.1 and its port: bound before the stand-in is returned, so the
/// first request cannot race the start.
pub(crate) fn bind(name: &str) -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{name}: bind: {e}"));
    listener
        .set_nonblocking(true)
        .unwrap_or_else(|e| panic!("{name}: nonblocking: {e}"));
    let port = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("{name}: address: {e}"))
        .port();
    (listener, port)
}

/// A router being served; dropping it shuts the server down and joins its thread.
pub(crate) struct Serving {
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

/// Serve `router` on `listener` in a thread of its own, on its own two-worker runtime.
pub(crate) fn serve(name: &'static str, listener: TcpListener, router: axum::Router) -> Serving {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name(name.replace(' ', "-"))
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap_or_else(|e| panic!("{name}: tokio runtime: {e}"));
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener)
                    .unwrap_or_else(|e| panic!("{name}: listener: {e}"));
                let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
                let server = axum::serve(listener, router)
                    .with_graceful_shutdown(async move {
                        let _ = rx.await;
                        let _ = stopping_tx.send(());
                    })
                    .into_future();
                // Graceful shutdown waits for open requests; a client that keeps its
                // connection busy must not hang the test's drop, so it gets 5 s.
                let grace = async move {
                    if stopping_rx.await.is_ok() {
                        tokio::time::sleep(Duration::from_secs(5)).await;
                    } else {
                        std::future::pending::<()>().await;
                    }
                };
                tokio::select! {
                    r = server => {
                        if let Err(e) = r {
                            eprintln!("{name}: {e}");
                        }
                    }
                    () = grace => {}
                }
            });
            rt.shutdown_timeout(Duration::from_secs(1));
        })
        .unwrap_or_else(|e| panic!("{name}: thread: {e}"));
    Serving {
        shutdown: Some(tx),
        thread: Some(thread),
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// `a=b&c=d` with percent-decoding and `+` as space (query strings and form bodies alike).
pub(crate) fn parse_pairs(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (pct_decode(k, true), pct_decode(v, true))
        })
        .collect()
}

/// Percent-decoding; `+` is a space in query strings and form bodies, not in paths.
pub(crate) fn pct_decode(s: &str, plus_is_space: bool) -> String {
    let b = s.as_bytes();
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' if plus_is_space => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What one request answers; a stand-in's `$batch` turns it into a sub-response, HTTP into
/// a response.
pub(crate) struct Reply {
    pub status: u16,
    pub body: Option<Value>,
    pub headers: Vec<(&'static str, String)>,
}

impl Reply {
    pub fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            body: Some(body),
            headers: Vec::new(),
        }
    }

    pub fn empty(status: u16) -> Reply {
        Reply {
            status,
            body: None,
            headers: Vec::new(),
        }
    }

    /// The HTTP response: headers appended (two `Link` values stay two header lines), a JSON
    /// body with `content_type`, an empty one without any (Prism's proxy fails to parse an
    /// empty `application/json` body).
    pub fn into_response(self, content_type: &str, name: &str) -> Response {
        let mut b = axum::http::Response::builder().status(self.status);
        for (k, v) in &self.headers {
            b = b.header(*k, v.as_str());
        }
        let body = match self.body {
            Some(v) => {
                b = b.header("content-type", content_type);
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        b.body(body)
            .unwrap_or_else(|_| Response::new(Body::from(format!("{name}: bad response"))))
    }
}

/// The request target as the request log shows it: `path?query`.
pub(crate) fn target(uri: &Uri) -> String {
    uri.path_and_query()
        .map_or_else(|| uri.path().to_string(), |pq| pq.as_str().to_string())
}
