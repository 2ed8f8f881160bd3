//! The one enum that wires a package namespace to its version scheme and its registry protocol.
//! Every match on [`Ecosystem`] is exhaustive, so a half-wired ecosystem does not compile.

use serde::{Deserialize, Serialize};

use crate::versioning::Versioning;

/// A package namespace: the registry a package name is looked up in, and how its versions order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ecosystem {
    /// Rust crates (Cargo registries).
    Cargo,
    /// npm packages.
    Npm,
    /// Python packages (PyPI and compatible indexes).
    Pypi,
    /// Maven artifacts (`groupId:artifactId`), also used by Gradle and sbt.
    Maven,
    /// Go modules.
    Go,
    /// Container images.
    Docker,
    /// GitHub Actions (`owner/repo[/path]`), versioned by git tags.
    GithubActions,
    /// Language toolchains and build tools (`rust`, `node`, `python`, `go`, `java`, `gradle`, ...).
    Toolchain,
}

impl Ecosystem {
    pub const ALL: [Ecosystem; 8] = [
        Ecosystem::Cargo,
        Ecosystem::Npm,
        Ecosystem::Pypi,
        Ecosystem::Maven,
        Ecosystem::Go,
        Ecosystem::Docker,
        Ecosystem::GithubActions,
        Ecosystem::Toolchain,
    ];

    /// The stable name used in JSON, the database and configuration keys.
    pub fn as_str(self) -> &'static str {
        match self {
            Ecosystem::Cargo => "cargo",
            Ecosystem::Npm => "npm",
            Ecosystem::Pypi => "pypi",
            Ecosystem::Maven => "maven",
            Ecosystem::Go => "go",
            Ecosystem::Docker => "docker",
            Ecosystem::GithubActions => "github-actions",
            Ecosystem::Toolchain => "toolchain",
        }
    }

    /// The version scheme of this ecosystem's packages.
    pub fn versioning(self) -> Versioning {
        match self {
            Ecosystem::Cargo => Versioning::Cargo,
            Ecosystem::Npm => Versioning::Npm,
            Ecosystem::Pypi => Versioning::Pep440,
            Ecosystem::Maven => Versioning::Maven,
            Ecosystem::Go => Versioning::Go,
            Ecosystem::Docker => Versioning::Docker,
            Ecosystem::GithubActions | Ecosystem::Toolchain => Versioning::Loose,
        }
    }
}

impl std::fmt::Display for Ecosystem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Ecosystem {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ecosystem::ALL
            .into_iter()
            .find(|e| e.as_str() == s)
            .ok_or_else(|| format!("unknown ecosystem `{s}`"))
    }
}
