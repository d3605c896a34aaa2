//! The CLI's side of the operations: each step calls [`crate::ops`], and a failure is
//! printed one way ([`report`]: causes with their policy diagnostics, the error, details and
//! hint) and becomes `Err(Exit::Error)`, so commands read as a straight sequence of steps.
//! [`Stderr`] shows what operations observe: warnings, a progress bar, `-v` timings.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use super::{Exit, GlobalArgs};
use crate::ops::{self, OpError};
use crate::policy::{RenderOptions, diagnostic};

/// Print an operation's error and give the exit code for it.
pub fn report(global: &GlobalArgs, e: &OpError) -> Exit {
    let opts = RenderOptions {
        color: global.stderr_color(),
        ..RenderOptions::default()
    };
    let empty = crate::policy::Sources::default();
    let sources = e.sources.as_ref().unwrap_or(&empty);
    for cause in &e.causes {
        if let Some(message) = &cause.message {
            eprintln!("Error: {message}");
        }
        if !cause.diagnostics.is_empty() {
            eprint!(
                "{}",
                diagnostic::render_text(&cause.diagnostics, sources, opts)
            );
        }
        if let Some(hint) = &cause.hint {
            eprintln!("  hint: {hint}");
        }
    }
    eprintln!("Error: {}", e.message);
    for line in &e.details {
        eprintln!("  {line}");
    }
    if let Some(hint) = &e.hint {
        eprintln!("  hint: {hint}");
    }
    Exit::Error
}

/// What operations observe, on stderr: warnings (unless `-q`), a progress bar while systems
/// are read (on a terminal), and with `-v` how long each system took.
pub struct Stderr<'a> {
    global: &'a GlobalArgs,
    bar: Mutex<Option<ProgressBar>>,
    timed: AtomicUsize,
}

impl<'a> Stderr<'a> {
    pub fn new(global: &'a GlobalArgs) -> Self {
        Stderr {
            global,
            bar: Mutex::new(None),
            timed: AtomicUsize::new(0),
        }
    }

    fn clear_bar(&self) {
        if let Ok(mut bar) = self.bar.lock()
            && let Some(bar) = bar.take()
        {
            bar.finish_and_clear();
        }
    }
}

impl ops::Observer for Stderr<'_> {
    fn warn(&self, text: &str) {
        if !self.global.quiet {
            eprintln!("Warning: {text}");
        }
    }

    fn reading(&self, systems: usize) {
        if !std::io::stderr().is_terminal() || self.global.quiet {
            return;
        }
        let bar = ProgressBar::new(systems as u64);
        if let Ok(style) =
            ProgressStyle::with_template("refreshing {pos}/{len} systems {bar:30} {msg}")
        {
            bar.set_style(style);
        }
        if let Ok(mut slot) = self.bar.lock() {
            *slot = Some(bar);
        }
    }

    fn read_one(&self, name: &str) {
        if let Ok(bar) = self.bar.lock()
            && let Some(bar) = bar.as_ref()
        {
            bar.set_message(name.to_string());
            bar.inc(1);
        }
    }

    fn system_read(&self, name: &str, after: Duration, accounts: Option<usize>) {
        self.clear_bar();
        if self.global.verbose == 0 {
            return;
        }
        self.timed.fetch_add(1, Ordering::SeqCst);
        eprintln!(
            "refresh: {name} read in {} ms{}",
            after.as_millis(),
            accounts.map_or_else(
                || " (failed)".to_string(),
                |n| format!(", {n} {}", if n == 1 { "account" } else { "accounts" })
            )
        );
    }

    fn read_done(&self, after: Duration) {
        self.clear_bar();
        if self.global.verbose == 0 {
            return;
        }
        let n = self.timed.load(Ordering::SeqCst);
        eprintln!(
            "refresh: {n} {} in {} ms",
            if n == 1 { "system" } else { "systems" },
            after.as_millis()
        );
    }
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

/// Print `text` (a rendered plan, report or certificate) to stdout, or write it to `output`
/// (relative to `-C`); secrets are redacted either way.
pub fn emit(global: &GlobalArgs, output: Option<&Path>, text: &str) -> Result<(), Exit> {
    let text = crate::redact::redact(text);
    match output.map(|p| global.resolve(p)) {
        Some(path) => std::fs::write(&path, text.as_bytes()).map_err(|e| {
            eprintln!("Error: cannot write {}: {e}", path.display());
            Exit::Error
        }),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

/// Queue the escalations of overdue tasks and send the notifications the journal holds
/// undelivered (the run just queued its report, tasks and failures), unless `--no-notify`; what fails is a warning, never the run's
/// outcome (it is retried by the next run or by `offboard serve`).
pub fn send_notifications(global: &GlobalArgs, policy: &crate::policy::Policy) {
    if global.no_notify {
        return;
    }
    let ws = global.workspace();
    let now = jiff::Timestamp::now();
    // Tasks overdue past `escalate-after` are escalated by whichever runs first: this or
    // `offboard serve` (the message id is the task's, so only once).
    // The roster's warnings were shown when the run read it.
    struct Silent;
    impl crate::ops::Observer for Silent {
        fn warn(&self, _: &str) {}
    }
    let escalated = crate::ops::inputs::load_roster(ws, policy, &Silent)
        .and_then(|roster| crate::ops::notify::escalations(ws, policy, &roster, now));
    if let Err(e) = escalated {
        eprintln!(
            "{}",
            crate::escape::terminal(&format!("Warning: escalations not queued: {e}"))
        );
    }
    match crate::ops::notify::dispatch(ws, policy, now) {
        Ok(done) => {
            if done.delivered > 0 && !global.quiet {
                eprintln!(
                    "Notifications: {} {} delivered.",
                    done.delivered,
                    if done.delivered == 1 {
                        "message"
                    } else {
                        "messages"
                    }
                );
            }
            // One line per cause: a relay that is down fails every message alike.
            let mut causes: Vec<(&str, bool, Vec<&str>)> = Vec::new();
            for f in &done.failed {
                match causes
                    .iter_mut()
                    .find(|(e, g, _)| *e == f.error && *g == f.given_up)
                {
                    Some((_, _, who)) => who.push(&f.recipient),
                    None => causes.push((&f.error, f.given_up, vec![&f.recipient])),
                }
            }
            for (error, given_up, who) in causes {
                let mut named: Vec<&str> = Vec::new();
                for w in &who {
                    if !named.contains(w) {
                        named.push(w);
                    }
                }
                let shown = if named.len() > 5 {
                    format!("{} and {} more", named[..5].join(", "), named.len() - 5)
                } else {
                    named.join(", ")
                };
                let count = who.len();
                let noun = if count == 1 {
                    "notification"
                } else {
                    "notifications"
                };
                let next = if given_up {
                    "given up (no channel reaches it, or out of attempts): `offboard journal events` lists it"
                } else {
                    "retried by the next run or by `offboard serve`"
                };
                eprintln!(
                    "{}",
                    crate::escape::terminal(&format!(
                        "Warning: {count} {noun} to {shown} not delivered ({error}); {next}"
                    ))
                );
            }
        }
        Err(e) => eprintln!(
            "{}",
            crate::escape::terminal(&format!("Warning: notifications not sent: {e}"))
        ),
    }
}
