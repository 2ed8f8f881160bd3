//! Python package indexes.
//!
//! Which API is used depends on the configured base URL (`base_url("pypi")`):
//! - a base ending in `/simple/` (or devpi's `/+simple/`) is a **Simple API** index, as private
//!   indexes (devpi, Artifactory, Nexus, GitLab) serve: `GET {base}{normalized-name}/` asking for
//!   PEP 691 JSON (`application/vnd.pypi.simple.v1+json`) and accepting PEP 503 HTML; the answer's
//!   content type decides the parser. Versions come from the file names of sdists and wheels;
//!   upload times from PEP 700 `upload-time` when present; yanked files (PEP 592) from `yanked` /
//!   `data-yanked`.
//! - any other base is a **JSON API** index like the public one: `GET {base}pypi/{name}/json`
//!   gives releases with upload times and yanked flags, the registry's latest version
//!   (`info.version`) and `project_urls` (source, changelog, homepage).
//!
//! A version is yanked when every one of its files is yanked. Versions without any file are left
//! out: nothing can be installed from them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use scraper::{Html, Selector};
use serde::Deserialize;
use serde_json::Value;

use super::{Registries, RegistryError, Release, ReleaseSet, expect_success, malformed};
use crate::versioning::{VersionScheme, pep440::Pep440};

const SIMPLE_ACCEPT: &str = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01";

/// Every release of Python project `name`.
pub async fn releases(registries: &Registries, name: &str) -> Result<ReleaseSet, RegistryError> {
    let project = normalize_name(name)
        .ok_or_else(|| RegistryError::Skipped(format!("{name:?} is not a valid project name")))?;
    let base = registries.base_url("pypi");
    if is_simple_index(&base) {
        let url = format!("{base}{project}/");
        let response = registries
            .http
            .get(&url, &[("accept", SIMPLE_ACCEPT)])
            .await?;
        expect_success(&response, &url)?;
        let content_type = response.header("content-type").unwrap_or_default();
        if content_type.contains("json") {
            parse_simple_json(&response.body, &project, &url)
        } else {
            parse_simple_html(&response.body, &project, &url)
        }
    } else {
        let url = format!("{base}pypi/{project}/json");
        let response = registries
            .http
            .get(&url, &[("accept", "application/json")])
            .await?;
        expect_success(&response, &url)?;
        parse_json_api(&response.body, &url)
    }
}

/// Whether `base` is a Simple API index root.
pub fn is_simple_index(base: &str) -> bool {
    let last = base
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default();
    last == "simple" || last == "+simple"
}

/// The PEP 503 normalized name (lower case, runs of `-`, `_`, `.` as one `-`), or `None` for a
/// name that is not a valid project name.
pub fn normalize_name(name: &str) -> Option<String> {
    let name = name.trim();
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return None;
    }
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
    (!out.is_empty()).then_some(out)
}

// ---------------------------------------------------------------------------------------------
// JSON API

#[derive(Deserialize)]
struct JsonApi {
    info: JsonInfo,
    #[serde(default)]
    releases: BTreeMap<String, Vec<JsonFile>>,
}

#[derive(Deserialize)]
struct JsonInfo {
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    home_page: Option<String>,
    #[serde(default)]
    project_urls: Option<BTreeMap<String, Value>>,
}

#[derive(Deserialize)]
struct JsonFile {
    #[serde(default)]
    upload_time_iso_8601: Option<String>,
    #[serde(default)]
    upload_time: Option<String>,
    #[serde(default)]
    yanked: bool,
    #[serde(default)]
    requires_python: Option<String>,
}

