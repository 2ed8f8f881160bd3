//! Printing a scan: the JSON document and the readable table.

use std::fmt::Write as _;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use upkeep_resolvers::manager::{Dependency, DependencyKind};
use upkeep_resolvers::problem::Problem;
use upkeep_resolvers::runtime::RuntimeBlock;
use upkeep_resolvers::scan::{ScanReport, ScannedDependency};
use upkeep_resolvers::versioning::UpdateKind;

/// What the registry lookup found for one dependency of a scan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolution {
    /// Whether the dependency was looked up and its registry answered with a release set
    /// (`false` for skipped dependencies and failed lookups: every field below is then `None`).
    pub resolved: bool,
    /// The locked version when known, else the lowest version the requirement allows.
    pub current: Option<String>,
    /// The newest stable non-yanked release (a prerelease only when `current` is one).
    pub latest: Option<String>,
    /// What the tree's policy recommends (the in-major target first, as the service does);
    /// `None` when nothing newer is allowed.
    pub recommended: Option<String>,
    /// The kind of the change `current` → `latest`; `None` when already current or unknown.
    pub update: Option<UpdateKind>,
    /// When `latest` was published, when the registry says.
    pub published_at: Option<DateTime<Utc>>,
    /// Why there is no answer: the lookup failed, or no release satisfies the requirement.
    pub problem: Option<Problem>,
    /// The newer release the policy would recommend but the tree's declared runtime does not
    /// admit.
    pub blocked_by_runtime: Option<RuntimeBlock>,
}

#[derive(Serialize)]
struct JsonResolution<'a> {
    current: Option<&'a str>,
    latest: Option<&'a str>,
    recommended: Option<&'a str>,
    update: Option<&'static str>,
    published_at: Option<String>,
    problem: Option<&'a Problem>,
    blocked_by_runtime: Option<&'a RuntimeBlock>,
}

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
    /// Present only when the scan looked dependencies up (not `--offline`).
    #[serde(flatten)]
    resolution: Option<JsonResolution<'a>>,
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

/// The offline scan as one JSON object.
pub fn to_json(report: &ScanReport) -> String {
    json(report, None)
}

/// The scan with its registry lookups as one JSON object: every entry also carries `current`,
/// `latest`, `recommended`, `update`, `published_at`, `problem` (`{code, message}` or null) and
/// `blocked_by_runtime` (`{version, runtime, requires, runtime_version}` or null: the newer
/// release held back by the tree's declared runtime). `resolutions` is parallel to
/// `report.dependencies`; a missing entry counts as not looked up.
pub fn to_json_resolved(report: &ScanReport, resolutions: &[Resolution]) -> String {
    json(report, Some(resolutions))
}

