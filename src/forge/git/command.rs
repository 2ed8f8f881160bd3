//! Running the `git` command line safely.
//!
//! Every call runs `git` directly (never through a shell), with a time limit, without a terminal
//! prompt (`GIT_TERMINAL_PROMPT=0`, no askpass program, ssh in batch mode), with only the
//! transports a remote's [`GitAccess`] allows (`GIT_ALLOW_PROTOCOL`), and with `--` before
//! user-supplied locations so they can never be read as options. Credentials reach git through
//! the environment (`GIT_CONFIG_COUNT` / `GIT_CONFIG_KEY_n` / `GIT_CONFIG_VALUE_n`, `GIT_SSH_COMMAND`),
//! never through the command line, where other users of the machine could read them.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use base64::Engine;
use tokio::process::Command;

use upkeep_resolvers::http::address_guard::is_public_ip;

use crate::config::Secret;

/// A git call that failed: what was run and what git said.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("git {command}: {message}")]
pub struct GitError {
    pub command: String,
    pub message: String,
}

pub(super) fn git_error(command: &str, message: impl Into<String>) -> GitError {
    GitError {
        command: command.to_owned(),
        message: message.into(),
    }
}

/// What git may do to reach one remote: the transports it may use, the configuration it gets
/// (for example an `http.extraHeader` carrying a credential) and the ssh command it runs.
#[derive(Debug, Clone)]
pub struct GitAccess {
    /// `GIT_ALLOW_PROTOCOL`: colon-separated transports.
    protocols: &'static str,
    /// Configuration entries given through the environment; values may be credentials.
    config: Vec<(String, Secret)>,
    /// `GIT_SSH_COMMAND` (run by git through a shell: every part is quoted by whoever builds it).
    ssh_command: String,
    /// The remote host, when it must be on public addresses only: checked before every call
    /// (and, for `https`, git is pinned to the address checked).
    public_only: Option<RemoteHost>,
}

/// The host and port of a remote that the address guard checks.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RemoteHost {
    /// As written in the URL (IPv6 literals without brackets).
    host: String,
    port: u16,
}

/// ssh never prompts (for a passphrase, a password or an unknown host key).
const BATCH_MODE: &str = "-o BatchMode=yes";
/// The ssh command of remotes that do not use ssh.
const SSH_BATCH: &str = "ssh -o BatchMode=yes";

impl GitAccess {
    /// Only the local `file` transport (local repositories, and the cache repositories).
    pub fn local() -> GitAccess {
        GitAccess {
            protocols: "file",
            config: Vec::new(),
            ssh_command: SSH_BATCH.to_owned(),
            public_only: None,
        }
    }

    /// Only `https`, with `config` entries (credentials) given to git.
    pub fn https(config: Vec<(String, Secret)>) -> GitAccess {
        GitAccess {
            protocols: "https",
            config,
            ssh_command: SSH_BATCH.to_owned(),
            public_only: None,
        }
    }

    /// Only `ssh`, run as `ssh_command`.
    pub fn ssh(ssh_command: String) -> GitAccess {
        GitAccess {
            protocols: "ssh",
            config: Vec::new(),
            ssh_command,
            public_only: None,
        }
    }

    /// The access of a remote `url` (`https://` or `ssh://`, as [`crate::repository_url`]
    /// normalises them): for `https://`, the host's credential from `https_credentials`
    /// (`host` or `host:port` → `user:token`) as an HTTP Basic `Authorization` header scoped to
    /// that host, with redirects off so that it never reaches another; for `ssh://`, the
    /// operator's `ssh_command` in batch mode. Unless the host is named in `private_hosts` or
    /// has a credential (both written `host` or `host:port`), it must resolve to public
    /// addresses only, as hosts taken from manifests must ([`is_public_ip`]): a team cannot make
    /// the server read a git server on its own network.
    pub fn for_remote(
        url: &str,
        https_credentials: &BTreeMap<String, Secret>,
        ssh_command: &str,
        private_hosts: &[String],
    ) -> Result<GitAccess, GitError> {
        let (mut access, default_port) = if let Some(rest) = url.strip_prefix("https://") {
            let host = authority(rest).to_ascii_lowercase();
            let mut config = vec![("http.followRedirects".to_owned(), Secret::new("false"))];
            if let Some(credential) = https_credentials.get(&host) {
                let basic = base64::engine::general_purpose::STANDARD.encode(credential.expose());
                config.insert(
                    0,
                    (
                        format!("http.https://{host}/.extraHeader"),
                        Secret::new(format!("Authorization: Basic {basic}")),
                    ),
                );
            }
            (GitAccess::https(config), 443)
        } else if url.starts_with("ssh://") {
            (GitAccess::ssh(format!("{ssh_command} {BATCH_MODE}")), 22)
        } else {
            return Err(git_error(
                "remote",
                "only https:// and ssh:// remotes are supported",
            ));
        };
        let rest = url.split_once("://").map_or("", |(_, rest)| rest);
        let remote = remote_host(authority(rest), default_port)
            .ok_or_else(|| git_error("remote", "the remote names no host"))?;
        let named = |entry: &String| {
            let entry = entry.trim_start_matches('[').replace("]:", ":");
            let entry = entry.trim_end_matches(']');
            entry == remote.host || entry == format!("{}:{}", remote.host, remote.port)
        };
        let exempt = private_hosts.iter().any(named)
            || (access.protocols == "https" && https_credentials.keys().any(named));
        if !exempt {
            access.public_only = Some(remote);
        }
        Ok(access)
    }

