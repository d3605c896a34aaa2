//! A real SMTP server (PyPI `aiosmtpd` 1.4.6, its Maildir handler) that notifications are
//! delivered to, and what it received.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use crate::fixtures::root;
use crate::servers::{start_with_retries, stop, wait_listening};

/// One message as the server stored it.
#[derive(Debug, Clone)]
pub struct Mail {
    /// The envelope recipients (aiosmtpd's `X-RcptTo`).
    pub to: Vec<String>,
    pub subject: String,
    /// The whole message as stored (headers and body).
    pub raw: String,
}

/// How the server protects its connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protection {
    /// Plain SMTP.
    None,
    /// STARTTLS offered and required before mail is taken.
    Starttls,
    /// TLS from the first byte (SMTPS).
    Tls,
}

/// `python -m aiosmtpd -n -l 127.0.0.1:PORT -c aiosmtpd.handlers.Mailbox DIR`, stopped on
/// drop; with TLS, a certificate for `localhost` signed by a CA of its own, made by openssl.
pub struct SmtpServer {
    child: Option<Child>,
    pub port: u16,
    maildir: tempfile::TempDir,
}

impl Mail {
    /// The body as its reader sees it: quoted-printable decoded (lettre encodes long lines
    /// so), line ends as `\n`.
    pub fn body(&self) -> String {
        let raw = self.raw.replace("\r\n", "\n");
        let (head, body) = raw.split_once("\n\n").unwrap_or(("", raw.as_str()));
        let quoted = head
            .to_ascii_lowercase()
            .contains("content-transfer-encoding: quoted-printable");
        if !quoted {
            return body.to_string();
        }
        let joined = body.replace("=\n", "");
        let bytes = joined.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if bytes[i] == b'='
                && i + 2 < bytes.len()
                && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
            {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
            out.push(bytes[i]);
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

impl SmtpServer {
    pub fn start() -> SmtpServer {
        start_with_retries("aiosmtpd", |port| {
            Self::try_start_on(port, Protection::None)
        })
    }

    /// A server protected by `protection`; [`SmtpServer::ca_file`] is what a client must
    /// trust.
    pub fn start_protected(protection: Protection) -> SmtpServer {
        start_with_retries("aiosmtpd", |port| Self::try_start_on(port, protection))
    }

    /// The certificate of the CA that signed the server's (a client must trust it).
    pub fn ca_file(&self) -> PathBuf {
        self.maildir.path().join("ca.pem")
    }

    fn try_start_on(port: u16, protection: Protection) -> Result<SmtpServer, String> {
        let python: PathBuf = root().join("target/venv/bin/python");
        assert!(
            python.exists(),
            "{} not found: run `bash tests/run.sh` (it installs PyPI aiosmtpd==1.4.6 into target/venv)",
            python.display()
        );
        let maildir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let cert = maildir.path().join("cert.pem");
        let key = maildir.path().join("key.pem");
        let mut tls_args: Vec<std::ffi::OsString> = Vec::new();
        if protection != Protection::None {
            make_certificate(maildir.path())?;
            let (cert_flag, key_flag) = match protection {
                Protection::Tls => ("--smtpscert", "--smtpskey"),
                _ => ("--tlscert", "--tlskey"),
            };
            tls_args.extend([
                cert_flag.into(),
                cert.clone().into(),
                key_flag.into(),
                key.clone().into(),
            ]);
        }
        let mut child = Command::new(&python)
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(&tls_args)
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir.path().join("box"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start aiosmtpd: {e}"));
        if let Err(e) = wait_listening(&mut child, port, "aiosmtpd") {
            stop(child);
            return Err(format!(
                "{e} (is aiosmtpd installed? `bash tests/run.sh` installs it)"
            ));
        }
        Ok(SmtpServer {
            child: Some(child),
            port,
            maildir,
        })
    }

    /// Every message received so far, oldest first.
    pub fn mails(&self) -> Vec<Mail> {
        let dir = self.maildir.path().join("box/new");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Vec::new();
        };
        let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        files.sort();
        files
            .into_iter()
            .filter_map(|f| std::fs::read_to_string(f).ok())
            .map(|raw| {
                let header = |name: &str| {
                    raw.lines()
                        .take_while(|l| !l.is_empty())
                        .find_map(|l| {
                            l.split_once(':')
                                .filter(|(k, _)| k.eq_ignore_ascii_case(name))
                                .map(|(_, v)| v.trim().to_string())
                        })
                        .unwrap_or_default()
                };
                Mail {
                    to: header("X-RcptTo")
                        .split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect(),
                    subject: header("Subject"),
                    raw: raw.clone(),
                }
            })
            .collect()
    }

    /// Wait up to `secs` for a message to `to` whose subject contains `subject`.
    pub fn wait_for(&self, to: &str, subject: &str, secs: u64) -> Mail {
        let start = std::time::Instant::now();
        loop {
            if let Some(m) = self
                .mails()
                .into_iter()
                .find(|m| m.to.iter().any(|t| t == to) && m.subject.contains(subject))
            {
                return m;
            }
            if start.elapsed().as_secs() >= secs {
                let got: Vec<String> = self
                    .mails()
                    .iter()
                    .map(|m| format!("{:?}: {}", m.to, m.subject))
                    .collect();
                panic!("no mail to {to} about {subject:?} within {secs} s; received: {got:#?}");
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        if let Some(c) = self.child.take() {
            stop(c);
        }
    }
}

/// A CA (`ca.pem`) and a certificate for `localhost` and 127.0.0.1 it signed (`cert.pem`,
/// `key.pem`) in `dir`, made by the openssl command line. A self-signed certificate would not
/// do: it is a CA certificate, which TLS clients refuse as a server's.
fn make_certificate(dir: &std::path::Path) -> Result<(), String> {
    let openssl = |args: &[&str]| -> Result<(), String> {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .map_err(|e| format!("openssl (installed by `bash tests/run.sh`): {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "openssl {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    };
    std::fs::write(
        dir.join("leaf.ext"),
        "basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .map_err(|e| e.to_string())?;
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=offboard test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ])?;
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "key.pem",
        "-out",
        "leaf.csr",
    ])?;
    openssl(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        "leaf.ext",
        "-out",
        "cert.pem",
    ])
}
