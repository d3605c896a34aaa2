//! The Markdown plan: a pull-request comment. Summary first, details folded per person.
//!
//! A GitHub comment holds at most 65,536 characters, and a plan for a large organisation is
//! longer: the summary and the tail (scheduled leavers, notes, warnings, each bounded) always
//! fit, then as many leavers as fit, then "N more leavers: see the plan artifact".

use std::fmt::Write;

use super::{
    MAX_NOTE_LINES, counts_line, glyph, header_context, leaver_when, leavers_with_changes,
    note_counts, note_kind, plural,
};
use crate::plan::{Leaver, LeaverState, Plan};

/// GitHub's limit on a comment body, in characters.
pub const MAX_COMMENT_CHARS: usize = 65_536;

/// Scheduled leavers and warnings listed before "and N more".
const MAX_LIST: usize = 20;

/// Escape text for a Markdown table cell (also safe in HTML summaries): nothing a roster or
/// a system returns can close the table, open a tag or a comment, make a link or an image, or
/// mention someone (`@team` at the start of a word gets a zero-width space after the `@`;
/// `ann@acme.com` is no mention and stays as it is).
pub fn cell(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut previous: Option<char> = None;
    for c in s.chars() {
        let word_start = previous.is_none_or(|p| !p.is_alphanumeric());
        previous = Some(c);
        match c {
            '[' => out.push_str("\\["),
            ']' => out.push_str("\\]"),
            '@' if word_start => out.push_str("@\u{200b}"),
            '|' => out.push_str("\\|"),
            // `<` alone opens a tag: escaping it is enough to keep text from becoming HTML.
            '<' => out.push_str("&lt;"),
            '`' => out.push('\''),
            '\n' | '\r' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

pub fn markdown(plan: &Plan) -> String {
    markdown_within(plan, MAX_COMMENT_CHARS)
}

/// Text for inside a code span: no backtick can end it, no line break can end the row.
fn code(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '`' => '\'',
            '|' => '/',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect()
}

/// The Markdown plan in at most `limit` characters (leavers are left out, and counted, to fit).
pub fn markdown_within(plan: &Plan, limit: usize) -> String {
    let plan = &super::for_display(plan);
    let mut head = String::new();
    let _ = writeln!(head, "### offboard plan");
    let _ = writeln!(head);
    let (due, finished) = leavers_with_changes(plan);
    if plan.changes.is_empty() {
        let _ = writeln!(
            head,
            "**No changes. Access matches policy.** ({})",
            header_context(plan)
        );
    } else {
        let _ = writeln!(
            head,
            "**{}** for {} {} ({}){}",
            counts_line(&plan.counts()),
            due.len(),
            plural(due.len(), "leaver", "leavers"),
            header_context(plan),
            if finished > 0 {
                format!("; {finished} already offboarded")
            } else {
                String::new()
            }
        );
        let _ = writeln!(head);
        let _ = writeln!(
            head,
            "| System | Tier | Disable | Delete | Update | Tasks |"
        );
        let _ = writeln!(head, "|---|---|--:|--:|--:|--:|");
        for s in &plan.refreshed {
            let c = Plan::count(plan.changes.iter().filter(|c| c.system == s.system));
            if c.total() == 0 {
                continue;
            }
            let _ = writeln!(
                head,
                "| {} | {} | {} | {} | {} | {} |",
                cell(&s.system),
                s.tier,
                c.disable,
                c.delete,
                c.update,
                c.tasks
            );
        }
    }
    let tail = tail(plan);
    let mut out = head;
    let mut shown = 0;
    for l in &due {
        let block = leaver_block(plan, l);
        let left = due.len() - shown - 1;
        let footer = if left > 0 { more_line(left).len() } else { 0 };
        if out.chars().count() + block.chars().count() + tail.chars().count() + footer > limit {
            break;
        }
        out.push_str(&block);
        shown += 1;
    }
    if shown < due.len() {
        out.push_str(&more_line(due.len() - shown));
    }
    out.push_str(&tail);
    out
}

fn more_line(n: usize) -> String {
    format!(
        "\n**{n} more {}: see the plan artifact** (`offboard show plan.json`).\n",
        plural(n, "leaver", "leavers")
    )
}

fn leaver_block(plan: &Plan, l: &Leaver) -> String {
    let mut out = String::new();
    let changes: Vec<_> = plan
        .changes
        .iter()
        .filter(|c| c.person == l.person)
        .collect();
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "<details><summary><b>{}</b> ({}), {}: {}, {} {}</summary>",
        cell(&l.name),
        cell(&l.person),
        cell(&l.department),
        cell(&leaver_when(l, plan.created_at)),
        changes.len(),
        plural(changes.len(), "change", "changes")
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Rules: {}",
        if l.rules.is_empty() {
            "defaults".to_string()
        } else {
            cell(&l.rules.join(", "))
        }
    );
    let _ = writeln!(out);
    let _ = writeln!(out, "| | System | Account | Change | Rules |");
    let _ = writeln!(out, "|---|---|---|---|---|");
    for c in changes {
        let account = match &c.account {
            Some(a) => format!("`{}` {}", code(&a.id), cell(&a.label)),
            None => "task".to_string(),
        };
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} |",
            glyph(c.kind),
            cell(&c.system),
            account,
            described(plan, c),
            cell(&c.rules.join(", "))
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "</details>");
    out
}

/// A change's cell: its description, and a task's steps one per line.
fn described(plan: &Plan, c: &super::Change) -> String {
    let mut text = cell(&super::describe_in(plan, c));
    for step in c.task.iter().flat_map(|t| &t.steps) {
        text.push_str("<br>• ");
        text.push_str(&cell(step));
    }
    text
}

/// Scheduled leavers, notes and warnings, each bounded so the tail always fits.
fn tail(plan: &Plan) -> String {
    let mut out = String::new();
    let scheduled: Vec<_> = plan
        .leavers
        .iter()
        .filter(|l| l.state == LeaverState::Scheduled)
        .collect();
    if !scheduled.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "**Scheduled** (nothing changes yet):");
        let _ = writeln!(out);
        for l in scheduled.iter().take(MAX_LIST) {
            let _ = writeln!(
                out,
                "- {} ({}): {}",
                cell(&l.name),
                cell(&l.person),
                cell(&leaver_when(l, plan.created_at))
            );
        }
        if scheduled.len() > MAX_LIST {
            let _ = writeln!(out, "- and {} more", scheduled.len() - MAX_LIST);
        }
    }
    if !plan.notes.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "<details><summary>Noted, not changed: {} {}</summary>",
            plan.notes.len(),
            plural(plan.notes.len(), "account", "accounts")
        );
        let _ = writeln!(out);
        if plan.notes.len() > MAX_NOTE_LINES {
            let _ = writeln!(out, "| Kind | System | Accounts |");
            let _ = writeln!(out, "|---|---|--:|");
            for (system, kind, n) in note_counts(plan) {
                let _ = writeln!(out, "| {} | {} | {n} |", note_kind(kind), cell(system));
            }
            let _ = writeln!(out);
            let _ = writeln!(
                out,
                "Run `offboard audit` for each account; the JSON plan keeps them all."
            );
        } else {
            let _ = writeln!(out, "| Kind | System | Account | Detail |");
            let _ = writeln!(out, "|---|---|---|---|");
            for n in &plan.notes {
                let detail = if n.owners.is_empty() {
                    n.detail.clone()
                } else {
                    format!("{} ({})", n.detail, n.owners.join(", "))
                };
                let _ = writeln!(
                    out,
                    "| {} | {} | `{}` {} | {} |",
                    note_kind(n.kind),
                    cell(&n.system),
                    code(&n.account.id),
                    cell(&n.account.label),
                    cell(&detail)
                );
            }
        }
        let _ = writeln!(out);
        let _ = writeln!(out, "</details>");
    }
    for w in plan.warnings.iter().take(MAX_LIST) {
        let _ = writeln!(out);
        let _ = writeln!(out, "> **Warning:** {}", cell(w));
    }
    if plan.warnings.len() > MAX_LIST {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "> and {} more warnings (see `offboard plan`)",
            plan.warnings.len() - MAX_LIST
        );
    }
    out
}
