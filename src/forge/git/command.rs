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
        }
    }

    /// Only `https`, with `config` entries (credentials) given to git.
    pub fn https(config: Vec<(String, Secret)>) -> GitAccess {
        GitAccess {
            protocols: "https",
            config,
            ssh_command: SSH_BATCH.to_owned(),
        }
    }

    /// Only `ssh`, run as `ssh_command`.
    pub fn ssh(ssh_command: String) -> GitAccess {
        GitAccess {
            protocols: "ssh",
            config: Vec::new(),
            ssh_command,
        }
    }

    /// The access of a remote `url` (`https://` or `ssh://`, as [`crate::repository_url`]
    /// normalises them): for `https://`, the host's credential from `https_credentials`
    /// (`host` or `host:port` → `user:token`) as an HTTP Basic `Authorization` header scoped to
    /// that host, with redirects off so that it never reaches another; for `ssh://`, the
    /// operator's `ssh_command` in batch mode.
    pub fn for_remote(
        url: &str,
        https_credentials: &BTreeMap<String, Secret>,
        ssh_command: &str,
    ) -> Result<GitAccess, GitError> {
        if let Some(rest) = url.strip_prefix("https://") {
            let host = rest
                .split('/')
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase();
            let Some(credential) = https_credentials.get(&host) else {
                return Ok(GitAccess::https(Vec::new()));
            };
            let basic = base64::engine::general_purpose::STANDARD.encode(credential.expose());
            return Ok(GitAccess::https(vec![
                (
                    format!("http.https://{host}/.extraHeader"),
                    Secret::new(format!("Authorization: Basic {basic}")),
                ),
                ("http.followRedirects".to_owned(), Secret::new("false")),
            ]));
        }
        if url.starts_with("ssh://") {
            return Ok(GitAccess::ssh(format!("{ssh_command} {BATCH_MODE}")));
        }
        Err(git_error(
            "remote",
            "only https:// and ssh:// remotes are supported",
        ))
    }
}

/// Run `git args...` (in `dir` when given) and return its standard output.
pub(super) async fn git(
    dir: Option<&Path>,
    args: &[&str],
    access: &GitAccess,
    limit: Duration,
) -> Result<Vec<u8>, GitError> {
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
        .env("GIT_SSH_COMMAND", &access.ssh_command)
        .env("GIT_ALLOW_PROTOCOL", access.protocols)
        .env("GIT_CONFIG_COUNT", access.config.len().to_string())
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (index, (key, value)) in access.config.iter().enumerate() {
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
            GitAccess::for_remote("https://git.example.com:8443/a/b", &credentials, "ssh").unwrap();
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
            GitAccess::for_remote("https://git.example.com/a/b", &credentials, "ssh").unwrap();
        assert!(other.config.is_empty());
    }

    #[test]
    fn ssh_runs_the_configured_command_in_batch_mode() {
        let access = GitAccess::for_remote(
            "ssh://git@git.example.com/a/b",
            &BTreeMap::new(),
            "ssh -i /keys/upkeep",
        )
        .unwrap();
        assert_eq!(access.protocols, "ssh");
        assert_eq!(access.ssh_command, "ssh -i /keys/upkeep -o BatchMode=yes");
        assert!(GitAccess::for_remote("git://h/a", &BTreeMap::new(), "ssh").is_err());
        assert!(GitAccess::for_remote("http://h/a", &BTreeMap::new(), "ssh").is_err());
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
