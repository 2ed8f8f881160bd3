//! Resolve and recommend end to end: packages resolved against the support fake registries
//! (npm packuments and the Cargo sparse index on 127.0.0.1, serving the histories each test
//! publishes), releases and
//! events stored, recommendations computed under repository policies, and the fleet API on top.
//! Runs on SQLite, and on PostgreSQL when `UPKEEP_TEST_DATABASE_URL` is set.
//!
//! The crawler is not involved: teams, repositories, manifests, packages and dependencies come
//! from the store's functions, as the crawler would write them. (A package's check time and
//! lookup lease are set with SQL where a test needs a given moment, and the queued lookups'
//! payloads are read with SQL: the store has no function that does either.)

use chrono::Utc;
use http::StatusCode;
use serde_json::{Value, json};
use upkeep::jobs::dispatch::JobTable;
use upkeep::jobs::resolve_package::ResolvePackage;
use upkeep::jobs::{self, Job};
use upkeep::resolve::{recommend_repository, resolve_package};
use upkeep::services::Services;
use upkeep::store::Store;
use upkeep::store::events::{EventFilter, StoredEvent};
use upkeep::store::jobs::JobRecord;

use upkeep_resolvers::{Ecosystem, Manager, SkipReason};

use crate::support::app::{self, ADMIN_TOKEN, TestApp, fresh_db, install_crypto, test_config};
use crate::support::fake_registries::{FakeRegistries, FakeRegistryOptions, FakeRelease};
use crate::support::inventory::{
    change_dependency, dependency, manifest, package, repository, team,
};

// ---------------------------------------------------------------------------------------------
// Fake registries

/// One published version: `(version, days before now, yanked)`.
#[derive(Clone)]
struct Published {
    version: &'static str,
    days_ago: i64,
    yanked: bool,
}

fn v(version: &'static str, days_ago: i64) -> Published {
    Published {
        version,
        days_ago,
        yanked: false,
    }
}

/// The support fake registries, serving the histories a test publishes.
struct Registries {
    fake: FakeRegistries,
}

impl Registries {
    async fn start() -> Registries {
        Registries {
            fake: FakeRegistries::start().await,
        }
    }

    /// Serve exactly `versions` for `name`.
    fn publish(&self, ecosystem: Ecosystem, name: &str, versions: Vec<Published>) {
        let now = Utc::now().timestamp();
        let releases = versions
            .into_iter()
            .map(|p| FakeRelease {
                version: p.version.to_owned(),
                published_at: chrono::DateTime::from_timestamp(now - p.days_ago * 86_400, 0)
                    .expect("a time"),
                yanked: p.yanked,
                prerelease: p.version.contains('-'),
                requires_runtime: None,
            })
            .collect();
        self.fake.set_releases(ecosystem, name, releases);
    }

    /// Requests the npm registry saw.
    fn npm_requests(&self) -> u64 {
        self.fake.stats().get(Ecosystem::Npm).requests
    }

    /// Requests for `name`'s Cargo index file.
    fn cargo_requests(&self, name: &str) -> u64 {
        self.fake.package_requests(Ecosystem::Cargo, name)
    }
}

/// The services as `upkeep serve` builds them, with the registry overrides pointing at `fake`.
fn services_with(store: &Store, db_url: &str, fake: &FakeRegistries) -> Services {
    install_crypto();
    let mut config = test_config(db_url);
    config.registries.extend(fake.base_urls());
    config.release_ttl_seconds = 3600;
    Services::from_config(&config, store.clone()).expect("services")
}

fn services(store: &Store, db_url: &str, registries: &Registries) -> Services {
    services_with(store, db_url, &registries.fake)
}

/// An npm registry that answers 503 to everything, and services pointed at it.
async fn broken_npm(store: &Store, db_url: &str) -> (FakeRegistries, Services) {
    let broken = FakeRegistries::start().await;
    broken.inject_failures(
        Ecosystem::Npm,
        u32::MAX,
        StatusCode::SERVICE_UNAVAILABLE,
        None,
    );
    let services = services_with(store, db_url, &broken);
    (broken, services)
}

/// A fresh database, the fake registries and the services pointed at them.
async fn setup() -> (app::TestDb, Registries, Services) {
    let db = fresh_db().await;
    let fakes = Registries::start().await;
    let services = services(&db.store, &db.url, &fakes);
    (db, fakes, services)
}

// ---------------------------------------------------------------------------------------------
// Inventory rows, as the crawler writes them

/// As if the crawler saw the dependency at new versions.
async fn set_versions(store: &Store, dependency_id: i64, requirement: &str, locked: Option<&str>) {
    change_dependency(store, dependency_id, |d| {
        d.requirement = Some(requirement.to_owned());
        d.locked = locked.map(str::to_owned);
    })
    .await;
}

/// As if the TTL had passed since the last lookup.
async fn expire(store: &Store, package_id: i64) {
    sqlx::query("UPDATE packages SET checked_at = 0 WHERE id = $1")
        .bind(package_id)
        .execute(store.pool())
        .await
        .expect("expire");
}

async fn set_policy(store: &Store, repository_id: i64, policy: &Value) {
    assert!(
        store
            .set_repository_policy(repository_id, &policy.to_string())
            .await
            .expect("policy")
    );
}

