//! Starting real servers for tests: a free port, waiting until the server listens (or
//! reporting why it exited), retrying a start whose port was taken meanwhile. A server that
//! cannot start fails the test loudly; only the explicit `OFFBOARD_SKIP_REAL_SERVERS=1` (for
//! quick local loops, never CI) skips.

use std::io::Read;
use std::net::TcpListener;
use std::process::Child;
use std::time::{Duration, Instant};

/// `true` when the developer asked to skip real servers (never set in CI).
pub fn skip_real_servers(what: &str) -> bool {
    if std::env::var("OFFBOARD_SKIP_REAL_SERVERS").is_ok_and(|v| v == "1") {
        assert!(
            std::env::var("CI").is_err(),
            "OFFBOARD_SKIP_REAL_SERVERS must not be set in CI"
        );
        eprintln!("SKIPPED {what}: OFFBOARD_SKIP_REAL_SERVERS=1");
        return true;
    }
    false
}

/// A port that is free now, for a server started as a separate process. It is chosen below
/// Linux's ephemeral range (32768 and up), where the kernel hands out ports to anything bound
/// to port 0 (the in-process stand-ins, every outgoing connection): a port chosen there could
/// be taken by one of those between this answer and the server's bind, and the test would
/// then talk to the wrong server. Two callers picking the same port is left to chance (one
/// in thousands) and to `start_with_retries`.
pub fn free_port() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    for attempt in 0u64..1000 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(attempt);
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        let port = 20_000 + (h.finish() % 12_000) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port between 20000 and 32000 after 1000 tries")
}

/// Wait until a freshly started server listens on `port`; an error (with its stderr) if it
/// exits or does not listen within 20 s. Tests run in parallel, so a port that was free a
/// moment ago may have been taken meanwhile: the server must still be running once the
/// port answers, or the answer came from someone else.
pub(crate) fn wait_listening(child: &mut Child, port: u16, name: &str) -> Result<(), String> {
    let start = Instant::now();
    let exited = |child: &mut Child| -> Option<String> {
        let status = child.try_wait().ok().flatten()?;
        let mut err = String::new();
        if let Some(mut s) = child.stderr.take() {
            let _ = s.read_to_string(&mut err);
        }
        Some(format!("{name} exited at start ({status}):\n{err}"))
    };
    loop {
        if let Some(e) = exited(child) {
            return Err(e);
        }
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            std::thread::sleep(Duration::from_millis(50));
            return match exited(child) {
                Some(e) => Err(e),
                None => Ok(()),
            };
        }
        if start.elapsed() > Duration::from_secs(20) {
            return Err(format!("{name} did not listen on port {port} within 20 s"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Start a server (`spawn` on a fresh port) up to three times: a port taken by a parallel
/// test between choosing and binding it is not a failure of the server. The third failure
/// panics with the reason; nothing is ever skipped silently.
pub(crate) fn start_with_retries<T>(
    name: &str,
    mut attempt: impl FnMut(u16) -> Result<T, String>,
) -> T {
    let mut last = String::new();
    for _ in 0..3 {
        match attempt(free_port()) {
            Ok(server) => return server,
            Err(e) => last = e,
        }
    }
    panic!("{name} could not be started (3 attempts): {last}")
}

pub(crate) fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}
