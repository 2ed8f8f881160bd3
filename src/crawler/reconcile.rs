//! Reconcile one repository's current manifests and dependencies with the inventory, inside the
//! crawl's transaction: manifests upserted or deleted, packages upserted, dependencies inserted,
//! updated or deleted by their stable key. Only real changes are reported (and become events): a
//! dependency whose package, requirement, locked version, kind or skip reason changed. A moved span
//! alone is written silently.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use upkeep_resolvers::manager::Dependency;

use crate::store::inventory::{self, DependencyFields, DependencyRecord, StoredManifest};
use crate::store::{Result, Tx};

/// A manifest as this crawl sees it.
#[derive(Debug, Clone)]
pub struct CurrentManifest {
    pub path: String,
    pub manager: String,
    pub blob_id: Option<String>,
    /// JSON of the extraction (`None` for files that are not manifests, like `.upkeep.toml`).
    pub extraction: Option<String>,
    /// JSON array of `{line, message}`.
    pub warnings: String,
    /// New or changed since the last crawl (its row is written).
    pub changed: bool,
}

/// A dependency as this crawl sees it, after lockfile pairing.
#[derive(Debug, Clone)]
pub struct CurrentDependency {
    pub path: String,
    pub manager: String,
    pub dep_key: String,
    pub ecosystem: String,
    pub name: String,
    pub requirement: Option<String>,
    pub locked: Option<String>,
    pub kind: String,
    pub span_start: Option<i64>,
    pub span_end: Option<i64>,
    pub skip_reason: Option<String>,
}

impl CurrentDependency {
    /// From a paired dependency of the manifest at `path` read by `manager`.
    pub fn new(path: &str, manager: &str, dep_key: String, dep: &Dependency) -> Self {
        CurrentDependency {
            path: path.to_owned(),
            manager: manager.to_owned(),
            dep_key,
            ecosystem: dep.ecosystem.as_str().to_owned(),
            name: dep.name.clone(),
            requirement: dep.requirement.clone().filter(|r| !r.is_empty()),
            locked: dep.locked.clone().filter(|l| !l.is_empty()),
            kind: dep.kind.as_str().to_owned(),
            span_start: dep.span.and_then(|s| i64::try_from(s.start).ok()),
            span_end: dep.span.and_then(|s| i64::try_from(s.end).ok()),
            skip_reason: dep.skip.map(|s| s.as_str().to_owned()),
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

/// The stable key of the `ordinal`-th dependency with this kind, ecosystem and name in one manifest.
pub fn dep_key(kind: &str, ecosystem: &str, name: &str, ordinal: usize) -> String {
    format!("{kind}:{ecosystem}:{name}:{ordinal}")
}

fn same_meaning(a: &DependencyRecord, b: &DependencyFields) -> bool {
    a.package_id == b.package_id
        && a.requirement == b.requirement
        && a.locked == b.locked
        && a.kind == b.kind
        && a.skip_reason == b.skip_reason
}

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
    let mut changes = Changes::default();
    let mut existing: BTreeMap<(String, String, String), DependencyRecord> =
        inventory::dependencies_in_tx(tx, repository_id)
            .await?
            .into_iter()
            .map(|d| {
                (
                    (d.manifest.clone(), d.manager.clone(), d.dep_key.clone()),
                    d,
                )
            })
            .collect();

    // Manifests: write new and changed rows, delete the ones that are gone.
    let mut manifest_ids: HashMap<(String, String), i64> = HashMap::new();
    let stored_by_key: HashMap<(&str, &str), &StoredManifest> = stored
        .iter()
        .map(|m| ((m.path.as_str(), m.manager.as_str()), m))
        .collect();
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
    for row in stored {
        if manifest_ids.contains_key(&(row.path.clone(), row.manager.clone())) {
            continue;
        }
        changes.manifests_changed = true;
        let gone: Vec<(String, String, String)> = existing
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

    // Packages first, in (ecosystem, name) order: on PostgreSQL a package row another open
    // crawl is inserting makes this one wait, and one global order means two crawls never wait
    // on each other (a deadlock otherwise, seen in the fleet benchmark).
    let mut packages: HashMap<(String, String), i64> = HashMap::new();
    let wanted: BTreeSet<(&str, &str)> = dependencies
        .iter()
        .filter(|dep| manifest_ids.contains_key(&(dep.path.clone(), dep.manager.clone())))
        .map(|dep| (dep.ecosystem.as_str(), dep.name.as_str()))
        .collect();
    for (ecosystem, name) in wanted {
        let id = inventory::upsert_package(tx, ecosystem, name).await?;
        packages.insert((ecosystem.to_owned(), name.to_owned()), id);
    }

    // Dependencies: insert, update or leave each; delete what is left over.
    for dep in dependencies {
        let Some(&manifest_id) = manifest_ids.get(&(dep.path.clone(), dep.manager.clone())) else {
            continue;
        };
        // Upserted above for every dependency whose manifest is kept, which this one is.
        let Some(&package_id) = packages.get(&(dep.ecosystem.clone(), dep.name.clone())) else {
            continue;
        };
        let fields = DependencyFields {
            package_id,
            requirement: dep.requirement.clone(),
            locked: dep.locked.clone(),
            kind: dep.kind.clone(),
            span_start: dep.span_start,
            span_end: dep.span_end,
            skip_reason: dep.skip_reason.clone(),
        };
        let key = (dep.path.clone(), dep.manager.clone(), dep.dep_key.clone());
        let record = |id: i64| DependencyRecord {
            id,
            repository_id,
            team_id,
            manifest_id,
            manifest: dep.path.clone(),
            manager: dep.manager.clone(),
            package_id,
            ecosystem: dep.ecosystem.clone(),
            name: dep.name.clone(),
            dep_key: dep.dep_key.clone(),
            requirement: fields.requirement.clone(),
            locked: fields.locked.clone(),
            kind: fields.kind.clone(),
            span_start: fields.span_start,
            span_end: fields.span_end,
            skip_reason: fields.skip_reason.clone(),
        };
        match existing.remove(&key) {
            Some(old) if same_meaning(&old, &fields) => {
                if old.span_start != fields.span_start || old.span_end != fields.span_end {
                    inventory::update_dependency(tx, old.id, &fields).await?;
                }
            }
            Some(old) => {
                inventory::update_dependency(tx, old.id, &fields).await?;
                changes.changed.push(record(old.id));
            }
            None => {
                let id =
                    inventory::insert_dependency(tx, manifest_id, &dep.dep_key, &fields).await?;
                changes.added.push(record(id));
            }
        }
    }
    for (_, old) in existing {
        inventory::delete_dependency(tx, old.id).await?;
        changes.removed.push(old);
    }
    Ok(changes)
}
