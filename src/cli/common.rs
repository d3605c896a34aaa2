//! The steps several commands share: load policy, roster and live state, and report failures.
//!
//! Each step prints its own errors (with hints) and returns `Err(Exit::Error)`, so commands
//! read as a straight sequence of steps.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};
use jiff::Timestamp;

use super::{Exit, GlobalArgs};
use crate::connector::{self, Observed};
use crate::policy::{self, Policy, RenderOptions, diagnostic};
use crate::roster::{self, Roster};

pub fn load_policy(global: &GlobalArgs) -> Result<Policy, Exit> {
    policy::load_dir(&global.policies_dir(), &global.root).map_err(|e| {
        let opts = RenderOptions {
            color: global.stderr_color(),
            ..RenderOptions::default()
        };
        eprint!(
            "{}",
            diagnostic::render_text(&e.diagnostics, &e.sources, opts)
        );
        eprintln!("Error: {e}; run `offboard validate` after fixing it.");
        Exit::Error
    })
}

pub fn load_roster(global: &GlobalArgs, policy: &Policy) -> Result<Roster, Exit> {
    let Some(source) = &policy.people else {
        eprintln!(
            "Error: the policy declares no roster.\n  hint: add `people {{ source csv path=\"inventory/people.csv\" }}` to a policy file"
        );
        return Err(Exit::Error);
    };
    check_data_paths(global, policy)?;
    let roster = roster::load(source, &global.root, &policy.defaults.timezone).map_err(|e| {
        eprintln!("Error: {e}");
        Exit::Error
    })?;
    let missing = policy.check_roster_fields(&roster.columns);
    if !missing.is_empty() {
        let opts = RenderOptions {
            color: global.stderr_color(),
            ..RenderOptions::default()
        };
        eprint!(
            "{}",
            diagnostic::render_text(&missing, &policy.sources, opts)
        );
        eprintln!(
            "Error: the policy reads {} the roster {} does not have; nothing is planned from it.",
            if missing.len() == 1 {
                "a field"
            } else {
                "fields"
            },
            source.path.display()
        );
        return Err(Exit::Error);
    }
    let previous = last_apply(global)?.and_then(|run| run.roster_people);
    if let Err(why) = roster::check_drop(roster.people.len(), previous, source.max_roster_drop) {
        if global.allow_roster_drop {
            if !global.quiet {
                eprintln!("Warning: {why}; accepted because of --allow-roster-drop");
            }
        } else {
            eprintln!(
                "Error: {}: {why}; no plan is made from it.\n  hint: check the HR export; if these people really left the roster, run again with --allow-roster-drop",
                source.path.display()
            );
            return Err(Exit::Error);
        }
    }
    Ok(roster)
}

/// The roster and every `file` export must resolve inside the repository (or a
/// `--data-root`), checked before anything is read.
fn check_data_paths(global: &GlobalArgs, policy: &Policy) -> Result<(), Exit> {
    let mut paths: Vec<(String, &std::path::Path)> = Vec::new();
    if let Some(p) = &policy.people {
        paths.push(("the roster".to_string(), &p.path));
    }
    for s in &policy.systems {
        if let Some(path) = s.connector().and_then(|c| c.data_path()) {
            paths.push((format!("system {}", s.name()), path));
        }
    }
    let mut refused = 0;
    for (what, path) in paths {
        if let Err(why) = crate::policy::confine(&global.root, path, &global.data_root) {
            eprintln!("Error: {what}: {why}; nothing is read from it.");
            refused += 1;
        }
    }
    if refused > 0 {
        eprintln!(
            "  hint: keep data files in the policy repository; to read them from a mounted directory, pass --data-root DIR"
        );
        return Err(Exit::Error);
    }
    Ok(())
}

/// The policy commit of the newest apply run, if the journal has one.
pub fn last_applied_commit(global: &GlobalArgs) -> Result<Option<String>, Exit> {
    Ok(last_apply(global)?.and_then(|run| run.git_commit))
}

/// What the newest apply run recorded (roster size, accounts per system); `None` without a
/// journal.
fn last_apply(global: &GlobalArgs) -> Result<Option<crate::journal::RunStart>, Exit> {
    if let Some(known) = global.last_apply.get() {
        return Ok(known.clone());
    }
    let path = global.journal_path();
    let run = if path.exists() {
        crate::journal::Journal::open_read_only(&path)
            .and_then(|j| j.last_apply())
            .map_err(|e| {
                eprintln!("Error: {e}");
                Exit::Error
            })?
    } else {
        None
    };
    let _ = global.last_apply.set(run.clone());
    Ok(run)
}

