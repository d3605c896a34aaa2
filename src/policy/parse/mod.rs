//! KDL documents -> typed policy declarations, collecting every problem on the way.
//!
//! Each policy file is parsed on its own into the shared [`Builder`]; checks that need the
//! whole policy (grants on unknown systems, duplicate names across files) run in
//! [`Builder::finish`]. Nothing here stops at the first error: a bad node is reported and
//! skipped, and the rest of the file is still checked, so one `validate` run shows every
//! problem. Interpreting a node never panics, whatever the input.

mod blocks;
mod defaults;
mod people;
pub mod props;
mod role;
mod rule;
mod secrets;
mod serve;
mod shape;
mod system;
mod values;

use std::collections::HashMap;
use std::path::PathBuf;

use jiff::SignedDuration;
use kdl::{KdlDocument, KdlEntry, KdlNode, KdlValue};

use super::diagnostic::{Diagnostic, did_you_mean, suggestion_help};
use super::duration::{self, Sign};
use super::model::*;
use super::source::{FileId, Span, Spanned};
use super::strings;
use crate::connector::KINDS;
use crate::rules::Condition;
use props::Properties;
use secrets::is_secret_name;
pub(crate) use shape::{Args, Child, Shaped};
use values::ON_LEAVE_USAGE;

/// Longest string value accepted anywhere in a policy.
pub const MAX_VALUE_LEN: usize = 64 * 1024;

const TOP_LEVEL: &[&str] = &[
    "system",
    "role",
    "rule",
    "defaults",
    "people",
    "notifications",
    "trigger",
];
/// Declarations gathered from all files, plus every problem found so far.
#[derive(Default)]
pub struct Builder {
    pub diagnostics: Vec<Diagnostic>,
    /// Spans of inline secrets, to be masked before anything is rendered.
    pub secrets: Vec<Span>,
    systems: Vec<System>,
    /// Systems that failed to parse still reserve their name, so that roles granting on
    /// them do not produce a second, misleading "unknown system" error.
    broken_systems: Vec<String>,
    roles: Vec<Role>,
    /// Every grant written, including those of roles with other errors, as (role, grant).
    grants: Vec<(String, Grant)>,
    rules: Vec<Rule>,
    defaults: Option<(Defaults, Span)>,
    people: Option<PeopleSource>,
    notifications: Option<(Notifications, Span)>,
    triggers: Vec<Trigger>,
    names: HashMap<(&'static str, String), Span>,
    /// Systems without their own `on-leave`: they inherit the defaults, checked at the end.
    inherits_on_leave: Vec<usize>,
}

/// The result of a successful build, before sources are attached.
pub struct Parts {
    pub systems: Vec<System>,
    pub roles: Vec<Role>,
    pub rules: Vec<Rule>,
    pub defaults: Defaults,
    pub people: Option<PeopleSource>,
    pub notifications: Notifications,
    pub triggers: Vec<Trigger>,
}

impl Builder {
    /// Interpret one file's text.
    pub fn add_file(&mut self, file: FileId, text: &str) {
        let Some(doc) = self.document(file, text) else {
            return;
        };
        let mut p = FileParser::new(file, text, self);
        for node in doc.nodes() {
            p.top_level(node);
        }
    }

    /// One file's KDL document, read with the guards every KDL file offboard reads gets
    /// (policy files and policy tests alike); `None` after reporting why it cannot be read.
    pub(crate) fn document(&mut self, file: FileId, text: &str) -> Option<KdlDocument> {
        // Inputs the KDL parser cannot survive are refused before it sees them.
        if let Some(problem) = blocks::check(text) {
            self.diagnostics.push(problem.diagnostic(file));
            return None;
        }
        match blocks::parse_within(text, blocks::budget_for(text.len())) {
            Some(Ok(doc)) => Some(doc),
            None => {
                self.diagnostics.push(blocks::too_slow(file));
                None
            }
            Some(Err(err)) => {
                for d in err.diagnostics {
                    let span = Span::from_miette(file, d.span);
                    let snippet = text
                        .get(span.offset..span.end().min(text.len()))
                        .unwrap_or("");
                    let help = syntax_hint(snippet).map(str::to_string).or(d.help);
                    self.diagnostics.push(
                        Diagnostic::error(
                            "policy::kdl-syntax",
                            span,
                            d.message.unwrap_or_else(|| "invalid KDL".into()),
                        )
                        .label(d.label.unwrap_or_else(|| "here".into()))
                        .maybe_help(help),
                    );
                }
                None
            }
        }
    }

