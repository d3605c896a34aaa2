//! The shape of a node: its properties, arguments and block, checked the same way everywhere.
//!
//! Every node kind is described once, as data: the [`Child`] nodes its block may hold, each
//! with its arity ([`Args`]), its properties, whether it takes a block of its own, whether it
//! may be repeated and whether it is required. [`FileParser::block`] checks a block against
//! such a description and reports, identically for every node kind, unknown children (with a
//! did-you-mean), repeated ones (pointing at the first), missing required ones, unknown or
//! repeated properties, unexpected blocks and wrong argument counts. The node's reader then
//! only interprets values that already have the right shape.

use super::*;

/// How many positional arguments a node takes, and the usage line shown when it is wrong.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Args {
    pub min: usize,
    pub max: usize,
    pub usage: &'static str,
}

impl Args {
    pub const NONE: Args = Args::between(0, 0, "");

    pub const fn between(min: usize, max: usize, usage: &'static str) -> Args {
        Args { min, max, usage }
    }

    /// Exactly one argument.
    pub const fn one(usage: &'static str) -> Args {
        Args::between(1, 1, usage)
    }

    /// One or more arguments.
    pub const fn some(usage: &'static str) -> Args {
        Args::between(1, usize::MAX, usage)
    }
}

/// The properties a child node accepts.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Props {
    Only(&'static [&'static str]),
    /// Checked by the child's reader: a connector's depend on its kind, `correlate` takes
    /// person fields.
    Own,
    /// Any names, each given at most once (a policy test's fixture person has any column).
    Any,
}

/// Whether a child node takes a block of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Block {
    None,
    /// Interpreted by the child's reader (a `field`'s value mappings).
    Own,
}

/// One kind of child node a block may hold.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Child {
    pub name: &'static str,
    pub args: Args,
    pub props: Props,
    pub block: Block,
    pub repeatable: bool,
    pub required: bool,
}

impl Child {
    /// A child given at most once, with no properties and no block.
    pub const fn new(name: &'static str, args: Args) -> Child {
        Child {
            name,
            args,
            props: Props::Only(&[]),
            block: Block::None,
            repeatable: false,
            required: false,
        }
    }

    pub const fn props(self, props: &'static [&'static str]) -> Child {
        Child {
            props: Props::Only(props),
            ..self
        }
    }

    pub const fn own_props(self) -> Child {
        Child {
            props: Props::Own,
            ..self
        }
    }

    pub const fn any_props(self) -> Child {
        Child {
            props: Props::Any,
            ..self
        }
    }

    pub const fn own_block(self) -> Child {
        Child {
            block: Block::Own,
            ..self
        }
    }

    pub const fn repeatable(self) -> Child {
        Child {
            repeatable: true,
            ..self
        }
    }

    pub const fn required(self) -> Child {
        Child {
            required: true,
            ..self
        }
    }
}

/// A child node whose shape is right: the node and its positional arguments.
pub(crate) struct Shaped<'n> {
    pub node: &'n KdlNode,
    pub args: Vec<&'n KdlEntry>,
}

impl<'n> Shaped<'n> {
    pub fn name(&self) -> &'n str {
        self.node.name().value()
    }

    /// The first argument (every child with a minimum arity of one has it).
    pub fn arg(&self) -> Option<&'n KdlEntry> {
        self.args.first().copied()
    }
}

