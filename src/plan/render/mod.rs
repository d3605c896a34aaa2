//! Plan renderers: text (Terraform's shape), JSON (the plan file) and Markdown (PR comments).
//!
//! Renderers only read the [`Plan`](super::Plan) model; they never compute policy. Shared
//! phrasing (what a change does, when a cutoff is) lives here so every format says the same.

pub(crate) mod markdown;
mod text;

pub use markdown::{MAX_COMMENT_CHARS, cell as markdown_cell, markdown, markdown_within};
pub use text::{summary, text};

use jiff::Timestamp;

use super::{Change, ChangeKind, Counts, Leaver, LeaverState, Plan};
use crate::connector::AccountStatus;
use crate::policy::Action;

/// A copy of the plan whose text fields show control characters as visible escapes: roster
/// values and account fields must not be able to forge lines, colours or cursor moves in
/// what a reviewer reads. The JSON plan keeps the values as they are.
pub(crate) fn for_display(plan: &Plan) -> Plan {
    use crate::escape::terminal_in_place as esc;
    fn all(v: &mut [String]) {
        v.iter_mut().for_each(esc);
    }
    fn state(s: &mut Option<super::AccountState>) {
        if let Some(s) = s {
            all(&mut s.groups);
            all(&mut s.licenses);
            all(&mut s.app_roles);
            if let Some(c) = &mut s.container {
                esc(c);
            }
        }
    }
    fn account(a: &mut super::AccountRef) {
        esc(&mut a.id);
        esc(&mut a.username);
        esc(&mut a.label);
    }
    let mut p = plan.clone();
    esc(&mut p.roster.source);
    for l in &mut p.leavers {
        esc(&mut l.person);
        esc(&mut l.name);
        esc(&mut l.email);
        esc(&mut l.department);
        all(&mut l.notify);
        if let Some(e) = &mut l.emergency {
            esc(&mut e.by);
            esc(&mut e.reason);
        }
    }
    for c in &mut p.changes {
        esc(&mut c.person);
        if let Some(a) = &mut c.account {
            account(a);
        }
        state(&mut c.before);
        state(&mut c.after);
        if let Some(t) = &mut c.task {
            esc(&mut t.owner);
            all(&mut t.steps);
        }
        if let Some(to) = &mut c.hand_off_to {
            esc(to);
        }
    }
    for n in &mut p.notes {
        account(&mut n.account);
        all(&mut n.owners);
        esc(&mut n.detail);
    }
    all(&mut p.warnings);
    p
}

/// Options for human-readable output.
#[derive(Debug, Clone, Copy, Default)]
pub struct TextOptions {
    pub color: bool,
}

pub(crate) fn short(hash: &str) -> &str {
    hash.get(..7).unwrap_or(hash)
}

pub(crate) fn instant(t: Timestamp) -> String {
    crate::when::human(t)
}

pub(crate) fn header_context(plan: &Plan) -> String {
    let mut policy = format!("policy {}", short(&plan.policy.content_hash));
    if let Some(commit) = &plan.policy.git_commit {
        policy = format!(
            "policy {} at {}",
            short(&plan.policy.content_hash),
            short(commit)
        );
        if plan.policy.dirty == Some(true) {
            policy.push_str(" (dirty)");
        }
    }
    format!(
        "{policy}, roster {}, as of {}",
        short(&plan.roster.hash),
        instant(plan.created_at)
    )
}

/// "involuntary, cutoff now" / "voluntary, cutoff 2026-11-14 00:00 UTC".
pub(crate) fn leaver_when(l: &Leaver, now: Timestamp) -> String {
    let why = l
        .termination_type
        .map_or_else(|| l.employment.to_string(), |t| t.to_string());
    // "now" only when the cutoff is the plan's own instant: a past cutoff keeps its time, so
    // a reviewer sees when the leaver should have been cut.
    let cutoff = match l.state {
        _ if l.cutoff == now => "cutoff now".to_string(),
        LeaverState::Due => format!("cutoff {} (passed)", instant(l.cutoff)),
        LeaverState::Scheduled => format!("cutoff {}", instant(l.cutoff)),
    };
    let mut parts = vec![why, cutoff];
    if let Some(e) = &l.emergency {
        parts.push(format!(
            "EMERGENCY override {} by {} ({}){}",
            e.id,
            e.by,
            e.reason,
            if e.confirmed {
                ""
            } else {
                ", HR has not confirmed: nothing deleted until it does"
            }
        ));
    }
    if l.undated {
        parts.push("no HR date: nothing deleted until HR records one".to_string());
    } else if !l.retained_by.is_empty() {
        parts.push(format!("never deleted ({})", l.retained_by.join(", ")));
    } else if let Some(at) = l.delete_at {
        if at <= now {
            parts.push("delete due".to_string());
        } else {
            parts.push(format!("delete from {}", at.strftime("%Y-%m-%d")));
        }
    }
    parts.join(", ")
}

