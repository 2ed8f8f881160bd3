//! The stages of one crawl after the head moved, in the order [`super::run`] calls them:
//!
//! 1. [`select_files`]: the manifests of the tree (outside skipped folders) and the policy file;
//! 2. [`extract_or_reuse`]: extract the manifests whose blob changed, reuse the stored extraction
//!    of the others;
//! 3. [`read_policy_file`]: parse `.upkeep.toml` when it is new or changed;
//! 4. [`key_dependencies`]: pair lockfiles with their manifests and give each dependency its
//!    stable key;
//! 5. [`count_warnings`]: the warnings of every current manifest;
//! 6. [`commit`]: one transaction with the inventory changes, the policy, the head, the crawl
//!    record, the follow-up jobs and, last, the events.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use upkeep_resolvers::Ecosystem;
use upkeep_resolvers::manager::{
    Decoded, Extraction, MAX_MANIFEST_BYTES, Manager, Warning, decode,
};
use upkeep_resolvers::runtime::Runtime;
use upkeep_resolvers::scan::{DEFAULT_SKIP_DIRS, in_skipped_dir, pair};

use super::reconcile::{self, Changes, CurrentDependency, CurrentManifest, dep_key};
use super::{CrawlError, POLICY_FILE, POLICY_MANAGER};
use crate::events::{CrawlPayload, Event};
use crate::forge::{FileEntry, Forge, ForgeError};
use crate::jobs::enqueue_in;
use crate::jobs::recommend_repository::RecommendRepository;
use crate::jobs::resolve_package::ResolvePackage;
use crate::keys;
use crate::services::Services;
use crate::store::inventory::{self, StoredManifest};
use crate::store::repositories::{DEFAULT_POLICY, Repository};
use crate::store::{StoreError, events};

/// One file of the tree worth reading and the managers that read it.
pub(super) struct FileToRead {
    path: String,
    blob_id: String,
    size: Option<u64>,
    managers: Vec<Manager>,
}

/// The files of a commit that matter.
pub(super) struct SelectedFiles {
    /// Manifests outside skipped folders, in path order.
    pub(super) manifests: Vec<FileToRead>,
    /// The policy file at the root, when there is one.
    pub(super) policy_file: Option<FileToRead>,
}

/// Stage 1: the manifests outside skipped folders, and the policy file.
pub(super) fn select_files(tree: Vec<FileEntry>) -> SelectedFiles {
    let skip_dirs: Vec<String> = DEFAULT_SKIP_DIRS.iter().map(|s| (*s).to_owned()).collect();
    let mut manifests = Vec::new();
    let mut policy_file = None;
    for entry in tree {
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
            manifests.push(FileToRead {
                path: entry.path,
                blob_id: entry.blob_id,
                size: entry.size,
                managers,
            });
        }
    }
    manifests.sort_by(|a, b| a.path.cmp(&b.path));
    SelectedFiles {
        manifests,
        policy_file,
    }
}

/// What the crawl has read so far.
pub(super) struct ReadFiles {
    /// Every current manifest (and the policy file, after [`read_policy_file`]).
    pub(super) manifests: Vec<CurrentManifest>,
    /// Every manifest's extraction, for pairing.
    pub(super) extractions: Vec<(String, Manager, Extraction)>,
    /// Files read from the forge.
    pub(super) manifests_read: i64,
}

