//! The documentation is checked like code: every policy it shows validates, every file the
//! book embeds exists (the CI recipes are embedded from `inventory/ci/`, so the page and the
//! shipped pipelines cannot drift apart), every relative link resolves, every page is in the
//! book's table of contents, and the README's five-minute tour runs.

use offboard_test_support as common;

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use offboard::policy::{self, RenderOptions, diagnostic};

fn root() -> PathBuf {
    common::root()
}

/// `README.md` and every Markdown file under `docs/`, relative to the repository root, sorted.
fn markdown_files() -> Vec<PathBuf> {
    let mut files = vec![PathBuf::from("README.md")];
    collect_markdown(Path::new("docs"), &mut files);
    files.sort();
    files
}

fn collect_markdown(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(root().join(dir))
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    for entry in entries {
        let entry = entry.unwrap();
        let path = dir.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            collect_markdown(&path, out);
        } else if path.extension().is_some_and(|x| x == "md") {
            out.push(path);
        }
    }
}

/// The text of a file given relative to the repository root.
fn read(file: &Path) -> String {
    std::fs::read_to_string(root().join(file))
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()))
}

/// The directory a Markdown file's relative links and includes start from.
fn base_dir(file: &Path) -> PathBuf {
    root().join(file.parent().unwrap_or(Path::new("")))
}

/// A fenced code block: its info string (`kdl`, `sh`, ...), the 1-based line of its opening
/// fence, and its text.
struct Block {
    info: String,
    line: usize,
    text: String,
}

fn fenced_blocks(markdown: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut current: Option<Block> = None;
    for (i, line) in markdown.lines().enumerate() {
        let trimmed = line.trim_start();
        match current.take() {
            None => {
                if let Some(info) = trimmed.strip_prefix("```") {
                    current = Some(Block {
                        info: info.trim().to_string(),
                        line: i + 1,
                        text: String::new(),
                    });
                }
            }
            Some(block) if trimmed.starts_with("```") => blocks.push(block),
            Some(mut block) => {
                block.text.push_str(line);
                block.text.push('\n');
                current = Some(block);
            }
        }
    }
    blocks
}

/// The lines outside fenced code blocks, with their 1-based numbers.
fn prose_lines(markdown: &str) -> Vec<(usize, &str)> {
    let mut in_fence = false;
    let mut lines = Vec::new();
    for (i, line) in markdown.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
        } else if !in_fence {
            lines.push((i + 1, line));
        }
    }
    lines
}

