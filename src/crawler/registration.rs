//! Registering a repository: check that it exists and can be read, record it with its default
//! branch, and queue its first crawl. Apart from the crawl itself so that the `crawl` job
//! ([`crate::jobs::crawl`]), which imports the crawler, is imported here and not by the crawler.
//!
//! A local path is resolved (symbolic links, `.`, `..`) before it is checked against the allowed
//! roots and before duplicate detection, so `/r/a/../b` is the repository `/r/b`. Why a
//! repository cannot be read goes to the log only: the caller learns that it cannot be read, not
//! whether a directory exists or what git said about a host or port.

use crate::forge::{Forge, ForgeError};
use crate::jobs::crawl::Crawl;
use crate::jobs::enqueue;
use crate::repository_url::{LocalPathError, RepositoryUrl};
use crate::services::Services;
use crate::store::StoreError;
use crate::store::repositories::Repository;

/// Why a repository could not be registered.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// Local paths are off on this server (no `local_repository_roots`).
    #[error("cannot read this repository: local paths are not enabled on this server")]
    LocalPathsDisabled,
    /// The repository does not exist, cannot be read, or is a local path outside the allowed
    /// roots; the detail is in the log.
    #[error("cannot read this repository")]
    Unreadable,
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
    let refused = |error: ForgeError| {
        tracing::warn!(team_id, url = %url.url, %error, "cannot register the repository");
        match error {
            ForgeError::LocalPath(LocalPathError::NotEnabled) => RegisterError::LocalPathsDisabled,
            _ => RegisterError::Unreadable,
        }
    };
    let url = url
        .confine(&services.config.local_repository_roots)
        .map_err(|e| refused(e.into()))?;
    let forge = Forge::locate(services.github.as_ref(), &services.config, &url).map_err(refused)?;
    let branch = forge.default_branch().await.map_err(refused)?;
    let store = &services.store;
    let repository = store.add_repository(team_id, &url, Some(&branch)).await?;
    enqueue(
        store,
        &Crawl {
            repository_id: repository.id,
        },
    )
    .await?;
    Ok(repository)
}