fn json(report: &ScanReport, resolutions: Option<&[Resolution]>) -> String {
    let none = Resolution::default();
    let doc = JsonReport {
        dependencies: report
            .dependencies
            .iter()
            .enumerate()
            .map(|(index, d)| JsonDependency {
                manifest: &d.manifest,
                manager: d.manager.as_str(),
                ecosystem: d.dependency.ecosystem.as_str(),
                name: &d.dependency.name,
                requirement: d.dependency.requirement.as_deref(),
                locked: d.dependency.locked.as_deref(),
                kind: d.dependency.kind.as_str(),
                skipped: d.dependency.skip.map(upkeep_resolvers::SkipReason::as_str),
                resolution: resolutions.map(|all| {
                    let r = all.get(index).unwrap_or(&none);
                    JsonResolution {
                        current: r.current.as_deref(),
                        latest: r.latest.as_deref(),
                        recommended: r.recommended.as_deref(),
                        update: r.update.map(UpdateKind::as_str),
                        published_at: r
                            .published_at
                            .map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
                        problem: r.problem.as_ref(),
                        blocked_by_runtime: r.blocked_by_runtime.as_ref(),
                    }
                }),
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

/// The requirement as the tables show it: `*` for a dependency written without one (any version
/// does), `-` when there is none to show (a skipped or lockfile-only entry).
fn shown_requirement(d: &Dependency) -> &str {
    match d.requirement.as_deref() {
        Some(requirement) => requirement,
        None if d.skip.is_none() && d.kind != DependencyKind::Transitive => "*",
        None => "-",
    }
}

/// The offline scan as a table grouped by manifest.
pub fn to_table(report: &ScanReport) -> String {
    let mut out = String::new();
    for_each_manifest(report, &mut out, |out, _, dep| {
        let d = &dep.dependency;
        let requirement = shown_requirement(d);
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
    });
    warnings_and_total(report, &mut out, "");
    out
}

/// The scan with its registry lookups as a table grouped by manifest: one line per dependency,
/// `name  requirement  current → latest  (kind)`.
pub fn to_table_resolved(report: &ScanReport, resolutions: &[Resolution]) -> String {
    let name_width = column_width(report.dependencies.iter().map(|d| d.dependency.name.len()));
    let requirement_width = column_width(
        report
            .dependencies
            .iter()
            .map(|d| d.dependency.requirement.as_deref().map_or(1, str::len)),
    );
    let none = Resolution::default();
    let mut counts = [0usize; 3];
    let mut out = String::new();
    for_each_manifest(report, &mut out, |out, index, dep| {
        let d = &dep.dependency;
        let r = resolutions.get(index).unwrap_or(&none);
        let requirement = shown_requirement(d);
        let status = if let Some(skip) = d.skip {
            format!("[skipped: {}]", skip.as_str())
        } else if let Some(problem) = r.problem.as_ref().filter(|_| !r.resolved) {
            format!("[{}: {}]", problem.code, problem.message)
        } else if !r.resolved {
            "[not looked up]".to_owned()
        } else {
            let current = r.current.as_deref().unwrap_or("?");
            match (r.latest.as_deref(), r.update) {
                (Some(latest), Some(kind)) => {
                    counts[match kind {
                        UpdateKind::Major => 0,
                        UpdateKind::Minor => 1,
                        UpdateKind::Patch => 2,
                    }] += 1;
                    let mut recommended = match r.recommended.as_deref() {
                        Some(target) if target != latest => format!(", recommended {target}"),
                        _ => String::new(),
                    };
                    if let Some(block) = &r.blocked_by_runtime {
                        let _ = write!(recommended, "; {block}");
                    }
                    format!(
                        "{current} \u{2192} {latest}  ({}{recommended})",
                        kind.as_str()
                    )
                }
                (Some(latest), None) if r.current.is_none() => format!("? \u{2192} {latest}"),
                (Some(_), None) => format!("{current}  (up to date)"),
                (None, _) => match &r.problem {
                    Some(problem) => format!("{current}  [{}: {}]", problem.code, problem.message),
                    None => format!("{current}  (no usable release)"),
                },
            }
        };
        let _ = writeln!(
            out,
            "  {:<name_width$}  {:<requirement_width$}  {status}",
            d.name, requirement
        );
    });
    let outdated: usize = counts.iter().sum();
    let summary = format!(
        ", {outdated} outdated ({} major, {} minor, {} patch)",
        counts[0], counts[1], counts[2]
    );
    warnings_and_total(report, &mut out, &summary);
    out
}

/// The width of a column: its longest cell, within reason.
fn column_width(lengths: impl Iterator<Item = usize>) -> usize {
    lengths.max().unwrap_or(1).clamp(1, 40)
}

/// Calls `row` for every dependency (with its index), printing a heading before each manifest.
fn for_each_manifest(
    report: &ScanReport,
    out: &mut String,
    mut row: impl FnMut(&mut String, usize, &ScannedDependency),
) {
    let mut current: Option<&str> = None;
    for (index, dep) in report.dependencies.iter().enumerate() {
        if current != Some(dep.manifest.as_str()) {
            let _ = writeln!(out, "\n{} ({})", dep.manifest, dep.manager);
            current = Some(&dep.manifest);
        }
        row(out, index, dep);
    }
}

fn warnings_and_total(report: &ScanReport, out: &mut String, extra: &str) {
    if !report.warnings.is_empty() {
        let _ = writeln!(out, "\nwarnings:");
        for w in &report.warnings {
            let line = w.line.map(|l| format!(":{l}")).unwrap_or_default();
            let _ = writeln!(out, "  {}{}: {}", w.manifest, line, w.message);
        }
    }
    let _ = writeln!(
        out,
        "\n{}{extra}, {}",
        crate::cli_views::counted_as(report.dependencies.len(), "dependency", "dependencies"),
        crate::cli_views::counted(report.warnings.len(), "warning")
    );
}
