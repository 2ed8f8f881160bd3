//! A fake GitHub REST API on 127.0.0.1, speaking GitHub's wire format for the endpoints upkeep
//! uses: repository objects, branches (with `ETag` / `304`), git trees (recursive, optionally
//! truncated), git blobs (base64), organisation repository lists (`Link` pagination), GitHub App
//! installations and installation access tokens. Every response carries GitHub's rate-limit
//! headers; a `304` does not use up the budget, like GitHub. Requests are counted per endpoint.
//!
//! Failure modes as GitHub has them: primary (403) and secondary (403 or 429, with or without
//! `Retry-After`) rate limits, injected `5xx` answers ([`FakeGithub::inject_failures`]), `301` to
//! `/repositories/{id}/…` for a renamed repository ([`FakeGithub::rename`]), and an empty
//! repository ([`FakeGithub::add_empty_repo`]: no branch, `409 Git Repository is empty` for git
//! objects).
//!
//! Credentials are required by default, as on GitHub for the private repositories upkeep reads:
//! every request must carry `Authorization: Bearer` (or `token`) [`TOKEN`], else it is answered
//! `401 Bad credentials`. The test app is configured with that token (`github_token`);
//! [`FakeGithub::require_token`] and [`FakeGithub::enable_app`] change what is accepted.
//!
//! Git object ids are real: a blob id is the SHA-1 of `blob <len>\0<content>`, trees are hashed
//! like git's tree objects, so a file that did not change keeps its blob id across pushes.
//!
//! Used by the integration tests (`tests/it/github.rs` and others, as `crate::support::fake_github`)
//! and by the fleet benchmark, which includes this file by path. It depends only on axum, tokio,
//! serde (`serde_json`) and `sha1`.
//!
//! ```ignore
//! let github = FakeGithub::start().await;
//! github.add_repo("acme", "api", "main", &[("Cargo.toml", "[package]\nname = \"api\"\n")]);
//! let url = github.url(); // configure `github_api_url` with it
//! github.push("acme", "api", &[("Cargo.toml", "...")]);
//! assert_eq!(github.requests("branch"), 1);
//! ```
//!
//! Endpoint kinds (for [`FakeGithub::requests`]): `repository`, `branch`, `tree`, `blob`,
//! `org_repositories`, `installation`, `access_token`, `unknown`.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use sha1::{Digest, Sha1};

const DOCS: &str = "https://docs.github.com/rest";

/// The personal access token every fake accepts until told otherwise (configure the service's
/// `github_token` with it).
pub const TOKEN: &str = "ghp_fakeToken0123456789abcdefghijklmnop";

/// The git blob id of `content`: SHA-1 of `blob <len>\0<content>`.
pub fn git_blob_sha(content: &[u8]) -> String {
    git_object_sha("blob", content)
}

fn git_object_sha(kind: &str, content: &[u8]) -> String {
    let mut hasher = Sha1::new();
    hasher.update(format!("{kind} {}\0", content.len()).as_bytes());
    hasher.update(content);
    to_hex(&hasher.finalize())
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn from_hex(text: &str) -> Vec<u8> {
    (0..text.len() / 2)
        .filter_map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok())
        .collect()
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with `=` padding, wrapped every 60 characters like GitHub's blob API.
fn base64_wrapped(data: &[u8]) -> String {
    let mut plain = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                plain.push(char::from(B64[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                plain.push('=');
            }
        }
    }
    let mut out = String::with_capacity(plain.len() + plain.len() / 60 + 1);
    for (i, c) in plain.chars().enumerate() {
        if i > 0 && i % 60 == 0 {
            out.push('\n');
        }
        out.push(c);
    }
    out.push('\n');
    out
}

/// base64url (or standard) without padding → bytes; `None` when malformed.
fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in text.trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((acc >> bits) & 0xff).ok()?);
        }
    }
    Some(out)
}

fn now_epoch() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `YYYY-MM-DDTHH:MM:SSZ` for seconds since the epoch.
fn iso8601(epoch: u64) -> String {
    let days = i64::try_from(epoch / 86_400).unwrap_or(0);
    let secs = epoch % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

#[derive(Clone)]
struct TreeItem {
    name: String,
    /// `100644`, `100755`, `120000` or `040000`.
    mode: &'static str,
    /// `blob` or `tree`.
    kind: &'static str,
    sha: String,
    size: Option<u64>,
}

enum Node {
    File(String, u64),
    Dir(BTreeMap<String, Node>),
}

struct Repo {
    id: u64,
    owner: String,
    name: String,
    default_branch: String,
    archived: bool,
    private: bool,
    created: u64,
    /// Branch → head commit.
    branches: BTreeMap<String, String>,
    /// Commit → root tree.
    commits: HashMap<String, String>,
    /// Branch → (path → blob id) at its head.
    files: BTreeMap<String, BTreeMap<String, String>>,
    trees: HashMap<String, Vec<TreeItem>>,
    blobs: HashMap<String, Vec<u8>>,
}

impl Repo {
    fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }
}

enum Auth {
    /// `Authorization: Bearer <token>` (or `token <token>`) with this personal access token.
    Token(String),
    /// A GitHub App: app endpoints need an RS256 JWT whose `iss` is `app_id`; repository
    /// endpoints need an installation token this fake minted, unexpired.
    App {
        app_id: u64,
        token_lifetime: Duration,
    },
}

struct IssuedToken {
    installation: u64,
    expires: u64,
}