    /// Cross-file checks; returns the parts when no error was found.
    pub fn finish(mut self) -> (Option<Parts>, Vec<Diagnostic>, Vec<Span>) {
        let defaults = self.defaults.take().map(|(d, _)| d).unwrap_or_default();

        let declared: Vec<&str> = self
            .systems
            .iter()
            .map(|s| s.name.value.as_str())
            .chain(self.broken_systems.iter().map(String::as_str))
            .collect();
        let mut late = Vec::new();
        for (role, grant) in &self.grants {
            {
                if !declared.contains(&grant.system.as_str()) {
                    late.push(
                        Diagnostic::error(
                            "policy::unknown-system",
                            grant.span,
                            format!(
                                "role `{}` grants on `{}`, which is not a declared system",
                                role, grant.system
                            ),
                        )
                        .label("no `system` of this name")
                        .help(system_help(&grant.system, &declared)),
                    );
                }
            }
        }

        let person_fields: Vec<String> = STANDARD_PERSON_FIELDS
            .iter()
            .map(|s| s.to_string())
            .chain(
                self.people
                    .iter()
                    .flat_map(|p| p.columns.iter().map(|c| c.replace('_', "-"))),
            )
            .collect();
        for system in &self.systems {
            for c in &system.correlate {
                let kebab = c.person_field.replace('_', "-");
                if !person_fields.contains(&kebab) {
                    let names: Vec<&str> = person_fields.iter().map(String::as_str).collect();
                    late.push(
                        Diagnostic::error(
                            "policy::unknown-person-field",
                            c.span,
                            format!("`{kebab}` is not a person field"),
                        )
                        .label("unknown person field")
                        .help(format!(
                            "{}; declare other roster columns in `people {{ column {kebab} }}`",
                            suggestion_help(&kebab, &names, "person fields")
                        )),
                    );
                }
            }
        }

        for &index in &self.inherits_on_leave {
            let system = &mut self.systems[index];
            let mut missing = Vec::new();
            for &action in &defaults.on_leave {
                if system.can(action) {
                    system.on_leave.push(action);
                } else {
                    missing.push(action.as_str());
                }
            }
            if !missing.is_empty() {
                late.push(
                    Diagnostic::error(
                        "policy::unsupported-action",
                        system.name.span,
                        format!(
                            "system `{}` inherits `on-leave {}` from defaults, but its {} connector cannot do that",
                            system.name.value,
                            missing.join(" "),
                            system.kind()
                        ),
                    )
                    .label("no `on-leave` of its own")
                    .help(format!(
                        "give this system its own `on-leave` with actions it can do: {}",
                        capability_list(&system.capabilities())
                    )),
                );
            }
        }

        let (notifications, notifications_span) = match self.notifications.take() {
            Some((n, span)) => (n, Some(span)),
            None => (Notifications::default(), None),
        };
        late.extend(serve::check_recipients(
            &self.rules,
            &notifications,
            notifications_span,
        ));
        self.diagnostics.extend(late);
        if self.diagnostics.is_empty() {
            let parts = Parts {
                systems: self.systems,
                roles: self.roles,
                rules: self.rules,
                defaults,
                people: self.people,
                notifications,
                triggers: self.triggers,
            };
            (Some(parts), self.diagnostics, self.secrets)
        } else {
            (None, self.diagnostics, self.secrets)
        }
    }

