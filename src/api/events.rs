//! The event stream (see "Events" in ARCHITECTURE.md) over HTTP: the cursor API, server-sent
//! events and the events' JSON Schema.
//!
//! Visibility: a team token sees its team's events and the release events of packages its
//! repositories use at the time of reading (the scoping rule is stated in `store::events`); never
//! another team's events. The admin token sees every event. Both endpoints read the journal by
//! position (`seq > after`), which never skips an event (see `store::events`).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::OnceLock;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::{ApiError, ApiQuery, AppState, page_limit};
use crate::api::auth::Principal;
use crate::store::Store;
use crate::store::events::{EventFilter, StoredEvent};

/// Server-sent event streams end when this turns true, so a graceful shutdown is not held up by
/// open streams. `server::serve` adds it to the router as an extension.
#[derive(Clone)]
pub struct StreamShutdown(pub watch::Receiver<bool>);

/// Interval of the keep-alive comments on an idle event stream.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EventParams {
    /// Return events with positions after this one (`next_after` of the previous page; default 0).
    #[serde(default)]
    #[param(minimum = 0)]
    pub after: Option<i64>,
    /// Page size, 1–1000 (default 100).
    #[serde(default)]
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// Only these event types, comma-separated (`repository_upserted,release_published`).
    #[serde(default, rename = "type")]
    pub types: Option<String>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StreamParams {
    /// Start after this position when no `Last-Event-ID` header is sent (default: 0, the start of
    /// the journal).
    #[serde(default)]
    pub after: Option<i64>,
    /// Only these event types, comma-separated.
    #[serde(default, rename = "type")]
    pub types: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct EventPage {
    /// Event envelopes in position order; each validates against `/api/v1/events/schema`.
    pub events: Vec<StoredEvent>,
    /// Pass as `after` to read on (the last event's `seq`, or the request's `after` when empty).
    pub next_after: i64,
}

/// `type=a,b` → known types; 422 naming `type` otherwise.
fn parse_types(types: Option<&str>) -> Result<Vec<String>, ApiError> {
    let mut out: Vec<String> = Vec::new();
    for kind in types
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        if !crate::events::is_known_type(kind) {
            return Err(ApiError::invalid(
                "type",
                format!("unknown event type `{kind}`"),
            ));
        }
        if !out.iter().any(|t| t == kind) {
            out.push(kind.to_owned());
        }
    }
    Ok(out)
}

fn check_after(after: i64) -> Result<i64, ApiError> {
    if after < 0 {
        return Err(ApiError::invalid("after", "must not be negative"));
    }
    Ok(after)
}

