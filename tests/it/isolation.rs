//! Team isolation at the API boundary: what a team token reads of the event stream (cursor API,
//! server-sent events, its webhook subscriptions), that every `/api/v1` route needs a token, and the
//! promised errors of the team and policy routes. SQLite by default, PostgreSQL when
//! `UPKEEP_TEST_DATABASE_URL` is set.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value, json};
use tokio::sync::watch;
use upkeep::events::{CrawlPayload, Event};
use upkeep::store::events::{self, EventFilter, StoredEvent};
use upkeep_resolvers::registry::{Release, ReleaseSet};

use crate::support::app::{ADMIN_TOKEN, TestApp, TestDb, fresh_db, install_crypto, test_config};
use crate::support::fake_github;
use crate::support::inventory;

/// The service with a fake GitHub and private webhook targets allowed.
struct App {
    addr: std::net::SocketAddr,
    github: fake_github::FakeGithub,
    db: TestDb,
    client: reqwest::Client,
    shutdown: watch::Sender<bool>,
    server: tokio::task::JoinHandle<()>,
}

impl App {
    async fn spawn(adjust: impl FnOnce(&mut upkeep::config::Config)) -> App {
        install_crypto();
        let db = fresh_db().await;
        let mut config = test_config(&db.url);
        let github = fake_github::FakeGithub::start().await;
        config.github_api_url = github.url();
        config.webhook_allow_private_targets = true;
        adjust(&mut config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (shutdown, rx) = watch::channel(false);
        let services =
            upkeep::services::Services::from_config(&config, db.store.clone()).expect("services");
        let server = tokio::spawn(async move {
            upkeep::server::serve(services, listener, rx)
                .await
                .expect("server runs");
        });
        App {
            addr,
            github,
            db,
            client: reqwest::Client::new(),
            shutdown,
            server,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// A team and a token for it; returns (team id, token).
    async fn team(&self, name: &str) -> (i64, String) {
        let (status, team) = self
            .send(
                reqwest::Method::POST,
                ADMIN_TOKEN,
                "/api/v1/teams",
                Some(json!({ "name": name })),
            )
            .await;
        assert_eq!(status, 201, "{team}");
        let (status, token) = self
            .send(
                reqwest::Method::POST,
                ADMIN_TOKEN,
                &format!("/api/v1/teams/{name}/tokens"),
                None,
            )
            .await;
        assert_eq!(status, 201, "{token}");
        (
            team["id"].as_i64().unwrap(),
            token["token"].as_str().unwrap().to_owned(),
        )
    }

    async fn send(
        &self,
        method: reqwest::Method,
        token: &str,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .client
            .request(method, self.url(path))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Register a GitHub repository whose `package.json` depends on the npm packages `deps`.
    async fn register(&self, token: &str, owner: &str, name: &str, deps: &[&str]) -> i64 {
        let dependencies: serde_json::Map<String, Value> = deps
            .iter()
            .map(|d| ((*d).to_owned(), json!("^1.0.0")))
            .collect();
        let manifest = json!({ "name": name, "dependencies": dependencies }).to_string();
        self.github
            .add_repo(owner, name, "main", &[("package.json", manifest.as_str())]);
        let (status, repo) = self
            .send(
                reqwest::Method::POST,
                token,
                "/api/v1/repositories",
                Some(json!({ "url": format!("https://github.com/{owner}/{name}") })),
            )
            .await;
        assert_eq!(status, 201, "{repo}");
        repo["id"].as_i64().unwrap()
    }

    /// Every event in the journal (what the admin reads).
    async fn journal(&self) -> Vec<StoredEvent> {
        self.db
            .store
            .events_after(&EventFilter {
                after: 0,
                limit: 1000,
                ..EventFilter::default()
            })
            .await
            .unwrap()
    }

    /// Wait until the journal holds a `crawl_completed` event for each of `repositories`.
    async fn wait_for_crawls(&self, repositories: &[i64]) {
        let deadline = tokio::time::Instant::now() + Duration::from_mins(1);
        loop {
            let crawled: BTreeSet<i64> = self
                .journal()
                .await
                .iter()
                .filter(|e| e.kind == "crawl_completed")
                .filter_map(|e| e.payload["repository_id"].as_i64())
                .collect();
            if repositories.iter().all(|r| crawled.contains(r)) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "crawls of {repositories:?} completed: {crawled:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Publish release `version` of npm package `name` the way a registry lookup does (the first
    /// lookup of a package announces nothing, so it sees `0.9.0` first).
    async fn publish_release(&self, name: &str, version: &str) {
        let store = &self.db.store;
        let package_id = inventory::package(store, upkeep_resolvers::Ecosystem::Npm, name).await;
        let release = |version: &str| Release {
            version: version.to_owned(),
            published_at: None,
            yanked: false,
            deprecated: None,
            requires_runtime: None,
            prerelease: false,
        };
        let mut set = ReleaseSet {
            releases: vec![release("0.9.0")],
            ..ReleaseSet::default()
        };
        store.apply_release_set(package_id, &set).await.unwrap();
        set.releases.push(release(version));
        let changes = store.apply_release_set(package_id, &set).await.unwrap();
        assert_eq!(changes.published, 1, "{name} {version} is announced");
    }

    /// A team's events by cursor, all pages.
    async fn cursor(&self, token: &str) -> Vec<Value> {
        let mut events = Vec::new();
        let mut after = 0;
        loop {
            let (status, page) = self
                .send(
                    reqwest::Method::GET,
                    token,
                    &format!("/api/v1/events?after={after}&limit=7"),
                    None,
                )
                .await;
            assert_eq!(status, 200, "{page}");
            let batch = page["events"].as_array().unwrap();
            if batch.is_empty() {
                return events;
            }
            events.extend(batch.iter().cloned());
            after = page["next_after"].as_i64().unwrap();
        }
    }

    async fn stop(self) {
        let _ = self.shutdown.send(true);
        tokio::time::timeout(Duration::from_secs(30), self.server)
            .await
            .expect("the server stops within 30 s")
            .expect("the server task ends cleanly");
    }
}

/// A local webhook receiver that accepts everything and keeps the bodies.
struct Receiver {
    url: String,
    bodies: Arc<Mutex<Vec<Value>>>,
}

impl Receiver {
    async fn start() -> Receiver {
        let bodies: Arc<Mutex<Vec<Value>>> = Arc::default();
        let record = bodies.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |body: axum::body::Bytes| {
                let record = record.clone();
                async move {
                    record
                        .lock()
                        .unwrap()
                        .push(serde_json::from_slice(&body).unwrap());
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
            bodies,
        }
    }

    fn ids(&self) -> BTreeSet<String> {
        self.bodies
            .lock()
            .unwrap()
            .iter()
            .map(|b| b["id"].as_str().unwrap().to_owned())
            .collect()
    }

    /// Wait until every id in `want` arrived.
    async fn wait_for(&self, want: &BTreeSet<String>) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while !want.is_subset(&self.ids()) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "deliveries: {:?} of {want:?}",
                self.ids()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Read `n` server-sent events from an event stream; returns their `data` envelopes.
async fn read_stream(app: &App, token: &str, n: usize) -> Vec<Value> {
    let mut response = app
        .client
        .get(app.url("/api/v1/events/stream"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut buffer = String::new();
    let mut out = Vec::new();
    let read = async {
        while out.len() < n {
            while let Some(end) = buffer.find("\n\n") {
                let frame: String = buffer.drain(..end + 2).collect();
                let data: String = frame
                    .lines()
                    .filter_map(|l| l.strip_prefix("data:"))
                    .map(str::trim_start)
                    .collect();
                if !data.is_empty() {
                    out.push(serde_json::from_str::<Value>(&data).unwrap());
                }
            }
            if out.len() >= n {
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
    tokio::time::timeout(Duration::from_secs(20), read)
        .await
        .expect("events arrive on the stream");
    out
}

fn ids(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The package names of the `release_published` events among `events`.
fn released(events: &[Value]) -> BTreeSet<String> {
    events
        .iter()
        .filter(|e| e["type"] == "release_published")
        .map(|e| e["payload"]["name"].as_str().unwrap().to_owned())
        .collect()
}

/// The repository an event is about, for the team-owned streams.
fn repository_of(event: &Value) -> Option<i64> {
    let payload = &event["payload"];
    payload["repository_id"]
        .as_i64()
        .or_else(|| payload["repository"]["id"].as_i64())
        .or_else(|| payload["recommendation"]["repository_id"].as_i64())
}

#[tokio::test]
async fn a_team_reads_only_its_own_events_and_releases_of_packages_it_uses() {
    let app = App::spawn(|_| {}).await;
    let (acme_id, acme) = app.team("acme").await;
    let (globex_id, globex) = app.team("globex").await;
    let acme_hook = Receiver::start().await;
    let globex_hook = Receiver::start().await;
    let types = [
        "repository_upserted",
        "dependency_upserted",
        "crawl_completed",
        "crawl_failed",
        "release_published",
        "recommendation_upserted",
    ];
    let mut subscriptions = Vec::new();
    for (token, hook) in [(&acme, &acme_hook), (&globex, &globex_hook)] {
        let (status, sub) = app
            .send(
                reqwest::Method::POST,
                token,
                "/api/v1/subscriptions",
                Some(json!({"url": hook.url, "types": types, "secret": "isolation-secret-0123"})),
            )
            .await;
        assert_eq!(status, 201, "{sub}");
        subscriptions.push(sub["id"].as_i64().unwrap());
    }
    let (acme_sub, globex_sub) = (subscriptions[0], subscriptions[1]);

    let acme_repo = app
        .register(&acme, "acme", "web", &["acme-internal", "shared-lib"])
        .await;
    let globex_repo = app
        .register(&globex, "globex", "api", &["globex-internal", "shared-lib"])
        .await;
    app.wait_for_crawls(&[acme_repo, globex_repo]).await;
    for name in [
        "acme-internal",
        "globex-internal",
        "shared-lib",
        "nobody-uses",
    ] {
        app.publish_release(name, "1.1.0").await;
    }
    // An event without a team that is not about a package (its team was deleted, say).
    let store = &app.db.store;
    let mut tx = store.begin().await.unwrap();
    events::append(
        &mut tx,
        store.backend(),
        Event::CrawlFailed(CrawlPayload {
            repository_id: 999_999,
            crawl_id: 1,
            commit: None,
            manifests_read: 0,
            dependencies_added: 0,
            dependencies_changed: 0,
            dependencies_removed: 0,
            warnings: 0,
            error: Some("an orphan".into()),
        })
        .into_new(None, "repository:999999"),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    // The crawler stores the repository's team on what it writes.
    crate::support::app::wait_for_idle_queue(&app.db.store, Duration::from_mins(1)).await;
    let journal = app.journal().await;
    let team_of_repo = BTreeMap::from([(acme_repo, acme_id), (globex_repo, globex_id)]);
    let crawler_events: Vec<&StoredEvent> = journal
        .iter()
        .filter(|e| e.kind == "dependency_upserted" || e.kind == "crawl_completed")
        .collect();
    assert_eq!(crawler_events.len(), 6, "{crawler_events:#?}");
    for event in &crawler_events {
        let repository = event.payload["repository_id"].as_i64().unwrap();
        assert_eq!(
            event.team_id,
            Some(team_of_repo[&repository]),
            "the team stored on {} about repository {repository}",
            event.kind
        );
    }

    // The cursor API.
    let admin = app.cursor(ADMIN_TOKEN).await;
    assert_eq!(admin.len(), journal.len(), "the admin reads every event");
    assert_eq!(
        released(&admin),
        BTreeSet::from(
            [
                "acme-internal",
                "globex-internal",
                "shared-lib",
                "nobody-uses"
            ]
            .map(String::from)
        )
    );
    for (token, own, theirs, uses) in [
        (
            &acme,
            acme_repo,
            globex_repo,
            ["acme-internal", "shared-lib"],
        ),
        (
            &globex,
            globex_repo,
            acme_repo,
            ["globex-internal", "shared-lib"],
        ),
    ] {
        let read = app.cursor(token).await;
        assert_eq!(
            released(&read),
            BTreeSet::from(uses.map(String::from)),
            "releases of the packages the team uses, and no others"
        );
        for event in read.iter().filter(|e| e["type"] != "release_published") {
            assert_eq!(
                repository_of(event),
                Some(own),
                "a team reads only events about its repositories: {event}"
            );
        }
        // Recommendations follow the releases asynchronously; they are checked above.
        let kinds: BTreeMap<&str, usize> = read
            .iter()
            .filter(|e| e["stream"] != "recommendation_event")
            .fold(BTreeMap::new(), |mut m, e| {
                *m.entry(e["type"].as_str().unwrap()).or_default() += 1;
                m
            });
        assert_eq!(
            kinds,
            BTreeMap::from([
                ("repository_upserted", 1),
                ("dependency_upserted", 2),
                ("crawl_completed", 1),
                ("release_published", 2),
            ]),
            "{read:#?}"
        );
        assert!(
            !read.iter().any(|e| repository_of(e) == Some(theirs)),
            "nothing about the other team's repository"
        );

        // Server-sent events: the same events, in the same order.
        let streamed = read_stream(&app, token, read.len()).await;
        assert_eq!(ids(&streamed), ids(&read));
    }

    // Webhooks: each team's subscription records and delivers exactly what its cursor shows.
    for (token, owner, hook, subscription) in [
        (&acme, "acme", &acme_hook, acme_sub),
        (&globex, "globex", &globex_hook, globex_sub),
    ] {
        let before_events = app.cursor(token).await;
        let before: BTreeSet<String> = ids(&before_events).into_iter().collect();
        // One more event the team reads: once it is delivered, the dispatcher has recorded every
        // delivery of the events before it (it records in journal order).
        let late = app.register(token, owner, "late", &[]).await;
        let late_event = app
            .cursor(token)
            .await
            .into_iter()
            .find(|e| e["type"] == "repository_upserted" && repository_of(e) == Some(late))
            .unwrap();
        hook.wait_for(&BTreeSet::from([late_event["id"]
            .as_str()
            .unwrap()
            .to_owned()]))
            .await;
        let (status, page) = app
            .send(
                reqwest::Method::GET,
                token,
                &format!("/api/v1/subscriptions/{subscription}/deliveries?limit=500"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{page}");
        let recorded: BTreeSet<String> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["event_id"].as_str().unwrap().to_owned())
            .collect();
        let readable: BTreeSet<String> = ids(&app.cursor(token).await).into_iter().collect();
        assert!(
            before.is_subset(&recorded),
            "every readable event is delivered: missing {:?} of {before_events:#?}",
            before.difference(&recorded).collect::<Vec<_>>()
        );
        assert!(
            recorded.is_subset(&readable),
            "only readable events are delivered: {:?}",
            recorded.difference(&readable).collect::<Vec<_>>()
        );
        hook.wait_for(&before).await;
        assert!(hook.ids().is_subset(&readable));
    }
    app.stop().await;
}

#[tokio::test]
async fn release_visibility_follows_use_at_the_time_of_reading() {
    let app = App::spawn(|_| {}).await;
    let (_, acme) = app.team("acme").await;
    let repo = app.register(&acme, "acme", "web", &["left-pad"]).await;
    app.wait_for_crawls(&[repo]).await;
    app.publish_release("later-lib", "2.0.0").await;
    assert_eq!(released(&app.cursor(&acme).await), BTreeSet::new());

    // The team starts using the package: its earlier release becomes readable.
    let other = app.register(&acme, "acme", "app", &["later-lib"]).await;
    app.wait_for_crawls(&[other]).await;
    assert_eq!(
        released(&app.cursor(&acme).await),
        BTreeSet::from(["later-lib".to_owned()])
    );
    // And stops using it: the release is no longer the team's to read.
    let (status, _) = app
        .send(
            reqwest::Method::DELETE,
            &acme,
            &format!("/api/v1/repositories/{other}"),
            None,
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(released(&app.cursor(&acme).await), BTreeSet::new());
    app.stop().await;
}

/// A plausible value for a path parameter of the OpenAPI document.
fn fill(path: &str) -> String {
    path.split('/')
        .map(|segment| match segment {
            "{id}" => "1",
            "{name}" => "acme",
            "{ecosystem}" => "npm",
            other if other.starts_with('{') => panic!("no value for path parameter {other}"),
            other => other,
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test]
async fn every_api_route_needs_a_token() {
    let app = TestApp::spawn().await;
    // Routes that answer without a token, by design.
    let public = BTreeSet::from([("GET", "/api/v1/events/schema")]);
    let document = serde_json::to_value(upkeep::api::openapi()).unwrap();
    let paths = document["paths"].as_object().unwrap();
    let mut checked = 0;
    for (path, operations) in paths {
        assert!(path.starts_with("/api/v1/"), "{path}");
        for (method, operation) in operations.as_object().unwrap() {
            let method = method.to_uppercase();
            if public.contains(&(method.as_str(), path.as_str())) {
                assert!(
                    operation.get("security").is_none(),
                    "{method} {path} is public"
                );
                continue;
            }
            assert!(
                operation.get("security").is_some(),
                "{method} {path} declares its bearer security"
            );
            let url = app.url(&fill(path));
            let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
            for token in [None, Some("upk_not-a-token")] {
                let mut request = app.client.request(method.clone(), &url);
                if let Some(token) = token {
                    request = request.bearer_auth(token);
                }
                if matches!(method.as_str(), "POST" | "PUT") {
                    request = request.json(&json!({}));
                }
                let response = request.send().await.unwrap();
                assert_eq!(
                    response.status(),
                    401,
                    "{method} {url} with token {token:?}"
                );
                let body: Value = response.json().await.unwrap();
                assert_eq!(body["error"]["code"], "unauthorized", "{method} {url}");
            }
            checked += 1;
        }
    }
    assert!(
        checked >= 18,
        "the document lists the API's routes ({checked})"
    );
    app.stop().await;
}

#[tokio::test]
async fn team_and_policy_routes_answer_their_promised_errors() {
    let app = App::spawn(|_| {}).await;
    let (_, acme) = app.team("acme").await;
    let (_, globex) = app.team("globex").await;
    let code = |body: &Value| {
        body["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let post = reqwest::Method::POST;
    let get = reqwest::Method::GET;
    let put = reqwest::Method::PUT;

    // 409: a duplicate team.
    let (status, body) = app
        .send(
            post.clone(),
            ADMIN_TOKEN,
            "/api/v1/teams",
            Some(json!({"name": "acme"})),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(code(&body), "conflict");

    // 422: invalid team names, naming the field.
    for name in ["", "has space", "slash/y", &"x".repeat(65)] {
        let (status, body) = app
            .send(
                post.clone(),
                ADMIN_TOKEN,
                "/api/v1/teams",
                Some(json!({"name": name})),
            )
            .await;
        assert_eq!(status, 422, "{name:?}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("name"),
            "{body}"
        );
    }

    // 403: a team token mints no tokens, for itself or another team.
    for team in ["acme", "globex"] {
        let (status, body) = app
            .send(
                post.clone(),
                &acme,
                &format!("/api/v1/teams/{team}/tokens"),
                None,
            )
            .await;
        assert_eq!(status, 403, "{team}: {body}");
        assert_eq!(code(&body), "forbidden");
    }

    // 404: an unknown team.
    let (status, body) = app
        .send(
            post.clone(),
            ADMIN_TOKEN,
            "/api/v1/teams/nobody/tokens",
            None,
        )
        .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(code(&body), "not_found");

    // 403: another team's policy, to read or to write.
    let globex_repo = app.register(&globex, "globex", "api", &["left-pad"]).await;
    let policy = format!("/api/v1/repositories/{globex_repo}/policy");
    let (status, body) = app.send(get.clone(), &acme, &policy, None).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(code(&body), "forbidden");
    let (status, own) = app.send(get.clone(), &globex, &policy, None).await;
    assert_eq!(status, 200, "{own}");
    let (status, body) = app
        .send(put.clone(), &acme, &policy, Some(own.clone()))
        .await;
    assert_eq!(status, 403, "{body}");

    // 404: an unknown repository, and so its policy.
    for (method, path) in [
        (get.clone(), "/api/v1/repositories/999999"),
        (reqwest::Method::DELETE, "/api/v1/repositories/999999"),
        (get.clone(), "/api/v1/repositories/999999/policy"),
        (get.clone(), "/api/v1/repositories/999999/dependencies"),
    ] {
        for token in [acme.as_str(), ADMIN_TOKEN] {
            let (status, body) = app.send(method.clone(), token, path, None).await;
            assert_eq!(status, 404, "{method} {path}: {body}");
            assert_eq!(code(&body), "not_found");
        }
    }
    let (status, body) = app
        .send(
            put,
            ADMIN_TOKEN,
            "/api/v1/repositories/999999/policy",
            Some(own),
        )
        .await;
    assert_eq!(status, 404, "{body}");
    app.stop().await;
}

#[tokio::test]
#[ignore = "needs NATS: set UPKEEP_TEST_NATS_URL=nats://127.0.0.1:4222"]
async fn jetstream_team_subjects_carry_only_what_the_team_reads() {
    use async_nats::jetstream::{self, consumer};
    use futures_util::StreamExt;
    use upkeep::delivery::nats::{DUPLICATE_WINDOW, TEAM_STREAM, TEAM_SUBJECTS, team_subject};

    let nats_url = std::env::var("UPKEEP_TEST_NATS_URL")
        .expect("this test needs NATS: set UPKEEP_TEST_NATS_URL=nats://127.0.0.1:4222");
    let js = jetstream::new(async_nats::connect(&nats_url).await.unwrap());
    let mut stream = js
        .get_or_create_stream(jetstream::stream::Config {
            name: TEAM_STREAM.into(),
            subjects: vec![TEAM_SUBJECTS.into()],
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
            ack_policy: consumer::AckPolicy::None,
            inactive_threshold: Duration::from_mins(2),
            ..Default::default()
        })
        .await
        .unwrap();

    let app = App::spawn(|c| c.nats_url = Some(nats_url.clone())).await;
    let (acme_id, acme) = app.team("acme").await;
    let (globex_id, globex) = app.team("globex").await;
    let acme_repo = app
        .register(&acme, "acme", "web", &["acme-internal", "shared-lib"])
        .await;
    let globex_repo = app
        .register(&globex, "globex", "api", &["globex-internal", "shared-lib"])
        .await;
    app.wait_for_crawls(&[acme_repo, globex_repo]).await;
    for name in [
        "acme-internal",
        "globex-internal",
        "shared-lib",
        "nobody-uses",
    ] {
        app.publish_release(name, "1.1.0").await;
    }
    let journal = app.journal().await;
    // What each message on the team stream should be: (event id, subject) for every event a team
    // reads through the API. Other tests share the NATS server, so only this journal's ids count.
    let mut want: BTreeSet<(String, String)> = BTreeSet::new();
    for (team_id, token) in [(acme_id, &acme), (globex_id, &globex)] {
        for event in app.cursor(token).await {
            let stored = journal.iter().find(|e| e.id == event["id"]).unwrap();
            want.insert((stored.id.clone(), team_subject(team_id, stored)));
        }
    }
    assert_eq!(
        want.iter()
            .filter(|(_, subject)| subject.ends_with("release_published"))
            .count(),
        4,
        "acme-internal, globex-internal and shared-lib twice: {want:?}"
    );

    let mut received: BTreeMap<(String, String), usize> = BTreeMap::new();
    let deadline = tokio::time::Instant::now() + Duration::from_mins(1);
    while !want.iter().all(|w| received.contains_key(w)) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "team messages reach JetStream: {received:?} of {want:?}"
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
            let id = body["id"].as_str().unwrap().to_owned();
            if journal.iter().any(|e| e.id == id) {
                *received
                    .entry((id, message.subject.to_string()))
                    .or_default() += 1;
            }
        }
    }
    let extra: Vec<&(String, String)> = received.keys().filter(|k| !want.contains(*k)).collect();
    assert!(extra.is_empty(), "messages no team reads: {extra:?}");
    assert!(received.values().all(|n| *n == 1), "{received:?}");
    app.stop().await;
}
