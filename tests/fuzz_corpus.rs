//! Replays the committed fuzz corpora (`fuzz/corpus/<target>/`) through the functions the
//! fuzz targets call (`offboard::fuzz_targets`): every input a campaign kept (and any crash
//! it found, once fixed) is checked again on every test run, in seconds. Campaigns
//! themselves run with `bash fuzz/run.sh`.

use std::path::Path;

#[test]
fn every_corpus_replays_without_a_panic() {
    for (target, run) in offboard::fuzz_targets::TARGETS {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/corpus")
            .join(target);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        assert!(
            files.len() >= 5,
            "the {target} corpus has {} inputs",
            files.len()
        );
        for file in files {
            let bytes = std::fs::read(&file).unwrap();
            // A panic names the input, so a finding can be reproduced from the message.
            let outcome = std::panic::catch_unwind(|| run(&bytes));
            assert!(outcome.is_ok(), "{target}: {} panicked", file.display());
        }
    }
}