    /// Check the remote's addresses (when it must be public) and, for `https`, pin git to the
    /// address checked so that a second DNS answer cannot point it elsewhere.
    async fn checked(&self) -> Result<Vec<(String, Secret)>, GitError> {
        let mut config = self.config.clone();
        let Some(remote) = &self.public_only else {
            return Ok(config);
        };
        let refused = || git_error("remote", format!("{} is not reachable", remote.host));
        let addresses: Vec<std::net::SocketAddr> = tokio::time::timeout(
            Duration::from_secs(10),
            tokio::net::lookup_host((remote.host.as_str(), remote.port)),
        )
        .await
        .map_err(|_| refused())?
        .map_err(|_| refused())?
        .collect();
        if addresses.is_empty() || addresses.iter().any(|a| !is_public_ip(a.ip())) {
            tracing::warn!(host = %remote.host, "git remote refused: not a public address");
            return Err(refused());
        }
        if self.protocols == "https" {
            let pinned = match addresses[0].ip() {
                std::net::IpAddr::V4(ip) => ip.to_string(),
                std::net::IpAddr::V6(ip) => format!("[{ip}]"),
            };
            config.push((
                "http.curloptResolve".to_owned(),
                Secret::new(format!("{}:{}:{pinned}", remote.host, remote.port)),
            ));
        }
        Ok(config)
    }
}

/// The authority part (`user@host:port`) of what follows `scheme://`.
fn authority(rest: &str) -> &str {
    rest.split('/').next().unwrap_or_default()
}

/// Host and port of an authority, without user and brackets; `None` without a host.
fn remote_host(authority: &str, default_port: u16) -> Option<RemoteHost> {
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = if let Some(rest) = host_port.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        (host, after.strip_prefix(':'))
    } else {
        match host_port.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    if host.is_empty() {
        return None;
    }
    let port = match port {
        Some(port) => port.parse().ok()?,
        None => default_port,
    };
    Some(RemoteHost {
        host: host.to_ascii_lowercase(),
        port,
    })
}

