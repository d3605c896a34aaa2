//! Applying as an operation, in the two steps an operator sees: [`prepare`] makes (or reads)
//! the plan and checks everything that needs no lock, [`guard`] refuses what must not run
//! unreviewed (uncommitted policy, implausible mass changes), and after approval [`execute`]
//! takes the journal lock, refuses a plan made against another journal, journals the run,
//! drives the executor tier by tier, re-reads every system and journals the verdict.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::journal::{self, evidence};
use super::{Observer, OpError, Workspace, inputs};
use crate::apply::retry::{RetryPolicy, Retrying};
use crate::apply::{ChangeReport, Executor, Target, guard as guards, reaudit};
use crate::connector::{self, ConnectorError};
use crate::journal::{
    ActionOutcome, ApplyCounts, JournalLock, LeaverAudit, LeaverRecord, OverrideRecord, Record,
    RunFinish, RunMode, RunOutcome, RunStart, Verdict,
};
use crate::plan::{self, Plan};
use crate::policy::{Action, Policy};
use crate::roster::Roster;
use crate::roster::emergency::{self, Emergency};

/// What to apply and how.
#[derive(Debug, Clone)]
pub struct ApplyRequest {
    /// A saved plan (the approval); planned now when `None`.
    pub plan_file: Option<PathBuf>,
    /// Plan as of an earlier instant (only without a plan file); a future one is refused.
    pub at: Option<String>,
    /// Only these people (without a plan file; `apply -p`), their accounts looked up rather
    /// than every account listed.
    pub persons: Vec<String>,
    /// With a name in `persons`: only people in this department.
    pub department: Option<String>,
    pub allow_dirty: bool,
    pub allow_mass_disable: bool,
    /// Changes in flight per system, overriding the policy.
    pub concurrency: Option<usize>,
    pub retry: RetryPolicy,
    /// How long to wait for another apply holding the journal lock.
    pub lock_timeout: Duration,
    /// Who runs it, and where (journaled).
    pub actor: String,
    pub host: String,
    /// What started the run, journaled with it (`apply -p PERSON`, `leave PERSON`, ...).
    pub trigger: String,
    /// An emergency override to record with the run (`leave --emergency`): the plan is made
    /// as if it were in force, and it is journaled, before the run, only once approved.
    pub emergency: Option<Emergency>,
    /// Leave out of a plan made now the leavers held for approval (see [`super::holds`]),
    /// saying so: for runs nobody aimed at them (`serve`, a whole `apply`). A saved plan,
    /// `apply -p` and `leave` name their people and are the approval.
    pub hold_for_approval: bool,
}

/// A plan ready to be approved, with what it was made from.
pub struct Prepared {
    pub policy: Policy,
    pub roster: Roster,
    pub plan: Plan,
    /// Whether the plan came from a file (the file is the approval).
    pub from_file: bool,
}

/// What a run did.
pub struct Applied {
    pub run_id: String,
    pub reports: Vec<ChangeReport>,
    /// The re-audit's verdict per leaver.
    pub audit: Vec<LeaverAudit>,
    pub counts: ApplyCounts,
    /// Systems the re-audit could not read.
    pub unreadable: BTreeMap<String, ConnectorError>,
    pub outcome: RunOutcome,
}

/// Step one: the plan to approve. The journal must exist and verify before anything is
/// planned or asked (apply never starts a journal, never appends to a broken one); a saved
/// plan must still match the policy and roster.
pub fn prepare(
    ws: &Workspace,
    request: &ApplyRequest,
    observer: &dyn Observer,
) -> Result<Prepared, OpError> {
    let policy = inputs::load_policy(ws)?;
    if let Some(text) = &request.at {
        let at = inputs::parse_at(Some(text), &policy)?;
        if at > jiff::Timestamp::now() {
            return Err(OpError::new(format!(
                "`apply --at {text}` is in the future, and apply acts now: it would cut people before their cutoff."
            ))
            .hint(format!("preview that moment with `offboard plan --at {text}`; the scheduled changes are applied when it comes. Nothing was changed.")));
        }
    }
    journal::check(ws)?;
    let mut roster = inputs::load_roster(ws, &policy, observer)?;
    if let Some(e) = &request.emergency
        && !emergency::apply(&mut roster, std::slice::from_ref(e)).is_empty()
    {
        return Err(OpError::new(format!(
            "the emergency override names {}, whom the roster does not list; nothing was changed.",
            e.person
        )));
    }
    let plan = match &request.plan_file {
        Some(file) => {
            let plan = plan::read_file(file).map_err(|e| OpError::new(e.to_string()))?;
            if let Some(stale) = guards::stale_plan(&plan, &policy, &roster) {
                return Err(OpError::new(format!("{stale}. Nothing was changed.")));
            }
            plan
        }
        None => {
            let plan_request = super::plan::PlanRequest {
                at: request.at.clone(),
                persons: request.persons.clone(),
                department: request.department.clone(),
                ..Default::default()
            };
            let mut plan = super::plan::plan_with(ws, &plan_request, &policy, &roster, observer)?;
            if request.hold_for_approval {
                // From the same roster read as the plan: the same events, the same holds.
                let held: Vec<String> = super::holds::held_in(ws, &roster)?
                    .into_iter()
                    .map(|t| t.person)
                    .collect();
                hold_back(&mut plan, &held);
            }
            plan
        }
    };
    Ok(Prepared {
        policy,
        roster,
        plan,
        from_file: request.plan_file.is_some(),
    })
}

