//! Audit renderers: text, JSON, Markdown, SARIF 2.1.0, JUnit XML and a self-contained HTML page.
//!
//! All read the one [`Audit`] model. SARIF locates each finding at the policy file and line
//! of the system it concerns, so code-scanning UIs show it next to the policy. The HTML page
//! carries its own CSS, SVG chart and sorting script: no external assets.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde_json::json;

use super::{Audit, Finding, Kind, Severity};

const SEVERITIES: [Severity; 4] = [
    Severity::Critical,
    Severity::High,
    Severity::Medium,
    Severity::Low,
];

fn headline(a: &Audit) -> String {
    let accounts: usize = a.systems.iter().map(|s| s.accounts).sum();
    format!(
        "Audit of {} systems and {accounts} accounts at {}: {} findings ({} critical, {} high, {} medium, {} low)",
        a.systems.len(),
        a.generated_at.strftime("%Y-%m-%d %H:%M UTC"),
        a.findings.len(),
        a.count(Severity::Critical),
        a.count(Severity::High),
        a.count(Severity::Medium),
        a.count(Severity::Low)
    )
}

fn by_kind(a: &Audit, kind: Kind) -> Vec<&Finding> {
    a.findings.iter().filter(|f| f.kind == kind).collect()
}

/// Kinds present, worst severity first (the findings are already sorted that way).
fn kinds(a: &Audit) -> Vec<Kind> {
    let mut out: Vec<Kind> = Vec::new();
    for f in &a.findings {
        if !out.contains(&f.kind) {
            out.push(f.kind);
        }
    }
    out
}

pub fn text(a: &Audit) -> String {
    let a = &for_display(a);
    let mut out = String::new();
    let _ = writeln!(out, "{}", headline(a));
    if a.findings.is_empty() {
        let _ = writeln!(
            out,
            "\nNo findings. Every account is owned, explained and current."
        );
        return out;
    }
    for kind in kinds(a) {
        let findings = by_kind(a, kind);
        let _ = writeln!(
            out,
            "\n{} {} ({}): {}",
            kind.severity().as_str().to_uppercase(),
            kind.as_str(),
            findings.len(),
            kind.description()
        );
        let sw = findings.iter().map(|f| f.system.len()).max().unwrap_or(0);
        let iw = findings.iter().map(|f| f.account.len()).max().unwrap_or(0);
        // Each remediation once per kind: the same advice under every finding is noise.
        let mut fixes: Vec<&str> = Vec::new();
        for f in &findings {
            if !fixes.contains(&f.remediation.as_str()) {
                fixes.push(&f.remediation);
            }
        }
        for fix in &fixes {
            let _ = writeln!(out, "  fix: {fix}");
        }
        for f in findings {
            let owner = f
                .owner
                .as_ref()
                .map(|o| format!(" [{o}]"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  {:<sw$}  {:<iw$}  {}{owner}: {}",
                f.system, f.account, f.account_label, f.evidence
            );
        }
    }
    let _ = writeln!(out, "\nFindings per system:");
    let sw = a
        .systems
        .iter()
        .map(|s| s.system.len())
        .max()
        .unwrap_or(6)
        .max(6);
    // Columns only for the kinds found: a table of zeros hides the ones that matter.
    let found: Vec<Kind> = Kind::ALL
        .into_iter()
        .filter(|k| a.findings.iter().any(|f| f.kind == *k))
        .collect();
    let _ = write!(out, "  {:<sw$}", "System");
    for kind in &found {
        let _ = write!(out, "  {:>15}", kind.as_str());
    }
    let _ = writeln!(out);
    for s in &a.systems {
        let _ = write!(out, "  {:<sw$}", s.system);
        for &kind in &found {
            let n = a
                .findings
                .iter()
                .filter(|f| f.system == s.system && f.kind == kind)
                .count();
            let _ = write!(out, "  {:>15}", n);
        }
        let _ = writeln!(out);
    }
    out
}

pub fn json(a: &Audit) -> String {
    // Borrowed views with keys in alphabetical order: the same document as serialising
    // through `serde_json::Value`, without copying tens of thousands of findings first.
    #[derive(serde::Serialize)]
    struct Doc<'a> {
        counts: BTreeMap<&'static str, usize>,
        findings: Vec<FindingView<'a>>,
        generated_at: jiff::Timestamp,
        policy_hash: &'a str,
        roster_hash: &'a str,
        systems: Vec<SystemView<'a>>,
    }
    #[derive(serde::Serialize)]
    struct FindingView<'a> {
        account: &'a str,
        account_label: &'a str,
        evidence: &'a str,
        kind: Kind,
        owner: Option<&'a str>,
        policy_location: Option<&'a str>,
        remediation: &'a str,
        severity: Severity,
        system: &'a str,
    }
    #[derive(serde::Serialize)]
    struct SystemView<'a> {
        accounts: usize,
        findings: usize,
        system: &'a str,
    }
    let doc = Doc {
        counts: SEVERITIES
            .iter()
            .map(|s| (s.as_str(), a.count(*s)))
            .collect(),
        findings: a
            .findings
            .iter()
            .map(|f| FindingView {
                account: &f.account,
                account_label: &f.account_label,
                evidence: &f.evidence,
                kind: f.kind,
                owner: f.owner.as_deref(),
                policy_location: f.policy_location.as_deref(),
                remediation: &f.remediation,
                severity: f.severity,
                system: &f.system,
            })
            .collect(),
        generated_at: a.generated_at,
        policy_hash: &a.policy_hash,
        roster_hash: &a.roster_hash,
        systems: a
            .systems
            .iter()
            .map(|s| SystemView {
                accounts: s.accounts,
                findings: s.findings,
                system: &s.system,
            })
            .collect(),
    };
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}

