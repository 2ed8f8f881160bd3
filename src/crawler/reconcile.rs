//! Reconcile one repository's current manifests and dependencies with the inventory, inside the
//! crawl's transaction: manifests upserted or deleted, packages upserted, dependencies inserted,
//! updated or deleted by their stable key. Only real changes are reported (and become events): a
//! dependency whose package, requirement, locked version, kind or skip reason changed. A moved span
//! alone is written silently.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use upkeep_resolvers::Ecosystem;
use upkeep_resolvers::manager::{Dependency, DependencyKind, Manager};

use crate::store::inventory::{self, DependencyRecord, StoredManifest};
use crate::store::{Result, Tx};

/// A manifest as this crawl sees it.
#[derive(Debug, Clone)]
pub struct CurrentManifest {
    pub path: String,
    /// The manager's name, or the policy file's (`crate::crawler::POLICY_MANAGER`).
    pub manager: String,
    pub blob_id: Option<String>,
    /// JSON of the extraction (`None` for files that are not manifests, like `.upkeep.toml`).
    pub extraction: Option<String>,
    /// JSON array of `{line, message}`.
    pub warnings: String,
    /// New or changed since the last crawl (its row is written).
    pub changed: bool,
}

/// A dependency as this crawl sees it: the extracted dependency (after lockfile pairing) in the
/// manifest at `path` read by `manager`, with its stable key there.
#[derive(Debug, Clone)]
pub struct CurrentDependency {
    pub path: String,
    pub manager: Manager,
    pub dep_key: String,
    pub dependency: Dependency,
}

impl CurrentDependency {
    /// From a paired dependency of the manifest at `path` read by `manager`.
    pub fn new(path: &str, manager: Manager, dep_key: String, dep: &Dependency) -> Self {
        CurrentDependency {
            path: path.to_owned(),
            manager,
            dep_key,
            dependency: dep.clone(),
        }
    }

    /// The key of its manifest among the crawl's manifests.
    fn manifest_key(&self) -> (String, String) {
        (self.path.clone(), self.manager.as_str().to_owned())
    }

    /// The row this dependency should be, in manifest `manifest_id` with package `package_id`
    /// (its `id` is set when it is written).
    fn record(&self, place: Place, manifest_id: i64, package_id: i64) -> DependencyRecord {
        let dep = &self.dependency;
        let offset = |at: usize| i64::try_from(at).ok();
        DependencyRecord {
            id: 0,
            repository_id: place.repository_id,
            team_id: place.team_id,
            manifest_id,
            manifest: self.path.clone(),
            manager: self.manager,
            package_id,
            ecosystem: dep.ecosystem,
            name: dep.name.clone(),
            dep_key: self.dep_key.clone(),
            requirement: dep.requirement.clone().filter(|r| !r.is_empty()),
            locked: dep.locked.clone().filter(|l| !l.is_empty()),
            kind: dep.kind,
            span_start: dep.span.and_then(|s| offset(s.start)),
            span_end: dep.span.and_then(|s| offset(s.end)),
            skip_reason: dep.skip,
        }
    }
}

/// What reconciling changed.
#[derive(Debug, Default)]
pub struct Changes {
    pub added: Vec<DependencyRecord>,
    pub changed: Vec<DependencyRecord>,
    pub removed: Vec<DependencyRecord>,
    /// A manifest was added, changed or removed.
    pub manifests_changed: bool,
}

impl Changes {
    pub fn dependency_changes(&self) -> usize {
        self.added.len() + self.changed.len() + self.removed.len()
    }
}

/// The stable key of a dependency in one manifest: `{kind}:{ecosystem}:{name}:{ordinal}`, the
/// `ordinal`-th dependency with this kind, ecosystem and name there.
///
/// A `transitive` entry (a lockfile package no manifest names) is keyed by the version it pins as
/// well, `transitive:{ecosystem}:{name}@{version}:{ordinal}` (the `ordinal`-th with that name and
/// version): a lockfile may pin several versions of one name, and each pair is its own row, so
/// removing or bumping one version is reported for that version and never shifts the others.
/// A direct dependency keeps its positional key: its `locked` version is a change of that row.
pub fn dep_key(
    kind: DependencyKind,
    ecosystem: Ecosystem,
    name: &str,
    locked: Option<&str>,
    ordinal: usize,
) -> String {
    let pinned = locked.filter(|l| kind == DependencyKind::Transitive && !l.is_empty());
    let (kind, ecosystem) = (kind.as_str(), ecosystem.as_str());
    match pinned {
        Some(version) => format!("{kind}:{ecosystem}:{name}@{version}:{ordinal}"),
        None => format!("{kind}:{ecosystem}:{name}:{ordinal}"),
    }
}

/// The repository being reconciled.
#[derive(Debug, Clone, Copy)]
struct Place {
    repository_id: i64,
    team_id: i64,
}

/// A stored dependency's key: manifest path, manager name, dependency key. Its order is the
/// order removals are reported in.
type StoredKey = (String, String, String);

/// Manifest ids of the crawl's manifests, by (path, manager name).
type ManifestIds = HashMap<(String, String), i64>;

