//! `system NAME { connector ...; tier ...; correlate ...; on-leave ... }`.

use super::*;

/// What a `system` block holds.
const SYSTEM: &[Child] = &[
    Child::new("connector", Args::one(CONNECTOR_USAGE))
        .own_props()
        .required(),
    Child::new("tier", Args::one("tier identity-provider")).required(),
    Child::new(
        "correlate",
        Args::between(0, 0, "correlate email=\"userName\""),
    )
    .own_props()
    .repeatable(),
    Child::new("on-leave", Args::some(ON_LEAVE_USAGE)),
    Child::new("exempt", Args::one(EXEMPT_USAGE))
        .props(&["reason", "owner"])
        .repeatable(),
    Child::new("concurrency", Args::one("concurrency 4")),
    Child::new("description", Args::one("description \"...\"")),
    Child::new("owner", Args::one("owner \"team@acme.com\"")),
    Child::new("enforce-roles", Args::between(0, 1, "enforce-roles #true")),
    Child::new(
        "privileged-groups",
        Args::some("privileged-groups \"admins\" \"owners\""),
    ),
    Child::new("max-disable-share", Args::one("max-disable-share \"20%\"")),
];

const CONNECTOR_USAGE: &str = "connector file path=\"inventory/accounts/NAME.json\"";
const EXEMPT_USAGE: &str =
    "exempt \"svc-backup\" reason=\"backup service\" owner=\"it-ops@acme.com\"";

pub(super) const MANUAL_PROPS: &[&str] = &["owner", "sla", "escalate-to"];

impl FileParser<'_> {
    pub(super) fn system(&mut self, node: &KdlNode) {
        const USAGE: &str =
            "system NAME { connector KIND ...; tier TIER; correlate email=\"email\" }";
        let Some(name) = self.declaration(node, "system", &[], USAGE) else {
            return;
        };
        let owner_text = format!("system `{}`", name.value);
        let Some(children) = self.block(node, SYSTEM, &owner_text, name.span, USAGE) else {
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

        for child in &children {
            let Some(arg) = child.arg() else {
                // Only `correlate` and `enforce-roles` may have no argument.
                match child.name() {
                    "correlate" => self.correlate(child.node, &mut correlate),
                    "enforce-roles" => enforce_roles = true,
                    _ => {}
                }
                continue;
            };
            match child.name() {
                "connector" => {
                    connector_kind = arg.value().as_string().map(str::to_string);
                    connector = self.connector(child.node, arg, &name.value);
                }
                "tier" => {
                    tier = self
                        .keyword(arg, Tier::NAMES, "tier")
                        .and_then(|t| Tier::parse(&t.value))
                }
                "on-leave" => on_leave = Some(self.actions(&child.args)),
                "exempt" => {
                    if let Some(e) = self.exemption(child.node, arg, &exemptions) {
                        exemptions.push(e);
                    }
                }
                "concurrency" => concurrency = self.integer(arg, "`concurrency`", 1..=64),
                "description" => description = self.text(child),
                "owner" => owner = self.text(child),
                "enforce-roles" => enforce_roles = self.flag(child),
                "privileged-groups" => {
                    for a in &child.args {
                        if let Some(g) = self.string(a, "a group") {
                            privileged_groups.push(g.value);
                        }
                    }
                }
                "max-disable-share" => max_disable_share = self.share(arg),
                other => self.unhandled(child.node, other),
            }
        }

        let name_span = name.span;
        let manual = matches!(connector, Some(Lane::Manual(_)));
        if correlate.is_empty() && !manual && connector.is_some() {
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

    /// `connector KIND key=value ...`: a registered connector kind reads its own properties
    /// (see [`crate::connector::kind`]); `manual` makes the system a manual lane.
    fn connector(&mut self, node: &KdlNode, kind: &KdlEntry, system: &str) -> Option<Lane> {
        let mut names: Vec<&str> = KINDS.iter().map(|k| k.name).collect();
        names.push(MANUAL);
        let kind_name = self.keyword(kind, &names, "connector kind")?;
        if kind_name.value == MANUAL {
            return self.manual_lane(node).map(Lane::Manual);
        }
        let kind = crate::connector::kind::kind(&kind_name.value)?;
        let props_ok = self.check_props(node, kind.properties);
        let settings = (kind.read)(&mut Properties::new(self, node, system, kind.example))?;
        props_ok.then_some(Lane::Connector(settings))
    }

    /// `correlate PERSON_FIELD="ACCOUNT_ATTRIBUTE" ...`.
    fn correlate(&mut self, child: &KdlNode, correlate: &mut Vec<Correlation>) {
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

    /// `exempt "ACCOUNT" reason="..." owner="..."`, refused when the account is exempted
    /// already.
    fn exemption(
        &mut self,
        child: &KdlNode,
        account: &KdlEntry,
        earlier: &[Exemption],
    ) -> Option<Exemption> {
        let account = self.string(account, "an account");
        let reason = self.required_string_prop(child, "reason", EXEMPT_USAGE);
        let owner = self.required_string_prop(child, "owner", EXEMPT_USAGE);
        let (account, reason, owner) = (account?, reason?, owner?);
        if let Some(first) = earlier.iter().find(|e| e.account == account.value) {
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
            return None;
        }
        Some(Exemption {
            account: account.value,
            reason: reason.value,
            owner: owner.value,
            span: self.span(child.span()),
        })
    }

    pub(super) fn manual_lane(&mut self, node: &KdlNode) -> Option<ManualLane> {
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
}
