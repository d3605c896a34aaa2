//! `offboard plan` and `offboard show`: compute or re-render a plan. Nothing is changed.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::{Exit, GlobalArgs, common};
use crate::plan::{self, Plan, render};
use crate::policy::{RenderOptions, diagnostic};
use crate::reconcile::{self, PlanError, PlanInput};
use crate::roster::{self, PersonQuery};

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
    match make_plan(global, args) {
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
        Err(exit) => exit,
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
    print!("{}", crate::connector::secret::redact(&text));
}

/// Policy, roster, live state -> plan; every failure printed with a hint. Systems are read
/// with the trusted revision's connector settings (see [`crate::policy::pin_to_trusted`]).
pub fn make_plan(global: &GlobalArgs, args: &PlanArgs) -> Result<Plan, Exit> {
    let policy = common::load_policy(global)?;
    let roster = common::load_roster(global, &policy)?;
    let (read, notes) = match trusted_policy(global, args.trust.as_deref())? {
        Some((trusted, label)) => crate::policy::pin_to_trusted(&policy, &trusted, &label),
        None => (policy.clone(), Vec::new()),
    };
    // Said before reading, so an operator sees it even when a read then fails.
    for note in &notes {
        eprintln!("Warning: {note}");
    }
    let mut plan = plan_reading(global, args, &policy, &read, &roster)?;
    plan.warnings.extend(notes);
    Ok(plan)
}

/// The reviewed policy that decides where credentials may go: `--trust REV`, else the commit
/// the journal last applied; `None` when there is neither (a first run).
fn trusted_policy(
    global: &GlobalArgs,
    rev: Option<&str>,
) -> Result<Option<(crate::policy::Policy, String)>, Exit> {
    let rev = match rev {
        Some(r) => r.to_string(),
        None => match common::last_applied_commit(global)? {
            Some(c) => c,
            None => return Ok(None),
        },
    };
    let short =
        crate::vcs::short_commit(&global.policies_dir(), &rev).unwrap_or_else(|| rev.clone());
    let files = crate::vcs::policy_at(&global.policies_dir(), &global.root, &rev).map_err(|e| {
        eprintln!("Error: the trusted revision {rev}: {e}\n  hint: --trust takes a git revision of the policy repository, e.g. origin/main");
        Exit::Error
    })?;
    let policy = crate::policy::load_texts(files).map_err(|e| {
        eprintln!("Error: the policy at the trusted revision {rev} is invalid ({e}); systems cannot be read safely");
        Exit::Error
    })?;
    Ok(Some((policy, format!("the trusted revision {short}"))))
}

/// The planning step alone, for commands that already loaded policy and roster (`apply`
/// plans a committed, reviewed policy: it reads with that policy's own settings).
pub fn plan_with(
    global: &GlobalArgs,
    args: &PlanArgs,
    policy: &crate::policy::Policy,
    roster: &crate::roster::Roster,
) -> Result<Plan, Exit> {
    plan_reading(global, args, policy, policy, roster)
}

/// Plan `policy`, reading live systems as `read` (the same policy, or one whose connector
/// settings were pinned to a trusted revision).
fn plan_reading(
    global: &GlobalArgs,
    args: &PlanArgs,
    policy: &crate::policy::Policy,
    read: &crate::policy::Policy,
    roster: &crate::roster::Roster,
) -> Result<Plan, Exit> {
    let (policy, roster) = (policy, roster);
    let known_tasks = common::known_tasks(global)?;
    let now = common::parse_at(args.at.as_deref(), policy)?;

    let mut only = Vec::new();
    for text in &args.persons {
        let query = PersonQuery {
            text: text.clone(),
            department: args.department.clone(),
        };
        match roster::identify(roster, &query) {
            Ok(i) => only.push(i),
            Err(e) => {
                eprintln!("Error: {e}");
                if let roster::IdentifyError::NotFound { similar, .. } = &e
                    && !similar.is_empty()
                {
                    eprintln!("  did you mean:");
                    for c in similar {
                        eprintln!("    {c}");
                    }
                }
                return Err(Exit::Error);
            }
        }
    }
    only.sort_unstable();
    only.dedup();

    let only = (!args.persons.is_empty()).then_some(only.as_slice());
    let keep = crate::reconcile::plan_relevance(policy, roster, only);
    let observed = common::refresh_keeping(global, read, &keep)?;
    let provenance = crate::vcs::provenance(&global.policies_dir());
    plan_against(
        global,
        policy,
        roster,
        &observed,
        now,
        only,
        &known_tasks,
        provenance.as_ref(),
    )
}

