//! The roster is read strictly: no input may make a leaver vanish from a plan. Duplicated
//! columns or keys, NUL bytes, structured values, a shrunken or empty roster and HR exports
//! with their own column names, values and date formats (mapped by `people { field ... }`).

use std::path::{Path, PathBuf};

use offboard::policy::{self, FieldMapping, PersonKey, Share};
use offboard::roster::{self, Mapping, TerminationType};

const HEADER: &str = "employee_id,email,username,name,department,title,manager_email,employment,status,termination_type,termination_at,last_day,legal_hold,location";
const ANN: &str =
    "E1,ann@acme.com,ann,Ann Lee,Sales,AE,,employee,terminated,voluntary,,2026-11-20,false,office";

fn csv_error(csv: &str) -> String {
    roster::parse_csv(
        csv.as_bytes(),
        Path::new("people.csv"),
        PersonKey::Email,
        &jiff::tz::TimeZone::UTC,
    )
    .unwrap_err()
    .to_string()
}

fn json_error(json: &str) -> String {
    roster::parse_json(
        json.as_bytes(),
        Path::new("people.json"),
        PersonKey::Email,
        &jiff::tz::TimeZone::UTC,
    )
    .unwrap_err()
    .to_string()
}

#[test]
fn a_column_given_twice_is_an_error_naming_both() {
    let csv = "email,name,status,Status\nann@acme.com,Ann,terminated,active\n";
    insta::assert_snapshot!("duplicate_column", csv_error(csv));
}

#[test]
fn a_json_key_given_twice_is_an_error() {
    let json =
        r#"[{"email": "ann@acme.com", "name": "Ann", "status": "terminated", "Status": "active"}]"#;
    let e = json_error(json);
    assert!(e.contains("gives `status` and `Status`"), "{e}");
    let json =
        r#"[{"email": "ann@acme.com", "name": "Ann", "status": "terminated", "status": "active"}]"#;
    let e = json_error(json);
    assert!(e.contains("gives `status` and `status`"), "{e}");
}

#[test]
fn nul_bytes_and_structured_values_are_errors() {
    let csv = format!("{HEADER}\n{}\n", ANN.replace("Ann Lee", "Ann\0Lee"));
    let e = csv_error(&csv);
    assert!(
        e.contains("people.csv:2 (column name): the value contains a NUL byte"),
        "{e}"
    );
    let json = r#"[{"email": "ann@acme.com", "name": ["Ann", "Lee"], "status": "terminated"}]"#;
    let e = json_error(json);
    assert!(
        e.contains("`name` holds an array, where text is expected"),
        "{e}"
    );
    let json =
        "[{\"email\": \"ann@acme.com\", \"name\": \"Ann\\u0000\", \"status\": \"terminated\"}]";
    let e = json_error(json);
    assert!(e.contains("NUL byte"), "{e}");
    let json = r#"[{"email": "ann@acme.com", "name": "Ann", "status": "terminated"}, "bob"]"#;
    let e = json_error(json);
    assert!(e.contains("entry 2 is a string, not an object"), "{e}");
}

#[test]
fn a_json_roster_may_start_with_a_byte_order_mark() {
    let json = "\u{feff}[{\"email\": \"ann@acme.com\", \"name\": \"Ann\", \"status\": \"active\"}]";
    let r = roster::parse_json(
        json.as_bytes(),
        Path::new("people.json"),
        PersonKey::Email,
        &jiff::tz::TimeZone::UTC,
    )
    .unwrap();
    assert_eq!(r.people.len(), 1);
}

#[test]
fn a_missing_column_is_one_problem_not_one_per_row() {
    let rows: String = (0..83)
        .map(|i| format!("p{i}@acme.com,Person {i}\n"))
        .collect();
    let e = csv_error(&format!("email,name\n{rows}"));
    assert!(e.contains("has 1 problem;"), "{e}");
    assert!(e.contains("no `status` column"), "{e}");
}

