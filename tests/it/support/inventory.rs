//! What the crawler would have stored, built through the store's functions (no SQL), for tests
//! that start from an inventory: teams, repositories, manifests, packages and dependencies.
//! [`DependencyBuilder`] makes a repository depend on a package in one call; the functions below
//! it build each row on its own.
//!
//! ```ignore
//! let team = inventory::team(store, "acme").await;
//! let repo = inventory::repository(store, team, "https://github.com/acme/api").await;
//! let package = DependencyBuilder::npm("left-pad").requirement("^1.0.0").insert(store, repo).await;
//! ```

use upkeep::repository_url::RepositoryUrl;
use upkeep::store::Store;
use upkeep::store::inventory::{self, DependencyRecord};
use upkeep_resolvers::{DependencyKind, Ecosystem, Manager};

pub async fn team(store: &Store, name: &str) -> i64 {
    store.create_team(name).await.expect("team").id
}

/// A registered repository (no default branch recorded yet).
pub async fn repository(store: &Store, team_id: i64, url: &str) -> i64 {
    let url = RepositoryUrl::parse(url).expect("repository URL");
    store
        .add_repository(team_id, &url, None)
        .await
        .expect("repository")
        .id
}

/// A repository's dependency on a package, with its manifest and package rows.
pub struct DependencyBuilder {
    ecosystem: Ecosystem,
    name: String,
    manifest: String,
    manager: Manager,
    key: String,
    requirement: String,
}

impl DependencyBuilder {
    /// npm package `name` in `package.json`'s `dependencies`, any version (`*`).
    pub fn npm(name: &str) -> DependencyBuilder {
        DependencyBuilder {
            ecosystem: Ecosystem::Npm,
            name: name.to_owned(),
            manifest: "package.json".to_owned(),
            manager: Manager::Npm,
            key: format!("dependencies/{name}"),
            requirement: "*".to_owned(),
        }
    }

    pub fn requirement(mut self, requirement: &str) -> DependencyBuilder {
        requirement.clone_into(&mut self.requirement);
        self
    }

    /// Store it as a dependency of `repository_id`; returns the package's id (what lookups and
    /// releases are keyed by).
    pub async fn insert(self, store: &Store, repository_id: i64) -> i64 {
        let package_id = package(store, self.ecosystem, &self.name).await;
        let manifest = manifest(store, repository_id, &self.manifest, self.manager).await;
        dependency(
            store,
            &manifest,
            package_id,
            &self.key,
            &self.requirement,
            None,
        )
        .await;
        package_id
    }
}

/// A manifest row, as the crawler writes it.
pub struct ManifestRow {
    pub id: i64,
    pub repository_id: i64,
    pub team_id: i64,
    pub path: String,
    pub manager: Manager,
}

/// A manifest of `repository_id` (created, or updated if it exists).
pub async fn manifest(
    store: &Store,
    repository_id: i64,
    path: &str,
    manager: Manager,
) -> ManifestRow {
    let team_id = store
        .repository(repository_id)
        .await
        .expect("repository")
        .expect("registered")
        .team_id;
    let mut tx = store.begin().await.expect("transaction");
    let id = inventory::upsert_manifest(
        &mut tx,
        repository_id,
        path,
        manager.as_str(),
        None,
        None,
        "[]",
    )
    .await
    .expect("manifest");
    tx.commit().await.expect("commit");
    ManifestRow {
        id,
        repository_id,
        team_id,
        path: path.to_owned(),
        manager,
    }
}

/// The package `name` of `ecosystem` (created, or found).
pub async fn package(store: &Store, ecosystem: Ecosystem, name: &str) -> i64 {
    let mut tx = store.begin().await.expect("transaction");
    let id = inventory::upsert_package(&mut tx, ecosystem, name)
        .await
        .expect("package");
    tx.commit().await.expect("commit");
    id
}

/// A `normal` dependency row of `manifest` on `package_id`.
pub async fn dependency(
    store: &Store,
    manifest: &ManifestRow,
    package_id: i64,
    key: &str,
    requirement: &str,
    locked: Option<&str>,
) -> i64 {
    let package = store
        .package(package_id)
        .await
        .expect("package")
        .expect("exists");
    let mut record = DependencyRecord {
        id: 0,
        repository_id: manifest.repository_id,
        team_id: manifest.team_id,
        manifest_id: manifest.id,
        manifest: manifest.path.clone(),
        manager: manifest.manager,
        package_id,
        ecosystem: package.ecosystem,
        name: package.name,
        dep_key: key.to_owned(),
        requirement: Some(requirement.to_owned()),
        locked: locked.map(str::to_owned),
        kind: DependencyKind::Normal,
        span_start: None,
        span_end: None,
        skip_reason: None,
    };
    let mut tx = store.begin().await.expect("transaction");
    inventory::insert_dependency(&mut tx, &mut record)
        .await
        .expect("dependency");
    tx.commit().await.expect("commit");
    record.id
}

/// Change a stored dependency, as a crawl that saw it changed would.
pub async fn change_dependency(
    store: &Store,
    dependency_id: i64,
    change: impl FnOnce(&mut DependencyRecord),
) {
    let mut record = store
        .dependencies_by_id(&[dependency_id])
        .await
        .expect("dependency")
        .pop()
        .expect("exists");
    change(&mut record);
    let mut tx = store.begin().await.expect("transaction");
    inventory::update_dependency(&mut tx, &record)
        .await
        .expect("update dependency");
    tx.commit().await.expect("commit");
}
