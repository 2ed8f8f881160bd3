//! The shared HTTP client and the Cargo sparse, npm, PyPI and GitHub adapters against local fake
//! registries (wiremock on 127.0.0.1) that serve recorded real-format responses from
//! `tests/fixtures/registry/` (sources in the README there).
//!
//! The live test at the bottom talks to the real public registries; it is ignored by default:
//! `UPKEEP_LIVE=1 cargo test -p upkeep-resolvers --test registry_core -- --ignored live`.

use std::time::{Duration, Instant};

use upkeep_resolvers::Ecosystem;
use upkeep_resolvers::http::{Credential, HttpClient, HttpConfig, HttpError, Secret};
use upkeep_resolvers::registry::{
    Registries, RegistryConfig, RegistryError, ReleaseSet, cargo_sparse, github, npm, pypi,
};
use upkeep_resolvers::runtime::Runtimes;
use upkeep_resolvers::versioning::VersionScheme;
use upkeep_resolvers::versioning::cargo::Cargo;
use wiremock::matchers::{header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/registry/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("fixture {path}: {e}"))
}

/// Quick retries so the tests stay fast; `Retry-After` is still honoured.
fn test_http() -> HttpConfig {
    HttpConfig {
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        max_retry_after: Duration::from_secs(5),
        ..HttpConfig::default()
    }
}

fn registries(key: &str, base: &str, http: HttpConfig) -> Registries {
    let mut config = RegistryConfig::default();
    config.base_urls.insert(key.to_owned(), base.to_owned());
    Registries::new(HttpClient::new(http).expect("HTTP client"), config)
}

/// Matches a header whose whole value is `value` (wiremock's `header` splits values at commas).
fn exact_header(name: &'static str, value: &'static str) -> impl Fn(&Request) -> bool {
    move |request: &Request| request.headers.get(name).and_then(|v| v.to_str().ok()) == Some(value)
}

fn host_of(server: &MockServer) -> String {
    server.address().to_string()
}

/// The runtime requirement the adapter read for `version`.
fn requires<'s>(set: &'s ReleaseSet, version: &str) -> Option<&'s str> {
    set.releases
        .iter()
        .find(|r| r.version == version)
        .and_then(|r| r.requires_runtime.as_deref())
}

/// The recorded attrs documents (every PyPI API) carry `Requires-Python` per file.
fn assert_attrs_requires_python(set: &ReleaseSet) {
    assert_eq!(requires(set, "15.0.0a1"), None, "its files state none");
    assert_eq!(
        requires(set, "21.1.0"),
        Some(">=2.7, !=3.0.*, !=3.1.*, !=3.2.*, !=3.3.*")
    );
    assert_eq!(requires(set, "25.3.0"), Some(">=3.8"));
    assert_eq!(requires(set, "26.1.0"), Some(">=3.9"));
    let mut runtimes = Runtimes::default();
    runtimes.declare("python", ">=3.8");
    let fitting: Vec<_> = set
        .releases
        .iter()
        .filter(|r| runtimes.fits(Ecosystem::Pypi, r))
        .map(|r| r.version.as_str())
        .collect();
    assert_eq!(
        fitting,
        [
            "15.0.0a1", "21.1.0", "21.2.0", "21.3.0", "21.4.0", "25.1.0", "25.2.0", "25.3.0"
        ]
    );
}

fn versions(set: &ReleaseSet) -> Vec<&str> {
    set.releases.iter().map(|r| r.version.as_str()).collect()
}

fn json(body: Vec<u8>) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("content-type", "application/json")
        .set_body_bytes(body)
}

async fn mount_cargo_config(server: &MockServer, body: &str) {
    Mock::given(method("GET"))
        .and(path("/config.json"))
        .respond_with(json(body.as_bytes().to_vec()))
        .mount(server)
        .await;
}

const CRATES_CONFIG: &str = r#"{"dl":"https://static.crates.io/crates","api":"https://crates.io"}"#;

