//! Rows into people: every value interpreted the same way whatever the export format
//! (dates, statuses, employment and termination types, legal holds), duplicates and
//! missing values collected as problems.

use super::*;

/// Interprets rows of export values into people, collecting every problem.
pub(super) struct Builder<'t> {
    pub(super) people: Vec<Person>,
    pub(super) problems: Vec<RosterProblem>,
    // Fx hashing: the keys are the roster's own values, and there are 100k of them.
    pub(super) seen_keys: FxHashMap<String, usize>,
    pub(super) seen_ids: FxHashMap<String, usize>,
    key: PersonKey,
    tz: &'t TimeZone,
    columns: &'t Columns,
}

impl<'t> Builder<'t> {
    pub(super) fn new(columns: &'t Columns, key: PersonKey, tz: &'t TimeZone) -> Self {
        let mut problems = Vec::new();
        let names = column_list(columns.fields.iter().map(|(f, _)| f.as_str()));
        // One problem per missing column, never one per row.
        for required in [key.column(), "name", "status"] {
            if !columns.has(required) {
                problems.push(RosterProblem {
                    line: None,
                    column: Some(required.to_string()),
                    message: format!(
                        "the roster has no `{required}` column (columns: {names}); rename the export's column or map it with `people {{ field {} \"Export Column\" }}`",
                        required.replace('_', "-")
                    ),
                });
            }
        }
        Builder {
            people: Vec::new(),
            problems,
            seen_keys: FxHashMap::default(),
            seen_ids: FxHashMap::default(),
            key,
            tz,
            columns,
        }
    }

    /// One row, `values` in the export's column order.
    pub(super) fn add(&mut self, line: usize, values: &[&str]) {
        let key = self.key;
        let columns = self.columns;
        let fields: Vec<(&str, Cow<'_, str>)> = columns
            .fields
            .iter()
            .map(|(name, parts)| {
                let value = match parts.as_slice() {
                    [one] => Cow::Borrowed(values.get(*one).copied().unwrap_or("")),
                    many => Cow::Owned(
                        many.iter()
                            .filter_map(|i| values.get(*i).copied())
                            .filter(|v| !v.is_empty())
                            .collect::<Vec<_>>()
                            .join(" "),
                    ),
                };
                (name.as_str(), value)
            })
            .collect();
        let mut row = Row {
            fields: &fields,
            line,
            problems: &mut self.problems,
            tz: self.tz,
            columns,
        };
        // A NUL byte is never part of real HR data: it marks a broken or hostile export.
        let mut nul = false;
        for (name, value) in &fields {
            if value.contains('\0') {
                row.problem(name, "the value contains a NUL byte".into());
                nul = true;
            }
        }
        if nul {
            return;
        }
        let Some(person) = row.person() else { return };
        let key_value = person.key(key).to_ascii_lowercase();
        if key_value.is_empty() {
            if columns.has(key.column()) {
                row.problem(
                    key.column(),
                    format!("missing {} (the roster key)", key.column()),
                );
            }
            return;
        }
        if let Some(first) = self.seen_keys.insert(key_value, line) {
            row.problem(
                key.column(),
                format!(
                    "duplicate {} `{}` (first on line {first})",
                    key.column(),
                    person.key(key)
                ),
            );
            return;
        }
        if key != PersonKey::EmployeeId
            && !person.employee_id.is_empty()
            && let Some(first) = self
                .seen_ids
                .insert(person.employee_id.to_ascii_lowercase(), line)
        {
            row.problem(
                "employee_id",
                format!(
                    "duplicate employee_id `{}` (first on line {first})",
                    person.employee_id
                ),
            );
            return;
        }
        self.people.push(person);
    }

    pub(super) fn finish(mut self, file: &Path, hash: String) -> Result<Roster, RosterError> {
        if self.problems.is_empty() {
            Ok(Roster {
                people: self.people,
                key: self.key,
                source: file.to_path_buf(),
                hash,
                columns: self.columns.fields.iter().map(|(f, _)| f.clone()).collect(),
            })
        } else {
            self.problems.sort_by_key(|p| p.line.unwrap_or(0));
            Err(RosterError {
                file: file.to_path_buf(),
                problems: self.problems,
            })
        }
    }
}

pub(super) struct Row<'a> {
    /// Offboard's fields, each once, with the row's (possibly composed) value.
    fields: &'a [(&'a str, Cow<'a, str>)],
    line: usize,
    pub(super) problems: &'a mut Vec<RosterProblem>,
    tz: &'a TimeZone,
    columns: &'a Columns,
}

