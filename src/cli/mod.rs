//! The command line: clap definitions and one module per command.
//!
//! This is the edge of the program: it reads arguments and the environment (`NO_COLOR`,
//! terminals), calls into the library, renders results and picks exit codes. Library
//! modules never print; commands here never decide policy.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub mod apply;
pub mod audit;
mod common;
pub mod journal;
pub mod leave;
pub mod plan;
pub mod report;
pub mod rollback;
pub mod schedule;
pub mod serve;
mod table;
pub mod tasks;
pub mod test;
pub mod validate;

/// Exit codes, following Terraform: 0 nothing to do, 1 error, 2 changes or findings present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Success = 0,
    Error = 1,
    Changes = 2,
}

#[derive(Debug, Parser)]
#[command(
    name = "offboard",
    version,
    about = "Declarative employee offboarding: plan and apply access removal from policy as code",
    long_about = "offboard reads your offboarding policy (policies/*.kdl), the HR roster and the live \
accounts of every connected system, and shows what must change for leavers as a reviewable plan.\n\n\
Start with `offboard validate` to check the policy, then `offboard plan`.",
    after_help = "Exit codes: 0 success, 1 error, 2 success with changes/findings (see each command)."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Policy repository root (holds policies/ and inventory/); every other relative path
    /// on the command line (--journal, --policies, --out, plan files, --output) is relative to it
    #[arg(
        short = 'C',
        long = "chdir",
        global = true,
        value_name = "DIR",
        default_value = "."
    )]
    pub root: PathBuf,
    /// Directory of policy files [default: DIR/policies]
    #[arg(long, global = true, value_name = "DIR")]
    pub policies: Option<PathBuf>,
    /// The journal: a SQLite file, or a PostgreSQL database shared by every runner
    /// (`postgres://USER@HOST/DB`; the password from PGPASSWORD or the file
    /// OFFBOARD_JOURNAL_PASSWORD_FILE names) [default: DIR/.offboard/journal.db]
    #[arg(long, global = true, value_name = "PATH|URL", env = "OFFBOARD_JOURNAL")]
    pub journal: Option<String>,
    /// When to use colour; NO_COLOR in the environment means never for `auto`
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// More detail on stderr (repeatable)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Accept a roster that lost more people since the last apply than `max-roster-drop`
    /// allows, or lists nobody (only when HR really removed them)
    #[arg(long, global = true)]
    pub allow_roster_drop: bool,
    /// Accept that SYSTEM reports no accounts although the last apply saw some (repeatable)
    #[arg(long, global = true, value_name = "SYSTEM")]
    pub allow_empty: Vec<String>,
    /// Also allow the roster and account exports to live under DIR (repeatable); by default
    /// they must resolve inside the policy repository, symlinks followed
    #[arg(long, global = true, value_name = "DIR")]
    pub data_root: Vec<PathBuf>,
    /// Send no notifications (dry runs, local experiments); messages are still journaled,
    /// and the next run or `offboard serve` sends them
    #[arg(
        long,
        global = true,
        env = "OFFBOARD_NO_NOTIFY",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub no_notify: bool,
    /// These options as the operations take them, built once per command.
    #[arg(skip)]
    workspace: std::sync::OnceLock<crate::ops::Workspace>,
}

impl GlobalArgs {
    /// The workspace operations run in: paths resolved, the operator's allowances.
    pub fn workspace(&self) -> &crate::ops::Workspace {
        self.workspace.get_or_init(|| crate::ops::Workspace {
            root: self.root.clone(),
            policies_dir: self.policies_dir(),
            journal: self.journal_location(),
            data_roots: self.data_root.clone(),
            allow_roster_drop: self.allow_roster_drop,
            allow_empty: self.allow_empty.clone(),
            ..Default::default()
        })
    }

    pub fn policies_dir(&self) -> PathBuf {
        self.policies
            .as_deref()
            .map_or_else(|| self.root.join("policies"), |p| self.resolve(p))
    }

    pub fn journal_location(&self) -> crate::journal::Location {
        match self.journal.as_deref() {
            Some(text) => crate::journal::Location::parse(text, |p| self.resolve(p)),
            None => crate::journal::Location::File(self.root.join(".offboard/journal.db")),
        }
    }