/// Write `manifests` and `dependencies` (the complete current state of `repository_id`) over what
/// the inventory holds (`stored`, read before the transaction).
pub async fn reconcile(
    tx: &mut Tx,
    repository_id: i64,
    team_id: i64,
    stored: &[StoredManifest],
    manifests: &[CurrentManifest],
    dependencies: &[CurrentDependency],
) -> Result<Changes> {
    let place = Place {
        repository_id,
        team_id,
    };
    let mut changes = Changes::default();
    let mut existing = stored_dependencies(tx, repository_id).await?;
    let manifest_ids = write_manifests(tx, repository_id, stored, manifests, &mut changes).await?;
    delete_gone_manifests(tx, stored, &manifest_ids, &mut existing, &mut changes).await?;
    let packages = upsert_packages(tx, dependencies, &manifest_ids).await?;
    for dep in dependencies {
        let Some(&manifest_id) = manifest_ids.get(&dep.manifest_key()) else {
            continue;
        };
        // Upserted above for every dependency whose manifest is kept, which this one is.
        let Some(&package_id) =
            packages.get(&(dep.dependency.ecosystem, dep.dependency.name.clone()))
        else {
            continue;
        };
        let current = dep.record(place, manifest_id, package_id);
        let key = (
            dep.path.clone(),
            dep.manager.as_str().to_owned(),
            dep.dep_key.clone(),
        );
        write_dependency(tx, existing.remove(&key), current, &mut changes).await?;
    }
    for (_, old) in existing {
        inventory::delete_dependency(tx, old.id).await?;
        changes.removed.push(old);
    }
    Ok(changes)
}

/// The repository's dependencies as stored, by [`StoredKey`].
async fn stored_dependencies(
    tx: &mut Tx,
    repository_id: i64,
) -> Result<BTreeMap<StoredKey, DependencyRecord>> {
    Ok(inventory::dependencies_in_tx(tx, repository_id)
        .await?
        .into_iter()
        .map(|d| {
            let key = (
                d.manifest.clone(),
                d.manager.as_str().to_owned(),
                d.dep_key.clone(),
            );
            (key, d)
        })
        .collect())
}

/// Write new and changed manifest rows; the ids of all the crawl's manifests.
async fn write_manifests(
    tx: &mut Tx,
    repository_id: i64,
    stored: &[StoredManifest],
    manifests: &[CurrentManifest],
    changes: &mut Changes,
) -> Result<ManifestIds> {
    let stored_by_key: HashMap<(&str, &str), &StoredManifest> = stored
        .iter()
        .map(|m| ((m.path.as_str(), m.manager.as_str()), m))
        .collect();
    let mut manifest_ids = ManifestIds::new();
    for manifest in manifests {
        let known = stored_by_key.get(&(manifest.path.as_str(), manifest.manager.as_str()));
        let id = match known {
            Some(row) if !manifest.changed => row.id,
            _ => {
                changes.manifests_changed = true;
                inventory::upsert_manifest(
                    tx,
                    repository_id,
                    &manifest.path,
                    &manifest.manager,
                    manifest.blob_id.as_deref(),
                    manifest.extraction.as_deref(),
                    &manifest.warnings,
                )
                .await?
            }
        };
        manifest_ids.insert((manifest.path.clone(), manifest.manager.clone()), id);
    }
    Ok(manifest_ids)
}

/// Delete the stored manifests the crawl no longer has; their dependencies are removed with them.
async fn delete_gone_manifests(
    tx: &mut Tx,
    stored: &[StoredManifest],
    manifest_ids: &ManifestIds,
    existing: &mut BTreeMap<StoredKey, DependencyRecord>,
    changes: &mut Changes,
) -> Result<()> {
    for row in stored {
        if manifest_ids.contains_key(&(row.path.clone(), row.manager.clone())) {
            continue;
        }
        changes.manifests_changed = true;
        let gone: Vec<StoredKey> = existing
            .iter()
            .filter(|(_, d)| d.manifest_id == row.id)
            .map(|(k, _)| k.clone())
            .collect();
        for key in gone {
            if let Some(dep) = existing.remove(&key) {
                changes.removed.push(dep);
            }
        }
        inventory::delete_manifest(tx, row.id).await?;
    }
    Ok(())
}

/// The package ids of the dependencies in kept manifests, upserted in (ecosystem, name) order: on
/// PostgreSQL a package row another open crawl is inserting makes this one wait, and one global
/// order means two crawls never wait on each other (a deadlock otherwise, seen in the fleet
/// benchmark).
async fn upsert_packages(
    tx: &mut Tx,
    dependencies: &[CurrentDependency],
    manifest_ids: &ManifestIds,
) -> Result<HashMap<(Ecosystem, String), i64>> {
    // Ordered by the ecosystem's name, as the rows were always upserted.
    let wanted: BTreeSet<(&str, &str, Ecosystem)> = dependencies
        .iter()
        .filter(|dep| manifest_ids.contains_key(&dep.manifest_key()))
        .map(|dep| {
            let d = &dep.dependency;
            (d.ecosystem.as_str(), d.name.as_str(), d.ecosystem)
        })
        .collect();
    let mut packages = HashMap::new();
    for (_, name, ecosystem) in wanted {
        let id = inventory::upsert_package(tx, ecosystem, name).await?;
        packages.insert((ecosystem, name.to_owned()), id);
    }
    Ok(packages)
}

/// Insert `current`, or update `old` to it, or leave it; report real changes.
async fn write_dependency(
    tx: &mut Tx,
    old: Option<DependencyRecord>,
    mut current: DependencyRecord,
    changes: &mut Changes,
) -> Result<()> {
    match old {
        Some(old) if old.same_meaning(&current) => {
            if old.span_start != current.span_start || old.span_end != current.span_end {
                current.id = old.id;
                inventory::update_dependency(tx, &current).await?;
            }
        }
        Some(old) => {
            current.id = old.id;
            inventory::update_dependency(tx, &current).await?;
            changes.changed.push(current);
        }
        None => {
            inventory::insert_dependency(tx, &mut current).await?;
            changes.added.push(current);
        }
    }
    Ok(())
}
