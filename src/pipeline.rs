//! The service pipeline (DESIGN §2): the job kinds and what runs them.
//!
//! | job kind | payload | handler |
//! |---|---|---|
//! | `crawl` | `{"repository_id"}` | [`crate::crawler::crawl`] |
//! | `resolve_package` | `{"package_id"}` | [`crate::resolve::resolve_package`] |
//! | `recommend_repository` | `{"repository_id", "dependency_ids"}` | [`crate::resolve::recommend_repository`] |
//! | `deliver_webhook` | `{"delivery_id"}` | [`crate::delivery::webhooks::deliver`] |

use std::sync::Arc;

use upkeep_resolvers::registry::Registries;

use crate::config::Config;
use crate::github::GithubClient;
use crate::jobs::Handlers;
use crate::store::Store;

/// Everything a job handler may use.
#[derive(Clone)]
pub struct Services {
    pub store: Store,
    pub config: Arc<Config>,
    pub github: Option<GithubClient>,
    pub registries: Arc<Registries>,
    /// Seals and opens stored webhook secrets (`secret_key`).
    pub secrets: crate::secret_box::SecretBox,
}

fn id(payload: &serde_json::Value, key: &str) -> Result<i64, String> {
    payload[key]
        .as_i64()
        .ok_or_else(|| format!("job payload has no integer `{key}`: {payload}"))
}

/// The handlers of every job kind.
pub fn handlers(services: &Services) -> Handlers {
    let crawl = services.clone();
    let deliver_webhook = services.clone();
    let resolve = services.clone();
    let recommend = services.clone();
    Handlers::new()
        .on(crate::crawler::CRAWL, move |payload| {
            let services = crawl.clone();
            async move { crate::crawler::crawl(&services, id(&payload, "repository_id")?).await }
        })
        .on(crate::delivery::webhooks::JOB_KIND, move |payload| {
            let services = deliver_webhook.clone();
            async move {
                crate::delivery::webhooks::deliver(&services, id(&payload, "delivery_id")?).await
            }
        })
        .on(crate::resolve::RESOLVE_PACKAGE, move |payload| {
            let services = resolve.clone();
            async move {
                crate::resolve::resolve_package(&services, id(&payload, "package_id")?).await
            }
        })
        .on(crate::resolve::RECOMMEND_REPOSITORY, move |payload| {
            let services = recommend.clone();
            async move { crate::resolve::recommend_repository_job(&services, &payload).await }
        })
}

impl Services {
    /// Build the shared clients from configuration.
    pub fn from_config(config: &Config, store: Store) -> Result<Services, String> {
        Ok(Services {
            store,
            config: Arc::new(config.clone()),
            github: github_client(config)?,
            registries: Arc::new(registries_from_config(config)?),
            secrets: crate::secret_box::SecretBox::from_config(config),
        })
    }
}

/// The registry adapters of the service and of `upkeep scan`: base URL overrides from
/// `config.registries` (GitHub tags and releases default to `github_api_url`, so GitHub
/// Enterprise Server serves them too), the GitHub token, and the persistent HTTP cache in
/// `config.cache_dir/http`.
pub fn registries_from_config(config: &Config) -> Result<Registries, String> {
    use upkeep_resolvers::http::{HttpClient, HttpConfig};
    use upkeep_resolvers::registry::RegistryConfig;

    let http = HttpClient::new(HttpConfig {
        cache_dir: Some(config.cache_dir.join("http")),
        per_host_concurrency: config.http_per_host_concurrency,
        ..HttpConfig::default()
    })
    .map_err(|e| format!("cannot build the registry HTTP client: {e}"))?;
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
fn github_client(config: &Config) -> Result<Option<GithubClient>, String> {
    use crate::github::{GithubAuth, GithubConfig};

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
    .map_err(|e| format!("cannot build the GitHub client: {e}"))
}