async fn requests_to(server: &MockServer, wanted: &str) -> Vec<Request> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.url.path() == wanted)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Cargo sparse index

#[tokio::test]
async fn cargo_recorded_index_file() {
    let server = MockServer::start().await;
    mount_cargo_config(&server, CRATES_CONFIG).await;
    Mock::given(method("GET"))
        .and(path("/se/mv/semver"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(fixture("cargo/semver")))
        .mount(&server)
        .await;
    let registries = registries("cargo", &server.uri(), test_http());

    let set = cargo_sparse::releases(&registries, "semver")
        .await
        .expect("semver");
    assert_eq!(set.releases.len(), 66);
    assert_eq!(set.releases.iter().filter(|r| r.yanked).count(), 21);
    let prereleases: Vec<_> = set
        .releases
        .iter()
        .filter(|r| r.prerelease)
        .map(|r| r.version.as_str())
        .collect();
    assert_eq!(prereleases.len(), 2, "{prereleases:?}");
    assert!(prereleases.iter().all(|v| v.contains('-')));
    let one = set
        .releases
        .iter()
        .find(|r| r.version == "1.0.0")
        .expect("1.0.0");
    assert!(!one.yanked && !one.prerelease);
    // `rust_version` from the published manifests, where they set one.
    assert_eq!(requires(&set, "1.0.0"), None);
    assert_eq!(requires(&set, "1.0.26"), Some("1.31"));
    assert_eq!(requires(&set, "1.0.28"), Some("1.68"));
    let mut runtimes = Runtimes::default();
    runtimes.declare("rust", "1.65.0");
    let newest_fitting = set
        .releases
        .iter()
        .filter(|r| !r.yanked && !r.prerelease && runtimes.fits(Ecosystem::Cargo, r))
        .map(|r| r.version.as_str())
        .max_by(|a, b| Cargo.compare(a, b));
    assert_eq!(newest_fitting, Some("1.0.27"));
    // This index records `pubtime`; the adapter uses it and calls nothing else for times.
    assert!(set.releases.iter().all(|r| r.published_at.is_some()));
    assert!(set.source_url.is_none() && set.latest_tag.is_none());
    // The name is lower-cased into the path.
    assert!(cargo_sparse::releases(&registries, "SemVer").await.is_ok());
}

#[tokio::test]
async fn cargo_repeat_lookup_is_a_304_without_body() {
    let server = MockServer::start().await;
    mount_cargo_config(&server, CRATES_CONFIG).await;
    Mock::given(method("GET"))
        .and(path("/cf/g-/cfg-if"))
        .and(header("if-none-match", "\"cfg-if-v1\""))
        .respond_with(ResponseTemplate::new(304).insert_header("etag", "\"cfg-if-v1\""))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/cf/g-/cfg-if"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("etag", "\"cfg-if-v1\"")
                .set_body_bytes(fixture("cargo/cfg-if")),
        )
        .mount(&server)
        .await;
    let registries = registries("cargo", &server.uri(), test_http());

    let first = cargo_sparse::releases(&registries, "cfg-if")
        .await
        .expect("first");
    let after_first = registries.http.stats();
    assert_eq!(
        after_first.bodies_downloaded, 2,
        "config.json and the index file"
    );
    assert_eq!(first.releases.iter().filter(|r| r.yanked).count(), 1);

    let second = cargo_sparse::releases(&registries, "cfg-if")
        .await
        .expect("second");
    assert_eq!(first, second);
    let after_second = registries.http.stats();
    assert_eq!(after_second.not_modified, 1);
    assert_eq!(
        after_second.bodies_downloaded, after_first.bodies_downloaded,
        "no body downloaded"
    );
    assert_eq!(
        after_second.requests_sent,
        after_first.requests_sent + 1,
        "config.json is remembered, the index file revalidated"
    );
    let index_requests = requests_to(&server, "/cf/g-/cfg-if").await;
    assert_eq!(index_requests.len(), 2);
    assert!(index_requests[0].headers.get("if-none-match").is_none());
    assert_eq!(
        index_requests[1]
            .headers
            .get("if-none-match")
            .and_then(|v| v.to_str().ok()),
        Some("\"cfg-if-v1\"")
    );
}

