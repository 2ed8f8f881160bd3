//! The npm registry protocol: one packument (package document) per package at
//! `{registry}/{name}`, scoped names escaped as `@scope%2fname`.
//!
//! Which document: by default the **full** packument (`Accept: application/json`), because only
//! it carries `time` (publish time per version), `repository` and `homepage`. With
//! [`super::RegistryConfig::npm_abbreviated_metadata`] the adapter asks for the abbreviated
//! document (`application/vnd.npm.install-v1+json`): far smaller, still with `dist-tags` and
//! per-version `deprecated`, but no times or links.
//!
//! The registry of a scoped package comes from [`super::RegistryConfig::npm_scopes`] (like
//! `.npmrc`'s `@scope:registry=`); credentials for private registries come from the HTTP client's
//! per-host credentials (bearer or basic), like `.npmrc`'s `//host/:_authToken`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;
use serde_json::Value;

use super::{Registries, RegistryError, Release, ReleaseSet, expect_success, malformed};
use crate::versioning::{VersionScheme, npm::Npm};

const FULL_ACCEPT: &str = "application/json";
const ABBREVIATED_ACCEPT: &str =
    "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*";

/// Characters left as they are in a package-name path segment (RFC 3986 unreserved).
const NAME_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

#[derive(Deserialize)]
struct Packument {
    #[serde(rename = "dist-tags", default)]
    dist_tags: BTreeMap<String, Value>,
    #[serde(default)]
    versions: BTreeMap<String, VersionDoc>,
    #[serde(default)]
    time: BTreeMap<String, Value>,
    #[serde(default)]
    repository: Option<Value>,
    #[serde(default)]
    homepage: Option<Value>,
}

#[derive(Deserialize)]
struct VersionDoc {
    #[serde(default)]
    deprecated: Option<Value>,
    /// `engines`: an object of runtime name to range (old documents hold other shapes).
    #[serde(default)]
    engines: Option<Value>,
    #[serde(default)]
    repository: Option<Value>,
    #[serde(default)]
    homepage: Option<Value>,
}

/// The path segment of `name` in registry URLs: `@scope%2fname` for scoped packages.
pub fn escape_name(name: &str) -> String {
    match name.strip_prefix('@').and_then(|rest| rest.split_once('/')) {
        Some((scope, rest)) => format!(
            "@{}%2f{}",
            utf8_percent_encode(scope, NAME_SEGMENT),
            utf8_percent_encode(rest, NAME_SEGMENT)
        ),
        None => utf8_percent_encode(name, NAME_SEGMENT).to_string(),
    }
}

/// Every version of npm package `name`.
pub async fn releases(registries: &Registries, name: &str) -> Result<ReleaseSet, RegistryError> {
    if name.trim().is_empty() {
        return Err(RegistryError::Skipped("empty package name".to_owned()));
    }
    let url = format!("{}{}", registries.npm_registry_for(name), escape_name(name));
    let accept = if registries.config.npm_abbreviated_metadata {
        ABBREVIATED_ACCEPT
    } else {
        FULL_ACCEPT
    };
    let response = registries.http.get(&url, &[("accept", accept)]).await?;
    expect_success(&response, &url)?;
    parse_packument(&response.body, &url)
}

/// Parses a full or abbreviated packument.
pub fn parse_packument(body: &[u8], url: &str) -> Result<ReleaseSet, RegistryError> {
    let doc: Packument = serde_json::from_slice(body).map_err(|e| malformed(url, e))?;
    if doc.versions.is_empty() && doc.time.contains_key("unpublished") {
        return Err(RegistryError::NotFound);
    }
    let latest_tag = doc
        .dist_tags
        .get("latest")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let latest_doc = latest_tag
        .as_deref()
        .and_then(|latest| doc.versions.get(latest));
    let source_url = doc
        .repository
        .as_ref()
        .and_then(repository_url)
        .or_else(|| {
            latest_doc
                .and_then(|v| v.repository.as_ref())
                .and_then(repository_url)
        });
    let homepage = doc.homepage.as_ref().and_then(web_url).or_else(|| {
        latest_doc
            .and_then(|v| v.homepage.as_ref())
            .and_then(web_url)
    });
    let releases = doc
        .versions
        .iter()
        .map(|(version, info)| Release {
            version: version.clone(),
            published_at: doc
                .time
                .get(version)
                .and_then(Value::as_str)
                .and_then(parse_time),
            yanked: false,
            deprecated: info.deprecated.as_ref().and_then(deprecation),
            prerelease: Npm.is_prerelease(version),
            requires_runtime: info.engines.as_ref().and_then(engines_node),
        })
        .collect();
    Ok(ReleaseSet {
        releases,
        latest_tag,
        source_url,
        homepage,
        changelog_url: None,
    })
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|time| time.with_timezone(&Utc))
}

/// The `engines.node` range of a version, when `engines` is an object naming a non-empty one.
fn engines_node(engines: &Value) -> Option<String> {
    let range = engines.get("node")?.as_str()?.trim();
    (!range.is_empty()).then(|| range.to_owned())
}

