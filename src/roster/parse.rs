//! Reading roster files: CSV (with a header row) and JSON (an array of objects).
//!
//! Both formats go through the same row interpretation, so a date or a status means the
//! same whatever the export format. Every problem is collected; none stops the read early.

use rustc_hash::FxHashMap;
use std::path::Path;

use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;

use super::{Employment, Person, Roster, RosterError, RosterProblem, Status, TerminationType};
use crate::policy::{FileFormat, PeopleSource, PersonKey};

/// Columns with a meaning of their own; everything else is an extra column.
const STANDARD: &[&str] = &[
    "employee_id",
    "email",
    "username",
    "name",
    "department",
    "title",
    "manager_email",
    "employment",
    "status",
    "termination_type",
    "termination_at",
    "last_day",
    "legal_hold",
    "location",
];

/// Read the roster the policy declares; `root` is the policy repository root.
pub fn load(source: &PeopleSource, root: &Path, tz: &TimeZone) -> Result<Roster, RosterError> {
    let path = root.join(&source.path);
    let bytes = std::fs::read(&path).map_err(|e| RosterError {
        file: source.path.clone(),
        problems: vec![RosterProblem {
            line: None,
            column: None,
            message: format!("cannot read the roster: {e}"),
        }],
    })?;
    match source.format {
        FileFormat::Csv => parse_csv(&bytes, &source.path, source.key, tz),
        FileFormat::Json => parse_json(&bytes, &source.path, source.key, tz),
    }
}

fn file_problem(file: &Path, message: String) -> RosterError {
    RosterError {
        file: file.to_path_buf(),
        problems: vec![RosterProblem {
            line: None,
            column: None,
            message,
        }],
    }
}

/// `Work Email`, `work-email` and `work_email` all name the column `work_email`.
fn normalize_header(h: &str) -> String {
    h.trim()
        .trim_start_matches('\u{feff}')
        .to_ascii_lowercase()
        .replace([' ', '-'], "_")
}

pub fn parse_csv(
    bytes: &[u8],
    file: &Path,
    key: PersonKey,
    tz: &TimeZone,
) -> Result<Roster, RosterError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let headers: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(normalize_header).collect(),
        Err(e) => {
            return Err(file_problem(
                file,
                format!("cannot read the header row: {e}"),
            ));
        }
    };
    // Each row is interpreted as it is read, borrowing its text: no copy of the roster is
    // made on the way to `Person`.
    let mut builder = Builder::new(&headers, key, tz);
    // About one row per line: reserving up front spares copying 100k people while growing.
    let rows = bytes.iter().filter(|&&b| b == b'\n').count();
    builder.people.reserve(rows);
    builder.seen_keys.reserve(rows);
    builder.seen_ids.reserve(rows);
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = record.position().map_or(0, |p| p.line() as usize);
                let fields: Vec<(&str, &str)> = headers
                    .iter()
                    .map(String::as_str)
                    .zip(record.iter())
                    .collect();
                builder.add(line, &fields);
            }
            Err(e) => builder.problems.push(RosterProblem {
                line: e.position().map(|p| p.line() as usize),
                column: None,
                message: format!("unreadable row: {e}"),
            }),
        }
    }
    let hash = blake3::hash(bytes).to_hex().to_string();
    builder.finish(file, hash)
}

pub fn parse_json(
    bytes: &[u8],
    file: &Path,
    key: PersonKey,
    tz: &TimeZone,
) -> Result<Roster, RosterError> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        file_problem(
            file,
            format!(
                "invalid JSON at line {}, column {}: {e}",
                e.line(),
                e.column()
            ),
        )
    })?;
    let entries = match &value {
        serde_json::Value::Array(a) => a,
        serde_json::Value::Object(o) => match o.get("people") {
            Some(serde_json::Value::Array(a)) => a,
            _ => {
                return Err(file_problem(
                    file,
                    "expected an array of people or {\"people\": [...]}".into(),
                ));
            }
        },
        _ => {
            return Err(file_problem(
                file,
                "expected an array of people or {\"people\": [...]}".into(),
            ));
        }
    };
    let mut headers: Vec<String> = Vec::new();
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let Some(object) = entry.as_object() else {
            problems.push(RosterProblem {
                line: Some(i + 1),
                column: None,
                message: format!("entry {} is not an object", i + 1),
            });
            continue;
        };
        let mut fields = Vec::new();
        for (k, v) in object {
            let k = normalize_header(k);
            if !headers.contains(&k) {
                headers.push(k.clone());
            }
            let text = match v {
                serde_json::Value::Null => String::new(),
                serde_json::Value::String(s) => s.trim().to_string(),
                other => other.to_string(),
            };
            fields.push((k, text));
        }
        rows.push((i + 1, fields));
    }
    let hash = blake3::hash(bytes).to_hex().to_string();
    let mut builder = Builder::new(&headers, key, tz);
    builder.problems.extend(problems);
    for (line, fields) in &rows {
        let fields: Vec<(&str, &str)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        builder.add(*line, &fields);
    }
    builder.finish(file, hash)
}

