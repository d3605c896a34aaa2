//! Reading policy test files (`policies/tests/*.kdl`) with the policy's own KDL toolkit.
//!
//! A test file is read exactly like a policy file: the same guards against inputs the KDL
//! parser cannot survive, the same shape checks (unknown, repeated and missing children,
//! unknown and repeated properties, argument counts, each with a did-you-mean) and the same
//! diagnostics with file, line, column and a hint. Only the node descriptions below and the
//! interpretation of their values are this module's own. Every problem in every file is
//! reported in one run; a test with a problem is never run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use kdl::{KdlNode, KdlValue};

use super::{Expect, TestCase};
use crate::connector::{Account, AccountStatus};
use crate::policy::parse::{Args, Builder, Child, FileParser, Shaped};
use crate::policy::{Action, Diagnostic, PolicyError, Sources, Spanned, file_kind};

const TEST_USAGE: &str =
    "test \"NAME\" { at \"2026-11-23T09:00:00Z\"; person ...; account ...; expect ... }";
const AT_USAGE: &str = "at \"2026-11-23T09:00:00Z\"";
const PERSON_USAGE: &str = "person \"EMAIL\" name=\"...\" status=terminated termination-type=involuntary last-day=\"2026-11-30\"";
const ACCOUNT_USAGE: &str =
    "account SYSTEM id=\"ID\" email=\"...\" groups=\"a,b\" status=active|disabled";
const EXPECT_USAGE: &str =
    "expect SYSTEM ACCOUNT ACTION... (no-change for none, ACCOUNT task for a manual task)";

/// What a fixture account may say about itself; list values are comma-separated.
const ACCOUNT_PROPS: &[&str] = &[
    "id",
    "email",
    "username",
    "employee-id",
    "name",
    "status",
    "groups",
    "licenses",
    "privileged",
    "last-login",
    "sessions",
    "container",
];

/// The children of `test "NAME" { ... }`.
const TEST_CHILDREN: &[Child] = &[
    Child::new("at", Args::one(AT_USAGE)).required(),
    Child::new("use-inventory", Args::NONE),
    // A fixture person has any roster column, as a property.
    Child::new("person", Args::one(PERSON_USAGE))
        .any_props()
        .repeatable(),
    Child::new("account", Args::one(ACCOUNT_USAGE))
        .props(ACCOUNT_PROPS)
        .repeatable(),
    Child::new("expect", Args::between(2, usize::MAX, EXPECT_USAGE))
        .repeatable()
        .required(),
];

/// Every test of a repository, with the files they came from (for diagnostics and
/// locations).
#[derive(Debug, Clone)]
pub struct Suite {
    pub cases: Vec<TestCase>,
    pub sources: Sources,
}

/// Read every `*.kdl` file directly inside `dir` (paths shown relative to `display_base`).
/// Every problem of every file comes back as diagnostics; no test is returned then.
pub fn load(dir: &Path, display_base: &Path) -> Result<Suite, PolicyError> {
    let general = |code: &'static str, message: String, help: &str| PolicyError {
        sources: Sources::default(),
        diagnostics: vec![Diagnostic::general(code, message).help(help)],
    };
    let entries = std::fs::read_dir(dir).map_err(|e| {
        general(
            "policy-test::no-directory",
            format!(
                "cannot read the policy test directory {}: {e}",
                dir.display()
            ),
            "policy tests live in policies/tests/*.kdl; see the policy testing guide",
        )
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "kdl"))
        .collect();
    paths.sort();

    let mut sources = Sources::default();
    let mut builder = Builder::default();
    let mut cases = Vec::new();
    for path in paths {
        let shown = path.strip_prefix(display_base).unwrap_or(&path);
        let text = match read(&path) {
            Ok(text) => text,
            Err(message) => {
                builder.diagnostics.push(
                    Diagnostic::general(
                        "policy-test::unreadable",
                        format!("{}: {message}", shown.display()),
                    )
                    .help("every policies/tests/*.kdl must be a readable regular UTF-8 file under 32 MiB"),
                );
                continue;
            }
        };
        let file = sources.add(shown, text);
        let text = sources.file(file).text.clone();
        let Some(doc) = builder.document(file, &text) else {
            continue;
        };
        let mut parser = FileParser::new(file, &text, &mut builder);
        for node in doc.nodes() {
            if node.name().value() != "test" {
                let name = node.name().value();
                parser.unknown_node(node, name, &["test"], "nodes in a policy test file");
                continue;
            }
            if let Some(mut case) = test(&mut parser, node) {
                case.file = path.clone();
                case.line = sources.line_col(file, node.span().offset()).line;
                cases.push(case);
            }
        }
    }
    for span in std::mem::take(&mut builder.secrets) {
        sources.mask(span);
    }
    if builder.diagnostics.is_empty() {
        Ok(Suite { cases, sources })
    } else {
        Err(PolicyError {
            sources,
            diagnostics: builder.diagnostics,
        })
    }
}

/// A test file's text, refused when it is not a regular file (a FIFO would block) or too big.
fn read(path: &Path) -> Result<String, String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err(format!("{}, not a policy test file", file_kind(&meta)));
    }
    if meta.len() > crate::policy::MAX_FILE_BYTES {
        return Err(format!("file is {} MiB", meta.len() / (1024 * 1024)));
    }
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    String::from_utf8(bytes).map_err(|e| format!("not UTF-8 text ({e})"))
}

