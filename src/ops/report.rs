//! The offboarding certificate of one leaver, as an operation: the person named as the
//! operator knows them (email, username, employee id), resolved to the roster key the
//! journal records, and their certificate built from the journal alone.

use super::{Observer, OpError, Workspace, inputs, journal};
use crate::audit::certificate::{self, Certificate};
use crate::roster::{self, PersonQuery};

/// The certificate of `person`; an error when there is no journal or it has no record of
/// them. A certificate whose chain does not verify is returned (it says so): the caller
/// decides how to fail.
pub fn certificate(
    ws: &Workspace,
    person: &str,
    observer: &dyn Observer,
) -> Result<Certificate, OpError> {
    if !journal::exists(ws)? {
        return Err(OpError::new(format!(
            "no journal at {}; nothing has been applied yet",
            ws.journal
        )));
    }
    let key = roster_key(ws, person, observer).unwrap_or_else(|| person.to_string());
    let journal = journal::read(ws)?;
    certificate::certificate(&journal, &key)
        .map_err(journal::evidence)?
        .ok_or_else(|| {
            OpError::new(format!("the journal has no offboarding record for {key}")).hint(
                "name the person as the roster does (email, username or employee id); `offboard journal list` shows the runs",
            )
        })
}

/// The journal records people by roster key; any identifier the roster knows is accepted.
/// Without a readable policy or roster (a read-only copy handed to an auditor), the text is
/// taken as the key itself.
fn roster_key(ws: &Workspace, person: &str, observer: &dyn Observer) -> Option<String> {
    let policy = inputs::load_policy(ws).ok()?;
    let roster = inputs::load_roster(ws, &policy, observer).ok()?;
    let query = PersonQuery {
        text: person.to_string(),
        department: None,
    };
    let index = roster::identify(&roster, &query).ok()?;
    Some(roster.key_of(&roster.people[index]))
}
