//! Golden diagnostics: malformed policies and what `offboard validate` tells their authors.
//!
//! Each case is a small broken policy, the location its first diagnostic must point at, and
//! an insta snapshot of every diagnostic rendered without colour.

use std::path::PathBuf;

use offboard::policy::{self, RenderOptions, diagnostic};

/// A valid system used as a neighbour in many cases, so errors are not trivially alone.
const OKTA: &str = r#"system okta {
    connector file
    tier identity-provider
    correlate email="email"
}
"#;

fn load(files: &[(&str, &str)]) -> policy::PolicyError {
    let files = files
        .iter()
        .map(|(p, t)| (PathBuf::from(p), t.to_string()))
        .collect();
    match policy::load_texts(files) {
        Ok(p) => panic!("expected the policy to be invalid, got {}", p.summary()),
        Err(e) => e,
    }
}

fn render(e: &policy::PolicyError) -> String {
    diagnostic::render_text(&e.diagnostics, &e.sources, RenderOptions::default())
}

/// Load, check the first diagnostic's location, snapshot everything.
fn case(name: &str, files: &[(&str, &str)], first_at: &str) {
    let e = load(files);
    let first = e.diagnostics[0]
        .span
        .expect("first diagnostic has a position");
    assert_eq!(e.sources.location(first), first_at, "case {name}");
    insta::assert_snapshot!(name, render(&e));
}

#[test]
fn broken_kdl_unclosed_block() {
    case(
        "broken_kdl",
        &[(
            "policies/a.kdl",
            "system okta {\n    tier identity-provider\n",
        )],
        "policies/a.kdl:1:13",
    );
}

#[test]
fn bare_duration_gets_a_quoting_hint() {
    case(
        "bare_duration",
        &[(
            "policies/a.kdl",
            "rule r {\n    when \"true\"\n    delete-after 90d\n}\n",
        )],
        "policies/a.kdl:3:18",
    );
}

#[test]
fn kdl_v1_boolean() {
    let text = format!(
        "{OKTA}system gh {{\n    connector file\n    tier business\n    correlate email=\"email\"\n    enforce-roles true\n}}\n"
    );
    case(
        "kdl_v1_boolean",
        &[("policies/a.kdl", &text)],
        "policies/a.kdl:10:19",
    );
}

#[test]
fn unknown_top_level_node() {
    let text = format!("{OKTA}systm github {{\n}}\n");
    case(
        "unknown_top_level_node",
        &[("policies/a.kdl", &text)],
        "policies/a.kdl:6:1",
    );
}

#[test]
fn unknown_child_node() {
    case(
        "unknown_child_node",
        &[(
            "policies/a.kdl",
            "rule contractors {\n    when \"true\"\n    delete-afte \"30d\"\n}\n",
        )],
        "policies/a.kdl:3:5",
    );
}

#[test]
fn misspelt_property() {
    case(
        "misspelt_property",
        &[(
            "policies/a.kdl",
            "system okta {\n    connector scim urll=\"https://acme.okta.com/scim/v2\" token-env=OKTA\n    tier identity-provider\n    correlate email=\"userName\"\n}\n",
        )],
        "policies/a.kdl:2:20",
    );
}

#[test]
fn duplicate_system_in_one_file() {
    let text = format!("{OKTA}{OKTA}");
    case(
        "duplicate_system",
        &[("policies/a.kdl", &text)],
        "policies/a.kdl:6:8",
    );
}

#[test]
fn duplicate_rule_across_files() {
    let rule = "rule involuntary {\n    when \"person.termination_type == \\\"involuntary\\\"\"\n    cutoff immediately\n}\n";
    case(
        "duplicate_rule_across_files",
        &[("policies/a.kdl", rule), ("policies/b.kdl", rule)],
        "policies/b.kdl:1:6",
    );
}

#[test]
fn dangling_system_reference() {
    let text = format!(
        "{OKTA}role eng when=\"true\" {{\n    grant okta group=\"eng\"\n    grant githb group=\"eng\"\n}}\n"
    );
    case(
        "dangling_system_reference",
        &[("policies/a.kdl", &text)],
        "policies/a.kdl:8:11",
    );
}

#[test]
fn bad_duration_unit() {
    case(
        "bad_duration_unit",
        &[(
            "policies/a.kdl",
            "rule r {\n    when \"true\"\n    delete-after \"30 days\"\n}\n",
        )],
        "policies/a.kdl:3:18",
    );
}

