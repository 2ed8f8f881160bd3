//! Python: pip requirements files, `pyproject.toml` (PEP 621/735/518, Poetry, uv), `Pipfile`,
//! `setup.cfg`, `setup.py` (literal arguments only, never executed),
//! the lockfiles `poetry.lock`, `uv.lock` and `Pipfile.lock`, and `.python-version`.
//!
//! Package names are normalised per PEP 503 (`Zope.SQLAlchemy` → `zope-sqlalchemy`). The
//! requirement is the version specifier exactly as written (`>=2.0,<3`, Poetry's `^1.2`), and its
//! span covers exactly that text, so an update rewrites only the specifier. Direct references
//! (URLs, `git+…`, local paths, editables) are reported with a skip reason.

mod locks;
pub mod pep508;
pub mod requirements;
mod setup_cfg;
mod setup_py;
mod toml_files;

use super::{Dependency, DependencyKind, Extraction, SkipReason, Span, file_name};
use crate::Ecosystem;

pub use requirements::{Include, includes};

/// The lockfiles this manager reads.
pub const LOCKFILE_NAMES: &[&str] = &["poetry.lock", "uv.lock", "Pipfile.lock"];

/// Is `path` a pip requirements or pip-tools input file?
fn is_requirements_file(path: &str) -> bool {
    let name = file_name(path);
    let Some(stem) = name
        .strip_suffix(".txt")
        .or_else(|| name.strip_suffix(".in"))
    else {
        return false;
    };
    let in_requirements_dir = path
        .rsplit('/')
        .nth(1)
        .is_some_and(|dir| dir == "requirements");
    in_requirements_dir
        || stem.starts_with("requirements")
        || stem.ends_with("requirements")
        || stem.starts_with("constraints")
}

pub fn matches(path: &str) -> bool {
    matches!(
        file_name(path),
        "pyproject.toml"
            | "Pipfile"
            | "Pipfile.lock"
            | "poetry.lock"
            | "uv.lock"
            | ".python-version"
            | "setup.cfg"
            | "setup.py"
    ) || is_requirements_file(path)
}

pub fn extract(path: &str, text: &str) -> Extraction {
    match file_name(path) {
        "pyproject.toml" => toml_files::extract_pyproject(text),
        "Pipfile" => toml_files::extract_pipfile(text),
        "Pipfile.lock" => locks::extract_pipfile_lock(text),
        "poetry.lock" => locks::extract_poetry_lock(text),
        "uv.lock" => locks::extract_uv_lock(text),
        ".python-version" => extract_python_version(text),
        "setup.cfg" => setup_cfg::extract(text),
        "setup.py" => setup_py::extract(text),
        _ => {
            let mut out = requirements::extract(text);
            if is_dev_requirements_file(path) {
                for dep in &mut out.dependencies {
                    dep.kind = DependencyKind::Dev;
                }
            }
            out
        }
    }
}

/// Words in a requirements file's name (or its name inside a `requirements/` folder) that mean
/// development or test use.
const DEV_WORDS: &[&str] = &[
    "dev",
    "devel",
    "develop",
    "development",
    "test",
    "tests",
    "testing",
];

/// Does the requirements file's name say it is for development or tests
/// (`requirements-dev.txt`, `requirements_test.txt`, `requirements/dev.txt`,
/// `dev-requirements.txt`, `test-requirements.in`)?
fn is_dev_requirements_file(path: &str) -> bool {
    let name = file_name(path);
    let stem = name.rsplit_once('.').map_or(name, |(stem, _)| stem);
    stem.split(['-', '_', '.'])
        .any(|word| DEV_WORDS.contains(&word.to_ascii_lowercase().as_str()))
}

