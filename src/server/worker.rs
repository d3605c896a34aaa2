//! The one thread that changes things, in order: HR events, then the scheduler's ticks.
//!
//! Each operation works on a fresh [`crate::ops::Workspace`] (the roster, the journal and
//! the policy move under a long-running process) and is exactly what the CLI would run:
//! `apply -p PERSON` for an event whose rules say `auto-apply` or a schedule entry the clock
//! passed, `plan -p PERSON --out` and an approval message for any other termination, and a
//! whole `apply` on the first tick and every `reconcile-every`. People held for approval
//! (see [`crate::ops::holds`]) are left out of every apply `serve` makes; when their cutoff
//! passes, their plan is saved and the approvers asked, once. Nothing is applied while the
//! policy does not match a clean, committed tree: events that arrive meanwhile wait, and are
//! acted on at the first tick after the tree is clean again. A scheduled apply that fails
//! is tried again at every tick until it succeeds. Failures are logged, counted and sent to
//! the policy's default recipients; they never stop the worker.

use std::collections::{BTreeMap, BTreeSet};
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

/// What the worker remembers between ticks (all of it can be lost: a restart reconciles).
#[derive(Default)]
struct State {
    /// The scheduler's clock at the last tick that looked at the schedule.
    last_now: Option<Timestamp>,
    last_tick: Option<Instant>,
    last_reconcile: Option<Instant>,
    /// Events that arrived while no clean policy was in force.
    deferred: Vec<TriggerRecord>,
    /// People whose scheduled or event-driven apply failed, with the failures so far: each
    /// is tried again, alone, at every tick (until a reconcile succeeds, or 10 failures).
    retry: BTreeMap<String, u32>,
}

/// Failed attempts after which a person waits for the next reconcile.
const MAX_RETRIES: u32 = 10;

