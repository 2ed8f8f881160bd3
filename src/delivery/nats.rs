//! Publishing the journal to NATS JetStream when `nats_url` is configured.
//!
//! Subjects carry what a consumer filters on. Two streams:
//!
//! - [`STREAM`] (subjects `upkeep.>`): the whole journal, fleet-wide, as the admin reads it: every
//!   event once, to `upkeep.<stream>.<type>` (`upkeep.release_event.release_published`). For the
//!   operator's consumers; a team must not be given it.
//! - [`TEAM_STREAM`] (subjects `upkeep_team.>`): each event under every team that may read it (the
//!   rule of `store::events`), to `upkeep_team.<team id>.<stream>.<type>`
//!   (`upkeep_team.7.crawl_event.crawl_completed`): a team's own events once, a release event once
//!   per team whose repositories use the package when it is published, events without a team
//!   otherwise not at all. NATS permissions on `upkeep_team.<id>.>` give a team its events alone.
//!
//! The payload is the envelope JSON; the header `Nats-Msg-Id` is the event id on [`STREAM`] and
//! `<event id>.<team id>` on [`TEAM_STREAM`] (consumers deduplicate on the envelope's `id`). Both
//! streams have a duplicate window of [`DUPLICATE_WINDOW`]. The publisher waits for JetStream's
//! acks of all of an event's messages before moving its durable position (`delivery_cursors`, name
//! `nats`) past it. After an outage or a restart it republishes from that position: messages the
//! server already stored are dropped by JetStream's duplicate detection on `Nats-Msg-Id`, none are
//! lost.

use std::time::Duration;

use async_nats::jetstream;
use tokio::sync::watch;
use tracing::{debug, info, warn};

use super::{Lease, holder_name};
use crate::services::Services;
use crate::store::events::{EventFilter, StoredEvent};
use crate::store::{Store, StoreError};

/// The JetStream stream events are published to.
pub const STREAM: &str = "UPKEEP_EVENTS";
/// Subjects of that stream.
pub const SUBJECTS: &str = "upkeep.>";
/// JetStream drops a message whose `Nats-Msg-Id` it saw within this window.
pub const DUPLICATE_WINDOW: Duration = Duration::from_hours(1);
/// The JetStream stream team-scoped copies of the events are published to.
pub const TEAM_STREAM: &str = "UPKEEP_TEAM_EVENTS";
/// Subjects of that stream.
pub const TEAM_SUBJECTS: &str = "upkeep_team.>";
/// The publisher's name in `delivery_cursors`.
pub const CURSOR: &str = "nats";

const BATCH: i64 = 256;
const ACK_TIMEOUT: Duration = Duration::from_secs(10);

/// The subject of one event: `upkeep.<stream>.<type>`.
pub fn subject(event: &StoredEvent) -> String {
    format!("upkeep.{}.{}", event.stream, event.kind)
}

/// The subject of one event on [`TEAM_STREAM`] for team `team_id`:
/// `upkeep_team.<team id>.<stream>.<type>`.
pub fn team_subject(team_id: i64, event: &StoredEvent) -> String {
    format!("upkeep_team.{team_id}.{}.{}", event.stream, event.kind)
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
) -> Result<(), PublishError> {
    let client = async_nats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(5))
        .connect(url)
        .await
        .map_err(PublishError::Connect)?;
    let mut context = jetstream::new(client);
    context.set_timeout(ACK_TIMEOUT);
    ensure_stream(&context, STREAM, SUBJECTS).await?;
    ensure_stream(&context, TEAM_STREAM, TEAM_SUBJECTS).await?;
    info!("publishing events to NATS JetStream streams {STREAM} and {TEAM_STREAM}");
    loop {
        if *shutdown.borrow() {
            return Ok(());
        }
        let position = lease
            .hold(store)
            .await
            .map_err(|source| PublishError::Store {
                step: "reading the NATS position".into(),
                source,
            })?;
        let events = match position {
            Some(after) => store
                .events_after(&EventFilter {
                    after,
                    limit: BATCH,
                    ..EventFilter::default()
                })
                .await
                .map_err(|source| PublishError::Store {
                    step: "reading the journal".into(),
                    source,
                })?,
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
        let mut messages = Vec::with_capacity(events.len());
        for event in &events {
            messages.push(messages_of(store, event).await.map_err(|source| {
                PublishError::Store {
                    step: format!("reading the teams of event {}", event.id),
                    source,
                }
            })?);
        }
        let published = publish_batch(&context, &events, &messages).await;
        let acked = match &published {
            Ok(()) => events.last(),
            Err((acked, _)) => *acked,
        };
        if let Some(last) = acked
            && !lease
                .advance(store, last.seq)
                .await
                .map_err(|source| PublishError::Store {
                    step: "saving the NATS position".into(),
                    source,
                })?
        {
            debug!("lost the NATS publisher lease");
        }
        match published {
            Ok(()) => *backoff = Duration::from_secs(1),
            Err((_, error)) => return Err(error),
        }
    }
}

