//! The Go module proxy protocol (`GOPROXY`).
//!
//! For a module path the adapter reads `<proxy>/<escaped path>/@v/list` (one version per line).
//! Only when that list holds no release version does it ask `@latest` (as the `go` command does
//! for its `latest` query), so modules published only as pseudo-versions still resolve.
//! Publish times come from `<version>.info` (`{"Version": ..., "Time": ...}`), which the protocol
//! serves one version at a time. A lookup asks it for [`INFO_LIMIT`] version only: the newest
//! release (the newest version when there is no release, whose time `@latest` already gave). So
//! one lookup costs two requests whatever the module's history, and a fleet-wide refresh stays
//! close to one request per module. Older versions come back without a time; a caller that keeps
//! release history (the service does) keeps the time each version had when it was the newest.
//! Pseudo-versions carry their commit time in the version itself and need no request.
//!
//! Versions are read, ordered and classified (prerelease, pseudo-version commit time) by the Go
//! version scheme, [`crate::versioning::go`]; a list line it does not read as a version is skipped.
//!
//! Module paths and versions are escaped per the protocol: every upper-case letter becomes `!`
//! followed by its lower-case form (`github.com/Azure/x` → `github.com/!azure/x`).
//!
//! Configuration follows the `go` command:
//! - [`RegistryConfig::goproxy`](super::RegistryConfig::goproxy) is a `GOPROXY` list; empty means
//!   the `go` base URL alone. After an entry followed by `,` the next entry is tried only when the
//!   list request answered 404/410; after `|` it is tried on any error. `direct` (fetch from
//!   version control) is not something upkeep does: reaching it gives `Skipped` with the reason.
//!   `off` gives `Skipped`. The entry that answered the list also serves `@latest` and `.info`.
//! - [`RegistryConfig::goprivate`](super::RegistryConfig::goprivate) holds comma-separated glob
//!   patterns (`path.Match` syntax); a pattern matches a module when it matches the module path's
//!   leading elements (as many as the pattern has). Matching modules are `Skipped`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use futures_util::future::join_all;
use serde::Deserialize;

use super::{Registries, RegistryError, Release, ReleaseSet};
use crate::versioning::VersionScheme;
use crate::versioning::go::{Go, pseudo_version_time};

/// At most this many `.info` documents are fetched per module (see the module notes).
pub const INFO_LIMIT: usize = 1;

pub async fn releases(registries: &Registries, name: &str) -> Result<ReleaseSet, RegistryError> {
    let module = name.trim();
    if !is_valid_module_path(module) {
        return Err(RegistryError::Skipped(format!(
            "`{module}` is not a valid Go module path"
        )));
    }
    if let Some(pattern) = matching_private_pattern(&registries.config.goprivate, module) {
        return Err(RegistryError::Skipped(format!(
            "module `{module}` matches the GOPRIVATE pattern `{pattern}`"
        )));
    }
    let escaped = escape(module);
    let (proxy, list) = fetch_list(registries, &escaped).await?;
    let module_url = format!("{proxy}{escaped}/@v/");

    let mut versions = parse_list(module, &list);
    let mut latest_tag = None;
    // Publish times by version: `@latest`'s, then those of the `.info` documents fetched.
    let mut times: HashMap<String, DateTime<Utc>> = HashMap::new();
    if !versions.iter().any(|v| !Go.is_prerelease(v))
        && let Some(latest) = fetch_latest(registries, &format!("{proxy}{escaped}/@latest")).await?
    {
        if let Some(time) = latest.time.as_deref().and_then(parse_time) {
            times.insert(latest.version.clone(), time);
        }
        if !versions.contains(&latest.version) {
            versions.push(latest.version.clone());
        }
        latest_tag = Some(latest.version);
    }
    if versions.is_empty() {
        return Err(RegistryError::NotFound);
    }

    let wanted: Vec<&String> = info_versions(&versions)
        .into_iter()
        .filter(|v| !times.contains_key(*v))
        .collect();
    let fetched = join_all(
        wanted
            .iter()
            .map(|version| fetch_time(registries, &module_url, version)),
    )
    .await;
    for (version, time) in wanted.into_iter().zip(fetched) {
        if let Some(time) = time {
            times.insert(version.clone(), time);
        }
    }

    let releases = versions
        .iter()
        .map(|version| {
            let published_at = pseudo_version_time(version).or_else(|| times.get(version).copied());
            Release {
                version: version.clone(),
                published_at,
                yanked: false,
                deprecated: None,
                requires_runtime: None,
                prerelease: Go.is_prerelease(version),
            }
        })
        .collect();
    Ok(ReleaseSet {
        releases,
        latest_tag,
        source_url: source_url(module),
        ..ReleaseSet::default()
    })
}

