//! Turning a verified webhook payload into the facts offboard acts on: who, whether they
//! are leaving, how, and their last day.
//!
//! [`parse`] runs only after `super::signature::verify` has accepted the request, but the
//! payload is still input from another system, read defensively: nothing here panics on
//! it, strings are trimmed (an all-blank string counts as absent), identifiers longer than
//! [`MAX_TEXT`] bytes are refused, at most [`MAX_EVENTS`] events are taken from one
//! payload, and nothing is lowercased (the caller matches people case-insensitively).
//! A payload that cannot be read is an error, never a silently empty list: an offboarding
//! tool that drops a termination it did not understand leaves a leaver with access.
//!
//! # generic: offboard's own format
//!
//! One event per request, a JSON object:
//!
//! ```json
//! {
//!   "event_id": "evt-1",
//!   "type": "termination",
//!   "person": { "email": "ada@acme.com", "employee_id": "E042" },
//!   "termination_type": "involuntary",
//!   "last_day": "2026-11-30"
//! }
//! ```
//!
//! - `event_id` (required): unique per event, and the same on every retry of it; offboard
//!   acts on an id once.
//! - `type` (required): `"termination"` for a leaver; any other value is an HR change that
//!   offboard acknowledges and ignores.
//! - `person` (required): `email`, `employee_id`, or both; the caller looks the person up
//!   by email first, then by employee id.
//! - `termination_type` (optional): `voluntary`, `involuntary`, `retirement` or
//!   `contract-end`, as in the roster; any other value is an error.
//! - `last_day` (optional): the last working day, `YYYY-MM-DD`, in the policy's time zone.
//!
//! # bamboohr: field-based webhooks
//!
//! BambooHR's *field-based* (global) webhooks post the changed employees with the fields
//! the webhook is set to send (<https://documentation.bamboohr.com/docs/field-based-webhooks>,
//! JSON format):
//!
//! ```json
//! {"employees": [{"action": "Updated", "changedFields": ["First Name"],
//!                 "fields": {"First Name": "Bryony"}, "id": "12345",
//!                 "timestamp": "2026-01-31T18:42:00+0000"}]}
//! ```
//!
//! Each entry of `employees` is one [`HrEvent`]. Fields are posted under BambooHR's English
//! field names by default, or under aliases the webhook sets (same page, "Field Name
//! Aliases"); both the names below and the API's field names are looked up, in any case:
//!
//! - the person: the entry's `id` (BambooHR's employee id), and `Work Email` (`workEmail`),
//!   else `Email` (`email`). `Home Email` is never used: it is not the account offboard
//!   revokes.
//! - leaving: `Employment Status` (`employmentHistoryStatus`, `employmentStatus`) containing
//!   "terminated" in any case; when the webhook does not post the status, a `Termination
//!   Date` (`terminationDate`) alone means leaving. When the status is posted and says
//!   otherwise, a termination date is not enough: a rehired employee's record can keep the
//!   date of an earlier termination.
//! - `Termination Type` (`terminationType`): read with the roster's parser, then by
//!   keyword ("Involuntary", "Resignation (Voluntary)", "Retirement", "Contract ..."); a
//!   type it cannot place (such as "Death") leaves `termination_type` empty rather than
//!   dropping the termination.
//! - `Termination Date`: `YYYY-MM-DD`; BambooHR's empty date `0000-00-00` counts as absent.
//!
//! So the webhook must post `Employment Status`, `Termination Date`, `Termination Type` and
//! `Work Email`. BambooHR's *event-based* webhooks (`{"type": "employee.updated", "data":
//! {"employeeId": ...}}`, <https://documentation.bamboohr.com/docs/event-based-webhooks>)
//! carry no field values, so they cannot say whether anyone is leaving; such a payload is
//! refused ([`PayloadError::Missing`] `employees`) rather than acknowledged, and so is the
//! form-encoded variant ([`PayloadError::NotJson`]). BambooHR does not retry a 4xx answer
//! (<https://documentation.bamboohr.com/reference/employee-deleted-webhook>, Responses), so
//! a misconfigured webhook fails visibly instead of being retried forever.
//!
//! A field-based payload carries no event id, so each event's id is `bamboohr-` and the
//! first 32 hex digits of a BLAKE3 digest of the employee id, the `X-BambooHR-Timestamp`
//! header and the entry's JSON: a replay of the same delivery has the same id.
//!
//! # hibob: Bob webhooks v2 (and v1)
//!
//! Bob's v2 payloads share one envelope (<https://apidocs.hibob.com/reference/webhook-events-v2>,
//! "Webhook v2 event types and payload"; `companyId` from each event's reference page):
//!
//! ```json
//! {"companyId": 601234, "type": "employee.left", "triggeredBy": "system",
//!  "triggeredAt": "2026-11-30T00:00:04.117462", "version": "v2",
//!  "data": {"employeeId": "3332883884017713238"}}
//! ```
//!
//! v2 sends "only identifiers and metadata"
//! (<https://apidocs.hibob.com/reference/employee-events-v2>): the person is
//! `data.employeeId`, plus `data.email` when present (Bob added the work email to
//! `employee.deleted`; the lifecycle events' reference documents no email). Legacy v1
//! payloads (`{"type": ..., "employee": {"id": ..., "email": ...}}`) are read too.
//!
//! Leaving, from the lifecycle events
//! (<https://apidocs.hibob.com/reference/employee-changes-events>):
//!
//! - `employee.left`: "set as terminated or on Garden leave (whichever occurs first), once
//!   the corresponding lifecycle entry becomes effective"
//!   (<https://apidocs.hibob.com/reference/post_webhook_employee-left>).
//! - `employee.access.revoked.immediately`: a termination flow completed with "Revoke access
//!   immediately", before the termination date
//!   (<https://apidocs.hibob.com/changelog/employee-data-api-immediate-access-revocation-webhook>).
//!
//! Everything else is acknowledged and ignored, `employee.inactivated` included: it fires
//! for leave as well as termination, and a leave of absence is not a leaver (the roster's
//! `Status::OnLeave`). Bob's payloads say nothing of the termination type or last day.
//! Subscribing one URL to other Bob events (time off, tasks) is harmless: only a leaving
//! event must name the person, so others, with or without an employee, are acknowledged
//! rather than refused (a refusal makes Bob retry for 3 days and e-mail its admins).
//!
//! A Bob payload carries no event id; the id is `hibob-` and 32 hex digits of a BLAKE3
//! digest of the body, the same on Bob's retries. `triggeredAt` is not checked (see
//! `super::signature`): lifecycle events are days old on a retry. Bob's connection test,
//! the body `Ping test` or `{"text":"Ping test"}`
//! (<https://apidocs.hibob.com/docs/working-with-webhooks>, Step 2), parses to no events
//! (see [`is_ping`]).

