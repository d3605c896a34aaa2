//! The HTTP endpoints: HR webhooks, `/healthz` and `/metrics`.
//!
//! A webhook is answered only after everything about it is decided and recorded: 401 for a
//! missing or bad signature or a timestamp outside the window, 409 for an event id already
//! journaled (a replay), 400 for a payload offboard cannot read, 422 when no termination of
//! the request names anybody in the roster by email or employee id (nothing is journaled, so
//! HR's retry works once the roster has the person; the ones that do name somebody are
//! recorded and the rest listed as `unmatched`), 200 for a request with no termination in it (other
//! HR changes are acknowledged, not journaled), and 202 once every termination of the
//! request is journaled. Rejections are logged and
//! counted and have no other effect. The work an accepted event asks for happens after the
//! answer, on the worker.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::event::{self, HrEvent};
use super::signature::{self, Scheme};
use super::{Shared, worker};
use crate::connector::secret::Secret;
use crate::journal::{Record, TriggerRecord};
use crate::ops::{Observer, inputs, journal};
use crate::roster::Roster;

pub(super) async fn hr(
    State(shared): State<Arc<Shared>>,
    Path(source): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let s = shared.clone();
    let answer = tokio::task::spawn_blocking(move || accept(&s, &source, &headers, &body)).await;
    match answer {
        Ok((status, body)) => (status, axum::Json(body)).into_response(),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(json!({"error": "the request could not be handled"})),
        )
            .into_response(),
    }
}

/// The `source` label a request is counted under: a trigger the policy declares, else
/// `unknown` (a path segment anyone can send must not become a label, nor a new series).
fn label(shared: &Shared, source: &str) -> String {
    let declared = shared
        .policy()
        .is_some_and(|l| l.policy.triggers.iter().any(|t| t.name == source));
    if declared {
        source.to_string()
    } else {
        "unknown".to_string()
    }
}

fn reject(
    shared: &Shared,
    source: &str,
    status: StatusCode,
    result: &str,
    why: String,
) -> (StatusCode, serde_json::Value) {
    shared.metrics.webhook(&label(shared, source), result);
    shared.log.warn(&format!(
        "webhook from `{source}` refused ({}): {why}",
        status.as_u16()
    ));
    (status, json!({ "error": why }))
}

