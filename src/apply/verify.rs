//! Whether an account shows the effect of an action: the read-back check.

use crate::connector::{Account, AccountStatus};
use crate::plan::AccountState;
use crate::policy::Action;

/// What a read-back says about one action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// The account shows it.
    Shown,
    /// The account shows the opposite.
    Missing,
    /// The system does not expose it (a password reset); the call's success is all we have.
    Unobservable,
}

/// `account` is the state read back (`None`: the account does not exist, so no access).
pub fn effect(
    action: Action,
    account: Option<&Account>,
    expected: Option<&AccountState>,
) -> Effect {
    let Some(a) = account else {
        return Effect::Shown;
    };
    let shown = match action {
        Action::Delete => false,
        Action::Disable => a.status == AccountStatus::Disabled,
        Action::RevokeSessions => match a.sessions {
            Some(n) => n == 0,
            None => return Effect::Unobservable,
        },
        Action::RemoveGroups => a.groups.is_empty() && a.entitlements.is_empty(),
        Action::RemoveLicenses => a.licenses.is_empty(),
        Action::RemoveAppRoles => a.app_roles.is_empty(),
        Action::Move => match expected.and_then(|e| e.container.as_ref()) {
            Some(target) => a
                .container
                .as_ref()
                .is_some_and(|c| crate::connector::same_container(c, target)),
            None => return Effect::Unobservable,
        },
        Action::ResetPassword
        | Action::ResetMfa
        | Action::HandOffFiles
        | Action::HandOffMailbox
        | Action::Collect => {
            return Effect::Unobservable;
        }
    };
    if shown {
        Effect::Shown
    } else {
        Effect::Missing
    }
}

/// What a restore step should have brought back but the read-back does not show, if
/// anything (`None`: the step's effect is visible).
pub fn restore_missing(step: &crate::connector::Restore, a: &Account) -> Option<String> {
    use crate::connector::Restore;
    let absent = |wanted: &[String], have: &mut dyn Iterator<Item = &String>| -> Vec<String> {
        let have: Vec<&String> = have.collect();
        wanted
            .iter()
            .filter(|w| !have.iter().any(|h| h.eq_ignore_ascii_case(w)))
            .cloned()
            .collect()
    };
    match step {
        Restore::Enable => (!a.is_active()).then(|| "the account enabled".to_string()),
        Restore::AddGroups(groups) => {
            let gone = absent(groups, &mut a.groups.iter().chain(&a.entitlements));
            (!gone.is_empty()).then(|| format!("groups {}", gone.join(", ")))
        }
        Restore::AddLicenses(licenses) => {
            let gone = absent(licenses, &mut a.licenses.iter());
            (!gone.is_empty()).then(|| format!("licenses {}", gone.join(", ")))
        }
    }
}
