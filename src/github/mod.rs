//! GitHub through `octocrab`, against the configured API base URL (GitHub Enterprise Server works
//! the same way): repository metadata, the default branch head with a conditional request, the
//! recursive tree, blobs, and organisation repository lists. Authentication is a personal access
//! token or a GitHub App (app JWT → installation token, refreshed before it expires).
//! One rate-limit budget is shared by every caller in the process.
//!
//! How requests go out: octocrab's raw calls (`build_request` + `execute`), so every response's
//! status and headers are seen here. Before each request the shared [`budget::Budget`] is asked
//! whether to go, wait for the reset, or give up with [`GithubError::RateLimited`]; every response's
//! `X-RateLimit-Remaining` / `X-RateLimit-Reset` update it. Secondary limits (403/429 with
//! `Retry-After` or a "secondary rate limit" message) and exhausted primary limits are waited out
//! and retried, within [`GithubTuning::max_wait`] and [`GithubTuning::max_retries`].
//!
//! GitHub App: the client signs an app JWT (octocrab's `jsonwebtoken` re-export, RS256, `iss` = app
//! id), finds the installation of the repository's owner (`GET /repos/{o}/{r}/installation` or
//! `GET /orgs/{org}/installation`, cached per account), mints an installation token
//! (`POST /app/installations/{id}/access_tokens`), caches it per installation and mints a new one
//! when it is within [`GithubTuning::token_refresh_margin`] of `expires_at` (or GitHub answers 401).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, Utc};
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use octocrab::Octocrab;
use serde::{Deserialize, Serialize};
use sha2::Digest;
use tokio::sync::{Mutex as AsyncMutex, OnceCell};

use crate::config::Secret;

pub mod budget;
pub mod records;