/// Leave `held` people (roster keys, any case) out of `plan`, with a warning naming them.
fn hold_back(plan: &mut Plan, held: &[String]) {
    let is_held = |person: &str| held.iter().any(|h| h.eq_ignore_ascii_case(person));
    let mut named: Vec<&str> = plan
        .changes
        .iter()
        .filter(|c| is_held(&c.person))
        .map(|c| c.person.as_str())
        .collect();
    named.sort_unstable();
    named.dedup();
    if named.is_empty() {
        return;
    }
    let warning = format!(
        "held for approval, left out of this run: {} (an HR event whose rules do not say auto-apply; apply the plan saved for it, or wait for the HR export)",
        named.join(", ")
    );
    plan.changes.retain(|c| !is_held(&c.person));
    plan.leavers.retain(|l| !is_held(&l.person));
    plan.warnings.push(warning);
}

/// Step two: what must not run without explicit permission. Policies are reviewed code, so
/// what runs must be what was committed; and a plan that would disable an implausible share
/// of a system is more likely a broken roster or correlation than a real wave of leavers.
/// Returns whether the policy is dirty (allowed, and journaled).
pub fn guard(ws: &Workspace, request: &ApplyRequest, prepared: &Prepared) -> Result<bool, OpError> {
    let provenance = crate::vcs::provenance(&ws.policies_dir);
    let dirty = provenance.as_ref().is_some_and(|p| p.dirty());
    if dirty && !request.allow_dirty {
        let files = provenance
            .map(|p| p.dirty_files.join(", "))
            .unwrap_or_default();
        return Err(OpError::new(format!(
            "policy files have uncommitted changes ({files})."
        ))
        .hint("commit them (and have them reviewed), or pass --allow-dirty, which the journal records. Nothing was changed."));
    }
    let mass = guards::mass_disable(&prepared.plan, &prepared.policy);
    if !mass.is_empty() && !request.allow_mass_disable {
        let mut lines: Vec<String> = mass
            .iter()
            .map(|m| {
                format!(
                    "the plan would disable or delete {} of {} accounts in {} ({:.0}%), above its max-disable-share of {:.0}%.",
                    m.planned,
                    m.accounts,
                    m.system,
                    m.share * 100.0,
                    m.limit * 100.0
                )
            })
            .collect();
        let last = lines.pop().unwrap_or_default();
        let causes = lines
            .into_iter()
            .map(|message| super::Cause {
                message: Some(message),
                ..Default::default()
            })
            .collect();
        return Err(OpError::new(last).causes(causes, None).hint(
            "check the roster and correlation first; if this is intended, pass --allow-mass-disable. Nothing was changed.",
        ));
    }
    Ok(dirty)
}

/// Connectors with their layers, one target per connected system. Built (secrets resolved)
/// before a run is journaled, so a missing secret stops apply before it starts.
pub fn targets(
    ws: &Workspace,
    policy: &Policy,
    concurrency: Option<usize>,
    retry: RetryPolicy,
) -> Result<BTreeMap<String, Target>, OpError> {
    let mut targets = BTreeMap::new();
    for system in &policy.systems {
        let Some(settings) = system.connector() else {
            continue;
        };
        let connector = settings.connect(system.name(), &ws.root).map_err(|e| {
            // The hint says how to fix it (e.g. which variable to set): never drop it.
            let err = OpError::new(e.to_string());
            match e.hint {
                Some(hint) => err.hint(hint),
                None => err,
            }
        })?;
        let limit = concurrency
            .or(system.concurrency.map(|c| c as usize))
            .unwrap_or(policy.defaults.concurrency as usize);
        let connector: Arc<dyn connector::Connector> = Arc::from(connector);
        targets.insert(
            system.name().to_string(),
            Target {
                connector: Arc::new(Retrying::new(connector, retry)),
                concurrency: limit,
            },
        );
    }
    Ok(targets)
}

