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

/// Why a local path may not be registered or read. The path itself is never part of the message:
/// whether a directory exists is nobody's business but the operator's (the caller logs it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocalPathError {
    /// No `local_repository_roots` are configured.
    #[error("local paths are not enabled on this server")]
    NotEnabled,
    /// The path does not exist, cannot be resolved, or resolves outside every allowed root.
    #[error("the path is not inside an allowed directory")]
    OutsideRoots,
}

/// Why a text is not a repository location upkeep accepts; the message completes the sentence
/// "the URL …" (it names the problem, never a host's or a path's state on this server).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidRepositoryUrl(pub String);

impl From<&str> for InvalidRepositoryUrl {
    fn from(message: &str) -> Self {
        InvalidRepositoryUrl(message.to_owned())
    }
}

impl From<String> for InvalidRepositoryUrl {
    fn from(message: String) -> Self {
        InvalidRepositoryUrl(message)
    }
}

impl RepositoryUrl {
    /// Accepts `https://github.com/owner/repo(.git)` and `git@github.com:owner/repo.git` (read
    /// through the GitHub API), other `https://` and `ssh://` git remotes and scp-style
    /// `user@host:path` remotes (kept as `ssh://user@host/path`), and absolute local paths or
    /// `file://` URLs. Local paths are only parsed here: [`RepositoryUrl::confine`] resolves them
    /// and checks them against the allowed roots. Other schemes (`http://`, `git://`, …) are
    /// refused: they carry neither integrity nor authentication.
    pub fn parse(input: &str) -> Result<RepositoryUrl, InvalidRepositoryUrl> {
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
            let (user, host) = match user_host.rsplit_once('@') {
                Some((user, host)) => (Some(user), host),
                None => (None, user_host),
            };
            return Self::remote(Scheme::Ssh, user, host, path);
        }
        let parsed = url::Url::parse(input)
            .map_err(|e| format!("`{input}` is not a URL or absolute path: {e}"))?;
        let scheme = match parsed.scheme() {
            "https" => Scheme::Https,
            "ssh" => Scheme::Ssh,
            other => {
                return Err(InvalidRepositoryUrl(format!(
                    "scheme `{other}` is not supported (use https://, ssh://, user@host:path or a local path)"
                )));
            }
        };
        if parsed.password().is_some() || (!parsed.username().is_empty() && scheme != Scheme::Ssh) {
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
        let user = Some(parsed.username()).filter(|u| !u.is_empty());
        Self::remote(scheme, user, &host, parsed.path())
    }

    /// A local path, resolved (symbolic links, `.` and `..`) and checked to lie inside one of
    /// `roots` (which must be resolved already). Other locations are returned unchanged.
    pub fn confine(&self, roots: &[std::path::PathBuf]) -> Result<RepositoryUrl, LocalPathError> {
        if self.provider != Provider::Local {
            return Ok(self.clone());
        }
        if roots.is_empty() {
            return Err(LocalPathError::NotEnabled);
        }
        let resolved =
            std::fs::canonicalize(&self.full_name).map_err(|_| LocalPathError::OutsideRoots)?;
        if !resolved.is_dir() || !roots.iter().any(|root| resolved.starts_with(root)) {
            return Err(LocalPathError::OutsideRoots);
        }
        let path = resolved.to_str().ok_or(LocalPathError::OutsideRoots)?;
        Ok(RepositoryUrl {
            provider: Provider::Local,
            url: format!("file://{path}"),
            full_name: path.to_owned(),
        })
    }

    fn local(path: &str) -> Result<RepositoryUrl, InvalidRepositoryUrl> {
        let path = path.trim_end_matches('/');
        let path = if path.is_empty() { "/" } else { path };
        if !Path::new(path).is_absolute() {
            return Err(InvalidRepositoryUrl(format!(
                "local path `{path}` must be absolute"
            )));
        }
        Ok(RepositoryUrl {
            provider: Provider::Local,
            url: format!("file://{path}"),
            full_name: path.to_owned(),
        })
    }

