//! Reading roster files: CSV (with a header row) and JSON (an array of objects).
//!
//! Both formats go through the same row interpretation, so a date or a status means the
//! same whatever the export format. Every problem is collected; none stops the read early.

mod columns;
mod json;
mod row;

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
use columns::Columns;
use row::Builder;

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
