//! Scan a directory tree: find every manifest, extract it, and pair manifests with lockfiles.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::Ecosystem;
use crate::manager::{
    Decoded, Dependency, DependencyKind, Extraction, LockedPackage, MAX_MANIFEST_BYTES, Manager,
    Property, decode,
};

/// Folders never descended into unless the caller changes the list.
pub const DEFAULT_SKIP_DIRS: &[&str] = &[
    ".git",
    "node_modules",
    "target",
    "vendor",
    ".venv",
    "venv",
    "__pycache__",
    ".tox",
    ".nox",
    "site-packages",
    "fixtures",
    "__fixtures__",
    "testdata",
    "test-fixtures",
];

#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Folder names (any depth) that are not scanned.
    pub skip_dirs: Vec<String>,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            skip_dirs: DEFAULT_SKIP_DIRS.iter().map(|s| (*s).to_owned()).collect(),
        }
    }
}

/// Is the file at `path` (relative, `/`-separated) inside a folder named in `skip_dirs`, at any
/// depth? The same rule as the directory walk of [`scan`], for file lists that come from elsewhere
/// (a git tree).
pub fn in_skipped_dir(path: &str, skip_dirs: &[String]) -> bool {
    let mut parts: Vec<&str> = path.split('/').collect();
    parts.pop();
    parts.iter().any(|dir| skip_dirs.iter().any(|s| s == dir))
}

/// One dependency found in one manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScannedDependency {
    /// Path of the manifest relative to the scanned root, `/`-separated.
    pub manifest: String,
    pub manager: Manager,
    #[serde(flatten)]
    pub dependency: Dependency,
}

/// A problem with one manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanWarning {
    pub manifest: String,
    pub line: Option<usize>,
    pub message: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanReport {
    pub dependencies: Vec<ScannedDependency>,
    pub warnings: Vec<ScanWarning>,
}

/// Scan the tree under `root`. I/O problems with single files become warnings; only an
/// unreadable `root` is an error.
pub fn scan(root: &Path, options: &ScanOptions) -> std::io::Result<ScanReport> {
    let mut files = Vec::new();
    let mut report = ScanReport::default();
    // Reading the root itself must work; deeper problems are warnings.
    std::fs::read_dir(root)?;
    walk(root, root, options, &mut files, &mut report);
    files.sort();
    extract_files(root, files, &mut report);
    Ok(report)
}

/// Scan one file: a manifest with the lockfiles of its managers beside it (so their pins apply),
/// or a lockfile alone. An error when the file cannot be read or no manager reads it.
pub fn scan_file(file: &Path) -> std::io::Result<ScanReport> {
    let invalid = |message: &str| std::io::Error::new(std::io::ErrorKind::InvalidInput, message);
    std::fs::metadata(file)?;
    let root = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = file
        .file_name()
        .ok_or_else(|| invalid("names no file"))?
        .to_string_lossy()
        .into_owned();
    let managers: Vec<Manager> = Manager::for_path(&name).collect();
    if managers.is_empty() {
        return Err(invalid("not a manifest or lockfile upkeep reads"));
    }
    let mut files = vec![name.clone()];
    for entry in std::fs::read_dir(root)?.flatten() {
        let sibling = entry.file_name().to_string_lossy().into_owned();
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        if sibling != name
            && is_file
            && Manager::for_path(&sibling).any(|m| managers.contains(&m) && m.is_lockfile(&sibling))
        {
            files.push(sibling);
        }
    }
    files.sort();
    let mut report = ScanReport::default();
    extract_files(root, files, &mut report);
    Ok(report)
}

/// Extract `files` (relative to `root`), pair lockfiles with manifests and add the results and
/// warnings to `report`.
fn extract_files(root: &Path, files: Vec<String>, report: &mut ScanReport) {
    let mut manifests: Vec<(String, Manager, Extraction)> = Vec::new();
    for rel in files {
        let managers: Vec<Manager> = Manager::for_path(&rel).collect();
        if managers.is_empty() {
            continue;
        }
        let Decoded { text, warning } = match read_manifest(&root.join(&rel)) {
            Ok(decoded) => decoded,
            Err(message) => {
                report.warnings.push(ScanWarning {
                    manifest: rel.clone(),
                    line: None,
                    message,
                });
                continue;
            }
        };
        if let Some(warning) = warning {
            report.warnings.push(ScanWarning {
                manifest: rel.clone(),
                line: warning.line,
                message: warning.message,
            });
        }
        for manager in managers {
            let extraction = manager.extract(&rel, &text);
            manifests.push((rel.clone(), manager, extraction));
        }
    }
    let paired = pair(manifests);
    report.dependencies = paired.dependencies;
    report.warnings.extend(paired.warnings);
    report
        .warnings
        .sort_by(|a, b| a.manifest.cmp(&b.manifest).then(a.line.cmp(&b.line)));
}