impl FileParser<'_> {
    /// Checks the block of `node` against `spec` and returns the children to interpret, in
    /// order: each known, well-shaped, and (unless repeatable) the first of its name. `owner`
    /// names the node in messages ("system `okta`"); missing required children are reported
    /// at `owner_span`. `None` when the node has no block at all (`usage` shows one).
    pub(crate) fn block<'n>(
        &mut self,
        node: &'n KdlNode,
        spec: &[Child],
        owner: &str,
        owner_span: Span,
        usage: &str,
    ) -> Option<Vec<Shaped<'n>>> {
        let children = self.children(node, usage)?;
        let names: Vec<&str> = spec.iter().map(|c| c.name).collect();
        let mut first_of: HashMap<&str, Span> = HashMap::new();
        let mut accepted = Vec::new();
        for child in children {
            let name = child.name().value();
            let Some(kind) = spec.iter().find(|c| c.name == name) else {
                let what = format!("nodes in `{}`", node.name().value());
                self.unknown_node(child, name, &names, &what);
                continue;
            };
            if !kind.repeatable {
                if let Some(first) = first_of.get(name).copied() {
                    self.repeated_child(child, first);
                    continue;
                }
                first_of.insert(name, self.node_name_span(child));
            }
            if let Some(shaped) = self.shape(child, kind) {
                accepted.push(shaped);
            }
        }
        for missing in spec.iter().filter(|c| c.required) {
            if children.iter().any(|c| c.name().value() == missing.name) {
                continue;
            }
            self.error(
                Diagnostic::error(
                    "policy::missing-node",
                    owner_span,
                    format!("{owner} has no `{}`", missing.name),
                )
                .label(format!("missing `{}`", missing.name))
                .help(format!("add `{}` inside the block", missing.args.usage)),
            );
        }
        Some(accepted)
    }

    /// Checks one child's properties, block and arguments against its description.
    fn shape<'n>(&mut self, child: &'n KdlNode, kind: &Child) -> Option<Shaped<'n>> {
        match kind.props {
            Props::Only(allowed) => {
                self.check_props(child, allowed);
            }
            Props::Any => {
                self.no_repeated_props(child);
            }
            Props::Own => {}
        }
        if kind.block == Block::None {
            self.no_children(child);
        }
        let args = self.args(child, &kind.args)?;
        Some(Shaped { node: child, args })
    }

    pub(crate) fn unknown_node(&mut self, node: &KdlNode, name: &str, valid: &[&str], what: &str) {
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
    pub(crate) fn check_props(&mut self, node: &KdlNode, allowed: &[&str]) -> bool {
        let mut ok = self.no_repeated_props(node);
        let mut seen: Vec<&str> = Vec::new();
        for entry in node.entries() {
            let Some(name) = entry.name() else { continue };
            let key = name.value();
            // A repeated property was reported above, an unknown one at its first use.
            if seen.contains(&key) || allowed.contains(&key) {
                seen.push(key);
                continue;
            }
            seen.push(key);
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
            let span = self.span(name.span());
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

    /// Report every property given a second time on `node`; false when there was one.
    pub(crate) fn no_repeated_props(&mut self, node: &KdlNode) -> bool {
        let mut ok = true;
        let mut seen: Vec<&str> = Vec::new();
        for entry in node.entries() {
            let Some(name) = entry.name() else { continue };
            let key = name.value();
            if !seen.contains(&key) {
                seen.push(key);
                continue;
            }
            ok = false;
            let span = self.span(name.span());
            self.error(
                Diagnostic::error(
                    "policy::duplicate-property",
                    span,
                    format!("property `{key}` is given twice"),
                )
                .label("repeated here")
                .help("KDL keeps only the last value; remove one of them"),
            );
        }
        ok
    }

    pub(crate) fn args<'n>(&mut self, node: &'n KdlNode, rule: &Args) -> Option<Vec<&'n KdlEntry>> {
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

    pub(crate) fn no_children(&mut self, node: &KdlNode) {
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

    pub(crate) fn children<'n>(&mut self, node: &'n KdlNode, usage: &str) -> Option<&'n [KdlNode]> {
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

    pub(crate) fn repeated_child(&mut self, child: &KdlNode, first: Span) {
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

    /// The head of a named declaration (`system NAME`, `role NAME`, `rule NAME`): its
    /// properties checked, its name valid and not declared before.
    pub(crate) fn declaration(
        &mut self,
        node: &KdlNode,
        kind: &'static str,
        props: &[&str],
        usage: &'static str,
    ) -> Option<Spanned<String>> {
        self.check_props(node, props);
        let name = self.name_arg(node, usage)?;
        self.b.claim(kind, &name).then_some(name)
    }

    pub(crate) fn name_arg(
        &mut self,
        node: &KdlNode,
        usage: &'static str,
    ) -> Option<Spanned<String>> {
        let args = self.args(node, &Args::one(usage))?;
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

    pub(crate) fn prop<'n>(node: &'n KdlNode, key: &str) -> Option<&'n KdlEntry> {
        node.entries()
            .iter()
            .rev()
            .find(|e| e.name().is_some_and(|n| n.value() == key))
    }
}
