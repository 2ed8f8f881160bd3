//! Crawling a repository: lease → head → tree → changed manifests → extract → pair lockfiles →
//! reconcile → follow-up jobs → events, all of the writing in one transaction.
//!
//! Invariants:
//! - One crawl of a repository at a time across every worker process: a crawl lease on the
//!   repository row (`crawl_locked_by` / `crawl_locked_until`, taken by one conditional UPDATE and
//!   re-checked inside the writing transaction). A crawl that finds the lease taken ends `Busy`;
//!   its `crawl` job queues itself again a few seconds later.
//! - An unchanged head ends the crawl: GitHub answers `304` to the stored `ETag`; git answers one
//!   `ls-remote`. Nothing else is requested, nothing is emitted, only `last_crawled_at` moves.
//! - Only blobs whose id changed since the last crawl are read; every manifest's extraction is
//!   stored, so pairing with lockfiles works over all manifests without reading them again.
//! - A repository's changes, the `resolve_package` / `recommend_repository` jobs they call for,
//!   and their events commit in one transaction, events last.
//! - A malformed or oversized manifest is a warning on that manifest, never a failed crawl.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use tracing::info;
use upkeep_resolvers::manager::{Extraction, MAX_MANIFEST_BYTES, Manager, Warning};
use upkeep_resolvers::scan::{DEFAULT_SKIP_DIRS, in_skipped_dir, pair};

use crate::events::{CrawlPayload, Event};
use crate::jobs::enqueue_in;
use crate::jobs::recommend_repository::RecommendRepository;
use crate::jobs::resolve_package::ResolvePackage;
use crate::keys;
use crate::services::Services;
use crate::store::events;
use crate::store::inventory::{self, StoredManifest};
use crate::store::repositories::{DEFAULT_POLICY, Repository};

pub mod git;
pub mod reconcile;
pub mod registration;
pub mod source;

use reconcile::{CurrentDependency, CurrentManifest, dep_key};
use source::{Head, Source};

/// The repository policy file, read from the repository root.
pub const POLICY_FILE: &str = ".upkeep.toml";
/// The `manager` column of the policy file's row in `manifests` (it carries its warnings).
pub const POLICY_MANAGER: &str = "upkeep";

/// How a crawl ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrawlStatus {
    /// The repository is no longer registered.
    Gone,
    /// Another crawl of the repository holds the lease; a new crawl job was queued.
    Busy,
    /// The default branch did not move.
    Unchanged,
    /// A new commit was read and reconciled.
    Completed,
}

/// What one crawl did.
#[derive(Debug, Clone)]
pub struct CrawlOutcome {
    pub status: CrawlStatus,
    pub crawl_id: Option<i64>,
    pub commit: Option<String>,
    /// Blobs read from the provider (each one request for GitHub).
    pub blobs_read: u64,
    /// Git fetches made (0 when `ls-remote` showed the head unchanged).
    pub fetches: u64,
    pub dependencies_added: usize,
    pub dependencies_changed: usize,
    pub dependencies_removed: usize,
    /// Ids of added or changed dependencies (handed to `recommend_repository`).
    pub dependency_ids: Vec<i64>,
}

impl CrawlOutcome {
    fn new(status: CrawlStatus) -> Self {
        CrawlOutcome {
            status,
            crawl_id: None,
            commit: None,
            blobs_read: 0,
            fetches: 0,
            dependencies_added: 0,
            dependencies_changed: 0,
            dependencies_removed: 0,
            dependency_ids: Vec::new(),
        }
    }
}