async fn events_after(store: &Store, after: i64) -> Vec<StoredEvent> {
    store
        .events_after(&EventFilter {
            after,
            limit: 1000,
            team_id: None,
            types: Vec::new(),
            ..EventFilter::default()
        })
        .await
        .expect("events")
}

async fn last_seq(store: &Store) -> i64 {
    events_after(store, 0).await.last().map_or(0, |e| e.seq)
}

fn kinds(events: &[StoredEvent]) -> Vec<&str> {
    events.iter().map(|e| e.kind.as_str()).collect()
}

/// `(kind, target, new_requirement)` of a dependency's stored recommendations, by kind.
async fn recommendations(
    store: &Store,
    dependency_id: i64,
) -> Vec<(String, String, Option<String>)> {
    let mut connection = store.pool().acquire().await.expect("connection");
    let mut stored: Vec<(String, String, Option<String>)> =
        upkeep::store::recommendations::recommendations_of(&mut connection, &[dependency_id])
            .await
            .expect("recommendations")
            .into_iter()
            .map(|r| (r.kind.to_string(), r.target_version, r.new_requirement))
            .collect();
    stored.sort();
    stored
}

fn rec(kind: &str, target: &str, requirement: Option<&str>) -> (String, String, Option<String>) {
    (kind.into(), target.into(), requirement.map(Into::into))
}

// ---------------------------------------------------------------------------------------------
// Tests

#[tokio::test]
async fn npm_resolution_releases_events_and_recommendations() {
    let (db, fakes, services) = setup().await;
    let store = &db.store;
    fakes.publish(
        Ecosystem::Npm,
        "left-pad",
        vec![
            v("1.2.3", 100),
            v("1.2.9", 50),
            v("1.4.0", 40),
            v("2.1.0", 10),
        ],
    );
    let team_id = team(store, "web").await;
    let repo = repository(store, team_id, "https://github.com/acme/web").await;
    let manifest_id = manifest(store, repo, "package.json", Manager::Npm).await;
    let pkg = package(store, Ecosystem::Npm, "left-pad").await;
    let dep = dependency(
        store,
        &manifest_id,
        pkg,
        "dependencies/left-pad",
        "^1.2.3",
        Some("1.2.3"),
    )
    .await;

    // First resolution: history is stored, not announced; recommendations are.
    let before = last_seq(store).await;
    resolve_package(&services, pkg).await.expect("resolve");
    let releases = store.releases(pkg).await.expect("releases");
    assert_eq!(releases.len(), 4);
    assert!(releases.iter().all(|r| r.published_at.is_some()));
    let stored = store.package(pkg).await.expect("package").expect("exists");
    assert!(stored.checked_at.is_some() && stored.last_error.is_none());
    // The packument's `homepage`, as the fake serves it.
    assert_eq!(
        stored.homepage.as_deref(),
        Some("https://github.com/fake-org/left-pad#readme")
    );
    assert!(stored.source_url.is_some());
    let first = events_after(store, before).await;
    assert_eq!(
        kinds(&first),
        vec!["recommendation_upserted", "recommendation_upserted"],
        "no release_published on the first resolution"
    );
    assert!(first.iter().all(|e| e.team_id == Some(team_id)));
    assert_eq!(first[0].payload["kind"], "minor");
    assert_eq!(first[0].payload["current"], "1.2.3");
    assert_eq!(first[0].payload["manifest"], "package.json");
    assert_eq!(
        recommendations(store, dep).await,
        vec![
            rec("major", "2.1.0", Some("^2.1.0")),
            rec("minor", "1.4.0", Some("^1.4.0"))
        ]
    );

    // Fresh within the TTL: the registry is not asked again.
    let requests = fakes.npm_requests();
    resolve_package(&services, pkg).await.expect("fresh");
    assert_eq!(fakes.npm_requests(), requests, "TTL fresh: no request");

    // Re-running the recommender changes nothing and emits nothing.
    let seq = last_seq(store).await;
    recommend_repository(&services, repo, Some(&[dep][..]))
        .await
        .expect("again");
    recommend_repository(&services, repo, None)
        .await
        .expect("all");
    assert!(events_after(store, seq).await.is_empty());

    // After the TTL a new version is announced once, and the major moves to it.
    fakes.publish(
        Ecosystem::Npm,
        "left-pad",
        vec![
            v("1.2.3", 100),
            v("1.2.9", 50),
            v("1.4.0", 40),
            v("2.1.0", 10),
            v("2.2.0", 0),
        ],
    );
    expire(store, pkg).await;
    let seq = last_seq(store).await;
    resolve_package(&services, pkg)
        .await
        .expect("second resolution");
    assert_eq!(fakes.npm_requests(), requests + 1);
    let second = events_after(store, seq).await;
    assert_eq!(
        kinds(&second),
        vec!["release_published", "recommendation_upserted"]
    );
    assert_eq!(second[0].team_id, None, "release events are fleet-wide");
    assert_eq!(second[0].subject_key, "package:npm:left-pad");
    assert_eq!(second[0].payload["version"], "2.2.0");
    assert_eq!(second[1].payload["kind"], "major");
    assert_eq!(second[1].payload["target_version"], "2.2.0");
    // Same answer again: nothing new.
    expire(store, pkg).await;
    let seq = last_seq(store).await;
    resolve_package(&services, pkg)
        .await
        .expect("third resolution");
    assert!(events_after(store, seq).await.is_empty());

    // The crawler sees the minor applied: its recommendation is deleted as applied.
    set_versions(store, dep, "^1.4.0", Some("1.4.0")).await;
    let seq = last_seq(store).await;
    recommend_repository(&services, repo, Some(&[dep][..]))
        .await
        .expect("applied");
    let applied = events_after(store, seq).await;
    assert_eq!(kinds(&applied), vec!["recommendation_deleted"]);
    assert_eq!(applied[0].payload["reason"], "applied");
    assert_eq!(applied[0].payload["recommendation"]["kind"], "minor");
    assert_eq!(
        applied[0].payload["recommendation"]["target_version"],
        "1.4.0"
    );
    assert_eq!(
        recommendations(store, dep).await,
        vec![rec("major", "2.2.0", Some("^2.2.0"))]
    );

    // Then the major: applied too, and nothing is left to recommend.
    set_versions(store, dep, "^2.2.0", Some("2.2.0")).await;
    let seq = last_seq(store).await;
    recommend_repository(&services, repo, None)
        .await
        .expect("applied major");
    let applied = events_after(store, seq).await;
    assert_eq!(kinds(&applied), vec!["recommendation_deleted"]);
    assert_eq!(applied[0].payload["reason"], "applied");
    assert!(recommendations(store, dep).await.is_empty());
}