/// Plan one policy against already-refreshed live state.
#[allow(clippy::too_many_arguments)]
pub fn plan_against(
    global: &GlobalArgs,
    policy: &crate::policy::Policy,
    roster: &crate::roster::Roster,
    observed: &crate::connector::Observed,
    now: jiff::Timestamp,
    only: Option<&[usize]>,
    known_tasks: &std::collections::HashSet<(String, String)>,
    provenance: Option<&crate::vcs::Provenance>,
) -> Result<Plan, Exit> {
    let input = PlanInput {
        policy,
        roster,
        observed,
        now,
        only,
        known_tasks: Some(known_tasks),
        git_commit: provenance.and_then(|p| p.commit.clone()),
        dirty: provenance.map(|p| p.dirty()),
    };
    let journal = common::journal_ref(global)?;
    let mut plan = reconcile::plan(&input).map_err(|e| {
        match &e {
            PlanError::Conditions(failures) => {
                let opts = RenderOptions {
                    color: global.stderr_color(),
                    ..RenderOptions::default()
                };
                // Once per rule, naming whom it failed for (the first failure shown): the
                // same diagnostic for every person says nothing more and buries the next rule.
                let mut seen: Vec<&str> = Vec::new();
                for f in failures {
                    if seen.contains(&f.rule.as_str()) {
                        continue;
                    }
                    seen.push(&f.rule);
                    let people: Vec<&str> = failures
                        .iter()
                        .filter(|g| g.rule == f.rule)
                        .map(|g| g.person.as_str())
                        .collect();
                    let shown = people
                        .iter()
                        .take(3)
                        .copied()
                        .collect::<Vec<_>>()
                        .join(", ");
                    let more = people.len().saturating_sub(3);
                    eprintln!(
                        "Error: the condition of rule `{}` failed for {} {} ({shown}{})",
                        f.rule,
                        people.len(),
                        if people.len() == 1 {
                            "person"
                        } else {
                            "people"
                        },
                        if more > 0 {
                            format!(" and {more} more")
                        } else {
                            String::new()
                        }
                    );
                    eprint!(
                        "{}",
                        diagnostic::render_text(
                            std::slice::from_ref(&f.diagnostic),
                            &policy.sources,
                            opts
                        )
                    );
                }
                eprintln!("Error: {e}");
            }
            PlanError::Refresh(_) => eprintln!("Error: {e}"),
        }
        Exit::Error
    })?;
    plan.journal = journal;
    Ok(plan)
}

/// `plan --compare REV`: the policy at REV and the working tree, planned against the same
/// roster and live state, and what differs.
fn compare(global: &GlobalArgs, args: &PlanArgs, rev: &str) -> Result<Exit, Exit> {
    let policy = common::load_policy(global)?;
    let roster = common::load_roster(global, &policy)?;
    let dir = global.policies_dir();
    let old_files = crate::vcs::policy_at(&dir, &global.root, rev).map_err(|e| {
        eprintln!("Error: {e}\n  hint: --compare takes a git revision of the policy repository, e.g. origin/main or HEAD~1");
        Exit::Error
    })?;
    let old_policy = crate::policy::load_texts(old_files).map_err(|e| {
        let opts = RenderOptions {
            color: global.stderr_color(),
            ..RenderOptions::default()
        };
        eprint!(
            "{}",
            diagnostic::render_text(&e.diagnostics, &e.sources, opts)
        );
        eprintln!("Error: the policy at {rev} is invalid; it cannot be compared");
        Exit::Error
    })?;
    let now = common::parse_at(args.at.as_deref(), &policy)?;
    let known = common::known_tasks(global)?;
    // Systems of both revisions are read once, into one snapshot, with the connector
    // settings of the trusted revision (the compared one unless --trust says otherwise).
    let (read, trust_notes) = match args.trust.as_deref() {
        Some(t) => match trusted_policy(global, Some(t))? {
            Some((trusted, label)) => crate::policy::pin_to_trusted(&policy, &trusted, &label),
            None => (policy.clone(), Vec::new()),
        },
        None => crate::policy::pin_to_trusted(
            &policy,
            &old_policy,
            &format!("{rev} (the compared revision)"),
        ),
    };
    for note in &trust_notes {
        eprintln!("Warning: {note}");
    }
    let mut observed = common::refresh(global, &read)?;
    let missing: Vec<_> = old_policy
        .systems
        .iter()
        .filter(|s| policy.system(s.name()).is_none())
        .cloned()
        .collect();
    if !missing.is_empty() {
        let mut only_old = old_policy.clone();
        only_old.systems = missing;
        // A system the change removes may have lost its export too: read what can be read
        // and plan the old policy without the rest, saying so.
        let runtime = common::runtime()?;
        let extra = runtime.block_on(crate::connector::refresh(&only_old, &global.root, &|_| {}));
        for (name, e) in &extra.failures {
            eprintln!(
                "Warning: {name} (only in {rev}) could not be read ({}); it is left out of the comparison",
                e.message
            );
        }
        observed.systems.extend(extra.systems);
    }
    let provenance = crate::vcs::provenance(&dir);
    let before = plan_against(
        global,
        &old_policy,
        &roster,
        &observed,
        now,
        None,
        &known,
        None,
    )?;
    let after = plan_against(
        global,
        &policy,
        &roster,
        &observed,
        now,
        None,
        &known,
        provenance.as_ref(),
    )?;
    let from = crate::vcs::short_commit(&dir, rev)
        .map_or_else(|| rev.to_string(), |c| format!("{rev} ({c})"));
    let to = match &provenance {
        Some(p) if p.dirty() => "the working tree".to_string(),
        Some(p) => p
            .commit
            .as_deref()
            .map_or("the working tree".to_string(), |c| {
                format!("HEAD ({})", &c[..7])
            }),
        None => "the working tree".to_string(),
    };
    let markdown = args.format == PlanFormat::Markdown;
    print!(
        "{}",
        crate::plan::compare::render(&before, &after, &from, &to, markdown)
    );
    let changed = !crate::plan::compare::impact(&before, &after).is_empty();
    Ok(if args.detailed_exitcode && changed {
        Exit::Changes
    } else {
        Exit::Success
    })
}
