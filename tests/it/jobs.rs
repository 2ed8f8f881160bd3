//! The durable job queue: deduplication, exactly-once processing by concurrent workers, lease
//! expiry after a worker dies, backoff and final failure, giving up at once, unknown kinds and
//! unparsable payloads, and release on shutdown.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use upkeep::jobs::crawl::Crawl;
use upkeep::jobs::dispatch::JobTable;
use upkeep::jobs::worker::{self, WorkerSettings};
use upkeep::jobs::{self, Job, JobError, Placement};
use upkeep::services::Services;
use upkeep::store::Store;

use crate::support::app::{self, TestDb, fresh_db, require_postgres};

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
    // A worker claims the job with a short lease and "dies": it never completes or renews.
    let first = db.store.claim("dead-worker", 100).await.unwrap().unwrap();
    assert_eq!(first.id, id);
    assert!(
        db.store.claim("other", 100).await.unwrap().is_none(),
        "leased: nobody else may take it"
    );
    tokio::time::sleep(Duration::from_millis(150)).await;

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