/// Everything about one request, decided and journaled; the answer to give.
fn accept(
    shared: &Shared,
    source: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> (StatusCode, serde_json::Value) {
    let received_at = jiff::Timestamp::now();
    let Some(loaded) = shared.policy() else {
        return reject(
            shared,
            source,
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "no policy is loaded".into(),
        );
    };
    let policy = &loaded.policy;
    let Some(trigger) = policy.triggers.iter().find(|t| t.name == source) else {
        return reject(
            shared,
            source,
            StatusCode::NOT_FOUND,
            "unknown",
            format!("the policy declares no trigger `{source}`"),
        );
    };
    let secret = match Secret::resolve(
        &format!("trigger {source}"),
        "webhook signing secret",
        &trigger.secret,
        &shared.ws.root,
    ) {
        Ok(s) => s,
        Err(e) => {
            shared.log.error(&format!(
                "trigger `{source}`: {}{}",
                e.message,
                e.hint.map(|h| format!(" ({h})")).unwrap_or_default()
            ));
            return reject(
                shared,
                source,
                StatusCode::INTERNAL_SERVER_ERROR,
                "misconfigured",
                "the webhook secret is not available to offboard".into(),
            );
        }
    };
    let scheme = Scheme::from(&trigger.scheme);
    let now = shared.opts.clock.now();
    let verified = match signature::verify(&scheme, secret.expose().as_bytes(), headers, body, now)
    {
        Ok(v) => v,
        Err(rejection) => {
            return reject(
                shared,
                source,
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                rejection.to_string(),
            );
        }
    };
    let events = match event::parse(&scheme, body, headers) {
        Ok(events) => events,
        Err(e) => {
            return reject(
                shared,
                source,
                StatusCode::BAD_REQUEST,
                "unreadable",
                e.to_string(),
            );
        }
    };
    // Other HR changes (a new title, time off) are acknowledged and nothing else: refusing
    // them would make the sender retry for days, and they need no person.
    let (events, ignored): (Vec<HrEvent>, Vec<HrEvent>) =
        events.into_iter().partition(|e| e.termination);
    if events.is_empty() {
        shared.metrics.webhook(source, "ignored");
        return (
            StatusCode::OK,
            json!({
                "accepted": [],
                "ignored": ignored.iter().map(|e| e.event_id.as_str()).collect::<Vec<_>>(),
            }),
        );
    }
    // From the replay check to the append, one request at a time.
    let Ok(_accepting) = shared.accepting.lock() else {
        return reject(
            shared,
            source,
            StatusCode::INTERNAL_SERVER_ERROR,
            "error",
            "internal state is poisoned".into(),
        );
    };
    let seen = |e: &HrEvent| {
        shared
            .seen
            .lock()
            .is_ok_and(|s| s.contains(&(source.to_string(), e.event_id.clone())))
    };
    let (replayed, fresh): (Vec<&HrEvent>, Vec<&HrEvent>) = events.iter().partition(|e| seen(e));
    if fresh.is_empty() {
        return reject(
            shared,
            source,
            StatusCode::CONFLICT,
            "replayed",
            format!(
                "event {} was already received",
                replayed
                    .iter()
                    .map(|e| e.event_id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    }
    let ws = shared.ws.fresh();
    let roster = match inputs::load_roster(&ws, policy, &shared.log) {
        Ok(r) => r,
        Err(e) => {
            shared.log.error(&format!("cannot read the roster: {e}"));
            return reject(
                shared,
                source,
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the roster cannot be read; try again".into(),
            );
        }
    };
    let payload_digest = blake3::hash(body).to_hex().to_string();
    let mut records = Vec::new();
    let mut unmatched = Vec::new();
    for e in &fresh {
        let Some(index) = person_of(&roster, e) else {
            unmatched.push(
                e.email
                    .clone()
                    .or_else(|| e.employee_id.clone())
                    .unwrap_or_default(),
            );
            continue;
        };
        let person = &roster.people[index];
        let key = roster.key_of(person);
        let disposition = if auto_apply(policy, &roster, index, e, source, received_at) {
            "auto-apply"
        } else {
            "approval"
        };
        records.push(TriggerRecord {
            source: source.to_string(),
            event_id: e.event_id.clone(),
            received_at,
            sent_at: verified.sent_at,
            payload_digest: payload_digest.clone(),
            person: key,
            name: person.name.clone(),
            termination: e.termination,
            termination_type: e.termination_type,
            last_day: e.last_day,
            disposition: disposition.to_string(),
        });
    }
    // Nobody matched: refused, so the sender retries once the roster has them. Some matched:
    // those are recorded (a batch must not lose its real leavers for one unknown), and the
    // rest are named in the answer and the log.
    if records.is_empty() {
        return reject(
            shared,
            source,
            StatusCode::UNPROCESSABLE_ENTITY,
            "unmatched",
            format!(
                "the roster lists nobody as {}; nothing was recorded",
                unmatched.join(", ")
            ),
        );
    }
    if !unmatched.is_empty() {
        shared.metrics.webhook(source, "unmatched");
        shared.log.warn(&format!(
            "webhook from `{source}`: the roster lists nobody as {}; those events were not recorded (the others were)",
            unmatched.join(", ")
        ));
    }
    // Journaled before the answer and before anything is done about it.
    let appended = journal::open(&ws).and_then(|mut j| {
        j.append_batch(
            &records
                .iter()
                .cloned()
                .map(Record::Trigger)
                .collect::<Vec<_>>(),
        )
        .map_err(journal::evidence)
    });
    if let Err(e) = appended {
        shared.log.error(&format!("cannot journal a webhook: {e}"));
        return reject(
            shared,
            source,
            StatusCode::SERVICE_UNAVAILABLE,
            "error",
            "the event could not be recorded; nothing was done; try again".into(),
        );
    }
    if let Ok(mut s) = shared.seen.lock() {
        for r in &records {
            s.insert((r.source.clone(), r.event_id.clone()));
        }
    }
    shared.metrics.webhook(source, "accepted");
    let answer: Vec<serde_json::Value> = records
        .iter()
        .map(|r| {
            json!({
                "event_id": r.event_id,
                "person": r.person,
                "disposition": r.disposition,
            })
        })
        .collect();
    for r in records {
        shared.log.info(&format!(
            "HR event {} from {source}: {} ({}), {}",
            r.event_id, r.person, r.name, r.disposition
        ));
        if let Ok(tx) = shared.work.lock() {
            let _ = tx.send(worker::Work::Event(Box::new(r)));
        }
    }
    (
        StatusCode::ACCEPTED,
        json!({
            "accepted": answer,
            "replayed": replayed.iter().map(|e| e.event_id.as_str()).collect::<Vec<_>>(),
            "ignored": ignored.iter().map(|e| e.event_id.as_str()).collect::<Vec<_>>(),
            "unmatched": unmatched,
        }),
    )
}

/// The roster index of the person an event names: the one person whose email is exactly
/// the event's (ignoring case), or, when the event gives no email, whose employee id is.
/// An email that matches nobody is not retried as an employee id (a vendor's id numbering
/// may not be the roster's), and when both are given they must name the same person. Names
/// are never matched: a webhook cannot be asked to choose between people.
fn person_of(roster: &Roster, e: &HrEvent) -> Option<usize> {
    let only = |matches: Vec<usize>| (matches.len() == 1).then(|| matches[0]);
    let by_id = |id: &str| {
        only(
            roster
                .people
                .iter()
                .enumerate()
                .filter(|(_, p)| {
                    !p.employee_id.trim().is_empty() && p.employee_id.trim() == id.trim()
                })
                .map(|(i, _)| i)
                .collect(),
        )
    };
    match (e.email.as_deref(), e.employee_id.as_deref()) {
        (Some(email), id) => {
            let found = only(
                roster
                    .people
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| p.email.trim().eq_ignore_ascii_case(email.trim()))
                    .map(|(i, _)| i)
                    .collect(),
            )?;
            // An employee id that names someone else is a contradiction, not a detail.
            let agrees = id.is_none_or(|id| {
                let theirs = roster.people[found].employee_id.trim();
                theirs.is_empty() || by_id(id).is_none_or(|other| other == found)
            });
            agrees.then_some(found)
        }
        (None, Some(id)) => by_id(id),
        (None, None) => None,
    }
}

/// Whether a rule matching the person, with the event's facts laid over the roster, says
/// `auto-apply`. A condition that cannot be evaluated is not a yes.
fn auto_apply(
    policy: &crate::policy::Policy,
    roster: &Roster,
    index: usize,
    e: &HrEvent,
    source: &str,
    received_at: jiff::Timestamp,
) -> bool {
    let mut one = roster.clone();
    let key = one.key_of(&one.people[index]);
    let facts = crate::roster::hr_event::HrFacts {
        source: source.to_string(),
        event_id: e.event_id.clone(),
        person: key.clone(),
        received_at,
        termination_type: e.termination_type,
        last_day: e.last_day,
        confirmed: false,
    };
    crate::roster::hr_event::apply(&mut one, std::slice::from_ref(&facts));
    crate::reconcile::leaver_timing(policy, &one.people[index], &key, received_at)
        .is_ok_and(|(_, rules)| rules.iter().any(|r| r.auto_apply))
}

pub(super) async fn healthz(State(shared): State<Arc<Shared>>) -> Response {
    let problem = shared.policy_problem.read().ok().and_then(|p| p.clone());
    let loaded = shared.policy();
    let body = json!({
        "status": if problem.is_none() && loaded.is_some() { "ok" } else { "degraded" },
        "policy_commit": loaded.and_then(|l| l.commit),
        "problem": problem,
    });
    // Degraded still answers webhooks; a load balancer should keep sending them.
    (StatusCode::OK, axum::Json(body)).into_response()
}

pub(super) async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        shared.metrics.encode(),
    )
        .into_response()
}
