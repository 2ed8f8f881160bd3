use std::path::{Path, PathBuf};

use serde::Serialize;

use super::extract;
use crate::manager::{DependencyKind, SkipReason};
use crate::manager::{Extraction, LockedPackage, Manager};

/// Every file under `dir`, sorted, as paths relative to `dir` with `/` separators.
pub(crate) fn fixture_files(dir: &Path) -> Vec<(String, PathBuf)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let mut entries: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(root, &path, out);
            } else if path.file_name().is_some_and(|n| n != "README.md") {
                let rel = path.strip_prefix(root).unwrap_or(&path);
                let rel = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                out.push((rel, path.clone()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out
}

/// What a snapshot records: the whole extraction, except that long lock lists are summarised
/// (count, direct entries, and the first 30) so snapshots stay reviewable.
#[derive(Serialize)]
struct Snapshot<'a> {
    dependencies: &'a [crate::manager::Dependency],
    warnings: &'a [crate::manager::Warning],
    lock_count: usize,
    direct_locks: Vec<&'a LockedPackage>,
    first_locks: &'a [LockedPackage],
}

/// Snapshot the extraction of every fixture of `manager` under
/// `src/manager/<module>/fixtures`; returns how many files were checked.
pub(crate) fn snapshot_fixtures(manager: Manager, module: &str) -> usize {
    let base = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/manager")
        .join(module);
    let files = fixture_files(&base.join("fixtures"));
    let mut checked = 0;
    for (rel, path) in files {
        if !manager.matches(&rel) {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("fixture is UTF-8");
        let extraction: Extraction = manager.extract(&rel, &text);
        for dep in &extraction.dependencies {
            if let Some(span) = dep.span {
                assert_eq!(
                    span.slice(&text),
                    dep.requirement.as_deref(),
                    "{rel}: span of {}",
                    dep.name
                );
            }
        }
        let snapshot = Snapshot {
            dependencies: &extraction.dependencies,
            warnings: &extraction.warnings,
            lock_count: extraction.locks.len(),
            direct_locks: extraction.locks.iter().filter(|l| l.direct).collect(),
            first_locks: extraction.locks.get(..30).unwrap_or(&extraction.locks),
        };
        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_path(base.join("snapshots"));
        settings.set_prepend_module_to_snapshot(false);
        settings.set_input_file(&path);
        let name = rel.replace('/', "__");
        settings.bind(|| insta::assert_yaml_snapshot!(name, snapshot));
        checked += 1;
    }
    checked
}

#[test]
fn fixtures_snapshot() {
    assert!(snapshot_fixtures(Manager::Cargo, "cargo") >= 10);
}

#[test]
fn matches_file_names() {
    assert!(super::matches("Cargo.toml"));
    assert!(super::matches("crates/x/Cargo.lock"));
    assert!(super::matches("rust-toolchain"));
    assert!(super::matches("a/rust-toolchain.toml"));
    assert!(!super::matches("Cargo.toml.orig"));
}

#[test]
fn workspace_inheritance_and_renames() {
    let text = "[workspace.dependencies]\nserde = \"1.0.1\"\n\n[dependencies]\nserde = { workspace = true, optional = true }\njson = { package = \"serde_json\", version = \"1\" }\n";
    let out = extract("Cargo.toml", text);
    let names: Vec<_> = out
        .dependencies
        .iter()
        .map(|d| (d.name.as_str(), d.requirement.as_deref(), d.kind, d.skip))
        .collect();
    assert_eq!(
        names,
        vec![
            ("serde", Some("1.0.1"), DependencyKind::Managed, None),
            (
                "serde",
                None,
                DependencyKind::Optional,
                Some(SkipReason::Workspace)
            ),
            ("serde_json", Some("1"), DependencyKind::Normal, None),
        ]
    );
}

#[test]
fn invalid_toml_is_a_warning_with_line() {
    let out = extract("Cargo.toml", "[dependencies]\nserde = \"1\n");
    assert!(out.dependencies.is_empty());
    assert_eq!(out.warnings.len(), 1);
    assert_eq!(out.warnings.first().and_then(|w| w.line), Some(2));
}

#[test]
fn lockfile_direct_flags() {
    let text = "version = 4\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\ndependencies = [\"itoa 1.0.1\", \"ryu\"]\n\n[[package]]\nname = \"itoa\"\nversion = \"1.0.1\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n\n[[package]]\nname = \"itoa\"\nversion = \"0.4.8\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n\n[[package]]\nname = \"ryu\"\nversion = \"1.0.18\"\nsource = \"sparse+https://index.example.invalid/\"\n";
    let out = extract("Cargo.lock", text);
    let locks: Vec<_> = out
        .locks
        .iter()
        .map(|l| (l.name.as_str(), l.version.as_str(), l.direct))
        .collect();
    assert_eq!(
        locks,
        vec![
            ("itoa", "1.0.1", true),
            ("itoa", "0.4.8", false),
            ("ryu", "1.0.18", true)
        ]
    );
}

#[test]
fn toolchain_files() {
    let out = extract("rust-toolchain", "1.78.0\n");
    let dep = out.dependencies.first().expect("one toolchain");
    assert_eq!(
        (dep.name.as_str(), dep.requirement.as_deref()),
        ("rust", Some("1.78.0"))
    );
    assert_eq!(dep.skip, None);
    let out = extract("rust-toolchain.toml", "[toolchain]\nchannel = \"stable\"\n");
    let dep = out.dependencies.first().expect("one toolchain");
    assert_eq!(dep.skip, Some(SkipReason::NoVersion));
}
