//! `offboard validate`: check the policy and report every problem at once.

use clap::Args;
use serde::Serialize;

use super::common::Stderr;
use super::{Exit, Format, GlobalArgs};
use crate::ops;
use crate::policy::{RenderOptions, diagnostic};

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Output format: text for humans, json for editors and CI
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    valid: bool,
    summary: Option<String>,
    systems: usize,
    roles: usize,
    rules: usize,
    diagnostics: &'a [diagnostic::JsonDiagnostic],
}

pub fn run(global: &GlobalArgs, args: &ValidateArgs) -> Exit {
    let result = ops::inputs::validate(global.workspace(), &Stderr::new(global));
    match (args.format, result) {
        (Format::Text, Ok(p)) => {
            println!("{}: valid", p.summary());
            Exit::Success
        }
        (Format::Text, Err(e)) => {
            let opts = RenderOptions {
                color: global.stderr_color(),
                ..RenderOptions::default()
            };
            eprint!(
                "{}",
                diagnostic::render_text(&e.diagnostics, &e.sources, opts)
            );
            eprintln!("Error: {}; nothing was changed.", e);
            Exit::Error
        }
        (Format::Json, Ok(p)) => {
            print_json(&JsonReport {
                valid: true,
                summary: Some(p.summary()),
                systems: p.systems.len(),
                roles: p.roles.len(),
                rules: p.rules.len(),
                diagnostics: &[],
            });
            Exit::Success
        }
        (Format::Json, Err(e)) => {
            let diags = diagnostic::to_json(&e.diagnostics, &e.sources);
            print_json(&JsonReport {
                valid: false,
                summary: None,
                systems: 0,
                roles: 0,
                rules: 0,
                diagnostics: &diags,
            });
            Exit::Error
        }
    }
}

fn print_json(value: &impl Serialize) {
    match serde_json::to_string_pretty(value) {
        Ok(s) => println!("{s}"),
        Err(e) => eprintln!("Error: cannot encode JSON: {e}"),
    }
}
