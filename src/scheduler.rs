//! The scheduler: every tick (a minute in production), queue a crawl of every repository not
//! crawled within the crawl interval (or never crawled), and a `resolve_package` for every package
//! in use whose releases are older than the release TTL, so new releases are found even in
//! repositories that did not change. Any number of processes may run it: the jobs' dedup keys
//! (`repository:<id>`, `package:<id>`) keep one pending job per repository and per package.

use std::time::Duration;

use tokio::sync::watch;
use tracing::{info, warn};

use crate::jobs::crawl::Crawl;
use crate::jobs::enqueue;
use crate::jobs::resolve_package::ResolvePackage;
use crate::store::{Store, StoreError, duration_ms, now_ms};

/// Queue a crawl of every repository due for one; returns how many were newly queued.
pub async fn enqueue_due(store: &Store, crawl_interval: Duration) -> crate::store::Result<usize> {
    let interval_ms = duration_ms(crawl_interval);
    let cutoff = now_ms().saturating_sub(interval_ms);
    let mut queued = 0;
    for repository_id in store.repositories_due_for_crawl(cutoff).await? {
        if enqueue(store, &Crawl { repository_id }).await?.is_some() {
            queued += 1;
        }
    }
    Ok(queued)
}

/// Enqueue `resolve_package` for up to `limit` packages in use whose releases are older than
/// `release_ttl` (the periodic refresh that finds new releases of packages no crawl touched;
/// jobs already pending are not duplicated, and a package a job is looking up right now is left
/// to that job). Returns how many jobs were new.
pub async fn enqueue_stale_packages(
    store: &Store,
    release_ttl: Duration,
    limit: i64,
) -> Result<u64, StoreError> {
    let ttl_ms = duration_ms(release_ttl);
    let ids = store
        .stale_packages(now_ms().saturating_sub(ttl_ms), limit)
        .await?;
    let mut queued = 0;
    for package_id in ids {
        if enqueue(store, &ResolvePackage { package_id })
            .await?
            .is_some()
        {
            queued += 1;
        }
    }
    Ok(queued)
}

/// What the scheduler keeps due, and how often it looks.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    /// How often to look (a minute in production).
    pub tick: Duration,
    /// A repository not crawled for this long gets a crawl.
    pub crawl_interval: Duration,
    /// A package in use whose releases were looked up longer ago than this gets a lookup.
    pub release_ttl: Duration,
}

/// Packages queued for a refresh per tick at most, so one tick never floods the queue; the
/// oldest go first and the next tick takes the rest.
pub const STALE_PACKAGES_PER_TICK: i64 = 5_000;

/// Run until `shutdown` turns true: every tick, [`enqueue_due`] crawls and
/// [`enqueue_stale_packages`] refreshes.
pub async fn run(store: Store, schedule: Schedule, mut shutdown: watch::Receiver<bool>) {
    let mut ticker = tokio::time::interval(schedule.tick);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !*shutdown.borrow() {
        tokio::select! {
            _ = ticker.tick() => {}
            changed = shutdown.changed() => {
                if changed.is_err() {
                    break;
                }
                continue;
            }
        }
        match enqueue_due(&store, schedule.crawl_interval).await {
            Ok(0) => {}
            Ok(n) => info!(queued = n, "scheduled recrawls"),
            Err(error) => warn!(%error, "scheduling recrawls failed"),
        }
        match enqueue_stale_packages(&store, schedule.release_ttl, STALE_PACKAGES_PER_TICK).await {
            Ok(0) => {}
            Ok(n) => info!(queued = n, "scheduled package refreshes"),
            Err(error) => warn!(%error, "scheduling package refreshes failed"),
        }
    }
}
