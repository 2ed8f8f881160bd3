//! GitHub pushes already handled: the head commit (`after`) of the last push per registered
//! repository (table `github_push_heads`, migration 0007), so the same push delivered again under
//! a new delivery id queues no second crawl.

use crate::store::{Result, Store, now_ms};

impl Store {
    /// Record `after` as the head of the last push to `repository_id`; `false` when it already
    /// was (the push is a duplicate). Atomic: of two deliveries of one push, one gets `true`.
    pub async fn record_push_head(&self, repository_id: i64, after: &str) -> Result<bool> {
        let row = sqlx::query(
            "INSERT INTO github_push_heads (repository_id, after_sha, received_at) \
             VALUES ($1, $2, $3) \
             ON CONFLICT (repository_id) DO UPDATE \
                 SET after_sha = excluded.after_sha, received_at = excluded.received_at \
                 WHERE github_push_heads.after_sha <> excluded.after_sha \
             RETURNING repository_id",
        )
        .bind(repository_id)
        .bind(after)
        .bind(now_ms())
        .fetch_optional(self.pool())
        .await?;
        Ok(row.is_some())
    }

    /// Forget `after` as the last push head of `repository_id` (handling the push failed, so a
    /// redelivery must be handled).
    pub async fn forget_push_head(&self, repository_id: i64, after: &str) -> Result<()> {
        sqlx::query("DELETE FROM github_push_heads WHERE repository_id = $1 AND after_sha = $2")
            .bind(repository_id)
            .bind(after)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