pub(super) fn run(shared: &Shared, rx: Receiver<Work>) {
    let mut state = State::default();
    loop {
        let wait = state.last_tick.map_or(std::time::Duration::ZERO, |t| {
            shared.opts.tick.saturating_sub(t.elapsed())
        });
        match rx.recv_timeout(wait) {
            Ok(Work::Stop) | Err(RecvTimeoutError::Disconnected) => return,
            Ok(Work::Event(t)) => {
                if !guarded(shared, "an HR event", || {
                    event(shared, &t, &mut state.retry)
                }) {
                    state.deferred.push(*t);
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
        if state
            .last_tick
            .is_none_or(|t| t.elapsed() >= shared.opts.tick)
        {
            guarded(shared, "a tick", || {
                tick(shared, &mut state);
                true
            });
            state.last_tick = Some(Instant::now());
        }
    }
}

/// Run `work`, turning a panic into a logged failure: one bad input must not end the only
/// thread that cuts anyone. A panic counts as not done.
fn guarded(shared: &Shared, what: &str, work: impl FnOnce() -> bool) -> bool {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)) {
        Ok(done) => done,
        Err(_) => {
            shared.metrics.failures.inc();
            shared
                .log
                .error(&format!("{what} failed unexpectedly; the worker goes on"));
            false
        }
    }
}

/// `at` for an operation: `None` on the system clock (the operation takes the present),
/// the test clock's instant otherwise.
fn at(shared: &Shared, now: Timestamp) -> Option<String> {
    (!shared.opts.clock.is_system()).then(|| now.to_string())
}

/// The people held for approval now (roster keys), as the worker's operations take them.
fn holds(shared: &Shared) -> Result<Vec<TriggerRecord>, OpError> {
    let loaded = shared
        .policy()
        .ok_or_else(|| OpError::new("no policy is loaded"))?;
    ops::holds::held(&shared.ws.fresh(), &loaded.policy, &shared.log)
}

/// One scheduler tick. Without a valid, committed policy it does nothing (and the clock it
/// saw is not recorded, so what passed meanwhile is still ahead of the next tick).
fn tick(shared: &Shared, state: &mut State) {
    if !shared.reload() {
        shared.metrics.policy_ok.set(0);
        return;
    }
    shared.metrics.policy_ok.set(1);
    let now = shared.opts.clock.now();
    for t in std::mem::take(&mut state.deferred) {
        if !event(shared, &t, &mut state.retry) {
            state.deferred.push(t);
        }
    }
    let held = match holds(shared) {
        Ok(h) => h,
        Err(e) => {
            shared.log.error(&format!("cannot read the holds: {e}"));
            shared.metrics.failures.inc();
            return;
        }
    };
    let ws = shared.ws.fresh();
    let schedule = match ops::schedule::schedule(&ws, Some(now), &shared.log) {
        Ok(s) => s,
        Err(e) => {
            shared
                .log
                .error(&format!("cannot compute the schedule: {e}"));
            shared.metrics.failures.inc();
            return;
        }
    };
    shared.metrics.leavers_scheduled.set(
        schedule
            .upcoming()
            .filter(|e| e.what == ops::schedule::What::Cut)
            .count() as i64,
    );
    let is_held = |person: &str| held.iter().any(|t| t.person.eq_ignore_ascii_case(person));
    let reconcile = state
        .last_reconcile
        .is_none_or(|t| t.elapsed() >= shared.opts.reconcile_every);
    if reconcile {
        // After a start, and every reconcile-every: everything due, from the roster and the
        // journal, whatever happened while nobody was serving. A reconcile that fails (a
        // guard refused it, a system was down) leaves the retries in place.
        let why = if state.last_now.is_none() {
            "serve: start-up reconcile"
        } else {
            "serve: periodic reconcile"
        };
        if apply(shared, Vec::new(), now, why.into()).is_ok() {
            state.retry.clear();
        }
        state.last_reconcile = Some(Instant::now());
    }
    // What the clock passed since the last tick, and what failed before: one person at a
    // time, so one that cannot be planned does not hold up the others.
    let mut people: BTreeSet<String> = match state.last_now {
        Some(last) if !reconcile => schedule
            .passed(last, now)
            .filter(|e| {
                matches!(
                    e.what,
                    ops::schedule::What::Cut | ops::schedule::What::Delete
                )
            })
            .map(|e| e.person.clone())
            .filter(|p| !is_held(p))
            .collect(),
        _ => BTreeSet::new(),
    };
    people.extend(state.retry.keys().cloned());
    for person in people {
        shared.log.info(&format!(
            "{person}: due now (cutoff or deletion passed, or a retry)"
        ));
        let ok = match apply(shared, vec![person.clone()], now, "serve: schedule".into()) {
            Ok(None) => true,
            Ok(Some(a)) => a.audit.iter().all(|l| l.verdict != Verdict::Red),
            Err(()) => false,
        };
        retry_or_forget(shared, &mut state.retry, person, ok);
    }
    // Held people whose cutoff has come: their approvers are asked (once per event).
    for t in &held {
        let due = schedule
            .entries
            .iter()
            .any(|e| e.person.eq_ignore_ascii_case(&t.person) && e.at <= now);
        if due && let Err(e) = approval(shared, t, now) {
            shared.log.error(&format!(
                "cannot plan HR event {} for {}: {e}",
                t.event_id, t.person
            ));
            shared.metrics.failures.inc();
        }
    }
    housekeeping(shared, now);
    state.last_now = Some(now);
}

/// Remember `person` for another try at the next tick unless `ok`; after `MAX_RETRIES`
/// failures they wait for the next reconcile (said in the log).
fn retry_or_forget(shared: &Shared, retry: &mut BTreeMap<String, u32>, person: String, ok: bool) {
    if ok {
        retry.remove(&person);
        return;
    }
    let failures = retry.entry(person.clone()).or_insert(0);
    *failures += 1;
    if *failures >= MAX_RETRIES {
        shared.log.error(&format!(
            "{person}: {MAX_RETRIES} attempts failed; the next reconcile tries again (`offboard plan -p {person}` shows why)"
        ));
        retry.remove(&person);
    }
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
    if shared.opts.notify {
        match ops::notify::dispatch(ws, &loaded.policy, now) {
            Ok(done) => {
                for f in &done.failed {
                    shared.log.warn(&format!(
                        "notification {} to {} not delivered: {}{}",
                        f.message_id,
                        f.recipient,
                        f.error,
                        if f.given_up { " (given up)" } else { "" }
                    ));
                }
            }
            Err(e) => shared.log.error(&format!("cannot send notifications: {e}")),
        }
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

/// What an accepted HR event asks for; false when it must wait for a clean policy. A cut
/// that fails is retried at every tick.
fn event(shared: &Shared, t: &TriggerRecord, retry: &mut BTreeMap<String, u32>) -> bool {
    if !shared.reload() {
        shared.log.warn(&format!(
            "HR event {} for {} is journaled; it is acted on once the policy tree is clean",
            t.event_id, t.person
        ));
        return false;
    }
    let now = shared.opts.clock.now();
    let trigger = format!("webhook {} {}", t.source, t.event_id);
    if t.disposition == "auto-apply" {
        let (ok, cut) = match apply(shared, vec![t.person.clone()], now, trigger) {
            Ok(Some(applied)) => {
                let clean = applied.audit.iter().any(|l| {
                    l.person.eq_ignore_ascii_case(&t.person)
                        && l.active_accounts.is_empty()
                        && l.verdict != Verdict::Red
                });
                (clean, clean)
            }
            // Nothing to change: cut before (by another run), not by this event.
            Ok(None) => (true, false),
            Err(()) => (false, false),
        };
        if cut {
            let took = Timestamp::now().duration_since(t.received_at);
            shared
                .metrics
                .trigger_to_zero
                .observe(took.as_secs_f64().max(0.0));
        }
        retry_or_forget(shared, retry, t.person.clone(), ok);
    } else if let Err(e) = approval(shared, t, now) {
        shared.log.error(&format!(
            "cannot plan HR event {} for {}: {e}",
            t.event_id, t.person
        ));
        shared.metrics.failures.inc();
    }
    let ws = shared.ws.fresh();
    send(shared, &ws, now);
    true
}

/// Where the plan for an event is saved, relative to the repository: named after the event
/// (whose id names its source when offboard derived it), kept short for any filesystem.
fn plan_file(t: &TriggerRecord) -> String {
    let name = if t.event_id.starts_with(&format!("{}-", t.source)) {
        t.event_id.clone()
    } else {
        format!("{}-{}", t.source, t.event_id)
    };
    let mut safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    // Two ids that read alike once cleaned (`a:b`, `a_b`) must not share a file; nor may a
    // long id exceed what a filesystem takes.
    if safe != name || safe.len() > 100 {
        let digest = blake3::hash(name.as_bytes()).to_hex();
        safe.truncate(64);
        safe = format!("{safe}-{}", &digest[..12]);
    }
    format!(".offboard/plans/{safe}.json")
}

/// Plan the person, save the plan for review, and tell the approvers; once per event (a
/// plan with nothing to change yet is made again when their cutoff comes).
fn approval(shared: &Shared, t: &TriggerRecord, now: Timestamp) -> Result<(), OpError> {
    let ws = shared.ws.fresh();
    let message_id = format!("approval:{}:{}", t.source, t.event_id);
    let asked = ops::journal::read(&ws)?
        .messages()
        .map_err(ops::journal::evidence)?
        .iter()
        .any(|(m, _)| m.message_id == message_id);
    let relative = plan_file(t);
    let path = ws.root.join(&relative);
    let enabled = shared
        .policy()
        .is_some_and(|l| l.policy.notifications.enabled());
    // Asked once: the journaled message says so; without a channel, the saved plan does.
    if asked || (!enabled && path.exists()) {
        return Ok(());
    }
    let request = ops::plan::PlanRequest {
        persons: vec![t.person.clone()],
        at: at(shared, now),
        ..Default::default()
    };
    let plan = ops::plan::plan(&ws, &request, &shared.log)?;
    if !plan.has_changes() {
        shared.log.info(&format!(
            "HR event {}: nothing to change for {} yet; their approvers are asked when their cutoff comes (`offboard schedule`)",
            t.event_id, t.person
        ));
        return Ok(());
    }
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
    // Without a channel, the saved plan and the log are all there is.
    if loaded.policy.notifications.enabled() {
        let mut journal = ops::journal::open(&ws)?;
        ops::notify::queue(&mut journal, message.into_iter().collect())
            .map_err(ops::journal::evidence)?;
    }
    shared.log.info(&format!(
        "HR event {}: plan for {} saved as {relative}, waiting for approval",
        t.event_id, t.person
    ));
    Ok(())
}

/// Apply for `people` (everyone due when empty), those held for approval left out, as
/// `apply` would, with its guards: the run, `None` when there was nothing to change, `Err`
/// when it could not be made (logged and counted).
fn apply(
    shared: &Shared,
    people: Vec<String>,
    now: Timestamp,
    trigger: String,
) -> Result<Option<ops::apply::Applied>, ()> {
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
        hold_for_approval: true,
    };
    let whole = request.persons.is_empty();
    let result = (|| {
        let prepared = ops::apply::prepare(&ws, &request, &shared.log)?;
        for w in &prepared.plan.warnings {
            shared.log.warn(w);
        }
        if !prepared.plan.has_changes() {
            if whole {
                shared.metrics.leavers_due.set(0);
            }
            return Ok(None);
        }
        let dirty = ops::apply::guard(&ws, &request, &prepared)?;
        let log = shared.log;
        let progress = move |r: &crate::apply::ChangeReport| log.info(&r.progress_line());
        ops::apply::execute(&ws, &request, &prepared, dirty, &progress).map(Some)
    })();
    match result {
        Ok(None) => Ok(None),
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
            if whole {
                // Leavers past their cutoff that still hold access after this run.
                shared.metrics.leavers_due.set(
                    applied
                        .audit
                        .iter()
                        .filter(|l| l.verdict == Verdict::Red)
                        .count() as i64,
                );
            }
            shared.log.info(&format!(
                "{trigger}: run {} {:?}, {} disabled, {} deleted, {} failed",
                applied.run_id,
                applied.outcome,
                applied.counts.disabled,
                applied.counts.deleted,
                applied.counts.failed
            ));
            Ok(Some(applied))
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
            Err(())
        }
    }
}
