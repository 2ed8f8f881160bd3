//! What upkeep reads from GitHub: repository metadata, the head of a branch with a conditional
//! request (a missing branch of an empty repository is [`GithubError::EmptyRepository`]), the
//! recursive tree (completed by walking subtrees when GitHub truncates it), blobs,
//! and organisation repository lists. Names from users are checked before they go into a path.

use base64::Engine;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use serde::Deserialize;

use super::auth::Scope;
use super::transport::{Reply, next_link};
use super::{Conditional, Endpoint, GithubClient, GithubError, RepoInfo, TreeEntry};

#[derive(Deserialize)]
struct RepoResponse {
    full_name: String,
    #[serde(default)]
    default_branch: Option<String>,
    #[serde(default)]
    archived: bool,
    #[serde(default)]
    private: bool,
}

impl From<RepoResponse> for RepoInfo {
    fn from(repo: RepoResponse) -> Self {
        RepoInfo {
            full_name: repo.full_name,
            // A repository without commits reports no default branch; GitHub names new ones `main`.
            default_branch: repo.default_branch.unwrap_or_else(|| "main".to_owned()),
            archived: repo.archived,
            private: repo.private,
        }
    }
}

#[derive(Deserialize)]
struct BranchResponse {
    commit: BranchCommit,
}

#[derive(Deserialize)]
struct BranchCommit {
    sha: String,
}

#[derive(Deserialize)]
struct TreeResponse {
    sha: String,
    #[serde(default)]
    tree: Vec<TreeItem>,
    #[serde(default)]
    truncated: bool,
}

#[derive(Deserialize)]
struct TreeItem {
    path: String,
    #[serde(default)]
    mode: String,
    #[serde(rename = "type")]
    kind: String,
    sha: String,
    #[serde(default)]
    size: Option<u64>,
}

#[derive(Deserialize)]
struct BlobResponse {
    #[serde(default)]
    content: String,
    #[serde(default)]
    encoding: String,
}

/// Subtree requests one truncated tree may cost at most.
const MAX_SUBTREES: usize = 50_000;
/// Pages one organisation listing may cost at most.
const MAX_PAGES: usize = 1_000;
/// A symbolic link's mode: its blob is a path, not file content.
const SYMLINK_MODE: &str = "120000";

impl GithubClient {
    /// Repository metadata (`GET /repos/{owner}/{repo}`).
    pub async fn repository(&self, full_name: &str) -> Result<RepoInfo, GithubError> {
        let (owner, repo) = split_full_name(full_name)?;
        let reply = self
            .call(
                Endpoint::Repository,
                Method::GET,
                &format!("/repos/{owner}/{repo}"),
                Scope::Repo { owner, repo },
                HeaderMap::new(),
                None,
            )
            .await?;
        if reply.status != StatusCode::OK {
            return Err(reply.error(&format!("repository {full_name}")));
        }
        Ok(reply
            .json::<RepoResponse>(&format!("repository {full_name}"))?
            .into())
    }

    /// The head commit of `branch`, conditionally on `etag`.
    pub async fn branch_head(
        &self,
        full_name: &str,
        branch: &str,
        etag: Option<&str>,
    ) -> Result<Conditional<String>, GithubError> {
        let (owner, repo) = split_full_name(full_name)?;
        if branch.trim().is_empty() {
            return Err(GithubError::Api(format!(
                "empty branch name for {full_name}"
            )));
        }
        let mut headers = HeaderMap::new();
        if let Some(value) = etag.and_then(|e| HeaderValue::from_str(e).ok()) {
            headers.insert(header::IF_NONE_MATCH, value);
        }
        let reply = self
            .call(
                Endpoint::Branch,
                Method::GET,
                &format!("/repos/{owner}/{repo}/branches/{}", encode_path(branch)),
                Scope::Repo { owner, repo },
                headers,
                None,
            )
            .await?;
        let what = format!("branch {branch} of {full_name}");
        match reply.status {
            StatusCode::NOT_MODIFIED => Ok(Conditional::NotModified),
            StatusCode::OK => {
                let branch: BranchResponse = reply.json(&what)?;
                Ok(Conditional::Modified {
                    value: branch.commit.sha,
                    etag: reply.header("etag").map(str::to_owned),
                })
            }
            StatusCode::NOT_FOUND => Err(self.missing_branch(owner, repo, &what).await?),
            _ => Err(reply.error(&what)),
        }
    }

