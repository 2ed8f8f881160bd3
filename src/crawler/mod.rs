//! Crawling a repository: lease → head → the stages of [`stages`] (select files, extract or reuse,
//! read the policy file, key dependencies, count warnings, commit), all of the writing in one
//! transaction.
//!
//! Invariants:
//! - One crawl of a repository at a time across every worker process: a crawl lease on the
//!   repository row (`crawl_locked_by` / `crawl_locked_until`, taken by one conditional update and
//!   re-checked inside the writing transaction). A crawl that finds the lease taken ends `Busy`;
//!   its `crawl` job queues itself again a few seconds later.
//! - An unchanged head ends the crawl: GitHub answers `304` to the stored `ETag`; git answers one
//!   `ls-remote`. Nothing else is requested, nothing is emitted, only `last_crawled_at` moves.
//! - Only blobs whose id changed since the last crawl are read; every manifest's extraction is
//!   stored, so pairing with lockfiles works over all manifests without reading them again.
//! - A repository's changes, the `resolve_package` / `recommend_repository` jobs they call for,
//!   and their events commit in one transaction, events last.
//! - A malformed or oversized manifest is a warning on that manifest, never a failed crawl.
//! - A failed crawl says whether trying again can help ([`CrawlError::is_permanent`]).

use tracing::info;

use crate::events::CrawlPayload;
use crate::forge::{Forge, ForgeError, Head};
use crate::services::Services;
use crate::store::StoreError;
use crate::store::repositories::Repository;

pub mod reconcile;
pub mod registration;
mod stages;

/// The repository policy file, read from the repository root.
pub use crate::policy::POLICY_FILE;
/// The `manager` column of the policy file's row in `manifests` (it carries its warnings).
pub const POLICY_MANAGER: &str = "upkeep";

/// How a crawl ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrawlStatus {
    /// The repository is no longer registered.
    Gone,
    /// Another crawl of the repository holds the lease; a new crawl job was queued.
    Busy,
    /// The default branch did not move.
    Unchanged,
    /// A new commit was read and reconciled.
    Completed,
}

/// What one crawl did.
#[derive(Debug, Clone)]
pub struct CrawlOutcome {
    pub status: CrawlStatus,
    pub crawl_id: Option<i64>,
    pub commit: Option<String>,
    /// Blobs read from the forge (each one request for GitHub).
    pub blobs_read: u64,
    /// Git fetches made (0 when `ls-remote` showed the head unchanged).
    pub fetches: u64,
    pub dependencies_added: usize,
    pub dependencies_changed: usize,
    pub dependencies_removed: usize,
    /// Ids of added or changed dependencies (handed to `recommend_repository`).
    pub dependency_ids: Vec<i64>,
}

impl CrawlOutcome {
    fn new(status: CrawlStatus) -> Self {
        CrawlOutcome {
            status,
            crawl_id: None,
            commit: None,
            blobs_read: 0,
            fetches: 0,
            dependencies_added: 0,
            dependencies_changed: 0,
            dependencies_removed: 0,
            dependency_ids: Vec::new(),
        }
    }
}

