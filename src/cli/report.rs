//! `offboard report PERSON`: the offboarding certificate, from the journal.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::{Exit, GlobalArgs, common};
use crate::audit::certificate;

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
    if !global.journal_path().exists() {
        eprintln!(
            "Error: no journal at {}; nothing has been applied yet",
            global.journal_path().display()
        );
        return Exit::Error;
    }
    // The journal records people by roster key; accept any identifier the roster knows.
    let key = common::load_policy(global)
        .ok()
        .and_then(|p| common::load_roster(global, &p).ok())
        .and_then(|r| {
            let query = crate::roster::PersonQuery {
                text: args.person.clone(),
                department: None,
            };
            crate::roster::identify(&r, &query)
                .ok()
                .map(|i| r.key_of(&r.people[i]))
        })
        .unwrap_or_else(|| args.person.clone());
    let journal = match common::read_journal(global) {
        Ok(j) => j,
        Err(e) => return e,
    };
    let cert = match certificate::certificate(&journal, &key) {
        Ok(Some(c)) => c,
        Ok(None) => {
            eprintln!("Error: the journal has no offboarding record for {key}");
            return Exit::Error;
        }
        Err(e) => return super::apply::journal_error(e),
    };
    let text = match args.format {
        ReportFormat::Text => certificate::text(&cert),
        ReportFormat::Json => certificate::json(&cert),
        ReportFormat::Html => certificate::html(&cert),
    };
    match args.output.as_deref().map(|p| global.resolve(p)) {
        Some(path) => {
            if let Err(e) =
                std::fs::write(&path, crate::connector::secret::redact(&text).as_bytes())
            {
                eprintln!("Error: cannot write {}: {e}", path.display());
                return Exit::Error;
            }
        }
        None => print!("{}", crate::connector::secret::redact(&text)),
    }
    if cert.chain_intact {
        Exit::Success
    } else {
        Exit::Error
    }
}
