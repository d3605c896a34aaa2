//! The entry points of the fuzz targets: one function per parser that takes arbitrary bytes.
//!
//! `fuzz/` wraps each in `afl::fuzz!` for coverage-guided campaigns (`bash fuzz/run.sh`), and
//! `tests/fuzz_corpus.rs` replays the committed corpora through the same functions on every
//! test run. Keeping them here means the two can never drift apart. Each function must return
//! for any input without panicking or hanging; results are discarded, because a clean error is
//! as good an outcome as a parse.

use std::path::{Path, PathBuf};

use crate::connector::ldap::LdapFlavor;
use crate::connector::ldap::entry::Entry;
use crate::connector::scim::response;
use crate::policy::{FileFormat, PersonKey};

/// A target: arbitrary bytes in, nothing out.
pub type Target = fn(&[u8]);

/// Every target, by the name `fuzz/run.sh` and the corpus folders use.
pub const TARGETS: [(&str, Target); 6] = [
    ("policy", policy),
    ("roster", roster),
    ("export", export),
    ("scim", scim),
    ("ldap", ldap),
    ("webhook", webhook),
];

fn looks_like_json(data: &[u8]) -> bool {
    data.first().is_some_and(|b| *b == b'[' || *b == b'{')
}

/// The KDL policy loader (parse, validate, compile conditions).
pub fn policy(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ =
            crate::policy::load_texts(vec![(PathBuf::from("policies/a.kdl"), text.to_string())]);
    }
}

/// The roster parsers: JSON when the input starts like JSON, CSV otherwise.
pub fn roster(data: &[u8]) {
    let tz = jiff::tz::TimeZone::UTC;
    let path = Path::new("people");
    if looks_like_json(data) {
        let _ = crate::roster::parse_json(data, path, PersonKey::Email, &tz);
    } else {
        let _ = crate::roster::parse_csv(data, path, PersonKey::Email, &tz);
    }
}

/// The `file` connector's export parsers, chosen the same way.
pub fn export(data: &[u8]) {
    let format = if looks_like_json(data) {
        FileFormat::Json
    } else {
        FileFormat::Csv
    };
    let _ = crate::connector::file::parse_export("okta", Path::new("okta"), data, format);
}

/// A SCIM response body: JSON, a list page, its users as accounts, group memberships, paging.
pub fn scim(data: &[u8]) {
    let Ok(page) = response::body(data).and_then(response::page) else {
        return;
    };
    let groups = response::memberships(&page.resources);
    let _ = response::users_carry_groups(&page.resources);
    for user in &page.resources {
        let of_user = groups.values().flatten().cloned().collect();
        let _ = response::account(user, "userName", of_user);
    }
    let _ = response::Pager::with_limit(1_000).take(page, 2);
}

/// An LDAP reply: a BER tag, decoded as a search result entry, mapped for both flavours.
pub fn ldap(data: &[u8]) {
    let Ok((_, tag)) = ldap3::asn1::parse_tag(data) else {
        return;
    };
    if let Ok(entry) = Entry::decode(tag) {
        let _ = entry.account(LdapFlavor::Openldap);
        let _ = entry.account(LdapFlavor::ActiveDirectory);
    }
}

/// HR webhook payloads, read by each scheme (generic, BambooHR, HiBob), and the signature
/// check over the same bytes: what `offboard serve` does with a body before believing it.
pub fn webhook(data: &[u8]) {
    use crate::server::{event, signature};
    let mut headers = axum::http::HeaderMap::new();
    headers.insert(
        "x-bamboohr-timestamp",
        axum::http::HeaderValue::from_static("1767000000"),
    );
    let now = jiff::Timestamp::UNIX_EPOCH;
    for scheme in [
        signature::Scheme::Generic {
            signature_header: "X-Offboard-Signature".into(),
            timestamp_header: "X-Offboard-Timestamp".into(),
        },
        signature::Scheme::BambooHr,
        signature::Scheme::HiBob,
    ] {
        let _ = signature::verify(&scheme, b"fuzz-secret", &headers, data, now);
        let _ = event::parse(&scheme, data, &headers);
    }
}
