//! Code hosts ("forges"): what upkeep needs of the place a repository lives, behind one enum that
//! GitHub (through its API, [`github`]) and plain git remotes or local repositories (through the
//! `git` command line, [`git`]) both implement.
//!
//! Today that is reading: a repository's default branch, whether the head of a branch moved (with
//! a conditional request where the host supports one), the files of a commit and the bytes of a
//! blob. Writing (branches, commits, pull requests) comes next, as new operations here.
//!
//! Errors say whether trying again can help ([`ForgeError::is_permanent`]): a repository that is
//! gone (404, 410) or empty (no commits) cannot; the network, a 5xx or a rate limit can.

pub mod git;
pub mod github;

use std::sync::atomic::{AtomicU64, Ordering};

use git::{GitAccess, GitCache, GitError, GitRemote};
use github::{Conditional, GithubClient, GithubError};

use crate::config::Config;
use crate::repository_url::{LocalPathError, Provider, RepositoryUrl};
use crate::store::repositories::Repository;

/// Why a forge could not answer.
#[derive(Debug, thiserror::Error)]
pub enum ForgeError {
    #[error(transparent)]
    Github(#[from] GithubError),
    #[error(transparent)]
    Git(#[from] GitError),
    /// A local path that this server may not read (not enabled, or outside the allowed roots).
    #[error(transparent)]
    LocalPath(#[from] LocalPathError),
    /// The forge cannot be used as configured (the message says why).
    #[error("{0}")]
    Unavailable(String),
}

impl ForgeError {
    /// When asking again can help and not before: the reset of an exhausted GitHub rate limit.
    pub fn retry_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        match self {
            ForgeError::Github(GithubError::RateLimited { reset_at }) => Some(*reset_at),
            _ => None,
        }
    }

    /// `true` when asking again cannot help: the repository is gone (GitHub 404 or 410) or has
    /// no commits (GitHub 409 "Git Repository is empty"), or it is a local path this server may
    /// not read. Network failures, 5xx answers, rate limits and
    /// git failures are transient: git's messages do not reliably tell a deleted repository from
    /// an unreachable or unauthorised one.
    pub fn is_permanent(&self) -> bool {
        match self {
            ForgeError::Github(error) => matches!(
                error,
                GithubError::NotFound(_) | GithubError::EmptyRepository(_)
            ),
            ForgeError::LocalPath(_) => true,
            ForgeError::Git(_) | ForgeError::Unavailable(_) => false,
        }
    }
}

/// The answer to "has the branch moved since the last crawl?".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Head {
    /// Same commit as last time. `etag` is a new validator to keep, when the forge sent one.
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

/// A repository on GitHub, read through the API.
pub struct GithubRepository {
    client: GithubClient,
    /// `owner/name`.
    full_name: String,
    blob_reads: AtomicU64,
}

/// A repository behind a git remote (or on the local disk), read with `git`.
pub struct GitRepository {
    remote: GitRemote,
    /// Where fetched commits are kept; `None` before the repository is registered (only the
    /// default branch can be asked then).
    cache: Option<GitCache>,
    blob_reads: AtomicU64,
    fetches: AtomicU64,
}

/// The code host of one repository.
pub enum Forge {
    Github(GithubRepository),
    Git(GitRepository),
}

impl Forge {
    /// The forge of `location`, not registered yet (enough to ask its default branch). A local
    /// path must resolve inside `config.local_repository_roots`; a remote gets its credentials
    /// from the configuration.
    pub fn locate(
        github: Option<&GithubClient>,
        config: &Config,
        location: &RepositoryUrl,
    ) -> Result<Forge, ForgeError> {
        match location.provider {
            Provider::Github => {
                let client = github.ok_or_else(|| {
                    ForgeError::Unavailable(
                        "GitHub is not configured; this repository cannot be read".to_owned(),
                    )
                })?;
                Ok(Forge::Github(GithubRepository {
                    client: client.clone(),
                    full_name: location.full_name.clone(),
                    blob_reads: AtomicU64::new(0),
                }))
            }
            Provider::Git => {
                let access = GitAccess::for_remote(
                    &location.url,
                    &config.git_https_credentials,
                    &config.git_ssh_command,
                    &config.git_private_hosts,
                )?;
                Ok(Forge::git(&location.url, access))
            }
            Provider::Local => {
                let confined = location.confine(&config.local_repository_roots)?;
                Ok(Forge::git(&confined.full_name, GitAccess::local()))
            }
        }
    }

    /// The forge of registered `repository`, with its git cache under `config.cache_dir`.
    pub fn for_repository(
        github: Option<&GithubClient>,
        config: &Config,
        repository: &Repository,
    ) -> Result<Forge, ForgeError> {
        let location = RepositoryUrl {
            provider: repository.provider,
            url: repository.url.clone(),
            full_name: repository.full_name.clone(),
        };
        let mut forge = Forge::locate(github, config, &location)?;
        if let Forge::Git(git) = &mut forge {
            git.cache = Some(GitCache::new(&config.cache_dir, repository.id));
        }
        Ok(forge)
    }

    fn git(location: &str, access: GitAccess) -> Forge {
        Forge::Git(GitRepository {
            remote: GitRemote::new(location, access),
            cache: None,
            blob_reads: AtomicU64::new(0),
            fetches: AtomicU64::new(0),
        })
    }

    /// The repository's default branch: GitHub → repository metadata; git →
    /// `git ls-remote --symref <location> HEAD`.
    pub async fn default_branch(&self) -> Result<String, ForgeError> {
        match self {
            Forge::Github(repo) => {
                let info = repo.client.repository(&repo.full_name).await?;
                if info.default_branch.is_empty() {
                    return Err(ForgeError::Unavailable(
                        "GitHub reports no default branch (empty repository?)".into(),
                    ));
                }
                Ok(info.default_branch)
            }
            Forge::Git(repo) => Ok(repo.remote.default_branch().await?),
        }
    }

    /// The head of `branch`, conditionally: GitHub gets the stored `ETag` (a `304` costs
    /// nothing); git asks the remote with `ls-remote` and fetches only when the commit moved.
    pub async fn head(
        &self,
        branch: &str,
        known_etag: Option<&str>,
        known_commit: Option<&str>,
    ) -> Result<Head, ForgeError> {
        match self {
            Forge::Github(repo) => match repo
                .client
                .branch_head(&repo.full_name, branch, known_etag)
                .await?
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
            Forge::Git(repo) => {
                let remote = repo.remote.head(branch).await?;
                if known_commit == Some(remote.as_str()) {
                    return Ok(Head::Unchanged { etag: None });
                }
                repo.fetches.fetch_add(1, Ordering::Relaxed);
                let commit = repo.remote.fetch(repo.cache()?, branch).await?;
                if known_commit == Some(commit.as_str()) {
                    return Ok(Head::Unchanged { etag: None });
                }
                Ok(Head::Changed { commit, etag: None })
            }
        }
    }

    /// Every file of the tree at `commit` (symbolic links and submodules left out).
    pub async fn tree(&self, commit: &str) -> Result<Vec<FileEntry>, ForgeError> {
        match self {
            Forge::Github(repo) => Ok(repo
                .client
                .tree(&repo.full_name, commit)
                .await?
                .into_iter()
                .map(|e| FileEntry {
                    path: e.path,
                    blob_id: e.sha,
                    size: e.size,
                })
                .collect()),
            Forge::Git(repo) => Ok(repo
                .cache()?
                .tree(commit)
                .await?
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
    pub async fn blob(&self, blob_id: &str) -> Result<Vec<u8>, ForgeError> {
        match self {
            Forge::Github(repo) => {
                repo.blob_reads.fetch_add(1, Ordering::Relaxed);
                Ok(repo.client.blob(&repo.full_name, blob_id).await?)
            }
            Forge::Git(repo) => {
                repo.blob_reads.fetch_add(1, Ordering::Relaxed);
                Ok(repo.cache()?.blob(blob_id).await?)
            }
        }
    }

    /// Blobs read through this forge value so far.
    pub fn blob_reads(&self) -> u64 {
        match self {
            Forge::Github(GithubRepository { blob_reads, .. })
            | Forge::Git(GitRepository { blob_reads, .. }) => blob_reads.load(Ordering::Relaxed),
        }
    }

    /// Fetches made through this forge value so far (always 0 for GitHub).
    pub fn fetches(&self) -> u64 {
        match self {
            Forge::Github(_) => 0,
            Forge::Git(repo) => repo.fetches.load(Ordering::Relaxed),
        }
    }
}

impl GitRepository {
    fn cache(&self) -> Result<&GitCache, ForgeError> {
        self.cache.as_ref().ok_or_else(|| {
            ForgeError::Unavailable(
                "a repository's files are read once it is registered (it has no cache yet)"
                    .to_owned(),
            )
        })
    }
}