/// Events after a position, oldest first.
#[utoipa::path(get, path = "/api/v1/events", operation_id = "list_events", tag = "events", params(EventParams),
    responses((status = 200, body = EventPage), (status = 400, body = super::ErrorBody), (status = 401, body = super::ErrorBody),
        (status = 422, body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(params): ApiQuery<EventParams>,
) -> Result<Json<EventPage>, ApiError> {
    let after = check_after(params.after.unwrap_or(0))?;
    let limit = page_limit(params.limit, 100, 1000)?;
    let types = parse_types(params.types.as_deref())?;
    let events = state
        .store()
        .events_after(&EventFilter {
            after,
            limit,
            team_id: principal.team_scope(),
            include_fleet: true,
            types,
        })
        .await?;
    let next_after = events.last().map_or(after, |e| e.seq);
    Ok(Json(EventPage { events, next_after }))
}

/// Events as server-sent events: `id` is the position, `event` the type, `data` the envelope.
/// Resumes after the `Last-Event-ID` header (or `after`); idle streams get keep-alive comments.
#[utoipa::path(get, path = "/api/v1/events/stream", operation_id = "stream_events", tag = "events", params(StreamParams,
        ("Last-Event-ID" = Option<i64>, Header, description = "Resume after this position (sent by reconnecting clients)")),
    responses((status = 200, content_type = "text/event-stream", body = String,
            description = "`id: <seq>`, `event: <type>`, `data: <envelope JSON>` per event"),
        (status = 400, body = super::ErrorBody), (status = 401, body = super::ErrorBody), (status = 422, body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn stream(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<StreamParams>,
    shutdown: Option<axum::Extension<StreamShutdown>>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let resume = match headers.get("last-event-id") {
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .and_then(|v| v.trim().parse::<i64>().ok())
                .ok_or_else(|| {
                    ApiError::bad_request("the Last-Event-ID header is not an event position")
                })?,
        ),
        None => None,
    };
    let after = check_after(resume.or(params.after).unwrap_or(0))?;
    let types = parse_types(params.types.as_deref())?;
    let mut filter = EventFilter {
        after,
        limit: 100,
        team_id: principal.team_scope(),
        include_fleet: true,
        types,
    };
    // The first page is read before answering, so a database that is down answers 503 rather
    // than an empty stream.
    let first = state.store().events_after(&filter).await?;
    if let Some(last) = first.last() {
        filter.after = last.seq;
    }
    let tail = Tail {
        store: state.store().clone(),
        filter,
        buffer: first.into(),
        poll: Duration::from_millis(state.services.config.job_poll_ms.max(10)),
        shutdown: shutdown.map(|axum::Extension(s)| s.0),
    };
    let events = futures_util::stream::unfold(tail, Tail::next);
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

/// The reading end of one event stream.
struct Tail {
    store: Store,
    filter: EventFilter,
    buffer: VecDeque<StoredEvent>,
    poll: Duration,
    shutdown: Option<watch::Receiver<bool>>,
}

impl Tail {
    async fn next(mut self) -> Option<(Result<SseEvent, Infallible>, Tail)> {
        loop {
            if let Some(event) = self.buffer.pop_front() {
                return Some((Ok(to_sse(&event)), self));
            }
            if self.shutdown.as_ref().is_some_and(|s| *s.borrow()) {
                return None;
            }
            match self.store.events_after(&self.filter).await {
                Ok(events) if !events.is_empty() => {
                    if let Some(last) = events.last() {
                        self.filter.after = last.seq;
                    }
                    self.buffer.extend(events);
                }
                Ok(_) => {
                    let stop = if let Some(shutdown) = self.shutdown.as_mut() {
                        tokio::select! {
                            () = tokio::time::sleep(self.poll) => false,
                            _ = shutdown.wait_for(|stop| *stop) => true,
                        }
                    } else {
                        tokio::time::sleep(self.poll).await;
                        false
                    };
                    if stop {
                        return None;
                    }
                }
                Err(error) => {
                    // The client reconnects with Last-Event-ID and resumes where it was.
                    tracing::warn!(%error, "reading the journal for an event stream failed; closing it");
                    return None;
                }
            }
        }
    }
}

fn to_sse(event: &StoredEvent) -> SseEvent {
    SseEvent::default()
        .id(event.seq.to_string())
        .event(event.kind.as_str())
        .data(serde_json::to_string(event).unwrap_or_else(|_| "{}".to_owned()))
}

/// The generated schema, computed once.
fn schema_document() -> &'static Result<serde_json::Value, crate::events::SchemaError> {
    static SCHEMA: OnceLock<Result<serde_json::Value, crate::events::SchemaError>> =
        OnceLock::new();
    SCHEMA.get_or_init(crate::events::json_schema)
}

/// The JSON Schema (draft 2020-12) of every event envelope, one `oneOf` branch per type.
#[utoipa::path(get, path = "/api/v1/events/schema", operation_id = "event_schema", tag = "events",
    responses((status = 200, content_type = "application/schema+json", body = Object,
        description = "JSON Schema of the event envelope, also checked in as src/events.schema.json")))]
pub async fn schema() -> Result<
    (
        [(axum::http::HeaderName, &'static str); 1],
        Json<serde_json::Value>,
    ),
    ApiError,
> {
    match schema_document() {
        Ok(schema) => Ok((
            [(axum::http::header::CONTENT_TYPE, "application/schema+json")],
            Json(schema.clone()),
        )),
        Err(error) => Err(ApiError::internal(error)),
    }
}
