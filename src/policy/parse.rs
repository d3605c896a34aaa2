//! KDL documents -> typed policy declarations, collecting every problem on the way.
//!
//! Each policy file is parsed on its own into the shared [`Builder`]; checks that need the
//! whole policy (grants on unknown systems, duplicate names across files) run in
//! [`Builder::finish`]. Nothing here stops at the first error: a bad node is reported and
//! skipped, and the rest of the file is still checked, so one `validate` run shows every
//! problem. Interpreting a node never panics, whatever the input.

use std::collections::HashMap;
use std::path::PathBuf;

use jiff::SignedDuration;
use kdl::{KdlDocument, KdlEntry, KdlNode, KdlValue};

use super::diagnostic::{Diagnostic, did_you_mean, suggestion_help};
use super::duration::{self, Sign};
use super::model::*;
use super::props::Properties;
use super::source::{FileId, Span, Spanned};
use super::strings;
use crate::connector::KINDS;
use crate::rules::Condition;

/// Longest string value accepted anywhere in a policy.
pub const MAX_VALUE_LEN: usize = 64 * 1024;

const TOP_LEVEL: &[&str] = &["system", "role", "rule", "defaults", "people"];
const SYSTEM_CHILDREN: &[&str] = &[
    "connector",
    "tier",
    "correlate",
    "on-leave",
    "exempt",
    "concurrency",
    "description",
    "owner",
    "enforce-roles",
    "privileged-groups",
    "max-disable-share",
];
const ROLE_CHILDREN: &[&str] = &["grant", "when", "description"];
const RULE_CHILDREN: &[&str] = &[
    "when",
    "cutoff",
    "delete-after",
    "retain",
    "on-leave",
    "notify",
    "description",
];
const DEFAULTS_CHILDREN: &[&str] = &[
    "cutoff",
    "delete-after",
    "max-disable-share",
    "timezone",
    "dormant-after",
    "escalate-after",
    "concurrency",
    "on-leave",
];
const PEOPLE_CHILDREN: &[&str] = &["source", "key", "column", "field", "max-roster-drop"];

const MANUAL_PROPS: &[&str] = &["owner", "sla", "escalate-to"];

/// Property names that would put a secret into the policy text.
const INLINE_SECRET_PROPS: &[&str] = &[
    "token",
    "password",
    "secret",
    "api-key",
    "apikey",
    "api-token",
    "client-secret",
    "bearer-token",
    "access-token",
    "private-key",
    "bind-password",
];

/// Whether a property or query-parameter name holds a credential, whatever its spelling
/// (`api_key`, `API-Key`, `client_secret`, ...).
fn is_secret_name(name: &str) -> bool {
    let key = name.to_ascii_lowercase().replace('_', "-");
    INLINE_SECRET_PROPS.contains(&key.as_str())
        || [
            "key",
            "sig",
            "signature",
            "pass",
            "pwd",
            "credential",
            "credentials",
        ]
        .contains(&key.as_str())
}

/// Whether a URL carries a credential: a password in its userinfo (`https://u:p@host`) or a
/// query parameter named like a secret (`?access_token=...`).
fn has_url_credential(url: &str) -> bool {
    url_credential(url).is_some()
}

fn url_credential(url: &str) -> Option<(usize, usize)> {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let authority_end = url[after_scheme..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| after_scheme + i);
    let authority = &url[after_scheme..authority_end];
    if let Some(at) = authority.rfind('@')
        && let Some(colon) = authority[..at].find(':')
    {
        return Some((after_scheme + colon + 1, after_scheme + at));
    }
    let query_start = url.find('?')? + 1;
    let query_end = url[query_start..]
        .find('#')
        .map_or(url.len(), |i| query_start + i);
    let mut offset = query_start;
    for pair in url[query_start..query_end].split('&') {
        if let Some((name, value)) = pair.split_once('=')
            && is_secret_name(name)
            && !value.is_empty()
        {
            let start = offset + name.len() + 1;
            return Some((start, start + value.len()));
        }
        offset += pair.len() + 1;
    }
    None
}

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
}

impl Builder {
    /// Interpret one file's text.
    pub fn add_file(&mut self, file: FileId, text: &str) {
        // The KDL parser recurses per level of `{`: thousands of levels would overflow the
        // stack (a crash, not a diagnostic), so depth is checked first.
        if let Some(offset) = too_deep(text) {
            self.diagnostics.push(
                Diagnostic::error(
                    "policy::too-deep",
                    Span::new(file, offset, 1),
                    format!("blocks nest more than {MAX_BLOCK_DEPTH} levels"),
                )
                .label("too deep")
                .help(
                    "policies are systems, roles and rules a few levels deep; remove the nesting",
                ),
            );
            return;
        }
        let doc = match KdlDocument::parse_v2(text) {
            Ok(doc) => doc,
            Err(err) => {
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
                return;
            }
        };
        let mut p = FileParser {
            file,
            text,
            b: self,
        };
        for node in doc.nodes() {
            p.top_level(node);
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

        self.diagnostics.extend(late);
        if self.diagnostics.is_empty() {
            let parts = Parts {
                systems: self.systems,
                roles: self.roles,
                rules: self.rules,
                defaults,
                people: self.people,
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

/// Deepest `{ ... }` nesting a policy file may have (real policies use three).
const MAX_BLOCK_DEPTH: usize = 64;

/// The offset of the first `{` nested deeper than [`MAX_BLOCK_DEPTH`], outside strings and
/// comments (a conservative scan: it only has to be right for files deeper than any policy).
fn too_deep(text: &str) -> Option<usize> {
    let b = text.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let mut level = 1;
                i += 2;
                while i < b.len() && level > 0 {
                    if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                        level += 1;
                        i += 1;
                    } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        level -= 1;
                        i += 1;
                    }
                    i += 1;
                }
                continue;
            }
            b'#' | b'"' => {
                // `#"..."#` (any number of `#`) or `"..."` with backslash escapes.
                let hashes = b[i..].iter().take_while(|&&c| c == b'#').count();
                if b.get(i + hashes) != Some(&b'"') {
                    i += hashes.max(1);
                    continue;
                }
                i += hashes + 1;
                while i < b.len() {
                    if hashes == 0 && b[i] == b'\\' {
                        i += 2;
                        continue;
                    }
                    if b[i] == b'"'
                        && b[i + 1..]
                            .iter()
                            .take(hashes)
                            .filter(|&&c| c == b'#')
                            .count()
                            == hashes
                    {
                        i += hashes;
                        break;
                    }
                    i += 1;
                }
            }
            b'{' => {
                depth += 1;
                if depth > MAX_BLOCK_DEPTH {
                    return Some(i);
                }
            }
            b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    None
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

/// Interprets one file's nodes into the builder.
pub(super) struct FileParser<'a> {
    file: FileId,
    text: &'a str,
    b: &'a mut Builder,
}

/// What a node's arguments must look like.
struct Args {
    min: usize,
    max: usize,
    usage: &'static str,
}

const NO_ARGS: Args = Args {
    min: 0,
    max: 0,
    usage: "",
};

impl FileParser<'_> {
    fn span(&self, s: miette::SourceSpan) -> Span {
        Span::from_miette(self.file, s)
    }

    fn node_name_span(&self, node: &KdlNode) -> Span {
        self.span(node.name().span())
    }

    fn error(&mut self, d: Diagnostic) {
        self.b.diagnostics.push(d);
    }

    /// The span of an entry's value (without `key=`).
    fn value_span(&self, entry: &KdlEntry) -> Span {
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
            other => self.unknown_node(node, other, TOP_LEVEL, "top-level nodes"),
        }
    }

