//! From a stored row back to its typed job: the one table of every job kind the service runs
//! ([`JobTable::standard`]). A row whose kind is not in the table, or whose payload does not
//! parse as its kind's struct, gives up with a reason that says so; retrying could not help.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use super::crawl::Crawl;
use super::deliver_webhook::DeliverWebhook;
use super::recommend_repository::RecommendRepository;
use super::resolve_package::ResolvePackage;
use super::{Job, JobError};
use crate::services::Services;

type JobFuture<'a> = Pin<Box<dyn Future<Output = Result<(), JobError>> + Send + 'a>>;
type RunStored = for<'a> fn(serde_json::Value, &'a Services) -> JobFuture<'a>;

/// The job kinds a worker runs, by stored kind.
#[derive(Clone, Default)]
pub struct JobTable {
    by_kind: HashMap<&'static str, RunStored>,
}

impl std::fmt::Debug for JobTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut kinds: Vec<_> = self.by_kind.keys().collect();
        kinds.sort_unstable();
        f.debug_struct("JobTable").field("kinds", &kinds).finish()
    }
}

fn run_stored<J: Job>(payload: serde_json::Value, services: &Services) -> JobFuture<'_> {
    Box::pin(async move {
        let job: J = serde_json::from_value(payload).map_err(|e| {
            JobError::give_up(format!(
                "the `{}` job's payload does not parse: {e}",
                J::KIND
            ))
        })?;
        job.run(services).await
    })
}

impl JobTable {
    /// A table without kinds.
    pub fn new() -> JobTable {
        JobTable::default()
    }

    /// Every kind of the service's pipeline.
    pub fn standard() -> JobTable {
        JobTable::new()
            .with::<Crawl>()
            .with::<ResolvePackage>()
            .with::<RecommendRepository>()
            .with::<DeliverWebhook>()
    }

    /// This table and kind `J`.
    #[must_use]
    pub fn with<J: Job>(mut self) -> JobTable {
        self.by_kind.insert(J::KIND, run_stored::<J>);
        self
    }

    /// Run a stored job: parse `payload` as `kind`'s job and run it.
    pub fn run<'a>(
        &self,
        kind: &str,
        payload: serde_json::Value,
        services: &'a Services,
    ) -> JobFuture<'a> {
        if let Some(run) = self.by_kind.get(kind) {
            run(payload, services)
        } else {
            let reason = format!("no handler for job kind `{kind}`");
            Box::pin(async move { Err(JobError::GiveUp(reason)) })
        }
    }
}