/// Pair manifests with lockfiles over in-memory extractions: `(path, manager, extraction)` per
/// file (paths relative to the repository root, `/`-separated). First, references between files
/// are resolved ([`resolve_references`]: a Gradle script dependency whose version refers to a
/// `gradle.properties` value moves to that file). Then each dependency gets the version
/// its nearest lockfile of the same manager pins, lockfile packages no manifest names become
/// `transitive` dependencies of the lockfile, and every extraction warning is reported under its
/// manifest. Dependencies come out ordered by manifest path, in file order within one manifest;
/// warnings by manifest path and line. [`scan`] is this over a directory walk.
pub fn pair(mut files: Vec<(String, Manager, Extraction)>) -> ScanReport {
    resolve_references(&mut files);
    let mut files: Vec<FileExtraction> = files
        .into_iter()
        .map(|(path, manager, extraction)| FileExtraction {
            is_lockfile: manager.is_lockfile(&path),
            path,
            manager,
            extraction,
        })
        .collect();
    let mut report = ScanReport::default();
    pair_lockfiles(&mut files, &mut report);
    report
        .warnings
        .sort_by(|a, b| a.manifest.cmp(&b.manifest).then(a.line.cmp(&b.line)));
    report
}

struct FileExtraction {
    path: String,
    manager: Manager,
    is_lockfile: bool,
    extraction: Extraction,
}

/// Collect the relative paths of every regular file under `dir`, skipping `skip_dirs` and
/// symbolic links.
fn walk(
    root: &Path,
    dir: &Path,
    options: &ScanOptions,
    files: &mut Vec<String>,
    report: &mut ScanReport,
) {
    let rel_dir = relative(root, dir);
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) => {
            report.warnings.push(ScanWarning {
                manifest: rel_dir,
                line: None,
                message: format!("cannot read directory: {err}"),
            });
            return;
        }
    };
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(err) => {
                report.warnings.push(ScanWarning {
                    manifest: rel_dir.clone(),
                    line: None,
                    message: format!("cannot read directory entry: {err}"),
                });
                continue;
            }
        };
        // `DirEntry::file_type` does not follow symbolic links.
        let Ok(file_type) = entry.file_type() else {
            continue;
        };
        let path = entry.path();
        if file_type.is_dir() {
            let name = entry.file_name();
            let skipped = name
                .to_str()
                .is_some_and(|n| options.skip_dirs.iter().any(|s| s == n));
            if !skipped {
                walk(root, &path, options, files, report);
            }
        } else if file_type.is_file() {
            files.push(relative(root, &path));
        }
    }
}

/// `path` relative to `root`, `/`-separated.
fn relative(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Read a manifest as UTF-8 (lossily, see [`decode`]), refusing files over
/// [`MAX_MANIFEST_BYTES`] without reading them.
fn read_manifest(path: &Path) -> Result<Decoded, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read file: {e}"))?;
    let len = file
        .metadata()
        .map_err(|e| format!("cannot read file: {e}"))?
        .len();
    if len > MAX_MANIFEST_BYTES as u64 {
        return Err(format!(
            "file is {len} bytes, over the {MAX_MANIFEST_BYTES}-byte limit; skipped"
        ));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    // The file may grow between `metadata` and `read`: never read past the limit.
    file.take(MAX_MANIFEST_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read file: {e}"))?;
    if bytes.len() > MAX_MANIFEST_BYTES {
        return Err(format!(
            "file is over the {MAX_MANIFEST_BYTES}-byte limit; skipped"
        ));
    }
    Ok(decode(bytes))
}

/// Resolve references between files: every dependency whose version refers to a [`Property`]
/// another file of its manager defines ([`Manager::referenced_property`]) moves onto the nearest
/// file up the directory tree that defines that name (a project's own file wins over its
/// parents'), taking the property's value as its requirement and the value's span, so an update
/// edits the value where it is written. A reference nothing defines stays where it is, skipped.
/// `files` are `(path, manager, extraction)` with `/`-separated paths relative to the root.
pub fn resolve_references(files: &mut [(String, Manager, Extraction)]) {
    let definitions: Definitions = files
        .iter()
        .enumerate()
        .filter(|(_, (_, _, extraction))| !extraction.properties.is_empty())
        .map(|(index, (path, manager, extraction))| {
            let by_name = extraction
                .properties
                .iter()
                .map(|p| (p.name.clone(), p.clone()))
                .collect();
            ((*manager, parent_dir(path).to_owned()), (index, by_name))
        })
        .collect();
    if definitions.is_empty() {
        return;
    }
    let mut moved: Vec<(usize, Dependency)> = Vec::new();
    for (path, manager, extraction) in files.iter_mut() {
        let dir = parent_dir(path);
        let mut kept = Vec::with_capacity(extraction.dependencies.len());
        for dep in std::mem::take(&mut extraction.dependencies) {
            let found = manager
                .referenced_property(path, &dep)
                .and_then(|name| nearest_definition(&definitions, *manager, dir, name));
            match found {
                Some((index, property)) => {
                    let mut resolved = dep;
                    resolved.requirement = Some(property.value.clone());
                    resolved.span = Some(property.span);
                    resolved.skip = None;
                    moved.push((index, resolved));
                }
                None => kept.push(dep),
            }
        }
        extraction.dependencies = kept;
    }
    for (index, dep) in moved {
        if let Some((_, _, extraction)) = files.get_mut(index) {
            extraction.dependencies.push(dep);
        }
    }
}

/// (Manager, directory) of a file that defines properties → its index in the files and its
/// properties by name.
type Definitions = BTreeMap<(Manager, String), (usize, BTreeMap<String, Property>)>;

/// The file of `manager` nearest to `dir` (itself, then each parent up to the root) that defines
/// `name`: its index and the property.
fn nearest_definition<'a>(
    definitions: &'a Definitions,
    manager: Manager,
    dir: &str,
    name: &str,
) -> Option<(usize, &'a Property)> {
    let mut current = dir;
    loop {
        if let Some((index, by_name)) = definitions.get(&(manager, current.to_owned()))
            && let Some(property) = by_name.get(name)
        {
            return Some((*index, property));
        }
        if current.is_empty() {
            return None;
        }
        current = parent_dir(current);
    }
}

/// The directory part of a relative path (`""` for the root).
fn parent_dir(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(dir, _)| dir)
}

