//! OCI distribution / Docker registry HTTP API v2: the tags of an image are its releases.
//!
//! Image names follow Docker's reference grammar: when the first `/`-separated component contains
//! a `.` or a `:` or is `localhost`, it is the registry host (`ghcr.io/org/app`,
//! `registry.example:5000/team/app`); otherwise the image lives on Docker Hub, reached through the
//! `docker` base URL, and a single-component name is an official image (`node` →
//! `library/node`). `docker.io`, `index.docker.io` and `registry-1.docker.io` are Docker Hub too.
//! A `:tag` or `@digest` suffix on the name is ignored.
//!
//! Scheme for explicit hosts: `https`, except for loopback hosts (`localhost`, `127.*`, `[::1]`),
//! which use `http` — Docker itself treats loopback registries as insecure by default, and it is
//! how tests reach a fake registry (`127.0.0.1:PORT/org/app`). When the host equals the host of
//! the configured `docker` base URL, that base URL (and its scheme) is used.
//!
//! Tags come from `GET /v2/<repository>/tags/list?n=1000`, following `Link: <…>; rel="next"`
//! headers (at most [`MAX_PAGES`] pages). A `401` carrying
//! `WWW-Authenticate: Bearer realm="…",service="…",scope="…"` starts the token handshake:
//! `GET realm?service=…&scope=…`, read `token` (or `access_token`) from the JSON answer, and
//! repeat the request with `Authorization: Bearer <token>`; the token is reused for the following
//! pages of the same origin (a `Link` to another origin starts without it). Credentials for the
//! token endpoint, where needed, are the shared HTTP client's business.
//! Tags have no publish times in this API.
//!
//! Registry hosts named in image names are user content: unless the host is a configured
//! registry, every request of the lookup (tags, token realm, next pages, redirects) goes through
//! the HTTP client's [`for_user_content`](crate::http::HttpClient::for_user_content) view, so it
//! reaches public addresses only and carries no configured credentials. A configured registry's
//! realm, pages and redirects may reach other configured hosts; any other host they name is
//! guarded the same way. A refused request makes the lookup `Skipped` with the reason.

use reqwest::Url;
use serde::Deserialize;

use super::{Registries, RegistryError, Release, ReleaseSet};
use crate::http::HttpClient;
use crate::versioning::{VersionScheme, docker::Docker};

/// Upper bound on followed `Link` pages (at 1000 tags per page).
pub const MAX_PAGES: usize = 100;

const PAGE_SIZE: u32 = 1000;

/// Where an image lives: the registry base URL (ending in `/`) and the repository path.
#[derive(Debug, PartialEq, Eq)]
struct Image {
    registry: String,
    repository: String,
}

