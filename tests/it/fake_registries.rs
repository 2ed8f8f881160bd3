//! The registry adapters against the fake package registries: what the fake generates is what
//! the adapters resolve, validators turn a second resolution into `304`s, overrides and new
//! releases show up, `429`s are waited out and `5xx`s retried, the Docker token challenge is
//! answered and the PyPI Simple API is read. (The fake's own generator is checked by its unit
//! test, `support::fake_registries::tests`; its latency injection by the job and fault tests.)

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use http::StatusCode;

use upkeep_resolvers::Ecosystem;
use upkeep_resolvers::http::{HttpClient, HttpConfig, install_crypto_provider};
use upkeep_resolvers::registry::{Registries, RegistryConfig, RegistryError, ReleaseSet};

use crate::support::fake_registries::{FakeRegistries, FakeRegistryOptions};

/// Packages resolved per ecosystem: plain, scoped, mixed-case, short, coordinates, official images.
const PACKAGES: &[(Ecosystem, &[&str])] = &[
    (Ecosystem::Cargo, &["serde", "a", "xz", "syn", "Tokio-Util"]),
    (Ecosystem::Npm, &["left-pad", "@acme/widget-kit", "react"]),
    (Ecosystem::Pypi, &["requests", "Django_Rest.framework"]),
    (
        Ecosystem::Maven,
        &[
            "org.apache.commons:commons-lang3",
            "com.google.guava:guava",
            "org.jetbrains.kotlin.jvm:org.jetbrains.kotlin.jvm.gradle.plugin",
        ],
    ),
    (
        Ecosystem::Go,
        &[
            "github.com/Azure/azure-sdk-for-go",
            "golang.org/x/text",
            "example.com/tools/v3",
        ],
    ),
    (
        Ecosystem::Docker,
        &["node", "library/redis", "grafana/grafana"],
    ),
];

fn registries(fake: &FakeRegistries, npm_abbreviated_metadata: bool) -> Registries {
    install_crypto_provider();
    let http = HttpClient::new(HttpConfig {
        max_retries: 0,
        ..HttpConfig::default()
    })
    .expect("HTTP client");
    Registries::new(
        http,
        RegistryConfig {
            base_urls: fake.base_urls().into_iter().collect(),
            npm_abbreviated_metadata,
            ..RegistryConfig::default()
        },
    )
}

async fn resolve(registries: &Registries, ecosystem: Ecosystem, name: &str) -> ReleaseSet {
    registries
        .releases(ecosystem, name)
        .await
        .unwrap_or_else(|e| panic!("{ecosystem} {name}: {e}"))
}

fn versions<'a>(versions: impl IntoIterator<Item = &'a String>) -> BTreeSet<String> {
    versions.into_iter().cloned().collect()
}

/// The resolved set equals what the fake serves, flag by flag where the protocol carries it.
fn assert_matches(fake: &FakeRegistries, ecosystem: Ecosystem, name: &str, set: &ReleaseSet) {
    let expected = fake.releases(ecosystem, name).expect("served");
    assert_eq!(
        versions(set.releases.iter().map(|r| &r.version)),
        versions(expected.iter().map(|r| &r.version)),
        "{ecosystem} {name}"
    );
    assert_eq!(
        set.releases.len(),
        expected.len(),
        "{ecosystem} {name}: no duplicates"
    );
    for release in &set.releases {
        let generated = expected
            .iter()
            .find(|r| r.version == release.version)
            .expect("served version");
        let context = format!("{ecosystem} {name} {}", release.version);
        assert_eq!(
            release.prerelease, generated.prerelease,
            "{context}: prerelease"
        );
        match ecosystem {
            Ecosystem::Cargo | Ecosystem::Pypi => {
                assert_eq!(release.yanked, generated.yanked, "{context}: yanked");
            }
            Ecosystem::Npm => {
                assert!(!release.yanked, "{context}");
                assert_eq!(
                    release.deprecated.is_some(),
                    generated.yanked,
                    "{context}: deprecated"
                );
            }
            _ => assert!(!release.yanked, "{context}"),
        }
        match ecosystem {
            Ecosystem::Cargo | Ecosystem::Npm | Ecosystem::Pypi => {
                assert_eq!(
                    release.published_at,
                    Some(generated.published_at),
                    "{context}: time"
                );
            }
            // Go fetches `.info` for a few versions only; those it has must be right.
            Ecosystem::Go => {
                if let Some(time) = release.published_at {
                    assert_eq!(time, generated.published_at, "{context}: time");
                }
            }
            _ => assert_eq!(release.published_at, None, "{context}"),
        }
    }
    if matches!(
        ecosystem,
        Ecosystem::Npm | Ecosystem::Pypi | Ecosystem::Maven
    ) {
        assert_eq!(
            set.latest_tag,
            fake.latest(ecosystem, name),
            "{ecosystem} {name}: latest"
        );
    }
}

