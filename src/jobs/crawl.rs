//! The `crawl` job: crawl one repository ([`crate::crawler::crawl_repository`]). Payload
//! `{"repository_id"}`; one pending crawl per repository (`repository:{id}`). A crawl that finds
//! another crawl holding the repository's lease queues itself again a few seconds later.
//!
//! Failures: a failed crawl is recorded with its `crawl_failed` event each time. A repository gone
//! from its forge (GitHub 404 or 410) or without commits (an empty GitHub repository) gives up at
//! once with the reason on the job. An exhausted GitHub rate limit puts the job off until the
//! limit's reset, without counting the attempt; other failures (network, 5xx, git, the database)
//! are retried with backoff. A repository unregistered meanwhile ends the job successfully.

use serde::{Deserialize, Serialize};

use super::{Job, JobError, Placement, enqueue_placed};
use crate::crawler::{CrawlStatus, crawl_repository};
use crate::services::Services;
use crate::store::now_ms;

/// How long a crawl that found the lease taken waits before trying again.
pub const BUSY_RETRY_MS: i64 = 5_000;

/// Priority of a crawl someone asked for (a push, the API, the CLI); scheduled crawls run at 0.
pub const URGENT_CRAWL_PRIORITY: i64 = 100;

/// Queue a crawl of `repository_id` at `priority`. A pending crawl of it (one per repository) is
/// moved up to `priority` instead; returns whether a new job was queued. When the pending crawl
/// was claimed between the two statements, a new one is queued, so a crawl that starts after
/// this call is certain.
pub async fn queue_now(
    store: &crate::store::Store,
    repository_id: i64,
    priority: i64,
) -> crate::store::Result<bool> {
    let job = Crawl { repository_id };
    let placement = Placement::of(&job).priority(priority);
    if enqueue_placed(store, &job, placement).await?.is_some() {
        return Ok(true);
    }
    if priority <= 0 {
        return Ok(false);
    }
    let key = job.dedup_key().unwrap_or_default();
    if store
        .hasten_pending_job(Crawl::KIND, &key, priority)
        .await?
    {
        return Ok(false);
    }
    Ok(enqueue_placed(store, &job, placement).await?.is_some())
}

/// Crawl one repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Crawl {
    pub repository_id: i64,
}

impl Job for Crawl {
    const KIND: &'static str = "crawl";

    fn dedup_key(&self) -> Option<String> {
        Some(crate::keys::repository(self.repository_id))
    }

    async fn run(self, services: &Services) -> Result<(), JobError> {
        let outcome = crawl_repository(services, self.repository_id)
            .await
            .map_err(|error| {
                let reason = format!("crawl of repository {}: {error}", self.repository_id);
                if error.is_permanent() {
                    JobError::GiveUp(reason)
                } else if let Some(reset) = error.retry_at() {
                    JobError::RetryAt {
                        at_ms: reset.timestamp_millis().max(now_ms()),
                        reason,
                    }
                } else {
                    JobError::Retry(reason)
                }
            })?;
        if outcome.status == CrawlStatus::Busy {
            let later = Placement::of(&self).run_at(now_ms() + BUSY_RETRY_MS);
            enqueue_placed(&services.store, &self, later)
                .await
                .map_err(|e| JobError::retry(e.to_string()))?;
            tracing::info!(
                repository_id = self.repository_id,
                "another crawl holds the lease; crawl re-queued"
            );
        }
        Ok(())
    }
}
