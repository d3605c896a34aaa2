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
    roster::load(source, &global.root, &policy.defaults.timezone).map_err(|e| {
        eprintln!("Error: {e}");
        Exit::Error
    })
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
        .filter(|s| s.connector.kind() != crate::policy::ConnectorKind::Manual)
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
    let on_done = |name: &str| {
        bar.set_message(name.to_string());
        bar.inc(1);
    };
    let observed = runtime.block_on(connector::refresh_keeping(
        policy,
        &global.root,
        &on_done,
        keep,
    ));
    bar.finish_and_clear();
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
    crate::journal::Journal::open(&path)
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

pub fn open_journal(global: &GlobalArgs) -> Result<crate::journal::Journal, Exit> {
    crate::journal::Journal::open(&global.journal_path()).map_err(|e| {
        eprintln!("Error: {e}");
        Exit::Error
    })
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
