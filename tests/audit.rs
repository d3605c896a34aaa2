//! `offboard audit` on the bundled example: every finding kind, every format (snapshots),
//! SARIF's required fields, exit codes, and the HTML page opened in headless Chromium.

use offboard_test_support as common;

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;

const APPLIED_AT: &str = "2026-11-23T09:00:00Z";
/// Five days later: Sarah's last day has passed, but nobody offboarded her.
const AUDIT_AT: &str = "2026-11-28T09:00:00Z";

fn offboard(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("offboard").unwrap();
    cmd.env("OFFBOARD_NO_NOTIFY", "1");
    cmd.arg("-C")
        .arg(dir)
        .env("OFFBOARD_ACTOR", "audit-test")
        .env_remove("NO_COLOR");
    cmd
}

/// The example after an apply at 09:00 on the 23rd, with John's okta account re-enabled
/// since (recreated), audited five days later.
fn example_after_apply() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    common::init_journal(dir.path());
    common::copy_dir(
        &common::root().join("policies"),
        &dir.path().join("policies"),
    );
    std::fs::remove_dir_all(dir.path().join("policies/examples")).ok();
    common::copy_dir(
        &common::root().join("inventory"),
        &dir.path().join("inventory"),
    );
    let plan = dir.path().join("p.json");
    offboard(dir.path())
        .args(["plan", "--at", APPLIED_AT, "--out"])
        .arg(&plan)
        .assert()
        .code(0);
    offboard(dir.path())
        .arg("apply")
        .arg(&plan)
        .assert()
        .code(0);
    let okta = dir.path().join("inventory/accounts/okta.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&okta).unwrap()).unwrap();
    for a in v["accounts"].as_array_mut().unwrap() {
        if a["id"] == "00u1a2b3" {
            a["status"] = "active".into();
        }
    }
    std::fs::write(&okta, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    dir
}

fn audit(dir: &Path, format: &str) -> String {
    let out = offboard(dir)
        .args(["audit", "--at", AUDIT_AT, "--format", format])
        .assert()
        .code(2)
        .get_output()
        .stdout
        .clone();
    String::from_utf8(out).unwrap()
}

#[test]
fn every_finding_kind_in_every_format() {
    let dir = example_after_apply();
    let json: serde_json::Value = serde_json::from_str(&audit(dir.path(), "json")).unwrap();
    let kinds: std::collections::BTreeSet<&str> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    for kind in [
        "leaver-active",
        "recreated",
        "orphan",
        "disputed",
        "excess-access",
        "stale-exemption",
        "dormant",
    ] {
        assert!(kinds.contains(kind), "no {kind} finding: {kinds:?}");
    }
    let recreated = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "recreated")
        .unwrap();
    assert_eq!(recreated["account"], "00u1a2b3");
    assert_eq!(recreated["severity"], "critical");
    insta::assert_snapshot!("audit_text", audit(dir.path(), "text"));
    insta::assert_snapshot!("audit_json", audit(dir.path(), "json"));
    insta::assert_snapshot!("audit_markdown", audit(dir.path(), "markdown"));
    insta::assert_snapshot!("audit_sarif", audit(dir.path(), "sarif"));
    insta::assert_snapshot!("audit_junit", audit(dir.path(), "junit"));
    insta::assert_snapshot!("audit_html", audit(dir.path(), "html"));
}