/// Crawl one repository (see the module notes); `Err` is a failed crawl (recorded with a
/// `crawl_failed` event).
pub async fn crawl_repository(
    services: &Services,
    repository_id: i64,
) -> Result<CrawlOutcome, String> {
    let store = &services.store;
    let Some(repository) = store
        .repository(repository_id)
        .await
        .map_err(|e| e.to_string())?
    else {
        return Ok(CrawlOutcome::new(CrawlStatus::Gone));
    };
    let holder = format!("crawl-{}", uuid::Uuid::new_v4().simple());
    let lease_ms = lease_ms(services);
    if !store
        .try_lease_crawl(repository_id, &holder, lease_ms)
        .await
        .map_err(|e| e.to_string())?
    {
        // The `crawl` job queues itself again.
        return Ok(CrawlOutcome::new(CrawlStatus::Busy));
    }
    let result = match store.start_crawl(repository_id).await {
        Ok(crawl_id) => run(services, &repository, crawl_id, &holder, lease_ms)
            .await
            .map_err(|error| (Some(crawl_id), error)),
        Err(e) => Err((None, e.to_string())),
    };
    if let Err(error) = store.release_crawl(repository_id, &holder).await {
        tracing::warn!(repository_id, %error, "releasing the crawl lease failed; it will expire");
    }
    match result {
        Ok(outcome) => {
            metrics::counter!("upkeep_crawls_total", "outcome" => match outcome.status {
                CrawlStatus::Unchanged => "unchanged",
                _ => "completed",
            })
            .increment(1);
            if outcome.status == CrawlStatus::Completed {
                info!(
                    repository_id,
                    added = outcome.dependencies_added,
                    changed = outcome.dependencies_changed,
                    removed = outcome.dependencies_removed,
                    blobs = outcome.blobs_read,
                    "crawl completed"
                );
            }
            Ok(outcome)
        }
        Err((crawl_id, error)) => {
            metrics::counter!("upkeep_crawls_total", "outcome" => "failed").increment(1);
            if let Some(crawl_id) = crawl_id {
                let payload = CrawlPayload {
                    repository_id,
                    crawl_id,
                    commit: None,
                    manifests_read: 0,
                    dependencies_added: 0,
                    dependencies_changed: 0,
                    dependencies_removed: 0,
                    warnings: 0,
                    error: Some(error.clone()),
                };
                if let Err(e) = store
                    .fail_crawl(repository.team_id, crawl_id, payload)
                    .await
                {
                    tracing::warn!(repository_id, error = %e, "recording a failed crawl failed");
                }
            }
            Err(format!("crawl of repository {repository_id}: {error}"))
        }
    }
}

fn lease_ms(services: &Services) -> i64 {
    crate::store::duration_ms(std::time::Duration::from_secs(
        services.config.job_lease_seconds,
    ))
}

/// One manifest file of the tree and what is known about it.
struct FileToRead {
    path: String,
    blob_id: String,
    size: Option<u64>,
    managers: Vec<Manager>,
}

