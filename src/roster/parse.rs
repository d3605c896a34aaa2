//! Reading roster files: CSV (with a header row) and JSON (an array of objects).
//!
//! Both formats go through the same row interpretation, so a date or a status means the
//! same whatever the export format. Every problem is collected; none stops the read early.

use rustc_hash::FxHashMap;
use std::borrow::Cow;
use std::path::Path;

use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;

use super::{Employment, Person, Roster, RosterError, RosterProblem, Status, TerminationType};
use crate::lines::LineCounter;
use crate::policy::{
    FieldMapping, FileFormat, PeopleSource, PersonKey, ROSTER_FIELDS, date_pattern_to_strftime,
};

/// Read the roster the policy declares; `root` is the policy repository root.
pub fn load(source: &PeopleSource, root: &Path, tz: &TimeZone) -> Result<Roster, RosterError> {
    let path = root.join(&source.path);
    let unreadable = |message: String| file_problem(&source.path, message);
    // A FIFO or a device would block the read (or never end): only regular files are read.
    let meta =
        std::fs::metadata(&path).map_err(|e| unreadable(format!("cannot read the roster: {e}")))?;
    if !meta.is_file() {
        return Err(unreadable(format!(
            "the roster is not a regular file ({}); point `people {{ source ... path=... }}` at the HR export itself",
            crate::policy::file_kind(&meta)
        )));
    }
    let bytes =
        std::fs::read(&path).map_err(|e| unreadable(format!("cannot read the roster: {e}")))?;
    let mapping = Mapping {
        key: source.key,
        fields: &source.fields,
    };
    match source.format {
        FileFormat::Csv => parse_csv_mapped(&bytes, &source.path, mapping, tz),
        FileFormat::Json => parse_json_mapped(&bytes, &source.path, mapping, tz),
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

/// Column names for a message: at most 30, each at most 40 characters. A file that is not a
/// roster at all (a PR pointing `path=` at something else) must not be echoed whole.
fn column_list<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<&str> = names.collect();
    let mut shown: Vec<String> = names
        .iter()
        .take(30)
        .map(|n| {
            let mut n: String = crate::escape::terminal(n).into_owned();
            if n.chars().count() > 40 {
                n = n.chars().take(40).collect::<String>() + "...";
            }
            n
        })
        .collect();
    if names.len() > 30 {
        shown.push(format!("and {} more", names.len() - 30));
    }
    shown.join(", ")
}

/// The roster key and the policy's `field` mappings: how an export becomes people.
#[derive(Clone, Copy)]
pub struct Mapping<'p> {
    pub key: PersonKey,
    pub fields: &'p [FieldMapping],
}

pub fn parse_csv(
    bytes: &[u8],
    file: &Path,
    key: PersonKey,
    tz: &TimeZone,
) -> Result<Roster, RosterError> {
    parse_csv_mapped(bytes, file, Mapping { key, fields: &[] }, tz)
}

pub fn parse_json(
    bytes: &[u8],
    file: &Path,
    key: PersonKey,
    tz: &TimeZone,
) -> Result<Roster, RosterError> {
    parse_json_mapped(bytes, file, Mapping { key, fields: &[] }, tz)
}

pub fn parse_csv_mapped(
    bytes: &[u8],
    file: &Path,
    mapping: Mapping<'_>,
    tz: &TimeZone,
) -> Result<Roster, RosterError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let raw_headers: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(str::to_string).collect(),
        Err(e) => {
            return Err(file_problem(
                file,
                format!("cannot read the header row: {e}"),
            ));
        }
    };
    let columns = Columns::new(&raw_headers, Some(1), mapping).map_err(|problems| RosterError {
        file: file.to_path_buf(),
        problems,
    })?;
    // Each row is interpreted as it is read, borrowing its text: no copy of the roster is
    // made on the way to `Person` unless a mapping composes or translates a value.
    let mut builder = Builder::new(&columns, mapping.key, tz);
    // About one row per line: reserving up front spares copying 100k people while growing.
    let rows = bytes.iter().filter(|&&b| b == b'\n').count();
    builder.people.reserve(rows);
    builder.seen_keys.reserve(rows);
    builder.seen_ids.reserve(rows);
    let mut record = csv::StringRecord::new();
    let mut lines = LineCounter::new(bytes);
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = record.position().map_or(0, |p| lines.record_line(p.byte()));
                let values: Vec<&str> = record.iter().collect();
                builder.add(line, &values);
            }
            Err(e) => builder.problems.push(RosterProblem {
                line: e.position().map(|p| lines.record_line(p.byte())),
                column: None,
                message: format!("unreadable row: {e}"),
            }),
        }
    }
    let hash = blake3::hash(bytes).to_hex().to_string();
    builder.finish(file, hash)
}

