//! `offboard report PERSON`: the offboarding certificate, from the journal.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::common::{self, Stderr};
use super::{Exit, GlobalArgs};
use crate::audit::certificate;
use crate::ops;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
    Html,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The leaver: email, username or employee id (as in the roster), or the roster key
    pub person: String,
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
    /// Write the certificate to FILE instead of stdout
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

pub fn run(global: &GlobalArgs, args: &ReportArgs) -> Exit {
    let cert =
        match ops::report::certificate(global.workspace(), &args.person, &Stderr::new(global)) {
            Ok(cert) => cert,
            Err(e) => return common::report(global, &e),
        };
    let text = match args.format {
        ReportFormat::Text => certificate::text(&cert),
        ReportFormat::Json => certificate::json(&cert),
        ReportFormat::Html => certificate::html(&cert),
    };
    if let Err(exit) = common::emit(global, args.output.as_deref(), &text) {
        return exit;
    }
    // A certificate whose chain does not verify is shown (it says so) but is no evidence.
    if cert.chain_intact {
        Exit::Success
    } else {
        Exit::Error
    }
}
