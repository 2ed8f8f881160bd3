//! The durable job queue's storage: insert with deduplication, claim with a lease, complete,
//! fail with exponential backoff or give up at once, release. Rows only: what a kind means and
//! how its payload reads is [`crate::jobs`]'s business (ARCHITECTURE.md, "The pipeline as jobs").
//!
//! Claiming: a job is claimable when it is `pending` and due, or `running` with an expired lease
//! (its worker died). PostgreSQL claims with `FOR UPDATE SKIP LOCKED`, so concurrent workers never
//! take the same row; SQLite has one writer at a time (`BEGIN IMMEDIATE`), so the same statement
//! without the locking clause is already exclusive.
//!
//! Going back to `pending` (a retry after a failure, a give-back on shutdown) merges into the
//! job's pending twin when one was queued meanwhile, so the unique index on pending dedup keys
//! never leaves a job stuck `running` ([`BackToPending`]).

use serde::Serialize;
use sqlx::{AssertSqlSafe, Row};

use super::{Backend, Result, Store, now_ms};

/// One row to put on the queue: the low-level form of a typed job
/// ([`crate::jobs::enqueue`] builds it from a [`crate::jobs::Job`]).
#[derive(Debug, Clone)]
pub(crate) struct NewJob {
    pub kind: &'static str,
    pub payload: serde_json::Value,
    /// While a pending job with the same kind and key exists, enqueuing again does nothing.
    pub dedup_key: Option<String>,
    /// Higher runs first.
    pub priority: i64,
    /// Not before this time (ms since the epoch); `None` = now.
    pub run_at: Option<i64>,
    pub max_attempts: u32,
}

/// A job leased to one worker.
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    pub id: i64,
    pub kind: String,
    pub payload: serde_json::Value,
    /// Attempts so far, including this one.
    pub attempts: i64,
    pub max_attempts: i64,
}

/// A job's state, as the API and tests see it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct JobRecord {
    pub id: i64,
    pub kind: String,
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
}

/// Delay before retry `attempt` (1-based): 2^attempt seconds, capped at one hour, plus up to 25%
/// jitter so failing jobs do not retry in lock-step.
pub fn backoff_ms(attempt: i64) -> i64 {
    let exp = u32::try_from(attempt.clamp(0, 12)).unwrap_or(12);
    let base = (1_000_i64 << exp).min(3_600_000);
    base + rand::random_range(0..=base / 4)
}

/// Times a transition back to `pending` is tried when it races with an insert of its pending twin
/// (PostgreSQL; on SQLite the transition holds the write lock and never races).
pub const UNIQUE_RACE_ATTEMPTS: u32 = 3;

/// How a running job goes back to `pending` (a retry after a failure, or a give-back on
/// shutdown). When a pending job with the same kind and dedup key exists (its *twin*: queued while
/// this one ran), the unique index `jobs_dedup_pending` allows only one of them, so the two merge:
/// the twin stays, due at the earlier `run_at`, with the higher priority, the larger attempt count
/// and allowance, and this run's error as `last_error`; the running row is deleted.
struct BackToPending<'a> {
    run_at: i64,
    /// The failure to record; `None` on a give-back.
    error: Option<&'a str>,
    /// A failed attempt counts; an attempt given back on shutdown does not.
    attempt_counts: bool,
}

/// [`Store::insert_job`] inside a transaction the caller commits, so the job exists exactly when the
/// work that asked for it does. On PostgreSQL a pending job with the same dedup key that another
/// open transaction is inserting makes this wait for that transaction; callers that enqueue
/// several deduplicated jobs do so in a fixed order (by key), so two transactions never wait on
/// each other.
pub(crate) async fn insert_job_in(
    conn: &mut sqlx::AnyConnection,
    job: &NewJob,
) -> Result<Option<i64>> {
    let now = now_ms();
    let row = sqlx::query(
        "INSERT INTO jobs (kind, payload, dedup_key, priority, state, run_at, attempts, max_attempts, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, 'pending', $5, 0, $6, $7, $7) \
         ON CONFLICT (kind, dedup_key) WHERE state = 'pending' DO NOTHING RETURNING id",
    )
    .bind(job.kind)
    .bind(job.payload.to_string())
    .bind(job.dedup_key.as_deref())
    .bind(job.priority)
    .bind(job.run_at.unwrap_or(now))
    .bind(i64::from(job.max_attempts.max(1)))
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|r| r.try_get("id")).transpose()?)
}

