//! Typed values: strings, numbers, durations, percentages, keywords, conditions, actions.

use super::*;

impl FileParser<'_> {
    /// A string value; reports anything else.
    pub(super) fn string(&mut self, entry: &KdlEntry, what: &str) -> Option<Spanned<String>> {
        let span = self.value_span(entry);
        match entry.value() {
            KdlValue::String(s) if s.len() > MAX_VALUE_LEN => {
                let size = human_size(s.len());
                self.error(
                    Diagnostic::error(
                        "policy::value-too-long",
                        Span::new(self.file, span.offset, 1),
                        format!("{what} is {size} long; policy values are limited to 64 KiB"),
                    )
                    .label(format!("this string is {size}"))
                    .help("policies hold settings and short conditions; keep data in the roster or inventory"),
                );
                None
            }
            KdlValue::String(s) => Some(Spanned::new(s.clone(), span)),
            other => {
                let help = match other {
                    KdlValue::Integer(_) | KdlValue::Float(_) => {
                        format!("write {what} as a quoted string")
                    }
                    _ => format!("{what} must be a string"),
                };
                self.error(
                    Diagnostic::error(
                        "policy::type",
                        span,
                        format!("{what} must be a string, found {}", type_name(other)),
                    )
                    .label("expected a string")
                    .help(help),
                );
                None
            }
        }
    }

    pub(super) fn string_prop(&mut self, node: &KdlNode, key: &str) -> Option<Spanned<String>> {
        let entry = Self::prop(node, key)?;
        self.string(entry, &format!("`{key}`"))
    }

    pub(super) fn required_string_prop(
        &mut self,
        node: &KdlNode,
        key: &str,
        usage: &str,
    ) -> Option<Spanned<String>> {
        match Self::prop(node, key) {
            Some(entry) => self.string(entry, &format!("`{key}`")),
            None => {
                let span = self.node_name_span(node);
                self.error(
                    Diagnostic::error(
                        "policy::missing-property",
                        span,
                        format!("`{}` needs `{key}=`", node.name().value()),
                    )
                    .label(format!("missing `{key}`"))
                    .help(format!("usage: {usage}")),
                );
                None
            }
        }
    }

    pub(super) fn bool_prop(&mut self, node: &KdlNode, key: &str, default: bool) -> bool {
        let Some(entry) = Self::prop(node, key) else {
            return default;
        };
        match entry.value() {
            KdlValue::Bool(b) => *b,
            other => {
                let span = self.value_span(entry);
                self.error(
                    Diagnostic::error(
                        "policy::type",
                        span,
                        format!(
                            "`{key}` must be #true or #false, found {}",
                            type_name(other)
                        ),
                    )
                    .label("expected a boolean")
                    .help("KDL v2 writes booleans as #true and #false"),
                );
                default
            }
        }
    }

    pub(super) fn integer(
        &mut self,
        entry: &KdlEntry,
        what: &str,
        range: std::ops::RangeInclusive<i128>,
    ) -> Option<u32> {
        let span = self.value_span(entry);
        match entry.value() {
            KdlValue::Integer(n) if range.contains(n) => u32::try_from(*n).ok(),
            KdlValue::Integer(n) => {
                self.error(
                    Diagnostic::error(
                        "policy::out-of-range",
                        span,
                        format!("{what} {n} is out of range"),
                    )
                    .label(format!(
                        "must be between {} and {}",
                        range.start(),
                        range.end()
                    ))
                    .help(format!(
                        "choose {what} between {} and {}",
                        range.start(),
                        range.end()
                    )),
                );
                None
            }
            other => {
                self.error(
                    Diagnostic::error(
                        "policy::type",
                        span,
                        format!("{what} must be a whole number, found {}", type_name(other)),
                    )
                    .label("expected a number")
                    .help(format!(
                        "write a number without quotes, e.g. `{}`",
                        range.start()
                    )),
                );
                None
            }
        }
    }

    pub(super) fn duration(
        &mut self,
        entry: &KdlEntry,
        what: &str,
        sign: Sign,
    ) -> Option<SignedDuration> {
        let span = self.value_span(entry);
        if let KdlValue::Integer(n) = entry.value() {
            self.error(
                Diagnostic::error(
                    "policy::duration",
                    span,
                    format!("{what} `{n}` has no unit"),
                )
                .label("a bare number")
                .help(duration::HELP),
            );
            return None;
        }
        let text = self.string(entry, what)?;
        match duration::parse(&text.value, sign) {
            Ok(d) => Some(d),
            Err(e) => {
                let help = match sign {
                    Sign::Required => "offsets are signed durations relative to the end of the last working day: \"+2d\", \"-4h\"".to_string(),
                    Sign::Unsigned => duration::HELP.to_string(),
                };
                self.error(
                    Diagnostic::error("policy::duration", span, format!("invalid {what}: {e}"))
                        .label("not a valid duration")
                        .help(help),
                );
                None
            }
        }
    }

    pub(super) fn share(&mut self, entry: &KdlEntry) -> Option<Share> {
        let span = self.value_span(entry);
        let text = self.string(entry, "`max-disable-share`")?;
        let parsed = text
            .value
            .strip_suffix('%')
            .and_then(|n| n.trim().parse::<f64>().ok())
            .filter(|p| (0.0..=100.0).contains(p));
        match parsed {
            Some(p) => Some(Share(p / 100.0)),
            None => {
                self.error(
                    Diagnostic::error(
                        "policy::percentage",
                        span,
                        format!("`{}` is not a percentage", text.value),
                    )
                    .label("expected a percentage")
                    .help("write a percentage between 0 and 100 as a string, e.g. \"5%\""),
                );
                None
            }
        }
    }

    /// A keyword argument (bare identifier or string) from a fixed list.
    pub(super) fn keyword(
        &mut self,
        entry: &KdlEntry,
        valid: &[&str],
        what: &str,
    ) -> Option<Spanned<String>> {
        let value = self.string(entry, what)?;
        if valid.contains(&value.value.as_str()) {
            Some(value)
        } else {
            self.error(
                Diagnostic::error(
                    "policy::unknown-value",
                    value.span,
                    format!("unknown {what} `{}`", value.value),
                )
                .label(format!("not a known {what}"))
                .help(suggestion_help(&value.value, valid, &format!("{what}s"))),
            );
            None
        }
    }

    /// A rhai condition, compiled now; errors point inside the KDL string.
    pub(super) fn condition(
        &mut self,
        entry: &KdlEntry,
        owner: &str,
    ) -> Option<Spanned<Condition>> {
        let text = self.string(entry, "a condition")?;
        match Condition::compile(owner, &text.value) {
            Ok(c) => Some(Spanned::new(c, text.span)),
            Err(e) => {
                let literal = self.literal(text.span);
                let span = match strings::locate(literal, &text.value, e.line, e.column, e.len) {
                    Some((start, len)) => Span::new(self.file, text.span.offset + start, len),
                    None => text.span,
                };
                self.error(
                    Diagnostic::error("policy::condition", span, e.message)
                        .label("in this condition")
                        .maybe_help(e.help),
                );
                None
            }
        }
    }

    pub(super) fn actions(&mut self, node: &KdlNode) -> Vec<Spanned<Action>> {
        let mut out = Vec::new();
        let Some(args) = self.args(
            node,
            &Args {
                min: 1,
                max: usize::MAX,
                usage: "on-leave disable revoke-sessions remove-groups",
            },
        ) else {
            return out;
        };
        for arg in args {
            if let Some(name) = self.keyword(arg, Action::NAMES, "action")
                && let Some(action) = Action::parse(&name.value)
            {
                out.push(Spanned::new(action, name.span));
            }
        }
        out
    }

    pub(super) fn single_string(&mut self, node: &KdlNode, usage: &'static str) -> Option<String> {
        self.check_props(node, &[]);
        self.no_children(node);
        let args = self.args(
            node,
            &Args {
                min: 1,
                max: 1,
                usage,
            },
        )?;
        self.string(args[0], &format!("`{}`", node.name().value()))
            .map(|s| s.value)
    }

    pub(super) fn single_integer(
        &mut self,
        node: &KdlNode,
        what: &str,
        range: std::ops::RangeInclusive<i128>,
    ) -> Option<u32> {
        self.check_props(node, &[]);
        self.no_children(node);
        let args = self.args(
            node,
            &Args {
                min: 1,
                max: 1,
                usage: "concurrency 4",
            },
        )?;
        self.integer(args[0], &format!("`{what}`"), range)
    }

    pub(super) fn single_duration(
        &mut self,
        node: &KdlNode,
        sign: Sign,
        usage: &'static str,
    ) -> Option<SignedDuration> {
        self.check_props(node, &[]);
        self.no_children(node);
        let args = self.args(
            node,
            &Args {
                min: 1,
                max: 1,
                usage,
            },
        )?;
        self.duration(args[0], &format!("`{}`", node.name().value()), sign)
    }

    /// `flag` or `flag #true` / `flag #false`.
    pub(super) fn flag(&mut self, node: &KdlNode) -> bool {
        self.check_props(node, &[]);
        self.no_children(node);
        let Some(args) = self.args(
            node,
            &Args {
                min: 0,
                max: 1,
                usage: "enforce-roles #true",
            },
        ) else {
            return false;
        };
        match args.first().map(|a| a.value()) {
            None => true,
            Some(KdlValue::Bool(b)) => *b,
            Some(other) => {
                let span = self.value_span(args[0]);
                self.error(
                    Diagnostic::error(
                        "policy::type",
                        span,
                        format!(
                            "`{}` takes #true or #false, found {}",
                            node.name().value(),
                            type_name(other)
                        ),
                    )
                    .label("expected a boolean")
                    .help("KDL v2 writes booleans as #true and #false"),
                );
                false
            }
        }
    }
}
