//! The shape of a node: its properties, arguments and block, checked the same way everywhere.

use super::*;

impl FileParser<'_> {
    pub(super) fn unknown_node(&mut self, node: &KdlNode, name: &str, valid: &[&str], what: &str) {
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
    pub(super) fn check_props(&mut self, node: &KdlNode, allowed: &[&str]) -> bool {
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

    pub(super) fn args<'n>(&mut self, node: &'n KdlNode, rule: &Args) -> Option<Vec<&'n KdlEntry>> {
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

    pub(super) fn no_children(&mut self, node: &KdlNode) {
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

    pub(super) fn children<'n>(&mut self, node: &'n KdlNode, usage: &str) -> Option<&'n [KdlNode]> {
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

    pub(super) fn repeated_child(&mut self, child: &KdlNode, first: Span) {
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

    pub(super) fn name_arg(
        &mut self,
        node: &KdlNode,
        usage: &'static str,
    ) -> Option<Spanned<String>> {
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

    pub(super) fn prop<'n>(node: &'n KdlNode, key: &str) -> Option<&'n KdlEntry> {
        node.entries()
            .iter()
            .rev()
            .find(|e| e.name().is_some_and(|n| n.value() == key))
    }
}
