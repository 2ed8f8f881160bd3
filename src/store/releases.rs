//! Packages and their releases: the cached registry answer per unique package.
//!
//! A lookup's [`ReleaseSet`] is merged into `releases` by difference: new versions are inserted,
//! changed ones updated, versions the registry no longer lists are kept (an unpublished npm
//! version still tells what a repository is on). Events (`release_event`, fleet-wide, subject
//! `package:<ecosystem>:<name>`) are written in the same transaction, last:
//!
//! - `release_published` for each version not seen before — except on a package's **first**
//!   resolution (no release stored yet): its whole history arriving at once is not news, and
//!   announcing hundreds of old versions for every newly crawled package would drown consumers.
//!   Versions that arrive already yanked are not announced either.
//! - `release_yanked` when a stored, not yet yanked release becomes yanked.

use std::collections::HashMap;
use std::fmt::Write as _;

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};
use upkeep_resolvers::Ecosystem;
use upkeep_resolvers::problem::{Problem, ProblemCode};
use upkeep_resolvers::registry::{Release, ReleaseSet};

use super::events::{self, from_ms};
use super::{Backend, Result, Store, StoreError, Tx, now_ms, typed_column};
use crate::events::{Event, ReleasePayload};
use crate::keys;

/// A package row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    pub id: i64,
    pub ecosystem: Ecosystem,
    pub name: String,
    pub source_url: Option<String>,
    pub homepage: Option<String>,
    pub changelog_url: Option<String>,
    /// Last successful (or definitive: not found, skipped) lookup, ms since the epoch.
    pub checked_at: Option<i64>,
    pub last_error: Option<String>,
}

/// What merging a release set changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReleaseChanges {
    /// No release was stored before this merge.
    pub first_resolution: bool,
    pub inserted: usize,
    pub updated: usize,
    /// `release_published` events written.
    pub published: usize,
    /// `release_yanked` events written.
    pub yanked: usize,
}

/// Chunk size for `IN (...)` lists (well below both backends' parameter limits).
pub(crate) const IN_CHUNK: usize = 500;

/// `$start, $start+1, ...` for `count` parameters.
pub(crate) fn placeholders(start: usize, count: usize) -> String {
    let mut out = String::new();
    for i in 0..count {
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "${}", start + i);
    }
    out
}