pub fn parse_json_mapped(
    bytes: &[u8],
    file: &Path,
    mapping: Mapping<'_>,
    tz: &TimeZone,
) -> Result<Roster, RosterError> {
    // A byte-order mark is accepted, as it is for CSV (spreadsheet tools write one).
    let text = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
    let entries = match serde_json::from_slice::<json::RawRoster>(text) {
        Ok(json::RawRoster(entries)) => entries,
        Err(e) => {
            return Err(file_problem(
                file,
                format!(
                    "invalid JSON at line {}, column {}: {}",
                    e.line(),
                    e.column(),
                    json::message(&e)
                ),
            ));
        }
    };
    let mut problems = Vec::new();
    // The header is every key any entry has, normalised, in first-seen order.
    let mut headers: Vec<String> = Vec::new();
    let mut index: FxHashMap<String, usize> = FxHashMap::default();
    let mut rows: Vec<(usize, Vec<(usize, String)>)> = Vec::with_capacity(entries.len());
    for (i, entry) in entries.into_iter().enumerate() {
        let line = i + 1;
        let pairs = match entry {
            json::RawEntry::Object(pairs) => pairs,
            json::RawEntry::Other(kind) => {
                problems.push(RosterProblem {
                    line: Some(line),
                    column: None,
                    message: format!("entry {line} is {kind}, not an object"),
                });
                continue;
            }
        };
        let mut values: Vec<(usize, String)> = Vec::with_capacity(pairs.len());
        let mut written: FxHashMap<usize, String> = FxHashMap::default();
        let mut ok = true;
        for (k, v) in pairs {
            let name = normalize_header(&k);
            let next = headers.len();
            let at = *index.entry(name.clone()).or_insert(next);
            if at == next {
                headers.push(name.clone());
            }
            if let Some(first) = written.insert(at, k.clone()) {
                problems.push(RosterProblem {
                    line: Some(line),
                    column: Some(name),
                    message: format!(
                        "entry {line} gives `{first}` and `{k}`, the same field twice; which one HR meant is unknown"
                    ),
                });
                ok = false;
                continue;
            }
            let text = match v {
                serde_json::Value::Null => String::new(),
                serde_json::Value::String(s) => s.trim().to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Array(_) | serde_json::Value::Object(_) => {
                    problems.push(RosterProblem {
                        line: Some(line),
                        column: Some(name),
                        message: format!(
                            "`{k}` holds {}, where text is expected",
                            if v.is_array() {
                                "an array"
                            } else {
                                "an object"
                            }
                        ),
                    });
                    ok = false;
                    continue;
                }
            };
            values.push((at, text));
        }
        if ok {
            rows.push((line, values));
        }
    }
    let hash = blake3::hash(bytes).to_hex().to_string();
    let columns = Columns::new(&headers, None, mapping).map_err(|mut p| {
        p.append(&mut problems);
        RosterError {
            file: file.to_path_buf(),
            problems: std::mem::take(&mut p),
        }
    })?;
    let mut builder = Builder::new(&columns, mapping.key, tz);
    builder.problems.extend(problems);
    let mut record: Vec<&str> = Vec::with_capacity(headers.len());
    for (line, values) in &rows {
        record.clear();
        record.resize(headers.len(), "");
        for (at, text) in values {
            record[*at] = text;
        }
        builder.add(*line, &record);
    }
    builder.finish(file, hash)
}

/// How one export's columns become offboard's fields: which export column (or columns)
/// each field reads, and how its values and dates are written.
struct Columns {
    /// Each field offboard sees, snake_case, and the export columns joined to make it.
    fields: Vec<(String, Vec<usize>)>,
    /// Field -> the export column(s) as written, so messages name what HR sees.
    shown: FxHashMap<String, String>,
    /// Field -> (strftime format of its dates, the pattern as the policy writes it).
    formats: FxHashMap<String, (String, String)>,
    /// Field -> (export value, offboard value).
    values: FxHashMap<String, Vec<(String, String)>>,
}

impl Columns {
    fn new(
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

    fn has(&self, field: &str) -> bool {
        self.fields.iter().any(|(f, _)| f == field)
    }

    /// The column a field is read from, as the export names it.
    fn shown<'c>(&'c self, field: &'c str) -> &'c str {
        self.shown.get(field).map_or(field, String::as_str)
    }
}

/// JSON rosters read with their keys in order and duplicates kept, so that a duplicated
/// key is reported instead of the last copy silently winning.
mod json {
    use std::fmt;

    use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

    pub struct RawRoster(pub Vec<RawEntry>);

    pub enum RawEntry {
        Object(Vec<(String, serde_json::Value)>),
        /// Anything else, by what it is ("a string", ...).
        Other(&'static str),
    }

    const SHAPE: &str = "an array of people or {\"people\": [...]}";

