//! `plan` and `audit` read every account but keep only those that can matter (the keep
//! filters in `reconcile::plan_relevance` and `audit::relevance`). These tests hold them to
//! their promise on a generated organisation with every kind of noise (orphans, disputed
//! accounts, excess groups, dormant logins, exemptions, legal holds), in both of the
//! generator's shapes: the plan and the audit made from the kept accounts equal those made
//! from all of them.

use std::collections::HashSet;
use std::path::Path;

use offboard::audit::{self, AuditInput};
use offboard::connector::{self, Observed};
use offboard::policy::{self, Policy};
use offboard::reconcile::{self, PlanInput};
use offboard::roster::{self, Roster};
use offboard_gen::Shape;

fn generated_org(dir: &Path) -> (Policy, Roster) {
    generated_org_shaped(dir, Shape::Departments)
}

fn generated_org_shaped(dir: &Path, shape: Shape) -> (Policy, Roster) {
    let options = offboard_gen::Options {
        people: 1500,
        accounts: 15000,
        systems: 6,
        rules: 12,
        seed: 7,
        shape,
    };
    offboard_gen::generate(&options, dir).expect("the organisation is written");
    let policy = policy::load_dir(&dir.join("policies"), dir).expect("generated policy is valid");
    let roster = roster::load(
        policy.people.as_ref().expect("people source"),
        dir,
        &policy.defaults.timezone,
    )
    .expect("generated roster is valid");
    (policy, roster)
}

fn refresh(policy: &Policy, root: &Path, keep: Option<&offboard::connector::Keep<'_>>) -> Observed {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        match keep {
            Some(keep) => connector::refresh_keeping(policy, root, &|_| {}, keep).await,
            None => connector::refresh(policy, root, &|_| {}).await,
        }
    })
}

fn now() -> jiff::Timestamp {
    "2026-11-23T09:00:00Z".parse().expect("timestamp")
}

fn plan(
    policy: &Policy,
    roster: &Roster,
    observed: &Observed,
    only: Option<&[usize]>,
) -> offboard::plan::Plan {
    reconcile::plan(&PlanInput {
        policy,
        roster,
        observed,
        now: now(),
        only,
        known_tasks: None,
        git_commit: None,
        dirty: None,
    })
    .expect("plan")
}

#[test]
fn plan_from_kept_accounts_equals_plan_from_all() {
    for shape in [Shape::Departments, Shape::Scattered] {
        plan_from_kept_accounts_equals_plan_from_all_in(shape);
    }
}

fn plan_from_kept_accounts_equals_plan_from_all_in(shape: Shape) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (policy, roster) = generated_org_shaped(dir.path(), shape);
    let all = refresh(&policy, dir.path(), None);
    let keep = reconcile::plan_relevance(&policy, &roster, None);
    let kept = refresh(&policy, dir.path(), Some(&keep));

    let total: usize = all.systems.values().map(|s| s.accounts.len()).sum();
    let retained: usize = kept.systems.values().map(|s| s.accounts.len()).sum();
    assert!(
        retained * 4 < total,
        "the filter should drop most accounts: kept {retained} of {total}"
    );
    for (name, snapshot) in &kept.systems {
        assert_eq!(snapshot.total, all.systems[name].accounts.len(), "{name}");
        assert_eq!(
            snapshot.fingerprint, all.systems[name].fingerprint,
            "{name}"
        );
    }

    let from_all = plan(&policy, &roster, &all, None);
    assert!(!from_all.changes.is_empty() && !from_all.notes.is_empty());
    assert_eq!(plan(&policy, &roster, &kept, None), from_all);
}

#[test]
fn plan_for_some_people_from_kept_accounts_equals_plan_from_all() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (policy, roster) = generated_org(dir.path());
    let all = refresh(&policy, dir.path(), None);
    // A few leavers and a stayer, as `plan -p` would select them (sorted roster indices).
    let mut only: Vec<usize> = roster
        .people
        .iter()
        .enumerate()
        .filter(|(_, p)| p.is_leaver())
        .map(|(i, _)| i)
        .take(3)
        .collect();
    only.push(0);
    only.sort_unstable();
    let keep = reconcile::plan_relevance(&policy, &roster, Some(&only));
    let kept = refresh(&policy, dir.path(), Some(&keep));

    let from_all = plan(&policy, &roster, &all, Some(&only));
    assert!(!from_all.changes.is_empty());
    assert_eq!(plan(&policy, &roster, &kept, Some(&only)), from_all);
}

