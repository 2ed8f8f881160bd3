//! Job workers: any number of processes (`upkeep serve`, `upkeep worker`) run loops that claim jobs
//! from the durable queue in the store, run each as its typed job ([`JobTable`]), and record the
//! outcome: done, retried with backoff, or given up (`failed` at once with its reason).
//!
//! Invariants: a lease is renewed while a job runs (and with it what the job holds, [`Job::renew`]);
//! a worker that dies stops renewing, and the job is claimed again once its lease expires. On
//! shutdown a worker gives its running job back, the attempt not counted, and the job lets go of
//! what it held ([`Job::given_back`]). A kind with a [`Job::WORKER_SLOTS_PERCENT`] below 100 holds
//! at most that share of the process's slots: while it holds them, the process claims other kinds
//! only, so slow outside services cannot stop the rest of the pipeline.
//!
//! [`Job::renew`]: super::Job::renew
//! [`Job::given_back`]: super::Job::given_back
//! [`Job::WORKER_SLOTS_PERCENT`]: super::Job::WORKER_SLOTS_PERCENT

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Mutex, watch};
use tracing::{Instrument, info, warn};

use super::dispatch::JobTable;
use super::{JobError, worker_name};
use crate::services::Services;
use crate::store::Store;
use crate::store::jobs::ClaimedJob;

/// The longest a worker waits for [`Job::renew`] or [`Job::given_back`]: what they renew or let
/// go of expires by itself, so a hook that waits (on a row another connection of a stopped job
/// still locks, say) must not hold up the heartbeat or the shutdown.
///
/// [`Job::renew`]: super::Job::renew
/// [`Job::given_back`]: super::Job::given_back
pub const HOOK_LIMIT: Duration = Duration::from_secs(5);

/// Settings of one process's workers.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// Jobs run at once by this process.
    pub concurrency: usize,
    pub lease: Duration,
    pub poll: Duration,
}

/// Run `settings.concurrency` worker loops over the jobs of `table` until `shutdown` turns true;
/// returns when all loops have stopped and released their jobs.
pub async fn run(
    services: Services,
    table: JobTable,
    settings: WorkerSettings,
    shutdown: watch::Receiver<bool>,
) {
    let name = worker_name();
    info!(worker = %name, concurrency = settings.concurrency, "workers started");
    let slots = Arc::new(Slots::new(&table, settings.concurrency.max(1)));
    let mut loops = tokio::task::JoinSet::new();
    for n in 0..settings.concurrency.max(1) {
        let worker = format!("{name}/{n}");
        loops.spawn(worker_loop(
            services.clone(),
            table.clone(),
            settings.clone(),
            Arc::clone(&slots),
            worker,
            shutdown.clone(),
        ));
    }
    while loops.join_next().await.is_some() {}
    info!(worker = %name, "workers stopped");
}

/// The slots of one process's workers that limited kinds hold (see the module notes).
struct Slots {
    /// Slots each limited kind may hold.
    limits: HashMap<&'static str, usize>,
    /// Slots each limited kind holds now; locked across a claim, so two loops never both take
    /// a kind's last slot.
    held: Mutex<HashMap<&'static str, usize>>,
}

impl Slots {
    fn new(table: &JobTable, slots: usize) -> Slots {
        Slots {
            limits: table.slot_limits(slots),
            held: Mutex::default(),
        }
    }

    /// Claim the next job of a kind that has a slot free, and take its slot.
    async fn claim(
        &self,
        store: &Store,
        worker: &str,
        lease_ms: i64,
    ) -> crate::store::Result<Option<ClaimedJob>> {
        if self.limits.is_empty() {
            return store.claim(worker, lease_ms).await;
        }
        let mut held = self.held.lock().await;
        let full: Vec<&str> = self
            .limits
            .iter()
            .filter(|(kind, limit)| held.get(*kind).copied().unwrap_or(0) >= **limit)
            .map(|(kind, _)| *kind)
            .collect();
        let job = store.claim_excluding(worker, lease_ms, &full).await?;
        if let Some(job) = &job
            && let Some((kind, _)) = self.limits.get_key_value(job.kind.as_str())
        {
            *held.entry(kind).or_default() += 1;
        }
        Ok(job)
    }