struct World {
    base: String,
    repos: BTreeMap<String, Repo>,
    /// Lower-case login → login as created.
    orgs: BTreeMap<String, String>,
    /// Lower-case account → installation id.
    installations: BTreeMap<String, u64>,
    next_id: u64,
    clock: u64,
    truncate_trees: bool,
    latency: Duration,
    limit: u64,
    remaining: u64,
    reset: u64,
    secondary_left: u32,
    secondary_retry_after: Option<u64>,
    /// Injected failures: how many, which status, `Retry-After`.
    failures_left: u32,
    failure_status: StatusCode,
    failure_retry_after: Option<u64>,
    /// Lower-case `owner/name` a repository had before a rename → its id.
    renamed: BTreeMap<String, u64>,
    auth: Auth,
    tokens: HashMap<String, IssuedToken>,
    counters: BTreeMap<String, u64>,
    not_modified: u64,
    max_per_page: u64,
    last_authorization: Option<String>,
}

fn key(owner: &str, name: &str) -> String {
    format!(
        "{}/{}",
        owner.to_ascii_lowercase(),
        name.to_ascii_lowercase()
    )
}

/// The fake server; it stops when dropped.
pub struct FakeGithub {
    addr: SocketAddr,
    world: Arc<Mutex<World>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeGithub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type Shared = Arc<Mutex<World>>;

fn lock(world: &Mutex<World>) -> MutexGuard<'_, World> {
    world.lock().unwrap_or_else(PoisonError::into_inner)
}

impl FakeGithub {
    /// Start on 127.0.0.1, a free port.
    pub async fn start() -> FakeGithub {
        FakeGithub::start_with_latency(Duration::ZERO).await
    }

    /// Like [`FakeGithub::start`], delaying every response by `latency`.
    pub async fn start_with_latency(latency: Duration) -> FakeGithub {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake GitHub");
        let addr = listener.local_addr().expect("fake GitHub address");
        let world = Arc::new(Mutex::new(World {
            base: format!("http://{addr}"),
            repos: BTreeMap::new(),
            orgs: BTreeMap::new(),
            installations: BTreeMap::new(),
            next_id: 1,
            clock: 1_700_000_000,
            truncate_trees: false,
            latency,
            limit: 5000,
            remaining: 5000,
            reset: now_epoch() + 3600,
            secondary_left: 0,
            secondary_retry_after: None,
            failures_left: 0,
            failure_status: StatusCode::OK,
            failure_retry_after: None,
            renamed: BTreeMap::new(),
            auth: Auth::Token(TOKEN.to_owned()),
            tokens: HashMap::new(),
            counters: BTreeMap::new(),
            not_modified: 0,
            max_per_page: 100,
            last_authorization: None,
        }));
        let app = Router::new()
            .route("/repos/{owner}/{repo}", get(repository))
            .route("/repos/{owner}/{repo}/branches/{*branch}", get(branch))
            .route("/repos/{owner}/{repo}/git/trees/{sha}", get(tree))
            .route("/repos/{owner}/{repo}/git/blobs/{sha}", get(blob))
            .route("/repos/{owner}/{repo}/installation", get(repo_installation))
            .route("/repositories/{id}", get(by_id))
            .route("/repositories/{id}/{*rest}", get(by_id))
            .route("/orgs/{org}/repos", get(org_repos))
            .route("/orgs/{org}/installation", get(org_installation))
            .route("/app/installations/{id}/access_tokens", post(access_token))
            .fallback(unknown)
            .with_state(world.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeGithub { addr, world, task }
    }

    /// The API base URL (`github_api_url`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A repository whose default branch holds `files`; returns the head commit.
    pub fn add_repo<P: AsRef<str>, C: AsRef<[u8]>>(
        &self,
        owner: &str,
        name: &str,
        default_branch: &str,
        files: &[(P, C)],
    ) -> String {
        let mut world = lock(&self.world);
        world.insert_repo(owner, name, default_branch);
        world.commit(owner, name, default_branch, files, &[])
    }

    /// A new commit on the default branch that writes `files` (others unchanged); returns it.
    pub fn push<P: AsRef<str>, C: AsRef<[u8]>>(
        &self,
        owner: &str,
        name: &str,
        files: &[(P, C)],
    ) -> String {
        let mut world = lock(&self.world);
        let branch = world.repo(owner, name).default_branch.clone();
        world.commit(owner, name, &branch, files, &[])
    }

    /// A repository without commits, as GitHub has it right after creation: metadata with a
    /// default branch, no branch (404), `409 Git Repository is empty` for trees and blobs.
    pub fn add_empty_repo(&self, owner: &str, name: &str) {
        let mut world = lock(&self.world);
        world.insert_repo(owner, name, "main");
    }

    /// Rename `owner/name` to `owner/new_name`: requests for the old name are answered `301` with
    /// the repository's `/repositories/{id}/…` URL, like GitHub.
    pub fn rename(&self, owner: &str, name: &str, new_name: &str) {
        let mut world = lock(&self.world);
        let old = key(owner, name);
        let Some(mut repo) = world.repos.remove(&old) else {
            panic!("the fake has no repository {owner}/{name}");
        };
        new_name.clone_into(&mut repo.name);
        world.renamed.insert(old, repo.id);
        world.repos.insert(key(owner, new_name), repo);
    }

    pub fn archive(&self, owner: &str, name: &str) {
        lock(&self.world).repo_mut(owner, name).archived = true;
    }

    /// Recursive tree requests answer a partial list with `"truncated": true`.
    pub fn set_truncate_trees(&self, truncate: bool) {
        lock(&self.world).truncate_trees = truncate;
    }

    /// The rate-limit window: `remaining` of `limit` until `reset_in` from now (then full again).
    pub fn set_rate_limit(&self, limit: u64, remaining: u64, reset_in: Duration) {
        let mut world = lock(&self.world);
        world.limit = limit;
        world.remaining = remaining.min(limit);
        world.reset = now_epoch() + reset_in.as_secs().max(1);
    }

    pub fn rate_limit_remaining(&self) -> u64 {
        lock(&self.world).remaining
    }

    /// The next `responses` requests answer 403 "secondary rate limit" (with `Retry-After` when
    /// given).
    pub fn inject_secondary_limit(&self, responses: u32, retry_after: Option<u64>) {
        let mut world = lock(&self.world);
        world.secondary_left = responses;
        world.secondary_retry_after = retry_after;
    }

    /// The next `responses` requests answer `status` (a `5xx`, or `429` for GitHub's secondary
    /// rate limit), with `Retry-After: <seconds>` when given.
    pub fn inject_failures(&self, responses: u32, status: StatusCode, retry_after: Option<u64>) {
        let mut world = lock(&self.world);
        world.failures_left = responses;
        world.failure_status = status;
        world.failure_retry_after = retry_after;
    }

    /// Require this personal access token on every request instead of [`TOKEN`] (401 otherwise).
    pub fn require_token(&self, token: &str) {
        lock(&self.world).auth = Auth::Token(token.to_owned());
    }

    /// Behave as GitHub does for App `app_id`: installation tokens live `token_lifetime`.
    pub fn enable_app(&self, app_id: u64, token_lifetime: Duration) {
        lock(&self.world).auth = Auth::App {
            app_id,
            token_lifetime,
        };
    }

    /// Cap `per_page` of list endpoints (GitHub's cap is 100).
    pub fn set_max_per_page(&self, max: u64) {
        lock(&self.world).max_per_page = max.max(1);
    }

    /// Requests to endpoint `kind` (304s included).
    pub fn requests(&self, kind: &str) -> u64 {
        lock(&self.world).counters.get(kind).copied().unwrap_or(0)
    }

    pub fn request_counts(&self) -> BTreeMap<String, u64> {
        lock(&self.world).counters.clone()
    }

    /// `304 Not Modified` answers given.
    pub fn not_modified(&self) -> u64 {
        lock(&self.world).not_modified
    }

    pub fn reset_counters(&self) {
        let mut world = lock(&self.world);
        world.counters.clear();
        world.not_modified = 0;
    }

    /// The `Authorization` header of the last request (tests of authentication).
    pub fn last_authorization(&self) -> Option<String> {
        lock(&self.world).last_authorization.clone()
    }
}

impl World {
    /// A repository without branches or commits (and its owner's account when new).
    fn insert_repo(&mut self, owner: &str, name: &str, default_branch: &str) {
        self.ensure_account(owner);
        let id = self.next_id;
        self.next_id += 1;
        self.clock += 1;
        let created = self.clock;
        self.repos.insert(
            key(owner, name),
            Repo {
                id,
                owner: owner.to_owned(),
                name: name.to_owned(),
                default_branch: default_branch.to_owned(),
                archived: false,
                private: false,
                created,
                branches: BTreeMap::new(),
                commits: HashMap::new(),
                files: BTreeMap::new(),
                trees: HashMap::new(),
                blobs: HashMap::new(),
            },
        );
    }

