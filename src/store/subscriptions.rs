//! Outgoing webhook subscriptions, their deliveries, and the durable cursors and leases of the
//! delivery loops (`crate::delivery`).
//!
//! A subscription's `last_seq` is the journal position its dispatcher has read up to; each matching
//! event becomes one `webhook_deliveries` row (unique per subscription and event, so a dispatcher
//! that reads the same events twice creates nothing new). A delivery is `pending` until a POST is
//! answered 2xx (`delivered`) or its attempts run out (`dead`). Secrets are stored for signing, in
//! the form [`crate::secret_box`] gives them (sealed when `secret_key` is configured), and never
//! leave the store except in [`DeliveryAttempt`], which the delivery handler alone reads.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use super::events::{EventFilter, StoredEvent, from_ms};
use super::repositories::Page;
use super::{Result, Store, StoreError, now_ms};

/// A webhook subscription as the API shows it (never with its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Subscription {
    pub id: i64,
    pub team_id: i64,
    pub url: String,
    /// The event types delivered.
    pub types: Vec<String>,
    /// Attempts before a delivery is dead-lettered.
    pub max_attempts: i64,
    pub created_at: DateTime<Utc>,
}

/// A subscription to create (already validated by the caller).
#[derive(Debug, Clone)]
pub struct NewSubscription {
    pub team_id: i64,
    pub url: String,
    pub types: Vec<String>,
    /// The signing secret as [`crate::secret_box::SecretBox::seal`] stores it.
    pub stored_secret: String,
    pub max_attempts: i64,
}

/// A subscription with its dispatch position, for the dispatcher.
#[derive(Debug, Clone)]
pub struct DispatchState {
    pub subscription: Subscription,
    pub last_seq: i64,
}

/// The state of one delivery, as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Delivery {
    pub id: i64,
    pub subscription_id: i64,
    pub event_seq: i64,
    /// The event's id (also sent as `X-Upkeep-Delivery`).
    pub event_id: String,
    pub event_type: String,
    /// `pending`, `delivered` or `dead` (attempts exhausted).
    pub status: String,
    pub attempts: i64,
    /// The HTTP status of the last attempt, when the receiver answered.
    pub last_status_code: Option<i64>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// Everything the delivery handler needs for one attempt.
#[derive(Debug, Clone)]
pub struct DeliveryAttempt {
    pub delivery: Delivery,
    pub url: String,
    /// The signing secret as stored; [`crate::secret_box::SecretBox::open`] turns it back.
    pub stored_secret: String,
    pub max_attempts: i64,
    pub event: StoredEvent,
}

/// How an attempt ended.
#[derive(Debug, Clone)]
pub enum AttemptOutcome {
    Delivered {
        status_code: i64,
    },
    Failed {
        status_code: Option<i64>,
        error: String,
    },
}

const SUBSCRIPTION_COLUMNS: &str = "id, team_id, url, types, max_attempts, created_at";
const DELIVERY_COLUMNS: &str = "d.id, d.subscription_id, d.event_seq, d.event_id, d.event_type, d.status, d.attempts, \
     d.last_status_code, d.last_error, d.created_at, d.updated_at, d.delivered_at";

fn subscription_from_row(row: &AnyRow) -> Result<Subscription> {
    let types: String = row.try_get("types")?;
    Ok(Subscription {
        id: row.try_get("id")?,
        team_id: row.try_get("team_id")?,
        url: row.try_get("url")?,
        types: serde_json::from_str(&types).unwrap_or_default(),
        max_attempts: row.try_get("max_attempts")?,
        created_at: from_ms(row.try_get("created_at")?),
    })
}

fn delivery_from_row(row: &AnyRow) -> Result<Delivery> {
    Ok(Delivery {
        id: row.try_get("id")?,
        subscription_id: row.try_get("subscription_id")?,
        event_seq: row.try_get("event_seq")?,
        event_id: row.try_get("event_id")?,
        event_type: row.try_get("event_type")?,
        status: row.try_get("status")?,
        attempts: row.try_get("attempts")?,
        last_status_code: row.try_get("last_status_code")?,
        last_error: row.try_get("last_error")?,
        created_at: from_ms(row.try_get("created_at")?),
        updated_at: from_ms(row.try_get("updated_at")?),
        delivered_at: row.try_get::<Option<i64>, _>("delivered_at")?.map(from_ms),
    })
}

/// Keep stored error texts bounded.
fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

