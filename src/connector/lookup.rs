//! Targeted reads: looking up the accounts of a few people instead of listing every account.
//!
//! A [`Lookup`] is one value to search by: an account attribute as a system's `correlate`
//! line names it (`email`, `username`, `employee_id`, ...) and a person's value for it.
//! [`lookups_for`] derives them from the policy and the people to plan for. A connector that
//! can filter on the server (SCIM `filter`, LDAP search filters) answers with those accounts
//! only; what comes back is a **pre-selection**: the planner correlates it with the same rules
//! as a full read, so a targeted plan never touches an account a full plan would not.
//!
//! Matching is case-insensitive, as correlation is: SCIM defines `userName` and
//! `emails.value` as case-insensitive (RFC 7643 §4.1, `caseExact` false), and the LDAP
//! attributes used (`mail`, `uid`, `sAMAccountName`, `employeeNumber`, `cn`) have
//! case-ignoring equality rules. [`Lookup::matches`] is the same test done here, for
//! connectors that filter on our side.

use crate::policy::System;
use crate::roster::Person;

use super::Account;

/// One value to look accounts up by.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Lookup {
    /// The account attribute, as `correlate` names it.
    pub attribute: String,
    /// The person's value for it.
    pub value: String,
}

impl Lookup {
    /// Whether `account` has `value` in `attribute`, ignoring case (as correlation does).
    pub fn matches(&self, account: &Account) -> bool {
        let wanted = self.value.to_lowercase();
        account
            .attribute_values(&self.attribute)
            .iter()
            .any(|v| v.to_lowercase() == wanted)
    }

    /// The attribute in one canonical spelling: `Employee-ID`, `employee_id` and
    /// `employeeid` are one name to a connector mapping it to its own attributes.
    pub fn canonical_attribute(&self) -> String {
        self.attribute
            .chars()
            .filter(|c| *c != '-' && *c != '_')
            .flat_map(char::to_lowercase)
            .collect()
    }
}

/// What to look up in `system` for `people`: for every `correlate` line, each person's value
/// of its person field (people without one cannot match that line). Sorted, without repeats.
pub fn lookups_for(system: &System, people: &[&Person]) -> Vec<Lookup> {
    let mut out: Vec<Lookup> = system
        .correlate
        .iter()
        .flat_map(|c| {
            people.iter().filter_map(move |p| {
                let value = p.field(&c.person_field)?.trim();
                (!value.is_empty()).then(|| Lookup {
                    attribute: c.account_attribute.clone(),
                    value: value.to_string(),
                })
            })
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The accounts of `accounts` that match any of `lookups`: a targeted read done on our side
/// (for connectors whose system cannot filter, or as a check of a server's filter).
pub fn select(accounts: Vec<Account>, lookups: &[Lookup]) -> Vec<Account> {
    accounts
        .into_iter()
        .filter(|a| lookups.iter().any(|l| l.matches(a)))
        .collect()
}
