//! The typed event streams (see "Events" in ARCHITECTURE.md). Every event a producer writes is one
//! variant of [`Event`];
//! its JSON Schema is generated from these types ([`json_schema`]), served at
//! `/api/v1/events/schema` and checked in at `src/events.schema.json` ([`SCHEMA_PATH`]); the test
//! `tests/it/events.rs` fails when they drift (`UPKEEP_UPDATE_SCHEMA=1 cargo test --test it
//! events::` rewrites the file).
//!
//! Envelope (see `store::events::StoredEvent`): `id` (unique, consumers deduplicate on it), `seq`
//! (stream position), `stream`, `type`, `occurred_at`, `subject_key`, `payload` (below).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use upkeep_resolvers::Ecosystem;
use upkeep_resolvers::manager::{DependencyKind, Manager, SkipReason};
use utoipa::ToSchema;

use crate::recommendation_kind::RecommendationKind;
use crate::repository_url::Provider;
use crate::store::events::NewEvent;

// A repository as events describe it, built by the store from its repository row. (No doc
// comment: it would become the schema's description, and the schema keeps the one it had.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = Repository)]
pub struct RepositoryPayload {
    pub id: i64,
    pub team_id: i64,
    pub provider: Provider,
    pub url: String,
    pub full_name: String,
    pub default_branch: Option<String>,
    pub schedule: String,
    pub created_at: DateTime<Utc>,
    pub last_crawled_at: Option<DateTime<Utc>>,
}

/// A dependency as events describe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DependencyPayload {
    pub repository_id: i64,
    pub dependency_id: i64,
    pub manifest: String,
    #[schema(value_type = String)]
    pub manager: Manager,
    #[schema(value_type = String)]
    pub ecosystem: Ecosystem,
    pub name: String,
    pub requirement: Option<String>,
    pub locked: Option<String>,
    #[schema(value_type = String)]
    pub kind: DependencyKind,
    #[schema(value_type = Option<String>)]
    pub skipped: Option<SkipReason>,
}

/// A release as events describe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReleasePayload {
    #[schema(value_type = String)]
    pub ecosystem: Ecosystem,
    pub name: String,
    pub version: String,
    pub published_at: Option<DateTime<Utc>>,
    pub prerelease: bool,
}

/// A recommendation as events describe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RecommendationPayload {
    pub repository_id: i64,
    pub dependency_id: i64,
    pub manifest: String,
    #[schema(value_type = String)]
    pub ecosystem: Ecosystem,
    pub name: String,
    /// The version in use (locked, else the lowest the requirement allows).
    pub current: Option<String>,
    pub target_version: String,
    /// The requirement to write, when the target is outside the current one.
    pub new_requirement: Option<String>,
    /// `patch`, `minor`, `major` or `security`.
    #[schema(value_type = String)]
    pub kind: RecommendationKind,
}

/// Why a recommendation went away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecommendationRemoval {
    /// A crawl saw the upgrade applied.
    Applied,
    /// It no longer holds (policy, the dependency went away, a newer target replaced it).
    Obsolete,
}

/// A pull request as events describe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PullRequestPayload {
    pub repository_id: i64,
    pub number: Option<i64>,
    pub url: Option<String>,
    pub branch: String,
    pub title: String,
}

/// An advisory as events describe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AdvisoryPayload {
    pub osv_id: String,
    pub summary: Option<String>,
    #[schema(value_type = String)]
    pub ecosystem: Ecosystem,
    pub name: String,
    pub repository_ids: Vec<i64>,
}

/// What a crawl found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CrawlPayload {
    pub repository_id: i64,
    pub crawl_id: i64,
    pub commit: Option<String>,
    pub manifests_read: i64,
    pub dependencies_added: i64,
    pub dependencies_changed: i64,
    pub dependencies_removed: i64,
    pub warnings: i64,
    /// Set on `crawl_failed`.
    pub error: Option<String>,
}

