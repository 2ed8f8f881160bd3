//! Configuration: built-in defaults → optional TOML file (`--config FILE` or `UPKEEP_CONFIG`) →
//! environment (`UPKEEP_<KEY>`). Every key is declared once in [`KEYS`]; the README's table lists
//! the same keys (a test checks it). A bad value is a [`ConfigError`] naming the key.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// A secret value (tokens, keys): never printed by `Debug` or `Display`. The same type the
/// registry credentials use.
pub use upkeep_resolvers::http::Secret;

/// One configuration key: its TOML name (`UPKEEP_` + upper case in the environment), its default
/// and what it means.
pub struct Key {
    pub name: &'static str,
    pub default: Option<&'static str>,
    pub help: &'static str,
}

/// Every configuration key.
pub const KEYS: &[Key] = &[
    Key {
        name: "database_url",
        default: Some("sqlite://upkeep.db?mode=rwc"),
        help: "Database: `sqlite://FILE?mode=rwc` (embedded, created on first start) or `postgres://user@host/db`.",
    },
    Key {
        name: "database_max_connections",
        default: None,
        help: "Connections the workers, scheduler and delivery loops of one process (and the other commands) open to the database at most; `serve` opens `database_api_connections` more for the API. Default: 8 on SQLite, 16 on PostgreSQL.",
    },
    Key {
        name: "database_api_connections",
        default: None,
        help: "Connections `serve` opens for API requests, besides the workers' `database_max_connections`. Default: 8 on SQLite, 16 on PostgreSQL.",
    },
    Key {
        name: "database_api_acquire_timeout_ms",
        default: Some("2000"),
        help: "How long an API request waits for a free database connection before it answers 503 with `Retry-After`.",
    },
    Key {
        name: "listen",
        default: Some("127.0.0.1:8080"),
        help: "Address the HTTP API listens on.",
    },
    Key {
        name: "secret_key",
        default: None,
        help: "32-byte key (64 hex characters or base64) that seals outgoing webhook secrets in the database with AES-256-GCM. Without it they are stored unsealed (a warning at start). Secret.",
    },
    Key {
        name: "admin_token",
        default: None,
        help: "Bootstrap admin bearer token: may create teams and team tokens through the API. Secret.",
    },
    Key {
        name: "log_format",
        default: Some("text"),
        help: "Log format: `text` or `json`.",
    },
    Key {
        name: "log_level",
        default: Some("info,sqlx=warn"),
        help: "Log filter, `tracing` env-filter syntax (`info`, `upkeep=debug,sqlx=warn`).",
    },
    Key {
        name: "workers",
        default: Some("4"),
        help: "Jobs one process runs at once (`serve` and `worker`).",
    },
    Key {
        name: "job_lease_seconds",
        default: Some("300"),
        help: "How long a claimed job stays leased to its worker before another worker may take it over.",
    },
    Key {
        name: "job_poll_ms",
        default: Some("500"),
        help: "How often an idle worker polls the queue.",
    },
    Key {
        name: "job_max_attempts",
        default: Some("5"),
        help: "Attempts before a failing job ends in the `failed` state.",
    },
    Key {
        name: "cache_dir",
        default: Some(".upkeep-cache"),
        help: "Directory for the registry HTTP cache and git checkouts.",
    },
    Key {
        name: "http_per_host_concurrency",
        default: Some("16"),
        help: "Registry requests one process keeps in flight to one host at once.",
    },
    Key {
        name: "local_repository_roots",
        default: None,
        help: "Directories under which local git repositories (absolute paths, `file://` URLs) may be registered and read: a TOML list, or in the environment separated as `PATH` is (`:` on Unix). Paths are resolved (symbolic links, `..`) before the check. Unset: local paths are refused.",
    },
    Key {
        name: "git_https_credentials",
        default: None,
        help: "Credentials for `https://` git remotes, one `host=user:token` entry per host (`host:port` when not 443): a TOML list, or in the environment separated by spaces. Sent as HTTP Basic authentication to that host only, never after a redirect. Secret.",
    },
    Key {
        name: "git_ssh_command",
        default: Some("ssh"),
        help: "The command git runs to reach `ssh://` and `user@host:path` remotes (as `GIT_SSH_COMMAND`, so it may name a key and a known-hosts file: `ssh -i /etc/upkeep/id_ed25519 -o UserKnownHostsFile=/etc/upkeep/known_hosts`). upkeep adds `-o BatchMode=yes`: hosts must be known and keys need no passphrase.",
    },
    Key {
        name: "github_api_url",
        default: Some("https://api.github.com"),
        help: "GitHub REST API base URL (GitHub Enterprise Server: `https://HOST/api/v3`).",
    },
    Key {
        name: "github_token",
        default: None,
        help: "GitHub personal access token. Secret.",
    },
    Key {
        name: "github_app_id",
        default: None,
        help: "GitHub App id (use with `github_app_private_key`).",
    },
    Key {
        name: "github_app_private_key",
        default: None,
        help: "GitHub App private key: PEM text or a path to a PEM file. Secret.",
    },
    Key {
        name: "github_webhook_secret",
        default: None,
        help: "Secret for verifying `X-Hub-Signature-256` on `POST /webhooks/github`. Secret.",
    },
    Key {
        name: "crawl_interval_seconds",
        default: Some("3600"),
        help: "Recrawl every repository this often, besides webhooks.",
    },
    Key {
        name: "release_ttl_seconds",
        default: Some("3600"),
        help: "A package's cached release list is looked up again when older than this: by the scheduler (every minute), and when a crawl touches the package.",
    },
    Key {
        name: "nats_url",
        default: None,
        help: "Publish every event to NATS JetStream at this URL (`nats://host:4222`).",
    },
    Key {
        name: "private_registries",
        default: None,
        help: "Comma-separated hosts (`host` or `host:port`) of private registries that manifests may name (image registries, module hosts, repositories). Only they and the registry base URLs may be reached on loopback or private addresses; every other host a manifest names must resolve to a public address.",
    },
    Key {
        name: "git_private_hosts",
        default: None,
        help: "Comma-separated hosts (`host` or `host:port`) of git servers on loopback or private addresses that `https://` and `ssh://` remotes may name (an on-premises GitLab, say). Hosts with `git_https_credentials` count as named. Every other remote host must resolve to public addresses only; git is pinned to the address checked and follows no redirect.",
    },
    Key {
        name: "webhook_allow_private_targets",
        default: Some("false"),
        help: "Allow outgoing webhook subscriptions to loopback/private addresses (tests, on-premises receivers).",
    },
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    pub database_max_connections: Option<u32>,
    pub database_api_connections: Option<u32>,
    pub database_api_acquire_timeout_ms: u64,
    pub listen: SocketAddr,
    pub admin_token: Option<Secret>,
    /// Validated by [`crate::secret_box::parse_key`].
    pub secret_key: Option<Secret>,
    pub log_format: LogFormat,
    pub log_level: String,
    pub workers: usize,
    pub job_lease_seconds: u64,
    pub job_poll_ms: u64,
    pub job_max_attempts: u32,
    pub cache_dir: PathBuf,
    pub http_per_host_concurrency: usize,
    /// Resolved directories under which local repositories may be registered; empty: none.
    pub local_repository_roots: Vec<PathBuf>,
    /// Host (`host` or `host:port`, lower case) → `user:token` for `https://` git remotes.
    pub git_https_credentials: BTreeMap<String, Secret>,
    /// `GIT_SSH_COMMAND` for ssh remotes (before `-o BatchMode=yes`).
    pub git_ssh_command: String,
    /// `UPKEEP_REGISTRY_<KEY>` / `[registry] key = "url"`: registry base URL overrides.
    pub registries: BTreeMap<String, String>,
    pub github_api_url: String,
    pub github_token: Option<Secret>,
    pub github_app_id: Option<u64>,
    pub github_app_private_key: Option<Secret>,
    pub github_webhook_secret: Option<Secret>,
    pub crawl_interval_seconds: u64,
    pub release_ttl_seconds: u64,
    pub nats_url: Option<String>,
    /// `private_registries`: hosts (`host` or `host:port`) exempt from the address guard.
    pub private_registries: Vec<String>,
    /// `git_private_hosts`: git remote hosts (`host` or `host:port`) that may be on loopback or
    /// private addresses.
    pub git_private_hosts: Vec<String>,
    pub webhook_allow_private_targets: bool,
}

