//! The fleet benchmark (issue 5): `cargo bench --bench fleet -- --repos 1000`.
//!
//! Simulates a fleet on the local fakes with injected latency (GitHub 20 ms, registries 30 ms):
//! `--repos N` repositories (default 1000) with about 40 dependencies each across six ecosystems
//! (`package.json`, `Cargo.toml`, `requirements.txt`, `pom.xml`, `go.mod`, `Dockerfile`), names
//! drawn from a pool of a few thousand packages so packages are shared across repositories. It
//! runs a full cycle (crawl, resolve, recommend) on the job queue with 32 workers, then a cycle
//! with nothing changed, and prints as its last line one JSON object with the figures.
//!
//! The store is a fresh SQLite database in a temporary directory, or `UPKEEP_BENCH_DATABASE_URL`
//! (which must name an empty database). The run aborts with an error after 10 minutes.
//! `UPKEEP_BENCH_LOG=warn` (any `tracing` filter) prints the service's log on stderr;
//! `UPKEEP_BENCH_DB_CONNECTIONS=N` sizes the database pool (default: as `upkeep serve` sizes it).

#[path = "../tests/it/support/fake_github.rs"]
#[expect(dead_code, reason = "the benchmark uses part of the fake")]
#[cfg_attr(
    test,
    expect(
        unused_imports,
        reason = "the fake's own unit tests are not built without the test harness"
    )
)]
mod fake_github;
#[path = "../tests/it/support/fake_registries.rs"]
#[expect(dead_code, reason = "the benchmark uses part of the fake")]
#[cfg_attr(
    test,
    expect(
        unused_imports,
        reason = "the fake's own unit tests are not built without the test harness"
    )
)]
mod fake_registries;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use fake_github::FakeGithub;
use fake_registries::{FakeRegistries, FakeRegistryOptions};
use serde_json::json;
use sqlx::Row;
use tokio::sync::watch;
use upkeep::config::Config;
use upkeep::jobs::crawl::Crawl;
use upkeep::jobs::worker::WorkerSettings;
use upkeep::repository_url::RepositoryUrl;
use upkeep::services::Services;
use upkeep::store::Store;

const GITHUB_LATENCY: Duration = Duration::from_millis(20);
const REGISTRY_LATENCY: Duration = Duration::from_millis(30);
const WORKERS: usize = 32;
const TIME_LIMIT: Duration = Duration::from_mins(10);

/// Package pool sizes per ecosystem (4,200 names) and dependencies drawn per repository (40).
const NPM: (usize, usize) = (1200, 8);
const CARGO: (usize, usize) = (800, 7);
const PYPI: (usize, usize) = (800, 7);
const MAVEN: (usize, usize) = (600, 7);
const GO: (usize, usize) = (600, 7);
const DOCKER: (usize, usize) = (200, 4);

/// A small deterministic generator (xorshift64*), so every run sees the same fleet.
struct Draw(u64);