fn nonempty(value: Option<&String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

fn package_from_row(row: &AnyRow) -> Result<Package> {
    Ok(Package {
        id: row.try_get("id")?,
        ecosystem: typed_column(row, "ecosystem")?,
        name: row.try_get("name")?,
        source_url: row.try_get("source_url")?,
        homepage: row.try_get("homepage")?,
        changelog_url: row.try_get("changelog_url")?,
        checked_at: row.try_get("checked_at")?,
        last_error: row.try_get("last_error")?,
    })
}

const PACKAGE_COLUMNS: &str =
    "id, ecosystem, name, source_url, homepage, changelog_url, checked_at, last_error";

fn release_from_row(row: &AnyRow) -> Result<Release> {
    let yanked: i64 = row.try_get("yanked")?;
    let prerelease: i64 = row.try_get("prerelease")?;
    Ok(Release {
        version: row.try_get("version")?,
        published_at: row.try_get::<Option<i64>, _>("published_at")?.map(from_ms),
        yanked: yanked != 0,
        deprecated: row.try_get("deprecated")?,
        requires_runtime: row.try_get("requires_runtime")?,
        prerelease: prerelease != 0,
    })
}

/// The stored releases of each of `package_ids`, inside `tx` or on the pool.
pub async fn releases_of(
    conn: &mut sqlx::AnyConnection,
    package_ids: &[i64],
) -> Result<HashMap<i64, Vec<Release>>> {
    let mut out: HashMap<i64, Vec<Release>> = HashMap::new();
    for chunk in package_ids.chunks(IN_CHUNK) {
        let sql = format!(
            "SELECT package_id, version, published_at, yanked, deprecated, prerelease, requires_runtime \
             FROM releases \
             WHERE package_id IN ({})",
            placeholders(1, chunk.len())
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for id in chunk {
            query = query.bind(*id);
        }
        for row in query.fetch_all(&mut *conn).await? {
            out.entry(row.try_get("package_id")?)
                .or_default()
                .push(release_from_row(&row)?);
        }
    }
    Ok(out)
}

fn flag(value: bool) -> i16 {
    i16::from(value)
}

impl Store {
    pub async fn package(&self, id: i64) -> Result<Option<Package>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {PACKAGE_COLUMNS} FROM packages WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(package_from_row).transpose()
    }

    /// Every stored release of one package.
    pub async fn releases(&self, package_id: i64) -> Result<Vec<Release>> {
        let mut conn = self.pool().acquire().await?;
        let mut map = releases_of(&mut conn, &[package_id]).await?;
        Ok(map.remove(&package_id).unwrap_or_default())
    }

    /// Take the registry lookup of a package: `true` when the package is due (never checked, or
    /// checked before `checked_before`) and no other job holds an unexpired lookup lease; the
    /// lease then lasts until `lease_until`. One conditional `UPDATE`, so of two jobs racing for
    /// the same package exactly one wins on both backends. The lease ends with
    /// [`Store::apply_release_set`] or [`Store::record_package_error`], or when it expires.
    pub async fn claim_package_lookup(
        &self,
        id: i64,
        checked_before: i64,
        lease_until: i64,
    ) -> Result<bool> {
        let claimed = sqlx::query(
            "UPDATE packages SET resolving_until = $1 \
             WHERE id = $2 AND (checked_at IS NULL OR checked_at < $3) \
               AND (resolving_until IS NULL OR resolving_until < $4)",
        )
        .bind(lease_until)
        .bind(id)
        .bind(checked_before)
        .bind(now_ms())
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(claimed == 1)
    }

    /// End the lookup lease of a failed `resolve_package` job and leave the package due (its
    /// `checked_at` cleared), so the retry repeats the lookup and the recomputation.
    pub async fn release_package_lookup(&self, id: i64) -> Result<()> {
        sqlx::query("UPDATE packages SET resolving_until = NULL, checked_at = NULL WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Extend a held lookup lease until `lease_until` (the job's heartbeat); a lease that ended
    /// (the lookup finished or failed) is left ended.
    pub async fn renew_package_lookup(&self, id: i64, lease_until: i64) -> Result<()> {
        sqlx::query(
            "UPDATE packages SET resolving_until = $1 WHERE id = $2 AND resolving_until IS NOT NULL",
        )
        .bind(lease_until)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// [`Store::release_package_lookup`] if the lease is still held (a job given back part-way
    /// through its lookup); a package whose lookup ended keeps its `checked_at`.
    pub async fn release_held_package_lookup(&self, id: i64) -> Result<()> {
        sqlx::query(
            "UPDATE packages SET resolving_until = NULL, checked_at = NULL \
             WHERE id = $1 AND resolving_until IS NOT NULL",
        )
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Record a failed lookup. `definitive` (not found, skipped) also sets `checked_at`, so the
    /// package is not asked again before its TTL; a transient failure leaves it due. Either way
    /// the lookup lease ends.
    pub async fn record_package_error(
        &self,
        id: i64,
        problem: &Problem,
        definitive: bool,
    ) -> Result<()> {
        let error = if problem.message.trim().is_empty() {
            "registry lookup failed"
        } else {
            problem.message.as_str()
        };
        if definitive {
            sqlx::query(
                "UPDATE packages SET last_error = $1, last_error_code = $2, checked_at = $3, \
                 resolving_until = NULL WHERE id = $4",
            )
            .bind(error)
            .bind(problem.code.as_str())
            .bind(now_ms())
            .bind(id)
            .execute(self.pool())
            .await?;
        } else {
            sqlx::query(
                "UPDATE packages SET last_error = $1, last_error_code = $2, resolving_until = NULL \
                 WHERE id = $3",
            )
            .bind(error)
            .bind(problem.code.as_str())
            .bind(id)
            .execute(self.pool())
            .await?;
        }
        Ok(())
    }

    /// The last lookup problem of each of `package_ids` that has one (an unknown stored code
    /// reads as `registry_error`).
    pub async fn package_problems(&self, package_ids: &[i64]) -> Result<HashMap<i64, Problem>> {
        let mut problems = HashMap::new();
        for chunk in package_ids.chunks(IN_CHUNK) {
            let mut query = sqlx::query(AssertSqlSafe(format!(
                "SELECT id, last_error, last_error_code FROM packages \
                 WHERE last_error IS NOT NULL AND id IN ({})",
                placeholders(1, chunk.len())
            )));
            for id in chunk {
                query = query.bind(*id);
            }
            for row in query.fetch_all(self.pool()).await? {
                let code: Option<String> = row.try_get("last_error_code")?;
                problems.insert(
                    row.try_get::<i64, _>("id")?,
                    Problem {
                        code: code
                            .as_deref()
                            .and_then(ProblemCode::parse)
                            .unwrap_or(ProblemCode::RegistryError),
                        message: row.try_get("last_error")?,
                    },
                );
            }
        }
        Ok(problems)
    }

    /// Ids of packages used by at least one dependency that is looked up (no skip reason: not a
    /// path, workspace or unresolved-variable dependency) whose last lookup is older than
    /// `checked_before` (or never happened) and that no job is looking up right now (an
    /// unexpired lookup lease), oldest first, at most `limit`.
    pub async fn stale_packages(&self, checked_before: i64, limit: i64) -> Result<Vec<i64>> {
        let rows = sqlx::query(
            "SELECT p.id FROM packages p \
             WHERE (p.checked_at IS NULL OR p.checked_at < $1) \
               AND (p.resolving_until IS NULL OR p.resolving_until < $3) \
               AND EXISTS (SELECT 1 FROM dependencies d \
                           WHERE d.package_id = p.id AND d.skip_reason IS NULL) \
             ORDER BY p.checked_at IS NOT NULL, p.checked_at, p.id LIMIT $2",
        )
        .bind(checked_before)
        .bind(limit.clamp(1, 100_000))
        .bind(now_ms())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok(r.try_get("id")?))
            .collect::<Result<_>>()
    }

    /// Merge a registry answer into the package's releases and metadata, set `checked_at`, clear
    /// `last_error`, and write the release events (see the module notes), all in one transaction.
    pub async fn apply_release_set(
        &self,
        package_id: i64,
        set: &ReleaseSet,
    ) -> Result<ReleaseChanges> {
        let mut tx = self.begin().await?;
        let lock = if self.backend() == Backend::Postgres {
            // Serialises merges of one package without conflicting with the key-share locks
            // crawls take on it when they insert dependencies that reference it.
            " FOR NO KEY UPDATE"
        } else {
            ""
        };
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {PACKAGE_COLUMNS} FROM packages WHERE id = $1{lock}"
        )))
        .bind(package_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("package {package_id}")))?;
        let package = package_from_row(&row)?;
        let existing: HashMap<String, Release> = releases_of(&mut tx, &[package_id])
            .await?
            .remove(&package_id)
            .unwrap_or_default()
            .into_iter()
            .map(|r| (r.version.clone(), r))
            .collect();
        let changes = merge(&mut tx, package_id, &existing, set).await?;
        sqlx::query(
            "UPDATE packages SET source_url = $1, homepage = $2, changelog_url = $3, checked_at = $4, \
             last_error = NULL, last_error_code = NULL, resolving_until = NULL WHERE id = $5",
        )
        .bind(nonempty(set.source_url.as_ref()).or(package.source_url.clone()))
        .bind(nonempty(set.homepage.as_ref()).or(package.homepage.clone()))
        .bind(nonempty(set.changelog_url.as_ref()).or(package.changelog_url.clone()))
        .bind(now_ms())
        .bind(package_id)
        .execute(&mut *tx)
        .await?;

        let first_resolution = existing.is_empty();
        let mut published: Vec<&Release> = Vec::new();
        let mut yanked: Vec<&Release> = Vec::new();
        let mut announced = std::collections::HashSet::new();
        for release in &set.releases {
            if !announced.insert(release.version.as_str()) {
                continue;
            }
            match existing.get(&release.version) {
                None if !first_resolution && !release.yanked => published.push(release),
                Some(old) if release.yanked && !old.yanked => yanked.push(release),
                _ => {}
            }
        }
        let scheme = package.ecosystem.versioning().scheme();
        published.sort_by(|a, b| scheme.compare(&a.version, &b.version));
        yanked.sort_by(|a, b| scheme.compare(&a.version, &b.version));
        let subject = keys::package_releases(package.ecosystem, &package.name);
        let payload = |release: &Release| ReleasePayload {
            ecosystem: package.ecosystem,
            name: package.name.clone(),
            version: release.version.clone(),
            published_at: release.published_at,
            prerelease: release.prerelease,
        };
        for release in &published {
            events::append(
                &mut tx,
                self.backend(),
                Event::ReleasePublished(payload(release)).into_new(None, subject.clone()),
            )
            .await?;
        }
        for release in &yanked {
            events::append(
                &mut tx,
                self.backend(),
                Event::ReleaseYanked(payload(release)).into_new(None, subject.clone()),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(ReleaseChanges {
            first_resolution,
            published: published.len(),
            yanked: yanked.len(),
            ..changes
        })
    }
}

/// Insert new versions and update changed ones.
async fn merge(
    tx: &mut Tx,
    package_id: i64,
    existing: &HashMap<String, Release>,
    set: &ReleaseSet,
) -> Result<ReleaseChanges> {
    let mut changes = ReleaseChanges::default();
    let mut seen = std::collections::HashSet::new();
    for release in &set.releases {
        let version = release.version.as_str();
        if version.trim().is_empty() || !seen.insert(version) {
            continue;
        }
        let deprecated = nonempty(release.deprecated.as_ref());
        let requires_runtime = nonempty(release.requires_runtime.as_ref());
        let published_at = release.published_at.map(|t| t.timestamp_millis());
        match existing.get(version) {
            None => {
                sqlx::query(
                    "INSERT INTO releases (package_id, version, published_at, yanked, deprecated, prerelease, \
                     requires_runtime) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                     ON CONFLICT (package_id, version) DO NOTHING",
                )
                .bind(package_id)
                .bind(version)
                .bind(published_at)
                .bind(flag(release.yanked))
                .bind(deprecated)
                .bind(flag(release.prerelease))
                .bind(requires_runtime.clone())
                .execute(&mut **tx)
                .await?;
                changes.inserted += 1;
            }
            Some(old) => {
                let old_published = old.published_at.map(|t| t.timestamp_millis());
                // A registry that stops reporting a publish time does not erase the known one.
                let published_at = published_at.or(old_published);
                if old_published == published_at
                    && old.yanked == release.yanked
                    && old.deprecated == deprecated
                    && old.prerelease == release.prerelease
                    && old.requires_runtime == requires_runtime
                {
                    continue;
                }
                sqlx::query(
                    "UPDATE releases SET published_at = $1, yanked = $2, deprecated = $3, prerelease = $4, \
                     requires_runtime = $5 WHERE package_id = $6 AND version = $7",
                )
                .bind(published_at)
                .bind(flag(release.yanked))
                .bind(deprecated)
                .bind(flag(release.prerelease))
                .bind(requires_runtime)
                .bind(package_id)
                .bind(version)
                .execute(&mut **tx)
                .await?;
                changes.updated += 1;
            }
        }
    }
    Ok(changes)
}

impl Store {
    /// The stored releases of each of `package_ids`.
    pub async fn releases_for(&self, package_ids: &[i64]) -> Result<HashMap<i64, Vec<Release>>> {
        let mut conn = self.pool().acquire().await?;
        releases_of(&mut conn, package_ids).await
    }
}
