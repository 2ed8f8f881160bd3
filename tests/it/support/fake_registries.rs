//! A fake package-registry server for end-to-end tests and the fleet benchmark.
//!
//! One axum app on `127.0.0.1:0` serves every package ecosystem the registry adapters speak, each
//! under its own path prefix, in the registries' real wire formats:
//!
//! | `config.registries` key        | prefix     | what is served                                             |
//! |--------------------------------|------------|------------------------------------------------------------|
//! | `cargo`                        | `/cargo/`  | sparse index: `config.json`, `1/a`, `3/s/syn`, `se/rd/serde` (NDJSON) |
//! | `npm`                          | `/npm/`    | packuments `/npm/<name>`, `/npm/@scope%2fname` (full or abbreviated) |
//! | `pypi`                         | `/pypi/`   | JSON API `/pypi/pypi/<name>/json`; Simple API `/pypi/simple/<name>/` (PEP 691 JSON or PEP 503 HTML by `Accept`) |
//! | `maven`, `gradle-plugins`      | `/maven/`  | `/maven/<group path>/<artifact>/maven-metadata.xml`        |
//! | `go`                           | `/go/`     | `/go/<escaped module>/@v/list`, `/@latest`, `/@v/<v>.info` |
//! | `docker`                       | `/docker/` | `/docker/v2/`, `/docker/v2/<repo>/tags/list` with `Link` pagination; token endpoint `/docker/token` |
//!
//! Every package name exists: its releases are generated on the fly from a hash of the ecosystem
//! and the name (3–12 versions with realistic majors, minors and patches, some prereleases, one
//! yanked release for some Cargo, PyPI and npm packages — npm shows it as deprecated). Tests can
//! override a package ([`FakeRegistries::set_versions`], [`FakeRegistries::set_releases`]), add a
//! release later ([`FakeRegistries::publish`]) or make it unknown ([`FakeRegistries::remove`]).
//!
//! Every `200` carries a strong `ETag` computed from the body; a matching `If-None-Match` gets a
//! `304` with an empty body. An injected latency (tokio sleep) delays every request. Counters per
//! ecosystem are read with [`FakeRegistries::stats`].
//!
//! Failure modes: [`FakeRegistries::inject_failures`] makes an ecosystem's next requests answer
//! `429` (with or without `Retry-After`) or a `5xx`. [`FakeRegistries::require_docker_token`]
//! makes the Docker registry behave like Docker Hub: a request without a bearer token for its
//! repository gets `401` with `WWW-Authenticate: Bearer realm="…",service="…",scope="…"`; the
//! realm (`/docker/token?service=…&scope=…`) issues a token for that scope.
//! To use the PyPI Simple API, configure the `pypi` base URL as [`FakeRegistries::pypi_simple_url`].
//!
//! Configure the service with `config.registries.extend(fake.base_urls())`, or the resolvers
//! crate with `RegistryConfig { base_urls: fake.base_urls().into_iter().collect(), .. }`.
//! The server stops when [`FakeRegistries::stop`] is awaited or the value is dropped.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use upkeep_resolvers::Ecosystem;

/// The ecosystems served, with their path prefix (also their `config.registries` key).
const SERVED: [(Ecosystem, &str); 6] = [
    (Ecosystem::Cargo, "cargo"),
    (Ecosystem::Npm, "npm"),
    (Ecosystem::Pypi, "pypi"),
    (Ecosystem::Maven, "maven"),
    (Ecosystem::Go, "go"),
    (Ecosystem::Docker, "docker"),
];

/// 2018-01-01T00:00:00Z: generated histories start after it.
const EPOCH_2018: i64 = 1_514_764_800;
const DAY: i64 = 86_400;

/// One release as the fake serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeRelease {
    pub version: String,
    /// Publish / upload time (whole seconds). Served where the protocol has one (Cargo `pubtime`,
    /// npm `time`, PyPI upload times, Go `.info`, Maven `lastUpdated` of the newest).
    pub published_at: DateTime<Utc>,
    /// Yanked on Cargo and PyPI, deprecated on npm; Maven, Go and OCI have no such flag and
    /// serve the version like any other.
    pub yanked: bool,
    /// What the fake considers a prerelease (drives npm `dist-tags`, PyPI `info.version`, Maven
    /// `<release>` and Go `@latest`).
    pub prerelease: bool,
    /// The runtime the release states it needs, in the registry's own field: Cargo
    /// `rust_version`, npm `engines.node`, PyPI `requires_python` (JSON API) /
    /// `requires-python` (PEP 691) / `data-requires-python` (PEP 503). `None` states none.
    pub requires_runtime: Option<String>,
}

/// Server settings.
#[derive(Debug, Clone)]
pub struct FakeRegistryOptions {
    /// Delay applied to every request before it is answered.
    pub latency: Duration,
    /// The most tags one OCI `tags/list` page holds, whatever `n` asks for (registries may cap
    /// `n`); more tags are paginated with `Link: <…>; rel="next"`.
    pub oci_page_size: usize,
}

impl Default for FakeRegistryOptions {
    fn default() -> Self {
        FakeRegistryOptions {
            latency: Duration::ZERO,
            oci_page_size: 100,
        }
    }
}

/// Counters of one ecosystem.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EcosystemStats {
    /// Requests received.
    pub requests: u64,
    /// `200` answers (a body was sent).
    pub bodies: u64,
    /// `304 Not Modified` answers (no body).
    pub not_modified: u64,
    /// `404` answers (unknown or removed package, unknown path).
    pub not_found: u64,
    /// Requests that were delayed by the injected latency.
    pub delayed: u64,
    /// Injected failures answered (`429`, `5xx`) and Docker token challenges (`401`).
    pub refused: u64,
}

impl EcosystemStats {
    fn plus(self, other: EcosystemStats) -> EcosystemStats {
        EcosystemStats {
            requests: self.requests + other.requests,
            bodies: self.bodies + other.bodies,
            not_modified: self.not_modified + other.not_modified,
            not_found: self.not_found + other.not_found,
            delayed: self.delayed + other.delayed,
            refused: self.refused + other.refused,
        }
    }

    fn minus(self, earlier: EcosystemStats) -> EcosystemStats {
        EcosystemStats {
            requests: self.requests.saturating_sub(earlier.requests),
            bodies: self.bodies.saturating_sub(earlier.bodies),
            not_modified: self.not_modified.saturating_sub(earlier.not_modified),
            not_found: self.not_found.saturating_sub(earlier.not_found),
            delayed: self.delayed.saturating_sub(earlier.delayed),
            refused: self.refused.saturating_sub(earlier.refused),
        }
    }
}

