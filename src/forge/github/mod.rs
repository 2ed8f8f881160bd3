//! GitHub through `octocrab`, against the configured API base URL (GitHub Enterprise Server works
//! the same way). Authentication is a personal access token or a GitHub App (app JWT →
//! installation token, refreshed before it expires); one rate-limit budget is shared by every
//! caller in the process.
//!
//! - this module: the client ([`GithubClient`]), its configuration, tuning, errors and request
//!   statistics;
//! - [`transport`]: how a request goes out and what its answer means (rate limits, retries);
//! - [`budget`]: the process-wide rate-limit budget the transport asks before each request;
//! - [`auth`]: which credential a request carries (token, app JWT, installation token);
//! - [`reads`]: the repository reads (metadata, branch head, tree, blobs, organisation lists).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::{DateTime, Utc};
use octocrab::Octocrab;
use serde::Serialize;
use tokio::sync::OnceCell;

use crate::config::Secret;

mod auth;
pub mod budget;
mod reads;
mod transport;

use auth::AppState;
use budget::Budget;
use transport::Counters;

/// How to reach GitHub.
#[derive(Debug, Clone)]
pub struct GithubConfig {
    pub api_url: String,
    pub auth: GithubAuth,
}

#[derive(Debug, Clone)]
pub enum GithubAuth {
    Anonymous,
    Token(Secret),
    App { app_id: u64, private_key: Secret },
}

#[derive(Debug, thiserror::Error)]
pub enum GithubError {
    #[error("GitHub: {0} not found")]
    NotFound(String),
    /// The repository has no commits yet (GitHub: no branch, and `409 Git Repository is empty`
    /// on git objects). Asking again cannot help until someone pushes.
    #[error("GitHub: {0}: the repository is empty (no commits yet)")]
    EmptyRepository(String),
    #[error("GitHub rate limit exhausted until {reset_at}")]
    RateLimited {
        reset_at: chrono::DateTime<chrono::Utc>,
    },
    #[error("GitHub: {0}")]
    Api(String),
}

/// What GitHub says about a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoInfo {
    /// `owner/name`.
    pub full_name: String,
    pub default_branch: String,
    pub archived: bool,
    pub private: bool,
}

/// A conditional request's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conditional<T> {
    /// `304 Not Modified` for the `ETag` sent (not counted against the rate limit).
    NotModified,
    Modified {
        value: T,
        etag: Option<String>,
    },
}

/// One file of a tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeEntry {
    pub path: String,
    /// The blob id (git object sha).
    pub sha: String,
    pub size: Option<u64>,
}

/// Knobs of the client; [`GithubTuning::default`] suits github.com.
#[derive(Debug, Clone)]
pub struct GithubTuning {
    /// Pause before the remaining budget drops under this many requests.
    pub rate_limit_reserve: u64,
    /// The longest a call waits for a rate limit (primary reset or secondary `Retry-After`);
    /// beyond it the call returns [`GithubError::RateLimited`].
    pub max_wait: Duration,
    /// First back-off for a secondary limit without `Retry-After` (doubles per retry).
    pub secondary_backoff: Duration,
    /// Rate-limit retries of one call; also the retries of a GET answered `5xx`.
    pub max_retries: u32,
    /// First back-off before repeating a GET answered `5xx` (doubles per retry).
    pub server_error_backoff: Duration,
    /// Mint a new installation token when the cached one expires within this margin.
    pub token_refresh_margin: Duration,
    /// Read timeout of one request.
    pub timeout: Duration,
    /// `per_page` for list endpoints (GitHub's maximum is 100).
    pub page_size: u32,
}

impl Default for GithubTuning {
    fn default() -> Self {
        GithubTuning {
            rate_limit_reserve: 50,
            max_wait: Duration::from_mins(2),
            secondary_backoff: Duration::from_mins(1),
            max_retries: 3,
            server_error_backoff: Duration::from_secs(1),
            token_refresh_margin: Duration::from_mins(5),
            timeout: Duration::from_secs(30),
            page_size: 100,
        }
    }
}

/// Which endpoint a request went to (for [`GithubStats`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Repository,
    Branch,
    Tree,
    Blob,
    OrgRepositories,
    Installation,
    AccessToken,
}