    fn unknown_node(&mut self, node: &KdlNode, name: &str, valid: &[&str], what: &str) {
        let span = self.node_name_span(node);
        self.error(
            Diagnostic::error(
                "policy::unknown-node",
                span,
                format!("unknown node `{name}`"),
            )
            .label("not a known node here")
            .help(suggestion_help(name, valid, what)),
        );
    }

    /// Check properties against `allowed`; report unknown and repeated ones.
    /// Returns false when something was wrong.
    fn check_props(&mut self, node: &KdlNode, allowed: &[&str]) -> bool {
        let mut ok = true;
        let mut seen: Vec<&str> = Vec::new();
        for entry in node.entries() {
            let Some(name) = entry.name() else { continue };
            let key = name.value();
            let span = self.span(name.span());
            if seen.contains(&key) {
                self.error(
                    Diagnostic::error(
                        "policy::duplicate-property",
                        span,
                        format!("property `{key}` is given twice"),
                    )
                    .label("repeated here")
                    .help("KDL keeps only the last value; remove one of them"),
                );
                ok = false;
                continue;
            }
            seen.push(key);
            if allowed.contains(&key) {
                continue;
            }
            ok = false;
            if is_secret_name(key) {
                self.inline_secret(entry, key);
                continue;
            }
            let help = if allowed.is_empty() {
                format!("`{}` takes no properties", node.name().value())
            } else {
                suggestion_help(
                    key,
                    allowed,
                    &format!("properties of `{}`", node.name().value()),
                )
            };
            self.error(
                Diagnostic::error(
                    "policy::unknown-property",
                    span,
                    format!("unknown property `{key}` on `{}`", node.name().value()),
                )
                .label("unknown property")
                .help(help),
            );
        }
        ok
    }

    fn inline_secret(&mut self, entry: &KdlEntry, key: &str) {
        let value_span = self.value_span(entry);
        self.b.secrets.push(value_span);
        let base = match key {
            "password" | "bind-password" => "password",
            _ => "token",
        };
        self.error(
            Diagnostic::error(
                "policy::inline-secret",
                value_span,
                format!("secret written inline in `{key}`"),
            )
            .label("a secret in a policy file ends up in git history")
            .help(format!(
                "read it from the environment or a file instead: `{base}-env=VARIABLE` or `{base}-file=/run/secrets/NAME`; rotate this secret, it may already be committed"
            )),
        );
    }

