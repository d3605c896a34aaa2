//! Finding one person from what an operator types: `-p jdoe`, `-p "John" --department ...`.
//!
//! Offboarding the wrong person is the worst mistake this tool could make, so lookup never
//! guesses: identifiers (email, username, employee id) must match exactly (ignoring case),
//! names match whole words, and more than one match is an error that lists the candidates.

use std::fmt;

use serde::Serialize;

use super::Roster;

/// What the operator asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonQuery {
    pub text: String,
    pub department: Option<String>,
}

/// A person shown to the operator when a query is ambiguous.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Candidate {
    pub name: String,
    pub email: String,
    pub department: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentifyError {
    #[error("nobody in the roster matches `{query}`{}", department_suffix(.department))]
    NotFound {
        query: String,
        department: Option<String>,
        /// Close names, to help with typos.
        similar: Vec<Candidate>,
    },
    #[error("`{query}`{} matches {} people; name one by email, username or employee id:\n{}", department_suffix(.department), .candidates.len(), list(.candidates))]
    Ambiguous {
        query: String,
        department: Option<String>,
        candidates: Vec<Candidate>,
    },
}

fn department_suffix(d: &Option<String>) -> String {
    d.as_ref()
        .map(|d| format!(" in department `{d}`"))
        .unwrap_or_default()
}

fn list(candidates: &[Candidate]) -> String {
    candidates
        .iter()
        .map(|c| format!("  {} <{}>, {}", c.name, c.email, c.department))
        .collect::<Vec<_>>()
        .join("\n")
}

impl fmt::Display for Candidate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} <{}>, {}", self.name, self.email, self.department)
    }
}

/// Index of the one person matching `query`.
pub fn identify(roster: &Roster, query: &PersonQuery) -> Result<usize, IdentifyError> {
    let text = query.text.trim().to_lowercase();
    let in_department = |i: &usize| {
        query
            .department
            .as_ref()
            .is_none_or(|d| roster.people[*i].department.eq_ignore_ascii_case(d.trim()))
    };
    let candidate = |i: usize| {
        let p = &roster.people[i];
        Candidate {
            name: p.name.clone(),
            email: p.email.clone(),
            department: p.department.clone(),
        }
    };

    let by_id: Vec<usize> = (0..roster.people.len())
        .filter(|&i| {
            let p = &roster.people[i];
            [&p.email, &p.username, &p.employee_id]
                .iter()
                .any(|v| !v.is_empty() && v.to_lowercase() == text)
        })
        .filter(in_department)
        .collect();
    let matches = if by_id.is_empty() {
        let words: Vec<&str> = text.split_whitespace().collect();
        (0..roster.people.len())
            .filter(|&i| {
                let name = roster.people[i].name.to_lowercase();
                let name_words: Vec<&str> = name.split_whitespace().collect();
                name == text || (!words.is_empty() && words.iter().all(|w| name_words.contains(w)))
            })
            .filter(in_department)
            .collect()
    } else {
        by_id
    };

    match matches.as_slice() {
        [one] => Ok(*one),
        [] => {
            let mut similar: Vec<(f64, usize)> = (0..roster.people.len())
                .map(|i| {
                    (
                        strsim::jaro_winkler(&roster.people[i].name.to_lowercase(), &text),
                        i,
                    )
                })
                .filter(|(score, _)| *score > 0.8)
                .collect();
            similar.sort_by(|a, b| b.0.total_cmp(&a.0));
            Err(IdentifyError::NotFound {
                query: query.text.clone(),
                department: query.department.clone(),
                similar: similar
                    .into_iter()
                    .take(3)
                    .map(|(_, i)| candidate(i))
                    .collect(),
            })
        }
        many => Err(IdentifyError::Ambiguous {
            query: query.text.clone(),
            department: query.department.clone(),
            candidates: many.iter().map(|&i| candidate(i)).collect(),
        }),
    }
}