#[tokio::test]
async fn persistent_cache_revalidates_across_clients() {
    let cache = tempfile::tempdir().expect("cache directory");
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/pypi/attrs/json"))
        .and(exact_header(
            "if-modified-since",
            "Thu, 19 Mar 2026 14:22:23 GMT",
        ))
        .respond_with(ResponseTemplate::new(304))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/pypi/attrs/json"))
        .respond_with(
            json(fixture("pypi/attrs.json"))
                .insert_header("last-modified", "Thu, 19 Mar 2026 14:22:23 GMT"),
        )
        .mount(&server)
        .await;
    let config = HttpConfig {
        cache_dir: Some(cache.path().to_owned()),
        ..test_http()
    };
    let first_run = registries("pypi", &server.uri(), config.clone());
    let first = pypi::releases(&first_run, "attrs")
        .await
        .expect("first run");
    drop(first_run);

    // A new process: nothing in memory, the disk cache has the body.
    let second_run = registries("pypi", &server.uri(), config);
    let second = pypi::releases(&second_run, "attrs")
        .await
        .expect("second run");
    assert_eq!(first, second);
    let stats = second_run.http.stats();
    assert_eq!(
        (
            stats.requests_sent,
            stats.not_modified,
            stats.bodies_downloaded
        ),
        (1, 1, 0)
    );
}

#[tokio::test]
async fn cargo_auth_required_sends_the_token_verbatim() {
    let server = MockServer::start().await;
    mount_cargo_config(
        &server,
        r#"{"dl":"http://127.0.0.1/dl","api":"http://127.0.0.1","auth-required":true}"#,
    )
    .await;
    Mock::given(method("GET"))
        .and(path("/cf/g-/cfg-if"))
        .and(header("authorization", "cargo-registry-token"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(fixture("cargo/cfg-if")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/cf/g-/cfg-if"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&server)
        .await;

    let without_token = registries("cargo", &server.uri(), test_http());
    let skipped = cargo_sparse::releases(&without_token, "cfg-if").await;
    assert!(
        matches!(skipped, Err(RegistryError::Skipped(ref why)) if why.contains("authentication")),
        "{skipped:?}"
    );

    let with_token = registries(
        "cargo",
        &server.uri(),
        test_http().with_credential(
            host_of(&server),
            Credential::Header(Secret::new("cargo-registry-token")),
        ),
    );
    let set = cargo_sparse::releases(&with_token, "cfg-if")
        .await
        .expect("authorised");
    assert_eq!(set.releases.len(), 17);
}

#[tokio::test]
async fn unknown_crate_is_not_found_and_garbage_is_malformed() {
    let server = MockServer::start().await;
    mount_cargo_config(&server, CRATES_CONFIG).await;
    Mock::given(method("GET"))
        .and(path("/3/b/bad"))
        .respond_with(
            ResponseTemplate::new(200).set_body_string("<html><body>proxy error</body></html>"),
        )
        .mount(&server)
        .await;
    let registries = registries("cargo", &server.uri(), test_http());
    assert!(matches!(
        cargo_sparse::releases(&registries, "no-such-crate").await,
        Err(RegistryError::NotFound)
    ));
    assert!(matches!(
        cargo_sparse::releases(&registries, "bad").await,
        Err(RegistryError::Malformed { .. })
    ));
    assert!(matches!(
        cargo_sparse::releases(&registries, "../../etc/passwd").await,
        Err(RegistryError::Skipped(_))
    ));
}

// ---------------------------------------------------------------------------------------------
// Retries, limits, errors of the shared client

#[tokio::test]
async fn retries_after_429_and_503_honouring_retry_after() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/querystring"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/querystring"))
        .respond_with(ResponseTemplate::new(503).insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/querystring"))
        .respond_with(json(fixture("npm/querystring.json")))
        .with_priority(3)
        .mount(&server)
        .await;
    let registries = registries("npm", &server.uri(), test_http());
    let started = Instant::now();
    let set = npm::releases(&registries, "querystring")
        .await
        .expect("after retries");
    let waited = started.elapsed();
    assert!(!set.releases.is_empty());
    assert!(
        waited >= Duration::from_millis(1900),
        "waited only {waited:?}"
    );
    let stats = registries.http.stats();
    assert_eq!((stats.requests_sent, stats.retries), (3, 2));
}

#[tokio::test]
async fn persistent_5xx_becomes_a_status_error_after_the_retries() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/querystring"))
        .respond_with(ResponseTemplate::new(502))
        .expect(3)
        .mount(&server)
        .await;
    let registries = registries(
        "npm",
        &server.uri(),
        HttpConfig {
            max_retries: 2,
            ..test_http()
        },
    );
    let result = npm::releases(&registries, "querystring").await;
    assert!(
        matches!(result, Err(RegistryError::Status { status: 502, .. })),
        "{result:?}"
    );
}

