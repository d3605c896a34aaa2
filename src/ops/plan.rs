//! Planning as an operation: policy + roster + live state -> a plan, nothing changed.
//!
//! Systems are read with the connector settings of a trusted revision (see
//! [`crate::policy::pin_to_trusted`]): `--trust REV`, else the commit the journal last
//! applied. [`compare`] plans two revisions of the policy against one read of the live state
//! (`plan --compare REV`). The plan carries the journal's identity, so `apply` can refuse it
//! against another journal.

use std::collections::HashSet;

use jiff::Timestamp;

use super::{Cause, Observer, OpError, Workspace, inputs, journal};
use crate::connector::Observed;
use crate::plan::Plan;
use crate::policy::Policy;
use crate::reconcile::{self, PlanError, PlanInput};
use crate::roster::{self, Person, PersonQuery, Roster};

/// What to plan.
#[derive(Debug, Clone, Default)]
pub struct PlanRequest {
    /// Only these people (email, username, employee id or name); everyone when empty.
    pub persons: Vec<String>,
    /// With a name in `persons`: only people in this department.
    pub department: Option<String>,
    /// Plan as of this instant (see [`inputs::parse_at`]); now when `None`.
    pub at: Option<String>,
    /// The revision whose connector settings systems are read with.
    pub trust: Option<String>,
}

/// Plan the workspace's policy for `request`.
pub fn plan(
    ws: &Workspace,
    request: &PlanRequest,
    observer: &dyn Observer,
) -> Result<Plan, OpError> {
    let policy = inputs::load_policy(ws)?;
    let roster = inputs::load_roster(ws, &policy, observer)?;
    let (read, notes) = match trusted_policy(ws, request.trust.as_deref())? {
        Some((trusted, label)) => crate::policy::pin_to_trusted(&policy, &trusted, &label),
        None => (policy.clone(), Vec::new()),
    };
    // Said before reading, so an operator sees it even when a read then fails.
    for note in &notes {
        observer.warn(note);
    }
    let mut plan = plan_reading(ws, request, &policy, &read, &roster, observer)?;
    plan.warnings.extend(notes);
    Ok(plan)
}

/// The planning step alone, for an operation that already loaded policy and roster (`apply`
/// plans a committed, reviewed policy and reads with that policy's own settings).
pub fn plan_with(
    ws: &Workspace,
    request: &PlanRequest,
    policy: &Policy,
    roster: &Roster,
    observer: &dyn Observer,
) -> Result<Plan, OpError> {
    plan_reading(ws, request, policy, policy, roster, observer)
}

/// The reviewed policy that decides where credentials may go: `rev`, else the commit the
/// journal last applied; `None` when there is neither (a first run).
fn trusted_policy(ws: &Workspace, rev: Option<&str>) -> Result<Option<(Policy, String)>, OpError> {
    let rev = match rev {
        Some(r) => r.to_string(),
        None => match journal::last_applied_commit(ws)? {
            Some(c) => c,
            None => return Ok(None),
        },
    };
    let short = crate::vcs::short_commit(&ws.policies_dir, &rev).unwrap_or_else(|| rev.clone());
    let files = crate::vcs::policy_at(&ws.policies_dir, &ws.root, &rev).map_err(|e| {
        OpError::new(format!("the trusted revision {rev}: {e}"))
            .hint("--trust takes a git revision of the policy repository, e.g. origin/main")
    })?;
    let policy = crate::policy::load_texts(files).map_err(|e| {
        OpError::new(format!(
            "the policy at the trusted revision {rev} is invalid ({e}); systems cannot be read safely"
        ))
    })?;
    Ok(Some((policy, format!("the trusted revision {short}"))))
}

/// The roster indexes of the people `request` names (all when it names none).
fn people(roster: &Roster, request: &PlanRequest) -> Result<Option<Vec<usize>>, OpError> {
    if request.persons.is_empty() {
        return Ok(None);
    }
    let mut only = Vec::new();
    for text in &request.persons {
        let query = PersonQuery {
            text: text.clone(),
            department: request.department.clone(),
        };
        match roster::identify(roster, &query) {
            Ok(i) => only.push(i),
            Err(e) => {
                let mut details = Vec::new();
                if let roster::IdentifyError::NotFound { similar, .. } = &e
                    && !similar.is_empty()
                {
                    details.push("did you mean:".to_string());
                    details.extend(similar.iter().map(|c| format!("  {c}")));
                }
                return Err(OpError::new(e.to_string()).details(details));
            }
        }
    }
    only.sort_unstable();
    only.dedup();
    Ok(Some(only))
}