/// Why a crawl failed.
#[derive(Debug, thiserror::Error)]
pub enum CrawlError {
    /// The forge could not answer (the repository is gone, the network, a rate limit, git).
    #[error(transparent)]
    Forge(#[from] ForgeError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An extraction or policy could not be encoded for storage.
    #[error(transparent)]
    Encode(#[from] serde_json::Error),
    /// The repository row vanished while the crawl held its lease.
    #[error("repository {0} disappeared")]
    Disappeared(i64),
    /// The crawl took too long: its lease expired and another crawl took over.
    #[error("the crawl lease expired and another crawl took over")]
    LeaseLost,
}

impl CrawlError {
    /// When crawling again can help and not before (a GitHub rate limit's reset).
    pub fn retry_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        match self {
            CrawlError::Forge(error) => error.retry_at(),
            _ => None,
        }
    }

    /// `true` when crawling again cannot help (the repository is gone from its forge, or empty).
    pub fn is_permanent(&self) -> bool {
        match self {
            CrawlError::Forge(error) => error.is_permanent(),
            CrawlError::Store(_)
            | CrawlError::Encode(_)
            | CrawlError::Disappeared(_)
            | CrawlError::LeaseLost => false,
        }
    }
}

/// Crawl one repository (see the module notes); `Err` is a failed crawl (recorded with a
/// `crawl_failed` event).
pub async fn crawl_repository(
    services: &Services,
    repository_id: i64,
) -> Result<CrawlOutcome, CrawlError> {
    let store = &services.store;
    let Some(repository) = store.repository(repository_id).await? else {
        return Ok(CrawlOutcome::new(CrawlStatus::Gone));
    };
    let holder = format!("crawl-{}", uuid::Uuid::new_v4().simple());
    let lease_ms = lease_ms(services);
    if !store
        .try_lease_crawl(repository_id, &holder, lease_ms)
        .await?
    {
        // The `crawl` job queues itself again.
        return Ok(CrawlOutcome::new(CrawlStatus::Busy));
    }
    let result = match store.start_crawl(repository_id).await {
        Ok(crawl_id) => run(services, &repository, crawl_id, &holder, lease_ms)
            .await
            .map_err(|error| (Some(crawl_id), error)),
        Err(e) => Err((None, CrawlError::from(e))),
    };
    if let Err(error) = store.release_crawl(repository_id, &holder).await {
        tracing::warn!(repository_id, %error, "releasing the crawl lease failed; it will expire");
    }
    match result {
        Ok(outcome) => {
            record_success(repository_id, &outcome);
            Ok(outcome)
        }
        Err((crawl_id, error)) => {
            metrics::counter!("upkeep_crawls_total", "outcome" => "failed").increment(1);
            if let Some(crawl_id) = crawl_id {
                record_failure(services, &repository, crawl_id, &error).await;
            }
            Err(error)
        }
    }
}

fn lease_ms(services: &Services) -> i64 {
    crate::store::duration_ms(std::time::Duration::from_secs(
        services.config.job_lease_seconds,
    ))
}

fn record_success(repository_id: i64, outcome: &CrawlOutcome) {
    metrics::counter!("upkeep_crawls_total", "outcome" => match outcome.status {
        CrawlStatus::Unchanged => "unchanged",
        _ => "completed",
    })
    .increment(1);
    if outcome.status == CrawlStatus::Completed {
        info!(
            repository_id,
            added = outcome.dependencies_added,
            changed = outcome.dependencies_changed,
            removed = outcome.dependencies_removed,
            blobs = outcome.blobs_read,
            "crawl completed"
        );
    }
}

/// The failed crawl's row and its `crawl_failed` event.
async fn record_failure(
    services: &Services,
    repository: &Repository,
    crawl_id: i64,
    error: &CrawlError,
) {
    let payload = CrawlPayload {
        repository_id: repository.id,
        crawl_id,
        commit: None,
        manifests_read: 0,
        dependencies_added: 0,
        dependencies_changed: 0,
        dependencies_removed: 0,
        warnings: 0,
        error: Some(error.to_string()),
    };
    if let Err(e) = services
        .store
        .fail_crawl(repository.team_id, crawl_id, payload)
        .await
    {
        tracing::warn!(repository_id = repository.id, error = %e, "recording a failed crawl failed");
    }
}

/// The crawl proper, with the lease held: head, then the stages.
async fn run(
    services: &Services,
    repository: &Repository,
    crawl_id: i64,
    holder: &str,
    lease_ms: i64,
) -> Result<CrawlOutcome, CrawlError> {
    let store = &services.store;
    let id = repository.id;
    let state = store
        .crawl_state(id)
        .await?
        .ok_or(CrawlError::Disappeared(id))?;
    let forge = Forge::for_repository(services.github.as_ref(), &services.config, repository)?;
    let branch = match &repository.default_branch {
        Some(branch) => branch.clone(),
        None => forge.default_branch().await?,
    };
    let head = forge
        .head(
            &branch,
            state.head_etag.as_deref(),
            state.head_commit.as_deref(),
        )
        .await?;
    let (commit, etag) = match head {
        Head::Unchanged { etag } => {
            store
                .finish_unchanged_crawl(id, crawl_id, etag.as_deref())
                .await?;
            let mut outcome = CrawlOutcome::new(CrawlStatus::Unchanged);
            outcome.crawl_id = Some(crawl_id);
            outcome.commit = state.head_commit;
            outcome.fetches = forge.fetches();
            return Ok(outcome);
        }
        Head::Changed { commit, etag } => (commit, etag),
    };

    let selected = stages::select_files(forge.tree(&commit).await?);
    let stored = store.manifests_of(id).await?;
    let mut read = stages::extract_or_reuse(&forge, &selected.manifests, &stored).await?;
    let new_policy = stages::read_policy_file(
        &forge,
        selected.policy_file.as_ref(),
        &stored,
        &state.policy,
        &mut read,
    )
    .await?;
    let dependencies = stages::key_dependencies(read.extractions);
    let warnings = stages::count_warnings(&read.manifests);
    let changes = stages::commit(
        services,
        repository,
        stages::Crawled {
            crawl_id,
            holder,
            lease_ms,
            branch: &branch,
            commit: &commit,
            etag: etag.as_deref(),
            stored: &stored,
            manifests: &read.manifests,
            manifests_read: read.manifests_read,
            dependencies: &dependencies,
            new_policy: new_policy.as_deref(),
            warnings,
            blobs_read: forge.blob_reads(),
        },
    )
    .await?;

    Ok(CrawlOutcome {
        status: CrawlStatus::Completed,
        crawl_id: Some(crawl_id),
        commit: Some(commit),
        blobs_read: forge.blob_reads(),
        fetches: forge.fetches(),
        dependencies_added: changes.added.len(),
        dependencies_changed: changes.changed.len(),
        dependencies_removed: changes.removed.len(),
        dependency_ids: changes
            .added
            .iter()
            .chain(&changes.changed)
            .map(|d| d.id)
            .collect(),
    })
}
