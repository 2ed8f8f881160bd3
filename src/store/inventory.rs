//! The fleet inventory: manifests, packages and dependencies as crawls leave them, the crawl
//! lease and crawl records, and the queries other parts use (a repository's dependencies, the
//! usages of a package).
//!
//! Writes that belong to one crawl take the caller's transaction (`&mut Tx`), so a repository's
//! whole change and its events commit together (see `crate::crawler::reconcile`).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};
use upkeep_resolvers::Ecosystem;
use upkeep_resolvers::manager::{DependencyKind, Manager, SkipReason};

use super::events;
use super::{Result, Store, Tx, now_ms, to_text, typed_column, typed_optional_column};
use crate::events::{CrawlPayload, DependencyPayload, Event};
use crate::keys;

/// The error of a crawl whose worker stopped before it finished (another crawl of the repository
/// took over).
pub const ABANDONED: &str = "abandoned: the worker stopped before the crawl finished";

/// A manifest row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredManifest {
    pub id: i64,
    pub path: String,
    pub manager: String,
    pub blob_id: Option<String>,
    /// JSON of the file's `Extraction` (before lockfile pairing).
    pub extraction: Option<String>,
    /// JSON array of `{line, message}`.
    pub warnings: String,
}

/// One dependency row with its manifest, package and repository: the one shape the store reads
/// and writes dependencies in ([`DEPENDENCY_COLUMNS`] from [`DEPENDENCY_FROM`], mapped by
/// [`dependency_from_row`]). The API and the events build their own payloads from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DependencyRecord {
    pub id: i64,
    pub repository_id: i64,
    pub team_id: i64,
    pub manifest_id: i64,
    /// The manifest's path in the repository.
    pub manifest: String,
    pub manager: Manager,
    pub package_id: i64,
    pub ecosystem: Ecosystem,
    pub name: String,
    /// Stable key of the dependency within its manifest (`kind:ecosystem:name:ordinal`).
    pub dep_key: String,
    pub requirement: Option<String>,
    pub locked: Option<String>,
    pub kind: DependencyKind,
    pub span_start: Option<i64>,
    pub span_end: Option<i64>,
    pub skip_reason: Option<SkipReason>,
}

impl DependencyRecord {
    /// Do `self` and `other` say the same about the dependency (package, requirement, locked
    /// version, kind, skip reason)? Ids and the span do not count: a moved span alone is no
    /// change.
    pub fn same_meaning(&self, other: &DependencyRecord) -> bool {
        self.package_id == other.package_id
            && self.requirement == other.requirement
            && self.locked == other.locked
            && self.kind == other.kind
            && self.skip_reason == other.skip_reason
    }
}

/// As events describe it. (Here rather than in `crate::events`, which the store imports: the
/// events own their payload types and import no store row.)
impl From<&DependencyRecord> for DependencyPayload {
    fn from(dependency: &DependencyRecord) -> Self {
        DependencyPayload {
            repository_id: dependency.repository_id,
            dependency_id: dependency.id,
            manifest: dependency.manifest.clone(),
            manager: dependency.manager,
            ecosystem: dependency.ecosystem,
            name: dependency.name.clone(),
            requirement: dependency.requirement.clone(),
            locked: dependency.locked.clone(),
            kind: dependency.kind,
            skipped: dependency.skip_reason,
        }
    }
}

/// The columns of a [`DependencyRecord`], for `SELECT {DEPENDENCY_COLUMNS} {DEPENDENCY_FROM} …`.
pub(crate) const DEPENDENCY_COLUMNS: &str = "d.id, m.repository_id, r.team_id, d.manifest_id, \
     m.path AS manifest, m.manager, d.package_id, p.ecosystem, p.name, d.dep_key, d.requirement, \
     d.locked, d.kind, d.span_start, d.span_end, d.skip_reason";

