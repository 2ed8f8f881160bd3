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

    fn validate(
        values: &BTreeMap<String, String>,
        registries: BTreeMap<String, String>,
    ) -> Result<Config, ConfigError> {
        let get = |key: &str| {
            values
                .get(key)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let required =
            |key: &str| get(key).ok_or_else(|| ConfigError::new(key, "must not be empty"));
        let number = |key: &str, min: u64, max: u64| -> Result<u64, ConfigError> {
            let text = required(key)?;
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
        };

        let database_url = required("database_url")?;
        crate::store::DatabaseUrl::parse(&database_url)
            .map_err(|e| ConfigError::new("database_url", e))?;
        let listen_text = required("listen")?;
        let listen = listen_text.parse().map_err(|_| {
            ConfigError::new(
                "listen",
                format!("`{listen_text}` is not an address like 127.0.0.1:8080"),
            )
        })?;
        let admin_token = match get("admin_token") {
            Some(t) if t.len() < 16 => {
                return Err(ConfigError::new(
                    "admin_token",
                    "must be at least 16 characters",
                ));
            }
            Some(t) => Some(Secret::new(t)),
            None => None,
        };
        let secret_key = match get("secret_key") {
            Some(key) => {
                crate::secret_box::parse_key(&key)
                    .map_err(|problem| ConfigError::new("secret_key", problem))?;
                Some(Secret::new(key))
            }
            None => None,
        };
        let log_format = match required("log_format")?.as_str() {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => {
                return Err(ConfigError::new(
                    "log_format",
                    format!("`{other}` is not `text` or `json`"),
                ));
            }
        };
        let log_level = required("log_level")?;
        tracing_subscriber::EnvFilter::try_new(&log_level)
            .map_err(|e| ConfigError::new("log_level", format!("`{log_level}`: {e}")))?;
        for (name, url) in &registries {
            let parsed = url::Url::parse(url).map_err(|e| {
                ConfigError::new(&format!("registry_{name}"), format!("`{url}`: {e}"))
            })?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(ConfigError::new(
                    &format!("registry_{name}"),
                    "must be an http(s) URL",
                ));
            }
        }
        Ok(Config {
            database_url,
            database_max_connections: match get("database_max_connections") {
                Some(_) => Some(
                    u32::try_from(number("database_max_connections", 1, 1000)?).unwrap_or(1000),
                ),
                None => None,
            },
            database_api_connections: match get("database_api_connections") {
                Some(_) => Some(
                    u32::try_from(number("database_api_connections", 1, 1000)?).unwrap_or(1000),
                ),
                None => None,
            },
            database_api_acquire_timeout_ms: number("database_api_acquire_timeout_ms", 1, 60_000)?,
            listen,
            admin_token,
            secret_key,
            log_format,
            log_level,
            workers: usize::try_from(number("workers", 1, 256)?).unwrap_or(1),
            job_lease_seconds: number("job_lease_seconds", 1, 86_400)?,
            job_poll_ms: number("job_poll_ms", 10, 60_000)?,
            job_max_attempts: u32::try_from(number("job_max_attempts", 1, 100)?).unwrap_or(1),
            cache_dir: PathBuf::from(required("cache_dir")?),
            http_per_host_concurrency: usize::try_from(number(
                "http_per_host_concurrency",
                1,
                1024,
            )?)
            .unwrap_or(1),
            registries,
            github_api_url: {
                let url = required("github_api_url")?;
                url::Url::parse(&url)
                    .map_err(|e| ConfigError::new("github_api_url", format!("`{url}`: {e}")))?;
                url
            },
            github_token: get("github_token").map(Secret::new),
            github_app_id: match get("github_app_id") {
                Some(id) => Some(id.parse().map_err(|_| {
                    ConfigError::new("github_app_id", format!("`{id}` is not a number"))
                })?),
                None => None,
            },
            github_app_private_key: get("github_app_private_key").map(Secret::new),
            github_webhook_secret: get("github_webhook_secret").map(Secret::new),
            crawl_interval_seconds: number("crawl_interval_seconds", 10, 7 * 86_400)?,
            release_ttl_seconds: number("release_ttl_seconds", 0, 7 * 86_400)?,
            nats_url: match get("nats_url") {
                Some(url) if !url.starts_with("nats://") && !url.starts_with("tls://") => {
                    return Err(ConfigError::new(
                        "nats_url",
                        format!("`{url}` is not a nats:// URL"),
                    ));
                }
                other => other,
            },
            private_registries: private_registries(get("private_registries").as_deref())?,
            webhook_allow_private_targets: match required("webhook_allow_private_targets")?.as_str()
            {
                "true" | "1" | "yes" => true,
                "false" | "0" | "no" => false,
                other => {
                    return Err(ConfigError::new(
                        "webhook_allow_private_targets",
                        format!("`{other}` is not true or false"),
                    ));
                }
            },
        })
    }
}

/// The `private_registries` list: comma-separated `host` or `host:port` entries, lower-cased.
fn private_registries(text: Option<&str>) -> Result<Vec<String>, ConfigError> {
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
                "private_registries",
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
}
