//! The guided offboarding of one person (`offboard leave`), as operations: who is meant
//! (one person, or the candidates to choose from), then the usual prepare / guard / execute
//! of [`super::apply`] for that person alone, with a targeted read.
//!
//! Identification never guesses: identifiers match exactly, names match whole words, and
//! several matches come back as candidates for the operator to choose from. A person HR
//! still lists as active is refused: offboard cuts people the roster says are leaving,
//! unless the operator declares an emergency, which is journaled as an override (see
//! [`crate::roster::emergency`]) before anything is cut.

use serde::Serialize;

use super::{Observer, OpError, Workspace, inputs};
use crate::roster::emergency::Emergency;
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
    /// The roster key (what plans and the journal name the person by).
    #[serde(skip)]
    pub key: String,
    pub name: String,
    pub email: String,
    pub department: String,
    /// What HR's roster says (`terminated`, `active`, ...), before any emergency override.
    pub status: String,
    /// Whether the person is a leaver (in HR's roster, or by an override in force).
    pub leaving: bool,
    /// The emergency override in force for them, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub emergency_override: Option<String>,
}

/// The people `query` names, from the workspace's roster.
pub fn identify(
    ws: &Workspace,
    query: &PersonQuery,
    observer: &dyn Observer,
) -> Result<Identified, OpError> {
    let policy = inputs::load_policy(ws)?;
    let roster = inputs::load_roster(ws, &policy, observer)?;
    let shown = |p: &roster::Person| {
        // The roster is read through the overrides in force; the operator is shown what HR
        // says, and the override beside it.
        let unconfirmed = p.emergency.as_ref().is_some_and(|e| !e.confirmed);
        Person {
            key: roster.key_of(p),
            name: p.name.clone(),
            email: p.email.clone(),
            department: p.department.clone(),
            status: if unconfirmed {
                "active".to_string()
            } else {
                p.status.to_string()
            },
            leaving: p.is_leaver(),
            emergency_override: p.emergency.as_ref().map(|e| e.id.clone()),
        }
    };
    let by_email = |c: &Candidate| {
        roster
            .people
            .iter()
            .find(|p| p.email.eq_ignore_ascii_case(&c.email))
            .map(shown)
    };
    match roster::identify(&roster, query) {
        Ok(i) => Ok(Identified::One(shown(&roster.people[i]))),
        Err(IdentifyError::Ambiguous { candidates, .. }) => Ok(Identified::Several(
            candidates.iter().filter_map(by_email).collect(),
        )),
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

/// Refuse to offboard someone the roster does not list as leaving, unless this is an
/// emergency (which is then recorded as an override).
pub fn check_leaving(person: &Person, emergency: bool) -> Result<(), OpError> {
    if let (true, Some(id)) = (emergency, &person.emergency_override) {
        return Err(OpError::new(format!(
            "{} <{}> is already cut by emergency override {id}; nothing was changed.",
            person.name, person.email
        ))
        .hint("run `offboard leave` without --emergency to cut what remains; `offboard journal list` shows the override's run"));
    }
    if person.leaving || emergency {
        return Ok(());
    }
    Err(OpError::new(format!(
        "{} <{}> is {} in the roster; offboard cuts the people HR has terminated. Nothing was changed.",
        person.name, person.email, person.status
    ))
    .hint("record the termination in the HR system (or its export), then run `offboard leave` again; if they must be cut before HR can act, add --emergency --reason TEXT (journaled, and reported by `offboard audit` until HR agrees)"))
}

/// The emergency override `leave --emergency` records for `person`: in force from now, by
/// `by`, for `reason` (which must say something: it is the evidence of why).
pub fn emergency(
    person: &Person,
    by: &str,
    reason: &str,
    ticket: Option<&str>,
) -> Result<Emergency, OpError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(OpError::new("an emergency override needs a reason")
            .hint("say why in --reason (it is journaled as the evidence); nothing was changed"));
    }
    Ok(Emergency {
        id: format!("ovr-{}", super::apply::new_run_id()),
        person: person.key.clone(),
        at: jiff::Timestamp::now(),
        by: by.to_string(),
        reason: reason.to_string(),
        ticket: ticket
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string),
        confirmed: person.leaving && person.emergency_override.is_none(),
    })
}