/// A run id: the start time, readable, and a short hash against collisions.
pub fn new_run_id() -> String {
    let now = jiff::Timestamp::now();
    let mut h = blake3::Hasher::new();
    h.update(&now.as_nanosecond().to_le_bytes());
    h.update(&std::process::id().to_le_bytes());
    format!(
        "{}-{}",
        now.strftime("%Y%m%dT%H%M%SZ"),
        &h.finalize().to_hex()[..6]
    )
}

/// Step three, after approval: run the plan and prove the result. `dirty` is what [`guard`]
/// returned; `on_change` sees every change as it finishes.
pub fn execute(
    ws: &Workspace,
    request: &ApplyRequest,
    prepared: &Prepared,
    dirty: bool,
    on_change: &(dyn Fn(&ChangeReport) + Sync),
) -> Result<Applied, OpError> {
    let Prepared {
        policy,
        roster,
        plan,
        ..
    } = prepared;
    let holder = format!("{} on {}", request.actor, request.host);
    let _lock = JournalLock::acquire(&ws.journal, &holder, request.lock_timeout).map_err(|e| {
        OpError::new(e.to_string())
            .hint("wait for it to finish, or pass a longer --lock-timeout. Nothing was changed.")
    })?;
    let mut journal = journal::open(ws)?;
    let current = journal.identity().map_err(evidence)?;
    let planned_head = match &plan.journal {
        Some(j) => journal.hash_at(j.head_seq).map_err(evidence)?,
        None => None,
    };
    if let Some(why) =
        guards::journal_mismatch(plan.journal.as_ref(), &current, planned_head.as_deref())
    {
        return Err(OpError::new(format!("{why}.")).hint(
            "make a new plan against this journal and review it; if the journal was restored or replaced by mistake, put the right one back. Nothing was changed.",
        ));
    }
    let touched = journal.touched_changes().map_err(evidence)?;
    let known_task_ids: HashSet<String> = journal
        .tasks()
        .map_err(evidence)?
        .into_iter()
        .map(|t| t.open.task_id)
        .collect();
    let targets = targets(ws, policy, request.concurrency, request.retry)?;
    let run_id = new_run_id();
    // The commit applied (the trusted revision of the next pull-request plans).
    let commit = crate::vcs::provenance(&ws.policies_dir).and_then(|p| p.commit);
    // An emergency override is journaled with the run that carries it out, in one
    // transaction: from here on every plan applies it, and the run is what rolls it back.
    let start = Record::RunStart(run_start(request, prepared, &run_id, dirty, commit));
    let records = match &request.emergency {
        Some(e) => {
            let name = roster
                .people
                .iter()
                .find(|p| roster.key_of(p).eq_ignore_ascii_case(&e.person))
                .map(|p| p.name.clone())
                .unwrap_or_default();
            vec![
                Record::Override(OverrideRecord {
                    override_id: e.id.clone(),
                    run_id: Some(run_id.clone()),
                    person: e.person.clone(),
                    name,
                    reason: e.reason.clone(),
                    ticket: e.ticket.clone(),
                    by: e.by.clone(),
                    host: request.host.clone(),
                    at: e.at,
                }),
                start,
            ]
        }
        None => vec![start],
    };
    journal.append_batch(&records).map_err(evidence)?;

    let executor = Executor {
        targets,
        journal: crate::journal::SharedJournal::new(journal),
        run_id: run_id.clone(),
        touched,
    };
    let runtime = super::runtime()?;
    let reports = runtime
        .block_on(executor.execute(plan, on_change))
        .map_err(evidence)?;
    let tasks_opened = executor
        .open_tasks(plan, &known_task_ids)
        .map_err(evidence)?;

    // Re-audit: read every system again; trust nothing the executor believes. Only leavers'
    // accounts matter to it, and those are what a plan's keep filter keeps. A targeted plan
    // is re-audited with a targeted read of its leavers.
    let keep = crate::reconcile::plan_relevance(policy, roster, None);
    let observed = match reaudit_people(plan, roster) {
        Some(people) => {
            let lookups =
                |system: &crate::policy::System| connector::lookup::lookups_for(system, &people);
            runtime.block_on(connector::refresh_targeted(
                policy,
                &ws.root,
                &|_| {},
                &keep,
                &lookups,
            ))
        }
        None => runtime.block_on(connector::refresh_keeping(policy, &ws.root, &|_| {}, &keep)),
    };
    let tasks = executor.journal.lock().tasks().map_err(evidence)?;
    let audit = reaudit::reaudit(plan, policy, roster, &observed, &reports, &tasks);
    let counts = count(&reports, tasks_opened);
    let active: usize = audit.iter().map(|l| l.active_accounts.len()).sum();
    let outcome = if audit.iter().any(|l| l.verdict == Verdict::Red) {
        RunOutcome::Failed
    } else {
        RunOutcome::Success
    };
    let mut journal = executor.journal.lock();
    journal
        .append(&Record::RunFinish(RunFinish {
            run_id: run_id.clone(),
            outcome,
            counts,
            leavers: audit.clone(),
            active_credentials: active,
            unreadable_systems: observed.failures.keys().cloned().collect(),
        }))
        .map_err(evidence)?;
    // The run's messages are queued with its evidence; sending them is the caller's (and
    // never holds up the run).
    let opened: Vec<crate::journal::TaskOpen> = tasks
        .into_iter()
        .filter(|t| t.open.run_id == run_id)
        .map(|t| t.open)
        .collect();
    let facts = crate::notify::compose::RunFacts {
        run_id: &run_id,
        plan,
        reports: &reports,
        audit: &audit,
        tasks: &opened,
        unreadable: observed.failures.keys().cloned().collect(),
        now: jiff::Timestamp::now(),
    };
    let mut messages: Vec<_> = crate::notify::compose::report(policy, &facts)
        .into_iter()
        .chain(crate::notify::compose::failure(policy, &facts))
        .collect();
    for t in &opened {
        let name = plan
            .leavers
            .iter()
            .find(|l| l.person == t.person)
            .map_or("", |l| l.name.as_str());
        messages.push(crate::notify::compose::task(t, name, facts.now));
    }
    if policy.notifications.enabled() {
        super::notify::queue(&mut journal, messages).map_err(evidence)?;
    }
    drop(journal);
    Ok(Applied {
        run_id,
        reports,
        audit,
        counts,
        unreadable: observed.failures.into_iter().collect(),
        outcome,
    })
}

