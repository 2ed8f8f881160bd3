//! Parse, don't validate: what a user may register as a repository, normalised.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// Where a repository lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// github.com, read through the GitHub API.
    Github,
    /// Any other git remote, read with git.
    Git,
    /// A git repository on this machine's disk.
    Local,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Github => "github",
            Provider::Git => "git",
            Provider::Local => "local",
        }
    }

    pub fn parse(s: &str) -> Option<Provider> {
        match s {
            "github" => Some(Provider::Github),
            "git" => Some(Provider::Git),
            "local" => Some(Provider::Local),
            _ => None,
        }
    }
}

/// A normalised repository location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositoryUrl {
    pub provider: Provider,
    /// Canonical form, used for duplicate detection.
    pub url: String,
    /// `owner/repo` for GitHub, `host/path` for other remotes, the directory for local paths.
    pub full_name: String,
}

impl RepositoryUrl {
    /// Accepts `https://github.com/owner/repo(.git)`, `git@github.com:owner/repo.git`, other
    /// `https://`, `http://`, `ssh://`, `git://` and `user@host:path` git remotes, and absolute
    /// local paths (or `file://` URLs) of existing directories.
    pub fn parse(input: &str) -> Result<RepositoryUrl, String> {
        let input = input.trim();
        if input.is_empty() {
            return Err("must not be empty".into());
        }
        if input.len() > 2048 {
            return Err("is longer than 2048 characters".into());
        }
        if let Some(path) = input.strip_prefix("file://") {
            return Self::local(path);
        }
        if input.starts_with('/') {
            return Self::local(input);
        }
        if let Some((user_host, path)) = scp_like(input) {
            let host = user_host.rsplit('@').next().unwrap_or(user_host);
            return Self::remote(host, path);
        }
        let parsed = url::Url::parse(input)
            .map_err(|e| format!("`{input}` is not a URL or absolute path: {e}"))?;
        if !matches!(parsed.scheme(), "https" | "http" | "ssh" | "git") {
            return Err(format!(
                "scheme `{}` is not supported (use https, ssh, git or a local path)",
                parsed.scheme()
            ));
        }
        if parsed.password().is_some()
            || (!parsed.username().is_empty() && parsed.scheme() != "ssh")
        {
            return Err("must not contain credentials; configure tokens instead".into());
        }
        let host = parsed
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or("has no host")?;
        let host = match parsed.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        Self::remote(&host, parsed.path())
    }

    fn local(path: &str) -> Result<RepositoryUrl, String> {
        let path = path.trim_end_matches('/');
        let path = if path.is_empty() { "/" } else { path };
        if !Path::new(path).is_absolute() {
            return Err(format!("local path `{path}` must be absolute"));
        }
        if !Path::new(path).is_dir() {
            return Err(format!("local path `{path}` is not a directory"));
        }
        Ok(RepositoryUrl {
            provider: Provider::Local,
            url: format!("file://{path}"),
            full_name: path.to_owned(),
        })
    }

    fn remote(host: &str, path: &str) -> Result<RepositoryUrl, String> {
        let host = host.to_ascii_lowercase();
        let path = path.trim_matches('/');
        let path = path
            .strip_suffix(".git")
            .unwrap_or(path)
            .trim_end_matches('/');
        if path.is_empty() {
            return Err("names no repository path".into());
        }
        if path
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == "..")
        {
            return Err(format!("repository path `{path}` is not valid"));
        }
        if host == "github.com" || host == "www.github.com" {
            let parts: Vec<&str> = path.split('/').collect();
            let [owner, repo] = parts.as_slice() else {
                return Err(format!("`{path}` is not a GitHub `owner/repository`"));
            };
            let full_name = format!(
                "{}/{}",
                owner.to_ascii_lowercase(),
                repo.to_ascii_lowercase()
            );
            return Ok(RepositoryUrl {
                provider: Provider::Github,
                url: format!("https://github.com/{full_name}"),
                full_name,
            });
        }
        Ok(RepositoryUrl {
            provider: Provider::Git,
            url: format!("https://{host}/{path}"),
            full_name: format!("{host}/{path}"),
        })
    }
}

/// `user@host:path` (scp-like git syntax), not a URL with a scheme.
fn scp_like(input: &str) -> Option<(&str, &str)> {
    if input.contains("://") {
        return None;
    }
    let (left, path) = input.split_once(':')?;
    if left.contains('/') || !left.contains('@') || path.is_empty() {
        return None;
    }
    Some((left, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_forms_normalise_to_one_url() {
        for input in [
            "https://github.com/Rust-Lang/Cargo",
            "https://github.com/rust-lang/cargo.git",
            "https://github.com/rust-lang/cargo/",
            "git@github.com:rust-lang/cargo.git",
        ] {
            let url = RepositoryUrl::parse(input).unwrap();
            assert_eq!(url.provider, Provider::Github, "{input}");
            assert_eq!(url.url, "https://github.com/rust-lang/cargo", "{input}");
            assert_eq!(url.full_name, "rust-lang/cargo");
        }
    }

    #[test]
    fn other_remotes_and_paths() {
        let url = RepositoryUrl::parse("https://gitlab.example.com/group/sub/proj.git").unwrap();
        assert_eq!(url.provider, Provider::Git);
        assert_eq!(url.url, "https://gitlab.example.com/group/sub/proj");
        let dir = std::env::temp_dir();
        let url = RepositoryUrl::parse(dir.to_str().unwrap()).unwrap();
        assert_eq!(url.provider, Provider::Local);
    }

    #[test]
    fn rejects_bad_input() {
        for input in [
            "",
            "relative/path",
            "ftp://host/x",
            "https://user:pw@github.com/a/b",
            "https://github.com/only-owner",
            "/definitely/not/a/dir/here",
        ] {
            assert!(RepositoryUrl::parse(input).is_err(), "{input}");
        }
    }
}
