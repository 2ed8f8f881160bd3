//! Signed outgoing webhooks: the dispatcher.
//!
//! The dispatcher ([`run`]) reads the journal after each subscription's position, records one
//! delivery per matching event of its types that its team may read (the team's own events and the
//! release events of packages the team's repositories use when the dispatcher reads them; the rule
//! is stated in `store::events`) and enqueues a `deliver_webhook` job per delivery
//! ([`crate::jobs::deliver_webhook`], which signs and POSTs it). A failed attempt is retried by
//! the queue with exponential backoff. After the subscription's `max_attempts` (default
//! [`DEFAULT_MAX_ATTEMPTS`]) the delivery is `dead`, visible at
//! `GET /api/v1/subscriptions/{id}/deliveries`.

use std::time::Duration;

use tokio::sync::watch;
use tracing::{debug, info, warn};

use super::{Lease, holder_name};
use crate::jobs::deliver_webhook::DeliverWebhook;
use crate::jobs::{Placement, enqueue_placed};
use crate::services::Services;
use crate::store::{Store, StoreError};

/// Attempts before a delivery is dead-lettered, unless the subscription says otherwise.
pub const DEFAULT_MAX_ATTEMPTS: i64 = 8;

/// The dispatcher's name in `delivery_cursors` (its lease).
pub const LEASE_NAME: &str = "webhooks";
const BATCH: i64 = 200;

/// Run the dispatcher until `shutdown`: one pass per `job_poll_ms`.
pub async fn run(services: Services, mut shutdown: watch::Receiver<bool>) {
    let mut lease = Lease::new(LEASE_NAME, holder_name("webhooks"));
    let poll = Duration::from_millis(services.config.job_poll_ms.max(10));
    let store = services.store.clone();
    info!(holder = lease.holder(), "webhook dispatcher started");
    while !*shutdown.borrow() {
        if let Err(error) = dispatch_once(&store, &mut lease).await {
            warn!(%error, "webhook dispatch pass failed");
        }
        tokio::select! {
            () = tokio::time::sleep(poll) => {}
            _ = shutdown.changed() => {}
        }
    }
    lease.release(&store).await;
    info!(holder = lease.holder(), "webhook dispatcher stopped");
}

/// One dispatcher pass (when this process holds the dispatcher's lease): record deliveries for new
/// events and enqueue jobs for deliveries that have none yet. Returns the number of jobs enqueued.
pub async fn dispatch_once(store: &Store, lease: &mut Lease) -> Result<usize, StoreError> {
    if lease.hold(store).await?.is_none() {
        return Ok(0);
    }
    for mut state in store.dispatch_states().await? {
        loop {
            let events = store.events_for_subscription(&state, BATCH).await?;
            let Some(last) = events.last().map(|e| e.seq) else {
                break;
            };
            let created = store
                .record_deliveries(state.subscription.id, &events, last)
                .await?;
            debug!(
                subscription = state.subscription.id,
                created, "recorded webhook deliveries"
            );
            state.last_seq = last;
            if i64::try_from(events.len()).unwrap_or(i64::MAX) < BATCH {
                break;
            }
        }
    }
    // A crash between recording and enqueuing leaves `queued = 0`, so the next pass enqueues them.
    let mut enqueued = 0;
    loop {
        let pending = store.unqueued_deliveries(BATCH).await?;
        for (id, max_attempts) in &pending {
            let job = DeliverWebhook { delivery_id: *id };
            let attempts = u32::try_from(*max_attempts).unwrap_or(1);
            enqueue_placed(store, &job, Placement::of(&job).max_attempts(attempts)).await?;
            store.mark_delivery_queued(*id).await?;
            enqueued += 1;
        }
        if i64::try_from(pending.len()).unwrap_or(i64::MAX) < BATCH {
            break;
        }
    }
    Ok(enqueued)
}