/// A snapshot of the counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FakeRegistryStats {
    /// Per served ecosystem, in the order Cargo, npm, PyPI, Maven, Go, Docker.
    pub by_ecosystem: Vec<(Ecosystem, EcosystemStats)>,
    /// Requests outside every ecosystem prefix (answered 404).
    pub unrouted: u64,
}

impl FakeRegistryStats {
    /// The counters of `ecosystem` (zero for ecosystems the fake does not serve).
    pub fn get(&self, ecosystem: Ecosystem) -> EcosystemStats {
        self.by_ecosystem
            .iter()
            .find(|(e, _)| *e == ecosystem)
            .map(|(_, s)| *s)
            .unwrap_or_default()
    }

    /// All ecosystems added up.
    pub fn total(&self) -> EcosystemStats {
        self.by_ecosystem
            .iter()
            .fold(EcosystemStats::default(), |sum, (_, s)| sum.plus(*s))
    }

    /// What happened between `earlier` and this snapshot.
    pub fn since(&self, earlier: &FakeRegistryStats) -> FakeRegistryStats {
        FakeRegistryStats {
            by_ecosystem: self
                .by_ecosystem
                .iter()
                .map(|(e, s)| (*e, s.minus(earlier.get(*e))))
                .collect(),
            unrouted: self.unrouted.saturating_sub(earlier.unrouted),
        }
    }
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    bodies: AtomicU64,
    not_modified: AtomicU64,
    not_found: AtomicU64,
    delayed: AtomicU64,
    refused: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> EcosystemStats {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        EcosystemStats {
            requests: load(&self.requests),
            bodies: load(&self.bodies),
            not_modified: load(&self.not_modified),
            not_found: load(&self.not_found),
            delayed: load(&self.delayed),
            refused: load(&self.refused),
        }
    }
}

/// A package overridden by a test.
#[derive(Clone)]
enum Entry {
    Releases(Vec<FakeRelease>),
    Missing,
}

struct Shared {
    origin: String,
    overrides: Mutex<HashMap<(Ecosystem, String), Entry>>,
    latency_ms: AtomicU64,
    oci_page_size: usize,
    counters: [Counters; SERVED.len()],
    unrouted: AtomicU64,
    /// Per ecosystem: failures still to answer.
    failures: Mutex<HashMap<Ecosystem, Injected>>,
    /// Requests that asked for a package, by ecosystem and package key.
    package_requests: Mutex<HashMap<(Ecosystem, String), u64>>,
    /// Docker registry requests need a bearer token from the token endpoint.
    docker_token_required: std::sync::atomic::AtomicBool,
    /// Tokens issued by the Docker token endpoint → the scope they grant.
    docker_tokens: Mutex<HashMap<String, String>>,
}

/// Failures injected into one ecosystem.
struct Injected {
    left: u32,
    status: StatusCode,
    /// `Retry-After` seconds.
    retry_after: Option<u64>,
}

impl Shared {
    /// The next injected failure of `ecosystem`, if one is left.
    fn take_failure(&self, ecosystem: Ecosystem) -> Option<(StatusCode, Option<u64>)> {
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        let injected = failures.get_mut(&ecosystem)?;
        if injected.left == 0 {
            return None;
        }
        injected.left -= 1;
        Some((injected.status, injected.retry_after))
    }
}

impl Shared {
    /// What a request for package `key` is answered from (counted per package).
    fn serve_releases(&self, ecosystem: Ecosystem, key: &str) -> Option<Vec<FakeRelease>> {
        *self
            .package_requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry((ecosystem, key.to_owned()))
            .or_insert(0) += 1;
        self.releases(ecosystem, key)
    }

    fn releases(&self, ecosystem: Ecosystem, key: &str) -> Option<Vec<FakeRelease>> {
        let entry = self
            .overrides
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&(ecosystem, key.to_owned()))
            .cloned();
        // Generated outside the lock: concurrent requests do not wait for each other.
        match entry {
            Some(Entry::Releases(releases)) => Some(releases),
            Some(Entry::Missing) => None,
            None => Some(generate(ecosystem, key)),
        }
    }
}

