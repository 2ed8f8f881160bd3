//! The `resolve_package` job: look up one package's releases for the whole fleet and recompute
//! the recommendations of every dependency on it ([`crate::resolve::resolve_package`]). Payload
//! `{"package_id"}`; one pending lookup per package (`package:{id}`).
//!
//! Slots: registries can be slow, so these jobs hold at most half of a worker process's slots
//! ([`Job::WORKER_SLOTS_PERCENT`]); crawls and recommendations keep running meanwhile.
//! The package's lookup lease is renewed with the job's heartbeat and let go of when the job is
//! given back on shutdown ([`crate::resolve`]).
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
    const WORKER_SLOTS_PERCENT: u8 = 50;

    fn dedup_key(&self) -> Option<String> {
        Some(crate::keys::package(self.package_id))
    }

    async fn run(self, services: &Services) -> Result<(), JobError> {
        crate::resolve::resolve_package(services, self.package_id)
            .await
            .map_err(|e| JobError::Retry(e.to_string()))
    }

    async fn renew(&self, services: &Services) {
        crate::resolve::renew_lookup(services, self.package_id).await;
    }

    async fn given_back(&self, services: &Services) {
        crate::resolve::give_back_lookup(services, self.package_id).await;
    }
}
