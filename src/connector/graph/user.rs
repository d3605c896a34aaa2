//! An Entra ID user, as Graph returns it, in offboard's common account shape.
//!
//! What Graph can remove goes where the planner removes it from: cloud groups assigned by
//! hand into `groups`, licences assigned directly or inherited from such a group into
//! `licenses` (an inherited one goes with its group), app role assignments into `app_roles`.
//! What Graph cannot remove goes into `held`, with the reason and what a person must do: the
//! membership of a dynamic group (its rule decides) and a licence inherited from one. Groups
//! synced from on-premises AD contain only synced users, whose memberships follow the
//! directory, so they are left to the directory's system. A synced user is `mastered_by`
//! on-premises AD.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use super::settings::ON_PREMISES;
use crate::connector::{Account, AccountStatus};

/// The user fields offboard reads (`$select`); `signInActivity` only when asked for.
pub(super) const USER_FIELDS: &str = "id,userPrincipalName,mail,otherMails,employeeId,displayName,accountEnabled,onPremisesSyncEnabled,onPremisesSamAccountName,assignedLicenses,licenseAssignmentStates";
/// The group fields a membership needs.
pub(super) const GROUP_FIELDS: &str =
    "id,displayName,groupTypes,onPremisesSyncEnabled,mailEnabled,securityEnabled";

/// How a group's members are managed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Membership {
    /// Members added and removed by hand (or by API): offboard removes them.
    Assigned,
    /// `groupTypes` has `DynamicMembership`: a rule decides, Graph refuses removal.
    Dynamic,
    /// Synced from on-premises AD: changed there, never in the cloud.
    OnPremises,
    /// A distribution list or mail-enabled security group: Exchange Online owns its members,
    /// Graph cannot change them.
    MailEnabled,
}

#[derive(Debug, Clone)]
pub(super) struct Group {
    pub id: String,
    pub name: String,
    pub membership: Membership,
}

impl Group {
    pub(super) fn from_json(g: &Value) -> Option<Group> {
        let id = g.get("id")?.as_str()?.to_string();
        let name = g
            .get("displayName")
            .and_then(Value::as_str)
            .unwrap_or(&id)
            .to_string();
        let dynamic = g
            .get("groupTypes")
            .and_then(Value::as_array)
            .is_some_and(|t| t.iter().any(|t| t.as_str() == Some("DynamicMembership")));
        let synced = g.get("onPremisesSyncEnabled").and_then(Value::as_bool) == Some(true);
        let unified = g
            .get("groupTypes")
            .and_then(Value::as_array)
            .is_some_and(|t| t.iter().any(|t| t.as_str() == Some("Unified")));
        let mail_enabled = g.get("mailEnabled").and_then(Value::as_bool) == Some(true);
        let membership = if synced {
            Membership::OnPremises
        } else if dynamic {
            Membership::Dynamic
        } else if mail_enabled && !unified {
            Membership::MailEnabled
        } else {
            Membership::Assigned
        };
        Some(Group {
            id,
            name,
            membership,
        })
    }
}