/// The join a [`DependencyRecord`] is read from: `d` dependencies, `m` manifests, `p` packages,
/// `r` repositories.
pub(crate) const DEPENDENCY_FROM: &str = "FROM dependencies d \
     JOIN manifests m ON m.id = d.manifest_id JOIN packages p ON p.id = d.package_id \
     JOIN repositories r ON r.id = m.repository_id";

/// A row holding [`DEPENDENCY_COLUMNS`] as a [`DependencyRecord`].
pub(crate) fn dependency_from_row(row: &AnyRow) -> Result<DependencyRecord> {
    Ok(DependencyRecord {
        id: row.try_get("id")?,
        repository_id: row.try_get("repository_id")?,
        team_id: row.try_get("team_id")?,
        manifest_id: row.try_get("manifest_id")?,
        manifest: row.try_get("manifest")?,
        manager: typed_column(row, "manager")?,
        package_id: row.try_get("package_id")?,
        ecosystem: typed_column(row, "ecosystem")?,
        name: row.try_get("name")?,
        dep_key: row.try_get("dep_key")?,
        requirement: row.try_get("requirement")?,
        locked: row.try_get("locked")?,
        kind: typed_column(row, "kind")?,
        span_start: row.try_get("span_start")?,
        span_end: row.try_get("span_end")?,
        skip_reason: typed_optional_column(row, "skip_reason")?,
    })
}

/// The crawl-related state of a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrawlState {
    pub head_commit: Option<String>,
    pub head_etag: Option<String>,
    pub policy: String,
}

/// A crawl record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CrawlRecord {
    pub id: i64,
    pub repository_id: i64,
    pub status: String,
    pub commit_sha: Option<String>,
    pub manifests_read: i64,
    pub blobs_read: i64,
    pub dependencies_added: i64,
    pub dependencies_changed: i64,
    pub dependencies_removed: i64,
    pub warnings: i64,
    pub error: Option<String>,
    pub started_at: DateTime<Utc>,
    /// `None` while the crawl runs.
    pub finished_at: Option<DateTime<Utc>>,
}

const CRAWL_COLUMNS: &str = "id, repository_id, status, commit_sha, manifests_read, blobs_read, \
     dependencies_added, dependencies_changed, dependencies_removed, warnings, error, started_at, \
     finished_at";

fn crawl_from_row(row: &AnyRow) -> Result<CrawlRecord> {
    let finished_at: Option<i64> = row.try_get("finished_at")?;
    Ok(CrawlRecord {
        id: row.try_get("id")?,
        repository_id: row.try_get("repository_id")?,
        status: row.try_get("status")?,
        commit_sha: row.try_get("commit_sha")?,
        manifests_read: row.try_get("manifests_read")?,
        blobs_read: row.try_get("blobs_read")?,
        dependencies_added: row.try_get("dependencies_added")?,
        dependencies_changed: row.try_get("dependencies_changed")?,
        dependencies_removed: row.try_get("dependencies_removed")?,
        warnings: row.try_get("warnings")?,
        error: row.try_get("error")?,
        started_at: events::from_ms(row.try_get("started_at")?),
        finished_at: finished_at.map(events::from_ms),
    })
}

