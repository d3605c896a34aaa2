//! Sandboxed rhai conditions: compiled once at load, evaluated many times by the planner.
//!
//! Policies decide *who* a rule applies to with small rhai expressions such as
//! `person.termination_type == "involuntary"`. A policy file is reviewed code, but it is
//! still input: a condition must never hang the planner, exhaust memory, read files, print,
//! or reach the network. So the engine here is built once with hard limits, expressions only
//! (no statements, loops, modules or `eval`), and strict variables: `person`, `account` and
//! `now` are the only names a condition can see. Compilation errors carry the line and column
//! inside the expression so the policy loader can point into the KDL string.

mod fast;
mod sandbox;

pub use fast::{Field, Source};
use sandbox::{Check, MAX_OPERATIONS, engine, mentions_identifier, sandbox_violation};
pub use sandbox::{FUNCTIONS, MAX_CONDITION_LEN, MAX_NESTING, person_fields_read};

use std::fmt;
use std::sync::{Arc, OnceLock};

use rhai::{AST, Dynamic, Engine, Map, Scope};

/// Names visible to every condition.
pub const VARIABLES: &[&str] = &["person", "account", "now"];

/// A compiled condition, ready to evaluate.
#[derive(Clone)]
pub struct Condition {
    source: Arc<str>,
    ast: Arc<AST>,
    engine: Arc<Engine>,
    owner: Arc<str>,
    uses_account: bool,
    /// The same condition for the fast evaluator, when it is in its subset.
    fast: Option<Arc<fast::Expr>>,
}

impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condition")
            .field("owner", &self.owner)
            .field("source", &self.source)
            .finish()
    }
}

/// Why a condition did not compile; positions are 1-based within the expression text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    pub message: String,
    pub line: usize,
    pub column: usize,
    /// Length (in characters) of the offending token when known, else 1.
    pub len: usize,
    pub help: Option<String>,
}

/// Why a condition failed at evaluation time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    #[error("the condition of {owner} failed: {message}")]
    Failed {
        owner: String,
        message: String,
        /// 1-based line and column inside the condition, when rhai reports one.
        position: Option<(usize, usize)>,
    },
    #[error("the condition of {owner} gave a {type_name}, but a condition must give true or false")]
    NotBool { owner: String, type_name: String },
}

impl Condition {
    /// Compile `source` for `owner` (e.g. `rule "involuntary"`, used in evaluation errors).
    pub fn compile(owner: &str, source: &str) -> Result<Condition, CompileError> {
        if source.chars().count() > MAX_CONDITION_LEN {
            return Err(CompileError {
                message: format!(
                    "condition is {} characters long; the limit is {MAX_CONDITION_LEN}",
                    source.chars().count()
                ),
                line: 1,
                column: 1,
                len: 1,
                help: Some("keep conditions to a few comparisons; put data in the roster".into()),
            });
        }
        // Nesting first (before rhai's recursive parser sees the text), then rhai's own
        // diagnostics (closures, `eval`, syntax), then the function allowlist.
        if let Some(e) = sandbox_violation(source, Check::Nesting) {
            return Err(e);
        }
        let engine = engine();
        let mut scope = Scope::new();
        for name in VARIABLES {
            // Pushed as ordinary variables (not constants) so the optimiser cannot fold them.
            scope.push(*name, Dynamic::UNIT);
        }
        let ast = engine
            .compile_expression_with_scope(&scope, source)
            .map_err(|e| compile_error(source, &e))?;
        if let Some(e) = sandbox_violation(source, Check::Calls) {
            return Err(e);
        }
        Ok(Condition {
            source: source.into(),
            ast: Arc::new(ast),
            engine,
            owner: owner.into(),
            uses_account: mentions_identifier(source, "account"),
            fast: fast::Expr::parse(source).map(Arc::new),
        })
    }