/// Every event type, tagged by `type`, with its payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", content = "payload", rename_all = "snake_case")]
pub enum Event {
    RepositoryUpserted {
        repository: RepositoryPayload,
    },
    RepositoryDeleted {
        id: i64,
        url: String,
    },
    DependencyUpserted(DependencyPayload),
    DependencyDeleted(DependencyPayload),
    ReleasePublished(ReleasePayload),
    ReleaseYanked(ReleasePayload),
    RecommendationUpserted(RecommendationPayload),
    RecommendationDeleted {
        recommendation: RecommendationPayload,
        reason: RecommendationRemoval,
    },
    PullRequestOpened(PullRequestPayload),
    PullRequestUpdated(PullRequestPayload),
    PullRequestMerged(PullRequestPayload),
    PullRequestClosed(PullRequestPayload),
    AdvisoryUpserted(AdvisoryPayload),
    AdvisoryMatched(AdvisoryPayload),
    AdvisoryResolved(AdvisoryPayload),
    CrawlCompleted(CrawlPayload),
    CrawlFailed(CrawlPayload),
}

impl Event {
    /// Every `{stream, type}` pair, in declaration order.
    pub const TYPES: &[(&str, &str)] = &[
        ("repository_event", "repository_upserted"),
        ("repository_event", "repository_deleted"),
        ("dependency_event", "dependency_upserted"),
        ("dependency_event", "dependency_deleted"),
        ("release_event", "release_published"),
        ("release_event", "release_yanked"),
        ("recommendation_event", "recommendation_upserted"),
        ("recommendation_event", "recommendation_deleted"),
        ("pull_request_event", "pull_request_opened"),
        ("pull_request_event", "pull_request_updated"),
        ("pull_request_event", "pull_request_merged"),
        ("pull_request_event", "pull_request_closed"),
        ("advisory_event", "advisory_upserted"),
        ("advisory_event", "advisory_matched"),
        ("advisory_event", "advisory_resolved"),
        ("crawl_event", "crawl_completed"),
        ("crawl_event", "crawl_failed"),
    ];

    /// The `type` of this event.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::RepositoryUpserted { .. } => "repository_upserted",
            Event::RepositoryDeleted { .. } => "repository_deleted",
            Event::DependencyUpserted(_) => "dependency_upserted",
            Event::DependencyDeleted(_) => "dependency_deleted",
            Event::ReleasePublished(_) => "release_published",
            Event::ReleaseYanked(_) => "release_yanked",
            Event::RecommendationUpserted(_) => "recommendation_upserted",
            Event::RecommendationDeleted { .. } => "recommendation_deleted",
            Event::PullRequestOpened(_) => "pull_request_opened",
            Event::PullRequestUpdated(_) => "pull_request_updated",
            Event::PullRequestMerged(_) => "pull_request_merged",
            Event::PullRequestClosed(_) => "pull_request_closed",
            Event::AdvisoryUpserted(_) => "advisory_upserted",
            Event::AdvisoryMatched(_) => "advisory_matched",
            Event::AdvisoryResolved(_) => "advisory_resolved",
            Event::CrawlCompleted(_) => "crawl_completed",
            Event::CrawlFailed(_) => "crawl_failed",
        }
    }

    /// The stream (`{aggregate}_event`) this event belongs to.
    pub fn stream(&self) -> &'static str {
        let kind = self.kind();
        Event::TYPES
            .iter()
            .find(|(_, k)| *k == kind)
            .map_or("unknown_event", |(s, _)| s)
    }

    /// The payload alone, as stored in the journal.
    pub fn payload(&self) -> serde_json::Value {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(mut map)) => {
                map.remove("payload").unwrap_or(serde_json::Value::Null)
            }
            _ => serde_json::Value::Null,
        }
    }

    /// The journal row for this event about `subject_key`, visible to `team_id` (`None`: fleet-wide).
    pub fn into_new(self, team_id: Option<i64>, subject_key: impl Into<String>) -> NewEvent {
        NewEvent {
            stream: self.stream(),
            kind: self.kind(),
            team_id,
            subject_key: subject_key.into(),
            payload: self.payload(),
        }
    }
}

/// Where the checked-in JSON Schema lives, relative to the crate root.
pub const SCHEMA_PATH: &str = "src/events.schema.json";

/// Is `kind` a known event `type`?
pub fn is_known_type(kind: &str) -> bool {
    Event::TYPES.iter().any(|(_, k)| *k == kind)
}

/// Why the events' JSON Schema could not be generated: a defect of the event types, which the
/// schema drift test finds before a release.
#[derive(Debug, thiserror::Error)]
#[error("cannot generate the event schema: {0}")]
pub struct SchemaError(String);

