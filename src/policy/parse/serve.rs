//! What `offboard serve` and the notifications read from a policy:
//! `notifications { default ...; smtp ...; chat ... }` and `trigger NAME scheme=... secret-env=...`.
//!
//! Both hold secrets only by reference (the SMTP password, a chat webhook's URL, which
//! carries its own credential, and a webhook's signing secret), read with the same
//! `-env=`/`-file=` properties as connectors. Once a `notifications` block is declared, every
//! recipient a rule's `notify` or `default` names must be deliverable: an e-mail address with
//! an `smtp` server declared, or the name of a declared `chat`, so a policy cannot promise
//! messages that no channel can send. Without the block nothing is sent and `notify` is
//! documentation, as it was before offboard sent anything.

use super::*;

const SMTP_USAGE: &str = "smtp host=\"smtp.acme.com\" port=587 tls=\"starttls\" from=\"offboard@acme.com\" username=\"offboard\" password-env=\"OFFBOARD_SMTP_PASSWORD\"";
const CHAT_USAGE: &str =
    "chat \"security-chat\" url-env=\"SECURITY_CHAT_WEBHOOK_URL\" style=\"slack\"";
const TRIGGER_USAGE: &str =
    "trigger \"bamboohr\" scheme=\"bamboohr\" secret-env=\"BAMBOOHR_WEBHOOK_SECRET\"";

/// What a `notifications` block holds.
const NOTIFICATIONS: &[Child] = &[
    Child::new("default", Args::some("default \"it-ops@acme.com\"")),
    Child::new("smtp", Args::NONE).props(&[
        "host",
        "port",
        "tls",
        "from",
        "username",
        "password-env",
        "password-file",
        "ca-file",
    ]),
    Child::new("chat", Args::one(CHAT_USAGE))
        .props(&["url-env", "url-file", "style"])
        .repeatable(),
];

impl FileParser<'_> {
    pub(super) fn notifications(&mut self, node: &KdlNode) {
        const USAGE: &str = "notifications { default \"it-ops@acme.com\"; smtp host=\"smtp.acme.com\" from=\"offboard@acme.com\" }";
        self.check_props(node, &[]);
        let _ = self.args(node, &Args::NONE);
        let node_span = self.node_name_span(node);
        if let Some((_, first)) = &self.b.notifications {
            let first = *first;
            let mut d = Diagnostic::error(
                "policy::duplicate-node",
                node_span,
                "`notifications` is declared twice",
            )
            .label("second `notifications`")
            .help("merge both blocks into one `notifications` block");
            if first.file == node_span.file {
                d = d.secondary(first, "first `notifications`");
            }
            self.error(d);
            return;
        }
        let Some(children) = self.block(node, NOTIFICATIONS, "`notifications`", node_span, USAGE)
        else {
            return;
        };
        let mut n = Notifications::default();
        for child in &children {
            match child.name() {
                "default" => {
                    for a in &child.args {
                        if let Some(s) = self.string(a, "a recipient") {
                            n.default.push(s.value);
                        }
                    }
                }
                "smtp" => n.smtp = self.smtp(child.node),
                "chat" => {
                    let Some(arg) = child.arg() else { continue };
                    let Some(name) = self.string(arg, "a chat name") else {
                        continue;
                    };
                    if name.value.contains('@') || name.value.trim().is_empty() {
                        self.error(
                            Diagnostic::error(
                                "policy::name",
                                name.span,
                                "a chat's name must not look like an e-mail address",
                            )
                            .label("`notify` would read this as an address")
                            .help(format!("usage: {CHAT_USAGE}")),
                        );
                        continue;
                    }
                    if n.chats.iter().any(|c| c.name == name.value) {
                        self.error(
                            Diagnostic::error(
                                "policy::duplicate-name",
                                name.span,
                                format!("chat `{}` is declared twice", name.value),
                            )
                            .label("second declaration")
                            .help("`notify` names a chat: each name once"),
                        );
                        continue;
                    }
                    let mut props = Properties::new(self, child.node, &name.value, CHAT_USAGE);
                    let url = props.secret("url");
                    let style = props.keyword("style", &["slack", "teams"], "chat style");
                    if let (Some(url), Some(style)) = (url, style) {
                        n.chats.push(ChatHook {
                            name: name.value,
                            url,
                            style: match style.as_deref() {
                                Some("teams") => ChatStyle::Teams,
                                _ => ChatStyle::Slack,
                            },
                        });
                    }
                }
                other => self.unhandled(child.node, other),
            }
        }
        self.b.notifications = Some((n, node_span));
    }

    fn smtp(&mut self, node: &KdlNode) -> Option<Smtp> {
        let mut props = Properties::new(self, node, "smtp", SMTP_USAGE);
        let host = props.required_string("host");
        let tls = props.keyword("tls", &["none", "starttls", "tls"], "SMTP protection")?;
        let tls = match tls.as_deref() {
            Some("none") => SmtpTls::None,
            Some("tls") => SmtpTls::Tls,
            _ => SmtpTls::Starttls,
        };
        let default_port = match tls {
            SmtpTls::Tls => 465,
            SmtpTls::Starttls => 587,
            SmtpTls::None => 25,
        };
        let port = props.integer("port", 1..=65535, default_port);
        let from = props.required_string("from");
        let username = props.string("username");
        let ca_file = props.path("ca-file");
        let password = if props.has("password-env") || props.has("password-file") {
            Some(props.secret("password")?)
        } else {
            None
        };
        Some(Smtp {
            host: host?,
            port: u16::try_from(port?).ok()?,
            tls,
            from: from?,
            username,
            password,
            ca_file,
        })
    }

    pub(super) fn trigger(&mut self, node: &KdlNode) {
        let Some(name) = self.declaration(
            node,
            "trigger",
            &[
                "scheme",
                "secret-env",
                "secret-file",
                "signature-header",
                "timestamp-header",
            ],
            TRIGGER_USAGE,
        ) else {
            return;
        };
        self.no_children(node);
        let span = self.span(node.span());
        let mut props = Properties::new(self, node, &name.value, TRIGGER_USAGE);
        let Some(Some(scheme)) = props.keyword("scheme", TriggerScheme::NAMES, "signature scheme")
        else {
            if !props.has("scheme") {
                let span = self.node_name_span(node);
                self.error(
                    Diagnostic::error(
                        "policy::missing-property",
                        span,
                        "a trigger needs `scheme=`",
                    )
                    .label("how are its webhooks signed?")
                    .help(format!(
                        "one of {}; usage: {TRIGGER_USAGE}",
                        TriggerScheme::NAMES.join(", ")
                    )),
                );
            }
            return;
        };
        let signature_header = props.string("signature-header");
        let timestamp_header = props.string("timestamp-header");
        let secret = props.secret("secret");
        for header in [&signature_header, &timestamp_header].into_iter().flatten() {
            if axum::http::HeaderName::from_bytes(header.as_bytes()).is_err() {
                self.error(
                    Diagnostic::error(
                        "policy::header",
                        name.span,
                        format!("`{header}` is not an HTTP header name"),
                    )
                    .label("in this trigger")
                    .help("header names are letters, digits and `-`, e.g. X-Signature"),
                );
                return;
            }
        }
        if let (Some(a), Some(b)) = (&signature_header, &timestamp_header)
            && a.eq_ignore_ascii_case(b)
        {
            self.error(
                Diagnostic::error(
                    "policy::header",
                    name.span,
                    "the signature and the timestamp must be in different headers",
                )
                .label("in this trigger")
                .help(format!("usage: {TRIGGER_USAGE}")),
            );
            return;
        }
        let scheme = match scheme.as_str() {
            "bamboohr" => TriggerScheme::BambooHr,
            "hibob" => TriggerScheme::HiBob,
            _ => TriggerScheme::Generic {
                signature_header: signature_header
                    .clone()
                    .unwrap_or_else(|| "X-Offboard-Signature".into()),
                timestamp_header: timestamp_header
                    .clone()
                    .unwrap_or_else(|| "X-Offboard-Timestamp".into()),
            },
        };
        if !matches!(scheme, TriggerScheme::Generic { .. })
            && (signature_header.is_some() || timestamp_header.is_some())
        {
            self.error(
                Diagnostic::error(
                    "policy::conflicting-properties",
                    name.span,
                    format!(
                        "the {} scheme fixes its headers; `signature-header`/`timestamp-header` apply to scheme=\"generic\"",
                        scheme.name()
                    ),
                )
                .label("headers given for a fixed scheme")
                .help("remove them, or use scheme=\"generic\""),
            );
            return;
        }
        if let Some(secret) = secret {
            self.b.triggers.push(Trigger {
                name: name.value,
                scheme,
                secret,
                span,
            });
        }
    }
}

