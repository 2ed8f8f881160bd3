//! The `recommend_repository` job: recompute some (or all) dependencies' recommendations of one
//! repository ([`crate::resolve::recommend_repository`]). Payload
//! `{"dependency_ids", "repository_id"}`; `dependency_ids` null or absent means all of them, and
//! such a job is kept once per repository while pending (`repository:{id}:all`); a job for
//! named dependencies is never deduplicated.
//!
//! Failures: only the database can fail here, and that is retried.

use serde::{Deserialize, Serialize};

use super::{Job, JobError};
use crate::services::Services;

/// Recompute dependencies of one repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecommendRepository {
    pub repository_id: i64,
    /// `None`: every dependency of the repository.
    pub dependency_ids: Option<Vec<i64>>,
}

impl RecommendRepository {
    /// Recompute these dependencies (after a crawl added or changed them).
    pub fn dependencies(repository_id: i64, dependency_ids: Vec<i64>) -> RecommendRepository {
        RecommendRepository {
            repository_id,
            dependency_ids: Some(dependency_ids),
        }
    }

    /// Recompute every dependency (after the repository's policy changed).
    pub fn all(repository_id: i64) -> RecommendRepository {
        RecommendRepository {
            repository_id,
            dependency_ids: None,
        }
    }
}

impl Job for RecommendRepository {
    const KIND: &'static str = "recommend_repository";

    fn dedup_key(&self) -> Option<String> {
        self.dependency_ids
            .is_none()
            .then(|| crate::keys::repository_all_dependencies(self.repository_id))
    }

    async fn run(self, services: &Services) -> Result<(), JobError> {
        crate::resolve::recommend_repository(
            services,
            self.repository_id,
            self.dependency_ids.as_deref(),
        )
        .await
        .map_err(|e| JobError::Retry(e.to_string()))
    }
}
