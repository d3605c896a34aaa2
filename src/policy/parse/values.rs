//! Typed values: strings, numbers, durations, percentages, keywords, conditions, actions.

use super::*;

/// The usage line of `on-leave`, wherever it appears.
pub(crate) const ON_LEAVE_USAGE: &str = "on-leave disable revoke-sessions remove-groups";

impl FileParser<'_> {
    /// A string value; reports anything else.
    pub(crate) fn string(&mut self, entry: &KdlEntry, what: &str) -> Option<Spanned<String>> {
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

    pub(crate) fn string_prop(&mut self, node: &KdlNode, key: &str) -> Option<Spanned<String>> {
        let entry = Self::prop(node, key)?;
        self.string(entry, &format!("`{key}`"))
    }

    pub(crate) fn required_string_prop(
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

    pub(crate) fn bool_prop(&mut self, node: &KdlNode, key: &str, default: bool) -> bool {
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

    pub(crate) fn integer(
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

    pub(crate) fn duration(
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

    pub(crate) fn share(&mut self, entry: &KdlEntry) -> Option<Share> {
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
    pub(crate) fn keyword(
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
    pub(crate) fn condition(
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

    /// `on-leave ACTION ...`: the actions, each a known one.
    pub(crate) fn actions(&mut self, args: &[&KdlEntry]) -> Vec<Spanned<Action>> {
        let mut out = Vec::new();
        for arg in args {
            if let Some(name) = self.keyword(arg, Action::NAMES, "action")
                && let Some(action) = Action::parse(&name.value)
            {
                out.push(Spanned::new(action, name.span));
            }
        }
        out
    }

    /// A child's single string argument (`description "..."`).
    pub(crate) fn text(&mut self, child: &Shaped<'_>) -> Option<String> {
        let arg = child.arg()?;
        self.string(arg, &format!("`{}`", child.name()))
            .map(|s| s.value)
    }

    /// A child's single duration argument (`delete-after "30d"`).
    pub(crate) fn duration_of(&mut self, child: &Shaped<'_>, sign: Sign) -> Option<SignedDuration> {
        let arg = child.arg()?;
        self.duration(arg, &format!("`{}`", child.name()), sign)
    }

    /// `flag` or `flag #true` / `flag #false`.
    pub(crate) fn flag(&mut self, child: &Shaped<'_>) -> bool {
        let Some(arg) = child.arg() else {
            return true;
        };
        match arg.value() {
            KdlValue::Bool(b) => *b,
            other => {
                let span = self.value_span(arg);
                self.error(
                    Diagnostic::error(
                        "policy::type",
                        span,
                        format!(
                            "`{}` takes #true or #false, found {}",
                            child.name(),
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

    /// A child the node's description lists but its reader does not interpret: a bug in
    /// offboard, reported rather than ignored (a silently ignored setting is worse).
    pub(crate) fn unhandled(&mut self, child: &KdlNode, name: &str) {
        let span = self.node_name_span(child);
        self.error(
            Diagnostic::error(
                "policy::internal",
                span,
                format!("`{name}` is accepted here but not interpreted"),
            )
            .label("not interpreted")
            .help("this is a bug in offboard; please report it"),
        );
    }
}
