//! Registered repositories. Every change appends a `repository_event` in the same transaction.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use super::events::{self, from_ms};
use super::{Result, Store, StoreError, now_ms};
use crate::events::{Event, RepositoryPayload};
use crate::keys;
use crate::repository_url::{Provider, RepositoryUrl};

/// The default update policy stored for a new repository (refined by `.upkeep.toml` later).
pub const DEFAULT_POLICY: &str = "{}";
/// Weekly on Monday 06:00 UTC, crontab syntax.
pub const DEFAULT_SCHEDULE: &str = "0 6 * * 1";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Repository {
    pub id: i64,
    pub team_id: i64,
    pub provider: Provider,
    pub url: String,
    pub full_name: String,
    pub default_branch: Option<String>,
    /// When the weekly update pull requests are to be opened (crontab syntax, UTC; default
    /// Monday 06:00). Stored only for now: nothing acts on it yet. Crawls follow
    /// `crawl_interval_seconds`, pushes and `POST /repositories/{id}/crawl`.
    pub schedule: String,
    pub created_at: DateTime<Utc>,
    pub last_crawled_at: Option<DateTime<Utc>>,
}

/// As events describe it.
impl From<&Repository> for RepositoryPayload {
    fn from(repository: &Repository) -> Self {
        RepositoryPayload {
            id: repository.id,
            team_id: repository.team_id,
            provider: repository.provider,
            url: repository.url.clone(),
            full_name: repository.full_name.clone(),
            default_branch: repository.default_branch.clone(),
            schedule: repository.schedule.clone(),
            created_at: repository.created_at,
            last_crawled_at: repository.last_crawled_at,
        }
    }
}

const COLUMNS: &str =
    "id, team_id, provider, url, full_name, default_branch, schedule, created_at, last_crawled_at";

fn from_row(row: &AnyRow) -> Result<Repository> {
    let provider: String = row.try_get("provider")?;
    Ok(Repository {
        id: row.try_get("id")?,
        team_id: row.try_get("team_id")?,
        provider: Provider::parse(&provider).unwrap_or(Provider::Git),
        url: row.try_get("url")?,
        full_name: row.try_get("full_name")?,
        default_branch: row.try_get("default_branch")?,
        schedule: row.try_get("schedule")?,
        created_at: from_ms(row.try_get("created_at")?),
        last_crawled_at: row
            .try_get::<Option<i64>, _>("last_crawled_at")?
            .map(from_ms),
    })
}

/// A page of results and the cursor for the next one.
#[derive(Debug, Clone, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `after` to read the next page; `None` on the last page.
    pub next: Option<i64>,
}

impl Store {
    /// Register a repository for a team; `Conflict` when the team already has it.
    pub async fn add_repository(
        &self,
        team_id: i64,
        url: &RepositoryUrl,
        default_branch: Option<&str>,
    ) -> Result<Repository> {
        let now = now_ms();
        let mut tx = self.begin().await?;
        let inserted = sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO repositories (team_id, provider, url, full_name, default_branch, policy, schedule, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) ON CONFLICT (team_id, url) DO NOTHING RETURNING {COLUMNS}"
        )))
        .bind(team_id)
        .bind(url.provider.as_str())
        .bind(&url.url)
        .bind(&url.full_name)
        .bind(default_branch.filter(|b| !b.trim().is_empty()))
        .bind(DEFAULT_POLICY)
        .bind(DEFAULT_SCHEDULE)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = inserted else {
            return Err(StoreError::Conflict(format!(
                "repository {} is already registered",
                url.url
            )));
        };
        let repo = from_row(&row)?;
        events::append(
            &mut tx,
            self.backend(),
            Event::RepositoryUpserted {
                repository: RepositoryPayload::from(&repo),
            }
            .into_new(Some(team_id), keys::repository(repo.id)),
        )
        .await?;
        tx.commit().await?;
        Ok(repo)
    }

    pub async fn repository(&self, id: i64) -> Result<Option<Repository>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM repositories WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Repositories by id, after `after`, at most `limit`; one team's or (admin) every team's.
    pub async fn repositories(
        &self,
        team_id: Option<i64>,
        after: i64,
        limit: i64,
    ) -> Result<Page<Repository>> {
        let limit = limit.clamp(1, 500);
        let rows = match team_id {
            Some(team) => {
                sqlx::query(AssertSqlSafe(format!(
                    "SELECT {COLUMNS} FROM repositories WHERE team_id = $1 AND id > $2 ORDER BY id LIMIT $3"
                )))
                .bind(team)
                .bind(after)
                .bind(limit + 1)
                .fetch_all(self.pool())
                .await?
            }
            None => {
                sqlx::query(AssertSqlSafe(format!("SELECT {COLUMNS} FROM repositories WHERE id > $1 ORDER BY id LIMIT $2")))
                    .bind(after)
                    .bind(limit + 1)
                    .fetch_all(self.pool())
                    .await?
            }
        };
        let mut items = rows.iter().map(from_row).collect::<Result<Vec<_>>>()?;
        let next = if items.len() > usize::try_from(limit).unwrap_or(usize::MAX) {
            items.pop();
            items.last().map(|r| r.id)
        } else {
            None
        };
        Ok(Page { items, next })
    }

    /// Delete a repository and everything crawled from it; `NotFound` when it does not exist.
    pub async fn remove_repository(&self, id: i64) -> Result<Repository> {
        let mut tx = self.begin().await?;
        let row = sqlx::query(AssertSqlSafe(format!(
            "DELETE FROM repositories WHERE id = $1 RETURNING {COLUMNS}"
        )))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Err(StoreError::NotFound(format!("repository {id}")));
        };
        let repo = from_row(&row)?;
        events::append(
            &mut tx,
            self.backend(),
            Event::RepositoryDeleted {
                id: repo.id,
                url: repo.url.clone(),
            }
            .into_new(Some(repo.team_id), keys::repository(repo.id)),
        )
        .await?;
        tx.commit().await?;
        Ok(repo)
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
}
