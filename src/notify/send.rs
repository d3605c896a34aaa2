//! The channels a message leaves by: e-mail over SMTP (lettre), and chat incoming webhooks
//! (Slack-compatible `{"text": ...}` or a Microsoft Teams MessageCard).
//!
//! A recipient with an `@` is an e-mail address; any other recipient names a `chat` of the
//! policy's `notifications` block (the loader checked that it exists). Secrets (the SMTP
//! password, a webhook URL, which is itself a credential) are resolved from the policy's
//! references when the channels are built and registered with the redactor, so an error a
//! server echoes cannot carry them into the journal. Chat text is escaped for the format
//! that renders it: a leaver's name cannot become a Slack `<!channel>` mention or a
//! Markdown link in Teams.

use std::path::Path;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::connector::secret::Secret;
use crate::policy::{ChatStyle, Notifications, Smtp, SmtpTls};

/// How long one delivery may take before it counts as failed (and is retried later).
const TIMEOUT: Duration = Duration::from_secs(20);

/// The policy's channels, secrets resolved (or the reason they could not be).
pub struct Channels {
    smtp: Option<(Smtp, Result<Option<Secret>, String>)>,
    /// The TLS settings with the policy's `ca-file` trusted, when it names one.
    smtp_tls: Option<Result<TlsParameters, String>>,
    chats: Vec<(String, ChatStyle, Result<Secret, String>)>,
    http: reqwest::Client,
}

/// Why a delivery failed, and whether trying again could help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub error: String,
    /// The recipient cannot be delivered to as configured (retrying cannot help).
    pub permanent: bool,
}