    /// Why GitHub has no such branch: an empty repository has no branch at all, and GitHub
    /// answers `409 Git Repository is empty` for its git objects (one more request, made only
    /// when a branch is missing); otherwise the branch is not found.
    async fn missing_branch(
        &self,
        owner: &str,
        repo: &str,
        what: &str,
    ) -> Result<GithubError, GithubError> {
        match self.tree_request(owner, repo, "HEAD", false).await? {
            Err(reply) if reply.status == StatusCode::CONFLICT => Ok(reply.error(what)),
            _ => Ok(GithubError::NotFound(what.to_owned())),
        }
    }

    /// Every blob of the tree at `commit` (truncated trees are completed by walking subtrees).
    /// Symbolic links and submodules are left out: their objects hold no file content.
    pub async fn tree(&self, full_name: &str, commit: &str) -> Result<Vec<TreeEntry>, GithubError> {
        let (owner, repo) = split_full_name(full_name)?;
        check_ref(commit)?;
        let what = format!("tree {commit} of {full_name}");
        let root = self
            .tree_request(owner, repo, commit, true)
            .await?
            .map_err(|reply| reply.error(&what))?;
        if !root.truncated {
            let mut entries: Vec<TreeEntry> =
                root.tree.into_iter().filter_map(blob_entry).collect();
            entries.sort_by(|a, b| a.path.cmp(&b.path));
            return Ok(entries);
        }
        tracing::debug!(repository = full_name, "truncated tree; walking subtrees");
        let mut entries = Vec::new();
        let mut pending = vec![(String::new(), root.sha)];
        let mut walked = 0usize;
        while let Some((prefix, sha)) = pending.pop() {
            walked += 1;
            if walked > MAX_SUBTREES {
                return Err(GithubError::Api(format!(
                    "{what}: more than {MAX_SUBTREES} directories"
                )));
            }
            let level = self
                .tree_request(owner, repo, &sha, false)
                .await?
                .map_err(|reply| reply.error(&format!("subtree {prefix} of {full_name}")))?;
            if level.truncated {
                tracing::warn!(
                    repository = full_name,
                    directory = prefix,
                    "a single directory listing is truncated; some files are not seen"
                );
            }
            for item in level.tree {
                let path = format!("{prefix}{}", item.path);
                match item.kind.as_str() {
                    "tree" => pending.push((format!("{path}/"), item.sha)),
                    _ => {
                        if let Some(entry) = blob_entry(TreeItem { path, ..item }) {
                            entries.push(entry);
                        }
                    }
                }
            }
        }
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(entries)
    }

    /// `GET /git/trees/{sha}`: the parsed tree, or the reply when the status is not 200.
    async fn tree_request(
        &self,
        owner: &str,
        repo: &str,
        sha: &str,
        recursive: bool,
    ) -> Result<Result<TreeResponse, Reply>, GithubError> {
        let query = if recursive { "?recursive=1" } else { "" };
        let reply = self
            .call(
                Endpoint::Tree,
                Method::GET,
                &format!("/repos/{owner}/{repo}/git/trees/{sha}{query}"),
                Scope::Repo { owner, repo },
                HeaderMap::new(),
                None,
            )
            .await?;
        if reply.status != StatusCode::OK {
            return Ok(Err(reply));
        }
        reply.json(&format!("tree {sha}")).map(Ok)
    }

