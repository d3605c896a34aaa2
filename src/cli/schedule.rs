//! `offboard schedule`: what will happen when (cutoffs, deletions, escalations).

use clap::Args;

use super::{Exit, Format, GlobalArgs, common};
use crate::ops;
use crate::ops::schedule::{Schedule, What};

#[derive(Debug, Args)]
pub struct ScheduleArgs {
    /// The schedule as of another instant (2026-11-28, or RFC 3339)
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// Also list what is already past (its cutoff or deletion passed; `offboard plan` shows
    /// what of it remains to do)
    #[arg(long)]
    pub all: bool,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

pub fn run(global: &GlobalArgs, args: &ScheduleArgs) -> Exit {
    let ws = global.workspace();
    let observer = common::Stderr::new(global);
    let now = match args.at.as_deref() {
        None => None,
        Some(text) => {
            match ops::inputs::load_policy(ws).and_then(|p| ops::inputs::parse_at(Some(text), &p)) {
                Ok(t) => Some(t),
                Err(e) => return common::report(global, &e),
            }
        }
    };
    let schedule = match ops::schedule::schedule(ws, now, &observer) {
        Ok(s) => s,
        Err(e) => return common::report(global, &e),
    };
    let text = match args.format {
        Format::Json => {
            let mut shown = schedule.clone();
            if !args.all {
                shown.entries.retain(|e| e.at > schedule.now);
            }
            serde_json::to_string_pretty(&shown).unwrap_or_default() + "\n"
        }
        Format::Text => render(&schedule, args.all),
    };
    match common::emit(global, None, &text) {
        Ok(()) => Exit::Success,
        Err(exit) => exit,
    }
}

/// The schedule as a table, earliest first.
pub fn render(schedule: &Schedule, all: bool) -> String {
    let rows: Vec<Vec<String>> = schedule
        .entries
        .iter()
        .filter(|e| all || e.at > schedule.now)
        .map(|e| {
            let what = match &e.what {
                What::Cut => "cut access".to_string(),
                What::Delete => "delete accounts".to_string(),
                What::Escalate { task_id, system } => {
                    format!("escalate task {task_id} ({system})")
                }
            };
            // Names come from the roster: escaped, cell by cell.
            [
                crate::when::human(e.at),
                e.person.clone(),
                e.name.clone(),
                what,
                e.because.clone(),
            ]
            .iter()
            .map(|cell| crate::escape::terminal(cell).into_owned())
            .collect()
        })
        .collect();
    let past = schedule
        .entries
        .iter()
        .filter(|e| e.at <= schedule.now)
        .count();
    let mut out = if rows.is_empty() {
        "Nothing is scheduled.\n".to_string()
    } else {
        super::table::render(&["When", "Person", "Name", "What", "Because"], &rows, &[])
    };
    if !all && past > 0 {
        out.push_str(&format!(
            "\n{past} {} already past (--all lists them; `offboard plan` shows what remains to do).\n",
            if past == 1 { "entry is" } else { "entries are" }
        ));
    }
    for key in &schedule.unknown {
        let key = crate::escape::terminal(key);
        out.push_str(&format!(
            "\nWarning: the rules could not be evaluated for {key}; `offboard plan -p {key}` says why.\n"
        ));
    }
    out
}