#[test]
fn every_kdl_block_in_the_docs_validates() {
    // As for the shipped policies: each ```kdl block is a complete policy on its own.
    // Fragments, deliberately invalid snippets and policy test files are marked `text`.
    let mut checked = 0;
    let mut failures = Vec::new();
    for file in markdown_files() {
        for block in fenced_blocks(&read(&file)) {
            if !block.info.starts_with("kdl") {
                continue;
            }
            checked += 1;
            let name = PathBuf::from(format!("{}:{}", file.display(), block.line));
            if let Err(e) = policy::load_texts(vec![(name.clone(), block.text)]) {
                failures.push(format!(
                    "{} is invalid:\n{}",
                    name.display(),
                    diagnostic::render_text(&e.diagnostics, &e.sources, RenderOptions::default())
                ));
            }
        }
    }
    assert!(
        checked >= 12,
        "the docs document the language with examples, but only {checked} ```kdl blocks were found"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every mdBook `{{#include PATH}}` in `markdown` (with its 1-based line), without the anchor
/// or line range that may follow the path. An escaped `\{{#include ...}}` is not an include.
fn includes(markdown: &str) -> Vec<(usize, String)> {
    const OPEN: &str = "{{#include";
    let mut found = Vec::new();
    for (i, line) in markdown.lines().enumerate() {
        let mut rest = line;
        while let Some(start) = rest.find(OPEN) {
            let escaped = rest[..start].ends_with('\\');
            let after = &rest[start + OPEN.len()..];
            let Some(end) = after.find("}}") else {
                break;
            };
            let argument = after[..end].trim();
            let path = argument.split(':').next().unwrap_or(argument);
            if !escaped {
                found.push((i + 1, path.to_string()));
            }
            rest = &after[end + 2..];
        }
    }
    found
}

#[test]
fn every_file_the_docs_embed_exists_and_ci_recipes_embed_the_shipped_files() {
    let mut problems = Vec::new();
    for file in markdown_files() {
        let text = read(&file);
        if file == Path::new("README.md") {
            // GitHub shows README.md as it is: an include would be printed, not embedded.
            assert!(
                includes(&text).is_empty(),
                "README.md must not use mdBook includes"
            );
            continue;
        }
        for (line, path) in includes(&text) {
            if !base_dir(&file).join(&path).is_file() {
                problems.push(format!(
                    "{}:{line}: the include of {path} names no file",
                    file.display()
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // The CI recipes page shows the pipelines by embedding the shipped files, never a copy.
    let ci = Path::new("docs/operations/ci.md");
    let embedded: Vec<PathBuf> = includes(&read(ci))
        .into_iter()
        .filter_map(|(_, path)| base_dir(ci).join(path).canonicalize().ok())
        .collect();
    for shipped in [
        "inventory/ci/github-actions.yml",
        "inventory/ci/gitlab-ci.yml",
    ] {
        let shipped_path = root().join(shipped).canonicalize().unwrap();
        assert!(
            embedded.contains(&shipped_path),
            "{} must embed {shipped}; it embeds {embedded:?}",
            ci.display()
        );
    }
}

/// Every link target outside code in `markdown` that is not a URL (`](path)`, `](path#anchor)`,
/// `](#anchor)`), with its 1-based line.
fn relative_links(markdown: &str) -> Vec<(usize, String)> {
    let mut links = Vec::new();
    for (line, text) in prose_lines(markdown) {
        let mut rest = text;
        while let Some(start) = rest.find("](") {
            let after = &rest[start + 2..];
            let Some(end) = after.find(')') else {
                break;
            };
            // A link may carry a title after its target: `[x](path "title")`.
            let target = after[..end].split_whitespace().next().unwrap_or("");
            let is_url = target.contains("://") || target.starts_with("mailto:");
            if !target.is_empty() && !is_url {
                links.push((line, target.to_string()));
            }
            rest = &after[end + 1..];
        }
    }
    links
}

/// The anchors of a Markdown file's headings, as GitHub and mdBook make them: lower case,
/// letters, digits, `-` and `_` kept, spaces turned into `-`, everything else dropped; a
/// repeated anchor gets `-1`, `-2`, ...
fn heading_anchors(markdown: &str) -> Vec<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut anchors = Vec::new();
    for (_, line) in prose_lines(markdown) {
        let hashes = line.len() - line.trim_start_matches('#').len();
        if !(1..=6).contains(&hashes) || !line[hashes..].starts_with(' ') {
            continue;
        }
        let mut slug = String::new();
        for c in line[hashes..].trim().chars() {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                slug.extend(c.to_lowercase());
            } else if c == ' ' {
                slug.push('-');
            }
        }
        let count = seen.entry(slug.clone()).or_insert(0);
        anchors.push(if *count == 0 {
            slug
        } else {
            format!("{slug}-{count}")
        });
        *count += 1;
    }
    anchors
}

#[test]
fn every_relative_link_in_the_docs_resolves() {
    let mut checked = 0;
    let mut problems = Vec::new();
    for file in markdown_files() {
        for (line, target) in relative_links(&read(&file)) {
            checked += 1;
            let (path, anchor) = match target.split_once('#') {
                Some((path, anchor)) => (path, Some(anchor)),
                None => (target.as_str(), None),
            };
            let resolved = if path.is_empty() {
                root().join(&file)
            } else {
                base_dir(&file).join(path)
            };
            if !resolved.exists() {
                problems.push(format!("{}:{line}: {target}: no such file", file.display()));
                continue;
            }
            if let Some(anchor) = anchor
                && resolved.extension().is_some_and(|x| x == "md")
            {
                let text = std::fs::read_to_string(resolved).unwrap();
                if !heading_anchors(&text).iter().any(|a| a == anchor) {
                    problems.push(format!(
                        "{}:{line}: {target}: no heading with the anchor #{anchor}",
                        file.display()
                    ));
                }
            }
        }
    }
    assert!(
        checked >= 50,
        "only {checked} relative links found in README.md and docs/"
    );
    assert!(
        problems.is_empty(),
        "broken links:\n{}",
        problems.join("\n")
    );
}

#[test]
fn every_docs_page_is_in_the_summary() {
    // mdBook renders only the pages SUMMARY.md lists.
    let summary = Path::new("docs/SUMMARY.md");
    let listed: Vec<PathBuf> = relative_links(&read(summary))
        .into_iter()
        .map(|(_, target)| Path::new("docs").join(target))
        .collect();
    let missing: Vec<String> = markdown_files()
        .into_iter()
        .filter(|file| {
            file.starts_with("docs") && file.as_path() != summary && !listed.contains(file)
        })
        .map(|file| file.display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "pages missing from docs/SUMMARY.md: {}",
        missing.join(", ")
    );
}

#[test]
fn the_readme_stays_short() {
    let lines = read(Path::new("README.md")).lines().count();
    assert!(
        lines <= 300,
        "README.md has {lines} lines, more than 300: move the detail into docs/"
    );
}

/// The commands of the README's tour, each with its 1-based line: the ```sh block right after
/// the `<!-- tour -->` line, without blank lines and comment lines.
fn tour() -> Vec<(usize, String)> {
    let readme = read(Path::new("README.md"));
    let lines: Vec<&str> = readme.lines().collect();
    let marker = lines
        .iter()
        .position(|l| l.trim() == "<!-- tour -->")
        .expect("README.md has a `<!-- tour -->` line right before the tour's ```sh block");
    let fence = (marker + 1..lines.len())
        .find(|&i| !lines[i].trim().is_empty())
        .expect("the tour's ```sh block follows `<!-- tour -->`");
    assert_eq!(
        lines[fence].trim(),
        "```sh",
        "README.md:{}: the tour is a ```sh block",
        fence + 1
    );
    let mut commands = Vec::new();
    for (i, line) in lines.iter().enumerate().skip(fence + 1) {
        let line = line.trim();
        if line.starts_with("```") {
            return commands;
        }
        if !line.is_empty() && !line.starts_with('#') {
            commands.push((i + 1, line.to_string()));
        }
    }
    panic!("README.md: the tour's ```sh block is not closed");
}

/// The exit code a tour comment names (`# exits 2: findings`), if any.
fn exit_code_in(comment: &str) -> Option<i32> {
    let words: Vec<&str> = comment
        .split(|c: char| c.is_whitespace() || matches!(c, ':' | ',' | ';' | '(' | ')'))
        .filter(|w| !w.is_empty())
        .collect();
    words
        .windows(2)
        .find(|pair| pair[0] == "exit" || pair[0] == "exits")
        .and_then(|pair| pair[1].parse().ok())
}

/// A tour line split into words as a shell would for these simple commands (whitespace
/// separates, double or single quotes group, `#` at the start of a word begins a comment),
/// and the exit code the comment names (0 when it names none).
fn parse_command(line: &str) -> (Vec<String>, i32) {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut comment = "";
    for (i, c) in line.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => word.push(c),
            None => match c {
                '"' | '\'' => {
                    quote = Some(c);
                    in_word = true;
                }
                '#' if !in_word => {
                    comment = &line[i + 1..];
                    break;
                }
                c if c.is_whitespace() => {
                    if in_word {
                        words.push(std::mem::take(&mut word));
                        in_word = false;
                    }
                }
                c => {
                    word.push(c);
                    in_word = true;
                }
            },
        }
    }
    assert!(quote.is_none(), "unbalanced quote in the tour: {line}");
    if in_word {
        words.push(word);
    }
    (words, exit_code_in(comment).unwrap_or(0))
}

#[test]
fn tour_lines_are_split_like_a_shell_would() {
    assert_eq!(
        parse_command(r#"offboard plan -p "Alex Kim" --out plan.json   # exits 2: changes"#),
        (
            vec![
                "offboard".to_string(),
                "plan".to_string(),
                "-p".to_string(),
                "Alex Kim".to_string(),
                "--out".to_string(),
                "plan.json".to_string(),
            ],
            2
        )
    );
    assert_eq!(
        parse_command("offboard validate  # 8 systems: valid"),
        (vec!["offboard".to_string(), "validate".to_string()], 0)
    );
}

#[test]
fn the_readme_tour_runs_on_a_copy_of_the_example() {
    let commands = tour();
    assert!(
        (5..=10).contains(&commands.len()),
        "the tour is short: 5 to 10 commands, not {}",
        commands.len()
    );
    // One copy for the whole tour: each command builds on the previous ones (the journal,
    // the saved plan, the applied changes).
    let dir = common::example_copy();
    for (line, text) in &commands {
        let (words, expected) = parse_command(text);
        assert_eq!(
            words.first().map(String::as_str),
            Some("offboard"),
            "README.md:{line}: a tour command starts with `offboard`: {text}"
        );
        let mut args: Vec<OsString> = Vec::new();
        let has_chdir = words
            .iter()
            .any(|w| w == "-C" || w == "--chdir" || w.starts_with("--chdir="));
        if !has_chdir {
            args.push(OsString::from("-C"));
            args.push(dir.path().as_os_str().to_owned());
        }
        args.extend(words[1..].iter().map(|w| OsString::from(w.as_str())));
        let out = Command::cargo_bin("offboard")
            .unwrap()
            .env("OFFBOARD_NO_NOTIFY", "1")
            .args(args)
            .env("NO_COLOR", "1")
            .env("OFFBOARD_ACTOR", "tour@acme.com")
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(expected),
            "README.md:{line}: `{text}` exited with {:?}, but the tour expects {expected}\n\
             --- stdout\n{}\n--- stderr\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