/// What a change does, in a few words, in the words of its system (`plan.refreshed`).
pub(crate) fn describe_in(plan: &Plan, c: &Change) -> String {
    let disabled = plan
        .refreshed
        .iter()
        .find(|r| r.system == c.system)
        .and_then(|r| r.disabled_as.as_deref())
        .unwrap_or("disabled");
    describe_as(c, disabled)
}

/// What a change does, in a few words; `disabled` is what `disable` leaves the account as.
fn describe_as(c: &Change, disabled: &str) -> String {
    if let Some(task) = &c.task {
        let what = task
            .actions
            .iter()
            .map(|a| a.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        return format!(
            "manual task for {}, due {}{}",
            task.owner,
            task.due.strftime("%Y-%m-%d"),
            if what.is_empty() {
                String::new()
            } else {
                format!(": {what}")
            }
        );
    }
    let Some(before) = &c.before else {
        return String::new();
    };
    let mut parts = Vec::new();
    for action in &c.actions {
        parts.push(match action {
            Action::Disable => format!("{} -> {disabled}", status(before.status)),
            Action::RevokeSessions => match before.sessions {
                Some(n) if n > 0 => {
                    format!("{n} {} revoked", plural(n as usize, "session", "sessions"))
                }
                _ => "sessions revoked".to_string(),
            },
            Action::RemoveGroups => {
                let n = before.groups.len();
                format!("{n} {} removed", plural(n, "group", "groups"))
            }
            Action::RemoveLicenses => {
                let n = before.licenses.len();
                format!("{n} {} removed", plural(n, "license", "licenses"))
            }
            Action::Move => match c.after.as_ref().and_then(|a| a.container.as_ref()) {
                Some(ou) => format!("moved to {ou}"),
                None => "moved".to_string(),
            },
            Action::ResetPassword => "password reset".to_string(),
            Action::ResetMfa => "MFA methods removed".to_string(),
            Action::RemoveAppRoles => {
                let n = before.app_roles.len();
                format!("{n} app {} removed", plural(n, "role", "roles"))
            }
            Action::HandOffMailbox => "mailbox handed off".to_string(),
            Action::HandOffFiles => match &c.hand_off_to {
                Some(to) => format!("files shared with {to}"),
                None => "files handed off".to_string(),
            },
            Action::Delete => match before.status {
                AccountStatus::Active => "active -> deleted".to_string(),
                AccountStatus::Disabled => "disabled -> deleted".to_string(),
            },
            Action::Collect => "collect".to_string(),
        });
    }
    parts.join(", ")
}

fn status(s: AccountStatus) -> &'static str {
    match s {
        AccountStatus::Active => "active",
        AccountStatus::Disabled => "disabled",
    }
}

pub(crate) fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

/// "Plan: 9 to disable, 3 to delete, 5 manual tasks."
pub(crate) fn counts_line(c: &Counts) -> String {
    let mut parts = vec![
        format!("{} to disable", c.disable),
        format!("{} to delete", c.delete),
    ];
    if c.update > 0 {
        parts.push(format!("{} to update", c.update));
    }
    parts.push(format!(
        "{} manual {}",
        c.tasks,
        plural(c.tasks, "task", "tasks")
    ));
    format!("Plan: {}", parts.join(", "))
}

/// Beyond this many notes, plans show counts per system and kind instead of one line each
/// (a tenant with 240 orphans would otherwise print 240 lines in every plan); the JSON plan
/// and `offboard audit` keep every one.
pub(crate) const MAX_NOTE_LINES: usize = 20;

/// Notes counted per (system, kind), in the plan's note order.
pub(crate) fn note_counts(plan: &Plan) -> Vec<(&str, super::NoteKind, usize)> {
    let mut out: Vec<(&str, super::NoteKind, usize)> = Vec::new();
    for n in &plan.notes {
        match out
            .iter_mut()
            .find(|(s, k, _)| *s == n.system && *k == n.kind)
        {
            Some(entry) => entry.2 += 1,
            None => out.push((&n.system, n.kind, 1)),
        }
    }
    out
}

pub(crate) fn note_kind(kind: super::NoteKind) -> &'static str {
    match kind {
        super::NoteKind::Orphan => "orphan",
        super::NoteKind::Disputed => "disputed",
        super::NoteKind::Exempt => "exempt",
        super::NoteKind::Follows => "follows",
    }
}

/// Due leavers with at least one change, and how many due leavers have none left.
pub(crate) fn leavers_with_changes(plan: &Plan) -> (Vec<&Leaver>, usize) {
    let changed: std::collections::HashSet<&str> =
        plan.changes.iter().map(|c| c.person.as_str()).collect();
    let (with, finished): (Vec<&Leaver>, Vec<&Leaver>) = plan
        .due_leavers()
        .partition(|l| changed.contains(l.person.as_str()));
    (with, finished.len())
}

pub(crate) fn glyph(kind: ChangeKind) -> char {
    kind.glyph()
}
