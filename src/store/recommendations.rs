//! Recommendations and the fleet inventory reads: dependencies with their package, a
//! repository's policy, usages of a package across the fleet, and recommendation listings.
//!
//! The write side is a set of statements on a caller's transaction ([`lock_dependencies`],
//! [`recommendations_of`], [`insert`], [`update`], [`delete`]); `crate::resolve` plans the
//! changes and writes them with their events in one transaction.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};

use upkeep_resolvers::Ecosystem;
use upkeep_resolvers::runtime::Runtimes;

use super::events::from_ms;
use super::inventory::{
    DEPENDENCY_COLUMNS, DEPENDENCY_FROM, DependencyRecord, dependency_from_row,
};
use super::releases::{IN_CHUNK, placeholders};
use super::repositories::Page;
use super::{Backend, Result, Store, Tx, now_ms, to_text, typed_column};
use crate::recommendation_kind::RecommendationKind;

/// A stored recommendation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecommendation {
    pub id: i64,
    pub dependency_id: i64,
    pub kind: RecommendationKind,
    pub target_version: String,
    pub new_requirement: Option<String>,
}

fn recommendation_from_row(row: &AnyRow) -> Result<StoredRecommendation> {
    Ok(StoredRecommendation {
        id: row.try_get("id")?,
        dependency_id: row.try_get("dependency_id")?,
        kind: typed_column(row, "kind")?,
        target_version: row.try_get("target_version")?,
        new_requirement: row.try_get("new_requirement")?,
    })
}

/// The owning team and stored policy JSON of a repository, inside a transaction.
pub async fn repository_policy_in(
    conn: &mut AnyConnection,
    repository_id: i64,
) -> Result<Option<(i64, String)>> {
    let row = sqlx::query("SELECT team_id, policy FROM repositories WHERE id = $1")
        .bind(repository_id)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|r| Ok((r.try_get("team_id")?, r.try_get("policy")?)))
        .transpose()
}

/// The runtimes `repository_id` declares through its stored toolchain entries (`python`,
/// `node`, `rust`: `requires-python`, `.python-version`, `.nvmrc`, `engines.node`,
/// `rust-toolchain`), each the lowest version its declarations admit.
pub async fn repository_runtimes_in(
    conn: &mut AnyConnection,
    repository_id: i64,
) -> Result<Runtimes> {
    let rows = sqlx::query(
        "SELECT p.name, d.requirement, d.locked, d.skip_reason FROM dependencies d \
         JOIN manifests m ON m.id = d.manifest_id JOIN packages p ON p.id = d.package_id \
         WHERE m.repository_id = $1 AND p.ecosystem = $2 ORDER BY d.id",
    )
    .bind(repository_id)
    .bind(Ecosystem::Toolchain.as_str())
    .fetch_all(&mut *conn)
    .await?;
    let mut declarations = Vec::with_capacity(rows.len());
    for row in &rows {
        let name: String = row.try_get("name")?;
        let requirement: Option<String> = row.try_get("requirement")?;
        let locked: Option<String> = row.try_get("locked")?;
        let skip_reason: Option<String> = row.try_get("skip_reason")?;
        if let Some(declaration) = requirement.or(locked) {
            declarations.push((name, declaration, skip_reason.is_some()));
        }
    }
    Ok(Runtimes::declared_by(declarations.iter().map(
        |(name, declaration, skipped)| (name.as_str(), declaration.as_str(), *skipped),
    )))
}

/// The dependencies among `ids` that belong to `repository_id`, locked for the rest of the
/// transaction on PostgreSQL (SQLite's write transaction is already exclusive).
pub async fn lock_dependencies(
    tx: &mut Tx,
    backend: Backend,
    repository_id: i64,
    ids: &[i64],
) -> Result<Vec<DependencyRecord>> {
    let lock = if backend == Backend::Postgres {
        " FOR UPDATE OF d"
    } else {
        ""
    };
    let mut out = Vec::new();
    for chunk in ids.chunks(IN_CHUNK) {
        let sql = format!(
            "SELECT {DEPENDENCY_COLUMNS} {DEPENDENCY_FROM} \
             WHERE m.repository_id = $1 AND d.id IN ({}) ORDER BY d.id{lock}",
            placeholders(2, chunk.len())
        );
        let mut query = sqlx::query(AssertSqlSafe(sql)).bind(repository_id);
        for id in chunk {
            query = query.bind(*id);
        }
        for row in query.fetch_all(&mut **tx).await? {
            out.push(dependency_from_row(&row)?);
        }
    }
    Ok(out)
}