impl From<&str> for SchemaError {
    fn from(problem: &str) -> Self {
        SchemaError(problem.to_owned())
    }
}

impl From<String> for SchemaError {
    fn from(problem: String) -> Self {
        SchemaError(problem)
    }
}

impl From<serde_json::Error> for SchemaError {
    fn from(error: serde_json::Error) -> Self {
        SchemaError(error.to_string())
    }
}

/// The JSON Schema (draft 2020-12) of every event envelope: a `oneOf` with one branch per `type`,
/// each fixing `stream` and `type` and giving that type's `payload` schema. Generated from the
/// utoipa schemas of [`Event`] and the journal envelope (`store::events::StoredEvent`); shared
/// component schemas are under `$defs`.
pub fn json_schema() -> Result<serde_json::Value, SchemaError> {
    use serde_json::{Map, Value, json};
    use utoipa::{PartialSchema, ToSchema};

    use crate::store::events::StoredEvent;

    let to_value = |schema| serde_json::to_value(schema).map_err(SchemaError::from);
    let mut components = Vec::new();
    <Event as ToSchema>::schemas(&mut components);
    <StoredEvent as ToSchema>::schemas(&mut components);
    let mut defs = Map::new();
    for (name, schema) in components {
        defs.insert(name, to_value(schema)?);
    }

    let event = to_value(<Event as PartialSchema>::schema())?;
    let envelope = to_value(<StoredEvent as PartialSchema>::schema())?;
    let envelope_properties = envelope
        .get("properties")
        .and_then(Value::as_object)
        .ok_or("the envelope schema has no properties")?;
    let envelope_required = envelope.get("required").cloned().unwrap_or(json!([]));

    // The per-type payload schemas, keyed by the `type` value each `oneOf` branch admits.
    let mut payloads = Map::new();
    for branch in event
        .get("oneOf")
        .and_then(Value::as_array)
        .ok_or("the event schema is not a oneOf")?
    {
        let properties = branch
            .get("properties")
            .ok_or("an event variant schema has no properties")?;
        let kind = properties["type"]["enum"][0]
            .as_str()
            .or_else(|| properties["type"]["const"].as_str())
            .ok_or("an event variant schema does not fix `type`")?;
        payloads.insert(kind.to_owned(), properties["payload"].clone());
    }

    let mut branches = Vec::new();
    for (stream, kind) in Event::TYPES {
        let payload = payloads
            .remove(*kind)
            .ok_or_else(|| format!("event type `{kind}` has no variant schema"))?;
        let mut properties = envelope_properties.clone();
        properties.insert(
            "stream".to_owned(),
            json!({"type": "string", "const": stream}),
        );
        properties.insert("type".to_owned(), json!({"type": "string", "const": kind}));
        properties.insert("payload".to_owned(), payload);
        branches.push(json!({
            "title": kind,
            "type": "object",
            "required": envelope_required,
            "properties": properties,
            "additionalProperties": false,
        }));
    }
    if let Some(extra) = payloads.keys().next() {
        return Err(SchemaError(format!(
            "event type `{extra}` has a variant but is missing from Event::TYPES"
        )));
    }

    let mut document = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "upkeep event",
        "description": "One event of the upkeep event streams, as the cursor API, server-sent events, webhooks and NATS deliver it. `id` is unique (deduplicate on it); `seq` is the journal position.",
        "oneOf": branches,
        "$defs": defs,
    });
    rewrite_refs(&mut document);
    Ok(document)
}

/// [`json_schema`] as the checked-in file holds it: pretty-printed, with a final newline.
pub fn json_schema_text() -> Result<String, SchemaError> {
    let schema = json_schema()?;
    let mut text = serde_json::to_string_pretty(&schema)?;
    text.push('\n');
    Ok(text)
}

/// OpenAPI component references (`#/components/schemas/X`) → JSON Schema `$defs` (`#/$defs/X`).
fn rewrite_refs(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                if key == "$ref"
                    && let Some(target) = item.as_str()
                    && let Some(name) = target.strip_prefix("#/components/schemas/")
                {
                    *item = serde_json::Value::String(format!("#/$defs/{name}"));
                } else {
                    rewrite_refs(item);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(rewrite_refs),
        _ => {}
    }
}
