//! `offboard leave [WHO]`: the guided offboarding of one person, as a conversation.
//!
//! Name the person (asked for on a terminal when omitted); when several people match, choose
//! one from a numbered list (on a terminal; otherwise the candidates are listed and nothing
//! happens); see that person's plan, made from a targeted read; confirm with `yes`; watch the
//! changes happen; read the summary: accounts and systems cut, tasks opened, the re-audit's
//! verdict, and the command that prints the certificate. `--auto-approve --format json` is
//! the same flow for scripts.

use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use clap::Args;
use serde::Serialize;

use super::apply::confirm;
use super::common::{self, Stderr};
use super::{Exit, Format, GlobalArgs};
use crate::apply::ChangeReport;
use crate::apply::retry::RetryPolicy;
use crate::journal::{ActionOutcome, RunOutcome, Verdict};
use crate::ops::leave::{Identified, Person};
use crate::ops::{self, OpError};
use crate::plan::render;
use crate::roster::PersonQuery;

#[derive(Debug, Args)]
pub struct LeaveArgs {
    /// Who is leaving: email, username, employee id or name (asked for on a terminal when
    /// omitted)
    pub who: Option<String>,
    /// With a name: only match people in this department
    #[arg(long, value_name = "DEPARTMENT")]
    pub department: Option<String>,
    /// Cut someone HR still lists as active (termination for cause, a compromised account):
    /// journals an emergency override that every plan applies (cutoff now, nothing deleted)
    /// until HR's export agrees or the run is rolled back; `offboard audit` reports it if HR
    /// has not agreed within `override-confirm-within`
    #[arg(long, requires = "reason")]
    pub emergency: bool,
    /// Why the emergency (journaled with the override)
    #[arg(long, value_name = "TEXT", requires = "emergency")]
    pub reason: Option<String>,
    /// The ticket that authorises the emergency (journaled with the override)
    #[arg(long, value_name = "ID", requires = "emergency")]
    pub ticket: Option<String>,
    /// Apply without asking (the plan is still shown)
    #[arg(long)]
    pub auto_approve: bool,
    /// `json`: the plan on stderr and a JSON summary on stdout, for scripts (needs
    /// --auto-approve)
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// What `leave --format json` prints.
#[derive(Debug, Serialize)]
struct Summary<'a> {
    person: &'a Person,
    run_id: Option<&'a str>,
    /// Accounts whose changes were confirmed by read-back, as `system/account`.
    accounts_cut: Vec<String>,
    systems_cut: Vec<&'a str>,
    failed: usize,
    tasks_opened: usize,
    verdict: Option<Verdict>,
    certificate: String,
    /// The emergency override journaled for this run.
    #[serde(skip_serializing_if = "Option::is_none")]
    emergency_override: Option<&'a str>,
}

pub fn run(global: &GlobalArgs, args: &LeaveArgs) -> Exit {
    match run_inner(global, args) {
        Ok(exit) | Err(exit) => exit,
    }
}

