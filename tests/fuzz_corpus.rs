//! Replays the committed fuzz corpora (`fuzz/corpus/<target>/`) through the functions the
//! fuzz targets call: every input a campaign kept (and any crash it found, once fixed) is
//! checked again on every test run, in seconds. Campaigns themselves run with `bash fuzz/run.sh`.

use std::path::{Path, PathBuf};

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "the {target} corpus is empty");
    files
}

#[test]
fn the_policy_corpus_loads_or_fails_cleanly() {
    for (_, bytes) in corpus("policy") {
        if let Ok(text) = std::str::from_utf8(&bytes) {
            let _ = offboard::policy::load_texts(vec![(
                PathBuf::from("policies/a.kdl"),
                text.to_string(),
            )]);
        }
    }
}

#[test]
fn the_roster_corpus_parses_or_fails_cleanly() {
    let tz = jiff::tz::TimeZone::UTC;
    for (_, bytes) in corpus("roster") {
        let key = offboard::policy::PersonKey::Email;
        let path = Path::new("people");
        if bytes.first().is_some_and(|b| *b == b'[' || *b == b'{') {
            let _ = offboard::roster::parse_json(&bytes, path, key, &tz);
        } else {
            let _ = offboard::roster::parse_csv(&bytes, path, key, &tz);
        }
    }
}

#[test]
fn the_export_corpus_parses_or_fails_cleanly() {
    for (_, bytes) in corpus("export") {
        let format = if bytes.first().is_some_and(|b| *b == b'[' || *b == b'{') {
            offboard::policy::FileFormat::Json
        } else {
            offboard::policy::FileFormat::Csv
        };
        let _ = offboard::connector::file::parse_export("okta", Path::new("okta"), &bytes, format);
    }
}
