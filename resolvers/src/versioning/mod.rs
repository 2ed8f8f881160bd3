//! Version schemes: one module per scheme. Each answers parse/validity, ordering, stability,
//! requirement matching, the lowest version a requirement allows, the kind of an update, and how
//! to bump a requirement to a new version while keeping the author's operator style.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

pub mod cargo;
pub mod docker;
pub mod go;
pub mod loose;
pub mod maven;
pub mod npm;
pub mod pep440;

/// The size of a version change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UpdateKind {
    Patch,
    Minor,
    Major,
}

impl UpdateKind {
    pub fn as_str(self) -> &'static str {
        match self {
            UpdateKind::Patch => "patch",
            UpdateKind::Minor => "minor",
            UpdateKind::Major => "major",
        }
    }
}

/// What every version scheme can answer. Versions and requirements are the strings found in
/// manifests and registries; nothing here panics on any input.
pub trait VersionScheme: Sync {
    /// Is `version` a version of this scheme?
    fn is_valid(&self, version: &str) -> bool;

    /// Total order. Invalid versions sort below every valid one (then by plain string order).
    fn compare(&self, a: &str, b: &str) -> Ordering;

    /// A release version (not a prerelease, snapshot, dev build, ...).
    fn is_stable(&self, version: &str) -> bool;

    /// Is `requirement` a requirement (range, exact pin, ...) of this scheme?
    fn is_valid_requirement(&self, requirement: &str) -> bool;

    /// Does `version` satisfy `requirement`?
    fn satisfies(&self, version: &str, requirement: &str) -> bool;

    /// The lowest version `requirement` allows, written as a full version (`^1.2` → `1.2.0`);
    /// `None` when the requirement has no lower bound or is invalid.
    fn lower_bound(&self, requirement: &str) -> Option<String>;

    /// The kind of change from `from` to `to`; `None` unless `to` is newer than `from`.
    fn update_kind(&self, from: &str, to: &str) -> Option<UpdateKind>;

    /// Can `candidate` replace `current` at all (e.g. Docker `3.12-slim` only moves to `*-slim`)?
    fn is_compatible(&self, current: &str, candidate: &str) -> bool {
        let _ = (current, candidate);
        true
    }

    /// The new requirement that admits `new_version`, keeping the operator style of
    /// `requirement` (`^1.2` → `^1.4`, `~=3.2` → `~=6.1`, `>=1.1,<2` → `>=3.1,<4`, `1.0.100` →
    /// `1.0.229`). `None` when the requirement cannot be rewritten.
    fn bump(&self, requirement: &str, new_version: &str) -> Option<String>;
}

/// Every version scheme; `Ecosystem::versioning` picks one per ecosystem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Versioning {
    /// SemVer with Cargo requirement semantics.
    Cargo,
    /// SemVer with npm range semantics.
    Npm,
    /// PEP 440.
    Pep440,
    /// Maven ComparableVersion and version ranges.
    Maven,
    /// Go modules: v-prefixed semver, `+incompatible`, pseudo-versions.
    Go,
    /// Docker tags: numeric parts compared, suffix kept.
    Docker,
    /// Anything dotted-numeric-ish: toolchains, action tags.
    Loose,
}

impl Versioning {
    pub fn scheme(self) -> &'static dyn VersionScheme {
        match self {
            Versioning::Cargo => &cargo::Cargo,
            Versioning::Npm => &npm::Npm,
            Versioning::Pep440 => &pep440::Pep440,
            Versioning::Maven => &maven::Maven,
            Versioning::Go => &go::Go,
            Versioning::Docker => &docker::Docker,
            Versioning::Loose => &loose::Loose,
        }
    }
}
