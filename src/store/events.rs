//! The event journal: events are appended in the same transaction as the change they describe and
//! read by cursor (`seq > after`).
//!
//! Team scoping (what a team token may read, here for the cursor API, server-sent events and a
//! team's webhook subscriptions alike): the events whose `team_id` is the team, and the fleet-wide
//! package events (`team_id` NULL, subject `package:<ecosystem>:<name>`: `release_published`,
//! `release_yanked`) of packages that one of the team's repositories depends on **at the time of
//! reading**. A release of a package only another team uses never reaches the team; a team that
//! starts using a package sees its earlier release events when it reads them after that, and a team
//! that stopped using it no longer does. Every other event without a team (one whose team was
//! deleted) is for the admin only. The admin reads every event.
//!
//! Cursor safety on PostgreSQL: `seq` comes from an identity sequence, which hands out numbers at
//! insert time, not commit time. Two writers could otherwise commit out of order (seq 11 visible
//! before seq 10), and a reader that saw 11 and moved its cursor past 10 would never see 10. So every
//! append first takes one transaction-scoped advisory lock (`pg_advisory_xact_lock`), held until
//! commit: journal writers are serialised from their append to their commit, positions are handed
//! out in commit order, and a reader can never observe a gap that is later filled. PostgreSQL makes
//! a commit visible before it releases the transaction's locks, so the next writer's event is always
//! ordered after a visible one. Appends are the last statement of a transaction, so the lock is
//! held only for the commit itself. On SQLite a write transaction already holds the database's
//! single write lock from `BEGIN IMMEDIATE` to commit, which gives the same guarantee.

use std::fmt::Write as _;

use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;
use sqlx::{AssertSqlSafe, Row};

use super::{Backend, Result, Store, Tx, now_ms};

/// Advisory lock key for journal appends ("upkeep" in ASCII, as a number).
const JOURNAL_LOCK: i64 = 0x7570_6b65_6570;

/// An event about to be written.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// `{aggregate}_event`.
    pub stream: &'static str,
    /// `{aggregate}_upserted`, `release_published`, ...
    pub kind: &'static str,
    pub team_id: Option<i64>,
    /// The subject's key (`repository:42`, `package:npm:react`).
    pub subject_key: String,
    pub payload: serde_json::Value,
}

/// An event as stored, with its position.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StoredEvent {
    pub seq: i64,
    pub id: String,
    pub stream: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip)]
    pub team_id: Option<i64>,
    pub subject_key: String,
    pub occurred_at: DateTime<Utc>,
    pub payload: serde_json::Value,
}

/// Append `event` inside `tx`; call it last, just before commit (see the module notes).
pub async fn append(tx: &mut Tx, backend: Backend, event: NewEvent) -> Result<i64> {
    if backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(JOURNAL_LOCK)
            .execute(&mut **tx)
            .await?;
    }
    let row = sqlx::query(
        "INSERT INTO events (id, stream, type, team_id, subject_key, occurred_at, payload) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING seq",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(event.stream)
    .bind(event.kind)
    .bind(event.team_id)
    .bind(event.subject_key)
    .bind(now_ms())
    .bind(event.payload.to_string())
    .fetch_one(&mut **tx)
    .await?;
    Ok(row.try_get("seq")?)
}

/// Which events to read.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub after: i64,
    pub limit: i64,
    /// Only this team's events (`None`: every event, for the admin).
    pub team_id: Option<i64>,
    /// With `team_id`: also the fleet-wide package events of the packages the team's repositories
    /// use now (see the module notes); never another team's events nor other team-less ones.
    pub include_fleet: bool,
    /// Only these types.
    pub types: Vec<String>,
}

/// The subject keys (`package:<ecosystem>:<name>`, as `keys::package_releases` writes them on release
/// events) of every package a repository of team `$n` depends on. Not correlated with the event
/// row, so both backends evaluate it once per query (PostgreSQL as a hashed subplan, SQLite as an
/// ephemeral index).
fn packages_used_by_team(n: usize) -> String {
    format!(
        "SELECT 'package:' || p.ecosystem || ':' || p.name FROM packages p \
         JOIN dependencies d ON d.package_id = p.id \
         JOIN manifests m ON m.id = d.manifest_id \
         JOIN repositories r ON r.id = m.repository_id \
         WHERE r.team_id = ${n}"
    )
}