/// Parses a `/pypi/<name>/json` document.
pub fn parse_json_api(body: &[u8], url: &str) -> Result<ReleaseSet, RegistryError> {
    let doc: JsonApi = serde_json::from_slice(body).map_err(|e| malformed(url, e))?;
    let releases = doc
        .releases
        .iter()
        .filter(|(_, files)| !files.is_empty())
        .map(|(version, files)| Release {
            version: version.clone(),
            published_at: files
                .iter()
                .filter_map(|f| {
                    f.upload_time_iso_8601
                        .as_deref()
                        .and_then(parse_time)
                        .or_else(|| f.upload_time.as_deref().and_then(parse_naive_utc))
                })
                .min(),
            yanked: files.iter().all(|f| f.yanked),
            deprecated: None,
            prerelease: Pep440.is_prerelease(version),
            requires_runtime: requires_python(files.iter().map(|f| f.requires_python.as_deref())),
        })
        .collect();
    let project_urls: Vec<(String, String)> = doc
        .info
        .project_urls
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(label, value)| Some((label, value.as_str()?.trim().to_owned())))
        .filter(|(_, url)| url.starts_with("https://") || url.starts_with("http://"))
        .collect();
    let links = Links::from_project_urls(&project_urls, doc.info.home_page.as_deref());
    Ok(ReleaseSet {
        releases,
        latest_tag: doc.info.version.filter(|v| !v.is_empty()),
        source_url: links.source,
        homepage: links.homepage,
        changelog_url: links.changelog,
    })
}

#[derive(Default)]
struct Links {
    source: Option<String>,
    homepage: Option<String>,
    changelog: Option<String>,
}

impl Links {
    /// Classifies `project_urls` labels the way PyPI's sidebar does (case, spaces and
    /// punctuation ignored); a homepage on a code forge doubles as the source.
    fn from_project_urls(urls: &[(String, String)], home_page: Option<&str>) -> Links {
        let mut links = Links::default();
        for (label, url) in urls {
            let label: String = label
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .map(|c| c.to_ascii_lowercase())
                .collect();
            let slot = match label.as_str() {
                "homepage" | "home" => &mut links.homepage,
                "source" | "sourcecode" | "code" | "repository" | "repo" | "github" | "gitlab"
                | "git" | "sourcerepository" => &mut links.source,
                "changelog" | "changes" | "releasenotes" | "history" | "whatsnew" | "news"
                | "changelogs" | "release" | "releases" => &mut links.changelog,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(url.clone());
            }
        }
        if links.homepage.is_none() {
            links.homepage = home_page
                .map(str::trim)
                .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
                .map(str::to_owned);
        }
        if links.source.is_none() {
            links.source = links
                .homepage
                .iter()
                .chain(urls.iter().map(|(_, url)| url))
                .find_map(|url| forge_repository(url));
        }
        links
    }
}

/// `https://github.com/o/r` from any URL below a repository on GitHub, GitLab or Bitbucket.
fn forge_repository(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let mut parts = rest.split('/');
    let host = parts.next()?.to_ascii_lowercase();
    if !matches!(host.as_str(), "github.com" | "gitlab.com" | "bitbucket.org") {
        return None;
    }
    let owner = parts.next().filter(|s| !s.is_empty())?;
    let repo = parts.next().filter(|s| !s.is_empty())?;
    let repo = repo.strip_suffix(".git").unwrap_or(repo);
    Some(format!("https://{host}/{owner}/{repo}"))
}

// ---------------------------------------------------------------------------------------------
// Simple API

/// The `Requires-Python` of a version from its files' values: the one most files state (a
/// version's files normally agree; an sdist uploaded before the metadata existed may lack it).
fn requires_python<'a>(values: impl Iterator<Item = Option<&'a str>>) -> Option<String> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for value in values.flatten().map(str::trim).filter(|v| !v.is_empty()) {
        *counts.entry(value).or_default() += 1;
    }
    counts
        .into_iter()
        .max_by_key(|(_, count)| *count)
        .map(|(value, _)| value.to_owned())
}

/// Files of one version seen so far.
#[derive(Default)]
struct VersionFiles {
    earliest: Option<DateTime<Utc>>,
    all_yanked: bool,
    any: bool,
    requires_python: Vec<String>,
}

/// Collects files into releases, keyed by version as written in the file names.
#[derive(Default)]
struct FileCollector {
    versions: BTreeMap<String, VersionFiles>,
}