use axum::http::HeaderMap;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::signature::{BAMBOOHR_TIMESTAMP, Scheme};
use crate::roster::TerminationType;

/// The most events one payload may carry; more is an error, not a truncation.
pub const MAX_EVENTS: usize = 1000;

/// The longest identifier or value read (bytes, after trimming); longer is an error.
pub const MAX_TEXT: usize = 512;

/// How much of an invalid value an error repeats.
const MAX_SHOWN: usize = 80;

/// One HR fact from a webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HrEvent {
    /// The sender's event id; when the scheme has none, a digest of the signed content (so a
    /// replay of the same delivery is caught).
    pub event_id: String,
    /// What identifies the person, tried in this order by the caller: email, employee id.
    pub email: Option<String>,
    pub employee_id: Option<String>,
    /// Whether the event says the person is leaving (false: some other HR change,
    /// acknowledged and ignored).
    pub termination: bool,
    pub termination_type: Option<TerminationType>,
    /// Last working day (a date, in the policy's time zone, as the roster has it).
    pub last_day: Option<Date>,
}

/// Why a payload could not be read. Values quoted are shortened and escaped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// Not JSON, or JSON but not an object; holds the reason.
    #[error("the payload is not a JSON object: {0}")]
    NotJson(String),
    /// A required value is absent (or blank); holds what.
    #[error("the payload has no {0}")]
    Missing(&'static str),
    /// A value is there but unusable (also: too many events).
    #[error("the payload's {field} is not usable: {value:?}")]
    Invalid { field: &'static str, value: String },
}

/// The events in a payload that `super::signature::verify` accepted under `scheme`.
/// `headers` are the request's (BambooHR's event ids include its timestamp header).
pub fn parse(
    scheme: &Scheme,
    body: &[u8],
    headers: &HeaderMap,
) -> Result<Vec<HrEvent>, PayloadError> {
    match scheme {
        Scheme::Generic { .. } => Ok(vec![generic(&object(body)?)?]),
        Scheme::BambooHr => {
            let sent = headers
                .get(BAMBOOHR_TIMESTAMP)
                .map(|v| v.as_bytes().trim_ascii())
                .unwrap_or_default();
            bamboohr(&object(body)?, sent)
        }
        Scheme::HiBob => {
            if is_ping(scheme, body) {
                return Ok(Vec::new());
            }
            Ok(vec![hibob(&object(body)?, body)?])
        }
    }
}

/// Whether `body` is the sender's connection test rather than an event: Bob posts
/// `Ping test`, or `{"text":"Ping test"}`, when a webhook is set up, and expects a 2xx
/// (<https://apidocs.hibob.com/docs/working-with-webhooks>, Step 2). Whether Bob signs it
/// is not documented.
pub fn is_ping(scheme: &Scheme, body: &[u8]) -> bool {
    if !matches!(scheme, Scheme::HiBob) {
        return false;
    }
    let Ok(text) = std::str::from_utf8(body) else {
        return false;
    };
    let text = text.trim();
    if text == "Ping test" {
        return true;
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::String(s)) => s == "Ping test",
        Ok(Value::Object(map)) => {
            map.len() == 1 && map.get("text").and_then(Value::as_str) == Some("Ping test")
        }
        _ => false,
    }
}