    /// A blob's bytes.
    pub async fn blob(&self, full_name: &str, sha: &str) -> Result<Vec<u8>, GithubError> {
        let (owner, repo) = split_full_name(full_name)?;
        check_ref(sha)?;
        let what = format!("blob {sha} of {full_name}");
        let reply = self
            .call(
                Endpoint::Blob,
                Method::GET,
                &format!("/repos/{owner}/{repo}/git/blobs/{sha}"),
                Scope::Repo { owner, repo },
                HeaderMap::new(),
                None,
            )
            .await?;
        if reply.status != StatusCode::OK {
            return Err(reply.error(&what));
        }
        let blob: BlobResponse = reply.json(&what)?;
        match blob.encoding.as_str() {
            "base64" => {
                let compact: Vec<u8> = blob
                    .content
                    .bytes()
                    .filter(|b| !b.is_ascii_whitespace())
                    .collect();
                base64::engine::general_purpose::STANDARD
                    .decode(compact)
                    .map_err(|e| GithubError::Api(format!("{what}: invalid base64 content: {e}")))
            }
            "utf-8" | "utf8" => Ok(blob.content.into_bytes()),
            other => Err(GithubError::Api(format!(
                "{what}: unknown content encoding `{other}`"
            ))),
        }
    }

    /// Every repository of an organisation (all pages).
    pub async fn org_repositories(&self, org: &str) -> Result<Vec<RepoInfo>, GithubError> {
        check_login(org)?;
        let what = format!("organisation {org}");
        let mut target = format!(
            "/orgs/{org}/repos?per_page={}&type=all",
            self.inner.tuning.page_size.clamp(1, 100)
        );
        let mut repos = Vec::new();
        for page in 1..=MAX_PAGES {
            let reply = self
                .call(
                    Endpoint::OrgRepositories,
                    Method::GET,
                    &target,
                    Scope::Org(org),
                    HeaderMap::new(),
                    None,
                )
                .await?;
            if reply.status != StatusCode::OK {
                return Err(reply.error(&what));
            }
            let items: Vec<RepoResponse> = reply.json(&what)?;
            repos.extend(items.into_iter().map(RepoInfo::from));
            match reply.header("link").and_then(next_link) {
                Some(next) => target = self.same_origin(&next)?,
                None => return Ok(repos),
            }
            if page == MAX_PAGES {
                tracing::warn!(org, pages = page, "stopped following pagination");
            }
        }
        Ok(repos)
    }
}

fn blob_entry(item: TreeItem) -> Option<TreeEntry> {
    (item.kind == "blob" && item.mode != SYMLINK_MODE).then_some(TreeEntry {
        path: item.path,
        sha: item.sha,
        size: item.size,
    })
}

/// `owner/repo`, each part made of the characters GitHub allows.
fn split_full_name(full_name: &str) -> Result<(&str, &str), GithubError> {
    let valid = |part: &str| {
        !part.is_empty()
            && part != "."
            && part != ".."
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    };
    match full_name.split_once('/') {
        Some((owner, repo)) if valid(owner) && valid(repo) => Ok((owner, repo)),
        _ => Err(GithubError::Api(format!(
            "`{full_name}` is not a GitHub `owner/repository`"
        ))),
    }
}

/// An account login: letters, digits and hyphens.
fn check_login(login: &str) -> Result<(), GithubError> {
    if login.is_empty()
        || login.len() > 100
        || !login
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(GithubError::Api(format!(
            "`{login}` is not a GitHub account name"
        )));
    }
    Ok(())
}

/// A git object id or ref used in a path: no characters that would change the URL.
fn check_ref(sha: &str) -> Result<(), GithubError> {
    if sha.is_empty()
        || sha.len() > 255
        || !sha
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(GithubError::Api(format!("`{sha}` is not a git object id")));
    }
    Ok(())
}

/// Percent-encode a branch name for a URL path, keeping `/` separators.
fn encode_path(text: &str) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_names_and_encodes_branches() {
        assert_eq!(split_full_name("a/b.rs").unwrap(), ("a", "b.rs"));
        for bad in ["a", "a/", "/b", "a/b/c", "a/..", "a/b?x", "a b/c"] {
            assert!(split_full_name(bad).is_err(), "{bad}");
        }
        assert_eq!(encode_path("feature/x y#1"), "feature/x%20y%231");
        assert!(check_ref("0123abc").is_ok());
        assert!(check_ref("../x").is_err());
        assert!(check_login("rust-lang").is_ok());
        assert!(check_login("a/b").is_err());
    }
}