    fn remote(
        scheme: Scheme,
        user: Option<&str>,
        host: &str,
        path: &str,
    ) -> Result<RepositoryUrl, InvalidRepositoryUrl> {
        let host = host.to_ascii_lowercase();
        if host.is_empty() || host.starts_with('-') || !host.bytes().all(host_byte) {
            return Err(InvalidRepositoryUrl(format!("host `{host}` is not valid")));
        }
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
            .any(|part| part.is_empty() || part == "." || part == ".." || part.starts_with('-'))
        {
            return Err(InvalidRepositoryUrl(format!(
                "repository path `{path}` is not valid"
            )));
        }
        if host == "github.com" || host == "www.github.com" {
            let parts: Vec<&str> = path.split('/').collect();
            let [owner, repo] = parts.as_slice() else {
                return Err(InvalidRepositoryUrl(format!(
                    "`{path}` is not a GitHub `owner/repository`"
                )));
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
        let url = match (scheme, user) {
            (Scheme::Https, _) => format!("https://{host}/{path}"),
            (Scheme::Ssh, None) => format!("ssh://{host}/{path}"),
            (Scheme::Ssh, Some(user)) => {
                if user.starts_with('-')
                    || !user
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
                {
                    return Err(InvalidRepositoryUrl(format!(
                        "user name `{user}` is not valid"
                    )));
                }
                format!("ssh://{user}@{host}/{path}")
            }
        };
        Ok(RepositoryUrl {
            provider: Provider::Git,
            url,
            full_name: format!("{host}/{path}"),
        })
    }
}

/// The transports a remote may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Https,
    Ssh,
}

/// Letters, digits, `.`, `-`, a port's `:` and an IPv6 literal's brackets.
fn host_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']')
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
    fn ssh_remotes_keep_their_scheme() {
        for (input, expected) in [
            (
                "ssh://git@git.example.com:2222/group/proj.git",
                "ssh://git@git.example.com:2222/group/proj",
            ),
            (
                "git@git.example.com:group/proj.git",
                "ssh://git@git.example.com/group/proj",
            ),
            (
                "ssh://git.example.com/srv/proj",
                "ssh://git.example.com/srv/proj",
            ),
        ] {
            let url = RepositoryUrl::parse(input).unwrap();
            assert_eq!(url.provider, Provider::Git, "{input}");
            assert_eq!(url.url, expected, "{input}");
        }
    }

    #[test]
    fn insecure_schemes_are_refused_with_a_reason() {
        for input in [
            "http://git.example.com/a/b",
            "git://git.example.com/a/b",
            "ftp://host/x",
        ] {
            let error = RepositoryUrl::parse(input).unwrap_err();
            assert!(error.0.contains("not supported"), "{input}: {error}");
            assert!(error.0.contains("https://"), "{input}: {error}");
        }
        for input in [
            "ssh://-oProxyCommand=x/a/b",
            "-x@host:a/b",
            "ssh://git@host/-a/b",
        ] {
            assert!(RepositoryUrl::parse(input).is_err(), "{input}");
        }
    }

    #[test]
    fn local_paths_resolve_inside_the_roots_only() {
        let root = tempfile::tempdir().unwrap();
        let root_path = std::fs::canonicalize(root.path()).unwrap();
        std::fs::create_dir_all(root_path.join("a")).unwrap();
        std::fs::create_dir_all(root_path.join("b")).unwrap();
        let roots = vec![root_path.clone()];
        let parse =
            |path: std::path::PathBuf| RepositoryUrl::parse(path.to_str().unwrap()).unwrap();
        let direct = parse(root_path.join("b")).confine(&roots).unwrap();
        let dotted = parse(root_path.join("a/../b")).confine(&roots).unwrap();
        assert_eq!(direct, dotted);
        assert_eq!(
            parse(root_path.join("a/.")).confine(&roots).unwrap().url,
            format!("file://{}", root_path.join("a").display())
        );
        assert_eq!(
            parse(root_path.join("..")).confine(&roots),
            Err(LocalPathError::OutsideRoots)
        );
        assert_eq!(
            parse(root_path.join("absent")).confine(&roots),
            Err(LocalPathError::OutsideRoots)
        );
        assert_eq!(
            parse(root_path.join("b")).confine(&[]),
            Err(LocalPathError::NotEnabled)
        );
    }

    #[test]
    fn rejects_bad_input() {
        for input in [
            "",
            "relative/path",
            "ftp://host/x",
            "https://user:pw@github.com/a/b",
            "https://github.com/only-owner",
            "./relative",
        ] {
            assert!(RepositoryUrl::parse(input).is_err(), "{input}");
        }
    }
}
