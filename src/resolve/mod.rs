//! Resolving packages against their registries and recommending upgrades (ARCHITECTURE.md,
//! "The pipeline as jobs").
//!
//! The work of two jobs (their modules in `crate::jobs` call the entry points here):
//!
//! - `resolve_package {"package_id"}` ([`resolve_package`]): one registry lookup per unique
//!   package for the whole fleet. A package whose `checked_at` is younger than
//!   `release_ttl_seconds` is not looked up again (and nothing is recomputed: its releases did
//!   not change). Otherwise the release set is merged into `releases` (events: see
//!   [`crate::store::releases`]) and the recommendations of **every** dependency on the package
//!   are recomputed, which also lets cooldowns expire at TTL granularity.
//!   The job first claims the lookup ([`Store::claim_package_lookup`]): a job for a package that
//!   another job is looking up right now ends at once, so a package queued again by a second
//!   crawl while its lookup runs is still asked for once. The dependencies that second crawl
//!   added are covered either way: its own `recommend_repository` job computes them once the
//!   releases are stored, and the running lookup's recomputation sees them otherwise.
//!   The lookup lease lasts one job lease (`job_lease_seconds`) and is renewed with the job's
//!   heartbeat ([`renew_lookup`]) for as long as the lookup runs, so a slow registry never lets a
//!   second job ask too; a job given back on shutdown lets go of it ([`give_back_lookup`]), so
//!   the job's next run, in this process or another, looks the package up instead of finding
//!   the lease taken. A lease left by a dead worker expires.
//!   Lookup failures are recorded in `packages.last_error`: an unknown package, a lookup the
//!   adapter skips, or a definitive client error (4xx other than 408/429, an oversized answer)
//!   ends the job successfully and counts as checked; transient failures (transport errors,
//!   5xx, 408, 429, malformed answers) fail the job so the queue retries with backoff.
//! - `recommend_repository {"repository_id", "dependency_ids"}` ([`recommend_repository`]):
//!   recompute those dependencies of one repository (all of them when `dependency_ids` is
//!   absent or null). Dependencies whose package has no stored releases yet are left alone; the
//!   package's own resolution recomputes them.
//!
//! Recomputing one repository is one transaction: its policy and dependencies are read (and on
//! PostgreSQL the dependency rows locked), the planner ([`plan`]) compares what should be with
//! what is stored, the changes are written and then their `recommendation_event`s (team of the
//! repository) are appended last. Re-running with nothing changed writes nothing. Only
//! `patch`/`minor`/`major` rows are planned here; `security` rows are left to the advisory work.

pub mod plan;

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use tracing::{debug, info, warn};
use upkeep_resolvers::Ecosystem;
use upkeep_resolvers::registry::RegistryError;

use crate::events::{Event, RecommendationPayload};
use crate::policy::RepoPolicy;
use crate::services::Services;
use crate::store::recommendations::{self, DependencyContext};
use crate::store::releases::releases_of;
use crate::store::{Store, StoreError, duration_ms, events, now_ms};
use plan::Change;

fn store_error(error: &StoreError) -> String {
    format!("store: {error}")
}

/// Is this lookup failure worth retrying?
fn transient(error: &RegistryError) -> bool {
    match error {
        RegistryError::NotFound
        | RegistryError::Skipped(_)
        | RegistryError::Http(upkeep_resolvers::http::HttpError::TooLarge { .. }) => false,
        RegistryError::Status { status, .. } => *status >= 500 || *status == 408 || *status == 429,
        RegistryError::Malformed { .. } | RegistryError::Http(_) => true,
    }
}

/// The `resolve_package` job (see the module notes).
pub async fn resolve_package(services: &Services, package_id: i64) -> Result<(), String> {
    let store = &services.store;
    let Some(package) = store
        .package(package_id)
        .await
        .map_err(|e| store_error(&e))?
    else {
        debug!(package_id, "package no longer exists");
        return Ok(());
    };
    let ttl_ms = duration_ms(Duration::from_secs(services.config.release_ttl_seconds));
    let lease_ms = duration_ms(Duration::from_secs(services.config.job_lease_seconds));
    let now = now_ms();
    let claimed = store
        .claim_package_lookup(
            package_id,
            now.saturating_sub(ttl_ms),
            now.saturating_add(lease_ms),
        )
        .await
        .map_err(|e| store_error(&e))?;
    if !claimed {
        debug!(
            package_id,
            "release set is fresh or another job is looking it up; registry not asked"
        );
        return Ok(());
    }
    let outcome = look_up_and_recommend(services, &package).await;
    if outcome.is_err() {
        // Give the lease back and leave the package due, so the queue's retry does the whole job
        // again, recomputation included, even when the failure came after the releases were
        // stored (a conditional lookup then costs one `304`).
        store
            .release_package_lookup(package_id)
            .await
            .map_err(|e| store_error(&e))?;
    }
    outcome
}

