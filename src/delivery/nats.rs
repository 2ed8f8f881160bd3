//! Publishing the journal to NATS JetStream when `nats_url` is configured.
//!
//! The publisher ensures the stream [`STREAM`] (subjects `upkeep.>`, a duplicate window of
//! [`DUPLICATE_WINDOW`]) and publishes every journal event, in position order, to
//! `upkeep.<stream>.<type>` (`upkeep.release_event.release_published`) with the envelope JSON as
//! payload and the header `Nats-Msg-Id` = event id. It waits for JetStream's acks before moving its
//! durable position (`delivery_cursors`, name `nats`) forward. After an outage or a restart it
//! republishes from that position: events the server already stored are dropped by JetStream's
//! duplicate detection on `Nats-Msg-Id`, none are lost.

use std::time::Duration;

use async_nats::jetstream;
use tokio::sync::watch;
use tracing::{debug, info, warn};

use super::{Lease, holder_name};
use crate::services::Services;
use crate::store::Store;
use crate::store::events::{EventFilter, StoredEvent};

/// The JetStream stream events are published to.
pub const STREAM: &str = "UPKEEP_EVENTS";
/// Subjects of that stream.
pub const SUBJECTS: &str = "upkeep.>";
/// JetStream drops a message whose `Nats-Msg-Id` it saw within this window.
pub const DUPLICATE_WINDOW: Duration = Duration::from_hours(1);
/// The publisher's name in `delivery_cursors`.
pub const CURSOR: &str = "nats";

const BATCH: i64 = 256;
const ACK_TIMEOUT: Duration = Duration::from_secs(10);

/// The subject of one event: `upkeep.<stream>.<type>`.
pub fn subject(event: &StoredEvent) -> String {
    format!("upkeep.{}.{}", event.stream, event.kind)
}

/// Publish until `shutdown`; returns at once when no `nats_url` is configured. Connection failures
/// are retried with backoff (1 s doubling to 30 s), resuming from the durable position.
pub async fn run(services: Services, mut shutdown: watch::Receiver<bool>) {
    let Some(url) = services.config.nats_url.clone() else {
        return;
    };
    let mut lease = Lease::new(CURSOR, holder_name("nats"));
    let poll = Duration::from_millis(services.config.job_poll_ms.max(10));
    let store = services.store.clone();
    info!(holder = lease.holder(), "NATS publisher started");
    let mut backoff = Duration::from_secs(1);
    while !*shutdown.borrow() {
        match session(&store, &url, &mut lease, poll, &mut shutdown, &mut backoff).await {
            Ok(()) => break,
            Err(error) => {
                warn!(%error, retry_in_s = backoff.as_secs(), "NATS publishing interrupted; it resumes from the journal position");
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    _ = shutdown.changed() => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    }
    lease.release(&store).await;
    info!(holder = lease.holder(), "NATS publisher stopped");
}

/// Connect, ensure the stream and publish until shutdown (`Ok`) or a failure (`Err`).
async fn session(
    store: &Store,
    url: &str,
    lease: &mut Lease,
    poll: Duration,
    shutdown: &mut watch::Receiver<bool>,
    backoff: &mut Duration,
) -> Result<(), String> {
    let client = async_nats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(5))
        .connect(url)
        .await
        .map_err(|e| format!("cannot connect to NATS: {e}"))?;
    let mut context = jetstream::new(client);
    context.set_timeout(ACK_TIMEOUT);
    ensure_stream(&context).await?;
    info!("publishing events to NATS JetStream stream {STREAM}");
    loop {
        if *shutdown.borrow() {
            return Ok(());
        }
        let position = lease
            .hold(store)
            .await
            .map_err(|e| format!("reading the NATS position: {e}"))?;
        let events = match position {
            Some(after) => store
                .events_after(&EventFilter {
                    after,
                    limit: BATCH,
                    ..EventFilter::default()
                })
                .await
                .map_err(|e| format!("reading the journal: {e}"))?,
            // Another process publishes; wait to take over if it stops.
            None => Vec::new(),
        };
        if events.is_empty() {
            tokio::select! {
                () = tokio::time::sleep(poll) => {}
                _ = shutdown.changed() => {}
            }
            continue;
        }
        let published = publish_batch(&context, &events).await;
        let acked = match &published {
            Ok(()) => events.last(),
            Err((acked, _)) => *acked,
        };
        if let Some(last) = acked
            && !lease
                .advance(store, last.seq)
                .await
                .map_err(|e| format!("saving the NATS position: {e}"))?
        {
            debug!("lost the NATS publisher lease");
        }
        match published {
            Ok(()) => *backoff = Duration::from_secs(1),
            Err((_, error)) => return Err(error),
        }
    }
}

/// Create the stream unless it exists.
async fn ensure_stream(context: &jetstream::Context) -> Result<(), String> {
    context
        .get_or_create_stream(jetstream::stream::Config {
            name: STREAM.to_owned(),
            subjects: vec![SUBJECTS.to_owned()],
            duplicate_window: DUPLICATE_WINDOW,
            ..jetstream::stream::Config::default()
        })
        .await
        .map_err(|e| format!("cannot create or find the JetStream stream {STREAM}: {e}"))?;
    Ok(())
}

/// Publish `events` (pipelined) and wait for every ack in order. On failure returns the last event
/// acknowledged before it (everything up to it is stored) and the error.
async fn publish_batch<'a>(
    context: &jetstream::Context,
    events: &'a [StoredEvent],
) -> Result<(), (Option<&'a StoredEvent>, String)> {
    let mut pending = Vec::with_capacity(events.len());
    let mut failure = None;
    for event in events {
        let body = match serde_json::to_vec(event) {
            Ok(body) => body,
            Err(e) => {
                failure = Some(format!("cannot serialise event {}: {e}", event.id));
                break;
            }
        };
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(async_nats::header::NATS_MESSAGE_ID, event.id.as_str());
        headers.insert("Upkeep-Event-Seq", event.seq.to_string().as_str());
        match context
            .publish_with_headers(subject(event), headers, body.into())
            .await
        {
            Ok(ack) => pending.push((event, ack)),
            Err(e) => {
                failure = Some(format!("publishing event {}: {e}", event.id));
                break;
            }
        }
    }
    let mut acked = None;
    for (event, ack) in pending {
        match ack.await {
            Ok(ack) => {
                if ack.duplicate {
                    debug!(id = %event.id, "JetStream already had this event");
                }
                acked = Some(event);
            }
            Err(e) => return Err((acked, format!("no ack for event {}: {e}", event.id))),
        }
    }
    match failure {
        Some(error) => Err((acked, error)),
        None => Ok(()),
    }
}