/// Stage 2: extract changed blobs only; reuse stored extractions for the rest.
pub(super) async fn extract_or_reuse(
    forge: &Forge,
    files: &[FileToRead],
    stored: &[StoredManifest],
) -> Result<ReadFiles, CrawlError> {
    let stored_by_key = by_key(stored);
    let reusable = |path: &str, manager: &str, blob_id: &str| -> Option<Extraction> {
        let row = stored_by_key.get(&(path, manager))?;
        if row.blob_id.as_deref() != Some(blob_id) {
            return None;
        }
        serde_json::from_str(row.extraction.as_deref()?).ok()
    };
    let mut read = ReadFiles {
        manifests: Vec::new(),
        extractions: Vec::new(),
        manifests_read: 0,
    };
    for file in files {
        let mut text: Option<Result<Decoded, Warning>> = None;
        for &manager in &file.managers {
            let (extraction, changed) =
                if let Some(known) = reusable(&file.path, manager.as_str(), &file.blob_id) {
                    (known, false)
                } else {
                    if text.is_none() {
                        text = Some(read_text(forge, file).await?);
                        read.manifests_read += 1;
                    }
                    let extraction = match text.as_ref() {
                        Some(Ok(decoded)) => {
                            let mut extraction = manager.extract(&file.path, &decoded.text);
                            // Invalid bytes were read as `?`: say so on the file.
                            if let Some(warning) = &decoded.warning {
                                extraction.warnings.insert(0, warning.clone());
                            }
                            extraction
                        }
                        Some(Err(problem)) => Extraction {
                            warnings: vec![problem.clone()],
                            ..Extraction::default()
                        },
                        None => Extraction::default(),
                    };
                    (extraction, true)
                };
            read.manifests.push(CurrentManifest {
                path: file.path.clone(),
                manager: manager.as_str().to_owned(),
                blob_id: Some(file.blob_id.clone()),
                extraction: Some(serde_json::to_string(&extraction)?),
                warnings: warnings_json(&extraction.warnings),
                changed,
            });
            read.extractions
                .push((file.path.clone(), manager, extraction));
        }
    }
    Ok(read)
}

/// Stage 3: the policy file, parsed when new or changed (a parse error is a warning on it and
/// keeps the last good policy). Adds the policy file's row to `read.manifests`; returns the
/// repository's new policy (JSON) when it changes.
pub(super) async fn read_policy_file(
    forge: &Forge,
    policy_file: Option<&FileToRead>,
    stored: &[StoredManifest],
    current_policy: &str,
    read: &mut ReadFiles,
) -> Result<Option<String>, CrawlError> {
    let mut new_policy: Option<String> = None;
    let stored_policy = by_key(stored).get(&(POLICY_FILE, POLICY_MANAGER)).copied();
    if let Some(file) = policy_file {
        match stored_policy {
            Some(row) if row.blob_id.as_deref() == Some(file.blob_id.as_str()) => {
                read.manifests.push(CurrentManifest {
                    path: row.path.clone(),
                    manager: row.manager.clone(),
                    blob_id: row.blob_id.clone(),
                    extraction: None,
                    warnings: row.warnings.clone(),
                    changed: false,
                });
            }
            _ => {
                read.manifests_read += 1;
                let mut warnings = Vec::new();
                match read_text(forge, file).await? {
                    Ok(decoded) => {
                        warnings.extend(decoded.warning);
                        match crate::policy::parse_repo_policy(&decoded.text) {
                            Ok(policy) => new_policy = Some(serde_json::to_string(&policy)?),
                            Err(problem) => warnings.push(Warning::new(problem.0)),
                        }
                    }
                    Err(problem) => warnings.push(problem),
                }
                read.manifests.push(CurrentManifest {
                    path: file.path.clone(),
                    manager: POLICY_MANAGER.to_owned(),
                    blob_id: Some(file.blob_id.clone()),
                    extraction: None,
                    warnings: warnings_json(&warnings),
                    changed: true,
                });
            }
        }
    } else if stored_policy.is_some() && current_policy != DEFAULT_POLICY {
        new_policy = Some(DEFAULT_POLICY.to_owned());
    }
    // A file that says what the stored policy already says (the defaults, written out) changes
    // nothing and recomputes nothing.
    Ok(new_policy.filter(|p| {
        crate::policy::RepoPolicy::from_stored(p)
            != crate::policy::RepoPolicy::from_stored(current_policy)
    }))
}

