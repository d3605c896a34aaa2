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

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use kdl::{KdlDocument, KdlNode, KdlValue};

use crate::connector::{Account, AccountStatus, Observed, SystemSnapshot};
use crate::plan::{ChangeKind, Plan};
use crate::policy::{Action, Policy};
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

fn text(v: &KdlValue) -> String {
    match v {
        KdlValue::String(s) => s.clone(),
        KdlValue::Bool(b) => b.to_string(),
        KdlValue::Null => String::new(),
        other => other.to_string(),
    }
}

fn props(node: &KdlNode) -> BTreeMap<String, String> {
    node.entries()
        .iter()
        .filter_map(|e| {
            e.name()
                .map(|n| (n.value().replace('-', "_"), text(e.value())))
        })
        .collect()
}

fn args(node: &KdlNode) -> Vec<String> {
    node.entries()
        .iter()
        .filter(|e| e.name().is_none())
        .map(|e| text(e.value()))
        .collect()
}

fn line_of(src: &str, offset: usize) -> usize {
    src[..offset.min(src.len())]
        .bytes()
        .filter(|b| *b == b'\n')
        .count()
        + 1
}

/// Parse every `*.kdl` file in `dir`; errors name the file and line.
pub fn load(dir: &Path) -> Result<Vec<TestCase>, String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "kdl"))
        .collect();
    files.sort();
    let mut tests = Vec::new();
    for file in files {
        let src = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let doc = KdlDocument::parse_v2(&src).map_err(|e| {
            let at = e
                .diagnostics
                .first()
                .map_or(1, |d| line_of(&src, d.span.offset()));
            format!("{}:{at}: invalid KDL in a policy test", file.display())
        })?;
        for node in doc.nodes() {
            let line = line_of(&src, node.span().offset());
            let loc = format!("{}:{line}", file.display());
            if node.name().value() != "test" {
                return Err(format!(
                    "{loc}: unknown node `{}` (a test file holds `test \"name\" {{ ... }}` nodes)",
                    node.name().value()
                ));
            }
            let name = args(node)
                .into_iter()
                .next()
                .ok_or_else(|| format!("{loc}: a test needs a name"))?;
            let mut case = TestCase {
                file: file.clone(),
                line,
                name,
                at: jiff::Timestamp::UNIX_EPOCH,
                people: Vec::new(),
                accounts: Vec::new(),
                use_inventory: false,
                expects: Vec::new(),
            };
            let mut at = None;
            for child in node.children().map(|c| c.nodes()).unwrap_or(&[]) {
                let cline = line_of(&src, child.span().offset());
                let cloc = format!("{}:{cline}", file.display());
                let a = args(child);
                match child.name().value() {
                    "at" => {
                        let t = a
                            .first()
                            .ok_or_else(|| format!("{cloc}: `at` needs an instant"))?;
                        at =
                            Some(t.parse::<jiff::Timestamp>().map_err(|_| {
                                format!("{cloc}: `{t}` is not an RFC 3339 instant")
                            })?);
                    }
                    "use-inventory" => case.use_inventory = true,
                    "person" => {
                        let mut p = props(child);
                        let email = a
                            .first()
                            .ok_or_else(|| format!("{cloc}: `person` needs an email"))?;
                        p.insert("email".into(), email.clone());
                        p.entry("name".into()).or_insert_with(|| email.clone());
                        p.entry("status".into()).or_insert_with(|| "active".into());
                        case.people.push(p);
                    }
                    "account" => {
                        let system = a
                            .first()
                            .ok_or_else(|| format!("{cloc}: `account` needs a system"))?
                            .clone();
                        let p = props(child);
                        let list = |k: &str| -> Vec<String> {
                            p.get(k)
                                .map(|v| {
                                    v.split(',')
                                        .map(|s| s.trim().to_string())
                                        .filter(|s| !s.is_empty())
                                        .collect()
                                })
                                .unwrap_or_default()
                        };
                        let id = p
                            .get("id")
                            .cloned()
                            .ok_or_else(|| format!("{cloc}: `account` needs id=\"...\""))?;
                        let status = match p.get("status").map(String::as_str) {
                            None | Some("active") => AccountStatus::Active,
                            Some("disabled") => AccountStatus::Disabled,
                            Some(other) => {
                                return Err(format!(
                                    "{cloc}: status `{other}` is not active or disabled"
                                ));
                            }
                        };
                        case.accounts.push((
                            system,
                            Account {
                                username: p.get("username").cloned().unwrap_or_else(|| id.clone()),
                                id,
                                emails: list("email"),
                                employee_id: p.get("employee_id").cloned(),
                                display_name: p.get("name").cloned(),
                                status,
                                groups: list("groups"),
                                entitlements: Vec::new(),
                                licenses: list("licenses"),
                                privileged: p.get("privileged").is_some_and(|v| v == "true"),
                                last_login: p.get("last_login").and_then(|t| t.parse().ok()),
                                sessions: p.get("sessions").and_then(|n| n.parse().ok()),
                                container: p.get("container").cloned(),
                                attributes: Default::default(),
                            },
                        ));
                    }
                    "expect" => {
                        let mut it = a.into_iter();
                        let system = it
                            .next()
                            .ok_or_else(|| format!("{cloc}: `expect SYSTEM ACCOUNT ACTIONS...`"))?;
                        let account = it
                            .next()
                            .ok_or_else(|| format!("{cloc}: `expect SYSTEM ACCOUNT ACTIONS...`"))?;
                        let actions: BTreeSet<String> = it.filter(|x| x != "no-change").collect();
                        for x in &actions {
                            if Action::parse(x).is_none() {
                                return Err(format!(
                                    "{cloc}: `{x}` is not an action (or `no-change`)"
                                ));
                            }
                        }
                        case.expects.push(Expect {
                            system,
                            account,
                            actions,
                        });
                    }
                    other => {
                        return Err(format!(
                            "{cloc}: unknown node `{other}` in a test (at, person, account, use-inventory, expect)"
                        ));
                    }
                }
            }
            case.at = at.ok_or_else(|| {
                format!(
                    "{loc}: test `{}` needs `at \"2026-11-23T09:00:00Z\"`",
                    case.name
                )
            })?;
            if case.expects.is_empty() {
                return Err(format!(
                    "{loc}: test `{}` expects nothing; add `expect SYSTEM ACCOUNT ...`",
                    case.name
                ));
            }
            tests.push(case);
        }
    }
    Ok(tests)
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