    fn ensure_account(&mut self, login: &str) {
        let lower = login.to_ascii_lowercase();
        self.orgs
            .entry(lower.clone())
            .or_insert_with(|| login.to_owned());
        if !self.installations.contains_key(&lower) {
            let id = 40_000 + self.installations.len() as u64 + 1;
            self.installations.insert(lower, id);
        }
    }

    fn repo(&self, owner: &str, name: &str) -> &Repo {
        self.repos
            .get(&key(owner, name))
            .unwrap_or_else(|| panic!("the fake has no repository {owner}/{name}"))
    }

    fn repo_mut(&mut self, owner: &str, name: &str) -> &mut Repo {
        self.repos
            .get_mut(&key(owner, name))
            .unwrap_or_else(|| panic!("the fake has no repository {owner}/{name}"))
    }

    fn commit<P: AsRef<str>, C: AsRef<[u8]>>(
        &mut self,
        owner: &str,
        name: &str,
        branch: &str,
        files: &[(P, C)],
        deleted: &[&str],
    ) -> String {
        self.clock += 1;
        let clock = self.clock;
        let repo = self.repo_mut(owner, name);
        let parent = repo
            .branches
            .get(branch)
            .or_else(|| repo.branches.get(&repo.default_branch))
            .cloned();
        let mut tree_files = parent
            .as_ref()
            .and_then(|_| {
                repo.files
                    .get(branch)
                    .or_else(|| repo.files.get(&repo.default_branch))
            })
            .cloned()
            .unwrap_or_default();
        for (path, content) in files {
            let content = content.as_ref();
            let sha = git_blob_sha(content);
            repo.blobs.insert(sha.clone(), content.to_vec());
            tree_files.insert(path.as_ref().trim_matches('/').to_owned(), sha);
        }
        for path in deleted {
            tree_files.remove(path.trim_matches('/'));
        }
        let mut root = BTreeMap::new();
        for (path, sha) in &tree_files {
            let size = repo.blobs.get(sha).map_or(0, |b| b.len() as u64);
            let mut parts: Vec<&str> = path.split('/').collect();
            let file = parts.pop().unwrap_or_default();
            let mut dir = &mut root;
            for part in parts {
                let node = dir
                    .entry(part.to_owned())
                    .or_insert_with(|| Node::Dir(BTreeMap::new()));
                dir = match node {
                    Node::Dir(children) => children,
                    Node::File(..) => panic!("{path}: a file is in the way"),
                };
            }
            dir.insert(file.to_owned(), Node::File(sha.clone(), size));
        }
        let root_sha = hash_tree(&root, &mut repo.trees);
        let mut text = format!("tree {root_sha}\n");
        if let Some(parent) = &parent {
            let _ = writeln!(text, "parent {parent}");
        }
        let _ = write!(
            text,
            "author Fake <fake@example.invalid> {clock} +0000\ncommitter Fake <fake@example.invalid> {clock} +0000\n\nchange {clock}\n"
        );
        let commit = git_object_sha("commit", text.as_bytes());
        repo.commits.insert(commit.clone(), root_sha);
        repo.branches.insert(branch.to_owned(), commit.clone());
        repo.files.insert(branch.to_owned(), tree_files);
        commit
    }
}

/// Hash a directory like git (entries sorted with directories compared as `name/`).
fn hash_tree(dir: &BTreeMap<String, Node>, trees: &mut HashMap<String, Vec<TreeItem>>) -> String {
    let mut items: Vec<TreeItem> = dir
        .iter()
        .map(|(name, node)| match node {
            Node::File(sha, size) => TreeItem {
                name: name.clone(),
                mode: "100644",
                kind: "blob",
                sha: sha.clone(),
                size: Some(*size),
            },
            Node::Dir(children) => TreeItem {
                name: name.clone(),
                mode: "040000",
                kind: "tree",
                sha: hash_tree(children, trees),
                size: None,
            },
        })
        .collect();
    let sort_key = |item: &TreeItem| {
        if item.kind == "tree" {
            format!("{}/", item.name)
        } else {
            item.name.clone()
        }
    };
    items.sort_by_key(sort_key);
    let mut raw = Vec::new();
    for item in &items {
        let mode = if item.kind == "tree" {
            "40000"
        } else {
            item.mode
        };
        raw.extend_from_slice(format!("{mode} {}\0", item.name).as_bytes());
        raw.extend_from_slice(&from_hex(&item.sha));
    }
    let sha = git_object_sha("tree", &raw);
    trees.insert(sha.clone(), items);
    sha
}

/// What a handler answers.
enum Reply {
    Json(StatusCode, Value, Vec<(HeaderName, String)>),
    NotModified(String),
    NotFound,
    /// An error status with GitHub's `message`.
    Error(StatusCode, &'static str),
    /// `301 Moved Permanently` to this URL (a renamed repository).
    Moved(String),
}

/// Which credential an endpoint needs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Need {
    /// The app JWT (App mode); else like `Repo`.
    AppJwt,
    /// Access to repositories of `account`.
    Repo,
}

fn error_body(message: &str) -> Value {
    json!({ "message": message, "documentation_url": DOCS })
}

impl World {
    fn rate_headers(&self, headers: &mut HeaderMap) {
        for (name, value) in [
            ("x-ratelimit-limit", self.limit.to_string()),
            ("x-ratelimit-remaining", self.remaining.to_string()),
            ("x-ratelimit-reset", self.reset.to_string()),
            (
                "x-ratelimit-used",
                (self.limit - self.remaining).to_string(),
            ),
            ("x-ratelimit-resource", "core".to_owned()),
        ] {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(HeaderName::from_static(name), value);
            }
        }
        headers.insert(
            HeaderName::from_static("x-github-api-version-selected"),
            HeaderValue::from_static("2022-11-28"),
        );
    }