/// Is `dir` the directory `ancestor` or below it?
fn is_within(dir: &str, ancestor: &str) -> bool {
    ancestor.is_empty()
        || dir == ancestor
        || dir
            .strip_prefix(ancestor)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// A lockfile's packages, indexed by ecosystem and name.
struct LockIndex {
    path: String,
    manager: Manager,
    packages: Vec<LockedPackage>,
    by_name: BTreeMap<(Ecosystem, String), Vec<usize>>,
    /// (name, version) pairs that some covered manifest's dependency took as its `locked`.
    used: BTreeSet<(Ecosystem, String, String)>,
}

/// Fill `locked` from the nearest lockfile of the same manager and add every locked (name,
/// version) pair no manifest dependency took as its `locked` as a `transitive` entry of the
/// lockfile (so a lockfile pinning several versions of a direct dependency keeps them all); then
/// flatten everything into the report.
fn pair_lockfiles(files: &mut [FileExtraction], report: &mut ScanReport) {
    let mut indexes: Vec<LockIndex> = files
        .iter_mut()
        .filter(|f| f.is_lockfile)
        .map(|f| {
            let packages = std::mem::take(&mut f.extraction.locks);
            let mut by_name: BTreeMap<(Ecosystem, String), Vec<usize>> = BTreeMap::new();
            for (i, p) in packages.iter().enumerate() {
                by_name
                    .entry((p.ecosystem, p.name.clone()))
                    .or_default()
                    .push(i);
            }
            LockIndex {
                path: f.path.clone(),
                manager: f.manager,
                packages,
                by_name,
                used: BTreeSet::new(),
            }
        })
        .collect();

    for file in files.iter_mut().filter(|f| !f.is_lockfile) {
        let dir = parent_dir(&file.path);
        // The nearest lockfile: the deepest directory, then the first by name.
        let nearest = indexes
            .iter_mut()
            .filter(|lock| lock.manager == file.manager && is_within(dir, parent_dir(&lock.path)))
            .max_by(|a, b| {
                parent_dir(&a.path)
                    .len()
                    .cmp(&parent_dir(&b.path).len())
                    .then_with(|| b.path.cmp(&a.path))
            });
        let Some(lock) = nearest else {
            continue;
        };
        for dep in &mut file.extraction.dependencies {
            let key = (dep.ecosystem, dep.name.clone());
            if dep.locked.is_none()
                && let Some(positions) = lock.by_name.get(&key)
            {
                let candidates: Vec<&LockedPackage> = positions
                    .iter()
                    .filter_map(|&i| lock.packages.get(i))
                    .collect();
                dep.locked = pick_locked(dep, &candidates);
                if let Some(version) = &dep.locked {
                    lock.used.insert((key.0, key.1, version.clone()));
                }
            }
        }
    }

    for file in files.iter() {
        for dep in &file.extraction.dependencies {
            report.dependencies.push(ScannedDependency {
                manifest: file.path.clone(),
                manager: file.manager,
                dependency: dep.clone(),
            });
        }
        for warning in &file.extraction.warnings {
            report.warnings.push(ScanWarning {
                manifest: file.path.clone(),
                line: warning.line,
                message: warning.message.clone(),
            });
        }
    }
    for lock in &indexes {
        let mut seen = BTreeSet::new();
        for package in &lock.packages {
            if lock.used.contains(&(
                package.ecosystem,
                package.name.clone(),
                package.version.clone(),
            )) || !seen.insert((package.name.as_str(), package.version.as_str()))
            {
                continue;
            }
            let dep = Dependency::unversioned(package.name.clone(), package.ecosystem)
                .kind(DependencyKind::Transitive)
                .locked(package.version.clone());
            report.dependencies.push(ScannedDependency {
                manifest: lock.path.clone(),
                manager: lock.manager,
                dependency: dep,
            });
        }
    }
    // Stable: keeps file order within one manifest.
    report
        .dependencies
        .sort_by(|a, b| a.manifest.cmp(&b.manifest));
}

/// The locked version for `dep`, by the lockfile's own graph first: the only version locked;
/// else the only version the lockfile records as direct (a workspace member's dependency, the
/// top-level `node_modules` copy, the uv fork of the root's Python); else, among several direct
/// ones, the first that satisfies the requirement; else the first locked version that satisfies
/// it; else the first direct one.
fn pick_locked(dep: &Dependency, candidates: &[&LockedPackage]) -> Option<String> {
    let all = distinct_versions(candidates.iter().copied());
    if let [only] = all.as_slice() {
        return Some((*only).to_owned());
    }
    let direct = distinct_versions(candidates.iter().copied().filter(|l| l.direct));
    if let [only] = direct.as_slice() {
        return Some((*only).to_owned());
    }
    let scheme = dep.ecosystem.versioning().scheme();
    let satisfies = |version: &&&str| {
        dep.requirement
            .as_deref()
            .is_some_and(|requirement| scheme.satisfies(version, requirement))
    };
    direct
        .iter()
        .find(satisfies)
        .or_else(|| all.iter().find(satisfies))
        .or_else(|| direct.first())
        .map(|v| (*v).to_owned())
}

/// The versions of `packages`, each once, in order.
fn distinct_versions<'a>(packages: impl Iterator<Item = &'a LockedPackage>) -> Vec<&'a str> {
    let mut versions: Vec<&str> = Vec::new();
    for package in packages {
        if !versions.contains(&package.version.as_str()) {
            versions.push(package.version.as_str());
        }
    }
    versions
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manager::{SkipReason, Span};

    fn write(root: &Path, rel: &str, content: &[u8]) {
        let path = root.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create dirs");
        }
        std::fs::write(path, content).expect("write file");
    }

    /// Manifest, name, requirement, locked version, kind.
    type Row = (String, String, Option<String>, Option<String>, &'static str);

    fn rows(report: &ScanReport) -> Vec<Row> {
        report
            .dependencies
            .iter()
            .map(|d| {
                (
                    d.manifest.clone(),
                    d.dependency.name.clone(),
                    d.dependency.requirement.clone(),
                    d.dependency.locked.clone(),
                    d.dependency.kind.as_str(),
                )
            })
            .collect()
    }

    fn row(
        manifest: &str,
        name: &str,
        req: Option<&str>,
        locked: Option<&str>,
        kind: &'static str,
    ) -> Row {
        (
            manifest.to_owned(),
            name.to_owned(),
            req.map(str::to_owned),
            locked.map(str::to_owned),
            kind,
        )
    }

    const LOCK: &str = "version = 4\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\ndependencies = [\"serde\"]\n\n[[package]]\nname = \"lib\"\nversion = \"0.1.0\"\ndependencies = [\"itoa 1.0.11\"]\n\n[[package]]\nname = \"serde\"\nversion = \"1.0.200\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n\n[[package]]\nname = \"itoa\"\nversion = \"1.0.11\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n\n[[package]]\nname = \"itoa\"\nversion = \"0.4.8\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n\n[[package]]\nname = \"ryu\"\nversion = \"1.0.18\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n";

    #[test]
    fn pairs_lockfiles_and_lists_transitive_packages() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        write(
            root,
            "Cargo.toml",
            b"[workspace]\nmembers = [\"app\", \"lib\"]\n",
        );
        write(root, "Cargo.lock", LOCK.as_bytes());
        write(root, "app/Cargo.toml", b"[dependencies]\nserde = \"1\"\n");
        write(root, "lib/Cargo.toml", b"[dependencies]\nitoa = \"1\"\n");
        write(
            root,
            "node_modules/x/package.json",
            b"{\"dependencies\": {\"y\": \"1\"}}",
        );
        write(root, "README.md", b"not a manifest");
        let report = scan(root, &ScanOptions::default()).expect("scan");
        assert_eq!(
            rows(&report),
            vec![
                // Two versions locked; `lib` depends on 1.0.11 directly, 0.4.8 stays listed.
                row("Cargo.lock", "itoa", None, Some("0.4.8"), "transitive"),
                row("Cargo.lock", "ryu", None, Some("1.0.18"), "transitive"),
                row(
                    "app/Cargo.toml",
                    "serde",
                    Some("1"),
                    Some("1.0.200"),
                    "normal"
                ),
                row(
                    "lib/Cargo.toml",
                    "itoa",
                    Some("1"),
                    Some("1.0.11"),
                    "normal"
                ),
            ]
        );
        assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    }

    /// Pair `files` (path, text) with their manager and give the rows of the lockfile's pairs:
    /// `(manifest, name, locked, kind)` for every dependency with a locked version.
    fn locked_rows(
        manager: Manager,
        files: &[(&str, &str)],
    ) -> Vec<(String, String, String, String)> {
        let report = pair(
            files
                .iter()
                .map(|(path, text)| ((*path).to_owned(), manager, manager.extract(path, text)))
                .collect(),
        );
        report
            .dependencies
            .iter()
            .filter_map(|d| {
                d.dependency.locked.clone().map(|locked| {
                    (
                        d.manifest.clone(),
                        d.dependency.name.clone(),
                        locked,
                        d.dependency.kind.as_str().to_owned(),
                    )
                })
            })
            .collect()
    }

    fn locked_row(
        manifest: &str,
        name: &str,
        locked: &str,
        kind: &str,
    ) -> (String, String, String, String) {
        (
            manifest.to_owned(),
            name.to_owned(),
            locked.to_owned(),
            kind.to_owned(),
        )
    }

    #[test]
    fn cargo_lock_keeps_every_version_of_a_direct_dependency() {
        // The root package names `rand 0.9.2` (ambiguous name, so the version is written).
        let lock = "version = 4\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\ndependencies = [\n \"getrandom\",\n \"rand 0.9.2\",\n]\n\n[[package]]\nname = \"getrandom\"\nversion = \"0.3.3\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\ndependencies = [\n \"rand 0.10.0\",\n]\n\n[[package]]\nname = \"rand\"\nversion = \"0.10.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n\n[[package]]\nname = \"rand\"\nversion = \"0.9.2\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n";
        // `*` admits both; the lockfile's graph decides.
        let manifest =
            "[package]\nname = \"app\"\n\n[dependencies]\nrand = \"*\"\ngetrandom = \"0.3\"\n";
        assert_eq!(
            locked_rows(
                Manager::Cargo,
                &[("Cargo.lock", lock), ("Cargo.toml", manifest)]
            ),
            vec![
                locked_row("Cargo.lock", "rand", "0.10.0", "transitive"),
                locked_row("Cargo.toml", "rand", "0.9.2", "normal"),
                locked_row("Cargo.toml", "getrandom", "0.3.3", "normal"),
            ]
        );
    }

    #[test]
    fn npm_locks_keep_nested_copies_of_a_direct_dependency() {
        let manifest = r#"{"devDependencies": {"mocha": "^10.0.0", "glob": "*"}}"#;
        // v1: a tree of `dependencies`; the top-level copy is the one the root resolves to.
        let v1 = r#"{"lockfileVersion": 1, "dependencies": {
            "glob": {"version": "7.2.0"},
            "mocha": {"version": "10.2.0", "dependencies": {
                "glob": {"version": "7.2.0"},
                "minimatch": {"version": "5.0.1"}
            }},
            "minimatch": {"version": "3.1.2"}
        }}"#;
        // v3: install paths.
        let v3 = r#"{"lockfileVersion": 3, "packages": {
            "": {"devDependencies": {"mocha": "^10.0.0", "glob": "*"}},
            "node_modules/mocha/node_modules/glob": {"version": "8.1.0"},
            "node_modules/glob": {"version": "7.2.0"},
            "node_modules/mocha": {"version": "10.2.0"}
        }}"#;
        let mut got = locked_rows(
            Manager::Npm,
            &[("package-lock.json", v1), ("package.json", manifest)],
        );
        got.sort();
        assert_eq!(
            got,
            vec![
                locked_row("package-lock.json", "minimatch", "3.1.2", "transitive"),
                locked_row("package-lock.json", "minimatch", "5.0.1", "transitive"),
                locked_row("package.json", "glob", "7.2.0", "dev"),
                locked_row("package.json", "mocha", "10.2.0", "dev"),
            ]
        );
        let mut got = locked_rows(
            Manager::Npm,
            &[("package-lock.json", v3), ("package.json", manifest)],
        );
        got.sort();
        assert_eq!(
            got,
            vec![
                locked_row("package-lock.json", "glob", "8.1.0", "transitive"),
                locked_row("package.json", "glob", "7.2.0", "dev"),
                locked_row("package.json", "mocha", "10.2.0", "dev"),
            ]
        );
    }

    #[test]
    fn yarn_pnpm_and_poetry_locks_keep_every_version() {
        let manifest = r#"{"dependencies": {"debug": "^4.1.0"}}"#;
        let yarn = "debug@^2.6.9:\n  version \"2.6.9\"\n\ndebug@^4.1.0:\n  version \"4.3.4\"\n";
        assert_eq!(
            locked_rows(
                Manager::Npm,
                &[("yarn.lock", yarn), ("package.json", manifest)]
            ),
            vec![
                locked_row("package.json", "debug", "4.3.4", "normal"),
                locked_row("yarn.lock", "debug", "2.6.9", "transitive"),
            ]
        );
        let pnpm = "lockfileVersion: '9.0'\n\nimporters:\n\n  .:\n    dependencies:\n      debug:\n        specifier: ^4.1.0\n        version: 4.3.4\n\npackages:\n\n  debug@2.6.9:\n    resolution: {integrity: sha512-a}\n\n  debug@4.3.4:\n    resolution: {integrity: sha512-b}\n";
        assert_eq!(
            locked_rows(
                Manager::Npm,
                &[("pnpm-lock.yaml", pnpm), ("package.json", manifest)]
            ),
            vec![
                locked_row("package.json", "debug", "4.3.4", "normal"),
                locked_row("pnpm-lock.yaml", "debug", "2.6.9", "transitive"),
            ]
        );
        // Poetry locks one version per marker set when the markers split the resolution.
        let poetry = "[[package]]\nname = \"numpy\"\nversion = \"1.24.4\"\nmarkers = \"python_version < \\\"3.9\\\"\"\n\n[[package]]\nname = \"numpy\"\nversion = \"2.0.2\"\nmarkers = \"python_version >= \\\"3.9\\\"\"\n";
        let pyproject = "[project]\nname = \"app\"\ndependencies = [\"numpy>=2\"]\n";
        assert_eq!(
            locked_rows(
                Manager::Python,
                &[("poetry.lock", poetry), ("pyproject.toml", pyproject)]
            ),
            vec![
                locked_row("poetry.lock", "numpy", "1.24.4", "transitive"),
                locked_row("pyproject.toml", "numpy", "2.0.2", "normal"),
            ]
        );
    }

    #[test]
    fn unversioned_requirements_are_kept_resolvable_and_locked() {
        let pyproject = "[project]\nname = \"app\"\nrequires-python = \">=3.9\"\ndependencies = [\"structlog\", \"requests>=2\"]\n";
        let uv = "version = 1\nrequires-python = \">=3.9\"\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\nsource = { virtual = \".\" }\ndependencies = [{ name = \"requests\" }, { name = \"structlog\" }]\n\n[[package]]\nname = \"requests\"\nversion = \"2.32.3\"\n\n[[package]]\nname = \"structlog\"\nversion = \"24.4.0\"\n";
        let report = pair(vec![
            (
                "pyproject.toml".to_owned(),
                Manager::Python,
                Manager::Python.extract("pyproject.toml", pyproject),
            ),
            (
                "uv.lock".to_owned(),
                Manager::Python,
                Manager::Python.extract("uv.lock", uv),
            ),
            (
                "requirements.txt".to_owned(),
                Manager::Python,
                Manager::Python.extract("requirements.txt", "requests\n"),
            ),
        ]);
        let got: Vec<_> = report
            .dependencies
            .iter()
            .filter(|d| d.dependency.ecosystem == Ecosystem::Pypi)
            .map(|d| {
                (
                    d.manifest.as_str(),
                    d.dependency.name.as_str(),
                    d.dependency.requirement.as_deref(),
                    d.dependency.locked.as_deref(),
                    d.dependency.skip,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("pyproject.toml", "structlog", None, Some("24.4.0"), None),
                (
                    "pyproject.toml",
                    "requests",
                    Some(">=2"),
                    Some("2.32.3"),
                    None
                ),
                ("requirements.txt", "requests", None, Some("2.32.3"), None),
            ]
        );
    }

    /// The corpus property over every real lockfile fixture: pairing the fixture folder's files
    /// yields each distinct (name, version) pair of the lockfile exactly once, either as the
    /// `locked` of a dependency of a manifest it covers or as a `transitive` entry of the
    /// lockfile, and no pair the lockfile does not hold.
    #[test]
    fn every_locked_pair_of_every_fixture_lockfile_survives() {
        use crate::manager::test_kit::fixtures;
        let mut checked = 0;
        for manager in Manager::ALL {
            let all = fixtures(manager);
            for lockfile in all.iter().filter(|f| manager.is_lockfile(&f.path)) {
                let folder = parent_dir(&lockfile.path);
                let files: Vec<(String, Manager, Extraction)> = all
                    .iter()
                    .filter(|f| parent_dir(&f.path) == folder || (f.path == lockfile.path))
                    .map(|f| (f.path.clone(), manager, manager.extract(&f.path, &f.text)))
                    .collect();
                let mut expected: Vec<(String, String)> = manager
                    .extract(&lockfile.path, &lockfile.text)
                    .locks
                    .into_iter()
                    .map(|l| (l.name, l.version))
                    .collect();
                expected.sort();
                expected.dedup();
                let report = pair(files);
                // The lockfile's own (transitive) entries, and the distinct pairs of this lockfile
                // the manifests' dependencies took as `locked` (several manifests may take the
                // same one; a folder may hold another manager's lockfile too).
                let mut transitive: Vec<(String, String)> = Vec::new();
                let mut taken: Vec<(String, String)> = Vec::new();
                for d in &report.dependencies {
                    let Some(locked) = d.dependency.locked.clone() else {
                        continue;
                    };
                    let pair = (d.dependency.name.clone(), locked);
                    if d.manifest == lockfile.path {
                        transitive.push(pair);
                    } else if expected.binary_search(&pair).is_ok() && !taken.contains(&pair) {
                        taken.push(pair);
                    }
                }
                let twice: Vec<_> = taken.iter().filter(|p| transitive.contains(p)).collect();
                assert!(
                    twice.is_empty(),
                    "{}: listed twice: {twice:?}",
                    lockfile.path
                );
                let mut got = transitive;
                got.extend(taken);
                got.sort();
                assert_eq!(got, expected, "{}", lockfile.path);
                checked += 1;
            }
        }
        assert!(checked >= 10, "only {checked} lockfile fixtures");
    }

    #[test]
    fn nearest_lockfile_wins() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        let lock = |v: &str| {
            format!(
                "{{\"lockfileVersion\": 3, \"packages\": {{\"\": {{}}, \"node_modules/left-pad\": {{\"version\": \"{v}\"}}}}}}"
            )
        };
        write(root, "package-lock.json", lock("1.0.0").as_bytes());
        write(
            root,
            "package.json",
            b"{\"dependencies\": {\"left-pad\": \"^1.0.0\"}}",
        );
        write(root, "web/package-lock.json", lock("1.3.0").as_bytes());
        write(
            root,
            "web/app/package.json",
            b"{\"devDependencies\": {\"left-pad\": \"^1.1.0\"}}",
        );
        let report = scan(root, &ScanOptions::default()).expect("scan");
        assert_eq!(
            rows(&report),
            vec![
                row(
                    "package.json",
                    "left-pad",
                    Some("^1.0.0"),
                    Some("1.0.0"),
                    "normal"
                ),
                row(
                    "web/app/package.json",
                    "left-pad",
                    Some("^1.1.0"),
                    Some("1.3.0"),
                    "dev"
                ),
            ]
        );
    }

    #[test]
    fn bad_files_become_warnings() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        write(root, "a/package.json", b"{\"dependencies\": \xff\xfe}");
        write(root, "b/package.json", b"{\"dependencies\": {");
        write(root, "c/Cargo.toml", b"[dependencies]\nserde = \"1\"\n");
        // One bad byte in a comment: the rest of the file is read, spans stay byte-correct.
        write(
            root,
            "e/Cargo.toml",
            b"# caf\xe9\n[dependencies]\nrand = \"0.9\"\n",
        );
        let big = vec![b' '; MAX_MANIFEST_BYTES + 1];
        write(root, "d/package.json", &big);
        let report = scan(root, &ScanOptions::default()).expect("scan");
        let warned: Vec<&str> = report
            .warnings
            .iter()
            .map(|w| w.manifest.as_str())
            .collect();
        assert_eq!(
            warned,
            vec![
                "a/package.json",
                "a/package.json",
                "b/package.json",
                "d/package.json",
                "e/Cargo.toml"
            ]
        );
        let utf8: Vec<(&str, Option<usize>)> = report
            .warnings
            .iter()
            .filter(|w| w.message.contains("not valid UTF-8"))
            .map(|w| (w.manifest.as_str(), w.line))
            .collect();
        assert_eq!(
            utf8,
            vec![("a/package.json", Some(1)), ("e/Cargo.toml", Some(1))]
        );
        assert!(report.warnings.iter().any(|w| w.message.contains("limit")));
        assert_eq!(
            rows(&report),
            vec![
                row("c/Cargo.toml", "serde", Some("1"), None, "normal"),
                row("e/Cargo.toml", "rand", Some("0.9"), None, "normal")
            ]
        );
        let rand = report.dependencies.last().and_then(|d| d.dependency.span);
        assert_eq!(rand, Some(crate::manager::Span::new(30, 33)));
    }

    #[test]
    fn skip_dirs_are_configurable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        write(
            root,
            "vendor/Cargo.toml",
            b"[dependencies]\nserde = \"1\"\n",
        );
        write(root, "custom/.nvmrc", b"20\n");
        let report = scan(root, &ScanOptions::default()).expect("scan");
        assert_eq!(report.dependencies.len(), 1);
        let options = ScanOptions {
            skip_dirs: vec!["custom".to_owned()],
        };
        let report = scan(root, &options).expect("scan");
        let names: Vec<&str> = report
            .dependencies
            .iter()
            .map(|d| d.manifest.as_str())
            .collect();
        assert_eq!(names, vec!["vendor/Cargo.toml"]);
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_are_not_followed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        write(root, "real/.nvmrc", b"20\n");
        std::os::unix::fs::symlink(root.join("real"), root.join("link")).expect("symlink");
        let report = scan(root, &ScanOptions::default()).expect("scan");
        let names: Vec<&str> = report
            .dependencies
            .iter()
            .map(|d| d.manifest.as_str())
            .collect();
        assert_eq!(names, vec!["real/.nvmrc"]);
    }

    #[test]
    fn pairing_works_on_in_memory_extractions() {
        let manifest = "[dependencies]\nserde = \"1\"\n";
        let files = vec![
            (
                "Cargo.lock".to_owned(),
                Manager::Cargo,
                Manager::Cargo.extract("Cargo.lock", LOCK),
            ),
            (
                "app/Cargo.toml".to_owned(),
                Manager::Cargo,
                Manager::Cargo.extract("app/Cargo.toml", manifest),
            ),
        ];
        let report = pair(files);
        let serde = report
            .dependencies
            .iter()
            .find(|d| d.dependency.name == "serde")
            .expect("serde");
        assert_eq!(serde.manifest, "app/Cargo.toml");
        assert_eq!(serde.dependency.locked.as_deref(), Some("1.0.200"));
        assert!(in_skipped_dir(
            "a/node_modules/x/package.json",
            &ScanOptions::default().skip_dirs
        ));
        assert!(!in_skipped_dir(
            "node_modules",
            &ScanOptions::default().skip_dirs
        ));
    }

    #[test]
    fn references_resolve_to_a_property_of_the_same_manager_up_the_tree() {
        let script = "dependencies {\n  implementation \"org.a:b:$b_version\"\n}\n";
        let root = "b_version=1.2.3\n";
        let extract = |path: &str, manager: Manager, text: &str| {
            (path.to_owned(), manager, manager.extract(path, text))
        };
        // A property with the same name defined by another manager's file, nearer the script, is
        // not what the script refers to.
        let mut foreign = extract("app/pom.xml", Manager::Maven, "<project/>");
        foreign.2.properties.push(Property {
            name: "b_version".to_owned(),
            value: "9.9.9".to_owned(),
            span: Span::new(0, 5),
        });
        let report = pair(vec![
            extract("gradle.properties", Manager::Gradle, root),
            foreign,
            extract("app/build.gradle", Manager::Gradle, script),
        ]);
        let found: Vec<_> = report
            .dependencies
            .iter()
            .map(|d| {
                (
                    d.manifest.as_str(),
                    d.dependency.name.as_str(),
                    d.dependency.requirement.as_deref(),
                    d.dependency.span.and_then(|s| s.slice(root)),
                    d.dependency.skip,
                )
            })
            .collect();
        assert_eq!(
            found,
            vec![(
                "gradle.properties",
                "org.a:b",
                Some("1.2.3"),
                Some("1.2.3"),
                None
            )]
        );
        // With no definition the reference stays where it is, skipped.
        let report = pair(vec![extract("app/build.gradle", Manager::Gradle, script)]);
        let dep = report.dependencies.first().expect("one dependency");
        assert_eq!(dep.manifest, "app/build.gradle");
        assert_eq!(dep.dependency.skip, Some(SkipReason::UnresolvedVariable));
    }

    #[test]
    fn missing_root_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(scan(&dir.path().join("absent"), &ScanOptions::default()).is_err());
    }
}