impl Store {
    /// Put `job` on the queue; returns its id, or `None` when a pending job with the same dedup
    /// key exists.
    pub(crate) async fn insert_job(&self, job: &NewJob) -> Result<Option<i64>> {
        let mut conn = self.pool().acquire().await?;
        insert_job_in(&mut conn, job).await
    }

    /// Lease the next due job to `worker` for `lease_ms`.
    pub async fn claim(&self, worker: &str, lease_ms: i64) -> Result<Option<ClaimedJob>> {
        self.claim_excluding(worker, lease_ms, &[]).await
    }

    /// [`Store::claim`], passing over jobs of the kinds in `excluded`.
    pub async fn claim_excluding(
        &self,
        worker: &str,
        lease_ms: i64,
        excluded: &[&str],
    ) -> Result<Option<ClaimedJob>> {
        let now = now_ms();
        let not_in = if excluded.is_empty() {
            String::new()
        } else {
            let placeholders: Vec<String> =
                (4..4 + excluded.len()).map(|n| format!("${n}")).collect();
            format!(" AND kind NOT IN ({})", placeholders.join(", "))
        };
        let lock = if self.backend() == Backend::Postgres {
            "FOR UPDATE SKIP LOCKED"
        } else {
            ""
        };
        let sql = format!(
            "UPDATE jobs SET state = 'running', locked_by = $1, locked_until = $2, attempts = attempts + 1, updated_at = $3 \
             WHERE id = (SELECT id FROM jobs \
                 WHERE ((state = 'pending' AND run_at <= $3) OR (state = 'running' AND locked_until < $3)){not_in} \
                 ORDER BY priority DESC, run_at, id LIMIT 1 {lock}) \
             RETURNING id, kind, payload, attempts, max_attempts"
        );
        let mut query = sqlx::query(AssertSqlSafe(sql))
            .bind(worker)
            .bind(now + lease_ms)
            .bind(now);
        for kind in excluded {
            query = query.bind(*kind);
        }
        let mut tx = self.begin().await?;
        let row = query.fetch_optional(&mut *tx).await?;
        tx.commit().await?;
        let Some(row) = row else { return Ok(None) };
        let payload: String = row.try_get("payload")?;
        Ok(Some(ClaimedJob {
            id: row.try_get("id")?,
            kind: row.try_get("kind")?,
            payload: serde_json::from_str(&payload).unwrap_or(serde_json::Value::Null),
            attempts: row.try_get("attempts")?,
            max_attempts: row.try_get("max_attempts")?,
        }))
    }

