//! `defaults { ... }`: the policy-wide settings rules and systems fall back to.

use super::*;

/// What a `defaults` block holds.
const DEFAULTS: &[Child] = &[
    Child::new("cutoff", Args::one(rule::CUTOFF_USAGE)),
    Child::new("delete-after", Args::one("delete-after \"90d\"")),
    Child::new("max-disable-share", Args::one("max-disable-share \"10%\"")),
    Child::new("timezone", Args::one("timezone \"Europe/Berlin\"")),
    Child::new("dormant-after", Args::one("dormant-after \"90d\"")),
    Child::new("escalate-after", Args::one("escalate-after \"48h\"")),
    Child::new(
        "override-confirm-within",
        Args::one("override-confirm-within \"24h\""),
    ),
    Child::new("concurrency", Args::one("concurrency 4")),
    Child::new("on-leave", Args::some(ON_LEAVE_USAGE)),
];

impl FileParser<'_> {
    pub(super) fn defaults(&mut self, node: &KdlNode) {
        const USAGE: &str =
            "defaults { cutoff end-of-last-day; delete-after \"90d\"; max-disable-share \"10%\" }";
        self.check_props(node, &[]);
        let _ = self.args(node, &Args::NONE);
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
        let Some(children) = self.block(node, DEFAULTS, "`defaults`", node_span, USAGE) else {
            return;
        };
        let mut d = Defaults::default();
        for child in &children {
            let Some(arg) = child.arg() else { continue };
            match child.name() {
                "cutoff" => {
                    if let Some(c) = self.cutoff(arg) {
                        d.cutoff = c;
                    }
                }
                "delete-after" => d.delete_after = self.duration_of(child, Sign::Unsigned),
                "max-disable-share" => {
                    if let Some(s) = self.share(arg) {
                        d.max_disable_share = s;
                    }
                }
                "timezone" => {
                    if let Some(name) = self.text(child) {
                        match jiff::tz::TimeZone::get(&name) {
                            Ok(tz) => {
                                d.timezone = tz;
                                d.timezone_name = name;
                            }
                            Err(_) => {
                                let span = self.value_span(arg);
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
                    if let Some(v) = self.duration_of(child, Sign::Unsigned) {
                        d.dormant_after = v;
                    }
                }
                "escalate-after" => {
                    if let Some(v) = self.duration_of(child, Sign::Unsigned) {
                        d.escalate_after = v;
                    }
                }
                "override-confirm-within" => {
                    if let Some(v) = self.duration_of(child, Sign::Unsigned) {
                        d.override_confirm_within = v;
                    }
                }
                "concurrency" => {
                    if let Some(v) = self.integer(arg, "`concurrency`", 1..=64) {
                        d.concurrency = v;
                    }
                }
                "on-leave" => {
                    d.on_leave = self
                        .actions(&child.args)
                        .into_iter()
                        .map(|a| a.value)
                        .collect()
                }
                other => self.unhandled(child.node, other),
            }
        }
        self.b.defaults = Some((d, node_span));
    }
}
