//! The `deliver_webhook` job: one attempt at one recorded webhook delivery. Payload
//! `{"delivery_id"}`; one pending job per delivery (`delivery:{id}`); its attempts are the
//! subscription's `max_attempts`, given by the webhook dispatcher (`delivery::webhooks`) when it
//! enqueues the job.
//!
//! The attempt POSTs the event envelope with
//!
//! - `X-Upkeep-Event`: the event type,
//! - `X-Upkeep-Delivery`: the event id (receivers deduplicate on it; delivery is at-least-once),
//! - `X-Upkeep-Signature-256`: `sha256=<hex HMAC-SHA256(secret, body)>`.
//!
//! Targets are re-checked before every attempt and the connection is pinned to the checked
//! addresses; redirects are not followed.
//!
//! Failures: a 2xx answer delivers it. Anything else (a refused target, a non-2xx answer, a
//! timeout) is recorded on the delivery and retried with backoff; the attempt that makes the
//! delivery `dead` gives up. A delivery that is already delivered or dead, or whose subscription
//! was deleted, ends the job successfully.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Job, JobError};
use crate::delivery::{check_target_form, resolve_target, signature};
use crate::services::Services;
use crate::store::subscriptions::{AttemptOutcome, DeliveryAttempt};

/// How long one POST may take, connection included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Attempt one webhook delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliverWebhook {
    pub delivery_id: i64,
}

impl Job for DeliverWebhook {
    const KIND: &'static str = "deliver_webhook";

    fn dedup_key(&self) -> Option<String> {
        Some(crate::keys::delivery(self.delivery_id))
    }

    async fn run(self, services: &Services) -> Result<(), JobError> {
        deliver(services, self.delivery_id).await
    }
}

/// One attempt at delivery `delivery_id` (see the module notes).
async fn deliver(services: &Services, delivery_id: i64) -> Result<(), JobError> {
    let store = &services.store;
    let attempt = store
        .begin_delivery_attempt(delivery_id)
        .await
        .map_err(|e| JobError::retry(format!("loading delivery {delivery_id}: {e}")))?;
    let Some(attempt) = attempt else {
        // Delivered, dead, or its subscription was deleted: nothing to do.
        return Ok(());
    };
    let outcome = send(services, &attempt).await;
    let status = store
        .finish_delivery_attempt(&attempt, &outcome)
        .await
        .map_err(|e| JobError::retry(format!("recording delivery {delivery_id}: {e}")))?;
    match outcome {
        AttemptOutcome::Delivered { .. } => Ok(()),
        AttemptOutcome::Failed { error, .. } if status == "dead" => {
            metrics::counter!("upkeep_webhook_dead_letters_total").increment(1);
            Err(JobError::give_up(format!(
                "delivery {delivery_id} dead-lettered after {} attempts: {error}",
                attempt.delivery.attempts
            )))
        }
        AttemptOutcome::Failed { error, .. } => Err(JobError::retry(format!(
            "delivery {delivery_id} attempt {} failed: {error}",
            attempt.delivery.attempts
        ))),
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