/// The heartbeat of a `resolve_package` job: extend the package's lookup lease by one job lease
/// while it is held. Only the holder runs long enough to have a heartbeat (a job that finds the
/// lease held ends at once), and a lease that ended stays ended.
pub async fn renew_lookup(services: &Services, package_id: i64) {
    let lease_ms = duration_ms(Duration::from_secs(services.config.job_lease_seconds));
    if let Err(error) = services
        .store
        .renew_package_lookup(package_id, now_ms().saturating_add(lease_ms))
        .await
    {
        warn!(package_id, %error, "renewing the package lookup lease failed");
    }
}

/// A `resolve_package` job was given back part-way (shutdown): end the package's lookup lease
/// and leave the package due, so the job's next run does the whole lookup again. The lease has
/// no holder column: a job given back in the instant between its start and finding the lease
/// held by another job would end that lease too, which costs at most one more registry lookup.
pub async fn give_back_lookup(services: &Services, package_id: i64) {
    if let Err(error) = services.store.release_held_package_lookup(package_id).await {
        warn!(package_id, %error, "letting go of the package lookup lease failed; it will expire");
    }
}

/// The claimed part of [`resolve_package`]: the lookup, the merge and the recomputation.
async fn look_up_and_recommend(
    services: &Services,
    package: &crate::store::releases::Package,
) -> Result<(), String> {
    let store = &services.store;
    let package_id = package.id;
    let Ok(ecosystem) = package.ecosystem.parse::<Ecosystem>() else {
        store
            .record_package_error(
                package_id,
                &format!("unknown ecosystem `{}`", package.ecosystem),
                true,
            )
            .await
            .map_err(|e| store_error(&e))?;
        return Ok(());
    };
    match services.registries.releases(ecosystem, &package.name).await {
        Ok(set) => {
            let changes = store
                .apply_release_set(package_id, &set)
                .await
                .map_err(|e| store_error(&e))?;
            info!(
                ecosystem = %package.ecosystem,
                name = %package.name,
                releases = set.releases.len(),
                inserted = changes.inserted,
                published = changes.published,
                yanked = changes.yanked,
                "package resolved"
            );
        }
        Err(error) => {
            let message = error.to_string();
            let retry = transient(&error);
            store
                .record_package_error(package_id, &message, !retry)
                .await
                .map_err(|e| store_error(&e))?;
            if retry {
                return Err(format!(
                    "looking up {} `{}`: {message}",
                    package.ecosystem, package.name
                ));
            }
            info!(ecosystem = %package.ecosystem, name = %package.name, error = %message, "package not resolved");
            return Ok(());
        }
    }
    let dependents = store
        .dependents_of_package(package_id)
        .await
        .map_err(|e| store_error(&e))?;
    let mut by_repository: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for (repository_id, dependency_id) in dependents {
        by_repository
            .entry(repository_id)
            .or_default()
            .push(dependency_id);
    }
    for (repository_id, ids) in by_repository {
        recommend_dependencies(store, repository_id, Some(&ids))
            .await
            .map_err(|e| store_error(&e))?;
    }
    Ok(())
}

/// The `recommend_repository` job: recompute `dependency_ids` of a repository (`None`: all).
pub async fn recommend_repository(
    services: &Services,
    repository_id: i64,
    dependency_ids: Option<&[i64]>,
) -> Result<(), String> {
    recommend_dependencies(&services.store, repository_id, dependency_ids)
        .await
        .map(|_| ())
        .map_err(|e| store_error(&e))
}

/// What one recomputation wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecommendOutcome {
    pub upserted: usize,
    pub deleted: usize,
}

