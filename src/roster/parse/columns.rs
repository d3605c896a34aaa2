//! An export's column layout: which columns (or joined columns) each field offboard reads
//! comes from, how its values map and how its dates are written, with every problem in
//! the header reported at once.

use super::*;

/// How one export's columns become offboard's fields: which export column (or columns)
/// each field reads, and how its values and dates are written.
pub(super) struct Columns {
    /// Each field offboard sees, snake_case, and the export columns joined to make it.
    pub(super) fields: Vec<(String, Vec<usize>)>,
    /// Field -> the export column(s) as written, so messages name what HR sees.
    pub(super) shown: FxHashMap<String, String>,
    /// Field -> (strftime format of its dates, the pattern as the policy writes it).
    pub(super) formats: FxHashMap<String, (String, String)>,
    /// Field -> (export value, offboard value).
    pub(super) values: FxHashMap<String, Vec<(String, String)>>,
}

impl Columns {
    pub(super) fn new(
        raw: &[String],
        header_line: Option<usize>,
        mapping: Mapping<'_>,
    ) -> Result<Columns, Vec<RosterProblem>> {
        let normalized: Vec<String> = raw.iter().map(|h| normalize_header(h)).collect();
        let mut problems = Vec::new();
        let problem = |column: &str, message: String| RosterProblem {
            line: header_line,
            column: Some(column.to_string()),
            message,
        };
        // First column of each name: a hash map, so a header of 100k columns stays linear.
        let mut first: FxHashMap<&str, usize> = FxHashMap::default();
        for (j, name) in normalized.iter().enumerate() {
            if raw[j].contains('\0') {
                problems.push(problem(name, "the column name contains a NUL byte".into()));
            }
            if let Some(&i) = first.get(name.as_str()) {
                problems.push(problem(
                    name,
                    format!(
                        "columns `{}` and `{}` are the same column `{name}` (names ignore case, spaces and dashes); remove or rename one",
                        raw[i].trim_start_matches('\u{feff}'),
                        raw[j]
                    ),
                ));
            } else {
                first.insert(name, j);
            }
        }
        let list = column_list(raw.iter().map(String::as_str));
        let mut fields: Vec<(String, Vec<usize>)> = Vec::new();
        let mut shown = FxHashMap::default();
        let mut formats = FxHashMap::default();
        let mut values = FxHashMap::default();
        for m in mapping.fields {
            let mut parts = Vec::new();
            for from in &m.from {
                match normalized.iter().position(|n| *n == normalize_header(from)) {
                    Some(i) => parts.push(i),
                    None => problems.push(problem(
                        from,
                        format!(
                            "the policy reads `{}` from the column `{from}`, which the export does not have (columns: {list})",
                            m.field.replace('_', "-")
                        ),
                    )),
                }
            }
            if let Some(i) = normalized
                .iter()
                .position(|n| *n == m.field)
                .filter(|i| !parts.contains(i))
            {
                problems.push(problem(
                    &m.field,
                    format!(
                        "the export has a `{}` column and the policy also reads `{}` from `{}`; rename the column or drop the mapping",
                        raw[i],
                        m.field.replace('_', "-"),
                        m.from.join("` + `")
                    ),
                ));
            }
            shown.insert(m.field.clone(), m.from.join(" + "));
            if let Some(pattern) = &m.format
                && let Some(f) = date_pattern_to_strftime(pattern)
            {
                formats.insert(m.field.clone(), (f, pattern.clone()));
            }
            if !m.values.is_empty() {
                values.insert(m.field.clone(), m.values.clone());
            }
            fields.push((m.field.clone(), parts));
        }
        let mapped: rustc_hash::FxHashSet<String> = fields.iter().map(|(f, _)| f.clone()).collect();
        for (i, name) in normalized.iter().enumerate() {
            if !mapped.contains(name) {
                fields.push((name.clone(), vec![i]));
            }
        }
        if problems.is_empty() {
            Ok(Columns {
                fields,
                shown,
                formats,
                values,
            })
        } else {
            Err(problems)
        }
    }

    pub(super) fn has(&self, field: &str) -> bool {
        self.fields.iter().any(|(f, _)| f == field)
    }

    /// The column a field is read from, as the export names it.
    pub(super) fn shown<'c>(&'c self, field: &'c str) -> &'c str {
        self.shown.get(field).map_or(field, String::as_str)
    }
}
