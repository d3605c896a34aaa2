//! `offboard validate`: check the policy and report every problem at once.

use clap::Args;
use serde::Serialize;

use super::{Exit, Format, GlobalArgs};
use crate::policy::{self, RenderOptions, diagnostic};

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
    let dir = global.policies_dir();
    let result = policy::load_dir(&dir, &global.root).and_then(|p| against_roster(global, p));
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

/// With a readable roster, the fields conditions and `correlate` read are checked against
/// its columns (a misspelt `person.FIELD` would otherwise match nobody, silently).
fn against_roster(
    global: &GlobalArgs,
    policy: policy::Policy,
) -> Result<policy::Policy, policy::PolicyError> {
    let Some(source) = &policy.people else {
        return Ok(policy);
    };
    let roster = match crate::roster::load(source, &global.root, &policy.defaults.timezone) {
        Ok(r) => r,
        Err(e) => {
            if !global.quiet {
                eprintln!(
                    "Warning: the roster could not be read, so the fields the policy reads were not checked against it: {}",
                    e.problems.first().map_or("", |p| p.message.as_str())
                );
            }
            return Ok(policy);
        }
    };
    let diagnostics = policy.check_roster_fields(&roster.columns);
    if diagnostics.is_empty() {
        Ok(policy)
    } else {
        Err(policy::PolicyError {
            sources: std::sync::Arc::unwrap_or_clone(policy.sources.clone()),
            diagnostics,
        })
    }
}

fn print_json(value: &impl Serialize) {
    match serde_json::to_string_pretty(value) {
        Ok(s) => println!("{s}"),
        Err(e) => eprintln!("Error: cannot encode JSON: {e}"),
    }
}