/// Stage 4: pair lockfiles over every current manifest, then key each dependency
/// ([`dep_key`]: the `ordinal`-th dependency of one kind, ecosystem and name in a manifest, and
/// for a transitive entry of one version too).
pub(super) fn key_dependencies(
    extractions: Vec<(String, Manager, Extraction)>,
) -> Vec<CurrentDependency> {
    let report = pair(extractions);
    let mut ordinals: BTreeMap<(String, Manager, String), usize> = BTreeMap::new();
    let mut dependencies = Vec::with_capacity(report.dependencies.len());
    for scanned in &report.dependencies {
        let dep = &scanned.dependency;
        // The key with ordinal 0 names the group the ordinal counts in.
        let group = dep_key(dep.kind, dep.ecosystem, &dep.name, dep.locked.as_deref(), 0);
        let ordinal = ordinals
            .entry((scanned.manifest.clone(), scanned.manager, group))
            .or_insert(0);
        let key = dep_key(
            dep.kind,
            dep.ecosystem,
            &dep.name,
            dep.locked.as_deref(),
            *ordinal,
        );
        *ordinal += 1;
        dependencies.push(CurrentDependency::new(
            &scanned.manifest,
            scanned.manager,
            key,
            dep,
        ));
    }
    dependencies
}

/// Stage 5: the warnings of every current manifest.
pub(super) fn count_warnings(manifests: &[CurrentManifest]) -> i64 {
    i64::try_from(
        manifests
            .iter()
            .map(|m| {
                serde_json::from_str::<Vec<serde_json::Value>>(&m.warnings).map_or(0, |w| w.len())
            })
            .sum::<usize>(),
    )
    .unwrap_or(i64::MAX)
}

/// Everything the commit stage writes.
pub(super) struct Crawled<'a> {
    pub(super) crawl_id: i64,
    /// The crawl lease's holder and length, re-checked in the transaction.
    pub(super) holder: &'a str,
    pub(super) lease_ms: i64,
    pub(super) branch: &'a str,
    pub(super) commit: &'a str,
    pub(super) etag: Option<&'a str>,
    pub(super) stored: &'a [StoredManifest],
    pub(super) manifests: &'a [CurrentManifest],
    pub(super) manifests_read: i64,
    pub(super) dependencies: &'a [CurrentDependency],
    pub(super) new_policy: Option<&'a str>,
    pub(super) warnings: i64,
    pub(super) blobs_read: u64,
}

/// Stage 6: one transaction: lease check, inventory, policy, head, crawl record, follow-up jobs,
/// then the events.
pub(super) async fn commit(
    services: &Services,
    repository: &Repository,
    crawled: Crawled<'_>,
) -> Result<Changes, CrawlError> {
    let store = &services.store;
    let id = repository.id;
    let mut tx = store.begin().await?;
    if !inventory::hold_crawl_lease(&mut tx, id, crawled.holder, crawled.lease_ms).await? {
        return Err(CrawlError::LeaseLost);
    }
    let changes = reconcile::reconcile(
        &mut tx,
        id,
        repository.team_id,
        crawled.stored,
        crawled.manifests,
        crawled.dependencies,
    )
    .await?;
    if let Some(policy) = crawled.new_policy {
        inventory::set_policy(&mut tx, id, policy).await?;
    }
    inventory::record_head(&mut tx, id, crawled.commit, crawled.etag, crawled.branch).await?;
    let payload = CrawlPayload {
        repository_id: id,
        crawl_id: crawled.crawl_id,
        commit: Some(crawled.commit.to_owned()),
        manifests_read: crawled.manifests_read,
        dependencies_added: i64::try_from(changes.added.len()).unwrap_or(i64::MAX),
        dependencies_changed: i64::try_from(changes.changed.len()).unwrap_or(i64::MAX),
        dependencies_removed: i64::try_from(changes.removed.len()).unwrap_or(i64::MAX),
        warnings: crawled.warnings,
        error: None,
    };
    inventory::complete_crawl(
        &mut tx,
        &payload,
        i64::try_from(crawled.blobs_read).unwrap_or(i64::MAX),
    )
    .await?;
    enqueue_follow_ups(&mut tx, id, &changes, crawled.new_policy.is_some()).await?;
    let something_changed = changes.dependency_changes() > 0
        || changes.manifests_changed
        || crawled.new_policy.is_some();
    let backend = store.backend();
    let team = Some(repository.team_id);
    for dep in changes.added.iter().chain(&changes.changed) {
        events::append(
            &mut tx,
            backend,
            Event::DependencyUpserted(dep.into()).into_new(team, keys::dependency(dep.id)),
        )
        .await?;
    }
    for dep in &changes.removed {
        events::append(
            &mut tx,
            backend,
            Event::DependencyDeleted(dep.into()).into_new(team, keys::dependency(dep.id)),
        )
        .await?;
    }
    if something_changed {
        events::append(
            &mut tx,
            backend,
            Event::CrawlCompleted(payload).into_new(team, keys::repository(id)),
        )
        .await?;
    }
    tx.commit().await.map_err(StoreError::from)?;
    Ok(changes)
}

