//! Any git remote or local repository, read with the `git` command line ([`command`]).
//!
//! A [`GitRemote`] is one location and how git may reach it ([`GitAccess`]). Its default branch and
//! head are asked of the remote with `ls-remote` (nothing is downloaded); when the head moved, the
//! branch is fetched shallowly (`--depth 1`) into the registered repository's own bare cache
//! repository (`<cache_dir>/git/<repository id>`, a [`GitCache`]), and trees and blobs are read
//! from there.

pub mod command;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use command::{GitAccess, GitError, is_object_id, valid_branch};
use command::{git, git_error};

/// Time limit of a fetch.
const FETCH_TIMEOUT: Duration = Duration::from_mins(5);
/// Time limit of every other git call.
const CALL_TIMEOUT: Duration = Duration::from_mins(1);
/// The ref the fetched default branch is kept under in the cache repository.
const CACHE_REF: &str = "refs/upkeep/head";

/// One git remote (a URL, or the path of a local repository) and how git may reach it.
#[derive(Debug, Clone)]
pub struct GitRemote {
    location: String,
    access: GitAccess,
}

impl GitRemote {
    pub fn new(location: impl Into<String>, access: GitAccess) -> GitRemote {
        GitRemote {
            location: location.into(),
            access,
        }
    }

    /// The URL or path given to git.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// The branch `HEAD` points to (`git ls-remote --symref <location> HEAD`).
    pub async fn default_branch(&self) -> Result<String, GitError> {
        let out = git(
            None,
            &["ls-remote", "--symref", "--", &self.location, "HEAD"],
            &self.access,
            CALL_TIMEOUT,
        )
        .await?;
        let text = String::from_utf8_lossy(&out);
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("ref: ")
                && let Some((target, name)) = rest.split_once('\t')
                && name == "HEAD"
            {
                let branch = target.strip_prefix("refs/heads/").ok_or_else(|| {
                    git_error(
                        "ls-remote",
                        format!("HEAD points to `{target}`, not a branch"),
                    )
                })?;
                if !valid_branch(branch) {
                    return Err(git_error(
                        "ls-remote",
                        format!("the default branch name `{branch}` is not usable"),
                    ));
                }
                return Ok(branch.to_owned());
            }
        }
        Err(git_error(
            "ls-remote",
            "the repository has no HEAD branch (no commits yet, or HEAD is detached)",
        ))
    }

    /// The commit `branch` points to, without fetching anything.
    pub async fn head(&self, branch: &str) -> Result<String, GitError> {
        if !valid_branch(branch) {
            return Err(git_error(
                "ls-remote",
                format!("bad branch name `{branch}`"),
            ));
        }
        let refname = format!("refs/heads/{branch}");
        let out = git(
            None,
            &["ls-remote", "--", &self.location, &refname],
            &self.access,
            CALL_TIMEOUT,
        )
        .await?;
        let text = String::from_utf8_lossy(&out);
        text.lines()
            .filter_map(|line| line.split_once('\t'))
            .find(|(_, name)| *name == refname)
            .map(|(sha, _)| sha.to_owned())
            .filter(|sha| is_object_id(sha))
            .ok_or_else(|| git_error("ls-remote", format!("branch `{branch}` not found")))
    }

    /// Fetch `branch` shallowly into `cache`; returns the fetched commit.
    pub async fn fetch(&self, cache: &GitCache, branch: &str) -> Result<String, GitError> {
        if !valid_branch(branch) {
            return Err(git_error("fetch", format!("bad branch name `{branch}`")));
        }
        cache.ensure().await?;
        let refspec = format!("+refs/heads/{branch}:{CACHE_REF}");
        git(
            Some(&cache.dir),
            &[
                "fetch",
                "--depth",
                "1",
                "--no-tags",
                "--quiet",
                "--",
                &self.location,
                &refspec,
            ],
            &self.access,
            FETCH_TIMEOUT,
        )
        .await?;
        let out = git(
            Some(&cache.dir),
            &[
                "rev-parse",
                "--verify",
                "--end-of-options",
                &format!("{CACHE_REF}^{{commit}}"),
            ],
            &GitAccess::local(),
            CALL_TIMEOUT,
        )
        .await?;
        let commit = String::from_utf8_lossy(&out).trim().to_owned();
        if is_object_id(&commit) {
            Ok(commit)
        } else {
            Err(git_error(
                "rev-parse",
                format!("unexpected output `{commit}`"),
            ))
        }
    }
}

/// One blob of a tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitTreeEntry {
    pub path: String,
    pub blob_id: String,
    pub size: u64,
}

/// A bare cache repository for one registered repository.
#[derive(Debug, Clone)]
pub struct GitCache {
    dir: PathBuf,
}

impl GitCache {
    /// The cache of repository `id` under `cache_dir` (created on first fetch).
    pub fn new(cache_dir: &Path, repository_id: i64) -> GitCache {
        GitCache {
            dir: cache_dir.join("git").join(repository_id.to_string()),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    async fn ensure(&self) -> Result<(), GitError> {
        if self.dir.join("HEAD").is_file() {
            return Ok(());
        }
        tokio::fs::create_dir_all(&self.dir)
            .await
            .map_err(|e| git_error("init", format!("cannot create the cache directory: {e}")))?;
        let dir = self.dir.to_string_lossy().into_owned();
        git(
            None,
            &["init", "--bare", "--quiet", "--", &dir],
            &GitAccess::local(),
            CALL_TIMEOUT,
        )
        .await?;
        Ok(())
    }

    /// Every regular file of the tree at `commit` (symbolic links and submodules left out).
    pub async fn tree(&self, commit: &str) -> Result<Vec<GitTreeEntry>, GitError> {
        if !is_object_id(commit) {
            return Err(git_error(
                "ls-tree",
                format!("`{commit}` is not a commit id"),
            ));
        }
        let out = git(
            Some(&self.dir),
            &["ls-tree", "-r", "-l", "-z", "--full-tree", commit],
            &GitAccess::local(),
            CALL_TIMEOUT,
        )
        .await?;
        let mut entries = Vec::new();
        for record in out.split(|b| *b == 0).filter(|r| !r.is_empty()) {
            let record = String::from_utf8_lossy(record);
            // `<mode> SP <type> SP <object> SP+ <size> TAB <path>`
            let Some((meta, path)) = record.split_once('\t') else {
                continue;
            };
            let fields: Vec<&str> = meta.split_whitespace().collect();
            let [mode, kind, object, size] = fields.as_slice() else {
                continue;
            };
            if *kind != "blob" || !matches!(*mode, "100644" | "100755") {
                continue;
            }
            let Ok(size) = size.parse::<u64>() else {
                continue;
            };
            entries.push(GitTreeEntry {
                path: path.to_owned(),
                blob_id: (*object).to_owned(),
                size,
            });
        }
        Ok(entries)
    }

    /// A blob's bytes.
    pub async fn blob(&self, blob_id: &str) -> Result<Vec<u8>, GitError> {
        if !is_object_id(blob_id) {
            return Err(git_error(
                "cat-file",
                format!("`{blob_id}` is not a blob id"),
            ));
        }
        git(
            Some(&self.dir),
            &["cat-file", "blob", blob_id],
            &GitAccess::local(),
            CALL_TIMEOUT,
        )
        .await
    }
}