/// Run `git args...` (in `dir` when given) and return its standard output.
pub(super) async fn git(
    dir: Option<&Path>,
    args: &[&str],
    access: &GitAccess,
    limit: Duration,
) -> Result<Vec<u8>, GitError> {
    let name = args.first().copied().unwrap_or("git");
    let config = access.checked().await?;
    let mut command = Command::new("git");
    if let Some(dir) = dir {
        command.arg("-C").arg(dir);
    }
    command
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_ASKPASS", "")
        .env("SSH_ASKPASS", "")
        .env("GIT_SSH_COMMAND", &access.ssh_command)
        .env("GIT_ALLOW_PROTOCOL", access.protocols)
        .env("GIT_CONFIG_COUNT", config.len().to_string())
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (index, (key, value)) in config.iter().enumerate() {
        command
            .env(format!("GIT_CONFIG_KEY_{index}"), key)
            .env(format!("GIT_CONFIG_VALUE_{index}"), value.expose());
    }
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

/// A full git object id (SHA-1 or SHA-256).
pub fn is_object_id(s: &str) -> bool {
    matches!(s.len(), 40 | 64) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_go_to_their_host_only() {
        let credentials =
            BTreeMap::from([("git.example.com:8443".to_owned(), Secret::new("bot:s3cret"))]);
        let access =
            GitAccess::for_remote("https://git.example.com:8443/a/b", &credentials, "ssh", &[])
                .unwrap();
        assert_eq!(access.protocols, "https");
        assert_eq!(access.config.len(), 2);
        assert_eq!(
            access.config[0].0,
            "http.https://git.example.com:8443/.extraHeader"
        );
        assert_eq!(
            access.config[0].1.expose(),
            "Authorization: Basic Ym90OnMzY3JldA=="
        );
        assert_eq!(access.config[1].0, "http.followRedirects");
        assert!(!format!("{access:?}").contains("Ym90OnMzY3JldA"));
        let other =
            GitAccess::for_remote("https://git.example.com/a/b", &credentials, "ssh", &[]).unwrap();
        assert_eq!(other.config.len(), 1, "no credential, redirects still off");
        assert_eq!(other.config[0].0, "http.followRedirects");
    }

    #[test]
    fn ssh_runs_the_configured_command_in_batch_mode() {
        let access = GitAccess::for_remote(
            "ssh://git@git.example.com/a/b",
            &BTreeMap::new(),
            "ssh -i /keys/upkeep",
            &[],
        )
        .unwrap();
        assert_eq!(access.protocols, "ssh");
        assert_eq!(access.ssh_command, "ssh -i /keys/upkeep -o BatchMode=yes");
        assert!(GitAccess::for_remote("git://h/a", &BTreeMap::new(), "ssh", &[]).is_err());
        assert!(GitAccess::for_remote("http://h/a", &BTreeMap::new(), "ssh", &[]).is_err());
    }

    #[test]
    fn remote_hosts_and_ports() {
        let host = |authority: &str, port| remote_host(authority, port).map(|r| (r.host, r.port));
        assert_eq!(
            host("git@Example.com", 22),
            Some(("example.com".into(), 22))
        );
        assert_eq!(host("h:8443", 443), Some(("h".into(), 8443)));
        assert_eq!(host("[::1]:2222", 22), Some(("::1".into(), 2222)));
        assert_eq!(host("u@[fd00::1]", 443), Some(("fd00::1".into(), 443)));
        assert_eq!(host("", 443), None);
        assert_eq!(host("h:port", 443), None);
    }

    #[tokio::test]
    async fn remotes_on_private_addresses_are_refused_unless_named() {
        let none = BTreeMap::new();
        for url in [
            "https://127.0.0.1:9/a/b",
            "https://localhost/a/b",
            "ssh://git@10.1.2.3/a/b",
            "ssh://git@[::1]:22/a/b",
            "https://169.254.169.254/latest",
        ] {
            let access = GitAccess::for_remote(url, &none, "ssh", &[]).unwrap();
            let err = access.checked().await.unwrap_err();
            assert!(err.message.ends_with("is not reachable"), "{url}: {err}");
            assert!(!err.message.contains("refused"), "generic: {err}");
        }
        // Named by the operator (as a host, or host:port), or carrying a configured credential.
        let named = ["git.internal".to_owned(), "10.1.2.3:2222".to_owned()];
        for url in ["https://git.internal/a", "ssh://git@10.1.2.3:2222/a"] {
            let access = GitAccess::for_remote(url, &none, "ssh", &named).unwrap();
            assert!(access.public_only.is_none(), "{url}");
        }
        let ssh_other_port = GitAccess::for_remote("ssh://git@10.1.2.3/a", &none, "ssh", &named);
        assert!(ssh_other_port.unwrap().public_only.is_some());
        let credentials = BTreeMap::from([("127.0.0.1:8443".to_owned(), Secret::new("u:t"))]);
        let access =
            GitAccess::for_remote("https://127.0.0.1:8443/a", &credentials, "ssh", &[]).unwrap();
        assert!(access.checked().await.is_ok());
    }

    #[tokio::test]
    async fn public_https_remotes_are_pinned_to_the_address_checked() {
        let access =
            GitAccess::for_remote("https://93.184.215.14/a/b", &BTreeMap::new(), "ssh", &[])
                .unwrap();
        let config = access.checked().await.unwrap();
        let pin = config
            .iter()
            .find(|(key, _)| key == "http.curloptResolve")
            .unwrap();
        assert_eq!(pin.1.expose(), "93.184.215.14:443:93.184.215.14");
    }

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
