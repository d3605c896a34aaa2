//! The messages offboard sends, as pure functions of what happened.
//!
//! Each message's id is derived from the fact it reports (`report:RUN`, `failure:RUN`,
//! `task:TASK`, `escalation:TASK`, `approval:SOURCE:EVENT`), which is what makes queueing
//! idempotent: the journal refuses nothing, but the outbox never queues an id twice. Bodies
//! are plain text for people, written like the CLI's output: the verification report is the
//! green/yellow/red verdict per leaver, what was revoked, what is pending and what failed,
//! with what to do about it. Nothing here reads a secret; every body also passes through the
//! redactor when journaled.

use std::collections::BTreeMap;
use std::fmt::Write;

use jiff::Timestamp;

use crate::apply::ChangeReport;
use crate::journal::{ActionOutcome, LeaverAudit, MessageRecord, TaskOpen, Verdict};
use crate::plan::Plan;
use crate::policy::Policy;

/// Recipients in order of first mention, each once (addresses compared without case).
fn recipients<'a>(lists: impl IntoIterator<Item = &'a String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in lists {
        let r = r.trim();
        if !r.is_empty() && !out.iter().any(|o| o.eq_ignore_ascii_case(r)) {
            out.push(r.to_string());
        }
    }
    out
}

fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Green => "GREEN",
        Verdict::Yellow => "YELLOW",
        Verdict::Red => "RED",
    }
}

/// What an apply run produced, as the report needs it.
pub struct RunFacts<'a> {
    pub run_id: &'a str,
    pub plan: &'a Plan,
    pub reports: &'a [ChangeReport],
    pub audit: &'a [LeaverAudit],
    /// Tasks the run opened.
    pub tasks: &'a [TaskOpen],
    /// Systems the re-audit could not read.
    pub unreadable: Vec<String>,
    pub now: Timestamp,
}

/// The verification report of an apply run, for the policy's default recipients and every
/// rule's `notify` of the run's leavers. `None` when the run had no leaver or nobody to tell.
pub fn report(policy: &Policy, run: &RunFacts<'_>) -> Option<MessageRecord> {
    if run.audit.is_empty() {
        return None;
    }
    let to = recipients(
        policy.notifications.default.iter().chain(
            run.plan
                .leavers
                .iter()
                .filter(|l| run.audit.iter().any(|a| a.person == l.person))
                .flat_map(|l| l.notify.iter()),
        ),
    );
    if to.is_empty() {
        return None;
    }
    let worst = run
        .audit
        .iter()
        .map(|a| a.verdict)
        .max()
        .unwrap_or(Verdict::Green);
    let subject = format!(
        "[offboard] {}: {} {} offboarded by run {}",
        verdict_word(worst),
        run.audit.len(),
        if run.audit.len() == 1 {
            "leaver"
        } else {
            "leavers"
        },
        run.run_id
    );
    let mut body = String::new();
    let _ = writeln!(
        body,
        "Verification report for apply run {} ({}).\n\nGREEN: no active credential. YELLOW: no active credential, manual tasks pending. RED: access remains or a change failed.",
        run.run_id,
        crate::when::human(run.now)
    );
    for audit in run.audit {
        let name = run
            .plan
            .leavers
            .iter()
            .find(|l| l.person == audit.person)
            .map(|l| l.name.as_str())
            .unwrap_or("");
        let _ = writeln!(
            body,
            "\n{} {} ({})",
            verdict_word(audit.verdict),
            audit.person,
            name
        );
        let mine: Vec<&ChangeReport> = run
            .reports
            .iter()
            .filter(|r| r.change.person == audit.person)
            .collect();
        for r in &mine {
            let account = r.change.account.as_ref().map_or("", |a| a.label.as_str());
            let actions: Vec<&str> = r.change.actions.iter().map(|a| a.as_str()).collect();
            let line = match r.outcome {
                ActionOutcome::Done => format!(
                    "  revoked   {} {account}: {} (confirmed by read-back)",
                    r.change.system,
                    actions.join(", ")
                ),
                ActionOutcome::AlreadyDone => format!(
                    "  revoked   {} {account}: already done before this run",
                    r.change.system
                ),
                ActionOutcome::SkippedStale => format!(
                    "  pending   {} {account}: skipped, the account changed since the plan; plan again",
                    r.change.system
                ),
                ActionOutcome::Failed => {
                    let e = r.error.as_ref();
                    format!(
                        "  FAILED    {} {account}: {} ({}){}",
                        r.change.system,
                        actions.join(", "),
                        e.map_or("unknown error", |e| e.message.as_str()),
                        e.and_then(|e| e.hint.as_deref())
                            .map(|h| format!("\n            what to do: {h}"))
                            .unwrap_or_else(|| "\n            what to do: fix the cause and run `offboard apply` again (it retries only what is left)".to_string())
                    )
                }
            };
            let _ = writeln!(body, "{line}");
        }
        for t in run.tasks.iter().filter(|t| t.person == audit.person) {
            let _ = writeln!(
                body,
                "  pending   {}: task {} for {} due {}",
                t.system,
                t.task_id,
                t.owner,
                crate::when::human(t.due)
            );
        }
        for a in &audit.active_accounts {
            let _ = writeln!(
                body,
                "  ACTIVE    {a}: still active at the re-audit; run `offboard audit` and cut it"
            );
        }
        for a in &audit.following {
            let _ = writeln!(
                body,
                "  follows   {a}: mastered by a directory that is cut; goes with the next sync"
            );
        }
    }
    if !run.unreadable.is_empty() {
        let _ = writeln!(
            body,
            "\nThe re-audit could not read {}: their state is unproven; run `offboard audit` once they answer.",
            run.unreadable.join(", ")
        );
    }
    let _ = writeln!(
        body,
        "\nEvidence: `offboard journal show {}`; a certificate per leaver: `offboard report PERSON`.",
        run.run_id
    );
    Some(MessageRecord {
        message_id: format!("report:{}", run.run_id),
        kind: "report".into(),
        recipients: to,
        subject,
        body,
        created_at: run.now,
        about: Some(run.run_id.to_string()),
    })
}

