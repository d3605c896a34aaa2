//! Planner scenarios: correlation situations, timing rules, conflicts, bad rosters,
//! disambiguation and evaluation failures. Each builds a small policy, roster and live state.

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use offboard::connector::{Account, AccountStatus, Observed, SystemSnapshot};
use offboard::plan::{ChangeKind, LeaverState, NoteKind, Plan};
use offboard::policy::{self, Action, PersonKey};
use offboard::reconcile::{self, PlanError, PlanInput};
use offboard::roster::{self, IdentifyError, PersonQuery, Roster};

const HEADER: &str = "employee_id,email,username,name,department,title,manager_email,employment,status,termination_type,termination_at,last_day,legal_hold,location";

/// A file system correlating by email then username, plus whatever `extra` adds.
fn policy_with(extra: &str) -> policy::Policy {
    let text = format!(
        r#"system idp {{
    connector file
    tier identity-provider
    correlate email="email"
    correlate username="username"
    on-leave disable revoke-sessions remove-groups
    exempt "svc-build" reason="build bot" owner="it@acme.com"
}}
defaults {{
    cutoff end-of-last-day
    delete-after "90d"
}}
{extra}"#
    );
    policy::load_texts(vec![(PathBuf::from("policies/a.kdl"), text)]).unwrap_or_else(|e| {
        panic!(
            "{}",
            policy::diagnostic::render_text(&e.diagnostics, &e.sources, Default::default())
        )
    })
}

fn roster(rows: &[&str]) -> Roster {
    let csv = format!("{HEADER}\n{}\n", rows.join("\n"));
    roster::parse_csv(
        csv.as_bytes(),
        Path::new("people.csv"),
        PersonKey::Email,
        &jiff::tz::TimeZone::UTC,
    )
    .unwrap()
}

fn active(id: &str, email: &str) -> Account {
    Account {
        id: id.into(),
        username: email.split('@').next().unwrap_or(email).into(),
        emails: vec![email.into()],
        employee_id: None,
        display_name: None,
        status: AccountStatus::Active,
        groups: vec!["everyone".into()],
        entitlements: vec![],
        licenses: vec![],
        privileged: false,
        last_login: None,
        sessions: Some(2),
        container: None,
        attributes: Default::default(),
        app_roles: Vec::new(),
        held: Vec::new(),
        mastered_by: None,
    }
}

fn observed(accounts: Vec<Account>) -> Observed {
    let mut o = Observed::default();
    o.systems
        .insert("idp".into(), SystemSnapshot::new(accounts));
    o
}

fn plan_at(
    policy: &policy::Policy,
    roster: &Roster,
    obs: &Observed,
    at: &str,
) -> Result<Plan, PlanError> {
    reconcile::plan(&PlanInput {
        policy,
        roster,
        observed: obs,
        now: at.parse::<Timestamp>().unwrap(),
        only: None,
        known_tasks: None,
        git_commit: None,
        dirty: None,
    })
}

const ANN_ACTIVE: &str = "E1,ann@acme.com,ann,Ann Active,Sales,AE,,employee,active,,,,false,office";
const LEO_LEAVER: &str = "E2,leo@acme.com,leo,Leo Leaver,Sales,AE,,employee,terminated,voluntary,2026-11-01T10:00:00Z,2026-11-20,false,office";

#[test]
fn every_correlation_situation() {
    let policy = policy_with("");
    let roster = roster(&[ANN_ACTIVE, LEO_LEAVER]);
    let mut disputed = active("d1", "ann@acme.com");
    disputed.emails.push("LEO@acme.com".into());
    let mut by_username = active("u1", "leo.personal@gmail.com");
    by_username.username = "LEO".into();
    let obs = observed(vec![
        active("a1", "ANN@acme.com"),   // owned by an active person: untouched
        active("l1", "leo@acme.com"),   // owned by a leaver: disabled
        by_username,                    // second correlate line, case-insensitive
        active("o1", "ghost@acme.com"), // orphan: noted
        disputed,                       // disputed: noted, never changed
        active("svc-build", "build@acme.com"), // exempt: noted
    ]);
    let plan = plan_at(&policy, &roster, &obs, "2026-11-23T09:00:00Z").unwrap();
    let changed: Vec<&str> = plan
        .changes
        .iter()
        .filter_map(|c| c.account.as_ref())
        .map(|a| a.id.as_str())
        .collect();
    assert_eq!(changed, ["l1", "u1"]);
    let notes: Vec<(NoteKind, &str)> = plan
        .notes
        .iter()
        .map(|n| (n.kind, n.account.id.as_str()))
        .collect();
    assert_eq!(
        notes,
        [
            (NoteKind::Orphan, "o1"),
            (NoteKind::Disputed, "d1"),
            (NoteKind::Exempt, "svc-build")
        ]
    );
    let disputed = plan
        .notes
        .iter()
        .find(|n| n.kind == NoteKind::Disputed)
        .unwrap();
    assert_eq!(disputed.owners, ["ann@acme.com", "leo@acme.com"]);
}

