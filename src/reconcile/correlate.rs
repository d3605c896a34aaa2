//! Correlation: which person owns which account.
//!
//! Each system's `correlate` lines are tried in order; the first line whose person field
//! matches the account attribute (case-insensitively) decides. An account matching several
//! people on that line is *disputed* and is never changed automatically; an account
//! matching nobody is an *orphan*; an exempted account is left alone whoever owns it.

use std::borrow::Cow;

use rustc_hash::FxHashMap;

use crate::connector::Account;
use crate::policy::System;
use crate::roster::Roster;

/// Where an account stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Situation {
    /// Owned by the person at this roster index.
    Owned(usize),
    /// Matches several people (roster indices, ascending).
    Disputed(Vec<usize>),
    /// Matches nobody.
    Orphan,
    /// Exempted by the system's policy (index into `System::exemptions`).
    Exempt(usize),
}

/// Lookup tables from a person field's lowercased value to roster indices. Fx hashing:
/// the keys are the roster's own values, and a refresh looks up millions of them.
pub struct PersonIndex {
    by_field: FxHashMap<String, FxHashMap<String, Vec<usize>>>,
}

impl PersonIndex {
    /// Index every field that some system correlates on.
    pub fn new<'a>(roster: &Roster, systems: impl IntoIterator<Item = &'a System>) -> Self {
        let mut by_field: FxHashMap<String, FxHashMap<String, Vec<usize>>> = Default::default();
        for system in systems {
            for c in &system.correlate {
                by_field.entry(c.person_field.clone()).or_default();
            }
        }
        for (field, index) in by_field.iter_mut() {
            for (i, person) in roster.people.iter().enumerate() {
                if let Some(value) = person.field(field) {
                    index
                        .entry(lowercase(value).into_owned())
                        .or_default()
                        .push(i);
                }
            }
        }
        PersonIndex { by_field }
    }

    fn lookup(&self, field: &str, value: &str) -> &[usize] {
        self.by_field
            .get(field)
            .and_then(|index| index.get(lowercase(value).as_ref()))
            .map_or(&[], Vec::as_slice)
    }
}

/// `value` lowercased, without allocating when it already is (most identifiers are).
fn lowercase(value: &str) -> Cow<'_, str> {
    if value
        .bytes()
        .all(|b| b.is_ascii() && !b.is_ascii_uppercase())
    {
        Cow::Borrowed(value)
    } else {
        Cow::Owned(value.to_lowercase())
    }
}

/// The situation of one account in one system.
pub fn situate(system: &System, account: &Account, index: &PersonIndex) -> Situation {
    if let Some(i) = system.exemptions.iter().position(|e| {
        e.account.eq_ignore_ascii_case(&account.id)
            || e.account.eq_ignore_ascii_case(&account.username)
    }) {
        return Situation::Exempt(i);
    }
    for rule in &system.correlate {
        let mut owners: Vec<usize> = account
            .attribute_values(&rule.account_attribute)
            .into_iter()
            .flat_map(|v| index.lookup(&rule.person_field, v).iter().copied())
            .collect();
        owners.sort_unstable();
        owners.dedup();
        match owners.len() {
            0 => continue,
            1 => return Situation::Owned(owners[0]),
            _ => return Situation::Disputed(owners),
        }
    }
    Situation::Orphan
}
