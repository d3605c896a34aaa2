//! The typed policy model: what the KDL files mean once they are valid.
//!
//! Pure data. Everything here has already been validated by the loader, so later stages
//! (planner, executor, audit) can rely on it without re-checking: every role grants on a
//! declared system, every action is one the system's connector can perform, every condition
//! compiled. Secrets are only ever *references* (an environment variable or a file name).

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use jiff::SignedDuration;
use serde::{Deserialize, Serialize};

use super::source::{Sources, Span, Spanned};
use crate::rules::Condition;
pub use crate::vocabulary::Action;

pub use crate::connector::ConnectorConfig;

/// The merged policy of every `policies/*.kdl` file.
#[derive(Debug, Clone)]
pub struct Policy {
    pub systems: Vec<System>,
    pub roles: Vec<Role>,
    pub rules: Vec<Rule>,
    pub defaults: Defaults,
    pub people: Option<PeopleSource>,
    /// Where messages go (`notifications { ... }`); empty when the policy sends none.
    pub notifications: Notifications,
    /// HR systems whose webhooks `offboard serve` accepts (`trigger NAME scheme=...`).
    pub triggers: Vec<Trigger>,
    /// blake3 of every file's path and bytes: a plan made under another policy is stale.
    pub content_hash: String,
    pub sources: Arc<Sources>,
}

impl Policy {
    /// A diagnostic for a condition that failed at evaluation time, pointing inside its
    /// KDL string when rhai reports a position.
    pub fn evaluation_diagnostic(
        &self,
        condition: &Spanned<Condition>,
        error: &crate::rules::EvalError,
    ) -> super::Diagnostic {
        let mut span = condition.span;
        if let crate::rules::EvalError::Failed {
            position: Some((line, column)),
            ..
        } = error
        {
            let file = &self.sources.file(span.file).text;
            let literal = file.get(span.offset..span.end()).unwrap_or("");
            if let Some((start, len)) =
                super::strings::locate(literal, condition.value.source(), *line, *column, 1)
            {
                span = Span::new(span.file, span.offset + start, len);
            }
        }
        super::Diagnostic::error("policy::evaluation", span, error.to_string())
            .label("evaluation failed here")
            .help(evaluation_hint(error))
    }

    /// Fields a condition reads as `person.FIELD`, or a system correlates on, that the
    /// roster does not provide (`columns`: the roster's fields, snake_case). Such a field is
    /// empty for everyone: a rule would silently match nobody, a system's accounts would all
    /// look orphaned. Each is an error with a did-you-mean.
    pub fn check_roster_fields(&self, columns: &[String]) -> Vec<super::Diagnostic> {
        let mut known: Vec<&str> = CONTEXT_PERSON_FIELDS.to_vec();
        for column in columns {
            if !known.contains(&column.as_str()) {
                known.push(column);
            }
        }
        let mut out = Vec::new();
        let conditions = self
            .rules
            .iter()
            .map(|r| &r.condition)
            .chain(self.roles.iter().map(|r| &r.condition));
        for condition in conditions {
            for (field, line, column) in crate::rules::person_fields_read(condition.value.source())
            {
                if known.contains(&field.as_str()) {
                    continue;
                }
                let mut span = condition.span;
                let file = &self.sources.file(span.file).text;
                let literal = file.get(span.offset..span.end()).unwrap_or("");
                if let Some((start, len)) = super::strings::locate(
                    literal,
                    condition.value.source(),
                    line,
                    column,
                    field.chars().count(),
                ) {
                    span = Span::new(span.file, span.offset + start, len);
                }
                out.push(
                    super::Diagnostic::error(
                        "policy::unknown-person-field",
                        span,
                        format!("`person.{field}` is not a field of the roster"),
                    )
                    .label("no such roster field")
                    .help(format!(
                        "{}; a missing field is empty for everyone, so this condition would silently match nobody",
                        super::diagnostic::suggestion_help(&field, &known, "person fields")
                    )),
                );
            }
        }
        for system in &self.systems {
            for c in &system.correlate {
                let field = c.person_field.replace('-', "_");
                if columns.contains(&field) {
                    continue;
                }
                let names: Vec<&str> = columns.iter().map(String::as_str).collect();
                out.push(
                    super::Diagnostic::error(
                        "policy::missing-roster-column",
                        c.span,
                        format!(
                            "system `{}` correlates on `{}`, but the roster has no `{field}` column",
                            system.name.value, c.person_field
                        ),
                    )
                    .label("not in the roster")
                    .help(format!(
                        "{}; without it every account of `{}` would look orphaned: add the column to the HR export or map one with `people {{ field {} \"Column\" }}`",
                        super::diagnostic::suggestion_help(&field, &names, "roster columns"),
                        system.name.value,
                        c.person_field.replace('_', "-")
                    )),
                );
            }
        }
        out
    }