#[tokio::test]
async fn adapters_resolve_what_the_fake_generates() {
    let fake = FakeRegistries::start().await;
    let registries = registries(&fake, false);
    for (ecosystem, names) in PACKAGES {
        for name in *names {
            let set = resolve(&registries, *ecosystem, name).await;
            assert_matches(&fake, *ecosystem, name, &set);
        }
    }
    let stats = fake.stats();
    for (ecosystem, names) in PACKAGES {
        let counts = stats.get(*ecosystem);
        assert!(
            counts.requests >= names.len() as u64,
            "{ecosystem}: {counts:?}"
        );
        assert_eq!(counts.not_modified, 0, "{ecosystem}");
        assert_eq!(counts.not_found, 0, "{ecosystem}: {counts:?}");
        assert_eq!(counts.bodies, counts.requests, "{ecosystem}");
    }
    // One request per package where the protocol needs one: npm, PyPI, Maven (the plugin
    // marker's two repositories are the same URL), OCI (one page); Cargo adds `config.json` once.
    assert_eq!(stats.get(Ecosystem::Npm).requests, 3);
    assert_eq!(stats.get(Ecosystem::Pypi).requests, 2);
    assert_eq!(stats.get(Ecosystem::Maven).requests, 3);
    assert_eq!(stats.get(Ecosystem::Docker).requests, 3);
    assert_eq!(stats.get(Ecosystem::Cargo).requests, 6);
    assert_eq!(stats.unrouted, 0);
}

#[tokio::test]
async fn abbreviated_npm_documents_carry_the_same_versions() {
    let fake = FakeRegistries::start().await;
    let registries = registries(&fake, true);
    for name in ["left-pad", "@acme/widget-kit"] {
        let set = resolve(&registries, Ecosystem::Npm, name).await;
        let expected = fake.releases(Ecosystem::Npm, name).expect("served");
        assert_eq!(
            versions(set.releases.iter().map(|r| &r.version)),
            versions(expected.iter().map(|r| &r.version))
        );
        assert!(set.releases.iter().all(|r| r.published_at.is_none()));
        assert_eq!(set.latest_tag, fake.latest(Ecosystem::Npm, name));
    }
}

#[tokio::test]
async fn a_second_resolution_is_all_not_modified() {
    let fake = FakeRegistries::start().await;
    let registries = registries(&fake, false);
    let mut first = Vec::new();
    for (ecosystem, names) in PACKAGES {
        for name in *names {
            first.push(resolve(&registries, *ecosystem, name).await);
        }
    }
    let before = fake.stats();
    let client_before = registries.http.stats();
    let mut second = Vec::new();
    for (ecosystem, names) in PACKAGES {
        for name in *names {
            second.push(resolve(&registries, *ecosystem, name).await);
        }
    }
    assert_eq!(first, second, "revalidated answers resolve the same");
    let delta = fake.stats().since(&before);
    for (ecosystem, counts) in &delta.by_ecosystem {
        assert!(counts.requests > 0, "{ecosystem} was asked again");
        assert_eq!(counts.bodies, 0, "{ecosystem}: no body downloaded");
        assert_eq!(counts.not_modified, counts.requests, "{ecosystem}: all 304");
    }
    let client = registries.http.stats();
    assert_eq!(
        client.not_modified - client_before.not_modified,
        delta.total().not_modified,
        "the client saw every 304"
    );
    assert_eq!(client.bodies_downloaded, client_before.bodies_downloaded);
}