#[test]
fn first_matching_correlate_line_wins() {
    // Email says Ann, username says Leo: the email line comes first, so Ann owns it.
    let policy = policy_with("");
    let roster = roster(&[ANN_ACTIVE, LEO_LEAVER]);
    let mut account = active("x1", "ann@acme.com");
    account.username = "leo".into();
    let plan = plan_at(
        &policy,
        &roster,
        &observed(vec![account]),
        "2026-11-23T09:00:00Z",
    )
    .unwrap();
    assert!(plan.changes.is_empty(), "{:?}", plan.changes);
}

#[test]
fn disabled_orphans_are_not_noise() {
    let policy = policy_with("");
    let roster = roster(&[ANN_ACTIVE]);
    let mut gone = active("o2", "ghost@acme.com");
    gone.status = AccountStatus::Disabled;
    let plan = plan_at(
        &policy,
        &roster,
        &observed(vec![gone]),
        "2026-11-23T09:00:00Z",
    )
    .unwrap();
    assert!(plan.notes.is_empty());
}

fn leaver_state(extra: &str, row: &str, at: &str) -> (LeaverState, Timestamp, Plan) {
    let policy = policy_with(extra);
    let roster = roster(&[row]);
    let email = row.split(',').nth(1).unwrap();
    let plan = plan_at(&policy, &roster, &observed(vec![active("x", email)]), at).unwrap();
    let l = &plan.leavers[0];
    (l.state, l.cutoff, plan.clone())
}

#[test]
fn end_of_last_day_is_midnight_after_it() {
    let row = "E2,leo@acme.com,leo,Leo,Sales,AE,,employee,terminated,voluntary,2026-11-01T10:00:00Z,2026-11-27,false,office";
    let (state, cutoff, plan) = leaver_state("", row, "2026-11-27T23:59:59Z");
    assert_eq!(state, LeaverState::Scheduled);
    assert_eq!(cutoff.to_string(), "2026-11-28T00:00:00Z");
    assert!(plan.changes.is_empty());
    let (state, _, plan) = leaver_state("", row, "2026-11-28T00:00:00Z");
    assert_eq!(state, LeaverState::Due);
    assert_eq!(
        plan.changes[0].actions,
        [
            Action::Disable,
            Action::RevokeSessions,
            Action::RemoveGroups
        ]
    );
}

#[test]
fn end_of_last_day_uses_the_policy_time_zone() {
    let row =
        "E2,leo@acme.com,leo,Leo,Sales,AE,,employee,terminated,voluntary,,2026-11-27,false,office";
    let policy = policy::load_texts(vec![(
        PathBuf::from("policies/a.kdl"),
        "system idp {\n connector file\n tier identity-provider\n correlate email=\"email\"\n}\ndefaults {\n timezone \"America/New_York\"\n}\n".into(),
    )])
    .unwrap();
    let roster = roster(&[row]);
    let plan = plan_at(&policy, &roster, &observed(vec![]), "2026-11-23T00:00:00Z").unwrap();
    assert_eq!(plan.leavers[0].cutoff.to_string(), "2026-11-28T05:00:00Z");
}