/// The versions of an `@v/list` body, in order, without duplicates or non-version lines.
fn parse_list(module: &str, list: &str) -> Vec<String> {
    let mut versions: Vec<String> = Vec::new();
    for line in list.lines() {
        let version = line.trim();
        if version.is_empty() {
            continue;
        }
        if !Go.is_valid(version) {
            tracing::debug!(
                module,
                version,
                "ignoring a line of @v/list that is no version"
            );
            continue;
        }
        if !versions.iter().any(|v| v == version) {
            versions.push(version.to_owned());
        }
    }
    versions
}

/// `@latest` (its `Version` checked); `None` when the proxy has no `@latest` for the module.
async fn fetch_latest(registries: &Registries, url: &str) -> Result<Option<Info>, RegistryError> {
    let response = registries.http.get(url, &[]).await?;
    match response.status {
        200..=299 => {
            let info: Info =
                serde_json::from_slice(&response.body).map_err(|e| RegistryError::Malformed {
                    url: url.to_owned(),
                    message: e.to_string(),
                })?;
            if !Go.is_valid(&info.version) {
                return Err(RegistryError::Malformed {
                    url: url.to_owned(),
                    message: format!("`{}` is not a module version", info.version),
                });
            }
            Ok(Some(info))
        }
        // The list already said what there is; @latest is optional in the protocol.
        404 | 410 => Ok(None),
        status => Err(RegistryError::Status {
            status,
            url: url.to_owned(),
        }),
    }
}

/// The versions whose `.info` is fetched: the newest release, then the newest versions overall,
/// at most [`INFO_LIMIT`]; pseudo-versions are left out (their time is in the version).
fn info_versions(versions: &[String]) -> Vec<&String> {
    let mut order: Vec<&String> = versions.iter().collect();
    order.sort_by(|a, b| Go.compare(b, a));
    let mut wanted: Vec<&String> = Vec::new();
    if let Some(newest_release) = order.iter().find(|v| !Go.is_prerelease(v)) {
        wanted.push(newest_release);
    }
    for version in order {
        if wanted.len() >= INFO_LIMIT {
            break;
        }
        if !wanted.contains(&version) && pseudo_version_time(version).is_none() {
            wanted.push(version);
        }
    }
    wanted
}

#[derive(Debug, Deserialize)]
struct Info {
    #[serde(rename = "Version")]
    version: String,
    #[serde(rename = "Time", default)]
    time: Option<String>,
}

/// One `GOPROXY` list entry and whether a failure of it may fall through to the next entry on
/// any error (`|`) or only on not-found (`,`).
#[derive(Debug, Clone, PartialEq, Eq)]
enum ProxyEntry {
    Url {
        url: String,
        fall_back_on_error: bool,
    },
    Direct,
    Off,
}

fn parse_goproxy(list: &str) -> Vec<ProxyEntry> {
    let mut entries = Vec::new();
    let mut rest = list;
    while !rest.is_empty() {
        let (entry, separator, tail) = match rest.find([',', '|']) {
            Some(at) => (
                rest.get(..at).unwrap_or_default(),
                rest.get(at..=at).unwrap_or_default(),
                rest.get(at + 1..).unwrap_or_default(),
            ),
            None => (rest, "", ""),
        };
        rest = tail;
        let entry = entry.trim();
        match entry {
            "" => {}
            "direct" => entries.push(ProxyEntry::Direct),
            "off" => entries.push(ProxyEntry::Off),
            url => {
                let url = if url.contains("://") {
                    url.to_owned()
                } else {
                    format!("https://{url}")
                };
                let url = if url.ends_with('/') {
                    url
                } else {
                    format!("{url}/")
                };
                entries.push(ProxyEntry::Url {
                    url,
                    fall_back_on_error: separator == "|",
                });
            }
        }
    }
    entries
}

