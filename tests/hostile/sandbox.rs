//! Conditions are pure functions of person, account and now: nothing a pull request writes in a
//! condition can sleep, read the clock, print, exit, mutate or escape the sandbox.

use super::*;

/// Load a policy with one rule whose condition is `condition`.
fn with_condition(condition: &str) -> Result<policy::Policy, String> {
    let text = format!(
        "system idp {{\n    connector file\n    tier identity-provider\n    correlate email=\"email\"\n}}\nrule r {{\n    when {}\n    cutoff immediately\n}}\n",
        kdl_string(condition)
    );
    policy::load_texts(vec![(PathBuf::from("policies/a.kdl"), text)]).map_err(|e| {
        e.diagnostics
            .iter()
            .map(|d| format!("{} | {}", d.message, d.help.clone().unwrap_or_default()))
            .collect::<Vec<_>>()
            .join("\n")
    })
}

/// A KDL v2 raw string holding `s` as it is.
fn kdl_string(s: &str) -> String {
    format!("#\"{s}\"#")
}

/// Conditions are pure functions of person, account and now: every function with an effect
/// (time, sleep, output, exit, mutation, parsing) is refused when the policy loads.
#[test]
fn conditions_cannot_sleep_read_the_clock_print_exit_or_mutate() {
    let cases = [
        ("sleep(30)", "sleep"),
        ("sleep(1e300) == ()", "sleep"),
        ("timestamp() > 0", "timestamp"),
        ("print(person.email) == ()", "print"),
        ("debug(person) == ()", "debug"),
        ("exit(1)", "exit"),
        ("parse_json(\"{}\") == ()", "parse_json"),
        ("person.mixin(#{department: \"Sales\"}) == ()", "mixin"),
        ("person.remove(\"legal_hold\") == ()", "remove"),
        ("person.email.pad(1000000, \"!\") == ()", "pad"),
        ("person.email.make_upper() == ()", "make_upper"),
        ("type_of(person) == \"map\"", "type_of"),
        ("Fn(\"x\").call() == 1", "Fn"),
        ("person.email.crop(1) == ()", "crop"),
        ("person.groups.push(\"admins\") == ()", "push"),
        ("person.groups.clear() == ()", "clear"),
    ];
    for (condition, function) in cases {
        let started = Instant::now();
        let e = with_condition(condition).unwrap_err();
        assert!(
            e.contains(&format!("`{function}` is not available in conditions")),
            "{condition}: {e}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{condition} took too long"
        );
    }
}

/// Functions a condition does need still work.
#[test]
fn the_documented_functions_are_available() {
    for condition in [
        "person.email.ends_with(\"@acme.com\")",
        "person.department.to_lower().contains(\"eng\")",
        "person.name.len() > 0 && !person.title.is_empty()",
        "\"admins\" in person.groups",
        "person.email.split(\"@\").len() == 2",
    ] {
        with_condition(condition).unwrap_or_else(|e| panic!("{condition}: {e}"));
    }
}

/// Strings cannot smuggle calls past the check, and nesting is limited as documented.
#[test]
fn strings_and_nesting_do_not_escape_the_sandbox() {
    with_condition("person.department == \"sleep(30)\"").unwrap();
    let deep = format!("{}true{}", "(".repeat(65), ")".repeat(65));
    let e = with_condition(&deep).unwrap_err();
    assert!(e.contains("more than 64 levels"), "{e}");
    let ok = format!("{}true{}", "(".repeat(64), ")".repeat(64));
    with_condition(&ok).unwrap();
}
