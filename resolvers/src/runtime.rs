//! Runtimes: which Python, Node.js and Rust a repository runs on, and whether a release's stated
//! runtime requirement ([`Release::requires_runtime`]) admits it.
//!
//! A repository's runtime is the **lowest** version its declarations admit, because a release
//! it takes must work on every runtime it supports:
//!
//! - Python: `requires-python` (`>=3.8` → 3.8), `.python-version` (`3.10.4`), Poetry's
//!   `python = "^3.9"`;
//! - Node.js: `.nvmrc` (`v20.11.0`, `20`), `engines.node` (`>=18` → 18.0.0);
//! - Rust: `rust-toolchain` when its channel is a version (`1.78.0`), `rust-version`.
//!
//! A release's requirement is read in its ecosystem's scheme: PEP 440 specifiers for PyPI's
//! `requires_python`, npm ranges for `engines.node`, a minimum version for the crates index's
//! `rust_version`. A requirement that cannot be read admits every runtime: only a stated,
//! readable requirement holds a release back.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::Ecosystem;
use crate::registry::Release;
use crate::versioning::VersionScheme;
use crate::versioning::cargo::Cargo;
use crate::versioning::npm::Npm;
use crate::versioning::pep440::Pep440;

/// A language runtime a release can state a requirement on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Runtime {
    Python,
    Node,
    Rust,
}

impl Runtime {
    /// The runtime the releases of `ecosystem` state requirements on.
    pub fn of_ecosystem(ecosystem: Ecosystem) -> Option<Runtime> {
        match ecosystem {
            Ecosystem::Pypi => Some(Runtime::Python),
            Ecosystem::Npm => Some(Runtime::Node),
            Ecosystem::Cargo => Some(Runtime::Rust),
            _ => None,
        }
    }

    /// The runtime a toolchain dependency named `name` declares (`python`, `node`, `rust`).
    pub fn of_toolchain(name: &str) -> Option<Runtime> {
        match name.trim().to_ascii_lowercase().as_str() {
            "python" | "python3" => Some(Runtime::Python),
            "node" | "nodejs" => Some(Runtime::Node),
            "rust" | "rustc" => Some(Runtime::Rust),
            _ => None,
        }
    }

    /// The toolchain name, as stored (`python`, `node`, `rust`).
    pub fn as_str(self) -> &'static str {
        match self {
            Runtime::Python => "python",
            Runtime::Node => "node",
            Runtime::Rust => "rust",
        }
    }

    /// The name people read (`Python`, `Node.js`, `Rust`).
    pub fn label(self) -> &'static str {
        match self {
            Runtime::Python => "Python",
            Runtime::Node => "Node.js",
            Runtime::Rust => "Rust",
        }
    }

    fn scheme(self) -> &'static dyn VersionScheme {
        match self {
            Runtime::Python => &Pep440,
            Runtime::Node => &Npm,
            Runtime::Rust => &Cargo,
        }
    }

    /// The lowest version a declaration (`>=3.8`, `3.10.4`, `v20`, `1.78.0`) admits, in the form
    /// [`Runtime::admits`] compares (`x.y.z` for Node.js and Rust); `None` when it names none.
    pub fn declared_version(self, declaration: &str) -> Option<String> {
        let text = declaration.trim();
        let text = match self {
            Runtime::Node => text.strip_prefix('v').unwrap_or(text),
            _ => text,
        };
        if text.is_empty()
            || !text.starts_with(|c: char| c.is_ascii_digit() || "<>=~^!".contains(c))
        {
            return None;
        }
        let scheme = self.scheme();
        let lowest = if scheme.is_valid(text) {
            text.to_owned()
        } else {
            scheme.lower_bound(text)?
        };
        match self {
            Runtime::Python => Some(lowest),
            Runtime::Node | Runtime::Rust => full_semver(&lowest),
        }
    }

    /// Does `requirement` (a release's stated requirement on this runtime) admit `version`?
    /// `None` when the requirement cannot be read.
    pub fn admits(self, requirement: &str, version: &str) -> Option<bool> {
        let requirement = requirement.trim();
        match self {
            Runtime::Python | Runtime::Node => {
                let scheme = self.scheme();
                if requirement.is_empty() || !scheme.is_valid_requirement(requirement) {
                    return None;
                }
                Some(scheme.satisfies(version, requirement))
            }
            // `rust-version` is the oldest Rust the crate builds with.
            Runtime::Rust => {
                let minimum = full_semver(requirement)?;
                Some(Cargo.compare(version, &minimum).is_ge())
            }
        }
    }
}

