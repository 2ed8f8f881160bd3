//! Reading any git remote or local repository with the `git` command line.
//!
//! Every call runs `git` directly (never through a shell), with a time limit, without a terminal
//! prompt (`GIT_TERMINAL_PROMPT=0`), with only the usual transports allowed, and with `--` before
//! user-supplied locations so they can never be read as options. Each repository has its own bare
//! cache repository (`<cache_dir>/git/<repository id>`) into which the default branch is fetched
//! shallowly (`--depth 1`); trees and blobs are then read from the cache.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

/// Time limit of a fetch.
const FETCH_TIMEOUT: Duration = Duration::from_mins(5);
/// Time limit of every other git call.
const CALL_TIMEOUT: Duration = Duration::from_mins(1);
/// The ref the fetched default branch is kept under in the cache repository.
const CACHE_REF: &str = "refs/upkeep/head";

/// A git call that failed: what was run and what git said.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("git {command}: {message}")]
pub struct GitError {
    pub command: String,
    pub message: String,
}

fn git_error(command: &str, message: impl Into<String>) -> GitError {
    GitError {
        command: command.to_owned(),
        message: message.into(),
    }
}

/// Run `git args...` (in `dir` when given) and return its standard output.
async fn git(dir: Option<&Path>, args: &[&str], limit: Duration) -> Result<Vec<u8>, GitError> {
    let name = args.first().copied().unwrap_or("git");
    let mut command = Command::new("git");
    if let Some(dir) = dir {
        command.arg("-C").arg(dir);
    }
    command
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_ASKPASS", "")
        .env("SSH_ASKPASS", "")
        .env("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
        .env("GIT_ALLOW_PROTOCOL", "file:git:http:https:ssh")
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = command
        .spawn()
        .map_err(|e| git_error(name, format!("cannot run git: {e}")))?;
    let output = tokio::time::timeout(limit, child.wait_with_output())
        .await
        .map_err(|_| git_error(name, format!("timed out after {}s", limit.as_secs())))?
        .map_err(|e| git_error(name, e.to_string()))?;
    if output.status.success() {
        Ok(output.stdout)
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let message = stderr
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
        Err(git_error(
            name,
            if message.is_empty() {
                format!("exited with {}", output.status)
            } else {
                message
            },
        ))
    }
}

/// Is `name` a branch name git accepts (and safe as a command argument)?
#[expect(
    clippy::case_sensitive_file_extension_comparisons,
    reason = "git's ref name rules are case-sensitive"
)]
pub fn valid_branch(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('-')
        && !name.starts_with('/')
        && !name.ends_with('/')
        && !name.ends_with(".lock")
        && !name.ends_with('.')
        && !name.contains("..")
        && !name.contains("@{")
        && !name.contains("//")
        && name.chars().all(|c| {
            !c.is_control() && !matches!(c, ' ' | '~' | '^' | ':' | '?' | '*' | '[' | '\\')
        })
}

fn is_object_id(s: &str) -> bool {
    matches!(s.len(), 40 | 64) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The branch `HEAD` points to at `location` (`git ls-remote --symref <location> HEAD`).
pub async fn default_branch(location: &str) -> Result<String, GitError> {
    let out = git(
        None,
        &["ls-remote", "--symref", "--", location, "HEAD"],
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

/// The commit `branch` points to at `location`, without fetching anything.
pub async fn remote_head(location: &str, branch: &str) -> Result<String, GitError> {
    if !valid_branch(branch) {
        return Err(git_error(
            "ls-remote",
            format!("bad branch name `{branch}`"),
        ));
    }
    let refname = format!("refs/heads/{branch}");
    let out = git(None, &["ls-remote", "--", location, &refname], CALL_TIMEOUT).await?;
    let text = String::from_utf8_lossy(&out);
    text.lines()
        .filter_map(|line| line.split_once('\t'))
        .find(|(_, name)| *name == refname)
        .map(|(sha, _)| sha.to_owned())
        .filter(|sha| is_object_id(sha))
        .ok_or_else(|| git_error("ls-remote", format!("branch `{branch}` not found")))
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
            CALL_TIMEOUT,
        )
        .await?;
        Ok(())
    }

    /// Fetch `branch` of `location` shallowly; returns the fetched commit.
    pub async fn fetch(&self, location: &str, branch: &str) -> Result<String, GitError> {
        if !valid_branch(branch) {
            return Err(git_error("fetch", format!("bad branch name `{branch}`")));
        }
        self.ensure().await?;
        let refspec = format!("+refs/heads/{branch}:{CACHE_REF}");
        git(
            Some(&self.dir),
            &[
                "fetch",
                "--depth",
                "1",
                "--no-tags",
                "--quiet",
                "--",
                location,
                &refspec,
            ],
            FETCH_TIMEOUT,
        )
        .await?;
        let out = git(
            Some(&self.dir),
            &[
                "rev-parse",
                "--verify",
                "--end-of-options",
                &format!("{CACHE_REF}^{{commit}}"),
            ],
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
            CALL_TIMEOUT,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_names() {
        for ok in ["main", "release/1.x", "feature-a_b"] {
            assert!(valid_branch(ok), "{ok}");
        }
        for bad in ["", "-x", "a..b", "a b", "x.lock", "a:b", "/a", "a\n"] {
            assert!(!valid_branch(bad), "{bad}");
        }
    }
}
