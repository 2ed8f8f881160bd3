//! Issue 12's wrong answers and invisible problems, at the boundaries where they were seen: a
//! `.upkeep.toml` change found by a crawl recomputes the stored recommendations; `upkeep scan`
//! and the service give the same recommendation on one tree; lookup failures and crawl warnings
//! reach the API and the scan output. Local git repositories and the fake registries; SQLite by
//! default, PostgreSQL when `UPKEEP_TEST_DATABASE_URL` is set.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Value, json};
use upkeep::jobs::crawl::Crawl;
use upkeep_resolvers::Ecosystem;

use crate::support::app::{TestApp, wait_for_idle_queue};
use crate::support::fake_registries::FakeRegistries;
use crate::support::git::GitRepo;

const SETTLE: Duration = Duration::from_secs(90);

/// The app wired to the fake registries, with one team.
struct Service {
    app: TestApp,
    token: String,
}

impl Service {
    async fn start(registries: &FakeRegistries) -> Service {
        let urls = registries.base_urls();
        let app = TestApp::spawn_with(|config| config.registries.extend(urls)).await;
        let token = app.team_token("acme").await;
        Service { app, token }
    }

    async fn get(&self, path: &str) -> Value {
        let response = self
            .app
            .client
            .get(self.app.url(path))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("request");
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    /// Register `repo` (a local path) and wait until its crawl and follow-up jobs are done.
    async fn register(&self, repo: &GitRepo) -> i64 {
        let response = self
            .app
            .client
            .post(self.app.url("/api/v1/repositories"))
            .bearer_auth(&self.token)
            .json(&json!({ "url": repo.path() }))
            .send()
            .await
            .expect("register");
        let status = response.status();
        let body: Value = response.json().await.expect("json");
        assert_eq!(status, 201, "{body}");
        let id = body["id"].as_i64().expect("id");
        self.settle().await;
        id
    }

    /// Queue a crawl of `id` and wait until it and its follow-up jobs are done.
    async fn crawl(&self, id: i64) {
        upkeep::jobs::enqueue(&self.app.db.store, &Crawl { repository_id: id })
            .await
            .expect("queue a crawl");
        self.settle().await;
    }

    async fn settle(&self) {
        wait_for_idle_queue(&self.app.db.store, SETTLE).await;
    }

    /// The stored recommendations of repository `id`: (package, kind, target).
    async fn stored_recommendations(&self, id: i64) -> BTreeSet<(String, String, String)> {
        let page = self
            .get(&format!(
                "/api/v1/recommendations?repository={id}&limit=500"
            ))
            .await;
        page["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|r| {
                (
                    r["name"].as_str().unwrap_or_default().to_owned(),
                    r["kind"].as_str().unwrap_or_default().to_owned(),
                    r["target_version"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }

    /// The dependency listing of repository `id`.
    async fn dependencies(&self, id: i64) -> Vec<Value> {
        let page = self
            .get(&format!("/api/v1/repositories/{id}/dependencies?limit=500"))
            .await;
        page["items"].as_array().expect("items").clone()
    }
}

fn rec(name: &str, kind: &str, target: &str) -> (String, String, String) {
    (name.to_owned(), kind.to_owned(), target.to_owned())
}

fn python_registries(registries: &FakeRegistries) {
    registries.set_versions(
        Ecosystem::Pypi,
        "django",
        &["3.2.0", "3.2.25", "4.2.0", "6.1.3"],
    );
    registries.set_versions(Ecosystem::Pypi, "celery", &["5.0.0", "5.3.6"]);
}

const REQUIREMENTS: &str = "django==3.2.0\ncelery==5.0.0\n";

#[tokio::test]
async fn a_policy_file_changed_by_a_crawl_recomputes_the_stored_recommendations() {
    let registries = FakeRegistries::start().await;
    python_registries(&registries);
    let service = Service::start(&registries).await;
    let repo = GitRepo::with_files(&[("requirements.txt", REQUIREMENTS)]);
    let id = service.register(&repo).await;
    assert_eq!(
        service.stored_recommendations(id).await,
        BTreeSet::from([
            rec("celery", "minor", "5.3.6"),
            rec("django", "patch", "3.2.25"),
            rec("django", "major", "6.1.3"),
        ])
    );

    repo.write(
        ".upkeep.toml",
        "[policy]\nignore = [\"celery\"]\nallow_major = false\n",
    );
    repo.commit("policy: no majors, leave celery alone");
    service.crawl(id).await;
    let policy = service
        .get(&format!("/api/v1/repositories/{id}/policy"))
        .await;
    assert_eq!(policy["allow_major"], false, "{policy}");
    assert_eq!(
        service.stored_recommendations(id).await,
        BTreeSet::from([rec("django", "patch", "3.2.25")]),
        "the stored recommendations follow the policy file"
    );

    // Removing the file restores the default policy, and the recommendations with it.
    repo.remove(".upkeep.toml");
    repo.commit("default policy");
    service.crawl(id).await;
    assert_eq!(
        service.stored_recommendations(id).await,
        BTreeSet::from([
            rec("celery", "minor", "5.3.6"),
            rec("django", "patch", "3.2.25"),
            rec("django", "major", "6.1.3"),
        ])
    );
    service.app.stop().await;
    registries.stop().await;
}

/// `upkeep scan PATH --format json` against the fake registries, run off the async runtime (the
/// fakes are served by it).
async fn scan_json(registries: &FakeRegistries, path: &str) -> Value {
    let pypi = registries
        .base_url(Ecosystem::Pypi)
        .expect("pypi is served");
    let npm = registries.base_url(Ecosystem::Npm).expect("npm is served");
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || {
        let cache = tempfile::tempdir().expect("temp dir");
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_upkeep"));
        command.current_dir(cache.path());
        for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("UPKEEP_")) {
            command.env_remove(key);
        }
        let output = command
            .env("UPKEEP_REGISTRY_PYPI", pypi)
            .env("UPKEEP_REGISTRY_NPM", npm)
            .env("UPKEEP_CACHE_DIR", cache.path().join("cache"))
            .env("RUST_LOG", "off")
            .args(["scan", &path, "--format", "json"])
            .output()
            .expect("run upkeep scan");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "scan failed: {}\n{stdout}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
    })
    .await
    .expect("the scan thread")
}

/// `name` → (recommended, problem code) of every entry of `items` (a scan's dependencies or the
/// API's dependency listing: both name the fields alike).
fn answers(items: &[Value]) -> Vec<(String, Value, Value)> {
    let mut out: Vec<(String, Value, Value)> = items
        .iter()
        .map(|d| {
            (
                d["name"].as_str().unwrap_or_default().to_owned(),
                d["recommended"].clone(),
                d["problem"]["code"].clone(),
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// `name` → (current, latest, update) of every entry of `items`: the facts, which do not depend
/// on the policy.
fn facts(items: &[Value]) -> Vec<(String, Value, Value, Value)> {
    let mut out: Vec<(String, Value, Value, Value)> = items
        .iter()
        .map(|d| {
            (
                d["name"].as_str().unwrap_or_default().to_owned(),
                d["current"].clone(),
                d["latest"].clone(),
                d["update"].clone(),
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_and_the_service_recommend_the_same_versions_under_the_trees_policy() {
    let registries = FakeRegistries::start().await;
    python_registries(&registries);
    registries.set_versions(Ecosystem::Npm, "left-pad", &["1.0.0", "1.3.0", "2.0.0"]);
    let repo = GitRepo::with_files(&[
        (
            "requirements.txt",
            "django==3.2.0\ncelery==5.0.0\nrequests==2.30.0\n",
        ),
        (
            "package.json",
            "{\"name\": \"web\", \"dependencies\": {\"left-pad\": \"^1.0.0\"}}\n",
        ),
        (".upkeep.toml", "[policy]\nignore = [\"celery\"]\n"),
    ]);
    registries.set_versions(Ecosystem::Pypi, "requests", &["2.30.0", "2.32.3"]);
    let scanned = scan_json(&registries, repo.path()).await;
    let service = Service::start(&registries).await;
    let id = service.register(&repo).await;
    let listed = service.dependencies(id).await;

    let scanned_items = scanned["dependencies"].as_array().expect("dependencies");
    let scan_answers = answers(scanned_items);
    assert_eq!(scan_answers, answers(&listed), "scan {scanned:#}");
    assert_eq!(facts(scanned_items), facts(&listed), "scan {scanned:#}");
    // And the answers are the service's: the newest release of the current major first, the
    // ignored package left alone.
    assert_eq!(
        scan_answers,
        vec![
            ("celery".to_owned(), Value::Null, Value::Null),
            ("django".to_owned(), json!("3.2.25"), Value::Null),
            ("left-pad".to_owned(), json!("1.3.0"), Value::Null),
            ("requests".to_owned(), json!("2.32.3"), Value::Null),
        ]
    );
    service.app.stop().await;
    registries.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookup_problems_are_shown_on_each_dependency_and_counted_on_the_repository() {
    let registries = FakeRegistries::start().await;
    python_registries(&registries);
    registries.remove(Ecosystem::Pypi, "ghost");
    let repo = GitRepo::with_files(&[(
        "requirements.txt",
        "django==3.2.0\nghost==1.0.0\ncelery==9.9.9\n",
    )]);
    let service = Service::start(&registries).await;
    let id = service.register(&repo).await;

    let listed = service.dependencies(id).await;
    let problem = |name: &str| -> Value {
        listed
            .iter()
            .find(|d| d["name"] == name)
            .unwrap_or_else(|| panic!("{name} is listed"))["problem"]
            .clone()
    };
    assert_eq!(problem("ghost")["code"], "not_found", "{listed:#?}");
    assert!(
        problem("ghost")["message"]
            .as_str()
            .is_some_and(|m| m.contains("not found")),
        "{listed:#?}"
    );
    assert_eq!(problem("celery")["code"], "no_matching_release");
    assert!(
        problem("celery")["message"]
            .as_str()
            .is_some_and(|m| m.contains("==9.9.9")),
        "{listed:#?}"
    );
    assert_eq!(problem("django"), Value::Null);

    // A package the registry does not know is a permanent failure: one lookup, no retries.
    let failed = sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM jobs WHERE state = 'failed' OR attempts > 1",
    )
    .fetch_one(service.app.db.store.pool())
    .await
    .expect("count jobs");
    assert_eq!(failed, 0, "no job failed or was retried");

    let repository = service.get(&format!("/api/v1/repositories/{id}")).await;
    assert_eq!(
        repository["dependencies_with_problems"], 2,
        "{repository:#}"
    );

    // The scan says the same about the same tree.
    let scanned = scan_json(&registries, repo.path()).await;
    let scan_answers = answers(scanned["dependencies"].as_array().expect("dependencies"));
    assert_eq!(scan_answers, answers(&listed), "scan {scanned:#}");
    service.app.stop().await;
    registries.stop().await;
}

#[tokio::test]
async fn the_repository_shows_its_last_crawl_and_the_warnings_on_its_files() {
    let registries = FakeRegistries::start().await;
    python_registries(&registries);
    let repo = GitRepo::init();
    repo.write("requirements.txt", REQUIREMENTS);
    repo.write("package.json", "{ \"dependencies\": ");
    repo.write(".upkeep.toml", "[policy]\nallow_majors = false\n");
    let head = repo.commit("broken files");
    let service = Service::start(&registries).await;
    let id = service.register(&repo).await;

    let repository = service.get(&format!("/api/v1/repositories/{id}")).await;
    let crawl = &repository["last_crawl"];
    assert_eq!(crawl["status"], "completed", "{repository:#}");
    assert_eq!(crawl["commit"], head.as_str());
    assert!(crawl["started_at"].is_string(), "{repository:#}");
    assert!(crawl["finished_at"].is_string(), "{repository:#}");
    assert!(crawl["duration_ms"].as_i64().is_some_and(|d| d >= 0));
    assert_eq!(crawl["error"], Value::Null);
    let warnings = repository["warnings"].as_array().expect("warnings");
    let on = |file: &str| -> Vec<String> {
        warnings
            .iter()
            .filter(|w| w["file"] == file)
            .map(|w| w["message"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    assert!(
        on(".upkeep.toml")
            .iter()
            .any(|m| m.contains("allow_majors")),
        "{repository:#}"
    );
    assert!(!on("package.json").is_empty(), "{repository:#}");
    assert_eq!(repository["dependencies_with_problems"], 0);

    // A crawl that finds the head unchanged says so, with the commit it found.
    service.crawl(id).await;
    let repository = service.get(&format!("/api/v1/repositories/{id}")).await;
    assert_eq!(
        repository["last_crawl"]["status"], "unchanged",
        "{repository:#}"
    );
    assert_eq!(repository["last_crawl"]["commit"], head.as_str());
    assert_eq!(
        repository["warnings"].as_array().map(Vec::len),
        Some(warnings.len())
    );
    service.app.stop().await;
    registries.stop().await;
}

/// Issue 12 point 4: a repository declaring `requires-python = ">=3.8"` is not recommended a
/// django that needs Python 3.12; the listing names the release the runtime holds back, and
/// raising the declared runtime (a crawl changing only `requires-python`) recomputes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn releases_the_declared_runtime_cannot_run_are_not_recommended_and_the_listing_says_why() {
    let registries = FakeRegistries::start().await;
    registries.set_versions_requiring(
        Ecosystem::Pypi,
        "django",
        &[
            ("4.2.0", Some(">=3.8")),
            ("4.2.20", Some(">=3.8")),
            ("5.2.8", Some(">=3.10")),
            ("6.1.3", Some(">=3.12")),
        ],
    );
    let pyproject = |requires_python: &str| {
        format!(
            "[project]\nname = \"app\"\nversion = \"0.1.0\"\nrequires-python = \"{requires_python}\"\ndependencies = [\"django==4.2.0\"]\n"
        )
    };
    let repo = GitRepo::with_files(&[("pyproject.toml", &pyproject(">=3.8"))]);
    let mut urls = registries.base_urls();
    // The `python` toolchain entry is looked up too: on the fake, where it is not found.
    urls.push((
        "python".to_owned(),
        registries
            .base_url(Ecosystem::Pypi)
            .expect("pypi is served"),
    ));
    let app = TestApp::spawn_with(|config| config.registries.extend(urls)).await;
    let token = app.team_token("acme").await;
    let service = Service { app, token };
    let id = service.register(&repo).await;

    assert_eq!(
        service.stored_recommendations(id).await,
        BTreeSet::from([rec("django", "patch", "4.2.20")]),
        "5.2.8 needs Python 3.10 and 6.1.3 needs 3.12: no major fits Python 3.8"
    );
    let listed = service.dependencies(id).await;
    let django = listed
        .iter()
        .find(|d| d["name"] == "django")
        .unwrap_or_else(|| panic!("no django: {listed:#?}"));
    assert_eq!(django["latest"], "6.1.3", "{django:#}");
    assert_eq!(django["recommended"], "4.2.20", "{django:#}");
    assert_eq!(
        django["blocked_by_runtime"],
        json!({"version": "6.1.3", "runtime": "python", "requires": ">=3.12", "runtime_version": "3.8"}),
        "{django:#}"
    );
    // `upkeep deps` on the service's database says the same.
    let deps = std::process::Command::new(env!("CARGO_BIN_EXE_upkeep"))
        .args(["deps", &id.to_string()])
        .env("UPKEEP_DATABASE_URL", &service.app.db.url)
        .env("RUST_LOG", "off")
        .output()
        .expect("run upkeep deps");
    let table = String::from_utf8_lossy(&deps.stdout);
    assert!(deps.status.success(), "{table}");
    let row = table
        .lines()
        .find(|l| l.contains("django"))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(
        row.contains("4.2.20 (patch); 6.1.3 needs Python >=3.12 (declared: Python 3.8)"),
        "{table}"
    );

    // Only the declared runtime changes: every recommendation is recomputed under it.
    repo.write("pyproject.toml", pyproject(">=3.12"));
    repo.commit("require Python 3.12");
    service.crawl(id).await;
    assert_eq!(
        service.stored_recommendations(id).await,
        BTreeSet::from([
            rec("django", "patch", "4.2.20"),
            rec("django", "major", "6.1.3"),
        ])
    );
    let listed = service.dependencies(id).await;
    let django = listed
        .iter()
        .find(|d| d["name"] == "django")
        .unwrap_or_else(|| panic!("no django: {listed:#?}"));
    assert_eq!(django["blocked_by_runtime"], Value::Null, "{django:#}");
    service.app.stop().await;
    registries.stop().await;
}
