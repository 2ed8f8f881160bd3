//! Per-host concurrency and request-rate limits.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// The limits of one host: a semaphore for requests in flight and a schedule of start slots.
struct HostLimiter {
    in_flight: Arc<Semaphore>,
    /// The earliest instant the next request may start (rate limit); unused without a rate.
    next_start: Mutex<Instant>,
}

/// Limiters for every host seen so far.
pub(crate) struct HostLimits {
    concurrency: usize,
    interval: Option<Duration>,
    hosts: Mutex<HashMap<String, Arc<HostLimiter>>>,
}

impl HostLimits {
    pub(crate) fn new(concurrency: usize, requests_per_second: Option<f64>) -> Self {
        let interval = requests_per_second
            .filter(|rate| rate.is_finite() && *rate > 0.0)
            .map(|rate| Duration::from_secs_f64(1.0 / rate));
        HostLimits {
            concurrency: concurrency.max(1),
            interval,
            hosts: Mutex::new(HashMap::new()),
        }
    }

    /// Waits for a free slot for `host` and for its next rate-limit start time. The request may
    /// run while the returned permit lives.
    pub(crate) async fn acquire(&self, host: &str) -> Option<OwnedSemaphorePermit> {
        let limiter = {
            let mut hosts = self.hosts.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(hosts.entry(host.to_owned()).or_insert_with(|| {
                Arc::new(HostLimiter {
                    in_flight: Arc::new(Semaphore::new(self.concurrency)),
                    next_start: Mutex::new(Instant::now()),
                })
            }))
        };
        // The semaphore is never closed, so `acquire_owned` only fails if that changes; the
        // request then runs unlimited rather than not at all.
        let permit = Arc::clone(&limiter.in_flight).acquire_owned().await.ok();
        if let Some(interval) = self.interval {
            let start = {
                let mut next = limiter
                    .next_start
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                let start = (*next).max(Instant::now());
                *next = start + interval;
                start
            };
            tokio::time::sleep_until(start).await;
        }
        permit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The clock is paused and advances only when every task waits on a timer, so the instants
    // below are exact, whatever the machine's load.
    #[tokio::test(start_paused = true)]
    async fn rate_limit_spaces_requests() {
        let limits = HostLimits::new(8, Some(20.0));
        let begin = Instant::now();
        for _ in 0..5 {
            drop(limits.acquire("a.example:443").await);
        }
        // Five starts at 20/s: the fifth starts 4 × 50 ms after the first.
        assert_eq!(begin.elapsed(), Duration::from_millis(200));
        // Another host has its own schedule: its first request starts at once.
        let other = Instant::now();
        drop(limits.acquire("b.example:443").await);
        assert_eq!(other.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn concurrency_is_bounded_per_host() {
        let limits = HostLimits::new(2, None);
        let first = limits.acquire("a.example:443").await;
        let second = limits.acquire("a.example:443").await;
        let third =
            tokio::time::timeout(Duration::from_millis(50), limits.acquire("a.example:443")).await;
        assert!(third.is_err(), "a third request must wait");
        drop(first);
        let third =
            tokio::time::timeout(Duration::from_millis(50), limits.acquire("a.example:443")).await;
        assert!(third.is_ok());
        drop(second);
    }
}