    fn respond(
        &self,
        status: StatusCode,
        body: &Value,
        extra: &[(HeaderName, String)],
    ) -> Response {
        let mut response = (status, body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        self.rate_headers(headers);
        for (name, value) in extra {
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.insert(name.clone(), value);
            }
        }
        response
    }

    /// Is the request's credential good for `need` on `account`?
    fn authorized(&self, headers: &HeaderMap, need: Need, account: Option<&str>) -> bool {
        let credential = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("token "))
            })
            .map(str::trim);
        match &self.auth {
            Auth::Token(token) => credential == Some(token.as_str()),
            Auth::App { app_id, .. } => {
                let Some(credential) = credential else {
                    return false;
                };
                match need {
                    Need::AppJwt => jwt_is_valid(credential, *app_id),
                    Need::Repo => {
                        let Some(issued) = self.tokens.get(credential) else {
                            return false;
                        };
                        let installation =
                            account.and_then(|a| self.installations.get(&a.to_ascii_lowercase()));
                        issued.expires > now_epoch() && installation == Some(&issued.installation)
                    }
                }
            }
        }
    }
}

/// An RS256 JWT whose `iss` is `app_id`, not expired, issued not in the future. (The signature
/// is not checked: the fake has no RSA.)
fn jwt_is_valid(token: &str, app_id: u64) -> bool {
    let parts: Vec<&str> = token.split('.').collect();
    let [head, claims, signature] = parts.as_slice() else {
        return false;
    };
    if signature.is_empty() {
        return false;
    }
    let decode =
        |part: &str| -> Option<Value> { serde_json::from_slice(&base64url_decode(part)?).ok() };
    let (Some(head), Some(claims)) = (decode(head), decode(claims)) else {
        return false;
    };
    let iss_ok = match &claims["iss"] {
        Value::Number(n) => n.as_u64() == Some(app_id),
        Value::String(s) => s == &app_id.to_string(),
        _ => false,
    };
    let now = now_epoch();
    head["alg"] == "RS256"
        && iss_ok
        && claims["exp"].as_u64().is_some_and(|exp| exp > now)
        && claims["iat"].as_u64().is_some_and(|iat| iat <= now + 60)
}