/// A configuration problem: which key, what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {key}: {message}")]
pub struct ConfigError {
    pub key: String,
    pub message: String,
}

impl ConfigError {
    fn new(key: &str, message: impl Into<String>) -> Self {
        ConfigError {
            key: env_name(key),
            message: message.into(),
        }
    }
}

/// The environment variable for key `name`.
pub fn env_name(name: &str) -> String {
    format!("UPKEEP_{}", name.to_ascii_uppercase())
}

impl Config {
    /// Load from the optional file and the process environment.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let env: BTreeMap<String, String> = std::env::vars()
            .filter(|(k, _)| k.starts_with("UPKEEP_"))
            .collect();
        let file = file
            .map(Path::to_path_buf)
            .or_else(|| env.get("UPKEEP_CONFIG").map(PathBuf::from));
        let text = match &file {
            Some(path) => Some(std::fs::read_to_string(path).map_err(|e| ConfigError {
                key: "UPKEEP_CONFIG".into(),
                message: format!("cannot read {}: {e}", path.display()),
            })?),
            None => None,
        };
        Config::from_sources(text.as_deref(), &env)
    }

    /// Layer defaults, the TOML text and the environment map (`UPKEEP_*` variables).
    pub fn from_sources(
        toml_text: Option<&str>,
        env: &BTreeMap<String, String>,
    ) -> Result<Config, ConfigError> {
        let mut values: BTreeMap<String, String> = KEYS
            .iter()
            .filter_map(|k| k.default.map(|d| (k.name.to_owned(), d.to_owned())))
            .collect();
        let mut registries = BTreeMap::new();
        if let Some(text) = toml_text {
            let table: toml::Table = toml::from_str(text).map_err(|e| ConfigError {
                key: "UPKEEP_CONFIG".into(),
                message: format!("not valid TOML: {}", e.message()),
            })?;
            for (key, value) in table {
                if key == "registry" {
                    let Some(map) = value.as_table() else {
                        return Err(ConfigError::new(
                            "registry",
                            "must be a table of `key = \"url\"`",
                        ));
                    };
                    for (name, url) in map {
                        let Some(url) = url.as_str() else {
                            return Err(ConfigError::new(
                                &format!("registry_{name}"),
                                "must be a string URL",
                            ));
                        };
                        registries.insert(name.to_ascii_lowercase(), url.to_owned());
                    }
                    continue;
                }
                if !KEYS.iter().any(|k| k.name == key) {
                    return Err(ConfigError {
                        key: key.clone(),
                        message: "unknown configuration key in the config file".into(),
                    });
                }
                let text = match value {
                    toml::Value::String(s) => s,
                    toml::Value::Integer(i) => i.to_string(),
                    toml::Value::Boolean(b) => b.to_string(),
                    toml::Value::Array(items) if LIST_KEYS.contains(&key.as_str()) => {
                        list_text(&key, &items)?
                    }
                    other => {
                        return Err(ConfigError::new(
                            &key,
                            format!("expected a string or number, found {}", other.type_str()),
                        ));
                    }
                };
                values.insert(key, text);
            }
        }
        for (var, value) in env {
            let Some(rest) = var.strip_prefix("UPKEEP_") else {
                continue;
            };
            let key = rest.to_ascii_lowercase();
            if let Some(registry) = key.strip_prefix("registry_") {
                registries.insert(registry.to_owned(), value.clone());
            } else if KEYS.iter().any(|k| k.name == key) {
                values.insert(key, value.clone());
            }
        }
        Config::validate(&values, registries)
    }

    /// Check every value and build the configuration, one key (or one concern) per step.
    fn validate(
        values: &BTreeMap<String, String>,
        registries: BTreeMap<String, String>,
    ) -> Result<Config, ConfigError> {
        let values = Values(values);
        Ok(Config {
            database_url: database_url(&values)?,
            listen: listen(&values)?,
            admin_token: admin_token(&values)?,
            secret_key: secret_key(&values)?,
            log_format: log_format(&values)?,
            log_level: log_level(&values)?,
            registries: registry_urls(registries)?,
            local_repository_roots: local_repository_roots(&values)?,
            git_https_credentials: git_https_credentials(&values)?,
            git_ssh_command: values.required("git_ssh_command")?,
            database_max_connections: values
                .optional_number("database_max_connections", 1, 1000)?
                .map(|n| u32::try_from(n).unwrap_or(1000)),
            database_api_connections: values
                .optional_number("database_api_connections", 1, 1000)?
                .map(|n| u32::try_from(n).unwrap_or(1000)),
            database_api_acquire_timeout_ms: values.number(
                "database_api_acquire_timeout_ms",
                1,
                60_000,
            )?,
            workers: usize::try_from(values.number("workers", 1, 256)?).unwrap_or(1),
            job_lease_seconds: values.number("job_lease_seconds", 1, 86_400)?,
            job_poll_ms: values.number("job_poll_ms", 10, 60_000)?,
            job_max_attempts: u32::try_from(values.number("job_max_attempts", 1, 100)?)
                .unwrap_or(1),
            cache_dir: PathBuf::from(values.required("cache_dir")?),
            http_per_host_concurrency: usize::try_from(values.number(
                "http_per_host_concurrency",
                1,
                1024,
            )?)
            .unwrap_or(1),
            github_api_url: github_api_url(&values)?,
            github_token: values.get("github_token").map(Secret::new),
            github_app_id: github_app_id(&values)?,
            github_app_private_key: values.get("github_app_private_key").map(Secret::new),
            github_webhook_secret: values.get("github_webhook_secret").map(Secret::new),
            crawl_interval_seconds: values.number("crawl_interval_seconds", 10, 7 * 86_400)?,
            release_ttl_seconds: values.number("release_ttl_seconds", 0, 7 * 86_400)?,
            nats_url: nats_url(&values)?,
            private_registries: host_list(
                "private_registries",
                values.get("private_registries").as_deref(),
            )?,
            git_private_hosts: host_list(
                "git_private_hosts",
                values.get("git_private_hosts").as_deref(),
            )?,
            webhook_allow_private_targets: values.boolean("webhook_allow_private_targets")?,
        })
    }
}

