//! What the GitHub integration keeps in the store: webhook deliveries already handled (table
//! `github_deliveries`, migration 0002) and the lookups that imports and incoming webhooks need.

use sqlx::Row;

use crate::store::repositories::Repository;
use crate::store::{Result, Store, now_ms};

/// Deliveries older than this are forgotten (GitHub redelivers within a few days at most).
const DELIVERY_RETENTION_MS: i64 = 30 * 24 * 3_600_000;

/// `s` with the `LIKE` wildcards and the escape character escaped (escape character `\`).
fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

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

    /// Registered repositories (of every team) whose normalised URL is `url`.
    pub async fn repositories_by_url(&self, url: &str) -> Result<Vec<Repository>> {
        let ids: Vec<i64> = sqlx::query("SELECT id FROM repositories WHERE url = $1 ORDER BY id")
            .bind(url)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|row| row.try_get("id"))
            .collect::<std::result::Result<_, _>>()?;
        let mut repos = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(repo) = self.repository(id).await? {
                repos.push(repo);
            }
        }
        Ok(repos)
    }

    /// Teams that have registered at least one GitHub repository of account `login`.
    pub async fn teams_with_github_account(&self, login: &str) -> Result<Vec<i64>> {
        let pattern = format!("{}/%", like_escape(&login.to_ascii_lowercase()));
        let rows = sqlx::query(
            "SELECT DISTINCT team_id FROM repositories \
             WHERE provider = 'github' AND full_name LIKE $1 ESCAPE '\\' ORDER BY team_id",
        )
        .bind(pattern)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(|row| row.try_get("team_id"))
            .collect::<std::result::Result<_, _>>()?)
    }

    /// Raise a pending job's priority to at least `priority` and make it due now (a webhook asked
    /// for the work that an earlier enqueue already queued). Returns whether a job was changed.
    pub async fn hasten_pending_job(
        &self,
        kind: &str,
        dedup_key: &str,
        priority: i64,
    ) -> Result<bool> {
        let now = now_ms();
        let done = sqlx::query(
            "UPDATE jobs SET \
                 priority = CASE WHEN priority < $1 THEN $1 ELSE priority END, \
                 run_at = CASE WHEN run_at > $2 THEN $2 ELSE run_at END, \
                 updated_at = $2 \
             WHERE kind = $3 AND dedup_key = $4 AND state = 'pending'",
        )
        .bind(priority)
        .bind(now)
        .bind(kind)
        .bind(dedup_key)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_like_wildcards() {
        assert_eq!(super::like_escape("a_b%c\\"), "a\\_b\\%c\\\\");
    }
}
