//! The address guard at the registry boundary: fake OCI registries on 127.0.0.1 (wiremock,
//! speaking the distribution API's tags list, token handshake and redirects) that manifests name
//! without the host being configured, and configured registries whose token realm or redirect
//! points at a loopback address nobody configured.

use upkeep_resolvers::http::{Credential, HttpClient, HttpConfig, HttpError, Secret};
use upkeep_resolvers::registry::{Registries, RegistryConfig, RegistryError, oci};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TAGS: &str = r#"{"name":"org/app","tags":["1.0.0","1.1.0"]}"#;
const TOKEN: &str = r#"{"token":"registry-token"}"#;

/// Adapters over a client where `configured` are the configured registry hosts (`host:port`)
/// and `credentials` the configured credentials.
fn registries(configured: &[String], credentials: &[(String, &str)]) -> Registries {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut http = HttpConfig {
        max_retries: 0,
        ..HttpConfig::default()
    };
    for host in configured {
        http = http.with_allowed_host(host);
    }
    for (host, token) in credentials {
        http = http.with_credential(host.clone(), Credential::Bearer(Secret::new(*token)));
    }
    Registries::new(
        HttpClient::new(http).expect("HTTP client"),
        RegistryConfig::default(),
    )
}

fn host_of(server: &MockServer) -> String {
    server.address().to_string()
}

/// A registry answering the tags list of `org/app` to everybody.
async fn open_registry() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/org/app/tags/list"))
        .respond_with(ResponseTemplate::new(200).set_body_string(TAGS))
        .mount(&server)
        .await;
    server
}

async fn requests(server: &MockServer) -> Vec<wiremock::Request> {
    server.received_requests().await.expect("recorded")
}

fn skipped_as_refused(result: &Result<upkeep_resolvers::registry::ReleaseSet, RegistryError>) {
    match result {
        Err(RegistryError::Skipped(reason)) => {
            assert!(reason.contains("refused"), "{reason}");
            assert!(reason.contains("not a public address"), "{reason}");
        }
        other => panic!("expected a refused lookup, got {other:?}"),
    }
}

#[tokio::test]
async fn an_unconfigured_loopback_registry_is_refused_before_any_request() {
    let registry = open_registry().await;
    let r = registries(&[], &[]);
    let image = format!("{}/org/app:1.0", host_of(&registry));
    let result = oci::releases(&r, &image).await;
    skipped_as_refused(&result);
    assert!(requests(&registry).await.is_empty());
    // The same through a name that resolves to loopback: the resolver drops the address.
    let image = format!("localhost:{}/org/app:1.0", registry.address().port());
    let result = oci::releases(&r, &image).await;
    skipped_as_refused(&result);
    assert!(requests(&registry).await.is_empty());
}

#[tokio::test]
async fn a_configured_loopback_registry_is_looked_up() {
    let registry = open_registry().await;
    let r = registries(&[host_of(&registry)], &[]);
    let image = format!("{}/org/app:1.0", host_of(&registry));
    let set = oci::releases(&r, &image).await.expect("tags");
    assert_eq!(set.releases.len(), 2);
    assert_eq!(requests(&registry).await.len(), 1);
}

#[tokio::test]
async fn a_token_realm_on_an_unconfigured_loopback_address_is_refused() {
    let registry = MockServer::start().await;
    let realm = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_string(TOKEN))
        .mount(&realm)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/org/app/tags/list"))
        .respond_with(ResponseTemplate::new(401).insert_header(
            "WWW-Authenticate",
            format!(r#"Bearer realm="{}/token",service="s""#, realm.uri()).as_str(),
        ))
        .mount(&registry)
        .await;
    let r = registries(&[host_of(&registry)], &[(host_of(&registry), "configured")]);
    let image = format!("{}/org/app", host_of(&registry));
    let result = oci::releases(&r, &image).await;
    skipped_as_refused(&result);
    assert!(requests(&realm).await.is_empty(), "the realm was asked");
    // The configured registry itself got its configured credentials.
    let asked = requests(&registry).await;
    assert_eq!(asked.len(), 1);
    assert_eq!(
        asked[0]
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok()),
        Some("Bearer configured")
    );
}

