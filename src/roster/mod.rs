//! The people roster: the HR system of record, read from a CSV or JSON export.
//!
//! The roster decides who is leaving, so it is read strictly: a row with a missing key, an
//! unreadable date or a duplicate id is reported with file and line, and a roster with bad
//! rows is refused as a whole rather than planned without them. A leaver must never vanish
//! from a plan because their row was malformed. Extra columns are kept and reach conditions
//! as `person.<column>`.

pub mod emergency;
pub mod hr_event;
mod identify;
mod parse;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

pub use identify::{Candidate, IdentifyError, PersonQuery, identify};
pub use parse::{Mapping, load, parse_csv, parse_csv_mapped, parse_json, parse_json_mapped};

use crate::policy::PersonKey;

/// Employment relationship.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Employment {
    Employee,
    Contractor,
    Intern,
    Vendor,
}

/// HR status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Active,
    Terminated,
    /// Leave of absence: not a leaver.
    OnLeave,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TerminationType {
    Voluntary,
    Involuntary,
    Retirement,
    ContractEnd,
}

macro_rules! names {
    ($ty:ty { $($variant:ident = $name:literal),* $(,)? }) => {
        impl $ty {
            pub const NAMES: &'static [&'static str] = &[$($name),*];
            pub fn parse(s: &str) -> Option<Self> {
                let s = s.trim().to_ascii_lowercase().replace('_', "-");
                match s.as_str() { $($name => Some(Self::$variant),)* _ => None }
            }
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $name),* }
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }
    };
}

names!(Employment { Employee = "employee", Contractor = "contractor", Intern = "intern", Vendor = "vendor" });
names!(Status { Active = "active", Terminated = "terminated", OnLeave = "on-leave" });
names!(TerminationType {
    Voluntary = "voluntary",
    Involuntary = "involuntary",
    Retirement = "retirement",
    ContractEnd = "contract-end",
});

/// One person from the roster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Person {
    pub employee_id: String,
    pub email: String,
    pub username: String,
    pub name: String,
    pub department: String,
    pub title: String,
    pub manager_email: String,
    pub employment: Employment,
    pub status: Status,
    pub termination_type: Option<TerminationType>,
    /// When HR recorded the termination.
    pub termination_at: Option<Timestamp>,
    pub last_day: Option<Date>,
    pub legal_hold: bool,
    pub location: String,
    /// Every other column, by its header name in snake_case.
    pub extra: BTreeMap<String, String>,
    /// Where the row is (1-based line for CSV, 1-based entry for JSON).
    pub line: usize,
    /// An emergency override in force for this person (never from the file: the journal's
    /// overrides are laid over the roster, see [`emergency`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emergency: Option<emergency::Emergency>,
    /// An HR webhook event laid over the export (see [`hr_event`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hr_event: Option<hr_event::HrFacts>,
}

impl Person {
    /// Whether HR records this person as leaving (now or in the future).
    pub fn is_leaver(&self) -> bool {
        self.status == Status::Terminated
    }

    /// The value of a roster field by its snake_case name (standard or extra).
    pub fn field(&self, name: &str) -> Option<&str> {
        let value: &str = match name {
            "employee_id" => &self.employee_id,
            "email" => &self.email,
            "username" => &self.username,
            "name" => &self.name,
            "department" => &self.department,
            "title" => &self.title,
            "manager_email" => &self.manager_email,
            "location" => &self.location,
            other => self.extra.get(other).map_or("", String::as_str),
        };
        Some(value).filter(|v| !v.is_empty())
    }

    pub fn key(&self, key: PersonKey) -> &str {
        self.field(key.column()).unwrap_or("")
    }
}

/// The whole roster, in file order.
#[derive(Debug, Clone)]
pub struct Roster {
    pub people: Vec<Person>,
    pub key: PersonKey,
    /// Where it came from, as shown to humans.
    pub source: PathBuf,
    /// blake3 of the file's bytes: a plan records which roster it was made from.
    pub hash: String,
    /// Every field the roster provides (after the policy's mapping), snake_case: what
    /// `correlate` and `person.FIELD` may read.
    pub columns: Vec<String>,
}