/// Every recipient must be deliverable: an address with an `smtp` server to send it, or a
/// declared `chat`.
pub(super) fn check_recipients(
    rules: &[Rule],
    n: &Notifications,
    span: Option<Span>,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    // Without a `notifications` block nothing is sent, and `notify` only documents whom a
    // rule concerns (as policies written before notifications were sent do; they must stay
    // valid, the trusted revision of `plan` among them).
    let Some(span) = span else {
        return out;
    };
    let chats: Vec<&str> = n.chats.iter().map(|c| c.name.as_str()).collect();
    {
        for recipient in &n.default {
            if let Some(problem) = undeliverable(recipient, n, &chats) {
                out.push(
                    Diagnostic::error(
                        "policy::recipient",
                        span,
                        format!("the default recipient `{recipient}` is {problem}"),
                    )
                    .label("in `default`")
                    .help(format!(
                        "declare how messages leave: {SMTP_USAGE}, or {CHAT_USAGE}"
                    )),
                );
            }
        }
    }
    for rule in rules {
        for recipient in &rule.notify {
            if let Some(problem) = undeliverable(recipient, n, &chats) {
                out.push(
                    Diagnostic::error(
                        "policy::recipient",
                        rule.name.span,
                        format!(
                            "rule `{}` notifies `{recipient}`, {problem}",
                            rule.name.value
                        ),
                    )
                    .label("in this rule's `notify`")
                    .help(format!(
                        "declare how messages leave: notifications {{ {SMTP_USAGE} }}, or {CHAT_USAGE}"
                    )),
                );
            }
        }
    }
    out
}

fn undeliverable(recipient: &str, n: &Notifications, chats: &[&str]) -> Option<String> {
    if recipient.contains('@') {
        if n.smtp.is_none() {
            return Some("an e-mail address, but no `smtp` server is declared".to_string());
        }
        return recipient
            .parse::<lettre::Address>()
            .is_err()
            .then(|| "not a valid e-mail address".to_string());
    }
    if chats.contains(&recipient) {
        return None;
    }
    Some(match did_you_mean(recipient, chats.iter().copied()) {
        Some(s) => {
            format!("which is neither an e-mail address nor a declared chat (did you mean `{s}`?)")
        }
        None => "which is neither an e-mail address nor a declared chat".to_string(),
    })
}