#[tokio::test]
async fn cargo_policy_cooldown_ignore_majors_and_yanks() {
    let (db, fakes, services) = setup().await;
    let store = &db.store;
    fakes.publish(
        Ecosystem::Cargo,
        "tinyjson",
        vec![
            v("1.0.0", 300),
            v("1.0.5", 200),
            v("1.1.0", 1),
            v("2.0.0", 30),
        ],
    );
    let team_id = team(store, "core").await;
    let repo = repository(store, team_id, "https://github.com/acme/core").await;
    let manifest_id = manifest(store, repo, "Cargo.toml", Manager::Cargo).await;
    let pkg = package(store, Ecosystem::Cargo, "tinyjson").await;
    let dep = dependency(
        store,
        &manifest_id,
        pkg,
        "dependencies/tinyjson",
        "1.0.0",
        Some("1.0.0"),
    )
    .await;

    resolve_package(&services, pkg).await.expect("resolve");
    assert_eq!(fakes.cargo_requests("tinyjson"), 1);
    assert_eq!(
        recommendations(store, dep).await,
        vec![
            rec("major", "2.0.0", Some("2.0.0")),
            rec("minor", "1.1.0", Some("1.1.0"))
        ]
    );

    // Cooldown: 1.1.0 is one day old; the best in-major target becomes the patch 1.0.5.
    set_policy(store, repo, &json!({ "cooldown_days": 3 })).await;
    let seq = last_seq(store).await;
    recommend_repository(&services, repo, None)
        .await
        .expect("cooldown");
    let changed = events_after(store, seq).await;
    assert_eq!(
        kinds(&changed),
        vec!["recommendation_deleted", "recommendation_upserted"]
    );
    assert_eq!(changed[0].payload["reason"], "obsolete");
    assert_eq!(changed[1].payload["kind"], "patch");
    assert_eq!(
        recommendations(store, dep).await,
        vec![
            rec("major", "2.0.0", Some("2.0.0")),
            rec("patch", "1.0.5", Some("1.0.5"))
        ]
    );

    // lockfile-only: 1.0.5 is inside `1.0.0` (caret), so only the lock changes.
    set_policy(
        store,
        repo,
        &json!({ "cooldown_days": 3, "range_strategy": "lockfile-only" }),
    )
    .await;
    recommend_repository(&services, repo, None)
        .await
        .expect("lockfile-only");
    assert_eq!(
        recommendations(store, dep).await,
        vec![
            rec("major", "2.0.0", Some("2.0.0")),
            rec("patch", "1.0.5", None)
        ]
    );

    // No majors: the major one goes away as obsolete.
    set_policy(store, repo, &json!({ "allow_major": false })).await;
    let seq = last_seq(store).await;
    recommend_repository(&services, repo, None)
        .await
        .expect("no majors");
    let changed = events_after(store, seq).await;
    assert!(
        changed.iter().any(|e| e.kind == "recommendation_deleted"
            && e.payload["recommendation"]["kind"] == "major")
    );
    assert_eq!(
        recommendations(store, dep).await,
        vec![rec("minor", "1.1.0", Some("1.1.0"))]
    );

    // Ignored versions, then an ignored package.
    set_policy(
        store,
        repo,
        &json!({ "ignore_versions": [{ "name": "tiny*", "versions": ">=1.1.0" }] }),
    )
    .await;
    recommend_repository(&services, repo, None)
        .await
        .expect("ignore versions");
    assert_eq!(
        recommendations(store, dep).await,
        vec![rec("patch", "1.0.5", Some("1.0.5"))]
    );
    set_policy(store, repo, &json!({ "ignore": ["tiny*"] })).await;
    let seq = last_seq(store).await;
    recommend_repository(&services, repo, None)
        .await
        .expect("ignore");
    let changed = events_after(store, seq).await;
    assert_eq!(kinds(&changed), vec!["recommendation_deleted"]);
    assert_eq!(changed[0].payload["reason"], "obsolete");
    assert!(recommendations(store, dep).await.is_empty());

    // A yank of a known release is announced; nothing is published.
    set_policy(store, repo, &json!({})).await;
    fakes.publish(
        Ecosystem::Cargo,
        "tinyjson",
        vec![
            v("1.0.0", 300),
            v("1.0.5", 200),
            Published {
                yanked: true,
                ..v("1.1.0", 1)
            },
            v("2.0.0", 30),
        ],
    );
    expire(store, pkg).await;
    let seq = last_seq(store).await;
    resolve_package(&services, pkg).await.expect("yank");
    let changed = events_after(store, seq).await;
    let release_events: Vec<_> = changed
        .iter()
        .filter(|e| e.stream == "release_event")
        .collect();
    assert_eq!(release_events.len(), 1, "{changed:?}");
    assert_eq!(release_events[0].kind, "release_yanked");
    assert_eq!(release_events[0].payload["version"], "1.1.0");
    assert_eq!(
        recommendations(store, dep).await,
        vec![
            rec("major", "2.0.0", Some("2.0.0")),
            rec("patch", "1.0.5", Some("1.0.5"))
        ],
        "the yanked 1.1.0 is never recommended"
    );

    // A skipped dependency carries nothing.
    change_dependency(store, dep, |d| d.skip_reason = Some(SkipReason::Git)).await;
    recommend_repository(&services, repo, None)
        .await
        .expect("skipped");
    assert!(recommendations(store, dep).await.is_empty());
}

