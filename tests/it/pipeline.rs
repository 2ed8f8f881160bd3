//! The whole pipeline end to end (issue 5 "Tests"): three repositories (two on a fake GitHub, one
//! local git repository) registered through the API → crawl → resolve against the fake registries
//! → recommendations, and the same events visible by cursor, on the server-sent event stream, at a
//! signed webhook receiver and (with `UPKEEP_TEST_NATS_URL`) on a JetStream consumer. A recrawl
//! with nothing changed makes one conditional GitHub request per GitHub repository and emits no
//! event. SQLite by default, PostgreSQL when `UPKEEP_TEST_DATABASE_URL` is set.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use sqlx::Row;
use upkeep::config::Config;
use upkeep::jobs::crawl::Crawl;
use upkeep_resolvers::Ecosystem;

use crate::support::app::{self, TestApp};
use crate::support::fake_github::FakeGithub;
use crate::support::fake_registries::{FakeRegistries, FakeRegistryOptions};
use crate::support::git::GitRepo;

const WEB_PACKAGE_JSON: &str = "{\n  \"name\": \"web\",\n  \"dependencies\": {\"left-pad\": \"^1.0.0\", \"express\": \"4.17.0\"}\n}\n";
const WEB_PACKAGE_LOCK: &str = "{\"name\": \"web\", \"lockfileVersion\": 3, \"packages\": {\"\": {\"name\": \"web\"}, \"node_modules/left-pad\": {\"version\": \"1.0.0\"}, \"node_modules/express\": {\"version\": \"4.17.0\"}}}\n";
const SVC_CARGO_TOML: &str = "[package]\nname = \"svc\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\nserde = \"1.0.100\"\n";
const SVC_CARGO_LOCK: &str = "version = 4\n\n[[package]]\nname = \"svc\"\nversion = \"0.1.0\"\ndependencies = [\"serde\"]\n\n[[package]]\nname = \"serde\"\nversion = \"1.0.100\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n";
const SVC_REQUIREMENTS: &str = "requests==2.30.0\n";
const LOCAL_CARGO_TOML: &str = "[package]\nname = \"tool\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\nitoa = \"1.0.1\"\n";
const LOCAL_CARGO_LOCK: &str = "version = 4\n\n[[package]]\nname = \"tool\"\nversion = \"0.1.0\"\ndependencies = [\"itoa\"]\n\n[[package]]\nname = \"itoa\"\nversion = \"1.0.1\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n";

const WEBHOOK_SECRET: &str = "pipeline-webhook-secret-0001";
const SETTLE: Duration = Duration::from_secs(90);

/// One request the webhook receiver got.
#[derive(Clone)]
struct Received {
    headers: HeaderMap,
    body: Vec<u8>,
}

/// A local webhook receiver on 127.0.0.1 that answers 200 and keeps what it got.
struct Receiver {
    url: String,
    seen: Arc<Mutex<Vec<Received>>>,
}