/// Keys whose value is a list: a TOML array, or one string in the environment (separated as
/// `PATH` is for paths, by spaces otherwise).
const LIST_KEYS: &[&str] = &["local_repository_roots", "git_https_credentials"];

/// A TOML array of strings as the environment would spell it.
fn list_text(key: &str, items: &[toml::Value]) -> Result<String, ConfigError> {
    let strings = items
        .iter()
        .map(|item| {
            item.as_str()
                .ok_or_else(|| ConfigError::new(key, "must be a list of strings"))
        })
        .collect::<Result<Vec<&str>, ConfigError>>()?;
    if key == "local_repository_roots" {
        let joined =
            std::env::join_paths(&strings).map_err(|e| ConfigError::new(key, e.to_string()))?;
        return joined
            .into_string()
            .map_err(|_| ConfigError::new(key, "must be UTF-8"));
    }
    if strings.iter().any(|s| s.contains(char::is_whitespace)) {
        return Err(ConfigError::new(key, "entries must not contain spaces"));
    }
    Ok(strings.join(" "))
}

/// The layered values by key, read as the types the keys hold.
struct Values<'a>(&'a BTreeMap<String, String>);

impl Values<'_> {
    /// The trimmed value; an empty value counts as unset.
    fn get(&self, key: &str) -> Option<String> {
        self.0
            .get(key)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    fn required(&self, key: &str) -> Result<String, ConfigError> {
        self.get(key)
            .ok_or_else(|| ConfigError::new(key, "must not be empty"))
    }

    /// A whole number in `min..=max`.
    fn number(&self, key: &str, min: u64, max: u64) -> Result<u64, ConfigError> {
        let text = self.required(key)?;
        let n: u64 = text
            .parse()
            .map_err(|_| ConfigError::new(key, format!("`{text}` is not a whole number")))?;
        if n < min || n > max {
            return Err(ConfigError::new(
                key,
                format!("{n} is outside {min}..={max}"),
            ));
        }
        Ok(n)
    }

    /// [`Values::number`] when the key is set.
    fn optional_number(&self, key: &str, min: u64, max: u64) -> Result<Option<u64>, ConfigError> {
        match self.get(key) {
            Some(_) => self.number(key, min, max).map(Some),
            None => Ok(None),
        }
    }

    /// `true`/`1`/`yes` or `false`/`0`/`no`.
    fn boolean(&self, key: &str) -> Result<bool, ConfigError> {
        match self.required(key)?.as_str() {
            "true" | "1" | "yes" => Ok(true),
            "false" | "0" | "no" => Ok(false),
            other => Err(ConfigError::new(
                key,
                format!("`{other}` is not true or false"),
            )),
        }
    }
}