#[tokio::test]
async fn registry_failures_are_recorded_on_the_package() {
    let (db, fakes, services) = setup().await;
    let store = &db.store;
    fakes.fake.remove(Ecosystem::Npm, "no-such-package");
    let missing = package(store, Ecosystem::Npm, "no-such-package").await;
    resolve_package(&services, missing)
        .await
        .expect("an unknown package ends the job");
    let stored = store.package(missing).await.expect("row").expect("exists");
    assert!(
        stored
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("not found"))
    );
    assert!(
        stored.checked_at.is_some(),
        "not asked again before the TTL"
    );

    let (_broken, failing) = broken_npm(store, &db.url).await;
    let flaky = package(store, Ecosystem::Npm, "flaky").await;
    let error = resolve_package(&failing, flaky)
        .await
        .expect_err("a registry outage fails the job for a retry");
    assert!(error.to_string().contains("503"), "{error}");
    let stored = store.package(flaky).await.expect("row").expect("exists");
    assert!(
        stored
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("503"))
    );
    assert_eq!(stored.checked_at, None, "still due");

    // The job kind is registered: a queued lookup is stored pending under its kind, a second one
    // for the same package merges into it, and the standard job table runs the stored payload.
    let job = ResolvePackage {
        package_id: missing,
    };
    let id = jobs::enqueue(store, &job)
        .await
        .expect("enqueue")
        .expect("new");
    assert!(jobs::enqueue(store, &job).await.expect("dedup").is_none());
    let stored = store.job(id).await.expect("read the job").expect("stored");
    assert_eq!(
        stored,
        JobRecord {
            id,
            kind: ResolvePackage::KIND.to_owned(),
            state: "pending".to_owned(),
            attempts: 0,
            last_error: None,
        }
    );
    assert_eq!(ResolvePackage::KIND, "resolve_package");
    let payload = serde_json::to_value(job).expect("payload");
    assert_eq!(payload, json!({ "package_id": missing }));
    JobTable::standard()
        .run(&stored.kind, payload, &services)
        .await
        .expect("the standard table runs a stored resolve_package job");
}

#[tokio::test]
async fn overlapping_resolve_jobs_of_one_package_ask_the_registry_once() {
    let db = fresh_db().await;
    let store = &db.store;
    // npm answers after a delay, so lookups overlap.
    let npm = FakeRegistries::start_with(FakeRegistryOptions {
        latency: std::time::Duration::from_millis(300),
        ..FakeRegistryOptions::default()
    })
    .await;
    let registries = Registries { fake: npm };
    registries.publish(
        Ecosystem::Npm,
        "left-pad",
        vec![v("1.0.0", 30), v("1.1.0", 20)],
    );
    // Separate services, as in separate worker processes: their HTTP clients share nothing, so
    // only the store can keep the second job from asking too.
    let worker = || services(store, &db.url, &registries);
    let (first, second, third) = (worker(), worker(), worker());
    let pkg = package(store, Ecosystem::Npm, "left-pad").await;
    let (a, b, c) = tokio::join!(
        resolve_package(&first, pkg),
        resolve_package(&second, pkg),
        resolve_package(&third, pkg)
    );
    a.expect("resolved");
    b.expect("left to the holder");
    c.expect("left to the holder");
    assert_eq!(registries.npm_requests(), 1);
    assert_eq!(store.releases(pkg).await.expect("releases").len(), 2);
    let stored = store.package(pkg).await.expect("row").expect("exists");
    assert!(stored.checked_at.is_some());

    // Fresh now: another job does not ask either.
    resolve_package(&first, pkg).await.expect("fresh");
    assert_eq!(registries.npm_requests(), 1);

    // A lease left behind by a dead worker expires; one still running is respected.
    expire(store, pkg).await;
    let set_lease = |until: i64| {
        sqlx::query("UPDATE packages SET resolving_until = $1 WHERE id = $2")
            .bind(until)
            .bind(pkg)
            .execute(store.pool())
    };
    set_lease(Utc::now().timestamp_millis() + 60_000)
        .await
        .expect("lease");
    resolve_package(&first, pkg).await.expect("held elsewhere");
    assert_eq!(registries.npm_requests(), 1);
    set_lease(Utc::now().timestamp_millis() - 1)
        .await
        .expect("lease");
    resolve_package(&first, pkg)
        .await
        .expect("expired lease taken over");
    assert_eq!(registries.npm_requests(), 2);
}

