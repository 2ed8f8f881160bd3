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
type HookFuture<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;
type RunStored = for<'a> fn(serde_json::Value, &'a Services) -> JobFuture<'a>;
type HookStored = for<'a> fn(&serde_json::Value, &'a Services) -> HookFuture<'a>;

/// What the table knows of one kind.
#[derive(Clone, Copy)]
struct Kind {
    run: RunStored,
    renew: HookStored,
    given_back: HookStored,
    slots_percent: u8,
}

/// The job kinds a worker runs, by stored kind.
#[derive(Clone, Default)]
pub struct JobTable {
    by_kind: HashMap<&'static str, Kind>,
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

/// The hooks read the payload again; one that does not parse has nothing to renew or let go of
/// (its run gives up on it).
fn renew_stored<'a, J: Job>(payload: &serde_json::Value, services: &'a Services) -> HookFuture<'a> {
    let job = serde_json::from_value::<J>(payload.clone()).ok();
    Box::pin(async move {
        if let Some(job) = job {
            job.renew(services).await;
        }
    })
}

fn given_back_stored<'a, J: Job>(
    payload: &serde_json::Value,
    services: &'a Services,
) -> HookFuture<'a> {
    let job = serde_json::from_value::<J>(payload.clone()).ok();
    Box::pin(async move {
        if let Some(job) = job {
            job.given_back(services).await;
        }
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
        self.by_kind.insert(
            J::KIND,
            Kind {
                run: run_stored::<J>,
                renew: renew_stored::<J>,
                given_back: given_back_stored::<J>,
                slots_percent: J::WORKER_SLOTS_PERCENT,
            },
        );
        self
    }

    /// The kinds that may hold only part of a worker's `slots`, with how many slots each may
    /// hold ([`Job::WORKER_SLOTS_PERCENT`], at least one).
    pub fn slot_limits(&self, slots: usize) -> HashMap<&'static str, usize> {
        self.by_kind
            .iter()
            .filter(|(_, kind)| kind.slots_percent < 100)
            .map(|(name, kind)| {
                let share = slots.saturating_mul(usize::from(kind.slots_percent)) / 100;
                (*name, share.max(1))
            })
            .collect()
    }

    /// [`Job::renew`] of a stored job (nothing for a kind not in the table).
    pub fn renew<'a>(
        &self,
        kind: &str,
        payload: &serde_json::Value,
        services: &'a Services,
    ) -> HookFuture<'a> {
        match self.by_kind.get(kind) {
            Some(entry) => (entry.renew)(payload, services),
            None => Box::pin(std::future::ready(())),
        }
    }

    /// [`Job::given_back`] of a stored job (nothing for a kind not in the table).
    pub fn given_back<'a>(
        &self,
        kind: &str,
        payload: &serde_json::Value,
        services: &'a Services,
    ) -> HookFuture<'a> {
        match self.by_kind.get(kind) {
            Some(entry) => (entry.given_back)(payload, services),
            None => Box::pin(std::future::ready(())),
        }
    }

    /// Run a stored job: parse `payload` as `kind`'s job and run it.
    pub fn run<'a>(
        &self,
        kind: &str,
        payload: serde_json::Value,
        services: &'a Services,
    ) -> JobFuture<'a> {
        if let Some(entry) = self.by_kind.get(kind) {
            (entry.run)(payload, services)
        } else {
            let reason = format!("no handler for job kind `{kind}`");
            Box::pin(async move { Err(JobError::GiveUp(reason)) })
        }
    }
}