/// The body as a JSON object.
fn object(body: &[u8]) -> Result<Map<String, Value>, PayloadError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(PayloadError::NotJson(format!(
            "found {} at the top level",
            kind(&other)
        ))),
        Err(e) => Err(PayloadError::NotJson(e.to_string())),
    }
}

fn generic(map: &Map<String, Value>) -> Result<HrEvent, PayloadError> {
    let event_id =
        text(map.get("event_id"), "event_id")?.ok_or(PayloadError::Missing("event_id"))?;
    let kind_of_event = text(map.get("type"), "type")?.ok_or(PayloadError::Missing("type"))?;
    let person = match map.get("person") {
        Some(Value::Object(person)) => Some(person),
        None | Some(Value::Null) => None,
        Some(other) => return Err(invalid("person", kind(other))),
    };
    let email = person
        .map(|p| text(p.get("email"), "person.email"))
        .transpose()?
        .flatten();
    let employee_id = person
        .map(|p| text(p.get("employee_id"), "person.employee_id"))
        .transpose()?
        .flatten();
    if email.is_none() && employee_id.is_none() {
        return Err(PayloadError::Missing("person.email or person.employee_id"));
    }
    let termination_type = match text(map.get("termination_type"), "termination_type")? {
        Some(t) => Some(TerminationType::parse(&t).ok_or_else(|| invalid("termination_type", &t))?),
        None => None,
    };
    Ok(HrEvent {
        event_id,
        email,
        employee_id,
        termination: kind_of_event.eq_ignore_ascii_case("termination"),
        termination_type,
        last_day: date(map.get("last_day"), "last_day")?,
    })
}

fn bamboohr(map: &Map<String, Value>, sent: &[u8]) -> Result<Vec<HrEvent>, PayloadError> {
    let entries = match map.get("employees") {
        Some(Value::Array(entries)) => entries,
        Some(other) => return Err(invalid("employees", kind(other))),
        None => return Err(PayloadError::Missing("employees")),
    };
    if entries.len() > MAX_EVENTS {
        return Err(PayloadError::Invalid {
            field: "employees",
            value: format!("{} entries, more than {MAX_EVENTS}", entries.len()),
        });
    }
    entries
        .iter()
        .map(|entry| bamboohr_entry(entry, sent))
        .collect()
}