    pub fn system(&self, name: &str) -> Option<&System> {
        self.systems.iter().find(|s| s.name.value == name)
    }

    pub fn summary(&self) -> String {
        format!(
            "{} {}, {} {}, {} {}",
            self.systems.len(),
            plural(self.systems.len(), "system", "systems"),
            self.roles.len(),
            plural(self.roles.len(), "role", "roles"),
            self.rules.len(),
            plural(self.rules.len(), "rule", "rules"),
        )
    }
}

/// A hint that fits why a condition failed, rather than one text for every failure.
fn evaluation_hint(error: &crate::rules::EvalError) -> String {
    use crate::rules::EvalError;
    let message = match error {
        EvalError::NotBool { .. } => {
            return "end the condition in a comparison, e.g. `person.department == \"Sales\"`"
                .into();
        }
        EvalError::Failed { message, .. } => message.to_ascii_lowercase(),
    };
    if message.contains("property not found") {
        "the roster has no such field for this person: check its spelling against the roster's columns (a JSON roster may lack the key in some entries), or guard it with `\"FIELD\" in person`".into()
    } else if message.contains("function not found") || message.contains("operator") {
        "a value has another type than the condition expects (an empty roster cell is \"\", a missing timestamp is ()); compare like with like, or check for the empty value first".into()
    } else if message.contains("exceeded") || message.contains("recursed") {
        "conditions run in a sandbox with bounded operations, depth and sizes: simplify the condition".into()
    } else {
        "conditions are pure functions of person, account and now: fix the condition or the roster value it reads".into()
    }
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

#[derive(Debug, Clone)]
pub struct System {
    pub name: Spanned<String>,
    pub lane: Lane,
    pub tier: Tier,
    pub correlate: Vec<Correlation>,
    pub on_leave: Vec<Action>,
    pub exemptions: Vec<Exemption>,
    pub concurrency: Option<u32>,
    pub description: Option<String>,
    pub owner: Option<String>,
    pub enforce_roles: bool,
    pub privileged_groups: Vec<String>,
    pub max_disable_share: Option<Share>,
    /// The whole `system` node, for locating findings (SARIF) and errors.
    pub span: Span,
}

impl System {
    pub fn name(&self) -> &str {
        &self.name.value
    }

    /// The connector's settings; `None` for a manual lane.
    pub fn connector(&self) -> Option<&ConnectorConfig> {
        match &self.lane {
            Lane::Connector(c) => Some(c),
            Lane::Manual(_) => None,
        }
    }

    pub fn manual(&self) -> Option<&ManualLane> {
        match &self.lane {
            Lane::Manual(m) => Some(m),
            Lane::Connector(_) => None,
        }
    }

    /// The connector kind's name, or `manual`.
    pub fn kind(&self) -> &'static str {
        match &self.lane {
            Lane::Connector(c) => c.kind(),
            Lane::Manual(_) => MANUAL,
        }
    }

    /// Actions that may be planned for this system: a manual lane's people can do anything.
    pub fn capabilities(&self) -> Vec<Action> {
        match &self.lane {
            Lane::Connector(c) => c.capabilities(),
            Lane::Manual(_) => Action::ALL.to_vec(),
        }
    }

    pub fn can(&self, action: Action) -> bool {
        match &self.lane {
            Lane::Connector(c) => c.can(action),
            Lane::Manual(_) => true,
        }
    }
}

