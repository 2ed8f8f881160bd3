//! The `resolve_package` job: look up one package's releases for the whole fleet and recompute
//! the recommendations of every dependency on it ([`crate::resolve::resolve_package`]). Payload
//! `{"package_id"}`; one pending lookup per package (`package:{id}`).
//!
//! Failures: the resolver already ends definitive lookup failures (an unknown package, a 4xx)
//! successfully, recorded on the package; what it returns as an error is transient (transport,
//! 5xx, 408, 429, a malformed answer, the database) and is retried.

use serde::{Deserialize, Serialize};

use super::{Job, JobError};
use crate::services::Services;

/// Resolve one package.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolvePackage {
    pub package_id: i64,
}

impl Job for ResolvePackage {
    const KIND: &'static str = "resolve_package";

    fn dedup_key(&self) -> Option<String> {
        Some(crate::keys::package(self.package_id))
    }

    async fn run(self, services: &Services) -> Result<(), JobError> {
        crate::resolve::resolve_package(services, self.package_id)
            .await
            .map_err(JobError::Retry)
    }
}