impl Endpoint {
    pub const ALL: [Endpoint; 7] = [
        Endpoint::Repository,
        Endpoint::Branch,
        Endpoint::Tree,
        Endpoint::Blob,
        Endpoint::OrgRepositories,
        Endpoint::Installation,
        Endpoint::AccessToken,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Repository => "repository",
            Endpoint::Branch => "branch",
            Endpoint::Tree => "tree",
            Endpoint::Blob => "blob",
            Endpoint::OrgRepositories => "org_repositories",
            Endpoint::Installation => "installation",
            Endpoint::AccessToken => "access_token",
        }
    }

    pub(super) fn index(self) -> usize {
        self as usize
    }
}

/// Requests this client (and its clones) sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GithubStats {
    /// HTTP requests per endpoint kind (`repository`, `branch`, `tree`, `blob`,
    /// `org_repositories`, `installation`, `access_token`), retries included.
    pub requests: BTreeMap<&'static str, u64>,
    /// `304 Not Modified` answers.
    pub not_modified: u64,
    /// Requests repeated after a rate limit, a `5xx` or an expired installation token.
    pub retries: u64,
    /// Pauses for the rate-limit budget or a rate-limit answer.
    pub rate_limit_waits: u64,
}

impl GithubStats {
    /// Every HTTP request sent.
    pub fn total(&self) -> u64 {
        self.requests.values().sum()
    }

    pub fn get(&self, endpoint: Endpoint) -> u64 {
        self.requests.get(endpoint.as_str()).copied().unwrap_or(0)
    }
}

struct Inner {
    config: GithubConfig,
    tuning: GithubTuning,
    base: url::Url,
    octocrab: OnceCell<Octocrab>,
    budget: Arc<Budget>,
    counters: Counters,
    app: Option<AppState>,
}

/// The GitHub client shared by the service.
#[derive(Clone)]
pub struct GithubClient {
    inner: Arc<Inner>,
}

impl GithubClient {
    pub fn new(config: GithubConfig) -> Result<Self, GithubError> {
        Self::with_tuning(config, GithubTuning::default())
    }

    /// A client with explicit [`GithubTuning`].
    pub fn with_tuning(config: GithubConfig, tuning: GithubTuning) -> Result<Self, GithubError> {
        let base = url::Url::parse(config.api_url.trim())
            .map_err(|e| GithubError::Api(format!("invalid API URL `{}`: {e}", config.api_url)))?;
        if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
            return Err(GithubError::Api(format!(
                "API URL `{}` is not an http(s) URL",
                config.api_url
            )));
        }
        let (identity, app) = auth::identity(&config.auth)?;
        let budget = budget::shared(&format!(
            "{}|{identity}",
            base.as_str().trim_end_matches('/')
        ));
        Ok(GithubClient {
            inner: Arc::new(Inner {
                config,
                tuning,
                base,
                octocrab: OnceCell::new(),
                budget,
                counters: Counters::default(),
                app,
            }),
        })
    }

    pub fn config(&self) -> &GithubConfig {
        &self.inner.config
    }

    pub fn tuning(&self) -> &GithubTuning {
        &self.inner.tuning
    }

    /// Requests sent so far by this client and its clones.
    pub fn stats(&self) -> GithubStats {
        let counters = &self.inner.counters;
        GithubStats {
            requests: Endpoint::ALL
                .iter()
                .map(|e| {
                    (
                        e.as_str(),
                        counters.requests[e.index()].load(Ordering::Relaxed),
                    )
                })
                .collect(),
            not_modified: counters.not_modified.load(Ordering::Relaxed),
            retries: counters.retries.load(Ordering::Relaxed),
            rate_limit_waits: counters.waits.load(Ordering::Relaxed),
        }
    }

    /// The shared budget's last known figures: (remaining, reset time).
    pub fn rate_limit(&self) -> (Option<u64>, Option<DateTime<Utc>>) {
        let (remaining, reset) = self.inner.budget.snapshot();
        (remaining, reset.map(budget::epoch_to_datetime))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_without_a_runtime_and_rejects_bad_keys() {
        let client = GithubClient::new(GithubConfig {
            api_url: "http://127.0.0.1:9".into(),
            auth: GithubAuth::Token(Secret::new("t")),
        })
        .unwrap();
        assert_eq!(client.stats().total(), 0);
        let err = GithubClient::new(GithubConfig {
            api_url: "http://127.0.0.1:9".into(),
            auth: GithubAuth::App {
                app_id: 1,
                private_key: Secret::new(
                    "-----BEGIN RSA PRIVATE KEY-----\nnope\n-----END RSA PRIVATE KEY-----",
                ),
            },
        })
        .err()
        .unwrap();
        assert!(err.to_string().contains("private key"), "{err}");
        assert!(!err.to_string().contains("nope"), "{err}");
    }
}