/// `test "NAME" { ... }`; `None` when it has a problem (reported).
fn test(p: &mut FileParser<'_>, node: &KdlNode) -> Option<TestCase> {
    let errors = p.error_count();
    let name = p.declaration(node, "test", &[], TEST_USAGE)?;
    let children = p.block(
        node,
        TEST_CHILDREN,
        &format!("test `{}`", name.value),
        name.span,
        TEST_USAGE,
    )?;
    let mut case = TestCase {
        file: PathBuf::new(),
        line: 0,
        name: name.value,
        at: jiff::Timestamp::UNIX_EPOCH,
        people: Vec::new(),
        accounts: Vec::new(),
        use_inventory: false,
        expects: Vec::new(),
    };
    for child in &children {
        match child.name() {
            "at" => {
                if let Some(at) = instant(p, child, "the test's instant") {
                    case.at = at;
                }
            }
            "use-inventory" => case.use_inventory = true,
            "person" => {
                if let Some(person) = person(p, child) {
                    case.people.push(person);
                }
            }
            "account" => {
                if let Some(account) = account(p, child) {
                    case.accounts.push(account);
                }
            }
            "expect" => {
                if let Some(expect) = expect(p, child) {
                    case.expects.push(expect);
                }
            }
            other => p.unhandled(child.node, other),
        }
    }
    // A test with any problem is not run: it would test something other than what it says.
    (p.error_count() == errors).then_some(case)
}

/// An RFC 3339 instant in a string argument.
fn instant(p: &mut FileParser<'_>, child: &Shaped<'_>, what: &str) -> Option<jiff::Timestamp> {
    let text = p.string(child.arg()?, what)?;
    timestamp(p, &text, AT_USAGE)
}

fn timestamp(
    p: &mut FileParser<'_>,
    text: &Spanned<String>,
    usage: &str,
) -> Option<jiff::Timestamp> {
    match text.value.parse::<jiff::Timestamp>() {
        Ok(t) => Some(t),
        Err(_) => {
            p.error(
                Diagnostic::error(
                    "policy-test::instant",
                    text.span,
                    format!("`{}` is not an RFC 3339 instant", text.value),
                )
                .label("not an instant")
                .help(format!("write a UTC instant, e.g. {usage}")),
            );
            None
        }
    }
}

/// `person "EMAIL" column=value ...`: one roster row. Column names are written in kebab
/// case (`termination-type`) and read as the roster's snake case.
fn person(p: &mut FileParser<'_>, child: &Shaped<'_>) -> Option<BTreeMap<String, String>> {
    let email = p.string(child.arg()?, "the person's email")?.value;
    let mut row: BTreeMap<String, String> = child
        .node
        .entries()
        .iter()
        .filter_map(|e| Some((e.name()?.value().replace('-', "_"), cell(e.value()))))
        .collect();
    row.insert("email".into(), email.clone());
    row.entry("name".into()).or_insert(email);
    row.entry("status".into())
        .or_insert_with(|| "active".into());
    Some(row)
}

/// A roster cell as the roster reader would see it in a CSV file.
fn cell(value: &KdlValue) -> String {
    match value {
        KdlValue::String(s) => s.clone(),
        KdlValue::Bool(b) => b.to_string(),
        KdlValue::Null => String::new(),
        other => other.to_string(),
    }
}

/// `account SYSTEM id="..." ...`: one account the system reports.
fn account(p: &mut FileParser<'_>, child: &Shaped<'_>) -> Option<(String, Account)> {
    let node = child.node;
    let system = p.string(child.arg()?, "the account's system")?.value;
    let id = p.required_string_prop(node, "id", ACCOUNT_USAGE)?.value;
    let text = |p: &mut FileParser<'_>, key: &str| p.string_prop(node, key).map(|s| s.value);
    let list = |p: &mut FileParser<'_>, key: &str| -> Vec<String> {
        text(p, key)
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    };
    let status = match FileParser::prop(node, "status") {
        None => AccountStatus::Active,
        Some(entry) => match p
            .keyword(entry, &["active", "disabled"], "account status")?
            .value
            .as_str()
        {
            "disabled" => AccountStatus::Disabled,
            _ => AccountStatus::Active,
        },
    };
    let sessions = match FileParser::prop(node, "sessions") {
        None => None,
        Some(entry) => Some(p.integer(entry, "`sessions`", 0..=i128::from(u32::MAX))?),
    };
    let last_login = match p.string_prop(node, "last-login") {
        None => None,
        Some(text) => Some(timestamp(p, &text, "last-login=\"2026-11-01T09:00:00Z\"")?),
    };
    let account = Account {
        username: text(p, "username").unwrap_or_else(|| id.clone()),
        emails: list(p, "email"),
        employee_id: text(p, "employee-id"),
        display_name: text(p, "name"),
        status,
        groups: list(p, "groups"),
        entitlements: Vec::new(),
        licenses: list(p, "licenses"),
        privileged: p.bool_prop(node, "privileged", false),
        last_login,
        sessions,
        container: text(p, "container"),
        attributes: Default::default(),
        app_roles: Vec::new(),
        held: Vec::new(),
        mastered_by: None,
        id,
    };
    Some((system, account))
}

/// `expect SYSTEM ACCOUNT ACTION...`: the actions planned for one account (`no-change`: none).
fn expect(p: &mut FileParser<'_>, child: &Shaped<'_>) -> Option<Expect> {
    let system = p.string(child.args[0], "the expected system")?.value;
    let account = p.string(child.args[1], "the expected account")?.value;
    let mut words: Vec<&str> = Action::NAMES.to_vec();
    words.push("no-change");
    let mut actions = std::collections::BTreeSet::new();
    let mut ok = true;
    for arg in &child.args[2..] {
        match p.keyword(arg, &words, "action") {
            Some(word) if word.value == "no-change" => {}
            Some(word) => {
                actions.insert(word.value);
            }
            None => ok = false,
        }
    }
    ok.then_some(Expect {
        system,
        account,
        actions,
    })
}