fn run_inner(global: &GlobalArgs, args: &LeaveArgs) -> Result<Exit, Exit> {
    let fail = |e: OpError| common::report(global, &e);
    let json = args.format == Format::Json;
    if json && !args.auto_approve {
        return Err(fail(
            OpError::new("`--format json` is for scripts, which cannot answer questions")
                .hint("add --auto-approve (the plan is still printed, on stderr)"),
        ));
    }
    let interactive = !json && std::io::stdin().is_terminal();
    let who = match &args.who {
        Some(who) => who.clone(),
        None if interactive => ask("Who is leaving? (email, username, employee id or name): ")
            .filter(|w| !w.is_empty())
            .ok_or_else(|| fail(OpError::new("nobody named; nothing was changed.")))?,
        None => {
            return Err(fail(OpError::new("name the person who is leaving").hint(
                "offboard leave EMAIL (or a username, an employee id, or a name with --department)",
            )));
        }
    };
    let ws = global.workspace();
    let observer = Stderr::new(global);
    let query = PersonQuery {
        text: who,
        department: args.department.clone(),
    };
    let person = match ops::leave::identify(ws, &query, &observer).map_err(fail)? {
        Identified::One(person) => person,
        Identified::Several(candidates) if interactive => choose(&candidates)
            .ok_or_else(|| fail(OpError::new("no one chosen; nothing was changed.")))?,
        Identified::Several(candidates) => {
            return Err(fail(
                OpError::new(format!(
                    "`{}` matches {} people; nothing was changed:",
                    query.text,
                    candidates.len()
                ))
                .details(candidates.iter().map(shown).collect())
                .hint("name one by email, username or employee id"),
            ));
        }
    };
    ops::leave::check_leaving(&person, args.emergency).map_err(fail)?;
    let emergency = match &args.reason {
        Some(reason) if args.emergency => Some(
            ops::leave::emergency(
                &person,
                &common::actor(global),
                reason,
                args.ticket.as_deref(),
            )
            .map_err(fail)?,
        ),
        _ => None,
    };
    if let Some(e) = &emergency {
        let hr = if person.leaving {
            "HR lists them as terminated already; the override makes the cutoff now"
        } else {
            "HR still lists them as active; every plan will treat them as a leaver cut now until HR agrees or this run is rolled back"
        };
        let esc = crate::escape::terminal;
        eprintln!(
            "EMERGENCY: {} <{}>. {hr}. Once approved, override {} is journaled (by {}: {}).",
            esc(&person.name),
            esc(&person.email),
            e.id,
            esc(&e.by),
            esc(&e.reason)
        );
    }

    let request = ops::apply::ApplyRequest {
        plan_file: None,
        at: None,
        persons: vec![person.email.clone()],
        department: None,
        allow_dirty: false,
        allow_mass_disable: false,
        concurrency: None,
        retry: RetryPolicy::default(),
        lock_timeout: Duration::from_secs(30),
        actor: common::actor(global),
        host: common::host(),
        trigger: format!(
            "leave {}{}",
            person.email,
            if emergency.is_some() {
                " --emergency"
            } else {
                ""
            }
        ),
        emergency: emergency.clone(),
        hold_for_approval: false,
    };
    let prepared = ops::apply::prepare(ws, &request, &observer).map_err(fail)?;
    let plan_text = render::text(
        &prepared.plan,
        render::TextOptions {
            color: global.color_for(if json {
                std::io::stderr().is_terminal()
            } else {
                std::io::stdout().is_terminal()
            }),
        },
    );
    let plan_text = crate::redact::redact(&plan_text);
    if json {
        eprint!("{plan_text}");
    } else {
        print!("{plan_text}");
    }
    let certificate = format!("offboard report {}", person.email);
    // An emergency is journaled even when nothing is left to cut (access removed by hand
    // already): from then on plans and audits treat the person as a leaver.
    if !prepared.plan.has_changes() && emergency.is_none() {
        let summary = Summary {
            person: &person,
            run_id: None,
            accounts_cut: Vec::new(),
            systems_cut: Vec::new(),
            failed: 0,
            tasks_opened: 0,
            verdict: None,
            certificate,
            emergency_override: None,
        };
        if json {
            print_json(&summary);
        } else {
            println!(
                "\nNothing to cut: {} holds no access the policy removes now.",
                person.name
            );
        }
        return Ok(Exit::Success);
    }
    let dirty = ops::apply::guard(ws, &request, &prepared).map_err(fail)?;
    if !args.auto_approve && !confirm(&format!("Cut {}'s access now?", person.name)) {
        eprintln!("Cancelled. Nothing was changed.");
        return Err(Exit::Error);
    }
    let quiet = global.quiet;
    let progress = |r: &ChangeReport| {
        if !quiet || r.outcome == ActionOutcome::Failed {
            eprintln!("{}", r.progress_line());
        }
    };
    let applied = ops::apply::execute(ws, &request, &prepared, dirty, &progress).map_err(fail)?;
    common::send_notifications(global, &prepared.policy);
    let cut: Vec<&ChangeReport> = applied
        .reports
        .iter()
        .filter(|r| matches!(r.outcome, ActionOutcome::Done | ActionOutcome::AlreadyDone))
        .collect();
    let mut systems: Vec<&str> = cut.iter().map(|r| r.change.system.as_str()).collect();
    systems.dedup();
    let verdict = applied.audit.first().map(|a| a.verdict);
    let summary = Summary {
        person: &person,
        run_id: Some(&applied.run_id),
        accounts_cut: cut
            .iter()
            .map(|r| {
                let account = r.change.account.as_ref().map_or("", |a| a.id.as_str());
                format!("{}/{account}", r.change.system)
            })
            .collect(),
        systems_cut: systems,
        failed: applied.counts.failed,
        tasks_opened: applied.counts.tasks_opened,
        verdict,
        certificate,
        emergency_override: emergency.as_ref().map(|e| e.id.as_str()),
    };
    if json {
        print_json(&summary);
    } else {
        print!("{}", summary_text(&summary));
    }
    Ok(if applied.outcome == RunOutcome::Success {
        Exit::Success
    } else {
        Exit::Error
    })
}