#[tokio::test]
async fn connect_errors_are_retried_then_reported() {
    // A port nothing listens on: bind, read the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    // A configured host (loopback addresses are refused otherwise).
    let http = HttpClient::new(
        HttpConfig {
            max_retries: 2,
            ..test_http()
        }
        .with_allowed_host(&format!("127.0.0.1:{port}")),
    )
    .expect("client");
    let result = http.get(&format!("http://127.0.0.1:{port}/x"), &[]).await;
    assert!(
        matches!(result, Err(HttpError::Transport { .. })),
        "{result:?}"
    );
    assert_eq!(http.stats().retries, 2);
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/querystring"))
        .respond_with(json(fixture("npm/querystring.json")))
        .mount(&server)
        .await;
    let registries = registries(
        "npm",
        &server.uri(),
        HttpConfig {
            max_response_bytes: 1000,
            ..test_http()
        },
    );
    let result = npm::releases(&registries, "querystring").await;
    assert!(
        matches!(
            result,
            Err(RegistryError::Http(HttpError::TooLarge { limit: 1000, .. }))
        ),
        "{result:?}"
    );
}

#[tokio::test]
async fn concurrent_lookups_share_one_request() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/querystring"))
        .respond_with(json(fixture("npm/querystring.json")).set_delay(Duration::from_millis(300)))
        .expect(1)
        .mount(&server)
        .await;
    let registries = registries("npm", &server.uri(), test_http());
    let (a, b) = tokio::join!(
        npm::releases(&registries, "querystring"),
        npm::releases(&registries, "querystring")
    );
    assert_eq!(a.expect("first"), b.expect("second"));
    let stats = registries.http.stats();
    assert_eq!((stats.requests_sent, stats.coalesced), (1, 1));
}