#[tokio::test]
async fn overrides_and_new_releases_show_up() {
    let fake = FakeRegistries::start().await;
    let registries = registries(&fake, false);
    let cases: &[(Ecosystem, &str, &[&str], &str)] = &[
        (
            Ecosystem::Cargo,
            "serde",
            &["1.0.0", "1.1.0", "2.0.0-rc.1"],
            "1.2.0",
        ),
        (
            Ecosystem::Npm,
            "@acme/widget-kit",
            &["1.0.0", "1.1.0", "2.0.0-beta.1"],
            "1.2.0",
        ),
        (
            Ecosystem::Pypi,
            "requests",
            &["2.31.0", "2.32.0", "3.0.0rc1"],
            "2.32.1",
        ),
        (
            Ecosystem::Maven,
            "org.apache.commons:commons-lang3",
            &["3.12.0", "3.13.0", "4.0.0-M1"],
            "3.14.0",
        ),
        (
            Ecosystem::Go,
            "github.com/Azure/azure-sdk-for-go",
            &["v1.0.0", "v1.1.0", "v1.2.0-rc.1"],
            "v1.1.1",
        ),
        (
            Ecosystem::Docker,
            "node",
            &["20.0.0", "20.1.0", "21.0.0-rc.1"],
            "20.2.0",
        ),
    ];
    for (ecosystem, name, overridden, new) in cases {
        // Resolve the generated package once so that the client holds a cached copy.
        resolve(&registries, *ecosystem, name).await;
        fake.set_versions(*ecosystem, name, overridden);
        let set = resolve(&registries, *ecosystem, name).await;
        assert_matches(&fake, *ecosystem, name, &set);
        assert_eq!(
            versions(set.releases.iter().map(|r| &r.version)),
            overridden.iter().map(|v| (*v).to_owned()).collect(),
            "{ecosystem} {name}"
        );

        let before = fake.stats();
        let published = fake.publish(*ecosystem, name, new);
        assert!(!published.prerelease);
        let set = resolve(&registries, *ecosystem, name).await;
        assert_matches(&fake, *ecosystem, name, &set);
        let release = set
            .releases
            .iter()
            .find(|r| r.version == *new)
            .unwrap_or_else(|| panic!("{ecosystem} {name}: {new} is resolved"));
        if matches!(
            ecosystem,
            Ecosystem::Cargo | Ecosystem::Npm | Ecosystem::Pypi | Ecosystem::Go
        ) {
            assert_eq!(
                release.published_at,
                Some(published.published_at),
                "{ecosystem}"
            );
        }
        assert_eq!(fake.latest(*ecosystem, name).as_deref(), Some(*new));
        let delta = fake.stats().since(&before).get(*ecosystem);
        assert!(
            delta.bodies >= 1,
            "{ecosystem}: the changed document is downloaded"
        );
    }
    // A package with prereleases only: the Go adapter asks `@latest`.
    fake.set_versions(
        Ecosystem::Go,
        "example.com/early",
        &["v0.1.0-alpha.1", "v0.1.0-beta.1"],
    );
    let set = resolve(&registries, Ecosystem::Go, "example.com/early").await;
    assert_eq!(set.latest_tag.as_deref(), Some("v0.1.0-beta.1"));
    assert_matches(&fake, Ecosystem::Go, "example.com/early", &set);
}

#[tokio::test]
async fn removed_packages_are_not_found() {
    let fake = FakeRegistries::start().await;
    let registries = registries(&fake, false);
    for (ecosystem, names) in PACKAGES {
        let name = names[0];
        fake.remove(*ecosystem, name);
        assert_eq!(fake.releases(*ecosystem, name), None);
        let answer = registries.releases(*ecosystem, name).await;
        assert!(
            matches!(answer, Err(RegistryError::NotFound)),
            "{ecosystem} {name}: {answer:?}"
        );
        assert!(fake.stats().get(*ecosystem).not_found >= 1);
    }
    // Publishing brings a removed package back with just that release.
    fake.publish(Ecosystem::Npm, "left-pad", "1.0.0");
    let set = resolve(&registries, Ecosystem::Npm, "left-pad").await;
    assert_eq!(set.releases.len(), 1);
}

#[tokio::test]
async fn many_tags_are_paginated_with_link_headers() {
    let fake = FakeRegistries::start_with(FakeRegistryOptions {
        oci_page_size: 40,
        ..FakeRegistryOptions::default()
    })
    .await;
    let registries = registries(&fake, false);
    let tags: Vec<String> = (0..100).map(|i| format!("1.{i}.0")).collect();
    let tag_refs: Vec<&str> = tags.iter().map(String::as_str).collect();
    fake.set_versions(Ecosystem::Docker, "busybox", &tag_refs);
    let set = resolve(&registries, Ecosystem::Docker, "busybox").await;
    assert_eq!(
        versions(set.releases.iter().map(|r| &r.version)),
        versions(tags.iter())
    );
    assert_eq!(
        fake.stats().get(Ecosystem::Docker).requests,
        3,
        "40 + 40 + 20 tags"
    );
}

/// A client that retries like the service's (two retries), with short backoffs.
fn retrying_registries(fake: &FakeRegistries, base_urls: BTreeMap<String, String>) -> Registries {
    install_crypto_provider();
    let http = HttpClient::new(HttpConfig {
        max_retries: 2,
        initial_backoff: Duration::from_millis(20),
        ..HttpConfig::default()
    })
    .expect("HTTP client");
    let mut urls: BTreeMap<String, String> = fake.base_urls().into_iter().collect();
    urls.extend(base_urls);
    Registries::new(
        http,
        RegistryConfig {
            base_urls: urls.into_iter().collect(),
            ..RegistryConfig::default()
        },
    )
}

