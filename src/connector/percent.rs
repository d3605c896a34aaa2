//! Percent-encoding for what connectors put into URLs: an id in a path segment, a filter in
//! a query value. Everything but RFC 3986's unreserved characters is encoded, so a value can
//! neither leave its segment (`/`, `?`, `#`) nor its parameter (`&`, `=`).

/// `s` with every byte outside `A-Z a-z 0-9 - _ . ~` percent-encoded.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_unreserved_characters_stay() {
        assert_eq!(super::encode("a-b_c.d~e"), "a-b_c.d~e");
        assert_eq!(super::encode("x/y?z#&= é"), "x%2Fy%3Fz%23%26%3D%20%C3%A9");
    }
}