#[test]
fn audit_from_kept_accounts_equals_audit_from_all() {
    for shape in [Shape::Departments, Shape::Scattered] {
        audit_from_kept_accounts_equals_audit_from_all_in(shape);
    }
}

fn audit_from_kept_accounts_equals_audit_from_all_in(shape: Shape) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (policy, roster) = generated_org_shaped(dir.path(), shape);
    let all = refresh(&policy, dir.path(), None);
    let keep = audit::relevance(&policy, &roster, now());
    let kept = refresh(&policy, dir.path(), Some(&keep));

    let offboarded = HashSet::new();
    let input = |observed| AuditInput {
        policy: &policy,
        roster: &roster,
        observed,
        now: now(),
        offboarded: &offboarded,
        systems: &[],
    };
    let from_all = audit::audit(&input(&all)).expect("audit");
    let kinds: HashSet<_> = from_all.findings.iter().map(|f| f.kind).collect();
    assert!(
        kinds.len() >= 5,
        "the generated organisation ({shape:?}) should show most kinds of finding: {kinds:?}"
    );
    assert_eq!(audit::audit(&input(&kept)).expect("audit"), from_all);
}

/// A targeted plan (`plan -p`, `apply -p`: each system asked only for the named person's
/// accounts) equals the full plan restricted to that person, for every leaver and a sample
/// of everyone else, on an organisation with case-mangled e-mails, disputed accounts and
/// orphans: a lookup is a pre-selection, and correlation decides as strictly as ever.
#[test]
fn targeted_plans_equal_full_plans_restricted_to_the_person() {
    let dir = tempfile::tempdir().expect("tempdir");
    generated_org(dir.path());
    // Half the systems correlate by e-mail alone, so an account whose address differs in
    // letter case is found by nothing else: a lookup that minds case would miss it.
    let systems = dir.path().join("policies/systems.kdl");
    let text = std::fs::read_to_string(&systems).expect("systems.kdl");
    let text = text
        .split_inclusive("\n}\n")
        .enumerate()
        .map(|(n, block)| {
            if n % 2 == 0 {
                block.replace("    correlate username=\"username\"\n", "")
            } else {
                block.to_string()
            }
        })
        .collect::<String>();
    std::fs::write(&systems, text).expect("systems.kdl");
    let policy = policy::load_dir(&dir.path().join("policies"), dir.path()).expect("policy");
    let roster = roster::load(
        policy.people.as_ref().expect("people source"),
        dir.path(),
        &policy.defaults.timezone,
    )
    .expect("roster");
    assert!(
        policy
            .systems
            .iter()
            .filter(|s| s.correlate.len() == 1)
            .count()
            >= 3,
        "e-mail-only systems"
    );
    let full = plan(&policy, &roster, &refresh(&policy, dir.path(), None), None);
    let total: usize = full.refreshed.iter().map(|s| s.accounts).sum();
    // Every leaver, and every 97th person (those must get nothing).
    let people: Vec<usize> = (0..roster.people.len())
        .filter(|&i| roster.people[i].is_leaver() || i % 97 == 0)
        .collect();
    assert!(people.len() > 30, "{} people sampled", people.len());
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let mut changes_seen = 0;
    for i in people {
        let person = &roster.people[i];
        let key = roster.key_of(person);
        let lookups = |system: &policy::System| connector::lookup::lookups_for(system, &[person]);
        let observed = rt.block_on(connector::refresh_targeted(
            &policy,
            dir.path(),
            &|_| {},
            &|_, _| true,
            &lookups,
        ));
        let read: usize = observed.systems.values().map(|s| s.total).sum();
        assert!(
            observed.systems.values().all(|s| s.targeted) && read * 20 < total,
            "{key}: a targeted read, not a full one ({read} of {total} accounts)"
        );
        let targeted = plan(&policy, &roster, &observed, Some(&[i]));
        let expected: Vec<_> = full.changes.iter().filter(|c| c.person == key).collect();
        let got: Vec<_> = targeted.changes.iter().collect();
        assert_eq!(
            serde_json::to_string_pretty(&got).unwrap(),
            serde_json::to_string_pretty(&expected).unwrap(),
            "{key}: the targeted plan differs from the full plan"
        );
        changes_seen += got.len();
    }
    assert!(changes_seen > 20, "the sample must include real changes");
}