fn payload(
    dependency: &DependencyContext,
    current: Option<&String>,
    kind: &str,
    target: &str,
    new_requirement: Option<&String>,
) -> RecommendationPayload {
    RecommendationPayload {
        repository_id: dependency.repository_id,
        dependency_id: dependency.id,
        manifest: dependency.manifest.clone(),
        ecosystem: dependency.ecosystem.clone(),
        name: dependency.name.clone(),
        current: current.cloned(),
        target_version: target.to_owned(),
        new_requirement: new_requirement.cloned(),
        kind: kind.to_owned(),
    }
}

/// Recompute the recommendations of `dependency_ids` (`None`: all) of one repository in one
/// transaction, events last (see the module notes).
pub async fn recommend_dependencies(
    store: &Store,
    repository_id: i64,
    dependency_ids: Option<&[i64]>,
) -> Result<RecommendOutcome, StoreError> {
    let all;
    let ids = if let Some(ids) = dependency_ids {
        ids
    } else {
        all = store.dependency_ids_of_repository(repository_id).await?;
        &all
    };
    let mut unique: Vec<i64> = ids
        .iter()
        .copied()
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    unique.sort_unstable();
    if unique.is_empty() {
        return Ok(RecommendOutcome::default());
    }
    let now = chrono::Utc::now();
    let mut tx = store.begin().await?;
    let Some((team_id, policy_json)) =
        recommendations::repository_policy_in(&mut tx, repository_id).await?
    else {
        return Ok(RecommendOutcome::default());
    };
    let policy = RepoPolicy::from_stored(&policy_json);
    let dependencies =
        recommendations::lock_dependencies(&mut tx, store.backend(), repository_id, &unique)
            .await?;
    let package_ids: Vec<i64> = dependencies
        .iter()
        .map(|d| d.package_id)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let releases = releases_of(&mut tx, &package_ids).await?;
    let dependency_ids: Vec<i64> = dependencies.iter().map(|d| d.id).collect();
    let existing = recommendations::recommendations_of(&mut tx, &dependency_ids).await?;

    let mut new_events = Vec::new();
    let mut outcome = RecommendOutcome::default();
    for dependency in &dependencies {
        let stored: Vec<_> = existing
            .iter()
            // `security` recommendations belong to the advisory work; this planner owns the rest.
            .filter(|r| r.dependency_id == dependency.id && r.kind != "security")
            .cloned()
            .collect();
        let plan = match releases.get(&dependency.package_id) {
            Some(releases) if !releases.is_empty() => {
                plan::desired(dependency, releases, &policy, now)
            }
            // Not resolved yet: nothing to compare with, unless the dependency is skipped.
            _ if dependency.skip_reason.is_some() => plan::DependencyPlan::default(),
            _ => continue,
        };
        let subject = |kind: &str| format!("recommendation:{}:{kind}", dependency.id);
        for change in plan::changes(&dependency.ecosystem, dependency.id, &plan, &stored) {
            let (update_id, desired) = match change {
                Change::Delete { existing, reason } => {
                    recommendations::delete(&mut tx, existing.id).await?;
                    outcome.deleted += 1;
                    let recommendation = payload(
                        dependency,
                        plan.current.as_ref(),
                        &existing.kind,
                        &existing.target_version,
                        existing.new_requirement.as_ref(),
                    );
                    new_events.push(
                        Event::RecommendationDeleted {
                            recommendation,
                            reason,
                        }
                        .into_new(Some(team_id), subject(&existing.kind)),
                    );
                    continue;
                }
                Change::Insert { desired, .. } => (None, desired),
                Change::Update { id, desired, .. } => (Some(id), desired),
            };
            let kind = desired.kind.as_str();
            let target = desired.target_version.as_str();
            let requirement = desired.new_requirement.as_deref();
            match update_id {
                Some(id) => recommendations::update(&mut tx, id, target, requirement).await?,
                None => {
                    recommendations::insert(&mut tx, dependency.id, kind, target, requirement)
                        .await?;
                }
            }
            outcome.upserted += 1;
            new_events.push(
                Event::RecommendationUpserted(payload(
                    dependency,
                    plan.current.as_ref(),
                    kind,
                    target,
                    desired.new_requirement.as_ref(),
                ))
                .into_new(Some(team_id), subject(kind)),
            );
        }
    }
    for event in new_events {
        events::append(&mut tx, store.backend(), event).await?;
    }
    tx.commit().await?;
    if outcome != RecommendOutcome::default() {
        debug!(
            repository_id,
            upserted = outcome.upserted,
            deleted = outcome.deleted,
            "recommendations recomputed"
        );
    }
    Ok(outcome)
}