/// The text of a blob, or why it cannot be read as a manifest.
async fn read_text(source: &Source, file: &FileToRead) -> Result<Result<String, String>, String> {
    let too_big = |len: u64| {
        format!("file is {len} bytes, over the {MAX_MANIFEST_BYTES}-byte limit; skipped")
    };
    if let Some(size) = file.size
        && size > MAX_MANIFEST_BYTES as u64
    {
        return Ok(Err(too_big(size)));
    }
    let bytes = source.blob(&file.blob_id).await?;
    if bytes.len() > MAX_MANIFEST_BYTES {
        return Ok(Err(too_big(bytes.len() as u64)));
    }
    Ok(String::from_utf8(bytes).map_err(|e| {
        format!(
            "file is not valid UTF-8 (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    }))
}

fn warnings_json(warnings: &[Warning]) -> String {
    serde_json::to_string(warnings).unwrap_or_else(|_| "[]".to_owned())
}

async fn run(
    services: &Services,
    repository: &Repository,
    crawl_id: i64,
    holder: &str,
    lease_ms: i64,
) -> Result<CrawlOutcome, String> {
    let store = &services.store;
    let id = repository.id;
    let state = store
        .crawl_state(id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("repository {id} disappeared"))?;
    let branch = match &repository.default_branch {
        Some(branch) => branch.clone(),
        None => {
            source::check_repository(
                services,
                repository.provider,
                &repository.full_name,
                &source::git_location(repository),
            )
            .await?
        }
    };
    let source = Source::for_repository(services, repository, &branch)?;
    let head = source
        .head(state.head_etag.as_deref(), state.head_commit.as_deref())
        .await?;
    let (commit, etag) = match head {
        Head::Unchanged { etag } => {
            store
                .finish_unchanged_crawl(id, crawl_id, etag.as_deref())
                .await
                .map_err(|e| e.to_string())?;
            let mut outcome = CrawlOutcome::new(CrawlStatus::Unchanged);
            outcome.crawl_id = Some(crawl_id);
            outcome.commit = state.head_commit;
            outcome.fetches = source.fetches();
            return Ok(outcome);
        }
        Head::Changed { commit, etag } => (commit, etag),
    };

    // The files that matter: manifests outside skipped folders, and the policy file.
    let skip_dirs: Vec<String> = DEFAULT_SKIP_DIRS.iter().map(|s| (*s).to_owned()).collect();
    let mut files = Vec::new();
    let mut policy_file = None;
    for entry in source.tree(&commit).await? {
        if entry.path == POLICY_FILE {
            policy_file = Some(FileToRead {
                path: entry.path,
                blob_id: entry.blob_id,
                size: entry.size,
                managers: Vec::new(),
            });
            continue;
        }
        if in_skipped_dir(&entry.path, &skip_dirs) {
            continue;
        }
        let managers: Vec<Manager> = Manager::for_path(&entry.path).collect();
        if !managers.is_empty() {
            files.push(FileToRead {
                path: entry.path,
                blob_id: entry.blob_id,
                size: entry.size,
                managers,
            });
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));

    let stored = store.manifests_of(id).await.map_err(|e| e.to_string())?;
    let stored_by_key: HashMap<(&str, &str), &StoredManifest> = stored
        .iter()
        .map(|m| ((m.path.as_str(), m.manager.as_str()), m))
        .collect();
    let reusable = |path: &str, manager: &str, blob_id: &str| -> Option<Extraction> {
        let row = stored_by_key.get(&(path, manager))?;
        if row.blob_id.as_deref() != Some(blob_id) {
            return None;
        }
        serde_json::from_str(row.extraction.as_deref()?).ok()
    };

    // Extract changed blobs only; reuse stored extractions for the rest.
    let mut manifests: Vec<CurrentManifest> = Vec::new();
    let mut extractions: Vec<(String, Manager, Extraction)> = Vec::new();
    let mut manifests_read = 0_i64;
    for file in &files {
        let mut text: Option<Result<String, String>> = None;
        for &manager in &file.managers {
            let (extraction, changed) =
                if let Some(known) = reusable(&file.path, manager.as_str(), &file.blob_id) {
                    (known, false)
                } else {
                    if text.is_none() {
                        text = Some(read_text(&source, file).await?);
                        manifests_read += 1;
                    }
                    let extraction = match text.as_ref() {
                        Some(Ok(text)) => manager.extract(&file.path, text),
                        Some(Err(problem)) => Extraction {
                            warnings: vec![Warning::new(problem.clone())],
                            ..Extraction::default()
                        },
                        None => Extraction::default(),
                    };
                    (extraction, true)
                };
            manifests.push(CurrentManifest {
                path: file.path.clone(),
                manager: manager.as_str().to_owned(),
                blob_id: Some(file.blob_id.clone()),
                extraction: Some(serde_json::to_string(&extraction).map_err(|e| e.to_string())?),
                warnings: warnings_json(&extraction.warnings),
                changed,
            });
            extractions.push((file.path.clone(), manager, extraction));
        }
    }

    // The policy file: parsed when new or changed; a parse error is a warning on it.
    let mut new_policy: Option<String> = None;
    let stored_policy = stored_by_key.get(&(POLICY_FILE, POLICY_MANAGER)).copied();
    if let Some(file) = &policy_file {
        match stored_policy {
            Some(row) if row.blob_id.as_deref() == Some(file.blob_id.as_str()) => {
                manifests.push(CurrentManifest {
                    path: row.path.clone(),
                    manager: row.manager.clone(),
                    blob_id: row.blob_id.clone(),
                    extraction: None,
                    warnings: row.warnings.clone(),
                    changed: false,
                });
            }
            _ => {
                manifests_read += 1;
                let mut warnings = Vec::new();
                match read_text(&source, file).await? {
                    Ok(text) => match crate::policy::parse_repo_policy(&text) {
                        Ok(policy) => {
                            new_policy =
                                Some(serde_json::to_string(&policy).map_err(|e| e.to_string())?);
                        }
                        Err(problem) => warnings.push(Warning::new(problem)),
                    },
                    Err(problem) => warnings.push(Warning::new(problem)),
                }
                // A broken policy file keeps the last good policy (`new_policy` stays `None`).
                manifests.push(CurrentManifest {
                    path: file.path.clone(),
                    manager: POLICY_MANAGER.to_owned(),
                    blob_id: Some(file.blob_id.clone()),
                    extraction: None,
                    warnings: warnings_json(&warnings),
                    changed: true,
                });
            }
        }
    } else if stored_policy.is_some() && state.policy != DEFAULT_POLICY {
        new_policy = Some(DEFAULT_POLICY.to_owned());
    }
    let new_policy = new_policy.filter(|p| *p != state.policy);

    // Pair with lockfiles over every current manifest, then key each dependency.
    let report = pair(extractions);
    let mut ordinals: BTreeMap<(String, Manager, String), usize> = BTreeMap::new();
    let mut dependencies = Vec::with_capacity(report.dependencies.len());
    for scanned in &report.dependencies {
        let dep = &scanned.dependency;
        let kind = dep.kind.as_str();
        let ordinal = ordinals
            .entry((
                scanned.manifest.clone(),
                scanned.manager,
                format!("{kind}:{}:{}", dep.ecosystem.as_str(), dep.name),
            ))
            .or_insert(0);
        let key = dep_key(kind, dep.ecosystem.as_str(), &dep.name, *ordinal);
        *ordinal += 1;
        dependencies.push(CurrentDependency::new(
            &scanned.manifest,
            scanned.manager,
            key,
            dep,
        ));
    }
    let warnings = i64::try_from(
        manifests
            .iter()
            .map(|m| {
                serde_json::from_str::<Vec<serde_json::Value>>(&m.warnings).map_or(0, |w| w.len())
            })
            .sum::<usize>(),
    )
    .unwrap_or(i64::MAX);

    // One transaction: lease check, inventory, policy, head, crawl record, then the events.
    let mut tx = store.begin().await.map_err(|e| e.to_string())?;
    if !inventory::hold_crawl_lease(&mut tx, id, holder, lease_ms)
        .await
        .map_err(|e| e.to_string())?
    {
        return Err("the crawl lease expired and another crawl took over".to_owned());
    }
    let changes = reconcile::reconcile(
        &mut tx,
        id,
        repository.team_id,
        &stored,
        &manifests,
        &dependencies,
    )
    .await
    .map_err(|e| e.to_string())?;
    if let Some(policy) = &new_policy {
        inventory::set_policy(&mut tx, id, policy)
            .await
            .map_err(|e| e.to_string())?;
    }
    inventory::record_head(&mut tx, id, &commit, etag.as_deref(), &branch)
        .await
        .map_err(|e| e.to_string())?;
    let blobs_read = source.blob_reads();
    let payload = CrawlPayload {
        repository_id: id,
        crawl_id,
        commit: Some(commit.clone()),
        manifests_read,
        dependencies_added: i64::try_from(changes.added.len()).unwrap_or(i64::MAX),
        dependencies_changed: i64::try_from(changes.changed.len()).unwrap_or(i64::MAX),
        dependencies_removed: i64::try_from(changes.removed.len()).unwrap_or(i64::MAX),
        warnings,
        error: None,
    };
    inventory::complete_crawl(
        &mut tx,
        &payload,
        i64::try_from(blobs_read).unwrap_or(i64::MAX),
    )
    .await
    .map_err(|e| e.to_string())?;
    enqueue_follow_ups(&mut tx, id, &changes).await?;
    let something_changed =
        changes.dependency_changes() > 0 || changes.manifests_changed || new_policy.is_some();
    let backend = store.backend();
    let team = Some(repository.team_id);
    for dep in changes.added.iter().chain(&changes.changed) {
        events::append(
            &mut tx,
            backend,
            Event::DependencyUpserted(dep.into()).into_new(team, keys::dependency(dep.id)),
        )
        .await
        .map_err(|e| e.to_string())?;
    }
    for dep in &changes.removed {
        events::append(
            &mut tx,
            backend,
            Event::DependencyDeleted(dep.into()).into_new(team, keys::dependency(dep.id)),
        )
        .await
        .map_err(|e| e.to_string())?;
    }
    if something_changed {
        events::append(
            &mut tx,
            backend,
            Event::CrawlCompleted(payload).into_new(team, keys::repository(id)),
        )
        .await
        .map_err(|e| e.to_string())?;
    }
    tx.commit().await.map_err(|e| e.to_string())?;

    let outcome = CrawlOutcome {
        status: CrawlStatus::Completed,
        crawl_id: Some(crawl_id),
        commit: Some(commit),
        blobs_read,
        fetches: source.fetches(),
        dependencies_added: changes.added.len(),
        dependencies_changed: changes.changed.len(),
        dependencies_removed: changes.removed.len(),
        dependency_ids: changes
            .added
            .iter()
            .chain(&changes.changed)
            .map(|d| d.id)
            .collect(),
    };
    Ok(outcome)
}

/// Resolve every package of an added or changed dependency that can be updated, and recommend for
/// the added and changed dependencies: queued inside the crawl's transaction, so they exist
/// exactly when its inventory changes do. Packages are queued in id order (see
/// [`crate::jobs::enqueue_in`]).
async fn enqueue_follow_ups(
    tx: &mut crate::store::Tx,
    repository_id: i64,
    changes: &reconcile::Changes,
) -> Result<(), String> {
    let touched: Vec<_> = changes.added.iter().chain(&changes.changed).collect();
    let packages: BTreeSet<i64> = touched
        .iter()
        .filter(|dep| dep.skip_reason.is_none())
        .map(|dep| dep.package_id)
        .collect();
    for package_id in packages {
        enqueue_in(tx, &ResolvePackage { package_id })
            .await
            .map_err(|e| e.to_string())?;
    }
    if !touched.is_empty() {
        let ids: Vec<i64> = touched.iter().map(|d| d.id).collect();
        enqueue_in(tx, &RecommendRepository::dependencies(repository_id, ids))
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}