    /// Extend the lease of a job this worker still holds; false when it lost the lease.
    pub async fn extend_lease(&self, id: i64, worker: &str, lease_ms: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE jobs SET locked_until = $1 WHERE id = $2 AND locked_by = $3 AND state = 'running'",
        )
        .bind(now_ms() + lease_ms)
        .bind(id)
        .bind(worker)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Mark a job done.
    pub async fn complete(&self, id: i64, worker: &str) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE jobs SET state = 'done', locked_by = NULL, locked_until = NULL, last_error = NULL, updated_at = $1 \
             WHERE id = $2 AND locked_by = $3 AND state = 'running'",
        )
        .bind(now_ms())
        .bind(id)
        .bind(worker)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Record a failed attempt: retry later with backoff, or end in `failed` after the last attempt.
    /// Returns true when the job has failed for good.
    pub async fn fail(&self, job: &ClaimedJob, worker: &str, error: &str) -> Result<bool> {
        let final_failure = job.attempts >= job.max_attempts;
        self.record_failure(job, worker, error, final_failure)
            .await?;
        Ok(final_failure)
    }

    /// End a job in `failed` at once, whatever attempts it has left, with `reason` as its
    /// `last_error` (a failure that no retry can fix).
    pub async fn give_up(&self, job: &ClaimedJob, worker: &str, reason: &str) -> Result<()> {
        self.record_failure(job, worker, reason, true).await
    }

    async fn record_failure(
        &self,
        job: &ClaimedJob,
        worker: &str,
        error: &str,
        final_failure: bool,
    ) -> Result<()> {
        let now = now_ms();
        let error = if error.trim().is_empty() {
            "job failed without a message"
        } else {
            error
        };
        if !final_failure {
            let back = BackToPending {
                run_at: now + backoff_ms(job.attempts),
                error: Some(error),
                attempt_counts: true,
            };
            return self.back_to_pending(job.id, worker, &back).await;
        }
        sqlx::query(
            "UPDATE jobs SET state = 'failed', run_at = $1, last_error = $2, locked_by = NULL, locked_until = NULL, updated_at = $1 \
             WHERE id = $3 AND locked_by = $4 AND state = 'running'",
        )
        .bind(now)
        .bind(error)
        .bind(job.id)
        .bind(worker)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Put a job `worker` holds off until `run_at` without counting the attempt, recording
    /// `reason` (the work waits for something with a known time, such as a rate limit's reset).
    pub async fn defer(&self, id: i64, worker: &str, run_at: i64, reason: &str) -> Result<()> {
        let back = BackToPending {
            run_at,
            error: Some(reason),
            attempt_counts: false,
        };
        self.back_to_pending(id, worker, &back).await
    }

    /// Give a job back unfinished (shutdown): pending again, the attempt not counted (merged
    /// into a pending twin when one exists, see [`BackToPending`]).
    pub async fn release(&self, id: i64, worker: &str) -> Result<()> {
        let back = BackToPending {
            run_at: now_ms(),
            error: None,
            attempt_counts: false,
        };
        self.back_to_pending(id, worker, &back).await
    }

    /// Move a job `worker` holds back to `pending`, or merge it into its pending twin. On
    /// PostgreSQL a twin inserted by another transaction between the look-up and the update makes
    /// the update fail on `jobs_dedup_pending`; the transition is then tried again (it finds the
    /// twin this time), at most [`UNIQUE_RACE_ATTEMPTS`] times.
    async fn back_to_pending(&self, id: i64, worker: &str, back: &BackToPending<'_>) -> Result<()> {
        let mut attempt = 1;
        loop {
            match self.try_back_to_pending(id, worker, back).await {
                Err(error) if error.is_unique_violation() && attempt < UNIQUE_RACE_ATTEMPTS => {
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn try_back_to_pending(
        &self,
        id: i64,
        worker: &str,
        back: &BackToPending<'_>,
    ) -> Result<()> {
        let lock = if self.backend() == Backend::Postgres {
            " FOR UPDATE"
        } else {
            ""
        };
        let now = now_ms();
        let mut tx = self.begin().await?;
        let Some(running) = sqlx::query(AssertSqlSafe(format!(
            "SELECT kind, dedup_key, priority, attempts, max_attempts, last_error FROM jobs \
             WHERE id = $1 AND locked_by = $2 AND state = 'running'{lock}"
        )))
        .bind(id)
        .bind(worker)
        .fetch_optional(&mut *tx)
        .await?
        else {
            // Not ours any more (the lease expired and another worker took it): nothing to do.
            return Ok(());
        };
        let kind: String = running.try_get("kind")?;
        let dedup_key: Option<String> = running.try_get("dedup_key")?;
        let mut attempts: i64 = running.try_get("attempts")?;
        if !back.attempt_counts {
            attempts = (attempts - 1).max(0);
        }
        let last_error = back
            .error
            .map(str::to_owned)
            .or(running.try_get("last_error")?);
        let twin = match &dedup_key {
            Some(key) => {
                sqlx::query(AssertSqlSafe(format!(
                    "SELECT id, priority, run_at, attempts, max_attempts, last_error FROM jobs \
                     WHERE kind = $1 AND dedup_key = $2 AND state = 'pending'{lock}"
                )))
                .bind(&kind)
                .bind(key)
                .fetch_optional(&mut *tx)
                .await?
            }
            None => None,
        };
        if let Some(twin) = twin {
            // One job for the work: the twin, due as early and as urgent as either, with the
            // attempts and the error of the run that ends here.
            let twin_id: i64 = twin.try_get("id")?;
            let twin_error: Option<String> = twin.try_get("last_error")?;
            let priority = twin
                .try_get::<i64, _>("priority")?
                .max(running.try_get("priority")?);
            let run_at = twin.try_get::<i64, _>("run_at")?.min(back.run_at);
            let attempts = twin.try_get::<i64, _>("attempts")?.max(attempts);
            let max_attempts = twin
                .try_get::<i64, _>("max_attempts")?
                .max(running.try_get("max_attempts")?);
            let last_error = if back.error.is_some() {
                last_error
            } else {
                twin_error.or(last_error)
            };
            sqlx::query(
                "UPDATE jobs SET priority = $1, run_at = $2, attempts = $3, max_attempts = $4, last_error = $5, updated_at = $6 \
                 WHERE id = $7",
            )
            .bind(priority)
            .bind(run_at)
            .bind(attempts)
            .bind(max_attempts)
            .bind(last_error.as_deref())
            .bind(now)
            .bind(twin_id)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM jobs WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        } else {
            sqlx::query(
                "UPDATE jobs SET state = 'pending', run_at = $1, attempts = $2, last_error = $3, locked_by = NULL, \
                 locked_until = NULL, updated_at = $4 WHERE id = $5",
            )
            .bind(back.run_at)
            .bind(attempts)
            .bind(last_error.as_deref())
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Jobs whose lease expired after their last allowed attempt end as failed.
    pub async fn fail_exhausted_leases(&self) -> Result<u64> {
        let now = now_ms();
        let done = sqlx::query(
            "UPDATE jobs SET state = 'failed', last_error = 'lease expired on the last attempt', locked_by = NULL, \
             locked_until = NULL, updated_at = $1 \
             WHERE state = 'running' AND locked_until < $1 AND attempts >= max_attempts",
        )
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }

    /// Number of jobs per (kind, state), for metrics.
    pub async fn job_counts(&self) -> Result<Vec<(String, String, i64)>> {
        let rows = sqlx::query(
            "SELECT kind, state, COUNT(*) AS n FROM jobs GROUP BY kind, state ORDER BY kind, state",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("kind")?, r.try_get("state")?, r.try_get("n")?)))
            .collect()
    }

    pub async fn job(&self, id: i64) -> Result<Option<JobRecord>> {
        let row =
            sqlx::query("SELECT id, kind, state, attempts, last_error FROM jobs WHERE id = $1")
                .bind(id)
                .fetch_optional(self.pool())
                .await?;
        row.map(|r| {
            Ok(JobRecord {
                id: r.try_get("id")?,
                kind: r.try_get("kind")?,
                state: r.try_get("state")?,
                attempts: r.try_get("attempts")?,
                last_error: r.try_get("last_error")?,
            })
        })
        .transpose()
    }
}

impl Store {
    /// Raise a pending job's priority to at least `priority` and make it due now (a webhook asked
    /// for the work that an earlier enqueue already queued). Returns whether a job was changed.
    pub async fn hasten_pending_job(
        &self,
        kind: &str,
        dedup_key: &str,
        priority: i64,
    ) -> Result<bool> {
        let now = now_ms();
        let done = sqlx::query(
            "UPDATE jobs SET \
                 priority = CASE WHEN priority < $1 THEN $1 ELSE priority END, \
                 run_at = CASE WHEN run_at > $2 THEN $2 ELSE run_at END, \
                 updated_at = $2 \
             WHERE kind = $3 AND dedup_key = $4 AND state = 'pending'",
        )
        .bind(priority)
        .bind(now)
        .bind(kind)
        .bind(dedup_key)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }
}