#[test]
fn duration_without_unit() {
    case(
        "duration_without_unit",
        &[("policies/a.kdl", "defaults {\n    delete-after 30\n}\n")],
        "policies/a.kdl:2:18",
    );
}

#[test]
fn bad_cutoff() {
    case(
        "bad_cutoff",
        &[(
            "policies/a.kdl",
            "rule r {\n    when \"true\"\n    cutoff end-of-lastday\n}\n",
        )],
        "policies/a.kdl:3:12",
    );
}

#[test]
fn unsigned_cutoff_offset() {
    case(
        "unsigned_cutoff_offset",
        &[(
            "policies/a.kdl",
            "rule r {\n    when \"true\"\n    cutoff \"+2x\"\n}\n",
        )],
        "policies/a.kdl:3:12",
    );
}

#[test]
fn inline_token_is_masked() {
    let e = load(&[(
        "policies/a.kdl",
        "system okta {\n    connector scim url=\"https://acme.okta.com/scim/v2\" token=\"canary-7f3a9\"\n    tier identity-provider\n    correlate email=\"userName\"\n}\n",
    )]);
    let rendered = render(&e);
    assert!(
        !rendered.contains("canary-7f3a9"),
        "secret leaked:\n{rendered}"
    );
    let json = serde_json::to_string(&diagnostic::to_json(&e.diagnostics, &e.sources)).unwrap();
    assert!(!json.contains("canary-7f3a9"));
    assert_eq!(
        e.sources.location(e.diagnostics[0].span.unwrap()),
        "policies/a.kdl:2:62"
    );
    insta::assert_snapshot!("inline_token", rendered);
}

#[test]
fn inline_ldap_password() {
    case(
        "inline_ldap_password",
        &[(
            "policies/a.kdl",
            "system ad {\n    connector ldap url=\"ldaps://dc1\" bind-dn=\"CN=svc\" password=\"hunter2\" base-dn=\"DC=corp\"\n    tier directory\n    correlate employee-id=\"employeeNumber\"\n}\n",
        )],
        "policies/a.kdl:2:64",
    );
}

#[test]
fn unknown_tier() {
    case(
        "unknown_tier",
        &[(
            "policies/a.kdl",
            "system okta {\n    connector file\n    tier identity-provder\n    correlate email=\"email\"\n}\n",
        )],
        "policies/a.kdl:3:10",
    );
}

#[test]
fn unknown_connector_kind() {
    case(
        "unknown_connector_kind",
        &[(
            "policies/a.kdl",
            "system okta {\n    connector saml\n    tier identity-provider\n    correlate email=\"email\"\n}\n",
        )],
        "policies/a.kdl:2:15",
    );
}

#[test]
fn action_the_connector_cannot_do() {
    case(
        "unsupported_action",
        &[(
            "policies/a.kdl",
            "system okta {\n    connector scim url=\"https://acme.okta.com/scim/v2\" token-env=OKTA\n    tier identity-provider\n    correlate email=\"userName\"\n    on-leave disable move\n}\n",
        )],
        "policies/a.kdl:5:22",
    );
}

#[test]
fn scim_delete_needs_hard_delete() {
    case(
        "scim_delete_without_hard_delete",
        &[(
            "policies/a.kdl",
            "system slack {\n    connector scim url=\"https://api.slack.com/scim/v2\" token-env=SLACK\n    tier collaboration\n    correlate email=\"userName\"\n    on-leave disable delete\n}\n",
        )],
        "policies/a.kdl:5:22",
    );
}

#[test]
fn ldap_move_needs_disabled_ou() {
    case(
        "ldap_move_without_disabled_ou",
        &[(
            "policies/a.kdl",
            "system ad {\n    connector ldap url=\"ldaps://dc1\" bind-dn=\"CN=svc\" password-env=AD base-dn=\"DC=corp\"\n    tier directory\n    correlate employee-id=\"employeeNumber\"\n    on-leave disable move\n}\n",
        )],
        "policies/a.kdl:5:22",
    );
}

#[test]
fn when_given_twice() {
    case(
        "when_given_twice",
        &[(
            "policies/a.kdl",
            "rule r when=\"true\" {\n    when \"false\"\n}\nrule s {\n    when \"true\"\n    when \"false\"\n}\n",
        )],
        "policies/a.kdl:2:5",
    );
}

