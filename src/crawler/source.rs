//! Where a repository's files come from: GitHub through its API, or any git remote or local
//! repository through `git`. One enum, three questions: has the default branch moved, which files
//! does the commit hold, and what is in one blob.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::git::{self, GitCache};
use crate::github::{Conditional, GithubClient};
use crate::repository_url::Provider;
use crate::services::Services;
use crate::store::repositories::Repository;

/// The answer to "has the default branch moved since the last crawl?".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Head {
    /// Same commit as last time. `etag` is a new validator to keep, when the provider sent one.
    Unchanged { etag: Option<String> },
    Changed {
        commit: String,
        etag: Option<String>,
    },
}

/// One file of a commit's tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    pub path: String,
    pub blob_id: String,
    pub size: Option<u64>,
}

/// A repository's file source.
#[derive(Clone)]
pub enum Source {
    Github {
        client: GithubClient,
        full_name: String,
        branch: String,
        blob_reads: Arc<AtomicU64>,
    },
    Git {
        /// The URL, or the local path, given to `git`.
        location: String,
        branch: String,
        cache: GitCache,
        blob_reads: Arc<AtomicU64>,
        fetches: Arc<AtomicU64>,
    },
}

/// Where `git` reads a git or local repository from.
pub fn git_location(repository: &Repository) -> String {
    match repository.provider {
        Provider::Local => repository.full_name.clone(),
        Provider::Git | Provider::Github => repository.url.clone(),
    }
}

impl Source {
    /// The source of `repository`, reading its default branch `branch`.
    pub fn for_repository(
        services: &Services,
        repository: &Repository,
        branch: &str,
    ) -> Result<Source, String> {
        match repository.provider {
            Provider::Github => {
                let client = services.github.clone().ok_or_else(|| {
                    "GitHub is not configured; this repository cannot be crawled".to_owned()
                })?;
                Ok(Source::Github {
                    client,
                    full_name: repository.full_name.clone(),
                    branch: branch.to_owned(),
                    blob_reads: Arc::default(),
                })
            }
            Provider::Git | Provider::Local => Ok(Source::Git {
                location: git_location(repository),
                branch: branch.to_owned(),
                cache: GitCache::new(&services.config.cache_dir, repository.id),
                blob_reads: Arc::default(),
                fetches: Arc::default(),
            }),
        }
    }

    /// The default branch's head, conditionally: GitHub sends the stored `ETag` (a `304` costs
    /// nothing); git asks the remote with `ls-remote` and fetches only when the commit moved.
    pub async fn head(
        &self,
        known_etag: Option<&str>,
        known_commit: Option<&str>,
    ) -> Result<Head, String> {
        match self {
            Source::Github {
                client,
                full_name,
                branch,
                ..
            } => match client
                .branch_head(full_name, branch, known_etag)
                .await
                .map_err(|e| e.to_string())?
            {
                Conditional::NotModified => Ok(Head::Unchanged { etag: None }),
                Conditional::Modified { value, etag } => {
                    if known_commit == Some(value.as_str()) {
                        Ok(Head::Unchanged { etag })
                    } else {
                        Ok(Head::Changed {
                            commit: value,
                            etag,
                        })
                    }
                }
            },
            Source::Git {
                location,
                branch,
                cache,
                fetches,
                ..
            } => {
                let remote = git::remote_head(location, branch)
                    .await
                    .map_err(|e| e.to_string())?;
                if known_commit == Some(remote.as_str()) {
                    return Ok(Head::Unchanged { etag: None });
                }
                fetches.fetch_add(1, Ordering::Relaxed);
                let commit = cache
                    .fetch(location, branch)
                    .await
                    .map_err(|e| e.to_string())?;
                if known_commit == Some(commit.as_str()) {
                    return Ok(Head::Unchanged { etag: None });
                }
                Ok(Head::Changed { commit, etag: None })
            }
        }
    }

    /// Every file of the tree at `commit`.
    pub async fn tree(&self, commit: &str) -> Result<Vec<FileEntry>, String> {
        match self {
            Source::Github {
                client, full_name, ..
            } => Ok(client
                .tree(full_name, commit)
                .await
                .map_err(|e| e.to_string())?
                .into_iter()
                .map(|e| FileEntry {
                    path: e.path,
                    blob_id: e.sha,
                    size: e.size,
                })
                .collect()),
            Source::Git { cache, .. } => Ok(cache
                .tree(commit)
                .await
                .map_err(|e| e.to_string())?
                .into_iter()
                .map(|e| FileEntry {
                    path: e.path,
                    blob_id: e.blob_id,
                    size: Some(e.size),
                })
                .collect()),
        }
    }

    /// One blob's bytes.
    pub async fn blob(&self, blob_id: &str) -> Result<Vec<u8>, String> {
        match self {
            Source::Github {
                client,
                full_name,
                blob_reads,
                ..
            } => {
                blob_reads.fetch_add(1, Ordering::Relaxed);
                client
                    .blob(full_name, blob_id)
                    .await
                    .map_err(|e| e.to_string())
            }
            Source::Git {
                cache, blob_reads, ..
            } => {
                blob_reads.fetch_add(1, Ordering::Relaxed);
                cache.blob(blob_id).await.map_err(|e| e.to_string())
            }
        }
    }

    /// Blobs read through this source so far.
    pub fn blob_reads(&self) -> u64 {
        match self {
            Source::Github { blob_reads, .. } | Source::Git { blob_reads, .. } => {
                blob_reads.load(Ordering::Relaxed)
            }
        }
    }

    /// Fetches made through this source so far (always 0 for GitHub).
    pub fn fetches(&self) -> u64 {
        match self {
            Source::Github { .. } => 0,
            Source::Git { fetches, .. } => fetches.load(Ordering::Relaxed),
        }
    }
}

/// Check that the repository at `location` exists and return its default branch: GitHub →
/// repository metadata; git remote or local path → `git ls-remote --symref <location> HEAD`.
pub async fn check_repository(
    services: &Services,
    provider: Provider,
    full_name: &str,
    url: &str,
) -> Result<String, String> {
    match provider {
        Provider::Github => {
            let client = services
                .github
                .as_ref()
                .ok_or_else(|| "GitHub is not configured".to_owned())?;
            let info = client
                .repository(full_name)
                .await
                .map_err(|e| e.to_string())?;
            if info.default_branch.is_empty() {
                return Err("GitHub reports no default branch (empty repository?)".into());
            }
            Ok(info.default_branch)
        }
        Provider::Git => git::default_branch(url).await.map_err(|e| e.to_string()),
        Provider::Local => git::default_branch(full_name)
            .await
            .map_err(|e| e.to_string()),
    }
}
