//! What conditions see: roster rows and accounts as rhai maps.

use rhai::{Dynamic, Map};

use crate::connector::Account;
use crate::roster::Person;
use crate::rules::{AccountContext, Field, PersonContext, Source};

fn text(s: &str) -> Dynamic {
    Dynamic::from(s.to_string())
}

fn opt_ts(t: Option<jiff::Timestamp>) -> Dynamic {
    t.map_or(Dynamic::UNIT, |t| Dynamic::from(t.as_second()))
}

/// `person.*`: every roster column (missing text is `""`), typed where the roster is typed.
pub fn person(p: &Person, end_of_last_day: Option<jiff::Timestamp>) -> PersonContext {
    let mut m = Map::new();
    for (k, v) in [
        ("employee_id", &p.employee_id),
        ("email", &p.email),
        ("username", &p.username),
        ("name", &p.name),
        ("department", &p.department),
        ("title", &p.title),
        ("manager_email", &p.manager_email),
        ("location", &p.location),
    ] {
        m.insert(k.into(), text(v));
    }
    m.insert("employment".into(), text(p.employment.as_str()));
    m.insert("status".into(), text(p.status.as_str()));
    m.insert(
        "termination_type".into(),
        text(p.termination_type.map_or("", |t| t.as_str())),
    );
    m.insert("termination_at".into(), opt_ts(p.termination_at));
    m.insert(
        "last_day".into(),
        text(&p.last_day.map(|d| d.to_string()).unwrap_or_default()),
    );
    m.insert("last_day_end".into(), opt_ts(end_of_last_day));
    m.insert("legal_hold".into(), Dynamic::from(p.legal_hold));
    m.insert("is_leaver".into(), Dynamic::from(p.is_leaver()));
    for (k, v) in &p.extra {
        m.entry(k.as_str().into()).or_insert_with(|| text(v));
    }
    PersonContext::new(m)
}

/// `person.*` read straight from the roster row: the same values [`person`] puts in the map,
/// for the fast evaluator, so that evaluating many people's conditions builds no maps.
pub struct PersonFields<'a>(pub &'a Person);

impl Source for PersonFields<'_> {
    fn field(&self, name: &str) -> Option<Field<'_>> {
        let p = self.0;
        Some(match name {
            "employee_id" => Field::Text(&p.employee_id),
            "email" => Field::Text(&p.email),
            "username" => Field::Text(&p.username),
            "name" => Field::Text(&p.name),
            "department" => Field::Text(&p.department),
            "title" => Field::Text(&p.title),
            "manager_email" => Field::Text(&p.manager_email),
            "location" => Field::Text(&p.location),
            "employment" => Field::Text(p.employment.as_str()),
            "status" => Field::Text(p.status.as_str()),
            "termination_type" => Field::Text(p.termination_type.map_or("", |t| t.as_str())),
            "legal_hold" => Field::Bool(p.legal_hold),
            "is_leaver" => Field::Bool(p.is_leaver()),
            // Timestamps and the formatted date: the full context handles them.
            "termination_at" | "last_day" | "last_day_end" => Field::Other,
            other => Field::Text(p.extra.get(other)?),
        })
    }
}

/// `account.*` for account-level conditions.
pub fn account(system: &str, a: &Account) -> AccountContext {
    let list = |v: &[String]| Dynamic::from_array(v.iter().map(|s| text(s)).collect());
    let mut m = Map::new();
    m.insert("system".into(), text(system));
    m.insert("id".into(), text(&a.id));
    m.insert("username".into(), text(&a.username));
    m.insert("emails".into(), list(&a.emails));
    m.insert("groups".into(), list(&a.groups));
    m.insert("licenses".into(), list(&a.licenses));
    m.insert("entitlements".into(), list(&a.entitlements));
    m.insert("privileged".into(), Dynamic::from(a.privileged));
    m.insert("status".into(), text(&a.status.to_string()));
    m.insert("last_login".into(), opt_ts(a.last_login));
    AccountContext::new(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roster::{Employment, Status, TerminationType};
    use crate::rules::Condition;

    fn someone(extra: &[(&str, &str)]) -> Person {
        Person {
            employee_id: "E1".into(),
            email: "ann@acme.example".into(),
            username: "ann".into(),
            name: "Ann Lee".into(),
            department: "Sales".into(),
            title: "".into(),
            manager_email: "bo@acme.example".into(),
            employment: Employment::Contractor,
            status: Status::Terminated,
            termination_type: Some(TerminationType::Involuntary),
            termination_at: None,
            last_day: None,
            legal_hold: true,
            location: "remote".into(),
            extra: extra
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            line: 2,
            emergency: None,
            hr_event: None,
        }
    }

    /// Reading the row directly gives what the rhai map gives, field by field.
    #[test]
    fn person_fields_agree_with_the_person_map() {
        let p = someone(&[("cost_center", "CC-7"), ("department", "shadowed")]);
        let map = person(&p, None);
        let now = jiff::Timestamp::UNIX_EPOCH;
        for source in [
            "person.department == \"Sales\"",
            "person.title == \"\"",
            "person.employment == \"contractor\"",
            "person.status == \"terminated\"",
            "person.termination_type == \"involuntary\"",
            "person.legal_hold && person.is_leaver",
            "person.cost_center == \"CC-7\"",
            "person.location != \"office\" && person.manager_email == \"bo@acme.example\"",
            "\"Lee\" in person.name",
        ] {
            let c = Condition::compile("rule t", source).unwrap();
            let direct = c.eval_fields(&PersonFields(&p));
            assert_eq!(direct, Some(true), "{source}");
            assert_eq!(c.eval(&map, None, now), Ok(true), "{source}");
        }
        // Timestamps, and fields the row does not have, are left to the full context.
        for source in ["person.termination_at == \"x\"", "person.nope == \"x\""] {
            let c = Condition::compile("rule t", source).unwrap();
            assert_eq!(c.eval_fields(&PersonFields(&p)), None, "{source}");
        }
    }
}