#[test]
fn unknown_action() {
    let text = "system okta {\n    connector file\n    tier identity-provider\n    correlate email=\"email\"\n    on-leave disabel revoke-sessions\n}\n";
    case(
        "unknown_action",
        &[("policies/a.kdl", text)],
        "policies/a.kdl:5:14",
    );
}

#[test]
fn inherited_action_the_connector_cannot_do() {
    let text = "defaults {\n    on-leave disable revoke-sessions\n}\nsystem ad {\n    connector ldap url=\"ldap://dc1\" bind-dn=\"CN=svc\" password-env=AD base-dn=\"DC=corp\"\n    tier directory\n    correlate employee-id=\"employeeNumber\"\n}\n";
    case(
        "inherited_unsupported_action",
        &[("policies/a.kdl", text)],
        "policies/a.kdl:4:8",
    );
}

#[test]
fn rhai_syntax_error_points_inside_the_string() {
    case(
        "rhai_syntax_error",
        &[(
            "policies/a.kdl",
            "rule r {\n    when \"person.department == \\\"Sales\\\" &&\"\n}\n",
        )],
        "policies/a.kdl:2:44",
    );
}

#[test]
fn rhai_unknown_variable() {
    let text = format!(
        "{OKTA}role eng when=\"person.department == \\\"Eng\\\" || employee.admin\" {{\n    grant okta group=\"eng\"\n}}\n"
    );
    case(
        "rhai_unknown_variable",
        &[("policies/a.kdl", &text)],
        "policies/a.kdl:6:48",
    );
}

#[test]
fn rhai_unknown_variable_in_raw_string() {
    let text = "rule r {\n    when #\"person.dept == \"x\" && peson.legal_hold\"#\n}\n";
    case(
        "rhai_unknown_variable_raw",
        &[("policies/a.kdl", text)],
        "policies/a.kdl:2:34",
    );
}

#[test]
fn rhai_eval_is_disabled() {
    case(
        "rhai_eval_disabled",
        &[(
            "policies/a.kdl",
            "rule r {\n    when \"eval(\\\"true\\\")\"\n}\n",
        )],
        "policies/a.kdl:2:11",
    );
}

#[test]
fn rhai_statement_is_rejected() {
    case(
        "rhai_statement",
        &[(
            "policies/a.kdl",
            "rule r {\n    when \"let x = 1; x == 1\"\n}\n",
        )],
        "policies/a.kdl:2:11",
    );
}

#[test]
fn rhai_runaway_is_refused_at_load() {
    // `pad` could build a 10 MB string at evaluation; conditions do not get it at all.
    let text = "rule runaway {\n    when \"person.name.len() > 0 && person.name.pad(10000000, '!') == ()\"\n}\n";
    let e = policy::load_texts(vec![(PathBuf::from("policies/a.kdl"), text.into())])
        .expect_err("refused when the policy loads");
    let rendered = diagnostic::render_text(&e.diagnostics, &e.sources, RenderOptions::default());
    assert!(
        rendered.contains("`pad` is not available in conditions"),
        "{rendered}"
    );
    insta::assert_snapshot!("rhai_infinite_loop", rendered);
}

#[test]
fn rhai_nested_loop_is_rejected_at_load() {
    // Loops are impossible in an expression; nested closures are the only way to write one.
    let text = "rule loop {\n    when \"person.groups.map(|a| person.groups.map(|b| b).len()).len() > 0\"\n}\n";
    case(
        "rhai_nested_loop",
        &[("policies/a.kdl", text)],
        "policies/a.kdl:2:29",
    );
}

#[test]
fn missing_connector_and_tier() {
    case(
        "missing_connector_and_tier",
        &[(
            "policies/a.kdl",
            "system okta {\n    correlate email=\"email\"\n}\n",
        )],
        "policies/a.kdl:1:8",
    );
}

#[test]
fn ten_megabyte_string() {
    let big = "x".repeat(10 * 1024 * 1024);
    let text = format!(
        "{OKTA}system big {{\n    connector file\n    tier business\n    correlate email=\"email\"\n    description \"{big}\"\n}}\n"
    );
    let e = load(&[("policies/a.kdl", &text)]);
    let rendered = render(&e);
    assert!(
        rendered.len() < 4_000,
        "rendering must clip the long line ({} bytes)",
        rendered.len()
    );
    assert_eq!(
        e.sources.location(e.diagnostics[0].span.unwrap()),
        "policies/a.kdl:10:17"
    );
    insta::assert_snapshot!("ten_megabyte_string", rendered);
}