impl Draw {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// `count` distinct indices below `pool`.
    fn distinct(&mut self, pool: usize, count: usize) -> Vec<usize> {
        let pool_u64 = u64::try_from(pool).unwrap_or(u64::MAX);
        let mut picked: Vec<usize> = Vec::with_capacity(count);
        while picked.len() < count.min(pool) {
            let index = usize::try_from(self.next() % pool_u64).unwrap_or(0);
            if !picked.contains(&index) {
                picked.push(index);
            }
        }
        picked
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The manifests of repository `n`.
fn repository_files(n: usize, draw: &mut Draw) -> Vec<(String, String)> {
    let mut package_json = String::new();
    for (i, p) in draw.distinct(NPM.0, NPM.1).into_iter().enumerate() {
        let sep = if i == 0 { "" } else { ",\n" };
        let _ = write!(
            package_json,
            "{sep}    \"pool-npm-{p}\": \"^{}.0.0\"",
            draw.below(3)
        );
    }
    let package_json = format!(
        "{{\n  \"name\": \"repo-{n}\",\n  \"dependencies\": {{\n{package_json}\n  }}\n}}\n"
    );

    let mut cargo = format!(
        "[package]\nname = \"repo-{n}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\n"
    );
    for p in draw.distinct(CARGO.0, CARGO.1) {
        let _ = writeln!(cargo, "pool-crate-{p} = \"{}.1\"", draw.below(3));
    }

    let mut requirements = String::new();
    for p in draw.distinct(PYPI.0, PYPI.1) {
        let _ = writeln!(requirements, "pool-py-{p}>={}.0", draw.below(3));
    }

    let mut pom = format!(
        "<project>\n  <modelVersion>4.0.0</modelVersion>\n  <groupId>org.fleet</groupId>\n  \
         <artifactId>repo-{n}</artifactId>\n  <version>1.0.0</version>\n  <dependencies>\n"
    );
    for p in draw.distinct(MAVEN.0, MAVEN.1) {
        let _ = write!(
            pom,
            "    <dependency>\n      <groupId>org.pool</groupId>\n      <artifactId>lib-{p}</artifactId>\n      \
             <version>{}.0.0</version>\n    </dependency>\n",
            draw.below(3)
        );
    }
    pom.push_str("  </dependencies>\n</project>\n");

    let mut go_mod = format!("module example.com/fleet/repo-{n}\n\nrequire (\n");
    for p in draw.distinct(GO.0, GO.1) {
        let _ = writeln!(go_mod, "\tgithub.com/pool/mod-{p} v1.{}.0", draw.below(3));
    }
    go_mod.push_str(")\n");

    let mut dockerfile = String::new();
    for (stage, p) in draw.distinct(DOCKER.0, DOCKER.1).into_iter().enumerate() {
        let _ = writeln!(
            dockerfile,
            "FROM pool/image-{p}:{}.0 AS stage{stage}\nRUN true",
            draw.below(3)
        );
    }

    vec![
        ("package.json".to_owned(), package_json),
        ("Cargo.toml".to_owned(), cargo),
        ("requirements.txt".to_owned(), requirements),
        ("pom.xml".to_owned(), pom),
        ("go.mod".to_owned(), go_mod),
        ("Dockerfile".to_owned(), dockerfile),
    ]
}

fn repos_arg() -> Result<usize, String> {
    let mut args = std::env::args().skip(1);
    let mut repos = 1000;
    while let Some(arg) = args.next() {
        let value = if arg == "--repos" {
            args.next()
        } else if let Some(value) = arg.strip_prefix("--repos=") {
            Some(value.to_owned())
        } else {
            // `cargo bench` passes `--bench`; other arguments are not ours.
            continue;
        };
        repos = value
            .and_then(|v| v.parse().ok())
            .filter(|n| *n > 0)
            .ok_or("--repos needs a positive number")?;
    }
    Ok(repos)
}

fn peak_rss_mb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb.div_ceil(1024))
}

async fn count(store: &Store, sql: &'static str) -> Result<i64, String> {
    sqlx::query(sql)
        .fetch_one(store.pool())
        .await
        .map_err(|e| e.to_string())?
        .try_get("n")
        .map_err(|e| e.to_string())
}

/// Jobs by kind and state, with their retries and (first) failures, on stderr.
async fn report_jobs(store: &Store) -> Result<(), String> {
    let rows = sqlx::query(
        "SELECT kind, state, COUNT(*) AS n, CAST(SUM(attempts) AS BIGINT) AS attempts, CAST(MAX(updated_at - created_at) AS BIGINT) AS longest_ms \
         FROM jobs GROUP BY kind, state ORDER BY kind, state",
    )
    .fetch_all(store.pool())
    .await
    .map_err(|e| e.to_string())?;
    for row in rows {
        eprintln!(
            "fleet: jobs {} {}: {} ({} attempts, longest {} ms from queued to last update)",
            row.try_get::<String, _>("kind").unwrap_or_default(),
            row.try_get::<String, _>("state").unwrap_or_default(),
            row.try_get::<i64, _>("n").unwrap_or_default(),
            row.try_get::<i64, _>("attempts").unwrap_or_default(),
            row.try_get::<i64, _>("longest_ms").unwrap_or_default(),
        );
    }
    let failures =
        sqlx::query("SELECT kind, last_error FROM jobs WHERE state = 'failed' ORDER BY id LIMIT 5")
            .fetch_all(store.pool())
            .await
            .map_err(|e| e.to_string())?;
    for row in failures {
        eprintln!(
            "fleet: failed {}: {}",
            row.try_get::<String, _>("kind").unwrap_or_default(),
            row.try_get::<Option<String>, _>("last_error")
                .ok()
                .flatten()
                .unwrap_or_default(),
        );
    }
    Ok(())
}

