//! The one thread that changes things, in order: HR events, then the scheduler's ticks.
//!
//! Each operation works on a fresh [`crate::ops::Workspace`] (the roster, the journal and
//! the policy move under a long-running process) and is exactly what the CLI would run:
//! `apply -p PERSON` for an event whose rules say `auto-apply` or a schedule entry the clock
//! passed, `plan -p PERSON --out` and an approval message for any other termination, and a
//! whole `apply` on the first tick and every `reconcile-every`. Nothing is applied while the
//! policy does not match a clean, committed tree. Failures are logged, counted and sent to
//! the policy's default recipients; they never stop the worker.

use std::collections::BTreeMap;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Instant;

use jiff::Timestamp;

use super::Shared;
use crate::journal::{ActionOutcome, TriggerRecord, Verdict};
use crate::ops::{self, Observer, OpError, Workspace, apply::ApplyRequest};

/// What the worker is asked to do.
pub(crate) enum Work {
    /// An accepted HR termination (already journaled).
    Event(Box<TriggerRecord>),
    /// Finish what is in flight and stop.
    Stop,
}

pub(super) fn run(shared: &Shared, rx: Receiver<Work>) {
    let mut last_now: Option<Timestamp> = None;
    let mut last_tick: Option<Instant> = None;
    let mut last_reconcile: Option<Instant> = None;
    loop {
        let wait = last_tick.map_or(std::time::Duration::ZERO, |t| {
            shared.opts.tick.saturating_sub(t.elapsed())
        });
        match rx.recv_timeout(wait) {
            Ok(Work::Stop) | Err(RecvTimeoutError::Disconnected) => return,
            Ok(Work::Event(t)) => event(shared, &t),
            Err(RecvTimeoutError::Timeout) => {}
        }
        if last_tick.is_none_or(|t| t.elapsed() >= shared.opts.tick) {
            let reconcile =
                last_reconcile.is_none_or(|t| t.elapsed() >= shared.opts.reconcile_every);
            let now = shared.opts.clock.now();
            if tick(shared, last_now, now, reconcile) {
                last_now = Some(now);
                if reconcile {
                    last_reconcile = Some(Instant::now());
                }
            }
            last_tick = Some(Instant::now());
        }
    }
}

/// `at` for an operation: `None` on the system clock (the operation takes the present),
/// the test clock's instant otherwise.
fn at(shared: &Shared, now: Timestamp) -> Option<String> {
    (!shared.opts.clock.is_system()).then(|| now.to_string())
}

/// One scheduler tick; false when nothing could be looked at (no valid, committed policy).
fn tick(shared: &Shared, last: Option<Timestamp>, now: Timestamp, reconcile: bool) -> bool {
    if !shared.reload() {
        return false;
    }
    let ws = shared.ws.fresh();
    let schedule = match ops::schedule::schedule(&ws, Some(now), &shared.log) {
        Ok(s) => s,
        Err(e) => {
            shared
                .log
                .error(&format!("cannot compute the schedule: {e}"));
            shared.metrics.failures.inc();
            return false;
        }
    };
    let cuts = |e: &&ops::schedule::Entry| {
        matches!(
            e.what,
            ops::schedule::What::Cut | ops::schedule::What::Delete
        )
    };
    shared.metrics.leavers_scheduled.set(
        schedule
            .upcoming()
            .filter(|e| e.what == ops::schedule::What::Cut)
            .count() as i64,
    );
    match last {
        // First tick after a start, and every reconcile-every: everything due, from the
        // roster and the journal, whatever happened while nobody was serving.
        None => {
            apply(shared, Vec::new(), now, "serve: start-up reconcile".into());
        }
        Some(_) if reconcile => {
            apply(shared, Vec::new(), now, "serve: periodic reconcile".into());
        }
        Some(last) => {
            let mut people: Vec<String> = schedule
                .passed(last, now)
                .filter(cuts)
                .map(|e| e.person.clone())
                .collect();
            people.sort();
            people.dedup();
            if !people.is_empty() {
                shared.log.info(&format!(
                    "the clock passed the cutoff or deletion of {}",
                    people.join(", ")
                ));
                apply(shared, people, now, "serve: schedule".into());
            }
        }
    }
    housekeeping(shared, now);
    true
}