impl Store {
    /// Create a subscription; it receives events committed from now on.
    pub async fn create_subscription(&self, new: &NewSubscription) -> Result<Subscription> {
        if new.types.is_empty() {
            return Err(StoreError::Invalid(
                "types: name at least one event type".into(),
            ));
        }
        let types = serde_json::to_string(&new.types)
            .map_err(|e| StoreError::Invalid(format!("types: {e}")))?;
        let head: i64 = sqlx::query("SELECT COALESCE(MAX(seq), 0) AS head FROM events")
            .fetch_one(self.pool())
            .await?
            .try_get("head")?;
        let row = sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO webhook_subscriptions (team_id, url, types, secret, max_attempts, last_seq, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {SUBSCRIPTION_COLUMNS}"
        )))
        .bind(new.team_id)
        .bind(&new.url)
        .bind(types)
        .bind(&new.stored_secret)
        .bind(new.max_attempts)
        .bind(head)
        .bind(now_ms())
        .fetch_one(self.pool())
        .await?;
        subscription_from_row(&row)
    }

    /// One team's subscriptions, or (`None`, admin) every team's, by id.
    pub async fn subscriptions(&self, team_id: Option<i64>) -> Result<Vec<Subscription>> {
        let rows = match team_id {
            Some(team) => {
                sqlx::query(AssertSqlSafe(format!(
                    "SELECT {SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions WHERE team_id = $1 ORDER BY id"
                )))
                .bind(team)
                .fetch_all(self.pool())
                .await?
            }
            None => {
                sqlx::query(AssertSqlSafe(format!(
                    "SELECT {SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions ORDER BY id"
                )))
                .fetch_all(self.pool())
                .await?
            }
        };
        rows.iter().map(subscription_from_row).collect()
    }

    pub async fn subscription(&self, id: i64) -> Result<Option<Subscription>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(subscription_from_row).transpose()
    }

    /// Delete a subscription and its deliveries.
    pub async fn delete_subscription(&self, id: i64) -> Result<()> {
        let done = sqlx::query("DELETE FROM webhook_subscriptions WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("subscription {id}")));
        }
        Ok(())
    }

    /// A subscription's deliveries by id after `after`, optionally of one status.
    pub async fn deliveries(
        &self,
        subscription_id: i64,
        status: Option<&str>,
        after: i64,
        limit: i64,
    ) -> Result<Page<Delivery>> {
        let limit = limit.clamp(1, 500);
        let status_clause = if status.is_some() {
            " AND d.status = $4"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d \
             WHERE d.subscription_id = $1 AND d.id > $2{status_clause} ORDER BY d.id LIMIT $3"
        );
        let mut query = sqlx::query(AssertSqlSafe(sql))
            .bind(subscription_id)
            .bind(after)
            .bind(limit + 1);
        if let Some(status) = status {
            query = query.bind(status);
        }
        let rows = query.fetch_all(self.pool()).await?;
        let mut items = rows
            .iter()
            .map(delivery_from_row)
            .collect::<Result<Vec<_>>>()?;
        let next = if items.len() > usize::try_from(limit).unwrap_or(usize::MAX) {
            items.pop();
            items.last().map(|d| d.id)
        } else {
            None
        };
        Ok(Page { items, next })
    }

    /// Every subscription with its dispatch position.
    pub async fn dispatch_states(&self) -> Result<Vec<DispatchState>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {SUBSCRIPTION_COLUMNS}, last_seq FROM webhook_subscriptions ORDER BY id"
        )))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(DispatchState {
                    subscription: subscription_from_row(row)?,
                    last_seq: row.try_get("last_seq")?,
                })
            })
            .collect()
    }

    /// The events a subscription should receive after its position: the events of its types its
    /// team may read (see `store::events`).
    pub async fn events_for_subscription(
        &self,
        state: &DispatchState,
        limit: i64,
    ) -> Result<Vec<StoredEvent>> {
        self.events_after(&EventFilter {
            after: state.last_seq,
            limit,
            team_id: Some(state.subscription.team_id),
            include_fleet: true,
            types: state.subscription.types.clone(),
        })
        .await
    }

    /// Record one delivery per event for a subscription and move its position to `last_seq`, in one
    /// transaction. Returns how many deliveries were new.
    pub async fn record_deliveries(
        &self,
        subscription_id: i64,
        events: &[StoredEvent],
        last_seq: i64,
    ) -> Result<u64> {
        let now = now_ms();
        let mut tx = self.begin().await?;
        let mut created = 0;
        for event in events {
            let done = sqlx::query(
                "INSERT INTO webhook_deliveries (subscription_id, event_seq, event_id, event_type, status, queued, attempts, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, 'pending', 0, 0, $5, $5) ON CONFLICT (subscription_id, event_seq) DO NOTHING",
            )
            .bind(subscription_id)
            .bind(event.seq)
            .bind(&event.id)
            .bind(&event.kind)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            created += done.rows_affected();
        }
        sqlx::query(
            "UPDATE webhook_subscriptions SET last_seq = $1 WHERE id = $2 AND last_seq < $1",
        )
        .bind(last_seq)
        .bind(subscription_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(created)
    }

    /// Pending deliveries no job has been enqueued for yet: (delivery id, max attempts).
    pub async fn unqueued_deliveries(&self, limit: i64) -> Result<Vec<(i64, i64)>> {
        let rows = sqlx::query(
            "SELECT d.id, s.max_attempts FROM webhook_deliveries d \
             JOIN webhook_subscriptions s ON s.id = d.subscription_id \
             WHERE d.status = 'pending' AND d.queued = 0 ORDER BY d.id LIMIT $1",
        )
        .bind(limit.clamp(1, 1000))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("max_attempts")?)))
            .collect()
    }

    pub async fn mark_delivery_queued(&self, id: i64) -> Result<()> {
        sqlx::query("UPDATE webhook_deliveries SET queued = 1 WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn delivery(&self, id: i64) -> Result<Option<Delivery>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d WHERE d.id = $1"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(delivery_from_row).transpose()
    }

    /// Begin an attempt at a pending delivery: counts the attempt and returns what to send.
    /// `None` when the delivery is gone (subscription deleted) or no longer pending.
    pub async fn begin_delivery_attempt(&self, id: i64) -> Result<Option<DeliveryAttempt>> {
        let counted = sqlx::query(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, updated_at = $1 \
             WHERE id = $2 AND status = 'pending'",
        )
        .bind(now_ms())
        .bind(id)
        .execute(self.pool())
        .await?;
        if counted.rows_affected() == 0 {
            return Ok(None);
        }
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {DELIVERY_COLUMNS}, s.url, s.secret, s.max_attempts FROM webhook_deliveries d \
             JOIN webhook_subscriptions s ON s.id = d.subscription_id WHERE d.id = $1"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let delivery = delivery_from_row(&row)?;
        let event = self
            .events_after(&EventFilter {
                after: delivery.event_seq - 1,
                limit: 1,
                ..EventFilter::default()
            })
            .await?
            .into_iter()
            .find(|e| e.seq == delivery.event_seq)
            .ok_or_else(|| {
                StoreError::NotFound(format!("event {} of delivery {id}", delivery.event_seq))
            })?;
        Ok(Some(DeliveryAttempt {
            url: row.try_get("url")?,
            stored_secret: row.try_get("secret")?,
            max_attempts: row.try_get("max_attempts")?,
            delivery,
            event,
        }))
    }

    /// Record how an attempt ended: `delivered`, `pending` (to retry) or, after `max_attempts`,
    /// `dead`. Returns the new status.
    pub async fn finish_delivery_attempt(
        &self,
        attempt: &DeliveryAttempt,
        outcome: &AttemptOutcome,
    ) -> Result<&'static str> {
        let now = now_ms();
        let (status, code, error, delivered_at) = match outcome {
            AttemptOutcome::Delivered { status_code } => {
                ("delivered", Some(*status_code), None, Some(now))
            }
            AttemptOutcome::Failed { status_code, error } => {
                let status = if attempt.delivery.attempts >= attempt.max_attempts {
                    "dead"
                } else {
                    "pending"
                };
                (status, *status_code, Some(truncate(error, 1000)), None)
            }
        };
        sqlx::query(
            "UPDATE webhook_deliveries SET status = $1, last_status_code = $2, last_error = $3, \
             delivered_at = $4, updated_at = $5 WHERE id = $6 AND status = 'pending'",
        )
        .bind(status)
        .bind(code)
        .bind(error.filter(|e| !e.is_empty()))
        .bind(delivered_at)
        .bind(now)
        .bind(attempt.delivery.id)
        .execute(self.pool())
        .await?;
        Ok(status)
    }

    /// Take (or renew) the lease of delivery loop `name` for `holder`; returns the loop's durable
    /// position while the lease is held, `None` while another live holder has it.
    pub async fn take_delivery_lease(
        &self,
        name: &str,
        holder: &str,
        lease_ms: i64,
    ) -> Result<Option<i64>> {
        let now = now_ms();
        sqlx::query(
            "INSERT INTO delivery_cursors (name, last_seq, updated_at) VALUES ($1, 0, $2) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(now)
        .execute(self.pool())
        .await?;
        let row = sqlx::query(
            "UPDATE delivery_cursors SET leased_by = $1, leased_until = $2, updated_at = $3 \
             WHERE name = $4 AND (leased_by IS NULL OR leased_by = $1 OR leased_until < $3) \
             RETURNING last_seq",
        )
        .bind(holder)
        .bind(now + lease_ms)
        .bind(now)
        .bind(name)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| r.try_get("last_seq")).transpose()?)
    }

    /// Move loop `name`'s position forward to `seq`; false when `holder` lost the lease.
    pub async fn advance_delivery_cursor(
        &self,
        name: &str,
        holder: &str,
        seq: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE delivery_cursors SET last_seq = CASE WHEN last_seq < $1 THEN $1 ELSE last_seq END, \
             updated_at = $2 WHERE name = $3 AND leased_by = $4",
        )
        .bind(seq)
        .bind(now_ms())
        .bind(name)
        .bind(holder)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Give up the lease (shutdown), so another process takes over at once.
    pub async fn release_delivery_lease(&self, name: &str, holder: &str) -> Result<()> {
        sqlx::query(
            "UPDATE delivery_cursors SET leased_by = NULL, leased_until = NULL, updated_at = $1 \
             WHERE name = $2 AND leased_by = $3",
        )
        .bind(now_ms())
        .bind(name)
        .bind(holder)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Loop `name`'s durable position (0 when it never ran).
    pub async fn delivery_cursor(&self, name: &str) -> Result<i64> {
        let row = sqlx::query("SELECT last_seq FROM delivery_cursors WHERE name = $1")
            .bind(name)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| r.try_get("last_seq")).transpose()?.unwrap_or(0))
    }
}
