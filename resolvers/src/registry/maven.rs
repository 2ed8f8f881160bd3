//! Maven repositories (Maven 2 layout), used for Maven, Gradle and sbt artifacts.
//!
//! Package names are `groupId:artifactId`. For every repository in order — the `maven` base URL,
//! then [`RegistryConfig::maven_repositories`](super::RegistryConfig::maven_repositories) — the
//! adapter reads `<group path>/<artifactId>/maven-metadata.xml`; when a repository has no
//! metadata for the artifact (404/410) it falls back to the HTML directory listing of the artifact
//! folder (Apache httpd, Maven Central, Nexus and Artifactory listings all link each version
//! folder as `<a href="1.2.3/">`). Gradle plugin marker artifacts (`<id>:<id>.gradle.plugin`) are
//! also looked up in the `gradle-plugins` repository, first. Credentials are the shared HTTP
//! client's business (per host), not this module's.
//!
//! Results of all repositories that know the artifact are merged: versions in first-seen order,
//! `latest_tag` from the `<release>` of the metadata with the newest `<lastUpdated>` (ties: the
//! earlier repository). A repository that fails while another one answers is logged and left
//! out; when none answers, the first failure is returned (or `NotFound` when every repository
//! said 404/410).
//!
//! Maven metadata carries no per-version publish time, so `published_at` stays `None`: fetching
//! one more document per version would multiply the requests by the number of versions.

use chrono::NaiveDateTime;
use futures_util::future::join_all;
use quick_xml::events::Event;
use reqwest::Url;

use super::{Registries, RegistryError, Release, ReleaseSet};
use crate::http::HttpResponse;
use crate::versioning::{VersionScheme, maven::Maven};

/// `groupId:artifactId`, both restricted to the characters Maven coordinates use in practice so
/// that a name can never climb out of the repository's directory tree.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Coordinate<'a> {
    group: &'a str,
    artifact: &'a str,
}

impl<'a> Coordinate<'a> {
    fn parse(name: &'a str) -> Option<Self> {
        let (group, artifact) = name.trim().split_once(':')?;
        let valid = |part: &str| {
            !part.is_empty()
                && !part.starts_with('.')
                && !part.contains("..")
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        };
        (valid(group) && valid(artifact)).then_some(Coordinate { group, artifact })
    }

    /// `com/example/lib` for `com.example:lib`, without leading or trailing `/`.
    fn path(&self) -> String {
        format!("{}/{}", self.group.replace('.', "/"), self.artifact)
    }

    /// A Gradle plugin marker: `<plugin id>:<plugin id>.gradle.plugin`.
    fn is_plugin_marker(&self) -> bool {
        self.artifact
            .strip_suffix(".gradle.plugin")
            .is_some_and(|id| id == self.group)
    }
}

/// What one repository knows about the artifact.
#[derive(Debug, Default, PartialEq, Eq)]
struct RepositoryVersions {
    versions: Vec<String>,
    release: Option<String>,
    last_updated: Option<NaiveDateTime>,
}

pub async fn releases(registries: &Registries, name: &str) -> Result<ReleaseSet, RegistryError> {
    let coordinate = Coordinate::parse(name).ok_or_else(|| {
        RegistryError::Skipped(format!(
            "`{name}` is not a Maven coordinate of the form groupId:artifactId"
        ))
    })?;
    let repositories = repositories_for(registries, &coordinate);
    let answers = join_all(
        repositories
            .iter()
            .map(|repository| lookup(registries, repository, &coordinate)),
    )
    .await;

    let mut found = Vec::new();
    let mut first_error = None;
    for (repository, answer) in repositories.iter().zip(answers) {
        match answer {
            Ok(versions) => found.push(versions),
            Err(RegistryError::NotFound) => {}
            Err(error) => {
                tracing::warn!(%repository, %error, "Maven repository lookup failed");
                first_error.get_or_insert(error);
            }
        }
    }
    if found.is_empty() {
        return Err(first_error.unwrap_or(RegistryError::NotFound));
    }
    let set = merge(found);
    if set.releases.is_empty() {
        return Err(RegistryError::NotFound);
    }
    Ok(set)
}

/// Repository base URLs to search, in order, without duplicates, each ending in `/`.
fn repositories_for(registries: &Registries, coordinate: &Coordinate<'_>) -> Vec<String> {
    let mut repositories = Vec::new();
    if coordinate.is_plugin_marker() {
        repositories.push(registries.base_url("gradle-plugins"));
    }
    repositories.push(registries.base_url("maven"));
    for extra in &registries.config.maven_repositories {
        let extra = extra.trim();
        if extra.is_empty() {
            continue;
        }
        repositories.push(if extra.ends_with('/') {
            extra.to_owned()
        } else {
            format!("{extra}/")
        });
    }
    let mut seen = std::collections::HashSet::new();
    repositories.retain(|url| seen.insert(url.clone()));
    repositories
}