#[test]
fn line_numbers_are_the_files_own() {
    // A quoted field spanning two lines, CRLF endings and a blank line before the bad row:
    // the message must name the line a person sees in an editor.
    let csv =
        "email,name,status\r\nann@acme.com,\"Ann\r\nLee\",active\r\n\r\nbob@acme.com,Bob,gone\r\n";
    let e = csv_error(csv);
    assert!(e.contains("people.csv:5 (column status)"), "{e}");
    let csv = "email,name,status\nann@acme.com,Ann,active\nbob@acme.com,Bob\n";
    let e = csv_error(csv);
    assert!(e.contains("people.csv:3"), "{e}");
}

#[test]
fn an_empty_or_shrunken_roster_is_refused() {
    let share = Share(0.10);
    let e = roster::check_drop(0, None, share).unwrap_err();
    assert!(e.contains("lists nobody"), "{e}");
    let e = roster::check_drop(0, Some(40), share).unwrap_err();
    assert!(
        e.contains("saw 40 people, so all of them went missing"),
        "{e}"
    );
    let e = roster::check_drop(80, Some(100), share).unwrap_err();
    assert_eq!(
        e,
        "the roster lists 80 people but the journal's last run saw 100: 20 went missing (20%, more than max-roster-drop 10%)"
    );
    assert!(roster::check_drop(91, Some(100), share).is_ok());
    assert!(roster::check_drop(120, Some(100), share).is_ok());
    assert!(roster::check_drop(5, None, share).is_ok());
}

// --- HR exports as they come --------------------------------------------------------------

const WORKDAY: &str = "\
Worker ID,Work Email,First Name,Last Name,Worker Status,Termination Reason,Termination Date,Last Day of Work
W-1,ann@acme.com,Ann,Lee,Terminated,Termination for Cause,11/20/2026,11/20/2026
W-2,bob@acme.com,Bob,Ray,Active,,,
W-3,cy@acme.com,Cy,Mo,Terminated,Resignation,11/02/2026,11/30/2026
";

const MAPPING: &str = r#"
people {
    source csv path="inventory/workday.csv"
    key email
    field employee-id "Worker ID"
    field email "Work Email"
    field name "First Name" "Last Name"
    field status "Worker Status"
    field termination-type "Termination Reason" {
        "Termination for Cause" involuntary
        "Resignation" voluntary
    }
    field termination-at "Termination Date" format="MM/DD/YYYY"
    field last-day "Last Day of Work" format="MM/DD/YYYY"
}
"#;

fn mapped_policy(people: &str) -> Result<policy::Policy, String> {
    let system = "system idp {\n connector file\n tier identity-provider\n correlate email=\"email\"\n on-leave disable\n}\n";
    policy::load_texts(vec![(
        PathBuf::from("policies/a.kdl"),
        format!("{system}{people}"),
    )])
    .map_err(|e| {
        policy::diagnostic::render_text(
            &e.diagnostics,
            &e.sources,
            policy::RenderOptions::default(),
        )
    })
}

fn parse_mapped(csv: &str, fields: &[FieldMapping]) -> Result<roster::Roster, String> {
    roster::parse_csv_mapped(
        csv.as_bytes(),
        Path::new("inventory/workday.csv"),
        Mapping {
            key: PersonKey::Email,
            fields,
        },
        &jiff::tz::TimeZone::UTC,
    )
    .map_err(|e| e.to_string())
}

#[test]
fn an_hris_export_is_read_through_the_policys_mapping() {
    let policy = mapped_policy(MAPPING).unwrap();
    let people = policy.people.as_ref().unwrap();
    let roster = parse_mapped(WORKDAY, &people.fields).unwrap();
    let ann = &roster.people[0];
    assert_eq!(ann.name, "Ann Lee");
    assert_eq!(ann.employee_id, "W-1");
    assert_eq!(ann.termination_type, Some(TerminationType::Involuntary));
    assert_eq!(ann.last_day.unwrap().to_string(), "2026-11-20");
    assert_eq!(
        ann.termination_at.unwrap().to_string(),
        "2026-11-20T00:00:00Z"
    );
    assert_eq!(ann.line, 2);
    let cy = &roster.people[2];
    assert_eq!(cy.termination_type, Some(TerminationType::Voluntary));
    // Export columns nobody mapped still reach conditions under their own name.
    assert_eq!(cy.extra.get("termination_reason").unwrap(), "Resignation");
}