fn database_url(values: &Values) -> Result<String, ConfigError> {
    let database_url = values.required("database_url")?;
    crate::store::DatabaseUrl::parse(&database_url)
        .map_err(|e| ConfigError::new("database_url", e.0))?;
    Ok(database_url)
}

fn listen(values: &Values) -> Result<SocketAddr, ConfigError> {
    let text = values.required("listen")?;
    text.parse().map_err(|_| {
        ConfigError::new(
            "listen",
            format!("`{text}` is not an address like 127.0.0.1:8080"),
        )
    })
}

fn admin_token(values: &Values) -> Result<Option<Secret>, ConfigError> {
    match values.get("admin_token") {
        Some(t) if t.len() < 16 => Err(ConfigError::new(
            "admin_token",
            "must be at least 16 characters",
        )),
        token => Ok(token.map(Secret::new)),
    }
}

fn secret_key(values: &Values) -> Result<Option<Secret>, ConfigError> {
    let Some(key) = values.get("secret_key") else {
        return Ok(None);
    };
    crate::secret_box::parse_key(&key)
        .map_err(|problem| ConfigError::new("secret_key", problem.0))?;
    Ok(Some(Secret::new(key)))
}

fn log_format(values: &Values) -> Result<LogFormat, ConfigError> {
    match values.required("log_format")?.as_str() {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        other => Err(ConfigError::new(
            "log_format",
            format!("`{other}` is not `text` or `json`"),
        )),
    }
}