impl Row<'_> {
    /// A problem with one field, named as the export names its column.
    pub(super) fn problem(&mut self, column: &str, message: String) {
        self.problems.push(RosterProblem {
            line: Some(self.line),
            column: Some(self.columns.shown(column).to_string()),
            message,
        });
    }

    /// The field's text, with the policy's value mapping applied.
    pub(super) fn text(&self, column: &str) -> String {
        let value = self
            .fields
            .iter()
            .find(|(k, _)| *k == column)
            .map_or("", |(_, v)| v.as_ref());
        if let Some(map) = self.columns.values.get(column)
            && let Some((_, to)) = map.iter().find(|(from, _)| from == value).or_else(|| {
                map.iter()
                    .find(|(from, _)| from.eq_ignore_ascii_case(value))
            })
        {
            return to.clone();
        }
        value.to_string()
    }

    /// A closed-vocabulary column; `None` (with a problem recorded) when the value is unknown.
    pub(super) fn choice<T>(
        &mut self,
        column: &str,
        parse: fn(&str) -> Option<T>,
        names: &[&str],
    ) -> Result<Option<T>, ()> {
        let value = self.text(column);
        if value.is_empty() {
            return Ok(None);
        }
        match parse(&value) {
            Some(v) => Ok(Some(v)),
            None => {
                let mapped = self.columns.values.get(column).map_or(String::new(), |m| {
                    let from: Vec<String> = m.iter().map(|(f, _)| format!("\"{f}\"")).collect();
                    format!(", or a value the policy maps: {}", from.join(", "))
                });
                self.problem(
                    column,
                    format!(
                        "unknown {column} `{value}` (expected one of: {}{mapped})",
                        names.join(", ")
                    ),
                );
                Err(())
            }
        }
    }

    pub(super) fn person(&mut self) -> Option<Person> {
        let mut ok = true;
        let status = match self.choice("status", Status::parse, Status::NAMES) {
            Ok(Some(s)) => Some(s),
            Ok(None) => {
                // A missing column is reported once, not on every row.
                if self.columns.has("status") {
                    self.problem("status", "missing status".into());
                }
                None
            }
            Err(()) => None,
        };
        let employment = self
            .choice("employment", Employment::parse, Employment::NAMES)
            .map(|e| e.unwrap_or(Employment::Employee));
        let termination_type = self.choice(
            "termination_type",
            TerminationType::parse,
            TerminationType::NAMES,
        );
        let termination_at = self.timestamp("termination_at");
        let last_day = self.date("last_day");
        let legal_hold = self.boolean("legal_hold");
        let name = self.text("name");
        if name.is_empty() {
            if self.columns.has("name") {
                self.problem("name", "missing name".into());
            }
            ok = false;
        }
        let (
            Some(status),
            Ok(employment),
            Ok(termination_type),
            Ok(termination_at),
            Ok(last_day),
            Ok(legal_hold),
        ) = (
            status,
            employment,
            termination_type,
            termination_at,
            last_day,
            legal_hold,
        )
        else {
            return None;
        };
        if !ok {
            return None;
        }
        let extra = self
            .fields
            .iter()
            .filter(|(k, _)| !ROSTER_FIELDS.contains(k))
            .map(|(k, _)| (k.to_string(), self.text(k)))
            .collect();
        Some(Person {
            employee_id: self.text("employee_id"),
            email: self.text("email"),
            username: self.text("username"),
            name,
            department: self.text("department"),
            title: self.text("title"),
            manager_email: self.text("manager_email"),
            employment,
            status,
            termination_type,
            termination_at,
            last_day,
            legal_hold,
            location: self.text("location"),
            extra,
            line: self.line,
            emergency: None,
            hr_event: None,
        })
    }

    pub(super) fn timestamp(&mut self, column: &str) -> Result<Option<Timestamp>, ()> {
        let value = self.text(column);
        if value.is_empty() {
            return Ok(None);
        }
        if let Some((format, _)) = self.columns.formats.get(column) {
            let parsed = jiff::fmt::strtime::parse(format, &value)
                .ok()
                .and_then(|tm| {
                    tm.to_datetime().ok().or_else(|| {
                        tm.to_date()
                            .ok()
                            .map(|d| d.to_datetime(jiff::civil::Time::midnight()))
                    })
                });
            return match parsed.and_then(|dt| dt.to_zoned(self.tz.clone()).ok()) {
                Some(z) => Ok(Some(z.timestamp())),
                None => {
                    self.problem(column, self.format_mismatch(&value, column));
                    Err(())
                }
            };
        }
        if let Ok(ts) = value.parse::<Timestamp>() {
            return Ok(Some(ts));
        }
        // A wall-clock time without an offset is read in the policy's time zone.
        let civil = value.parse::<DateTime>().ok().or_else(|| {
            value
                .parse::<Date>()
                .ok()
                .map(|d| d.to_datetime(jiff::civil::Time::midnight()))
        });
        match civil.and_then(|dt| dt.to_zoned(self.tz.clone()).ok()) {
            Some(z) => Ok(Some(z.timestamp())),
            None => {
                self.problem(
                    column,
                    format!("`{value}` is not a date and time (write 2026-11-23T08:30:00Z)"),
                );
                Err(())
            }
        }
    }

    pub(super) fn date(&mut self, column: &str) -> Result<Option<Date>, ()> {
        let value = self.text(column);
        if value.is_empty() {
            return Ok(None);
        }
        if let Some((format, _)) = self.columns.formats.get(column) {
            return match jiff::fmt::strtime::parse(format, &value).and_then(|tm| tm.to_date()) {
                Ok(d) => Ok(Some(d)),
                Err(_) => {
                    self.problem(column, self.format_mismatch(&value, column));
                    Err(())
                }
            };
        }
        match value.parse::<Date>() {
            Ok(d) => Ok(Some(d)),
            Err(_) => {
                self.problem(
                    column,
                    format!("`{value}` is not a date (write 2026-11-23)"),
                );
                Err(())
            }
        }
    }

    pub(super) fn format_mismatch(&self, value: &str, column: &str) -> String {
        let pattern = self.columns.formats.get(column).map_or("", |(_, p)| p);
        format!("`{value}` does not match the date format `{pattern}` the policy declares")
    }

    pub(super) fn boolean(&mut self, column: &str) -> Result<bool, ()> {
        let value = self.text(column).to_ascii_lowercase();
        match value.as_str() {
            "" | "false" | "no" | "n" | "0" => Ok(false),
            "true" | "yes" | "y" | "1" => Ok(true),
            _ => {
                self.problem(column, format!("`{value}` is not true or false"));
                Err(())
            }
        }
    }
}
