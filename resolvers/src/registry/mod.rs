//! Registry adapters: one module per registry protocol. Each turns a package name into its full
//! release history ([`ReleaseSet`]) through the shared [`crate::http::HttpClient`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One version of a package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    pub version: String,
    /// When the registry says it was published; `None` when the protocol does not say.
    pub published_at: Option<DateTime<Utc>>,
    /// Yanked (Cargo, PyPI PEP 592) — never recommended.
    pub yanked: bool,
    /// Deprecation message (npm), when deprecated.
    pub deprecated: Option<String>,
    /// A prerelease in the ecosystem's version scheme.
    pub prerelease: bool,
}

/// Everything a registry says about one package.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseSet {
    pub releases: Vec<Release>,
    /// The version the registry itself calls latest (npm `dist-tags.latest`, Maven `<release>`).
    pub latest_tag: Option<String>,
    pub source_url: Option<String>,
    pub homepage: Option<String>,
    pub changelog_url: Option<String>,
}

/// Why a lookup produced no release set.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("package not found in the registry")]
    NotFound,
    #[error("not looked up: {0}")]
    Skipped(String),
    #[error("registry answered HTTP {status} for {url}")]
    Status { status: u16, url: String },
    #[error("malformed registry response from {url}: {message}")]
    Malformed { url: String, message: String },
    #[error(transparent)]
    Http(#[from] crate::http::HttpError),
}
