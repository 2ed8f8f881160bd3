//! Registering a repository: check that it exists and can be read, record it with its default
//! branch, and queue its first crawl. Apart from the crawl itself so that the `crawl` job
//! ([`crate::jobs::crawl`]), which imports the crawler, is imported here and not by the crawler.

use crate::jobs::crawl::Crawl;
use crate::jobs::enqueue;
use crate::repository_url::RepositoryUrl;
use crate::services::Services;
use crate::store::StoreError;
use crate::store::repositories::Repository;

/// Why a repository could not be registered.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// The repository does not exist or cannot be read (the message says why).
    #[error("{0}")]
    Unreachable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Register a repository for a team after checking it exists, record its default branch, and queue
/// its first crawl.
pub async fn register(
    services: &Services,
    team_id: i64,
    url: &RepositoryUrl,
) -> Result<Repository, RegisterError> {
    let branch = super::source::check_repository(services, url.provider, &url.full_name, &url.url)
        .await
        .map_err(RegisterError::Unreachable)?;
    let store = &services.store;
    let repository = store.add_repository(team_id, url, Some(&branch)).await?;
    enqueue(
        store,
        &Crawl {
            repository_id: repository.id,
        },
    )
    .await?;
    Ok(repository)
}
