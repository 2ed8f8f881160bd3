//! Crawling real git repositories (local paths) end to end: registration through the API, the crawl
//! job, reconciliation into the inventory, events only for real changes, blob reads only for
//! changed manifests, and the crawl lease. Runs on SQLite, and on PostgreSQL when
//! `UPKEEP_TEST_DATABASE_URL` is set.

use std::time::Duration;

use serde_json::{Value, json};
use sqlx::Row;
use upkeep::crawler::registration::register;
use upkeep::crawler::{CrawlStatus, crawl_repository};
use upkeep::repository_url::RepositoryUrl;
use upkeep::services::Services;
use upkeep::store::Store;
use upkeep::store::events::{EventFilter, StoredEvent};
use upkeep::store::inventory::DependencyRecord;

use crate::support::app::{self, TestApp, fresh_db, test_config};
use crate::support::git::GitRepo;

const CARGO_TOML: &str = "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\nserde = \"1\"\nitoa = \"1.0\"\n";
const CARGO_LOCK: &str = "version = 4\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\ndependencies = [\"itoa\", \"serde\"]\n\n[[package]]\nname = \"itoa\"\nversion = \"1.0.11\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n\n[[package]]\nname = \"serde\"\nversion = \"SERDE\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n";
const PACKAGE_JSON: &str = "{\n  \"name\": \"web\",\n  \"dependencies\": {\"left-pad\": \"^1.0.0\"},\n  \"devDependencies\": {\"is-odd\": \"~3.0.0\"}\n}\n";
const PACKAGE_LOCK: &str = "{\"name\": \"web\", \"lockfileVersion\": 3, \"packages\": {\"\": {\"name\": \"web\"}, \"node_modules/left-pad\": {\"version\": \"1.3.0\"}, \"node_modules/is-odd\": {\"version\": \"3.0.1\", \"dev\": true}}}\n";
const REQUIREMENTS: &str = "requests==2.31.0\nflask>=2.0\n";
const MALFORMED_POM: &str =
    "<project>\n  <dependencies>\n    <dependency>\n      <groupId>org.example</groupId>\n";

fn cargo_lock(serde: &str) -> String {
    CARGO_LOCK.replace("SERDE", serde)
}

fn fleet_repo() -> GitRepo {
    GitRepo::with_files(&[
        ("Cargo.toml", CARGO_TOML),
        ("Cargo.lock", &cargo_lock("1.0.200")),
        ("web/package.json", PACKAGE_JSON),
        ("web/package-lock.json", PACKAGE_LOCK),
        ("requirements.txt", REQUIREMENTS),
        ("java/pom.xml", MALFORMED_POM),
        (".upkeep.toml", "# upkeep policy for this repository\n"),
        ("README.md", "# a repository\n"),
        (
            "node_modules/dep/package.json",
            "{\"dependencies\": {\"ignored\": \"1\"}}",
        ),
    ])
}

async fn all_events(store: &Store) -> Vec<StoredEvent> {
    store
        .events_after(&EventFilter {
            after: 0,
            limit: 1000,
            ..Default::default()
        })
        .await
        .expect("events")
}

fn count(events: &[StoredEvent], kind: &str) -> usize {
    events.iter().filter(|e| e.kind == kind).count()
}

fn dep<'a>(deps: &'a [DependencyRecord], manifest: &str, name: &str) -> &'a DependencyRecord {
    deps.iter()
        .find(|d| d.manifest == manifest && d.name == name)
        .unwrap_or_else(|| panic!("no dependency {name} in {manifest}: {deps:#?}"))
}

async fn jobs_of_kind(store: &Store, kind: &str) -> Vec<Value> {
    sqlx::query("SELECT payload FROM jobs WHERE kind = $1 ORDER BY id")
        .bind(kind)
        .fetch_all(store.pool())
        .await
        .expect("jobs")
        .iter()
        .map(|r| serde_json::from_str(&r.get::<String, _>("payload")).expect("payload JSON"))
        .collect()
}

/// Wait until the crawl job queued at registration has finished (run by the app's workers).
async fn wait_for_crawl(store: &Store, repository_id: i64) {
    for _ in 0..600 {
        let finished: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM jobs WHERE kind = 'crawl' AND state IN ('done', 'failed')",
        )
        .fetch_one(store.pool())
        .await
        .expect("jobs")
        .get("n");
        if finished > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the first crawl of repository {repository_id} did not finish");
}

fn services_for(store: &Store, db_url: &str) -> Services {
    Services::from_config(&test_config(db_url), store.clone()).expect("services")
}

