//! The policy's unit tests (`policies/tests/*.kdl`) as an operation: read every test file
//! (every problem in any of them stops the run, with diagnostics), read the repository's
//! roster and live state when a test asks for them (`use-inventory`), and run each test
//! through the real planner.

use super::{Cause, Observer, OpError, Workspace, inputs};
use crate::policytest::{self, Outcome};

/// What a run of the policy tests found, one outcome per test in file order.
#[derive(Debug, Clone)]
pub struct TestRun {
    pub outcomes: Vec<Outcome>,
}

impl TestRun {
    pub fn failed(&self) -> usize {
        self.outcomes.iter().filter(|o| o.failure.is_some()).count()
    }
}

/// Read and run every policy test of the workspace.
pub fn run(ws: &Workspace, observer: &dyn Observer) -> Result<TestRun, OpError> {
    let policy = inputs::load_policy(ws)?;
    let suite = policytest::load(&ws.policies_dir.join("tests"), &ws.root).map_err(|e| {
        let n = e.diagnostics.len();
        let cause = Cause {
            diagnostics: e.diagnostics,
            ..Cause::default()
        };
        OpError::new(format!(
            "the policy tests have {n} {}; no test was run.",
            if n == 1 { "problem" } else { "problems" }
        ))
        .causes(vec![cause], Some(e.sources))
    })?;
    // The inventory is read only when a test asks for it, and a failure to read it is the
    // run's error (not one failure per test that needs it).
    let inventory = if suite.cases.iter().any(|c| c.use_inventory) {
        let roster = inputs::load_roster(ws, &policy, observer)?;
        let observed = inputs::read_live_state(ws, &policy, &|_, _| true, observer)?;
        Some((roster, observed))
    } else {
        None
    };
    let outcomes = suite
        .cases
        .iter()
        .map(|case| policytest::run(case, &policy, inventory.as_ref().map(|(r, o)| (r, o))))
        .collect();
    Ok(TestRun { outcomes })
}
