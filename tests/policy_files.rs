//! Every policy we ship must validate, and no input may make the loader panic.

use std::path::{Path, PathBuf};

use offboard::policy::{self, RenderOptions, diagnostic};
use proptest::prelude::*;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn assert_valid_dir(dir: &Path) -> policy::Policy {
    match policy::load_dir(dir, &root()) {
        Ok(p) => p,
        Err(e) => panic!(
            "{} is invalid:\n{}",
            dir.display(),
            diagnostic::render_text(&e.diagnostics, &e.sources, RenderOptions::default())
        ),
    }
}

#[test]
fn bundled_example_validates() {
    let p = assert_valid_dir(&root().join("policies"));
    assert!(p.systems.len() >= 8, "{}", p.summary());
    let tiers: std::collections::BTreeSet<_> = p.systems.iter().map(|s| s.tier).collect();
    assert!(tiers.len() >= 5, "at least five tiers, got {tiers:?}");
    assert!(p.roles.len() >= 3);
    assert!(p.people.is_some());
}

#[test]
fn every_example_policy_set_validates() {
    let examples = root().join("policies/examples");
    let mut sets = 0;
    for entry in std::fs::read_dir(&examples).unwrap() {
        let dir = entry.unwrap().path();
        if dir.is_dir() {
            assert_valid_dir(&dir);
            sets += 1;
        }
    }
    assert!(sets >= 2, "expected scim and ldap example sets");
}

/// Fragments that make mutations look like plausible (mis)typed policy.
const TOKENS: &[&str] = &[
    "{",
    "}",
    "\"",
    "=",
    ";",
    "#",
    "/*",
    "*/",
    "//",
    "\\",
    "\n",
    " ",
    "90d",
    "\"90d\"",
    "#true",
    "system",
    "role",
    "rule",
    "connector",
    "scim",
    "ldap",
    "tier",
    "when",
    "\"person.",
    "||",
    "token=\"x\"",
    "on-leave delete",
    "grant nowhere group=\"x\"",
    "é",
    "\u{0}",
    "r#\"",
    "\"\"\"",
    "(",
    ")",
    "person.x ==",
    "cutoff",
    "retain forever",
    "-1d",
    "\"+2d\"",
    "9999999999999999999999",
];

fn example_texts() -> Vec<(PathBuf, String)> {
    let dir = root().join("policies");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "kdl"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p.strip_prefix(root()).unwrap().to_path_buf(), text)
        })
        .collect()
}

#[derive(Debug, Clone)]
enum Mutation {
    Delete { at: usize, len: usize },
    Insert { at: usize, token: usize },
    Duplicate { at: usize, len: usize },
    Replace { at: usize, byte: u8 },
}

fn apply(text: &str, m: &Mutation) -> String {
    let mut bytes = text.as_bytes().to_vec();
    let pos = |at: usize| {
        if bytes.is_empty() {
            0
        } else {
            at % (bytes.len() + 1)
        }
    };
    match *m {
        Mutation::Delete { at, len } => {
            let start = pos(at);
            let end = (start + len).min(bytes.len());
            bytes.drain(start..end);
        }
        Mutation::Insert { at, token } => {
            let start = pos(at);
            let t = TOKENS[token % TOKENS.len()].as_bytes();
            bytes.splice(start..start, t.iter().copied());
        }
        Mutation::Duplicate { at, len } => {
            let start = pos(at);
            let end = (start + len).min(bytes.len());
            let copy = bytes[start..end].to_vec();
            bytes.splice(end..end, copy);
        }
        Mutation::Replace { at, byte } => {
            if !bytes.is_empty() {
                let i = at % bytes.len();
                bytes[i] = byte;
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1usize..40).prop_map(|(at, len)| Mutation::Delete { at, len }),
        (any::<usize>(), any::<usize>()).prop_map(|(at, token)| Mutation::Insert { at, token }),
        (any::<usize>(), 1usize..200).prop_map(|(at, len)| Mutation::Duplicate { at, len }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Replace { at, byte }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Mutated copies of the bundled example load (valid or not) and render without panicking,
    /// and every diagnostic position lies inside its file.
    #[test]
    fn mutated_policies_never_panic(file in 0usize..16, mutations in proptest::collection::vec(mutation(), 1..6)) {
        let mut files = example_texts();
        let index = file % files.len();
        for m in &mutations {
            files[index].1 = apply(&files[index].1, m);
        }
        if let Err(e) = policy::load_texts(files) {
            prop_assert!(!e.diagnostics.is_empty());
            for d in &e.diagnostics {
                if let Some(span) = d.span {
                    prop_assert!(span.offset <= e.sources.file(span.file).text.len());
                }
            }
            let rendered = diagnostic::render_text(&e.diagnostics, &e.sources, RenderOptions::default());
            prop_assert!(!rendered.is_empty());
            let _ = diagnostic::to_json(&e.diagnostics, &e.sources);
        }
    }
}