pub async fn releases(registries: &Registries, name: &str) -> Result<ReleaseSet, RegistryError> {
    let image = resolve(registries.base_url("docker"), name).ok_or_else(|| {
        RegistryError::Skipped(format!("`{name}` is not a valid container image name"))
    })?;
    let first = format!(
        "{}v2/{}/tags/list?n={PAGE_SIZE}",
        image.registry, image.repository
    );
    let mut url = Url::parse(&first).map_err(|e| {
        RegistryError::Skipped(format!("cannot form a registry URL for `{name}`: {e}"))
    })?;
    // A registry nobody configured may not lead the lookup to a configured host either.
    let http = if registries.http.allows(url.as_str()) {
        registries.http.clone()
    } else {
        registries.http.for_user_content()
    };
    let mut token: Option<String> = None;
    let mut tags: Vec<String> = Vec::new();
    let mut visited: Vec<Url> = Vec::new();
    loop {
        if visited.contains(&url) || visited.len() >= MAX_PAGES {
            tracing::warn!(image = name, "stopping tag pagination (loop or page limit)");
            break;
        }
        visited.push(url.clone());
        let response = get_with_token(&http, &url, &image.repository, &mut token).await?;
        match response.status {
            200..=299 => {}
            404 | 410 => {
                // A missing repository is a 404; a page vanishing mid-way is a failure.
                return Err(if visited.len() == 1 {
                    RegistryError::NotFound
                } else {
                    RegistryError::Status {
                        status: response.status,
                        url: url.to_string(),
                    }
                });
            }
            status => {
                return Err(RegistryError::Status {
                    status,
                    url: url.to_string(),
                });
            }
        }
        let page: TagList =
            serde_json::from_slice(&response.body).map_err(|e| RegistryError::Malformed {
                url: url.to_string(),
                message: e.to_string(),
            })?;
        for tag in page.tags.unwrap_or_default() {
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        let next = response
            .headers
            .get_all(reqwest::header::LINK)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .find_map(next_link);
        match next.and_then(|link| url.join(&link).ok()) {
            Some(next) => {
                // A token is only ever sent back to the origin that asked for it.
                if next.origin() != url.origin() {
                    token = None;
                }
                url = next;
            }
            None => break,
        }
    }
    Ok(ReleaseSet {
        releases: tags
            .into_iter()
            .map(|tag| Release {
                prerelease: Docker.is_prerelease(&tag),
                version: tag,
                published_at: None,
                yanked: false,
                deprecated: None,
                requires_runtime: None,
            })
            .collect(),
        ..ReleaseSet::default()
    })
}

#[derive(Debug, Deserialize)]
struct TagList {
    #[serde(default)]
    tags: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
struct TokenAnswer {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
}

/// GET `url`, doing the bearer-token handshake once when challenged.
async fn get_with_token(
    http: &HttpClient,
    url: &Url,
    repository: &str,
    token: &mut Option<String>,
) -> Result<crate::http::HttpResponse, RegistryError> {
    let request = |token: Option<String>| async move {
        let authorization = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> = authorization
            .as_deref()
            .map(|value| ("Authorization", value))
            .into_iter()
            .collect();
        http.get(url.as_str(), &headers).await
    };
    let response = request(token.clone()).await?;
    if response.status != 401 {
        return Ok(response);
    }
    let challenge = response
        .headers
        .get_all(reqwest::header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(parse_bearer_challenge);
    let Some(challenge) = challenge else {
        // Basic or no challenge: nothing more this adapter can do.
        return Ok(response);
    };
    let new_token = fetch_token(http, &challenge, repository).await?;
    *token = Some(new_token);
    Ok(request(token.clone()).await?)
}

#[derive(Debug, Default, PartialEq, Eq)]
struct BearerChallenge {
    realm: String,
    service: Option<String>,
    scope: Option<String>,
}

async fn fetch_token(
    http: &HttpClient,
    challenge: &BearerChallenge,
    repository: &str,
) -> Result<String, RegistryError> {
    let mut url = Url::parse(&challenge.realm).map_err(|e| RegistryError::Malformed {
        url: challenge.realm.clone(),
        message: format!("token realm is not a URL: {e}"),
    })?;
    {
        let mut query = url.query_pairs_mut();
        if let Some(service) = &challenge.service {
            query.append_pair("service", service);
        }
        let default_scope = format!("repository:{repository}:pull");
        query.append_pair(
            "scope",
            challenge.scope.as_deref().unwrap_or(&default_scope),
        );
    }
    let response = http.get(url.as_str(), &[]).await?;
    if !(200..300).contains(&response.status) {
        return Err(RegistryError::Status {
            status: response.status,
            url: url.to_string(),
        });
    }
    let answer: TokenAnswer =
        serde_json::from_slice(&response.body).map_err(|e| RegistryError::Malformed {
            url: url.to_string(),
            message: e.to_string(),
        })?;
    answer
        .token
        .or(answer.access_token)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| RegistryError::Malformed {
            url: url.to_string(),
            message: "token answer has neither `token` nor `access_token`".to_owned(),
        })
}

/// Parse `Bearer realm="…",service="…",scope="…"` (quoted or bare values, `\` escapes in
/// quoted strings, commas inside quotes). `None` for other schemes or without a realm.
fn parse_bearer_challenge(header: &str) -> Option<BearerChallenge> {
    let header = header.trim();
    let (scheme, params) = header.split_once(char::is_whitespace)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut challenge = BearerChallenge::default();
    let mut chars = params.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c == ',' {
                break;
            }
            key.push(c);
            chars.next();
        }
        if key.is_empty() {
            break;
        }
        if chars.next() != Some('=') {
            continue;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '"' => break,
                    '\\' => {
                        if let Some(escaped) = chars.next() {
                            value.push(escaped);
                        }
                    }
                    c => value.push(c),
                }
            }
        } else {
            let mut bare = String::new();
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                bare.push(c);
                chars.next();
            }
            value.push_str(bare.trim());
        }
        match key.trim().to_ascii_lowercase().as_str() {
            "realm" => challenge.realm = value,
            "service" => challenge.service = Some(value),
            "scope" => challenge.scope = Some(value),
            _ => {}
        }
    }
    (!challenge.realm.is_empty()).then_some(challenge)
}

/// The target of a `Link` header's `rel="next"` entry (RFC 8288), as written.
fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|entry| {
        let entry = entry.trim();
        let target = entry.strip_prefix('<')?;
        let (target, params) = target.split_once('>')?;
        let is_next = params.split(';').any(|param| {
            param.split_once('=').is_some_and(|(key, value)| {
                key.trim().eq_ignore_ascii_case("rel")
                    && value
                        .trim()
                        .trim_matches('"')
                        .split_whitespace()
                        .any(|rel| rel.eq_ignore_ascii_case("next"))
            })
        });
        is_next.then(|| target.trim().to_owned())
    })
}

