//! `defaults { ... }`: the policy-wide settings rules and systems fall back to.

use super::*;

pub(super) const DEFAULTS_CHILDREN: &[&str] = &[
    "cutoff",
    "delete-after",
    "max-disable-share",
    "timezone",
    "dormant-after",
    "escalate-after",
    "concurrency",
    "on-leave",
];

impl FileParser<'_> {
    pub(super) fn defaults(&mut self, node: &KdlNode) {
        const USAGE: &str =
            "defaults { cutoff end-of-last-day; delete-after \"90d\"; max-disable-share \"10%\" }";
        self.check_props(node, &[]);
        let _ = self.args(node, &NO_ARGS);
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
        let Some(children) = self.children(node, USAGE) else {
            return;
        };
        let mut d = Defaults::default();
        let mut seen: HashMap<&str, Span> = HashMap::new();
        for child in children {
            let key = child.name().value();
            if DEFAULTS_CHILDREN.contains(&key) {
                if let Some(first) = seen.get(key).copied() {
                    self.repeated_child(child, first);
                    continue;
                }
                seen.insert(key, self.node_name_span(child));
            }
            match key {
                "cutoff" => {
                    if let Some(c) = self.cutoff(child) {
                        d.cutoff = c;
                    }
                }
                "delete-after" => {
                    d.delete_after =
                        self.single_duration(child, Sign::Unsigned, "delete-after \"90d\"")
                }
                "max-disable-share" => {
                    self.check_props(child, &[]);
                    self.no_children(child);
                    if let Some(args) = self.args(
                        child,
                        &Args {
                            min: 1,
                            max: 1,
                            usage: "max-disable-share \"10%\"",
                        },
                    ) && let Some(s) = self.share(args[0])
                    {
                        d.max_disable_share = s;
                    }
                }
                "timezone" => {
                    if let Some(name) = self.single_string(child, "timezone \"Europe/Berlin\"") {
                        match jiff::tz::TimeZone::get(&name) {
                            Ok(tz) => {
                                d.timezone = tz;
                                d.timezone_name = name;
                            }
                            Err(_) => {
                                let span = child
                                    .entries()
                                    .first()
                                    .map(|e| self.value_span(e))
                                    .unwrap_or(node_span);
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
                    if let Some(v) =
                        self.single_duration(child, Sign::Unsigned, "dormant-after \"90d\"")
                    {
                        d.dormant_after = v;
                    }
                }
                "escalate-after" => {
                    if let Some(v) =
                        self.single_duration(child, Sign::Unsigned, "escalate-after \"48h\"")
                    {
                        d.escalate_after = v;
                    }
                }
                "concurrency" => {
                    if let Some(v) = self.single_integer(child, "concurrency", 1..=64) {
                        d.concurrency = v;
                    }
                }
                "on-leave" => {
                    self.check_props(child, &[]);
                    self.no_children(child);
                    d.on_leave = self.actions(child).into_iter().map(|a| a.value).collect();
                }
                other => self.unknown_node(child, other, DEFAULTS_CHILDREN, "nodes in `defaults`"),
            }
        }
        self.b.defaults = Some((d, node_span));
    }
}
