//! The durable job queue: deduplication, exactly-once processing by concurrent workers, lease
//! expiry after a worker dies, backoff and final failure, and release on shutdown.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{fresh_db, require_postgres};
use serde_json::json;
use tokio::sync::watch;
use upkeep::jobs::{self, Handlers, WorkerSettings};
use upkeep::store::Store;
use upkeep::store::jobs::NewJob;

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
    let job = || NewJob::new("crawl", json!({"repository": 1})).dedup("repository:1");
    assert!(db.store.enqueue(job()).await.unwrap().is_some());
    assert!(
        db.store.enqueue(job()).await.unwrap().is_none(),
        "same key while pending: not duplicated"
    );
    assert!(
        db.store
            .enqueue(NewJob::new("crawl", json!({})).dedup("repository:2"))
            .await
            .unwrap()
            .is_some()
    );
    // Once the first is running, a new one may be queued (the change it reacts to is newer).
    let claimed = db.store.claim("w", 60_000).await.unwrap().unwrap();
    assert_eq!(claimed.kind, "crawl");
    assert!(db.store.enqueue(job()).await.unwrap().is_some());
}

#[tokio::test]
async fn higher_priority_runs_first() {
    let db = fresh_db().await;
    db.store
        .enqueue(NewJob::new("low", json!({})))
        .await
        .unwrap();
    db.store
        .enqueue(NewJob::new("high", json!({})).priority(10))
        .await
        .unwrap();
    assert_eq!(
        db.store.claim("w", 60_000).await.unwrap().unwrap().kind,
        "high"
    );
}

async fn exactly_once(store: Store, jobs_total: usize, workers: usize) {
    for i in 0..jobs_total {
        store
            .enqueue(NewJob::new("count", json!({ "n": i })))
            .await
            .unwrap();
    }
    let runs: Arc<Mutex<HashMap<u64, u32>>> = Arc::default();
    let handlers = {
        let runs = runs.clone();
        Handlers::new().on("count", move |payload| {
            let runs = runs.clone();
            async move {
                let n = payload["n"].as_u64().ok_or("payload without n")?;
                *runs.lock().unwrap().entry(n).or_default() += 1;
                Ok(())
            }
        })
    };
    let (stop, rx) = watch::channel(false);
    let mut pool = tokio::task::JoinSet::new();
    for _ in 0..workers {
        pool.spawn(jobs::run(
            store.clone(),
            handlers.clone(),
            settings(2, 30_000),
            rx.clone(),
        ));
    }
    wait_until("all jobs done", async || {
        count(&store, "done").await == i64::try_from(jobs_total).unwrap()
    })
    .await;
    stop.send(true).unwrap();
    while pool.join_next().await.is_some() {}
    let runs = runs.lock().unwrap();
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
    exactly_once(db.store.clone(), 200, 4).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: set UPKEEP_TEST_DATABASE_URL and run with --include-ignored"]
async fn postgres_four_workers_process_a_thousand_jobs_exactly_once() {
    require_postgres();
    let db = fresh_db().await;
    exactly_once(db.store.clone(), 1000, 4).await;
}

#[tokio::test]
async fn a_dead_workers_job_runs_again_after_its_lease_expires() {
    let db = fresh_db().await;
    let id = db
        .store
        .enqueue(NewJob::new("work", json!({})))
        .await
        .unwrap()
        .unwrap();
    // A worker claims the job with a short lease and "dies": it never completes or renews.
    let first = db.store.claim("dead-worker", 100).await.unwrap().unwrap();
    assert_eq!(first.id, id);
    assert!(
        db.store.claim("other", 100).await.unwrap().is_none(),
        "leased: nobody else may take it"
    );
    tokio::time::sleep(Duration::from_millis(150)).await;

    let ran = Arc::new(Mutex::new(0));
    let handlers = {
        let ran = ran.clone();
        Handlers::new().on("work", move |_| {
            let ran = ran.clone();
            async move {
                *ran.lock().unwrap() += 1;
                Ok(())
            }
        })
    };
    let (stop, rx) = watch::channel(false);
    let pool = tokio::spawn(jobs::run(
        db.store.clone(),
        handlers,
        settings(1, 30_000),
        rx,
    ));
    wait_until("the job to be done", async || {
        count(&db.store, "done").await == 1
    })
    .await;
    stop.send(true).unwrap();
    pool.await.unwrap();
    assert_eq!(*ran.lock().unwrap(), 1);
    let record = db.store.job(id).await.unwrap().unwrap();
    assert_eq!(record.attempts, 2, "the dead worker's attempt counts");
    // The dead worker cannot complete a job it no longer holds.
    assert!(!db.store.complete(id, "dead-worker").await.unwrap());
}

#[tokio::test]
async fn a_failing_job_backs_off_and_ends_failed_with_its_error() {
    let db = fresh_db().await;
    let id = db
        .store
        .enqueue(NewJob::new("flaky", json!({})).max_attempts(3))
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

#[tokio::test]
async fn workers_fail_jobs_through_handlers_and_unknown_kinds() {
    let db = fresh_db().await;
    let id = db
        .store
        .enqueue(NewJob::new("mystery", json!({})).max_attempts(1))
        .await
        .unwrap()
        .unwrap();
    let (stop, rx) = watch::channel(false);
    let pool = tokio::spawn(jobs::run(
        db.store.clone(),
        Handlers::new(),
        settings(1, 30_000),
        rx,
    ));
    wait_until("the job to fail", async || {
        count(&db.store, "failed").await == 1
    })
    .await;
    stop.send(true).unwrap();
    pool.await.unwrap();
    let record = db.store.job(id).await.unwrap().unwrap();
    assert_eq!(
        record.last_error.as_deref(),
        Some("no handler for job kind `mystery`")
    );
}

#[tokio::test]
async fn shutdown_gives_running_jobs_back() {
    let db = fresh_db().await;
    let id = db
        .store
        .enqueue(NewJob::new("slow", json!({})))
        .await
        .unwrap()
        .unwrap();
    let handlers = Handlers::new().on("slow", |_| async {
        tokio::time::sleep(Duration::from_hours(1)).await;
        Ok(())
    });
    let (stop, rx) = watch::channel(false);
    let pool = tokio::spawn(jobs::run(
        db.store.clone(),
        handlers,
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
