//! The sandbox conditions run in: one engine with hard limits and only pure functions, and
//! a string-aware tokenizer that refuses (before rhai sees the text) calls outside the
//! allowed list and nesting deeper than documented. The tokenizer also finds every
//! `person.FIELD` a condition reads, so the loader can check them against the roster.

use std::sync::{Arc, OnceLock};

use rhai::{Engine, OptimizationLevel};

use super::CompileError;

/// Hard limits. Generous for real policies (a few comparisons), tiny for runaway ones.
pub(super) const MAX_OPERATIONS: u64 = 100_000;
pub(super) const MAX_CALL_LEVELS: usize = 16;
/// rhai counts depth differently from brackets: the documented limit is [`MAX_NESTING`],
/// checked before rhai sees the text; this is the backstop above it.
pub(super) const MAX_EXPR_DEPTH: usize = 256;
pub(super) const MAX_FN_EXPR_DEPTH: usize = 64;
pub(super) const MAX_STRING_SIZE: usize = 64 * 1024;
pub(super) const MAX_ARRAY_SIZE: usize = 10_000;
pub(super) const MAX_MAP_SIZE: usize = 10_000;
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

pub(super) fn engine() -> Arc<Engine> {
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
pub(super) enum Token {
    Ident(String),
    Punct(char),
}

/// The identifiers and punctuation of `source`, skipping string literals (`"`, `` ` ``, `'`,
/// with backslash escapes) and numbers. The one scanner behind the load-time checks: the
/// sandbox's nesting and function list, the `person.FIELD`s read, and whether `account` is used.
pub(super) fn tokens(source: &str) -> Vec<(Token, usize, usize)> {
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
pub(super) enum Check {
    Nesting,
    Calls,
}

/// The first nesting deeper than [`MAX_NESTING`], or the first call of a function not in
/// [`FUNCTIONS`], found outside string literals.
pub(super) fn sandbox_violation(source: &str, check: Check) -> Option<CompileError> {
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
pub(super) fn mentions_identifier(source: &str, ident: &str) -> bool {
    tokens(source)
        .iter()
        .any(|(t, ..)| matches!(t, Token::Ident(name) if name == ident))
}

#[cfg(test)]
mod sandbox_tests {
    use super::*;
    use crate::rules::Condition;

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