/// Escalations, notifications, and the task and delivery gauges.
fn housekeeping(shared: &Shared, now: Timestamp) {
    let Some(loaded) = shared.policy() else {
        return;
    };
    let ws = shared.ws.fresh();
    match ops::inputs::load_roster(&ws, &loaded.policy, &shared.log) {
        Ok(roster) => {
            if let Err(e) = ops::notify::escalations(&ws, &loaded.policy, &roster, now) {
                shared.log.error(&format!("cannot queue escalations: {e}"));
            }
        }
        Err(e) => shared.log.error(&format!("cannot read the roster: {e}")),
    }
    send(shared, &ws, now);
    if let Ok(tasks) = ops::tasks::list(&ws, false, now) {
        shared.metrics.tasks_open.set(tasks.len() as i64);
        shared.metrics.tasks_overdue.set(
            tasks
                .iter()
                .filter(|(_, s)| *s != ops::tasks::Status::Open)
                .count() as i64,
        );
    }
}

fn send(shared: &Shared, ws: &Workspace, now: Timestamp) {
    let Some(loaded) = shared.policy() else {
        return;
    };
    if !shared.opts.notify {
        return;
    }
    match ops::notify::dispatch(ws, &loaded.policy, now) {
        Ok(done) => {
            for (id, to, error) in &done.failed {
                shared
                    .log
                    .warn(&format!("notification {id} to {to} not delivered: {error}"));
            }
        }
        Err(e) => shared.log.error(&format!("cannot send notifications: {e}")),
    }
    if let Ok(messages) =
        ops::journal::read(ws).and_then(|j| j.messages().map_err(ops::journal::evidence))
    {
        shared
            .metrics
            .undelivered
            .set(crate::notify::undelivered(&messages) as i64);
    }
}

/// What an accepted HR event asks for.
fn event(shared: &Shared, t: &TriggerRecord) {
    if !shared.reload() {
        shared.log.warn(&format!(
            "HR event {} for {} is journaled; it is acted on once the policy tree is clean",
            t.event_id, t.person
        ));
        return;
    }
    let now = shared.opts.clock.now();
    let trigger = format!("webhook {} {}", t.source, t.event_id);
    if t.disposition == "auto-apply" {
        if let Some(applied) = apply(shared, vec![t.person.clone()], now, trigger) {
            let clean = applied.audit.iter().any(|l| {
                l.person.eq_ignore_ascii_case(&t.person)
                    && l.active_accounts.is_empty()
                    && l.verdict != Verdict::Red
            });
            if clean {
                let took = Timestamp::now().duration_since(t.received_at);
                shared
                    .metrics
                    .trigger_to_zero
                    .observe(took.as_secs_f64().max(0.0));
            }
        }
    } else if let Err(e) = approval(shared, t, now) {
        shared.log.error(&format!(
            "cannot plan HR event {} for {}: {e}",
            t.event_id, t.person
        ));
        shared.metrics.failures.inc();
    }
    let ws = shared.ws.fresh();
    send(shared, &ws, now);
}

/// Plan the person, save the plan for review, and tell the approvers.
fn approval(shared: &Shared, t: &TriggerRecord, now: Timestamp) -> Result<(), OpError> {
    let ws = shared.ws.fresh();
    let request = ops::plan::PlanRequest {
        persons: vec![t.person.clone()],
        at: at(shared, now),
        ..Default::default()
    };
    let plan = ops::plan::plan(&ws, &request, &shared.log)?;
    if !plan.has_changes() {
        shared.log.info(&format!(
            "HR event {}: nothing to change for {} now (their cutoff may be ahead: `offboard schedule`)",
            t.event_id, t.person
        ));
        return Ok(());
    }
    // Named after the event (which names its source when the id was derived by offboard).
    let name = if t.event_id.starts_with(&format!("{}-", t.source)) {
        t.event_id.clone()
    } else {
        format!("{}-{}", t.source, t.event_id)
    };
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let relative = format!(".offboard/plans/{safe}.json");
    let path = ws.root.join(&relative);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| OpError::new(format!("cannot create {}: {e}", dir.display())))?;
    }
    crate::plan::write_file(&path, &plan).map_err(|e| OpError::new(e.to_string()))?;
    let loaded = shared
        .policy()
        .ok_or_else(|| OpError::new("no policy is loaded"))?;
    let why = format!(
        "HR reports {} ({}) as leaving (event {} from {})",
        t.person, t.name, t.event_id, t.source
    );
    let message = crate::notify::compose::approval(
        &loaded.policy,
        &plan,
        &format!("{}:{}", t.source, t.event_id),
        &why,
        &relative,
        Timestamp::now(),
    );
    let mut journal = ops::journal::open(&ws)?;
    ops::notify::queue(&mut journal, message.into_iter().collect())
        .map_err(ops::journal::evidence)?;
    shared.log.info(&format!(
        "HR event {}: plan for {} saved as {relative}, waiting for approval",
        t.event_id, t.person
    ));
    Ok(())
}