/// Systems that report no accounts although the last apply saw some: an empty export or a
/// service account that lost its read permission would otherwise look like "nobody has
/// access" and silently drop every change on that system.
fn check_empty_systems(global: &GlobalArgs, observed: &Observed) -> Result<(), Exit> {
    let Some(last) = last_apply(global)? else {
        return Ok(());
    };
    let mut refused = 0;
    for (name, snapshot) in &observed.systems {
        let before = last.system_accounts.get(name).copied().unwrap_or(0);
        if snapshot.total > 0 || before == 0 {
            continue;
        }
        if global.allow_empty.iter().any(|s| s == name) {
            if !global.quiet {
                eprintln!(
                    "Warning: {name} reports no accounts (the last apply saw {before}); accepted because of --allow-empty {name}"
                );
            }
        } else {
            eprintln!(
                "Error: {name} reports no accounts, but the last apply saw {before}; it is not planned from an empty read.\n  hint: check its export or the connector's permissions; if the system really is empty now, run again with --allow-empty {name}"
            );
            refused += 1;
        }
    }
    if refused > 0 {
        return Err(Exit::Error);
    }
    Ok(())
}

/// Read every system, with a progress bar on a terminal; failures are printed, not hidden.
pub fn refresh(global: &GlobalArgs, policy: &Policy) -> Result<Observed, Exit> {
    refresh_keeping(global, policy, &|_, _| true)
}

/// [`refresh`], keeping only the accounts `keep` selects.
pub fn refresh_keeping(
    global: &GlobalArgs,
    policy: &Policy,
    keep: &connector::Keep<'_>,
) -> Result<Observed, Exit> {
    let total = policy
        .systems
        .iter()
        .filter(|s| s.connector().is_some())
        .count() as u64;
    let bar = if std::io::stderr().is_terminal() && !global.quiet {
        let bar = ProgressBar::new(total);
        if let Ok(style) =
            ProgressStyle::with_template("refreshing {pos}/{len} systems {bar:30} {msg}")
        {
            bar.set_style(style);
        }
        bar
    } else {
        ProgressBar::hidden()
    };
    let runtime = runtime()?;
    // `-v`: how long each system took to read (they are read concurrently, so this is the
    // time from the start of the refresh until that system was done).
    let started = std::time::Instant::now();
    let timings = std::sync::Mutex::new(Vec::<(String, std::time::Duration)>::new());
    let on_done = |name: &str| {
        bar.set_message(name.to_string());
        bar.inc(1);
        if let Ok(mut t) = timings.lock() {
            t.push((name.to_string(), started.elapsed()));
        }
    };
    let observed = runtime.block_on(connector::refresh_keeping(
        policy,
        &global.root,
        &on_done,
        keep,
    ));
    bar.finish_and_clear();
    if global.verbose > 0 {
        let timings = timings.into_inner().unwrap_or_default();
        for (name, took) in &timings {
            let accounts = observed.systems.get(name).map(|s| s.total);
            eprintln!(
                "refresh: {name} read in {} ms{}",
                took.as_millis(),
                accounts.map_or_else(
                    || " (failed)".to_string(),
                    |n| format!(", {n} {}", if n == 1 { "account" } else { "accounts" })
                )
            );
        }
        eprintln!(
            "refresh: {} {} in {} ms",
            timings.len(),
            if timings.len() == 1 {
                "system"
            } else {
                "systems"
            },
            started.elapsed().as_millis()
        );
    }
    if !observed.failures.is_empty() {
        for e in observed.failures.values() {
            eprintln!("Error: {e}");
            if let Some(hint) = &e.hint {
                eprintln!("  hint: {hint}");
            }
        }
        eprintln!(
            "Error: {} of {total} systems could not be read; no plan is made from partial live state.",
            observed.failures.len()
        );
        return Err(Exit::Error);
    }
    check_empty_systems(global, &observed)?;
    Ok(observed)
}

