//! Jobs: the typed units of work on the durable queue (ARCHITECTURE.md, "The pipeline as jobs").
//!
//! A job is a serde struct implementing [`Job`]: its stored kind, its payload (the struct itself,
//! as JSON), its dedup key, its queue placement, and what it does. One module per kind:
//!
//! | kind | payload | dedup key while pending |
//! |---|---|---|
//! | `crawl` | [`crawl::Crawl`] `{"repository_id"}` | `repository:{id}` |
//! | `resolve_package` | [`resolve_package::ResolvePackage`] `{"package_id"}` | `package:{id}` |
//! | `recommend_repository` | [`recommend_repository::RecommendRepository`] `{"dependency_ids", "repository_id"}` | `repository:{id}:all` when `dependency_ids` is null |
//! | `deliver_webhook` | [`deliver_webhook::DeliverWebhook`] `{"delivery_id"}` | `delivery:{id}` |
//!
//! [`dispatch`] turns a stored row back into its typed job (the one place that knows every kind);
//! [`worker`] runs the loops that claim rows and record outcomes.
//!
//! Invariants:
//! - Stored kinds and payloads never change shape: rows written by an older version still run.
//! - A job is enqueued inside the transaction of the work that asked for it ([`enqueue_in`]) or on
//!   its own ([`enqueue`]); nothing builds job rows from strings.
//! - A job's failure says whether to retry ([`JobError::Retry`], with backoff, until the attempts
//!   run out), to give up ([`JobError::GiveUp`], `failed` at once with the reason stored), or to
//!   try again at a known time without counting the attempt ([`JobError::RetryAt`], a rate
//!   limit's reset).
//! - This module and the job modules import [`Services`]; domain modules import job types only
//!   to enqueue them, and never a job module that imports them back.

pub mod crawl;
pub mod deliver_webhook;
pub mod dispatch;
pub mod recommend_repository;
pub mod resolve_package;
pub mod worker;

use std::future::Future;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::services::Services;
use crate::store::jobs::{NewJob, insert_job_in};
use crate::store::{Result, Store, StoreError};

/// Attempts a job gets unless its kind or its enqueuer says otherwise.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;

/// Why a job attempt failed, and what the queue does about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    /// Transient (network, a 5xx, a busy database): try again later with backoff, until the
    /// job's attempts run out.
    #[error("{0}")]
    Retry(String),
    /// Permanent (the payload does not parse, the kind is unknown, the work can never succeed):
    /// the job is `failed` at once with this reason, no backoff.
    #[error("{0}")]
    GiveUp(String),
    /// Not now, and the time to try again is known (a rate limit's reset, ms since the epoch):
    /// the job is pending again from `at_ms`, and the attempt does not count.
    #[error("{reason}")]
    RetryAt { at_ms: i64, reason: String },
}

impl JobError {
    pub fn retry(message: impl Into<String>) -> JobError {
        JobError::Retry(message.into())
    }

    pub fn give_up(reason: impl Into<String>) -> JobError {
        JobError::GiveUp(reason.into())
    }
}

/// One kind of work on the queue; the value is the payload.
pub trait Job: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The stored `kind` of this job's rows.
    const KIND: &'static str;

    /// While a pending job of this kind with the same key exists, enqueuing again does nothing.
    fn dedup_key(&self) -> Option<String>;

    /// Higher runs first.
    fn priority(&self) -> i64 {
        0
    }

    /// The share of one worker process's slots that jobs of this kind may hold at once, in percent
    /// (always at least one slot): a kind that waits on outside services cannot fill every slot
    /// while they are slow. A worker does not claim jobs of a kind that holds its share.
    const WORKER_SLOTS_PERCENT: u8 = 100;

    /// Attempts before a failing job ends `failed`.
    fn max_attempts(&self) -> u32 {
        DEFAULT_MAX_ATTEMPTS
    }

    /// Do the work.
    fn run(self, services: &Services) -> impl Future<Output = Result<(), JobError>> + Send;

    /// Called with every renewal of the job's lease while [`Job::run`] runs (the heartbeat):
    /// renew whatever the job holds beyond its place on the queue. Nothing by default.
    fn renew(&self, services: &Services) -> impl Future<Output = ()> + Send {
        let _ = services;
        std::future::ready(())
    }

    /// Called after the worker gave the job back unfinished (shutdown; [`Job::run`] was stopped
    /// part-way): let go of whatever the job held, so its next run finds it free. Nothing by
    /// default.
    fn given_back(&self, services: &Services) -> impl Future<Output = ()> + Send {
        let _ = services;
        std::future::ready(())
    }
}

/// Where a job goes on the queue, when its enqueuer overrides what the kind says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    pub priority: i64,
    /// Not before this time (ms since the epoch); `None` = now.
    pub run_at: Option<i64>,
    pub max_attempts: u32,
}

impl Placement {
    /// What the job's kind says.
    pub fn of<J: Job>(job: &J) -> Placement {
        Placement {
            priority: job.priority(),
            run_at: None,
            max_attempts: job.max_attempts(),
        }
    }

    #[must_use]
    pub fn priority(mut self, priority: i64) -> Placement {
        self.priority = priority;
        self
    }

    #[must_use]
    pub fn run_at(mut self, at_ms: i64) -> Placement {
        self.run_at = Some(at_ms);
        self
    }

    #[must_use]
    pub fn max_attempts(mut self, attempts: u32) -> Placement {
        self.max_attempts = attempts.max(1);
        self
    }
}

fn row<J: Job>(job: &J, placement: Placement) -> Result<NewJob> {
    Ok(NewJob {
        kind: J::KIND,
        // Through a `Value`, so the stored text is what `json!` wrote before jobs were typed
        // (keys in sorted order).
        payload: serde_json::to_value(job)
            .map_err(|e| StoreError::Invalid(format!("`{}` job payload: {e}", J::KIND)))?,
        dedup_key: job.dedup_key(),
        priority: placement.priority,
        run_at: placement.run_at,
        max_attempts: placement.max_attempts,
    })
}

/// Enqueue `job` inside a transaction the caller commits, so the job exists exactly when the work
/// that asked for it does; returns its id, or `None` when a pending job with the same dedup key
/// exists (see [`crate::store::jobs`] on the order of several deduplicated jobs).
pub async fn enqueue_in<J: Job>(conn: &mut sqlx::AnyConnection, job: &J) -> Result<Option<i64>> {
    enqueue_placed_in(conn, job, Placement::of(job)).await
}

/// [`enqueue_in`] with the enqueuer's [`Placement`].
pub async fn enqueue_placed_in<J: Job>(
    conn: &mut sqlx::AnyConnection,
    job: &J,
    placement: Placement,
) -> Result<Option<i64>> {
    insert_job_in(conn, &row(job, placement)?).await
}

/// Enqueue `job` on its own; returns its id, or `None` when a pending job with the same dedup key
/// exists.
pub async fn enqueue<J: Job>(store: &Store, job: &J) -> Result<Option<i64>> {
    enqueue_placed(store, job, Placement::of(job)).await
}

/// [`enqueue`] with the enqueuer's [`Placement`].
pub async fn enqueue_placed<J: Job>(
    store: &Store,
    job: &J,
    placement: Placement,
) -> Result<Option<i64>> {
    store.insert_job(&row(job, placement)?).await
}

/// A unique name for this process's workers (and its delivery loops' leases).
pub fn worker_name() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "host".to_owned());
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}-{}-{}", std::process::id(), &id[..8])
}