    /// Evaluate straight from typed fields, without building a context; `None` when the
    /// condition is outside the fast subset or a value is not what it expects, and the
    /// caller must evaluate with a full context.
    pub fn eval_fields(&self, person: &dyn fast::Source) -> Option<bool> {
        self.fast.as_ref()?.eval(person, None)
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// True when the condition looks at `account` and so must be evaluated per account.
    pub fn uses_account(&self) -> bool {
        self.uses_account
    }

    /// Evaluate against one person (and optionally one of their accounts) at `now`.
    pub fn eval(
        &self,
        person: &PersonContext,
        account: Option<&AccountContext>,
        now: jiff::Timestamp,
    ) -> Result<bool, EvalError> {
        if let Some(fast) = &self.fast
            && let Some(result) = fast.eval(
                &*person.0.map,
                account.map(|a| &*a.0.map as &dyn fast::Source),
            )
        {
            return Ok(result);
        }
        // Constants: a condition cannot change what the next one sees (a method that would
        // modify `person` fails instead of mutating the shared map).
        let mut scope = Scope::new();
        scope.push_constant("person", person.0.dynamic());
        scope.push_constant("account", account.map_or(Dynamic::UNIT, |a| a.0.dynamic()));
        scope.push_constant("now", now.as_second());
        let value = self
            .engine
            .eval_ast_with_scope::<Dynamic>(&mut scope, &self.ast)
            .map_err(|e| {
                let pos = e.position();
                EvalError::Failed {
                    owner: self.owner.to_string(),
                    message: eval_message(&e),
                    position: pos.line().map(|l| (l, pos.position().unwrap_or(1))),
                }
            })?;
        value.as_bool().map_err(|type_name| EvalError::NotBool {
            owner: self.owner.to_string(),
            type_name: type_name.to_string(),
        })
    }
}

/// The `person` a condition sees: the fields as a plain map for the fast evaluator, and the
/// same map as a shared rhai value (cheap to clone into a scope), made only if rhai is needed.
#[derive(Clone, Debug)]
pub struct PersonContext(Fields);

impl PersonContext {
    pub fn new(fields: Map) -> Self {
        PersonContext(Fields::new(fields))
    }
}

/// The `account` a condition sees.
#[derive(Clone, Debug)]
pub struct AccountContext(Fields);

impl AccountContext {
    pub fn new(fields: Map) -> Self {
        AccountContext(Fields::new(fields))
    }
}

#[derive(Clone, Debug)]
struct Fields {
    map: Arc<Map>,
    shared: OnceLock<Dynamic>,
}

impl Fields {
    fn new(map: Map) -> Self {
        Fields {
            map: Arc::new(map),
            shared: OnceLock::new(),
        }
    }