impl FileCollector {
    fn add(
        &mut self,
        project: &str,
        filename: &str,
        yanked: bool,
        uploaded: Option<DateTime<Utc>>,
        requires_python: Option<&str>,
    ) {
        let Some(version) = version_from_filename(filename, project) else {
            tracing::debug!(filename, "file name without a recognisable version");
            return;
        };
        let entry = self.versions.entry(version).or_default();
        entry.all_yanked = if entry.any {
            entry.all_yanked && yanked
        } else {
            yanked
        };
        entry.any = true;
        entry
            .requires_python
            .extend(requires_python.map(str::to_owned));
        entry.earliest = match (entry.earliest, uploaded) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }

    fn finish(self) -> ReleaseSet {
        ReleaseSet {
            releases: self
                .versions
                .into_iter()
                .map(|(version, files)| Release {
                    prerelease: Pep440.is_prerelease(&version),
                    version,
                    published_at: files.earliest,
                    yanked: files.all_yanked,
                    deprecated: None,
                    requires_runtime: requires_python(
                        files.requires_python.iter().map(|v| Some(v.as_str())),
                    ),
                })
                .collect(),
            ..ReleaseSet::default()
        }
    }
}

#[derive(Deserialize)]
struct SimpleJson {
    files: Vec<SimpleFile>,
}

#[derive(Deserialize)]
struct SimpleFile {
    filename: String,
    #[serde(default)]
    yanked: Value,
    #[serde(default, rename = "upload-time")]
    upload_time: Option<String>,
    #[serde(default, rename = "requires-python")]
    requires_python: Option<String>,
}

/// Parses a PEP 691 JSON project page.
pub fn parse_simple_json(
    body: &[u8],
    project: &str,
    url: &str,
) -> Result<ReleaseSet, RegistryError> {
    let doc: SimpleJson = serde_json::from_slice(body).map_err(|e| malformed(url, e))?;
    let mut collector = FileCollector::default();
    for file in &doc.files {
        // PEP 691: `yanked` is `false`, `true` or the reason as a string.
        let yanked = match &file.yanked {
            Value::Bool(yanked) => *yanked,
            Value::String(_) => true,
            _ => false,
        };
        collector.add(
            project,
            &file.filename,
            yanked,
            file.upload_time.as_deref().and_then(parse_time),
            file.requires_python.as_deref(),
        );
    }
    Ok(collector.finish())
}

/// Parses a PEP 503 HTML project page: one anchor per file, its text the file name,
/// `data-yanked` present on yanked files (PEP 592).
pub fn parse_simple_html(
    body: &[u8],
    project: &str,
    url: &str,
) -> Result<ReleaseSet, RegistryError> {
    let text = std::str::from_utf8(body).map_err(|e| malformed(url, e))?;
    let document = Html::parse_document(text);
    let anchors = Selector::parse("a[href]").map_err(|e| malformed(url, e))?;
    let mut collector = FileCollector::default();
    let mut seen_anchor = false;
    for anchor in document.select(&anchors) {
        seen_anchor = true;
        let text: String = anchor.text().collect();
        let filename = if text.trim().is_empty() {
            anchor
                .value()
                .attr("href")
                .and_then(|href| href.split(['#', '?']).next())
                .and_then(|path| path.rsplit('/').next())
                .unwrap_or_default()
                .to_owned()
        } else {
            text.trim().to_owned()
        };
        let yanked = anchor.value().attr("data-yanked").is_some();
        // PEP 503: `data-requires-python`, its value HTML-escaped (the parser unescapes it).
        let requires_python = anchor.value().attr("data-requires-python");
        collector.add(project, &filename, yanked, None, requires_python);
    }
    if !seen_anchor && !text.to_ascii_lowercase().contains("<html") {
        return Err(malformed(url, "not a PEP 503 project page"));
    }
    Ok(collector.finish())
}

