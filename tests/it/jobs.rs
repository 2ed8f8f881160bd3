//! The durable job queue: deduplication, exactly-once processing by concurrent workers, lease
//! expiry after a worker dies, backoff and final failure, giving up at once, unknown kinds and
//! unparsable payloads, and release on shutdown; lease renewal under a short lease, leases that
//! expire on the last attempt, merging into a pending twin (give-back and failure), per-kind
//! worker slots with a slow registry, the package lookup lease (heartbeat, give-back, scheduler)
//! and crawls abandoned by a dead worker. SQLite, and PostgreSQL when `UPKEEP_TEST_DATABASE_URL`
//! is set.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use upkeep::jobs::crawl::Crawl;
use upkeep::jobs::dispatch::JobTable;
use upkeep::jobs::recommend_repository::RecommendRepository;
use upkeep::jobs::resolve_package::ResolvePackage;
use upkeep::jobs::worker::{self, WorkerSettings};
use upkeep::jobs::{self, Job, JobError, Placement};
use upkeep::services::Services;
use upkeep::store::Store;
use upkeep_resolvers::Ecosystem;

use crate::support::app::{self, TestDb, fresh_db, require_postgres};
use crate::support::fake_registries::{FakeRegistries, FakeRegistryOptions};
use crate::support::inventory::{self, DependencyBuilder};

/// Test jobs: each kind does one thing a test watches.
macro_rules! test_job {
    ($name:ident, $kind:literal, |$services:ident| $body:expr) => {
        #[derive(Debug, Clone, Serialize, Deserialize)]
        struct $name {}

        impl Job for $name {
            const KIND: &'static str = $kind;

            fn dedup_key(&self) -> Option<String> {
                None
            }

            async fn run(self, $services: &Services) -> Result<(), JobError> {
                $body
            }
        }
    };
}

test_job!(Low, "low", |_services| Ok(()));
test_job!(High, "high", |_services| Ok(()));
test_job!(Flaky, "flaky", |_services| Err(JobError::retry(
    "registry timed out"
)));
test_job!(Doomed, "doomed", |_services| Err(JobError::give_up(
    "repository 7 was deleted"
)));
test_job!(Transient, "transient", |_services| Err(JobError::retry(
    "the registry answered 503"
)));
test_job!(Slow, "slow", |_services| {
    tokio::time::sleep(Duration::from_hours(1)).await;
    Ok(())
});

/// Runs of [`Work`] (one test uses it).
static WORK_RUNS: AtomicU32 = AtomicU32::new(0);
test_job!(Work, "work", |_services| {
    WORK_RUNS.fetch_add(1, Ordering::SeqCst);
    Ok(())
});

/// Runs of [`Count`] jobs by (batch, n): each exactly-once test counts its own batch.
static COUNTED: LazyLock<Mutex<HashMap<(u64, u64), u32>>> = LazyLock::new(Mutex::default);
static BATCH: AtomicU64 = AtomicU64::new(0);

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Count {
    batch: u64,
    n: u64,
}

impl Job for Count {
    const KIND: &'static str = "count";

    fn dedup_key(&self) -> Option<String> {
        None
    }

    async fn run(self, _services: &Services) -> Result<(), JobError> {
        *COUNTED
            .lock()
            .unwrap()
            .entry((self.batch, self.n))
            .or_default() += 1;
        Ok(())
    }
}

fn services(db: &TestDb) -> Services {
    app::install_crypto();
    Services::from_config(&app::test_config(&db.url), db.store.clone()).expect("services")
}

/// A row as an older or foreign writer might have left it (no typed job builds such rows).
async fn insert_raw(store: &Store, kind: &str, payload: &str, max_attempts: i64) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO jobs (kind, payload, priority, state, run_at, attempts, max_attempts, created_at, updated_at) \
         VALUES ($1, $2, 0, 'pending', 0, 0, $3, 0, 0) RETURNING id",
    )
    .bind(kind)
    .bind(payload)
    .bind(max_attempts)
    .fetch_one(store.pool())
    .await
    .unwrap()
}

fn settings(concurrency: usize, lease_ms: u64) -> WorkerSettings {
    WorkerSettings {
        concurrency,
        lease: Duration::from_millis(lease_ms),
        poll: Duration::from_millis(10),
    }
}