#[tokio::test]
async fn gzip_bodies_are_decoded() {
    use std::io::Write as _;
    let mut encoder = Vec::new();
    {
        // A minimal gzip stream (stored, not compressed) so no compression crate is needed.
        let body = fixture("npm/types-is-number.json");
        encoder
            .write_all(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff])
            .expect("header");
        let mut rest = body.as_slice();
        while !rest.is_empty() {
            let take = rest.len().min(65_535);
            let last = u8::from(take == rest.len());
            let len = u16::try_from(take).expect("block length");
            encoder.push(last);
            encoder.extend_from_slice(&len.to_le_bytes());
            encoder.extend_from_slice(&(!len).to_le_bytes());
            encoder.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
        }
        encoder.extend_from_slice(&crc32(&body).to_le_bytes());
        encoder.extend_from_slice(&u32::try_from(body.len()).expect("size").to_le_bytes());
    }
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/@types%2fis-number"))
        .and(header("accept-encoding", "gzip"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "application/json")
                .insert_header("content-encoding", "gzip")
                .set_body_bytes(encoder),
        )
        .mount(&server)
        .await;
    let registries = registries("npm", &server.uri(), test_http());
    let set = npm::releases(&registries, "@types/is-number")
        .await
        .expect("gzip");
    assert_eq!(set.latest_tag.as_deref(), Some("7.0.5"));
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for byte in data {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

// ---------------------------------------------------------------------------------------------
// npm

#[tokio::test]
async fn npm_full_packument_with_deprecations() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/querystring"))
        .and(header("accept", "application/json"))
        .respond_with(json(fixture("npm/querystring.json")))
        .mount(&server)
        .await;
    let registries = registries("npm", &server.uri(), test_http());
    let set = npm::releases(&registries, "querystring")
        .await
        .expect("querystring");
    assert_eq!(set.latest_tag.as_deref(), Some("0.2.1"));
    assert!(versions(&set).contains(&"0.2.1"));
    assert!(set.releases.iter().all(|r| {
        r.deprecated
            .as_deref()
            .is_some_and(|m| m.contains("URLSearchParams"))
            && r.published_at.is_some()
            && !r.prerelease
            && !r.yanked
    }));
    // `engines.node` per version (`teleport` and other engines are not Node.js).
    assert_eq!(requires(&set, "0.0.1"), Some("0.4.x"));
    assert_eq!(requires(&set, "0.2.1"), Some(">=0.4.x"));
    let mut runtimes = Runtimes::default();
    runtimes.declare("node", "v20.11.0");
    let fitting: Vec<_> = set
        .releases
        .iter()
        .filter(|r| runtimes.fits(Ecosystem::Npm, r))
        .map(|r| r.version.as_str())
        .collect();
    assert_eq!(fitting.len(), 3, "{fitting:?}");
    assert!(!fitting.contains(&"0.0.1") && !fitting.contains(&"0.0.4"));
    // No top-level repository in this document: the latest version's repository is used.
    assert_eq!(
        set.source_url.as_deref(),
        Some("https://github.com/Gozala/querystring")
    );
}

#[tokio::test]
async fn npm_scoped_package_uses_its_scope_registry_and_credentials() {
    let public = MockServer::start().await;
    let private = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/@types%2fis-number"))
        .respond_with(json(fixture("npm/types-is-number.json")))
        .mount(&private)
        .await;
    Mock::given(method("GET"))
        .and(path("/querystring"))
        .respond_with(json(fixture("npm/querystring.json")))
        .mount(&public)
        .await;
    let mut config = RegistryConfig::default();
    config.base_urls.insert("npm".into(), public.uri());
    config
        .npm_scopes
        .insert("@types".into(), format!("{}/", private.uri()));
    let http = HttpClient::new(test_http().with_credential(
        host_of(&private),
        Credential::Bearer(Secret::new("npm-token")),
    ))
    .expect("client");
    let registries = Registries::new(http, config);

    let scoped = npm::releases(&registries, "@types/is-number")
        .await
        .expect("scoped");
    assert_eq!(scoped.latest_tag.as_deref(), Some("7.0.5"));
    assert_eq!(scoped.releases.len(), 7);
    assert_eq!(
        scoped.source_url.as_deref(),
        Some("https://github.com/DefinitelyTyped/DefinitelyTyped/tree/HEAD/types/is-number")
    );
    npm::releases(&registries, "querystring")
        .await
        .expect("public");

    let private_requests = private.received_requests().await.unwrap_or_default();
    assert_eq!(private_requests.len(), 1);
    assert_eq!(
        private_requests[0]
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok()),
        Some("Bearer npm-token")
    );
    let public_requests = public.received_requests().await.unwrap_or_default();
    assert_eq!(public_requests.len(), 1);
    assert!(
        public_requests[0].headers.get("authorization").is_none(),
        "credentials go only to their host"
    );
}