    /// Record a declared name; reports a duplicate and returns false if it was taken.
    fn claim(&mut self, kind: &'static str, name: &Spanned<String>) -> bool {
        let key = (kind, name.value.clone());
        if let Some(first) = self.names.get(&key).copied() {
            let mut d = Diagnostic::error(
                "policy::duplicate-name",
                name.span,
                format!("{kind} `{}` is declared twice", name.value),
            )
            .label("second declaration");
            d = if first.file == name.span.file {
                d.secondary(first, "first declared here")
                    .help(format!("{kind} names must be unique across all policy files; rename or merge one of them"))
            } else {
                d.help(format!(
                    "{kind} names must be unique across all policy files; the first `{}` is in another file (see its declaration)",
                    name.value
                ))
            };
            self.diagnostics.push(d);
            false
        } else {
            self.names.insert(key, name.span);
            true
        }
    }
}

/// A hint for KDL syntax errors that policy authors hit often.
fn syntax_hint(snippet: &str) -> Option<&'static str> {
    let s = snippet.trim_start_matches(['+', '-']);
    let digits = s
        .bytes()
        .take_while(|b| b.is_ascii_digit() || *b == b'_' || *b == b'.')
        .count();
    if digits > 0
        && digits < s.len()
        && s[digits..]
            .bytes()
            .all(|b| b.is_ascii_alphabetic() || b == b'%')
    {
        return Some(
            "in KDL v2 a value that starts with a digit must be a number: write durations and percentages as strings, e.g. \"90d\" or \"5%\"",
        );
    }
    if matches!(snippet, "true" | "false" | "null") {
        return Some("KDL v2 writes booleans and null as #true, #false and #null");
    }
    None
}

fn system_help(given: &str, declared: &[&str]) -> String {
    match did_you_mean(given, declared.iter().copied()) {
        Some(best) => format!(
            "did you mean `{best}`? declare the system with `system {given} {{ ... }}` or fix the name"
        ),
        None => format!(
            "declare it with `system {given} {{ connector ...; tier ... }}` or fix the name"
        ),
    }
}

fn capability_list(capabilities: &[Action]) -> String {
    capabilities
        .iter()
        .map(|a| a.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Interprets one file's nodes into the builder. Other KDL files offboard reads (policy
/// tests) use it too, for the same shape checks, value readers and diagnostics.
pub(crate) struct FileParser<'a> {
    file: FileId,
    text: &'a str,
    b: &'a mut Builder,
}

impl<'a> FileParser<'a> {
    pub(crate) fn new(file: FileId, text: &'a str, builder: &'a mut Builder) -> Self {
        FileParser {
            file,
            text,
            b: builder,
        }
    }

    pub(crate) fn span(&self, s: miette::SourceSpan) -> Span {
        Span::from_miette(self.file, s)
    }

    pub(crate) fn node_name_span(&self, node: &KdlNode) -> Span {
        self.span(node.name().span())
    }

    pub(crate) fn error(&mut self, d: Diagnostic) {
        self.b.diagnostics.push(d);
    }

    /// Problems reported so far (a reader compares counts to know whether a node had any).
    pub(crate) fn error_count(&self) -> usize {
        self.b.diagnostics.len()
    }

    /// The span of an entry's value (without `key=`).
    pub(crate) fn value_span(&self, entry: &KdlEntry) -> Span {
        let whole = self.span(entry.span());
        let Some(name) = entry.name() else {
            return whole;
        };
        let after_name = name.span().offset() + name.span().len();
        let rest = self.text.get(after_name..whole.end()).unwrap_or("");
        let skip = rest
            .char_indices()
            .find(|&(_, c)| c != '=' && !c.is_whitespace())
            .map_or(rest.len(), |(i, _)| i);
        Span::new(
            self.file,
            after_name + skip,
            whole.end().saturating_sub(after_name + skip),
        )
    }

    fn literal(&self, span: Span) -> &str {
        self.text.get(span.offset..span.end()).unwrap_or("")
    }

    fn top_level(&mut self, node: &KdlNode) {
        match node.name().value() {
            "system" => self.system(node),
            "role" => self.role(node),
            "rule" => self.rule(node),
            "defaults" => self.defaults(node),
            "people" => self.people(node),
            "notifications" => self.notifications(node),
            "trigger" => self.trigger(node),
            other => self.unknown_node(node, other, TOP_LEVEL, "top-level nodes"),
        }
    }
}

fn type_name(v: &KdlValue) -> &'static str {
    match v {
        KdlValue::String(_) => "a string",
        KdlValue::Integer(_) => "a number",
        KdlValue::Float(_) => "a number",
        KdlValue::Bool(_) => "a boolean",
        KdlValue::Null => "#null",
    }
}

fn human_size(bytes: usize) -> String {
    if bytes >= 1024 * 1024 {
        format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
    } else {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    }
}