/// The name written after `connector` for a manual lane.
pub const MANUAL: &str = "manual";

/// How a system's access is removed: by a connector, or by people (a manual lane).
#[derive(Debug, Clone, PartialEq)]
pub enum Lane {
    Connector(ConnectorConfig),
    Manual(ManualLane),
}

/// Where a secret comes from. Never the secret itself.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretRef {
    Env(String),
    File(PathBuf),
}

impl fmt::Debug for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::Env(var) => write!(f, "env:{var}"),
            SecretRef::File(path) => write!(f, "file:{}", path.display()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileFormat {
    Json,
    Csv,
}

/// A system people offboard by hand (`connector manual owner=... sla=...`): no connector,
/// no accounts, a task per leaver for its owner.
#[derive(Debug, Clone, PartialEq)]
pub struct ManualLane {
    pub owner: String,
    pub sla: SignedDuration,
    pub escalate_to: Option<String>,
}

/// Revocation order: lower tiers are cut first and confirmed before the next tier starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tier {
    IdentityProvider,
    Directory,
    RemoteAccess,
    Mfa,
    Privileged,
    Finance,
    CustomerData,
    Business,
    Collaboration,
    Hardware,
}

impl Tier {
    pub const NAMES: &'static [&'static str] = &[
        "identity-provider",
        "directory",
        "remote-access",
        "mfa",
        "privileged",
        "finance",
        "customer-data",
        "business",
        "collaboration",
        "hardware",
    ];
    const ALL: [Tier; 10] = [
        Tier::IdentityProvider,
        Tier::Directory,
        Tier::RemoteAccess,
        Tier::Mfa,
        Tier::Privileged,
        Tier::Finance,
        Tier::CustomerData,
        Tier::Business,
        Tier::Collaboration,
        Tier::Hardware,
    ];

    pub fn parse(s: &str) -> Option<Self> {
        Self::NAMES
            .iter()
            .position(|n| *n == s)
            .map(|i| Self::ALL[i])
    }

    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `correlate PERSON_FIELD="ACCOUNT_ATTR"`: a person field matched case-insensitively
/// against an account attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Correlation {
    /// Roster column name in snake_case (`employee_id`), as rhai sees it.
    pub person_field: String,
    pub account_attribute: String,
    pub span: Span,
}

/// An account the policy deliberately leaves alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exemption {
    pub account: String,
    pub reason: String,
    pub owner: String,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Role {
    pub name: Spanned<String>,
    /// The compiled `when`, spanning the KDL string it was written in.
    pub condition: Spanned<Condition>,
    pub grants: Vec<Grant>,
    pub description: Option<String>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub system: String,
    pub group: Option<String>,
    pub entitlement: Option<String>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub name: Spanned<String>,
    /// The compiled `when`, spanning the KDL string it was written in.
    pub condition: Spanned<Condition>,
    pub cutoff: Option<Cutoff>,
    pub delete_after: Option<SignedDuration>,
    pub retain: Option<Retention>,
    pub on_leave: Vec<Action>,
    pub notify: Vec<String>,
    /// `auto-apply #true`: an HR webhook for a leaver this rule matches is applied at once
    /// by `offboard serve`, with no approval (otherwise the plan waits for one).
    pub auto_apply: bool,
    pub description: Option<String>,
    pub span: Span,
}

/// When a leaver's access must be gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "offset")]
pub enum Cutoff {
    /// As soon as the roster records the termination.
    Immediately,
    /// At the end of the last working day, in the policy's time zone.
    EndOfLastDay,
    /// Relative to the end of the last working day.
    Offset(SignedDuration),
}

impl fmt::Display for Cutoff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cutoff::Immediately => f.write_str("immediately"),
            Cutoff::EndOfLastDay => f.write_str("end-of-last-day"),
            Cutoff::Offset(d) => f.write_str(&super::duration::format_offset(*d)),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "duration")]
