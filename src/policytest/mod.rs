//! Policy unit tests (`policies/tests/*.kdl`), like `opa test` or `terraform test`.
//!
//! A test names fixture people and accounts (or uses the repository's roster and file
//! exports), an instant, and the actions it expects per account. It runs the real planner on
//! the real policy, so a rule change that alters what happens to someone fails a test in the
//! pull request, before it reaches anyone's account.
//!
//! ```kdl
//! test "involuntary leavers are cut at once" {
//!     at "2026-11-23T09:00:00Z"
//!     person "leo@acme.com" name="Leo" status=terminated termination-type=involuntary last-day="2026-11-30"
//!     account okta id="u1" email="leo@acme.com" groups="everyone,sales"
//!     expect okta "u1" disable revoke-sessions remove-groups
//! }
//! ```
//!
//! [`read`] reads the files with the policy's own KDL toolkit (same guards, shape checks and
//! diagnostics); [`run`] plans each test's fixtures and compares.

mod read;

pub use read::{Suite, load};

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use crate::connector::{Account, Observed, SystemSnapshot};
use crate::plan::{ChangeKind, Plan};
use crate::policy::Policy;
use crate::reconcile::{self, PlanInput};
use crate::roster::{self, Roster};

/// One expectation: the actions for an account (empty: no change).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expect {
    pub system: String,
    pub account: String,
    pub actions: BTreeSet<String>,
}

#[derive(Debug, Clone)]
pub struct TestCase {
    pub file: PathBuf,
    pub line: usize,
    pub name: String,
    pub at: jiff::Timestamp,
    pub people: Vec<BTreeMap<String, String>>,
    pub accounts: Vec<(String, Account)>,
    pub use_inventory: bool,
    pub expects: Vec<Expect>,
}

#[derive(Debug, Clone)]
pub struct Outcome {
    pub name: String,
    pub file: PathBuf,
    pub line: usize,
    /// `None` when it passed; otherwise what went wrong, with expected vs actual.
    pub failure: Option<String>,
}

fn fixture_roster(case: &TestCase, policy: &Policy) -> Result<Roster, String> {
    let mut columns: BTreeSet<String> = ["email", "name", "status"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for p in &case.people {
        columns.extend(p.keys().cloned());
    }
    let columns: Vec<String> = columns.into_iter().collect();
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&columns).map_err(|e| e.to_string())?;
    for p in &case.people {
        w.write_record(columns.iter().map(|c| p.get(c).map_or("", String::as_str)))
            .map_err(|e| e.to_string())?;
    }
    let bytes = w.into_inner().map_err(|e| e.to_string())?;
    roster::parse_csv(
        &bytes,
        &case.file,
        crate::policy::PersonKey::Email,
        &policy.defaults.timezone,
    )
    .map_err(|e| e.to_string())
}

/// The actions planned per (system, account); tasks are keyed by the word `task`.
fn actual(plan: &Plan) -> BTreeMap<(String, String), BTreeSet<String>> {
    plan.changes
        .iter()
        .map(|c| {
            let account = match (&c.account, c.kind) {
                (Some(a), _) => a.id.clone(),
                (None, ChangeKind::Task) => format!("task:{}", c.person),
                (None, _) => String::new(),
            };
            (
                (c.system.clone(), account),
                c.actions.iter().map(|a| a.as_str().to_string()).collect(),
            )
        })
        .collect()
}

fn show(actions: &BTreeSet<String>) -> String {
    if actions.is_empty() {
        "no change".into()
    } else {
        actions.iter().cloned().collect::<Vec<_>>().join(" ")
    }
}

/// Run one test against `policy`; `observed_inventory` is the repository's live state.
pub fn run(case: &TestCase, policy: &Policy, inventory: Option<(&Roster, &Observed)>) -> Outcome {
    let fail = |msg: String| Outcome {
        name: case.name.clone(),
        file: case.file.clone(),
        line: case.line,
        failure: Some(msg),
    };
    let (roster, observed) = if case.use_inventory {
        match inventory {
            Some((r, o)) => (r.clone(), o.clone()),
            None => return fail("`use-inventory` needs the policy's roster and file exports, which could not be read".into()),
        }
    } else {
        let roster = match fixture_roster(case, policy) {
            Ok(r) => r,
            Err(e) => return fail(format!("invalid fixture people: {e}")),
        };
        let mut by_system: BTreeMap<String, Vec<Account>> = policy
            .systems
            .iter()
            .filter(|s| s.connector().is_some())
            .map(|s| (s.name().to_string(), Vec::new()))
            .collect();
        for (system, account) in &case.accounts {
            match by_system.get_mut(system) {
                Some(v) => v.push(account.clone()),
                None => return fail(format!("fixture account for unknown system `{system}`")),
            }
        }
        let mut o = Observed::default();
        for (system, accounts) in by_system {
            o.systems.insert(system, SystemSnapshot::new(accounts));
        }
        (roster, o)
    };
    let plan = match reconcile::plan(&PlanInput {
        policy,
        roster: &roster,
        observed: &observed,
        now: case.at,
        only: None,
        known_tasks: None,
        git_commit: None,
        dirty: None,
    }) {
        Ok(p) => p,
        Err(e) => return fail(format!("planning failed: {e}")),
    };
    let actual = actual(&plan);
    let mut problems = Vec::new();
    for e in &case.expects {
        let key = if e.account == "task" {
            // `expect laptops task collect`: the task of the (single) fixture person.
            actual
                .keys()
                .find(|(s, a)| s == &e.system && a.starts_with("task:"))
                .cloned()
                .unwrap_or((e.system.clone(), "task".into()))
        } else {
            (e.system.clone(), e.account.clone())
        };
        let got = actual.get(&key).cloned().unwrap_or_default();
        if got != e.actions {
            let diff = similar::TextDiff::from_lines(
                &format!("{} {}: {}\n", e.system, e.account, show(&e.actions)),
                &format!("{} {}: {}\n", e.system, e.account, show(&got)),
            )
            .unified_diff()
            .header("expected", "actual")
            .to_string();
            problems.push(diff);
        }
    }
    if problems.is_empty() {
        Outcome {
            name: case.name.clone(),
            file: case.file.clone(),
            line: case.line,
            failure: None,
        }
    } else {
        fail(problems.join(""))
    }
}