/// `1` → `1.0.0`, `1.70` → `1.70.0`; `None` unless one to three numeric components.
fn full_semver(version: &str) -> Option<String> {
    let parts: Vec<&str> = version.trim().split('.').collect();
    if parts.is_empty()
        || parts.len() > 3
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let mut numbers: Vec<String> = parts
        .iter()
        .map(|p| p.trim_start_matches('0'))
        .map(|p| if p.is_empty() { "0" } else { p }.to_owned())
        .collect();
    numbers.resize(3, "0".to_owned());
    Some(numbers.join("."))
}

/// The runtimes a repository declares: for each, the lowest version any declaration admits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Runtimes {
    versions: BTreeMap<Runtime, String>,
}

/// A newer release held back because its runtime requirement does not admit the repository's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuntimeBlock {
    /// The release that would otherwise be recommended.
    pub version: String,
    pub runtime: Runtime,
    /// What it requires, as the registry states it (`>=3.12`).
    pub requires: String,
    /// The repository's runtime version it does not admit.
    pub runtime_version: String,
}

impl std::fmt::Display for RuntimeBlock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let requires = match self.runtime {
            Runtime::Rust => format!(">={}", self.requires.trim()),
            _ => self.requires.trim().to_owned(),
        };
        write!(
            f,
            "{} needs {} {requires} (declared: {} {})",
            self.version,
            self.runtime.label(),
            self.runtime.label(),
            self.runtime_version
        )
    }
}

impl Runtimes {
    /// Adds the declaration of toolchain `name` (a requirement such as `>=3.8`, or a version);
    /// other toolchains and declarations naming no version are ignored. The lowest declared
    /// version of a runtime wins.
    pub fn declare(&mut self, name: &str, declaration: &str) {
        let Some(runtime) = Runtime::of_toolchain(name) else {
            return;
        };
        let Some(version) = runtime.declared_version(declaration) else {
            return;
        };
        let scheme = runtime.scheme();
        self.versions
            .entry(runtime)
            .and_modify(|known| {
                if scheme.compare(&version, known).is_lt() {
                    known.clone_from(&version);
                }
            })
            .or_insert(version);
    }

    /// The declared version of `runtime`.
    pub fn get(&self, runtime: Runtime) -> Option<&str> {
        self.versions.get(&runtime).map(String::as_str)
    }

    /// Whether nothing is declared.
    pub fn is_empty(&self) -> bool {
        self.versions.is_empty()
    }

