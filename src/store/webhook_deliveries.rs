//! Incoming GitHub webhook deliveries already handled (table `github_deliveries`, migration 0002):
//! a redelivered `X-GitHub-Delivery` is recognised and answered without doing the work twice.

use super::{Result, Store, now_ms};

/// Deliveries older than this are forgotten (GitHub redelivers within a few days at most).
const DELIVERY_RETENTION_MS: i64 = 30 * 24 * 3_600_000;

impl Store {
    /// Record webhook delivery `delivery_id`; `false` when it was already recorded.
    pub async fn record_github_delivery(&self, delivery_id: &str, event: &str) -> Result<bool> {
        let now = now_ms();
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM github_deliveries WHERE received_at < $1")
            .bind(now - DELIVERY_RETENTION_MS)
            .execute(&mut *tx)
            .await?;
        let row = sqlx::query(
            "INSERT INTO github_deliveries (delivery_id, event, received_at) VALUES ($1, $2, $3) \
             ON CONFLICT (delivery_id) DO NOTHING RETURNING id",
        )
        .bind(delivery_id)
        .bind(event)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(row.is_some())
    }

    /// Forget a delivery whose handling failed, so GitHub's redelivery is handled.
    pub async fn forget_github_delivery(&self, delivery_id: &str) -> Result<()> {
        sqlx::query("DELETE FROM github_deliveries WHERE delivery_id = $1")
            .bind(delivery_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