use crate::plan::render::markdown::cell;

fn md(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

pub fn markdown(a: &Audit) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "### offboard audit\n\n**{}**\n", md(&headline(a)));
    if a.findings.is_empty() {
        let _ = writeln!(out, "No findings.");
        return out;
    }
    let _ = writeln!(out, "| Kind | Severity | Findings |\n|---|---|--:|");
    for kind in kinds(a) {
        let _ = writeln!(
            out,
            "| {} | {} | {} |",
            kind.as_str(),
            kind.severity().as_str(),
            by_kind(a, kind).len()
        );
    }
    for kind in kinds(a) {
        let _ = writeln!(
            out,
            "\n#### {} ({})\n\n{}\n",
            kind.as_str(),
            kind.severity().as_str(),
            kind.description()
        );
        let _ = writeln!(
            out,
            "| System | Account | Owner | Evidence | Remediation |\n|---|---|---|---|---|"
        );
        for f in by_kind(a, kind) {
            let _ = writeln!(
                out,
                "| {} | `{}` {} | {} | {} | {} |",
                // What systems, the roster and operators wrote is escaped like the plan's
                // cells (no links, tags or mentions in a PR comment); the remediation is ours.
                cell(&f.system),
                cell(&f.account),
                cell(&f.account_label),
                cell(f.owner.as_deref().unwrap_or("")),
                cell(&f.evidence),
                md(&f.remediation)
            );
        }
    }
    out
}

fn sarif_level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low => "note",
    }
}

/// `policies/systems.kdl:12:1` -> (`policies/systems.kdl`, 12, 1).
fn split_location(loc: &str) -> Option<(&str, u64, u64)> {
    let mut parts = loc.rsplitn(3, ':');
    let column = parts.next()?.parse().ok()?;
    let line = parts.next()?.parse().ok()?;
    Some((parts.next()?, line, column))
}

pub fn sarif(a: &Audit) -> String {
    let rules: Vec<serde_json::Value> = Kind::ALL
        .iter()
        .map(|k| {
            json!({
                "id": k.as_str(),
                "name": k.as_str(),
                "shortDescription": {"text": k.description()},
                "defaultConfiguration": {"level": sarif_level(k.severity())},
                "properties": {"severity": k.severity().as_str()},
            })
        })
        .collect();
    let results: Vec<serde_json::Value> = a
        .findings
        .iter()
        .map(|f| {
            let mut result = json!({
                "ruleId": f.kind.as_str(),
                "ruleIndex": Kind::ALL.iter().position(|k| *k == f.kind).unwrap_or(0),
                "level": sarif_level(f.severity),
                "message": {"text": format!("{} {} ({}): {}. Fix: {}", f.system, f.account, f.account_label, f.evidence, f.remediation)},
                "partialFingerprints": {"offboardFinding/v1": format!("{}/{}/{}", f.kind.as_str(), f.system, f.account)},
                "properties": {"severity": f.severity.as_str(), "system": f.system, "account": f.account, "owner": f.owner},
            });
            if let Some((uri, line, column)) = f.policy_location.as_deref().and_then(split_location) {
                result["locations"] = json!([{
                    "physicalLocation": {
                        "artifactLocation": {"uri": uri},
                        "region": {"startLine": line, "startColumn": column}
                    }
                }]);
            }
            result
        })
        .collect();
    let value = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "offboard",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/offboard/offboard",
                "rules": rules,
            }},
            "results": results,
        }],
    });
    serde_json::to_string_pretty(&value).unwrap_or_default() + "\n"
}