    /// serde_json's message without its own "at line L column C" (shown separately).
    pub fn message(e: &serde_json::Error) -> String {
        let text = e.to_string();
        match text.rfind(" at line ") {
            Some(i) => text[..i].to_string(),
            None => text,
        }
    }

    impl<'de> de::Deserialize<'de> for RawRoster {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct Top;
            impl<'de> Visitor<'de> for Top {
                type Value = RawRoster;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str(SHAPE)
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawRoster, A::Error> {
                    let mut entries = Vec::new();
                    while let Some(e) = seq.next_element::<RawEntry>()? {
                        entries.push(e);
                    }
                    Ok(RawRoster(entries))
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawRoster, A::Error> {
                    let mut people: Option<Vec<RawEntry>> = None;
                    while let Some(key) = map.next_key::<String>()? {
                        if key == "people" {
                            if people.is_some() {
                                return Err(de::Error::custom("the key `people` appears twice"));
                            }
                            people = Some(map.next_value::<Vec<RawEntry>>()?);
                        } else {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                    people
                        .map(RawRoster)
                        .ok_or_else(|| de::Error::custom(format!("expected {SHAPE}")))
                }
            }
            d.deserialize_any(Top)
        }
    }

    impl<'de> de::Deserialize<'de> for RawEntry {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct Entry;
            impl<'de> Visitor<'de> for Entry {
                type Value = RawEntry;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("a person object")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawEntry, A::Error> {
                    let mut pairs = Vec::new();
                    while let Some(key) = map.next_key::<String>()? {
                        pairs.push((key, map.next_value::<serde_json::Value>()?));
                    }
                    Ok(RawEntry::Object(pairs))
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawEntry, A::Error> {
                    while seq.next_element::<IgnoredAny>()?.is_some() {}
                    Ok(RawEntry::Other("an array"))
                }
                fn visit_str<E: de::Error>(self, _: &str) -> Result<RawEntry, E> {
                    Ok(RawEntry::Other("a string"))
                }
                fn visit_bool<E: de::Error>(self, _: bool) -> Result<RawEntry, E> {
                    Ok(RawEntry::Other("a boolean"))
                }
                fn visit_i64<E: de::Error>(self, _: i64) -> Result<RawEntry, E> {
                    Ok(RawEntry::Other("a number"))
                }
                fn visit_u64<E: de::Error>(self, _: u64) -> Result<RawEntry, E> {
                    Ok(RawEntry::Other("a number"))
                }
                fn visit_f64<E: de::Error>(self, _: f64) -> Result<RawEntry, E> {
                    Ok(RawEntry::Other("a number"))
                }
                fn visit_unit<E: de::Error>(self) -> Result<RawEntry, E> {
                    Ok(RawEntry::Other("null"))
                }
            }
            d.deserialize_any(Entry)
        }
    }
}

/// Interprets rows of export values into people, collecting every problem.
struct Builder<'t> {
    people: Vec<Person>,
    problems: Vec<RosterProblem>,
    // Fx hashing: the keys are the roster's own values, and there are 100k of them.
    seen_keys: FxHashMap<String, usize>,
    seen_ids: FxHashMap<String, usize>,
    key: PersonKey,
    tz: &'t TimeZone,
    columns: &'t Columns,
}

impl<'t> Builder<'t> {
    fn new(columns: &'t Columns, key: PersonKey, tz: &'t TimeZone) -> Self {
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
    fn add(&mut self, line: usize, values: &[&str]) {
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

    fn finish(mut self, file: &Path, hash: String) -> Result<Roster, RosterError> {
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

struct Row<'a> {
    /// Offboard's fields, each once, with the row's (possibly composed) value.
    fields: &'a [(&'a str, Cow<'a, str>)],
    line: usize,
    problems: &'a mut Vec<RosterProblem>,
    tz: &'a TimeZone,
    columns: &'a Columns,
}

impl Row<'_> {
    /// A problem with one field, named as the export names its column.
    fn problem(&mut self, column: &str, message: String) {
        self.problems.push(RosterProblem {
            line: Some(self.line),
            column: Some(self.columns.shown(column).to_string()),
            message,
        });
    }

    /// The field's text, with the policy's value mapping applied.
    fn text(&self, column: &str) -> String {
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

    fn person(&mut self) -> Option<Person> {
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
        })
    }

    fn timestamp(&mut self, column: &str) -> Result<Option<Timestamp>, ()> {
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

    fn date(&mut self, column: &str) -> Result<Option<Date>, ()> {
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

    fn format_mismatch(&self, value: &str, column: &str) -> String {
        let pattern = self.columns.formats.get(column).map_or("", |(_, p)| p);
        format!("`{value}` does not match the date format `{pattern}` the policy declares")
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