/// The common path of every endpoint: latency, counting, injected limits, authentication,
/// the primary rate limit, the handler, and GitHub's headers.
async fn serve(
    world: &Shared,
    kind: &str,
    headers: &HeaderMap,
    need: Need,
    account: Option<&str>,
    handler: impl FnOnce(&mut World) -> Reply,
) -> Response {
    let latency = lock(world).latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let mut world = lock(world);
    *world.counters.entry(kind.to_owned()).or_insert(0) += 1;
    world.last_authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let now = now_epoch();
    if now >= world.reset {
        world.remaining = world.limit;
        world.reset = now + 3600;
    }
    if world.secondary_left > 0 {
        world.secondary_left -= 1;
        let extra: Vec<(HeaderName, String)> = world
            .secondary_retry_after
            .map(|s| vec![(header::RETRY_AFTER, s.to_string())])
            .unwrap_or_default();
        return world.respond(
            StatusCode::FORBIDDEN,
            &error_body(
                "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID.",
            ),
            &extra,
        );
    }
    if world.failures_left > 0 {
        world.failures_left -= 1;
        let status = world.failure_status;
        let message = if status == StatusCode::TOO_MANY_REQUESTS {
            "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID."
        } else {
            status.canonical_reason().unwrap_or("Server Error")
        };
        let extra: Vec<(HeaderName, String)> = world
            .failure_retry_after
            .map(|s| vec![(header::RETRY_AFTER, s.to_string())])
            .unwrap_or_default();
        return world.respond(status, &error_body(message), &extra);
    }
    if !world.authorized(headers, need, account) {
        let message = if need == Need::AppJwt && matches!(world.auth, Auth::App { .. }) {
            "A JSON web token could not be decoded"
        } else {
            "Bad credentials"
        };
        return world.respond(StatusCode::UNAUTHORIZED, &error_body(message), &[]);
    }
    if world.remaining == 0 {
        return world.respond(
            StatusCode::FORBIDDEN,
            &error_body("API rate limit exceeded for installation. If you reach out to GitHub Support for help, please include the request ID."),
            &[],
        );
    }
    let reply = handler(&mut world);
    match reply {
        Reply::NotModified(etag) => {
            world.not_modified += 1;
            let mut response = StatusCode::NOT_MODIFIED.into_response();
            world.rate_headers(response.headers_mut());
            if let Ok(value) = HeaderValue::from_str(&etag) {
                response.headers_mut().insert(header::ETAG, value);
            }
            response
        }
        Reply::NotFound => {
            world.remaining -= 1;
            world.respond(StatusCode::NOT_FOUND, &error_body("Not Found"), &[])
        }
        Reply::Error(status, message) => {
            world.remaining -= 1;
            world.respond(status, &error_body(message), &[])
        }
        Reply::Moved(location) => {
            world.remaining -= 1;
            let body = json!({ "message": "Moved Permanently", "url": location, "documentation_url": DOCS });
            world.respond(
                StatusCode::MOVED_PERMANENTLY,
                &body,
                &[(header::LOCATION, location.clone())],
            )
        }
        Reply::Json(status, body, extra) => {
            world.remaining -= 1;
            world.respond(status, &body, &extra)
        }
    }
}

fn account_json(base: &str, login: &str, id: u64) -> Value {
    json!({
        "login": login,
        "id": id,
        "node_id": format!("O_{id}"),
        "avatar_url": format!("https://avatars.example.invalid/u/{id}"),
        "url": format!("{base}/users/{login}"),
        "html_url": format!("https://github.com/{login}"),
        "repos_url": format!("{base}/users/{login}/repos"),
        "type": "Organization",
        "site_admin": false
    })
}

fn repo_json(base: &str, repo: &Repo) -> Value {
    let full_name = repo.full_name();
    let api = format!("{base}/repos/{full_name}");
    let created = iso8601(repo.created);
    json!({
        "id": repo.id,
        "node_id": format!("R_{}", repo.id),
        "name": repo.name,
        "full_name": full_name,
        "private": repo.private,
        "owner": account_json(base, &repo.owner, 1),
        "html_url": format!("https://github.com/{full_name}"),
        "description": null,
        "fork": false,
        "url": api,
        "branches_url": format!("{api}/branches{{/branch}}"),
        "git_trees_url": format!("{api}/git/trees{{/sha}}"),
        "blobs_url": format!("{api}/git/blobs{{/sha}}"),
        "created_at": created,
        "updated_at": created,
        "pushed_at": created,
        "git_url": format!("git://github.com/{full_name}.git"),
        "ssh_url": format!("git@github.com:{full_name}.git"),
        "clone_url": format!("https://github.com/{full_name}.git"),
        "homepage": null,
        "size": 1,
        "language": null,
        "archived": repo.archived,
        "disabled": false,
        "visibility": if repo.private { "private" } else { "public" },
        "default_branch": repo.default_branch,
        "topics": [],
        "has_issues": true,
        "open_issues_count": 0,
        "forks_count": 0,
        "stargazers_count": 0,
        "watchers_count": 0,
        "permissions": { "admin": false, "maintain": false, "push": false, "triage": false, "pull": true }
    })
}

fn branch_etag(commit: &str) -> String {
    format!("W/\"{}\"", git_object_sha("etag", commit.as_bytes()))
}