/// Escape text for XML and HTML (attributes included).
/// Escape text for XML (attribute or element); characters XML 1.0 does not allow at all
/// (most C0 controls, lone surrogates cannot occur in Rust strings, U+FFFE/U+FFFF) are
/// replaced by U+FFFD, so the file stays well-formed whatever a system returned.
/// A copy of the audit whose texts show control characters as visible escapes (see
/// [`crate::escape`]); JSON, SARIF and JUnit keep the values (escaped for their format).
fn for_display(a: &Audit) -> Audit {
    use crate::escape::terminal_in_place as esc;
    let mut a = a.clone();
    for f in &mut a.findings {
        esc(&mut f.system);
        esc(&mut f.account);
        esc(&mut f.account_label);
        esc(&mut f.evidence);
        if let Some(o) = &mut f.owner {
            esc(o);
        }
    }
    a
}

pub(crate) fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// JUnit: one test case per finding (and one passing case per system without findings),
/// so CI counts what it shows. A finding at or above `fail_on` is a failure; one below it is
/// skipped, so the file fails exactly when `audit --fail-on` exits 2.
pub fn junit(a: &Audit, fail_on: super::Severity) -> String {
    let failures = a.findings.iter().filter(|f| f.severity >= fail_on).count();
    let skipped = a.findings.len() - failures;
    let clean: Vec<&str> = a
        .systems
        .iter()
        .filter(|s| !a.findings.iter().any(|f| f.system == s.system))
        .map(|s| s.system.as_str())
        .collect();
    let tests = a.findings.len() + clean.len();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"offboard audit\" tests=\"{tests}\" failures=\"{failures}\" skipped=\"{skipped}\">"
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"offboard audit\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" timestamp=\"{}\">",
        a.generated_at
    );
    for f in &a.findings {
        let _ = writeln!(
            out,
            "    <testcase classname=\"offboard.audit.{}\" name=\"{} {}\">",
            xml(&f.system),
            f.kind.as_str(),
            xml(&f.account)
        );
        let message = xml(&format!(
            "{} {}: {}",
            f.severity.as_str(),
            f.account,
            f.evidence
        ));
        let detail = xml(&format!(
            "{} ({}). Fix: {}",
            f.account_label,
            f.owner.as_deref().unwrap_or("no owner"),
            f.remediation
        ));
        if f.severity >= fail_on {
            let _ = writeln!(
                out,
                "      <failure type=\"{}\" message=\"{message}\">{detail}</failure>",
                f.kind.as_str()
            );
        } else {
            let _ = writeln!(
                out,
                "      <skipped message=\"{} finding, below --fail-on {}: {message}\"/>",
                f.severity.as_str(),
                fail_on.as_str()
            );
        }
        let _ = writeln!(out, "    </testcase>");
    }
    for system in clean {
        let _ = writeln!(
            out,
            "    <testcase classname=\"offboard.audit.{}\" name=\"no findings\"/>",
            xml(system)
        );
    }
    let _ = writeln!(out, "  </testsuite>\n</testsuites>");
    out
}

fn kind_color(k: Kind) -> &'static str {
    match k {
        Kind::LeaverActive => "#b91c1c",
        Kind::Recreated => "#7f1d1d",
        Kind::Orphan => "#ea580c",
        Kind::Disputed => "#ca8a04",
        Kind::ExcessAccess => "#a16207",
        Kind::StaleExemption => "#2563eb",
        Kind::Dormant => "#6b7280",
        Kind::UndatedLeaver => "#9333ea",
        Kind::UnconfirmedOverride => "#be185d",
        Kind::HrDisagrees => "#0f766e",
    }
}

