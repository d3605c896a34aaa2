//! Stoplight Prism (npm `@stoplight/prism-cli` 5.14.2) as a validating proxy: a real process
//! that forwards each request to a stand-in and checks request and answer against the
//! vendor's published API description, so a stand-in written from the documentation cannot
//! drift from the vendor's own contract unnoticed. `bash tests/run.sh` installs Prism and
//! the description (npm `@okta/openapi` 2.15.0) into `target/node`.
//!
//! How Prism 5 reports what it finds, read from its source (`prism-http-server`'s
//! `createServer`, `prism-core`'s `factory`, `prism-http`'s `validateOutput`) and confirmed by
//! running it, with `--errors` as [`Prism::start`] passes it:
//!
//! - an answer that violates the description (a wrong type, `null` for a string, an
//!   undeclared 2xx code) is replaced by 500 `application/problem+json` of type
//!   `https://stoplight.io/prism/errors#VIOLATIONS` whose `validation` array (and the
//!   `sl-violations` header) names each violation; the log says `Request terminated with error:
//!   https://stoplight.io/prism/errors#VIOLATIONS: Request/Response not valid`;
//! - a request that violates it (a missing required query parameter, a wrong type) is not
//!   forwarded: 422 `UNPROCESSABLE_ENTITY`; one without the declared `Authorization` header gets
//!   401 `UNAUTHORIZED`; a path the description lacks gets 404 `NO_PATH_MATCHED_ERROR`; an
//!   upstream body that is not the JSON its content type claims gets 500 `FetchError`. Each is
//!   logged as `Request terminated with error: ...`;
//! - an answer whose non-2xx code the description does not declare is passed through with an
//!   `sl-violations` header and logged as a warning, `Violation: response Unable to match the
//!   returned status code with those defined in the document: ...`. The Okta description
//!   declares no error responses at all, so every documented Okta error (404 E0000007, 429
//!   E0000047, ...) produces one: [`Prism::violations`] leaves these out and
//!   [`Prism::undeclared_statuses`] lists them;
//! - multiple `Link` header lines reach the client folded into one comma-separated value.
//!
//! Prism writes its log (stdout and stderr) to a file in a private directory; the process is
//! killed on drop.

use std::fs::File;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::fixtures::root;
use crate::servers::{start_with_retries, stop};

/// A running `prism proxy` on 127.0.0.1, stopped on drop.
pub struct Prism {
    child: Option<Child>,
    pub port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Prism {
    /// `OFFBOARD_PRISM`, or the `prism` that `bash tests/run.sh` installs into `target/node`.
    pub fn binary() -> PathBuf {
        std::env::var_os("OFFBOARD_PRISM")
            .map(PathBuf::from)
            .unwrap_or_else(|| root().join("target/node/node_modules/.bin/prism"))
    }

    /// Okta's Management API description (Swagger 2.0) from npm `@okta/openapi` 2.15.0.
    pub fn okta_spec() -> PathBuf {
        root().join("target/node/node_modules/@okta/openapi/dist/spec.json")
    }

    /// `prism proxy <spec> <upstream> --errors` on a free port; waits up to 30 s for it to
    /// listen (it parses the description first) and panics with the reason if it cannot start.
    pub fn start(spec: &Path, upstream: &str) -> Prism {
        let bin = Self::binary();
        assert!(
            bin.exists(),
            "prism not found at {}: run `bash tests/run.sh` (it installs npm @stoplight/prism-cli@5.14.2 and @okta/openapi@2.15.0 into target/node)",
            bin.display()
        );
        assert!(
            spec.exists(),
            "API description not found at {}: run `bash tests/run.sh` (it installs npm @stoplight/prism-cli@5.14.2 and @okta/openapi@2.15.0 into target/node)",
            spec.display()
        );
        start_with_retries("prism", |port| {
            Self::try_start_on(&bin, spec, upstream, port)
        })
    }

    fn try_start_on(bin: &Path, spec: &Path, upstream: &str, port: u16) -> Result<Prism, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("prism: tempdir: {e}"))?;
        let log = dir.path().join("prism.log");
        let out = File::create(&log).map_err(|e| format!("prism: {}: {e}", log.display()))?;
        let err = out
            .try_clone()
            .map_err(|e| format!("prism: {}: {e}", log.display()))?;
        let mut child = Command::new(bin)
            .arg("proxy")
            .arg(spec)
            .arg(upstream)
            .args([
                "--errors",
                // One process (the default unless NODE_ENV=production), so that killing the
                // child stops the server.
                "--multiprocess=false",
                "--port",
                &port.to_string(),
                "--host",
                "127.0.0.1",
            ])
            .env("FORCE_COLOR", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        if let Err(e) = wait_ready(&mut child, port, &log) {
            stop(child);
            return Err(e);
        }
        Ok(Prism {
            child: Some(child),
            port,
            log,
            _dir: dir,
        })
    }