fn bamboohr_entry(entry: &Value, sent: &[u8]) -> Result<HrEvent, PayloadError> {
    let Value::Object(e) = entry else {
        return Err(invalid("employees[]", kind(entry)));
    };
    let employee_id = text(e.get("id"), "employees[].id")?;
    let fields = match e.get("fields") {
        Some(Value::Object(fields)) => Some(fields),
        None | Some(Value::Null) => None,
        Some(other) => return Err(invalid("employees[].fields", kind(other))),
    };
    let email = match text(field(fields, &["Work Email", "workEmail"]), "Work Email")? {
        Some(email) => Some(email),
        None => text(field(fields, &["Email", "email"]), "Email")?,
    };
    if email.is_none() && employee_id.is_none() {
        return Err(PayloadError::Missing("employees[].id"));
    }
    let status = text(
        field(
            fields,
            &[
                "Employment Status",
                "employmentHistoryStatus",
                "employmentStatus",
            ],
        ),
        "Employment Status",
    )?;
    let last_day = date(
        field(fields, &["Termination Date", "terminationDate"]),
        "Termination Date",
    )?;
    let termination = match &status {
        Some(status) => status.to_ascii_lowercase().contains("terminated"),
        None => last_day.is_some(),
    };
    let termination_type = text(
        field(fields, &["Termination Type", "terminationType"]),
        "Termination Type",
    )?
    .and_then(|t| bamboohr_termination_type(&t));
    let event_id = digest_id(
        "bamboohr",
        &[
            employee_id.as_deref().unwrap_or_default().as_bytes(),
            sent,
            entry.to_string().as_bytes(),
        ],
    );
    Ok(HrEvent {
        event_id,
        email,
        employee_id,
        termination,
        termination_type,
        last_day,
    })
}

/// A BambooHR termination type: the roster's names, else by keyword; `None` for one that
/// fits no roster type (BambooHR's list is the company's own).
fn bamboohr_termination_type(raw: &str) -> Option<TerminationType> {
    if let Some(t) = TerminationType::parse(raw) {
        return Some(t);
    }
    let lower = raw.to_ascii_lowercase();
    if lower.contains("involuntary") {
        Some(TerminationType::Involuntary)
    } else if lower.contains("retire") {
        Some(TerminationType::Retirement)
    } else if lower.contains("contract") {
        Some(TerminationType::ContractEnd)
    } else if lower.contains("voluntary") || lower.contains("resign") {
        Some(TerminationType::Voluntary)
    } else {
        None
    }
}

/// Bob's event types that mean the person is leaving.
const HIBOB_LEAVING: &[&str] = &["employee.left", "employee.access.revoked.immediately"];

/// A Bob event (one per payload).
fn hibob(map: &Map<String, Value>, body: &[u8]) -> Result<HrEvent, PayloadError> {
    let kind_of_event = text(map.get("type"), "type")?.ok_or(PayloadError::Missing("type"))?;
    let (employee_id, email) = match (map.get("data"), map.get("employee")) {
        (Some(Value::Object(data)), _) => (
            text(data.get("employeeId"), "data.employeeId")?,
            text(data.get("email"), "data.email")?,
        ),
        (_, Some(Value::Object(employee))) => (
            text(employee.get("id"), "employee.id")?,
            text(employee.get("email"), "employee.email")?,
        ),
        _ => (None, None),
    };
    let termination = HIBOB_LEAVING.contains(&kind_of_event.as_str());
    if termination && employee_id.is_none() && email.is_none() {
        return Err(PayloadError::Missing("data.employeeId"));
    }
    Ok(HrEvent {
        event_id: digest_id("hibob", &[body]),
        email,
        employee_id,
        termination,
        termination_type: None,
        last_day: None,
    })
}