    /// A path from the command line: relative paths are relative to `-C DIR`, as with
    /// `terraform -chdir`, so one command line works from any working directory.
    pub fn resolve(&self, path: &std::path::Path) -> PathBuf {
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.root.join(path)
        }
    }

    /// Whether to colour output written to a stream that is (or is not) a terminal.
    pub fn color_for(&self, is_terminal: bool) -> bool {
        match self.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
        }
    }

    pub fn stderr_color(&self) -> bool {
        self.color_for(std::io::stderr().is_terminal())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// Output formats for commands with a text and a JSON form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse and check the policy: syntax, names, references, actions, secrets, conditions
    #[command(
        long_about = "Parse every policies/*.kdl file, check it as a whole and compile every \
condition. Prints one summary line when valid (exit 0); otherwise every problem with file, line, \
column and a hint (exit 1). --format json prints diagnostics for editors and CI."
    )]
    Validate(validate::ValidateArgs),
    /// Show what offboarding must change: leavers, accounts, actions and the rules behind them
    #[command(
        long_about = "Read the policy, the roster and every system's live accounts, and show what must change for leavers whose cutoff has passed (Terraform-style). Nothing is changed. Leavers whose cutoff is in the future are listed as scheduled; orphaned, disputed and exempt accounts are noted.\n\nExamples:\n  offboard plan\n  offboard plan -p john.doe@acme.com --out plan.json\n  offboard plan -p \"John\" --department \"Product Management\"\n  offboard plan --at 2026-11-28 --summary\n  offboard plan --format markdown > plan.md"
    )]
    Plan(plan::PlanArgs),
    /// Render a saved plan file
    Show(plan::ShowArgs),
    /// Carry out a plan: ordered, verified by read-back, journaled, then re-audited
    #[command(
        long_about = "Without PLANFILE: make a plan, show it and ask for a literal `yes` \
(--auto-approve skips the question). With PLANFILE (from `offboard plan --out`): the file is the \
approval; it is refused if the policy changed since (stale plan), and any account that changed \
since the plan is skipped. Systems are changed tier by tier (identity provider first), every \
change is confirmed by reading the account back and recorded in the journal, and a re-audit \
then reads every system again. Exit 0 only when no leaver of the plan keeps an active credential.\n\n\
Examples:\n  offboard plan --out plan.json && offboard apply plan.json\n  offboard apply --auto-approve"
    )]
    Apply(apply::ApplyArgs),
    /// Offboard one person now, guided: identify, choose, review, confirm, watch, summary
    #[command(
        long_about = "Name the person (email, username, employee id, or a name with \
--department; asked for on a terminal when omitted). When several people match, choose one from a \
numbered list (on a terminal; otherwise the candidates are listed and nothing changes). Their plan \
is made from a targeted read (each system is asked for their accounts only), shown, and applied \
after a literal `yes` (or --auto-approve), tier by tier, verified and journaled; the summary names \
the systems cut, the tasks opened, the re-audit's verdict and the certificate command. Someone the \
roster lists as active is refused.\n\nExamples:\n  offboard leave john.doe@acme.com\n  offboard leave \"John\" --department \"Product Management\"\n  offboard leave jdoe --auto-approve --format json"
    )]
    Leave(leave::LeaveArgs),
    /// Re-enable what an apply run disabled (a mistaken termination)
    Rollback(rollback::RollbackArgs),
    /// What will happen when: cutoffs, deletions when retention ends, task escalations
    #[command(
        long_about = "List every leaver's cutoff and deletion as the policy decides them, and every open task's escalation, earliest first, from the policy, the roster and the journal (no system is read). `offboard serve` applies each entry when its moment passes.\n\nExamples:\n  offboard schedule\n  offboard schedule --at 2026-12-24 --format json"
    )]
    Schedule(schedule::ScheduleArgs),
    /// Run continuously: HR webhooks, the scheduler, notifications, /healthz and /metrics
    #[command(
        long_about = "Serve one policy repository: accept HR webhooks at POST /hooks/hr/SOURCE (each `trigger` of the policy, signature checked, every accepted event journaled before it is answered), apply every leaver when their cutoff passes (and delete when retention ends), escalate overdue tasks, and send notifications. The policy is reloaded when the checked-out commit changes, and only from a clean, committed tree. One instance acts per journal (its lock). GET /healthz and GET /metrics (Prometheus) report how it goes. SIGTERM stops it after the change in flight is recorded.\n\nExamples:\n  offboard serve --listen 127.0.0.1:8080\n  offboard serve --journal postgres://offboard@db/offboard --listen 0.0.0.0:8080"
    )]
    Serve(serve::ServeArgs),
    /// Manual lanes: open, overdue and escalated tasks; `tasks done ID --note ...` closes one
    Tasks(tasks::TasksArgs),
    /// The journal of runs: `list`, `show RUN`, `verify`
    Journal(journal::JournalArgs),
    /// Find access offboarding missed: leavers still active, orphans, excess access, ...
    #[command(
        long_about = "Read every system (or --system NAME) and report findings: \
leaver-active and recreated (critical), orphan (high), disputed and excess-access (medium), \
stale-exemption and dormant (low). Formats: text, json, markdown, sarif (2.1.0, located at the \
policy line of each system), junit (one test case per finding: failed at or above --fail-on, skipped below it), html (one self-contained page). \
Exit 0 when clean, 2 when a finding is at least --fail-on (default high), 1 on error."
    )]
    Audit(audit::AuditArgs),
    /// The offboarding certificate for one leaver, from the journal (text, json, html)
    #[command(
        long_about = "Every system, account and action recorded for the person, with \
timestamps, attempts and read-back results, the runs' initiators, policy and plan hashes, and \
manual tasks with owners. States whether a re-audit confirmed zero active credentials and when, \
and verifies the journal's hash chain covering every cited record (exit 1 if it is broken)."
    )]
    Report(report::ReportArgs),
    /// Run the policy unit tests in policies/tests/*.kdl (exit 1 on failure; --format junit)
    Test(test::TestArgs),
}

pub fn run(cli: Cli) -> Exit {
    match &cli.command {
        Command::Validate(args) => validate::run(&cli.global, args),
        Command::Plan(args) => plan::run(&cli.global, args),
        Command::Show(args) => plan::show(&cli.global, args),
        Command::Apply(args) => apply::run(&cli.global, args),
        Command::Leave(args) => leave::run(&cli.global, args),
        Command::Rollback(args) => rollback::run(&cli.global, args),
        Command::Schedule(args) => schedule::run(&cli.global, args),
        Command::Serve(args) => serve::run(&cli.global, args),
        Command::Tasks(args) => tasks::run(&cli.global, args),
        Command::Journal(args) => journal::run(&cli.global, args),
        Command::Audit(args) => audit::run(&cli.global, args),
        Command::Report(args) => report::run(&cli.global, args),
        Command::Test(args) => test::run(&cli.global, args),
    }
}