async fn lookup(
    registries: &Registries,
    repository: &str,
    coordinate: &Coordinate<'_>,
) -> Result<RepositoryVersions, RegistryError> {
    let folder = format!("{repository}{}/", coordinate.path());
    let metadata_url = format!("{folder}maven-metadata.xml");
    let response = registries.http.get(&metadata_url, &[]).await?;
    match response.status {
        200..=299 => parse_metadata(&response.body).map_err(|message| RegistryError::Malformed {
            url: metadata_url,
            message,
        }),
        404 | 410 => {
            let listing = registries.http.get(&folder, &[]).await?;
            let body = success_body(&listing, &folder)?;
            let versions = parse_listing(&String::from_utf8_lossy(body), &folder);
            if versions.is_empty() {
                // A folder without version sub-folders (or a catch-all HTML page) knows nothing.
                return Err(RegistryError::NotFound);
            }
            Ok(RepositoryVersions {
                versions,
                ..RepositoryVersions::default()
            })
        }
        status => Err(RegistryError::Status {
            status,
            url: metadata_url,
        }),
    }
}

fn success_body<'r>(response: &'r HttpResponse, url: &str) -> Result<&'r [u8], RegistryError> {
    match response.status {
        200..=299 => Ok(&response.body),
        404 | 410 => Err(RegistryError::NotFound),
        status => Err(RegistryError::Status {
            status,
            url: url.to_owned(),
        }),
    }
}

fn merge(found: Vec<RepositoryVersions>) -> ReleaseSet {
    let mut seen = std::collections::HashSet::new();
    let mut releases = Vec::new();
    let mut latest: Option<(Option<NaiveDateTime>, String)> = None;
    for repository in found {
        if let Some(release) = repository.release {
            let newer = match &latest {
                None => true,
                Some((updated, _)) => repository.last_updated > *updated,
            };
            if newer {
                latest = Some((repository.last_updated, release));
            }
        }
        for version in repository.versions {
            if seen.insert(version.clone()) {
                releases.push(Release {
                    prerelease: Maven.is_prerelease(&version),
                    version,
                    published_at: None,
                    yanked: false,
                    deprecated: None,
                    requires_runtime: None,
                });
            }
        }
    }
    ReleaseSet {
        releases,
        latest_tag: latest.map(|(_, release)| release),
        ..ReleaseSet::default()
    }
}

/// Parse `maven-metadata.xml`: `metadata/versioning/{versions/version, release, lastUpdated}`.
fn parse_metadata(body: &[u8]) -> Result<RepositoryVersions, String> {
    let text = std::str::from_utf8(body).map_err(|e| format!("not UTF-8: {e}"))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = quick_xml::Reader::from_str(text);
    let mut path: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut saw_root = false;
    let mut out = RepositoryVersions::default();
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("invalid XML at byte {}: {e}", reader.error_position()))?;
        match event {
            Event::Start(start) => {
                let name = start.local_name().as_ref().to_owned();
                if path.is_empty() {
                    if name != "metadata" {
                        return Err(format!("root element is <{name}>, not <metadata>"));
                    }
                    saw_root = true;
                }
                path.push(name);
                current.clear();
            }
            Event::Empty(start) => {
                if path.is_empty() {
                    let name = start.local_name().as_ref().to_owned();
                    if name != "metadata" {
                        return Err(format!("root element is <{name}>, not <metadata>"));
                    }
                    saw_root = true;
                }
            }
            Event::Text(text) => current.push_str(&text.xml10_content()),
            Event::CData(data) => current.push_str(&data.xml10_content()),
            Event::GeneralRef(reference) => {
                let resolved = match reference.resolve_char_ref() {
                    Ok(Some(c)) => Some(c),
                    Ok(None) => predefined_entity(&reference),
                    Err(_) => None,
                };
                if let Some(c) = resolved {
                    current.push(c);
                }
            }
            Event::End(_) => {
                let value = current.trim();
                let names: Vec<&str> = path.iter().map(String::as_str).collect();
                match names.as_slice() {
                    ["metadata", "versioning", "versions", "version"] if !value.is_empty() => {
                        out.versions.push(value.to_owned());
                    }
                    ["metadata", "versioning", "release"] if !value.is_empty() => {
                        out.release = Some(value.to_owned());
                    }
                    ["metadata", "versioning", "lastUpdated"] => {
                        out.last_updated =
                            NaiveDateTime::parse_from_str(value, "%Y%m%d%H%M%S").ok();
                    }
                    _ => {}
                }
                path.pop();
                current.clear();
            }
            Event::Eof => {
                if let Some(open) = path.last() {
                    return Err(format!("document ends inside <{open}>"));
                }
                break;
            }
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    if !saw_root {
        return Err("no <metadata> element".to_owned());
    }
    Ok(out)
}

