//! Cargo's sparse registry index protocol (`sparse+https://…`), as used by the default public
//! index and by private registries.
//!
//! - The index file of a crate lives at a path derived from its lower-cased name: `1/{n}`,
//!   `2/{n}`, `3/{first letter}/{n}`, else `{first two}/{next two}/{n}`.
//! - The file holds one JSON record per line and version: `vers`, `yanked`, and on newer indexes
//!   `pubtime` (the publish time, used when present; no other API is called for times).
//! - `config.json` at the index root is read once per index (and again after an hour):
//!   `auth-required: true` means every request needs the registry token, which comes from the
//!   HTTP client's credentials for the index host (a [`crate::http::Credential::Header`] is sent
//!   verbatim as Cargo does). Without a configured token the lookup is skipped with a reason.
//! - Records that do not parse are skipped (Cargo ignores records from newer index versions the
//!   same way); a file where no line parses is malformed.
//!
//! Cargo registries know nothing of source repositories or homepages; those stay empty.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{Registries, RegistryError, Release, ReleaseSet, expect_success, malformed};
use crate::versioning::{VersionScheme, cargo::Cargo};

/// How long a parsed `config.json` is trusted before it is fetched (conditionally) again.
const CONFIG_TTL: Duration = Duration::from_hours(1);

/// The parsed `config.json` of an index.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct IndexConfig {
    /// Download URL template of `.crate` files.
    pub dl: Option<String>,
    /// Web API base URL, when the registry has one.
    pub api: Option<String>,
    /// Every request needs the registry token.
    #[serde(default, rename = "auth-required")]
    pub auth_required: bool,
}

/// Parsed `config.json` files by index base URL, with the time they were read.
#[derive(Default)]
pub(crate) struct IndexConfigs(Mutex<HashMap<String, (Instant, Arc<IndexConfig>)>>);

#[derive(Deserialize)]
struct IndexRecord {
    vers: String,
    #[serde(default)]
    yanked: bool,
    #[serde(default)]
    pubtime: Option<String>,
    /// The `rust-version` of the published manifest (the oldest Rust it builds with).
    #[serde(default)]
    rust_version: Option<String>,
}

/// The path of `name`'s index file below the index root, or `None` for a name Cargo would not
/// accept (empty, or with characters other than ASCII letters, digits, `-` and `_`).
pub fn index_path(name: &str) -> Option<String> {
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return None;
    }
    let name = name.to_ascii_lowercase();
    // ASCII only (checked above), so byte ranges are character boundaries.
    Some(match name.len() {
        1 => format!("1/{name}"),
        2 => format!("2/{name}"),
        3 => format!("3/{}/{name}", name.get(..1)?),
        _ => format!("{}/{}/{name}", name.get(..2)?, name.get(2..4)?),
    })
}

/// Every version of crate `name` in the index at `base_url("cargo")`.
pub async fn releases(registries: &Registries, name: &str) -> Result<ReleaseSet, RegistryError> {
    let path = index_path(name)
        .ok_or_else(|| RegistryError::Skipped(format!("{name:?} is not a valid crate name")))?;
    let base = registries.base_url("cargo");
    let config = index_config(registries, &base).await?;
    if config.auth_required && !registries.http.has_credentials_for(&base) {
        return Err(RegistryError::Skipped(format!(
            "the Cargo registry at {base} requires authentication and no token is configured for its host"
        )));
    }
    let url = format!("{base}{path}");
    let response = registries.http.get(&url, &[]).await?;
    expect_success(&response, &url)?;
    parse_index_file(&response.body, &url)
}

