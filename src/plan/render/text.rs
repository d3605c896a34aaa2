//! The text plan: Terraform's shape, offboard's content.

use std::fmt::Write;

use owo_colors::OwoColorize;

use super::{
    MAX_NOTE_LINES, TextOptions, counts_line, describe_in, glyph, header_context, leaver_when,
    leavers_with_changes, note_counts, note_kind, plural,
};
use crate::plan::{ChangeKind, Counts, LeaverState, NoteKind, Plan};

struct Paint {
    color: bool,
}

impl Paint {
    fn glyph(&self, kind: ChangeKind) -> String {
        let g = glyph(kind).to_string();
        if !self.color {
            return g;
        }
        match kind {
            ChangeKind::Update => g.yellow().bold().to_string(),
            ChangeKind::Delete => g.red().bold().to_string(),
            ChangeKind::Task => g.cyan().bold().to_string(),
        }
    }

    fn bold(&self, s: &str) -> String {
        if self.color {
            s.bold().to_string()
        } else {
            s.to_string()
        }
    }

    fn dim(&self, s: &str) -> String {
        if self.color {
            s.dimmed().to_string()
        } else {
            s.to_string()
        }
    }
}

/// The full plan, one block per leaver.
pub fn text(plan: &Plan, opts: TextOptions) -> String {
    let plan = &super::for_display(plan);
    let p = Paint { color: opts.color };
    let mut out = String::new();
    // Leavers whose accounts are all offboarded are a count in the summary, not a block.
    let (due, _) = leavers_with_changes(plan);
    let scheduled: Vec<_> = plan
        .leavers
        .iter()
        .filter(|l| l.state == LeaverState::Scheduled)
        .collect();

    let system_width = plan
        .changes
        .iter()
        .map(|c| c.system.len())
        .max()
        .unwrap_or(0);
    let id_width = plan
        .changes
        .iter()
        .map(|c| c.account.as_ref().map_or(4, |a| a.id.len()))
        .max()
        .unwrap_or(0);
    let label_width = plan
        .changes
        .iter()
        .map(|c| c.account.as_ref().map_or(0, |a| a.label.len()))
        .max()
        .unwrap_or(0);

    if plan.changes.is_empty() {
        let _ = writeln!(
            out,
            "No changes. Access matches policy. ({})",
            header_context(plan)
        );
    } else {
        let n = due.len();
        let _ = writeln!(
            out,
            "offboard will perform the following actions for {n} {} ({}):",
            plural(n, "leaver", "leavers"),
            header_context(plan)
        );
        for leaver in &due {
            let changes: Vec<_> = plan
                .changes
                .iter()
                .filter(|c| c.person == leaver.person)
                .collect();
            let _ = writeln!(out);
            let _ = writeln!(
                out,
                "  {} {}  {}, {}  {}  [rules: {}]",
                p.bold("#"),
                p.bold(&leaver.person),
                leaver.name,
                leaver.department,
                leaver_when(leaver, plan.created_at),
                if leaver.rules.is_empty() {
                    "defaults".to_string()
                } else {
                    leaver.rules.join(", ")
                }
            );
            for c in changes {
                let (id, label) = match &c.account {
                    Some(a) => (a.id.as_str(), a.label.as_str()),
                    None => ("task", ""),
                };
                let _ = writeln!(
                    out,
                    "  {} {:<sw$}  {:<iw$}  {:<lw$}  {}  {}",
                    p.glyph(c.kind),
                    c.system,
                    id,
                    label,
                    describe_in(plan, c),
                    p.dim(&format!("[{}]", c.rules.join(", "))),
                    sw = system_width,
                    iw = id_width,
                    lw = label_width,
                );
                for step in c.task.iter().flat_map(|t| &t.steps) {
                    let _ = writeln!(out, "      - {step}");
                }
            }
        }
    }

    if !scheduled.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "Scheduled (cutoff not reached, nothing changes yet):");
        for l in &scheduled {
            let _ = writeln!(
                out,
                "  {} {}  {}, {}  {}  {} {}  [rules: {}]",
                p.bold("#"),
                l.person,
                l.name,
                l.department,
                leaver_when(l, plan.created_at),
                l.accounts,
                plural(l.accounts, "account", "accounts"),
                if l.rules.is_empty() {
                    "defaults".to_string()
                } else {
                    l.rules.join(", ")
                }
            );
        }
    }

    if plan.notes.len() > MAX_NOTE_LINES {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "Noted, not changed: {} accounts (`offboard audit` lists each; the JSON plan keeps them all):",
            plan.notes.len()
        );
        let counts = note_counts(plan);
        let sw = counts.iter().map(|(s, _, _)| s.len()).max().unwrap_or(0);
        for (system, kind, n) in counts {
            let mark = note_mark(kind);
            let _ = writeln!(
                out,
                "  {mark} {system:<sw$}  {:<8}  {n} {}",
                note_kind(kind),
                plural(n, "account", "accounts")
            );
        }
    } else if !plan.notes.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "Noted, not changed:");
        let sw = plan.notes.iter().map(|n| n.system.len()).max().unwrap_or(0);
        let iw = plan
            .notes
            .iter()
            .map(|n| n.account.id.len())
            .max()
            .unwrap_or(0);
        let lw = plan
            .notes
            .iter()
            .map(|n| n.account.label.len())
            .max()
            .unwrap_or(0);
        for n in &plan.notes {
            let (mark, what) = match n.kind {
                NoteKind::Orphan => ("?", format!("orphan: {}", n.detail)),
                NoteKind::Disputed => (
                    "?",
                    format!("disputed between {}: {}", n.owners.join(", "), n.detail),
                ),
                NoteKind::Exempt => ("=", format!("{} (owner {})", n.detail, n.owners.join(", "))),
                NoteKind::Follows => (
                    note_mark(n.kind),
                    format!("{}: {}", n.owners.join(", "), n.detail),
                ),
            };
            let _ = writeln!(
                out,
                "  {mark} {:<sw$}  {:<iw$}  {:<lw$}  {what}",
                n.system, n.account.id, n.account.label
            );
        }
    }

    if !plan.warnings.is_empty() {
        let _ = writeln!(out);
        for w in &plan.warnings {
            let _ = writeln!(out, "Warning: {w}");
        }
    }

    if !plan.changes.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "{}", p.bold(&full_summary(plan, &plan.counts())));
    }
    out
}