fn predefined_entity(name: &str) -> Option<char> {
    match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        _ => None,
    }
}

/// Version folders linked from an HTML directory listing of `folder` (which ends in `/`): every
/// link that resolves to a direct sub-folder `folder/<name>/`, whatever the link's form
/// (relative, absolute path or absolute URL). Parent links, files and hidden entries are skipped.
fn parse_listing(html: &str, folder: &str) -> Vec<String> {
    let Ok(base) = Url::parse(folder) else {
        return Vec::new();
    };
    let base_path = base.path().to_owned();
    let document = scraper::Html::parse_document(html);
    let mut versions = Vec::new();
    for element in document.root_element().descendent_elements() {
        if element.value().name() != "a" {
            continue;
        }
        let Some(href) = element.attr("href") else {
            continue;
        };
        let Ok(target) = base.join(href.trim()) else {
            continue;
        };
        let Some(rest) = target.path().strip_prefix(base_path.as_str()) else {
            continue;
        };
        let Some(segment) = rest.strip_suffix('/') else {
            continue;
        };
        if segment.is_empty() || segment.contains('/') {
            continue;
        }
        let name = percent_decode(segment);
        if name.starts_with('.') || name.chars().any(char::is_whitespace) {
            continue;
        }
        if !versions.contains(&name) {
            versions.push(name);
        }
    }
    versions
}

/// Decode `%XX` escapes of a URL path segment; invalid escapes are kept as written.
fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        if byte == b'%'
            && let Some(hex) = segment.get(i + 1..i + 3)
            && let Ok(decoded) = u8::from_str_radix(hex, 16)
        {
            out.push(decoded);
            i += 3;
            continue;
        }
        out.push(byte);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coordinates() {
        let c = Coordinate::parse("org.apache.commons:commons-lang3").expect("valid");
        assert_eq!(c.path(), "org/apache/commons/commons-lang3");
        assert!(!c.is_plugin_marker());
        assert!(
            Coordinate::parse("org.jetbrains.kotlin.jvm:org.jetbrains.kotlin.jvm.gradle.plugin")
                .expect("valid")
                .is_plugin_marker()
        );
        for bad in ["nocolon", ":a", "a:", "a/../b:c", "a:b/c", "..:x", "a b:c"] {
            assert_eq!(Coordinate::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn metadata_with_entities_and_comments() {
        let xml = br#"<?xml version="1.0"?><!-- c --><metadata modelVersion="1.1.0">
          <versioning><latest>2.0-SNAPSHOT</latest><release>1.1</release>
          <versions><version>1.0</version><version><![CDATA[1.1]]></version><version>2.0-SNAPSHOT</version></versions>
          <lastUpdated>20240102030405</lastUpdated></versioning></metadata>"#;
        let parsed = parse_metadata(xml).expect("parses");
        assert_eq!(parsed.versions, ["1.0", "1.1", "2.0-SNAPSHOT"]);
        assert_eq!(parsed.release.as_deref(), Some("1.1"));
        assert_eq!(
            parsed.last_updated.map(|t| t.to_string()).as_deref(),
            Some("2024-01-02 03:04:05")
        );
        assert!(parse_metadata(b"<html><body>hi</body></html>").is_err());
        assert!(parse_metadata(b"<metadata><versioning>").is_err());
        assert!(parse_metadata(b"").is_err());
        assert!(parse_metadata(&[0xff, 0xfe]).is_err());
    }

    #[test]
    fn listing_link_forms() {
        let html = r#"<a href="../">../</a><a href="1.0/">1.0/</a>
            <a href="/repo/com/x/lib/1.1/">abs</a>
            <a href="http://host.example/repo/com/x/lib/2.0%2Bb1/">full</a>
            <a href="maven-metadata.xml">file</a><a href="1.0/lib-1.0.jar">deep</a>
            <a href="/repo/com/x/">parent</a><a href=".index/">hidden</a><a>no href</a>"#;
        assert_eq!(
            parse_listing(html, "http://host.example/repo/com/x/lib/"),
            ["1.0", "1.1", "2.0+b1"]
        );
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%e2%82%ac"), "€");
    }
}