/// Changes retries could not fix, for the default recipients and each system's owner.
pub fn failure(policy: &Policy, run: &RunFacts<'_>) -> Option<MessageRecord> {
    let failed: Vec<&ChangeReport> = run
        .reports
        .iter()
        .filter(|r| r.outcome == ActionOutcome::Failed)
        .collect();
    if failed.is_empty() {
        return None;
    }
    let owners: Vec<String> = failed
        .iter()
        .filter_map(|r| {
            policy
                .system(&r.change.system)
                .and_then(|s| s.owner.clone())
        })
        .collect();
    let to = recipients(policy.notifications.default.iter().chain(owners.iter()));
    if to.is_empty() {
        return None;
    }
    let mut by_system: BTreeMap<&str, Vec<&ChangeReport>> = BTreeMap::new();
    for r in &failed {
        by_system.entry(&r.change.system).or_default().push(r);
    }
    let mut body = format!(
        "Apply run {} could not make {} {} after retrying; the leavers keep that access until it is fixed.\n",
        run.run_id,
        failed.len(),
        if failed.len() == 1 {
            "change"
        } else {
            "changes"
        }
    );
    for (system, reports) in by_system {
        let _ = writeln!(body, "\n{system}:");
        for r in reports {
            let e = r.error.as_ref();
            let _ = writeln!(
                body,
                "  {} {}: {} after {} {}",
                r.change.person,
                r.change.account.as_ref().map_or("", |a| a.label.as_str()),
                e.map_or("unknown error", |e| e.message.as_str()),
                r.attempts,
                if r.attempts == 1 { "call" } else { "calls" }
            );
            if let Some(hint) = e.and_then(|e| e.hint.as_deref()) {
                let _ = writeln!(body, "    what to do: {hint}");
            }
        }
    }
    let _ = writeln!(
        body,
        "\nThen run `offboard apply` again: it does only what is left."
    );
    Some(MessageRecord {
        message_id: format!("failure:{}", run.run_id),
        kind: "failure".into(),
        recipients: to,
        subject: format!(
            "[offboard] FAILED: {} {} in run {}",
            failed.len(),
            if failed.len() == 1 {
                "change"
            } else {
                "changes"
            },
            run.run_id
        ),
        body,
        created_at: run.now,
        about: Some(run.run_id.to_string()),
    })
}

