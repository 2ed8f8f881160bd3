//! `upkeep scan PATH`: extract every manifest under `PATH`, then (unless `--offline`) look every
//! non-skipped dependency up in its registry, each unique package once, and print what is
//! current, what is latest, what the tree's policy (`.upkeep.toml` at `PATH`, read by
//! [`crate::policy::read_policy_file`]) recommends and the kind of each update. The
//! recommendation is the service's: one function ([`crate::resolve::plan::assess`]) answers
//! for both, so a scan and the service agree on one tree. The runtimes the tree's toolchain
//! entries declare (`requires-python`, `.python-version`, `.nvmrc`, `engines.node`,
//! `rust-toolchain`) hold back releases that need a newer one.

use std::collections::{BTreeMap, HashSet};
use std::io::IsTerminal as _;
use std::path::Path;
use std::time::Duration;

use upkeep_resolvers::Ecosystem;
use upkeep_resolvers::lookup::{DEFAULT_CONCURRENCY, LookupProgress, lookup_all};
use upkeep_resolvers::manager::DependencyKind;
use upkeep_resolvers::problem::Problem;
use upkeep_resolvers::registry::Registries;
use upkeep_resolvers::runtime::Runtimes;
use upkeep_resolvers::scan::{ScanOptions, ScanReport, ScanWarning, scan, scan_file};
use upkeep_resolvers::versioning::UpdateKind;

use crate::cli::{ScanArgs, ScanFormat};
use crate::config::Config;
use crate::policy::{POLICY_FILE, RepoPolicy, read_policy_file};
use crate::resolve::plan::{Context, Subject, assess};
use crate::scan_output::{self, Resolution};

/// What a scan prints, and the largest update it found (for `--fail-on`).
pub struct ScanOutcome {
    pub text: String,
    /// The largest kind of update among the dependencies shown; `None` offline or when every
    /// dependency is current.
    pub largest_update: Option<UpdateKind>,
}

/// Runs the scan and returns the text to print on stdout. `config_file` is `--config`; a missing
/// or invalid configuration is not fatal here: the scan warns on stderr and uses the defaults.
pub async fn run(args: &ScanArgs, config_file: Option<&Path>) -> Result<ScanOutcome, String> {
    let mut options = ScanOptions::default();
    options.skip_dirs.retain(|d| !args.include_dirs.contains(d));
    let scanned = if args.path.is_file() {
        scan_file(&args.path)
    } else {
        scan(&args.path, &options)
    };
    let mut report = scanned.map_err(|e| format!("cannot scan {}: {e}", args.path.display()))?;
    let policy = tree_policy(&args.path, &mut report);
    if args.offline {
        if args.direct {
            report
                .dependencies
                .retain(|d| d.dependency.kind != DependencyKind::Transitive);
        }
        let text = match args.format {
            ScanFormat::Json => scan_output::to_json(&report),
            ScanFormat::Table => scan_output::to_table(&report),
        };
        return Ok(ScanOutcome {
            text,
            largest_update: None,
        });
    }
    let config = scan_config(config_file)?;
    let registries = crate::services::registries_from_config(&config).map_err(|e| e.to_string())?;
    let show_progress = std::io::stderr().is_terminal();
    let mut resolutions = resolve(&registries, &mut report, &policy, show_progress).await;
    if args.direct {
        let keep: Vec<bool> = report
            .dependencies
            .iter()
            .map(|d| d.dependency.kind != DependencyKind::Transitive)
            .collect();
        let mut flags = keep.iter();
        report
            .dependencies
            .retain(|_| *flags.next().unwrap_or(&true));
        let mut flags = keep.iter();
        resolutions.retain(|_| *flags.next().unwrap_or(&true));
    }
    let largest_update = resolutions.iter().filter_map(|r| r.update).max();
    let text = match args.format {
        ScanFormat::Json => scan_output::to_json_resolved(&report, &resolutions),
        ScanFormat::Table => scan_output::to_table_resolved(&report, &resolutions),
    };
    Ok(ScanOutcome {
        text,
        largest_update,
    })
}

