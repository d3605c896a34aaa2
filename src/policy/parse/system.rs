//! `system NAME { connector ...; tier ...; correlate ...; on-leave ... }`.

use super::*;

pub(super) const SYSTEM_CHILDREN: &[&str] = &[
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

pub(super) const MANUAL_PROPS: &[&str] = &["owner", "sla", "escalate-to"];

impl FileParser<'_> {
    pub(super) fn system(&mut self, node: &KdlNode) {
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

    /// The connector kind's name as written, read leniently (errors in it are reported by
    /// [`Self::connector`]).
    pub(super) fn connector_kind(node: &KdlNode) -> Option<String> {
        node.entries()
            .iter()
            .find(|e| e.name().is_none())
            .and_then(|e| e.value().as_string())
            .map(str::to_string)
    }

    /// `connector KIND key=value ...`: a registered connector kind reads its own properties
    /// (see [`crate::connector::kind`]); `manual` makes the system a manual lane.
    pub(super) fn connector(&mut self, node: &KdlNode, system: &str) -> Option<Lane> {
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
