//! Maven, Go module proxy, OCI registry and toolchain adapters against local fake registries
//! (wiremock on 127.0.0.1) serving the fixtures in `fixtures/registry_more/` (see its README).

use std::collections::BTreeMap;

use upkeep_resolvers::http::{HttpClient, HttpConfig};
use upkeep_resolvers::registry::{
    Registries, RegistryConfig, RegistryError, ReleaseSet, goproxy, maven, oci, toolchain,
};
use wiremock::matchers::{header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn fixture(name: &str) -> String {
    let file = format!(
        "{}/tests/fixtures/registry_more/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("fixture {file}: {e}"))
}

fn registries(config: RegistryConfig) -> Registries {
    // The shared client is built on rustls without a bundled provider; pick one for the tests.
    let _ = rustls::crypto::ring::default_provider().install_default();
    Registries::new(HttpClient::with_defaults().expect("HTTP client"), config)
}

/// Like [`registries`], with the registry servers `configured` (loopback fakes are refused
/// otherwise) the way private registries are configured.
fn registries_configuring(config: RegistryConfig, configured: &[&MockServer]) -> Registries {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut http = HttpConfig::default();
    for server in configured {
        http = http.with_allowed_host(&server.address().to_string());
    }
    Registries::new(HttpClient::new(http).expect("HTTP client"), config)
}

/// Configuration whose base URLs `keys` all point at `server` (+ `suffix`).
fn pointed_at(server: &MockServer, keys: &[(&str, &str)]) -> RegistryConfig {
    RegistryConfig {
        base_urls: keys
            .iter()
            .map(|(key, suffix)| ((*key).to_owned(), format!("{}{suffix}", server.uri())))
            .collect::<BTreeMap<_, _>>(),
        ..RegistryConfig::default()
    }
}

async fn serve(server: &MockServer, at: &str, status: u16, body: String) {
    Mock::given(method("GET"))
        .and(path(at))
        .respond_with(ResponseTemplate::new(status).set_body_string(body))
        .mount(server)
        .await;
}

fn versions(set: &ReleaseSet) -> Vec<&str> {
    set.releases.iter().map(|r| r.version.as_str()).collect()
}

fn prereleases(set: &ReleaseSet) -> Vec<&str> {
    set.releases
        .iter()
        .filter(|r| r.prerelease)
        .map(|r| r.version.as_str())
        .collect()
}

fn time_of(set: &ReleaseSet, version: &str) -> Option<String> {
    set.releases
        .iter()
        .find(|r| r.version == version)
        .and_then(|r| r.published_at)
        .map(|t| t.to_rfc3339())
}

// ---------------------------------------------------------------- Maven

#[tokio::test]
async fn maven_metadata_gives_versions_release_and_qualifiers() {
    let server = MockServer::start().await;
    serve(
        &server,
        "/maven2/org/apache/commons/commons-lang3/maven-metadata.xml",
        200,
        fixture("maven/commons-lang3-maven-metadata.xml"),
    )
    .await;
    let r = registries(pointed_at(&server, &[("maven", "/maven2/")]));
    let set = maven::releases(&r, "org.apache.commons:commons-lang3")
        .await
        .expect("found");
    assert_eq!(set.releases.len(), 21);
    assert_eq!(versions(&set).first(), Some(&"3.0"));
    assert_eq!(set.latest_tag.as_deref(), Some("3.14.0"));
    assert_eq!(prereleases(&set), ["3.15.0-M1"]);
    assert!(set.releases.iter().all(|r| r.published_at.is_none()));
}

#[tokio::test]
async fn maven_html_listing_is_the_fallback_without_metadata() {
    let server = MockServer::start().await;
    serve(
        &server,
        "/maven2/com/example/gadget/",
        200,
        fixture("maven/httpd-index-listing.html"),
    )
    .await;
    let r = registries(pointed_at(&server, &[("maven", "/maven2/")]));
    let set = maven::releases(&r, "com.example:gadget")
        .await
        .expect("found");
    assert_eq!(versions(&set), ["0.9.0", "1.0.0", "1.1.0-RC1"]);
    assert_eq!(prereleases(&set), ["1.1.0-RC1"]);
    assert_eq!(set.latest_tag, None);
}

#[tokio::test]
async fn maven_repositories_are_searched_in_order_and_merged() {
    let server = MockServer::start().await;
    serve(
        &server,
        "/central/com/example/widget/maven-metadata.xml",
        200,
        fixture("maven/widget-central-maven-metadata.xml"),
    )
    .await;
    serve(
        &server,
        "/company/com/example/widget/maven-metadata.xml",
        200,
        fixture("maven/widget-company-maven-metadata.xml"),
    )
    .await;
    // A Nexus repository without metadata but with a browse listing (absolute links).
    serve(
        &server,
        "/repository/releases/com/example/widget/",
        200,
        fixture("maven/nexus-browse-listing.html").replace("gadget", "widget"),
    )
    .await;
    let mut config = pointed_at(&server, &[("maven", "/central")]);
    config.maven_repositories = vec![
        format!("{}/company/", server.uri()),
        format!("{}/empty/", server.uri()),
        format!("{}/repository/releases", server.uri()),
    ];
    let set = maven::releases(&registries(config), "com.example:widget")
        .await
        .expect("found");
    assert_eq!(
        versions(&set),
        ["1.0.0", "1.1.0", "1.2.0", "2.0.0-SNAPSHOT"],
        "first-seen order over the repositories, duplicates once"
    );
    assert_eq!(prereleases(&set), ["2.0.0-SNAPSHOT"]);
    // The company repository's metadata is the more recently updated one.
    assert_eq!(set.latest_tag.as_deref(), Some("1.2.0"));
}

#[tokio::test]
async fn maven_gradle_plugin_markers_are_looked_up_in_the_plugin_portal() {
    let server = MockServer::start().await;
    serve(
        &server,
        "/m2/org/jetbrains/kotlin/jvm/org.jetbrains.kotlin.jvm.gradle.plugin/maven-metadata.xml",
        200,
        fixture("maven/kotlin-jvm-plugin-marker-maven-metadata.xml"),
    )
    .await;
    let r = registries(pointed_at(
        &server,
        &[("maven", "/maven2/"), ("gradle-plugins", "/m2/")],
    ));
    let set = maven::releases(
        &r,
        "org.jetbrains.kotlin.jvm:org.jetbrains.kotlin.jvm.gradle.plugin",
    )
    .await
    .expect("found on the plugin portal");
    assert_eq!(
        versions(&set),
        ["1.9.22", "1.9.23", "2.0.0-Beta5", "2.0.0-RC2", "1.9.24"]
    );
    assert_eq!(prereleases(&set), ["2.0.0-Beta5", "2.0.0-RC2"]);
    assert_eq!(set.latest_tag.as_deref(), Some("1.9.24"));

    // An ordinary artifact is not looked up in the plugin portal.
    serve(
        &server,
        "/m2/com/example/widget/maven-metadata.xml",
        200,
        fixture("maven/widget-central-maven-metadata.xml"),
    )
    .await;
    assert!(matches!(
        maven::releases(&r, "com.example:widget").await,
        Err(RegistryError::NotFound)
    ));
}

#[tokio::test]
async fn maven_not_found_malformed_status_and_bad_names() {
    let server = MockServer::start().await;
    serve(
        &server,
        "/maven2/com/example/broken/maven-metadata.xml",
        200,
        "<html><body>Welcome to our repository manager</body></html>".to_owned(),
    )
    .await;
    serve(
        &server,
        "/maven2/com/example/down/maven-metadata.xml",
        503,
        "maintenance".to_owned(),
    )
    .await;
    let r = registries(pointed_at(&server, &[("maven", "/maven2/")]));
    assert!(matches!(
        maven::releases(&r, "com.example:missing").await,
        Err(RegistryError::NotFound)
    ));
    assert!(matches!(
        maven::releases(&r, "com.example:broken").await,
        Err(RegistryError::Malformed { .. })
    ));
    assert!(matches!(
        maven::releases(&r, "com.example:down").await,
        Err(RegistryError::Status { status: 503, .. })
    ));
    assert!(matches!(
        maven::releases(&r, "not-a-coordinate").await,
        Err(RegistryError::Skipped(_))
    ));
    assert!(matches!(
        maven::releases(&r, "com.example:../../etc").await,
        Err(RegistryError::Skipped(_))
    ));
}

// ---------------------------------------------------------------- Go module proxy

const TOML: &str = "/github.com/!burnt!sushi/toml/@v/";

async fn serve_toml(server: &MockServer, prefix: &str) {
    serve(
        server,
        &format!("{prefix}{TOML}list"),
        200,
        fixture("go/toml-list.txt"),
    )
    .await;
    // Only the newest release's `.info` is asked for; the others are served but never read.
    for (version, expected) in [
        ("v2.0.0+incompatible", 1),
        ("v1.4.0-rc.1", 0),
        ("v1.3.0", 0),
        ("v1.2.0", 0),
        ("v1.1.0", 0),
    ] {
        Mock::given(method("GET"))
            .and(path(format!("{prefix}{TOML}{version}.info")))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_string(fixture(&format!("go/toml-{version}.info"))),
            )
            .expect(expected)
            .mount(server)
            .await;
    }
}

#[tokio::test]
async fn go_escapes_paths_and_reads_the_info_time_of_the_newest_release_only() {
    let server = MockServer::start().await;
    serve_toml(&server, "").await;
    // @latest is not needed when the list has releases.
    Mock::given(method("GET"))
        .and(path("/github.com/!burnt!sushi/toml/@latest"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let r = registries(pointed_at(&server, &[("go", "")]));
    let set = goproxy::releases(&r, "github.com/BurntSushi/toml")
        .await
        .expect("found");
    assert_eq!(set.releases.len(), 10);
    assert_eq!(prereleases(&set), ["v1.4.0-rc.1"]);
    assert_eq!(
        time_of(&set, "v2.0.0+incompatible").as_deref(),
        Some("2024-02-01T10:00:00+00:00")
    );
    // Older versions are beyond the .info budget of one request.
    assert_eq!(time_of(&set, "v1.3.0"), None);
    assert_eq!(time_of(&set, "v1.0.0"), None);
    assert_eq!(
        set.source_url.as_deref(),
        Some("https://github.com/BurntSushi/toml")
    );
    let requests = server.received_requests().await.expect("recorded");
    assert_eq!(requests.len(), 1 + goproxy::INFO_LIMIT);
    assert_eq!(goproxy::INFO_LIMIT, 1, "a lookup is the list and one .info");
}

#[tokio::test]
async fn go_uses_latest_when_the_list_has_no_release() {
    let server = MockServer::start().await;
    serve(
        &server,
        "/example.com/tool/@v/list",
        200,
        "v0.2.0-beta.1\n".to_owned(),
    )
    .await;
    serve(
        &server,
        "/example.com/tool/@latest",
        200,
        fixture("go/pseudo-latest.info"),
    )
    .await;
    serve(
        &server,
        "/example.com/tool/@v/v0.2.0-beta.1.info",
        200,
        r#"{"Version":"v0.2.0-beta.1","Time":"2024-01-05T00:00:00Z"}"#.to_owned(),
    )
    .await;
    let r = registries(pointed_at(&server, &[("go", "")]));
    let set = goproxy::releases(&r, "example.com/tool")
        .await
        .expect("found");
    let pseudo = "v0.0.0-20240501093015-1f2e3d4c5b6a";
    assert_eq!(versions(&set), ["v0.2.0-beta.1", pseudo]);
    assert_eq!(set.latest_tag.as_deref(), Some(pseudo));
    assert_eq!(prereleases(&set), ["v0.2.0-beta.1", pseudo]);
    // The pseudo-version's time comes from the version itself, not from a request.
    assert_eq!(
        time_of(&set, pseudo).as_deref(),
        Some("2024-05-01T09:30:15+00:00")
    );
    assert_eq!(
        time_of(&set, "v0.2.0-beta.1").as_deref(),
        Some("2024-01-05T00:00:00+00:00")
    );
}

#[tokio::test]
async fn goproxy_comma_falls_through_only_on_not_found() {
    let server = MockServer::start().await;
    serve_toml(&server, "/second").await;
    serve(&server, &format!("/broken{TOML}list"), 500, String::new()).await;
    let r = registries(RegistryConfig {
        goproxy: format!("{0}/first,{0}/second,direct", server.uri()),
        ..RegistryConfig::default()
    });
    let set = goproxy::releases(&r, "github.com/BurntSushi/toml")
        .await
        .expect("second proxy answers after the first one's 404");
    assert_eq!(set.releases.len(), 10);

    // A 500 from an entry followed by `,` stops the walk.
    let r = registries(RegistryConfig {
        goproxy: format!("{0}/broken,{0}/second", server.uri()),
        ..RegistryConfig::default()
    });
    assert!(matches!(
        goproxy::releases(&r, "github.com/BurntSushi/toml").await,
        Err(RegistryError::Status { status: 500, .. })
    ));
}

#[tokio::test]
async fn goproxy_pipe_falls_through_on_any_error() {
    let server = MockServer::start().await;
    serve_toml(&server, "/second").await;
    serve(&server, &format!("/broken{TOML}list"), 500, String::new()).await;
    let r = registries(RegistryConfig {
        goproxy: format!("{0}/broken|{0}/second", server.uri()),
        ..RegistryConfig::default()
    });
    let set = goproxy::releases(&r, "github.com/BurntSushi/toml")
        .await
        .expect("second proxy answers after the first one's 500");
    assert_eq!(set.releases.len(), 10);
}

#[tokio::test]
async fn goproxy_direct_and_off_are_skipped_with_a_reason() {
    let server = MockServer::start().await;
    let r = registries(RegistryConfig {
        goproxy: format!("{}/empty,direct", server.uri()),
        ..RegistryConfig::default()
    });
    match goproxy::releases(&r, "example.com/only/in/vcs").await {
        Err(RegistryError::Skipped(reason)) => assert!(reason.contains("direct"), "{reason}"),
        other => panic!("expected Skipped, got {other:?}"),
    }
    let r = registries(RegistryConfig {
        goproxy: "off".to_owned(),
        ..RegistryConfig::default()
    });
    match goproxy::releases(&r, "example.com/x").await {
        Err(RegistryError::Skipped(reason)) => assert!(reason.contains("off"), "{reason}"),
        other => panic!("expected Skipped, got {other:?}"),
    }
}

#[tokio::test]
async fn goprivate_modules_are_skipped_without_a_request() {
    let server = MockServer::start().await;
    let mut config = pointed_at(&server, &[("go", "")]);
    config.goprivate = "*.corp.example,github.com/acme/*".to_owned();
    let r = registries(config);
    for module in ["git.corp.example/team/lib", "github.com/acme/secret/v2"] {
        match goproxy::releases(&r, module).await {
            Err(RegistryError::Skipped(reason)) => {
                assert!(reason.contains("GOPRIVATE"), "{reason}");
            }
            other => panic!("expected Skipped for {module}, got {other:?}"),
        }
    }
    assert!(
        server
            .received_requests()
            .await
            .expect("recorded")
            .is_empty()
    );
}

#[tokio::test]
async fn go_not_found_and_malformed() {
    let server = MockServer::start().await;
    serve(
        &server,
        "/example.com/bad/@v/list",
        200,
        String::new(), // no versions
    )
    .await;
    serve(
        &server,
        "/example.com/bad/@latest",
        200,
        "{not json".to_owned(),
    )
    .await;
    let r = registries(pointed_at(&server, &[("go", "")]));
    assert!(matches!(
        goproxy::releases(&r, "example.com/missing").await,
        Err(RegistryError::NotFound)
    ));
    assert!(matches!(
        goproxy::releases(&r, "example.com/bad").await,
        Err(RegistryError::Malformed { .. })
    ));
    assert!(matches!(
        goproxy::releases(&r, "not a module").await,
        Err(RegistryError::Skipped(_))
    ));
}

// ---------------------------------------------------------------- OCI / Docker registry v2

#[tokio::test]
async fn docker_hub_official_images_live_under_library_and_pages_follow_link() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/library/node/tags/list"))
        .and(query_param_is_missing("last"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("Content-Type", "application/json")
                .insert_header(
                    "Link",
                    r#"</v2/library/node/tags/list?last=20.11.0-alpine3.19&n=1000>; rel="next""#,
                )
                .set_body_string(fixture("oci/node-tags-page1.json")),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/library/node/tags/list"))
        .and(query_param("last", "20.11.0-alpine3.19"))
        .respond_with(
            ResponseTemplate::new(200).set_body_string(fixture("oci/node-tags-page2.json")),
        )
        .expect(1)
        .mount(&server)
        .await;
    let r = registries(pointed_at(&server, &[("docker", "")]));
    let set = oci::releases(&r, "node").await.expect("found");
    assert_eq!(set.releases.len(), 14);
    assert_eq!(versions(&set).last(), Some(&"lts"));
    assert_eq!(
        prereleases(&set),
        ["22.0.0-rc.1", "current", "latest", "lts"]
    );
    assert!(set.releases.iter().all(|r| r.published_at.is_none()));
}

async fn mount_token_protected_app(server: &MockServer, token_fixture: &str, token: &str) {
    let challenge = format!(
        r#"Bearer realm="{}/token",service="127.0.0.1",scope="repository:org/app:pull""#,
        server.uri()
    );
    Mock::given(method("GET"))
        .and(path("/token"))
        .and(query_param("service", "127.0.0.1"))
        .and(query_param("scope", "repository:org/app:pull"))
        .respond_with(ResponseTemplate::new(200).set_body_string(fixture(token_fixture)))
        .expect(1)
        .mount(server)
        .await;
    let bearer = format!("Bearer {token}");
    Mock::given(method("GET"))
        .and(path("/v2/org/app/tags/list"))
        .and(header("Authorization", bearer.as_str()))
        .and(query_param_is_missing("last"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header(
                    "Link",
                    format!(
                        r#"<{}/v2/org/app/tags/list?n=2&last=1.1.0>; rel="next""#,
                        server.uri()
                    )
                    .as_str(),
                )
                .set_body_string(fixture("oci/app-tags-page1.json")),
        )
        .with_priority(1)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/org/app/tags/list"))
        .and(header("Authorization", bearer.as_str()))
        .and(query_param("last", "1.1.0"))
        .respond_with(
            ResponseTemplate::new(200).set_body_string(fixture("oci/app-tags-page2.json")),
        )
        .with_priority(1)
        .mount(server)
        .await;
    // Without the token: the challenge.
    Mock::given(method("GET"))
        .and(path("/v2/org/app/tags/list"))
        .respond_with(
            ResponseTemplate::new(401)
                .insert_header("WWW-Authenticate", challenge.as_str())
                .set_body_string(fixture("oci/unauthorized.json")),
        )
        .with_priority(10)
        .mount(server)
        .await;
}

#[tokio::test]
async fn oci_token_handshake_on_an_explicit_registry_host() {
    let server = MockServer::start().await;
    mount_token_protected_app(
        &server,
        "oci/token.json",
        "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.fake-registry-token",
    )
    .await;
    let r = registries_configuring(RegistryConfig::default(), &[&server]);
    let name = format!("127.0.0.1:{}/org/app", server.address().port());
    let set = oci::releases(&r, &name)
        .await
        .expect("found after the token");
    assert_eq!(
        versions(&set),
        [
            "1.0.0",
            "1.1.0",
            "2.0.0-beta.1",
            "2.0.0",
            "sha256-4b7a4f8cd5e0c4f1e8a0b5f2c1d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1.sig"
        ]
    );
    assert_eq!(prereleases(&set).len(), 2);
}

#[tokio::test]
async fn oci_token_answer_may_only_have_access_token() {
    let server = MockServer::start().await;
    mount_token_protected_app(&server, "oci/token-access-only.json", "oauth2-style-token").await;
    let r = registries_configuring(RegistryConfig::default(), &[&server]);
    let name = format!("127.0.0.1:{}/org/app:1.0.0", server.address().port());
    let set = oci::releases(&r, &name)
        .await
        .expect("found after the token");
    assert_eq!(set.releases.len(), 5);
}

#[tokio::test]
async fn oci_not_found_malformed_and_refused_token() {
    let server = MockServer::start().await;
    serve(
        &server,
        "/v2/org/missing/tags/list",
        404,
        fixture("oci/name-unknown.json"),
    )
    .await;
    serve(
        &server,
        "/v2/org/garbled/tags/list",
        200,
        "<html>proxy error</html>".to_owned(),
    )
    .await;
    Mock::given(method("GET"))
        .and(path("/v2/org/locked/tags/list"))
        .respond_with(ResponseTemplate::new(401).insert_header(
            "WWW-Authenticate",
            format!(r#"Bearer realm="{}/denied",service="x""#, server.uri()).as_str(),
        ))
        .mount(&server)
        .await;
    serve(&server, "/denied", 403, String::new()).await;
    let r = registries(pointed_at(&server, &[("docker", "")]));
    assert!(matches!(
        oci::releases(&r, "org/missing").await,
        Err(RegistryError::NotFound)
    ));
    assert!(matches!(
        oci::releases(&r, "org/garbled").await,
        Err(RegistryError::Malformed { .. })
    ));
    assert!(matches!(
        oci::releases(&r, "org/locked").await,
        Err(RegistryError::Status { status: 403, .. })
    ));
    assert!(matches!(
        oci::releases(&r, "Not/Valid").await,
        Err(RegistryError::Skipped(_))
    ));
}

// ---------------------------------------------------------------- toolchains

#[tokio::test]
async fn node_release_index_with_lts() {
    let server = MockServer::start().await;
    serve(
        &server,
        "/dist/index.json",
        200,
        fixture("toolchain/node-index.json"),
    )
    .await;
    let r = registries(pointed_at(&server, &[("node", "/dist/")]));
    let set = toolchain::releases(&r, "node").await.expect("found");
    assert_eq!(
        versions(&set),
        [
            "22.1.0", "21.7.3", "20.12.2", "20.12.1", "18.20.2", "0.1.100"
        ]
    );
    assert_eq!(set.latest_tag.as_deref(), Some("20.12.2"), "newest LTS");
    assert_eq!(
        time_of(&set, "22.1.0").as_deref(),
        Some("2024-05-02T00:00:00+00:00")
    );
    // Outside an LTS line means not stable (Current, odd majors, pre-1.0).
    assert_eq!(prereleases(&set), ["22.1.0", "21.7.3", "0.1.100"]);
    // So `.nvmrc` at an LTS release is offered the newest LTS, not the Current line.
    let evaluation = upkeep_resolvers::recommend::evaluate(
        upkeep_resolvers::Ecosystem::Toolchain,
        Some("18.20.2"),
        None,
        &set.releases,
        &upkeep_resolvers::recommend::Policy::default(),
        chrono::Utc::now(),
    );
    assert_eq!(evaluation.latest.as_deref(), Some("20.12.2"));
    assert_eq!(evaluation.recommended.as_deref(), Some("20.12.2"));
}

#[tokio::test]
async fn python_releases_from_the_downloads_api() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v2/downloads/release/"))
        .and(query_param("is_published", "true"))
        .respond_with(
            ResponseTemplate::new(200).set_body_string(fixture("toolchain/python-releases.json")),
        )
        .mount(&server)
        .await;
    let r = registries(pointed_at(&server, &[("python", "")]));
    let set = toolchain::releases(&r, "python").await.expect("found");
    assert_eq!(versions(&set), ["3.12.3", "3.13.0b1", "3.11.9", "2.7.18"]);
    assert_eq!(prereleases(&set), ["3.13.0b1"]);
    assert_eq!(
        time_of(&set, "3.12.3").as_deref(),
        Some("2024-04-09T18:40:00+00:00")
    );
}

#[tokio::test]
async fn go_toolchain_releases() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/dl/"))
        .and(query_param("mode", "json"))
        .and(query_param("include", "all"))
        .respond_with(ResponseTemplate::new(200).set_body_string(fixture("toolchain/go-dl.json")))
        .mount(&server)
        .await;
    let r = registries(pointed_at(&server, &[("golang", "")]));
    let set = toolchain::releases(&r, "go").await.expect("found");
    assert_eq!(versions(&set), ["1.22.3", "1.21.10", "1.23rc1", "1.22rc2"]);
    assert_eq!(prereleases(&set), ["1.23rc1", "1.22rc2"]);
}

#[tokio::test]
async fn rust_channel_releases_from_the_manifest_list() {
    let server = MockServer::start().await;
    serve(
        &server,
        "/manifests.txt",
        200,
        fixture("toolchain/rust-manifests.txt"),
    )
    .await;
    let r = registries(pointed_at(&server, &[("rust", "")]));
    let set = toolchain::releases(&r, "rust").await.expect("found");
    assert_eq!(
        versions(&set),
        ["1.77.0", "1.77.1", "1.77.2", "1.78.0", "1.79.0-beta.3"]
    );
    assert_eq!(prereleases(&set), ["1.79.0-beta.3"]);
    assert_eq!(
        time_of(&set, "1.78.0").as_deref(),
        Some("2024-05-02T00:00:00+00:00"),
        "the first dist date of a re-published manifest"
    );
}

#[tokio::test]
async fn gradle_versions_with_flags() {
    let server = MockServer::start().await;
    serve(
        &server,
        "/versions/all",
        200,
        fixture("toolchain/gradle-versions-all.json"),
    )
    .await;
    let r = registries(pointed_at(&server, &[("gradle", "")]));
    let set = toolchain::releases(&r, "gradle").await.expect("found");
    assert_eq!(set.releases.len(), 6);
    assert_eq!(
        prereleases(&set),
        [
            "8.8-20240508010532+0000",
            "8.8-rc-1",
            "7.5-milestone-1",
            "0.9-rc-3"
        ]
    );
    assert_eq!(set.latest_tag.as_deref(), Some("8.7"));
    assert_eq!(
        time_of(&set, "8.7").as_deref(),
        Some("2024-03-22T15:52:46+00:00")
    );
    let yanked: Vec<&str> = set
        .releases
        .iter()
        .filter(|r| r.yanked)
        .map(|r| r.version.as_str())
        .collect();
    assert_eq!(yanked, ["0.9-rc-3"]);
}

#[tokio::test]
async fn hashicorp_products_from_their_release_index() {
    let server = MockServer::start().await;
    serve(
        &server,
        "/hc/terraform/index.json",
        200,
        fixture("toolchain/terraform-index.json"),
    )
    .await;
    let r = registries(pointed_at(&server, &[("hashicorp", "/hc/")]));
    let set = toolchain::releases(&r, "terraform").await.expect("found");
    assert_eq!(
        versions(&set),
        [
            "0.15.5",
            "1.5.6",
            "1.5.7",
            "1.6.0",
            "1.6.0-alpha20230719",
            "1.6.0-beta1",
            "1.6.0-rc1",
            "1.6.6",
            "1.7.0",
            "1.7.0-rc2",
            "1.7.5",
            "1.8.0-alpha20240216"
        ],
        "ordered by release number; the enterprise build is left out"
    );
    assert_eq!(
        prereleases(&set),
        [
            "1.6.0-alpha20230719",
            "1.6.0-beta1",
            "1.6.0-rc1",
            "1.7.0-rc2",
            "1.8.0-alpha20240216"
        ]
    );
    assert_eq!(
        set.source_url.as_deref(),
        Some("https://github.com/hashicorp/terraform")
    );
    // `.tool-versions` at 1.5.7 is offered the newest stable release.
    let evaluation = upkeep_resolvers::recommend::evaluate(
        upkeep_resolvers::Ecosystem::Toolchain,
        Some("1.5.7"),
        None,
        &set.releases,
        &upkeep_resolvers::recommend::Policy::default(),
        chrono::Utc::now(),
    );
    assert_eq!(evaluation.recommended.as_deref(), Some("1.7.5"));

    // A product without an index is not found.
    assert!(matches!(
        toolchain::releases(&r, "vault").await,
        Err(RegistryError::NotFound)
    ));
}

#[tokio::test]
async fn maven_itself_is_a_toolchain() {
    let server = MockServer::start().await;
    serve(
        &server,
        "/maven2/org/apache/maven/apache-maven/maven-metadata.xml",
        200,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata>\n  <groupId>org.apache.maven</groupId>\n  \
         <artifactId>apache-maven</artifactId>\n  <versioning>\n    <latest>4.0.0-rc-2</latest>\n    \
         <release>4.0.0-rc-2</release>\n    <versions>\n      <version>3.9.8</version>\n      \
         <version>3.9.9</version>\n      <version>4.0.0-rc-2</version>\n    </versions>\n    \
         <lastUpdated>20241203103000</lastUpdated>\n  </versioning>\n</metadata>\n"
            .to_owned(),
    )
    .await;
    let r = registries(pointed_at(&server, &[("maven", "/maven2/")]));
    let set = toolchain::releases(&r, "maven").await.expect("found");
    assert_eq!(versions(&set), ["3.9.8", "3.9.9", "4.0.0-rc-2"]);
    assert_eq!(prereleases(&set), ["4.0.0-rc-2"]);
}

#[tokio::test]
async fn sbt_and_scala_through_maven() {
    let server = MockServer::start().await;
    for (at, file) in [
        ("org/scala-sbt/sbt", "sbt"),
        ("org/scala-lang/scala3-library_3", "scala3-library"),
        ("org/scala-lang/scala-library", "scala-library"),
    ] {
        serve(
            &server,
            &format!("/maven2/{at}/maven-metadata.xml"),
            200,
            fixture(&format!("toolchain/{file}-maven-metadata.xml")),
        )
        .await;
    }
    let r = registries(pointed_at(&server, &[("maven", "/maven2/")]));
    let sbt = toolchain::releases(&r, "sbt").await.expect("sbt");
    assert_eq!(
        versions(&sbt),
        ["1.9.8", "1.9.9", "1.10.0-M1", "1.10.0-RC2"]
    );
    assert_eq!(prereleases(&sbt), ["1.10.0-M1", "1.10.0-RC2"]);
    let scala = toolchain::releases(&r, "scala").await.expect("scala");
    assert_eq!(
        versions(&scala),
        [
            "3.3.3",
            "3.4.1",
            "3.5.0-RC1",
            "2.12.19",
            "2.13.13",
            "2.13.14"
        ]
    );
    let scala2 = toolchain::releases(&r, "scala2").await.expect("scala 2");
    assert_eq!(versions(&scala2), ["2.12.19", "2.13.13", "2.13.14"]);
}

#[tokio::test]
async fn toolchain_unknown_not_found_and_malformed() {
    let server = MockServer::start().await;
    serve(
        &server,
        "/versions/all",
        200,
        "[{\"version\": 8}]".to_owned(),
    )
    .await;
    let r = registries(pointed_at(
        &server,
        &[("node", "/nowhere/"), ("gradle", "")],
    ));
    for name in ["java", "openjdk", "cobol"] {
        assert!(
            matches!(
                toolchain::releases(&r, name).await,
                Err(RegistryError::Skipped(_))
            ),
            "{name}"
        );
    }
    assert!(matches!(
        toolchain::releases(&r, "node").await,
        Err(RegistryError::NotFound)
    ));
    assert!(matches!(
        toolchain::releases(&r, "gradle").await,
        Err(RegistryError::Malformed { .. })
    ));
}

#[tokio::test]
async fn oci_token_is_not_sent_to_another_origin() {
    let server = MockServer::start().await;
    let other = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_string(fixture("oci/token.json")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/org/app/tags/list"))
        .and(wiremock::matchers::header_exists("Authorization"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header(
                    "Link",
                    format!(
                        r#"<{}/v2/org/app/tags/list?last=1.1.0>; rel="next""#,
                        other.uri()
                    )
                    .as_str(),
                )
                .set_body_string(fixture("oci/app-tags-page1.json")),
        )
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/org/app/tags/list"))
        .respond_with(ResponseTemplate::new(401).insert_header(
            "WWW-Authenticate",
            format!(r#"Bearer realm="{}/token",service="s""#, server.uri()).as_str(),
        ))
        .with_priority(10)
        .mount(&server)
        .await;
    serve(
        &other,
        "/v2/org/app/tags/list",
        200,
        fixture("oci/app-tags-page2.json"),
    )
    .await;
    let r = registries_configuring(pointed_at(&server, &[("docker", "")]), &[&other]);
    let set = oci::releases(&r, "org/app").await.expect("found");
    assert_eq!(set.releases.len(), 5);
    let requests = other.received_requests().await.expect("recorded");
    assert_eq!(requests.len(), 1);
    assert!(
        requests
            .iter()
            .all(|r| !r.headers.contains_key("authorization"))
    );
}
