//! `rule NAME { when ...; cutoff ...; delete-after ...; retain ...; on-leave ...; notify ... }`.

use super::*;

pub(super) const RULE_CHILDREN: &[&str] = &[
    "when",
    "cutoff",
    "delete-after",
    "retain",
    "on-leave",
    "notify",
    "description",
];

impl FileParser<'_> {
    pub(super) fn rule(&mut self, node: &KdlNode) {
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

    pub(super) fn cutoff(&mut self, node: &KdlNode) -> Option<Cutoff> {
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
}
