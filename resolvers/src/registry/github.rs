//! GitHub tags and releases, the versions of GitHub Actions (`owner/repo[/path]`).
//!
//! Talks to the REST API at `base_url("github")` (GitHub Enterprise Server works the same way:
//! `https://host/api/v3/`) through `octocrab`, with [`super::RegistryConfig::github_token`] when
//! set. Both lists are paginated (100 per page, following `Link: rel="next"`, at most
//! [`MAX_PAGES`] pages each):
//! - `GET /repos/{owner}/{repo}/tags`: every tag is a version;
//! - `GET /repos/{owner}/{repo}/releases`: published releases add their publish time and
//!   prerelease flag to their tag (drafts are ignored). A release whose tag is missing from
//!   the tag list still counts.
//!
//! Note: octocrab has its own HTTP stack, so these lookups do not go through the shared
//! [`crate::http::HttpClient`] (no conditional cache or coalescing).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use octocrab::{Octocrab, Page};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::{Registries, RegistryError, Release, ReleaseSet};
use crate::versioning::{VersionScheme, loose::Loose};

/// Pages read per list at most (10 000 tags or releases).
pub const MAX_PAGES: usize = 100;

/// The GitHub client of a [`Registries`], built on first use.
#[derive(Default)]
pub(crate) struct ClientSlot(OnceLock<Result<Octocrab, String>>);

#[derive(Deserialize)]
struct TagRecord {
    name: String,
}

#[derive(Deserialize)]
struct ReleaseRecord {
    tag_name: String,
    #[serde(default)]
    draft: bool,
    #[serde(default)]
    prerelease: bool,
    #[serde(default)]
    published_at: Option<DateTime<Utc>>,
}

/// Every tag of the repository of action `name` (`owner/repo` or `owner/repo/path`).
pub async fn releases(registries: &Registries, name: &str) -> Result<ReleaseSet, RegistryError> {
    let mut segments = name.split('/');
    let (Some(owner), Some(repo)) = (segments.next(), segments.next()) else {
        return Err(RegistryError::Skipped(format!(
            "{name:?} is not an owner/repo action reference"
        )));
    };
    let valid = |s: &str| {
        !s.is_empty()
            && s != "."
            && s != ".."
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    };
    if !valid(owner) || !valid(repo) {
        return Err(RegistryError::Skipped(format!(
            "{name:?} is not an owner/repo action reference"
        )));
    }
    let base = registries.base_url("github");
    let client = client(registries, &base)?;
    let tags_route = format!("/repos/{owner}/{repo}/tags?per_page=100");
    let releases_route = format!("/repos/{owner}/{repo}/releases?per_page=100");
    let tags: Vec<TagRecord> = all_pages(&client, &tags_route).await?;
    let releases: Vec<ReleaseRecord> = all_pages(&client, &releases_route).await?;

    let mut by_tag: BTreeMap<String, Release> = tags
        .into_iter()
        .map(|tag| {
            let release = Release {
                prerelease: Loose.is_prerelease(&tag.name),
                version: tag.name.clone(),
                published_at: None,
                yanked: false,
                deprecated: None,
                requires_runtime: None,
            };
            (tag.name, release)
        })
        .collect();
    let mut any_release = false;
    for record in releases.into_iter().filter(|r| !r.draft) {
        any_release = true;
        let entry = by_tag
            .entry(record.tag_name.clone())
            .or_insert_with(|| Release {
                prerelease: Loose.is_prerelease(&record.tag_name),
                version: record.tag_name.clone(),
                published_at: None,
                yanked: false,
                deprecated: None,
                requires_runtime: None,
            });
        entry.published_at = record.published_at.or(entry.published_at);
        entry.prerelease |= record.prerelease;
    }
    let source_url = web_url(&base, owner, repo);
    Ok(ReleaseSet {
        releases: by_tag.into_values().collect(),
        latest_tag: None,
        changelog_url: any_release.then(|| format!("{source_url}/releases")),
        homepage: None,
        source_url: Some(source_url),
    })
}

/// The octocrab client for `base`, built once per [`Registries`] (inside its runtime).
fn client(registries: &Registries, base: &str) -> Result<Octocrab, RegistryError> {
    let slot = registries.state.github.0.get_or_init(|| {
        crate::http::install_crypto_provider();
        let builder = Octocrab::builder()
            .base_uri(base)
            .map_err(|e| format!("invalid GitHub API base URL {base}: {e}"))?;
        let builder = match registries.config.github_token.as_deref() {
            Some(token) if !token.is_empty() => builder.personal_token(token.to_owned()),
            _ => builder,
        };
        builder
            .build()
            .map_err(|e| format!("could not build the GitHub client: {e}"))
    });
    slot.clone().map_err(|message| {
        RegistryError::Http(crate::http::HttpError::Transport {
            url: base.to_owned(),
            message,
        })
    })
}

/// Every item of a paginated list, following `Link: rel="next"`.
async fn all_pages<T: DeserializeOwned>(
    client: &Octocrab,
    route: &str,
) -> Result<Vec<T>, RegistryError> {
    let first: Page<T> = client
        .get(route, None::<&()>)
        .await
        .map_err(|e| map_error(e, route))?;
    let mut next = first.next.clone();
    let mut items = first.items;
    let mut pages = 1;
    while next.is_some() {
        if pages >= MAX_PAGES {
            tracing::warn!(route, pages, "stopped following GitHub pagination");
            break;
        }
        let Some(page) = client
            .get_page::<T>(&next)
            .await
            .map_err(|e| map_error(e, route))?
        else {
            break;
        };
        next.clone_from(&page.next);
        items.extend(page.items);
        pages += 1;
    }
    Ok(items)
}

fn map_error(error: octocrab::Error, route: &str) -> RegistryError {
    match error {
        octocrab::Error::GitHub { source, .. } => match source.status_code.as_u16() {
            404 | 410 => RegistryError::NotFound,
            status => RegistryError::Status {
                status,
                url: route.to_owned(),
            },
        },
        octocrab::Error::Serde { source, .. } => super::malformed(route, source),
        octocrab::Error::Json { source, .. } => super::malformed(route, source),
        other => RegistryError::Http(crate::http::HttpError::Transport {
            url: route.to_owned(),
            message: other.to_string(),
        }),
    }
}

/// The browsable repository URL for an API base: `api.github.com` → `github.com`, a GitHub
/// Enterprise `…/api/v3/` → its host, anything else (a local fake) → the base itself.
fn web_url(base: &str, owner: &str, repo: &str) -> String {
    let trimmed = base.trim_end_matches('/');
    let web = if let Some(rest) = trimmed.strip_prefix("https://api.github.com") {
        format!("https://github.com{rest}")
    } else if let Some(root) = trimmed.strip_suffix("/api/v3") {
        root.to_owned()
    } else {
        trimmed.to_owned()
    };
    format!("{web}/{owner}/{repo}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_urls_from_api_bases() {
        assert_eq!(
            web_url("https://api.github.com/", "o", "r"),
            "https://github.com/o/r"
        );
        assert_eq!(
            web_url("https://ghe.example/api/v3/", "o", "r"),
            "https://ghe.example/o/r"
        );
        assert_eq!(
            web_url("http://127.0.0.1:9/", "o", "r"),
            "http://127.0.0.1:9/o/r"
        );
    }
}