pub enum Retention {
    Forever,
    For(SignedDuration),
}

/// A share of a system's accounts, stored as a fraction in `0.0..=1.0`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Share(pub f64);

#[derive(Debug, Clone)]
pub struct Defaults {
    pub cutoff: Cutoff,
    pub delete_after: Option<SignedDuration>,
    pub max_disable_share: Share,
    pub timezone: jiff::tz::TimeZone,
    pub timezone_name: String,
    pub dormant_after: SignedDuration,
    pub escalate_after: SignedDuration,
    /// How long HR has to confirm an emergency override before `audit` reports it.
    pub override_confirm_within: SignedDuration,
    pub concurrency: u32,
    pub on_leave: Vec<Action>,
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults {
            cutoff: Cutoff::EndOfLastDay,
            delete_after: None,
            max_disable_share: Share(0.10),
            timezone: jiff::tz::TimeZone::UTC,
            timezone_name: "UTC".into(),
            dormant_after: SignedDuration::from_hours(90 * 24),
            escalate_after: SignedDuration::from_hours(48),
            override_confirm_within: SignedDuration::from_hours(24),
            concurrency: 4,
            on_leave: vec![Action::Disable],
        }
    }
}

/// Where the roster (the HR system of record) comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct PeopleSource {
    pub format: FileFormat,
    /// Relative to the policy repository root.
    pub path: PathBuf,
    pub key: PersonKey,
    /// Extra roster columns that `correlate` may use, in snake_case.
    pub columns: Vec<String>,
    /// How the export's own columns map onto offboard's fields (`field` nodes).
    pub fields: Vec<FieldMapping>,
    /// Refuse a roster that lost more than this share of the people the journal's last run
    /// saw (an HR feed glitch), unless the command is told `--allow-roster-drop`.
    pub max_roster_drop: Share,
    pub span: Span,
}

/// `field termination-at "Termination Date" format="MM/DD/YYYY"`: where one of offboard's
/// fields comes from in an HR export that was not written for offboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldMapping {
    /// The offboard field, snake_case (`termination_at`).
    pub field: String,
    /// The export's columns, as written; several are joined with a space (a name from parts).
    pub from: Vec<String>,
    /// For date fields: the export's date format, as written (`MM/DD/YYYY`).
    pub format: Option<String>,
    /// For choice fields: export value -> offboard value.
    pub values: Vec<(String, String)>,
    pub span: Span,
}

/// The roster columns with a meaning of their own (every other column is an extra that
/// reaches conditions by its name), in snake_case: what a `field` mapping may fill.
pub const ROSTER_FIELDS: &[&str] = &[
    "employee_id",
    "email",
    "username",
    "name",
    "department",
    "title",
    "manager_email",
    "employment",
    "status",
    "termination_type",
    "termination_at",
    "last_day",
    "legal_hold",
    "location",
];

/// Turn an export's date pattern (`MM/DD/YYYY`, `DD.MM.YYYY HH:mm`) into a strftime format;
/// `None` when it holds no date at all.
pub fn date_pattern_to_strftime(pattern: &str) -> Option<String> {
    let mut out = String::new();
    let mut rest = pattern;
    let (mut year, mut month, mut day) = (false, false, false);
    while !rest.is_empty() {
        let token = [
            ("YYYY", "%Y"),
            ("MM", "%m"),
            ("DD", "%d"),
            ("HH", "%H"),
            ("mm", "%M"),
            ("ss", "%S"),
        ]
        .into_iter()
        .find(|(t, _)| rest.starts_with(t));
        match token {
            Some((t, f)) => {
                year |= t == "YYYY";
                month |= t == "MM";
                day |= t == "DD";
                out.push_str(f);
                rest = &rest[t.len()..];
            }
            None => {
                let c = rest.chars().next()?;
                if c.is_ascii_alphanumeric() {
                    return None;
                }
                if c == '%' {
                    out.push('%');
                }
                out.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    (year && month && day).then_some(out)
}

/// The roster column that identifies a person uniquely.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PersonKey {
    Email,
    EmployeeId,
    Username,
}

impl PersonKey {
    pub const NAMES: &'static [&'static str] = &["email", "employee-id", "username"];

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "email" => PersonKey::Email,
            "employee-id" | "employee_id" => PersonKey::EmployeeId,
            "username" => PersonKey::Username,
            _ => return None,
        })
    }

    pub fn column(self) -> &'static str {
        match self {
            PersonKey::Email => "email",
            PersonKey::EmployeeId => "employee_id",
            PersonKey::Username => "username",
        }
    }
}

