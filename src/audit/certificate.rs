//! The offboarding certificate: what the journal proves about one leaver.
//!
//! Built only from journal records (never from live state), so it is evidence of what was
//! done and confirmed, when, by whom and under which policy. It states plainly whether zero
//! active credentials were confirmed by a re-audit and when, and whether the journal's hash
//! chain, which covers every record it cites, is intact.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use serde::Serialize;

use super::render::xml;
use crate::journal::{
    ActionOutcome, Journal, JournalError, Record, RunFinish, RunStart, StoredRecord, TaskDone,
    Verdict,
};
use crate::plan::AccountState;
use crate::policy::Action;

#[derive(Debug, Clone, Serialize)]
pub struct Certificate {
    pub person: String,
    /// Who the person is, as the newest run that offboarded them recorded it.
    pub leaver: Option<crate::journal::LeaverRecord>,
    pub complete: bool,
    /// The re-audit that confirmed zero active credentials: (run id, time).
    pub confirmed: Option<(String, String)>,
    pub summary: String,
    pub runs: Vec<RunRef>,
    pub actions: Vec<ActionLine>,
    pub tasks: Vec<TaskLine>,
    pub cited_records: Vec<i64>,
    pub chain_intact: bool,
    pub chain_problems: Vec<String>,
    pub head: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunRef {
    pub run_id: String,
    pub initiator: String,
    pub host: String,
    pub policy_hash: String,
    pub git_commit: Option<String>,
    pub plan_hash: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub verdict: Option<Verdict>,
    /// Set for rollback runs: the run whose changes this one undid.
    pub rollback_of: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ActionLine {
    pub run_id: String,
    pub system: String,
    pub account: String,
    pub actions: Vec<Action>,
    pub intent_at: String,
    pub result_at: Option<String>,
    pub outcome: Option<ActionOutcome>,
    /// Calls repeated after temporary errors (not the calls themselves).
    pub retries: u32,
    pub error: Option<String>,
    pub read_back: Option<AccountState>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TaskLine {
    pub task_id: String,
    pub system: String,
    pub owner: String,
    pub due: String,
    pub opened_at: String,
    pub done: Option<TaskDone>,
}

/// The person a record is about, lower-cased (runs and task closures name nobody).
fn person_of(record: &Record) -> Option<String> {
    let person = match record {
        Record::Intent(i) => &i.person,
        Record::Result(r) => &r.person,
        Record::TaskOpen(t) => &t.person,
        _ => return None,
    };
    Some(person.to_lowercase())
}

/// The certificate for `person` (a roster key, compared case-insensitively).
pub fn certificate(journal: &Journal, person: &str) -> Result<Option<Certificate>, JournalError> {
    let records = journal.records()?;
    let verification = crate::journal::verify_records(&records);
    let wanted = person.to_lowercase();
    let mut cited = BTreeSet::new();
    let mut actions: Vec<ActionLine> = Vec::new();
    let mut tasks: Vec<TaskLine> = Vec::new();
    let mut run_ids: BTreeSet<String> = BTreeSet::new();
    let mut task_ids: BTreeSet<String> = BTreeSet::new();

    let typed: Vec<Record> = records
        .iter()
        .map(StoredRecord::record)
        .collect::<Result<_, _>>()?;
    for (r, record) in records.iter().zip(&typed) {
        let mine = person_of(record).is_some_and(|p| p == wanted);
        match record.clone() {
            Record::Intent(i) if mine => {
                cited.insert(r.seq);
                run_ids.insert(i.run_id.clone());
                actions.push(ActionLine {
                    run_id: i.run_id,
                    system: i.system,
                    account: i.account_id,
                    actions: i.actions,
                    intent_at: r.at.clone(),
                    result_at: None,
                    outcome: None,
                    retries: 0,
                    error: None,
                    read_back: None,
                });
            }
            Record::Result(res) if mine => {
                cited.insert(r.seq);
                if let Some(line) = actions.iter_mut().rev().find(|a| {
                    a.run_id == res.run_id
                        && a.system == res.system
                        && a.account == res.account_id
                        && a.outcome.is_none()
                }) {
                    line.result_at = Some(r.at.clone());
                    line.outcome = Some(res.outcome);
                    line.retries = res.retries;
                    line.error = res.error.map(|e| match res.hint {
                        Some(h) => format!("{e} (hint: {h})"),
                        None => e,
                    });
                    line.read_back = res.read_back;
                }
            }
            Record::TaskOpen(t) if mine => {
                cited.insert(r.seq);
                task_ids.insert(t.task_id.clone());
                run_ids.insert(t.run_id.clone());
                tasks.push(TaskLine {
                    task_id: t.task_id,
                    system: t.system,
                    owner: t.owner,
                    due: t.due.to_string(),
                    opened_at: r.at.clone(),
                    done: None,
                });
            }
            _ => {}
        }
    }
    for (r, record) in records.iter().zip(&typed) {
        let Record::TaskDone(d) = record.clone() else {
            continue;
        };
        if task_ids.contains(&d.task_id) {
            cited.insert(r.seq);
            if let Some(t) = tasks.iter_mut().find(|t| t.task_id == d.task_id) {
                t.done = Some(d);
            }
        }
    }
    if actions.is_empty() && tasks.is_empty() {
        return Ok(None);
    }

    // Runs in journal order (run ids sort by second only, not by order within a second).
    let mut starts: Vec<(RunStart, String)> = Vec::new();
    let mut leaver = None;
    let mut finishes: BTreeMap<String, (RunFinish, String)> = BTreeMap::new();
    for (r, record) in records.iter().zip(&typed) {
        match record.clone() {
            Record::RunStart(s) if run_ids.contains(&s.run_id) => {
                cited.insert(r.seq);
                if let Some(l) = s.leavers.iter().find(|l| l.person.to_lowercase() == wanted) {
                    leaver = Some(l.clone());
                }
                starts.push((s, r.at.clone()));
            }
            Record::RunFinish(f) if run_ids.contains(&f.run_id) => {
                cited.insert(r.seq);
                finishes.insert(f.run_id.clone(), (f, r.at.clone()));
            }
            _ => {}
        }
    }
    let verdict_of = |run: &str| {
        finishes.get(run).and_then(|(f, _)| {
            f.leavers
                .iter()
                .find(|l| l.person.to_lowercase() == wanted)
                .map(|l| l.verdict)
        })
    };
    let runs: Vec<RunRef> = starts
        .iter()
        .map(|(s, at)| RunRef {
            run_id: s.run_id.clone(),
            initiator: s.initiator.clone(),
            host: s.host.clone(),
            policy_hash: s.policy_hash.clone(),
            git_commit: s.git_commit.clone(),
            plan_hash: s.plan_hash.clone(),
            started_at: at.clone(),
            finished_at: finishes.get(&s.run_id).map(|(_, at)| at.clone()),
            verdict: verdict_of(&s.run_id),
            rollback_of: s.rollback_of.clone(),
        })
        .collect();
    // The latest re-audit that saw no active credential for this person.
    let confirmed = runs
        .iter()
        .rev()
        .find(|r| matches!(r.verdict, Some(Verdict::Green | Verdict::Yellow)))
        .map(|r| (r.run_id.clone(), r.finished_at.clone().unwrap_or_default()));
    let last_verdict = runs.iter().rev().find_map(|r| r.verdict);
    let open_tasks = tasks.iter().filter(|t| t.done.is_none()).count();
    let failed = actions
        .iter()
        .filter(|a| matches!(a.outcome, Some(ActionOutcome::Failed) | None))
        .count();
    // A rollback after the confirming re-audit gave access back.
    let rolled_back = runs
        .iter()
        .rev()
        .find(|r| r.rollback_of.is_some())
        .filter(|rb| {
            confirmed.as_ref().is_none_or(|(run, _)| {
                runs.iter().position(|r| &r.run_id == run)
                    < runs.iter().position(|r| r.run_id == rb.run_id)
            })
        });
    let credentials_clear =
        matches!(last_verdict, Some(Verdict::Green | Verdict::Yellow)) && rolled_back.is_none();
    let complete = credentials_clear && open_tasks == 0 && verification.ok();
    let summary = match (credentials_clear, open_tasks, &confirmed) {
        _ if !verification.ok() => {
            "NOT TRUSTWORTHY: the journal's hash chain is broken, so nothing below can be relied on"
                .to_string()
        }
        _ if rolled_back.is_some() => format!(
            "NOT COMPLETE: rollback run {} restored access after the offboarding",
            rolled_back.map(|r| r.run_id.as_str()).unwrap_or_default()
        ),
        (true, 0, None) => {
            "COMPLETE: every manual task is done and no account change was needed".to_string()
        }
        (true, 0, Some((run, at))) => format!(
            "COMPLETE: zero active credentials confirmed by the re-audit of run {run} at {}; every manual task is done",
            crate::when::human_text(at)
        ),
        (true, n, Some((run, at))) => format!(
            "NOT COMPLETE: zero active credentials confirmed by the re-audit of run {run} at {}, but {n} manual {} still open",
            crate::when::human_text(at),
            if n == 1 { "task is" } else { "tasks are" }
        ),
        _ => format!(
            "NOT COMPLETE: the last re-audit did not confirm zero active credentials ({failed} {} failed or unfinished)",
            if failed == 1 { "change" } else { "changes" }
        ),
    };
    let head = records.last().map(|r| r.hash.clone()).unwrap_or_default();
    Ok(Some(Certificate {
        person: person.to_string(),
        leaver,
        complete,
        confirmed,
        summary,
        runs,
        actions,
        tasks,
        cited_records: cited.into_iter().collect(),
        chain_intact: verification.ok(),
        chain_problems: verification.problems,
        head,
    }))
}

fn state(s: &Option<AccountState>) -> String {
    match s {
        None => "account no longer exists".into(),
        Some(s) => {
            let mut parts = vec![s.status.to_string()];
            parts.push(format!("{} groups", s.groups.len()));
            if !s.licenses.is_empty() {
                parts.push(format!("{} licenses", s.licenses.len()));
            }
            if let Some(n) = s.sessions {
                parts.push(format!("{n} sessions"));
            }
            if let Some(c) = &s.container {
                parts.push(format!("in {c}"));
            }
            parts.join(", ")
        }
    }
}

fn outcome(a: &ActionLine) -> &'static str {
    match a.outcome {
        Some(ActionOutcome::Done) => "done",
        Some(ActionOutcome::AlreadyDone) => "already done",
        Some(ActionOutcome::SkippedStale) => "SKIPPED (account changed since the plan)",
        Some(ActionOutcome::Failed) => "FAILED",
        None => "UNFINISHED (no result recorded)",
    }
}

/// "Involuntary termination, cutoff 2026-11-23 08:30 UTC; rules applied: involuntary."
fn who(l: &crate::journal::LeaverRecord) -> String {
    let why = l.termination_type.map_or("Termination".to_string(), |t| {
        let t = t.as_str().replace('-', " ");
        let mut chars = t.chars();
        match chars.next() {
            Some(first) => format!("{}{} termination", first.to_uppercase(), chars.as_str()),
            None => "Termination".to_string(),
        }
    });
    format!(
        "{why}, cutoff {}; rules applied: {}.",
        crate::when::human(l.cutoff),
        if l.rules.is_empty() {
            "defaults".to_string()
        } else {
            l.rules.join(", ")
        }
    )
}

fn chain_line(c: &Certificate) -> String {
    if c.chain_intact {
        format!(
            "Journal hash chain verified: intact, including the {} records cited here (head {}).",
            c.cited_records.len(),
            c.head.get(..16).unwrap_or(&c.head)
        )
    } else {
        format!(
            "Journal hash chain BROKEN: {}. This certificate cannot be trusted.",
            c.chain_problems.join("; ")
        )
    }
}

/// A copy whose texts show control characters as visible escapes (see [`crate::escape`]).
fn for_display(c: &Certificate) -> Certificate {
    use crate::escape::terminal_in_place as esc;
    let mut c = c.clone();
    esc(&mut c.person);
    if let Some(l) = &mut c.leaver {
        esc(&mut l.name);
        esc(&mut l.department);
    }
    for r in &mut c.runs {
        esc(&mut r.initiator);
        esc(&mut r.host);
    }
    for a in &mut c.actions {
        esc(&mut a.account);
        if let Some(e) = &mut a.error {
            esc(e);
        }
    }
    for t in &mut c.tasks {
        esc(&mut t.owner);
        if let Some(d) = &mut t.done {
            esc(&mut d.by);
            esc(&mut d.note);
        }
    }
    c
}

pub fn text(c: &Certificate) -> String {
    let c = &for_display(c);
    let mut out = String::new();
    match &c.leaver {
        Some(l) => {
            let _ = writeln!(
                out,
                "Offboarding certificate for {} ({}), {}\n",
                l.name, c.person, l.department
            );
            let _ = writeln!(out, "{}\n", who(l));
        }
        None => {
            let _ = writeln!(out, "Offboarding certificate for {}\n", c.person);
        }
    }
    let _ = writeln!(out, "{}\n", c.summary);
    let _ = writeln!(out, "Runs:");
    for r in &c.runs {
        let _ = writeln!(
            out,
            "  {}  by {} on {}, started {}, finished {}; policy {}{}, plan {}; verdict {}",
            r.run_id,
            r.initiator,
            r.host,
            crate::when::human_text(&r.started_at),
            r.finished_at
                .as_deref()
                .map_or("never (interrupted)".to_string(), crate::when::human_text),
            r.policy_hash.get(..12).unwrap_or(&r.policy_hash),
            r.git_commit
                .as_ref()
                .map(|g| format!(" at {g}"))
                .unwrap_or_default(),
            r.plan_hash.get(..12).unwrap_or(&r.plan_hash),
            r.verdict.map_or("none", |v| match v {
                Verdict::Green => "green",
                Verdict::Yellow => "yellow",
                Verdict::Red => "red",
            })
        );
    }
    let _ = writeln!(out, "\nAccounts:");
    for a in &c.actions {
        let actions: Vec<&str> = a.actions.iter().map(|x| x.as_str()).collect();
        let _ = writeln!(
            out,
            "  {} {}: {} -> {} (run {}, intent {}, result {}{})",
            a.system,
            a.account,
            actions.join(", "),
            outcome(a),
            a.run_id,
            crate::when::human_text(&a.intent_at),
            a.result_at
                .as_deref()
                .map_or("-".to_string(), crate::when::human_text),
            match a.retries {
                0 => String::new(),
                1 => ", 1 retry".to_string(),
                n => format!(", {n} retries"),
            }
        );
        match (&a.outcome, &a.read_back) {
            (Some(ActionOutcome::Failed), None) | (None, _) => {
                let _ = writeln!(out, "      read-back: none (the change did not complete)");
            }
            _ => {
                let _ = writeln!(out, "      read-back: {}", state(&a.read_back));
            }
        }
        if let Some(e) = &a.error {
            let _ = writeln!(out, "      error: {e}");
        }
    }
    if !c.tasks.is_empty() {
        let _ = writeln!(out, "\nManual tasks:");
        for t in &c.tasks {
            let status = match &t.done {
                Some(d) => format!(
                    "done by {} at {} ({})",
                    d.by,
                    crate::when::human(d.closed_at),
                    d.note
                ),
                None => "OPEN".to_string(),
            };
            let _ = writeln!(
                out,
                "  {} {} owner {}, due {}, opened {}: {status}",
                t.task_id,
                t.system,
                t.owner,
                crate::when::human_text(&t.due),
                crate::when::human_text(&t.opened_at)
            );
        }
    }
    let _ = writeln!(out, "\n{}", chain_line(c));
    out
}

pub fn json(c: &Certificate) -> String {
    serde_json::to_string_pretty(c).unwrap_or_default() + "\n"
}

pub fn html(c: &Certificate) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Offboarding certificate: {p}</title>\
<style>body{{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem}}.ok{{color:#166534}}.bad{{color:#b91c1c}}\
table{{border-collapse:collapse;width:100%;font-size:.9rem}}td,th{{border-bottom:1px solid #eee;padding:.3rem;text-align:left}}</style></head><body>\n\
<h1>Offboarding certificate</h1>\n<p>Person: <b>{p}</b>{who}</p>\n<p id=\"status\" class=\"{cls}\"><b>{s}</b></p>\n",
        p = xml(&c.person),
        who = c.leaver.as_ref().map_or(String::new(), |l| format!(
            "<br>{} ({}). {}",
            xml(&l.name),
            xml(&l.department),
            xml(&who(l))
        )),
        cls = if c.complete { "ok" } else { "bad" },
        s = xml(&c.summary)
    );
    let _ = writeln!(
        out,
        "<h2>Runs</h2><table><tr><th>Run</th><th>Initiator</th><th>Started</th><th>Finished</th><th>Policy</th><th>Plan</th><th>Verdict</th></tr>"
    );
    for r in &c.runs {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td><code>{}</code></td><td>{}</td></tr>",
            xml(&r.run_id),
            xml(&r.initiator),
            xml(&r.started_at),
            xml(r.finished_at.as_deref().unwrap_or("-")),
            xml(r.policy_hash.get(..12).unwrap_or(&r.policy_hash)),
            xml(r.plan_hash.get(..12).unwrap_or(&r.plan_hash)),
            r.verdict.map_or("none", |v| match v {
                Verdict::Green => "green",
                Verdict::Yellow => "yellow",
                Verdict::Red => "red",
            })
        );
    }
    let _ = writeln!(
        out,
        "</table><h2>Accounts</h2><table><tr><th>System</th><th>Account</th><th>Actions</th><th>Outcome</th><th>Read-back</th><th>Recorded</th></tr>"
    );
    for a in &c.actions {
        let actions: Vec<&str> = a.actions.iter().map(|x| x.as_str()).collect();
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}{}</td><td>{}</td><td>{}</td></tr>",
            xml(&a.system),
            xml(&a.account),
            xml(&actions.join(", ")),
            outcome(a),
            a.error
                .as_ref()
                .map(|e| format!("<br><small>{}</small>", xml(e)))
                .unwrap_or_default(),
            xml(&state(&a.read_back)),
            xml(a.result_at.as_deref().unwrap_or("-"))
        );
    }
    let _ = writeln!(
        out,
        "</table><h2>Manual tasks</h2><table><tr><th>Task</th><th>Lane</th><th>Owner</th><th>Due</th><th>Status</th></tr>"
    );
    for t in &c.tasks {
        let status = match &t.done {
            Some(d) => format!("done by {} at {} ({})", d.by, d.closed_at, d.note),
            None => "OPEN".into(),
        };
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            xml(&t.task_id),
            xml(&t.system),
            xml(&t.owner),
            xml(&t.due),
            xml(&status)
        );
    }
    let _ = writeln!(
        out,
        "</table>\n<p id=\"chain\">{}</p>\n</body></html>",
        xml(&chain_line(c))
    );
    out
}