/// Plan `policy`, reading live systems as `read` (the same policy, or one whose connector
/// settings were pinned to a trusted revision).
fn plan_reading(
    ws: &Workspace,
    request: &PlanRequest,
    policy: &Policy,
    read: &Policy,
    roster: &Roster,
    observer: &dyn Observer,
) -> Result<Plan, OpError> {
    let known_tasks = journal::known_tasks(ws)?;
    let now = inputs::parse_at(request.at.as_deref(), policy)?;
    let only = people(roster, request)?;
    let only = only.as_deref();
    let keep = reconcile::plan_relevance(policy, roster, only);
    // Named people: their accounts are looked up, not every account listed (time to a cut
    // must not grow with the organisation).
    let observed = match only {
        Some(only) => {
            let people: Vec<&Person> = only.iter().map(|&i| &roster.people[i]).collect();
            inputs::read_live_state_of(ws, read, &keep, &people, observer)?
        }
        None => inputs::read_live_state(ws, read, &keep, observer)?,
    };
    let provenance = crate::vcs::provenance(&ws.policies_dir);
    let mut plan = plan_against(
        ws,
        policy,
        roster,
        &observed,
        now,
        only,
        &known_tasks,
        provenance.as_ref(),
    )?;
    let targeted: Vec<&str> = plan
        .refreshed
        .iter()
        .filter(|s| s.targeted)
        .map(|s| s.system.as_str())
        .collect();
    if !targeted.is_empty() {
        plan.warnings.push(format!(
            "targeted read: only the named people's accounts were looked up in {}; orphaned and disputed accounts there were not looked for (a full `offboard plan` or `offboard audit` does)",
            targeted.join(", "),
        ));
    }
    Ok(plan)
}

/// Plan one policy against already-read live state.
#[allow(clippy::too_many_arguments)]
pub fn plan_against(
    ws: &Workspace,
    policy: &Policy,
    roster: &Roster,
    observed: &Observed,
    now: Timestamp,
    only: Option<&[usize]>,
    known_tasks: &HashSet<(String, String)>,
    provenance: Option<&crate::vcs::Provenance>,
) -> Result<Plan, OpError> {
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
    let journal = journal::identity(ws)?;
    let mut plan = reconcile::plan(&input).map_err(|e| match &e {
        PlanError::Conditions(failures) => OpError::new(e.to_string())
            .causes(condition_causes(failures), Some((*policy.sources).clone())),
        PlanError::Refresh(_) => OpError::new(e.to_string()),
    })?;
    plan.journal = journal;
    Ok(plan)
}

/// Once per rule, naming whom it failed for (the first failure's diagnostic shown): the same
/// diagnostic for every person says nothing more and buries the next rule.
fn condition_causes(failures: &[crate::reconcile::ConditionFailure]) -> Vec<Cause> {
    let mut seen: Vec<&str> = Vec::new();
    let mut causes = Vec::new();
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
        causes.push(Cause {
            message: Some(format!(
                "the condition of rule `{}` failed for {} {} ({shown}{})",
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
            )),
            diagnostics: vec![f.diagnostic.clone()],
            hint: None,
        });
    }
    causes
}

/// Two plans of the same roster and live state: the policy at a revision and the working
/// tree's.
pub struct Comparison {
    pub before: Plan,
    pub after: Plan,
    /// `REV (commit)`.
    pub from: String,
    /// `HEAD (commit)` or `the working tree`.
    pub to: String,
}

/// `plan --compare REV`: the policy at `rev` and the working tree, planned against the same
/// roster and live state.
pub fn compare(
    ws: &Workspace,
    request: &PlanRequest,
    rev: &str,
    observer: &dyn Observer,
) -> Result<Comparison, OpError> {
    let policy = inputs::load_policy(ws)?;
    let roster = inputs::load_roster(ws, &policy, observer)?;
    let dir = &ws.policies_dir;
    let old_files = crate::vcs::policy_at(dir, &ws.root, rev).map_err(|e| {
        OpError::new(e.to_string()).hint(
            "--compare takes a git revision of the policy repository, e.g. origin/main or HEAD~1",
        )
    })?;
    let old_policy = crate::policy::load_texts(old_files).map_err(|e| {
        let cause = Cause {
            diagnostics: e.diagnostics.clone(),
            ..Cause::default()
        };
        OpError::new(format!(
            "the policy at {rev} is invalid; it cannot be compared"
        ))
        .causes(vec![cause], Some(e.sources.clone()))
    })?;
    let now = inputs::parse_at(request.at.as_deref(), &policy)?;
    let known = journal::known_tasks(ws)?;
    // Systems of both revisions are read once, into one snapshot, with the connector
    // settings of the trusted revision (the compared one unless `trust` says otherwise).
    let (read, trust_notes) = match request.trust.as_deref() {
        Some(t) => match trusted_policy(ws, Some(t))? {
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
        observer.warn(note);
    }
    let mut observed = inputs::read_live_state(ws, &read, &|_, _| true, observer)?;
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
        let extra =
            super::runtime()?.block_on(crate::connector::refresh(&only_old, &ws.root, &|_| {}));
        for (name, e) in &extra.failures {
            observer.warn(&format!(
                "{name} (only in {rev}) could not be read ({}); it is left out of the comparison",
                e.message
            ));
        }
        observed.systems.extend(extra.systems);
    }
    let provenance = crate::vcs::provenance(dir);
    let before = plan_against(ws, &old_policy, &roster, &observed, now, None, &known, None)?;
    let after = plan_against(
        ws,
        &policy,
        &roster,
        &observed,
        now,
        None,
        &known,
        provenance.as_ref(),
    )?;
    let from = crate::vcs::short_commit(dir, rev)
        .map_or_else(|| rev.to_string(), |c| format!("{rev} ({c})"));
    let to = match &provenance {
        Some(p) if !p.dirty() => p
            .commit
            .as_deref()
            .map_or("the working tree".to_string(), |c| {
                format!("HEAD ({})", c.get(..7).unwrap_or(c))
            }),
        _ => "the working tree".to_string(),
    };
    Ok(Comparison {
        before,
        after,
        from,
        to,
    })
}
