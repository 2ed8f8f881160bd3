//! Signed outgoing webhooks.
//!
//! The dispatcher ([`run`]) reads the journal after each subscription's position, records one
//! delivery per matching event (the subscription's team's events and the fleet-wide ones of its
//! types) and enqueues a `deliver_webhook {"delivery_id"}` job per delivery. The job ([`deliver`])
//! POSTs the event envelope with
//!
//! - `X-Upkeep-Event`: the event type,
//! - `X-Upkeep-Delivery`: the event id (receivers deduplicate on it; delivery is at-least-once),
//! - `X-Upkeep-Signature-256`: `sha256=<hex HMAC-SHA256(secret, body)>`.
//!
//! A 2xx answer delivers it; anything else (or a timeout) fails the job, which the queue retries
//! with exponential backoff. After the subscription's `max_attempts` (default
//! [`DEFAULT_MAX_ATTEMPTS`]) the delivery is `dead`, visible at
//! `GET /api/v1/subscriptions/{id}/deliveries`. Targets are re-checked before every attempt and the
//! connection is pinned to the checked addresses; redirects are not followed.

use std::time::Duration;

use serde_json::json;
use tokio::sync::watch;
use tracing::{debug, info, warn};

use super::{Lease, check_target_form, holder_name, resolve_target, signature};
use crate::jobs::JobResult;
use crate::pipeline::Services;
use crate::store::jobs::NewJob;
use crate::store::subscriptions::{AttemptOutcome, DeliveryAttempt};
use crate::store::{Store, StoreError};

/// The job kind of one delivery attempt.
pub const JOB_KIND: &str = "deliver_webhook";
/// Attempts before a delivery is dead-lettered, unless the subscription says otherwise.
pub const DEFAULT_MAX_ATTEMPTS: i64 = 8;
/// How long one POST may take, connection included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

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
            store
                .enqueue(
                    NewJob::new(JOB_KIND, json!({ "delivery_id": id }))
                        .dedup(format!("delivery:{id}"))
                        .max_attempts(u32::try_from(*max_attempts).unwrap_or(1)),
                )
                .await?;
            store.mark_delivery_queued(*id).await?;
            enqueued += 1;
        }
        if i64::try_from(pending.len()).unwrap_or(i64::MAX) < BATCH {
            break;
        }
    }
    Ok(enqueued)
}

/// The `deliver_webhook` job: one attempt at delivery `delivery_id`.
pub async fn deliver(services: &Services, delivery_id: i64) -> JobResult {
    let store = &services.store;
    let attempt = store
        .begin_delivery_attempt(delivery_id)
        .await
        .map_err(|e| format!("loading delivery {delivery_id}: {e}"))?;
    let Some(attempt) = attempt else {
        // Delivered, dead, or its subscription was deleted: nothing to do.
        return Ok(());
    };
    let outcome = send(services, &attempt).await;
    let status = store
        .finish_delivery_attempt(&attempt, &outcome)
        .await
        .map_err(|e| format!("recording delivery {delivery_id}: {e}"))?;
    match outcome {
        AttemptOutcome::Delivered { .. } => Ok(()),
        AttemptOutcome::Failed { error, .. } if status == "dead" => {
            metrics::counter!("upkeep_webhook_dead_letters_total").increment(1);
            Err(format!(
                "delivery {delivery_id} dead-lettered after {} attempts: {error}",
                attempt.delivery.attempts
            ))
        }
        AttemptOutcome::Failed { error, .. } => Err(format!(
            "delivery {delivery_id} attempt {} failed: {error}",
            attempt.delivery.attempts
        )),
    }
}

/// POST the envelope; never includes the URL or the secret in an error (URLs may carry tokens).
async fn send(services: &Services, attempt: &DeliveryAttempt) -> AttemptOutcome {
    let failed =
        |status_code: Option<i64>, error: String| AttemptOutcome::Failed { status_code, error };
    let url = match check_target_form(&attempt.url) {
        Ok(url) => url,
        Err(e) => return failed(None, format!("target refused: {e}")),
    };
    let addrs = match resolve_target(&url, services.config.webhook_allow_private_targets).await {
        Ok(addrs) => addrs,
        Err(e) => return failed(None, format!("target refused: {e}")),
    };
    let body = match serde_json::to_vec(&attempt.event) {
        Ok(body) => body,
        Err(e) => return failed(None, format!("cannot serialise the event: {e}")),
    };
    let secret = match services.secrets.open(&attempt.stored_secret) {
        Ok(secret) => secret,
        Err(e) => return failed(None, format!("cannot open the subscription secret: {e}")),
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(Duration::from_secs(5))
        .user_agent(concat!("upkeep-webhooks/", env!("CARGO_PKG_VERSION")));
    if let Some(url::Host::Domain(host)) = url.host() {
        client = client.resolve_to_addrs(host, &addrs);
    }
    let client = match client.build() {
        Ok(client) => client,
        Err(e) => {
            return failed(
                None,
                format!("cannot build the HTTP client: {}", e.without_url()),
            );
        }
    };
    let response = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("X-Upkeep-Event", attempt.event.kind.as_str())
        .header("X-Upkeep-Delivery", attempt.event.id.as_str())
        .header("X-Upkeep-Signature-256", signature(secret.expose(), &body))
        .body(body)
        .send()
        .await;
    match response {
        Ok(response) if response.status().is_success() => AttemptOutcome::Delivered {
            status_code: i64::from(response.status().as_u16()),
        },
        Ok(response) => {
            let status = response.status();
            failed(
                Some(i64::from(status.as_u16())),
                format!("the receiver answered {status}"),
            )
        }
        Err(e) if e.is_timeout() => failed(
            None,
            format!("no answer within {}s", REQUEST_TIMEOUT.as_secs()),
        ),
        Err(e) => failed(None, format!("request failed: {}", e.without_url())),
    }
}
