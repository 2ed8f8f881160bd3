//! Language toolchains and build tools, each from its publisher's machine-readable release list.
//!
//! | name | source (under the base URL) | publish time | prerelease | notes |
//! | --- | --- | --- | --- | --- |
//! | `node`, `nodejs` | `node`: `index.json` | `date` | every release outside an LTS line (`lts: false`: Current and odd-numbered lines) | `latest_tag` = newest LTS release |
//! | `python` | `python`: `api/v2/downloads/release/?is_published=true` | `release_date` | `pre_release` | |
//! | `go`, `golang` | `golang`: `dl/?mode=json&include=all` | — (not in the feed) | `!stable` | `go1.22.3` → `1.22.3` |
//! | `rust` | `rust`: `manifests.txt` (`…/dist/<date>/channel-rust-<version>.toml`) | the dist date | `-beta.N` | nightly/beta/`1.78` aliases skipped |
//! | `gradle` | `gradle`: `versions/all` | `buildTime` | snapshot, nightly, rc, milestone | `broken` → yanked; `current` → `latest_tag` |
//! | `sbt` | Maven `org.scala-sbt:sbt` | — | Maven qualifiers | |
//! | `scala` | Maven `org.scala-lang:scala3-library_3` + `org.scala-lang:scala-library` | — | Maven qualifiers | `scala3` / `scala2` for one line only |
//! | `maven` | Maven `org.apache.maven:apache-maven` | — | Maven qualifiers | the build tool itself (`.tool-versions`, `.sdkmanrc`) |
//! | `terraform`, `packer`, `vault`, `consul`, `nomad` | `hashicorp`: `<product>/index.json` | — (not in the index) | a semver prerelease (`-alpha`, `-beta`, `-rc`) | enterprise builds (`+ent`) skipped |
//!
//! Versions are reported without the publisher's `v`/`go` prefix so they compare with what
//! version files (`.nvmrc`, `go.mod`'s `toolchain`, `rust-toolchain.toml`) hold after the
//! manager strips theirs. Other toolchains (`java`, ...) are `Skipped` with a reason: their
//! release feeds need per-vendor handling (JDK distributions).
//!
//! Node.js: as Renovate and nodejs.org treat them, only releases of an LTS line count as stable.
//! Releases the index lists with `lts: false` (the Current line, odd-numbered majors, an even
//! major before it enters LTS) are reported as prereleases, so the default policy recommends the
//! newest LTS release and a project that opts into prereleases (or already runs a Current
//! release) sees them too. `latest_tag` names the newest LTS release.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::Deserialize;

use super::{Registries, RegistryError, Release, ReleaseSet, maven};
use crate::versioning::{VersionScheme, loose::Loose};

pub async fn releases(registries: &Registries, name: &str) -> Result<ReleaseSet, RegistryError> {
    match name.trim().to_ascii_lowercase().as_str() {
        "node" | "nodejs" => node(registries).await,
        "python" => python(registries).await,
        "go" | "golang" => go(registries).await,
        "rust" => rust(registries).await,
        "gradle" => gradle(registries).await,
        "sbt" => maven::releases(registries, "org.scala-sbt:sbt").await,
        "scala3" => maven::releases(registries, "org.scala-lang:scala3-library_3").await,
        "scala2" => maven::releases(registries, "org.scala-lang:scala-library").await,
        "scala" => scala(registries).await,
        "maven" | "mvn" => maven::releases(registries, "org.apache.maven:apache-maven").await,
        product @ ("terraform" | "packer" | "vault" | "consul" | "nomad") => {
            hashicorp(registries, product).await
        }
        "java" | "jdk" | "openjdk" => Err(RegistryError::Skipped(format!(
            "toolchain `{name}`: JDK releases differ per distribution (Temurin, Zulu, Corretto, \
             ...); upkeep has no JDK release source yet"
        ))),
        _ => Err(RegistryError::Skipped(format!(
            "toolchain `{name}` is not one upkeep knows a release source for (known: node, \
             python, go, rust, gradle, sbt, scala, maven, terraform, packer, vault, consul, nomad)"
        ))),
    }
}

/// GET `url`; the body of a 2xx answer, else the matching error.
async fn fetch(registries: &Registries, url: &str) -> Result<bytes::Bytes, RegistryError> {
    let response = registries.http.get(url, &[]).await?;
    match response.status {
        200..=299 => Ok(response.body),
        404 | 410 => Err(RegistryError::NotFound),
        status => Err(RegistryError::Status {
            status,
            url: url.to_owned(),
        }),
    }
}