/// The repository `owner/name`, or the answer when there is none: `301` to its
/// `/repositories/{id}` URL (with the request's `suffix`) when it was renamed, else `404`.
fn find<'a>(w: &'a World, owner: &str, name: &str, suffix: &str) -> Result<&'a Repo, Reply> {
    if let Some(repo) = w.repos.get(&key(owner, name)) {
        return Ok(repo);
    }
    match w.renamed.get(&key(owner, name)) {
        Some(id) => Err(Reply::Moved(format!(
            "{}/repositories/{id}{suffix}",
            w.base
        ))),
        None => Err(Reply::NotFound),
    }
}

/// What follows `/repos/{owner}/{repo}` in a request (path and query).
fn suffix_after_repo(uri: &Uri) -> String {
    let rest: Vec<&str> = uri.path().split('/').skip(4).collect();
    let mut suffix = if rest.is_empty() {
        String::new()
    } else {
        format!("/{}", rest.join("/"))
    };
    if let Some(query) = uri.query() {
        suffix.push('?');
        suffix.push_str(query);
    }
    suffix
}

fn is_recursive(query: &HashMap<String, String>) -> bool {
    query
        .get("recursive")
        .is_some_and(|v| !matches!(v.as_str(), "0" | "false"))
}

const EMPTY_REPOSITORY: &str = "Git Repository is empty.";