#[tokio::test]
async fn npm_abbreviated_documents_on_request() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/querystring"))
        .and(exact_header(
            "accept",
            "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*",
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "application/vnd.npm.install-v1+json")
                .set_body_string(
                    r#"{"name":"querystring","modified":"2024-01-01T00:00:00.000Z","dist-tags":{"latest":"0.2.1"},"versions":{"0.2.1":{"name":"querystring","version":"0.2.1","deprecated":"The querystring API is considered Legacy.","dist":{"tarball":"x"}}}}"#,
                ),
        )
        .mount(&server)
        .await;
    let mut registries = registries("npm", &server.uri(), test_http());
    registries.config.npm_abbreviated_metadata = true;
    let set = npm::releases(&registries, "querystring")
        .await
        .expect("abbreviated");
    assert_eq!(versions(&set), ["0.2.1"]);
    assert!(set.releases[0].deprecated.is_some());
}

#[tokio::test]
async fn npm_not_found_and_malformed() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/broken"))
        .respond_with(json(b"{\"versions\": [1, 2".to_vec()))
        .mount(&server)
        .await;
    let registries = registries("npm", &server.uri(), test_http());
    assert!(matches!(
        npm::releases(&registries, "does-not-exist").await,
        Err(RegistryError::NotFound)
    ));
    assert!(matches!(
        npm::releases(&registries, "broken").await,
        Err(RegistryError::Malformed { .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// PyPI

#[tokio::test]
async fn pypi_json_api_with_yanked_release_and_links() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/pypi/attrs/json"))
        .respond_with(json(fixture("pypi/attrs.json")))
        .mount(&server)
        .await;
    let registries = registries("pypi", &server.uri(), test_http());
    let set = pypi::releases(&registries, "Attrs").await.expect("attrs");
    assert_eq!(
        versions(&set),
        [
            "15.0.0a1", "21.1.0", "21.2.0", "21.3.0", "21.4.0", "25.1.0", "25.2.0", "25.3.0",
            "25.4.0", "26.1.0"
        ]
    );
    let yanked: Vec<_> = set
        .releases
        .iter()
        .filter(|r| r.yanked)
        .map(|r| r.version.as_str())
        .collect();
    assert_eq!(yanked, ["21.1.0"]);
    let pre: Vec<_> = set
        .releases
        .iter()
        .filter(|r| r.prerelease)
        .map(|r| r.version.as_str())
        .collect();
    assert_eq!(pre, ["15.0.0a1"]);
    assert_eq!(set.latest_tag.as_deref(), Some("26.1.0"));
    assert_eq!(
        set.releases
            .iter()
            .find(|r| r.version == "26.1.0")
            .and_then(|r| r.published_at)
            .map(|t| t.to_rfc3339()),
        Some("2026-03-19T14:22:23.645947+00:00".to_owned())
    );
    assert_eq!(
        set.source_url.as_deref(),
        Some("https://github.com/python-attrs/attrs")
    );
    assert_eq!(
        set.changelog_url.as_deref(),
        Some("https://www.attrs.org/en/stable/changelog.html")
    );
    assert_attrs_requires_python(&set);
}

#[tokio::test]
async fn pypi_simple_api_pep_691_json() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/simple/attrs/"))
        .and(exact_header(
            "accept",
            "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01",
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "application/vnd.pypi.simple.v1+json")
                .set_body_bytes(fixture("pypi/attrs-simple.json")),
        )
        .mount(&server)
        .await;
    let registries = registries("pypi", &format!("{}/simple/", server.uri()), test_http());
    let set = pypi::releases(&registries, "attrs").await.expect("PEP 691");
    assert_eq!(set.releases.len(), 10);
    let yanked: Vec<_> = set
        .releases
        .iter()
        .filter(|r| r.yanked)
        .map(|r| r.version.as_str())
        .collect();
    assert_eq!(yanked, ["21.1.0"]);
    assert!(
        set.releases.iter().all(|r| r.published_at.is_some()),
        "PEP 700 upload-time"
    );
    assert!(set.latest_tag.is_none());
    assert_attrs_requires_python(&set);
}

#[tokio::test]
async fn pypi_simple_api_pep_503_html_with_basic_auth() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/simple/attrs/"))
        .and(header("authorization", "Basic ZGV2OnMzY3JldA=="))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/html")
                .set_body_bytes(fixture("pypi/attrs-simple.html")),
        )
        .mount(&server)
        .await;
    let registries = registries(
        "pypi",
        &format!("{}/simple", server.uri()),
        test_http().with_credential(
            host_of(&server),
            Credential::Basic {
                username: "dev".into(),
                password: Secret::new("s3cret"),
            },
        ),
    );
    let set = pypi::releases(&registries, "attrs").await.expect("PEP 503");
    assert_eq!(
        versions(&set),
        [
            "15.0.0a1", "21.1.0", "21.2.0", "21.3.0", "21.4.0", "25.1.0", "25.2.0", "25.3.0",
            "25.4.0", "26.1.0"
        ]
    );
    let yanked: Vec<_> = set
        .releases
        .iter()
        .filter(|r| r.yanked)
        .map(|r| r.version.as_str())
        .collect();
    assert_eq!(yanked, ["21.1.0"]);
    assert!(set.releases.iter().all(|r| r.published_at.is_none()));
    // `data-requires-python`, HTML-escaped in the document.
    assert_attrs_requires_python(&set);
    assert!(format!("{registries:?}").contains("Secret(***)"));
    assert!(!format!("{registries:?}").contains("s3cret"));
}

