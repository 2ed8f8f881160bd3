//! The fault script for the job queue (issue 10, points 6, 7 and 10): the real `upkeep worker`
//! binary against a test database, the fake GitHub and the fake registries, with its plugs
//! pulled. SIGTERM while jobs run and their pending twins wait leaves no job `running`; a
//! registry that never answers leaves other work running; kill -9 of a worker mid-crawl leaves a
//! crawl that a second worker closes (`failed`, abandoned) and finishes. Every wait is bounded;
//! only the processes this module starts are signalled, by their id, and dropped children are
//! killed. SQLite (a file both processes open), and PostgreSQL when `UPKEEP_TEST_DATABASE_URL`
//! is set.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};
use upkeep::jobs::crawl::Crawl;
use upkeep::jobs::resolve_package::ResolvePackage;
use upkeep::jobs::{self};
use upkeep::store::Store;

use crate::support::app::{self, CLOSED_PORT, TestDb, fresh_db};
use crate::support::fake_github::{self, FakeGithub};
use crate::support::fake_registries::{FakeRegistries, FakeRegistryOptions};
use crate::support::inventory::{repository, team};

/// Crawl jobs still to run.
const CRAWLS_TO_DO: &str =
    "SELECT COUNT(*) FROM jobs WHERE kind = 'crawl' AND state IN ('pending', 'running')";

/// The longest any one wait of this module lasts.
const WAIT: Duration = Duration::from_secs(40);

/// The longest one test of this module lasts, all waits included.
const TEST_LIMIT: Duration = Duration::from_secs(110);

/// Run one fault script within [`TEST_LIMIT`]; on time-out its workers are killed as it is
/// dropped.
async fn bounded(script: impl Future<Output = ()>) {
    tokio::time::timeout(TEST_LIMIT, script)
        .await
        .expect("the fault script ends within its time limit");
}

const API_PACKAGE_JSON: &str = r#"{"name": "api", "dependencies": {"left-pad": "^1.0.0", "express": "^4.17.0", "lodash": "^4.17.0"}}"#;
const WEB_PACKAGE_JSON: &str = r#"{"name": "web", "dependencies": {"react": "^18.0.0"}}"#;

/// One `upkeep worker` process of this test, its log file beside the test's temporary files.
struct Worker {
    child: Child,
    log: PathBuf,
}

impl Worker {
    fn start(
        dir: &Path,
        name: &str,
        db: &TestDb,
        github: &FakeGithub,
        registries: &FakeRegistries,
    ) -> Worker {
        let log = dir.join(format!("{name}.log"));
        let file = std::fs::File::create(&log).expect("log file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_upkeep"));
        command
            .arg("worker")
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("UPKEEP_DATABASE_URL", &db.url)
            .env("UPKEEP_GITHUB_API_URL", github.url())
            .env("UPKEEP_GITHUB_TOKEN", fake_github::TOKEN)
            .env("UPKEEP_WORKERS", "4")
            .env("UPKEEP_JOB_LEASE_SECONDS", "2")
            .env("UPKEEP_JOB_POLL_MS", "50")
            .env("UPKEEP_CACHE_DIR", dir.join(format!("{name}-cache")))
            .env("UPKEEP_LOG_LEVEL", "info,sqlx=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::from(file.try_clone().expect("log file")))
            .stderr(Stdio::from(file))
            .kill_on_drop(true);
        // Nothing leaves the machine: every registry is a fake or a closed loopback port.
        for (key, _) in upkeep_resolvers::registry::DEFAULT_BASE_URLS {
            command.env(
                format!("UPKEEP_REGISTRY_{}", key.to_ascii_uppercase()),
                CLOSED_PORT,
            );
        }
        for (key, url) in registries.base_urls() {
            command.env(format!("UPKEEP_REGISTRY_{}", key.to_ascii_uppercase()), url);
        }
        let child = command.spawn().expect("start the upkeep binary");
        Worker { child, log }
    }

