//! `role NAME when=... { grant SYSTEM group=... }`, and the `when` condition roles and rules
//! share.

use super::*;

const GRANT_USAGE: &str = "grant github group=\"eng\"";
pub(super) const WHEN_USAGE: &str = "when \"person.department == \\\"Sales\\\"\"";

/// What a `role` block holds.
const ROLE: &[Child] = &[
    Child::new("grant", Args::one(GRANT_USAGE))
        .props(&["group", "entitlement"])
        .repeatable(),
    Child::new("when", Args::one(WHEN_USAGE)),
    Child::new("description", Args::one("description \"...\"")),
];

impl FileParser<'_> {
    /// The condition of a role or rule: `when=` on the node, or a `when` child, not both.
    /// `given` tells whether a `when` child was written at all (its shape may be wrong).
    pub(super) fn when(
        &mut self,
        node: &KdlNode,
        children: &[Shaped<'_>],
        owner: &str,
        usage: &str,
    ) -> Option<Spanned<Condition>> {
        let property = Self::prop(node, "when");
        let child = children.iter().find(|c| c.name() == "when");
        let given = node
            .children()
            .is_some_and(|d| d.nodes().iter().any(|c| c.name().value() == "when"));
        match (property, child) {
            (Some(_), Some(child)) => {
                let span = self.node_name_span(child.node);
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
            (None, Some(child)) => self.condition(child.arg()?, owner),
            // A `when` child with a wrong shape was reported already.
            (None, None) if given => None,
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
        let Some(name) = self.declaration(node, "role", &["when"], USAGE) else {
            return;
        };
        let owner = format!("role `{}`", name.value);
        let errors_before = self.b.diagnostics.len();
        let Some(children) = self.block(node, ROLE, &owner, name.span, USAGE) else {
            return;
        };
        let condition = self.when(node, &children, &owner, USAGE);
        let mut grants = Vec::new();
        let mut description = None;
        for child in &children {
            match child.name() {
                "when" => {}
                "description" => description = self.text(child),
                "grant" => {
                    if let Some(grant) = self.grant(child) {
                        self.b.grants.push((name.value.clone(), grant.clone()));
                        grants.push(grant);
                    }
                }
                other => self.unhandled(child.node, other),
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

    /// `grant SYSTEM group="..."` (or `entitlement="..."`).
    fn grant(&mut self, child: &Shaped<'_>) -> Option<Grant> {
        let system = child.arg().and_then(|a| self.string(a, "a system name"));
        let group = self.string_prop(child.node, "group").map(|s| s.value);
        let entitlement = self.string_prop(child.node, "entitlement").map(|s| s.value);
        if group.is_none() && entitlement.is_none() {
            let span = self.node_name_span(child.node);
            self.error(
                Diagnostic::error(
                    "policy::missing-property",
                    span,
                    "`grant` names no group or entitlement",
                )
                .label("grants nothing")
                .help(format!("usage: {GRANT_USAGE} (or entitlement=\"...\")")),
            );
        }
        let system = system?;
        Some(Grant {
            span: system.span,
            system: system.value,
            group,
            entitlement,
        })
    }
}
