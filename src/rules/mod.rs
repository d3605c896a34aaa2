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

pub use fast::{Field, Source};

use std::fmt;
use std::sync::{Arc, OnceLock};

use rhai::{AST, Dynamic, Engine, Map, OptimizationLevel, Scope};

/// Names visible to every condition.
pub const VARIABLES: &[&str] = &["person", "account", "now"];

/// Hard limits. Generous for real policies (a few comparisons), tiny for runaway ones.
const MAX_OPERATIONS: u64 = 100_000;
const MAX_CALL_LEVELS: usize = 16;
/// rhai counts depth differently from brackets: the documented limit is [`MAX_NESTING`],
/// checked before rhai sees the text; this is the backstop above it.
const MAX_EXPR_DEPTH: usize = 256;
const MAX_FN_EXPR_DEPTH: usize = 64;
const MAX_STRING_SIZE: usize = 64 * 1024;
const MAX_ARRAY_SIZE: usize = 10_000;
const MAX_MAP_SIZE: usize = 10_000;
/// Longest condition source accepted at all.
pub const MAX_CONDITION_LEN: usize = 16 * 1024;

/// The functions and methods a condition may call: pure functions of their arguments. No
/// clock (`timestamp`), no `sleep`, no `print`/`debug`, nothing that mutates a value
/// (`push`, `remove`, `mixin`, ...), nothing that throws or exits. This is the whole list.
pub const FUNCTIONS: &[&str] = &[
    "contains",
    "starts_with",
    "ends_with",
    "len",
    "is_empty",
    "to_lower",
    "to_upper",
    "index_of",
    "sub_string",
    "split",
    "to_string",
    "parse_int",
    "abs",
    "min",
    "max",
    "keys",
    "values",
];

/// How deeply brackets may nest in a condition; deeper is refused at load. rhai's own depth
/// limits (which count differently) sit above this, as a backstop.
pub const MAX_NESTING: usize = 64;

fn engine() -> Arc<Engine> {
    static ENGINE: OnceLock<Arc<Engine>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            use rhai::packages::{
                ArithmeticPackage, BasicArrayPackage, BasicMapPackage, BasicMathPackage,
                BasicStringPackage, LogicPackage, MoreStringPackage, Package,
            };
            // A raw engine with pure packages only: no core language package (it holds
            // `sleep`, `exit`, `parse_json`), no time package (`timestamp`).
            let mut engine = Engine::new_raw();
            for module in [
                ArithmeticPackage::new().as_shared_module(),
                LogicPackage::new().as_shared_module(),
                BasicStringPackage::new().as_shared_module(),
                MoreStringPackage::new().as_shared_module(),
                BasicArrayPackage::new().as_shared_module(),
                BasicMapPackage::new().as_shared_module(),
                BasicMathPackage::new().as_shared_module(),
            ] {
                engine.register_global_module(module);
            }
            engine
                .set_strict_variables(true)
                .set_fail_on_invalid_map_property(true)
                .set_allow_looping(false)
                // Native functions (`map`, `filter`, `all`) run closures outside the operation
                // counter, so nested closures could run for minutes. Without anonymous
                // functions every condition is linear in the (bounded) size of its data.
                .set_allow_anonymous_fn(false)
                .set_max_operations(MAX_OPERATIONS)
                .set_max_call_levels(MAX_CALL_LEVELS)
                .set_max_expr_depths(MAX_EXPR_DEPTH, MAX_FN_EXPR_DEPTH)
                .set_max_string_size(MAX_STRING_SIZE)
                .set_max_array_size(MAX_ARRAY_SIZE)
                .set_max_map_size(MAX_MAP_SIZE)
                .set_max_modules(0)
                .set_optimization_level(OptimizationLevel::Simple);
            engine.disable_symbol("eval");
            // Conditions must not write to the terminal (or leak data through it).
            engine.on_print(|_| {}).on_debug(|_, _, _| {});
            Arc::new(engine)
        })
        .clone()
}

/// One token of a condition outside string literals, with its 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Ident(String),
    Punct(char),
}