#[test]
fn sarif_has_the_required_fields_and_points_at_policy_lines() {
    let dir = example_after_apply();
    let sarif: serde_json::Value = serde_json::from_str(&audit(dir.path(), "sarif")).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let run = &sarif["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "offboard");
    let rules: Vec<&str> = run["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    let results = run["results"].as_array().unwrap();
    assert!(!results.is_empty());
    for r in results {
        assert!(rules.contains(&r["ruleId"].as_str().unwrap()));
        assert!(r["message"]["text"].as_str().is_some_and(|t| !t.is_empty()));
        assert!(["error", "warning", "note"].contains(&r["level"].as_str().unwrap()));
        let loc = &r["locations"][0]["physicalLocation"];
        let uri = loc["artifactLocation"]["uri"].as_str().unwrap();
        let line = loc["region"]["startLine"].as_u64().unwrap() as usize;
        let text = std::fs::read_to_string(dir.path().join(uri)).unwrap();
        let declared = text.lines().nth(line - 1).unwrap();
        let system = r["properties"]["system"].as_str().unwrap();
        assert_eq!(
            declared.trim_end(),
            format!("system {system} {{"),
            "{uri}:{line}"
        );
    }
}

#[test]
fn exit_codes_follow_fail_on() {
    let dir = example_after_apply();
    // The vpn system alone has only a low finding (its stale exemption) at the apply time.
    offboard(dir.path())
        .args([
            "audit",
            "--at",
            APPLIED_AT,
            "--system",
            "vpn",
            "--fail-on",
            "critical",
        ])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("stale-exemption"));
    offboard(dir.path())
        .args([
            "audit",
            "--at",
            APPLIED_AT,
            "--system",
            "vpn",
            "--fail-on",
            "low",
        ])
        .assert()
        .code(2);
    offboard(dir.path())
        .args(["audit", "--system", "nope"])
        .assert()
        .code(1);
}

#[test]
fn html_page_shows_its_figures_in_headless_chromium() {
    if common::skip_real_servers("chromium") {
        return;
    }
    let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("chromium not found: run `bash tests/run.sh` (it installs Debian's chromium)");
    let dir = example_after_apply();
    let page = dir.path().join("audit.html");
    offboard(dir.path())
        .args(["audit", "--at", AUDIT_AT, "--format", "html", "--output"])
        .arg(&page)
        .assert()
        .code(2);
    let json: serde_json::Value = serde_json::from_str(&audit(dir.path(), "json")).unwrap();
    let total = json["findings"].as_array().unwrap().len();
    let critical = json["counts"]["critical"].as_u64().unwrap();
    let profile = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        dom.contains(&format!("id=\"total-findings\">{total}<")),
        "total figure missing:\n{dom}"
    );
    assert!(
        dom.contains(&format!("id=\"count-critical\">{critical}<")),
        "critical figure missing"
    );
    // The page's own script ran and counted the chart's bars.
    let bars = dom.matches("<rect class=\"bar\"").count();
    assert!(bars > 0);
    assert!(
        dom.contains(&format!("data-bars=\"{bars}\"")),
        "script did not run (no data-bars={bars})"
    );
    // Self-contained: no stylesheet, script, image or font is fetched from anywhere.
    for external in ["<link", "<script src", "<img", "url(", "@import"] {
        assert!(
            !dom.contains(external),
            "external asset ({external}) in the page"
        );
    }
}

#[test]
fn junit_has_one_case_per_finding_and_fails_exactly_when_the_exit_code_does() {
    let dir = example_after_apply();
    let json: serde_json::Value = serde_json::from_str(&audit(dir.path(), "json")).unwrap();
    let findings = json["findings"].as_array().unwrap();
    for (fail_on, rank) in [("low", 0), ("medium", 1), ("high", 2), ("critical", 3)] {
        let rank_of = |s: &str| {
            ["low", "medium", "high", "critical"]
                .iter()
                .position(|x| *x == s)
        };
        let expected = findings
            .iter()
            .filter(|f| rank_of(f["severity"].as_str().unwrap()).unwrap() >= rank)
            .count();
        let output = offboard(dir.path())
            .args([
                "audit",
                "--at",
                AUDIT_AT,
                "--format",
                "junit",
                "--fail-on",
                fail_on,
            ])
            .output()
            .unwrap();
        let xml = String::from_utf8(output.stdout).unwrap();
        let code = output.status.code().unwrap();
        assert_eq!(code == 2, expected > 0, "--fail-on {fail_on}: exit {code}");
        assert_eq!(
            xml.matches("<failure ").count(),
            expected,
            "--fail-on {fail_on}"
        );
        assert!(xml.contains(&format!("failures=\"{expected}\"")), "{xml}");
        assert_eq!(
            xml.matches("<failure ").count() + xml.matches("<skipped ").count(),
            findings.len()
        );
    }
}
