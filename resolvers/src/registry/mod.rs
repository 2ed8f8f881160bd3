//! Registry adapters: one module per registry protocol. Each turns a package name into its full
//! release history ([`ReleaseSet`]) through the shared [`crate::http::HttpClient`]. Whether a
//! version is a prerelease is its version scheme's answer
//! ([`crate::versioning::VersionScheme::is_prerelease`]); an adapter adds only what the registry
//! itself states (a release flagged prerelease, a toolchain not marked stable).
//!
//! Every host in [`RegistryConfig`] (base URLs, the defaults table, npm scope registries, extra
//! Maven repositories, `GOPROXY` entries) is a configured registry, exempt from the HTTP
//! client's address guard; any other host a lookup reaches (an image registry named in a
//! Dockerfile, a URL from a manifest) is reached on public addresses only. A request the guard
//! refuses makes the lookup [`RegistryError::Skipped`] with the reason.

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
    /// A prerelease: the ecosystem's version scheme says so
    /// ([`crate::versioning::VersionScheme::is_prerelease`]), or the registry marks it as one (a
    /// GitHub release flagged prerelease, a Go toolchain not marked stable, a Node.js release
    /// outside LTS).
    pub prerelease: bool,
    /// The runtime this release says it needs, as the registry states it and in that runtime's
    /// requirement syntax: PyPI `requires_python` (PEP 440), npm `engines.node` (an npm range),
    /// the crates index's `rust_version` (a minimum). `None` when the registry does not say.
    /// Checked against a repository's runtime by [`crate::runtime`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requires_runtime: Option<String>,
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
    Http(crate::http::HttpError),
}

impl From<crate::http::HttpError> for RegistryError {
    /// A request the address guard refused is a lookup not made ([`RegistryError::Skipped`]),
    /// not a registry failure worth retrying.
    fn from(error: crate::http::HttpError) -> Self {
        match error {
            crate::http::HttpError::Refused { url, reason } => {
                RegistryError::Skipped(format!("request to {url} refused: {reason}"))
            }
            other => RegistryError::Http(other),
        }
    }
}

pub mod cargo_sparse;
pub mod github;
pub mod goproxy;
pub mod maven;
pub mod npm;
pub mod oci;
pub mod pypi;
pub mod toolchain;

use std::collections::BTreeMap;

use crate::Ecosystem;
use crate::http::HttpClient;
use crate::http::address_guard::AllowedHosts;

/// The one defaults table of registry base URLs, keyed by registry name. Every entry can be
/// overridden through [`RegistryConfig::base_urls`] (the service maps `UPKEEP_REGISTRY_<KEY>`).
pub const DEFAULT_BASE_URLS: &[(&str, &str)] = &[
    ("cargo", "https://index.crates.io/"),
    ("npm", "https://registry.npmjs.org/"),
    ("pypi", "https://pypi.org/"),
    ("maven", "https://repo.maven.apache.org/maven2/"),
    ("gradle-plugins", "https://plugins.gradle.org/m2/"),
    ("go", "https://proxy.golang.org/"),
    ("docker", "https://registry-1.docker.io/"),
    ("github", "https://api.github.com/"),
    ("node", "https://nodejs.org/dist/"),
    ("python", "https://www.python.org/"),
    ("golang", "https://go.dev/"),
    ("rust", "https://static.rust-lang.org/"),
    ("gradle", "https://services.gradle.org/"),
    ("hashicorp", "https://releases.hashicorp.com/"),
];

/// Registry settings beyond the defaults. Credentials for registry hosts live in
/// [`crate::http::HttpConfig::credentials`]; `Debug` never prints the GitHub token.
#[derive(Clone, Default)]
pub struct RegistryConfig {
    /// Base URL overrides keyed like [`DEFAULT_BASE_URLS`].
    pub base_urls: BTreeMap<String, String>,
    /// npm scope (`@org`) → registry URL, like `.npmrc`'s `@org:registry=`.
    pub npm_scopes: BTreeMap<String, String>,
    /// Extra Maven repositories searched after the default one, in order.
    pub maven_repositories: Vec<String>,
    /// A `GOPROXY`-style list (`url,url|direct|off`); empty means the default proxy.
    pub goproxy: String,
    /// `GOPRIVATE`-style comma-separated glob patterns of modules that are never looked up.
    pub goprivate: String,
    /// Token for the GitHub API (tags and releases of actions).
    pub github_token: Option<String>,
    /// Ask npm registries for abbreviated packuments (`application/vnd.npm.install-v1+json`):
    /// much smaller, but without publish times, repository and homepage. Off by default,
    /// because publish times feed recommendations and pull request bodies.
    pub npm_abbreviated_metadata: bool,
}