impl Store {
    /// Every dependency of a repository, by manifest path and then id.
    pub async fn dependencies_of_repository(
        &self,
        repository_id: i64,
    ) -> Result<Vec<DependencyRecord>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {DEPENDENCY_COLUMNS} {DEPENDENCY_FROM} WHERE m.repository_id = $1 \
             ORDER BY m.path, m.manager, d.id"
        )))
        .bind(repository_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(dependency_from_row).collect()
    }

    /// Dependencies by id (those that exist).
    pub async fn dependencies_by_id(&self, ids: &[i64]) -> Result<Vec<DependencyRecord>> {
        let mut found = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let mut query = sqlx::query(AssertSqlSafe(format!(
                "SELECT {DEPENDENCY_COLUMNS} {DEPENDENCY_FROM} WHERE d.id IN ({}) ORDER BY d.id",
                placeholders.join(", ")
            )));
            for id in chunk {
                query = query.bind(*id);
            }
            for row in query.fetch_all(self.pool()).await? {
                found.push(dependency_from_row(&row)?);
            }
        }
        Ok(found)
    }

    /// The manifests of a repository as the last crawl left them.
    pub async fn manifests_of(&self, repository_id: i64) -> Result<Vec<StoredManifest>> {
        let rows = sqlx::query(
            "SELECT id, path, manager, blob_id, extraction, warnings FROM manifests \
             WHERE repository_id = $1 ORDER BY path, manager",
        )
        .bind(repository_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(StoredManifest {
                    id: row.try_get("id")?,
                    path: row.try_get("path")?,
                    manager: row.try_get("manager")?,
                    blob_id: row.try_get("blob_id")?,
                    extraction: row.try_get("extraction")?,
                    warnings: row.try_get("warnings")?,
                })
            })
            .collect()
    }

    /// The crawls of a repository, newest first.
    pub async fn crawls_of(&self, repository_id: i64) -> Result<Vec<CrawlRecord>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {CRAWL_COLUMNS} FROM crawls WHERE repository_id = $1 ORDER BY id DESC"
        )))
        .bind(repository_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(crawl_from_row).collect()
    }

    /// The newest crawl of a repository (running, or how it ended), if it was ever crawled.
    pub async fn last_crawl(&self, repository_id: i64) -> Result<Option<CrawlRecord>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {CRAWL_COLUMNS} FROM crawls WHERE repository_id = $1 ORDER BY id DESC LIMIT 1"
        )))
        .bind(repository_id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(crawl_from_row).transpose()
    }

    /// Head commit, ETag and policy JSON of a repository.
    pub async fn crawl_state(&self, repository_id: i64) -> Result<Option<CrawlState>> {
        let row =
            sqlx::query("SELECT head_commit, head_etag, policy FROM repositories WHERE id = $1")
                .bind(repository_id)
                .fetch_optional(self.pool())
                .await?;
        row.map(|row| {
            Ok(CrawlState {
                head_commit: row.try_get("head_commit")?,
                head_etag: row.try_get("head_etag")?,
                policy: row.try_get("policy")?,
            })
        })
        .transpose()
    }

    /// Take the crawl lease of a repository for `holder` until `lease_ms` from now; false when
    /// another holder has an unexpired lease. One conditional UPDATE, so it is exclusive across
    /// processes on both backends. Also records the attempt time for the scheduler.
    pub async fn try_lease_crawl(
        &self,
        repository_id: i64,
        holder: &str,
        lease_ms: i64,
    ) -> Result<bool> {
        let now = now_ms();
        let done = sqlx::query(
            "UPDATE repositories SET crawl_locked_by = $1, crawl_locked_until = $2, crawl_attempted_at = $3 \
             WHERE id = $4 AND (crawl_locked_until IS NULL OR crawl_locked_until < $3 OR crawl_locked_by = $1)",
        )
        .bind(holder)
        .bind(now.saturating_add(lease_ms))
        .bind(now)
        .bind(repository_id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Give the crawl lease back (only when `holder` still has it).
    pub async fn release_crawl(&self, repository_id: i64, holder: &str) -> Result<()> {
        sqlx::query(
            "UPDATE repositories SET crawl_locked_by = NULL, crawl_locked_until = NULL \
             WHERE id = $1 AND crawl_locked_by = $2",
        )
        .bind(repository_id)
        .bind(holder)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Open a crawl record in state `running`. The caller holds the repository's crawl lease, so
    /// any other crawl of the repository still `running` lost its worker (killed mid-crawl, its
    /// lease expired): it ends `failed` with [`ABANDONED`] as its error and a `crawl_failed`
    /// event, in the same transaction.
    pub async fn start_crawl(&self, repository_id: i64) -> Result<i64> {
        let now = now_ms();
        let mut tx = self.begin().await?;
        let row = sqlx::query(
            "INSERT INTO crawls (repository_id, status, started_at) VALUES ($1, 'running', $2) RETURNING id",
        )
        .bind(repository_id)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let crawl_id: i64 = row.try_get("id")?;
        let abandoned = sqlx::query(
            "UPDATE crawls SET status = 'failed', error = $1, finished_at = $2 \
             WHERE repository_id = $3 AND status = 'running' AND id <> $4 RETURNING id",
        )
        .bind(ABANDONED)
        .bind(now)
        .bind(repository_id)
        .bind(crawl_id)
        .fetch_all(&mut *tx)
        .await?;
        if !abandoned.is_empty() {
            let team_id: i64 = sqlx::query_scalar("SELECT team_id FROM repositories WHERE id = $1")
                .bind(repository_id)
                .fetch_one(&mut *tx)
                .await?;
            let mut ids = abandoned
                .iter()
                .map(|r| r.try_get::<i64, _>("id"))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            ids.sort_unstable();
            for id in ids {
                let payload = CrawlPayload {
                    repository_id,
                    crawl_id: id,
                    commit: None,
                    manifests_read: 0,
                    dependencies_added: 0,
                    dependencies_changed: 0,
                    dependencies_removed: 0,
                    warnings: 0,
                    error: Some(ABANDONED.to_owned()),
                };
                events::append(
                    &mut tx,
                    self.backend(),
                    Event::CrawlFailed(payload)
                        .into_new(Some(team_id), keys::repository(repository_id)),
                )
                .await?;
            }
        }
        tx.commit().await?;
        Ok(crawl_id)
    }

    /// The head did not move: close the crawl as `unchanged`, keep a new ETag, stamp
    /// `last_crawled_at`. No event.
    pub async fn finish_unchanged_crawl(
        &self,
        repository_id: i64,
        crawl_id: i64,
        etag: Option<&str>,
    ) -> Result<()> {
        let now = now_ms();
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE repositories SET last_crawled_at = $1, head_etag = COALESCE($2, head_etag) WHERE id = $3",
        )
        .bind(now)
        .bind(etag)
        .bind(repository_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE crawls SET status = 'unchanged', finished_at = $1 WHERE id = $2")
            .bind(now)
            .bind(crawl_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Close the crawl as `failed` and append `crawl_failed` (nothing when it was closed already).
    pub async fn fail_crawl(
        &self,
        team_id: i64,
        crawl_id: i64,
        payload: CrawlPayload,
    ) -> Result<()> {
        let error = payload
            .error
            .clone()
            .filter(|e| !e.trim().is_empty())
            .unwrap_or_else(|| "crawl failed".to_owned());
        let mut tx = self.begin().await?;
        let closed = sqlx::query(
            "UPDATE crawls SET status = 'failed', error = $1, finished_at = $2 WHERE id = $3 AND status = 'running'",
        )
        .bind(&error)
        .bind(now_ms())
        .bind(crawl_id)
        .execute(&mut *tx)
        .await?;
        if closed.rows_affected() == 0 {
            // Already closed as abandoned by the crawl that took the repository over, with its
            // event: one crawl ends once.
            return Ok(());
        }
        let subject = keys::repository(payload.repository_id);
        events::append(
            &mut tx,
            self.backend(),
            Event::CrawlFailed(payload).into_new(Some(team_id), subject),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Ids of repositories not crawled (nor attempted) since `cutoff_ms`, or never crawled.
    pub async fn repositories_due_for_crawl(&self, cutoff_ms: i64) -> Result<Vec<i64>> {
        let rows = sqlx::query(
            "SELECT id FROM repositories \
             WHERE (last_crawled_at IS NULL OR last_crawled_at < $1) \
               AND (crawl_attempted_at IS NULL OR crawl_attempted_at < $1) ORDER BY id",
        )
        .bind(cutoff_ms)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok(r.try_get::<i64, _>("id")?))
            .collect()
    }
}

// ---- writes inside one crawl's transaction ----

/// Extend the crawl lease inside `tx`; false when `holder` lost it (another crawl took over).
pub async fn hold_crawl_lease(
    tx: &mut Tx,
    repository_id: i64,
    holder: &str,
    lease_ms: i64,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE repositories SET crawl_locked_until = $1 WHERE id = $2 AND crawl_locked_by = $3",
    )
    .bind(now_ms().saturating_add(lease_ms))
    .bind(repository_id)
    .bind(holder)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The id of package `ecosystem`/`name` on the ecosystem's default registry, created if new.
pub async fn upsert_package(tx: &mut Tx, ecosystem: Ecosystem, name: &str) -> Result<i64> {
    let ecosystem = to_text(&ecosystem)?;
    let ecosystem = ecosystem.as_str();
    let registry =
        sqlx::query("SELECT id FROM registries WHERE ecosystem = $1 AND name = 'default'")
            .bind(ecosystem)
            .fetch_optional(&mut **tx)
            .await?;
    let registry_id: i64 = if let Some(row) = registry {
        row.try_get("id")?
    } else {
        sqlx::query(
            "INSERT INTO registries (ecosystem, name) VALUES ($1, 'default') ON CONFLICT (ecosystem, name) DO NOTHING",
        )
        .bind(ecosystem)
        .execute(&mut **tx)
        .await?;
        sqlx::query("SELECT id FROM registries WHERE ecosystem = $1 AND name = 'default'")
            .bind(ecosystem)
            .fetch_one(&mut **tx)
            .await?
            .try_get("id")?
    };
    let select = || {
        sqlx::query(
            "SELECT id FROM packages WHERE ecosystem = $1 AND registry_id = $2 AND name = $3",
        )
        .bind(ecosystem)
        .bind(registry_id)
        .bind(name)
    };
    let existing = select().fetch_optional(&mut **tx).await?;
    if let Some(row) = existing {
        return Ok(row.try_get("id")?);
    }
    // `DO NOTHING`, not a no-op `DO UPDATE`: an update would lock the row another crawl just
    // committed, and that lock conflicts with the key-share locks crawls take on packages their
    // new dependencies reference, which deadlocked concurrent crawls on PostgreSQL. A conflicting
    // row that another transaction is still inserting makes this wait for it; such waits happen
    // in the one (ecosystem, name) order `reconcile` upserts packages in.
    let inserted = sqlx::query(
        "INSERT INTO packages (ecosystem, registry_id, name) VALUES ($1, $2, $3) \
         ON CONFLICT (ecosystem, registry_id, name) DO NOTHING RETURNING id",
    )
    .bind(ecosystem)
    .bind(registry_id)
    .bind(name)
    .fetch_optional(&mut **tx)
    .await?;
    let row = match inserted {
        Some(row) => row,
        None => select().fetch_one(&mut **tx).await?,
    };
    Ok(row.try_get("id")?)
}

/// Insert or update a manifest row; returns its id.
pub async fn upsert_manifest(
    tx: &mut Tx,
    repository_id: i64,
    path: &str,
    manager: &str,
    blob_id: Option<&str>,
    extraction: Option<&str>,
    warnings: &str,
) -> Result<i64> {
    let row = sqlx::query(
        "INSERT INTO manifests (repository_id, path, manager, blob_id, warnings, extraction, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (repository_id, path, manager) DO UPDATE SET blob_id = excluded.blob_id, \
         warnings = excluded.warnings, extraction = excluded.extraction, updated_at = excluded.updated_at \
         RETURNING id",
    )
    .bind(repository_id)
    .bind(path)
    .bind(manager)
    .bind(blob_id)
    .bind(warnings)
    .bind(extraction)
    .bind(now_ms())
    .fetch_one(&mut **tx)
    .await?;
    Ok(row.try_get("id")?)
}

/// Delete a manifest (its dependencies go with it).
pub async fn delete_manifest(tx: &mut Tx, manifest_id: i64) -> Result<()> {
    sqlx::query("DELETE FROM manifests WHERE id = $1")
        .bind(manifest_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// A repository's dependencies, read inside `tx`.
pub async fn dependencies_in_tx(tx: &mut Tx, repository_id: i64) -> Result<Vec<DependencyRecord>> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {DEPENDENCY_COLUMNS} {DEPENDENCY_FROM} WHERE m.repository_id = $1 ORDER BY d.id"
    )))
    .bind(repository_id)
    .fetch_all(&mut **tx)
    .await?;
    rows.iter().map(dependency_from_row).collect()
}

/// Insert `dependency` as a new row of its manifest and set its `id`.
pub async fn insert_dependency(tx: &mut Tx, dependency: &mut DependencyRecord) -> Result<()> {
    let row = sqlx::query(
        "INSERT INTO dependencies (manifest_id, package_id, dep_key, requirement, locked, kind, span_start, span_end, skip_reason) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(dependency.manifest_id)
    .bind(dependency.package_id)
    .bind(&dependency.dep_key)
    .bind(dependency.requirement.as_deref())
    .bind(dependency.locked.as_deref())
    .bind(to_text(&dependency.kind)?)
    .bind(dependency.span_start)
    .bind(dependency.span_end)
    .bind(dependency.skip_reason.as_ref().map(to_text).transpose()?)
    .fetch_one(&mut **tx)
    .await?;
    dependency.id = row.try_get("id")?;
    Ok(())
}

/// Overwrite the row `dependency.id` with `dependency`'s package, requirement, locked version,
/// kind, span and skip reason.
pub async fn update_dependency(tx: &mut Tx, dependency: &DependencyRecord) -> Result<()> {
    sqlx::query(
        "UPDATE dependencies SET package_id = $1, requirement = $2, locked = $3, kind = $4, span_start = $5, \
         span_end = $6, skip_reason = $7 WHERE id = $8",
    )
    .bind(dependency.package_id)
    .bind(dependency.requirement.as_deref())
    .bind(dependency.locked.as_deref())
    .bind(to_text(&dependency.kind)?)
    .bind(dependency.span_start)
    .bind(dependency.span_end)
    .bind(dependency.skip_reason.as_ref().map(to_text).transpose()?)
    .bind(dependency.id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn delete_dependency(tx: &mut Tx, id: i64) -> Result<()> {
    sqlx::query("DELETE FROM dependencies WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Replace the repository's policy JSON.
pub async fn set_policy(tx: &mut Tx, repository_id: i64, policy_json: &str) -> Result<()> {
    sqlx::query("UPDATE repositories SET policy = $1, updated_at = $2 WHERE id = $3")
        .bind(policy_json)
        .bind(now_ms())
        .bind(repository_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// After a crawl that read a new commit: head, ETag, crawl time, default branch.
pub async fn record_head(
    tx: &mut Tx,
    repository_id: i64,
    commit: &str,
    etag: Option<&str>,
    branch: &str,
) -> Result<()> {
    let now = now_ms();
    sqlx::query(
        "UPDATE repositories SET head_commit = $1, head_etag = $2, default_branch = $3, last_crawled_at = $4, \
         updated_at = $4 WHERE id = $5",
    )
    .bind(commit)
    .bind(etag)
    .bind(branch)
    .bind(now)
    .bind(repository_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Close a crawl record as `completed` with its counts.
pub async fn complete_crawl(tx: &mut Tx, payload: &CrawlPayload, blobs_read: i64) -> Result<()> {
    sqlx::query(
        "UPDATE crawls SET status = 'completed', commit_sha = $1, manifests_read = $2, blobs_read = $3, \
         dependencies_added = $4, dependencies_changed = $5, dependencies_removed = $6, warnings = $7, \
         finished_at = $8 WHERE id = $9",
    )
    .bind(payload.commit.as_deref())
    .bind(payload.manifests_read)
    .bind(blobs_read)
    .bind(payload.dependencies_added)
    .bind(payload.dependencies_changed)
    .bind(payload.dependencies_removed)
    .bind(payload.warnings)
    .bind(now_ms())
    .bind(payload.crawl_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