/// The journal's record of a run's start: who, where, which policy and plan, and what the
/// plan saw (roster size, accounts per system, the leavers).
fn run_start(
    request: &ApplyRequest,
    prepared: &Prepared,
    run_id: &str,
    dirty: bool,
    git_commit: Option<String>,
) -> RunStart {
    let plan = &prepared.plan;
    RunStart {
        run_id: run_id.to_string(),
        mode: RunMode::Apply,
        initiator: request.actor.clone(),
        host: request.host.clone(),
        policy_hash: prepared.policy.content_hash.clone(),
        git_commit,
        allow_dirty: dirty,
        plan_hash: blake3::hash(plan.to_json().as_bytes()).to_hex().to_string(),
        plan_created_at: plan.created_at,
        rollback_of: None,
        changes: plan.changes.len(),
        roster_people: Some(plan.roster.people),
        system_accounts: plan
            .refreshed
            .iter()
            // A targeted read's count is not the system's size: it must not become the
            // baseline an emptied system is compared with.
            .filter(|s| s.fingerprint.is_some() && !s.targeted)
            .map(|s| (s.system.clone(), s.accounts))
            .collect(),
        leavers: plan
            .due_leavers()
            .map(|l| LeaverRecord {
                person: l.person.clone(),
                name: l.name.clone(),
                department: l.department.clone(),
                termination_type: l.termination_type,
                cutoff: l.cutoff,
                rules: l.rules.clone(),
            })
            .collect(),
        trigger: Some(request.trigger.clone()).filter(|t| !t.is_empty()),
        emergency_override: request.emergency.as_ref().map(|e| e.id.clone()),
    }
}

fn count(reports: &[ChangeReport], tasks_opened: usize) -> ApplyCounts {
    let mut c = ApplyCounts {
        tasks_opened,
        ..ApplyCounts::default()
    };
    for r in reports {
        match r.outcome {
            ActionOutcome::Done if r.performed.contains(&Action::Delete) => c.deleted += 1,
            ActionOutcome::Done if r.performed.contains(&Action::Disable) => c.disabled += 1,
            ActionOutcome::Done => c.updated += 1,
            ActionOutcome::AlreadyDone => c.already_done += 1,
            ActionOutcome::SkippedStale => c.skipped += 1,
            ActionOutcome::Failed => c.failed += 1,
        }
    }
    c
}

/// For a plan made from a targeted read, the people its re-audit looks up: its leavers.
/// `None` for a plan made from full reads, which is re-audited with full reads.
fn reaudit_people<'r>(plan: &Plan, roster: &'r Roster) -> Option<Vec<&'r crate::roster::Person>> {
    if !plan.refreshed.iter().any(|s| s.targeted) {
        return None;
    }
    let keys: HashSet<String> = plan
        .leavers
        .iter()
        .map(|l| l.person.to_lowercase())
        .collect();
    Some(
        roster
            .people
            .iter()
            .filter(|p| keys.contains(&roster.key_of(p).to_lowercase()))
            .collect(),
    )
}
