//! `offboard plan` and `offboard show`: compute or re-render a plan. Nothing is changed.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::{Exit, GlobalArgs, common};
use crate::ops;
use crate::plan::{self, Plan, render};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    Text,
    Json,
    Markdown,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Plan only for this person: email, username, employee id or name (repeatable)
    #[arg(short = 'p', long = "person", value_name = "PERSON")]
    pub persons: Vec<String>,
    /// With a name in --person: only match people in this department
    #[arg(long, value_name = "DEPARTMENT", requires = "persons")]
    pub department: Option<String>,
    /// Also save the plan (JSON) to FILE, for `offboard apply FILE`
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
    /// Exit 2 when the plan has changes (0 when none, 1 on error)
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Plan as of another instant (2026-11-28, or RFC 3339): a future one previews scheduled
    /// cutoffs and deletions, a past one reproduces an old plan; nothing is changed either way
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// Only counts per system and per person
    #[arg(long)]
    pub summary: bool,
    /// Show the impact of the policy change since REV (a git revision, read from git
    /// objects; nothing is checked out): both policies are planned against the same live state
    #[arg(long, value_name = "REV")]
    pub compare: Option<String>,
    /// Read systems with the connector settings (URLs, credential sources) of REV where the
    /// planned policy changes them [default: the REV of --compare, else the commit the journal
    /// last applied]: a pull request cannot send a credential to a new endpoint
    #[arg(long, value_name = "REV")]
    pub trust: Option<String>,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A plan file written by `offboard plan --out`
    pub plan: PathBuf,
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
    /// Only counts per system and per person
    #[arg(long)]
    pub summary: bool,
}

pub fn run(global: &GlobalArgs, args: &PlanArgs) -> Exit {
    if let Some(rev) = &args.compare {
        return match compare(global, args, rev) {
            Ok(e) | Err(e) => e,
        };
    }
    let observer = common::Stderr::new(global);
    match ops::plan::plan(global.workspace(), &args.request(), &observer) {
        Ok(plan) => {
            if let Some(out) = args.out.as_deref().map(|p| global.resolve(p)) {
                if let Err(e) = plan::write_file(&out, &plan) {
                    eprintln!("Error: {e}");
                    return Exit::Error;
                }
                if !global.quiet && plan.has_changes() {
                    eprintln!(
                        "Saved the plan to {}; apply it with `offboard apply {}`.",
                        out.display(),
                        out.display()
                    );
                } else if !global.quiet {
                    eprintln!(
                        "Saved the plan to {}; it has no changes, so there is nothing to apply.",
                        out.display()
                    );
                }
            }
            print(global, &plan, args.format, args.summary);
            if args.detailed_exitcode && plan.has_changes() {
                Exit::Changes
            } else {
                Exit::Success
            }
        }
        Err(e) => common::report(global, &e),
    }
}

pub fn show(global: &GlobalArgs, args: &ShowArgs) -> Exit {
    match plan::read_file(&global.resolve(&args.plan)) {
        Ok(plan) => {
            print(global, &plan, args.format, args.summary);
            Exit::Success
        }
        Err(e) => {
            eprintln!("Error: {e}");
            Exit::Error
        }
    }
}

fn print(global: &GlobalArgs, plan: &Plan, format: PlanFormat, summary: bool) {
    let opts = render::TextOptions {
        color: global.color_for(std::io::stdout().is_terminal()),
    };
    let text = match (format, summary) {
        (PlanFormat::Json, _) => plan.to_json(),
        (PlanFormat::Markdown, _) => render::markdown(plan),
        (PlanFormat::Text, true) => render::summary(plan, opts),
        (PlanFormat::Text, false) => render::text(plan, opts),
    };
    // Whatever a system returned, a resolved secret never reaches the terminal.
    let _ = common::emit(global, None, &text);
}

impl PlanArgs {
    /// The operation's request (output options stay with the CLI).
    pub fn request(&self) -> ops::plan::PlanRequest {
        ops::plan::PlanRequest {
            persons: self.persons.clone(),
            department: self.department.clone(),
            at: self.at.clone(),
            trust: self.trust.clone(),
        }
    }
}

/// `plan --compare REV`: what the policy change since REV does to the same live state.
fn compare(global: &GlobalArgs, args: &PlanArgs, rev: &str) -> Result<Exit, Exit> {
    let observer = common::Stderr::new(global);
    let c = ops::plan::compare(global.workspace(), &args.request(), rev, &observer)
        .map_err(|e| common::report(global, &e))?;
    let markdown = args.format == PlanFormat::Markdown;
    let text = crate::plan::compare::render(&c.before, &c.after, &c.from, &c.to, markdown);
    common::emit(global, None, &text)?;
    let changed = !crate::plan::compare::impact(&c.before, &c.after).is_empty();
    Ok(if args.detailed_exitcode && changed {
        Exit::Changes
    } else {
        Exit::Success
    })
}