async fn repository(
    State(world): State<Shared>,
    Path((owner, name)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    repository_at(&world, &owner, &name, &suffix_after_repo(&uri), &headers).await
}

async fn repository_at(
    world: &Shared,
    owner: &str,
    name: &str,
    suffix: &str,
    headers: &HeaderMap,
) -> Response {
    serve(
        world,
        "repository",
        headers,
        Need::Repo,
        Some(owner),
        |w| match find(w, owner, name, suffix) {
            Ok(repo) => Reply::Json(StatusCode::OK, repo_json(&w.base, repo), vec![]),
            Err(reply) => reply,
        },
    )
    .await
}

/// `/repositories/{id}` and `/repositories/{id}/…`: where GitHub sends a renamed repository.
async fn by_id(
    State(world): State<Shared>,
    Path(params): Path<HashMap<String, String>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let found = params
        .get("id")
        .and_then(|id| id.parse::<u64>().ok())
        .and_then(|id| {
            lock(&world)
                .repos
                .values()
                .find(|r| r.id == id)
                .map(|r| (r.owner.clone(), r.name.clone()))
        });
    let Some((owner, name)) = found else {
        return serve(&world, "unknown", &headers, Need::Repo, None, |_| {
            Reply::NotFound
        })
        .await;
    };
    let rest = params.get("rest").map_or("", String::as_str);
    let parts: Vec<&str> = rest.split('/').collect();
    match parts.as_slice() {
        [""] => repository_at(&world, &owner, &name, "", &headers).await,
        ["branches", _, ..] => {
            let branch = rest.trim_start_matches("branches/");
            branch_at(&world, &owner, &name, branch, "", &headers).await
        }
        ["git", "trees", sha] => {
            tree_at(
                &world,
                &owner,
                &name,
                sha,
                is_recursive(&query),
                "",
                &headers,
            )
            .await
        }
        ["git", "blobs", sha] => blob_at(&world, &owner, &name, sha, "", &headers).await,
        _ => {
            serve(&world, "unknown", &headers, Need::Repo, None, |_| {
                Reply::NotFound
            })
            .await
        }
    }
}

async fn branch(
    State(world): State<Shared>,
    Path((owner, name, branch)): Path<(String, String, String)>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    branch_at(
        &world,
        &owner,
        &name,
        &branch,
        &suffix_after_repo(&uri),
        &headers,
    )
    .await
}

async fn branch_at(
    world: &Shared,
    owner: &str,
    name: &str,
    branch: &str,
    suffix: &str,
    headers: &HeaderMap,
) -> Response {
    let if_none_match = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    serve(world, "branch", headers, Need::Repo, Some(owner), |w| {
        let repo = match find(w, owner, name, suffix) {
            Ok(repo) => repo,
            Err(reply) => return reply,
        };
        let Some(commit) = repo.branches.get(branch) else {
            return Reply::Error(StatusCode::NOT_FOUND, "Branch not found");
        };
        let etag = branch_etag(commit);
        if if_none_match
            .as_deref()
            .is_some_and(|sent| sent.split(',').any(|e| e.trim() == etag || e.trim() == "*"))
        {
            return Reply::NotModified(etag);
        }
        let api = format!("{}/repos/{}", w.base, repo.full_name());
        let tree = &repo.commits[commit];
        let body = json!({
            "name": branch,
            "commit": {
                "sha": commit,
                "node_id": format!("C_{commit}"),
                "commit": {
                    "author": { "name": "Fake", "email": "fake@example.invalid", "date": iso8601(w.clock) },
                    "committer": { "name": "Fake", "email": "fake@example.invalid", "date": iso8601(w.clock) },
                    "message": "change",
                    "tree": { "sha": tree, "url": format!("{api}/git/trees/{tree}") },
                    "url": format!("{api}/git/commits/{commit}"),
                    "comment_count": 0,
                    "verification": { "verified": false, "reason": "unsigned", "signature": null, "payload": null }
                },
                "url": format!("{api}/commits/{commit}"),
                "html_url": format!("https://github.com/{}/commit/{commit}", repo.full_name()),
                "comments_url": format!("{api}/commits/{commit}/comments"),
                "author": null,
                "committer": null,
                "parents": []
            },
            "_links": {
                "self": format!("{api}/branches/{branch}"),
                "html": format!("https://github.com/{}/tree/{branch}", repo.full_name())
            },
            "protected": false,
            "protection": { "enabled": false, "required_status_checks": { "enforcement_level": "off", "contexts": [], "checks": [] } },
            "protection_url": format!("{api}/branches/{branch}/protection")
        });
        Reply::Json(
            StatusCode::OK,
            body,
            vec![
                (header::ETAG, etag),
                (header::CACHE_CONTROL, "private, max-age=60, s-maxage=60".to_owned()),
                (header::VARY, "Accept, Authorization, Cookie, X-GitHub-OTP".to_owned()),
            ],
        )
    })
    .await
}

fn tree_entry_json(api: &str, path: &str, item: &TreeItem) -> Value {
    let mut entry = json!({
        "path": path,
        "mode": item.mode,
        "type": item.kind,
        "sha": item.sha,
        "url": format!("{api}/git/{}s/{}", item.kind, item.sha),
    });
    if let Some(size) = item.size {
        entry["size"] = json!(size);
    }
    entry
}

fn walk(repo: &Repo, api: &str, sha: &str, prefix: &str, out: &mut Vec<Value>) {
    let Some(items) = repo.trees.get(sha) else {
        return;
    };
    for item in items {
        let path = format!("{prefix}{}", item.name);
        out.push(tree_entry_json(api, &path, item));
        if item.kind == "tree" {
            walk(repo, api, &item.sha, &format!("{path}/"), out);
        }
    }
}

async fn tree(
    State(world): State<Shared>,
    Path((owner, name, sha)): Path<(String, String, String)>,
    Query(query): Query<HashMap<String, String>>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let suffix = suffix_after_repo(&uri);
    let recursive = is_recursive(&query);
    tree_at(&world, &owner, &name, &sha, recursive, &suffix, &headers).await
}

async fn tree_at(
    world: &Shared,
    owner: &str,
    name: &str,
    sha: &str,
    recursive: bool,
    suffix: &str,
    headers: &HeaderMap,
) -> Response {
    serve(world, "tree", headers, Need::Repo, Some(owner), |w| {
        let repo = match find(w, owner, name, suffix) {
            Ok(repo) => repo,
            Err(reply) => return reply,
        };
        if repo.branches.is_empty() {
            return Reply::Error(StatusCode::CONFLICT, EMPTY_REPOSITORY);
        }
        let tree_sha = if let Some(root) = repo.commits.get(sha) {
            root.clone()
        } else if let Some(root) = repo.branches.get(sha).and_then(|c| repo.commits.get(c)) {
            root.clone()
        } else if repo.trees.contains_key(sha) {
            sha.to_owned()
        } else {
            return Reply::NotFound;
        };
        let api = format!("{}/repos/{}", w.base, repo.full_name());
        let mut entries = Vec::new();
        if recursive {
            walk(repo, &api, &tree_sha, "", &mut entries);
        } else if let Some(items) = repo.trees.get(&tree_sha) {
            entries.extend(
                items
                    .iter()
                    .map(|item| tree_entry_json(&api, &item.name, item)),
            );
        }
        let truncated = recursive && w.truncate_trees;
        if truncated {
            entries.truncate(entries.len().div_ceil(2));
        }
        Reply::Json(
            StatusCode::OK,
            json!({
                "sha": tree_sha,
                "url": format!("{api}/git/trees/{tree_sha}"),
                "tree": entries,
                "truncated": truncated
            }),
            vec![],
        )
    })
    .await
}

async fn blob(
    State(world): State<Shared>,
    Path((owner, name, sha)): Path<(String, String, String)>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    blob_at(
        &world,
        &owner,
        &name,
        &sha,
        &suffix_after_repo(&uri),
        &headers,
    )
    .await
}

async fn blob_at(
    world: &Shared,
    owner: &str,
    name: &str,
    sha: &str,
    suffix: &str,
    headers: &HeaderMap,
) -> Response {
    serve(world, "blob", headers, Need::Repo, Some(owner), |w| {
        let repo = match find(w, owner, name, suffix) {
            Ok(repo) => repo,
            Err(reply) => return reply,
        };
        if repo.branches.is_empty() {
            return Reply::Error(StatusCode::CONFLICT, EMPTY_REPOSITORY);
        }
        let Some(content) = repo.blobs.get(sha) else {
            return Reply::NotFound;
        };
        Reply::Json(
            StatusCode::OK,
            json!({
                "sha": sha,
                "node_id": format!("B_{sha}"),
                "size": content.len(),
                "url": format!("{}/repos/{}/git/blobs/{sha}", w.base, repo.full_name()),
                "content": base64_wrapped(content),
                "encoding": "base64"
            }),
            vec![],
        )
    })
    .await
}

async fn org_repos(
    State(world): State<Shared>,
    Path(org): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    serve(
        &world,
        "org_repositories",
        &headers,
        Need::Repo,
        Some(&org),
        |w| {
            let lower = org.to_ascii_lowercase();
            if !w.orgs.contains_key(&lower) {
                return Reply::NotFound;
            }
            let per_page = query
                .get("per_page")
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(30)
                .clamp(1, 100)
                .min(w.max_per_page);
            let page = query
                .get("page")
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(1)
                .max(1);
            let mut repos: Vec<&Repo> = w
                .repos
                .values()
                .filter(|r| r.owner.eq_ignore_ascii_case(&org))
                .collect();
            repos.sort_by_key(|r| r.id);
            let total = repos.len() as u64;
            let last = total.div_ceil(per_page).max(1);
            let items: Vec<Value> = repos
                .iter()
                .skip(usize::try_from((page - 1) * per_page).unwrap_or(usize::MAX))
                .take(usize::try_from(per_page).unwrap_or(usize::MAX))
                .map(|r| repo_json(&w.base, r))
                .collect();
            let mut extra_query = String::new();
            if let Some(kind) = query.get("type") {
                extra_query = format!("&type={kind}");
            }
            let link_to = |p: u64| {
                format!(
                    "<{}/orgs/{org}/repos?per_page={per_page}{extra_query}&page={p}>",
                    w.base
                )
            };
            let mut links = Vec::new();
            if page > 1 {
                links.push(format!("{}; rel=\"prev\"", link_to(page - 1)));
            }
            if page < last {
                links.push(format!("{}; rel=\"next\"", link_to(page + 1)));
                links.push(format!("{}; rel=\"last\"", link_to(last)));
            }
            if page > 1 {
                links.push(format!("{}; rel=\"first\"", link_to(1)));
            }
            let extra = if links.is_empty() {
                vec![]
            } else {
                vec![(header::LINK, links.join(", "))]
            };
            Reply::Json(StatusCode::OK, Value::Array(items), extra)
        },
    )
    .await
}

fn installation_json(w: &World, account: &str) -> Option<Value> {
    let lower = account.to_ascii_lowercase();
    let id = *w.installations.get(&lower)?;
    let login = w
        .orgs
        .get(&lower)
        .cloned()
        .unwrap_or_else(|| account.to_owned());
    let app_id = match w.auth {
        Auth::App { app_id, .. } => app_id,
        Auth::Token(_) => 1,
    };
    Some(json!({
        "id": id,
        "account": account_json(&w.base, &login, 1),
        "repository_selection": "all",
        "access_tokens_url": format!("{}/app/installations/{id}/access_tokens", w.base),
        "repositories_url": format!("{}/installation/repositories", w.base),
        "html_url": format!("https://github.com/organizations/{login}/settings/installations/{id}"),
        "app_id": app_id,
        "app_slug": "upkeep",
        "target_id": 1,
        "target_type": "Organization",
        "permissions": { "contents": "read", "metadata": "read" },
        "events": ["push"],
        "created_at": iso8601(1_700_000_000),
        "updated_at": iso8601(1_700_000_000),
        "single_file_name": null,
        "has_multiple_single_files": false,
        "single_file_paths": [],
        "suspended_by": null,
        "suspended_at": null
    }))
}

async fn repo_installation(
    State(world): State<Shared>,
    Path((owner, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    serve(&world, "installation", &headers, Need::AppJwt, None, |w| {
        if !w.repos.contains_key(&key(&owner, &name)) {
            return Reply::NotFound;
        }
        installation_json(w, &owner).map_or(Reply::NotFound, |body| {
            Reply::Json(StatusCode::OK, body, vec![])
        })
    })
    .await
}

async fn org_installation(
    State(world): State<Shared>,
    Path(org): Path<String>,
    headers: HeaderMap,
) -> Response {
    serve(&world, "installation", &headers, Need::AppJwt, None, |w| {
        installation_json(w, &org).map_or(Reply::NotFound, |body| {
            Reply::Json(StatusCode::OK, body, vec![])
        })
    })
    .await
}

async fn access_token(
    State(world): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    serve(&world, "access_token", &headers, Need::AppJwt, None, |w| {
        let Ok(id) = id.parse::<u64>() else {
            return Reply::NotFound;
        };
        if !w.installations.values().any(|i| *i == id) {
            return Reply::NotFound;
        }
        let lifetime = match w.auth {
            Auth::App { token_lifetime, .. } => token_lifetime,
            Auth::Token(_) => Duration::from_hours(1),
        };
        let expires = now_epoch() + lifetime.as_secs();
        w.clock += 1;
        let token = format!(
            "ghs_{}",
            &git_object_sha(
                "token",
                format!("{id}:{}:{}", w.clock, w.tokens.len()).as_bytes()
            )[..36]
        );
        w.tokens.insert(
            token.clone(),
            IssuedToken {
                installation: id,
                expires,
            },
        );
        Reply::Json(
            StatusCode::CREATED,
            json!({
                "token": token,
                "expires_at": iso8601(expires),
                "permissions": { "contents": "read", "metadata": "read" },
                "repository_selection": "all"
            }),
            vec![],
        )
    })
    .await
}

async fn unknown(State(world): State<Shared>, headers: HeaderMap) -> Response {
    serve(&world, "unknown", &headers, Need::Repo, None, |_| {
        Reply::NotFound
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_ids_match_git() {
        // `git hash-object` of an empty file and of "hello\n"; the empty tree.
        assert_eq!(
            git_blob_sha(b""),
            "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"
        );
        assert_eq!(
            git_blob_sha(b"hello\n"),
            "ce013625030ba8dba906f756967f9e9ca394464a"
        );
        assert_eq!(
            hash_tree(&BTreeMap::new(), &mut HashMap::new()),
            "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
        );
    }

    #[test]
    fn base64_round_trips() {
        for data in [&b""[..], b"f", b"fo", b"foo", b"foob", b"fooba", b"foobar"] {
            let encoded: String = base64_wrapped(data)
                .chars()
                .filter(|c| *c != '\n')
                .collect();
            assert_eq!(base64url_decode(&encoded).unwrap(), data);
        }
        assert_eq!(base64_wrapped(b"foobar"), "Zm9vYmFy\n");
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(1_700_000_000), "2023-11-14T22:13:20Z");
    }
}