use budget::{Admission, Budget};

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
    /// Rate-limit retries of one call.
    pub max_retries: u32,
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

    fn index(self) -> usize {
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
    /// Requests repeated after a rate limit or an expired installation token.
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

#[derive(Default)]
struct Counters {
    requests: [AtomicU64; 7],
    not_modified: AtomicU64,
    retries: AtomicU64,
    waits: AtomicU64,
}

struct CachedToken {
    token: Secret,
    expires_at: DateTime<Utc>,
}

struct AppState {
    app_id: u64,
    key: octocrab::EncodingKey,
    /// Account login (lower case) → installation id.
    installations: std::sync::Mutex<HashMap<String, u64>>,
    /// Installation id → token.
    tokens: AsyncMutex<HashMap<u64, CachedToken>>,
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

/// Who a request acts for, which decides its credential.
#[derive(Debug, Clone, Copy)]
enum Scope<'a> {
    /// A repository's owner (installation of that account, for a GitHub App).
    Repo { owner: &'a str, repo: &'a str },
    /// An organisation (installation of that organisation, for a GitHub App).
    Org(&'a str),
    /// The app itself (app JWT).
    App,
}

impl Scope<'_> {
    fn account(&self) -> Option<String> {
        match self {
            Scope::Repo { owner, .. } => Some(owner.to_ascii_lowercase()),
            Scope::Org(org) => Some(org.to_ascii_lowercase()),
            Scope::App => None,
        }
    }
}

/// One response, read whole.
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    fn json<T: serde::de::DeserializeOwned>(&self, what: &str) -> Result<T, GithubError> {
        serde_json::from_str(&self.body)
            .map_err(|e| GithubError::Api(format!("unexpected response shape for {what}: {e}")))
    }

    /// GitHub's `message`, for error texts.
    fn message(&self) -> String {
        serde_json::from_str::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|v| v["message"].as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// An error for an unexpected status.
    fn error(&self, what: &str) -> GithubError {
        match self.status {
            StatusCode::NOT_FOUND | StatusCode::GONE => GithubError::NotFound(what.to_owned()),
            status => {
                let message = self.message();
                if message.is_empty() {
                    GithubError::Api(format!("{what}: HTTP {}", status.as_u16()))
                } else {
                    GithubError::Api(format!("{what}: HTTP {}: {message}", status.as_u16()))
                }
            }
        }
    }
}

/// What to do with a response.
enum Outcome {
    Done,
    /// The installation token was refused: mint a new one and repeat once.
    Unauthorized,
    /// Rate limited: wait this long and repeat; `reset_at` for the error when not waiting.
    Wait {
        wait: Duration,
        reset_at: DateTime<Utc>,
    },
}

#[derive(Deserialize)]
struct RepoResponse {
    full_name: String,
    #[serde(default)]
    default_branch: Option<String>,
    #[serde(default)]
    archived: bool,
    #[serde(default)]
    private: bool,
}

impl From<RepoResponse> for RepoInfo {
    fn from(repo: RepoResponse) -> Self {
        RepoInfo {
            full_name: repo.full_name,
            // A repository without commits reports no default branch; GitHub names new ones `main`.
            default_branch: repo.default_branch.unwrap_or_else(|| "main".to_owned()),
            archived: repo.archived,
            private: repo.private,
        }
    }
}

#[derive(Deserialize)]
struct BranchResponse {
    commit: BranchCommit,
}

#[derive(Deserialize)]
struct BranchCommit {
    sha: String,
}

#[derive(Deserialize)]
struct TreeResponse {
    sha: String,
    #[serde(default)]
    tree: Vec<TreeItem>,
    #[serde(default)]
    truncated: bool,
}

#[derive(Deserialize)]
struct TreeItem {
    path: String,
    #[serde(default)]
    mode: String,
    #[serde(rename = "type")]
    kind: String,
    sha: String,
    #[serde(default)]
    size: Option<u64>,
}

#[derive(Deserialize)]
struct BlobResponse {
    #[serde(default)]
    content: String,
    #[serde(default)]
    encoding: String,
}

#[derive(Deserialize)]
struct InstallationResponse {
    id: u64,
}

#[derive(Deserialize)]
struct AccessTokenResponse {
    token: String,
    expires_at: DateTime<Utc>,
}

/// Subtree requests one truncated tree may cost at most.
const MAX_SUBTREES: usize = 50_000;
/// Pages one organisation listing may cost at most.
const MAX_PAGES: usize = 1_000;
/// A symbolic link's mode: its blob is a path, not file content.
const SYMLINK_MODE: &str = "120000";

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
        let (identity, app) = match &config.auth {
            GithubAuth::Anonymous => ("anonymous".to_owned(), None),
            GithubAuth::Token(token) => {
                let digest = sha2::Sha256::digest(token.expose().as_bytes());
                (format!("token:{}", &hex::encode(digest)[..16]), None)
            }
            GithubAuth::App {
                app_id,
                private_key,
            } => {
                let key = load_app_key(private_key)?;
                (
                    format!("app:{app_id}"),
                    Some(AppState {
                        app_id: *app_id,
                        key,
                        installations: std::sync::Mutex::new(HashMap::new()),
                        tokens: AsyncMutex::new(HashMap::new()),
                    }),
                )
            }
        };
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

    /// Repository metadata (`GET /repos/{owner}/{repo}`).
    pub async fn repository(&self, full_name: &str) -> Result<RepoInfo, GithubError> {
        let (owner, repo) = split_full_name(full_name)?;
        let reply = self
            .call(
                Endpoint::Repository,
                Method::GET,
                &format!("/repos/{owner}/{repo}"),
                Scope::Repo { owner, repo },
                HeaderMap::new(),
                None,
            )
            .await?;
        if reply.status != StatusCode::OK {
            return Err(reply.error(&format!("repository {full_name}")));
        }
        Ok(reply
            .json::<RepoResponse>(&format!("repository {full_name}"))?
            .into())
    }

    /// The head commit of `branch`, conditionally on `etag`.
    pub async fn branch_head(
        &self,
        full_name: &str,
        branch: &str,
        etag: Option<&str>,
    ) -> Result<Conditional<String>, GithubError> {
        let (owner, repo) = split_full_name(full_name)?;
        if branch.trim().is_empty() {
            return Err(GithubError::Api(format!(
                "empty branch name for {full_name}"
            )));
        }
        let mut headers = HeaderMap::new();
        if let Some(value) = etag.and_then(|e| HeaderValue::from_str(e).ok()) {
            headers.insert(header::IF_NONE_MATCH, value);
        }
        let reply = self
            .call(
                Endpoint::Branch,
                Method::GET,
                &format!("/repos/{owner}/{repo}/branches/{}", encode_path(branch)),
                Scope::Repo { owner, repo },
                headers,
                None,
            )
            .await?;
        let what = format!("branch {branch} of {full_name}");
        match reply.status {
            StatusCode::NOT_MODIFIED => Ok(Conditional::NotModified),
            StatusCode::OK => {
                let branch: BranchResponse = reply.json(&what)?;
                Ok(Conditional::Modified {
                    value: branch.commit.sha,
                    etag: reply.header("etag").map(str::to_owned),
                })
            }
            _ => Err(reply.error(&what)),
        }
    }

    /// Every blob of the tree at `commit` (truncated trees are completed by walking subtrees).
    /// Symbolic links and submodules are left out: their objects hold no file content.
    pub async fn tree(&self, full_name: &str, commit: &str) -> Result<Vec<TreeEntry>, GithubError> {
        let (owner, repo) = split_full_name(full_name)?;
        check_ref(commit)?;
        let what = format!("tree {commit} of {full_name}");
        let root = self
            .tree_request(owner, repo, commit, true)
            .await?
            .map_err(|reply| reply.error(&what))?;
        if !root.truncated {
            let mut entries: Vec<TreeEntry> =
                root.tree.into_iter().filter_map(blob_entry).collect();
            entries.sort_by(|a, b| a.path.cmp(&b.path));
            return Ok(entries);
        }
        tracing::debug!(repository = full_name, "truncated tree; walking subtrees");
        let mut entries = Vec::new();
        let mut pending = vec![(String::new(), root.sha)];
        let mut walked = 0usize;
        while let Some((prefix, sha)) = pending.pop() {
            walked += 1;
            if walked > MAX_SUBTREES {
                return Err(GithubError::Api(format!(
                    "{what}: more than {MAX_SUBTREES} directories"
                )));
            }
            let level = self
                .tree_request(owner, repo, &sha, false)
                .await?
                .map_err(|reply| reply.error(&format!("subtree {prefix} of {full_name}")))?;
            if level.truncated {
                tracing::warn!(
                    repository = full_name,
                    directory = prefix,
                    "a single directory listing is truncated; some files are not seen"
                );
            }
            for item in level.tree {
                let path = format!("{prefix}{}", item.path);
                match item.kind.as_str() {
                    "tree" => pending.push((format!("{path}/"), item.sha)),
                    _ => {
                        if let Some(entry) = blob_entry(TreeItem { path, ..item }) {
                            entries.push(entry);
                        }
                    }
                }
            }
        }
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(entries)
    }

    /// `GET /git/trees/{sha}`: the parsed tree, or the reply when the status is not 200.
    async fn tree_request(
        &self,
        owner: &str,
        repo: &str,
        sha: &str,
        recursive: bool,
    ) -> Result<Result<TreeResponse, Reply>, GithubError> {
        let query = if recursive { "?recursive=1" } else { "" };
        let reply = self
            .call(
                Endpoint::Tree,
                Method::GET,
                &format!("/repos/{owner}/{repo}/git/trees/{sha}{query}"),
                Scope::Repo { owner, repo },
                HeaderMap::new(),
                None,
            )
            .await?;
        if reply.status != StatusCode::OK {
            return Ok(Err(reply));
        }
        reply.json(&format!("tree {sha}")).map(Ok)
    }

    /// A blob's bytes.
    pub async fn blob(&self, full_name: &str, sha: &str) -> Result<Vec<u8>, GithubError> {
        let (owner, repo) = split_full_name(full_name)?;
        check_ref(sha)?;
        let what = format!("blob {sha} of {full_name}");
        let reply = self
            .call(
                Endpoint::Blob,
                Method::GET,
                &format!("/repos/{owner}/{repo}/git/blobs/{sha}"),
                Scope::Repo { owner, repo },
                HeaderMap::new(),
                None,
            )
            .await?;
        if reply.status != StatusCode::OK {
            return Err(reply.error(&what));
        }
        let blob: BlobResponse = reply.json(&what)?;
        match blob.encoding.as_str() {
            "base64" => {
                let compact: Vec<u8> = blob
                    .content
                    .bytes()
                    .filter(|b| !b.is_ascii_whitespace())
                    .collect();
                base64::engine::general_purpose::STANDARD
                    .decode(compact)
                    .map_err(|e| GithubError::Api(format!("{what}: invalid base64 content: {e}")))
            }
            "utf-8" | "utf8" => Ok(blob.content.into_bytes()),
            other => Err(GithubError::Api(format!(
                "{what}: unknown content encoding `{other}`"
            ))),
        }
    }

    /// Every repository of an organisation (all pages).
    pub async fn org_repositories(&self, org: &str) -> Result<Vec<RepoInfo>, GithubError> {
        check_login(org)?;
        let what = format!("organisation {org}");
        let mut target = format!(
            "/orgs/{org}/repos?per_page={}&type=all",
            self.inner.tuning.page_size.clamp(1, 100)
        );
        let mut repos = Vec::new();
        for page in 1..=MAX_PAGES {
            let reply = self
                .call(
                    Endpoint::OrgRepositories,
                    Method::GET,
                    &target,
                    Scope::Org(org),
                    HeaderMap::new(),
                    None,
                )
                .await?;
            if reply.status != StatusCode::OK {
                return Err(reply.error(&what));
            }
            let items: Vec<RepoResponse> = reply.json(&what)?;
            repos.extend(items.into_iter().map(RepoInfo::from));
            match reply.header("link").and_then(next_link) {
                Some(next) => target = self.same_origin(&next)?,
                None => return Ok(repos),
            }
            if page == MAX_PAGES {
                tracing::warn!(org, pages = page, "stopped following pagination");
            }
        }
        Ok(repos)
    }

    /// A `Link` target, accepted only on the configured API's origin (the request carries our
    /// credential).
    fn same_origin(&self, link: &str) -> Result<String, GithubError> {
        let url = url::Url::parse(link)
            .map_err(|e| GithubError::Api(format!("invalid pagination link `{link}`: {e}")))?;
        if url.origin() != self.inner.base.origin() {
            return Err(GithubError::Api(format!(
                "pagination link `{link}` leaves the configured API"
            )));
        }
        Ok(url.to_string())
    }

    async fn octocrab(&self) -> Result<&Octocrab, GithubError> {
        self.inner
            .octocrab
            .get_or_try_init(|| async {
                let builder = Octocrab::builder()
                    .base_uri(self.inner.config.api_url.trim())
                    .map_err(|e| GithubError::Api(format!("invalid API URL: {e}")))?
                    .set_connect_timeout(Some(Duration::from_secs(10)))
                    .set_read_timeout(Some(self.inner.tuning.timeout));
                builder
                    .build()
                    .map_err(|e| GithubError::Api(format!("cannot build the HTTP client: {e}")))
            })
            .await
    }

    /// Send with credentials for `scope`, waiting out rate limits and renewing a refused
    /// installation token once.
    async fn call(
        &self,
        endpoint: Endpoint,
        method: Method,
        target: &str,
        scope: Scope<'_>,
        headers: HeaderMap,
        body: Option<serde_json::Value>,
    ) -> Result<Reply, GithubError> {
        let mut rate_retries = 0u32;
        let mut renewed = false;
        loop {
            let credential = self.credential(scope).await?;
            let reply = self
                .send(
                    endpoint,
                    &method,
                    target,
                    credential.as_ref(),
                    &headers,
                    body.as_ref(),
                )
                .await?;
            match self.outcome(&reply, rate_retries) {
                Outcome::Done => return Ok(reply),
                Outcome::Unauthorized => {
                    let uses_installation = self.inner.app.is_some() && scope.account().is_some();
                    if renewed || !uses_installation {
                        return Ok(reply);
                    }
                    renewed = true;
                    self.forget_token(scope).await;
                    self.inner.counters.retries.fetch_add(1, Ordering::Relaxed);
                }
                Outcome::Wait { wait, reset_at } => {
                    if rate_retries >= self.inner.tuning.max_retries
                        || wait > self.inner.tuning.max_wait
                    {
                        return Err(GithubError::RateLimited { reset_at });
                    }
                    rate_retries += 1;
                    tracing::warn!(
                        endpoint = endpoint.as_str(),
                        status = reply.status.as_u16(),
                        wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                        "GitHub rate limit; waiting before retrying"
                    );
                    self.inner.counters.waits.fetch_add(1, Ordering::Relaxed);
                    self.inner.counters.retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    fn outcome(&self, reply: &Reply, retries: u32) -> Outcome {
        let status = reply.status;
        if status == StatusCode::UNAUTHORIZED {
            return Outcome::Unauthorized;
        }
        if status != StatusCode::FORBIDDEN && status != StatusCode::TOO_MANY_REQUESTS {
            return Outcome::Done;
        }
        let now = Utc::now();
        if let Some(seconds) = reply
            .header("retry-after")
            .and_then(|v| v.trim().parse::<u64>().ok())
        {
            let wait = Duration::from_secs(seconds);
            return Outcome::Wait {
                wait,
                reset_at: now + chrono::Duration::seconds(i64::try_from(seconds).unwrap_or(0)),
            };
        }
        let remaining = reply
            .header("x-ratelimit-remaining")
            .and_then(|v| v.trim().parse::<u64>().ok());
        let reset = reply
            .header("x-ratelimit-reset")
            .and_then(|v| v.trim().parse::<i64>().ok());
        if remaining == Some(0)
            && let Some(reset) = reset
        {
            let wait_ms = (reset.saturating_mul(1000) - now.timestamp_millis()).max(0);
            return Outcome::Wait {
                wait: Duration::from_millis(u64::try_from(wait_ms).unwrap_or(0))
                    + Duration::from_millis(250),
                reset_at: budget::epoch_to_datetime(reset),
            };
        }
        let secondary = reply
            .message()
            .to_ascii_lowercase()
            .contains("secondary rate limit");
        if secondary || status == StatusCode::TOO_MANY_REQUESTS || remaining == Some(0) {
            let wait = self
                .inner
                .tuning
                .secondary_backoff
                .saturating_mul(1 << retries.min(6));
            return Outcome::Wait {
                wait,
                reset_at: now + chrono::Duration::from_std(wait).unwrap_or_default(),
            };
        }
        Outcome::Done
    }

    /// One HTTP exchange: budget admission, the request, budget update, counters.
    async fn send(
        &self,
        endpoint: Endpoint,
        method: &Method,
        target: &str,
        credential: Option<&Secret>,
        headers: &HeaderMap,
        body: Option<&serde_json::Value>,
    ) -> Result<Reply, GithubError> {
        let tuning = &self.inner.tuning;
        loop {
            match self
                .inner
                .budget
                .admit(tuning.rate_limit_reserve, tuning.max_wait)?
            {
                Admission::Go => break,
                Admission::Wait(wait) => {
                    tracing::info!(
                        wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                        "GitHub rate-limit budget under the reserve; pausing until it resets"
                    );
                    self.inner.counters.waits.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(wait).await;
                }
            }
        }
        let crab = self.octocrab().await?;
        let mut builder = http::Request::builder()
            .method(method.clone())
            .uri(target)
            .header(header::ACCEPT, "application/vnd.github+json");
        for (name, value) in headers {
            builder = builder.header(name, value);
        }
        if let Some(secret) = credential {
            let mut value = HeaderValue::from_str(&format!("Bearer {}", secret.expose()))
                .map_err(|_| GithubError::Api("the credential is not a valid header".into()))?;
            value.set_sensitive(true);
            builder = builder.header(header::AUTHORIZATION, value);
        }
        let request = crab.build_request(builder, body).map_err(|e| {
            GithubError::Api(format!("cannot build request {method} {target}: {e}"))
        })?;
        self.inner.counters.requests[endpoint.index()].fetch_add(1, Ordering::Relaxed);
        let response = crab
            .execute(request)
            .await
            .map_err(|e| GithubError::Api(format!("{method} {}: {e}", path_of(target))))?;
        let status = response.status();
        let headers = response.headers().clone();
        self.inner.budget.observe(
            headers
                .get("x-ratelimit-remaining")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse().ok()),
            headers
                .get("x-ratelimit-reset")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse().ok()),
        );
        if status == StatusCode::NOT_MODIFIED {
            self.inner
                .counters
                .not_modified
                .fetch_add(1, Ordering::Relaxed);
        }
        let body = crab.body_to_string(response).await.map_err(|e| {
            GithubError::Api(format!(
                "{method} {}: reading the body: {e}",
                path_of(target)
            ))
        })?;
        Ok(Reply {
            status,
            headers,
            body,
        })
    }

    /// The bearer credential for `scope`.
    async fn credential(&self, scope: Scope<'_>) -> Result<Option<Secret>, GithubError> {
        match &self.inner.config.auth {
            GithubAuth::Anonymous => Ok(None),
            GithubAuth::Token(token) => Ok(Some(token.clone())),
            GithubAuth::App { .. } => {
                let app = self.app()?;
                match scope {
                    Scope::App => {
                        let jwt = octocrab::auth::create_jwt(
                            octocrab::models::AppId(app.app_id),
                            &app.key,
                        )
                        .map_err(|e| GithubError::Api(format!("cannot sign the app JWT: {e}")))?;
                        Ok(Some(Secret::new(jwt)))
                    }
                    Scope::Repo { .. } | Scope::Org(_) => {
                        Box::pin(self.installation_token(scope)).await.map(Some)
                    }
                }
            }
        }
    }

    fn app(&self) -> Result<&AppState, GithubError> {
        self.inner
            .app
            .as_ref()
            .ok_or_else(|| GithubError::Api("GitHub App credentials are missing".into()))
    }

    /// The installation serving `scope`'s account (cached per account).
    async fn installation_id(&self, scope: Scope<'_>) -> Result<u64, GithubError> {
        let app = self.app()?;
        let account = scope.account().unwrap_or_default();
        if let Some(id) = app
            .installations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&account)
        {
            return Ok(*id);
        }
        let target = match scope {
            Scope::Repo { owner, repo } => format!("/repos/{owner}/{repo}/installation"),
            Scope::Org(org) => format!("/orgs/{org}/installation"),
            Scope::App => return Err(GithubError::Api("no installation for the app".into())),
        };
        let reply = self
            .call(
                Endpoint::Installation,
                Method::GET,
                &target,
                Scope::App,
                HeaderMap::new(),
                None,
            )
            .await?;
        let what = format!("GitHub App installation for {account}");
        if reply.status != StatusCode::OK {
            return Err(reply.error(&what));
        }
        let installation: InstallationResponse = reply.json(&what)?;
        app.installations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(account, installation.id);
        Ok(installation.id)
    }

    /// A valid installation token for `scope`'s account, minted when none is cached or the cached
    /// one is about to expire.
    async fn installation_token(&self, scope: Scope<'_>) -> Result<Secret, GithubError> {
        let id = self.installation_id(scope).await?;
        let app = self.app()?;
        let margin =
            chrono::Duration::from_std(self.inner.tuning.token_refresh_margin).unwrap_or_default();
        let mut tokens = app.tokens.lock().await;
        if let Some(cached) = tokens.get(&id)
            && cached.expires_at - Utc::now() > margin
        {
            return Ok(cached.token.clone());
        }
        let reply = self
            .call(
                Endpoint::AccessToken,
                Method::POST,
                &format!("/app/installations/{id}/access_tokens"),
                Scope::App,
                HeaderMap::new(),
                Some(serde_json::json!({})),
            )
            .await?;
        let what = format!("access token of installation {id}");
        if reply.status != StatusCode::CREATED && reply.status != StatusCode::OK {
            if reply.status == StatusCode::NOT_FOUND {
                // The installation went away: look it up again next time.
                if let Some(account) = scope.account() {
                    app.installations
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .remove(&account);
                }
            }
            return Err(reply.error(&what));
        }
        let minted: AccessTokenResponse = reply.json(&what)?;
        let token = Secret::new(minted.token);
        tokens.insert(
            id,
            CachedToken {
                token: token.clone(),
                expires_at: minted.expires_at,
            },
        );
        tracing::debug!(installation = id, expires_at = %minted.expires_at, "minted an installation token");
        Ok(token)
    }

    async fn forget_token(&self, scope: Scope<'_>) {
        let Some(app) = self.inner.app.as_ref() else {
            return;
        };
        let Some(account) = scope.account() else {
            return;
        };
        let id = app
            .installations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&account)
            .copied();
        if let Some(id) = id {
            app.tokens.lock().await.remove(&id);
        }
    }
}

