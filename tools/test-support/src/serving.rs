//! `offboard serve` as a separate process, the way it runs in production: started on a free
//! port, waited for (`/healthz`), talked to over real HTTP, stopped by SIGTERM or killed by
//! SIGKILL.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::cargo::CommandCargoExt;

use crate::servers::free_port;

pub struct ServeProcess {
    child: Option<Child>,
    pub port: u16,
    log: PathBuf,
}

impl ServeProcess {
    /// `offboard -C dir serve --listen 127.0.0.1:PORT ARGS...` with `envs`, waited for until
    /// `/healthz` answers (panics with its log if it exits or does not answer in 30 s).
    pub fn start(dir: &Path, envs: &[(&str, &str)], args: &[&str]) -> ServeProcess {
        let port = free_port();
        let log = dir.join(format!("serve-{port}.log"));
        let file = std::fs::File::create(&log).expect("serve log");
        let mut cmd = Command::cargo_bin("offboard").expect("the offboard binary");
        cmd.arg("-C")
            .arg(dir)
            .arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .args(args)
            .env("NO_COLOR", "1")
            .env("OFFBOARD_ACTOR", "serve@acme.example")
            .stdout(Stdio::null())
            .stderr(file);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("start offboard serve");
        let mut serving = ServeProcess {
            child: Some(child),
            port,
            log,
        };
        let start = Instant::now();
        loop {
            if let Some(status) = serving
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "offboard serve exited at start ({status}):\n{}",
                    serving.log()
                );
            }
            if serving.get("/healthz").0 == 200 {
                return serving;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "offboard serve did not answer /healthz within 30 s:\n{}",
                serving.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// What it logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn get(&self, path: &str) -> (u16, String) {
        self.request("GET", path, &[], b"")
    }

    pub fn post(&self, path: &str, headers: &[(String, String)], body: &[u8]) -> (u16, String) {
        self.request("POST", path, headers, body)
    }

    /// One HTTP/1.1 request on its own connection: the status and the body (0 when nothing
    /// answers).
    fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> (u16, String) {
        let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else {
            return (0, String::new());
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        if stream.write_all(head.as_bytes()).is_err() || stream.write_all(body).is_err() {
            return (0, String::new());
        }
        let mut response = Vec::new();
        let _ = stream.read_to_end(&mut response);
        let text = String::from_utf8_lossy(&response).into_owned();
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        (status, body)
    }

    /// SIGTERM, then wait for it to exit (at most 60 s); its exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("serve is running");
        // SAFETY: sending a signal to our own child process.
        unsafe {
            libc::kill(child.id() as i32, libc::SIGTERM);
        }
        let start = Instant::now();
        loop {
            if let Some(status) = child.try_wait().expect("wait for serve") {
                return status;
            }
            if start.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
                panic!(
                    "offboard serve did not stop within 60 s of SIGTERM:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL: no chance to finish anything.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        self.kill9();
    }
}