/// The running fake. Dropping it stops the server.
pub struct FakeRegistries {
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl FakeRegistries {
    /// Starts a fake with default options (no latency, 100 tags per OCI page).
    pub async fn start() -> FakeRegistries {
        FakeRegistries::start_with(FakeRegistryOptions::default()).await
    }

    /// Starts a fake on `127.0.0.1` and a free port.
    pub async fn start_with(options: FakeRegistryOptions) -> FakeRegistries {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake registries to 127.0.0.1:0");
        let addr = listener
            .local_addr()
            .expect("local address of the fake registries");
        let shared = Arc::new(Shared {
            origin: format!("http://{addr}"),
            overrides: Mutex::new(HashMap::new()),
            latency_ms: AtomicU64::new(millis(options.latency)),
            oci_page_size: options.oci_page_size.max(1),
            counters: Default::default(),
            unrouted: AtomicU64::new(0),
            failures: Mutex::new(HashMap::new()),
            package_requests: Mutex::new(HashMap::new()),
            docker_token_required: std::sync::atomic::AtomicBool::new(false),
            docker_tokens: Mutex::new(HashMap::new()),
        });
        let app = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared));
        let (shutdown, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    // A dropped sender stops the server too.
                    let _ = stopped.await;
                })
                .await;
            if let Err(error) = served {
                eprintln!("fake registries stopped with an error: {error}");
            }
        });
        FakeRegistries {
            shared,
            shutdown: Some(shutdown),
            task: Some(task),
        }
    }

    /// The next `responses` requests to `ecosystem` answer `status` (`429` or a `5xx`), with
    /// `Retry-After: <seconds>` when given.
    pub fn inject_failures(
        &self,
        ecosystem: Ecosystem,
        responses: u32,
        status: StatusCode,
        retry_after: Option<u64>,
    ) {
        self.shared
            .failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(
                ecosystem,
                Injected {
                    left: responses,
                    status,
                    retry_after,
                },
            );
    }

    /// Docker registry requests need a bearer token from the token endpoint (Docker Hub's
    /// handshake).
    pub fn require_docker_token(&self, required: bool) {
        self.shared
            .docker_token_required
            .store(required, Ordering::Relaxed);
    }

    /// The PyPI Simple API index on this server (a `pypi` base URL ending in `/simple/`).
    pub fn pypi_simple_url(&self) -> String {
        format!("{}/pypi/simple/", self.shared.origin)
    }

    /// Requests that asked for package `name` of `ecosystem` (for Go, each of the module's
    /// files counts).
    pub fn package_requests(&self, ecosystem: Ecosystem, name: &str) -> u64 {
        package_key(ecosystem, name)
            .and_then(|key| {
                self.shared
                    .package_requests
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get(&(ecosystem, key))
                    .copied()
            })
            .unwrap_or(0)
    }

    /// Stops the server: no new connections, open ones closed once idle (at most 2 s).
    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(Duration::from_secs(2), &mut task)
                .await
                .is_err()
        {
            task.abort();
        }
    }

    /// The base URL this server answers `ecosystem` on; `None` when the ecosystem is not served.
    pub fn base_url(&self, ecosystem: Ecosystem) -> Option<String> {
        SERVED
            .iter()
            .find(|(e, _)| *e == ecosystem)
            .map(|(_, prefix)| format!("{}/{prefix}/", self.shared.origin))
    }

    /// `config.registries` / `RegistryConfig::base_urls` entries pointing at this server, keyed
    /// like `upkeep_resolvers::registry::DEFAULT_BASE_URLS` (`gradle-plugins` shares the Maven
    /// repository so plugin markers stay local too).
    pub fn base_urls(&self) -> Vec<(String, String)> {
        let mut urls: Vec<(String, String)> = SERVED
            .iter()
            .map(|(_, prefix)| {
                (
                    (*prefix).to_owned(),
                    format!("{}/{prefix}/", self.shared.origin),
                )
            })
            .collect();
        urls.push((
            "gradle-plugins".to_owned(),
            format!("{}/maven/", self.shared.origin),
        ));
        urls
    }

    /// What the fake serves for `name` (generated unless overridden); `None` when removed or
    /// the ecosystem is not served.
    pub fn releases(&self, ecosystem: Ecosystem, name: &str) -> Option<Vec<FakeRelease>> {
        let key = package_key(ecosystem, name)?;
        self.shared.releases(ecosystem, &key)
    }

    /// The version a registry calls latest: the newest release that is neither a prerelease nor
    /// yanked (in publish order).
    pub fn latest(&self, ecosystem: Ecosystem, name: &str) -> Option<String> {
        latest_stable(&self.releases(ecosystem, name)?).map(|r| r.version.clone())
    }

    /// Replaces `name`'s releases by `versions`, in publish order one day apart (from
    /// 2024-01-01), none yanked, prereleases recognised by their qualifiers.
    pub fn set_versions(&self, ecosystem: Ecosystem, name: &str, versions: &[&str]) {
        let start = 1_704_067_200; // 2024-01-01T00:00:00Z
        let releases = versions
            .iter()
            .zip(0i64..)
            .map(|(version, day)| FakeRelease {
                version: (*version).to_owned(),
                published_at: timestamp(start + day * DAY),
                yanked: false,
                prerelease: looks_prerelease(version),
                requires_runtime: None,
            })
            .collect();
        self.set_releases(ecosystem, name, releases);
    }

    /// Like [`FakeRegistries::set_versions`], each version with the runtime it states it needs
    /// (served in the registry's own field, see [`FakeRelease::requires_runtime`]).
    pub fn set_versions_requiring(
        &self,
        ecosystem: Ecosystem,
        name: &str,
        versions: &[(&str, Option<&str>)],
    ) {
        let plain: Vec<&str> = versions.iter().map(|(version, _)| *version).collect();
        self.set_versions(ecosystem, name, &plain);
        if let Some(mut releases) = self.releases(ecosystem, name) {
            for (release, (_, requires)) in releases.iter_mut().zip(versions) {
                release.requires_runtime = requires.map(str::to_owned);
            }
            self.set_releases(ecosystem, name, releases);
        }
    }

    /// Replaces `name`'s releases (publish order).
    pub fn set_releases(&self, ecosystem: Ecosystem, name: &str, releases: Vec<FakeRelease>) {
        if let Some(key) = package_key(ecosystem, name) {
            self.shared
                .overrides
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert((ecosystem, key), Entry::Releases(releases));
        }
    }

    /// Publishes `version` of `name` now (appended to its current releases, generated or not;
    /// an existing `version` is moved to the end with the new time). Returns the new release.
    pub fn publish(&self, ecosystem: Ecosystem, name: &str, version: &str) -> FakeRelease {
        let now = timestamp(Utc::now().timestamp());
        let release = FakeRelease {
            version: version.to_owned(),
            published_at: now,
            yanked: false,
            prerelease: looks_prerelease(version),
            requires_runtime: None,
        };
        if let Some(key) = package_key(ecosystem, name) {
            let mut overrides = self
                .shared
                .overrides
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let mut releases = match overrides.get(&(ecosystem, key.clone())) {
                Some(Entry::Releases(releases)) => releases.clone(),
                Some(Entry::Missing) => Vec::new(),
                None => generate(ecosystem, &key),
            };
            releases.retain(|r| r.version != version);
            releases.push(release.clone());
            overrides.insert((ecosystem, key), Entry::Releases(releases));
        }
        release
    }

    /// Makes `name` unknown to its registry (404).
    pub fn remove(&self, ecosystem: Ecosystem, name: &str) {
        if let Some(key) = package_key(ecosystem, name) {
            self.shared
                .overrides
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert((ecosystem, key), Entry::Missing);
        }
    }

    /// Changes the injected latency for the following requests.
    pub fn set_latency(&self, latency: Duration) {
        self.shared
            .latency_ms
            .store(millis(latency), Ordering::Relaxed);
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> FakeRegistryStats {
        FakeRegistryStats {
            by_ecosystem: SERVED
                .iter()
                .zip(&self.shared.counters)
                .map(|((ecosystem, _), counters)| (*ecosystem, counters.snapshot()))
                .collect(),
            unrouted: self.shared.unrouted.load(Ordering::Relaxed),
        }
    }
}

