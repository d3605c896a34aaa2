//! `offboard audit`: orphaned access and other findings, in the format a reader needs.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::common::{self, Stderr};
use super::{Exit, GlobalArgs};
use crate::audit::{Severity, render};
use crate::ops::{self, audit::AuditRequest};

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

pub fn run(global: &GlobalArgs, args: &AuditArgs) -> Exit {
    let request = AuditRequest {
        systems: args.systems.clone(),
        at: args.at.clone(),
    };
    let report = match ops::audit::audit(global.workspace(), &request, &Stderr::new(global)) {
        Ok(report) => report,
        Err(e) => return common::report(global, &e),
    };
    let text = match args.format {
        AuditFormat::Text => render::text(&report),
        AuditFormat::Json => render::json(&report),
        AuditFormat::Markdown => render::markdown(&report),
        AuditFormat::Sarif => render::sarif(&report),
        AuditFormat::Junit => render::junit(&report, args.fail_on),
        AuditFormat::Html => render::html(&report),
    };
    if let Err(exit) = common::emit(global, args.output.as_deref(), &text) {
        return exit;
    }
    if let Some(path) = &args.output
        && !global.quiet
    {
        eprintln!(
            "Wrote the audit ({} findings) to {}.",
            report.findings.len(),
            global.resolve(path).display()
        );
    }
    if report.worst().is_some_and(|w| w >= args.fail_on) {
        Exit::Changes
    } else {
        Exit::Success
    }
}