    /// `http://127.0.0.1:PORT`: where clients send what the stand-in should receive.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Everything Prism logged so far.
    pub fn log(&self) -> String {
        settled_read(&self.log)
    }

    /// Every log line that reports a violation or a refused request (see the module
    /// documentation), in order, except the warnings about undeclared error status codes.
    /// A `Violation:` line names no request; it is followed by the last upstream call Prism
    /// logged before it (`[after upstream call to /api/v1/... has returned 404]`), which is
    /// the right one unless requests overlapped.
    pub fn violations(&self) -> Vec<String> {
        scan(&self.log()).0
    }

    /// Prism's warnings that an answer's non-2xx status code is not declared for its
    /// operation, with the upstream call each follows.
    pub fn undeclared_statuses(&self) -> Vec<String> {
        scan(&self.log()).1
    }

    /// Panic, listing them, if Prism reported any violation.
    pub fn assert_no_violations(&self) {
        let v = self.violations();
        assert!(v.is_empty(), "prism reported violations:\n{}", v.join("\n"));
    }

    pub fn stop(&mut self) {
        if let Some(c) = self.child.take() {
            stop(c);
        }
    }
}

impl Drop for Prism {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Wait until Prism says it listens on `port` (and it does); an error with the log's tail if
/// it exits, cannot bind, or takes more than 30 s.
fn wait_ready(child: &mut Child, port: u16, log: &Path) -> Result<(), String> {
    let start = Instant::now();
    let ready = format!("Prism is listening on http://127.0.0.1:{port}");
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(
                "prism exited at start ({status}):\n{}",
                tail(&text)
            ));
        }
        if text.contains("EADDRINUSE") {
            return Err(format!("prism: port {port} is taken:\n{}", tail(&text)));
        }
        if text.contains(&ready) && TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        if start.elapsed() > Duration::from_secs(30) {
            return Err(format!(
                "prism did not listen on port {port} within 30 s:\n{}",
                tail(&text)
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// The log once Prism has stopped writing: it logs after it answers, through a stream, so a
/// test that reads right after its last response waits until the file has not grown for
/// 200 ms (at most 2 s).
fn settled_read(log: &Path) -> String {
    let size = || std::fs::metadata(log).map_or(0, |m| m.len());
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut last = size();
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let now = size();
        if now == last || Instant::now() >= deadline {
            break;
        }
        last = now;
    }
    std::fs::read_to_string(log).unwrap_or_default()
}

/// (violations, undeclared-status warnings) in a Prism log.
fn scan(text: &str) -> (Vec<String>, Vec<String>) {
    let mut violations = Vec::new();
    let mut undeclared = Vec::new();
    let mut upstream = String::new();
    for raw in text.lines() {
        let line = strip_ansi(raw);
        let line = line.trim_end();
        if let Some(i) = line.find("The upstream call to ") {
            upstream = line[i + "The upstream call to ".len()..].to_string();
        } else if line.contains("Request terminated with error:") {
            violations.push(line.to_string());
        } else if line.contains("Violation:") {
            let entry = if upstream.is_empty() {
                line.to_string()
            } else {
                format!("{line} [after upstream call to {upstream}]")
            };
            if line.contains("warning") && line.contains("Unable to match the returned status code")
            {
                undeclared.push(entry);
            } else {
                violations.push(entry);
            }
        }
    }
    (violations, undeclared)
}

/// `s` without ANSI escape sequences (`ESC [ ... letter`), should colour be forced on.
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for n in chars.by_ref() {
                if n.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
