//! Crawling a repository: head → tree → changed manifests → extract → reconcile.
//! (Being filled in by the crawler work.)

use crate::jobs::JobResult;
use crate::pipeline::Services;

/// The `crawl` job: `{"repository_id": N}`.
pub async fn crawl(services: &Services, repository_id: i64) -> JobResult {
    let _ = services;
    Err(format!(
        "crawling is not wired yet (repository {repository_id})"
    ))
}
