//! The recrawl scheduler: every tick (a minute in production), queue a crawl of every repository
//! not crawled within the crawl interval, or never crawled. Any number of processes may run it:
//! the crawl job's dedup key (`repository:<id>`) keeps one pending crawl per repository.

use std::time::Duration;

use serde_json::json;
use tokio::sync::watch;
use tracing::{info, warn};

use crate::store::jobs::NewJob;
use crate::store::{Store, now_ms};

/// Queue a crawl of every repository due for one; returns how many were newly queued.
pub async fn enqueue_due(store: &Store, crawl_interval: Duration) -> crate::store::Result<usize> {
    let interval_ms = i64::try_from(crawl_interval.as_millis()).unwrap_or(i64::MAX);
    let cutoff = now_ms().saturating_sub(interval_ms);
    let mut queued = 0;
    for id in store.repositories_due_for_crawl(cutoff).await? {
        let job =
            NewJob::new("crawl", json!({ "repository_id": id })).dedup(format!("repository:{id}"));
        if store.enqueue(job).await?.is_some() {
            queued += 1;
        }
    }
    Ok(queued)
}

/// Run until `shutdown` turns true: every `tick`, [`enqueue_due`] with `crawl_interval`.
pub async fn run(
    store: Store,
    tick: Duration,
    crawl_interval: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut ticker = tokio::time::interval(tick);
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
        match enqueue_due(&store, crawl_interval).await {
            Ok(0) => {}
            Ok(n) => info!(queued = n, "scheduled recrawls"),
            Err(error) => warn!(%error, "scheduling recrawls failed"),
        }
    }
}
