//! Job workers: any number of processes (`upkeep serve`, `upkeep worker`) run loops that claim jobs
//! from the durable queue in the store, run the handler registered for the job's kind, and record
//! the outcome. A lease is renewed while a job runs; a worker that dies stops renewing, and the job
//! is claimed again once its lease expires. On shutdown a worker gives its running job back.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tracing::{Instrument, info, warn};

use crate::store::Store;
use crate::store::jobs::ClaimedJob;

/// What a handler returns: `Err(message)` is a failed attempt.
pub type JobResult = Result<(), String>;
type BoxFuture = Pin<Box<dyn Future<Output = JobResult> + Send>>;
type Handler = Arc<dyn Fn(serde_json::Value) -> BoxFuture + Send + Sync>;

/// Handlers by job kind.
#[derive(Clone, Default)]
pub struct Handlers {
    by_kind: HashMap<String, Handler>,
}

impl Handlers {
    pub fn new() -> Self {
        Handlers::default()
    }

    /// Register `handler` for jobs of `kind`.
    #[must_use]
    pub fn on<F, Fut>(mut self, kind: &str, handler: F) -> Self
    where
        F: Fn(serde_json::Value) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = JobResult> + Send + 'static,
    {
        self.by_kind.insert(
            kind.to_owned(),
            Arc::new(move |payload| Box::pin(handler(payload))),
        );
        self
    }
}

/// Settings of one process's workers.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// Jobs run at once by this process.
    pub concurrency: usize,
    pub lease: Duration,
    pub poll: Duration,
}

/// A unique name for this process's workers.
pub fn worker_name() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "host".to_owned());
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}-{}-{}", std::process::id(), &id[..8])
}

/// Run `settings.concurrency` worker loops until `shutdown` turns true; returns when all loops have
/// stopped and released their jobs.
pub async fn run(
    store: Store,
    handlers: Handlers,
    settings: WorkerSettings,
    shutdown: watch::Receiver<bool>,
) {
    let name = worker_name();
    info!(worker = %name, concurrency = settings.concurrency, "workers started");
    let mut loops = tokio::task::JoinSet::new();
    for n in 0..settings.concurrency.max(1) {
        let worker = format!("{name}/{n}");
        loops.spawn(worker_loop(
            store.clone(),
            handlers.clone(),
            settings.clone(),
            worker,
            shutdown.clone(),
        ));
    }
    while loops.join_next().await.is_some() {}
    info!(worker = %name, "workers stopped");
}

async fn worker_loop(
    store: Store,
    handlers: Handlers,
    settings: WorkerSettings,
    worker: String,
    mut shutdown: watch::Receiver<bool>,
) {
    let lease_ms = crate::store::duration_ms(settings.lease);
    while !*shutdown.borrow() {
        let _ = store.fail_exhausted_leases().await;
        let claimed = match store.claim(&worker, lease_ms).await {
            Ok(job) => job,
            Err(error) => {
                warn!(%worker, %error, "claiming a job failed");
                None
            }
        };
        let Some(job) = claimed else {
            tokio::select! {
                () = tokio::time::sleep(settings.poll) => {}
                _ = shutdown.changed() => {}
            }
            continue;
        };
        let span =
            tracing::info_span!("job", id = job.id, kind = %job.kind, attempt = job.attempts);
        run_one(&store, &handlers, &settings, &worker, job, &mut shutdown)
            .instrument(span)
            .await;
    }
}

async fn run_one(
    store: &Store,
    handlers: &Handlers,
    settings: &WorkerSettings,
    worker: &str,
    job: ClaimedJob,
    shutdown: &mut watch::Receiver<bool>,
) {
    let lease_ms = crate::store::duration_ms(settings.lease);
    let Some(handler) = handlers.by_kind.get(&job.kind).cloned() else {
        let message = format!("no handler for job kind `{}`", job.kind);
        record_failure(store, worker, &job, &message).await;
        return;
    };
    let started = std::time::Instant::now();
    let mut work = handler(job.payload.clone());
    let mut heartbeat = tokio::time::interval(settings.lease / 3);
    heartbeat.tick().await;
    let outcome = loop {
        tokio::select! {
            result = &mut work => break Some(result),
            _ = heartbeat.tick() => {
                if !matches!(store.extend_lease(job.id, worker, lease_ms).await, Ok(true)) {
                    warn!("lost the lease; abandoning the job");
                    return;
                }
            }
            _ = shutdown.changed() => break None,
        }
    };
    metrics::histogram!("upkeep_job_duration_seconds", "kind" => job.kind.clone())
        .record(started.elapsed().as_secs_f64());
    match outcome {
        Some(Ok(())) => {
            if let Err(error) = store.complete(job.id, worker).await {
                warn!(%error, "recording a finished job failed");
            }
            metrics::counter!("upkeep_jobs_done_total", "kind" => job.kind.clone()).increment(1);
        }
        Some(Err(message)) => record_failure(store, worker, &job, &message).await,
        None => {
            info!("shutting down: giving the job back");
            if let Err(error) = store.release(job.id, worker).await {
                warn!(%error, "releasing a job failed; its lease will expire");
            }
        }
    }
}

async fn record_failure(store: &Store, worker: &str, job: &ClaimedJob, message: &str) {
    warn!(error = message, "job attempt failed");
    match store.fail(job, worker, message).await {
        Ok(true) => {
            metrics::counter!("upkeep_jobs_failed_total", "kind" => job.kind.clone()).increment(1);
        }
        Ok(false) => {
            metrics::counter!("upkeep_jobs_retried_total", "kind" => job.kind.clone()).increment(1);
        }
        Err(error) => warn!(%error, "recording a failed job failed"),
    }
}
