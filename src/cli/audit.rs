//! `offboard audit`: orphaned access and other findings, in the format a reader needs.

use std::collections::HashSet;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::{Exit, GlobalArgs, common};
use crate::audit::{self, AuditError, AuditInput, Severity, render};
use crate::journal::{Record, Verdict};
use crate::policy::{RenderOptions, diagnostic};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuditFormat {
    Text,
    Json,
    Markdown,
    Sarif,
    Junit,
    Html,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only these systems (repeatable)
    #[arg(long = "system", value_name = "NAME")]
    pub systems: Vec<String>,
    #[arg(long, value_enum, default_value_t = AuditFormat::Text)]
    pub format: AuditFormat,
    /// Write the report to FILE instead of stdout
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Exit 2 when a finding is at least this severe
    #[arg(long, value_enum, default_value_t = Severity::High)]
    pub fail_on: Severity,
    /// Audit as of another instant (2026-11-28, or RFC 3339)
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
}

/// People whose offboarding the journal records as complete (no active credential left).
fn offboarded(global: &GlobalArgs) -> Result<HashSet<String>, Exit> {
    let path = global.journal_path();
    if !path.exists() {
        return Ok(HashSet::new());
    }
    let journal = common::read_journal(global)?;
    let mut out = HashSet::new();
    for r in journal.records().map_err(super::apply::journal_error)? {
        if let Record::RunFinish(finish) = r.record().map_err(super::apply::journal_error)? {
            for l in finish.leavers {
                if l.verdict != Verdict::Red {
                    out.insert(l.person.to_lowercase());
                }
            }
        }
    }
    Ok(out)
}

pub fn run(global: &GlobalArgs, args: &AuditArgs) -> Exit {
    match run_inner(global, args) {
        Ok(e) | Err(e) => e,
    }
}

fn run_inner(global: &GlobalArgs, args: &AuditArgs) -> Result<Exit, Exit> {
    let policy = common::load_policy(global)?;
    for s in &args.systems {
        if policy.system(s).is_none() {
            eprintln!("Error: --system {s}: no such system in the policy");
            return Err(Exit::Error);
        }
    }
    let roster = common::load_roster(global, &policy)?;
    let now = common::parse_at(args.at.as_deref(), &policy)?;
    let offboarded = offboarded(global)?;
    let keep = audit::relevance(&policy, &roster, now);
    let observed = common::refresh_keeping(global, &policy, &keep)?;
    let report = audit::audit(&AuditInput {
        policy: &policy,
        roster: &roster,
        observed: &observed,
        now,
        offboarded: &offboarded,
        systems: &args.systems,
    })
    .map_err(|e| {
        match &e {
            AuditError::Role { diagnostic: d, .. } => {
                let opts = RenderOptions {
                    color: global.stderr_color(),
                    ..RenderOptions::default()
                };
                eprint!(
                    "{}",
                    diagnostic::render_text(
                        std::slice::from_ref(d.as_ref()),
                        &policy.sources,
                        opts
                    )
                );
            }
            AuditError::Plan(crate::reconcile::PlanError::Conditions(failures)) => {
                let opts = RenderOptions {
                    color: global.stderr_color(),
                    ..RenderOptions::default()
                };
                for f in failures {
                    eprint!(
                        "{}",
                        diagnostic::render_text(
                            std::slice::from_ref(&f.diagnostic),
                            &policy.sources,
                            opts
                        )
                    );
                }
            }
            AuditError::Plan(_) => {}
        }
        eprintln!("Error: {e}");
        Exit::Error
    })?;
    let text = match args.format {
        AuditFormat::Text => render::text(&report),
        AuditFormat::Json => render::json(&report),
        AuditFormat::Markdown => render::markdown(&report),
        AuditFormat::Sarif => render::sarif(&report),
        AuditFormat::Junit => render::junit(&report, args.fail_on),
        AuditFormat::Html => render::html(&report),
    };
    match args.output.as_deref().map(|p| global.resolve(p)) {
        Some(path) => {
            std::fs::write(&path, crate::connector::secret::redact(&text).as_bytes()).map_err(
                |e| {
                    eprintln!("Error: cannot write {}: {e}", path.display());
                    Exit::Error
                },
            )?;
            if !global.quiet {
                eprintln!(
                    "Wrote the audit ({} findings) to {}.",
                    report.findings.len(),
                    path.display()
                );
            }
        }
        None => print!("{}", crate::connector::secret::redact(&text)),
    }
    Ok(if report.worst().is_some_and(|w| w >= args.fail_on) {
        Exit::Changes
    } else {
        Exit::Success
    })
}