#[tokio::test]
async fn crawl_reconciles_and_emits_events_only_for_real_changes() {
    let app = TestApp::spawn().await;
    let token = app.team_token("acme").await;
    let repo = fleet_repo();
    let created = app
        .client
        .post(app.url("/api/v1/repositories"))
        .bearer_auth(&token)
        .json(&json!({ "url": repo.path() }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let body: Value = created.json().await.unwrap();
    assert_eq!(body["default_branch"], "main");
    assert_eq!(body["provider"], "local");
    let id = body["id"].as_i64().unwrap();
    let store = app.db.store.clone();

    // The crawl queued at registration runs on the app's workers.
    wait_for_crawl(&store, id).await;
    let crawls = store.crawls_of(id).await.unwrap();
    assert_eq!(crawls.len(), 1, "{crawls:?}");
    assert_eq!(crawls[0].status, "completed", "{crawls:?}");

    let deps = store.dependencies_of_repository(id).await.unwrap();
    let serde = dep(&deps, "Cargo.toml", "serde");
    assert_eq!(
        (serde.requirement.as_deref(), serde.locked.as_deref()),
        (Some("1"), Some("1.0.200"))
    );
    assert_eq!(serde.ecosystem, upkeep_resolvers::Ecosystem::Cargo);
    assert_eq!(
        dep(&deps, "Cargo.toml", "itoa").locked.as_deref(),
        Some("1.0.11")
    );
    let left_pad = dep(&deps, "web/package.json", "left-pad");
    assert_eq!(left_pad.locked.as_deref(), Some("1.3.0"));
    let is_odd = dep(&deps, "web/package.json", "is-odd");
    assert_eq!(
        (is_odd.kind.as_str(), is_odd.locked.as_deref()),
        ("dev", Some("3.0.1"))
    );
    assert_eq!(
        dep(&deps, "requirements.txt", "requests")
            .requirement
            .as_deref(),
        Some("==2.31.0")
    );
    dep(&deps, "requirements.txt", "flask");
    assert!(
        deps.iter()
            .all(|d| !d.manifest.starts_with("node_modules/")),
        "skipped folders are not crawled"
    );
    assert!(deps.iter().all(|d| d.dep_key.contains(&d.name)));

    let manifests = store.manifests_of(id).await.unwrap();
    let pom = manifests
        .iter()
        .find(|m| m.path == "java/pom.xml")
        .expect("the malformed manifest is kept");
    let warnings: Vec<Value> = serde_json::from_str(&pom.warnings).unwrap();
    assert!(!warnings.is_empty(), "malformed pom.xml has warnings");
    let policy = manifests
        .iter()
        .find(|m| m.path == ".upkeep.toml")
        .expect("the policy file is tracked");
    assert_eq!(policy.manager, "upkeep");
    assert!(manifests.iter().all(|m| m.path != "README.md"));

    let events = all_events(&store).await;
    assert_eq!(count(&events, "dependency_upserted"), deps.len());
    assert_eq!(count(&events, "crawl_completed"), 1);
    assert_eq!(count(&events, "dependency_deleted"), 0);
    let completed = events.iter().find(|e| e.kind == "crawl_completed").unwrap();
    assert_eq!(completed.payload["dependencies_added"], deps.len());
    assert!(completed.payload["warnings"].as_i64().unwrap() >= 1);
    assert_eq!(
        completed.subject_key,
        format!("repository:{id}"),
        "crawl events are about the repository"
    );
    // Every package of an updatable dependency is resolved once; one recommendation job.
    let resolves = jobs_of_kind(&store, "resolve_package").await;
    let packages: std::collections::BTreeSet<i64> = deps
        .iter()
        .filter(|d| d.skip_reason.is_none())
        .map(|d| d.package_id)
        .collect();
    assert_eq!(resolves.len(), packages.len(), "{resolves:?}");
    let recommends = jobs_of_kind(&store, "recommend_repository").await;
    assert_eq!(recommends.len(), 1);
    assert_eq!(
        recommends[0]["dependency_ids"].as_array().unwrap().len(),
        deps.len()
    );

    // A recrawl with nothing new: one ls-remote, no fetch, no blob, no event.
    let services = services_for(&store, &app.db.url);
    let outcome = crawl_repository(&services, id).await.unwrap();
    assert_eq!(outcome.status, CrawlStatus::Unchanged);
    assert_eq!((outcome.blobs_read, outcome.fetches), (0, 0));
    assert_eq!(all_events(&store).await.len(), events.len());
    let repository = store.repository(id).await.unwrap().unwrap();
    assert!(repository.last_crawled_at.is_some());

    // A commit that touches no manifest: fetched, nothing read, nothing emitted.
    repo.write("README.md", "# a repository\n\nmore words\n");
    repo.commit("docs");
    let outcome = crawl_repository(&services, id).await.unwrap();
    assert_eq!(outcome.status, CrawlStatus::Completed);
    assert_eq!((outcome.blobs_read, outcome.fetches), (0, 1));
    assert_eq!(all_events(&store).await.len(), events.len());

    // One manifest changes: only it is read; only its real changes are events.
    repo.write("requirements.txt", "flask>=3.0\nclick==8.1.7\n");
    repo.commit("python deps");
    let outcome = crawl_repository(&services, id).await.unwrap();
    assert_eq!(outcome.status, CrawlStatus::Completed);
    assert_eq!(outcome.blobs_read, 1, "only requirements.txt is read");
    assert_eq!(
        (
            outcome.dependencies_added,
            outcome.dependencies_changed,
            outcome.dependencies_removed
        ),
        (1, 1, 1)
    );
    let after = all_events(&store).await;
    let new: Vec<&StoredEvent> = after[events.len()..].iter().collect();
    let kinds: Vec<(&str, &str)> = new
        .iter()
        .map(|e| {
            (
                e.kind.as_str(),
                e.payload["name"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("dependency_upserted", "click"),
            ("dependency_upserted", "flask"),
            ("dependency_deleted", "requests"),
            ("crawl_completed", ""),
        ]
    );
    let flask = new.iter().find(|e| e.payload["name"] == "flask").unwrap();
    assert_eq!(flask.payload["requirement"], ">=3.0");
    assert_eq!(flask.payload["manifest"], "requirements.txt");
    let deps_now = store.dependencies_of_repository(id).await.unwrap();
    assert_eq!(
        dep(&deps, "requirements.txt", "flask").id,
        dep(&deps_now, "requirements.txt", "flask").id,
        "a changed dependency keeps its id"
    );

    // Only the lockfile changes: the manifest is not read again, its dependency still changes.
    repo.write("Cargo.lock", cargo_lock("1.0.201"));
    repo.commit("cargo update");
    let seen = after.len();
    let outcome = crawl_repository(&services, id).await.unwrap();
    assert_eq!(outcome.blobs_read, 1, "only Cargo.lock is read");
    let after = all_events(&store).await;
    let new: Vec<(&str, &str, &str)> = after[seen..]
        .iter()
        .map(|e| {
            (
                e.kind.as_str(),
                e.payload["name"].as_str().unwrap_or_default(),
                e.payload["locked"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        new,
        [
            ("dependency_upserted", "serde", "1.0.201"),
            ("crawl_completed", "", "")
        ]
    );

    // A manifest removed: its dependencies are deleted with events.
    repo.remove("requirements.txt");
    repo.commit("no more python");
    let seen = after.len();
    let outcome = crawl_repository(&services, id).await.unwrap();
    assert_eq!(outcome.blobs_read, 0);
    assert_eq!(outcome.dependencies_removed, 2);
    let after = all_events(&store).await;
    assert_eq!(count(&after[seen..], "dependency_deleted"), 2);
    assert!(
        store
            .manifests_of(id)
            .await
            .unwrap()
            .iter()
            .all(|m| m.path != "requirements.txt")
    );

    // The usage query sees the package across the fleet.
    let usages = store
        .package_usages(upkeep_resolvers::Ecosystem::Cargo, "serde", None)
        .await
        .unwrap();
    assert_eq!(usages.len(), 1);
    assert_eq!(usages[0].dependency.repository_id, id);
    let crawls = store.crawls_of(id).await.unwrap();
    assert_eq!(crawls.len(), 6);
    assert_eq!(crawls[0].status, "completed");
    assert_eq!(crawls[4].status, "unchanged");
    app.stop().await;
}

#[tokio::test]
async fn registration_checks_that_the_repository_exists() {
    let app = TestApp::spawn().await;
    let token = app.team_token("acme").await;
    let not_git = tempfile::tempdir().unwrap();
    let empty = GitRepo::init();
    let missing = not_git.path().join("absent");
    for url in [
        missing.to_str().unwrap(),
        not_git.path().to_str().unwrap(),
        empty.path(),
        "https://127.0.0.1:1/nobody/nothing.git",
    ] {
        let response = app
            .client
            .post(app.url("/api/v1/repositories"))
            .bearer_auth(&token)
            .json(&json!({ "url": url }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 422, "{url}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "validation");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.starts_with("url:"), "{message}");
    }
    let listed: Value = app
        .client
        .get(app.url("/api/v1/repositories"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 0);
    assert!(jobs_of_kind(&app.db.store, "crawl").await.is_empty());
    app.stop().await;
}

/// Register `repo` for a new team directly through the crawler (no HTTP, no workers).
async fn registered(services: &Services, repo: &GitRepo) -> i64 {
    let team = services.store.create_team("acme").await.unwrap();
    let url = RepositoryUrl::parse(repo.path()).unwrap();
    register(services, team.id, &url).await.unwrap().id
}

#[tokio::test]
async fn a_held_lease_defers_the_crawl() {
    app::install_crypto();
    let db = fresh_db().await;
    let services = services_for(&db.store, &db.url);
    let repo = fleet_repo();
    let id = registered(&services, &repo).await;
    assert!(
        db.store
            .try_lease_crawl(id, "someone-else", 60_000)
            .await
            .unwrap()
    );
    let outcome = crawl_repository(&services, id).await.unwrap();
    assert_eq!(outcome.status, CrawlStatus::Busy);
    assert!(db.store.crawls_of(id).await.unwrap().is_empty());
    let pending: i64 =
        sqlx::query("SELECT COUNT(*) AS n FROM jobs WHERE kind = 'crawl' AND state = 'pending'")
            .fetch_one(db.store.pool())
            .await
            .unwrap()
            .get("n");
    assert_eq!(
        pending, 1,
        "the registration's crawl job stands for the retry (deduplicated)"
    );
    db.store.release_crawl(id, "someone-else").await.unwrap();
    let outcome = crawl_repository(&services, id).await.unwrap();
    assert_eq!(outcome.status, CrawlStatus::Completed);
}

#[tokio::test]
async fn concurrent_crawls_of_one_repository_do_the_work_once() {
    app::install_crypto();
    let db = fresh_db().await;
    let services = services_for(&db.store, &db.url);
    let repo = fleet_repo();
    let id = registered(&services, &repo).await;
    // Two "processes": separate connection pools on the same database.
    let other_store = Store::open(&db.url).await.unwrap();
    let other = services_for(&other_store, &db.url);
    for round in 0..3 {
        if round > 0 {
            repo.write("requirements.txt", format!("flask>=2.{round}\n"));
            repo.commit("bump");
        }
        let (a, b) = tokio::join!(
            tokio::spawn({
                let services = services.clone();
                async move { crawl_repository(&services, id).await }
            }),
            tokio::spawn({
                let other = other.clone();
                async move { crawl_repository(&other, id).await }
            }),
        );
        let mut statuses = vec![a.unwrap().unwrap().status, b.unwrap().unwrap().status];
        statuses.sort_by_key(|s| format!("{s:?}"));
        assert!(
            statuses == [CrawlStatus::Busy, CrawlStatus::Completed]
                || statuses == [CrawlStatus::Completed, CrawlStatus::Unchanged],
            "round {round}: {statuses:?}"
        );
    }
    let crawls = db.store.crawls_of(id).await.unwrap();
    assert_eq!(
        crawls.iter().filter(|c| c.status == "completed").count(),
        3,
        "{crawls:?}"
    );
    let events = all_events(&db.store).await;
    assert_eq!(count(&events, "crawl_completed"), 3);
    let deps = db.store.dependencies_of_repository(id).await.unwrap();
    assert_eq!(
        deps.iter().filter(|d| d.name == "flask").count(),
        1,
        "no duplicate rows"
    );
}

#[tokio::test]
async fn the_scheduler_queues_repositories_due_for_a_crawl() {
    app::install_crypto();
    let db = fresh_db().await;
    let services = services_for(&db.store, &db.url);
    let repo = fleet_repo();
    let id = registered(&services, &repo).await;
    let hour = Duration::from_hours(1);
    // Never crawled, but its crawl is already pending: deduplicated.
    assert_eq!(
        upkeep::scheduler::enqueue_due(&db.store, hour)
            .await
            .unwrap(),
        0
    );
    sqlx::query("UPDATE jobs SET state = 'done' WHERE kind = 'crawl'")
        .execute(db.store.pool())
        .await
        .unwrap();
    crawl_repository(&services, id).await.unwrap();
    assert_eq!(
        upkeep::scheduler::enqueue_due(&db.store, hour)
            .await
            .unwrap(),
        0
    );
    tokio::time::sleep(Duration::from_millis(20)).await;
    // The scheduler loop, with a crawl interval shorter than the time since the crawl.
    let (stop, rx) = tokio::sync::watch::channel(false);
    let scheduler = tokio::spawn(upkeep::scheduler::run(
        db.store.clone(),
        upkeep::scheduler::Schedule {
            tick: Duration::from_millis(10),
            crawl_interval: Duration::from_millis(1),
            release_ttl: Duration::from_hours(1),
        },
        rx,
    ));
    let mut queued = Vec::new();
    for _ in 0..200 {
        queued = jobs_of_kind(&db.store, "crawl").await;
        if queued.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.send(true).unwrap();
    scheduler.await.unwrap();
    assert_eq!(queued.len(), 2, "one more crawl, deduplicated across ticks");
    assert_eq!(queued[1]["repository_id"], id);
}

#[tokio::test]
async fn gradle_versions_from_gradle_properties_are_stored_on_the_properties_file() {
    app::install_crypto();
    let db = fresh_db().await;
    let services = services_for(&db.store, &db.url);
    let repo = GitRepo::with_files(&[
        (
            "build.gradle",
            "dependencies {\n    implementation \"org.jetbrains.kotlin:kotlin-stdlib:$kotlin_version\"\n    implementation 'com.squareup.okio:okio:3.9.0'\n}\n",
        ),
        (
            "gradle.properties",
            "org.gradle.jvmargs=-Xmx2g\nkotlin_version=1.9.22\n",
        ),
    ]);
    let id = registered(&services, &repo).await;
    crawl_repository(&services, id).await.unwrap();
    let rows = |deps: Vec<upkeep::store::inventory::DependencyRecord>| {
        let mut rows: Vec<(String, String, Option<String>, Option<String>)> = deps
            .into_iter()
            .map(|d| {
                let skip_reason = d.skip_reason.map(|s| s.as_str().to_owned());
                (d.manifest, d.name, d.requirement, skip_reason)
            })
            .collect();
        rows.sort();
        rows
    };
    let kotlin = |version: &str| {
        (
            "gradle.properties".to_owned(),
            "org.jetbrains.kotlin:kotlin-stdlib".to_owned(),
            Some(version.to_owned()),
            None,
        )
    };
    let okio = (
        "build.gradle".to_owned(),
        "com.squareup.okio:okio".to_owned(),
        Some("3.9.0".to_owned()),
        None,
    );
    assert_eq!(
        rows(db.store.dependencies_of_repository(id).await.unwrap()),
        vec![okio.clone(), kotlin("1.9.22")]
    );

    // Only the properties file changes: the next crawl reads that blob alone and sees the bump.
    repo.write(
        "gradle.properties",
        "org.gradle.jvmargs=-Xmx2g\nkotlin_version=2.0.0\n",
    );
    repo.commit("kotlin 2");
    let outcome = crawl_repository(&services, id).await.unwrap();
    assert_eq!(outcome.blobs_read, 1);
    assert_eq!(outcome.dependencies_changed, 1);
    assert_eq!(
        rows(db.store.dependencies_of_repository(id).await.unwrap()),
        vec![okio, kotlin("2.0.0")]
    );
}

#[tokio::test]
async fn an_invalid_utf8_byte_is_a_warning_and_the_rest_of_the_file_is_read() {
    app::install_crypto();
    let db = fresh_db().await;
    let services = services_for(&db.store, &db.url);
    let repo = GitRepo::init();
    // Latin-1 `é` in a comment: one byte that is not UTF-8.
    repo.write(
        "Cargo.toml",
        b"[package]\nname = \"app\" # caf\xe9\n\n[dependencies]\nserde = \"1.0\"\n",
    );
    repo.commit("latin-1 comment");
    let id = registered(&services, &repo).await;
    crawl_repository(&services, id).await.unwrap();
    let deps = db.store.dependencies_of_repository(id).await.unwrap();
    let serde = dep(&deps, "Cargo.toml", "serde");
    assert_eq!(serde.requirement.as_deref(), Some("1.0"));
    let manifests = db.store.manifests_of(id).await.unwrap();
    let cargo = manifests
        .iter()
        .find(|m| m.path == "Cargo.toml")
        .expect("Cargo.toml is tracked");
    let warnings: Vec<Value> = serde_json::from_str(&cargo.warnings).unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0]["line"], 2);
    assert!(
        warnings[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("not valid UTF-8") && m.contains("offset 28")),
        "{warnings:?}"
    );
}

// ---- Local paths, roots and remote schemes (issue 10, point 1) ----

async fn post_repository(app: &TestApp, token: &str, url: &str) -> (u16, Value) {
    let response = app
        .client
        .post(app.url("/api/v1/repositories"))
        .bearer_auth(token)
        .json(&json!({ "url": url }))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A clone of `repo` at `dir` (a git repository with the same commit).
fn clone_into(repo: &GitRepo, dir: &std::path::Path) {
    let output = std::process::Command::new("git")
        .args(["clone", "--quiet", "--", repo.path()])
        .arg(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("git runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn local_paths_are_refused_when_no_roots_are_configured() {
    let app = TestApp::spawn_with(|config| config.local_repository_roots = Vec::new()).await;
    let token = app.team_token("acme").await;
    let repo = fleet_repo();
    for url in [repo.path().to_owned(), format!("file://{}", repo.path())] {
        let (status, body) = post_repository(&app, &token, &url).await;
        assert_eq!(status, 422, "{url}: {body}");
        assert_eq!(
            body["error"]["message"],
            "url: cannot read this repository: local paths are not enabled on this server",
            "{url}"
        );
    }
    assert!(jobs_of_kind(&app.db.store, "crawl").await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn local_paths_resolve_inside_the_configured_roots_only() {
    let root_dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(root_dir.path()).unwrap();
    let source = fleet_repo();
    clone_into(&source, &root.join("b"));
    std::fs::create_dir(root.join("a")).unwrap();
    std::fs::create_dir(root.join("not-a-repository")).unwrap();
    let outside = fleet_repo();
    let outside_path = std::fs::canonicalize(outside.path()).unwrap();
    std::os::unix::fs::symlink(&outside_path, root.join("link")).unwrap();
    let roots = vec![root.clone()];
    let app = TestApp::spawn_with(move |config| config.local_repository_roots = roots).await;
    let token = app.team_token("acme").await;

    let (status, body) = post_repository(&app, &token, root.join("b").to_str().unwrap()).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["provider"], "local");
    assert_eq!(body["url"], format!("file://{}", root.join("b").display()));

    // The same repository spelt with `..` or `.` is a duplicate.
    for same in [
        root.join("a/../b"),
        root.join("b/."),
        root.join("a/./../b/"),
    ] {
        let (status, body) = post_repository(&app, &token, same.to_str().unwrap()).await;
        assert_eq!(status, 409, "{}: {body}", same.display());
    }

    // Outside the root (directly, through `..`, through a symbolic link), absent, or not a
    // repository: one message, which names no path and says nothing of what exists.
    let via_dotdot = root
        .join("..")
        .join(outside_path.file_name().unwrap())
        .to_str()
        .unwrap()
        .to_owned();
    let absent = root.join("absent").to_str().unwrap().to_owned();
    for url in [
        outside_path.to_str().unwrap().to_owned(),
        format!("file://{}", outside_path.display()),
        via_dotdot,
        root.join("link").to_str().unwrap().to_owned(),
        absent,
        root.join("not-a-repository").to_str().unwrap().to_owned(),
    ] {
        let (status, body) = post_repository(&app, &token, &url).await;
        assert_eq!(status, 422, "{url}: {body}");
        assert_eq!(
            body["error"]["message"], "url: cannot read this repository",
            "{url}"
        );
    }
    let listed: Value = app
        .client
        .get(app.url("/api/v1/repositories"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "{listed}");
    app.stop().await;
}

#[tokio::test]
async fn remote_errors_name_no_host_or_port() {
    let app = TestApp::spawn().await;
    let token = app.team_token("acme").await;
    let (status, body) =
        post_repository(&app, &token, "https://127.0.0.1:1/nobody/nothing.git").await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["message"], "url: cannot read this repository");
    app.stop().await;
}

#[tokio::test]
async fn remotes_on_the_servers_own_network_are_never_contacted() {
    // A listener on loopback stands for a git server inside the operator's network: registering
    // it answers the generic error and git never connects.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = TestApp::spawn().await;
    let token = app.team_token("acme").await;
    for url in [
        format!("https://127.0.0.1:{port}/team/app.git"),
        format!("https://localhost:{port}/team/app.git"),
        format!("ssh://git@127.0.0.1:{port}/team/app.git"),
    ] {
        let (status, body) = post_repository(&app, &token, &url).await;
        assert_eq!(status, 422, "{url}: {body}");
        assert_eq!(body["error"]["message"], "url: cannot read this repository");
    }
    let accepted = listener.accept();
    assert!(
        matches!(&accepted, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "git connected to the loopback listener: {accepted:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn remotes_other_than_https_and_ssh_are_refused_with_a_reason() {
    let app = TestApp::spawn().await;
    let token = app.team_token("acme").await;
    for url in [
        "http://git.example.com/group/project.git",
        "git://git.example.com/group/project.git",
    ] {
        let (status, body) = post_repository(&app, &token, url).await;
        assert_eq!(status, 422, "{url}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.starts_with("url: scheme `"), "{message}");
        assert!(
            message.contains("use https://, ssh://, user@host:path or a local path"),
            "{message}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn ssh_remotes_keep_their_scheme_and_are_read_over_ssh() {
    // A stand-in for ssh on 127.0.0.1: it runs the command git asks the remote host to run
    // (`git-upload-pack '<path>'`) on this machine, so the whole ssh transport path is exercised.
    let tools = tempfile::tempdir().unwrap();
    let fake_ssh = tools.path().join("ssh");
    std::fs::write(
        &fake_ssh,
        "#!/bin/sh\nfor last; do :; done\nexec sh -c \"$last\"\n",
    )
    .unwrap();
    std::fs::set_permissions(
        &fake_ssh,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let command = fake_ssh.to_str().unwrap().to_owned();
    let app = TestApp::spawn_with(move |config| {
        config.local_repository_roots = Vec::new();
        config.git_ssh_command = command;
        config.git_private_hosts = vec!["localhost".to_owned()];
    })
    .await;
    let token = app.team_token("acme").await;
    let repo = fleet_repo();
    let url = format!("ssh://git@localhost{}", repo.path());
    let (status, body) = post_repository(&app, &token, &url).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["provider"], "git");
    assert_eq!(body["url"], url);
    assert_eq!(body["default_branch"], "main");
    let id = body["id"].as_i64().unwrap();
    wait_for_crawl(&app.db.store, id).await;
    let state: String = sqlx::query("SELECT state FROM jobs WHERE kind = 'crawl'")
        .fetch_one(app.db.store.pool())
        .await
        .unwrap()
        .get("state");
    assert_eq!(state, "done");
    let deps = app.db.store.dependencies_of_repository(id).await.unwrap();
    assert!(
        deps.iter().any(|d| d.name == "serde"),
        "the crawl read the manifests over ssh: {deps:#?}"
    );
    app.stop().await;
}

/// Real Cargo files (see `tests/fixtures/locked/README.md`): `dice` depends on `rand` 0.9 and on
/// `rand_distr` 0.4, which pulls `rand` 0.8; `sampler` names no `rand`, its lockfile pins 0.8.8
/// (through `phf_generator`) and 0.9.2 (through `rand_distr` 0.5); `sampler-without-phf` is
/// `sampler` after `cargo remove phf_generator`.
const DICE: [(&str, &str); 2] = [
    (
        "Cargo.toml",
        include_str!("../fixtures/locked/dice/Cargo.toml"),
    ),
    (
        "Cargo.lock",
        include_str!("../fixtures/locked/dice/Cargo.lock"),
    ),
];
const SAMPLER: [(&str, &str); 2] = [
    (
        "Cargo.toml",
        include_str!("../fixtures/locked/sampler/Cargo.toml"),
    ),
    (
        "Cargo.lock",
        include_str!("../fixtures/locked/sampler/Cargo.lock"),
    ),
];
const SAMPLER_WITHOUT_PHF: [(&str, &str); 2] = [
    (
        "Cargo.toml",
        include_str!("../fixtures/locked/sampler-without-phf/Cargo.toml"),
    ),
    (
        "Cargo.lock",
        include_str!("../fixtures/locked/sampler-without-phf/Cargo.lock"),
    ),
];

/// Register the local repository at `path` for the team of `token`; its id.
async fn register_local(app: &TestApp, token: &str, path: &str) -> i64 {
    let created = app
        .client
        .post(app.url("/api/v1/repositories"))
        .bearer_auth(token)
        .json(&json!({ "url": path }))
        .send()
        .await
        .expect("register");
    assert_eq!(created.status(), 201);
    let body: Value = created.json().await.expect("body");
    body["id"].as_i64().expect("id")
}

/// Wait until `n` crawl jobs have finished, each completed.
async fn wait_for_crawls(store: &Store, n: i64) {
    for _ in 0..1200 {
        let rows = sqlx::query("SELECT state FROM jobs WHERE kind = 'crawl'")
            .fetch_all(store.pool())
            .await
            .expect("jobs");
        let states: Vec<String> = rows.iter().map(|r| r.get("state")).collect();
        let finished = states
            .iter()
            .filter(|s| matches!(s.as_str(), "done" | "failed"))
            .count();
        if i64::try_from(finished).expect("count") >= n {
            assert!(states.iter().all(|s| s != "failed"), "{states:?}");
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{n} crawls did not finish");
}

#[tokio::test]
async fn every_version_a_lockfile_pins_is_its_own_row() {
    let app = TestApp::spawn().await;
    let token = app.team_token("acme").await;
    let repo = GitRepo::with_files(&SAMPLER);
    let id = register_local(&app, &token, repo.path()).await;
    let store = app.db.store.clone();
    wait_for_crawls(&store, 1).await;

    let deps = store.dependencies_of_repository(id).await.unwrap();
    let pins = |deps: &[DependencyRecord], name: &str| -> Vec<(String, String, String)> {
        let mut pins: Vec<_> = deps
            .iter()
            .filter(|d| d.name == name)
            .map(|d| {
                (
                    d.manifest.clone(),
                    d.kind.as_str().to_owned(),
                    d.locked.clone().unwrap_or_default(),
                )
            })
            .collect();
        pins.sort();
        pins
    };
    let transitive = |version: &str| {
        (
            "Cargo.lock".to_owned(),
            "transitive".to_owned(),
            version.to_owned(),
        )
    };
    assert_eq!(
        pins(&deps, "rand"),
        [transitive("0.8.8"), transitive("0.9.2")]
    );
    assert_eq!(
        pins(&deps, "rand_core"),
        [transitive("0.6.4"), transitive("0.9.5")]
    );
    let kept = deps
        .iter()
        .find(|d| d.name == "rand" && d.locked.as_deref() == Some("0.9.2"))
        .expect("rand 0.9.2");

    // One of the two versions goes away: that version's row is deleted, the other is untouched.
    let seen = all_events(&store).await.len();
    for (path, text) in SAMPLER_WITHOUT_PHF {
        repo.write(path, text);
    }
    repo.commit("cargo remove phf_generator");
    let services = services_for(&store, &app.db.url);
    let outcome = crawl_repository(&services, id).await.unwrap();
    assert_eq!(outcome.status, CrawlStatus::Completed);
    let deps_now = store.dependencies_of_repository(id).await.unwrap();
    assert_eq!(pins(&deps_now, "rand"), [transitive("0.9.2")]);
    assert_eq!(pins(&deps_now, "rand_core"), [transitive("0.9.5")]);
    let still = deps_now
        .iter()
        .find(|d| d.name == "rand")
        .expect("rand 0.9.2");
    assert_eq!(still.id, kept.id, "the remaining version keeps its row");
    let events = all_events(&store).await;
    let mut about_rand: Vec<(&str, &str, &str)> = events[seen..]
        .iter()
        .filter(|e| {
            e.payload["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("rand"))
        })
        .map(|e| {
            (
                e.kind.as_str(),
                e.payload["name"].as_str().unwrap_or_default(),
                e.payload["locked"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    about_rand.sort_unstable();
    assert_eq!(
        about_rand,
        [
            ("dependency_deleted", "rand", "0.8.8"),
            ("dependency_deleted", "rand_core", "0.6.4"),
        ],
        "only the removed versions are reported"
    );
    app.stop().await;
}

async fn get_json(app: &TestApp, token: &str, path: &str) -> (u16, Value) {
    let response = app
        .client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The usages of `rand` whose locked version lies under `prefix`: (repository, manifest, kind,
/// locked) for each, sorted.
async fn rand_locked(
    app: &TestApp,
    token: &str,
    prefix: &str,
) -> Vec<(String, String, String, String)> {
    let (status, body) = get_json(
        app,
        token,
        &format!("/api/v1/packages/cargo/rand/usages?locked={prefix}"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["locked"], prefix);
    let mut found = Vec::new();
    for repository in body["items"].as_array().expect("items") {
        for usage in repository["usages"].as_array().expect("usages") {
            let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
            found.push((
                text(&repository["full_name"]),
                text(&usage["manifest"]),
                text(&usage["kind"]),
                text(&usage["locked"]),
            ));
        }
    }
    found.sort();
    found
}

#[tokio::test]
async fn usages_find_the_repositories_locking_a_version_prefix_transitive_pins_included() {
    let app = TestApp::spawn().await;
    let token = app.team_token("acme").await;
    let dice = GitRepo::with_files(&DICE);
    let sampler = GitRepo::with_files(&SAMPLER);
    let dice_id = register_local(&app, &token, dice.path()).await;
    let sampler_id = register_local(&app, &token, sampler.path()).await;
    let store = app.db.store.clone();
    wait_for_crawls(&store, 2).await;
    let dice_name = store_name(&store, dice_id).await;
    let sampler_name = store_name(&store, sampler_id).await;
    let row = |repo: &str, manifest: &str, kind: &str, locked: &str| {
        (
            repo.to_owned(),
            manifest.to_owned(),
            kind.to_owned(),
            locked.to_owned(),
        )
    };

    // 0.9.x: `dice` locks it for its direct dependency, `sampler` as a transitive pin.
    let mut expected = vec![
        row(&dice_name, "Cargo.toml", "normal", "0.9.2"),
        row(&sampler_name, "Cargo.lock", "transitive", "0.9.2"),
    ];
    expected.sort();
    assert_eq!(rand_locked(&app, &token, "0.9").await, expected);
    assert_eq!(rand_locked(&app, &token, "0.9.2").await, expected);
    // 0.8.x: the transitive pins, `dice`'s too (its lockfile pins 0.8.5 beside the 0.9.2 its
    // direct dependency resolves to).
    let mut expected = vec![
        row(&dice_name, "Cargo.lock", "transitive", "0.8.5"),
        row(&sampler_name, "Cargo.lock", "transitive", "0.8.8"),
    ];
    expected.sort();
    assert_eq!(rand_locked(&app, &token, "0.8").await, expected);
    // No repository locks 0.7.x, and `0.9` is a prefix on component boundaries only.
    assert_eq!(rand_locked(&app, &token, "0.7").await, []);
    assert_eq!(rand_locked(&app, &token, "0.90").await, []);
    assert_eq!(rand_locked(&app, &token, "0.9.20").await, []);
    // Combined with `below`.
    let (status, body) = get_json(
        &app,
        &token,
        "/api/v1/packages/cargo/rand/usages?locked=0.9&below=0.9.0",
    )
    .await;
    assert_eq!((status, body["items"].clone()), (200, json!([])));
    // Not a prefix.
    for bad in ["0.9.", "", "-1"] {
        let (status, body) = get_json(
            &app,
            &token,
            &format!("/api/v1/packages/cargo/rand/usages?locked={bad}"),
        )
        .await;
        assert_eq!(status, 422, "{bad:?}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .starts_with("locked"),
            "{body}"
        );
    }
    app.stop().await;
}

async fn store_name(store: &Store, id: i64) -> String {
    store
        .repository(id)
        .await
        .expect("repository")
        .expect("registered")
        .full_name
}

#[tokio::test]
async fn migration_0009_gives_stored_transitive_rows_their_version_keys() {
    let app = TestApp::spawn().await;
    let token = app.team_token("acme").await;
    let repo = GitRepo::with_files(&SAMPLER);
    let id = register_local(&app, &token, repo.path()).await;
    let store = app.db.store.clone();
    wait_for_crawls(&store, 1).await;
    let keys = |deps: Vec<DependencyRecord>| -> Vec<(i64, String)> {
        deps.into_iter().map(|d| (d.id, d.dep_key)).collect()
    };
    let current = keys(store.dependencies_of_repository(id).await.unwrap());

    // The keys as the binary before 0009 wrote them: transitive rows by their position among
    // the rows of their name (in id order, the order the crawl wrote them).
    let mut ordinals: std::collections::BTreeMap<(String, String), usize> =
        std::collections::BTreeMap::new();
    for d in store.dependencies_of_repository(id).await.unwrap() {
        if d.kind.as_str() != "transitive" {
            continue;
        }
        let ordinal = ordinals
            .entry((d.manifest.clone(), d.name.clone()))
            .or_insert(0);
        let old = format!("transitive:{}:{}:{ordinal}", d.ecosystem.as_str(), d.name);
        *ordinal += 1;
        sqlx::query("UPDATE dependencies SET dep_key = $1 WHERE id = $2")
            .bind(old)
            .bind(d.id)
            .execute(store.pool())
            .await
            .expect("old key");
    }
    assert_ne!(
        keys(store.dependencies_of_repository(id).await.unwrap()),
        current
    );
    let migration = match store.backend() {
        upkeep::store::Backend::Sqlite => {
            include_str!("../../migrations/sqlite/0009_locked_versions.sql")
        }
        upkeep::store::Backend::Postgres => {
            include_str!("../../migrations/postgres/0009_locked_versions.sql")
        }
    };
    sqlx::raw_sql(migration)
        .execute(store.pool())
        .await
        .expect("migration 0009");
    assert_eq!(
        keys(store.dependencies_of_repository(id).await.unwrap()),
        current,
        "the migration writes the keys the crawl writes"
    );

    // The next crawl finds every row as it is.
    repo.write("Cargo.toml", format!("{}\n# a comment\n", SAMPLER[0].1));
    repo.commit("comment");
    let outcome = crawl_repository(&services_for(&store, &app.db.url), id)
        .await
        .unwrap();
    assert_eq!(outcome.status, CrawlStatus::Completed);
    assert_eq!(
        (
            outcome.dependencies_added,
            outcome.dependencies_changed,
            outcome.dependencies_removed
        ),
        (0, 0, 0)
    );
    app.stop().await;
}