fn json<T: for<'de> Deserialize<'de>>(body: &[u8], url: &str) -> Result<T, RegistryError> {
    serde_json::from_slice(body).map_err(|e| RegistryError::Malformed {
        url: url.to_owned(),
        message: e.to_string(),
    })
}

fn release(version: String, published_at: Option<DateTime<Utc>>, prerelease: bool) -> Release {
    Release {
        version,
        published_at,
        yanked: false,
        deprecated: None,
        requires_runtime: None,
        prerelease,
    }
}

fn midnight(date: &str) -> Option<DateTime<Utc>> {
    NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

/// Dotted numbers of a version for ordering (`20.11.1` → `[20, 11, 1]`); `None` otherwise.
fn numbers(version: &str) -> Option<Vec<u64>> {
    version.split('.').map(|part| part.parse().ok()).collect()
}

#[derive(Debug, Deserialize)]
struct NodeRelease {
    version: String,
    #[serde(default)]
    date: Option<String>,
    /// `false` or the LTS line's code name.
    #[serde(default)]
    lts: serde_json::Value,
}

async fn node(registries: &Registries) -> Result<ReleaseSet, RegistryError> {
    let url = format!("{}index.json", registries.base_url("node"));
    let entries: Vec<NodeRelease> = json(&fetch(registries, &url).await?, &url)?;
    let mut releases = Vec::new();
    let mut newest_lts: Option<(Vec<u64>, String)> = None;
    for entry in entries {
        let version = entry.version.trim();
        let version = version.strip_prefix('v').unwrap_or(version).to_owned();
        let is_lts = matches!(&entry.lts, serde_json::Value::String(name) if !name.is_empty());
        if is_lts
            && let Some(parts) = numbers(&version)
            && newest_lts.as_ref().is_none_or(|(best, _)| parts > *best)
        {
            newest_lts = Some((parts, version.clone()));
        }
        let published_at = entry.date.as_deref().and_then(midnight);
        releases.push(release(version, published_at, !is_lts));
    }
    if releases.is_empty() {
        return Err(RegistryError::Malformed {
            url,
            message: "the release index is empty".to_owned(),
        });
    }
    Ok(ReleaseSet {
        releases,
        latest_tag: newest_lts.map(|(_, version)| version),
        source_url: Some("https://github.com/nodejs/node".to_owned()),
        changelog_url: Some("https://github.com/nodejs/node/blob/main/CHANGELOG.md".to_owned()),
        ..ReleaseSet::default()
    })
}

#[derive(Debug, Deserialize)]
struct PythonRelease {
    name: String,
    #[serde(default = "yes")]
    is_published: bool,
    #[serde(default)]
    pre_release: bool,
    #[serde(default)]
    release_date: Option<String>,
}

fn yes() -> bool {
    true
}

async fn python(registries: &Registries) -> Result<ReleaseSet, RegistryError> {
    let url = format!(
        "{}api/v2/downloads/release/?is_published=true",
        registries.base_url("python")
    );
    let entries: Vec<PythonRelease> = json(&fetch(registries, &url).await?, &url)?;
    let mut releases: Vec<Release> = Vec::new();
    for entry in entries.into_iter().filter(|e| e.is_published) {
        // "Python 3.12.3", "Python 3.13.0a1"; other products on the same feed are skipped.
        let Some(version) = entry.name.trim().strip_prefix("Python ") else {
            continue;
        };
        let version = version.trim();
        if !version.starts_with(|c: char| c.is_ascii_digit())
            || version.contains(char::is_whitespace)
            || releases.iter().any(|r| r.version == version)
        {
            continue;
        }
        let published_at = entry.release_date.as_deref().and_then(parse_timestamp);
        releases.push(release(version.to_owned(), published_at, entry.pre_release));
    }
    Ok(ReleaseSet {
        releases,
        source_url: Some("https://github.com/python/cpython".to_owned()),
        ..ReleaseSet::default()
    })
}

/// RFC 3339, or a zone-less `YYYY-MM-DDTHH:MM:SS[.f]` taken as UTC, or a bare date.
fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .map(|t| t.and_utc())
        })
        .or_else(|| midnight(text))
}

#[derive(Debug, Deserialize)]
struct GoRelease {
    version: String,
    #[serde(default)]
    stable: bool,
}