const SDIST_SUFFIXES: &[&str] = &[
    ".tar.gz", ".tar.bz2", ".tar.xz", ".tar.z", ".tgz", ".tbz", ".zip", ".tar",
];

/// The version in a distribution file name of `project`: wheels and eggs
/// (`{name}-{version}-…`) and sdists (`{name}-{version}.tar.gz`, where the name may itself
/// contain `-`).
pub fn version_from_filename(filename: &str, project: &str) -> Option<String> {
    let lower = filename.to_ascii_lowercase();
    let extension = std::path::Path::new(filename).extension();
    if extension.is_some_and(|e| e.eq_ignore_ascii_case("whl") || e.eq_ignore_ascii_case("egg")) {
        let stem = filename.get(..filename.len() - 4)?;
        let mut parts = stem.split('-');
        let name = parts.next()?;
        let version = parts.next().filter(|v| !v.is_empty())?;
        return (normalize_name(name).as_deref() == Some(project)).then(|| version.to_owned());
    }
    let suffix = SDIST_SUFFIXES.iter().find(|s| lower.ends_with(**s))?;
    let stem = filename.get(..filename.len() - suffix.len())?;
    stem.match_indices('-').find_map(|(at, _)| {
        let name = stem.get(..at)?;
        let version = stem.get(at + 1..).filter(|v| !v.is_empty())?;
        (normalize_name(name).as_deref() == Some(project)).then(|| version.to_owned())
    })
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|time| time.with_timezone(&Utc))
}

/// PyPI's older `upload_time` field: ISO 8601 without a zone, in UTC.
fn parse_naive_utc(text: &str) -> Option<DateTime<Utc>> {
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|time| time.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_normalize_per_pep_503() {
        assert_eq!(
            normalize_name("Foo.Bar__baz").as_deref(),
            Some("foo-bar-baz")
        );
        assert_eq!(normalize_name("requests").as_deref(), Some("requests"));
        assert_eq!(normalize_name("a b"), None);
        assert_eq!(normalize_name(""), None);
    }

    #[test]
    fn versions_from_file_names() {
        let cases = [
            ("attrs-21.1.0-py2.py3-none-any.whl", "attrs", Some("21.1.0")),
            (
                "zope.interface-5.0.0-cp38-cp38-manylinux1_x86_64.whl",
                "zope-interface",
                Some("5.0.0"),
            ),
            (
                "python-dateutil-2.8.2.tar.gz",
                "python-dateutil",
                Some("2.8.2"),
            ),
            ("Django-4.2.tar.gz", "django", Some("4.2")),
            ("foo-1.0.zip", "foo", Some("1.0")),
            ("foo_bar-1.0b1.tar.gz", "foo-bar", Some("1.0b1")),
            ("setuptools-0.6c11-py2.7.egg", "setuptools", Some("0.6c11")),
            ("other-1.0.tar.gz", "foo", None),
            ("foo-1.0.exe", "foo", None),
            ("foo-.tar.gz", "foo", None),
        ];
        for (file, project, expected) in cases {
            assert_eq!(
                version_from_filename(file, project).as_deref(),
                expected,
                "{file}"
            );
        }
    }

    #[test]
    fn labels_pick_links() {
        let urls = vec![
            (
                "Bug Tracker".to_owned(),
                "https://github.com/o/r/issues".to_owned(),
            ),
            (
                "Release notes".to_owned(),
                "https://example.org/changes".to_owned(),
            ),
        ];
        let links = Links::from_project_urls(&urls, Some("https://example.org"));
        assert_eq!(links.homepage.as_deref(), Some("https://example.org"));
        assert_eq!(
            links.changelog.as_deref(),
            Some("https://example.org/changes")
        );
        assert_eq!(links.source.as_deref(), Some("https://github.com/o/r"));
    }

    #[test]
    fn simple_index_bases() {
        assert!(is_simple_index("https://pypi.org/simple/"));
        assert!(is_simple_index("https://devpi.example/root/pypi/+simple/"));
        assert!(!is_simple_index("https://pypi.org/"));
    }
}
