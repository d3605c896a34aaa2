//! `validate` speed: the bundled example and a generated policy of 500 systems / 2,000 rules.
//!
//! Prints figures (no pass/fail): run with `cargo bench --bench validate`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use offboard::policy;

// The same allocator as the `offboard` binary, so the figures are the binary's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const TIERS: &[&str] = &[
    "identity-provider",
    "directory",
    "remote-access",
    "mfa",
    "privileged",
    "finance",
    "customer-data",
    "business",
    "collaboration",
    "hardware",
];

/// Write a policy set with `systems` systems, `rules` rules and a role per 10 systems.
fn generate(dir: &Path, systems: usize, rules: usize) {
    std::fs::create_dir_all(dir).unwrap();
    let mut text = String::new();
    for i in 0..systems {
        let tier = TIERS[i % TIERS.len()];
        text.push_str(&format!(
            "system app-{i} {{\n    connector file path=\"inventory/accounts/app-{i}.json\"\n    tier {tier}\n    correlate email=\"email\"\n    correlate username=\"username\"\n    on-leave disable revoke-sessions remove-groups\n    exempt \"svc-{i}\" reason=\"service account\" owner=\"it@acme.com\"\n    concurrency 8\n}}\n"
        ));
    }
    std::fs::write(dir.join("systems.kdl"), &text).unwrap();
    text.clear();
    for i in 0..systems / 10 {
        text.push_str(&format!(
            "role team-{i} when=\"person.department == \\\"Dept {i}\\\" && person.employment != \\\"vendor\\\"\" {{\n    grant app-{} group=\"team-{i}\"\n    grant app-{} group=\"team-{i}\"\n}}\n",
            i * 10,
            i * 10 + 1
        ));
    }
    std::fs::write(dir.join("roles.kdl"), &text).unwrap();
    text.clear();
    for i in 0..rules {
        let cutoff = match i % 3 {
            0 => "immediately".to_string(),
            1 => "end-of-last-day".to_string(),
            _ => format!("\"+{}d\"", i % 7 + 1),
        };
        text.push_str(&format!(
            "rule r-{i} {{\n    when \"person.department == \\\"Dept {}\\\" && person.termination_type == \\\"voluntary\\\" && !person.legal_hold\"\n    cutoff {cutoff}\n    delete-after \"{}d\"\n    notify \"security@acme.com\"\n}}\n",
            i % 97,
            30 + i % 60
        ));
    }
    std::fs::write(dir.join("rules.kdl"), &text).unwrap();
    std::fs::write(
        dir.join("settings.kdl"),
        "defaults {\n    cutoff end-of-last-day\n    delete-after \"90d\"\n}\npeople {\n    source csv path=\"inventory/people.csv\"\n}\n",
    )
    .unwrap();
}

fn measure(name: &str, dir: &Path, runs: usize) {
    let mut times: Vec<Duration> = Vec::with_capacity(runs);
    let mut summary = String::new();
    for _ in 0..runs {
        let start = Instant::now();
        let p = policy::load_dir(dir, dir).unwrap_or_else(|e| panic!("{name}: {e}"));
        times.push(start.elapsed());
        summary = p.summary();
    }
    times.sort();
    let bytes: u64 = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    println!(
        "validate {name:<28} {summary:<40} {:>8.1} KiB  min {:>8.2} ms  median {:>8.2} ms  ({runs} runs)",
        bytes as f64 / 1024.0,
        times[0].as_secs_f64() * 1e3,
        times[runs / 2].as_secs_f64() * 1e3
    );
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    measure("bundled example", &root.join("policies"), 50);
    let tmp = std::env::temp_dir().join(format!("offboard-bench-validate-{}", std::process::id()));
    generate(&tmp, 500, 2000);
    measure("500 systems / 2,000 rules", &tmp, 10);
    let _ = std::fs::remove_dir_all(&tmp);
}