async fn go(registries: &Registries) -> Result<ReleaseSet, RegistryError> {
    let url = format!("{}dl/?mode=json&include=all", registries.base_url("golang"));
    let entries: Vec<GoRelease> = json(&fetch(registries, &url).await?, &url)?;
    let mut releases: Vec<Release> = Vec::new();
    for entry in entries {
        let Some(version) = entry.version.trim().strip_prefix("go") else {
            continue;
        };
        if version.is_empty() || releases.iter().any(|r| r.version == version) {
            continue;
        }
        releases.push(release(version.to_owned(), None, !entry.stable));
    }
    Ok(ReleaseSet {
        releases,
        source_url: Some("https://github.com/golang/go".to_owned()),
        ..ReleaseSet::default()
    })
}

async fn rust(registries: &Registries) -> Result<ReleaseSet, RegistryError> {
    let url = format!("{}manifests.txt", registries.base_url("rust"));
    let body = fetch(registries, &url).await?;
    let text = std::str::from_utf8(&body).map_err(|e| RegistryError::Malformed {
        url: url.clone(),
        message: format!("not UTF-8: {e}"),
    })?;
    let mut releases: Vec<Release> = Vec::new();
    for line in text.lines() {
        let Some((version, date)) = rust_manifest_line(line) else {
            continue;
        };
        if let Some(existing) = releases.iter_mut().find(|r| r.version == version) {
            // A manifest re-published later keeps the first (release) date.
            if date.is_some() && (existing.published_at.is_none() || date < existing.published_at) {
                existing.published_at = date;
            }
        } else {
            let prerelease = Loose.is_prerelease(&version);
            releases.push(release(version, date, prerelease));
        }
    }
    if releases.is_empty() {
        return Err(RegistryError::Malformed {
            url,
            message: "no versioned channel manifests listed".to_owned(),
        });
    }
    Ok(ReleaseSet {
        releases,
        source_url: Some("https://github.com/rust-lang/rust".to_owned()),
        changelog_url: Some("https://github.com/rust-lang/rust/blob/master/RELEASES.md".to_owned()),
        ..ReleaseSet::default()
    })
}

/// `static.rust-lang.org/dist/2024-05-02/channel-rust-1.78.0.toml` → (`1.78.0`, 2024-05-02).
/// Channel names (`stable`, `beta`, `nightly`) and `major.minor` aliases give `None`.
fn rust_manifest_line(line: &str) -> Option<(String, Option<DateTime<Utc>>)> {
    let line = line.trim();
    let (dir, file) = line.rsplit_once('/').unwrap_or(("", line));
    let version = file.strip_prefix("channel-rust-")?.strip_suffix(".toml")?;
    let (core, pre) = match version.split_once('-') {
        Some((core, pre)) => (core, Some(pre)),
        None => (version, None),
    };
    let parts = numbers(core)?;
    if parts.len() != 3 {
        return None;
    }
    if let Some(pre) = pre {
        // `1.79.0-beta.3` and the like.
        let (word, number) = pre.split_once('.')?;
        if word != "beta" || number.parse::<u64>().is_err() {
            return None;
        }
    }
    let date = dir.rsplit('/').next().and_then(midnight);
    Some((version.to_owned(), date))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
#[expect(
    clippy::struct_excessive_bools,
    reason = "mirrors the flags of the versions/all document"
)]
struct GradleVersion {
    version: String,
    #[serde(default)]
    build_time: Option<String>,
    #[serde(default)]
    current: bool,
    #[serde(default)]
    snapshot: bool,
    #[serde(default)]
    nightly: bool,
    #[serde(default)]
    release_nightly: bool,
    #[serde(default)]
    rc_for: Option<String>,
    #[serde(default)]
    milestone_for: Option<String>,
    #[serde(default)]
    broken: bool,
}

async fn gradle(registries: &Registries) -> Result<ReleaseSet, RegistryError> {
    let url = format!("{}versions/all", registries.base_url("gradle"));
    let entries: Vec<GradleVersion> = json(&fetch(registries, &url).await?, &url)?;
    let mut releases: Vec<Release> = Vec::new();
    let mut latest_tag = None;
    for entry in entries {
        let version = entry.version.trim().to_owned();
        if version.is_empty() || releases.iter().any(|r| r.version == version) {
            continue;
        }
        let not_blank = |s: &Option<String>| s.as_deref().is_some_and(|s| !s.trim().is_empty());
        let prerelease = entry.snapshot
            || entry.nightly
            || entry.release_nightly
            || not_blank(&entry.rc_for)
            || not_blank(&entry.milestone_for);
        if entry.current && !prerelease {
            latest_tag = Some(version.clone());
        }
        // buildTime is `20240322155246+0000`.
        let published_at = entry.build_time.as_deref().and_then(|t| {
            DateTime::parse_from_str(t.trim(), "%Y%m%d%H%M%S%z")
                .ok()
                .map(|t| t.with_timezone(&Utc))
        });
        let mut item = release(version, published_at, prerelease);
        item.yanked = entry.broken;
        releases.push(item);
    }
    Ok(ReleaseSet {
        releases,
        latest_tag,
        source_url: Some("https://github.com/gradle/gradle".to_owned()),
        ..ReleaseSet::default()
    })
}