    fn args<'n>(&mut self, node: &'n KdlNode, rule: &Args) -> Option<Vec<&'n KdlEntry>> {
        let args: Vec<&KdlEntry> = node
            .entries()
            .iter()
            .filter(|e| e.name().is_none())
            .collect();
        if args.len() < rule.min || args.len() > rule.max {
            let span = if args.len() > rule.max {
                self.span(args[rule.max].span())
            } else {
                self.node_name_span(node)
            };
            let message = match (rule.min, rule.max, args.len()) {
                (_, 0, _) => format!("`{}` takes no arguments", node.name().value()),
                (_, _, n) if n > rule.max => {
                    format!("too many arguments to `{}`", node.name().value())
                }
                _ => format!("`{}` is missing an argument", node.name().value()),
            };
            self.error(
                Diagnostic::error("policy::arguments", span, message)
                    .label(if args.len() > rule.max {
                        "unexpected"
                    } else {
                        "here"
                    })
                    .help(if rule.usage.is_empty() {
                        format!("write `{}` on its own", node.name().value())
                    } else {
                        format!("usage: {}", rule.usage)
                    }),
            );
            return None;
        }
        Some(args)
    }

    fn no_children(&mut self, node: &KdlNode) {
        if let Some(children) = node.children() {
            let span = self.span(children.span());
            self.error(
                Diagnostic::error(
                    "policy::unexpected-children",
                    span,
                    format!("`{}` does not take a block", node.name().value()),
                )
                .label("unexpected block")
                .help("remove the `{ ... }` block"),
            );
        }
    }

    fn children<'n>(&mut self, node: &'n KdlNode, usage: &str) -> Option<&'n [KdlNode]> {
        match node.children() {
            Some(doc) => Some(doc.nodes()),
            None => {
                let span = self.node_name_span(node);
                self.error(
                    Diagnostic::error(
                        "policy::missing-block",
                        span,
                        format!("`{}` needs a block", node.name().value()),
                    )
                    .label("no `{ ... }` block")
                    .help(format!("usage: {usage}")),
                );
                None
            }
        }
    }

    pub(super) fn prop<'n>(node: &'n KdlNode, key: &str) -> Option<&'n KdlEntry> {
        node.entries()
            .iter()
            .rev()
            .find(|e| e.name().is_some_and(|n| n.value() == key))
    }

    /// A string value; reports anything else.
    fn string(&mut self, entry: &KdlEntry, what: &str) -> Option<Spanned<String>> {
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

    fn share(&mut self, entry: &KdlEntry) -> Option<Share> {
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
    fn condition(&mut self, entry: &KdlEntry, owner: &str) -> Option<Spanned<Condition>> {
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

    fn name_arg(&mut self, node: &KdlNode, usage: &'static str) -> Option<Spanned<String>> {
        let args = self.args(
            node,
            &Args {
                min: 1,
                max: 1,
                usage,
            },
        )?;
        let name = self.string(args[0], "a name")?;
        if name.value.is_empty() || name.value.chars().any(|c| c.is_control()) {
            self.error(
                Diagnostic::error(
                    "policy::name",
                    name.span,
                    "names must be non-empty and printable",
                )
                .label("invalid name")
                .help("use letters, digits and dashes, e.g. `corp-ad`"),
            );
            return None;
        }
        Some(name)
    }

    fn actions(&mut self, node: &KdlNode) -> Vec<Spanned<Action>> {
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

    fn system(&mut self, node: &KdlNode) {
        const USAGE: &str =
            "system NAME { connector KIND ...; tier TIER; correlate email=\"email\" }";
        self.check_props(node, &[]);
        let Some(name) = self.name_arg(node, USAGE) else {
            return;
        };
        if !self.b.claim("system", &name) {
            return;
        }
        let Some(children) = self.children(node, USAGE) else {
            self.b.broken_systems.push(name.value);
            return;
        };
        let errors_before = self.b.diagnostics.len();
        let mut connector: Option<Lane> = None;
        let mut connector_kind: Option<String> = None;
        let mut tier = None;
        let mut correlate = Vec::new();
        let mut on_leave: Option<Vec<Spanned<Action>>> = None;
        let mut exemptions: Vec<Exemption> = Vec::new();
        let mut concurrency = None;
        let mut description = None;
        let mut owner = None;
        let mut enforce_roles = false;
        let mut privileged_groups = Vec::new();
        let mut max_disable_share = None;
        let mut seen: HashMap<&str, Span> = HashMap::new();

        for child in children {
            let key = child.name().value();
            let repeatable = matches!(key, "correlate" | "exempt");
            if SYSTEM_CHILDREN.contains(&key) && !repeatable {
                if let Some(first) = seen.get(key).copied() {
                    self.repeated_child(child, first);
                    continue;
                }
                seen.insert(child.name().value(), self.node_name_span(child));
            }
            match key {
                "connector" => {
                    connector_kind = Self::connector_kind(child);
                    connector = self.connector(child, &name.value);
                }
                "tier" => {
                    self.check_props(child, &[]);
                    self.no_children(child);
                    if let Some(args) = self.args(
                        child,
                        &Args {
                            min: 1,
                            max: 1,
                            usage: "tier identity-provider",
                        },
                    ) {
                        tier = self
                            .keyword(args[0], Tier::NAMES, "tier")
                            .and_then(|t| Tier::parse(&t.value));
                    }
                }
                "correlate" => {
                    self.no_children(child);
                    let _ = self.args(
                        child,
                        &Args {
                            min: 0,
                            max: 0,
                            usage: "correlate email=\"userName\"",
                        },
                    );
                    let props: Vec<&KdlEntry> = child
                        .entries()
                        .iter()
                        .filter(|e| e.name().is_some())
                        .collect();
                    if props.is_empty() {
                        let span = self.node_name_span(child);
                        self.error(
                            Diagnostic::error("policy::correlate", span, "`correlate` names no fields")
                                .label("empty correlation")
                                .help("write PERSON_FIELD=\"ACCOUNT_ATTRIBUTE\", e.g. `correlate email=\"userName\"`"),
                        );
                    }
                    for prop in props {
                        let Some(field) = prop.name() else { continue };
                        if let Some(attr) = self.string(prop, "an account attribute") {
                            correlate.push(Correlation {
                                person_field: field.value().replace('-', "_"),
                                account_attribute: attr.value,
                                span: self.span(prop.span()),
                            });
                        }
                    }
                }
                "on-leave" => {
                    self.check_props(child, &[]);
                    self.no_children(child);
                    on_leave = Some(self.actions(child));
                }
                "exempt" => {
                    self.no_children(child);
                    self.check_props(child, &["reason", "owner"]);
                    const EXEMPT: &str =
                        "exempt \"svc-backup\" reason=\"backup service\" owner=\"it-ops@acme.com\"";
                    let account = self
                        .args(
                            child,
                            &Args {
                                min: 1,
                                max: 1,
                                usage: EXEMPT,
                            },
                        )
                        .and_then(|a| self.string(a[0], "an account"));
                    let reason = self.required_string_prop(child, "reason", EXEMPT);
                    let owner = self.required_string_prop(child, "owner", EXEMPT);
                    if let (Some(account), Some(reason), Some(owner)) = (account, reason, owner) {
                        if let Some(first) = exemptions.iter().find(|e| e.account == account.value)
                        {
                            let first_span = first.span;
                            self.error(
                                Diagnostic::error(
                                    "policy::duplicate-exemption",
                                    account.span,
                                    format!("account `{}` is exempted twice", account.value),
                                )
                                .label("second exemption")
                                .secondary(first_span, "first exemption")
                                .help("keep one exemption per account"),
                            );
                        } else {
                            exemptions.push(Exemption {
                                account: account.value,
                                reason: reason.value,
                                owner: owner.value,
                                span: self.span(child.span()),
                            });
                        }
                    }
                }
                "concurrency" => concurrency = self.single_integer(child, "concurrency", 1..=64),
                "description" => description = self.single_string(child, "description \"...\""),
                "owner" => owner = self.single_string(child, "owner \"team@acme.com\""),
                "enforce-roles" => enforce_roles = self.flag(child),
                "privileged-groups" => {
                    self.check_props(child, &[]);
                    self.no_children(child);
                    if let Some(args) = self.args(
                        child,
                        &Args {
                            min: 1,
                            max: usize::MAX,
                            usage: "privileged-groups \"admins\" \"owners\"",
                        },
                    ) {
                        for a in args {
                            if let Some(g) = self.string(a, "a group") {
                                privileged_groups.push(g.value);
                            }
                        }
                    }
                }
                "max-disable-share" => {
                    self.check_props(child, &[]);
                    self.no_children(child);
                    if let Some(args) = self.args(
                        child,
                        &Args {
                            min: 1,
                            max: 1,
                            usage: "max-disable-share \"20%\"",
                        },
                    ) {
                        max_disable_share = self.share(args[0]);
                    }
                }
                other => self.unknown_node(child, other, SYSTEM_CHILDREN, "nodes in `system`"),
            }
        }

        let name_span = name.span;
        for (present, what, usage) in [
            (
                connector.is_some() || seen.contains_key("connector"),
                "connector",
                "connector file path=\"inventory/accounts/NAME.json\"",
            ),
            (
                tier.is_some() || seen.contains_key("tier"),
                "tier",
                "tier identity-provider",
            ),
        ] {
            if !present {
                self.error(
                    Diagnostic::error(
                        "policy::missing-node",
                        name_span,
                        format!("system `{}` has no `{what}`", name.value),
                    )
                    .label(format!("missing `{what}`"))
                    .help(format!("add `{usage}` inside the block")),
                );
            }
        }
        let manual = matches!(connector, Some(Lane::Manual(_)));
        if correlate.is_empty() && !manual && connector.is_some() && !seen.contains_key("correlate")
        {
            self.error(
                Diagnostic::error(
                    "policy::missing-node",
                    name_span,
                    format!("system `{}` has no `correlate`", name.value),
                )
                .label("accounts cannot be matched to people")
                .help("add e.g. `correlate email=\"email\"`; without it every account would be an orphan"),
            );
        }

        // Check actions against the connector's capabilities. The kind is read from the
        // node itself, so a connector with other errors still gets its actions checked
        // (against everything its kind can do, as its settings could not be read).
        let mut actions = Vec::new();
        let lane = connector.as_ref().and_then(|lane| match lane {
            Lane::Connector(c) => Some(c),
            Lane::Manual(_) => None,
        });
        let kind = connector_kind
            .as_deref()
            .and_then(crate::connector::kind::kind);
        if let (Some(kind), Some(list)) = (kind, &on_leave) {
            let capabilities = lane.map_or_else(|| kind.actions.to_vec(), |c| c.capabilities());
            for a in list {
                if capabilities.contains(&a.value) {
                    if !actions.contains(&a.value) {
                        actions.push(a.value);
                    }
                    continue;
                }
                let extra = lane
                    .and_then(|c| c.switched_off(a.value))
                    .map(|m| format!("; {m}"))
                    .unwrap_or_default();
                self.error(
                    Diagnostic::error(
                        "policy::unsupported-action",
                        a.span,
                        format!(
                            "{} {} connector cannot `{}`",
                            kind.article, kind.name, a.value
                        ),
                    )
                    .label("not a capability of this connector")
                    .help(format!(
                        "{} connectors can: {}{extra}; hand the rest to a `manual` system",
                        kind.name,
                        capability_list(&capabilities)
                    )),
                );
            }
        } else if let Some(list) = &on_leave {
            // A manual lane's people can do anything.
            for a in list {
                if !actions.contains(&a.value) {
                    actions.push(a.value);
                }
            }
        }

        if self.b.diagnostics.len() > errors_before {
            self.b.broken_systems.push(name.value);
            return;
        }
        let (Some(connector), Some(tier)) = (connector, tier) else {
            self.b.broken_systems.push(name.value);
            return;
        };
        if on_leave.is_none() {
            self.b.inherits_on_leave.push(self.b.systems.len());
        }
        self.b.systems.push(System {
            name,
            lane: connector,
            tier,
            correlate,
            on_leave: actions,
            exemptions,
            concurrency,
            description,
            owner,
            enforce_roles,
            privileged_groups,
            max_disable_share,
            span: self.span(node.span()),
        });
    }

    fn repeated_child(&mut self, child: &KdlNode, first: Span) {
        let span = self.node_name_span(child);
        self.error(
            Diagnostic::error(
                "policy::duplicate-node",
                span,
                format!("`{}` is given twice", child.name().value()),
            )
            .label("repeated")
            .secondary(first, "first given here")
            .help("keep one of them"),
        );
    }

    fn single_string(&mut self, node: &KdlNode, usage: &'static str) -> Option<String> {
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

    fn single_integer(
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

    fn single_duration(
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
    fn flag(&mut self, node: &KdlNode) -> bool {
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

    /// The connector kind's name as written, read leniently (errors in it are reported by
    /// [`Self::connector`]).
    fn connector_kind(node: &KdlNode) -> Option<String> {
        node.entries()
            .iter()
            .find(|e| e.name().is_none())
            .and_then(|e| e.value().as_string())
            .map(str::to_string)
    }

    /// `connector KIND key=value ...`: a registered connector kind reads its own properties
    /// (see [`crate::connector::kind`]); `manual` makes the system a manual lane.
    fn connector(&mut self, node: &KdlNode, system: &str) -> Option<Lane> {
        const USAGE: &str = "connector KIND PROPERTY=VALUE ...";
        self.no_children(node);
        let args = self.args(
            node,
            &Args {
                min: 1,
                max: 1,
                usage: USAGE,
            },
        )?;
        let mut names: Vec<&str> = KINDS.iter().map(|k| k.name).collect();
        names.push(MANUAL);
        let kind_name = self.keyword(args[0], &names, "connector kind")?;
        if kind_name.value == MANUAL {
            return self.manual_lane(node).map(Lane::Manual);
        }
        let kind = crate::connector::kind::kind(&kind_name.value)?;
        let props_ok = self.check_props(node, kind.properties);
        let settings = (kind.read)(&mut Properties::new(self, node, system, kind.example))?;
        props_ok.then_some(Lane::Connector(settings))
    }

    fn manual_lane(&mut self, node: &KdlNode) -> Option<ManualLane> {
        const MANUAL_USAGE: &str = "connector manual owner=\"it-assets@acme.com\" sla=\"5d\"";
        let props_ok = self.check_props(node, MANUAL_PROPS);
        let owner = self.required_string_prop(node, "owner", MANUAL_USAGE)?;
        let sla = match Self::prop(node, "sla") {
            Some(e) => self.duration(e, "`sla`", Sign::Unsigned)?,
            None => SignedDuration::from_hours(5 * 24),
        };
        props_ok.then_some(())?;
        Some(ManualLane {
            owner: owner.value,
            sla,
            escalate_to: self.string_prop(node, "escalate-to").map(|s| s.value),
        })
    }

    pub(super) fn check_url(&mut self, url: &Spanned<String>, schemes: &[&str]) -> Option<()> {
        if has_url_credential(&url.value) {
            // The whole value is masked in every rendering of the policy.
            self.b.secrets.push(url.span);
            self.error(
                Diagnostic::error(
                    "policy::inline-secret",
                    url.span,
                    "a credential is written inline in the URL",
                )
                .label("a secret in a policy file ends up in git history")
                .help("remove the password or token from the URL and use `token-env=`/`password-env=` (or `-file=`); rotate this secret, it may already be committed"),
            );
            return None;
        }
        let lower = url.value.to_ascii_lowercase();
        let ok = schemes
            .iter()
            .any(|s| lower.starts_with(s) && lower.len() > s.len());
        if ok {
            return Some(());
        }
        self.error(
            Diagnostic::error(
                "policy::url",
                url.span,
                format!("`{}` is not a valid URL here", url.value),
            )
            .label(format!("expected {}", schemes.join(" or ")))
            .help(format!(
                "write the full URL starting with {}",
                schemes.join(" or ")
            )),
        );
        None
    }

    /// `token-env=` / `token-file=` (or `password-…`): exactly one.
    pub(super) fn secret_ref(
        &mut self,
        node: &KdlNode,
        base: &str,
        usage: &str,
    ) -> Option<SecretRef> {
        let env_key = format!("{base}-env");
        let file_key = format!("{base}-file");
        let env = self.string_prop(node, &env_key);
        let file = self.string_prop(node, &file_key);
        match (env, file) {
            (Some(env), None) => {
                let valid = !env.value.is_empty()
                    && env
                        .value
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_')
                    && !env.value.starts_with(|c: char| c.is_ascii_digit());
                if valid {
                    Some(SecretRef::Env(env.value))
                } else {
                    self.error(
                        Diagnostic::error(
                            "policy::secret-reference",
                            env.span,
                            format!("`{env_key}` must name an environment variable"),
                        )
                        .label("not a variable name")
                        .help("environment variable names use letters, digits and `_`, e.g. OKTA_SCIM_TOKEN; never put the secret itself here"),
                    );
                    None
                }
            }
            (None, Some(file)) => Some(SecretRef::File(PathBuf::from(file.value))),
            (Some(_), Some(file)) => {
                self.error(
                    Diagnostic::error(
                        "policy::secret-reference",
                        file.span,
                        format!("give either `{env_key}` or `{file_key}`, not both"),
                    )
                    .label("second source for the same secret")
                    .help(format!("keep one: usage: {usage}")),
                );
                None
            }
            (None, None) => {
                // An inline secret was already reported for this node; one error is enough.
                let inline = node.entries().iter().any(|e| {
                    e.name()
                        .is_some_and(|n| INLINE_SECRET_PROPS.contains(&n.value()))
                });
                if inline {
                    return None;
                }
                let span = self.node_name_span(node);
                self.error(
                    Diagnostic::error(
                        "policy::missing-property",
                        span,
                        format!("this connector needs `{env_key}=` or `{file_key}=`"),
                    )
                    .label("no credentials configured")
                    .help(format!("usage: {usage}")),
                );
                None
            }
        }
    }

    fn when(
        &mut self,
        node: &KdlNode,
        property: Option<&KdlEntry>,
        children: &[KdlNode],
        owner: &str,
        usage: &str,
    ) -> Option<Spanned<Condition>> {
        let mut whens = children.iter().filter(|c| c.name().value() == "when");
        let child = whens.next();
        if let (Some(first), Some(second)) = (child, whens.next()) {
            let first = self.node_name_span(first);
            self.repeated_child(second, first);
            return None;
        }
        match (property, child) {
            (Some(_), Some(child)) => {
                let span = self.node_name_span(child);
                self.error(
                    Diagnostic::error(
                        "policy::duplicate-node",
                        span,
                        "the condition is given twice",
                    )
                    .label("second condition")
                    .help("give `when` either as a property or as a child node, not both"),
                );
                None
            }
            (Some(entry), None) => self.condition(entry, owner),
            (None, Some(child)) => {
                self.check_props(child, &[]);
                self.no_children(child);
                let args = self.args(
                    child,
                    &Args {
                        min: 1,
                        max: 1,
                        usage: "when \"person.department == \\\"Sales\\\"\"",
                    },
                )?;
                self.condition(args[0], owner)
            }
            (None, None) => {
                let span = self.node_name_span(node);
                self.error(
                    Diagnostic::error(
                        "policy::missing-node",
                        span,
                        format!("{owner} has no `when` condition"),
                    )
                    .label("applies to whom?")
                    .help(format!("usage: {usage}; a catch-all is `when \"true\"`")),
                );
                None
            }
        }
    }

    fn role(&mut self, node: &KdlNode) {
        const USAGE: &str =
            "role NAME when=\"person.department == \\\"Sales\\\"\" { grant SYSTEM group=\"...\" }";
        self.check_props(node, &["when"]);
        let Some(name) = self.name_arg(node, USAGE) else {
            return;
        };
        if !self.b.claim("role", &name) {
            return;
        }
        let Some(children) = self.children(node, USAGE) else {
            return;
        };
        let errors_before = self.b.diagnostics.len();
        let owner = format!("role `{}`", name.value);
        let condition = self.when(node, Self::prop(node, "when"), children, &owner, USAGE);
        let mut grants = Vec::new();
        let mut description = None;
        for child in children {
            match child.name().value() {
                "when" => {}
                "description" => description = self.single_string(child, "description \"...\""),
                "grant" => {
                    const GRANT: &str = "grant github group=\"eng\"";
                    self.no_children(child);
                    self.check_props(child, &["group", "entitlement"]);
                    let system = self
                        .args(
                            child,
                            &Args {
                                min: 1,
                                max: 1,
                                usage: GRANT,
                            },
                        )
                        .and_then(|a| self.string(a[0], "a system name"));
                    let group = self.string_prop(child, "group").map(|s| s.value);
                    let entitlement = self.string_prop(child, "entitlement").map(|s| s.value);
                    if group.is_none() && entitlement.is_none() {
                        let span = self.node_name_span(child);
                        self.error(
                            Diagnostic::error(
                                "policy::missing-property",
                                span,
                                "`grant` names no group or entitlement",
                            )
                            .label("grants nothing")
                            .help(format!("usage: {GRANT} (or entitlement=\"...\")")),
                        );
                    }
                    if let Some(system) = system {
                        let grant = Grant {
                            span: system.span,
                            system: system.value,
                            group,
                            entitlement,
                        };
                        self.b.grants.push((name.value.clone(), grant.clone()));
                        grants.push(grant);
                    }
                }
                other => self.unknown_node(child, other, ROLE_CHILDREN, "nodes in `role`"),
            }
        }
        if self.b.diagnostics.len() > errors_before {
            return;
        }
        if let Some(condition) = condition {
            self.b.roles.push(Role {
                name,
                condition,
                grants,
                description,
                span: self.span(node.span()),
            });
        }
    }

    fn rule(&mut self, node: &KdlNode) {
        const USAGE: &str = "rule NAME { when \"person.termination_type == \\\"involuntary\\\"\"; cutoff immediately }";
        self.check_props(node, &["when"]);
        let Some(name) = self.name_arg(node, USAGE) else {
            return;
        };
        if !self.b.claim("rule", &name) {
            return;
        }
        let Some(children) = self.children(node, USAGE) else {
            return;
        };
        let errors_before = self.b.diagnostics.len();
        let owner = format!("rule `{}`", name.value);
        let condition = self.when(node, Self::prop(node, "when"), children, &owner, USAGE);
        let mut cutoff = None;
        let mut delete_after = None;
        let mut retain = None;
        let mut on_leave = Vec::new();
        let mut notify = Vec::new();
        let mut description = None;
        let mut seen: HashMap<&str, Span> = HashMap::new();
        for child in children {
            let key = child.name().value();
            if RULE_CHILDREN.contains(&key) && key != "when" {
                if let Some(first) = seen.get(key).copied() {
                    self.repeated_child(child, first);
                    continue;
                }
                seen.insert(key, self.node_name_span(child));
            }
            match key {
                "when" => {}
                "cutoff" => cutoff = self.cutoff(child),
                "delete-after" => {
                    delete_after =
                        self.single_duration(child, Sign::Unsigned, "delete-after \"30d\"")
                }
                "retain" => {
                    self.check_props(child, &[]);
                    self.no_children(child);
                    if let Some(args) = self.args(
                        child,
                        &Args {
                            min: 1,
                            max: 1,
                            usage: "retain forever | retain \"7y\"",
                        },
                    ) {
                        retain = match args[0].value() {
                            KdlValue::String(s) if s == "forever" => Some(Retention::Forever),
                            _ => self
                                .duration(args[0], "`retain`", Sign::Unsigned)
                                .map(Retention::For),
                        };
                    }
                }
                "on-leave" => {
                    self.check_props(child, &[]);
                    self.no_children(child);
                    on_leave = self.actions(child).into_iter().map(|a| a.value).collect();
                }
                "notify" => {
                    self.check_props(child, &[]);
                    self.no_children(child);
                    if let Some(args) = self.args(
                        child,
                        &Args {
                            min: 1,
                            max: usize::MAX,
                            usage: "notify \"security@acme.com\"",
                        },
                    ) {
                        for a in args {
                            if let Some(s) = self.string(a, "a recipient") {
                                notify.push(s.value);
                            }
                        }
                    }
                }
                "description" => description = self.single_string(child, "description \"...\""),
                other => self.unknown_node(child, other, RULE_CHILDREN, "nodes in `rule`"),
            }
        }
        if let (Some(Retention::Forever), Some(span)) = (retain, seen.get("delete-after").copied())
        {
            self.error(
                Diagnostic::error(
                    "policy::conflict",
                    span,
                    format!("rule `{}` both deletes and retains forever", name.value),
                )
                .label("never takes effect")
                .help("`retain forever` always wins over `delete-after`; remove one of them"),
            );
        }
        if self.b.diagnostics.len() > errors_before {
            return;
        }
        if let Some(condition) = condition {
            self.b.rules.push(Rule {
                name,
                condition,
                cutoff,
                delete_after,
                retain,
                on_leave,
                notify,
                description,
                span: self.span(node.span()),
            });
        }
    }

    fn cutoff(&mut self, node: &KdlNode) -> Option<Cutoff> {
        const USAGE: &str = "cutoff immediately | cutoff end-of-last-day | cutoff \"+2d\"";
        self.check_props(node, &[]);
        self.no_children(node);
        let args = self.args(
            node,
            &Args {
                min: 1,
                max: 1,
                usage: USAGE,
            },
        )?;
        match args[0].value() {
            KdlValue::String(s) if s == "immediately" => Some(Cutoff::Immediately),
            KdlValue::String(s) if s == "end-of-last-day" => Some(Cutoff::EndOfLastDay),
            KdlValue::String(s) if s.starts_with(['+', '-']) => self
                .duration(args[0], "cutoff offset", Sign::Required)
                .map(Cutoff::Offset),
            _ => {
                let span = self.value_span(args[0]);
                let given = match args[0].value() {
                    KdlValue::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let hint = did_you_mean(&given, ["immediately", "end-of-last-day"])
                    .map(|s| format!("did you mean `{s}`? "))
                    .unwrap_or_default();
                self.error(
                    Diagnostic::error("policy::cutoff", span, format!("`{given}` is not a cutoff"))
                        .label("unknown cutoff")
                        .help(format!("{hint}a cutoff is `immediately`, `end-of-last-day` or a signed offset from the end of the last working day such as \"+2d\" or \"-4h\"")),
                );
                None
            }
        }
    }

    fn defaults(&mut self, node: &KdlNode) {
        const USAGE: &str =
            "defaults { cutoff end-of-last-day; delete-after \"90d\"; max-disable-share \"10%\" }";
        self.check_props(node, &[]);
        let _ = self.args(node, &NO_ARGS);
        let node_span = self.node_name_span(node);
        if let Some((_, first)) = &self.b.defaults {
            let first = *first;
            let mut d = Diagnostic::error(
                "policy::duplicate-node",
                node_span,
                "`defaults` is declared twice",
            )
            .label("second `defaults`")
            .help("merge both blocks into one `defaults` block");
            if first.file == node_span.file {
                d = d.secondary(first, "first `defaults`");
            }
            self.error(d);
            return;
        }
        let Some(children) = self.children(node, USAGE) else {
            return;
        };
        let mut d = Defaults::default();
        let mut seen: HashMap<&str, Span> = HashMap::new();
        for child in children {
            let key = child.name().value();
            if DEFAULTS_CHILDREN.contains(&key) {
                if let Some(first) = seen.get(key).copied() {
                    self.repeated_child(child, first);
                    continue;
                }
                seen.insert(key, self.node_name_span(child));
            }
            match key {
                "cutoff" => {
                    if let Some(c) = self.cutoff(child) {
                        d.cutoff = c;
                    }
                }
                "delete-after" => {
                    d.delete_after =
                        self.single_duration(child, Sign::Unsigned, "delete-after \"90d\"")
                }
                "max-disable-share" => {
                    self.check_props(child, &[]);
                    self.no_children(child);
                    if let Some(args) = self.args(
                        child,
                        &Args {
                            min: 1,
                            max: 1,
                            usage: "max-disable-share \"10%\"",
                        },
                    ) && let Some(s) = self.share(args[0])
                    {
                        d.max_disable_share = s;
                    }
                }
                "timezone" => {
                    if let Some(name) = self.single_string(child, "timezone \"Europe/Berlin\"") {
                        match jiff::tz::TimeZone::get(&name) {
                            Ok(tz) => {
                                d.timezone = tz;
                                d.timezone_name = name;
                            }
                            Err(_) => {
                                let span = child
                                    .entries()
                                    .first()
                                    .map(|e| self.value_span(e))
                                    .unwrap_or(node_span);
                                self.error(
                                    Diagnostic::error("policy::timezone", span, format!("unknown time zone `{name}`"))
                                        .label("not an IANA time zone")
                                        .help("use an IANA name such as \"UTC\", \"Europe/Berlin\" or \"America/New_York\""),
                                );
                            }
                        }
                    }
                }
                "dormant-after" => {
                    if let Some(v) =
                        self.single_duration(child, Sign::Unsigned, "dormant-after \"90d\"")
                    {
                        d.dormant_after = v;
                    }
                }
                "escalate-after" => {
                    if let Some(v) =
                        self.single_duration(child, Sign::Unsigned, "escalate-after \"48h\"")
                    {
                        d.escalate_after = v;
                    }
                }
                "concurrency" => {
                    if let Some(v) = self.single_integer(child, "concurrency", 1..=64) {
                        d.concurrency = v;
                    }
                }
                "on-leave" => {
                    self.check_props(child, &[]);
                    self.no_children(child);
                    d.on_leave = self.actions(child).into_iter().map(|a| a.value).collect();
                }
                other => self.unknown_node(child, other, DEFAULTS_CHILDREN, "nodes in `defaults`"),
            }
        }
        self.b.defaults = Some((d, node_span));
    }

    /// `field termination-at "Termination Date" format="MM/DD/YYYY"`, or with a block of
    /// value mappings: `field termination-type "Reason" { "Resignation" voluntary }`.
    fn field_mapping(&mut self, node: &KdlNode) -> Option<FieldMapping> {
        const USAGE: &str = "field termination-at \"Termination Date\" format=\"MM/DD/YYYY\"";
        self.check_props(node, &["format"]);
        let args = self.args(
            node,
            &Args {
                min: 2,
                max: 8,
                usage: USAGE,
            },
        )?;
        let target = self.string(args[0], "a field name")?;
        let field = target.value.replace('-', "_");
        if !ROSTER_FIELDS.contains(&field.as_str()) {
            let names: Vec<String> = ROSTER_FIELDS.iter().map(|f| f.replace('_', "-")).collect();
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            self.error(
                Diagnostic::error(
                    "policy::unknown-person-field",
                    target.span,
                    format!("`{}` is not a roster field offboard reads", target.value),
                )
                .label("unknown field")
                .help(format!(
                    "{}; other export columns reach conditions under their own name without a mapping",
                    suggestion_help(&target.value, &names, "fields")
                )),
            );
            return None;
        }
        let mut from = Vec::new();
        for entry in &args[1..] {
            from.push(self.string(entry, "an export column name")?.value);
        }
        if from.len() > 1 && field != "name" {
            let span = self.span(args[2].span());
            self.error(
                Diagnostic::error(
                    "policy::arguments",
                    span,
                    format!(
                        "only `name` may be composed from several columns, not `{}`",
                        target.value
                    ),
                )
                .label("second column")
                .help(format!("usage: {USAGE}")),
            );
            return None;
        }
        let date_field = matches!(field.as_str(), "termination_at" | "last_day");
        let format = match Self::prop(node, "format") {
            None => None,
            Some(entry) => {
                let pattern = self.string(entry, "`format`")?;
                if !date_field {
                    self.error(
                        Diagnostic::error(
                            "policy::format",
                            pattern.span,
                            format!("`{}` is not a date; `format` applies to termination-at and last-day", target.value),
                        )
                        .label("not a date field")
                        .help("remove `format=`"),
                    );
                    return None;
                }
                if date_pattern_to_strftime(&pattern.value).is_none() {
                    self.error(
                        Diagnostic::error(
                            "policy::format",
                            pattern.span,
                            format!("`{}` is not a date format", pattern.value),
                        )
                        .label("needs YYYY, MM and DD")
                        .help("write the export's pattern with YYYY, MM, DD (and HH, mm, ss), e.g. \"MM/DD/YYYY\" or \"DD.MM.YYYY HH:mm\""),
                    );
                    return None;
                }
                Some(pattern.value)
            }
        };
        let vocabulary: Option<&[&str]> = match field.as_str() {
            "status" => Some(crate::roster::Status::NAMES),
            "employment" => Some(crate::roster::Employment::NAMES),
            "termination_type" => Some(crate::roster::TerminationType::NAMES),
            "legal_hold" => Some(&["true", "false"]),
            _ => None,
        };
        let mut values = Vec::new();
        if let Some(children) = node.children() {
            let Some(vocabulary) = vocabulary else {
                self.no_children(node);
                return None;
            };
            for child in children.nodes() {
                self.check_props(child, &[]);
                self.no_children(child);
                let Some(args) = self.args(
                    child,
                    &Args {
                        min: 1,
                        max: 1,
                        usage: "\"Termination for Cause\" involuntary",
                    },
                ) else {
                    continue;
                };
                let Some(to) =
                    self.keyword(args[0], vocabulary, &format!("{} value", target.value))
                else {
                    continue;
                };
                let export_value = child.name().value().to_string();
                if values
                    .iter()
                    .any(|(v, _): &(String, String)| *v == export_value)
                {
                    let span = self.node_name_span(child);
                    self.error(
                        Diagnostic::error(
                            "policy::duplicate-node",
                            span,
                            format!("the export value `{export_value}` is mapped twice"),
                        )
                        .label("mapped again")
                        .help("keep one mapping per export value"),
                    );
                    continue;
                }
                values.push((export_value, to.value));
            }
        }
        Some(FieldMapping {
            field,
            from,
            format,
            values,
            span: target.span,
        })
    }

    fn people(&mut self, node: &KdlNode) {
        const USAGE: &str = "people { source csv path=\"inventory/people.csv\"; key email }";
        self.check_props(node, &[]);
        let _ = self.args(node, &NO_ARGS);
        let node_span = self.node_name_span(node);
        if let Some(first) = &self.b.people {
            let first = first.span;
            let mut d = Diagnostic::error(
                "policy::duplicate-node",
                node_span,
                "`people` is declared twice",
            )
            .label("second `people`")
            .help("a policy has one roster; keep one `people` block");
            if first.file == node_span.file {
                d = d.secondary(first, "first `people`");
            }
            self.error(d);
            return;
        }
        let Some(children) = self.children(node, USAGE) else {
            return;
        };
        let mut source = None;
        let mut key = PersonKey::Email;
        let mut columns = Vec::new();
        let mut fields: Vec<FieldMapping> = Vec::new();
        let mut max_roster_drop = Share(0.10);
        let mut seen: HashMap<&str, Span> = HashMap::new();
        for child in children {
            let name = child.name().value();
            // A second `source` or `key` would silently win; `field` is checked per field.
            if matches!(name, "source" | "key" | "max-roster-drop") {
                if let Some(first) = seen.get(name).copied() {
                    self.repeated_child(child, first);
                    continue;
                }
                seen.insert(name, self.node_name_span(child));
            }
            match name {
                "source" => {
                    const SOURCE: &str = "source csv path=\"inventory/people.csv\"";
                    self.no_children(child);
                    self.check_props(child, &["path"]);
                    let format = self
                        .args(
                            child,
                            &Args {
                                min: 1,
                                max: 1,
                                usage: SOURCE,
                            },
                        )
                        .and_then(|a| self.keyword(a[0], &["csv", "json"], "roster format"))
                        .map(|f| {
                            if f.value == "csv" {
                                FileFormat::Csv
                            } else {
                                FileFormat::Json
                            }
                        });
                    let path = self.required_string_prop(child, "path", SOURCE);
                    if let (Some(format), Some(path)) = (format, path) {
                        source = Some((format, PathBuf::from(path.value)));
                    }
                }
                "key" => {
                    self.check_props(child, &[]);
                    self.no_children(child);
                    if let Some(args) = self.args(
                        child,
                        &Args {
                            min: 1,
                            max: 1,
                            usage: "key email",
                        },
                    ) && let Some(k) = self.keyword(args[0], PersonKey::NAMES, "person key")
                    {
                        key = PersonKey::parse(&k.value).unwrap_or(PersonKey::Email);
                    }
                }
                "column" => {
                    self.check_props(child, &[]);
                    self.no_children(child);
                    if let Some(args) = self.args(
                        child,
                        &Args {
                            min: 1,
                            max: usize::MAX,
                            usage: "column github",
                        },
                    ) {
                        for a in args {
                            if let Some(c) = self.string(a, "a column name") {
                                columns.push(c.value.replace('-', "_"));
                            }
                        }
                    }
                }
                "field" => {
                    if let Some(mapping) = self.field_mapping(child) {
                        if let Some(first) = fields.iter().find(|f| f.field == mapping.field) {
                            let first = first.span;
                            self.repeated_child(child, first);
                        } else {
                            fields.push(mapping);
                        }
                    }
                }
                "max-roster-drop" => {
                    self.check_props(child, &[]);
                    self.no_children(child);
                    if let Some(args) = self.args(
                        child,
                        &Args {
                            min: 1,
                            max: 1,
                            usage: "max-roster-drop \"10%\"",
                        },
                    ) && let Some(share) = self.share(args[0])
                    {
                        max_roster_drop = share;
                    }
                }
                other => self.unknown_node(child, other, PEOPLE_CHILDREN, "nodes in `people`"),
            }
        }
        match source {
            Some((format, path)) => {
                self.b.people = Some(PeopleSource {
                    format,
                    path,
                    key,
                    columns,
                    fields,
                    max_roster_drop,
                    span: node_span,
                })
            }
            None if !children.iter().any(|c| c.name().value() == "source") => {
                self.error(
                    Diagnostic::error(
                        "policy::missing-node",
                        node_span,
                        "`people` has no `source`",
                    )
                    .label("where is the roster?")
                    .help("add `source csv path=\"inventory/people.csv\"`"),
                );
            }
            None => {}
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