/// A version's deprecation message: a non-empty string (or `true`, seen in old documents).
fn deprecation(value: &Value) -> Option<String> {
    match value {
        Value::String(message) if !message.trim().is_empty() => Some(message.clone()),
        Value::Bool(true) => Some("deprecated".to_owned()),
        _ => None,
    }
}

/// An `http(s)` URL given as a string.
fn web_url(value: &Value) -> Option<String> {
    let text = value.as_str()?.trim();
    (text.starts_with("https://") || text.starts_with("http://")).then(|| text.to_owned())
}

/// The browsable URL of a `repository` field: a string (`git+https://…`, `git@host:o/r.git`,
/// `github:o/r`, `o/r`) or an object with `url` (and `directory` for monorepos).
pub fn repository_url(value: &Value) -> Option<String> {
    let (raw, directory) = match value {
        Value::String(text) => (text.as_str(), None),
        Value::Object(fields) => (
            fields.get("url")?.as_str()?,
            fields.get("directory").and_then(Value::as_str),
        ),
        _ => return None,
    };
    let raw = raw.trim();
    let raw = raw.strip_prefix("git+").unwrap_or(raw);
    let shorthand = |host: &str, path: &str| format!("https://{host}/{path}");
    let url = if let Some(path) = raw.strip_prefix("github:") {
        shorthand("github.com", path)
    } else if let Some(path) = raw.strip_prefix("gitlab:") {
        shorthand("gitlab.com", path)
    } else if let Some(path) = raw.strip_prefix("bitbucket:") {
        shorthand("bitbucket.org", path)
    } else if let Some(rest) = raw.strip_prefix("git@") {
        let (host, path) = rest.split_once(':')?;
        shorthand(host, path)
    } else if let Some((_, rest)) = raw.split_once("://") {
        // https://, http://, git://, ssh://git@host/…: keep host and path.
        let rest = rest.rsplit_once('@').map_or(rest, |(_, after)| after);
        format!("https://{rest}")
    } else if raw.matches('/').count() == 1 && !raw.contains(':') && !raw.starts_with('.') {
        shorthand("github.com", raw)
    } else {
        return None;
    };
    let url = url.trim_end_matches('/');
    let url = url.strip_suffix(".git").unwrap_or(url).to_owned();
    match directory.map(|d| d.trim_matches('/')) {
        Some(directory) if !directory.is_empty() && url.starts_with("https://github.com/") => {
            Some(format!("{url}/tree/HEAD/{directory}"))
        }
        _ => Some(url),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scoped_names_are_escaped() {
        assert_eq!(escape_name("react"), "react");
        assert_eq!(escape_name("@types/node"), "@types%2fnode");
        assert_eq!(escape_name("@a b/c"), "@a%20b%2fc");
    }

    #[test]
    fn repository_fields_become_browsable_urls() {
        let cases = [
            (
                json!("git+https://github.com/facebook/react.git"),
                Some("https://github.com/facebook/react"),
            ),
            (
                json!("git@github.com:azer/left-pad.git"),
                Some("https://github.com/azer/left-pad"),
            ),
            (
                json!("github:sindresorhus/ky"),
                Some("https://github.com/sindresorhus/ky"),
            ),
            (
                json!("expressjs/express"),
                Some("https://github.com/expressjs/express"),
            ),
            (
                json!("git+ssh://git@gitlab.com/o/r.git"),
                Some("https://gitlab.com/o/r"),
            ),
            (
                json!({"type": "git", "url": "https://github.com/DefinitelyTyped/DefinitelyTyped.git", "directory": "types/node"}),
                Some("https://github.com/DefinitelyTyped/DefinitelyTyped/tree/HEAD/types/node"),
            ),
            (json!("just words"), None),
            (json!(42), None),
        ];
        for (value, expected) in cases {
            assert_eq!(repository_url(&value).as_deref(), expected, "{value}");
        }
    }

    #[test]
    fn unpublished_packages_are_not_found() {
        let body = br#"{"name":"gone","time":{"created":"2020-01-01T00:00:00.000Z","unpublished":{"time":"2021-01-01T00:00:00.000Z"}}}"#;
        assert!(matches!(
            parse_packument(body, "u"),
            Err(RegistryError::NotFound)
        ));
    }

    #[test]
    fn abbreviated_documents_parse_without_times() {
        let body = br#"{"name":"x","modified":"2024-01-01T00:00:00.000Z","dist-tags":{"latest":"1.0.0","next":"2.0.0-beta.1"},
            "versions":{"1.0.0":{"name":"x","version":"1.0.0","dist":{}},"2.0.0-beta.1":{"name":"x","version":"2.0.0-beta.1","deprecated":"use 2.0.0","dist":{}}}}"#;
        let set = parse_packument(body, "u").expect("parses");
        assert_eq!(set.latest_tag.as_deref(), Some("1.0.0"));
        assert_eq!(set.releases.len(), 2);
        assert!(set.releases.iter().all(|r| r.published_at.is_none()));
        let beta = set.releases.iter().find(|r| r.prerelease).expect("beta");
        assert_eq!(beta.deprecated.as_deref(), Some("use 2.0.0"));
    }
}