/// Map an image name to its registry and repository; `None` for an invalid name.
fn resolve(docker_hub: String, name: &str) -> Option<Image> {
    let name = name.trim();
    let name = name.split_once('@').map_or(name, |(before, _)| before);
    let (host, path) = match name.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            (Some(first), rest)
        }
        _ => (None, name),
    };
    // A `:tag` can only be in the last path component (the host's `:port` is split off).
    let path = match path.rsplit_once('/') {
        Some((dir, last)) => {
            let last = last.split_once(':').map_or(last, |(image, _)| image);
            format!("{dir}/{last}")
        }
        None => path
            .split_once(':')
            .map_or(path, |(image, _)| image)
            .to_owned(),
    };
    if !is_valid_repository(&path) {
        return None;
    }
    let hub_host = Url::parse(&docker_hub).ok().and_then(|u| host_port(&u));
    match host {
        None | Some("docker.io" | "index.docker.io" | "registry-1.docker.io") => {
            let repository = if path.contains('/') {
                path
            } else {
                format!("library/{path}")
            };
            Some(Image {
                registry: docker_hub,
                repository,
            })
        }
        Some(host) if hub_host.as_deref() == Some(host) => Some(Image {
            registry: docker_hub,
            repository: path,
        }),
        Some(host) => {
            if !host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
            {
                return None;
            }
            let scheme = if is_loopback(host) { "http" } else { "https" };
            Some(Image {
                registry: format!("{scheme}://{host}/"),
                repository: path,
            })
        }
    }
}

/// `host[:port]` of a URL as written in image names.
fn host_port(url: &Url) -> Option<String> {
    let host = url.host_str()?;
    Some(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    })
}

fn is_loopback(host: &str) -> bool {
    let bare = if host.starts_with('[') {
        host.split_once(']')
            .map_or(host, |(h, _)| h.trim_start_matches('['))
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    bare == "localhost"
        || bare == "::1"
        || bare
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Repository paths per the distribution spec: lower-case components of `[a-z0-9]` separated by
/// `.`, `_`, `__` or `-` runs, joined by `/`.
fn is_valid_repository(path: &str) -> bool {
    !path.is_empty()
        && path.split('/').all(|component| {
            !component.is_empty()
                && component.chars().all(|c| {
                    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')
                })
                && component.starts_with(|c: char| c.is_ascii_alphanumeric())
                && component.ends_with(|c: char| c.is_ascii_alphanumeric())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let hub = "https://registry.example/".to_owned();
        let image = |name: &str| resolve(hub.clone(), name).map(|i| (i.registry, i.repository));
        assert_eq!(image("node"), Some((hub.clone(), "library/node".into())));
        assert_eq!(
            image("node:20-alpine"),
            Some((hub.clone(), "library/node".into()))
        );
        assert_eq!(
            image("grafana/grafana"),
            Some((hub.clone(), "grafana/grafana".into()))
        );
        assert_eq!(
            image("docker.io/redis"),
            Some((hub.clone(), "library/redis".into()))
        );
        assert_eq!(
            image("ghcr.io/org/app@sha256:abc"),
            Some(("https://ghcr.io/".into(), "org/app".into()))
        );
        assert_eq!(
            image("registry.example:5000/team/app:1.0"),
            Some(("https://registry.example:5000/".into(), "team/app".into()))
        );
        assert_eq!(
            image("127.0.0.1:5000/org/app"),
            Some(("http://127.0.0.1:5000/".into(), "org/app".into()))
        );
        assert_eq!(
            image("registry.example/team/app"),
            Some((hub.clone(), "team/app".into()))
        );
        assert_eq!(
            image("localhost/app"),
            Some(("http://localhost/".into(), "app".into()))
        );
        for bad in ["", "Node", "a//b", "ghcr.io/", "x/../y", "bad host.io/x"] {
            assert_eq!(image(bad), None, "{bad}");
        }
    }

    #[test]
    fn challenges() {
        assert_eq!(
            parse_bearer_challenge(
                r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#
            ),
            Some(BearerChallenge {
                realm: "https://auth.example/token".into(),
                service: Some("registry.example".into()),
                scope: Some("repository:a/b:pull,push".into()),
            })
        );
        assert_eq!(
            parse_bearer_challenge("bearer realm=https://a.example/t, service=x"),
            Some(BearerChallenge {
                realm: "https://a.example/t".into(),
                service: Some("x".into()),
                scope: None,
            })
        );
        assert_eq!(parse_bearer_challenge(r#"Basic realm="x""#), None);
        assert_eq!(parse_bearer_challenge("Bearer service=x"), None);
        assert_eq!(parse_bearer_challenge("Bearer"), None);
    }

    #[test]
    fn links() {
        assert_eq!(
            next_link(r#"</v2/a/tags/list?n=2&last=b>; rel="next""#).as_deref(),
            Some("/v2/a/tags/list?n=2&last=b")
        );
        assert_eq!(
            next_link(r#"<https://x.example/p1>; rel="prev", <https://x.example/p3>; rel=next"#)
                .as_deref(),
            Some("https://x.example/p3")
        );
        assert_eq!(next_link(r#"</x>; rel="prev""#), None);
        assert_eq!(next_link("garbage"), None);
    }
}