#[test]
fn immediately_cuts_before_the_recorded_time() {
    // HR recorded the termination for tomorrow's conversation; `immediately` cuts now.
    let row = "E2,leo@acme.com,leo,Leo,Sales,AE,,employee,terminated,involuntary,2026-11-24T15:00:00Z,2026-11-24,false,office";
    let extra = "rule involuntary {\n when \"person.termination_type == \\\"involuntary\\\"\"\n cutoff immediately\n}\n";
    let (state, cutoff, _) = leaver_state(extra, row, "2026-11-23T09:00:00Z");
    assert_eq!(state, LeaverState::Due);
    assert_eq!(cutoff.to_string(), "2026-11-23T09:00:00Z");
}

#[test]
fn signed_offsets_move_the_cutoff() {
    let row =
        "E2,leo@acme.com,leo,Leo,Sales,AE,,employee,terminated,retirement,,2026-11-20,false,office";
    let plus =
        "rule r {\n when \"person.termination_type == \\\"retirement\\\"\"\n cutoff \"+2d\"\n}\n";
    let (_, cutoff, _) = leaver_state(plus, row, "2026-11-23T09:00:00Z");
    assert_eq!(cutoff.to_string(), "2026-11-23T00:00:00Z");
    let minus = "rule r {\n when \"true\"\n cutoff \"-1d\"\n}\n";
    let (_, cutoff, _) = leaver_state(minus, row, "2026-11-23T09:00:00Z");
    assert_eq!(cutoff.to_string(), "2026-11-20T00:00:00Z");
}

#[test]
fn leaver_without_dates_is_due_now_with_a_warning() {
    let row = "E2,leo@acme.com,leo,Leo,Sales,AE,,employee,terminated,,,,false,office";
    let (state, cutoff, plan) = leaver_state("", row, "2026-11-23T09:00:00Z");
    assert_eq!(state, LeaverState::Due);
    assert_eq!(cutoff.to_string(), "2026-11-23T09:00:00Z");
    assert!(
        plan.warnings[0].contains("cut now, and nothing is deleted until HR records a date"),
        "{:?}",
        plan.warnings
    );
}

#[test]
fn a_leaver_without_dates_is_never_deleted_until_hr_records_one() {
    // With delete-after "90d" counted from a cutoff of "now", the deletion would slide
    // forward on every run: instead nothing is scheduled, at any instant, and audit says so.
    let row = "E2,leo@acme.com,leo,Leo,Sales,AE,,employee,terminated,,,,false,office";
    for at in ["2026-11-23T09:00:00Z", "2027-06-01T00:00:00Z"] {
        let (_, _, plan) = leaver_state("", row, at);
        let leo = &plan.leavers[0];
        assert!(leo.undated);
        assert_eq!(leo.delete_at, None);
        assert!(plan.changes.iter().all(|c| c.kind != ChangeKind::Delete));
        let text = offboard::plan::render::text(&plan, Default::default());
        assert!(
            text.contains("cutoff now, no HR date: nothing deleted until HR records one"),
            "{text}"
        );
    }
    let policy = policy_with("");
    let roster = roster(&[row]);
    let obs = observed(vec![active("x", "leo@acme.com")]);
    let audit = offboard::audit::audit(&offboard::audit::AuditInput {
        policy: &policy,
        roster: &roster,
        observed: &obs,
        now: "2026-11-23T09:00:00Z".parse().unwrap(),
        offboarded: &Default::default(),
        systems: &[],
    })
    .unwrap();
    let undated: Vec<_> = audit
        .findings
        .iter()
        .filter(|f| f.kind == offboard::audit::Kind::UndatedLeaver)
        .collect();
    assert_eq!(undated.len(), 1);
    assert_eq!(undated[0].account, "leo@acme.com");
    // Once HR records a last day, the deletion is scheduled from it.
    let dated = "E2,leo@acme.com,leo,Leo,Sales,AE,,employee,terminated,,,2026-11-20,false,office";
    let (_, _, plan) = leaver_state("", dated, "2026-11-23T09:00:00Z");
    assert!(!plan.leavers[0].undated);
    assert_eq!(
        plan.leavers[0].delete_at.unwrap().to_string(),
        "2027-02-19T00:00:00Z"
    );
}