/// The stored recommendations of `dependency_ids`.
pub async fn recommendations_of(
    conn: &mut AnyConnection,
    dependency_ids: &[i64],
) -> Result<Vec<StoredRecommendation>> {
    let mut out = Vec::new();
    for chunk in dependency_ids.chunks(IN_CHUNK) {
        let sql = format!(
            "SELECT id, dependency_id, kind, target_version, new_requirement FROM recommendations \
             WHERE dependency_id IN ({}) ORDER BY id",
            placeholders(1, chunk.len())
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for id in chunk {
            query = query.bind(*id);
        }
        for row in query.fetch_all(&mut *conn).await? {
            out.push(recommendation_from_row(&row)?);
        }
    }
    Ok(out)
}

pub async fn insert(
    tx: &mut Tx,
    dependency_id: i64,
    kind: RecommendationKind,
    target_version: &str,
    new_requirement: Option<&str>,
) -> Result<i64> {
    let row = sqlx::query(
        "INSERT INTO recommendations (dependency_id, kind, target_version, new_requirement, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
    )
    .bind(dependency_id)
    .bind(to_text(&kind)?)
    .bind(target_version)
    .bind(new_requirement)
    .bind(now_ms())
    .fetch_one(&mut **tx)
    .await?;
    Ok(row.try_get("id")?)
}

pub async fn update(
    tx: &mut Tx,
    id: i64,
    target_version: &str,
    new_requirement: Option<&str>,
) -> Result<()> {
    sqlx::query(
        "UPDATE recommendations SET target_version = $1, new_requirement = $2, updated_at = $3 WHERE id = $4",
    )
    .bind(target_version)
    .bind(new_requirement)
    .bind(now_ms())
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn delete(tx: &mut Tx, id: i64) -> Result<()> {
    sqlx::query("DELETE FROM recommendations WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// A dependency as the fleet API lists it, with its stored recommendations.
#[derive(Debug, Clone)]
pub struct DependencyWithRecommendations {
    pub dependency: DependencyRecord,
    pub recommendations: Vec<StoredRecommendation>,
}

/// One use of a package by a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    /// The repository's `owner/name`.
    pub full_name: String,
    pub url: String,
    pub dependency: DependencyRecord,
}

/// Which recommendations to list.
#[derive(Debug, Clone, Default)]
pub struct RecommendationFilter {
    pub after: i64,
    pub limit: i64,
    /// Only this team's repositories (`None`: every team, for the admin).
    pub team_id: Option<i64>,
    pub repository_id: Option<i64>,
    pub kind: Option<RecommendationKind>,
    pub ecosystem: Option<Ecosystem>,
}

/// A recommendation with its dependency and repository, as listed.
#[derive(Debug, Clone)]
pub struct RecommendationRow {
    pub id: i64,
    pub kind: RecommendationKind,
    pub target_version: String,
    pub new_requirement: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub repository_full_name: String,
    pub dependency: DependencyRecord,
}

impl Store {
    /// Every dependency id of a repository.
    pub async fn dependency_ids_of_repository(&self, repository_id: i64) -> Result<Vec<i64>> {
        let rows = sqlx::query(
            "SELECT d.id FROM dependencies d JOIN manifests m ON m.id = d.manifest_id \
             WHERE m.repository_id = $1 ORDER BY d.id",
        )
        .bind(repository_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|r| Ok(r.try_get("id")?)).collect()
    }

    /// `(repository_id, dependency_id)` of every dependency on a package.
    pub async fn dependents_of_package(&self, package_id: i64) -> Result<Vec<(i64, i64)>> {
        let rows = sqlx::query(
            "SELECT m.repository_id, d.id FROM dependencies d JOIN manifests m ON m.id = d.manifest_id \
             WHERE d.package_id = $1 ORDER BY m.repository_id, d.id",
        )
        .bind(package_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("repository_id")?, r.try_get("id")?)))
            .collect()
    }

    /// The runtimes a repository declares (see [`repository_runtimes_in`]).
    pub async fn repository_runtimes(&self, repository_id: i64) -> Result<Runtimes> {
        let mut conn = self.pool().acquire().await?;
        repository_runtimes_in(&mut conn, repository_id).await
    }

    /// The owning team and stored policy JSON of a repository.
    pub async fn repository_policy(&self, repository_id: i64) -> Result<Option<(i64, String)>> {
        let mut conn = self.pool().acquire().await?;
        repository_policy_in(&mut conn, repository_id).await
    }

    /// Store a repository's policy JSON; false when the repository does not exist.
    pub async fn set_repository_policy(
        &self,
        repository_id: i64,
        policy_json: &str,
    ) -> Result<bool> {
        let done =
            sqlx::query("UPDATE repositories SET policy = $1, updated_at = $2 WHERE id = $3")
                .bind(policy_json)
                .bind(now_ms())
                .bind(repository_id)
                .execute(self.pool())
                .await?;
        Ok(done.rows_affected() == 1)
    }

    /// A repository's dependencies by id after `after`, at most `limit`, with their stored
    /// recommendations.
    pub async fn repository_dependencies(
        &self,
        repository_id: i64,
        after: i64,
        limit: i64,
    ) -> Result<Page<DependencyWithRecommendations>> {
        let limit = limit.clamp(1, 500);
        let mut conn = self.pool().acquire().await?;
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {DEPENDENCY_COLUMNS} {DEPENDENCY_FROM} \
             WHERE m.repository_id = $1 AND d.id > $2 ORDER BY d.id LIMIT $3"
        )))
        .bind(repository_id)
        .bind(after)
        .bind(limit + 1)
        .fetch_all(&mut *conn)
        .await?;
        let mut dependencies = rows
            .iter()
            .map(dependency_from_row)
            .collect::<Result<Vec<_>>>()?;
        let next = if dependencies.len() > usize::try_from(limit).unwrap_or(usize::MAX) {
            dependencies.pop();
            dependencies.last().map(|d| d.id)
        } else {
            None
        };
        let ids: Vec<i64> = dependencies.iter().map(|d| d.id).collect();
        let mut recommendations = recommendations_of(&mut conn, &ids).await?;
        let items = dependencies
            .into_iter()
            .map(|dependency| {
                let (mine, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut recommendations)
                    .into_iter()
                    .partition(|r| r.dependency_id == dependency.id);
                recommendations = rest;
                DependencyWithRecommendations {
                    dependency,
                    recommendations: mine,
                }
            })
            .collect();
        Ok(Page { items, next })
    }

    /// Every use of `ecosystem`/`name` in repositories of `team_id` (`None`: every team).
    pub async fn package_usages(
        &self,
        ecosystem: Ecosystem,
        name: &str,
        team_id: Option<i64>,
    ) -> Result<Vec<Usage>> {
        let mut sql = format!(
            "SELECT {DEPENDENCY_COLUMNS}, r.full_name, r.url {DEPENDENCY_FROM} \
             WHERE p.ecosystem = $1 AND p.name = $2"
        );
        if team_id.is_some() {
            sql.push_str(" AND r.team_id = $3");
        }
        sql.push_str(" ORDER BY r.id, m.path, d.id");
        let mut query = sqlx::query(AssertSqlSafe(sql))
            .bind(to_text(&ecosystem)?)
            .bind(name);
        if let Some(team) = team_id {
            query = query.bind(team);
        }
        let rows = query.fetch_all(self.pool()).await?;
        rows.iter()
            .map(|row| {
                Ok(Usage {
                    full_name: row.try_get("full_name")?,
                    url: row.try_get("url")?,
                    dependency: dependency_from_row(row)?,
                })
            })
            .collect()
    }

    /// Recommendations by id, filtered.
    pub async fn recommendation_list(
        &self,
        filter: &RecommendationFilter,
    ) -> Result<Page<RecommendationRow>> {
        let limit = filter.limit.clamp(1, 500);
        let mut sql = format!(
            "SELECT rc.id AS rec_id, rc.kind AS rec_kind, rc.target_version, rc.new_requirement, \
             rc.created_at, rc.updated_at, r.full_name, {DEPENDENCY_COLUMNS} {DEPENDENCY_FROM} \
             JOIN recommendations rc ON rc.dependency_id = d.id WHERE rc.id > $1"
        );
        let mut n = 1;
        let mut clause = |sql: &mut String, column: &str| {
            n += 1;
            let _ = write!(sql, " AND {column} = ${n}");
        };
        if filter.team_id.is_some() {
            clause(&mut sql, "r.team_id");
        }
        if filter.repository_id.is_some() {
            clause(&mut sql, "m.repository_id");
        }
        if filter.kind.is_some() {
            clause(&mut sql, "rc.kind");
        }
        if filter.ecosystem.is_some() {
            clause(&mut sql, "p.ecosystem");
        }
        let _ = write!(sql, " ORDER BY rc.id LIMIT ${}", n + 1);
        let mut query = sqlx::query(AssertSqlSafe(sql)).bind(filter.after);
        if let Some(team) = filter.team_id {
            query = query.bind(team);
        }
        if let Some(repository) = filter.repository_id {
            query = query.bind(repository);
        }
        if let Some(kind) = &filter.kind {
            query = query.bind(to_text(kind)?);
        }
        if let Some(ecosystem) = &filter.ecosystem {
            query = query.bind(to_text(ecosystem)?);
        }
        let rows = query.bind(limit + 1).fetch_all(self.pool()).await?;
        let mut items = rows
            .iter()
            .map(|row| {
                Ok(RecommendationRow {
                    id: row.try_get("rec_id")?,
                    kind: typed_column(row, "rec_kind")?,
                    target_version: row.try_get("target_version")?,
                    new_requirement: row.try_get("new_requirement")?,
                    created_at: from_ms(row.try_get("created_at")?),
                    updated_at: from_ms(row.try_get("updated_at")?),
                    repository_full_name: row.try_get("full_name")?,
                    dependency: dependency_from_row(row)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let next = if items.len() > usize::try_from(limit).unwrap_or(usize::MAX) {
            items.pop();
            items.last().map(|r| r.id)
        } else {
            None
        };
        Ok(Page { items, next })
    }
}