    fn pid(&self) -> u32 {
        self.child.id().expect("the worker is running")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, then wait (bounded) for a graceful exit.
    async fn terminate(mut self) -> String {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "SIGTERM sent");
        let exit = tokio::time::timeout(WAIT, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("the worker did not stop after SIGTERM:\n{}", self.log()))
            .expect("wait for the worker");
        assert!(exit.success(), "graceful exit: {exit}\n{}", self.log());
        self.log()
    }

    /// kill -9, as a crash would.
    async fn kill(mut self) {
        self.child.start_kill().expect("SIGKILL");
        let _ = tokio::time::timeout(WAIT, self.child.wait())
            .await
            .expect("the worker died");
    }
}

async fn wait_until(what: &str, logs: impl Fn() -> String, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !done().await {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}\n{}",
            logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn scalar(store: &Store, sql: &'static str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(store.pool())
        .await
        .expect(sql)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_with_pending_twins_and_a_hung_registry_leaves_nothing_running() {
    bounded(sigterm_script()).await;
}

async fn sigterm_script() {
    app::install_crypto();
    let dir = tempfile::tempdir().expect("temp dir");
    let db = fresh_db().await;
    let store = &db.store;
    let github = FakeGithub::start().await;
    github.add_repo("acme", "api", "main", &[("package.json", API_PACKAGE_JSON)]);
    github.add_repo("acme", "web", "main", &[("package.json", WEB_PACKAGE_JSON)]);
    // A registry that never answers within the test.
    let registries = FakeRegistries::start_with(FakeRegistryOptions {
        latency: Duration::from_mins(10),
        ..FakeRegistryOptions::default()
    })
    .await;
    let team = team(store, "acme").await;
    let api = repository(store, team, "https://github.com/acme/api").await;

    let worker = Worker::start(dir.path(), "worker", &db, &github, &registries);
    jobs::enqueue(store, &Crawl { repository_id: api })
        .await
        .expect("enqueue");
    // The crawl queues a lookup per package; the registry hangs them.
    wait_until(
        "lookups hanging on the registry",
        || worker.log(),
        async || {
            scalar(
                store,
                "SELECT COUNT(*) FROM jobs WHERE kind = 'resolve_package' AND state = 'running'",
            )
            .await
                == 2
        },
    )
    .await;

    // A slow registry does not stop other work: a new repository's first crawl completes.
    let web = repository(store, team, "https://github.com/acme/web").await;
    jobs::enqueue(store, &Crawl { repository_id: web })
        .await
        .expect("enqueue");
    wait_until(
        "the second crawl to complete",
        || worker.log(),
        async || {
            store
                .crawls_of(web)
                .await
                .expect("crawls")
                .iter()
                .any(|c| c.status == "completed")
        },
    )
    .await;
    assert_eq!(
        scalar(
            store,
            "SELECT COUNT(*) FROM jobs WHERE kind = 'resolve_package' AND state = 'running'"
        )
        .await,
        2,
        "lookups hold half of the four slots"
    );

    // Twins of the running lookups, as the scheduler or a crawl would queue them.
    let running: Vec<(String,)> = sqlx::query_as(
        "SELECT payload FROM jobs WHERE kind = 'resolve_package' AND state = 'running'",
    )
    .fetch_all(store.pool())
    .await
    .expect("running jobs");
    for (payload,) in running {
        let job: ResolvePackage = serde_json::from_str(&payload).expect("payload");
        assert!(
            jobs::enqueue(store, &job).await.expect("enqueue").is_some(),
            "a twin of a running job may be queued"
        );
    }

    let log = worker.terminate().await;
    assert_eq!(
        scalar(store, "SELECT COUNT(*) FROM jobs WHERE state = 'running'").await,
        0,
        "no job left running after SIGTERM\n{log}"
    );
    let packages = scalar(store, "SELECT COUNT(*) FROM packages").await;
    assert_eq!(
        scalar(
            store,
            "SELECT COUNT(*) FROM jobs WHERE kind = 'resolve_package' AND state = 'pending'"
        )
        .await,
        packages,
        "one pending lookup per package"
    );
    assert_eq!(
        scalar(
            store,
            "SELECT COUNT(*) FROM packages WHERE resolving_until IS NOT NULL"
        )
        .await,
        0,
        "the lookups given back let go of their leases"
    );
    assert_eq!(
        scalar(
            store,
            "SELECT COUNT(*) FROM crawls WHERE status = 'running'"
        )
        .await,
        0
    );
    registries.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crawl_whose_worker_is_killed_is_finished_by_another() {
    bounded(kill_mid_crawl_script()).await;
}

async fn kill_mid_crawl_script() {
    app::install_crypto();
    let dir = tempfile::tempdir().expect("temp dir");
    let db = fresh_db().await;
    let store = &db.store;
    // The same repository on two fakes: one where every answer takes a while, so the first
    // worker is mid-crawl when it dies, and one that answers at once for the second worker.
    let slow_github = FakeGithub::start_with_latency(Duration::from_millis(700)).await;
    let github = FakeGithub::start().await;
    let files: Vec<(String, String)> = (0..6)
        .map(|n| {
            (
                format!("svc{n}/package.json"),
                format!(r#"{{"name": "svc{n}", "dependencies": {{"left-pad": "^1.0.{n}"}}}}"#),
            )
        })
        .collect();
    slow_github.add_repo("acme", "mono", "main", &files);
    github.add_repo("acme", "mono", "main", &files);
    let registries = FakeRegistries::start().await;
    let team = team(store, "acme").await;
    let mono = repository(store, team, "https://github.com/acme/mono").await;

    let first = Worker::start(dir.path(), "first", &db, &slow_github, &registries);
    jobs::enqueue(
        store,
        &Crawl {
            repository_id: mono,
        },
    )
    .await
    .expect("enqueue");
    wait_until(
        "the crawl to start",
        || first.log(),
        async || {
            store
                .crawls_of(mono)
                .await
                .expect("crawls")
                .iter()
                .any(|c| c.status == "running")
        },
    )
    .await;
    first.kill().await;
    let orphan = store.crawls_of(mono).await.expect("crawls")[0].clone();
    assert_eq!(orphan.status, "running", "killed mid-crawl");

    let second = Worker::start(dir.path(), "second", &db, &github, &registries);
    wait_until(
        "the second worker to finish the crawl",
        || second.log(),
        async || {
            let crawls = store.crawls_of(mono).await.expect("crawls");
            // A crawl that found the lease still held queues itself again a few seconds later.
            crawls.iter().any(|c| c.status == "completed")
                && crawls.iter().all(|c| c.status != "running")
                && scalar(store, CRAWLS_TO_DO).await == 0
        },
    )
    .await;
    let log = second.terminate().await;
    let crawls = store.crawls_of(mono).await.expect("crawls");
    let orphan = crawls
        .iter()
        .find(|c| c.id == orphan.id)
        .expect("the orphan crawl");
    assert!(
        (orphan.status == "failed"
            && orphan.error.as_deref() == Some(upkeep::store::inventory::ABANDONED))
            || orphan.status == "completed",
        "the dead worker's crawl ends abandoned or completed, never running: {orphan:?}\n{log}"
    );
    assert_eq!(
        scalar(
            store,
            "SELECT COUNT(*) FROM crawls WHERE status = 'running'"
        )
        .await,
        0
    );
    assert_eq!(
        scalar(store, CRAWLS_TO_DO).await,
        0,
        "no crawl left to do\n{log}"
    );
    assert_eq!(
        scalar(store, "SELECT COUNT(*) FROM dependencies").await,
        6,
        "the repository's dependencies were read"
    );
    registries.stop().await;
}