#[test]
fn a_past_cutoff_shows_its_time_and_only_the_plan_instant_is_now() {
    let row = "E2,leo@acme.com,leo,Leo,Sales,AE,,employee,terminated,involuntary,2026-11-23T08:30:00Z,2026-11-23,false,office";
    let extra = "rule involuntary {\n when \"person.termination_type == \\\"involuntary\\\"\"\n cutoff immediately\n}\n";
    let (_, _, plan) = leaver_state(extra, row, "2026-11-23T09:00:00Z");
    let text = offboard::plan::render::text(&plan, Default::default());
    assert!(
        text.contains("involuntary, cutoff 2026-11-23 08:30 UTC (passed)"),
        "{text}"
    );
    let later = "E2,leo@acme.com,leo,Leo,Sales,AE,,employee,terminated,involuntary,2026-11-24T15:00:00Z,2026-11-24,false,office";
    let (_, _, plan) = leaver_state(extra, later, "2026-11-23T09:00:00Z");
    let text = offboard::plan::render::text(&plan, Default::default());
    assert!(text.contains("involuntary, cutoff now"), "{text}");
}

#[test]
fn earliest_cutoff_wins_and_every_matching_rule_is_named() {
    let row = "E2,leo@acme.com,leo,Leo,Sales,AE,,contractor,terminated,voluntary,,2026-11-25,false,office";
    let extra = "rule late {\n when \"true\"\n cutoff \"+3d\"\n}\nrule early {\n when \"person.employment == \\\"contractor\\\"\"\n cutoff \"-3d\"\n}\n";
    let (state, cutoff, plan) = leaver_state(extra, row, "2026-11-23T09:00:00Z");
    assert_eq!(cutoff.to_string(), "2026-11-23T00:00:00Z");
    assert_eq!(state, LeaverState::Due);
    assert_eq!(plan.leavers[0].rules, ["late", "early"]);
    assert_eq!(plan.changes[0].rules, ["early"]);
}

#[test]
fn retention_beats_deletion() {
    let row = "E2,leo@acme.com,leo,Leo,Sales,AE,,contractor,terminated,contract-end,,2026-01-31,false,office";
    let extra = "rule contractors {\n when \"person.employment == \\\"contractor\\\"\"\n delete-after \"30d\"\n}\nrule keep {\n when \"person.department == \\\"Sales\\\"\"\n retain forever\n}\n";
    let (_, _, plan) = leaver_state(extra, row, "2026-11-23T09:00:00Z");
    assert_eq!(plan.leavers[0].retained_by, ["keep"]);
    assert_eq!(plan.changes[0].kind, ChangeKind::Update);
    assert!(plan.changes[0].actions.contains(&Action::Disable));
}

#[test]
fn roster_legal_hold_forbids_deletion_even_without_a_rule() {
    let row =
        "E2,leo@acme.com,leo,Leo,Sales,AE,,employee,terminated,voluntary,,2025-01-31,true,office";
    let (_, _, plan) = leaver_state("", row, "2026-11-23T09:00:00Z");
    assert_eq!(plan.leavers[0].retained_by, ["legal hold (roster)"]);
    assert!(plan.changes.iter().all(|c| c.kind != ChangeKind::Delete));
}

#[test]
fn shortest_delete_after_wins_and_retain_for_extends_it() {
    let row = "E2,leo@acme.com,leo,Leo,Sales,AE,,contractor,terminated,contract-end,,2026-11-01,false,office";
    let extra = "rule a {\n when \"true\"\n delete-after \"20d\"\n}\nrule b {\n when \"true\"\n delete-after \"10d\"\n}\n";
    let (_, _, plan) = leaver_state(extra, row, "2026-11-23T09:00:00Z");
    assert_eq!(plan.changes[0].kind, ChangeKind::Delete);
    assert_eq!(plan.changes[0].rules, ["b"]);
    let extra = format!("{extra}rule c {{\n when \"true\"\n retain \"60d\"\n}}\n");
    let (_, _, plan) = leaver_state(&extra, row, "2026-11-23T09:00:00Z");
    assert_eq!(plan.changes[0].kind, ChangeKind::Update);
    assert_eq!(
        plan.leavers[0].delete_at.unwrap().to_string(),
        "2027-01-01T00:00:00Z"
    );
}

#[test]
fn an_offboarded_account_needs_no_change() {
    let policy = policy_with("");
    let roster = roster(&[LEO_LEAVER]);
    let mut done = active("l1", "leo@acme.com");
    done.status = AccountStatus::Disabled;
    done.groups.clear();
    done.sessions = Some(0);
    let plan = plan_at(
        &policy,
        &roster,
        &observed(vec![done]),
        "2026-11-23T09:00:00Z",
    )
    .unwrap();
    assert!(plan.changes.is_empty());
    assert_eq!(plan.leavers[0].accounts, 1);
}

