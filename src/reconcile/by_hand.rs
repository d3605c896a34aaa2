//! What a connector cannot cut, made visible: access the system holds outside its API, actions
//! its API lacks, and accounts mastered in another system.
//!
//! Some access cannot be removed through a system's API at all. Entra ID refuses to remove a
//! member from a dynamic group (its rule decides) or from a group synced from on-premises AD,
//! a licence inherited from such a group cannot be removed from the user, and converting a
//! mailbox to shared is an Exchange Online operation Microsoft Graph does not offer. Skipping
//! them would leave a leaver with access and nobody told; failing the change would block
//! everything the API *can* do. So the connector reports them ([`Account::held`], and the
//! kind's [`by_hand`](crate::connector::ConnectorConfig::by_hand) actions), and this module
//! turns them into one task per person and system, owned by the system's `owner`, with the
//! exact steps: a tracked manual task, journaled, escalated and closed like a manual lane's.
//!
//! An account mastered elsewhere ([`Account::mastered_by`], an Entra ID user synced from
//! on-premises AD) is disabled and deleted where it is mastered. The plan says so with a
//! `follows` note naming the directory system that cuts it; when the policy has no such
//! system for the person, a task asks the owner to cut it by hand, rather than nothing.

use std::collections::BTreeMap;

use jiff::Timestamp;

use super::resolve::Resolution;
use crate::connector::Account;
use crate::plan::{Change, ChangeKind, Note, NoteKind, Task};
use crate::policy::{Action, System};
use crate::roster::Person;

/// Actions an account mastered elsewhere takes from its master, never from this system.
pub(super) fn mastered_elsewhere(action: Action) -> bool {
    matches!(
        action,
        Action::Disable | Action::Delete | Action::ResetPassword | Action::Move
    )
}

/// Whether this system's kind leaves `action` to a person (it becomes a task's step).
pub(super) fn leaves_to_people(system: &System, action: Action) -> bool {
    system.connector().is_some_and(|c| c.by_hand(action))
}

/// The steps people must take for one person in one system, gathered over their accounts.
#[derive(Default)]
pub(super) struct Handover<'p> {
    tasks: BTreeMap<&'p str, Pending<'p>>,
    notes: Vec<Note>,
}

struct Pending<'p> {
    system: &'p System,
    actions: Vec<Action>,
    steps: Vec<String>,
    rules: Vec<String>,
}

impl<'p> Handover<'p> {
    /// Look at one due account of `person`: what its kind leaves to people, and whether it is
    /// mastered elsewhere. `accounts` are all of the person's accounts (to find the master).
    pub(super) fn account(
        &mut self,
        system: &'p System,
        account: &Account,
        r: &Resolution,
        person: &Person,
        key: &str,
        accounts: &[(&'p System, &Account)],
    ) {
        let wanted: Vec<(Action, &str)> = system
            .on_leave
            .iter()
            .map(|a| (*a, r.cutoff_source.as_str()))
            .chain(
                r.extra_actions
                    .iter()
                    .filter(|(a, _)| system.can(*a))
                    .map(|(a, rule)| (*a, rule.as_str())),
            )
            .collect();
        let Some(connector) = system.connector() else {
            return;
        };
        let manager = Some(person.manager_email.as_str()).filter(|m| !m.is_empty());
        for &(action, rule) in &wanted {
            if action == Action::HandOffFiles && manager.is_none() && account.is_active() {
                let step = format!(
                    "{}: the roster names no manager to receive the files; choose who does and share them",
                    account.label()
                );
                self.add(system, action, vec![step], rule);
                continue;
            }
            if !connector.by_hand(action) {
                continue;
            }
            let steps = connector.instructions(action, account, manager);
            self.add(system, action, steps, rule);
        }
        let removes_access = wanted
            .iter()
            .any(|(a, _)| matches!(a, Action::RemoveGroups | Action::RemoveLicenses));
        if removes_access && !account.held.is_empty() {
            let steps = account
                .held
                .iter()
                .map(|h| format!("{}: {h}", account.label()))
                .collect();
            self.add(system, Action::RemoveGroups, steps, &r.cutoff_source);
        }
        if let Some(master) = &account.mastered_by {
            self.mastered(system, account, master, key, accounts, &r.cutoff_source);
        }
    }

    fn add(&mut self, system: &'p System, action: Action, steps: Vec<String>, rule: &str) {
        let pending = self.tasks.entry(system.name()).or_insert_with(|| Pending {
            system,
            actions: Vec::new(),
            steps: Vec::new(),
            rules: Vec::new(),
        });
        if !pending.actions.contains(&action) {
            pending.actions.push(action);
        }
        pending.steps.extend(steps);
        if !pending.rules.iter().any(|r| r == rule) {
            pending.rules.push(rule.to_string());
        }
    }

    /// A synced account follows its master: a note naming the directory systems that cut
    /// it, or, when the policy reads none for this person, a task to cut it there by hand.
    fn mastered(
        &mut self,
        system: &'p System,
        account: &Account,
        master: &str,
        key: &str,
        accounts: &[(&'p System, &Account)],
        rule: &str,
    ) {
        let directories: Vec<&str> = accounts
            .iter()
            .filter(|(s, _)| s.kind() == "ldap" && s.name() != system.name())
            .map(|(s, _)| s.name())
            .collect();
        if directories.is_empty() {
            let step = format!(
                "{}: synced from {master}, which no system in this policy reads for this person; disable the account there (Entra ID follows at the next sync), or add the directory to the policy",
                account.label()
            );
            self.add(system, Action::Disable, vec![step], rule);
            return;
        }
        self.notes.push(Note {
            kind: NoteKind::Follows,
            system: system.name().to_string(),
            account: super::account_ref(account),
            owners: vec![key.to_string()],
            detail: format!(
                "synced from {master}: disabled in {}, and {} follows at the next sync",
                directories.join(", "),
                system.name()
            ),
        });
    }

    /// The tasks (one per system not already tracked in the journal) and notes gathered.
    pub(super) fn finish(
        self,
        key: &str,
        cutoff: Timestamp,
        known: impl Fn(&str) -> bool,
    ) -> (Vec<Change>, Vec<Note>) {
        let changes = self
            .tasks
            .into_values()
            .filter(|p| !known(p.system.name()))
            .map(|p| {
                let owner = p
                    .system
                    .owner
                    .clone()
                    .unwrap_or_else(|| format!("the owner of {}", p.system.name()));
                Change {
                    person: key.to_string(),
                    system: p.system.name().to_string(),
                    tier: p.system.tier,
                    kind: ChangeKind::Task,
                    account: None,
                    actions: p.actions.clone(),
                    before: None,
                    after: None,
                    task: Some(Task {
                        owner,
                        due: cutoff,
                        actions: p.actions,
                        escalate_to: None,
                        steps: p.steps,
                    }),
                    rules: p.rules,
                    hand_off_to: None,
                }
            })
            .collect();
        (changes, self.notes)
    }
}