/// The dependency a PEP 508 requirement `item` written at byte `start` of `text` declares, with
/// the span of its specifier; direct references carry their skip reason.
fn requirement_dependency(
    text: &str,
    start: usize,
    item: &str,
    req: pep508::Requirement,
) -> Dependency {
    let mut dep = match req.specifier {
        Some(range)
            if text.get(start + range.start..start + range.end) == item.get(range.clone()) =>
        {
            Dependency::at(
                req.name,
                Ecosystem::Pypi,
                text,
                Span::new(start + range.start, start + range.end),
            )
        }
        Some(range) => {
            let mut dep = Dependency::unversioned(req.name, Ecosystem::Pypi);
            dep.requirement = item.get(range).map(str::to_owned);
            dep
        }
        // No version written: any version does; still a dependency to resolve and lock.
        None => Dependency::unversioned(req.name, Ecosystem::Pypi),
    };
    if let Some(skip) = req.skip {
        dep.skip = Some(skip);
    }
    dep
}

/// `.python-version` (pyenv, uv): one version per line; `#` comments allowed.
fn extract_python_version(text: &str) -> Extraction {
    let mut out = Extraction::default();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        if !trimmed.is_empty() && !trimmed.starts_with('#') {
            let lead = line.len() - line.trim_start().len();
            let start = offset + lead;
            let dep = Dependency::at(
                "python",
                Ecosystem::Toolchain,
                text,
                Span::new(start, start + trimmed.len()),
            )
            .kind(DependencyKind::Toolchain);
            out.dependencies.push(if trimmed == "system" {
                dep.skip(SkipReason::NoVersion)
            } else {
                dep
            });
        }
        offset += line.len();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_matching() {
        for yes in [
            "requirements.txt",
            "a/requirements-dev.txt",
            "requirements_test.txt",
            "requirements/base.txt",
            "requirements/main.in",
            "dev-requirements.txt",
            "constraints.txt",
            "pyproject.toml",
            "sub/Pipfile",
            "Pipfile.lock",
            "poetry.lock",
            "uv.lock",
            ".python-version",
            "setup.cfg",
            "pkg/setup.py",
        ] {
            assert!(matches(yes), "{yes}");
        }
        for no in ["MANIFEST.in", "notes.txt", "docs/requirements.md"] {
            assert!(!matches(no), "{no}");
        }
    }

    #[test]
    fn requirements_files_named_for_development_are_dev() {
        for (path, dev) in [
            ("requirements-dev.txt", true),
            ("requirements_test.txt", true),
            ("requirements/dev.txt", true),
            ("requirements/testing.in", true),
            ("dev-requirements.txt", true),
            ("sub/Test_Requirements.txt", true),
            ("requirements.txt", false),
            ("requirements/base.txt", false),
            ("requirements/device.txt", false),
            ("constraints.txt", false),
        ] {
            let ex = extract(path, "requests>=2\n");
            let kinds: Vec<DependencyKind> = ex.dependencies.iter().map(|d| d.kind).collect();
            let expected = if dev {
                DependencyKind::Dev
            } else {
                DependencyKind::Normal
            };
            assert_eq!(kinds, vec![expected], "{path}");
        }
    }

    #[test]
    fn python_version_file() {
        let ex = extract(".python-version", "# pinned\n3.12.1\n\nsystem\n");
        let got: Vec<_> = ex
            .dependencies
            .iter()
            .map(|d| {
                (
                    d.name.as_str(),
                    d.requirement.as_deref(),
                    d.skip,
                    d.ecosystem,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("python", Some("3.12.1"), None, Ecosystem::Toolchain),
                (
                    "python",
                    Some("system"),
                    Some(SkipReason::NoVersion),
                    Ecosystem::Toolchain
                ),
            ]
        );
    }

    crate::manager::test_kit::kit_tests!(Manager::Python, |dep| {
        if dep.ecosystem == Ecosystem::Toolchain
            && !dep
                .requirement
                .as_deref()
                .is_some_and(|r| r.starts_with(['<', '>', '=', '~', '^', '!']))
        {
            "9.9.9".to_owned()
        } else {
            ">=99.0,<100".to_owned()
        }
    });
}