#[test]
fn disabled_account_with_leftover_groups_is_updated_not_disabled_again() {
    let policy = policy_with("");
    let roster = roster(&[LEO_LEAVER]);
    let mut half = active("l1", "leo@acme.com");
    half.status = AccountStatus::Disabled;
    half.sessions = Some(0);
    let plan = plan_at(
        &policy,
        &roster,
        &observed(vec![half]),
        "2026-11-23T09:00:00Z",
    )
    .unwrap();
    assert_eq!(plan.changes[0].actions, [Action::RemoveGroups]);
    assert_eq!(plan.counts().update, 1);
}

#[test]
fn groups_are_removed_before_an_account_is_deleted() {
    // Leo's cutoff was 2026-11-21; delete-after "90d" makes the deletion due in February.
    let policy = policy_with("");
    let roster = roster(&[LEO_LEAVER]);
    let mut disabled = active("l1", "leo@acme.com");
    disabled.status = AccountStatus::Disabled;
    let plan = plan_at(
        &policy,
        &roster,
        &observed(vec![disabled.clone()]),
        "2027-03-01T00:00:00Z",
    )
    .unwrap();
    assert_eq!(plan.changes[0].kind, ChangeKind::Delete);
    assert_eq!(
        plan.changes[0].actions,
        [Action::RemoveGroups, Action::Delete]
    );
    // Without groups left, the deletion alone.
    disabled.groups.clear();
    let plan = plan_at(
        &policy,
        &roster,
        &observed(vec![disabled]),
        "2027-03-01T00:00:00Z",
    )
    .unwrap();
    assert_eq!(plan.changes[0].actions, [Action::Delete]);
}

#[test]
fn manual_lane_gets_a_task_with_owner_and_due_date() {
    let extra = "system laptops {\n connector manual owner=\"it-assets@acme.com\" sla=\"5d\"\n tier hardware\n on-leave collect\n}\n";
    let policy = policy_with(extra);
    let roster = roster(&[LEO_LEAVER]);
    let plan = plan_at(&policy, &roster, &observed(vec![]), "2026-11-23T09:00:00Z").unwrap();
    let task = plan
        .changes
        .iter()
        .find(|c| c.kind == ChangeKind::Task)
        .unwrap();
    let t = task.task.as_ref().unwrap();
    assert_eq!(t.owner, "it-assets@acme.com");
    assert_eq!(t.due.to_string(), "2026-11-26T00:00:00Z");
    assert_eq!(t.actions, [Action::Collect]);
}

#[test]
fn condition_failing_for_one_person_fails_the_plan_naming_person_and_rule() {
    // `cost_center` exists only for some rows (JSON roster); a typo-like missing field errors.
    let extra = "rule finance {\n when \"person.department == \\\"Finance\\\" || person.cost_centre == \\\"X\\\"\"\n cutoff immediately\n}\n";
    let policy = policy_with(extra);
    let roster = roster(&[LEO_LEAVER]);
    let err = plan_at(&policy, &roster, &observed(vec![]), "2026-11-23T09:00:00Z").unwrap_err();
    let PlanError::Conditions(failures) = err else {
        panic!("expected condition failures")
    };
    assert_eq!(failures[0].person, "leo@acme.com");
    assert_eq!(failures[0].rule, "finance");
    let rendered = policy::diagnostic::render_text(
        std::slice::from_ref(&failures[0].diagnostic),
        &policy.sources,
        Default::default(),
    );
    insta::assert_snapshot!("evaluation_failure", rendered);
}

