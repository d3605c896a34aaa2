//! `role NAME when=... { grant SYSTEM group=... }`, and the `when` condition roles and rules share.

use super::*;

pub(super) const ROLE_CHILDREN: &[&str] = &["grant", "when", "description"];

impl FileParser<'_> {
    pub(super) fn when(
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

    pub(super) fn role(&mut self, node: &KdlNode) {
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
}
