//! The guided offboarding of one person (`offboard leave`), as operations: who is meant
//! (one person, or the candidates to choose from), then the usual prepare / guard / execute
//! of [`super::apply`] for that person alone, with a targeted read.
//!
//! Identification never guesses: identifiers match exactly, names match whole words, and
//! several matches come back as candidates for the operator to choose from. A person HR
//! still lists as active is refused: offboard cuts people the roster says are leaving.

use serde::Serialize;

use super::{Observer, OpError, Workspace, inputs};
use crate::roster::{self, Candidate, IdentifyError, PersonQuery};

/// Whom a query names.
#[derive(Debug, Clone)]
pub enum Identified {
    /// Exactly one person: their email (an identifier that names them alone).
    One(Person),
    /// Several people: the operator chooses.
    Several(Vec<Person>),
}

/// A person as the operator is shown them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Person {
    pub name: String,
    pub email: String,
    pub department: String,
    /// What the roster says (`terminated`, `active`, ...).
    pub status: String,
    pub leaving: bool,
}

/// The people `query` names, from the workspace's roster.
pub fn identify(
    ws: &Workspace,
    query: &PersonQuery,
    observer: &dyn Observer,
) -> Result<Identified, OpError> {
    let policy = inputs::load_policy(ws)?;
    let roster = inputs::load_roster(ws, &policy, observer)?;
    let person = |c: &Candidate| {
        let p = roster
            .people
            .iter()
            .find(|p| p.email.eq_ignore_ascii_case(&c.email));
        Person {
            name: c.name.clone(),
            email: c.email.clone(),
            department: c.department.clone(),
            status: p.map(|p| p.status.to_string()).unwrap_or_default(),
            leaving: p.is_some_and(|p| p.is_leaver()),
        }
    };
    match roster::identify(&roster, query) {
        Ok(i) => {
            let p = &roster.people[i];
            Ok(Identified::One(person(&Candidate {
                name: p.name.clone(),
                email: p.email.clone(),
                department: p.department.clone(),
            })))
        }
        Err(IdentifyError::Ambiguous { candidates, .. }) => {
            Ok(Identified::Several(candidates.iter().map(person).collect()))
        }
        Err(e @ IdentifyError::NotFound { .. }) => {
            let mut details = Vec::new();
            if let IdentifyError::NotFound { similar, .. } = &e
                && !similar.is_empty()
            {
                details.push("did you mean:".to_string());
                details.extend(similar.iter().map(|c| format!("  {c}")));
            }
            Err(OpError::new(e.to_string()).details(details))
        }
    }
}

/// Refuse to offboard someone the roster does not list as leaving.
pub fn check_leaving(person: &Person) -> Result<(), OpError> {
    if person.leaving {
        return Ok(());
    }
    Err(OpError::new(format!(
        "{} <{}> is {} in the roster; offboard cuts the people HR has terminated. Nothing was changed.",
        person.name, person.email, person.status
    ))
    .hint("record the termination in the HR system (or its export), then run `offboard leave` again"))
}