#[tokio::test]
async fn pypi_not_found_and_malformed() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/pypi/gone/json"))
        .respond_with(ResponseTemplate::new(410))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/pypi/broken/json"))
        .respond_with(json(b"{\"info\": 3}".to_vec()))
        .mount(&server)
        .await;
    let registries = registries("pypi", &server.uri(), test_http());
    assert!(matches!(
        pypi::releases(&registries, "gone").await,
        Err(RegistryError::NotFound)
    ));
    assert!(matches!(
        pypi::releases(&registries, "missing").await,
        Err(RegistryError::NotFound)
    ));
    assert!(matches!(
        pypi::releases(&registries, "broken").await,
        Err(RegistryError::Malformed { .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// GitHub

#[tokio::test]
async fn github_tags_and_releases_follow_link_pagination() {
    let server = MockServer::start().await;
    let base = server.uri();
    let tags = "/repos/actions/checkout/tags";
    Mock::given(method("GET"))
        .and(path(tags))
        .and(query_param("per_page", "100"))
        .and(query_param_is_missing("page"))
        .and(header("authorization", "Bearer gh-token"))
        .respond_with(
            json(fixture("github/tags-page1.json")).insert_header(
                "link",
                format!(
                    "<{base}{tags}?per_page=100&page=2>; rel=\"next\", <{base}{tags}?per_page=100&page=2>; rel=\"last\""
                )
                .as_str(),
            ),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(tags))
        .and(query_param("page", "2"))
        .respond_with(json(fixture("github/tags-page2.json")).insert_header(
            "link",
            format!("<{base}{tags}?per_page=100&page=1>; rel=\"prev\", <{base}{tags}?per_page=100&page=1>; rel=\"first\"")
                .as_str(),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/actions/checkout/releases"))
        .respond_with(json(fixture("github/releases.json")))
        .expect(1)
        .mount(&server)
        .await;
    let mut registries = registries("github", &base, test_http());
    registries.config.github_token = Some("gh-token".into());

    let set = github::releases(&registries, "actions/checkout/sub/path")
        .await
        .expect("tags");
    let mut all = versions(&set);
    all.sort_unstable();
    assert_eq!(
        all,
        [
            "v2.7.0",
            "v3",
            "v3.6.0",
            "v4",
            "v4.0.0",
            "v4.1.0-beta.1",
            "v4.2.0",
            "v4.2.1",
            "v4.2.2"
        ],
        "tags of both pages plus the release without a tag; the draft is ignored"
    );
    let find = |v: &str| set.releases.iter().find(|r| r.version == v).expect(v);
    assert_eq!(
        find("v4.2.2").published_at.map(|t| t.to_rfc3339()),
        Some("2024-10-23T14:46:00+00:00".to_owned())
    );
    assert!(find("v4").published_at.is_none(), "a tag without a release");
    assert!(find("v4.1.0-beta.1").prerelease);
    assert!(!find("v4.2.2").prerelease);
    assert_eq!(set.source_url, Some(format!("{base}/actions/checkout")));
    assert!(!format!("{registries:?}").contains("gh-token"));
}

#[tokio::test]
async fn github_unknown_repository_is_not_found() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/repos/nobody/nothing/tags"))
        .respond_with(ResponseTemplate::new(404).set_body_bytes(
            br#"{"message":"Not Found","documentation_url":"https://docs.github.com/rest/repos/repos#list-repository-tags","status":"404"}"#.to_vec(),
        ))
        .mount(&server)
        .await;
    let registries = registries("github", &server.uri(), test_http());
    let result = github::releases(&registries, "nobody/nothing").await;
    assert!(matches!(result, Err(RegistryError::NotFound)), "{result:?}");
    assert!(matches!(
        github::releases(&registries, "just-a-name").await,
        Err(RegistryError::Skipped(_))
    ));
}

// ---------------------------------------------------------------------------------------------
// Live (opt-in)

#[tokio::test]
#[ignore = "talks to the public registries: UPKEEP_LIVE=1 cargo test -p upkeep-resolvers --test registry_core -- --ignored live"]
async fn live_public_registries() {
    if std::env::var("UPKEEP_LIVE").as_deref() != Ok("1") {
        eprintln!("UPKEEP_LIVE is not 1: skipping the live registry test");
        return;
    }
    let registries = Registries::new(
        HttpClient::with_defaults().expect("client"),
        RegistryConfig::default(),
    );
    let serde = cargo_sparse::releases(&registries, "serde")
        .await
        .expect("serde");
    assert!(serde.releases.len() > 200, "serde has hundreds of versions");
    assert!(serde.releases.iter().any(|r| r.version == "1.0.0"));
    assert!(
        serde
            .releases
            .iter()
            .any(|r| r.version.starts_with("1.0.2"))
    );

    let react = npm::releases(&registries, "react").await.expect("react");
    let latest = react.latest_tag.clone().expect("dist-tags.latest");
    assert!(
        latest
            .split('.')
            .next()
            .and_then(|m| m.parse::<u32>().ok())
            .is_some_and(|m| m >= 18),
        "{latest}"
    );
    assert!(react.releases.iter().any(|r| r.version == latest));
    assert!(react.releases.iter().any(|r| r.prerelease));
    assert!(react.releases.iter().any(|r| r.published_at.is_some()));

    let requests = pypi::releases(&registries, "requests")
        .await
        .expect("requests");
    assert!(requests.releases.iter().any(|r| r.version == "2.31.0"));
    assert!(requests.latest_tag.is_some());
    assert!(requests.releases.iter().any(|r| r.published_at.is_some()));

    // Again: everything revalidated, nothing downloaded twice where the registry sends
    // validators.
    let before = registries.http.stats();
    npm::releases(&registries, "react")
        .await
        .expect("react again");
    let after = registries.http.stats();
    eprintln!("live stats: before {before:?}, after {after:?}");
}