/// The app's private key: PEM text, or the path of a PEM file.
fn load_app_key(private_key: &Secret) -> Result<octocrab::EncodingKey, GithubError> {
    let text = private_key.expose().trim();
    let pem = if text.starts_with("-----BEGIN") {
        text.as_bytes().to_vec()
    } else {
        std::fs::read(text).map_err(|e| {
            GithubError::Api(format!(
                "cannot read the GitHub App private key file: {}",
                e.kind()
            ))
        })?
    };
    octocrab::EncodingKey::from_rsa_pem(&pem).map_err(|e| {
        GithubError::Api(format!(
            "the GitHub App private key is not an RSA PEM key: {e}"
        ))
    })
}

fn blob_entry(item: TreeItem) -> Option<TreeEntry> {
    (item.kind == "blob" && item.mode != SYMLINK_MODE).then_some(TreeEntry {
        path: item.path,
        sha: item.sha,
        size: item.size,
    })
}

/// `owner/repo`, each part made of the characters GitHub allows.
fn split_full_name(full_name: &str) -> Result<(&str, &str), GithubError> {
    let valid = |part: &str| {
        !part.is_empty()
            && part != "."
            && part != ".."
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    };
    match full_name.split_once('/') {
        Some((owner, repo)) if valid(owner) && valid(repo) => Ok((owner, repo)),
        _ => Err(GithubError::Api(format!(
            "`{full_name}` is not a GitHub `owner/repository`"
        ))),
    }
}