#[tokio::test]
async fn a_redirect_to_an_unconfigured_loopback_address_is_refused() {
    let registry = MockServer::start().await;
    let internal = open_registry().await;
    Mock::given(method("GET"))
        .and(path("/v2/org/app/tags/list"))
        .respond_with(ResponseTemplate::new(302).insert_header(
            "Location",
            format!("{}/v2/org/app/tags/list", internal.uri()).as_str(),
        ))
        .mount(&registry)
        .await;
    let r = registries(&[host_of(&registry)], &[(host_of(&registry), "configured")]);
    let image = format!("{}/org/app", host_of(&registry));
    let result = oci::releases(&r, &image).await;
    skipped_as_refused(&result);
    match &result {
        Err(RegistryError::Skipped(reason)) => assert!(reason.contains("redirect"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert!(
        requests(&internal).await.is_empty(),
        "the redirect was followed"
    );
    // Through a name as well: `localhost` resolves to loopback only.
    Mock::given(method("GET"))
        .and(path("/v2/org/other/tags/list"))
        .respond_with(
            ResponseTemplate::new(307).insert_header(
                "Location",
                format!(
                    "http://localhost:{}/v2/org/app/tags/list",
                    internal.address().port()
                )
                .as_str(),
            ),
        )
        .mount(&registry)
        .await;
    let image = format!("{}/org/other", host_of(&registry));
    skipped_as_refused(&oci::releases(&r, &image).await);
    assert!(
        requests(&internal).await.is_empty(),
        "the redirect was followed"
    );
}

#[tokio::test]
async fn the_token_never_follows_a_redirect_to_another_origin() {
    let registry = MockServer::start().await;
    let mirror = open_registry().await;
    Mock::given(method("GET"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_string(TOKEN))
        .mount(&registry)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/org/app/tags/list"))
        .and(wiremock::matchers::header(
            "Authorization",
            "Bearer registry-token",
        ))
        .respond_with(ResponseTemplate::new(307).insert_header(
            "Location",
            format!("{}/v2/org/app/tags/list", mirror.uri()).as_str(),
        ))
        .with_priority(1)
        .mount(&registry)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/org/app/tags/list"))
        .respond_with(ResponseTemplate::new(401).insert_header(
            "WWW-Authenticate",
            format!(r#"Bearer realm="{}/token",service="s""#, registry.uri()).as_str(),
        ))
        .with_priority(10)
        .mount(&registry)
        .await;
    // Both are configured: the redirect is followed, without the registry's token.
    let r = registries(&[host_of(&registry), host_of(&mirror)], &[]);
    let image = format!("{}/org/app", host_of(&registry));
    let set = oci::releases(&r, &image)
        .await
        .expect("tags from the mirror");
    assert_eq!(set.releases.len(), 2);
    let asked = requests(&mirror).await;
    assert_eq!(asked.len(), 1);
    assert!(!asked[0].headers.contains_key("authorization"));
}

#[tokio::test]
async fn the_user_content_view_guards_configured_hosts_too() {
    let registry = open_registry().await;
    let r = registries(&[host_of(&registry)], &[(host_of(&registry), "configured")]);
    let url = format!("{}/v2/org/app/tags/list", registry.uri());
    assert!(r.http.allows(&url));
    let refused = r.http.for_user_content().get(&url, &[]).await;
    assert!(
        matches!(refused, Err(HttpError::Refused { .. })),
        "{refused:?}"
    );
    assert!(requests(&registry).await.is_empty());
    let answered = r.http.get(&url, &[]).await.expect("configured");
    assert_eq!(answered.status, 200);
}