impl std::fmt::Debug for RegistryConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryConfig")
            .field("base_urls", &self.base_urls)
            .field("npm_scopes", &self.npm_scopes)
            .field("maven_repositories", &self.maven_repositories)
            .field("goproxy", &self.goproxy)
            .field("goprivate", &self.goprivate)
            .field("github_token", &self.github_token.as_ref().map(|_| "***"))
            .field("npm_abbreviated_metadata", &self.npm_abbreviated_metadata)
            .finish()
    }
}

/// Everything an adapter needs: the shared client and the configuration.
pub struct Registries {
    pub http: HttpClient,
    pub config: RegistryConfig,
    /// What adapters keep between lookups (parsed index configs, the GitHub client).
    state: AdapterState,
}

/// Per-process adapter state, built lazily.
#[derive(Default)]
struct AdapterState {
    cargo_index_configs: cargo_sparse::IndexConfigs,
    github: github::ClientSlot,
}

impl Registries {
    /// The adapters over `http`, with every registry host of `config` exempt from the address
    /// guard.
    pub fn new(http: HttpClient, config: RegistryConfig) -> Self {
        let mut registries = Registries {
            http,
            config,
            state: AdapterState::default(),
        };
        registries.http = registries.http.allowing(&registries.configured_hosts());
        registries
    }

    /// The hosts of every configured registry: the base URL of each key of the defaults table and
    /// of the overrides, npm scope registries, extra Maven repositories, `GOPROXY` URLs.
    fn configured_hosts(&self) -> AllowedHosts {
        let mut hosts = AllowedHosts::none();
        let keys = DEFAULT_BASE_URLS
            .iter()
            .map(|(key, _)| *key)
            .chain(self.config.base_urls.keys().map(String::as_str));
        for key in keys {
            hosts.insert_url(&self.base_url(key));
        }
        for url in self
            .config
            .npm_scopes
            .values()
            .chain(&self.config.maven_repositories)
        {
            hosts.insert_url(url);
        }
        for entry in self.config.goproxy.split([',', '|']).map(str::trim) {
            if entry.contains("://") {
                hosts.insert_url(entry);
            } else if !matches!(entry, "" | "direct" | "off") {
                hosts.insert_url(&format!("https://{entry}"));
            }
        }
        hosts
    }

    /// The base URL for registry `key`, with a trailing `/`.
    pub fn base_url(&self, key: &str) -> String {
        let url = self
            .config
            .base_urls
            .get(key)
            .map(String::as_str)
            .or_else(|| {
                DEFAULT_BASE_URLS
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map(|(_, v)| *v)
            })
            .unwrap_or_default();
        if url.ends_with('/') {
            url.to_owned()
        } else {
            format!("{url}/")
        }
    }

    /// The registry URL for npm package `name`: its scope's registry from
    /// [`RegistryConfig::npm_scopes`] (keys `@scope` or `scope`), else the `npm` base URL.
    pub fn npm_registry_for(&self, name: &str) -> String {
        let scoped = name
            .strip_prefix('@')
            .and_then(|rest| rest.split_once('/'))
            .map(|(scope, _)| scope);
        let configured = scoped.and_then(|scope| {
            self.config
                .npm_scopes
                .get(&format!("@{scope}"))
                .or_else(|| self.config.npm_scopes.get(scope))
        });
        match configured {
            Some(url) if url.ends_with('/') => url.clone(),
            Some(url) => format!("{url}/"),
            None => self.base_url("npm"),
        }
    }

    /// Every release of `name` in `ecosystem`.
    pub async fn releases(
        &self,
        ecosystem: Ecosystem,
        name: &str,
    ) -> Result<ReleaseSet, RegistryError> {
        match ecosystem {
            Ecosystem::Cargo => cargo_sparse::releases(self, name).await,
            Ecosystem::Npm => npm::releases(self, name).await,
            Ecosystem::Pypi => pypi::releases(self, name).await,
            Ecosystem::Maven => maven::releases(self, name).await,
            Ecosystem::Go => goproxy::releases(self, name).await,
            Ecosystem::Docker => oci::releases(self, name).await,
            Ecosystem::GithubActions => github::releases(self, name).await,
            Ecosystem::Toolchain => toolchain::releases(self, name).await,
        }
    }
}

impl std::fmt::Debug for Registries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registries")
            .field("http", &self.http)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// The common status mapping of adapters: 2xx is fine, 404/410 mean the package does not
/// exist, anything else is [`RegistryError::Status`].
pub(crate) fn expect_success(
    response: &crate::http::HttpResponse,
    url: &str,
) -> Result<(), RegistryError> {
    match response.status {
        200..=299 => Ok(()),
        404 | 410 => Err(RegistryError::NotFound),
        status => Err(RegistryError::Status {
            status,
            url: url.to_owned(),
        }),
    }
}

/// A [`RegistryError::Malformed`] for `url`.
pub(crate) fn malformed(url: &str, message: impl std::fmt::Display) -> RegistryError {
    RegistryError::Malformed {
        url: url.to_owned(),
        message: message.to_string(),
    }
}
