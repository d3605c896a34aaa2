//! The roster parsers (CSV, and JSON when the input starts with `[` or `{`).
fn main() {
    afl::fuzz!(|data: &[u8]| {
        let tz = jiff::tz::TimeZone::UTC;
        let key = offboard::policy::PersonKey::Email;
        let path = std::path::Path::new("people");
        if data.first().is_some_and(|b| *b == b'[' || *b == b'{') {
            let _ = offboard::roster::parse_json(data, path, key, &tz);
        } else {
            let _ = offboard::roster::parse_csv(data, path, key, &tz);
        }
    });
}