/// An account login: letters, digits and hyphens.
fn check_login(login: &str) -> Result<(), GithubError> {
    if login.is_empty()
        || login.len() > 100
        || !login
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(GithubError::Api(format!(
            "`{login}` is not a GitHub account name"
        )));
    }
    Ok(())
}

/// A git object id or ref used in a path: no characters that would change the URL.
fn check_ref(sha: &str) -> Result<(), GithubError> {
    if sha.is_empty()
        || sha.len() > 255
        || !sha
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(GithubError::Api(format!("`{sha}` is not a git object id")));
    }
    Ok(())
}

/// Percent-encode a branch name for a URL path, keeping `/` separators.
fn encode_path(text: &str) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// The `rel="next"` target of a `Link` header.
fn next_link(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let is_next = params
            .split(';')
            .any(|p| p.trim().replace(' ', "") == "rel=\"next\"");
        is_next.then(|| {
            target
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned()
        })
    })
}

/// The path of a request target, for messages (no query, no host).
fn path_of(target: &str) -> &str {
    let path = target.split('?').next().unwrap_or(target);
    match path.find("://") {
        Some(scheme_end) => {
            let rest = &path[scheme_end + 3..];
            rest.find('/').map_or("/", |slash| &rest[slash..])
        }
        None => path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_link_headers() {
        let link = "<https://api.github.com/organizations/1/repos?page=2>; rel=\"next\", \
                    <https://api.github.com/organizations/1/repos?page=5>; rel=\"last\"";
        assert_eq!(
            next_link(link).as_deref(),
            Some("https://api.github.com/organizations/1/repos?page=2")
        );
        assert_eq!(
            next_link("<https://x/?page=1>; rel=\"prev\", <https://x/?page=1>; rel=\"first\""),
            None
        );
    }

    #[test]
    fn validates_names_and_encodes_branches() {
        assert_eq!(split_full_name("a/b.rs").unwrap(), ("a", "b.rs"));
        for bad in ["a", "a/", "/b", "a/b/c", "a/..", "a/b?x", "a b/c"] {
            assert!(split_full_name(bad).is_err(), "{bad}");
        }
        assert_eq!(encode_path("feature/x y#1"), "feature/x%20y%231");
        assert!(check_ref("0123abc").is_ok());
        assert!(check_ref("../x").is_err());
        assert!(check_login("rust-lang").is_ok());
        assert!(check_login("a/b").is_err());
    }

    #[test]
    fn messages_name_paths_only() {
        assert_eq!(path_of("/repos/a/b?x=1"), "/repos/a/b");
        assert_eq!(
            path_of("https://h:1/api/v3/orgs/o/repos?page=2"),
            "/api/v3/orgs/o/repos"
        );
    }

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