#[derive(Debug, Deserialize)]
struct HashicorpIndex {
    #[serde(default)]
    versions: std::collections::BTreeMap<String, HashicorpVersion>,
}

#[derive(Debug, Deserialize)]
struct HashicorpVersion {
    version: String,
}

/// A HashiCorp product's release index: every version the product shipped, keyed by version,
/// with its builds (which upkeep does not need) and no publish times.
async fn hashicorp(registries: &Registries, product: &str) -> Result<ReleaseSet, RegistryError> {
    let url = format!("{}{product}/index.json", registries.base_url("hashicorp"));
    let index: HashicorpIndex = json(&fetch(registries, &url).await?, &url)?;
    let mut releases: Vec<Release> = index
        .versions
        .into_values()
        .map(|entry| entry.version.trim().to_owned())
        // Enterprise builds (`1.15.2+ent`) are another product line, not an upgrade.
        .filter(|version| !version.is_empty() && !version.contains('+'))
        .map(|version| {
            let prerelease = Loose.is_prerelease(&version);
            release(version, None, prerelease)
        })
        .collect();
    if releases.is_empty() {
        return Err(RegistryError::NotFound);
    }
    releases.sort_by_key(|r| numbers(r.version.split('-').next().unwrap_or_default()));
    Ok(ReleaseSet {
        releases,
        source_url: Some(format!("https://github.com/hashicorp/{product}")),
        ..ReleaseSet::default()
    })
}

/// Scala 3 and Scala 2 releases together (`scala` in a build may be either line).
async fn scala(registries: &Registries) -> Result<ReleaseSet, RegistryError> {
    let (three, two) = futures_util::future::join(
        maven::releases(registries, "org.scala-lang:scala3-library_3"),
        maven::releases(registries, "org.scala-lang:scala-library"),
    )
    .await;
    let mut set = match (three, two) {
        (Ok(mut three), Ok(two)) => {
            for release in two.releases {
                if !three.releases.iter().any(|r| r.version == release.version) {
                    three.releases.push(release);
                }
            }
            three
        }
        (Ok(one), Err(RegistryError::NotFound)) | (Err(RegistryError::NotFound), Ok(one)) => one,
        (Err(error), _) | (_, Err(error)) => return Err(error),
    };
    set.source_url = Some("https://github.com/scala/scala3".to_owned());
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_lines() {
        let (version, date) =
            rust_manifest_line("static.rust-lang.org/dist/2024-05-02/channel-rust-1.78.0.toml")
                .expect("versioned manifest");
        assert_eq!(version, "1.78.0");
        assert_eq!(
            date.map(|d| d.to_rfc3339()).as_deref(),
            Some("2024-05-02T00:00:00+00:00")
        );
        assert_eq!(
            rust_manifest_line(
                "static.rust-lang.org/dist/2024-06-01/channel-rust-1.79.0-beta.6.toml"
            )
            .map(|(v, _)| v)
            .as_deref(),
            Some("1.79.0-beta.6")
        );
        for skipped in [
            "static.rust-lang.org/dist/2024-05-02/channel-rust-stable.toml",
            "static.rust-lang.org/dist/2024-05-02/channel-rust-nightly.toml",
            "static.rust-lang.org/dist/2024-05-02/channel-rust-1.78.toml",
            "static.rust-lang.org/dist/2024-05-02/channel-rust-1.78.0.toml.sha256",
            "",
            "garbage",
        ] {
            assert_eq!(rust_manifest_line(skipped), None, "{skipped}");
        }
    }

    #[test]
    fn timestamps() {
        assert!(parse_timestamp("2024-04-09T15:00:00Z").is_some());
        assert!(parse_timestamp("2024-04-09T15:00:00").is_some());
        assert!(parse_timestamp("2024-04-09").is_some());
        assert!(parse_timestamp("yesterday").is_none());
    }
}