impl Channels {
    pub fn new(n: &Notifications, root: &Path) -> Channels {
        let resolve = |what: &str, r: &crate::policy::SecretRef| {
            Secret::resolve("notifications", what, r, root).map_err(|e| match e.hint {
                Some(h) => format!("{} ({h})", e.message),
                None => e.message,
            })
        };
        let smtp_tls = n.smtp.as_ref().and_then(|s| {
            let ca = s.ca_file.as_ref()?;
            let path = root.join(ca);
            Some(
                std::fs::read(&path)
                    .map_err(|e| format!("cannot read the SMTP ca-file {}: {e}", path.display()))
                    .and_then(|pem| {
                        Certificate::from_pem(&pem).map_err(|e| {
                            format!("the SMTP ca-file {} is not PEM: {e}", path.display())
                        })
                    })
                    .and_then(|ca| {
                        TlsParameters::builder(s.host.clone())
                            .add_root_certificate(ca)
                            .build_rustls()
                            .map_err(|e| format!("SMTP TLS settings: {e}"))
                    }),
            )
        });
        Channels {
            smtp_tls,
            smtp: n.smtp.as_ref().map(|s| {
                let password = match &s.password {
                    Some(r) => resolve("SMTP password", r).map(Some),
                    None => Ok(None),
                };
                (s.clone(), password)
            }),
            chats: n
                .chats
                .iter()
                .map(|c| (c.name.clone(), c.style, resolve("chat webhook URL", &c.url)))
                .collect(),
            http: reqwest::Client::builder()
                .timeout(TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default(),
        }
    }

    /// The channel a recipient is reached by, as journaled (`smtp`, `chat:NAME`).
    pub fn channel_of(recipient: &str) -> String {
        if recipient.contains('@') {
            "smtp".to_string()
        } else {
            format!("chat:{recipient}")
        }
    }

    /// Deliver one message to one recipient.
    pub async fn deliver(&self, recipient: &str, subject: &str, body: &str) -> Result<(), Failure> {
        if recipient.contains('@') {
            self.mail(recipient, subject, body).await
        } else {
            self.chat(recipient, subject, body).await
        }
    }

    async fn mail(&self, to: &str, subject: &str, body: &str) -> Result<(), Failure> {
        let permanent = |error: String| Failure {
            error,
            permanent: true,
        };
        let Some((smtp, password)) = &self.smtp else {
            return Err(permanent(
                "no `smtp` server is declared in `notifications`".into(),
            ));
        };
        let password = password.clone().map_err(|error| Failure {
            error,
            permanent: false,
        })?;
        let from: Mailbox = smtp
            .from
            .parse()
            .map_err(|e| permanent(format!("the sender {:?} is not an address: {e}", smtp.from)))?;
        let to: Mailbox = to
            .parse()
            .map_err(|e| permanent(format!("{to:?} is not an address: {e}")))?;
        // Header fields are single lines: a subject built from roster data must not be able
        // to add headers.
        let subject: String = subject.chars().filter(|c| !c.is_control()).collect();
        let message = Message::builder()
            .from(from)
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body.to_string())
            .map_err(|e| permanent(format!("cannot build the message: {e}")))?;
        let builder = match (smtp.tls, &self.smtp_tls) {
            (SmtpTls::None, _) => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(smtp.host.as_str())
            }
            // A private CA: the same protection, with its certificate trusted too.
            (tls, Some(params)) => {
                let params = params.clone().map_err(|error| Failure {
                    error,
                    permanent: false,
                })?;
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(smtp.host.as_str()).tls(
                    if tls == SmtpTls::Tls {
                        Tls::Wrapper(params)
                    } else {
                        Tls::Required(params)
                    },
                )
            }
            (SmtpTls::Starttls, None) => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host)
                    .map_err(|e| permanent(format!("SMTP {}: {e}", smtp.host)))?
            }
            (SmtpTls::Tls, None) => AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host)
                .map_err(|e| permanent(format!("SMTP {}: {e}", smtp.host)))?,
        };
        let mut builder = builder.port(smtp.port).timeout(Some(TIMEOUT));
        if let (Some(user), Some(password)) = (&smtp.username, password) {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.expose().to_string(),
            ));
        }
        builder
            .build()
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| Failure {
                error: crate::redact::redact(&format!("SMTP {}:{}: {e}", smtp.host, smtp.port))
                    .into_owned(),
                permanent: e.is_permanent(),
            })
    }

    async fn chat(&self, name: &str, subject: &str, body: &str) -> Result<(), Failure> {
        let Some((_, style, url)) = self.chats.iter().find(|(n, ..)| n == name) else {
            return Err(Failure {
                error: format!("no chat named `{name}` is declared in `notifications`"),
                permanent: true,
            });
        };
        let url = url.clone().map_err(|error| Failure {
            error,
            permanent: false,
        })?;
        let payload = chat_payload(*style, subject, body);
        let response = self
            .http
            .post(url.expose())
            .json(&payload)
            .send()
            .await
            .map_err(|e| Failure {
                // reqwest names the URL in its errors; the URL is the credential.
                error: crate::redact::redact(&format!("chat `{name}`: {}", e.without_url()))
                    .into_owned(),
                permanent: false,
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        Err(Failure {
            error: format!("chat `{name}` answered HTTP {}", status.as_u16()),
            // 4xx other than throttling: the hook is gone or refuses this payload.
            permanent: status.is_client_error() && status.as_u16() != 429,
        })
    }
}

/// The JSON a chat webhook of `style` takes.
pub fn chat_payload(style: ChatStyle, subject: &str, body: &str) -> serde_json::Value {
    match style {
        ChatStyle::Slack => serde_json::json!({
            "text": format!("*{}*\n{}", slack_escape(subject), slack_escape(body)),
        }),
        ChatStyle::Teams => serde_json::json!({
            "@type": "MessageCard",
            "@context": "https://schema.org/extensions",
            "summary": subject,
            "title": markdown_escape(subject),
            "text": markdown_escape(body).replace('\n', "\n\n"),
        }),
    }
}

/// Slack's three control characters (`&`, `<`, `>`), which otherwise make mentions and links.
pub fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Markdown's active characters, backslash-escaped (Teams renders `text` as Markdown).
pub fn markdown_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\`*_{}[]()#+-.!|<>&~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_text_cannot_mention_or_link() {
        let body = "Bo <!channel> [click](https://evil.example) & more";
        let slack = chat_payload(ChatStyle::Slack, "Report", body);
        let text = slack["text"].as_str().unwrap();
        assert!(text.contains("&lt;!channel&gt;"), "{text}");
        assert!(!text.contains("<!channel>"));
        let teams = chat_payload(ChatStyle::Teams, "Report", body);
        let text = teams["text"].as_str().unwrap();
        assert!(
            text.contains("\\[click\\]\\(https://evil\\.example\\)"),
            "{text}"
        );
        assert_eq!(teams["@type"], "MessageCard");
    }
}
