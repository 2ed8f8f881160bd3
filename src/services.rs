//! The shared clients every job, API handler and delivery loop uses: the store, the configuration,
//! the GitHub client, the registry adapters and the secret box, built once per process from the
//! configuration.
//!
//! Invariant: this module imports none of the job, crawler, resolve, delivery or API modules;
//! they all import it (ARCHITECTURE.md, "Code map").

use std::sync::Arc;

use upkeep_resolvers::registry::Registries;

use crate::config::Config;
use crate::forge::github::GithubClient;
use crate::secret_box::{SecretBox, parse_key};
use crate::store::Store;

/// Everything a job may use; cheap to clone.
#[derive(Clone)]
pub struct Services {
    pub store: Store,
    pub config: Arc<Config>,
    pub github: Option<GithubClient>,
    pub registries: Arc<Registries>,
    /// Seals and opens stored webhook secrets (`secret_key`).
    pub secrets: SecretBox,
}

/// Why the shared clients could not be built from the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ServicesError {
    #[error("cannot build the registry HTTP client: {0}")]
    Http(#[source] upkeep_resolvers::http::HttpError),
    #[error("cannot build the GitHub client: {0}")]
    Github(#[source] crate::forge::github::GithubError),
}

impl Services {
    /// Build the shared clients from configuration.
    pub fn from_config(config: &Config, store: Store) -> Result<Services, ServicesError> {
        Ok(Services {
            store,
            config: Arc::new(config.clone()),
            github: github_client(config)?,
            registries: Arc::new(registries_from_config(config)?),
            secrets: secret_box(config),
        })
    }
}

/// The box of the configuration's `secret_key` (validated when the configuration loaded, so a
/// key that does not parse here cannot occur; without a key the box stores secrets unsealed).
fn secret_box(config: &Config) -> SecretBox {
    let key = config
        .secret_key
        .as_ref()
        .and_then(|text| parse_key(text.expose()).ok());
    SecretBox::new(key.as_ref())
}

/// The registry adapters of the service and of `upkeep scan`: base URL overrides from
/// `config.registries` (GitHub tags and releases default to `github_api_url`, so GitHub
/// Enterprise Server serves them too), the GitHub token, the persistent HTTP cache in
/// `config.cache_dir/http`, and `config.private_registries` exempt from the address guard
/// besides the registry base URLs.
pub fn registries_from_config(config: &Config) -> Result<Registries, ServicesError> {
    use upkeep_resolvers::http::{HttpClient, HttpConfig};
    use upkeep_resolvers::registry::RegistryConfig;

    let mut http = HttpConfig {
        cache_dir: Some(config.cache_dir.join("http")),
        per_host_concurrency: config.http_per_host_concurrency,
        ..HttpConfig::default()
    };
    for host in &config.private_registries {
        http = http.with_allowed_host(host);
    }
    let http = HttpClient::new(http).map_err(ServicesError::Http)?;
    let mut base_urls = config.registries.clone();
    base_urls
        .entry("github".to_owned())
        .or_insert_with(|| config.github_api_url.clone());
    Ok(Registries::new(
        http,
        RegistryConfig {
            base_urls,
            github_token: config.github_token.as_ref().map(|t| t.expose().to_owned()),
            ..RegistryConfig::default()
        },
    ))
}

/// The GitHub client when the configuration names credentials (anonymous access otherwise).
fn github_client(config: &Config) -> Result<Option<GithubClient>, ServicesError> {
    use crate::forge::github::{GithubAuth, GithubConfig};

    let auth = match (
        &config.github_token,
        config.github_app_id,
        &config.github_app_private_key,
    ) {
        (_, Some(app_id), Some(key)) => GithubAuth::App {
            app_id,
            private_key: key.clone(),
        },
        (Some(token), _, _) => GithubAuth::Token(token.clone()),
        _ => GithubAuth::Anonymous,
    };
    GithubClient::new(GithubConfig {
        api_url: config.github_api_url.clone(),
        auth,
    })
    .map(Some)
    .map_err(ServicesError::Github)
}
