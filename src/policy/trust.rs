//! Credentials go only where the trusted policy sends them.
//!
//! `plan` runs on pull requests, with the production secrets in its environment. A pull
//! request that changes a system's `url=` and its `token-env=`/`password-env=` would make
//! offboard send a token to any host. So a plan reads live systems with the connector
//! settings of a *trusted* revision (the base branch for `plan --compare`, else the commit
//! the journal last applied): where the proposed settings differ, the trusted ones are used;
//! a credentialed system the trusted revision does not have is not read at all. The plan says
//! which systems and why. Pure: the caller finds the trusted policy.

use super::model::{Policy, System};

/// Where a credential goes and where it comes from: what must not change unreviewed.
fn credential_route(system: &System) -> Option<(String, String)> {
    system.connector()?.credential_route()
}

/// The policy to *read* systems with, and one line per system whose settings were replaced
/// or which is not read. `proposed` is the policy being planned; `trusted` the reviewed one.
pub fn pin_to_trusted(proposed: &Policy, trusted: &Policy, label: &str) -> (Policy, Vec<String>) {
    let mut read = proposed.clone();
    let mut notes = Vec::new();
    read.systems.retain_mut(|system| {
        let Some(route) = credential_route(system) else {
            return true;
        };
        match trusted.system(system.name()) {
            Some(t) if credential_route(t).as_ref() == Some(&route) => true,
            Some(t) if credential_route(t).is_some() => {
                notes.push(format!(
                    "{}: its connector settings (url or credential source) differ from {label}; it was read with the settings of {label}, the proposed ones are used only once merged",
                    system.name()
                ));
                system.lane = t.lane.clone();
                true
            }
            _ => {
                notes.push(format!(
                    "{}: a system with credentials that {label} does not have; it was not read (no credential is sent to an unreviewed endpoint), so nothing is planned for it until merged",
                    system.name()
                ));
                false
            }
        }
    });
    (read, notes)
}