#[test]
fn delete_and_retain_forever_conflict() {
    case(
        "delete_retain_conflict",
        &[(
            "policies/a.kdl",
            "rule hold {\n    when \"person.legal_hold\"\n    retain forever\n    delete-after \"30d\"\n}\n",
        )],
        "policies/a.kdl:4:5",
    );
}

#[test]
fn exemption_without_reason() {
    let text = "system ad {\n    connector file\n    tier directory\n    correlate username=\"username\"\n    exempt \"svc-backup\" owner=\"it@acme.com\"\n}\n";
    case(
        "exemption_without_reason",
        &[("policies/a.kdl", text)],
        "policies/a.kdl:5:5",
    );
}

#[test]
fn bad_percentage() {
    case(
        "bad_percentage",
        &[(
            "policies/a.kdl",
            "defaults {\n    max-disable-share \"150%\"\n}\n",
        )],
        "policies/a.kdl:2:23",
    );
}

#[test]
fn unknown_timezone() {
    case(
        "unknown_timezone",
        &[(
            "policies/a.kdl",
            "defaults {\n    timezone \"Europe/Berln\"\n}\n",
        )],
        "policies/a.kdl:2:14",
    );
}

#[test]
fn concurrency_out_of_range() {
    let text = "system okta {\n    connector file\n    tier identity-provider\n    correlate email=\"email\"\n    concurrency 0\n}\n";
    case(
        "concurrency_out_of_range",
        &[("policies/a.kdl", text)],
        "policies/a.kdl:5:17",
    );
}

#[test]
fn unknown_person_field() {
    let text = "system gh {\n    connector file\n    tier business\n    correlate github=\"username\"\n}\npeople {\n    source csv path=\"people.csv\"\n}\n";
    case(
        "unknown_person_field",
        &[("policies/a.kdl", text)],
        "policies/a.kdl:4:15",
    );
}

#[test]
fn invalid_env_variable_name() {
    case(
        "invalid_env_name",
        &[(
            "policies/a.kdl",
            "system okta {\n    connector scim url=\"https://acme.okta.com/scim/v2\" token-env=\"00abc-def\"\n    tier identity-provider\n    correlate email=\"userName\"\n}\n",
        )],
        "policies/a.kdl:2:66",
    );
}

#[test]
fn two_secret_sources() {
    case(
        "two_secret_sources",
        &[(
            "policies/a.kdl",
            "system okta {\n    connector scim url=\"https://acme.okta.com/scim/v2\" token-env=OKTA token-file=\"/run/secrets/okta\"\n    tier identity-provider\n    correlate email=\"userName\"\n}\n",
        )],
        "policies/a.kdl:2:82",
    );
}

#[test]
fn duplicate_property() {
    case(
        "duplicate_property",
        &[(
            "policies/a.kdl",
            "system okta {\n    connector file path=\"a.json\" path=\"b.json\"\n    tier identity-provider\n    correlate email=\"email\"\n}\n",
        )],
        "policies/a.kdl:2:34",
    );
}

#[test]
fn role_without_condition() {
    let text = format!("{OKTA}role everyone {{\n    grant okta group=\"all\"\n}}\n");
    case(
        "role_without_condition",
        &[("policies/a.kdl", &text)],
        "policies/a.kdl:6:1",
    );
}

#[test]
fn defaults_declared_twice() {
    case(
        "defaults_twice",
        &[(
            "policies/a.kdl",
            "defaults {\n    cutoff immediately\n}\ndefaults {\n    delete-after \"90d\"\n}\n",
        )],
        "policies/a.kdl:4:1",
    );
}

#[test]
fn too_many_arguments() {
    case(
        "too_many_arguments",
        &[(
            "policies/a.kdl",
            "system okta {\n    connector file\n    tier identity-provider directory\n    correlate email=\"email\"\n}\n",
        )],
        "policies/a.kdl:3:28",
    );
}

#[test]
fn scim_url_without_scheme() {
    case(
        "scim_url_without_scheme",
        &[(
            "policies/a.kdl",
            "system okta {\n    connector scim url=\"acme.okta.com/scim/v2\" token-env=OKTA\n    tier identity-provider\n    correlate email=\"userName\"\n}\n",
        )],
        "policies/a.kdl:2:24",
    );
}