/// The index's `config.json`, from the per-process memo or the registry.
async fn index_config(
    registries: &Registries,
    base: &str,
) -> Result<Arc<IndexConfig>, RegistryError> {
    let configs = &registries.state.cargo_index_configs.0;
    if let Some((read_at, config)) = configs
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(base)
        && read_at.elapsed() < CONFIG_TTL
    {
        return Ok(Arc::clone(config));
    }
    let url = format!("{base}config.json");
    let response = registries.http.get(&url, &[]).await?;
    let config = match response.status {
        200..=299 => {
            serde_json::from_slice::<IndexConfig>(&response.body).map_err(|e| malformed(&url, e))?
        }
        // Some registries serve no config.json; the defaults (no auth) apply.
        404 | 410 => IndexConfig::default(),
        // An unauthenticated request to a private index: it needs a token.
        401 | 403 if !registries.http.has_credentials_for(&url) => IndexConfig {
            auth_required: true,
            ..IndexConfig::default()
        },
        status => return Err(RegistryError::Status { status, url }),
    };
    let config = Arc::new(config);
    configs
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(base.to_owned(), (Instant::now(), Arc::clone(&config)));
    Ok(config)
}

/// Parses a sparse index file (newline-delimited JSON records).
pub fn parse_index_file(body: &[u8], url: &str) -> Result<ReleaseSet, RegistryError> {
    let text = std::str::from_utf8(body).map_err(|e| malformed(url, e))?;
    let mut releases = Vec::new();
    let mut unreadable = 0usize;
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        match serde_json::from_str::<IndexRecord>(line) {
            Ok(record) => releases.push(Release {
                prerelease: Cargo.is_prerelease(&record.vers),
                published_at: record.pubtime.as_deref().and_then(parse_time),
                version: record.vers,
                yanked: record.yanked,
                deprecated: None,
                requires_runtime: record.rust_version.filter(|v| !v.trim().is_empty()),
            }),
            Err(error) => {
                unreadable += 1;
                tracing::debug!(url, line = index + 1, %error, "skipping an unreadable index record");
            }
        }
    }
    if releases.is_empty() && unreadable > 0 {
        return Err(malformed(url, "no line is a valid index record"));
    }
    Ok(ReleaseSet {
        releases,
        ..ReleaseSet::default()
    })
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|time| time.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_paths_follow_the_protocol() {
        assert_eq!(index_path("a").as_deref(), Some("1/a"));
        assert_eq!(index_path("xz").as_deref(), Some("2/xz"));
        assert_eq!(index_path("Syn").as_deref(), Some("3/s/syn"));
        assert_eq!(
            index_path("serde_json").as_deref(),
            Some("se/rd/serde_json")
        );
        assert_eq!(index_path("Cargo-Foo").as_deref(), Some("ca/rg/cargo-foo"));
        assert_eq!(index_path(""), None);
        assert_eq!(index_path("../etc"), None);
        assert_eq!(index_path("crème"), None);
    }

    #[test]
    fn records_parse_and_bad_lines_are_skipped() {
        let body = br#"{"name":"x","vers":"1.0.0","deps":[],"cksum":"00","features":{},"yanked":false,"pubtime":"2024-05-01T10:00:00Z"}
{"name":"x","vers":"1.1.0-rc.1","deps":[],"cksum":"00","features":{},"yanked":false}
not json
{"name":"x","vers":"1.0.1","deps":[],"cksum":"00","features":{},"yanked":true,"v":2}
"#;
        let set = parse_index_file(body, "u").expect("parses");
        let versions: Vec<_> = set.releases.iter().map(|r| r.version.as_str()).collect();
        assert_eq!(versions, ["1.0.0", "1.1.0-rc.1", "1.0.1"]);
        assert!(set.releases[1].prerelease);
        assert!(set.releases[2].yanked);
        assert_eq!(
            set.releases[0].published_at.map(|t| t.to_rfc3339()),
            Some("2024-05-01T10:00:00+00:00".to_owned())
        );
        assert!(set.releases[1].published_at.is_none());
    }

    #[test]
    fn garbage_is_malformed_and_empty_is_empty() {
        assert!(matches!(
            parse_index_file(b"<html>oops</html>", "u"),
            Err(RegistryError::Malformed { .. })
        ));
        assert!(matches!(
            parse_index_file(&[0xff, 0xfe], "u"),
            Err(RegistryError::Malformed { .. })
        ));
        assert_eq!(parse_index_file(b"", "u").expect("empty").releases, vec![]);
    }
}