/// `--at`: an RFC 3339 instant, or a date/date-time in the policy's time zone.
pub fn parse_at(text: Option<&str>, policy: &Policy) -> Result<Timestamp, Exit> {
    let Some(text) = text else {
        return Ok(Timestamp::now());
    };
    if let Ok(t) = text.parse::<Timestamp>() {
        return Ok(t);
    }
    let civil = text.parse::<jiff::civil::DateTime>().ok().or_else(|| {
        text.parse::<jiff::civil::Date>()
            .ok()
            .map(|d| d.to_datetime(jiff::civil::Time::midnight()))
    });
    match civil.and_then(|dt| dt.to_zoned(policy.defaults.timezone.clone()).ok()) {
        Some(z) => Ok(z.timestamp()),
        None => {
            eprintln!(
                "Error: `--at {text}` is not a time.\n  hint: write 2026-11-28, 2026-11-28T09:00 (policy time zone) or 2026-11-28T09:00:00Z"
            );
            Err(Exit::Error)
        }
    }
}

/// Tasks the journal already has, so plans do not ask for them again. No journal, no tasks.
pub fn known_tasks(
    global: &GlobalArgs,
) -> Result<std::collections::HashSet<(String, String)>, Exit> {
    let path = global.journal_path();
    if !path.exists() {
        return Ok(Default::default());
    }
    crate::journal::Journal::open_read_only(&path)
        .and_then(|j| j.known_tasks())
        .map_err(|e| {
            eprintln!("Error: {e}");
            Exit::Error
        })
}

/// Who is acting: `$OFFBOARD_ACTOR`, else git's user.email, else the OS user.
pub fn actor(global: &GlobalArgs) -> String {
    if let Ok(a) = std::env::var("OFFBOARD_ACTOR")
        && !a.trim().is_empty()
    {
        return a.trim().to_string();
    }
    let git = std::process::Command::new("git")
        .args(["config", "--get", "user.email"])
        .current_dir(&global.root)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    git.or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "unknown".into())
}

pub fn host() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}

/// Open the journal to append to it: it must exist (`offboard journal init` makes one) and
/// its hash chain must verify, so nothing is ever added to evidence that was tampered with.
pub fn open_journal(global: &GlobalArgs) -> Result<crate::journal::Journal, Exit> {
    let journal = crate::journal::Journal::open(&global.journal_path()).map_err(journal_hint)?;
    refuse_broken_chain(global, &journal)?;
    Ok(journal)
}

/// Check, without writing, that the journal exists and verifies: `apply` does this before
/// it plans or asks anything.
pub fn check_journal(global: &GlobalArgs) -> Result<(), Exit> {
    refuse_broken_chain(global, &read_journal(global)?)
}

fn refuse_broken_chain(global: &GlobalArgs, journal: &crate::journal::Journal) -> Result<(), Exit> {
    let verification = journal.verify().map_err(journal_hint)?;
    if verification.ok() {
        return Ok(());
    }
    eprintln!(
        "Error: the journal {} fails verification, and nothing is appended to a broken chain:",
        global.journal_path().display()
    );
    for p in &verification.problems {
        eprintln!("  {p}");
    }
    eprintln!(
        "  hint: keep this file as evidence (`offboard journal verify` shows the damage); restore the journal from a verified copy, or start a new one with `offboard journal init --journal NEW` and keep the old one beside it. Nothing was changed."
    );
    Err(Exit::Error)
}

/// Open the journal only to read it (evidence may be a read-only copy).
pub fn read_journal(global: &GlobalArgs) -> Result<crate::journal::Journal, Exit> {
    crate::journal::Journal::open_read_only(&global.journal_path()).map_err(journal_hint)
}

/// The journal's lineage and head for a new plan; `None` when there is no journal yet.
pub fn journal_ref(global: &GlobalArgs) -> Result<Option<crate::plan::JournalRef>, Exit> {
    if !global.journal_path().exists() {
        return Ok(None);
    }
    read_journal(global)?
        .identity()
        .map(Some)
        .map_err(journal_hint)
}

fn journal_hint(e: crate::journal::JournalError) -> Exit {
    use crate::journal::JournalError;
    eprintln!("Error: {e}");
    match e {
        JournalError::Missing { .. } => eprintln!(
            "  hint: a journal is started once, explicitly, with `offboard journal init`; if CI lost its copy, restore it instead: a new journal forgets every run and manual task"
        ),
        JournalError::NotAJournal { .. } => {
            eprintln!("  hint: check --journal; an empty file is not a journal")
        }
        _ => {}
    }
    Exit::Error
}

pub fn runtime() -> Result<tokio::runtime::Runtime, Exit> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("Error: cannot start the async runtime: {e}");
            Exit::Error
        })
}