    /// Free the slot `kind` took.
    async fn free(&self, kind: &str) {
        if let Some((kind, _)) = self.limits.get_key_value(kind) {
            let mut held = self.held.lock().await;
            if let Some(n) = held.get_mut(kind) {
                *n = n.saturating_sub(1);
            }
        }
    }
}

async fn worker_loop(
    services: Services,
    table: JobTable,
    settings: WorkerSettings,
    slots: Arc<Slots>,
    worker: String,
    mut shutdown: watch::Receiver<bool>,
) {
    let store = &services.store;
    let lease_ms = crate::store::duration_ms(settings.lease);
    while !*shutdown.borrow() {
        let _ = store.fail_exhausted_leases().await;
        let claimed = match slots.claim(store, &worker, lease_ms).await {
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
        let kind = job.kind.clone();
        let span =
            tracing::info_span!("job", id = job.id, kind = %job.kind, attempt = job.attempts);
        run_one(&services, &table, &settings, &worker, job, &mut shutdown)
            .instrument(span)
            .await;
        slots.free(&kind).await;
    }
}

async fn run_one(
    services: &Services,
    table: &JobTable,
    settings: &WorkerSettings,
    worker: &str,
    job: ClaimedJob,
    shutdown: &mut watch::Receiver<bool>,
) {
    let store = &services.store;
    let lease_ms = crate::store::duration_ms(settings.lease);
    let started = std::time::Instant::now();
    let mut work = table.run(&job.kind, job.payload.clone(), services);
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
                if tokio::time::timeout(HOOK_LIMIT, table.renew(&job.kind, &job.payload, services)).await.is_err() {
                    warn!("renewing what the job holds took too long; it will expire unless renewed");
                }
            }
            _ = shutdown.changed() => break None,
        }
    };
    // The job's future ends before its row is touched: a transaction it still holds (stopped
    // mid-way by a shutdown) is rolled back now, instead of holding the locks the give-back
    // needs until the database's busy timeout (SQLite's write lock, PostgreSQL's row lock).
    drop(work);
    metrics::histogram!("upkeep_job_duration_seconds", "kind" => job.kind.clone())
        .record(started.elapsed().as_secs_f64());
    match outcome {
        Some(Ok(())) => {
            if let Err(error) = store.complete(job.id, worker).await {
                warn!(%error, "recording a finished job failed");
            }
            metrics::counter!("upkeep_jobs_done_total", "kind" => job.kind.clone()).increment(1);
        }
        Some(Err(error)) => record_failure(store, worker, &job, &error).await,
        None => {
            info!("shutting down: giving the job back");
            if let Err(error) = store.release(job.id, worker).await {
                warn!(%error, "releasing a job failed; its lease will expire");
            }
            if tokio::time::timeout(
                HOOK_LIMIT,
                table.given_back(&job.kind, &job.payload, services),
            )
            .await
            .is_err()
            {
                warn!("letting go of what the job held took too long; it will expire");
            }
        }
    }
}

async fn record_failure(store: &Store, worker: &str, job: &ClaimedJob, error: &JobError) {
    let recorded = match error {
        JobError::Retry(message) => {
            warn!(error = %message, "job attempt failed");
            store.fail(job, worker, message).await
        }
        JobError::GiveUp(reason) => {
            warn!(error = %reason, "job gave up");
            store.give_up(job, worker, reason).await.map(|()| true)
        }
        JobError::RetryAt { at_ms, reason } => {
            info!(error = %reason, run_at_ms = at_ms, "job deferred; the attempt does not count");
            store
                .defer(job.id, worker, *at_ms, reason)
                .await
                .map(|()| false)
        }
    };
    match recorded {
        Ok(true) => {
            metrics::counter!("upkeep_jobs_failed_total", "kind" => job.kind.clone()).increment(1);
        }
        Ok(false) => {
            metrics::counter!("upkeep_jobs_retried_total", "kind" => job.kind.clone()).increment(1);
        }
        Err(error) => warn!(%error, "recording a failed job failed"),
    }
}