/// The identifiers and punctuation of `source`, skipping string literals (`"`, `` ` ``, `'`,
/// with backslash escapes) and numbers. The one scanner behind the load-time checks: the
/// sandbox's nesting and function list, the `person.FIELD`s read, and whether `account` is used.
fn tokens(source: &str) -> Vec<(Token, usize, usize)> {
    let chars: Vec<char> = source.chars().collect();
    let mut out = Vec::new();
    let (mut line, mut column) = (1, 1);
    let mut i = 0;
    let advance = |i: &mut usize, line: &mut usize, column: &mut usize| {
        if chars[*i] == '\n' {
            *line += 1;
            *column = 1;
        } else {
            *column += 1;
        }
        *i += 1;
    };
    while i < chars.len() {
        let c = chars[i];
        if matches!(c, '"' | '`' | '\'') {
            advance(&mut i, &mut line, &mut column);
            while i < chars.len() && chars[i] != c {
                if chars[i] == '\\' && i + 1 < chars.len() {
                    advance(&mut i, &mut line, &mut column);
                }
                advance(&mut i, &mut line, &mut column);
            }
            if i < chars.len() {
                advance(&mut i, &mut line, &mut column);
            }
        } else if c.is_alphanumeric() || c == '_' {
            let (l, col, start) = (line, column, i);
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                advance(&mut i, &mut line, &mut column);
            }
            if !c.is_ascii_digit() {
                out.push((Token::Ident(chars[start..i].iter().collect()), l, col));
            }
        } else {
            if !c.is_whitespace() {
                out.push((Token::Punct(c), line, column));
            }
            advance(&mut i, &mut line, &mut column);
        }
    }
    out
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Check {
    Nesting,
    Calls,
}

/// The first nesting deeper than [`MAX_NESTING`], or the first call of a function not in
/// [`FUNCTIONS`], found outside string literals.
fn sandbox_violation(source: &str, check: Check) -> Option<CompileError> {
    let tokens = tokens(source);
    let mut depth = 0usize;
    for (n, (token, line, column)) in tokens.iter().enumerate() {
        match token {
            Token::Punct('(' | '[' | '{') => {
                depth += 1;
                if check == Check::Nesting && depth > MAX_NESTING {
                    return Some(CompileError {
                        message: format!(
                            "the condition nests more than {MAX_NESTING} levels of brackets"
                        ),
                        line: *line,
                        column: *column,
                        len: 1,
                        help: Some(
                            "simplify the condition; conditions are a few comparisons".into(),
                        ),
                    });
                }
            }
            Token::Punct(')' | ']' | '}') => depth = depth.saturating_sub(1),
            Token::Ident(name)
                if check == Check::Calls
                    && matches!(tokens.get(n + 1), Some((Token::Punct('('), ..)))
                    && !FUNCTIONS.contains(&name.as_str()) =>
            {
                return Some(CompileError {
                    message: format!("`{name}` is not available in conditions"),
                    line: *line,
                    column: *column,
                    len: name.chars().count(),
                    help: Some(format!(
                        "conditions are pure functions of person, account and now; they may call only: {}",
                        FUNCTIONS.join(", ")
                    )),
                });
            }
            _ => {}
        }
    }
    None
}

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

/// Every `person.FIELD` a condition reads, outside string literals, as (field, 1-based line,
/// 1-based column of the field name). A field the roster does not have is `()` at run time,
/// so `person.terminaton_type == "involuntary"` would quietly be false for everyone: the
/// loader checks these names against the roster's columns.
pub fn person_fields_read(source: &str) -> Vec<(String, usize, usize)> {
    let tokens = tokens(source);
    let mut out = Vec::new();
    for (n, (token, ..)) in tokens.iter().enumerate() {
        if *token != Token::Ident("person".into()) {
            continue;
        }
        // `person.x` or `person?.x`
        let mut next = n + 1;
        if matches!(tokens.get(next), Some((Token::Punct('?'), ..))) {
            next += 1;
        }
        if let (Some((Token::Punct('.'), ..)), Some((Token::Ident(field), line, column))) =
            (tokens.get(next), tokens.get(next + 1))
        {
            out.push((field.clone(), *line, *column));
        }
    }
    out
}

/// Whether `ident` occurs in `source` as an identifier outside string literals.
fn mentions_identifier(source: &str, ident: &str) -> bool {
    tokens(source)
        .iter()
        .any(|(t, ..)| matches!(t, Token::Ident(name) if name == ident))
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
        let long = "x".repeat(MAX_STRING_SIZE);
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

#[cfg(test)]
mod sandbox_tests {
    use super::*;

    fn nested(levels: usize) -> String {
        format!(
            "{}person.department == \"x\"{}",
            "(".repeat(levels),
            ")".repeat(levels)
        )
    }

    #[test]
    fn the_documented_nesting_is_the_enforced_one() {
        assert!(Condition::compile("rule `t`", &nested(MAX_NESTING)).is_ok());
        let e = Condition::compile("rule `t`", &nested(MAX_NESTING + 1)).unwrap_err();
        assert!(e.message.contains("more than 64 levels"), "{}", e.message);
        // Nesting through arrays and maps counts the same.
        let arrays = format!("{}1{} == 1", "[".repeat(65), "]".repeat(65));
        assert!(Condition::compile("rule `t`", &arrays).is_err());
    }
}