fn print_json(summary: &Summary<'_>) {
    println!(
        "{}",
        serde_json::to_string_pretty(summary).unwrap_or_default()
    );
}

fn summary_text(s: &Summary<'_>) -> String {
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let verdict = match s.verdict {
        Some(Verdict::Green) => "GREEN: no active credential left",
        Some(Verdict::Yellow) => "YELLOW: no active credential left; manual tasks pending",
        Some(Verdict::Red) => "RED: access remains, see above",
        None => "not re-audited",
    };
    let mut out = format!(
        "\n{} <{}>: {} cut in {} ({}), {}{}.\nVerification: {verdict}.\nCertificate: {}\n",
        crate::escape::terminal(&s.person.name),
        crate::escape::terminal(&s.person.email),
        plural(s.accounts_cut.len(), "account", "accounts"),
        plural(s.systems_cut.len(), "system", "systems"),
        s.systems_cut.join(", "),
        plural(s.tasks_opened, "manual task opened", "manual tasks opened"),
        if s.failed > 0 {
            format!(", {} FAILED", plural(s.failed, "change", "changes"))
        } else {
            String::new()
        },
        s.certificate
    );
    if let Some(run) = s.run_id {
        out.push_str(&format!("Run: {run} (offboard journal show {run})\n"));
    }
    if let (Some(id), Some(run)) = (s.emergency_override, s.run_id) {
        out.push_str(&format!(
            "Emergency override: {id}, in force until HR's export agrees; if this was a mistake, `offboard rollback {run}` restores the access and revokes it.\n"
        ));
    }
    out
}

/// A person as a line for the operator (roster values escaped for the terminal).
fn shown(p: &Person) -> String {
    let esc = crate::escape::terminal;
    format!(
        "{} <{}>, {} ({}{})",
        esc(&p.name),
        esc(&p.email),
        esc(&p.department),
        p.status,
        p.emergency_override
            .as_deref()
            .map(|id| format!(", cut by emergency override {id}"))
            .unwrap_or_default()
    )
}

/// One line from the terminal, trimmed; `None` on end of input.
fn ask(prompt: &str) -> Option<String> {
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    match std::io::stdin().lock().read_line(&mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(line.trim().to_string()),
    }
}

/// A numbered choice among `candidates`; `None` when the answer is not one of the numbers.
fn choose(candidates: &[Person]) -> Option<Person> {
    eprintln!("Several people match:");
    for (n, c) in candidates.iter().enumerate() {
        eprintln!("  {}) {}", n + 1, shown(c));
    }
    let answer = ask(&format!("Which one? [1-{}]: ", candidates.len()))?;
    let n: usize = answer.parse().ok()?;
    candidates.get(n.checked_sub(1)?).cloned()
}