#[test]
fn mapped_exports_report_problems_at_the_exports_own_columns() {
    let policy = mapped_policy(MAPPING).unwrap();
    let fields = &policy.people.as_ref().unwrap().fields;
    let bad = WORKDAY
        .replace("11/02/2026", "2026-11-02")
        .replace("Resignation", "Layoff");
    insta::assert_snapshot!(
        "mapped_export_problems",
        parse_mapped(&bad, fields).unwrap_err()
    );
    let renamed = WORKDAY.replace("Termination Date", "Term Date");
    let e = parse_mapped(&renamed, fields).unwrap_err();
    assert!(
        e.contains("reads `termination-at` from the column `Termination Date`, which the export does not have"),
        "{e}"
    );
}

#[test]
fn the_mapping_is_validated() {
    let bad = MAPPING
        .replace("field email \"Work Email\"", "field e-mail \"Work Email\"")
        .replace(
            "format=\"MM/DD/YYYY\"\n    field last-day",
            "format=\"month first\"\n    field last-day",
        )
        .replace("\"Resignation\" voluntary", "\"Resignation\" quit")
        .replace(
            "field status \"Worker Status\"",
            "field status \"Worker Status\" \"Other\"",
        );
    insta::assert_snapshot!("mapping_diagnostics", mapped_policy(&bad).unwrap_err());
}

#[test]
fn date_patterns_translate_to_strftime() {
    assert_eq!(
        policy::date_pattern_to_strftime("MM/DD/YYYY").as_deref(),
        Some("%m/%d/%Y")
    );
    assert_eq!(
        policy::date_pattern_to_strftime("DD.MM.YYYY HH:mm").as_deref(),
        Some("%d.%m.%Y %H:%M")
    );
    assert_eq!(policy::date_pattern_to_strftime("MM/YYYY"), None);
    assert_eq!(policy::date_pattern_to_strftime("month first"), None);
}

// --- fields the policy reads must exist in the roster ----------------------------------------

#[test]
fn misspelt_person_fields_and_missing_correlation_columns_are_errors() {
    let text = r#"
system idp {
    connector file
    tier identity-provider
    correlate email="email"
    correlate username="login"
    on-leave disable
}
rule involuntary {
    when "person.terminaton_type == \"involuntary\" && person.cost_center != \"\""
    cutoff immediately
}
"#;
    let policy =
        policy::load_texts(vec![(PathBuf::from("policies/a.kdl"), text.to_string())]).unwrap();
    // `cost_center` is an extra column of this roster; `username` is not.
    let csv = "email,name,status,termination_type,cost_center\nann@acme.com,Ann,active,,CC-1\n";
    let roster = roster::parse_csv(
        csv.as_bytes(),
        Path::new("people.csv"),
        PersonKey::Email,
        &jiff::tz::TimeZone::UTC,
    )
    .unwrap();
    let diagnostics = policy.check_roster_fields(&roster.columns);
    assert_eq!(diagnostics.len(), 2);
    insta::assert_snapshot!(
        "roster_fields",
        policy::diagnostic::render_text(
            &diagnostics,
            &policy.sources,
            policy::RenderOptions::default()
        )
    );
    let fixed = text
        .replace("terminaton_type", "termination_type")
        .replace("correlate username=\"login\"\n", "");
    let policy = policy::load_texts(vec![(PathBuf::from("policies/a.kdl"), fixed)]).unwrap();
    assert!(policy.check_roster_fields(&roster.columns).is_empty());
}

#[test]
fn person_fields_are_found_outside_strings_only() {
    let fields: Vec<String> = offboard::rules::person_fields_read(
        "person.department == \"person.fake\" && person ?. title != \"\" ||\n  person.legal_hold",
    )
    .into_iter()
    .map(|(f, l, c)| format!("{f}@{l}:{c}"))
    .collect();
    assert_eq!(fields, ["department@1:8", "title@1:49", "legal_hold@2:10"]);
}
