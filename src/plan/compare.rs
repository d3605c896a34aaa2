//! The impact of a policy change: two plans for the same live state, compared.
//!
//! A reviewer of a policy pull request needs to see what the change does to real accounts:
//! which changes appear or disappear, which actions change (disable -> delete), which
//! cutoffs move, which accounts change situation. Pure: both plans are computed elsewhere.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::{Change, Plan, render};

/// What differs between the plan before and after a policy change.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Impact {
    pub gained: Vec<String>,
    pub lost: Vec<String>,
    pub changed: Vec<String>,
    pub cutoffs: Vec<String>,
    pub situations: Vec<String>,
}

impl Impact {
    pub fn is_empty(&self) -> bool {
        self.gained.is_empty()
            && self.lost.is_empty()
            && self.changed.is_empty()
            && self.cutoffs.is_empty()
            && self.situations.is_empty()
    }
}

fn key(c: &Change) -> (String, String, String) {
    let account = c
        .account
        .as_ref()
        .map_or_else(|| "task".to_string(), |a| a.id.clone());
    (c.person.clone(), c.system.clone(), account)
}

fn label(c: &Change) -> String {
    let account = c.account.as_ref().map_or("task", |a| a.id.as_str());
    format!("{} {} {}", c.person, c.system, account)
}

