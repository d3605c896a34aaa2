//! `people { source ...; key ...; column ...; field ...; max-roster-drop ... }`: the roster.

use super::*;

const SOURCE_USAGE: &str = "source csv path=\"inventory/people.csv\"";
const FIELD_USAGE: &str = "field termination-at \"Termination Date\" format=\"MM/DD/YYYY\"";

/// What a `people` block holds. `field` may repeat, once per roster field (checked by its
/// reader, which knows the field).
const PEOPLE: &[Child] = &[
    Child::new("source", Args::one(SOURCE_USAGE))
        .props(&["path"])
        .required(),
    Child::new("key", Args::one("key email")),
    Child::new("column", Args::some("column github")),
    Child::new("field", Args::between(2, 8, FIELD_USAGE))
        .props(&["format"])
        .own_block()
        .repeatable(),
    Child::new("max-roster-drop", Args::one("max-roster-drop \"10%\"")),
];

impl FileParser<'_> {
    /// `field termination-at "Termination Date" format="MM/DD/YYYY"`, or with a block of
    /// value mappings: `field termination-type "Reason" { "Resignation" voluntary }`.
    fn field_mapping(&mut self, child: &Shaped<'_>) -> Option<FieldMapping> {
        let (node, args) = (child.node, &child.args);
        let target = self.string(args[0], "a field name")?;
        let field = target.value.replace('-', "_");
        if !ROSTER_FIELDS.contains(&field.as_str()) {
            let names: Vec<String> = ROSTER_FIELDS.iter().map(|f| f.replace('_', "-")).collect();
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            self.error(
                Diagnostic::error(
                    "policy::unknown-person-field",
                    target.span,
                    format!("`{}` is not a roster field offboard reads", target.value),
                )
                .label("unknown field")
                .help(format!(
                    "{}; other export columns reach conditions under their own name without a mapping",
                    suggestion_help(&target.value, &names, "fields")
                )),
            );
            return None;
        }
        let mut from = Vec::new();
        for entry in &args[1..] {
            from.push(self.string(entry, "an export column name")?.value);
        }
        if from.len() > 1 && field != "name" {
            let span = self.span(args[2].span());
            self.error(
                Diagnostic::error(
                    "policy::arguments",
                    span,
                    format!(
                        "only `name` may be composed from several columns, not `{}`",
                        target.value
                    ),
                )
                .label("second column")
                .help(format!("usage: {FIELD_USAGE}")),
            );
            return None;
        }
        let date_field = matches!(field.as_str(), "termination_at" | "last_day");
        let format = match Self::prop(node, "format") {
            None => None,
            Some(entry) => {
                let pattern = self.string(entry, "`format`")?;
                if !date_field {
                    self.error(
                        Diagnostic::error(
                            "policy::format",
                            pattern.span,
                            format!("`{}` is not a date; `format` applies to termination-at and last-day", target.value),
                        )
                        .label("not a date field")
                        .help("remove `format=`"),
                    );
                    return None;
                }
                if date_pattern_to_strftime(&pattern.value).is_none() {
                    self.error(
                        Diagnostic::error(
                            "policy::format",
                            pattern.span,
                            format!("`{}` is not a date format", pattern.value),
                        )
                        .label("needs YYYY, MM and DD")
                        .help("write the export's pattern with YYYY, MM, DD (and HH, mm, ss), e.g. \"MM/DD/YYYY\" or \"DD.MM.YYYY HH:mm\""),
                    );
                    return None;
                }
                Some(pattern.value)
            }
        };
        let vocabulary: Option<&[&str]> = match field.as_str() {
            "status" => Some(crate::roster::Status::NAMES),
            "employment" => Some(crate::roster::Employment::NAMES),
            "termination_type" => Some(crate::roster::TerminationType::NAMES),
            "legal_hold" => Some(&["true", "false"]),
            _ => None,
        };
        let mut values = Vec::new();
        if let Some(children) = node.children() {
            let Some(vocabulary) = vocabulary else {
                self.no_children(node);
                return None;
            };
            for child in children.nodes() {
                self.check_props(child, &[]);
                self.no_children(child);
                let Some(args) =
                    self.args(child, &Args::one("\"Termination for Cause\" involuntary"))
                else {
                    continue;
                };
                let Some(to) =
                    self.keyword(args[0], vocabulary, &format!("{} value", target.value))
                else {
                    continue;
                };
                let export_value = child.name().value().to_string();
                if values
                    .iter()
                    .any(|(v, _): &(String, String)| *v == export_value)
                {
                    let span = self.node_name_span(child);
                    self.error(
                        Diagnostic::error(
                            "policy::duplicate-node",
                            span,
                            format!("the export value `{export_value}` is mapped twice"),
                        )
                        .label("mapped again")
                        .help("keep one mapping per export value"),
                    );
                    continue;
                }
                values.push((export_value, to.value));
            }
        }
        Some(FieldMapping {
            field,
            from,
            format,
            values,
            span: target.span,
        })
    }

    pub(super) fn people(&mut self, node: &KdlNode) {
        const USAGE: &str = "people { source csv path=\"inventory/people.csv\"; key email }";
        self.check_props(node, &[]);
        let _ = self.args(node, &Args::NONE);
        let node_span = self.node_name_span(node);
        if let Some(first) = &self.b.people {
            let first = first.span;
            let mut d = Diagnostic::error(
                "policy::duplicate-node",
                node_span,
                "`people` is declared twice",
            )
            .label("second `people`")
            .help("a policy has one roster; keep one `people` block");
            if first.file == node_span.file {
                d = d.secondary(first, "first `people`");
            }
            self.error(d);
            return;
        }
        let Some(children) = self.block(node, PEOPLE, "`people`", node_span, USAGE) else {
            return;
        };
        let mut source = None;
        let mut key = PersonKey::Email;
        let mut columns = Vec::new();
        let mut fields: Vec<FieldMapping> = Vec::new();
        let mut max_roster_drop = Share(0.10);
        for child in &children {
            let Some(arg) = child.arg() else { continue };
            match child.name() {
                "source" => {
                    let format = self
                        .keyword(arg, &["csv", "json"], "roster format")
                        .map(|f| {
                            if f.value == "csv" {
                                FileFormat::Csv
                            } else {
                                FileFormat::Json
                            }
                        });
                    let path = self.required_string_prop(child.node, "path", SOURCE_USAGE);
                    if let (Some(format), Some(path)) = (format, path) {
                        source = Some((format, PathBuf::from(path.value)));
                    }
                }
                "key" => {
                    if let Some(k) = self.keyword(arg, PersonKey::NAMES, "person key") {
                        key = PersonKey::parse(&k.value).unwrap_or(PersonKey::Email);
                    }
                }
                "column" => {
                    for a in &child.args {
                        if let Some(c) = self.string(a, "a column name") {
                            columns.push(c.value.replace('-', "_"));
                        }
                    }
                }
                "field" => {
                    if let Some(mapping) = self.field_mapping(child) {
                        if let Some(first) = fields.iter().find(|f| f.field == mapping.field) {
                            let first = first.span;
                            self.repeated_child(child.node, first);
                        } else {
                            fields.push(mapping);
                        }
                    }
                }
                "max-roster-drop" => {
                    if let Some(share) = self.share(arg) {
                        max_roster_drop = share;
                    }
                }
                other => self.unhandled(child.node, other),
            }
        }
        // A missing `source` was reported with the block, a broken one where it is.
        if let Some((format, path)) = source {
            self.b.people = Some(PeopleSource {
                format,
                path,
                key,
                columns,
                fields,
                max_roster_drop,
                span: node_span,
            });
        }
    }
}
