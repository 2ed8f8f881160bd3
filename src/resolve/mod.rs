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
//!   Lookup failures are recorded in `packages.last_error` with their code
//!   (`last_error_code`, [`upkeep_resolvers::problem::ProblemCode`]), which the dependency
//!   listings show as each dependency's `problem`: an unknown package, a lookup the
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

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use tracing::{debug, info, warn};
use upkeep_resolvers::problem::Problem;
use upkeep_resolvers::registry::{RegistryError, Release};
use upkeep_resolvers::runtime::Runtimes;

use crate::events::{Event, RecommendationPayload};
use crate::keys;
use crate::policy::RepoPolicy;
use crate::recommendation_kind::RecommendationKind;
use crate::services::Services;
use crate::store::events::NewEvent;
use crate::store::inventory::DependencyRecord;
use crate::store::recommendations::{self, StoredRecommendation};
use crate::store::releases::releases_of;
use crate::store::{Backend, Store, StoreError, Tx, duration_ms, events, now_ms};
use plan::Change;

/// Why a lookup or a recomputation did not finish; every variant is worth retrying (a lookup
/// that can never succeed is recorded on the package and ends the job normally).
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("looking up {ecosystem} `{name}`: {source}")]
    Lookup {
        ecosystem: upkeep_resolvers::Ecosystem,
        name: String,
        #[source]
        source: RegistryError,
    },
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
pub async fn resolve_package(services: &Services, package_id: i64) -> Result<(), ResolveError> {
    let store = &services.store;
    let Some(package) = store.package(package_id).await? else {
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
        .await?;
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
        store.release_package_lookup(package_id).await?;
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
) -> Result<(), ResolveError> {
    let store = &services.store;
    let package_id = package.id;
    match services
        .registries
        .releases(package.ecosystem, &package.name)
        .await
    {
        Ok(set) => {
            let changes = store.apply_release_set(package_id, &set).await?;
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
            let problem = Problem::from_lookup(&error);
            let retry = transient(&error);
            store
                .record_package_error(package_id, &problem, !retry)
                .await?;
            if retry {
                return Err(ResolveError::Lookup {
                    ecosystem: package.ecosystem,
                    name: package.name.clone(),
                    source: error,
                });
            }
            info!(ecosystem = %package.ecosystem, name = %package.name, code = %problem.code, error = %problem.message, "package not resolved");
            return Ok(());
        }
    }
    let dependents = store.dependents_of_package(package_id).await?;
    let mut by_repository: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for (repository_id, dependency_id) in dependents {
        by_repository
            .entry(repository_id)
            .or_default()
            .push(dependency_id);
    }
    for (repository_id, ids) in by_repository {
        recommend_dependencies(store, repository_id, Some(&ids)).await?;
    }
    Ok(())
}

/// The `recommend_repository` job: recompute `dependency_ids` of a repository (`None`: all).
pub async fn recommend_repository(
    services: &Services,
    repository_id: i64,
    dependency_ids: Option<&[i64]>,
) -> Result<(), ResolveError> {
    recommend_dependencies(&services.store, repository_id, dependency_ids)
        .await
        .map(|_| ())
        .map_err(ResolveError::from)
}

/// What one recomputation wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecommendOutcome {
    pub upserted: usize,
    pub deleted: usize,
}

/// What one recomputation reads inside its transaction.
struct Inputs {
    team_id: i64,
    policy: RepoPolicy,
    /// The runtimes the repository's toolchain entries declare.
    runtimes: Runtimes,
    dependencies: Vec<DependencyRecord>,
    releases: HashMap<i64, Vec<Release>>,
    existing: Vec<StoredRecommendation>,
}

/// The recomputation's writes, and the events they call for (appended last).
struct Writes {
    team_id: i64,
    outcome: RecommendOutcome,
    events: Vec<NewEvent>,
}

