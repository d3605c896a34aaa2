//! `rule NAME { when ...; cutoff ...; delete-after ...; retain ...; on-leave ...; notify ...;
//! auto-apply ... }`.

use super::*;

pub(super) const CUTOFF_USAGE: &str =
    "cutoff immediately | cutoff end-of-last-day | cutoff \"+2d\"";

/// What a `rule` block holds.
const RULE: &[Child] = &[
    Child::new("when", Args::one(role::WHEN_USAGE)),
    Child::new("cutoff", Args::one(CUTOFF_USAGE)),
    Child::new("delete-after", Args::one("delete-after \"30d\"")),
    Child::new("retain", Args::one("retain forever | retain \"7y\"")),
    Child::new("on-leave", Args::some(ON_LEAVE_USAGE)),
    Child::new("notify", Args::some("notify \"security@acme.com\"")),
    Child::new("auto-apply", Args::between(0, 1, "auto-apply #true")),
    Child::new("description", Args::one("description \"...\"")),
];

impl FileParser<'_> {
    pub(super) fn rule(&mut self, node: &KdlNode) {
        const USAGE: &str = "rule NAME { when \"person.termination_type == \\\"involuntary\\\"\"; cutoff immediately }";
        let Some(name) = self.declaration(node, "rule", &["when"], USAGE) else {
            return;
        };
        let owner = format!("rule `{}`", name.value);
        let errors_before = self.b.diagnostics.len();
        let Some(children) = self.block(node, RULE, &owner, name.span, USAGE) else {
            return;
        };
        let condition = self.when(node, &children, &owner, USAGE);
        let mut cutoff = None;
        let mut delete_after = None;
        let mut retain = None;
        let mut on_leave = Vec::new();
        let mut notify = Vec::new();
        let mut description = None;
        let mut auto_apply = false;
        for child in &children {
            if child.name() == "auto-apply" {
                auto_apply = self.flag(child);
                continue;
            }
            let Some(arg) = child.arg() else { continue };
            match child.name() {
                "when" => {}
                "cutoff" => cutoff = self.cutoff(arg),
                "delete-after" => delete_after = self.duration_of(child, Sign::Unsigned),
                "retain" => {
                    retain = match arg.value() {
                        KdlValue::String(s) if s == "forever" => Some(Retention::Forever),
                        _ => self
                            .duration(arg, "`retain`", Sign::Unsigned)
                            .map(Retention::For),
                    }
                }
                "on-leave" => {
                    on_leave = self
                        .actions(&child.args)
                        .into_iter()
                        .map(|a| a.value)
                        .collect()
                }
                "notify" => {
                    for a in &child.args {
                        if let Some(s) = self.string(a, "a recipient") {
                            notify.push(s.value);
                        }
                    }
                }
                "description" => description = self.text(child),
                other => self.unhandled(child.node, other),
            }
        }
        let delete_span = children
            .iter()
            .find(|c| c.name() == "delete-after")
            .map(|c| self.node_name_span(c.node));
        if let (Some(Retention::Forever), Some(span)) = (retain, delete_span) {
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
                auto_apply,
                description,
                span: self.span(node.span()),
            });
        }
    }

    /// `cutoff immediately | end-of-last-day | "+2d"`.
    pub(super) fn cutoff(&mut self, arg: &KdlEntry) -> Option<Cutoff> {
        match arg.value() {
            KdlValue::String(s) if s == "immediately" => Some(Cutoff::Immediately),
            KdlValue::String(s) if s == "end-of-last-day" => Some(Cutoff::EndOfLastDay),
            KdlValue::String(s) if s.starts_with(['+', '-']) => self
                .duration(arg, "cutoff offset", Sign::Required)
                .map(Cutoff::Offset),
            _ => {
                let span = self.value_span(arg);
                let given = match arg.value() {
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