/// One self-contained page: figures, a stacked bar chart per system and kind, sortable table.
pub fn html(a: &Audit) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>offboard audit</title>\n<style>\
body{{font-family:system-ui,sans-serif;margin:2rem;color:#111}}h1{{font-size:1.4rem}}\
.figures{{display:flex;gap:1rem;margin:1rem 0}}.figure{{border:1px solid #ddd;border-radius:6px;padding:.6rem 1rem;min-width:7rem}}\
.figure b{{display:block;font-size:1.6rem}}table{{border-collapse:collapse;width:100%;font-size:.9rem}}\
th,td{{border-bottom:1px solid #eee;padding:.3rem .5rem;text-align:left;vertical-align:top}}th{{cursor:pointer;background:#f6f6f6}}\
.critical{{color:#b91c1c;font-weight:600}}.high{{color:#ea580c;font-weight:600}}.medium{{color:#a16207}}.low{{color:#6b7280}}\
.legend span{{display:inline-block;margin-right:1rem}}.legend i{{display:inline-block;width:.8rem;height:.8rem;margin-right:.3rem}}\
</style></head><body>\n<h1>offboard audit</h1>\n<p id=\"headline\">{}</p>\n<div class=\"figures\">",
        xml(&headline(a))
    );
    let _ = write!(
        out,
        "<div class=\"figure\"><b id=\"total-findings\">{}</b>findings</div>",
        a.findings.len()
    );
    for s in SEVERITIES {
        let _ = write!(
            out,
            "<div class=\"figure {0}\"><b id=\"count-{0}\">{1}</b>{0}</div>",
            s.as_str(),
            a.count(s)
        );
    }
    let _ = writeln!(
        out,
        "<div class=\"figure\"><b id=\"system-count\">{}</b>systems</div></div>",
        a.systems.len()
    );

    // Stacked horizontal bars: one row per system, one segment per kind.
    let max = a
        .systems
        .iter()
        .map(|s| s.findings)
        .max()
        .unwrap_or(0)
        .max(1);
    let row = 26;
    let height = a.systems.len() * row + 10;
    let _ = write!(
        out,
        "<h2>Findings per system and kind</h2>\n<svg id=\"chart\" role=\"img\" width=\"760\" height=\"{height}\" xmlns=\"http://www.w3.org/2000/svg\">"
    );
    for (i, s) in a.systems.iter().enumerate() {
        let y = i * row + 4;
        let _ = write!(
            out,
            "<text x=\"0\" y=\"{}\" font-size=\"12\">{}</text>",
            y + 14,
            xml(&s.system)
        );
        let mut x = 150.0;
        for kind in Kind::ALL {
            let n = a
                .findings
                .iter()
                .filter(|f| f.system == s.system && f.kind == kind)
                .count();
            if n == 0 {
                continue;
            }
            let w = 560.0 * n as f64 / max as f64;
            let _ = write!(
                out,
                "<rect class=\"bar\" data-system=\"{}\" data-kind=\"{}\" data-count=\"{n}\" x=\"{x:.1}\" y=\"{y}\" width=\"{w:.1}\" height=\"18\" fill=\"{}\"><title>{} {}: {n}</title></rect>",
                xml(&s.system),
                kind.as_str(),
                kind_color(kind),
                xml(&s.system),
                kind.as_str()
            );
            x += w;
        }
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{}\" font-size=\"12\">{}</text>",
            x + 6.0,
            y + 14,
            s.findings
        );
    }
    let _ = write!(out, "</svg>\n<p class=\"legend\">");
    for kind in Kind::ALL {
        let _ = write!(
            out,
            "<span><i style=\"background:{}\"></i>{}</span>",
            kind_color(kind),
            kind.as_str()
        );
    }
    let _ = write!(
        out,
        "</p>\n<h2>Findings</h2>\n<table id=\"findings\"><thead><tr>"
    );
    for h in [
        "Severity",
        "Kind",
        "System",
        "Account",
        "Owner",
        "Evidence",
        "Remediation",
    ] {
        let _ = write!(out, "<th>{h}</th>");
    }
    let _ = writeln!(out, "</tr></thead><tbody>");
    for f in &a.findings {
        let _ = writeln!(
            out,
            "<tr data-rank=\"{}\"><td class=\"{sev}\" data-sort=\"{}\">{sev}</td><td>{}</td><td>{}</td><td><code>{}</code> {}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            f.severity as u8,
            f.severity as u8,
            f.kind.as_str(),
            xml(&f.system),
            xml(&f.account),
            xml(&f.account_label),
            xml(f.owner.as_deref().unwrap_or("")),
            xml(&f.evidence),
            xml(&f.remediation),
            sev = f.severity.as_str(),
        );
    }
    let _ = write!(
        out,
        "</tbody></table>\n<script>\
document.querySelectorAll('#findings th').forEach(function(th,col){{th.addEventListener('click',function(){{\
var body=document.querySelector('#findings tbody');var rows=Array.from(body.rows);var asc=th.dataset.asc!=='1';th.dataset.asc=asc?'1':'0';\
rows.sort(function(a,b){{var x=a.cells[col].dataset.sort||a.cells[col].textContent;var y=b.cells[col].dataset.sort||b.cells[col].textContent;\
return (x<y?-1:x>y?1:0)*(asc?1:-1);}});rows.forEach(function(r){{body.appendChild(r);}});}});}});\
document.getElementById('chart').setAttribute('data-bars',document.querySelectorAll('#chart rect.bar').length);\
</script>\n</body></html>\n"
    );
    out
}