/// A manual task, for its owner: what to do, for whom, by when.
pub fn task(task: &TaskOpen, name: &str, now: Timestamp) -> MessageRecord {
    let mut body = format!(
        "You own an offboarding task for {} ({name}) on {}: {}.\nDue {}.\n",
        task.person,
        task.system,
        task.actions
            .iter()
            .map(|a| a.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        crate::when::human(task.due)
    );
    if !task.steps.is_empty() {
        let _ = writeln!(body, "\nSteps:");
        for (i, s) in task.steps.iter().enumerate() {
            let _ = writeln!(body, "  {}. {s}", i + 1);
        }
    }
    let _ = writeln!(
        body,
        "\nWhen done: `offboard tasks done {} --note \"what was done\"`.",
        task.task_id
    );
    MessageRecord {
        message_id: format!("task:{}", task.task_id),
        kind: "task".into(),
        recipients: vec![task.owner.clone()],
        subject: format!(
            "[offboard] Task {}: {} for {} due {}",
            task.task_id,
            task.system,
            task.person,
            crate::when::human(task.due)
        ),
        body,
        created_at: now,
        about: Some(task.task_id.clone()),
    }
}

/// An overdue task, escalated to `to` (its `escalate-to` and the leaver's manager's
/// manager). `None` with nobody to tell.
pub fn escalation(
    task: &TaskOpen,
    name: &str,
    to: &[String],
    now: Timestamp,
) -> Option<MessageRecord> {
    let to = recipients(to.iter());
    if to.is_empty() {
        return None;
    }
    Some(MessageRecord {
        message_id: format!("escalation:{}", task.task_id),
        kind: "escalation".into(),
        recipients: to,
        subject: format!(
            "[offboard] ESCALATED: task {} ({} for {}) is overdue",
            task.task_id, task.system, task.person
        ),
        body: format!(
            "The offboarding task {} for {} ({name}) on {} was due {} and is still open; its owner is {}.\nUntil it is done the leaver may keep {}.\n\nPlease follow up with the owner; it is closed with `offboard tasks done {} --note ...`.",
            task.task_id,
            task.person,
            task.system,
            crate::when::human(task.due),
            task.owner,
            task.actions
                .iter()
                .map(|a| a.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            task.task_id
        ),
        created_at: now,
        about: Some(task.task_id.clone()),
    })
}

/// A plan waiting for approval (an HR event whose rules do not say `auto-apply`).
pub fn approval(
    policy: &Policy,
    plan: &Plan,
    id: &str,
    why: &str,
    plan_file: &str,
    now: Timestamp,
) -> Option<MessageRecord> {
    let to = recipients(
        policy
            .notifications
            .default
            .iter()
            .chain(plan.leavers.iter().flat_map(|l| l.notify.iter())),
    );
    if to.is_empty() {
        return None;
    }
    let summary =
        crate::plan::render::summary(plan, crate::plan::render::TextOptions { color: false });
    let text = crate::plan::render::text(plan, crate::plan::render::TextOptions { color: false });
    Some(MessageRecord {
        message_id: format!("approval:{id}"),
        kind: "approval".into(),
        recipients: to,
        subject: format!("[offboard] Plan waiting for approval: {why}"),
        body: format!(
            "{why}\n\nThe plan is saved as {plan_file}. Review it, then apply it with\n  offboard apply {plan_file}\nUntil then `offboard serve` leaves this person out. If apply calls the plan stale (the roster or the policy changed since), make a new one with `offboard plan -p PERSON --out FILE`.\n\n{summary}\n{text}"
        ),
        created_at: now,
        about: Some(id.to_string()),
    })
}