impl Drop for FakeRegistries {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        // The server task ends by itself once its connections are idle; it never outlives the
        // runtime of the test that started it.
        drop(self.task.take());
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn timestamp(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Package keys and generation

/// How the registry itself keys `name`: Cargo lower-cases, PyPI normalises (PEP 503), Docker
/// official images live under `library/`.
fn package_key(ecosystem: Ecosystem, name: &str) -> Option<String> {
    let name = name.trim();
    if name.is_empty() {
        return None;
    }
    match ecosystem {
        Ecosystem::Cargo => Some(name.to_ascii_lowercase()),
        Ecosystem::Pypi => Some(pep503(name)),
        Ecosystem::Docker if !name.contains('/') => Some(format!("library/{name}")),
        Ecosystem::Npm | Ecosystem::Maven | Ecosystem::Go | Ecosystem::Docker => {
            Some(name.to_owned())
        }
        Ecosystem::GithubActions | Ecosystem::Toolchain => None,
    }
}

fn pep503(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut separator = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            separator = true;
        } else {
            if separator && !out.is_empty() {
                out.push('-');
            }
            separator = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// Prerelease qualifiers of all served schemes; a version not starting with a number (`latest`)
/// counts as one too. `-alpine`, `-jre`, `.Final` are not qualifiers.
fn looks_prerelease(version: &str) -> bool {
    let lower = version.to_ascii_lowercase();
    let body = lower.strip_prefix('v').unwrap_or(&lower);
    if !body.starts_with(|c: char| c.is_ascii_digit()) {
        return true;
    }
    let rest = body.trim_start_matches(|c: char| c.is_ascii_digit() || c == '.');
    rest.split(|c: char| !c.is_ascii_alphabetic()).any(|word| {
        matches!(
            word,
            "a" | "b"
                | "c"
                | "m"
                | "rc"
                | "cr"
                | "alpha"
                | "beta"
                | "pre"
                | "preview"
                | "dev"
                | "snapshot"
                | "nightly"
                | "canary"
                | "next"
                | "ea"
        )
    })
}

fn latest_stable(releases: &[FakeRelease]) -> Option<&FakeRelease> {
    releases.iter().rev().find(|r| !r.prerelease && !r.yanked)
}

/// SplitMix64: small, fast, deterministic.
struct Rng(u64);

impl Rng {
    fn seeded(ecosystem: Ecosystem, key: &str) -> Rng {
        let digest = Sha256::digest(format!("{}\0{key}", ecosystem.as_str()).as_bytes());
        let mut seed = [0u8; 8];
        seed.copy_from_slice(digest.get(..8).unwrap_or(&[0; 8]));
        Rng(u64::from_le_bytes(seed))
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform-ish in `0..n` (`n > 0`).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn seconds_below(&mut self, n: i64) -> i64 {
        i64::try_from(self.below(u64::try_from(n).unwrap_or(1))).unwrap_or(0)
    }
}

/// The major version a Go module path pins (`…/v3` → 3).
fn go_path_major(module: &str) -> Option<u64> {
    let last = module.rsplit('/').next()?;
    let major: u64 = last.strip_prefix('v')?.parse().ok()?;
    (major >= 2).then_some(major)
}

fn stable_version(ecosystem: Ecosystem, (major, minor, patch): (u64, u64, u64)) -> String {
    match ecosystem {
        Ecosystem::Go => format!("v{major}.{minor}.{patch}"),
        _ => format!("{major}.{minor}.{patch}"),
    }
}

fn pre_version(ecosystem: Ecosystem, (major, minor, patch): (u64, u64, u64), kind: u64) -> String {
    let core = format!("{major}.{minor}.{patch}");
    let (semver, python, maven) = match kind {
        0 => ("rc.1", "rc1", "RC1"),
        1 => ("beta.1", "b1", "beta-1"),
        _ => ("alpha.1", "a1", "alpha-1"),
    };
    match ecosystem {
        Ecosystem::Go => format!("v{core}-{semver}"),
        Ecosystem::Pypi => format!("{core}{python}"),
        Ecosystem::Maven => format!("{core}-{maven}"),
        _ => format!("{core}-{semver}"),
    }
}

/// The generated history of `key`: deterministic, chronological.
fn generate(ecosystem: Ecosystem, key: &str) -> Vec<FakeRelease> {
    let mut rng = Rng::seeded(ecosystem, key);
    let count = usize::try_from(3 + rng.below(10)).unwrap_or(3);
    let pinned_major = (ecosystem == Ecosystem::Go)
        .then(|| go_path_major(key))
        .flatten();
    let mut current = match (ecosystem, pinned_major) {
        (Ecosystem::Go, Some(major)) => (major, rng.below(4), 0),
        (Ecosystem::Go, None) => (rng.below(2), rng.below(6), 0),
        _ => (rng.below(5), rng.below(8), rng.below(3)),
    };
    // Go modules change major only from v0 to v1 within one module path.
    let may_bump_major =
        |major: u64| ecosystem != Ecosystem::Go || (pinned_major.is_none() && major == 0);
    let mut time = EPOCH_2018 + rng.seconds_below(1_200 * DAY);
    let mut releases: Vec<FakeRelease> = Vec::new();
    let release = |version: String, time: i64, prerelease: bool| FakeRelease {
        version,
        published_at: timestamp(time),
        yanked: false,
        prerelease,
        requires_runtime: None,
    };
    while releases.len() < count {
        releases.push(release(stable_version(ecosystem, current), time, false));
        time += DAY + rng.seconds_below(60 * DAY);
        let step = rng.below(100);
        let (major, minor, patch) = current;
        current = if step < 60 {
            (major, minor, patch + 1)
        } else if step < 90 || !may_bump_major(major) {
            (major, minor + 1, 0)
        } else {
            (major + 1, 0, 0)
        };
        // Sometimes a prerelease of the next minor or major comes first.
        if current.2 == 0 && releases.len() < count && rng.below(100) < 35 {
            let version = pre_version(ecosystem, current, rng.below(3));
            releases.push(release(version, time, true));
            time += DAY + rng.seconds_below(20 * DAY);
        }
    }
    // One yanked (deprecated on npm) release for about a third of the packages; never the
    // newest stable one.
    if matches!(
        ecosystem,
        Ecosystem::Cargo | Ecosystem::Pypi | Ecosystem::Npm
    ) && rng.below(3) == 0
    {
        let stable_indices: Vec<usize> = releases
            .iter()
            .enumerate()
            .filter(|(_, r)| !r.prerelease)
            .map(|(i, _)| i)
            .collect();
        if stable_indices.len() >= 2 {
            let pick =
                usize::try_from(rng.below(u64::try_from(stable_indices.len() - 1).unwrap_or(1)))
                    .unwrap_or(0);
            if let Some(release) = stable_indices.get(pick).and_then(|i| releases.get_mut(*i)) {
                release.yanked = true;
            }
        }
    }
    // Images: half of them also ship `-alpine` variants; every image has `latest`.
    if ecosystem == Ecosystem::Docker {
        if rng.below(2) == 0 {
            let variants: Vec<FakeRelease> = releases
                .iter()
                .filter(|r| !r.prerelease)
                .map(|r| FakeRelease {
                    version: format!("{}-alpine", r.version),
                    ..r.clone()
                })
                .collect();
            releases.extend(variants);
            releases.sort_by_key(|r| r.published_at);
        }
        let last = releases.last().map_or(timestamp(time), |r| r.published_at);
        releases.push(FakeRelease {
            version: "latest".to_owned(),
            published_at: last,
            yanked: false,
            prerelease: true,
            requires_runtime: None,
        });
    }
    releases
}

// ---------------------------------------------------------------------------------------------
// HTTP

/// A successful answer before validators are applied.
struct Reply {
    content_type: &'static str,
    body: Vec<u8>,
    link: Option<String>,
    /// Replaces the default `Vary: Accept`.
    vary: Option<&'static str>,
}

impl Reply {
    fn json(value: &Value) -> Reply {
        Reply {
            content_type: "application/json",
            body: serde_json::to_vec(value).unwrap_or_default(),
            link: None,
            vary: None,
        }
    }
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or_default().to_owned();
    let headers = request.headers().clone();
    let Some((slot, ecosystem, rest)) =
        SERVED
            .iter()
            .enumerate()
            .find_map(|(slot, (ecosystem, prefix))| {
                path.strip_prefix('/')
                    .and_then(|p| p.strip_prefix(prefix))
                    .and_then(|p| p.strip_prefix('/'))
                    .map(|rest| (slot, *ecosystem, rest.to_owned()))
            })
    else {
        shared.unrouted.fetch_add(1, Ordering::Relaxed);
        return status_only(StatusCode::NOT_FOUND);
    };
    let Some(counters) = shared.counters.get(slot) else {
        return status_only(StatusCode::NOT_FOUND);
    };
    counters.requests.fetch_add(1, Ordering::Relaxed);
    let latency = shared.latency_ms.load(Ordering::Relaxed);
    if latency > 0 {
        counters.delayed.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    if let Some((status, retry_after)) = shared.take_failure(ecosystem) {
        counters.refused.fetch_add(1, Ordering::Relaxed);
        let mut builder = Response::builder().status(status);
        if let Some(seconds) = retry_after {
            builder = builder.header(header::RETRY_AFTER, seconds.to_string());
        }
        return builder
            .body(Body::from(status.canonical_reason().unwrap_or("error")))
            .unwrap_or_else(|_| status_only(status));
    }
    if ecosystem == Ecosystem::Docker {
        if rest == "token" {
            return docker_token(&shared, &query);
        }
        if let Some(challenge) = docker_challenge(&shared, &rest, &headers) {
            counters.refused.fetch_add(1, Ordering::Relaxed);
            return challenge;
        }
    }
    let reply = match ecosystem {
        Ecosystem::Cargo => cargo(&shared, &rest),
        Ecosystem::Npm => npm(&shared, &rest, &headers),
        Ecosystem::Pypi => pypi(&shared, &rest, &headers),
        Ecosystem::Maven => maven(&shared, &rest),
        Ecosystem::Go => go(&shared, &rest),
        Ecosystem::Docker => docker(&shared, &rest, &query),
        Ecosystem::GithubActions | Ecosystem::Toolchain => None,
    };
    let Some(reply) = reply else {
        counters.not_found.fetch_add(1, Ordering::Relaxed);
        return not_found(ecosystem);
    };
    let etag = format!(
        "\"{}\"",
        hex::encode(Sha256::digest(&reply.body).get(..16).unwrap_or_default())
    );
    let mut builder = Response::builder()
        .header(header::ETAG, &etag)
        .header(header::VARY, reply.vary.unwrap_or("Accept"));
    if let Some(link) = &reply.link {
        builder = builder.header(header::LINK, link);
    }
    if ecosystem == Ecosystem::Docker {
        builder = builder.header("Docker-Distribution-API-Version", "registry/2.0");
    }
    if if_none_match(&headers, &etag) {
        counters.not_modified.fetch_add(1, Ordering::Relaxed);
        return builder
            .status(StatusCode::NOT_MODIFIED)
            .body(Body::empty())
            .unwrap_or_else(|_| status_only(StatusCode::INTERNAL_SERVER_ERROR));
    }
    counters.bodies.fetch_add(1, Ordering::Relaxed);
    builder
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, reply.content_type)
        .body(Body::from(reply.body))
        .unwrap_or_else(|_| status_only(StatusCode::INTERNAL_SERVER_ERROR))
}

/// `If-None-Match` (RFC 9110 §13.1.2): `*` or any listed tag equal by weak comparison.
fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .any(|candidate| candidate == "*" || candidate.trim_start_matches("W/") == etag)
}

fn status_only(status: StatusCode) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    response
}

fn not_found(ecosystem: Ecosystem) -> Response {
    let body = match ecosystem {
        Ecosystem::Docker => {
            json!({"errors": [{"code": "NAME_UNKNOWN", "message": "repository name not known to registry"}]})
        }
        Ecosystem::Pypi => json!({"message": "Not Found"}),
        _ => json!({"error": "Not found"}),
    };
    Response::builder()
        .status(StatusCode::NOT_FOUND)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap_or_else(|_| status_only(StatusCode::NOT_FOUND))
}

/// Decodes `%XX` escapes; `None` for invalid escapes or non-UTF-8 results.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        if byte == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(byte);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn rfc3339(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

// --- Cargo sparse index

fn cargo(shared: &Shared, rest: &str) -> Option<Reply> {
    if rest == "config.json" {
        return Some(Reply::json(&json!({
            "dl": format!("{}/cargo/api/v1/crates", shared.origin),
            "api": format!("{}/cargo", shared.origin),
        })));
    }
    let name = rest.rsplit('/').next()?;
    // Only the canonical path of a name leads to its file.
    if upkeep_resolvers::registry::cargo_sparse::index_path(name).as_deref() != Some(rest) {
        return None;
    }
    let releases = shared.serve_releases(Ecosystem::Cargo, name)?;
    let mut body = String::new();
    for release in &releases {
        let mut record = json!({
            "name": name,
            "vers": release.version,
            "deps": [],
            "cksum": hex::encode(Sha256::digest(format!("{name}@{}", release.version).as_bytes())),
            "features": {},
            "yanked": release.yanked,
            "pubtime": rfc3339(release.published_at),
        });
        if let (Some(rust), Some(fields)) = (&release.requires_runtime, record.as_object_mut()) {
            fields.insert("rust_version".into(), json!(rust));
        }
        let _ = writeln!(body, "{record}");
    }
    Some(Reply {
        content_type: "text/plain; charset=utf-8",
        body: body.into_bytes(),
        link: None,
        vary: None,
    })
}

// --- npm

fn npm(shared: &Shared, rest: &str, headers: &HeaderMap) -> Option<Reply> {
    let name = percent_decode(rest)?;
    let valid = match name.strip_prefix('@') {
        Some(scoped) => scoped
            .split_once('/')
            .is_some_and(|(scope, pkg)| !scope.is_empty() && !pkg.is_empty() && !pkg.contains('/')),
        None => !name.is_empty() && !name.contains('/'),
    };
    if !valid {
        return None;
    }
    let releases = shared.serve_releases(Ecosystem::Npm, &name)?;
    let abbreviated = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("application/vnd.npm.install-v1+json"));
    let mut dist_tags = Map::new();
    if let Some(latest) = latest_stable(&releases) {
        dist_tags.insert("latest".into(), json!(latest.version));
    }
    if let Some(next) = releases.last().filter(|r| r.prerelease) {
        dist_tags.insert("next".into(), json!(next.version));
    }
    let bare = name.rsplit('/').next().unwrap_or(&name);
    let mut versions = Map::new();
    let mut times = Map::new();
    for release in &releases {
        let mut doc = json!({
            "name": name,
            "version": release.version,
            "dist": {
                "tarball": format!("{}/npm/{name}/-/{bare}-{}.tgz", shared.origin, release.version),
                "shasum": hex::encode(Sha256::digest(format!("{name}@{}", release.version).as_bytes()).get(..20).unwrap_or_default()),
            },
        });
        if let (Some(node), Some(fields)) = (&release.requires_runtime, doc.as_object_mut()) {
            fields.insert("engines".into(), json!({ "node": node }));
        }
        if release.yanked
            && let Some(fields) = doc.as_object_mut()
        {
            fields.insert(
                "deprecated".into(),
                json!(format!("{} is deprecated, please upgrade", release.version)),
            );
        }
        versions.insert(release.version.clone(), doc);
        times.insert(
            release.version.clone(),
            json!(
                release
                    .published_at
                    .format("%Y-%m-%dT%H:%M:%S%.3fZ")
                    .to_string()
            ),
        );
    }
    let first = releases.first().map(|r| r.published_at).unwrap_or_default();
    let last = releases.last().map(|r| r.published_at).unwrap_or_default();
    let modified = last.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    if abbreviated {
        return Some(Reply {
            content_type: "application/vnd.npm.install-v1+json",
            body: serde_json::to_vec(&json!({
                "name": name,
                "modified": modified,
                "dist-tags": dist_tags,
                "versions": versions,
            }))
            .unwrap_or_default(),
            link: None,
            vary: None,
        });
    }
    times.insert(
        "created".into(),
        json!(first.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()),
    );
    times.insert("modified".into(), json!(modified));
    let repository = format!("git+https://github.com/fake-org/{bare}.git");
    Some(Reply::json(&json!({
        "_id": name,
        "name": name,
        "description": format!("The {name} package"),
        "dist-tags": dist_tags,
        "versions": versions,
        "time": times,
        "repository": {"type": "git", "url": repository},
        "homepage": format!("https://github.com/fake-org/{bare}#readme"),
        "license": "MIT",
    })))
}

// --- PyPI JSON API

fn pypi(shared: &Shared, rest: &str, headers: &HeaderMap) -> Option<Reply> {
    if let Some(project) = rest.strip_prefix("simple/") {
        return pypi_simple(shared, project, headers);
    }
    let name = rest.strip_prefix("pypi/")?.strip_suffix("/json")?;
    let name = percent_decode(name)?;
    if name.is_empty() || name.contains('/') {
        return None;
    }
    let project = pep503(&name);
    let releases = shared.serve_releases(Ecosystem::Pypi, &project)?;
    let file_stem = project.replace('-', "_");
    let mut by_version = Map::new();
    for release in &releases {
        let files: Vec<Value> = [
            (
                format!("{file_stem}-{}.tar.gz", release.version),
                "sdist",
                0,
            ),
            (
                format!("{file_stem}-{}-py3-none-any.whl", release.version),
                "bdist_wheel",
                60,
            ),
        ]
        .into_iter()
        .map(|(filename, kind, offset)| {
            let uploaded = timestamp(release.published_at.timestamp() + offset);
            json!({
                "filename": filename,
                "packagetype": kind,
                "requires_python": release.requires_runtime,
                "upload_time": uploaded.format("%Y-%m-%dT%H:%M:%S").to_string(),
                "upload_time_iso_8601": uploaded.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
                "url": format!("{}/pypi/packages/{filename}", shared.origin),
                "yanked": release.yanked,
                "yanked_reason": if release.yanked { json!("broken release") } else { Value::Null },
            })
        })
        .collect();
        by_version.insert(release.version.clone(), Value::Array(files));
    }
    let latest = latest_stable(&releases)
        .or(releases.last())
        .map(|r| r.version.clone())
        .unwrap_or_default();
    let urls = by_version.get(&latest).cloned().unwrap_or(json!([]));
    Some(Reply::json(&json!({
        "info": {
            "name": name,
            "version": latest,
            "summary": format!("The {project} project"),
            "home_page": "",
            "project_urls": {
                "Homepage": format!("https://{project}.example.org/"),
                "Source": format!("https://github.com/fake-org/{project}"),
                "Changelog": format!("https://github.com/fake-org/{project}/blob/main/CHANGES.md"),
            },
            "yanked": false,
        },
        "last_serial": releases.len(),
        "releases": by_version,
        "urls": urls,
    })))
}

/// The Simple API project page `simple/<normalized name>/`: PEP 691 JSON when the `Accept` header
/// asks for it, else PEP 503 HTML. A name that is not normalized is not served (PyPI redirects).
fn pypi_simple(shared: &Shared, rest: &str, headers: &HeaderMap) -> Option<Reply> {
    let name = rest.strip_suffix('/')?;
    if name.is_empty() || name.contains('/') || pep503(name) != name {
        return None;
    }
    let releases = shared.serve_releases(Ecosystem::Pypi, name)?;
    let file_stem = name.replace('-', "_");
    let files: Vec<(String, &FakeRelease, i64)> = releases
        .iter()
        .flat_map(|release| {
            [
                (
                    format!("{file_stem}-{}.tar.gz", release.version),
                    release,
                    0,
                ),
                (
                    format!("{file_stem}-{}-py3-none-any.whl", release.version),
                    release,
                    60,
                ),
            ]
        })
        .collect();
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("application/vnd.pypi.simple.v1+json"));
    let sha = |filename: &str| hex::encode(Sha256::digest(filename.as_bytes()));
    let mut reply = if wants_json {
        let json_files: Vec<Value> = files
            .iter()
            .map(|(filename, release, offset)| {
                let uploaded = timestamp(release.published_at.timestamp() + offset);
                json!({
                    "filename": filename,
                    "url": format!("{}/pypi/packages/{filename}", shared.origin),
                    "hashes": { "sha256": sha(filename) },
                    "requires-python": release.requires_runtime,
                    "size": 1024 + filename.len(),
                    "upload-time": uploaded.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
                    "yanked": if release.yanked { json!("broken release") } else { json!(false) },
                })
            })
            .collect();
        let versions: Vec<&str> = releases.iter().map(|r| r.version.as_str()).collect();
        let mut reply = Reply::json(&json!({
            "meta": { "api-version": "1.1", "_last-serial": releases.len() },
            "name": name,
            "files": json_files,
            "versions": versions,
        }));
        reply.content_type = "application/vnd.pypi.simple.v1+json";
        reply
    } else {
        let mut html = format!(
            "<!DOCTYPE html>\n<html>\n  <head>\n    <meta name=\"pypi:repository-version\" content=\"1.1\">\n    <title>Links for {name}</title>\n  </head>\n  <body>\n    <h1>Links for {name}</h1>\n"
        );
        for (filename, release, _) in &files {
            let yanked = if release.yanked {
                " data-yanked=\"broken release\""
            } else {
                ""
            };
            let requires_python = release
                .requires_runtime
                .as_deref()
                .map(|r| format!(" data-requires-python=\"{}\"", xml_escape(r)))
                .unwrap_or_default();
            let _ = writeln!(
                html,
                "    <a href=\"{}/pypi/packages/{filename}#sha256={}\"{requires_python}{yanked}>{filename}</a><br />",
                shared.origin,
                sha(filename)
            );
        }
        html.push_str("  </body>\n</html>\n");
        Reply {
            content_type: "text/html",
            body: html.into_bytes(),
            link: None,
            vary: None,
        }
    };
    reply.vary = Some("Accept, Accept-Encoding");
    Some(reply)
}

