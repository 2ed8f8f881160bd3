//! Printing a scan: the JSON document and the readable table.

use std::fmt::Write as _;

use serde::Serialize;
use upkeep_resolvers::scan::ScanReport;

#[derive(Serialize)]
struct JsonDependency<'a> {
    manifest: &'a str,
    manager: &'a str,
    ecosystem: &'a str,
    name: &'a str,
    requirement: Option<&'a str>,
    locked: Option<&'a str>,
    kind: &'a str,
    skipped: Option<&'a str>,
}

#[derive(Serialize)]
struct JsonWarning<'a> {
    manifest: &'a str,
    line: Option<usize>,
    message: &'a str,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    dependencies: Vec<JsonDependency<'a>>,
    warnings: Vec<JsonWarning<'a>>,
}

/// The scan as one JSON object.
pub fn to_json(report: &ScanReport) -> String {
    let doc = JsonReport {
        dependencies: report
            .dependencies
            .iter()
            .map(|d| JsonDependency {
                manifest: &d.manifest,
                manager: d.manager.as_str(),
                ecosystem: d.dependency.ecosystem.as_str(),
                name: &d.dependency.name,
                requirement: d.dependency.requirement.as_deref(),
                locked: d.dependency.locked.as_deref(),
                kind: d.dependency.kind.as_str(),
                skipped: d.dependency.skip.map(upkeep_resolvers::SkipReason::as_str),
            })
            .collect(),
        warnings: report
            .warnings
            .iter()
            .map(|w| JsonWarning {
                manifest: &w.manifest,
                line: w.line,
                message: &w.message,
            })
            .collect(),
    };
    serde_json::to_string_pretty(&doc).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// The scan as a table grouped by manifest.
pub fn to_table(report: &ScanReport) -> String {
    let mut out = String::new();
    let mut current: Option<&str> = None;
    for dep in &report.dependencies {
        if current != Some(dep.manifest.as_str()) {
            let _ = writeln!(out, "\n{} ({})", dep.manifest, dep.manager);
            current = Some(&dep.manifest);
        }
        let d = &dep.dependency;
        let requirement = d.requirement.as_deref().unwrap_or("-");
        let locked = d
            .locked
            .as_deref()
            .map(|l| format!(" (locked {l})"))
            .unwrap_or_default();
        let skipped = d
            .skip
            .map(|s| format!("  [skipped: {}]", s.as_str()))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {:<40} {:<20}{} {}{}",
            d.name,
            requirement,
            locked,
            d.kind.as_str(),
            skipped
        );
    }
    if !report.warnings.is_empty() {
        let _ = writeln!(out, "\nwarnings:");
        for w in &report.warnings {
            let line = w.line.map(|l| format!(":{l}")).unwrap_or_default();
            let _ = writeln!(out, "  {}{}: {}", w.manifest, line, w.message);
        }
    }
    let _ = writeln!(
        out,
        "\n{} dependencies, {} warnings",
        report.dependencies.len(),
        report.warnings.len()
    );
    out
}