/// What `person.*` holds besides the roster's columns (see `reconcile::context`).
pub const CONTEXT_PERSON_FIELDS: &[&str] = &[
    "employee_id",
    "email",
    "username",
    "name",
    "department",
    "title",
    "manager_email",
    "location",
    "employment",
    "status",
    "termination_type",
    "termination_at",
    "last_day",
    "last_day_end",
    "legal_hold",
    "is_leaver",
];

/// Person fields `correlate` may name without declaring them.
pub const STANDARD_PERSON_FIELDS: &[&str] = &["email", "username", "employee-id", "name"];

/// `notifications { default ...; smtp ...; chat ... }`: how messages leave offboard.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Notifications {
    /// Recipients of every plan awaiting approval, every apply's report and every failure,
    /// besides each rule's `notify`.
    pub default: Vec<String>,
    pub smtp: Option<Smtp>,
    /// Chat incoming webhooks, named so `notify` can address them.
    pub chats: Vec<ChatHook>,
}

impl Notifications {
    pub fn chat(&self, name: &str) -> Option<&ChatHook> {
        self.chats.iter().find(|c| c.name == name)
    }

    /// Whether any channel is declared: without one, offboard queues no message at all.
    pub fn enabled(&self) -> bool {
        self.smtp.is_some() || !self.chats.is_empty()
    }
}

/// `smtp host=... port=587 tls=starttls from=... username=... password-env=...`.
#[derive(Debug, Clone, PartialEq)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub from: String,
    pub username: Option<String>,
    pub password: Option<SecretRef>,
    /// A PEM file of CA certificates trusted for this server besides the system's (a
    /// private CA), relative to the repository.
    pub ca_file: Option<PathBuf>,
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain text (a relay on localhost only).
    None,
    /// Upgraded with STARTTLS (port 587); refused if the server cannot.
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
}

/// `chat NAME url-env=VAR style=slack|teams`: an incoming webhook (its URL is a secret).
#[derive(Debug, Clone, PartialEq)]
pub struct ChatHook {
    pub name: String,
    pub url: SecretRef,
    pub style: ChatStyle,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChatStyle {
    /// `{"text": ...}` (Slack, Mattermost, Rocket.Chat, Google Chat).
    Slack,
    /// A MessageCard (Microsoft Teams incoming webhooks and Workflows).
    Teams,
}

/// `trigger NAME scheme=generic|bamboohr|hibob secret-env=VAR`: an HR system that may post
/// terminations to `POST /hooks/hr/NAME`.
#[derive(Debug, Clone, PartialEq)]
pub struct Trigger {
    pub name: String,
    pub scheme: TriggerScheme,
    pub secret: SecretRef,
    pub span: Span,
}

/// How a webhook's sender proves itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TriggerScheme {
    /// HMAC-SHA256 over `{timestamp}.{body}`, hex, in configurable headers.
    Generic {
        signature_header: String,
        timestamp_header: String,
    },
    /// `X-BambooHR-Signature` / `X-BambooHR-Timestamp`.
    BambooHr,
    /// `Bob-Signature`: HMAC-SHA512 of the body, base64.
    HiBob,
}

impl TriggerScheme {
    pub const NAMES: &'static [&'static str] = &["generic", "bamboohr", "hibob"];

    pub fn name(&self) -> &'static str {
        match self {
            TriggerScheme::Generic { .. } => "generic",
            TriggerScheme::BambooHr => "bamboohr",
            TriggerScheme::HiBob => "hibob",
        }
    }
}