// --- Maven

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn maven(shared: &Shared, rest: &str) -> Option<Reply> {
    let folder = rest.strip_suffix("/maven-metadata.xml")?;
    let (group_path, artifact) = folder.rsplit_once('/')?;
    if group_path.is_empty()
        || artifact.is_empty()
        || group_path
            .split('/')
            .any(|part| part.is_empty() || part.contains('.'))
    {
        return None;
    }
    let group = group_path.replace('/', ".");
    let releases = shared.serve_releases(Ecosystem::Maven, &format!("{group}:{artifact}"))?;
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata>\n");
    let _ = writeln!(xml, "  <groupId>{}</groupId>", xml_escape(&group));
    let _ = writeln!(xml, "  <artifactId>{}</artifactId>", xml_escape(artifact));
    xml.push_str("  <versioning>\n");
    if let Some(last) = releases.last() {
        let _ = writeln!(xml, "    <latest>{}</latest>", xml_escape(&last.version));
    }
    if let Some(release) = latest_stable(&releases) {
        let _ = writeln!(
            xml,
            "    <release>{}</release>",
            xml_escape(&release.version)
        );
    }
    xml.push_str("    <versions>\n");
    for release in &releases {
        let _ = writeln!(
            xml,
            "      <version>{}</version>",
            xml_escape(&release.version)
        );
    }
    xml.push_str("    </versions>\n");
    if let Some(last) = releases.last() {
        let _ = writeln!(
            xml,
            "    <lastUpdated>{}</lastUpdated>",
            last.published_at.format("%Y%m%d%H%M%S")
        );
    }
    xml.push_str("  </versioning>\n</metadata>\n");
    Some(Reply {
        content_type: "text/xml",
        body: xml.into_bytes(),
        link: None,
        vary: None,
    })
}