#[test]
fn account_level_rules_apply_per_account() {
    let extra = "rule privileged-first {\n when \"account != () && account.privileged\"\n cutoff immediately\n on-leave remove-groups\n}\n";
    let row = "E2,leo@acme.com,leo,Leo,Sales,AE,,employee,terminated,voluntary,2026-11-01T10:00:00Z,2026-11-27,false,office";
    let policy = policy_with(extra);
    let roster = roster(&[row]);
    let mut admin = active("adm", "leo@acme.com");
    admin.privileged = true;
    let plan = plan_at(
        &policy,
        &roster,
        &observed(vec![admin, active("usr", "leo@acme.com")]),
        "2026-11-23T09:00:00Z",
    )
    .unwrap();
    // The person's cutoff is the 28th, but the privileged account is cut now, and the rule
    // that matched only it adds `remove-groups` (already in the system's on-leave).
    assert_eq!(plan.leavers[0].state, LeaverState::Due);
    let changed: Vec<&str> = plan
        .changes
        .iter()
        .filter_map(|c| c.account.as_ref())
        .map(|a| a.id.as_str())
        .collect();
    assert_eq!(changed, ["adm"]);
    assert_eq!(plan.changes[0].rules, ["privileged-first"]);
}

#[test]
fn same_inputs_same_bytes_whatever_the_export_order() {
    let policy = policy_with("");
    let roster = roster(&[ANN_ACTIVE, LEO_LEAVER]);
    let accounts = vec![
        active("l1", "leo@acme.com"),
        active("o1", "ghost@acme.com"),
        active("a1", "ann@acme.com"),
    ];
    let mut reversed = accounts.clone();
    reversed.reverse();
    let a = plan_at(
        &policy,
        &roster,
        &observed(accounts),
        "2026-11-23T09:00:00Z",
    )
    .unwrap()
    .to_json();
    let b = plan_at(
        &policy,
        &roster,
        &observed(reversed),
        "2026-11-23T09:00:00Z",
    )
    .unwrap()
    .to_json();
    assert_eq!(a, b);
}

// --- roster ---------------------------------------------------------------------------

fn roster_error(csv: &str) -> String {
    let e = roster::parse_csv(
        csv.as_bytes(),
        Path::new("inventory/people.csv"),
        PersonKey::Email,
        &jiff::tz::TimeZone::UTC,
    )
    .unwrap_err();
    e.to_string()
}

#[test]
fn bad_roster_rows_are_all_reported_with_lines() {
    let csv = format!(
        "{HEADER}\n{ANN_ACTIVE}\n,nokey@acme.com,x,,Sales,,,employee,active,,,,false,office\nE3,,x,Xena,Sales,,,employee,active,,,,false,office\nE4,bad@acme.com,b,Bad Date,Sales,,,employee,terminated,voluntary,yesterday,2026-13-40,false,office\nE5,ANN@acme.com,a2,Ann Again,Sales,,,employee,active,,,,false,office\nE1,dup@acme.com,d,Dup Id,Sales,,,employee,active,,,,false,office\nE7,s@acme.com,s,Status,Sales,,,employee,gone,,,,maybe,office\n"
    );
    insta::assert_snapshot!("bad_roster_rows", roster_error(&csv));
}

#[test]
fn roster_without_required_columns() {
    insta::assert_snapshot!(
        "roster_missing_columns",
        roster_error("email,name\nann@acme.com,Ann\n")
    );
}

#[test]
fn json_roster_with_extra_columns_reaches_conditions() {
    let json = r#"[{"email": "leo@acme.com", "name": "Leo", "status": "terminated", "last_day": "2026-11-01", "cost_center": "CC-9", "legal_hold": false}]"#;
    let roster = roster::parse_json(
        json.as_bytes(),
        Path::new("people.json"),
        PersonKey::Email,
        &jiff::tz::TimeZone::UTC,
    )
    .unwrap();
    assert_eq!(roster.people[0].extra["cost_center"], "CC-9");
    let extra = "rule cc {\n when \"person.cost_center == \\\"CC-9\\\"\"\n cutoff immediately\n}\n";
    let policy = policy_with(extra);
    let plan = plan_at(&policy, &roster, &observed(vec![]), "2026-11-23T09:00:00Z").unwrap();
    assert_eq!(plan.leavers[0].rules, ["cc"]);
}

// --- identify -------------------------------------------------------------------------

fn people() -> Roster {
    roster(&[
        "E10,john.doe@acme.com,jdoe,John Doe,Product Management,PM,,employee,terminated,involuntary,,2026-11-23,false,office",
        "E11,john.smith@acme.com,jsmith,John Smith,Engineering,SWE,,employee,active,,,,false,office",
        "E12,alex.kim@acme.com,akim,Alex Kim,Engineering,SWE,,employee,active,,,,false,office",
        "E13,alexander.kim@acme.com,alkim,Alex Kim,Sales,AE,,employee,active,,,,false,office",
    ])
}

