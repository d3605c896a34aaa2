//! The property API connector kinds read their `connector KIND key=value ...` line with.
//!
//! A kind's settings type (see [`crate::connector::kind::Kind`]) asks for its properties by
//! name and type; problems become diagnostics with the span of the offending value and the
//! kind's example line as the hint, exactly like the rest of the policy. The generic checks
//! (unknown or repeated properties, secrets written inline) have already run when `read` is
//! called, so a kind states only what it needs. Every method returns `None` (after reporting)
//! when the value is unusable; a kind stops at the first `None` it cannot do without.

use std::ops::RangeInclusive;
use std::path::PathBuf;

use jiff::SignedDuration;

use super::FileParser;
use crate::policy::duration::Sign;
use crate::policy::model::SecretRef;

/// The properties of one `connector` node, for one kind.
pub struct Properties<'p, 'a> {
    parser: &'p mut FileParser<'a>,
    node: &'p kdl::KdlNode,
    system: &'p str,
    example: &'static str,
}

impl<'p, 'a> Properties<'p, 'a> {
    pub(in crate::policy) fn new(
        parser: &'p mut FileParser<'a>,
        node: &'p kdl::KdlNode,
        system: &'p str,
        example: &'static str,
    ) -> Self {
        Properties {
            parser,
            node,
            system,
            example,
        }
    }

    /// The name of the system being declared.
    pub fn system(&self) -> &str {
        self.system
    }

    /// An optional string.
    pub fn string(&mut self, key: &str) -> Option<String> {
        self.parser.string_prop(self.node, key).map(|s| s.value)
    }

    /// A string that must be there.
    pub fn required_string(&mut self, key: &str) -> Option<String> {
        self.parser
            .required_string_prop(self.node, key, self.example)
            .map(|s| s.value)
    }

    /// A required URL with one of `schemes`; credentials inside it are an inline secret.
    pub fn url(&mut self, key: &str, schemes: &[&str]) -> Option<String> {
        let url = self
            .parser
            .required_string_prop(self.node, key, self.example)?;
        self.parser.check_url(&url, schemes)?;
        Some(url.value)
    }

    /// An optional URL with one of `schemes`, `default` when absent.
    pub fn url_or(&mut self, key: &str, schemes: &[&str], default: &str) -> Option<String> {
        if self.has(key) {
            self.url(key, schemes)
        } else {
            Some(default.to_string())
        }
    }

    /// `None` (after reporting) when both `a` and `b` are written: settings that exclude
    /// each other, such as two credentials, where using one would silently ignore the other.
    pub fn not_both(&mut self, a: &str, b: &str) -> Option<()> {
        let (Some(_), Some(second)) = (
            FileParser::prop(self.node, a),
            FileParser::prop(self.node, b),
        ) else {
            return Some(());
        };
        let span = self.parser.span(second.span());
        self.parser.error(
            crate::policy::Diagnostic::error(
                "policy::conflicting-properties",
                span,
                format!("give either `{a}` or `{b}`, not both"),
            )
            .label("second credential")
            .help(format!("keep one: usage: {}", self.example)),
        );
        None
    }

    /// Whether `key` is written at all (for settings that choose between sources).
    pub fn has(&self, key: &str) -> bool {
        FileParser::prop(self.node, key).is_some()
    }

    /// A boolean (`#true`/`#false`), `default` when absent.
    pub fn bool(&mut self, key: &str, default: bool) -> bool {
        self.parser.bool_prop(self.node, key, default)
    }

    /// A whole number within `range`, `default` when absent.
    pub fn integer(&mut self, key: &str, range: RangeInclusive<u32>, default: u32) -> Option<u32> {
        match FileParser::prop(self.node, key) {
            Some(e) => {
                let range = i128::from(*range.start())..=i128::from(*range.end());
                self.parser.integer(e, &format!("`{key}`"), range)
            }
            None => Some(default),
        }
    }

    /// A duration such as `"30s"` or `"5d"`, `default` when absent.
    pub fn duration(&mut self, key: &str, default: SignedDuration) -> Option<SignedDuration> {
        match FileParser::prop(self.node, key) {
            Some(e) => self.parser.duration(e, &format!("`{key}`"), Sign::Unsigned),
            None => Some(default),
        }
    }

    /// One of `valid`, `None` inside `Some` when absent.
    pub fn keyword(&mut self, key: &str, valid: &[&str], what: &str) -> Option<Option<String>> {
        match FileParser::prop(self.node, key) {
            Some(e) => Some(Some(self.parser.keyword(e, valid, what)?.value)),
            None => Some(None),
        }
    }

    /// A path, optional.
    pub fn path(&mut self, key: &str) -> Option<PathBuf> {
        self.string(key).map(PathBuf::from)
    }

    /// A secret's source: exactly one of `BASE-env=` and `BASE-file=`.
    pub fn secret(&mut self, base: &str) -> Option<SecretRef> {
        self.parser.secret_ref(self.node, base, self.example)
    }
}