#[tokio::test]
async fn adapters_wait_out_429s_and_retry_server_errors() {
    let fake = FakeRegistries::start().await;
    let registries = retrying_registries(&fake, BTreeMap::new());
    for (ecosystem, names) in PACKAGES {
        let ecosystem = *ecosystem;
        // `429` with `Retry-After: 1`: the adapter waits a second, then resolves.
        let before = fake.stats();
        fake.inject_failures(ecosystem, 1, StatusCode::TOO_MANY_REQUESTS, Some(1));
        let started = Instant::now();
        let set = resolve(&registries, ecosystem, names[0]).await;
        assert!(
            started.elapsed() >= Duration::from_millis(900),
            "{ecosystem}: Retry-After honoured"
        );
        assert_matches(&fake, ecosystem, names[0], &set);
        assert_eq!(fake.stats().since(&before).get(ecosystem).refused, 1);

        // `429` without `Retry-After`, then a `502`: backed off and retried.
        let before = fake.stats();
        fake.inject_failures(ecosystem, 1, StatusCode::TOO_MANY_REQUESTS, None);
        let set = resolve(&registries, ecosystem, names[1]).await;
        assert_matches(&fake, ecosystem, names[1], &set);
        fake.inject_failures(ecosystem, 2, StatusCode::BAD_GATEWAY, None);
        let set = resolve(&registries, ecosystem, names[names.len() - 1]).await;
        assert_matches(&fake, ecosystem, names[names.len() - 1], &set);
        assert_eq!(fake.stats().since(&before).get(ecosystem).refused, 3);
    }

    // More server errors than retries: the lookup fails, and says so.
    fake.inject_failures(Ecosystem::Npm, 3, StatusCode::SERVICE_UNAVAILABLE, None);
    let error = registries
        .releases(Ecosystem::Npm, "express")
        .await
        .unwrap_err();
    assert!(error.to_string().contains("503"), "{error}");
    // Four refusals before: one `429` with `Retry-After`, one without, two `502`s.
    assert_eq!(fake.stats().get(Ecosystem::Npm).refused, 4 + 3);
}

#[tokio::test]
async fn the_docker_token_challenge_is_answered_and_the_token_reused_for_pages() {
    let fake = FakeRegistries::start_with(FakeRegistryOptions {
        oci_page_size: 2,
        ..FakeRegistryOptions::default()
    })
    .await;
    fake.require_docker_token(true);
    let registries = registries(&fake, false);
    for name in ["node", "grafana/grafana"] {
        let before = fake.stats();
        let set = resolve(&registries, Ecosystem::Docker, name).await;
        assert_matches(&fake, Ecosystem::Docker, name, &set);
        let stats = fake.stats().since(&before).get(Ecosystem::Docker);
        // One challenge, one token request, then every page with the token.
        assert_eq!(stats.refused, 1, "{name}");
        let pages = set.releases.len().div_ceil(2) as u64;
        assert_eq!(stats.requests, 1 + 1 + pages, "{name}");
    }
}

#[tokio::test]
async fn the_pypi_simple_api_is_resolved() {
    let fake = FakeRegistries::start().await;
    let registries = retrying_registries(
        &fake,
        BTreeMap::from([("pypi".to_owned(), fake.pypi_simple_url())]),
    );
    for name in ["requests", "Django_Rest.framework"] {
        let set = resolve(&registries, Ecosystem::Pypi, name).await;
        let expected = fake.releases(Ecosystem::Pypi, name).expect("served");
        let served: Vec<(String, bool, Option<chrono::DateTime<chrono::Utc>>)> = expected
            .iter()
            .map(|r| (r.version.clone(), r.yanked, Some(r.published_at)))
            .collect();
        let mut resolved: Vec<(String, bool, Option<chrono::DateTime<chrono::Utc>>)> = set
            .releases
            .iter()
            .map(|r| (r.version.clone(), r.yanked, r.published_at))
            .collect();
        let mut served = served;
        served.sort();
        resolved.sort();
        assert_eq!(resolved, served, "{name}");
    }

    // The PEP 503 HTML page (for a client that does not ask for JSON) lists the same files.
    let html = reqwest::Client::new()
        .get(format!("{}requests/", fake.pypi_simple_url()))
        .header("accept", "text/html")
        .send()
        .await
        .expect("simple page");
    assert_eq!(
        html.headers()["content-type"].to_str().unwrap(),
        "text/html"
    );
    let body = html.bytes().await.expect("body");
    let set = upkeep_resolvers::registry::pypi::parse_simple_html(&body, "requests", "simple")
        .expect("PEP 503 page");
    let expected = fake.releases(Ecosystem::Pypi, "requests").expect("served");
    assert_eq!(
        versions(set.releases.iter().map(|r| &r.version)),
        versions(expected.iter().map(|r| &r.version))
    );
    for release in &set.releases {
        let served = expected.iter().find(|r| r.version == release.version);
        assert_eq!(release.yanked, served.is_some_and(|r| r.yanked));
    }
}