/// Walk the proxy list for `@v/list`; returns the proxy base URL that answered and the body.
async fn fetch_list(
    registries: &Registries,
    escaped: &str,
) -> Result<(String, String), RegistryError> {
    let configured = registries.config.goproxy.trim();
    let entries = if configured.is_empty() {
        vec![ProxyEntry::Url {
            url: registries.base_url("go"),
            fall_back_on_error: false,
        }]
    } else {
        parse_goproxy(configured)
    };
    // The error to report when every entry failed: a proxy's real failure outranks not-found.
    let mut best: Option<RegistryError> = None;
    for entry in entries {
        let (base, fall_back_on_error) = match entry {
            ProxyEntry::Off => {
                return Err(RegistryError::Skipped(match best {
                    None => "module lookups are disabled (GOPROXY=off)".to_owned(),
                    Some(error) => format!("{error}; GOPROXY continues with `off`"),
                }));
            }
            ProxyEntry::Direct => {
                return Err(RegistryError::Skipped(match best {
                    None => "GOPROXY sends this module to `direct` (version control), which \
                             upkeep does not query"
                        .to_owned(),
                    Some(error) => format!(
                        "{error}; GOPROXY falls back to `direct` (version control), which \
                         upkeep does not query"
                    ),
                }));
            }
            ProxyEntry::Url {
                url,
                fall_back_on_error,
            } => (url, fall_back_on_error),
        };
        let url = format!("{base}{escaped}/@v/list");
        let outcome: Result<(), RegistryError> = match registries.http.get(&url, &[]).await {
            Ok(response) => match response.status {
                200..=299 => match String::from_utf8(response.body.to_vec()) {
                    Ok(text) => return Ok((base, text)),
                    Err(e) => Err(RegistryError::Malformed {
                        url,
                        message: format!("not UTF-8: {e}"),
                    }),
                },
                404 | 410 => Err(RegistryError::NotFound),
                status => Err(RegistryError::Status { status, url }),
            },
            Err(error) => Err(RegistryError::from(error)),
        };
        let Err(error) = outcome else { continue };
        let not_found = matches!(error, RegistryError::NotFound);
        if best.is_none() || (!not_found && matches!(best, Some(RegistryError::NotFound))) {
            best = Some(error);
        }
        if !not_found && !fall_back_on_error {
            break;
        }
    }
    Err(best.unwrap_or(RegistryError::NotFound))
}

/// The `Time` of `<version>.info`; `None` when the proxy does not say (a missing or broken
/// `.info` costs the time, not the lookup).
async fn fetch_time(
    registries: &Registries,
    module_url: &str,
    version: &str,
) -> Option<DateTime<Utc>> {
    let url = format!("{module_url}{}.info", escape(version));
    let response = match registries.http.get(&url, &[]).await {
        Ok(response) if (200..300).contains(&response.status) => response,
        Ok(response) => {
            tracing::debug!(%url, status = response.status, "no .info for Go module version");
            return None;
        }
        Err(error) => {
            tracing::debug!(%url, %error, "no .info for Go module version");
            return None;
        }
    };
    let info: Info = match serde_json::from_slice(&response.body) {
        Ok(info) => info,
        Err(error) => {
            tracing::debug!(%url, %error, "malformed .info");
            return None;
        }
    };
    parse_time(info.time.as_deref()?)
}