/// Resolve every package of an added or changed dependency that can be updated, and recommend for
/// the added and changed dependencies, or for every dependency when the crawl changed the stored
/// policy (a `.upkeep.toml` change recomputes as a policy change through the API does) or a
/// declared runtime (a `python`, `node` or `rust` toolchain entry was added, changed or removed:
/// which releases fit depends on it, see [`upkeep_resolvers::runtime`]): queued
/// inside the crawl's transaction, so they exist exactly when its inventory changes do. Packages
/// are queued in id order (see [`crate::jobs::enqueue_in`]).
async fn enqueue_follow_ups(
    tx: &mut crate::store::Tx,
    repository_id: i64,
    changes: &Changes,
    policy_changed: bool,
) -> Result<(), CrawlError> {
    let touched: Vec<_> = changes.added.iter().chain(&changes.changed).collect();
    let packages: BTreeSet<i64> = touched
        .iter()
        .filter(|dep| dep.skip_reason.is_none())
        .map(|dep| dep.package_id)
        .collect();
    for package_id in packages {
        enqueue_in(tx, &ResolvePackage { package_id }).await?;
    }
    let runtime_changed = touched.iter().copied().chain(&changes.removed).any(|dep| {
        dep.ecosystem == Ecosystem::Toolchain && Runtime::of_toolchain(&dep.name).is_some()
    });
    if policy_changed || runtime_changed {
        enqueue_in(tx, &RecommendRepository::all(repository_id)).await?;
    } else if !touched.is_empty() {
        let ids: Vec<i64> = touched.iter().map(|d| d.id).collect();
        enqueue_in(tx, &RecommendRepository::dependencies(repository_id, ids)).await?;
    }
    Ok(())
}

fn by_key(stored: &[StoredManifest]) -> HashMap<(&str, &str), &StoredManifest> {
    stored
        .iter()
        .map(|m| ((m.path.as_str(), m.manager.as_str()), m))
        .collect()
}

/// The text of a blob, decoded lossily (invalid UTF-8 bytes read as `?` with a warning, the
/// same decoding as the directory scan), or why it cannot be read as a manifest (`Ok(Err(..))`,
/// a warning on it).
async fn read_text(
    forge: &Forge,
    file: &FileToRead,
) -> Result<Result<Decoded, Warning>, ForgeError> {
    let too_big = |len: u64| {
        Warning::new(format!(
            "file is {len} bytes, over the {MAX_MANIFEST_BYTES}-byte limit; skipped"
        ))
    };
    if let Some(size) = file.size
        && size > MAX_MANIFEST_BYTES as u64
    {
        return Ok(Err(too_big(size)));
    }
    let bytes = forge.blob(&file.blob_id).await?;
    if bytes.len() > MAX_MANIFEST_BYTES {
        return Ok(Err(too_big(bytes.len() as u64)));
    }
    Ok(Ok(decode(bytes)))
}

fn warnings_json(warnings: &[Warning]) -> String {
    serde_json::to_string(warnings).unwrap_or_else(|_| "[]".to_owned())
}