async fn receiver() -> Receiver {
    let seen: Arc<Mutex<Vec<Received>>> = Arc::default();
    let record = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let record = record.clone();
            async move {
                record.lock().unwrap().push(Received {
                    headers,
                    body: body.to_vec(),
                });
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Receiver {
        url: format!("http://{addr}/hook"),
        seen,
    }
}

impl Receiver {
    fn seen(&self) -> Vec<Received> {
        self.seen.lock().unwrap().clone()
    }
}

/// The app wired to the fakes, one team, and the three repositories' sources.
struct Pipeline {
    app: TestApp,
    github: FakeGithub,
    registries: FakeRegistries,
    local: GitRepo,
    token: String,
}

impl Pipeline {
    async fn start(adjust: impl FnOnce(&mut Config)) -> Pipeline {
        let github = FakeGithub::start().await;
        let registries = FakeRegistries::start_with(FakeRegistryOptions::default()).await;
        // Pinned histories, so every repository has something to update.
        registries.set_versions(Ecosystem::Npm, "left-pad", &["1.0.0", "1.3.0", "2.0.0"]);
        registries.set_versions(Ecosystem::Npm, "express", &["4.17.0", "4.21.2", "5.1.0"]);
        registries.set_versions(Ecosystem::Cargo, "serde", &["1.0.100", "1.0.219"]);
        registries.set_versions(Ecosystem::Pypi, "requests", &["2.30.0", "2.32.3"]);
        registries.set_versions(Ecosystem::Cargo, "itoa", &["1.0.1", "1.0.15", "2.0.0"]);
        github.add_repo(
            "acme",
            "web",
            "main",
            &[
                ("package.json", WEB_PACKAGE_JSON),
                ("package-lock.json", WEB_PACKAGE_LOCK),
            ],
        );
        github.add_repo(
            "acme",
            "svc",
            "main",
            &[
                ("Cargo.toml", SVC_CARGO_TOML),
                ("Cargo.lock", SVC_CARGO_LOCK),
                ("requirements.txt", SVC_REQUIREMENTS),
            ],
        );
        let local = GitRepo::with_files(&[
            ("Cargo.toml", LOCAL_CARGO_TOML),
            ("Cargo.lock", LOCAL_CARGO_LOCK),
        ]);
        let github_url = github.url();
        let registry_urls = registries.base_urls();
        let app = TestApp::spawn_with(|config| {
            config.github_api_url = github_url;
            config.registries.extend(registry_urls);
            config.webhook_allow_private_targets = true;
            config.workers = 4;
            adjust(config);
        })
        .await;
        let token = app.team_token("acme").await;
        Pipeline {
            app,
            github,
            registries,
            local,
            token,
        }
    }

    async fn get(&self, path: &str) -> Value {
        let response = self
            .app
            .client
            .get(self.app.url(path))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.unwrap()
    }

    async fn subscribe(&self, url: &str) -> i64 {
        let types: Vec<&str> = upkeep::events::Event::TYPES
            .iter()
            .map(|(_, kind)| *kind)
            .collect();
        let response = self
            .app
            .client
            .post(self.app.url("/api/v1/subscriptions"))
            .bearer_auth(&self.token)
            .json(&json!({ "url": url, "types": types, "secret": WEBHOOK_SECRET }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        response.json::<Value>().await.unwrap()["id"]
            .as_i64()
            .unwrap()
    }

    /// Register the three repositories through the API; returns their ids.
    async fn register_all(&self) -> Vec<i64> {
        let mut ids = Vec::new();
        for url in [
            "https://github.com/acme/web",
            "https://github.com/acme/svc",
            self.local.path(),
        ] {
            let response = self
                .app
                .client
                .post(self.app.url("/api/v1/repositories"))
                .bearer_auth(&self.token)
                .json(&json!({ "url": url }))
                .send()
                .await
                .unwrap();
            let status = response.status();
            let body: Value = response.json().await.unwrap();
            assert_eq!(status, 201, "register {url}: {body}");
            ids.push(body["id"].as_i64().unwrap());
        }
        ids
    }

    /// Jobs pending or running.
    async fn busy_jobs(&self) -> i64 {
        crate::support::app::busy_jobs(&self.app.db.store).await
    }

    async fn failed_jobs(&self) -> Vec<(String, String)> {
        sqlx::query("SELECT kind, payload FROM jobs WHERE state = 'failed'")
            .fetch_all(self.app.db.store.pool())
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get("kind"), r.get("payload")))
            .collect()
    }

    /// Every recommendation the team sees, following the pages.
    async fn recommendations(&self) -> Vec<Value> {
        let mut items = Vec::new();
        let mut path = "/api/v1/recommendations?limit=500".to_owned();
        loop {
            let page = self.get(&path).await;
            items.extend(page["items"].as_array().unwrap().iter().cloned());
            match page["next"].as_i64() {
                Some(next) => path = format!("/api/v1/recommendations?limit=500&after={next}"),
                None => return items,
            }
        }
    }

    /// Wait (bounded) until every repository has recommendations and no job is left.
    async fn wait_for_recommendations(&self, repositories: &[i64]) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + SETTLE;
        loop {
            let items = self.recommendations().await;
            let covered: BTreeSet<i64> = items
                .iter()
                .filter_map(|i| i["repository_id"].as_i64())
                .collect();
            let busy = self.busy_jobs().await;
            if repositories.iter().all(|r| covered.contains(r)) && busy == 0 {
                return items;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "recommendations for {repositories:?} did not appear in time: {covered:?} have \
                 some, {busy} jobs busy, failed jobs {:?}",
                self.failed_jobs().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Wait (bounded) until no job is pending or running.
    async fn wait_idle(&self) {
        crate::support::app::wait_for_idle_queue(&self.app.db.store, SETTLE).await;
    }

    /// The team's events by cursor, following `next_after` to the end.
    async fn cursor_events(&self) -> Vec<Value> {
        let mut events = Vec::new();
        let mut after = 0;
        loop {
            let page = self
                .get(&format!("/api/v1/events?after={after}&limit=1000"))
                .await;
            let batch = page["events"].as_array().unwrap().clone();
            if batch.is_empty() {
                return events;
            }
            after = page["next_after"].as_i64().unwrap();
            events.extend(batch);
        }
    }
}

/// Read server-sent events from the start of the stream until every id in `want` arrived.
async fn sse_ids(pipeline: &Pipeline, want: &BTreeSet<String>) -> BTreeSet<String> {
    let mut response = pipeline
        .app
        .client
        .get(pipeline.app.url("/api/v1/events/stream"))
        .bearer_auth(&pipeline.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut buffer = String::new();
    let mut seen = BTreeSet::new();
    let read = async {
        while !want.is_subset(&seen) {
            while let Some(end) = buffer.find("\n\n") {
                let frame: String = buffer.drain(..end + 2).collect();
                let data: String = frame
                    .lines()
                    .filter_map(|l| l.strip_prefix("data:"))
                    .map(str::trim_start)
                    .collect();
                if data.is_empty() {
                    continue;
                }
                let event: Value = serde_json::from_str(&data).unwrap();
                if let Some(id) = event["id"].as_str() {
                    seen.insert(id.to_owned());
                }
            }
            if want.is_subset(&seen) {
                break;
            }
            let chunk = response
                .chunk()
                .await
                .unwrap()
                .expect("the stream stays open");
            buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    };
    tokio::time::timeout(Duration::from_secs(30), read)
        .await
        .unwrap_or_else(|_| panic!("SSE delivered {} of {} events", seen.len(), want.len()));
    seen
}

/// Wait (bounded) until the receiver got every id in `want`; checks each signature.
async fn webhook_ids(hook: &Receiver, want: &BTreeSet<String>) -> BTreeSet<String> {
    let deadline = tokio::time::Instant::now() + SETTLE;
    loop {
        let mut ids = BTreeSet::new();
        for request in hook.seen() {
            let signature = request.headers["x-upkeep-signature-256"].to_str().unwrap();
            assert_eq!(
                signature,
                app::sha256_signature(WEBHOOK_SECRET, &request.body),
                "every delivery is signed with HMAC-SHA256 of its body"
            );
            let body: Value = serde_json::from_slice(&request.body).unwrap();
            assert_eq!(
                request.headers["x-upkeep-event"].to_str().unwrap(),
                body["type"].as_str().unwrap()
            );
            ids.insert(body["id"].as_str().unwrap().to_owned());
        }
        if want.is_subset(&ids) {
            return ids;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the webhook receiver got {} of {} events",
            ids.len(),
            want.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn ids(events: &[Value]) -> BTreeSet<String> {
    events
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn three_repositories_flow_to_recommendations_and_every_event_boundary() {
    let pipeline = Pipeline::start(|_| {}).await;
    let hook = receiver().await;
    let subscription = pipeline.subscribe(&hook.url).await;
    let repositories = pipeline.register_all().await;

    let recommendations = pipeline.wait_for_recommendations(&repositories).await;
    let mut by_name: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for item in &recommendations {
        by_name
            .entry(format!(
                "{}:{}",
                item["ecosystem"].as_str().unwrap(),
                item["name"].as_str().unwrap()
            ))
            .or_default()
            .push(item["target_version"].as_str().unwrap().to_owned());
    }
    for (package, target) in [
        ("npm:left-pad", "2.0.0"),
        ("npm:express", "5.1.0"),
        ("cargo:serde", "1.0.219"),
        ("pypi:requests", "2.32.3"),
        ("cargo:itoa", "2.0.0"),
    ] {
        assert!(
            by_name
                .get(package)
                .is_some_and(|t| t.iter().any(|t| t == target)),
            "{package} is recommended {target}: {by_name:?}"
        );
    }
    // Each repository's dependencies are visible with their latest versions.
    for id in &repositories {
        let page = pipeline
            .get(&format!("/api/v1/repositories/{id}/dependencies"))
            .await;
        let items = page["items"].as_array().unwrap();
        assert!(!items.is_empty(), "repository {id} has dependencies");
        assert!(
            items.iter().all(|d| d["latest"].is_string()),
            "every dependency of {id} is resolved: {page}"
        );
    }
    let stats = pipeline.registries.stats();
    assert!(stats.total().requests > 0 && stats.unrouted == 0);

    // The same events by cursor, on the stream and at the webhook receiver.
    let cursor = pipeline.cursor_events().await;
    let kinds: BTreeSet<&str> = cursor.iter().map(|e| e["type"].as_str().unwrap()).collect();
    for kind in [
        "repository_upserted",
        "dependency_upserted",
        "crawl_completed",
        "recommendation_upserted",
    ] {
        assert!(kinds.contains(kind), "a {kind} event: {kinds:?}");
    }
    let cursor_ids = ids(&cursor);
    assert_eq!(cursor_ids.len(), cursor.len(), "event ids are unique");
    let stream_ids = sse_ids(&pipeline, &cursor_ids).await;
    assert_eq!(stream_ids, cursor_ids, "SSE shows the same events");
    let hook_ids = webhook_ids(&hook, &cursor_ids).await;
    assert_eq!(
        hook_ids, cursor_ids,
        "the webhook receiver got the same events"
    );
    assert_eq!(
        hook.seen().len(),
        cursor.len(),
        "each event is delivered once"
    );
    let deliveries = pipeline
        .get(&format!(
            "/api/v1/subscriptions/{subscription}/deliveries?status=delivered&limit=500"
        ))
        .await;
    assert_eq!(
        deliveries["items"].as_array().unwrap().len(),
        cursor.len().min(500)
    );

    // A recrawl with nothing changed: one conditional request per GitHub repository, no event.
    pipeline.wait_idle().await;
    pipeline.github.reset_counters();
    let registry_before = pipeline.registries.stats();
    let store = &pipeline.app.db.store;
    let crawls_before: i64 = sqlx::query("SELECT COUNT(*) AS n FROM crawls")
        .fetch_one(store.pool())
        .await
        .unwrap()
        .get("n");
    for id in &repositories {
        upkeep::jobs::enqueue(store, &Crawl { repository_id: *id })
            .await
            .unwrap()
            .expect("no crawl is pending");
    }
    pipeline.wait_idle().await;
    let crawls_after: i64 = sqlx::query("SELECT COUNT(*) AS n FROM crawls")
        .fetch_one(store.pool())
        .await
        .unwrap()
        .get("n");
    assert_eq!(
        crawls_after - crawls_before,
        3,
        "every repository recrawled"
    );
    assert_eq!(
        pipeline.github.request_counts(),
        BTreeMap::from([("branch".to_owned(), 2)]),
        "one branch request per GitHub repository"
    );
    assert_eq!(pipeline.github.not_modified(), 2, "both answered 304");
    assert_eq!(
        pipeline
            .registries
            .stats()
            .since(&registry_before)
            .total()
            .bodies,
        0,
        "nothing is downloaded again"
    );
    assert_eq!(
        ids(&pipeline.cursor_events().await),
        cursor_ids,
        "a recrawl with no change emits no event"
    );
    assert!(pipeline.failed_jobs().await.is_empty());
    pipeline.app.stop().await;
}

#[tokio::test]
#[ignore = "needs NATS: set UPKEEP_TEST_NATS_URL=nats://127.0.0.1:4222"]
async fn pipeline_events_reach_a_jetstream_consumer() {
    use async_nats::jetstream::{self, consumer};
    use futures_util::StreamExt;
    use upkeep::delivery::nats::{DUPLICATE_WINDOW, STREAM, SUBJECTS};

    let nats_url = std::env::var("UPKEEP_TEST_NATS_URL")
        .expect("this test needs NATS: set UPKEEP_TEST_NATS_URL=nats://127.0.0.1:4222");
    let client = async_nats::connect(&nats_url).await.unwrap();
    let js = jetstream::new(client);
    let mut stream = js
        .get_or_create_stream(jetstream::stream::Config {
            name: STREAM.into(),
            subjects: vec![SUBJECTS.into()],
            duplicate_window: DUPLICATE_WINDOW,
            ..Default::default()
        })
        .await
        .unwrap();
    let start = stream.info().await.unwrap().state.last_sequence + 1;
    let consumer: consumer::PullConsumer = stream
        .create_consumer(consumer::pull::Config {
            deliver_policy: consumer::DeliverPolicy::ByStartSequence {
                start_sequence: start,
            },
            filter_subject: "upkeep.>".into(),
            ack_policy: consumer::AckPolicy::None,
            inactive_threshold: Duration::from_mins(2),
            ..Default::default()
        })
        .await
        .unwrap();

    let pipeline = Pipeline::start(|c| c.nats_url = Some(nats_url.clone())).await;
    let repositories = pipeline.register_all().await;
    pipeline.wait_for_recommendations(&repositories).await;
    let cursor = pipeline.cursor_events().await;
    let want = ids(&cursor);
    let subjects: BTreeMap<String, String> = cursor
        .iter()
        .map(|e| {
            (
                e["id"].as_str().unwrap().to_owned(),
                format!(
                    "upkeep.{}.{}",
                    e["stream"].as_str().unwrap(),
                    e["type"].as_str().unwrap()
                ),
            )
        })
        .collect();

    let mut received: BTreeMap<String, String> = BTreeMap::new();
    let deadline = tokio::time::Instant::now() + Duration::from_mins(1);
    while !want.iter().all(|id| received.contains_key(id)) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} of {} events reached JetStream",
            want.iter().filter(|id| received.contains_key(*id)).count(),
            want.len()
        );
        let mut batch = consumer
            .fetch()
            .max_messages(500)
            .expires(Duration::from_millis(500))
            .messages()
            .await
            .unwrap();
        while let Some(message) = batch.next().await {
            let message = message.unwrap();
            let body: Value = serde_json::from_slice(&message.payload).unwrap();
            if let Some(id) = body["id"].as_str() {
                received.insert(id.to_owned(), message.subject.to_string());
            }
        }
    }
    for id in &want {
        assert_eq!(received[id], subjects[id], "subject of event {id}");
    }
    pipeline.app.stop().await;
}

/// A fake OCI registry (distribution API tags list) on 127.0.0.1 that counts every request it
/// gets, whatever the path.
async fn counting_oci_registry() -> (std::net::SocketAddr, Arc<Mutex<Vec<String>>>) {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let record = seen.clone();
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let record = record.clone();
        async move {
            record.lock().unwrap().push(uri.to_string());
            if uri.path() == "/v2/app/tags/list" {
                (
                    StatusCode::OK,
                    [("content-type", "application/json")],
                    r#"{"name":"app","tags":["1.0","1.1","2.0"]}"#,
                )
            } else {
                (
                    StatusCode::NOT_FOUND,
                    [("content-type", "application/json")],
                    r#"{"errors":[{"code":"NAME_UNKNOWN"}]}"#,
                )
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (addr, seen)
}

/// Issue 10 point 2: a Dockerfile naming a registry on loopback that is not configured makes the
/// server send nothing there; the dependency stays without releases and its package records why.
/// Configured as a private registry, the same image is looked up.
#[tokio::test]
async fn a_dockerfile_cannot_make_the_server_request_an_unconfigured_loopback_registry() {
    let (addr, seen) = counting_oci_registry().await;
    let pipeline = Pipeline::start(|_| {}).await;
    let dockerfile = format!("FROM {addr}/app:1.0\nRUN true\n");
    pipeline.github.add_repo(
        "acme",
        "img",
        "main",
        &[("Dockerfile", dockerfile.as_str())],
    );
    let response = pipeline
        .app
        .client
        .post(pipeline.app.url("/api/v1/repositories"))
        .bearer_auth(&pipeline.token)
        .json(&json!({ "url": "https://github.com/acme/img" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let id = response.json::<Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap();
    pipeline.wait_idle().await;
    assert!(pipeline.failed_jobs().await.is_empty());
    assert_eq!(*seen.lock().unwrap(), Vec::<String>::new());

    let page = pipeline
        .get(&format!("/api/v1/repositories/{id}/dependencies"))
        .await;
    let items = page["items"].as_array().unwrap();
    let image = items
        .iter()
        .find(|item| item["ecosystem"] == "docker")
        .unwrap_or_else(|| panic!("the image is a dependency: {page}"));
    assert_eq!(image["latest"], Value::Null, "{image}");
    assert_eq!(image["recommendations"], json!([]), "{image}");
    let error: Option<String> =
        sqlx::query_scalar("SELECT last_error FROM packages WHERE ecosystem = 'docker'")
            .fetch_one(pipeline.app.db.store.pool())
            .await
            .unwrap();
    let error = error.expect("the refusal is recorded on the package");
    assert!(error.contains("refused"), "{error}");
    assert!(error.contains("not a public address"), "{error}");
    pipeline.app.stop().await;

    // The same repository on a service that configures the registry: looked up.
    let configured = addr.to_string();
    let pipeline = Pipeline::start(|config| config.private_registries = vec![configured]).await;
    pipeline.github.add_repo(
        "acme",
        "img",
        "main",
        &[("Dockerfile", dockerfile.as_str())],
    );
    let response = pipeline
        .app
        .client
        .post(pipeline.app.url("/api/v1/repositories"))
        .bearer_auth(&pipeline.token)
        .json(&json!({ "url": "https://github.com/acme/img" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let id = response.json::<Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap();
    pipeline.wait_idle().await;
    assert!(!seen.lock().unwrap().is_empty());
    let page = pipeline
        .get(&format!("/api/v1/repositories/{id}/dependencies"))
        .await;
    let image = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["ecosystem"] == "docker")
        .cloned()
        .unwrap_or_else(|| panic!("the image is a dependency: {page}"));
    assert_eq!(image["latest"], "2.0", "{image}");
    pipeline.app.stop().await;
}