#[tokio::test]
async fn a_failed_lookup_gives_its_lease_back_for_the_retry() {
    let db = fresh_db().await;
    let store = &db.store;
    let (broken, services) = broken_npm(store, &db.url).await;
    let pkg = package(store, Ecosystem::Npm, "flaky").await;
    let before = broken.stats().get(Ecosystem::Npm).requests;
    resolve_package(&services, pkg)
        .await
        .expect_err("an outage fails the job");
    let after_first = broken.stats().get(Ecosystem::Npm).requests;
    assert!(after_first > before);
    resolve_package(&services, pkg)
        .await
        .expect_err("the retry asks again instead of finding a lease");
    assert!(broken.stats().get(Ecosystem::Npm).requests > after_first);
}

/// Make every insert into `recommendations` fail (`on`) or work again (`!on`).
async fn break_recommendation_writes(store: &Store, on: bool) {
    let statements: &[&str] = match (store.backend(), on) {
        (upkeep::store::Backend::Sqlite, true) => &[
            "CREATE TRIGGER fail_recommendations BEFORE INSERT ON recommendations \
             BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
        ],
        (upkeep::store::Backend::Sqlite, false) => &["DROP TRIGGER fail_recommendations"],
        (upkeep::store::Backend::Postgres, true) => &[
            "CREATE FUNCTION fail_recommendations() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$",
            "CREATE TRIGGER fail_recommendations BEFORE INSERT ON recommendations \
             FOR EACH ROW EXECUTE FUNCTION fail_recommendations()",
        ],
        (upkeep::store::Backend::Postgres, false) => {
            &["DROP TRIGGER fail_recommendations ON recommendations"]
        }
    };
    for statement in statements {
        sqlx::raw_sql(sqlx::AssertSqlSafe(*statement))
            .execute(store.pool())
            .await
            .expect("trigger");
    }
}

#[tokio::test]
async fn a_recomputation_that_fails_after_the_lookup_is_redone_by_the_retry() {
    let (db, fakes, services) = setup().await;
    let store = &db.store;
    fakes.publish(
        Ecosystem::Npm,
        "left-pad",
        vec![v("1.0.0", 90), v("1.3.0", 30)],
    );
    let team_id = team(store, "retry").await;
    let repo = repository(store, team_id, "https://github.com/acme/retry").await;
    let manifest_id = manifest(store, repo, "package.json", Manager::Npm).await;
    let pkg = package(store, Ecosystem::Npm, "left-pad").await;
    let dep = dependency(
        store,
        &manifest_id,
        pkg,
        "dependencies/left-pad",
        "^1.0.0",
        Some("1.0.0"),
    )
    .await;

    break_recommendation_writes(store, true).await;
    let error = resolve_package(&services, pkg)
        .await
        .expect_err("the recomputation fails");
    assert!(error.to_string().contains("injected failure"), "{error}");
    assert_eq!(
        store.releases(pkg).await.expect("releases").len(),
        2,
        "the lookup was stored"
    );
    assert!(recommendations(store, dep).await.is_empty());
    let stored = store.package(pkg).await.expect("row").expect("exists");
    assert_eq!(stored.checked_at, None, "left due for the retry");

    break_recommendation_writes(store, false).await;
    resolve_package(&services, pkg).await.expect("the retry");
    assert_eq!(
        recommendations(store, dep).await,
        vec![rec("minor", "1.3.0", Some("^1.3.0"))]
    );
    assert_eq!(fakes.npm_requests(), 2);
}