fn log_level(values: &Values) -> Result<String, ConfigError> {
    let log_level = values.required("log_level")?;
    tracing_subscriber::EnvFilter::try_new(&log_level)
        .map_err(|e| ConfigError::new("log_level", format!("`{log_level}`: {e}")))?;
    Ok(log_level)
}

/// Registry base URL overrides: http(s) URLs.
fn registry_urls(
    registries: BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, ConfigError> {
    for (name, url) in &registries {
        let parsed = url::Url::parse(url)
            .map_err(|e| ConfigError::new(&format!("registry_{name}"), format!("`{url}`: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(ConfigError::new(
                &format!("registry_{name}"),
                "must be an http(s) URL",
            ));
        }
    }
    Ok(registries)
}

/// Every root absolute and resolved (so that a repository path resolved the same way can be
/// compared with it).
fn local_repository_roots(values: &Values) -> Result<Vec<PathBuf>, ConfigError> {
    let key = "local_repository_roots";
    let Some(text) = values.get(key) else {
        return Ok(Vec::new());
    };
    std::env::split_paths(&text)
        .filter(|root| !root.as_os_str().is_empty())
        .map(|root| {
            if !root.is_absolute() {
                return Err(ConfigError::new(
                    key,
                    format!("`{}` is not an absolute path", root.display()),
                ));
            }
            let resolved = std::fs::canonicalize(&root).map_err(|e| {
                ConfigError::new(key, format!("`{}`: {}", root.display(), e.kind()))
            })?;
            if !resolved.is_dir() {
                return Err(ConfigError::new(
                    key,
                    format!("`{}` is not a directory", root.display()),
                ));
            }
            Ok(resolved)
        })
        .collect()
}

/// `host=user:token` entries; the secret part is never echoed in an error.
fn git_https_credentials(values: &Values) -> Result<BTreeMap<String, Secret>, ConfigError> {
    let key = "git_https_credentials";
    let mut credentials = BTreeMap::new();
    for (index, entry) in values
        .get(key)
        .unwrap_or_default()
        .split_whitespace()
        .enumerate()
    {
        let problem = |what: &str| ConfigError::new(key, format!("entry {}: {what}", index + 1));
        let (host, user_token) = entry
            .split_once('=')
            .ok_or_else(|| problem("is not `host=user:token`"))?;
        let host = host.trim().to_ascii_lowercase();
        if host.is_empty()
            || !host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
        {
            return Err(problem("the host is not a host name"));
        }
        match user_token.split_once(':') {
            Some((user, token)) if !user.is_empty() && !token.is_empty() => {}
            _ => return Err(problem("the credential is not `user:token`")),
        }
        credentials.insert(host, Secret::new(user_token.to_owned()));
    }
    Ok(credentials)
}

fn github_api_url(values: &Values) -> Result<String, ConfigError> {
    let url = values.required("github_api_url")?;
    url::Url::parse(&url)
        .map_err(|e| ConfigError::new("github_api_url", format!("`{url}`: {e}")))?;
    Ok(url)
}

fn github_app_id(values: &Values) -> Result<Option<u64>, ConfigError> {
    values
        .get("github_app_id")
        .map(|id| {
            id.parse()
                .map_err(|_| ConfigError::new("github_app_id", format!("`{id}` is not a number")))
        })
        .transpose()
}

fn nats_url(values: &Values) -> Result<Option<String>, ConfigError> {
    match values.get("nats_url") {
        Some(url) if !url.starts_with("nats://") && !url.starts_with("tls://") => Err(
            ConfigError::new("nats_url", format!("`{url}` is not a nats:// URL")),
        ),
        other => Ok(other),
    }
}

/// A list of hosts (`private_registries`, `git_private_hosts`): comma-separated `host` or
/// `host:port` entries, lower-cased.
fn host_list(key: &'static str, text: Option<&str>) -> Result<Vec<String>, ConfigError> {
    let mut hosts = Vec::new();
    for entry in text.unwrap_or_default().split(',').map(str::trim) {
        if entry.is_empty() {
            continue;
        }
        let parsed = url::Url::parse(&format!("http://{entry}/"));
        let plain = parsed.as_ref().is_ok_and(|url| {
            url.path() == "/"
                && url.username().is_empty()
                && url.password().is_none()
                && url.query().is_none()
                && url.host_str().is_some()
        });
        if !plain {
            return Err(ConfigError::new(
                key,
                format!("`{entry}` is not a host or host:port"),
            ));
        }
        hosts.push(entry.to_ascii_lowercase());
    }
    Ok(hosts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_need_no_configuration() {
        let config = Config::from_sources(None, &BTreeMap::new()).unwrap();
        assert_eq!(config.database_url, "sqlite://upkeep.db?mode=rwc");
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert!(config.admin_token.is_none());
    }

    #[test]
    fn environment_overrides_file_overrides_defaults() {
        let file =
            "listen = \"127.0.0.1:9000\"\nworkers = 8\n[registry]\nnpm = \"http://127.0.0.1:1/\"\n";
        let config = Config::from_sources(Some(file), &env(&[("UPKEEP_WORKERS", "2")])).unwrap();
        assert_eq!(config.listen.port(), 9000);
        assert_eq!(config.workers, 2);
        assert_eq!(config.registries["npm"], "http://127.0.0.1:1/");
    }

    #[test]
    fn bad_values_name_the_key() {
        let err =
            Config::from_sources(None, &env(&[("UPKEEP_DATABASE_URL", "mysql:/x")])).unwrap_err();
        assert_eq!(err.key, "UPKEEP_DATABASE_URL");
        let err = Config::from_sources(None, &env(&[("UPKEEP_WORKERS", "many")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid configuration: UPKEEP_WORKERS: `many` is not a whole number"
        );
        let err = Config::from_sources(Some("nope = 1"), &BTreeMap::new()).unwrap_err();
        assert_eq!(err.key, "nope");
        let err = Config::from_sources(None, &env(&[("UPKEEP_LOG_FORMAT", "xml")])).unwrap_err();
        assert_eq!(err.key, "UPKEEP_LOG_FORMAT");
    }

    #[test]
    fn private_registries_are_hosts() {
        let config = Config::from_sources(
            None,
            &env(&[(
                "UPKEEP_PRIVATE_REGISTRIES",
                " Registry.Internal:5000, 10.0.0.7 ,[fd00::1]:443,",
            )]),
        )
        .unwrap();
        assert_eq!(
            config.private_registries,
            ["registry.internal:5000", "10.0.0.7", "[fd00::1]:443"]
        );
        for bad in ["https://registry.internal", "host/path", "user@host", "a b"] {
            let err = Config::from_sources(None, &env(&[("UPKEEP_PRIVATE_REGISTRIES", bad)]))
                .unwrap_err();
            assert_eq!(err.key, "UPKEEP_PRIVATE_REGISTRIES", "{bad}");
        }
    }

    #[test]
    fn the_readme_documents_every_key() {
        let readme = include_str!("../README.md");
        for key in KEYS {
            let row = format!("| `{}` | `{}` |", env_name(key.name), key.name);
            assert!(
                readme.contains(&row),
                "README's configuration table lacks {row}"
            );
        }
    }

    #[test]
    fn secrets_never_print() {
        let config = Config::from_sources(
            None,
            &env(&[("UPKEEP_ADMIN_TOKEN", "super-secret-admin-token")]),
        )
        .unwrap();
        let printed = format!("{config:?}");
        assert!(!printed.contains("super-secret"), "{printed}");
    }

    #[test]
    fn secret_key_is_32_bytes_and_never_echoed() {
        let key = "9f".repeat(32);
        let config = Config::from_sources(None, &env(&[("UPKEEP_SECRET_KEY", &key)])).unwrap();
        assert!(!format!("{config:?}").contains(&key));
        let error = Config::from_sources(
            None,
            &env(&[("UPKEEP_SECRET_KEY", "not-a-key-but-secret-text")]),
        )
        .unwrap_err();
        assert_eq!(error.key, "UPKEEP_SECRET_KEY");
        assert!(!error.to_string().contains("secret-text"), "{error}");
    }

    #[test]
    fn local_roots_come_as_a_list_or_as_a_path_list() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let resolved = |dir: &tempfile::TempDir| std::fs::canonicalize(dir.path()).unwrap();
        let file = format!(
            "local_repository_roots = [\"{}\", \"{}\"]\n",
            a.path().display(),
            b.path().display()
        );
        let config = Config::from_sources(Some(&file), &BTreeMap::new()).unwrap();
        assert_eq!(
            config.local_repository_roots,
            vec![resolved(&a), resolved(&b)]
        );
        let joined = std::env::join_paths([a.path(), b.path()]).unwrap();
        let config = Config::from_sources(
            None,
            &env(&[("UPKEEP_LOCAL_REPOSITORY_ROOTS", joined.to_str().unwrap())]),
        )
        .unwrap();
        assert_eq!(
            config.local_repository_roots,
            vec![resolved(&a), resolved(&b)]
        );
        assert!(
            Config::from_sources(None, &BTreeMap::new())
                .unwrap()
                .local_repository_roots
                .is_empty()
        );
        for bad in ["relative/dir", "/definitely/absent/upkeep-root"] {
            let error = Config::from_sources(None, &env(&[("UPKEEP_LOCAL_REPOSITORY_ROOTS", bad)]))
                .unwrap_err();
            assert_eq!(error.key, "UPKEEP_LOCAL_REPOSITORY_ROOTS", "{bad}");
        }
    }

    #[test]
    fn git_https_credentials_are_per_host_and_never_echoed() {
        let file =
            "git_https_credentials = [\"Git.Example.com=bot:tok-en-1\", \"h:8443=u:tok-en-2\"]\n";
        let config = Config::from_sources(Some(file), &BTreeMap::new()).unwrap();
        assert_eq!(
            config.git_https_credentials["git.example.com"].expose(),
            "bot:tok-en-1"
        );
        assert_eq!(
            config.git_https_credentials["h:8443"].expose(),
            "u:tok-en-2"
        );
        assert!(!format!("{config:?}").contains("tok-en"));
        let error = Config::from_sources(
            None,
            &env(&[("UPKEEP_GIT_HTTPS_CREDENTIALS", "host-only-tok-en")]),
        )
        .unwrap_err();
        assert_eq!(error.key, "UPKEEP_GIT_HTTPS_CREDENTIALS");
        assert!(!error.to_string().contains("tok-en"), "{error}");
    }
}