/// The mark before a note: `=` exempt, `>` follows its master, `?` needs a look.
fn note_mark(kind: NoteKind) -> &'static str {
    match kind {
        NoteKind::Exempt => "=",
        NoteKind::Follows => ">",
        NoteKind::Orphan | NoteKind::Disputed => "?",
    }
}

fn full_summary(plan: &Plan, counts: &Counts) -> String {
    let due = plan.due_leavers().count();
    let scheduled = plan.leavers.len() - due;
    let (_, finished) = leavers_with_changes(plan);
    let count = |k: NoteKind| plan.notes.iter().filter(|n| n.kind == k).count();
    let finished = if finished > 0 {
        format!(" ({finished} already offboarded)")
    } else {
        String::new()
    };
    format!(
        "{}. {due} {} due{finished}, {scheduled} scheduled; {} orphaned, {} disputed, {} exempt {} noted.",
        counts_line(counts),
        plural(due, "leaver", "leavers"),
        count(NoteKind::Orphan),
        count(NoteKind::Disputed),
        count(NoteKind::Exempt),
        plural(count(NoteKind::Exempt), "account", "accounts"),
    )
}

/// Counts per system and per person only (`plan --summary`).
pub fn summary(plan: &Plan, opts: TextOptions) -> String {
    let plan = &super::for_display(plan);
    let p = Paint { color: opts.color };
    let mut out = String::new();
    let _ = writeln!(out, "Plan summary ({}):", header_context(plan));
    let _ = writeln!(out);
    let sw = plan
        .refreshed
        .iter()
        .map(|s| s.system.len())
        .max()
        .unwrap_or(6)
        .max(6);
    let _ = writeln!(
        out,
        "  {:<sw$}  {:<17}  {:>8}  {:>7}  {:>7}  {:>6}  {:>8}",
        "System", "Tier", "Accounts", "Disable", "Delete", "Update", "Tasks"
    );
    for s in &plan.refreshed {
        let c = Plan::count(plan.changes.iter().filter(|c| c.system == s.system));
        let _ = writeln!(
            out,
            "  {:<sw$}  {:<17}  {:>8}  {:>7}  {:>7}  {:>6}  {:>8}",
            s.system,
            s.tier.as_str(),
            s.accounts,
            c.disable,
            c.delete,
            c.update,
            c.tasks
        );
    }
    if !plan.leavers.is_empty() {
        let pw = plan
            .leavers
            .iter()
            .map(|l| l.person.len())
            .max()
            .unwrap_or(6)
            .max(6);
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "  {:<pw$}  {:<9}  {:>7}  {:>7}  {:>6}  {:>5}  Cutoff",
            "Person", "State", "Disable", "Delete", "Update", "Tasks"
        );
        for l in &plan.leavers {
            let c = Plan::count(plan.changes.iter().filter(|c| c.person == l.person));
            let state = match l.state {
                LeaverState::Due => "due",
                LeaverState::Scheduled => "scheduled",
            };
            let _ = writeln!(
                out,
                "  {:<pw$}  {:<9}  {:>7}  {:>7}  {:>6}  {:>5}  {}",
                l.person,
                state,
                c.disable,
                c.delete,
                c.update,
                c.tasks,
                super::instant(l.cutoff)
            );
        }
    }
    let _ = writeln!(out);
    if plan.changes.is_empty() {
        let _ = writeln!(out, "No changes. Access matches policy.");
    } else {
        let _ = writeln!(out, "{}", p.bold(&full_summary(plan, &plan.counts())));
    }
    out
}
