//! `offboard serve`: HR webhooks, the scheduler, notifications, /healthz and /metrics.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

use super::{Exit, GlobalArgs, common};
use crate::apply::retry::RetryPolicy;
use crate::policy::duration;
use crate::server::{self, clock::Clock};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (put a TLS-terminating proxy in front of it)
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// How often the scheduler looks for cutoffs, deletions and escalations the clock passed
    #[arg(long, value_name = "DURATION", default_value = "1m")]
    pub tick: String,
    /// How often everything is planned and applied regardless of the schedule (catches
    /// accounts recreated, systems that were down, and people the export added with a
    /// cutoff already past)
    #[arg(long, value_name = "DURATION", default_value = "15m")]
    pub reconcile_every: String,
    /// Retries per call for temporary errors, with exponential backoff
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub max_retries: usize,
    /// How long a run waits for another apply holding the journal lock
    #[arg(long, value_name = "DURATION", default_value = "5m")]
    pub lock_timeout: String,
    /// Read the present from this file (an RFC 3339 instant) instead of the system clock:
    /// for drills and tests of the scheduler only
    #[arg(long, value_name = "FILE", hide = true)]
    pub clock_file: Option<PathBuf>,
}

fn parse_duration(flag: &str, text: &str) -> Result<std::time::Duration, Exit> {
    // Milliseconds too, for ticks in drills and tests.
    if let Some(ms) = text
        .strip_suffix("ms")
        .and_then(|n| n.trim().parse::<u64>().ok())
    {
        return Ok(std::time::Duration::from_millis(ms));
    }
    duration::parse(text, duration::Sign::Unsigned)
        .map(|d| d.unsigned_abs())
        .map_err(|e| {
            eprintln!(
                "Error: --{flag}: {e}\n  hint: write a number and a unit, e.g. 30s, 5m or 1h"
            );
            Exit::Error
        })
}

pub fn run(global: &GlobalArgs, args: &ServeArgs) -> Exit {
    let durations = (|| {
        Ok::<_, Exit>((
            parse_duration("tick", &args.tick)?,
            parse_duration("reconcile-every", &args.reconcile_every)?,
            parse_duration("lock-timeout", &args.lock_timeout)?,
        ))
    })();
    let (tick, reconcile_every, lock_timeout) = match durations {
        Ok(d) => d,
        Err(exit) => return exit,
    };
    let options = server::Options {
        listen: args.listen,
        tick,
        reconcile_every,
        clock: args
            .clock_file
            .as_deref()
            .map_or(Clock::System, |p| Clock::File(global.resolve(p))),
        // Runs are made by the service, not by whoever last configured git here.
        actor: std::env::var("OFFBOARD_ACTOR")
            .ok()
            .map(|a| a.trim().to_string())
            .filter(|a| !a.is_empty())
            .unwrap_or_else(|| {
                format!(
                    "offboard serve ({})",
                    std::env::var("USER").unwrap_or_else(|_| "unknown user".into())
                )
            }),
        host: common::host(),
        retry: RetryPolicy {
            max_retries: args.max_retries,
            ..RetryPolicy::default()
        },
        lock_timeout,
        notify: !global.no_notify,
    };
    match server::run(global.workspace().fresh(), options) {
        Ok(()) => Exit::Success,
        Err(e) => common::report(global, &e),
    }
}