/// Apply for `people` (everyone when empty), as `apply` would, with its guards.
fn apply(
    shared: &Shared,
    people: Vec<String>,
    now: Timestamp,
    trigger: String,
) -> Option<ops::apply::Applied> {
    let ws = shared.ws.fresh();
    let request = ApplyRequest {
        plan_file: None,
        at: at(shared, now),
        persons: people,
        department: None,
        allow_dirty: false,
        allow_mass_disable: false,
        concurrency: None,
        retry: shared.opts.retry,
        lock_timeout: shared.opts.lock_timeout,
        actor: shared.opts.actor.clone(),
        host: shared.opts.host.clone(),
        trigger: trigger.clone(),
        emergency: None,
    };
    let result = (|| {
        let prepared = ops::apply::prepare(&ws, &request, &shared.log)?;
        if request.persons.is_empty() {
            // Leavers past their cutoff with something still to change.
            let mut due: Vec<&str> = prepared
                .plan
                .changes
                .iter()
                .map(|c| c.person.as_str())
                .collect();
            due.sort_unstable();
            due.dedup();
            shared.metrics.leavers_due.set(due.len() as i64);
        }
        if !prepared.plan.has_changes() {
            return Ok(None);
        }
        let dirty = ops::apply::guard(&ws, &request, &prepared)?;
        let log = shared.log;
        let progress = move |r: &crate::apply::ChangeReport| {
            let c = &r.change;
            let actions: Vec<&str> = c.actions.iter().map(|a| a.as_str()).collect();
            log.info(&format!(
                "{}: {} ({}) {}: {:?}{}",
                c.system,
                c.account.as_ref().map_or("", |a| a.label.as_str()),
                c.person,
                actions.join(", "),
                r.outcome,
                r.error
                    .as_ref()
                    .map(|e| format!(" ({})", e.message))
                    .unwrap_or_default()
            ));
        };
        ops::apply::execute(&ws, &request, &prepared, dirty, &progress).map(Some)
    })();
    match result {
        Ok(None) => None,
        Ok(Some(applied)) => {
            shared.metrics.applies.inc();
            let mut ok: BTreeMap<&str, bool> = BTreeMap::new();
            for r in &applied.reports {
                let fine = r.outcome != ActionOutcome::Failed;
                let entry = ok.entry(r.change.system.as_str()).or_insert(true);
                *entry &= fine;
                if !fine {
                    shared.metrics.failures.inc();
                }
            }
            for (system, fine) in ok {
                shared
                    .metrics
                    .last_apply_ok
                    .get_or_create(&super::metrics::SystemLabel {
                        system: system.to_string(),
                    })
                    .set(i64::from(fine));
            }
            shared.log.info(&format!(
                "{trigger}: run {} {:?}, {} disabled, {} deleted, {} failed",
                applied.run_id,
                applied.outcome,
                applied.counts.disabled,
                applied.counts.deleted,
                applied.counts.failed
            ));
            Some(applied)
        }
        Err(e) => {
            shared.metrics.failures.inc();
            shared.log.error(&format!(
                "{trigger}: nothing was applied: {e}{}",
                e.hint
                    .as_deref()
                    .map(|h| format!(" (hint: {h})"))
                    .unwrap_or_default()
            ));
            None
        }
    }
}
