//! The account-export parsers of the `file` connector (JSON, and CSV otherwise).
fn main() {
    afl::fuzz!(|data: &[u8]| {
        let format = if data.first().is_some_and(|b| *b == b'[' || *b == b'{') {
            offboard::policy::FileFormat::Json
        } else {
            offboard::policy::FileFormat::Csv
        };
        let _ = offboard::connector::file::parse_export(
            "okta",
            std::path::Path::new("okta"),
            data,
            format,
        );
    });
}