/// The `(ecosystem, name)` of a package event's subject key (`package:<ecosystem>:<name>`);
/// `None` for any other subject. Ecosystem names hold no `:`; package names may (Maven).
pub fn package_of_subject(subject_key: &str) -> Option<(&str, &str)> {
    subject_key
        .strip_prefix("package:")?
        .split_once(':')
        .filter(|(ecosystem, name)| !ecosystem.is_empty() && !name.is_empty())
}

impl Store {
    /// The teams that may read `event` (see the module notes): its own team, or for a package
    /// event without a team, every team with a repository that depends on the package now, by id.
    /// Other events without a team: none (the admin's only).
    pub async fn teams_reading(&self, event: &StoredEvent) -> Result<Vec<i64>> {
        if let Some(team) = event.team_id {
            return Ok(vec![team]);
        }
        let Some((ecosystem, name)) = package_of_subject(&event.subject_key) else {
            return Ok(Vec::new());
        };
        let rows = sqlx::query(
            "SELECT DISTINCT r.team_id FROM packages p \
             JOIN dependencies d ON d.package_id = p.id \
             JOIN manifests m ON m.id = d.manifest_id \
             JOIN repositories r ON r.id = m.repository_id \
             WHERE p.ecosystem = $1 AND p.name = $2 ORDER BY r.team_id",
        )
        .bind(ecosystem)
        .bind(name)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|row| Ok(row.try_get("team_id")?)).collect()
    }

    /// Events with `seq > filter.after`, in position order.
    pub async fn events_after(&self, filter: &EventFilter) -> Result<Vec<StoredEvent>> {
        let mut sql = String::from(
            "SELECT seq, id, stream, type, team_id, subject_key, occurred_at, payload FROM events WHERE seq > $1",
        );
        let mut n = 1;
        if filter.team_id.is_some() {
            n += 1;
            if filter.include_fleet {
                let _ = write!(
                    sql,
                    " AND (team_id = ${n} OR (team_id IS NULL AND subject_key IN ({})))",
                    packages_used_by_team(n)
                );
            } else {
                let _ = write!(sql, " AND team_id = ${n}");
            }
        }
        if !filter.types.is_empty() {
            let placeholders: Vec<String> = (0..filter.types.len())
                .map(|i| format!("${}", n + 1 + i))
                .collect();
            n += filter.types.len();
            let _ = write!(sql, " AND type IN ({})", placeholders.join(", "));
        }
        let _ = write!(sql, " ORDER BY seq LIMIT ${}", n + 1);
        let mut query = sqlx::query(AssertSqlSafe(sql)).bind(filter.after);
        if let Some(team) = filter.team_id {
            query = query.bind(team);
        }
        for kind in &filter.types {
            query = query.bind(kind.as_str());
        }
        let rows = query
            .bind(filter.limit.clamp(1, 1000))
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|row| {
                let payload: String = row.try_get("payload")?;
                Ok(StoredEvent {
                    seq: row.try_get("seq")?,
                    id: row.try_get("id")?,
                    stream: row.try_get("stream")?,
                    kind: row.try_get("type")?,
                    team_id: row.try_get("team_id")?,
                    subject_key: row.try_get("subject_key")?,
                    occurred_at: from_ms(row.try_get("occurred_at")?),
                    payload: serde_json::from_str(&payload).unwrap_or(serde_json::Value::Null),
                })
            })
            .collect()
    }
}

/// Milliseconds since the epoch as a UTC time.
pub fn from_ms(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::package_of_subject;

    #[test]
    fn package_subjects() {
        assert_eq!(
            package_of_subject("package:npm:react"),
            Some(("npm", "react"))
        );
        assert_eq!(
            package_of_subject("package:maven:org.slf4j:slf4j-api"),
            Some(("maven", "org.slf4j:slf4j-api"))
        );
        assert_eq!(package_of_subject("repository:42"), None);
        assert_eq!(package_of_subject("package:npm:"), None);
        assert_eq!(package_of_subject("package:"), None);
    }
}