// --- Go module proxy

/// Undoes the proxy's case escaping (`!a` → `A`); `None` for an upper-case letter or a `!` not
/// followed by a lower-case letter.
fn go_unescape(escaped: &str) -> Option<String> {
    let mut out = String::with_capacity(escaped.len());
    let mut chars = escaped.chars();
    while let Some(c) = chars.next() {
        match c {
            '!' => {
                let next = chars.next().filter(char::is_ascii_lowercase)?;
                out.push(next.to_ascii_uppercase());
            }
            c if c.is_ascii_uppercase() => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

fn go(shared: &Shared, rest: &str) -> Option<Reply> {
    let info = |release: &FakeRelease| {
        Reply::json(&json!({"Version": release.version, "Time": rfc3339(release.published_at)}))
    };
    if let Some(module) = rest.strip_suffix("/@latest") {
        let releases = shared.serve_releases(Ecosystem::Go, &go_unescape(module)?)?;
        return latest_stable(&releases).or(releases.last()).map(info);
    }
    let (module, file) = rest.split_once("/@v/")?;
    let releases = shared.serve_releases(Ecosystem::Go, &go_unescape(module)?)?;
    if file == "list" {
        let mut body = String::new();
        for release in &releases {
            body.push_str(&release.version);
            body.push('\n');
        }
        return Some(Reply {
            content_type: "text/plain; charset=utf-8",
            body: body.into_bytes(),
            link: None,
            vary: None,
        });
    }
    let version = go_unescape(file.strip_suffix(".info")?)?;
    releases.iter().find(|r| r.version == version).map(info)
}

// --- OCI distribution

const DOCKER_SERVICE: &str = "fake-registry";

/// The repository a Docker registry path names (`v2/<repository>/tags/list`), `""` for `v2/`.
fn docker_repository(rest: &str) -> Option<&str> {
    if rest == "v2/" || rest == "v2" {
        return Some("");
    }
    rest.strip_prefix("v2/")?.strip_suffix("/tags/list")
}

/// When tokens are required: `401` with Docker Hub's bearer challenge unless the request carries a
/// token issued for the repository's `pull` scope (any issued token for `/v2/`).
fn docker_challenge(shared: &Shared, rest: &str, headers: &HeaderMap) -> Option<Response> {
    if !shared.docker_token_required.load(Ordering::Relaxed) {
        return None;
    }
    let repository = docker_repository(rest)?;
    let scope = format!("repository:{repository}:pull");
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(|token| {
            shared
                .docker_tokens
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(token.trim())
                .cloned()
        });
    let granted = presented
        .as_deref()
        .is_some_and(|granted| repository.is_empty() || granted.split(' ').any(|s| s == scope));
    if granted {
        return None;
    }
    let mut challenge = format!(
        "Bearer realm=\"{}/docker/token\",service=\"{DOCKER_SERVICE}\"",
        shared.origin
    );
    if !repository.is_empty() {
        let _ = write!(challenge, ",scope=\"{scope}\"");
    }
    let body = json!({"errors": [{"code": "UNAUTHORIZED", "message": "authentication required", "detail": [{"Type": "repository", "Name": repository, "Action": "pull"}]}]});
    Some(
        Response::builder()
            .status(StatusCode::UNAUTHORIZED)
            .header(header::WWW_AUTHENTICATE, challenge)
            .header(header::CONTENT_TYPE, "application/json")
            .header("Docker-Distribution-API-Version", "registry/2.0")
            .body(Body::from(body.to_string()))
            .unwrap_or_else(|_| status_only(StatusCode::UNAUTHORIZED)),
    )
}

/// The token endpoint (`/docker/token?service=…&scope=…`): a token for the requested scopes.
fn docker_token(shared: &Shared, query: &str) -> Response {
    let mut service = None;
    let mut scopes = Vec::new();
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("service", value)) => service = percent_decode(value),
            Some(("scope", value)) => scopes.extend(percent_decode(&value.replace('+', " "))),
            _ => {}
        }
    }
    if service.as_deref() != Some(DOCKER_SERVICE) {
        let body = json!({"details": "service not specified or unknown"});
        return Response::builder()
            .status(StatusCode::BAD_REQUEST)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap_or_else(|_| status_only(StatusCode::BAD_REQUEST));
    }
    let mut tokens = shared
        .docker_tokens
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let granted = scopes.join(" ");
    let token = format!(
        "fake.{}",
        hex::encode(
            Sha256::digest(format!("{}:{granted}", tokens.len()).as_bytes())
                .get(..16)
                .unwrap_or_default()
        )
    );
    tokens.insert(token.clone(), granted);
    let body = json!({
        "token": token,
        "access_token": token,
        "expires_in": 300,
        "issued_at": rfc3339(Utc::now()),
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap_or_else(|_| status_only(StatusCode::OK))
}

fn docker(shared: &Shared, rest: &str, query: &str) -> Option<Reply> {
    let repository = docker_repository(rest)?;
    if repository.is_empty() {
        return Some(Reply::json(&json!({})));
    }
    if repository.is_empty() || repository.split('/').any(str::is_empty) {
        return None;
    }
    let mut tags: Vec<String> = shared
        .serve_releases(Ecosystem::Docker, repository)?
        .into_iter()
        .map(|r| r.version)
        .collect();
    tags.sort();
    tags.dedup();
    let mut wanted = shared.oci_page_size;
    let mut last: Option<String> = None;
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("n", value)) => {
                if let Ok(n) = value.parse::<usize>() {
                    wanted = n.clamp(1, shared.oci_page_size);
                }
            }
            Some(("last", value)) => last = percent_decode(value),
            _ => {}
        }
    }
    let remaining: Vec<&String> = tags
        .iter()
        .filter(|tag| last.as_ref().is_none_or(|last| *tag > last))
        .collect();
    let page: Vec<&String> = remaining.iter().take(wanted).copied().collect();
    let link = (remaining.len() > page.len())
        .then(|| page.last())
        .flatten()
        .map(|last| {
            format!("</docker/v2/{repository}/tags/list?n={wanted}&last={last}>; rel=\"next\"")
        });
    let mut reply = Reply::json(&json!({"name": repository, "tags": page}));
    reply.link = link;
    Some(reply)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// The generator is deterministic (the fleet benchmark's request counts rest on it) and its
    /// histories look like real ones.
    #[tokio::test]
    async fn generation_is_deterministic_and_realistic() {
        let one = FakeRegistries::start().await;
        let two = FakeRegistries::start().await;
        let mut yanked = 0;
        let mut prereleases = 0;
        let mut majors = BTreeSet::new();
        for i in 0..200 {
            let name = format!("package-{i}");
            for ecosystem in [Ecosystem::Cargo, Ecosystem::Npm, Ecosystem::Pypi] {
                let releases = one.releases(ecosystem, &name).expect("generated");
                assert_eq!(Some(&releases), two.releases(ecosystem, &name).as_ref());
                assert!((3..=12).contains(&releases.len()), "{ecosystem} {name}");
                assert!(
                    releases
                        .windows(2)
                        .all(|w| w[0].published_at < w[1].published_at),
                    "chronological"
                );
                assert!(
                    !releases.first().is_some_and(|r| r.prerelease),
                    "starts stable"
                );
                assert!(one.latest(ecosystem, &name).is_some(), "has a latest");
                yanked += releases.iter().filter(|r| r.yanked).count();
                prereleases += releases.iter().filter(|r| r.prerelease).count();
                majors.extend(
                    releases
                        .iter()
                        .filter_map(|r| r.version.split('.').next().map(str::to_owned)),
                );
            }
        }
        assert!(
            yanked > 50,
            "about a third of the packages have a yanked release: {yanked}"
        );
        assert!(prereleases > 100, "prereleases appear: {prereleases}");
        assert!(majors.len() >= 5, "several majors: {majors:?}");
        // Go versions stay within the major of the module path.
        for module in ["example.com/a", "example.com/b/v4"] {
            let releases = one.releases(Ecosystem::Go, module).expect("generated");
            for release in &releases {
                let major = release.version.split('.').next().expect("major");
                if module.ends_with("/v4") {
                    assert_eq!(major, "v4", "{}", release.version);
                } else {
                    assert!(major == "v0" || major == "v1", "{}", release.version);
                }
            }
        }
        let image = one.releases(Ecosystem::Docker, "node").expect("generated");
        assert!(image.iter().any(|r| r.version == "latest" && r.prerelease));
        assert_eq!(
            Some(image),
            one.releases(Ecosystem::Docker, "library/node"),
            "official images live under library/"
        );
        assert_eq!(one.releases(Ecosystem::Toolchain, "rust"), None);
    }
}
