//! The Markdown plan: a pull-request comment. Summary first, details folded per person.

use std::fmt::Write;

use super::{counts_line, describe, glyph, header_context, leaver_when, plural};
use crate::plan::{LeaverState, NoteKind, Plan};

/// Escape text for a Markdown table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

pub fn markdown(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "### offboard plan");
    let _ = writeln!(out);
    if plan.changes.is_empty() {
        let _ = writeln!(
            out,
            "**No changes. Access matches policy.** ({})",
            header_context(plan)
        );
    } else {
        let due = plan.due_leavers().count();
        let _ = writeln!(
            out,
            "**{}** for {due} {} ({})",
            counts_line(&plan.counts()),
            plural(due, "leaver", "leavers"),
            header_context(plan)
        );
        let _ = writeln!(out);
        let _ = writeln!(out, "| System | Tier | Disable | Delete | Update | Tasks |");
        let _ = writeln!(out, "|---|---|--:|--:|--:|--:|");
        for s in &plan.refreshed {
            let c = Plan::count(plan.changes.iter().filter(|c| c.system == s.system));
            if c.total() == 0 {
                continue;
            }
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                cell(&s.system),
                s.tier,
                c.disable,
                c.delete,
                c.update,
                c.tasks
            );
        }
        for l in plan.due_leavers() {
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
                    l.rules.join(", ")
                }
            );
            let _ = writeln!(out);
            if !changes.is_empty() {
                let _ = writeln!(out, "| | System | Account | Change | Rules |");
                let _ = writeln!(out, "|---|---|---|---|---|");
                for c in changes {
                    let account = match &c.account {
                        Some(a) => format!("`{}` {}", cell(&a.id), cell(&a.label)),
                        None => "task".to_string(),
                    };
                    let _ = writeln!(
                        out,
                        "| `{}` | {} | {} | {} | {} |",
                        glyph(c.kind),
                        cell(&c.system),
                        account,
                        cell(&describe(c)),
                        cell(&c.rules.join(", "))
                    );
                }
                let _ = writeln!(out);
            }
            let _ = writeln!(out, "</details>");
        }
    }

    let scheduled: Vec<_> = plan
        .leavers
        .iter()
        .filter(|l| l.state == LeaverState::Scheduled)
        .collect();
    if !scheduled.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "**Scheduled** (nothing changes yet):");
        let _ = writeln!(out);
        for l in scheduled {
            let _ = writeln!(
                out,
                "- {} ({}): {}",
                cell(&l.name),
                cell(&l.person),
                cell(&leaver_when(l, plan.created_at))
            );
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
        let _ = writeln!(out, "| Kind | System | Account | Detail |");
        let _ = writeln!(out, "|---|---|---|---|");
        for n in &plan.notes {
            let kind = match n.kind {
                NoteKind::Orphan => "orphan",
                NoteKind::Disputed => "disputed",
                NoteKind::Exempt => "exempt",
            };
            let detail = if n.owners.is_empty() {
                n.detail.clone()
            } else {
                format!("{} ({})", n.detail, n.owners.join(", "))
            };
            let _ = writeln!(
                out,
                "| {kind} | {} | `{}` {} | {} |",
                cell(&n.system),
                cell(&n.account.id),
                cell(&n.account.label),
                cell(&detail)
            );
        }
        let _ = writeln!(out);
        let _ = writeln!(out, "</details>");
    }
    for w in &plan.warnings {
        let _ = writeln!(out);
        let _ = writeln!(out, "> **Warning:** {}", cell(w));
    }
    out
}