#[tokio::test]
async fn the_scheduler_refreshes_packages_in_use_once_their_ttl_passed() {
    let db = fresh_db().await;
    let store = &db.store;
    let team_id = team(store, "sched").await;
    let repo = repository(store, team_id, "https://github.com/acme/sched").await;
    let manifest_id = manifest(store, repo, "package.json", Manager::Npm).await;
    let used = package(store, Ecosystem::Npm, "used").await;
    let fresh = package(store, Ecosystem::Npm, "fresh").await;
    let unused = package(store, Ecosystem::Npm, "unused").await;
    let local = package(store, Ecosystem::Npm, "local-only").await;
    dependency(store, &manifest_id, used, "dependencies/used", "^1", None).await;
    dependency(store, &manifest_id, fresh, "dependencies/fresh", "^1", None).await;
    let path_dep = dependency(
        store,
        &manifest_id,
        local,
        "dependencies/local-only",
        "file:../local",
        None,
    )
    .await;
    change_dependency(store, path_dep, |d| {
        d.skip_reason = Some(SkipReason::Local);
    })
    .await;
    expire(store, used).await;
    expire(store, unused).await;
    expire(store, local).await;
    sqlx::query("UPDATE packages SET checked_at = $1 WHERE id = $2")
        .bind(Utc::now().timestamp_millis())
        .bind(fresh)
        .execute(store.pool())
        .await
        .expect("fresh");
    let hour = std::time::Duration::from_hours(1);
    assert_eq!(
        upkeep::scheduler::enqueue_stale_packages(store, hour, 100)
            .await
            .expect("sweep"),
        1
    );
    // The job is pending: the next tick does not queue it twice.
    assert_eq!(
        upkeep::scheduler::enqueue_stale_packages(store, hour, 100)
            .await
            .expect("sweep"),
        0
    );
    let payloads: Vec<(String,)> =
        sqlx::query_as("SELECT payload FROM jobs WHERE kind = 'resolve_package'")
            .fetch_all(store.pool())
            .await
            .expect("jobs");
    let payloads: Vec<Value> = payloads
        .iter()
        .map(|(p,)| serde_json::from_str(p).expect("json"))
        .collect();
    assert_eq!(payloads, vec![json!({ "package_id": used })]);
}