fn actions(c: &Change) -> String {
    c.actions
        .iter()
        .map(|a| a.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn impact(before: &Plan, after: &Plan) -> Impact {
    let mut out = Impact::default();
    let old: BTreeMap<_, &Change> = before.changes.iter().map(|c| (key(c), c)).collect();
    let new: BTreeMap<_, &Change> = after.changes.iter().map(|c| (key(c), c)).collect();
    for (k, c) in &new {
        match old.get(k) {
            None => out.gained.push(format!(
                "{}: {} [{}]",
                label(c),
                actions(c),
                c.rules.join(", ")
            )),
            Some(o) if o.actions != c.actions => out.changed.push(format!(
                "{}: {} -> {} [{}]",
                label(c),
                actions(o),
                actions(c),
                c.rules.join(", ")
            )),
            Some(_) => {}
        }
    }
    for (k, c) in &old {
        if !new.contains_key(k) {
            out.lost.push(format!(
                "{}: {} [{}]",
                label(c),
                actions(c),
                c.rules.join(", ")
            ));
        }
    }
    let old_leavers: BTreeMap<_, _> = before.leavers.iter().map(|l| (&l.person, l)).collect();
    for l in &after.leavers {
        if let Some(o) = old_leavers.get(&l.person)
            && (o.cutoff != l.cutoff
                || o.delete_at != l.delete_at
                || o.retained_by != l.retained_by)
        {
            let mut parts = Vec::new();
            if o.cutoff != l.cutoff {
                parts.push(format!(
                    "cutoff {} -> {}",
                    render::instant(o.cutoff),
                    render::instant(l.cutoff)
                ));
            }
            if o.delete_at != l.delete_at {
                let d = |t: Option<jiff::Timestamp>| {
                    t.map_or("never".to_string(), |t| t.strftime("%Y-%m-%d").to_string())
                };
                parts.push(format!("delete {} -> {}", d(o.delete_at), d(l.delete_at)));
            }
            if o.retained_by != l.retained_by {
                parts.push(format!(
                    "retained by [{}] -> [{}]",
                    o.retained_by.join(", "),
                    l.retained_by.join(", ")
                ));
            }
            out.cutoffs
                .push(format!("{}: {}", l.person, parts.join("; ")));
        }
    }
    let situation = |p: &Plan| -> BTreeMap<(String, String), String> {
        p.notes
            .iter()
            .map(|n| {
                (
                    (n.system.clone(), n.account.id.clone()),
                    format!("{:?}", n.kind).to_lowercase(),
                )
            })
            .collect()
    };
    let (so, sn) = (situation(before), situation(after));
    for (k, v) in &sn {
        match so.get(k) {
            Some(o) if o != v => out.situations.push(format!("{} {}: {o} -> {v}", k.0, k.1)),
            None => out
                .situations
                .push(format!("{} {}: owned -> {v}", k.0, k.1)),
            _ => {}
        }
    }
    for (k, o) in &so {
        if !sn.contains_key(k) {
            out.situations
                .push(format!("{} {}: {o} -> owned", k.0, k.1));
        }
    }
    out
}

/// How much of a Markdown impact the item lists may fill, leaving room for the summary.
const MARKDOWN_ITEMS_BUDGET: usize = render::MAX_COMMENT_CHARS - 2_000;

/// Text (or Markdown) for a policy change from `from` to `to`.
pub fn render(before: &Plan, after: &Plan, from: &str, to: &str, markdown: bool) -> String {
    let imp = impact(before, after);
    let mut out = String::new();
    if imp.is_empty() {
        let policy_changed = before.policy.content_hash != after.policy.content_hash;
        let _ = writeln!(
            out,
            "No change in plan between {from} and {to}.{}",
            if policy_changed {
                " The policy text differs, but no planned action, cutoff or account situation does (roles, for instance, only affect `offboard audit`)."
            } else {
                ""
            }
        );
        return out;
    }
    let sections: [(&str, &Vec<String>, char); 5] = [
        ("Changes the new policy adds", &imp.gained, '+'),
        ("Changes the new policy removes", &imp.lost, '-'),
        ("Changes whose actions differ", &imp.changed, '~'),
        ("Leavers whose timing differs", &imp.cutoffs, '~'),
        ("Accounts whose situation differs", &imp.situations, '~'),
    ];
    if markdown {
        let _ = writeln!(
            out,
            "### offboard: impact of the policy change ({from} -> {to})\n"
        );
    } else {
        let _ = writeln!(out, "Impact of the policy change {from} -> {to}:");
    }
    for (title, items, glyph) in sections {
        if items.is_empty() {
            continue;
        }
        if markdown {
            // A pull-request comment holds 65,536 characters: items that do not fit are
            // counted, and the full impact is one command away.
            let _ = writeln!(out, "**{title}** ({})\n", items.len());
            for (n, i) in items.iter().enumerate() {
                let line = format!("- `{glyph}` {}\n", render::markdown_cell(i));
                if out.chars().count() + line.chars().count() > MARKDOWN_ITEMS_BUDGET {
                    let _ = writeln!(
                        out,
                        "- and {} more (run `offboard plan --compare` for all of them)",
                        items.len() - n
                    );
                    break;
                }
                out.push_str(&line);
            }
            let _ = writeln!(out);
        } else {
            let _ = writeln!(out, "\n  {title}:");
            for i in items {
                let _ = writeln!(out, "  {glyph} {i}");
            }
        }
    }
    let (a, b) = (before.counts(), after.counts());
    let summary = format!(
        "Before: {} disable, {} delete, {} update, {} tasks. After: {} disable, {} delete, {} update, {} tasks.",
        a.disable, a.delete, a.update, a.tasks, b.disable, b.delete, b.update, b.tasks
    );
    // The rendered plans without their header line (which names the policy hash).
    let body = |p: &Plan| {
        let t = render::text(p, render::TextOptions::default());
        t.split_once('\n')
            .map(|(_, rest)| rest.to_string())
            .unwrap_or(t)
    };
    let diff = similar::TextDiff::from_lines(&body(before), &body(after))
        .unified_diff()
        .context_radius(2)
        .header(&format!("plan at {from}"), &format!("plan at {to}"))
        .to_string();
    if markdown {
        let block = format!(
            "{summary}\n\n<details><summary>Plan diff</summary>\n\n```diff\n{diff}```\n\n</details>\n"
        );
        if out.chars().count() + block.chars().count() <= render::MAX_COMMENT_CHARS {
            out.push_str(&block);
        } else {
            let _ = writeln!(
                out,
                "{summary}\n\nThe plan diff is too long for a comment: run `offboard plan --compare` or see the plan artifact."
            );
        }
    } else {
        let _ = writeln!(out, "\n{summary}\n\n{diff}");
    }
    out
}