/// The configuration for a scan: the usual one when it loads; otherwise a warning on stderr and
/// the defaults, keeping the registry overrides and cache directory from the environment when
/// those alone are valid. A scan never needs database or server settings.
pub fn scan_config(config_file: Option<&Path>) -> Result<Config, String> {
    match Config::load(config_file) {
        Ok(config) => Ok(config),
        Err(error) => {
            let env: BTreeMap<String, String> = std::env::vars()
                .filter(|(k, _)| k.starts_with("UPKEEP_REGISTRY_") || k == "UPKEEP_CACHE_DIR")
                .collect();
            let config = Config::from_sources(None, &env)
                .or_else(|_| Config::from_sources(None, &BTreeMap::new()))
                .map_err(|defaults| {
                    format!("{error}; the built-in defaults fail too: {defaults}")
                })?;
            eprintln!("warning: {error}; scanning with the default settings");
            Ok(config)
        }
    }
}

/// The policy of the scanned tree: its `.upkeep.toml` when `path` is a directory holding a valid
/// one; the default policy otherwise, with a warning on the file when it is invalid (as a crawl
/// keeps a warning on it).
fn tree_policy(path: &Path, report: &mut ScanReport) -> RepoPolicy {
    if !path.is_dir() {
        return RepoPolicy::default();
    }
    match read_policy_file(path) {
        Ok(policy) => policy.unwrap_or_default(),
        Err(problem) => {
            report.warnings.push(ScanWarning {
                manifest: POLICY_FILE.to_owned(),
                line: None,
                message: format!("{problem}; the default policy applies"),
            });
            RepoPolicy::default()
        }
    }
}

/// Looks up every non-skipped dependency of `report` (each unique package once) and assesses
/// it under `policy`. Returns one [`Resolution`] per dependency, in order; a failed lookup
/// leaves that dependency unresolved with its problem, and adds a warning `"<name>: <error>"`
/// on the dependency's manifest (once per manifest and package).
pub async fn resolve(
    registries: &Registries,
    report: &mut ScanReport,
    policy: &RepoPolicy,
    show_progress: bool,
) -> Vec<Resolution> {
    let packages = report
        .dependencies
        .iter()
        .filter(|d| d.dependency.skip.is_none())
        .map(|d| (d.dependency.ecosystem, d.dependency.name.clone()));
    let bar = show_progress.then(|| {
        let bar =
            indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} resolving {pos}/{len} packages [{wide_bar}] {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    });
    let results = lookup_all(
        registries,
        packages,
        DEFAULT_CONCURRENCY,
        |p: LookupProgress<'_>| {
            if let Some(bar) = &bar {
                bar.set_length(p.total as u64);
                bar.set_position(p.done as u64);
                bar.set_message(p.name.to_owned());
            }
        },
    )
    .await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }

    let runtimes = Runtimes::declared_by(
        report
            .dependencies
            .iter()
            .map(|d| &d.dependency)
            .filter(|d| d.ecosystem == Ecosystem::Toolchain)
            .filter_map(|d| {
                let declaration = d.requirement.as_deref().or(d.locked.as_deref())?;
                Some((d.name.as_str(), declaration, d.skip.is_some()))
            }),
    );
    let context = Context {
        policy,
        runtimes: &runtimes,
        now: chrono::Utc::now(),
    };
    let mut warned = HashSet::new();
    let mut warnings = Vec::new();
    let resolutions = report
        .dependencies
        .iter()
        .map(|dep| {
            let d = &dep.dependency;
            if d.skip.is_some() {
                return Resolution::default();
            }
            match results.get(&(d.ecosystem, d.name.clone())) {
                Some(Ok(set)) => {
                    let subject = Subject {
                        ecosystem: d.ecosystem,
                        name: &d.name,
                        requirement: d.requirement.as_deref(),
                        locked: d.locked.as_deref(),
                        skipped: false,
                    };
                    let assessment = assess(subject, &set.releases, &context);
                    let recommended = assessment.recommended().map(|r| r.target_version.clone());
                    let e = assessment.evaluation;
                    Resolution {
                        resolved: true,
                        current: e.current,
                        latest: e.latest,
                        recommended,
                        update: e.update,
                        published_at: e.latest_published_at,
                        problem: assessment.problem,
                        blocked_by_runtime: assessment.blocked_by_runtime,
                    }
                }
                Some(Err(error)) => {
                    if warned.insert((dep.manifest.clone(), d.ecosystem, d.name.clone())) {
                        warnings.push(ScanWarning {
                            manifest: dep.manifest.clone(),
                            line: None,
                            message: format!("{}: {error}", d.name),
                        });
                    }
                    Resolution {
                        problem: Some(Problem::from_lookup(error)),
                        ..Resolution::default()
                    }
                }
                None => Resolution::default(),
            }
        })
        .collect();
    report.warnings.extend(warnings);
    resolutions
}