fn parse_time(time: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(time.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Protocol escaping of module paths and versions: `A` → `!a`.
pub fn escape(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if c.is_ascii_uppercase() {
            out.push('!');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Module paths as the `go` command accepts them: ASCII letters, digits and `-._~/`; no empty,
/// `.` or `..` element; no leading or trailing `/`; first element has a dot (a host name).
fn is_valid_module_path(path: &str) -> bool {
    !path.is_empty()
        && path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~' | '/'))
        && path
            .split('/')
            .all(|element| !element.is_empty() && element != "." && element != "..")
        && path
            .split('/')
            .next()
            .is_some_and(|host| host.contains('.'))
}

/// The first `GOPRIVATE` pattern that matches `module`, as the `go` command matches them.
pub fn matching_private_pattern<'p>(patterns: &'p str, module: &str) -> Option<&'p str> {
    patterns.split(',').find(|pattern| {
        let glob = pattern.trim().trim_end_matches('/');
        if glob.is_empty() {
            return false;
        }
        let elements = glob.matches('/').count() + 1;
        let mut parts = module.splitn(elements + 1, '/');
        let prefix: Vec<&str> = parts.by_ref().take(elements).collect();
        if prefix.len() < elements {
            return false;
        }
        glob_match(glob, &prefix.join("/"))
    })
}

/// Go's `path.Match`: `*` (any run of non-`/`), `?` (one non-`/`), `[...]` classes with ranges
/// and `^` negation, `\` escapes. A malformed pattern matches nothing.
fn glob_match(pattern: &str, name: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let name: Vec<char> = name.chars().collect();
    match_from(&pattern, &name).unwrap_or(false)
}

/// `None` for a malformed pattern.
fn match_from(pattern: &[char], name: &[char]) -> Option<bool> {
    match pattern.split_first() {
        None => Some(name.is_empty()),
        Some(('*', rest)) => {
            // Try every split of the non-`/` run; check the rest of the pattern is well formed.
            let mut result = false;
            for taken in 0..=name.len() {
                if taken > 0 && name.get(taken - 1) == Some(&'/') {
                    break;
                }
                if match_from(rest, name.get(taken..).unwrap_or_default())? {
                    result = true;
                    break;
                }
            }
            if !result {
                // Validate the remaining pattern even when nothing matched.
                validate(rest)?;
            }
            Some(result)
        }
        Some(('?', rest)) => match name.split_first() {
            Some((c, name_rest)) if *c != '/' => match_from(rest, name_rest),
            _ => validate(rest).map(|()| false),
        },
        Some(('[', rest)) => {
            let (matched, after) = match_class(rest, name.first().copied())?;
            if matched && name.first().is_some_and(|c| *c != '/') {
                match_from(after, name.get(1..).unwrap_or_default())
            } else {
                validate(after).map(|()| false)
            }
        }
        Some(('\\', rest)) => {
            let (escaped, rest) = rest.split_first()?;
            if name.first() == Some(escaped) {
                match_from(rest, name.get(1..).unwrap_or_default())
            } else {
                validate(rest).map(|()| false)
            }
        }
        Some((c, rest)) => {
            if name.first() == Some(c) {
                match_from(rest, name.get(1..).unwrap_or_default())
            } else {
                validate(rest).map(|()| false)
            }
        }
    }
}

/// `Some(())` when `pattern` is well formed.
fn validate(pattern: &[char]) -> Option<()> {
    let mut rest = pattern;
    while let Some((c, tail)) = rest.split_first() {
        rest = match c {
            '[' => match_class(tail, None)?.1,
            '\\' => tail.split_first()?.1,
            _ => tail,
        };
    }
    Some(())
}

/// Match one character against the class body after `[`; returns whether it matched and the
/// pattern after the closing `]`, or `None` when the class is malformed.
fn match_class(body: &[char], c: Option<char>) -> Option<(bool, &[char])> {
    let (negated, mut rest) = match body.split_first() {
        Some(('^', tail)) => (true, tail),
        _ => (false, body),
    };
    let mut matched = false;
    let mut first = true;
    loop {
        let (&head, tail) = rest.split_first()?;
        if head == ']' && !first {
            rest = tail;
            break;
        }
        first = false;
        let (low, tail) = class_char(rest)?;
        let (high, tail) = match tail.split_first() {
            Some(('-', range_tail)) if range_tail.first() != Some(&']') => class_char(range_tail)?,
            _ => (low, tail),
        };
        if high < low {
            return None;
        }
        if c.is_some_and(|c| low <= c && c <= high) {
            matched = true;
        }
        rest = tail;
    }
    Some((matched != negated, rest))
}

fn class_char(pattern: &[char]) -> Option<(char, &[char])> {
    match pattern.split_first()? {
        ('\\', tail) => tail.split_first().map(|(c, t)| (*c, t)),
        ('-' | ']', _) => None,
        (c, tail) => Some((*c, tail)),
    }
}

/// The repository of modules hosted where the module path is the repository URL.
fn source_url(module: &str) -> Option<String> {
    let mut parts = module.split('/');
    let host = parts.next()?;
    if !matches!(host, "github.com" | "gitlab.com" | "bitbucket.org") {
        return None;
    }
    let owner = parts.next()?;
    let repository = parts.next()?;
    Some(format!("https://{host}/{owner}/{repository}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(
            escape("github.com/Azure/azure-sdk-for-go"),
            "github.com/!azure/azure-sdk-for-go"
        );
        assert_eq!(
            escape("github.com/BurntSushi/toml"),
            "github.com/!burnt!sushi/toml"
        );
        assert_eq!(escape("v1.0.0-RC1"), "v1.0.0-!r!c1");
    }

    #[test]
    fn module_paths() {
        assert!(is_valid_module_path("golang.org/x/mod"));
        assert!(is_valid_module_path("gopkg.in/yaml.v3"));
        for bad in [
            "",
            "fmt",
            "example.com/../x",
            "example.com//x",
            "/example.com",
            "a b.c/x",
        ] {
            assert!(!is_valid_module_path(bad), "{bad}");
        }
    }

    #[test]
    fn goproxy_lists() {
        assert_eq!(
            parse_goproxy("https://a.example, b.example/x|direct,off"),
            [
                ProxyEntry::Url {
                    url: "https://a.example/".into(),
                    fall_back_on_error: false
                },
                ProxyEntry::Url {
                    url: "https://b.example/x/".into(),
                    fall_back_on_error: true
                },
                ProxyEntry::Direct,
                ProxyEntry::Off,
            ]
        );
        assert_eq!(parse_goproxy(",,"), []);
    }

    #[test]
    fn private_patterns() {
        let patterns = "*.corp.example,github.com/acme/*,rsc.io/private";
        assert_eq!(
            matching_private_pattern(patterns, "git.corp.example/team/repo"),
            Some("*.corp.example")
        );
        assert_eq!(
            matching_private_pattern(patterns, "github.com/acme/tool/v2"),
            Some("github.com/acme/*")
        );
        assert_eq!(
            matching_private_pattern(patterns, "rsc.io/private/quux"),
            Some("rsc.io/private")
        );
        assert_eq!(matching_private_pattern(patterns, "rsc.io/privateer"), None);
        assert_eq!(matching_private_pattern(patterns, "github.com/acme"), None);
        assert_eq!(
            matching_private_pattern(patterns, "github.com/other/x"),
            None
        );
        assert_eq!(matching_private_pattern("", "github.com/acme/x"), None);
        assert_eq!(
            matching_private_pattern("github.com/acme/", "github.com/acme/x"),
            Some("github.com/acme/")
        );
    }

    #[test]
    fn globs() {
        assert!(glob_match("a*c", "abbc"));
        assert!(!glob_match("a*c", "ab/c"));
        assert!(glob_match("a?c", "abc"));
        assert!(glob_match("[a-c]x", "bx"));
        assert!(!glob_match("[^a-c]x", "bx"));
        assert!(glob_match("[^a-c]x", "dx"));
        assert!(glob_match("a\\*", "a*"));
        assert!(!glob_match("[", "a"));
        assert!(!glob_match("a[", "a"));
        assert!(!glob_match("*[", "abc"));
        assert!(!glob_match("[z-a]", "b"));
    }
}