/// Interprets rows of `(header, value)` pairs into people, collecting every problem.
struct Builder<'t> {
    people: Vec<Person>,
    problems: Vec<RosterProblem>,
    // Fx hashing: the keys are the roster's own values, and there are 100k of them.
    seen_keys: FxHashMap<String, usize>,
    seen_ids: FxHashMap<String, usize>,
    key: PersonKey,
    tz: &'t TimeZone,
}

impl<'t> Builder<'t> {
    fn new(headers: &[String], key: PersonKey, tz: &'t TimeZone) -> Self {
        let mut problems = Vec::new();
        for required in [key.column(), "name", "status"] {
            if !headers.iter().any(|h| h == required) {
                problems.push(RosterProblem {
                    line: None,
                    column: Some(required.to_string()),
                    message: format!(
                        "the roster has no `{required}` column (columns: {})",
                        headers.join(", ")
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
        }
    }

    fn add(&mut self, line: usize, fields: &[(&str, &str)]) {
        let key = self.key;
        let mut row = Row {
            fields,
            line,
            problems: &mut self.problems,
            tz: self.tz,
        };
        let Some(person) = row.person() else { return };
        let key_value = person.key(key).to_ascii_lowercase();
        if key_value.is_empty() {
            row.problem(
                key.column(),
                format!("missing {} (the roster key)", key.column()),
            );
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

    fn finish(mut self, file: &Path, hash: String) -> Result<Roster, RosterError> {
        if self.problems.is_empty() {
            Ok(Roster {
                people: self.people,
                key: self.key,
                source: file.to_path_buf(),
                hash,
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

struct Row<'a> {
    /// In column order; when a header repeats, the last value counts.
    fields: &'a [(&'a str, &'a str)],
    line: usize,
    problems: &'a mut Vec<RosterProblem>,
    tz: &'a TimeZone,
}

impl Row<'_> {
    fn problem(&mut self, column: &str, message: String) {
        self.problems.push(RosterProblem {
            line: Some(self.line),
            column: Some(column.to_string()),
            message,
        });
    }

    fn text(&self, column: &str) -> String {
        self.fields
            .iter()
            .rev()
            .find(|(k, _)| *k == column)
            .map_or_else(String::new, |(_, v)| v.to_string())
    }

    /// A closed-vocabulary column; `None` (with a problem recorded) when the value is unknown.
    fn choice<T>(
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
                self.problem(
                    column,
                    format!(
                        "unknown {column} `{value}` (expected one of: {})",
                        names.join(", ")
                    ),
                );
                Err(())
            }
        }
    }

    fn person(&mut self) -> Option<Person> {
        let mut ok = true;
        let status = match self.choice("status", Status::parse, Status::NAMES) {
            Ok(Some(s)) => Some(s),
            Ok(None) => {
                self.problem("status", "missing status".into());
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
            self.problem("name", "missing name".into());
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
            .filter(|(k, _)| !STANDARD.contains(k))
            .map(|(k, v)| (k.to_string(), v.to_string()))
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
        })
    }

    fn timestamp(&mut self, column: &str) -> Result<Option<Timestamp>, ()> {
        let value = self.text(column);
        if value.is_empty() {
            return Ok(None);
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

    fn date(&mut self, column: &str) -> Result<Option<Date>, ()> {
        let value = self.text(column);
        if value.is_empty() {
            return Ok(None);
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

    fn boolean(&mut self, column: &str) -> Result<bool, ()> {
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