    /// The runtimes the toolchain dependencies among `dependencies` declare, given as (toolchain
    /// name, requirement or version written, skipped); skipped ones (`system`, `stable`) and
    /// other toolchains are ignored.
    pub fn declared_by<'a>(
        dependencies: impl IntoIterator<Item = (&'a str, &'a str, bool)>,
    ) -> Runtimes {
        let mut runtimes = Runtimes::default();
        for (name, declaration, skipped) in dependencies {
            if !skipped {
                runtimes.declare(name, declaration);
            }
        }
        runtimes
    }

    /// Every declared runtime with its version.
    pub fn iter(&self) -> impl Iterator<Item = (Runtime, &str)> {
        self.versions.iter().map(|(r, v)| (*r, v.as_str()))
    }

    /// Why `release` of `ecosystem` does not fit the declared runtime, or `None` when it fits:
    /// no runtime for its ecosystem is declared, it states no requirement, the requirement
    /// cannot be read, or it admits the declared version.
    pub fn block(&self, ecosystem: Ecosystem, release: &Release) -> Option<RuntimeBlock> {
        let runtime = Runtime::of_ecosystem(ecosystem)?;
        let version = self.get(runtime)?;
        let requires = release.requires_runtime.as_deref()?;
        match runtime.admits(requires, version) {
            Some(false) => Some(RuntimeBlock {
                version: release.version.clone(),
                runtime,
                requires: requires.trim().to_owned(),
                runtime_version: version.to_owned(),
            }),
            _ => None,
        }
    }

    /// Whether `release` of `ecosystem` fits (see [`Runtimes::block`]).
    pub fn fits(&self, ecosystem: Ecosystem, release: &Release) -> bool {
        self.block(ecosystem, release).is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release(version: &str, requires: Option<&str>) -> Release {
        Release {
            version: version.to_owned(),
            published_at: None,
            yanked: false,
            deprecated: None,
            prerelease: false,
            requires_runtime: requires.map(str::to_owned),
        }
    }

    #[test]
    fn declarations_give_the_lowest_version() {
        let cases = [
            (Runtime::Python, ">=3.8", Some("3.8")),
            (Runtime::Python, ">=3.9,<4", Some("3.9")),
            (Runtime::Python, "3.10.4", Some("3.10.4")),
            (Runtime::Python, "^3.11", Some("3.11")),
            (Runtime::Python, "pypy3.9", None),
            (Runtime::Python, "system", None),
            (Runtime::Node, "v20.11.0", Some("20.11.0")),
            (Runtime::Node, "20", Some("20.0.0")),
            (Runtime::Node, ">=18", Some("18.0.0")),
            (Runtime::Node, "lts/iron", None),
            (Runtime::Rust, "1.78.0", Some("1.78.0")),
            (Runtime::Rust, "1.70", Some("1.70.0")),
            (Runtime::Rust, "stable", None),
            (Runtime::Rust, "nightly-2024-05-01", None),
        ];
        for (runtime, declaration, expected) in cases {
            assert_eq!(
                runtime.declared_version(declaration).as_deref(),
                expected,
                "{runtime:?} {declaration}"
            );
        }
    }

    #[test]
    fn requirements_admit_in_each_scheme() {
        let cases = [
            (Runtime::Python, ">=3.12", "3.8", Some(false)),
            (Runtime::Python, ">=3.8", "3.8", Some(true)),
            (
                Runtime::Python,
                ">=2.7, !=3.0.*, !=3.1.*, !=3.2.*, !=3.3.*",
                "3.8",
                Some(true),
            ),
            (Runtime::Python, ">=2.7, !=3.0.*", "3.0.1", Some(false)),
            (Runtime::Python, "not a specifier", "3.8", None),
            (Runtime::Node, ">=18", "16.0.0", Some(false)),
            (Runtime::Node, "^18.17.0 || >=20.5.0", "20.11.0", Some(true)),
            (Runtime::Node, ">=0.4.x", "20.0.0", Some(true)),
            (Runtime::Node, "0.4.x", "20.0.0", Some(false)),
            (Runtime::Rust, "1.61", "1.60.0", Some(false)),
            (Runtime::Rust, "1.61", "1.61.0", Some(true)),
            (Runtime::Rust, "1.56.1", "1.78.0", Some(true)),
            (Runtime::Rust, "latest", "1.78.0", None),
        ];
        for (runtime, requirement, version, expected) in cases {
            assert_eq!(
                runtime.admits(requirement, version),
                expected,
                "{runtime:?} {requirement} ~ {version}"
            );
        }
    }

    #[test]
    fn lowest_declaration_wins_and_blocks_explain() {
        let mut runtimes = Runtimes::default();
        runtimes.declare("python", "3.12.1");
        runtimes.declare("python", ">=3.8");
        runtimes.declare("go", "1.22");
        runtimes.declare("rust", "stable");
        assert_eq!(runtimes.get(Runtime::Python), Some("3.8"));
        assert_eq!(runtimes.get(Runtime::Rust), None);
        assert_eq!(runtimes.iter().count(), 1);

        let django6 = release("6.0", Some(">=3.12"));
        let block = runtimes.block(Ecosystem::Pypi, &django6).expect("blocked");
        assert_eq!(block.requires, ">=3.12");
        assert_eq!(block.runtime_version, "3.8");
        assert_eq!(
            block.to_string(),
            "6.0 needs Python >=3.12 (declared: Python 3.8)"
        );
        assert!(runtimes.fits(Ecosystem::Pypi, &release("4.2", Some(">=3.8"))));
        assert!(runtimes.fits(Ecosystem::Pypi, &release("4.2", None)));
        // Another ecosystem's runtime is not declared: nothing is held back.
        assert!(runtimes.fits(Ecosystem::Npm, &release("9.0.0", Some(">=22"))));
    }
}