async fn wait_until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_mins(1);
    while !done().await {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn count(store: &Store, state: &str) -> i64 {
    sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM jobs WHERE state = $1")
        .bind(state)
        .fetch_one(store.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_pending_dedup_key_is_enqueued_once() {
    let db = fresh_db().await;
    let job = Crawl { repository_id: 1 };
    assert_eq!(job.dedup_key().as_deref(), Some("repository:1"));
    assert!(jobs::enqueue(&db.store, &job).await.unwrap().is_some());
    assert!(
        jobs::enqueue(&db.store, &job).await.unwrap().is_none(),
        "same key while pending: not duplicated"
    );
    assert!(
        jobs::enqueue(&db.store, &Crawl { repository_id: 2 })
            .await
            .unwrap()
            .is_some()
    );
    // Once the first is running, a new one may be queued (the change it reacts to is newer).
    let claimed = db.store.claim("w", 60_000).await.unwrap().unwrap();
    assert_eq!(claimed.kind, "crawl");
    assert!(jobs::enqueue(&db.store, &job).await.unwrap().is_some());
}

#[tokio::test]
async fn higher_priority_runs_first() {
    let db = fresh_db().await;
    jobs::enqueue(&db.store, &Low {}).await.unwrap();
    jobs::enqueue_placed(&db.store, &High {}, Placement::of(&High {}).priority(10))
        .await
        .unwrap();
    assert_eq!(
        db.store.claim("w", 60_000).await.unwrap().unwrap().kind,
        "high"
    );
}

async fn exactly_once(db: &TestDb, jobs_total: usize, workers: usize) {
    let batch = BATCH.fetch_add(1, Ordering::SeqCst);
    for n in 0..u64::try_from(jobs_total).unwrap() {
        jobs::enqueue(&db.store, &Count { batch, n }).await.unwrap();
    }
    let services = services(db);
    let table = JobTable::new().with::<Count>();
    let (stop, rx) = watch::channel(false);
    let mut pool = tokio::task::JoinSet::new();
    for _ in 0..workers {
        pool.spawn(worker::run(
            services.clone(),
            table.clone(),
            settings(2, 30_000),
            rx.clone(),
        ));
    }
    wait_until("all jobs done", async || {
        count(&db.store, "done").await == i64::try_from(jobs_total).unwrap()
    })
    .await;
    stop.send(true).unwrap();
    while pool.join_next().await.is_some() {}
    let counted = COUNTED.lock().unwrap();
    let runs: HashMap<u64, u32> = counted
        .iter()
        .filter(|((b, _), _)| *b == batch)
        .map(|((_, n), runs)| (*n, *runs))
        .collect();
    assert_eq!(runs.len(), jobs_total);
    assert!(
        runs.values().all(|&n| n == 1),
        "a job ran twice: {:?}",
        runs.iter().find(|(_, n)| **n > 1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_workers_run_each_job_exactly_once() {
    let db = fresh_db().await;
    exactly_once(&db, 200, 4).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: set UPKEEP_TEST_DATABASE_URL and run with --include-ignored"]
async fn postgres_four_workers_process_a_thousand_jobs_exactly_once() {
    require_postgres();
    let db = fresh_db().await;
    exactly_once(&db, 1000, 4).await;
}

#[tokio::test]
async fn a_dead_workers_job_runs_again_after_its_lease_expires() {
    let db = fresh_db().await;
    let id = jobs::enqueue(&db.store, &Work {}).await.unwrap().unwrap();
    // A worker claims the job, renews its lease one last time for a moment and "dies": it never
    // completes or renews again.
    let first = db
        .store
        .claim("dead-worker", 60_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.id, id);
    assert!(
        db.store.claim("other", 60_000).await.unwrap().is_none(),
        "leased: nobody else may take it"
    );
    assert!(db.store.extend_lease(id, "dead-worker", 1).await.unwrap());

    let (stop, rx) = watch::channel(false);
    let pool = tokio::spawn(worker::run(
        services(&db),
        JobTable::new().with::<Work>(),
        settings(1, 30_000),
        rx,
    ));
    wait_until("the job to be done", async || {
        count(&db.store, "done").await == 1
    })
    .await;
    stop.send(true).unwrap();
    pool.await.unwrap();
    assert_eq!(WORK_RUNS.load(Ordering::SeqCst), 1);
    let record = db.store.job(id).await.unwrap().unwrap();
    assert_eq!(record.attempts, 2, "the dead worker's attempt counts");
    // The dead worker cannot complete a job it no longer holds.
    assert!(!db.store.complete(id, "dead-worker").await.unwrap());
}

#[tokio::test]
async fn a_failing_job_backs_off_and_ends_failed_with_its_error() {
    let db = fresh_db().await;
    let id = jobs::enqueue_placed(
        &db.store,
        &Flaky {},
        Placement::of(&Flaky {}).max_attempts(3),
    )
    .await
    .unwrap()
    .unwrap();
    for attempt in 1..=3 {
        // Backoff moves run_at into the future; make the retry due now instead of sleeping.
        sqlx::query("UPDATE jobs SET run_at = 0 WHERE id = $1")
            .bind(id)
            .execute(db.store.pool())
            .await
            .unwrap();
        let job = db
            .store
            .claim("w", 60_000)
            .await
            .unwrap()
            .expect("due again");
        assert_eq!(job.attempts, attempt);
        let before = upkeep::store::now_ms();
        let final_failure = db
            .store
            .fail(
                &job,
                "w",
                &format!("registry timed out (attempt {attempt})"),
            )
            .await
            .unwrap();
        assert_eq!(final_failure, attempt == 3);
        if attempt < 3 {
            let run_at: i64 = sqlx::query_scalar("SELECT run_at FROM jobs WHERE id = $1")
                .bind(id)
                .fetch_one(db.store.pool())
                .await
                .unwrap();
            let min_delay = 1_000 << attempt;
            assert!(
                run_at >= before + min_delay,
                "exponential backoff: attempt {attempt} waits at least {min_delay} ms"
            );
            assert!(
                db.store.claim("w", 60_000).await.unwrap().is_none(),
                "not due before its backoff"
            );
        }
    }
    let record = db.store.job(id).await.unwrap().unwrap();
    assert_eq!(record.state, "failed");
    assert_eq!(
        record.last_error.as_deref(),
        Some("registry timed out (attempt 3)")
    );
    assert!(
        db.store.claim("w", 60_000).await.unwrap().is_none(),
        "failed jobs are not retried"
    );
}

/// Run one worker over `table` until `done` holds.
async fn work_until(db: &TestDb, table: JobTable, what: &str, done: impl AsyncFnMut() -> bool) {
    let (stop, rx) = watch::channel(false);
    let pool = tokio::spawn(worker::run(services(db), table, settings(1, 30_000), rx));
    wait_until(what, done).await;
    stop.send(true).unwrap();
    pool.await.unwrap();
}

#[tokio::test]
async fn workers_fail_jobs_through_handlers_and_unknown_kinds() {
    let db = fresh_db().await;
    let id = insert_raw(&db.store, "mystery", "{}", 1).await;
    work_until(&db, JobTable::new(), "the job to fail", async || {
        count(&db.store, "failed").await == 1
    })
    .await;
    let record = db.store.job(id).await.unwrap().unwrap();
    assert_eq!(
        record.last_error.as_deref(),
        Some("no handler for job kind `mystery`")
    );
}

#[tokio::test]
async fn a_job_that_gives_up_fails_after_one_attempt_with_its_reason() {
    let db = fresh_db().await;
    let id = jobs::enqueue(&db.store, &Doomed {}).await.unwrap().unwrap();
    work_until(
        &db,
        JobTable::new().with::<Doomed>(),
        "the job to fail",
        async || count(&db.store, "failed").await == 1,
    )
    .await;
    let record = db.store.job(id).await.unwrap().unwrap();
    assert_eq!(record.state, "failed");
    assert_eq!(record.attempts, 1, "no retry, though attempts were left");
    assert_eq!(
        record.last_error.as_deref(),
        Some("repository 7 was deleted")
    );
}

#[tokio::test]
async fn a_job_that_says_retry_is_retried_with_backoff() {
    let db = fresh_db().await;
    let id = jobs::enqueue(&db.store, &Transient {})
        .await
        .unwrap()
        .unwrap();
    let before = upkeep::store::now_ms();
    work_until(
        &db,
        JobTable::new().with::<Transient>(),
        "the first attempt to fail",
        async || {
            db.store
                .job(id)
                .await
                .unwrap()
                .is_some_and(|job| job.attempts == 1 && job.state == "pending")
        },
    )
    .await;
    let record = db.store.job(id).await.unwrap().unwrap();
    assert_eq!(
        record.last_error.as_deref(),
        Some("the registry answered 503")
    );
    let run_at: i64 = sqlx::query_scalar("SELECT run_at FROM jobs WHERE id = $1")
        .bind(id)
        .fetch_one(db.store.pool())
        .await
        .unwrap();
    assert!(
        run_at >= before + 2_000,
        "backoff after the first attempt: at least 2 s"
    );
}

#[tokio::test]
async fn an_unknown_kind_or_an_unreadable_payload_gives_up_at_once() {
    let db = fresh_db().await;
    let unknown = insert_raw(&db.store, "mystery", "{}", 5).await;
    let unreadable = insert_raw(&db.store, "crawl", r#"{"repository":1}"#, 5).await;
    let not_json = insert_raw(&db.store, "crawl", "not json", 5).await;
    work_until(&db, JobTable::standard(), "the jobs to fail", async || {
        count(&db.store, "failed").await == 3
    })
    .await;
    for id in [unknown, unreadable, not_json] {
        let record = db.store.job(id).await.unwrap().unwrap();
        assert_eq!(record.attempts, 1, "job {id}: no retry");
    }
    let reason = |id| {
        let store = db.store.clone();
        async move { store.job(id).await.unwrap().unwrap().last_error.unwrap() }
    };
    assert_eq!(reason(unknown).await, "no handler for job kind `mystery`");
    let unreadable = reason(unreadable).await;
    assert!(
        unreadable.starts_with("the `crawl` job's payload does not parse")
            && unreadable.contains("repository_id"),
        "{unreadable}"
    );
    assert!(
        reason(not_json)
            .await
            .starts_with("the `crawl` job's payload does not parse"),
    );
}

#[tokio::test]
async fn stored_payloads_keep_their_shape() {
    use upkeep::jobs::deliver_webhook::DeliverWebhook;
    use upkeep::jobs::recommend_repository::RecommendRepository;
    use upkeep::jobs::resolve_package::ResolvePackage;

    let db = fresh_db().await;
    jobs::enqueue(&db.store, &Crawl { repository_id: 3 })
        .await
        .unwrap();
    jobs::enqueue(&db.store, &ResolvePackage { package_id: 4 })
        .await
        .unwrap();
    jobs::enqueue(&db.store, &RecommendRepository::dependencies(5, vec![6, 7]))
        .await
        .unwrap();
    jobs::enqueue(&db.store, &RecommendRepository::all(5))
        .await
        .unwrap();
    jobs::enqueue(&db.store, &DeliverWebhook { delivery_id: 8 })
        .await
        .unwrap();
    let rows: Vec<(String, String, Option<String>)> =
        sqlx::query_as("SELECT kind, payload, dedup_key FROM jobs ORDER BY id")
            .fetch_all(db.store.pool())
            .await
            .unwrap();
    let row = |kind: &str, payload: &str, key: Option<&str>| {
        (kind.to_owned(), payload.to_owned(), key.map(str::to_owned))
    };
    assert_eq!(
        rows,
        [
            row("crawl", r#"{"repository_id":3}"#, Some("repository:3")),
            row("resolve_package", r#"{"package_id":4}"#, Some("package:4")),
            row(
                "recommend_repository",
                r#"{"dependency_ids":[6,7],"repository_id":5}"#,
                None
            ),
            row(
                "recommend_repository",
                r#"{"dependency_ids":null,"repository_id":5}"#,
                Some("repository:5:all")
            ),
            row(
                "deliver_webhook",
                r#"{"delivery_id":8}"#,
                Some("delivery:8")
            ),
        ]
    );
    // Rows written before jobs were typed read back: `dependency_ids` absent means all.
    let old: RecommendRepository = serde_json::from_str(r#"{"repository_id":5}"#).unwrap();
    assert_eq!(old, RecommendRepository::all(5));
}

#[tokio::test]
async fn shutdown_gives_running_jobs_back() {
    let db = fresh_db().await;
    let id = jobs::enqueue(&db.store, &Slow {}).await.unwrap().unwrap();
    let (stop, rx) = watch::channel(false);
    let pool = tokio::spawn(worker::run(
        services(&db),
        JobTable::new().with::<Slow>(),
        settings(1, 30_000),
        rx,
    ));
    wait_until("the job to start", async || {
        count(&db.store, "running").await == 1
    })
    .await;
    stop.send(true).unwrap();
    pool.await.unwrap();
    let record = db.store.job(id).await.unwrap().unwrap();
    assert_eq!(record.state, "pending");
    assert_eq!(record.attempts, 0, "an interrupted attempt is not counted");
}

/// A slow job with a dedup key, so a twin can be queued while it runs.
static KEYED_RUNS: AtomicU32 = AtomicU32::new(0);

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SlowKeyed {
    key: u64,
}

impl Job for SlowKeyed {
    const KIND: &'static str = "slow_keyed";

    fn dedup_key(&self) -> Option<String> {
        Some(format!("slow:{}", self.key))
    }

    async fn run(self, _services: &Services) -> Result<(), JobError> {
        KEYED_RUNS.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_hours(1)).await;
        Ok(())
    }
}

async fn job_row(store: &Store, id: i64) -> Option<(String, i64, i64, i64, Option<String>)> {
    sqlx::query_as("SELECT state, priority, run_at, attempts, last_error FROM jobs WHERE id = $1")
        .bind(id)
        .fetch_optional(store.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn giving_a_job_back_merges_it_into_its_pending_twin() {
    let db = fresh_db().await;
    let job = Crawl { repository_id: 1 };
    let first = jobs::enqueue(&db.store, &job).await.unwrap().unwrap();
    let running = db.store.claim("w", 60_000).await.unwrap().unwrap();
    assert_eq!(running.id, first);
    // The scheduler queues the same work again while it runs, a minute from now and more urgent.
    let later = upkeep::store::now_ms() + 60_000;
    let twin = jobs::enqueue_placed(
        &db.store,
        &job,
        Placement::of(&job).priority(5).run_at(later),
    )
    .await
    .unwrap()
    .expect("a twin may be queued while the first runs");

    let before = upkeep::store::now_ms();
    db.store
        .release(first, "w")
        .await
        .expect("giving the job back must not fail on the pending twin");
    assert_eq!(count(&db.store, "running").await, 0, "no job left running");
    assert_eq!(
        job_row(&db.store, first).await,
        None,
        "the running row merged away"
    );
    let (state, priority, run_at, attempts, last_error) = job_row(&db.store, twin).await.unwrap();
    assert_eq!(state, "pending");
    assert_eq!(priority, 5, "the higher priority stays");
    assert!(
        run_at <= before + 1_000,
        "due now, as the job given back was, not a minute later"
    );
    assert_eq!(attempts, 0, "the interrupted attempt is not counted");
    assert_eq!(last_error, None);
    assert_eq!(
        db.store.claim("w2", 60_000).await.unwrap().map(|j| j.id),
        Some(twin),
        "the merged job runs"
    );
}

#[tokio::test]
async fn a_failed_attempt_merges_into_its_pending_twin_with_its_error() {
    let db = fresh_db().await;
    let job = Crawl { repository_id: 2 };
    let first = jobs::enqueue(&db.store, &job).await.unwrap().unwrap();
    let running = db.store.claim("w", 60_000).await.unwrap().unwrap();
    let twin = jobs::enqueue(&db.store, &job).await.unwrap().unwrap();

    let final_failure = db
        .store
        .fail(&running, "w", "the forge answered 502")
        .await
        .expect("recording the failure must not fail on the pending twin");
    assert!(!final_failure);
    assert_eq!(count(&db.store, "running").await, 0);
    assert_eq!(job_row(&db.store, first).await, None);
    let (state, _, _, attempts, last_error) = job_row(&db.store, twin).await.unwrap();
    assert_eq!(state, "pending");
    assert_eq!(attempts, 1, "the failed attempt counts");
    assert_eq!(last_error.as_deref(), Some("the forge answered 502"));

    // A job without a twin goes back to pending with backoff, as before.
    let other = jobs::enqueue(&db.store, &Crawl { repository_id: 3 })
        .await
        .unwrap()
        .unwrap();
    sqlx::query("UPDATE jobs SET run_at = $1 WHERE id = $2")
        .bind(upkeep::store::now_ms() + 3_600_000)
        .bind(twin)
        .execute(db.store.pool())
        .await
        .unwrap();
    let claimed = db.store.claim("w", 60_000).await.unwrap().unwrap();
    assert_eq!(claimed.id, other);
    let before = upkeep::store::now_ms();
    db.store.fail(&claimed, "w", "timeout").await.unwrap();
    let (state, _, run_at, attempts, last_error) = job_row(&db.store, other).await.unwrap();
    assert_eq!((state.as_str(), attempts), ("pending", 1));
    assert!(run_at >= before + 2_000, "backoff");
    assert_eq!(last_error.as_deref(), Some("timeout"));
}

#[tokio::test]
async fn shutdown_with_pending_twins_leaves_no_job_running() {
    let db = fresh_db().await;
    let mut firsts = Vec::new();
    for key in 0..3 {
        firsts.push(
            jobs::enqueue(&db.store, &SlowKeyed { key })
                .await
                .unwrap()
                .unwrap(),
        );
    }
    let (stop, rx) = watch::channel(false);
    let pool = tokio::spawn(worker::run(
        services(&db),
        JobTable::new().with::<SlowKeyed>(),
        settings(3, 30_000),
        rx,
    ));
    wait_until("the jobs to start", async || {
        count(&db.store, "running").await == 3
    })
    .await;
    let mut twins = Vec::new();
    for key in 0..3 {
        twins.push(
            jobs::enqueue(&db.store, &SlowKeyed { key })
                .await
                .unwrap()
                .unwrap(),
        );
    }
    stop.send(true).unwrap();
    pool.await.unwrap();
    assert_eq!(count(&db.store, "running").await, 0, "no job left running");
    assert_eq!(
        count(&db.store, "pending").await,
        3,
        "one pending job per key"
    );
    for (first, twin) in firsts.into_iter().zip(twins) {
        assert_eq!(job_row(&db.store, first).await, None);
        let (state, _, _, attempts, _) = job_row(&db.store, twin).await.unwrap();
        assert_eq!((state.as_str(), attempts), ("pending", 0));
    }
}

/// Runs of [`Sleepy`]: longer than the short lease the renewal test uses.
static SLEEPY_RUNS: AtomicU32 = AtomicU32::new(0);
test_job!(Sleepy, "sleepy", |_services| {
    SLEEPY_RUNS.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    Ok(())
});

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_heartbeat_keeps_a_job_longer_than_its_lease_from_running_twice() {
    let db = fresh_db().await;
    let id = jobs::enqueue(&db.store, &Sleepy {}).await.unwrap().unwrap();
    // Two worker processes with a 300 ms lease; the job runs five times as long.
    let (stop, rx) = watch::channel(false);
    let mut pool = tokio::task::JoinSet::new();
    for _ in 0..2 {
        pool.spawn(worker::run(
            services(&db),
            JobTable::new().with::<Sleepy>(),
            settings(2, 300),
            rx.clone(),
        ));
    }
    wait_until("the job to be done", async || {
        count(&db.store, "done").await == 1
    })
    .await;
    stop.send(true).unwrap();
    while pool.join_next().await.is_some() {}
    assert_eq!(SLEEPY_RUNS.load(Ordering::SeqCst), 1, "claimed once");
    let record = db.store.job(id).await.unwrap().unwrap();
    assert_eq!(record.attempts, 1);
}

#[tokio::test]
async fn a_lease_that_expires_on_the_last_attempt_fails_the_job() {
    let db = fresh_db().await;
    let last = jobs::enqueue_placed(&db.store, &Work {}, Placement::of(&Work {}).max_attempts(1))
        .await
        .unwrap()
        .unwrap();
    let more = jobs::enqueue_placed(&db.store, &Low {}, Placement::of(&Low {}).max_attempts(2))
        .await
        .unwrap()
        .unwrap();
    // A worker takes both and dies: while its leases run, nothing is failed.
    let mut claimed = Vec::new();
    for _ in 0..2 {
        claimed.push(
            db.store
                .claim("dead-worker", 60_000)
                .await
                .unwrap()
                .unwrap(),
        );
    }
    assert_eq!(
        db.store.fail_exhausted_leases().await.unwrap(),
        0,
        "leases still running"
    );
    // Its last heartbeat set the leases to end a millisecond later; now they have ended.
    for job in &claimed {
        assert!(
            db.store
                .extend_lease(job.id, "dead-worker", 1)
                .await
                .unwrap()
        );
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(db.store.fail_exhausted_leases().await.unwrap(), 1);
    let record = db.store.job(last).await.unwrap().unwrap();
    assert_eq!(record.state, "failed");
    assert_eq!(
        record.last_error.as_deref(),
        Some("lease expired on the last attempt")
    );
    let record = db.store.job(more).await.unwrap().unwrap();
    assert_eq!(
        record.state, "running",
        "an attempt left: claimed again instead"
    );
    assert_eq!(
        db.store.claim("w", 60_000).await.unwrap().map(|j| j.id),
        Some(more)
    );
    assert!(!db.store.complete(last, "dead-worker").await.unwrap());
}

#[tokio::test]
async fn a_handler_error_on_the_last_attempt_ends_failed_through_a_worker() {
    let db = fresh_db().await;
    let id = jobs::enqueue_placed(
        &db.store,
        &Flaky {},
        Placement::of(&Flaky {}).max_attempts(1),
    )
    .await
    .unwrap()
    .unwrap();
    work_until(
        &db,
        JobTable::new().with::<Flaky>(),
        "the job to fail",
        async || count(&db.store, "failed").await == 1,
    )
    .await;
    let record = db.store.job(id).await.unwrap().unwrap();
    assert_eq!(record.attempts, 1);
    assert_eq!(record.last_error.as_deref(), Some("registry timed out"));
}

/// A job that waits on a slow outside service and may hold half of a worker's slots.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Stuck {
    n: u64,
}

impl Job for Stuck {
    const KIND: &'static str = "stuck";
    const WORKER_SLOTS_PERCENT: u8 = 50;

    fn dedup_key(&self) -> Option<String> {
        None
    }

    async fn run(self, _services: &Services) -> Result<(), JobError> {
        tokio::time::sleep(Duration::from_hours(1)).await;
        Ok(())
    }
}

#[tokio::test]
async fn a_kind_limited_to_half_the_slots_leaves_the_rest_to_other_kinds() {
    let db = fresh_db().await;
    for n in 0..4 {
        jobs::enqueue_placed(
            &db.store,
            &Stuck { n },
            Placement::of(&Stuck { n }).priority(9),
        )
        .await
        .unwrap();
    }
    let (stop, rx) = watch::channel(false);
    let pool = tokio::spawn(worker::run(
        services(&db),
        JobTable::new().with::<Stuck>().with::<Low>(),
        settings(4, 30_000),
        rx,
    ));
    wait_until("two stuck jobs to run", async || {
        count(&db.store, "running").await == 2
    })
    .await;
    for _ in 0..3 {
        jobs::enqueue(&db.store, &Low {}).await.unwrap();
    }
    wait_until("the other jobs to be done", async || {
        count(&db.store, "done").await == 3
    })
    .await;
    let running: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE state = 'running' AND kind = 'stuck'")
            .fetch_one(db.store.pool())
            .await
            .unwrap();
    assert_eq!(running, 2, "half of four slots, never more");
    stop.send(true).unwrap();
    pool.await.unwrap();
    assert_eq!(count(&db.store, "running").await, 0);
}

// ---- the package lookup lease, with a real resolve_package job and a slow fake registry ----

async fn package_in_use(store: &Store, name: &str) -> i64 {
    let team = inventory::team(store, name).await;
    let repository =
        inventory::repository(store, team, &format!("https://github.com/acme/{name}")).await;
    DependencyBuilder::npm(name)
        .requirement("^1.0.0")
        .insert(store, repository)
        .await
}

/// Services whose npm registry is `fakes`, with a `lease_seconds` job lease.
fn registry_services(db: &TestDb, fakes: &FakeRegistries, lease_seconds: u64) -> Services {
    app::install_crypto();
    let mut config = app::test_config(&db.url);
    config.registries.extend(fakes.base_urls());
    config.job_lease_seconds = lease_seconds;
    Services::from_config(&config, db.store.clone()).expect("services")
}

fn npm_requests(fakes: &FakeRegistries) -> u64 {
    fakes.stats().get(Ecosystem::Npm).requests
}

async fn lookup_lease(store: &Store, package: i64) -> (Option<i64>, Option<i64>) {
    sqlx::query_as("SELECT resolving_until, checked_at FROM packages WHERE id = $1")
        .bind(package)
        .fetch_one(store.pool())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_package_lookup_lease_is_renewed_while_a_slow_lookup_runs() {
    let db = fresh_db().await;
    let fakes = FakeRegistries::start_with(FakeRegistryOptions {
        latency: Duration::from_millis(2_500),
        ..FakeRegistryOptions::default()
    })
    .await;
    let package = package_in_use(&db.store, "slow-pad").await;
    jobs::enqueue(
        &db.store,
        &ResolvePackage {
            package_id: package,
        },
    )
    .await
    .unwrap();
    // Two worker processes with a one-second lease; the registry takes 2.5 s to answer.
    let (stop, rx) = watch::channel(false);
    let mut pool = tokio::task::JoinSet::new();
    for _ in 0..2 {
        pool.spawn(worker::run(
            registry_services(&db, &fakes, 1),
            JobTable::standard(),
            settings(2, 1_000),
            rx.clone(),
        ));
    }
    wait_until("the lookup to reach the registry", async || {
        npm_requests(&fakes) == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    // Past the first lease: still held, so the scheduler leaves the package to its job and a job
    // queued meanwhile does not ask the registry again.
    let (until, _) = lookup_lease(&db.store, package).await;
    assert!(
        until.is_some_and(|until| until > upkeep::store::now_ms()),
        "the lookup lease was renewed: {until:?}"
    );
    assert_eq!(
        upkeep::scheduler::enqueue_stale_packages(&db.store, Duration::from_hours(1), 100)
            .await
            .unwrap(),
        0,
        "the scheduler skips a package being looked up"
    );
    jobs::enqueue(
        &db.store,
        &ResolvePackage {
            package_id: package,
        },
    )
    .await
    .unwrap();
    wait_until("both jobs to be done", async || {
        count(&db.store, "done").await == 2
    })
    .await;
    stop.send(true).unwrap();
    while pool.join_next().await.is_some() {}
    assert_eq!(npm_requests(&fakes), 1, "one lookup");
    assert!(!db.store.releases(package).await.unwrap().is_empty());
    fakes.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lookup_given_back_on_shutdown_lets_go_of_its_lease() {
    let db = fresh_db().await;
    let fakes = FakeRegistries::start_with(FakeRegistryOptions {
        latency: Duration::from_mins(10),
        ..FakeRegistryOptions::default()
    })
    .await;
    let package = package_in_use(&db.store, "hung-pad").await;
    let id = jobs::enqueue(
        &db.store,
        &ResolvePackage {
            package_id: package,
        },
    )
    .await
    .unwrap()
    .unwrap();
    let (stop, rx) = watch::channel(false);
    let pool = tokio::spawn(worker::run(
        registry_services(&db, &fakes, 30),
        JobTable::standard(),
        settings(2, 30_000),
        rx,
    ));
    wait_until("the lookup to reach the registry", async || {
        npm_requests(&fakes) == 1
    })
    .await;
    assert!(lookup_lease(&db.store, package).await.0.is_some());
    stop.send(true).unwrap();
    pool.await.unwrap();
    assert_eq!(
        lookup_lease(&db.store, package).await,
        (None, None),
        "the lease ends with the give-back; the package stays due"
    );
    assert_eq!(db.store.job(id).await.unwrap().unwrap().state, "pending");

    // The next run (a restarted process) asks the registry instead of finding the lease taken.
    fakes.set_latency(Duration::ZERO);
    let (stop, rx) = watch::channel(false);
    let pool = tokio::spawn(worker::run(
        registry_services(&db, &fakes, 30),
        JobTable::standard(),
        settings(2, 30_000),
        rx,
    ));
    wait_until("the job to be done", async || {
        count(&db.store, "done").await == 1
    })
    .await;
    stop.send(true).unwrap();
    pool.await.unwrap();
    assert_eq!(npm_requests(&fakes), 2);
    assert!(!db.store.releases(package).await.unwrap().is_empty());
    fakes.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn other_kinds_run_while_lookups_are_stuck_on_a_slow_registry() {
    let db = fresh_db().await;
    let fakes = FakeRegistries::start_with(FakeRegistryOptions {
        latency: Duration::from_mins(10),
        ..FakeRegistryOptions::default()
    })
    .await;
    let mut packages = Vec::new();
    for n in 0..4 {
        let package_id = package_in_use(&db.store, &format!("stuck-{n}")).await;
        packages.push(package_id);
        jobs::enqueue(&db.store, &ResolvePackage { package_id })
            .await
            .unwrap();
    }
    let (stop, rx) = watch::channel(false);
    let pool = tokio::spawn(worker::run(
        registry_services(&db, &fakes, 30),
        JobTable::standard(),
        settings(2, 30_000),
        rx,
    ));
    wait_until("a lookup to hang on the registry", async || {
        npm_requests(&fakes) >= 1
    })
    .await;
    let repository: i64 = sqlx::query_scalar("SELECT id FROM repositories LIMIT 1")
        .fetch_one(db.store.pool())
        .await
        .unwrap();
    let recommend = jobs::enqueue(&db.store, &RecommendRepository::all(repository))
        .await
        .unwrap()
        .unwrap();
    wait_until("the recommendation job to be done", async || {
        db.store.job(recommend).await.unwrap().unwrap().state == "done"
    })
    .await;
    let running: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM jobs WHERE state = 'running' AND kind = 'resolve_package'",
    )
    .fetch_one(db.store.pool())
    .await
    .unwrap();
    assert_eq!(running, 1, "lookups hold half of the two slots");
    stop.send(true).unwrap();
    pool.await.unwrap();
    assert_eq!(count(&db.store, "running").await, 0);
    fakes.stop().await;
}

// ---- crawls abandoned by a dead worker ----

#[tokio::test]
async fn a_crawl_left_running_by_a_dead_worker_ends_abandoned_on_takeover() {
    let db = fresh_db().await;
    let store = &db.store;
    let team = inventory::team(store, "orphans").await;
    let repository = inventory::repository(store, team, "https://github.com/acme/orphan").await;
    // A worker takes the crawl lease, opens its crawl and is killed.
    assert!(
        store
            .try_lease_crawl(repository, "dead", 60_000)
            .await
            .unwrap()
    );
    let orphan = store.start_crawl(repository).await.unwrap();
    // Its lease expires; another crawl takes over.
    sqlx::query("UPDATE repositories SET crawl_locked_until = 0 WHERE id = $1")
        .bind(repository)
        .execute(store.pool())
        .await
        .unwrap();
    assert!(
        store
            .try_lease_crawl(repository, "alive", 60_000)
            .await
            .unwrap()
    );
    let current = store.start_crawl(repository).await.unwrap();
    let crawls = store.crawls_of(repository).await.unwrap();
    let status = |id: i64| {
        let crawl = crawls.iter().find(|c| c.id == id).unwrap();
        (crawl.status.clone(), crawl.error.clone())
    };
    assert_eq!(
        status(orphan),
        (
            "failed".to_owned(),
            Some(upkeep::store::inventory::ABANDONED.to_owned())
        )
    );
    assert_eq!(status(current), ("running".to_owned(), None));
    let failed = crawl_failed_events(store).await;
    assert_eq!(
        failed,
        vec![(Some(team), orphan)],
        "one crawl_failed, for the team"
    );

    // The dead worker cannot close it a second time.
    store
        .fail_crawl(
            team,
            orphan,
            upkeep::events::CrawlPayload {
                repository_id: repository,
                crawl_id: orphan,
                commit: None,
                manifests_read: 0,
                dependencies_added: 0,
                dependencies_changed: 0,
                dependencies_removed: 0,
                warnings: 0,
                error: Some("late".to_owned()),
            },
        )
        .await
        .unwrap();
    assert_eq!(crawl_failed_events(store).await.len(), 1);
    assert_eq!(
        store
            .crawls_of(repository)
            .await
            .unwrap()
            .iter()
            .find(|c| c.id == orphan)
            .unwrap()
            .error
            .as_deref(),
        Some(upkeep::store::inventory::ABANDONED)
    );
}

/// (team, crawl id) of every `crawl_failed` event.
async fn crawl_failed_events(store: &Store) -> Vec<(Option<i64>, i64)> {
    let rows: Vec<(Option<i64>, String)> = sqlx::query_as(
        "SELECT team_id, payload FROM events WHERE type = 'crawl_failed' ORDER BY seq",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    rows.into_iter()
        .map(|(team, payload)| {
            let payload: serde_json::Value = serde_json::from_str(&payload).unwrap();
            (team, payload["crawl_id"].as_i64().unwrap())
        })
        .collect()
}

#[tokio::test]
async fn the_scheduler_leaves_a_package_being_looked_up_to_its_job() {
    let db = fresh_db().await;
    let package = package_in_use(&db.store, "busy-pad").await;
    let set_lease = async |until: i64| {
        sqlx::query("UPDATE packages SET resolving_until = $1 WHERE id = $2")
            .bind(until)
            .bind(package)
            .execute(db.store.pool())
            .await
            .unwrap();
    };
    let sweep = async || {
        upkeep::scheduler::enqueue_stale_packages(&db.store, Duration::from_hours(1), 100)
            .await
            .unwrap()
    };
    set_lease(upkeep::store::now_ms() + 60_000).await;
    assert_eq!(sweep().await, 0, "a job holds the lookup");
    set_lease(upkeep::store::now_ms() - 1).await;
    assert_eq!(
        sweep().await,
        1,
        "a lease left by a dead worker has expired"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set UPKEEP_TEST_DATABASE_URL and run with --include-ignored"]
async fn postgres_a_give_back_racing_with_its_twins_insert_merges_into_it() {
    require_postgres();
    let db = fresh_db().await;
    let job = Crawl { repository_id: 9 };
    let first = jobs::enqueue(&db.store, &job).await.unwrap().unwrap();
    db.store.claim("w", 60_000).await.unwrap().unwrap();
    // Another transaction queues the twin and has not committed when the give-back runs: the
    // give-back does not see it, and its update waits on the unique index for that transaction.
    let mut other = db.store.begin().await.unwrap();
    let twin = jobs::enqueue_in(&mut other, &job).await.unwrap().unwrap();
    let store = db.store.clone();
    let give_back = tokio::spawn(async move { store.release(first, "w").await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    other.commit().await.unwrap();
    give_back
        .await
        .unwrap()
        .expect("the give-back is tried again and merges into the twin");
    assert_eq!(job_row(&db.store, first).await, None);
    assert_eq!(job_row(&db.store, twin).await.unwrap().0, "pending");
    assert_eq!(count(&db.store, "running").await, 0);
}