/// Why a publishing session ended; the publisher logs it and reconnects with backoff, resuming
/// from the durable position.
#[derive(Debug, thiserror::Error)]
enum PublishError {
    #[error("cannot connect to NATS: {0}")]
    Connect(#[source] async_nats::ConnectError),
    #[error("cannot create or find the JetStream stream {name}: {detail}")]
    Stream { name: String, detail: String },
    #[error("{step}: {source}")]
    Store {
        step: String,
        #[source]
        source: StoreError,
    },
    #[error("cannot serialise event {id}: {source}")]
    Serialise {
        id: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("publishing event {id}: {detail}")]
    Publish { id: String, detail: String },
    #[error("no ack for event {id}: {detail}")]
    Ack { id: String, detail: String },
}

/// One message to publish: subject and `Nats-Msg-Id`.
struct Message {
    subject: String,
    id: String,
}

/// The messages of one event: the fleet-wide one, then one per team that may read it.
async fn messages_of(store: &Store, event: &StoredEvent) -> Result<Vec<Message>, StoreError> {
    let mut messages = vec![Message {
        subject: subject(event),
        id: event.id.clone(),
    }];
    for team in store.teams_reading(event).await? {
        messages.push(Message {
            subject: team_subject(team, event),
            id: format!("{}.{team}", event.id),
        });
    }
    Ok(messages)
}

/// Create the stream `name` unless it exists.
async fn ensure_stream(
    context: &jetstream::Context,
    name: &str,
    subjects: &str,
) -> Result<(), PublishError> {
    context
        .get_or_create_stream(jetstream::stream::Config {
            name: name.to_owned(),
            subjects: vec![subjects.to_owned()],
            duplicate_window: DUPLICATE_WINDOW,
            ..jetstream::stream::Config::default()
        })
        .await
        .map_err(|e| PublishError::Stream {
            name: name.to_owned(),
            detail: e.to_string(),
        })?;
    Ok(())
}

/// Publish `events` (`messages[i]` are the messages of `events[i]`; pipelined) and wait for every
/// ack in order. On failure returns the last event all of whose messages were acknowledged before
/// it (everything up to it is stored) and the error.
async fn publish_batch<'a>(
    context: &jetstream::Context,
    events: &'a [StoredEvent],
    messages: &[Vec<Message>],
) -> Result<(), (Option<&'a StoredEvent>, PublishError)> {
    // (event, whether this is its last message, the ack).
    let mut pending = Vec::with_capacity(events.len());
    let mut failure = None;
    'events: for (event, messages) in events.iter().zip(messages) {
        let body = match serde_json::to_vec(event) {
            Ok(body) => body,
            Err(e) => {
                failure = Some(PublishError::Serialise {
                    id: event.id.clone(),
                    source: e,
                });
                break;
            }
        };
        for (n, message) in messages.iter().enumerate() {
            let mut headers = async_nats::HeaderMap::new();
            headers.insert(async_nats::header::NATS_MESSAGE_ID, message.id.as_str());
            headers.insert("Upkeep-Event-Seq", event.seq.to_string().as_str());
            match context
                .publish_with_headers(message.subject.clone(), headers, body.clone().into())
                .await
            {
                Ok(ack) => pending.push((event, n + 1 == messages.len(), ack)),
                Err(e) => {
                    failure = Some(PublishError::Publish {
                        id: event.id.clone(),
                        detail: e.to_string(),
                    });
                    break 'events;
                }
            }
        }
    }
    let mut acked = None;
    for (event, last, ack) in pending {
        match ack.await {
            Ok(ack) => {
                if ack.duplicate {
                    debug!(id = %event.id, "JetStream already had this message");
                }
                if last {
                    acked = Some(event);
                }
            }
            Err(e) => {
                return Err((
                    acked,
                    PublishError::Ack {
                        id: event.id.clone(),
                        detail: e.to_string(),
                    },
                ));
            }
        }
    }
    match failure {
        Some(error) => Err((acked, error)),
        None => Ok(()),
    }
}