impl Roster {
    pub fn key_of(&self, person: &Person) -> String {
        person.key(self.key).to_string()
    }
}

/// Whether a roster of `people` can be trusted, given how many people the journal's last
/// run saw. An empty roster, or one that lost more than `max_drop` of the people, looks like
/// an HR feed glitch: planning from it would drop leavers (and, for `audit`, make everyone's
/// accounts orphans). The error says how many people went missing.
pub fn check_drop(
    people: usize,
    previous: Option<usize>,
    max_drop: crate::policy::Share,
) -> Result<(), String> {
    if people == 0 {
        return Err(match previous {
            Some(p) if p > 0 => format!(
                "the roster lists nobody; the journal's last run saw {p} {}, so all of them went missing",
                plural(p, "person", "people")
            ),
            _ => "the roster lists nobody (an empty or header-only export)".to_string(),
        });
    }
    let Some(previous) = previous.filter(|&p| p > people) else {
        return Ok(());
    };
    let missing = previous - people;
    let share = missing as f64 / previous as f64;
    if share > max_drop.0 {
        return Err(format!(
            "the roster lists {people} {} but the journal's last run saw {previous}: {missing} went missing ({:.0}%, more than max-roster-drop {:.0}%)",
            plural(people, "person", "people"),
            share * 100.0,
            max_drop.0 * 100.0
        ));
    }
    Ok(())
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

/// One bad row (or a problem with the whole file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RosterProblem {
    pub line: Option<usize>,
    pub column: Option<String>,
    pub message: String,
}

/// Why a roster could not be used; every bad row is listed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct RosterError {
    pub file: PathBuf,
    pub problems: Vec<RosterProblem>,
}

impl fmt::Display for RosterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        writeln!(
            f,
            "the roster {} has {n} {}; no plan is made from a partial roster:",
            self.file.display(),
            if n == 1 { "problem" } else { "problems" }
        )?;
        // The first problems and a count: a million bad rows must not print a million lines.
        for p in self.problems.iter().take(crate::escape::MAX_PROBLEMS) {
            let at = match (p.line, &p.column) {
                (Some(l), Some(c)) => format!(
                    "{}:{l} (column {})",
                    self.file.display(),
                    crate::escape::terminal(c)
                ),
                (Some(l), None) => format!("{}:{l}", self.file.display()),
                _ => self.file.display().to_string(),
            };
            writeln!(f, "  {at}: {}", crate::escape::terminal(&p.message))?;
        }
        if n > crate::escape::MAX_PROBLEMS {
            writeln!(
                f,
                "  ... and {} more problems (the first {} are shown)",
                n - crate::escape::MAX_PROBLEMS,
                crate::escape::MAX_PROBLEMS
            )?;
        }
        write!(
            f,
            "fix the rows in the HR export (or its mapping) and run again"
        )
    }
}

impl Roster {
    /// Fold the ids of what was laid over the roster (emergency overrides, HR events) into
    /// its hash, each after `separator`, in a fixed order: a plan saved before one of them was
    /// recorded or revoked is then stale. Nothing laid over, nothing changed.
    pub(crate) fn cover(&mut self, separator: &[u8], mut ids: Vec<String>) {
        if ids.is_empty() {
            return;
        }
        ids.sort();
        let mut h = blake3::Hasher::new();
        h.update(self.hash.as_bytes());
        for id in &ids {
            h.update(separator);
            h.update(id.as_bytes());
        }
        self.hash = h.finalize().to_hex().to_string();
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Ann, active, and Bo, who resigned: the roster the overlay tests lay facts over.
    pub(crate) fn two_people() -> Roster {
        let csv = "employee_id,email,name,status,termination_type,last_day\n\
                   E1,ann@acme.example,Ann Lee,active,,\n\
                   E2,bo@acme.example,Bo Tran,terminated,voluntary,2026-12-24\n";
        let mut r = parse_csv(
            csv.as_bytes(),
            std::path::Path::new("people.csv"),
            crate::policy::PersonKey::Email,
            &jiff::tz::TimeZone::UTC,
        )
        .unwrap();
        r.hash = "h".into();
        r
    }
}