/// The user's id, or an error naming what is wrong with the object.
pub(super) fn id_of(user: &Value) -> Result<&str, String> {
    user.get("id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .ok_or_else(|| "a user without an id".to_string())
}

/// One user with its direct group memberships, licence names by sku id, and app roles.
pub(super) fn account(
    user: &Value,
    groups: &[Group],
    skus: &HashMap<String, String>,
    app_roles: Vec<String>,
) -> Result<Account, String> {
    let id = id_of(user)?.to_string();
    let text = |k: &str| {
        user.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let upn = text("userPrincipalName").unwrap_or_else(|| id.clone());
    let mut emails: Vec<String> = text("mail").into_iter().collect();
    for other in user
        .get("otherMails")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if !emails.iter().any(|e| e.eq_ignore_ascii_case(other)) {
            emails.push(other.to_string());
        }
    }
    let status = match user.get("accountEnabled").and_then(Value::as_bool) {
        Some(false) => AccountStatus::Disabled,
        // Graph always returns it when selected; an account whose state is unknown is
        // treated as one that can sign in.
        _ => AccountStatus::Active,
    };
    let synced = user.get("onPremisesSyncEnabled").and_then(Value::as_bool) == Some(true);

    let mut member_of = Vec::new();
    let mut held = Vec::new();
    for g in groups {
        match g.membership {
            Membership::Assigned => member_of.push(g.name.clone()),
            Membership::Dynamic => held.push(format!(
                "dynamic group '{}': Graph cannot remove members of a dynamic group; change the user's attributes or the group's membership rule so that it no longer matches",
                g.name
            )),
            Membership::MailEnabled => held.push(format!(
                "mail-enabled group '{}' (a distribution list or mail-enabled security group): Graph cannot change its members; in Exchange Online PowerShell: Remove-DistributionGroupMember -Identity '{}' -Member '{}' -Confirm:$false",
                g.name,
                g.name.replace('\'', "''"),
                upn.replace('\'', "''")
            )),
            Membership::OnPremises => {}
        }
    }
    let sku_name = |sku: &str| skus.get(sku).cloned().unwrap_or_else(|| sku.to_string());
    let mut licenses = Vec::new();
    let states = user
        .get("licenseAssignmentStates")
        .and_then(Value::as_array)
        .filter(|s| !s.is_empty());
    match states {
        Some(states) => {
            for state in states {
                let Some(sku) = state.get("skuId").and_then(Value::as_str) else {
                    continue;
                };
                let name = sku_name(sku);
                match state.get("assignedByGroup").and_then(Value::as_str) {
                    None => licenses.push(name),
                    Some(gid) => match groups.iter().find(|g| g.id == gid) {
                        Some(g) if g.membership == Membership::Assigned => {
                            licenses.push(format!("{name} (from group {})", g.name));
                        }
                        Some(g) => held.push(format!(
                            "licence {name} is inherited from group '{}', which Graph cannot remove the user from: it goes when that membership does",
                            g.name
                        )),
                        None => held.push(format!(
                            "licence {name} is inherited from group {gid}, which the user is not a direct member of: remove the group-based licence there"
                        )),
                    },
                }
            }
        }
        None => {
            for l in user
                .get("assignedLicenses")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(sku) = l.get("skuId").and_then(Value::as_str) {
                    licenses.push(sku_name(sku));
                }
            }
        }
    }

    let mut attributes = BTreeMap::new();
    for key in [
        "userPrincipalName",
        "mail",
        "employeeId",
        "onPremisesSamAccountName",
    ] {
        if let Some(v) = text(key) {
            attributes.insert(key.to_string(), v);
        }
    }
    let last_login = user
        .pointer("/signInActivity/lastSignInDateTime")
        .and_then(Value::as_str)
        .and_then(|t| t.parse().ok());
    Ok(Account {
        id,
        username: upn,
        emails,
        employee_id: text("employeeId"),
        display_name: text("displayName"),
        status,
        groups: member_of,
        entitlements: Vec::new(),
        licenses,
        privileged: false,
        last_login,
        sessions: None,
        container: None,
        attributes,
        app_roles,
        held,
        mastered_by: synced.then(|| ON_PREMISES.to_string()),
    })
}

/// The display name of an app role assignment's application.
pub(super) fn app_role_name(a: &Value) -> Option<String> {
    a.get("resourceDisplayName")
        .and_then(Value::as_str)
        .or_else(|| a.get("resourceId").and_then(Value::as_str))
        .map(str::to_string)
}

/// The Graph path segment that deletes an authentication method of this `@odata.type`;
/// `None` for the password (it cannot be deleted, only reset) and for unknown types.
pub(super) fn method_segment(odata_type: &str) -> Option<&'static str> {
    Some(match odata_type.trim_start_matches("#microsoft.graph.") {
        "microsoftAuthenticatorAuthenticationMethod" => "microsoftAuthenticatorMethods",
        "phoneAuthenticationMethod" => "phoneMethods",
        "fido2AuthenticationMethod" => "fido2Methods",
        "softwareOathAuthenticationMethod" => "softwareOathMethods",
        "emailAuthenticationMethod" => "emailMethods",
        "temporaryAccessPassAuthenticationMethod" => "temporaryAccessPassMethods",
        "windowsHelloForBusinessAuthenticationMethod" => "windowsHelloForBusinessMethods",
        _ => return None,
    })
}