fn find(text: &str, department: Option<&str>) -> Result<String, IdentifyError> {
    let r = people();
    roster::identify(
        &r,
        &PersonQuery {
            text: text.into(),
            department: department.map(Into::into),
        },
    )
    .map(|i| r.people[i].email.clone())
}

#[test]
fn identify_by_identifiers_and_names() {
    assert_eq!(find("JDOE", None).unwrap(), "john.doe@acme.com");
    assert_eq!(find("E11", None).unwrap(), "john.smith@acme.com");
    assert_eq!(
        find("john.doe@ACME.com", None).unwrap(),
        "john.doe@acme.com"
    );
    assert_eq!(
        find("John", Some("product management")).unwrap(),
        "john.doe@acme.com"
    );
    assert_eq!(
        find("Alex Kim", Some("Sales")).unwrap(),
        "alexander.kim@acme.com"
    );
}

#[test]
fn identify_never_guesses() {
    let e = find("Alex Kim", None).unwrap_err();
    insta::assert_snapshot!("identify_ambiguous", e.to_string());
    let IdentifyError::NotFound { similar, .. } = find("Jon Doe", None).unwrap_err() else {
        panic!()
    };
    assert_eq!(similar[0].email, "john.doe@acme.com");
    assert!(matches!(
        find("John", Some("Finance")),
        Err(IdentifyError::NotFound { .. })
    ));
}

/// An emergency override cuts at its own moment whatever the rules say about timing, and
/// deletes nothing until HR confirms; once HR lists the person as terminated, HR's dates
/// decide deletion again.
#[test]
fn an_emergency_override_cuts_at_its_moment_and_deletes_only_once_hr_confirms() {
    use offboard::roster::emergency::{self, Emergency};
    // Rules would wait a week after the last day, and delete after 90 days.
    let policy = policy_with(r#"rule "grace" { when "true"; cutoff "+7d" }"#);
    let at: Timestamp = "2026-11-23T08:00:00Z".parse().unwrap();
    let ann = Emergency {
        id: "ovr-1".into(),
        person: "ANN@acme.com".into(),
        at,
        by: "sec@acme.com".into(),
        reason: "for cause".into(),
        ticket: None,
        confirmed: false,
    };
    let obs = observed(vec![active("a1", "ann@acme.com")]);

    let mut r = roster(&[ANN_ACTIVE]);
    emergency::apply(&mut r, std::slice::from_ref(&ann));
    let plan = plan_at(&policy, &r, &obs, "2026-11-23T09:00:00Z").unwrap();
    let leaver = &plan.leavers[0];
    assert_eq!((leaver.state, leaver.cutoff), (LeaverState::Due, at));
    assert_eq!(leaver.delete_at, None);
    assert!(!leaver.emergency.as_ref().unwrap().confirmed);
    assert_eq!(plan.changes[0].rules[0], "emergency override ovr-1");
    // Months later, still unconfirmed: still nothing deleted.
    let plan = plan_at(&policy, &r, &obs, "2027-06-01T09:00:00Z").unwrap();
    assert!(plan.changes.iter().all(|c| c.kind != ChangeKind::Delete));

    // HR confirms: terminated, last day the 22nd. The cutoff stays the override's, and the
    // deletion follows HR's dates (90 days after the cutoff).
    let confirmed = ANN_ACTIVE.replace(",active,,,,", ",terminated,involuntary,,2026-11-22,");
    let mut r = roster(&[&confirmed]);
    emergency::apply(&mut r, std::slice::from_ref(&ann));
    let plan = plan_at(&policy, &r, &obs, "2026-11-23T09:00:00Z").unwrap();
    let leaver = &plan.leavers[0];
    assert!(leaver.emergency.as_ref().unwrap().confirmed);
    assert_eq!(leaver.cutoff, at);
    assert_eq!(
        leaver.delete_at,
        Some(
            at.checked_add(jiff::SignedDuration::from_hours(90 * 24))
                .unwrap()
        )
    );
}