async fn enqueue_crawls(store: &Store, repositories: &[i64]) -> Result<(), String> {
    for id in repositories {
        upkeep::jobs::enqueue(store, &Crawl { repository_id: *id })
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Wait until no job is pending or running (seen twice in a row, 50 ms apart).
async fn wait_idle(store: &Store) -> Result<(), String> {
    let mut idle_seen = 0;
    while idle_seen < 2 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let busy = count(
            store,
            "SELECT COUNT(*) AS n FROM jobs WHERE state IN ('pending', 'running')",
        )
        .await?;
        idle_seen = if busy == 0 { idle_seen + 1 } else { 0 };
    }
    Ok(())
}

async fn bench(repos: usize) -> Result<serde_json::Value, String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let github = FakeGithub::start_with_latency(GITHUB_LATENCY).await;
    github.set_rate_limit(1_000_000_000, 1_000_000_000, Duration::from_hours(24));
    let registries = FakeRegistries::start_with(FakeRegistryOptions {
        latency: REGISTRY_LATENCY,
        ..FakeRegistryOptions::default()
    })
    .await;

    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let database_url = std::env::var("UPKEEP_BENCH_DATABASE_URL").unwrap_or_else(|_| {
        format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("fleet.db").display()
        )
    });
    let size = upkeep::store::PoolSize {
        max: std::env::var("UPKEEP_BENCH_DB_CONNECTIONS")
            .ok()
            .and_then(|v| v.parse().ok()),
    };
    let store = Store::open_sized(&database_url, size)
        .await
        .map_err(|e| format!("cannot open the bench database: {e}"))?;

    let mut config = Config::from_sources(None, &BTreeMap::new()).map_err(|e| e.to_string())?;
    config.database_url.clone_from(&database_url);
    // Nothing leaves the machine: every registry points at the fake (or a closed port).
    for (key, _) in upkeep_resolvers::registry::DEFAULT_BASE_URLS {
        config
            .registries
            .insert((*key).to_owned(), "http://127.0.0.1:9/".to_owned());
    }
    config.registries.extend(registries.base_urls());
    config.github_api_url = github.url();
    config.github_token = Some(upkeep::config::Secret::new(fake_github::TOKEN));
    config.workers = WORKERS;
    config.cache_dir = dir.path().join("cache");
    let services = Services::from_config(&config, store.clone()).map_err(|e| e.to_string())?;

    eprintln!("fleet: generating {repos} repositories");
    let team = store
        .create_team("fleet")
        .await
        .map_err(|e| e.to_string())?;
    let mut draw = Draw(0x9e37_79b9_7f4a_7c15);
    let mut repositories = Vec::with_capacity(repos);
    for n in 0..repos {
        let name = format!("repo-{n}");
        github.add_repo("fleet", &name, "main", &repository_files(n, &mut draw));
        let url = RepositoryUrl::parse(&format!("https://github.com/fleet/{name}"))
            .map_err(|e| e.to_string())?;
        let repository = store
            .add_repository(team.id, &url, Some("main"))
            .await
            .map_err(|e| e.to_string())?;
        repositories.push(repository.id);
    }

    let (shutdown, shutdown_rx) = watch::channel(false);
    let workers = tokio::spawn(upkeep::jobs::worker::run(
        services.clone(),
        upkeep::jobs::dispatch::JobTable::standard(),
        WorkerSettings {
            concurrency: WORKERS,
            lease: Duration::from_mins(2),
            poll: Duration::from_millis(20),
        },
        shutdown_rx,
    ));

    eprintln!("fleet: full cycle");
    github.reset_counters();
    let registry_start = registries.stats();
    let started = Instant::now();
    enqueue_crawls(&store, &repositories).await?;
    wait_idle(&store).await?;
    let full_cycle = started.elapsed();
    let github_full = github.request_counts().values().sum::<u64>();
    let registry_full_stats = registries.stats().since(&registry_start);
    let registry_full = registry_full_stats.total();
    for (ecosystem, stats) in &registry_full_stats.by_ecosystem {
        eprintln!(
            "fleet: full cycle {} registry requests: {}",
            ecosystem.as_str(),
            stats.requests
        );
    }

    eprintln!(
        "fleet: full cycle {:.1} s; no-change cycle",
        full_cycle.as_secs_f64()
    );
    github.reset_counters();
    let registry_before = registries.stats();
    let started = Instant::now();
    enqueue_crawls(&store, &repositories).await?;
    wait_idle(&store).await?;
    let nochange_cycle = started.elapsed();
    let github_nochange = github.request_counts().values().sum::<u64>();
    let registry_nochange = registries.stats().since(&registry_before).total();

    let _ = shutdown.send(true);
    workers.await.map_err(|e| e.to_string())?;

    let failed = count(
        &store,
        "SELECT COUNT(*) AS n FROM jobs WHERE state = 'failed'",
    )
    .await?;
    if failed > 0 {
        eprintln!("fleet: {failed} jobs failed");
    }
    report_jobs(&store).await?;
    let dependencies = count(&store, "SELECT COUNT(*) AS n FROM dependencies").await?;
    let unique_packages = count(
        &store,
        "SELECT COUNT(DISTINCT package_id) AS n FROM dependencies",
    )
    .await?;
    let rows = sqlx::query(
        "SELECT p.ecosystem AS ecosystem, COUNT(DISTINCT p.id) AS n FROM packages p \
         JOIN dependencies d ON d.package_id = p.id GROUP BY p.ecosystem ORDER BY p.ecosystem",
    )
    .fetch_all(store.pool())
    .await
    .map_err(|e| e.to_string())?;
    for row in rows {
        eprintln!(
            "fleet: unique {} packages: {}",
            row.try_get::<String, _>("ecosystem").unwrap_or_default(),
            row.try_get::<i64, _>("n").unwrap_or_default()
        );
    }
    let recommendations = count(&store, "SELECT COUNT(*) AS n FROM recommendations").await?;
    eprintln!(
        "fleet: {recommendations} recommendations, {failed} failed jobs, registry not-modified in \
         the no-change cycle: {}",
        registry_nochange.not_modified
    );
    store.close().await;
    Ok(json!({
        "repos": repos,
        "dependencies": dependencies,
        "unique_packages": unique_packages,
        "full_cycle_s": (full_cycle.as_secs_f64() * 100.0).round() / 100.0,
        "nochange_cycle_s": (nochange_cycle.as_secs_f64() * 100.0).round() / 100.0,
        "github_requests_full": github_full,
        "github_requests_nochange": github_nochange,
        "registry_requests_full": registry_full.requests,
        "registry_downloads_nochange": registry_nochange.bodies,
        "peak_rss_mb": peak_rss_mb(),
    }))
}

fn main() {
    if let Ok(filter) = std::env::var("UPKEEP_BENCH_LOG") {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_writer(std::io::stderr)
            .init();
    }
    let repos = match repos_arg() {
        Ok(repos) => repos,
        Err(error) => {
            eprintln!("fleet: {error}");
            std::process::exit(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("fleet: cannot start the runtime: {error}");
            std::process::exit(1);
        }
    };
    let outcome = runtime.block_on(async {
        tokio::time::timeout(TIME_LIMIT, bench(repos))
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "the benchmark did not finish within {TIME_LIMIT:?}"
                ))
            })
    });
    match outcome {
        Ok(figures) => println!("{figures}"),
        Err(error) => {
            eprintln!("fleet: {error}");
            std::process::exit(1);
        }
    }
}