#[test]
fn many_errors_are_all_reported_at_once() {
    let e = load(&[(
        "policies/a.kdl",
        "system okta {\n    connector file\n    tier idp\n    correlate email=\"email\"\n    on-leave disabel\n}\nrole r when=\"persn\" {\n    grant nowhere group=\"g\"\n}\nrule x {\n    when \"true\"\n    cutoff soon\n}\n",
    )]);
    let codes: Vec<&str> = e.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(
        codes,
        [
            "policy::unknown-value",
            "policy::unknown-value",
            "policy::condition",
            "policy::cutoff",
            "policy::unknown-system"
        ]
    );
}

#[test]
fn json_diagnostics_carry_positions() {
    let e = load(&[(
        "policies/a.kdl",
        "rule r {\n    when \"true\"\n    delete-after \"9\"\n}\n",
    )]);
    let json = serde_json::to_value(diagnostic::to_json(&e.diagnostics, &e.sources)).unwrap();
    insta::assert_json_snapshot!("json_diagnostics", json);
}

/// Every node kind checks repeated children the same way (roles and `people` used to let a
/// second `description`, `key` or `source` silently win).
#[test]
fn a_repeated_child_is_an_error_in_every_node_kind() {
    for (node, text) in [
        (
            "role",
            "role r when=\"true\" {\n    description \"a\"\n    description \"b\"\n    grant okta group=\"eng\"\n}\n",
        ),
        (
            "people",
            "people {\n    source csv path=\"people.csv\"\n    key email\n    key username\n}\n",
        ),
        (
            "rule",
            "rule r {\n    when \"true\"\n    cutoff immediately\n    cutoff end-of-last-day\n}\n",
        ),
        (
            "defaults",
            "defaults {\n    timezone \"UTC\"\n    timezone \"Europe/Berlin\"\n}\n",
        ),
        (
            "system",
            "system b {\n    connector file\n    tier business\n    tier directory\n    correlate email=\"email\"\n}\n",
        ),
    ] {
        let e = load(&[("policies/a.kdl", OKTA), ("policies/b.kdl", text)]);
        let repeated: Vec<_> = e
            .diagnostics
            .iter()
            .filter(|d| d.code == "policy::duplicate-node")
            .collect();
        assert_eq!(repeated.len(), 1, "{node}: {}", render(&e));
        assert!(repeated[0].message.contains("is given twice"), "{node}");
    }
}

/// A required child is reported missing the same way everywhere.
#[test]
fn a_missing_required_child_names_the_owner_and_the_child() {
    let e = load(&[("policies/a.kdl", "people {\n    key email\n}\n")]);
    let text = render(&e);
    assert!(text.contains("`people` has no `source`"), "{text}");
    let e = load(&[("policies/a.kdl", "system s {\n    connector file\n}\n")]);
    let text = render(&e);
    assert!(text.contains("system `s` has no `tier`"), "{text}");
}

#[test]
fn a_recipient_no_channel_can_reach() {
    case(
        "undeliverable_recipient",
        &[(
            "policies/a.kdl",
            &format!(
                "{OKTA}rule involuntary {{\n    when \"person.termination_type == \\\"involuntary\\\"\"\n    notify \"security@acme.com\" \"sec-chta\"\n}}\nnotifications {{\n    default \"not-an-address@\"\n    chat \"sec-chat\" url-env=\"SEC_CHAT_URL\"\n}}\n"
            ),
        )],
        "policies/a.kdl:10:1",
    );
}

#[test]
fn a_chat_declared_twice_and_an_inline_webhook_secret() {
    case(
        "chat_twice",
        &[(
            "policies/a.kdl",
            &format!(
                "{OKTA}notifications {{\n    chat \"sec\" url-env=\"A\"\n    chat \"sec\" url-env=\"B\"\n    smtp host=\"smtp.acme.com\" from=\"offboard@acme.com\" password=\"hunter22\"\n}}\n"
            ),
        )],
        "policies/a.kdl:9:65",
    );
}

#[test]
fn a_trigger_without_a_scheme_or_with_a_bad_header() {
    case(
        "trigger_problems",
        &[(
            "policies/a.kdl",
            &format!(
                "{OKTA}trigger \"workday\" secret-env=\"WD_SECRET\"\ntrigger \"hr\" scheme=\"generic\" secret-env=\"HR\" signature-header=\"X Sig\"\ntrigger \"bob\" scheme=\"hibob\" secret=\"inline\"\n"
            ),
        )],
        "policies/a.kdl:6:1",
    );
}