    fn dynamic(&self) -> Dynamic {
        self.shared
            .get_or_init(|| Dynamic::from_map((*self.map).clone()).into_shared())
            .clone()
    }
}

fn compile_error(source: &str, e: &rhai::ParseError) -> CompileError {
    use rhai::ParseErrorType as P;
    let pos = e.position();
    let (line, column) = (pos.line().unwrap_or(1), pos.position().unwrap_or(1));
    let kind = e.err_type();
    let (message, len, help) = match kind {
        P::VariableUndefined(name) => (
            format!("unknown variable `{name}` in condition"),
            name.chars().count(),
            Some(format!(
                "conditions can only use `person`, `account` and `now`{}",
                crate::policy::diagnostic::did_you_mean(name, VARIABLES.iter().copied())
                    .map(|s| format!("; did you mean `{s}`?"))
                    .unwrap_or_default()
            )),
        ),
        P::UnexpectedEOF => (
            "condition ends too early".to_string(),
            1,
            Some("the expression is incomplete: check for a missing operand or closing bracket".into()),
        ),
        P::BadInput(rhai::LexError::UnexpectedInput(sym)) if sym == "|" || sym == "||" => (
            "closures (`|x| ...`) are not allowed in conditions".to_string(),
            sym.len(),
            Some("conditions are sandboxed and linear; test membership with `\"admins\" in person.groups` instead of `map`/`filter`/`any` with a closure".into()),
        ),
        P::BadInput(rhai::LexError::ImproperSymbol(sym, _)) if sym == "eval" => (
            "`eval` is not allowed in conditions".to_string(),
            4,
            Some("conditions are sandboxed: no eval, modules, loops, files or network".into()),
        ),
        _ => (
            format!("invalid condition: {kind}"),
            1,
            Some(
                "a condition is a single rhai expression such as `person.department == \"Sales\" && !person.legal_hold`; statements, loops and functions are not allowed"
                    .into(),
            ),
        ),
    };
    // rhai reports the end of input one past the last character; keep it inside the text.
    let _ = source;
    CompileError {
        message,
        line,
        column,
        len: len.max(1),
        help,
    }
}

fn eval_message(e: &rhai::EvalAltResult) -> String {
    use rhai::EvalAltResult as E;
    match e {
        E::ErrorTooManyOperations(_) => format!(
            "it exceeded {MAX_OPERATIONS} operations (a runaway loop or an oversized computation)"
        ),
        E::ErrorDataTooLarge(what, _) => format!("{what} exceeded the sandbox limit"),
        E::ErrorStackOverflow(_) => "it recursed too deeply".to_string(),
        other => {
            // rhai appends " (line 1, position 5)"; positions are reported separately.
            let text = other.to_string();
            match text.rfind(" (line ") {
                Some(i) => text[..i].to_string(),
                None => text,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(pairs: &[(&str, Dynamic)]) -> PersonContext {
        let mut map = Map::new();
        for (k, v) in pairs {
            map.insert((*k).into(), v.clone());
        }
        PersonContext::new(map)
    }

    /// Conditions from the fast subset's grammar over a few fields of every kind: text,
    /// bool, number, list, and one that does not exist.
    fn subset_condition() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let field = prop::sample::select(vec![
            "person.department",
            "person.flag",
            "person.count",
            "person.groups",
            "person.missing",
            "account.groups",
            "account.status",
        ]);
        let literal =
            prop::sample::select(vec!["\"Sales\"", "\"admins\"", "\"\"", "true", "false"]);
        let atom = prop_oneof![
            field.prop_map(str::to_string),
            literal.prop_map(str::to_string)
        ];
        atom.prop_recursive(4, 24, 2, |inner| {
            prop_oneof![
                (
                    inner.clone(),
                    prop::sample::select(vec!["==", "!=", "&&", "||", "in"]),
                    inner.clone()
                )
                    .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
                inner.prop_map(|a| format!("!{a}")),
            ]
        })
    }

    fn sample_person(department: &str, flag: bool, groups: &[&str]) -> PersonContext {
        let list = Dynamic::from_array(
            groups
                .iter()
                .map(|g| Dynamic::from(g.to_string()))
                .collect(),
        );
        person(&[
            ("department", department.to_string().into()),
            ("flag", flag.into()),
            ("count", Dynamic::from(3_i64)),
            ("groups", list),
        ])
    }

    proptest::proptest! {
        /// The fast path never decides differently from rhai: whenever it answers, rhai
        /// gives the same answer (and where rhai fails, the fast path steps aside).
        #[test]
        fn fast_path_agrees_with_rhai(
            source in subset_condition(),
            department in proptest::sample::select(vec!["Sales", "IT", ""]),
            flag in proptest::bool::ANY,
            groups in proptest::sample::subsequence(vec!["admins", "Sales", "x"], 0..3),
        ) {
            let Ok(fast) = Condition::compile("rule t", &source) else { return Ok(()) };
            let slow = Condition { fast: None, ..fast.clone() };
            proptest::prop_assert!(fast.fast.is_some(), "{source} is in the subset");
            let person = sample_person(department, flag, &groups);
            let mut account = Map::new();
            account.insert("groups".into(), Dynamic::from_array(vec![Dynamic::from("admins".to_string())]));
            account.insert("status".into(), Dynamic::from("active".to_string()));
            let account = AccountContext::new(account);
            let now = jiff::Timestamp::UNIX_EPOCH;
            for acct in [None, Some(&account)] {
                let quick = fast.fast.as_ref().and_then(|f| {
                    f.eval(&*person.0.map, acct.map(|a| &*a.0.map as &dyn fast::Source))
                });
                if let Some(answer) = quick {
                    proptest::prop_assert_eq!(slow.eval(&person, acct, now), Ok(answer), "{}", source);
                }
            }
        }
    }

    #[test]
    fn fast_path_answers_the_common_forms() {
        let p = sample_person("Sales", false, &["admins"]);
        for (source, expected) in [
            ("person.department == \"Sales\"", true),
            ("person.department != \"Sales\" || person.flag", false),
            ("!person.flag && \"admins\" in person.groups", true),
            ("\"ale\" in person.department", true),
        ] {
            let c = Condition::compile("rule t", source).unwrap();
            let quick = c.fast.as_ref().and_then(|f| f.eval(&*p.0.map, None));
            assert_eq!(quick, Some(expected), "{source}");
        }
        // A number or a missing field: rhai decides (and reports the missing one).
        for source in ["person.count == \"3\"", "person.missing == \"x\""] {
            let c = Condition::compile("rule t", source).unwrap();
            assert_eq!(
                c.fast.as_ref().and_then(|f| f.eval(&*p.0.map, None)),
                None,
                "{source}"
            );
        }
    }

    #[test]
    fn evaluates_against_person() {
        let c = Condition::compile("rule \"sales\"", "person.department == \"Sales\"").unwrap();
        let now = jiff::Timestamp::UNIX_EPOCH;
        assert!(
            c.eval(&person(&[("department", "Sales".into())]), None, now)
                .unwrap()
        );
        assert!(
            !c.eval(&person(&[("department", "IT".into())]), None, now)
                .unwrap()
        );
    }

    #[test]
    fn unknown_variable_is_a_compile_error_with_position() {
        let e = Condition::compile("rule x", "person.a == 1 &&\n  persn.b").unwrap_err();
        assert_eq!((e.line, e.column, e.len), (2, 3, 5));
        assert!(e.help.unwrap().contains("did you mean `person`"));
    }

    #[test]
    fn exploding_functions_are_refused_at_load() {
        // `pad` could build a megabyte string; it is not among the functions conditions get.
        let e = Condition::compile("rule \"big\"", "\"x\".pad(1000000, 'y') == ()").unwrap_err();
        assert!(
            e.message.contains("`pad` is not available"),
            "{}",
            e.message
        );
    }

    #[test]
    fn oversized_data_fails_instead_of_growing() {
        // Within the allowed functions, a value past the sandbox's size limit stops the
        // evaluation with an error (here: splitting a 64 KiB string into 64k pieces).
        let c = Condition::compile("rule \"big\"", "person.name.split(\"\").len() > 0").unwrap();
        let long = "x".repeat(sandbox::MAX_STRING_SIZE);
        let err = c
            .eval(
                &person(&[("name", long.into())]),
                None,
                jiff::Timestamp::UNIX_EPOCH,
            )
            .unwrap_err();
        assert!(
            err.to_string().contains("exceeded the sandbox limit"),
            "{err}"
        );
    }

    #[test]
    fn closures_are_rejected_at_load() {
        let e =
            Condition::compile("rule x", "person.groups.map(|g| g.len()).len() > 0").unwrap_err();
        assert!(e.message.contains("closures"), "{}", e.message);
    }

    #[test]
    fn membership_works_without_closures() {
        let c = Condition::compile("rule x", "\"admins\" in person.groups").unwrap();
        let groups: rhai::Array = vec!["eng".into(), "admins".into()];
        let p = person(&[("groups", groups.into())]);
        assert!(c.eval(&p, None, jiff::Timestamp::UNIX_EPOCH).unwrap());
    }

    #[test]
    fn missing_property_is_an_error_not_false() {
        let c = Condition::compile("rule x", "person.departmnt == \"Sales\"").unwrap();
        let err = c
            .eval(
                &person(&[("department", "Sales".into())]),
                None,
                jiff::Timestamp::UNIX_EPOCH,
            )
            .unwrap_err();
        assert!(err.to_string().contains("departmnt"), "{err}");
    }

    #[test]
    fn non_boolean_result_is_an_error() {
        let c = Condition::compile("rule x", "1 + 1").unwrap();
        let err = c
            .eval(&person(&[]), None, jiff::Timestamp::UNIX_EPOCH)
            .unwrap_err();
        assert!(matches!(err, EvalError::NotBool { .. }));
    }

    #[test]
    fn detects_account_usage_outside_strings() {
        assert!(mentions_identifier("account.privileged", "account"));
        assert!(!mentions_identifier(
            "person.title == \"account manager\"",
            "account"
        ));
        assert!(!mentions_identifier("person.accounts_count > 1", "account"));
    }
}