/// `{prefix}-` and the first 32 hex digits of a BLAKE3 digest of `parts` (each
/// length-prefixed, so no two lists of parts hash alike by shifting bytes between them).
fn digest_id(prefix: &str, parts: &[&[u8]]) -> String {
    let mut hasher = blake3::Hasher::new();
    for part in parts {
        hasher.update(&(part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    let hex = hasher.finalize().to_hex();
    let short = hex.as_str().get(..32).unwrap_or(hex.as_str());
    format!("{prefix}-{short}")
}

/// A field by the first of `names` present, in any case.
fn field<'a>(fields: Option<&'a Map<String, Value>>, names: &[&str]) -> Option<&'a Value> {
    let fields = fields?;
    names.iter().find_map(|name| {
        fields
            .iter()
            .find(|(key, _)| key.trim().eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    })
}

/// A string (trimmed; blank is absent) or a number, or either under `{"value": ...}`;
/// `null` and absence are `None`; anything else, or longer than [`MAX_TEXT`], is invalid.
fn text(value: Option<&Value>, what: &'static str) -> Result<Option<String>, PayloadError> {
    let s = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => return Ok(Some(n.to_string())),
        Some(Value::Object(o)) if o.contains_key("value") => return text(o.get("value"), what),
        Some(Value::String(s)) => s.trim(),
        Some(other) => return Err(invalid(what, kind(other))),
    };
    if s.len() > MAX_TEXT {
        return Err(invalid(what, s));
    }
    Ok((!s.is_empty()).then(|| s.to_string()))
}

/// A `YYYY-MM-DD` date; absent, blank or `0000-00-00` (BambooHR's empty date) is `None`.
fn date(value: Option<&Value>, what: &'static str) -> Result<Option<Date>, PayloadError> {
    match text(value, what)? {
        None => Ok(None),
        Some(s) if s == "0000-00-00" => Ok(None),
        Some(s) => civil_date(&s).map(Some).ok_or_else(|| invalid(what, &s)),
    }
}

/// Exactly `YYYY-MM-DD`, a real date.
fn civil_date(s: &str) -> Option<Date> {
    let shape = s.len() == 10
        && s.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    if !shape {
        return None;
    }
    let year: i16 = s.get(0..4)?.parse().ok()?;
    let month: i8 = s.get(5..7)?.parse().ok()?;
    let day: i8 = s.get(8..10)?.parse().ok()?;
    Date::new(year, month, day).ok()
}

fn invalid(field: &'static str, value: &str) -> PayloadError {
    let mut shown: String = value.chars().take(MAX_SHOWN).collect();
    if value.chars().count() > MAX_SHOWN {
        shown.push('…');
    }
    PayloadError::Invalid {
        field,
        value: shown,
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn generic_scheme() -> Scheme {
        Scheme::parse("generic", None, None).unwrap()
    }

    fn no_headers() -> HeaderMap {
        HeaderMap::new()
    }

    fn bamboo_headers(timestamp: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-bamboohr-timestamp", HeaderValue::from_static(timestamp));
        h
    }

    fn day(s: &str) -> Date {
        s.parse().unwrap()
    }

    // generic

    const GENERIC: &str = r#"{"event_id":"evt-1","type":"termination",
        "person":{"email":" Ada@Acme.com ","employee_id":"E042"},
        "termination_type":"involuntary","last_day":"2026-11-30"}"#;

    #[test]
    fn generic_sample_parses() {
        let events = parse(&generic_scheme(), GENERIC.as_bytes(), &no_headers()).unwrap();
        assert_eq!(
            events,
            vec![HrEvent {
                event_id: "evt-1".into(),
                email: Some("Ada@Acme.com".into()),
                employee_id: Some("E042".into()),
                termination: true,
                termination_type: Some(TerminationType::Involuntary),
                last_day: Some(day("2026-11-30")),
            }]
        );
    }

    #[test]
    fn generic_other_types_are_not_terminations() {
        let body = r#"{"event_id":"evt-2","type":"title-change","person":{"employee_id":"E042"}}"#;
        let events = parse(&generic_scheme(), body.as_bytes(), &no_headers()).unwrap();
        assert_eq!(events.len(), 1);
        assert!(!events[0].termination);
        assert_eq!(events[0].email, None);
        assert_eq!(events[0].last_day, None);
    }

    #[test]
    fn generic_needs_an_id_a_type_and_a_person() {
        let cases = [
            (
                r#"{"type":"termination","person":{"email":"a@b.c"}}"#,
                "event_id",
            ),
            (
                r#"{"event_id":" ","type":"termination","person":{"email":"a@b.c"}}"#,
                "event_id",
            ),
            (r#"{"event_id":"e","person":{"email":"a@b.c"}}"#, "type"),
            (
                r#"{"event_id":"e","type":"termination"}"#,
                "person.email or person.employee_id",
            ),
            (
                r#"{"event_id":"e","type":"termination","person":{"email":"  ","employee_id":null}}"#,
                "person.email or person.employee_id",
            ),
        ];
        for (body, missing) in cases {
            assert_eq!(
                parse(&generic_scheme(), body.as_bytes(), &no_headers()),
                Err(PayloadError::Missing(missing)),
                "{body}"
            );
        }
    }

    #[test]
    fn generic_bad_values_are_invalid() {
        let cases = [
            (r#""last_day":"30/11/2026""#, "last_day"),
            (r#""last_day":"2026-02-30""#, "last_day"),
            (r#""last_day":"2026-11-30T00:00:00Z""#, "last_day"),
            (r#""termination_type":"fired""#, "termination_type"),
            (r#""last_day":true"#, "last_day"),
        ];
        for (extra, field) in cases {
            let body = format!(
                r#"{{"event_id":"e","type":"termination","person":{{"email":"a@b.c"}},{extra}}}"#
            );
            match parse(&generic_scheme(), body.as_bytes(), &no_headers()) {
                Err(PayloadError::Invalid { field: f, .. }) => assert_eq!(f, field, "{body}"),
                other => panic!("{body}: {other:?}"),
            }
        }
        let long = "x".repeat(MAX_TEXT + 1);
        let body = format!(r#"{{"event_id":"{long}","type":"t","person":{{"email":"a@b.c"}}}}"#);
        match parse(&generic_scheme(), body.as_bytes(), &no_headers()) {
            Err(PayloadError::Invalid { field, value }) => {
                assert_eq!(field, "event_id");
                assert!(value.chars().count() <= MAX_SHOWN + 1);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn garbage_is_not_json() {
        for scheme in [generic_scheme(), Scheme::BambooHr, Scheme::HiBob] {
            let bodies: [&[u8]; 5] = [b"not json", b"", b"{\"event_id\":", b"[1,2]", b"\xff\xfe"];
            for body in bodies {
                assert!(
                    matches!(
                        parse(&scheme, body, &bamboo_headers("1")),
                        Err(PayloadError::NotJson(_))
                    ),
                    "{} {body:?}",
                    scheme.name()
                );
            }
        }
    }

    // bamboohr

    /// The JSON example of <https://documentation.bamboohr.com/docs/field-based-webhooks>.
    const BAMBOO_DOCS: &str = r#"{
      "employees": [
        {
          "action": "Updated",
          "changedFields": ["First Name"],
          "fields": {"First Name": "Bryony"},
          "id": "12345",
          "timestamp": "2026-01-31T18:42:00+0000"
        }
      ]
    }"#;

    const BAMBOO_TERMINATION: &str = r#"{"employees":[
      {"action":"Updated","changedFields":["Employment Status"],"id":"123",
       "timestamp":"2026-11-02T09:15:00+0000",
       "fields":{"Employment Status":"Terminated","Termination Date":"2026-11-30",
                 "Termination Type":"Involuntary","Work Email":" ada@acme.com ",
                 "Home Email":"ada@home.example"}},
      {"action":"Updated","changedFields":["Job Title"],"id":"124",
       "fields":{"Job Title":"Engineer","Employment Status":"Full-Time",
                 "Termination Date":"2019-05-31","Email":"grace@acme.com"}}
    ]}"#;

    #[test]
    fn bamboohr_docs_sample_is_an_ignored_change() {
        let events = parse(
            &Scheme::BambooHr,
            BAMBOO_DOCS.as_bytes(),
            &bamboo_headers("1767000000"),
        )
        .unwrap();
        assert_eq!(events.len(), 1);
        let e = &events[0];
        assert_eq!(e.employee_id.as_deref(), Some("12345"));
        assert_eq!(e.email, None);
        assert!(!e.termination);
        assert!(e.event_id.starts_with("bamboohr-"));
        assert_eq!(e.event_id.len(), "bamboohr-".len() + 32);
    }

    #[test]
    fn bamboohr_termination_parses_to_the_facts() {
        let events = parse(
            &Scheme::BambooHr,
            BAMBOO_TERMINATION.as_bytes(),
            &bamboo_headers("1767000000"),
        )
        .unwrap();
        assert_eq!(events.len(), 2);
        let ada = &events[0];
        assert_eq!(ada.employee_id.as_deref(), Some("123"));
        assert_eq!(ada.email.as_deref(), Some("ada@acme.com"));
        assert!(ada.termination);
        assert_eq!(ada.termination_type, Some(TerminationType::Involuntary));
        assert_eq!(ada.last_day, Some(day("2026-11-30")));
        // A status other than terminated outweighs an old termination date (a rehire).
        let grace = &events[1];
        assert_eq!(grace.email.as_deref(), Some("grace@acme.com"));
        assert!(!grace.termination);
        assert_ne!(ada.event_id, grace.event_id);
    }

    #[test]
    fn bamboohr_a_termination_date_alone_means_leaving() {
        let body = r#"{"employees":[{"id":"7","fields":{"terminationDate":"2026-12-01",
            "workEmail":"lin@acme.com","terminationType":"Resignation (Voluntary)"}}]}"#;
        let events = parse(&Scheme::BambooHr, body.as_bytes(), &bamboo_headers("1")).unwrap();
        assert!(events[0].termination);
        assert_eq!(events[0].email.as_deref(), Some("lin@acme.com"));
        assert_eq!(events[0].termination_type, Some(TerminationType::Voluntary));
        let body = r#"{"employees":[{"id":"7","fields":{"Termination Date":"0000-00-00"}}]}"#;
        let events = parse(&Scheme::BambooHr, body.as_bytes(), &bamboo_headers("1")).unwrap();
        assert!(!events[0].termination);
        assert_eq!(events[0].last_day, None);
    }

    #[test]
    fn bamboohr_termination_types_map_or_stay_empty() {
        assert_eq!(
            bamboohr_termination_type("Voluntary"),
            Some(TerminationType::Voluntary)
        );
        assert_eq!(
            bamboohr_termination_type("involuntary"),
            Some(TerminationType::Involuntary)
        );
        assert_eq!(
            bamboohr_termination_type("Retirement"),
            Some(TerminationType::Retirement)
        );
        assert_eq!(
            bamboohr_termination_type("End of Contract"),
            Some(TerminationType::ContractEnd)
        );
        assert_eq!(bamboohr_termination_type("Death"), None);
    }

    #[test]
    fn bamboohr_event_ids_are_stable_per_delivery() {
        let a = parse(
            &Scheme::BambooHr,
            BAMBOO_DOCS.as_bytes(),
            &bamboo_headers("100"),
        )
        .unwrap();
        let b = parse(
            &Scheme::BambooHr,
            BAMBOO_DOCS.as_bytes(),
            &bamboo_headers("100"),
        )
        .unwrap();
        let c = parse(
            &Scheme::BambooHr,
            BAMBOO_DOCS.as_bytes(),
            &bamboo_headers("101"),
        )
        .unwrap();
        assert_eq!(a[0].event_id, b[0].event_id);
        assert_ne!(a[0].event_id, c[0].event_id);
    }

    #[test]
    fn bamboohr_needs_employees_and_identifiers() {
        // An event-based payload carries no field values.
        let event_based = r#"{"type":"employee.updated","timestamp":"2026-01-31T18:42:00+0000",
            "data":{"companyId":"12345","employeeId":"67890","changedFields":["firstName"]}}"#;
        assert_eq!(
            parse(
                &Scheme::BambooHr,
                event_based.as_bytes(),
                &bamboo_headers("1")
            ),
            Err(PayloadError::Missing("employees"))
        );
        let no_person = r#"{"employees":[{"fields":{"Employment Status":"Terminated"}}]}"#;
        assert_eq!(
            parse(
                &Scheme::BambooHr,
                no_person.as_bytes(),
                &bamboo_headers("1")
            ),
            Err(PayloadError::Missing("employees[].id"))
        );
        let bad_date = r#"{"employees":[{"id":"1","fields":{"Termination Date":"11/30/2026"}}]}"#;
        assert!(matches!(
            parse(&Scheme::BambooHr, bad_date.as_bytes(), &bamboo_headers("1")),
            Err(PayloadError::Invalid {
                field: "Termination Date",
                ..
            })
        ));
    }

    #[test]
    fn bamboohr_caps_the_number_of_events() {
        let entry = r#"{"id":"1"}"#;
        let body = |n: usize| format!(r#"{{"employees":[{}]}}"#, vec![entry; n].join(","));
        let ok = parse(
            &Scheme::BambooHr,
            body(MAX_EVENTS).as_bytes(),
            &bamboo_headers("1"),
        );
        assert_eq!(ok.map(|e| e.len()), Ok(MAX_EVENTS));
        assert!(matches!(
            parse(
                &Scheme::BambooHr,
                body(MAX_EVENTS + 1).as_bytes(),
                &bamboo_headers("1")
            ),
            Err(PayloadError::Invalid {
                field: "employees",
                ..
            })
        ));
    }

    // hibob

    /// The v2 envelope of <https://apidocs.hibob.com/reference/webhook-events-v2>.
    const BOB_LEFT: &str = r#"{"companyId":601234,"type":"employee.left",
        "triggeredBy":"system","triggeredAt":"2026-11-30T00:00:04.117462","version":"v2",
        "data":{"employeeId":"3332883884017713238"}}"#;

    #[test]
    fn hibob_left_is_a_termination() {
        let events = parse(&Scheme::HiBob, BOB_LEFT.as_bytes(), &no_headers()).unwrap();
        assert_eq!(events.len(), 1);
        let e = &events[0];
        assert!(e.termination);
        assert_eq!(e.employee_id.as_deref(), Some("3332883884017713238"));
        assert_eq!(e.email, None);
        assert_eq!(e.termination_type, None);
        assert_eq!(e.last_day, None);
        assert!(e.event_id.starts_with("hibob-"));
        // The same body (a retry, or a replay) has the same id.
        let again = parse(&Scheme::HiBob, BOB_LEFT.as_bytes(), &no_headers()).unwrap();
        assert_eq!(again[0].event_id, e.event_id);
    }

    #[test]
    fn hibob_other_events_are_not_terminations() {
        for kind in [
            "employee.updated",
            "employee.inactivated",
            "employee.joined",
        ] {
            let body = format!(
                r#"{{"companyId":1,"type":"{kind}","triggeredBy":"3","triggeredAt":"x",
                "version":"v2","data":{{"employeeId":"42","fieldUpdates":[{{"fieldId":"root.email"}}]}}}}"#
            );
            let events = parse(&Scheme::HiBob, body.as_bytes(), &no_headers()).unwrap();
            assert!(!events[0].termination, "{kind}");
        }
        // Not about an employee at all: acknowledged, not refused.
        let body = r#"{"companyId":1,"type":"task.completed","version":"v2","data":{"taskId":9}}"#;
        let events = parse(&Scheme::HiBob, body.as_bytes(), &no_headers()).unwrap();
        assert!(!events[0].termination);
        assert_eq!(events[0].employee_id, None);
    }

    #[test]
    fn hibob_v1_and_immediate_revocation() {
        let v1 = r#"{"type":"employee.left","creationDate":"2024-01-01T00:00:00",
            "employee":{"id":"77","email":"kim@acme.com","displayName":"Kim"}}"#;
        let events = parse(&Scheme::HiBob, v1.as_bytes(), &no_headers()).unwrap();
        assert!(events[0].termination);
        assert_eq!(events[0].email.as_deref(), Some("kim@acme.com"));
        assert_eq!(events[0].employee_id.as_deref(), Some("77"));
        let revoked = r#"{"companyId":1,"type":"employee.access.revoked.immediately",
            "version":"v2","data":{"employeeId":"78"}}"#;
        let events = parse(&Scheme::HiBob, revoked.as_bytes(), &no_headers()).unwrap();
        assert!(events[0].termination);
    }

    #[test]
    fn hibob_termination_without_a_person_is_an_error() {
        for body in [
            r#"{"companyId":1,"type":"employee.left","version":"v2","data":{}}"#,
            r#"{"companyId":1,"type":"employee.left","version":"v2"}"#,
        ] {
            assert_eq!(
                parse(&Scheme::HiBob, body.as_bytes(), &no_headers()),
                Err(PayloadError::Missing("data.employeeId")),
                "{body}"
            );
        }
        assert_eq!(
            parse(
                &Scheme::HiBob,
                br#"{"data":{"employeeId":"1"}}"#,
                &no_headers()
            ),
            Err(PayloadError::Missing("type"))
        );
    }

    #[test]
    fn hibob_ping_is_no_event() {
        let bodies: [&[u8]; 3] = [
            b"Ping test",
            b"{\"text\":\"Ping test\"}",
            b" \"Ping test\" ",
        ];
        for body in bodies {
            assert!(is_ping(&Scheme::HiBob, body));
            assert_eq!(parse(&Scheme::HiBob, body, &no_headers()), Ok(Vec::new()));
        }
        assert!(!is_ping(&Scheme::HiBob, BOB_LEFT.as_bytes()));
        assert!(!is_ping(&Scheme::BambooHr, b"Ping test"));
    }

    #[test]
    fn events_serialise_and_back() {
        let events = parse(&generic_scheme(), GENERIC.as_bytes(), &no_headers()).unwrap();
        let json = serde_json::to_string(&events[0]).unwrap();
        let back: HrEvent = serde_json::from_str(&json).unwrap();
        assert_eq!(back, events[0]);
    }
}