/// Recompute the recommendations of `dependency_ids` (`None`: all) of one repository in one
/// transaction, events last (see the module notes).
pub async fn recommend_dependencies(
    store: &Store,
    repository_id: i64,
    dependency_ids: Option<&[i64]>,
) -> Result<RecommendOutcome, StoreError> {
    let ids = ids_to_recompute(store, repository_id, dependency_ids).await?;
    if ids.is_empty() {
        return Ok(RecommendOutcome::default());
    }
    let now = chrono::Utc::now();
    let mut tx = store.begin().await?;
    let Some(inputs) = read_inputs(&mut tx, store.backend(), repository_id, &ids).await? else {
        return Ok(RecommendOutcome::default());
    };
    let mut writes = Writes {
        team_id: inputs.team_id,
        outcome: RecommendOutcome::default(),
        events: Vec::new(),
    };
    for dependency in &inputs.dependencies {
        let Some(plan) = plan_for(dependency, &inputs, now) else {
            continue;
        };
        let stored = planned_recommendations(&inputs.existing, dependency.id);
        for change in plan::changes(dependency.ecosystem, dependency.id, &plan, &stored) {
            writes.apply(&mut tx, dependency, &plan, change).await?;
        }
    }
    for event in writes.events {
        events::append(&mut tx, store.backend(), event).await?;
    }
    tx.commit().await?;
    let outcome = writes.outcome;
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

/// `dependency_ids` (`None`: every dependency of the repository), each once, in order.
async fn ids_to_recompute(
    store: &Store,
    repository_id: i64,
    dependency_ids: Option<&[i64]>,
) -> Result<Vec<i64>, StoreError> {
    let mut ids = match dependency_ids {
        Some(ids) => ids.to_vec(),
        None => store.dependency_ids_of_repository(repository_id).await?,
    };
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// The repository's team and policy, the dependencies among `ids` (locked on PostgreSQL), their
/// packages' releases and their stored recommendations; `None` when the repository is gone.
async fn read_inputs(
    tx: &mut Tx,
    backend: Backend,
    repository_id: i64,
    ids: &[i64],
) -> Result<Option<Inputs>, StoreError> {
    let Some((team_id, policy_json)) =
        recommendations::repository_policy_in(tx, repository_id).await?
    else {
        return Ok(None);
    };
    let dependencies = recommendations::lock_dependencies(tx, backend, repository_id, ids).await?;
    let package_ids: Vec<i64> = dependencies
        .iter()
        .map(|d| d.package_id)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let releases = releases_of(tx, &package_ids).await?;
    let dependency_ids: Vec<i64> = dependencies.iter().map(|d| d.id).collect();
    let existing = recommendations::recommendations_of(tx, &dependency_ids).await?;
    // The repository's runtimes matter only against releases that state what they need.
    let runtimes = if releases
        .values()
        .flatten()
        .any(|r| r.requires_runtime.is_some())
    {
        recommendations::repository_runtimes_in(tx, repository_id).await?
    } else {
        Runtimes::default()
    };
    Ok(Some(Inputs {
        team_id,
        policy: RepoPolicy::from_stored(&policy_json),
        runtimes,
        dependencies,
        releases,
        existing,
    }))
}

/// What `dependency` should carry; `None` while its package has no releases stored (its
/// resolution recomputes it), unless it is skipped (then it carries nothing).
fn plan_for(
    dependency: &DependencyRecord,
    inputs: &Inputs,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<plan::DependencyPlan> {
    match inputs.releases.get(&dependency.package_id) {
        Some(releases) if !releases.is_empty() => {
            let context = plan::Context {
                policy: &inputs.policy,
                runtimes: &inputs.runtimes,
                now,
            };
            Some(plan::desired(dependency, releases, &context))
        }
        _ if dependency.skip_reason.is_some() => Some(plan::DependencyPlan::default()),
        _ => None,
    }
}

/// The stored recommendations of `dependency_id` this planner owns (`security` ones belong to the
/// advisory work).
fn planned_recommendations(
    existing: &[StoredRecommendation],
    dependency_id: i64,
) -> Vec<StoredRecommendation> {
    existing
        .iter()
        .filter(|r| r.dependency_id == dependency_id && r.kind.is_planned())
        .cloned()
        .collect()
}

fn payload(
    dependency: &DependencyRecord,
    current: Option<&String>,
    kind: RecommendationKind,
    target: &str,
    new_requirement: Option<&String>,
) -> RecommendationPayload {
    RecommendationPayload {
        repository_id: dependency.repository_id,
        dependency_id: dependency.id,
        manifest: dependency.manifest.clone(),
        ecosystem: dependency.ecosystem,
        name: dependency.name.clone(),
        current: current.cloned(),
        target_version: target.to_owned(),
        new_requirement: new_requirement.cloned(),
        kind,
    }
}

impl Writes {
    /// Write one change and queue its event.
    async fn apply(
        &mut self,
        tx: &mut Tx,
        dependency: &DependencyRecord,
        plan: &plan::DependencyPlan,
        change: Change,
    ) -> Result<(), StoreError> {
        let current = plan.current.as_ref();
        let event = match change {
            Change::Delete { existing, reason } => {
                recommendations::delete(tx, existing.id).await?;
                self.outcome.deleted += 1;
                let recommendation = payload(
                    dependency,
                    current,
                    existing.kind,
                    &existing.target_version,
                    existing.new_requirement.as_ref(),
                );
                Event::RecommendationDeleted {
                    recommendation,
                    reason,
                }
                .into_new(
                    Some(self.team_id),
                    keys::recommendation(dependency.id, existing.kind),
                )
            }
            Change::Insert { desired, .. } => {
                self.upsert(tx, dependency, current, None, desired).await?
            }
            Change::Update { id, desired, .. } => {
                self.upsert(tx, dependency, current, Some(id), desired)
                    .await?
            }
        };
        self.events.push(event);
        Ok(())
    }

    /// Insert `desired` (`update_id` `None`) or update that row to it; its event.
    async fn upsert(
        &mut self,
        tx: &mut Tx,
        dependency: &DependencyRecord,
        current: Option<&String>,
        update_id: Option<i64>,
        desired: plan::Desired,
    ) -> Result<NewEvent, StoreError> {
        let target = desired.target_version.as_str();
        let requirement = desired.new_requirement.as_deref();
        match update_id {
            Some(id) => recommendations::update(tx, id, target, requirement).await?,
            None => {
                recommendations::insert(tx, dependency.id, desired.kind, target, requirement)
                    .await?;
            }
        }
        self.outcome.upserted += 1;
        Ok(Event::RecommendationUpserted(payload(
            dependency,
            current,
            desired.kind,
            target,
            desired.new_requirement.as_ref(),
        ))
        .into_new(
            Some(self.team_id),
            keys::recommendation(dependency.id, desired.kind),
        ))
    }
}