async fn get(app: &TestApp, token: &str, path: &str) -> (u16, Value) {
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

#[tokio::test]
async fn fleet_api_dependencies_usages_recommendations_and_policy() {
    let app = TestApp::spawn().await;
    let store = app.db.store.clone();
    let fakes = Registries::start().await;
    let services = services(&store, &app.db.url, &fakes);
    fakes.publish(
        Ecosystem::Npm,
        "@acme/util",
        vec![v("1.0.0", 100), v("1.0.1", 90), v("2.0.0", 80)],
    );
    let token_a = app.team_token("alpha").await;
    let token_b = app.team_token("beta").await;
    let team_a = store
        .team_by_name("alpha")
        .await
        .expect("team")
        .expect("alpha")
        .id;
    let team_b = store
        .team_by_name("beta")
        .await
        .expect("team")
        .expect("beta")
        .id;
    let repo_a = repository(&store, team_a, "https://github.com/alpha/app").await;
    let repo_b = repository(&store, team_b, "https://github.com/beta/app").await;
    let pkg = package(&store, Ecosystem::Npm, "@acme/util").await;
    let manifest_a = manifest(&store, repo_a, "web/package.json", Manager::Npm).await;
    let dep_a = dependency(
        &store,
        &manifest_a,
        pkg,
        "dependencies/@acme/util",
        "^1.0.0",
        Some("1.0.0"),
    )
    .await;
    let manifest_b = manifest(&store, repo_b, "package.json", Manager::Npm).await;
    let dep_b = dependency(
        &store,
        &manifest_b,
        pkg,
        "dependencies/@acme/util",
        "^2.0.0",
        None,
    )
    .await;
    resolve_package(&services, pkg).await.expect("resolve");

    // Dependencies with latest, recommended and update kind; another team gets 403.
    let (status, body) = get(
        &app,
        &token_a,
        &format!("/api/v1/repositories/{repo_a}/dependencies"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let item = &body["items"][0];
    assert_eq!(item["id"], dep_a);
    assert_eq!(item["manifest"], "web/package.json");
    assert_eq!(item["manager"], "npm");
    assert_eq!(item["ecosystem"], "npm");
    assert_eq!(item["name"], "@acme/util");
    assert_eq!(item["requirement"], "^1.0.0");
    assert_eq!(item["locked"], "1.0.0");
    assert_eq!(item["current"], "1.0.0");
    assert_eq!(item["latest"], "2.0.0");
    assert_eq!(item["update"], "major");
    assert_eq!(item["recommended"], "1.0.1");
    assert_eq!(item["recommendations"].as_array().map(Vec::len), Some(2));
    assert_eq!(body["next"], Value::Null);
    let (status, body) = get(
        &app,
        &token_b,
        &format!("/api/v1/repositories/{repo_a}/dependencies"),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "forbidden");
    let (status, _) = get(&app, &token_a, "/api/v1/repositories/999999/dependencies").await;
    assert_eq!(status, 404);

    // Usages: literal and percent-encoded scoped names, team scope, `below`.
    for path in [
        "/api/v1/packages/npm/@acme/util/usages",
        "/api/v1/packages/npm/@acme%2Futil/usages",
    ] {
        let (status, body) = get(&app, &token_a, path).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert_eq!(body["name"], "@acme/util");
        let repos = body["items"].as_array().expect("items");
        assert_eq!(
            repos.len(),
            1,
            "team alpha sees only its repository: {body}"
        );
        assert_eq!(repos[0]["repository_id"], repo_a);
        assert_eq!(repos[0]["usages"][0]["manifest"], "web/package.json");
        assert_eq!(repos[0]["usages"][0]["version"], "1.0.0");
    }
    let (_, admin) = get(&app, ADMIN_TOKEN, "/api/v1/packages/npm/@acme/util/usages").await;
    assert_eq!(admin["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(admin["next"], Value::Null, "one page: {admin}");
    // Paged by repository id like every list: one repository a page, the cursor to the next.
    let (_, first) = get(
        &app,
        ADMIN_TOKEN,
        "/api/v1/packages/npm/@acme/util/usages?limit=1",
    )
    .await;
    let first_id = first["items"][0]["repository_id"].clone();
    assert_eq!(first["items"].as_array().map(Vec::len), Some(1), "{first}");
    assert_eq!(first["next"], first_id, "{first}");
    let (_, second) = get(
        &app,
        ADMIN_TOKEN,
        &format!("/api/v1/packages/npm/@acme/util/usages?limit=1&after={first_id}"),
    )
    .await;
    assert_eq!(
        second["items"].as_array().map(Vec::len),
        Some(1),
        "{second}"
    );
    assert_ne!(second["items"][0]["repository_id"], first_id);
    assert_eq!(second["next"], Value::Null, "{second}");
    let (_, below) = get(
        &app,
        ADMIN_TOKEN,
        "/api/v1/packages/npm/@acme/util/usages?below=2.0.0",
    )
    .await;
    let repos = below["items"].as_array().expect("items");
    assert_eq!(repos.len(), 1, "only 1.0.0 is below 2.0.0: {below}");
    assert_eq!(repos[0]["repository_id"], repo_a);
    let (_, below) = get(
        &app,
        ADMIN_TOKEN,
        "/api/v1/packages/npm/@acme/util/usages?below=1.0.0",
    )
    .await;
    assert_eq!(below["items"], json!([]));
    let (status, body) = get(&app, &token_b, "/api/v1/packages/npm/left-pad/usages").await;
    assert_eq!((status, body["items"].clone()), (200, json!([])));
    let (status, body) = get(&app, &token_a, "/api/v1/packages/rubygems/rails/usages").await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("ecosystem")
    );
    let (status, body) = get(
        &app,
        &token_a,
        "/api/v1/packages/npm/@acme/util/usages?below=not-a-version",
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("below")
    );
    let (status, _) = get(&app, &token_a, "/api/v1/packages/npm/@acme/util").await;
    assert_eq!(status, 404);

    // Recommendations: team-scoped, filtered, paginated.
    let (status, body) = get(&app, &token_a, "/api/v1/recommendations").await;
    assert_eq!(status, 200, "{body}");
    let items = body["items"].as_array().expect("items");
    assert_eq!(items.len(), 2);
    assert!(
        items
            .iter()
            .all(|i| i["repository_id"] == repo_a && i["dependency_id"] == dep_a)
    );
    let (_, body) = get(&app, &token_b, "/api/v1/recommendations").await;
    assert_eq!(body["items"], json!([]), "dep_b on ^2.0.0 is current");
    let (_, body) = get(
        &app,
        &token_a,
        "/api/v1/recommendations?kind=major&ecosystem=npm",
    )
    .await;
    let items = body["items"].as_array().expect("items");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["target_version"], "2.0.0");
    assert_eq!(items[0]["new_requirement"], "^2.0.0");
    let (_, first) = get(&app, &token_a, "/api/v1/recommendations?limit=1").await;
    assert_eq!(first["items"].as_array().map(Vec::len), Some(1));
    let next = first["next"].as_i64().expect("a next cursor");
    let (_, second) = get(
        &app,
        &token_a,
        &format!("/api/v1/recommendations?limit=1&after={next}"),
    )
    .await;
    assert_eq!(second["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(second["next"], Value::Null);
    assert_ne!(first["items"][0]["id"], second["items"][0]["id"]);
    let (status, _) = get(
        &app,
        &token_a,
        &format!("/api/v1/recommendations?repository={repo_b}"),
    )
    .await;
    assert_eq!(status, 403);
    let (status, body) = get(&app, &token_a, "/api/v1/recommendations?kind=huge").await;
    assert_eq!(status, 422);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("kind")
    );
    let (status, _) = get(&app, &token_a, "/api/v1/recommendations?ecosystem=cpan").await;
    assert_eq!(status, 422);

    // Policy: read, validated write, and recommendations follow through the job queue.
    let (status, policy) = get(
        &app,
        &token_a,
        &format!("/api/v1/repositories/{repo_a}/policy"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(policy["allow_major"], true);
    assert_eq!(policy["range_strategy"], "bump");
    let put = |token: &str, body: Value| {
        app.client
            .put(app.url(&format!("/api/v1/repositories/{repo_a}/policy")))
            .bearer_auth(token.to_owned())
            .json(&body)
            .send()
    };
    let response = put(&token_a, json!({ "cooldown_days": 9999 }))
        .await
        .expect("put");
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.expect("json");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("cooldown_days"),
        "{body}"
    );
    let response = put(&token_a, json!({ "alow_major": false }))
        .await
        .expect("put");
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.expect("json");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("alow_major"),
        "{body}"
    );
    let response = put(&token_b, json!({ "allow_major": false }))
        .await
        .expect("put");
    assert_eq!(response.status(), 403);
    let response = put(
        &token_a,
        json!({ "allow_major": false, "ignore": ["left-*"] }),
    )
    .await
    .expect("put");
    assert_eq!(response.status(), 200);
    let (_, policy) = get(
        &app,
        &token_a,
        &format!("/api/v1/repositories/{repo_a}/policy"),
    )
    .await;
    assert_eq!(policy["allow_major"], false);
    assert_eq!(policy["ignore"], json!(["left-*"]));
    // The app's workers run the queued recommend_repository job.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (_, body) = get(&app, &token_a, "/api/v1/recommendations?kind=major").await;
        if body["items"] == json!([]) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "major recommendation still there: {body}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (_, body) = get(&app, &token_a, "/api/v1/recommendations").await;
    assert_eq!(body["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(body["items"][0]["kind"], "patch");
    let _ = dep_b;
    app.stop().await;
}

/// The dependency listing answers under each repository's own policy: with a policy that forbids
/// majors and ignores a package, stored before any recomputation ran (as a crawl of a changed
/// `.upkeep.toml` stores it), the listing shows no major and nothing for the ignored package,
/// while another repository on the same packages under the default policy shows both.
#[tokio::test]
async fn fleet_dependency_listing_follows_each_repository_policy() {
    let app = TestApp::spawn().await;
    let store = app.db.store.clone();
    let fakes = Registries::start().await;
    let services = services(&store, &app.db.url, &fakes);
    fakes.publish(
        Ecosystem::Npm,
        "@acme/util",
        vec![v("1.0.0", 100), v("1.0.1", 90), v("2.0.0", 80)],
    );
    fakes.publish(
        Ecosystem::Npm,
        "left-pad",
        vec![v("1.0.0", 100), v("1.3.0", 50)],
    );
    let token = app.team_token("alpha").await;
    let team_id = store
        .team_by_name("alpha")
        .await
        .expect("team")
        .expect("alpha")
        .id;
    let strict = repository(&store, team_id, "https://github.com/alpha/strict").await;
    let relaxed = repository(&store, team_id, "https://github.com/alpha/relaxed").await;
    let util = package(&store, Ecosystem::Npm, "@acme/util").await;
    let left_pad = package(&store, Ecosystem::Npm, "left-pad").await;
    for repo in [strict, relaxed] {
        let manifest_id = manifest(&store, repo, "package.json", Manager::Npm).await;
        dependency(
            &store,
            &manifest_id,
            util,
            "dependencies/@acme/util",
            "^1.0.0",
            Some("1.0.0"),
        )
        .await;
        dependency(
            &store,
            &manifest_id,
            left_pad,
            "dependencies/left-pad",
            "^1.0.0",
            Some("1.0.0"),
        )
        .await;
    }
    resolve_package(&services, util).await.expect("resolve");
    resolve_package(&services, left_pad).await.expect("resolve");
    set_policy(
        &store,
        strict,
        &json!({ "allow_major": false, "ignore": ["left-*"] }),
    )
    .await;

    let listing = |repo: i64| {
        let app = &app;
        let token = token.clone();
        async move {
            let (status, body) = get(
                app,
                &token,
                &format!("/api/v1/repositories/{repo}/dependencies"),
            )
            .await;
            assert_eq!(status, 200, "{body}");
            let items = body["items"].as_array().cloned().unwrap_or_default();
            let by_name = |name: &str| {
                items
                    .iter()
                    .find(|item| item["name"] == name)
                    .cloned()
                    .unwrap_or_else(|| panic!("{name} is listed: {body}"))
            };
            (by_name("@acme/util"), by_name("left-pad"))
        }
    };
    let kinds = |item: &Value| -> Vec<String> {
        item["recommendations"]
            .as_array()
            .map(|recs| {
                recs.iter()
                    .map(|r| r["kind"].as_str().unwrap_or_default().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    };

    let (util_item, left_pad_item) = listing(strict).await;
    assert_eq!(kinds(&util_item), vec!["patch"], "no major: {util_item}");
    assert_eq!(util_item["recommended"], "1.0.1");
    assert_eq!(util_item["recommendations"][0]["new_requirement"], "^1.0.1");
    assert_eq!(
        kinds(&left_pad_item),
        Vec::<String>::new(),
        "ignored: {left_pad_item}"
    );
    assert_eq!(left_pad_item["recommended"], Value::Null);
    // The facts about the dependency do not depend on the policy.
    assert_eq!(util_item["latest"], "2.0.0");
    assert_eq!(util_item["update"], "major");
    assert_eq!(left_pad_item["latest"], "1.3.0");

    let (util_item, left_pad_item) = listing(relaxed).await;
    assert_eq!(kinds(&util_item), vec!["patch", "major"], "{util_item}");
    assert_eq!(util_item["recommended"], "1.0.1");
    assert_eq!(kinds(&left_pad_item), vec!["minor"], "{left_pad_item}");
    assert_eq!(left_pad_item["recommended"], "1.3.0");
    app.stop().await;
}
