//! The event stream at its boundaries (ARCHITECTURE.md, "Events"): the checked-in JSON Schema, the
//! cursor API, the server-sent event stream, signed outgoing webhooks (retries, dead letters) and
//! NATS JetStream.
//! SQLite by default, PostgreSQL when `UPKEEP_TEST_DATABASE_URL` is set; the NATS test needs
//! `UPKEEP_TEST_NATS_URL`.
//!
//! Regenerate the checked-in schema after changing an event type:
//! `UPKEEP_UPDATE_SCHEMA=1 cargo test --test it events::`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use tokio::sync::watch;
use upkeep::config::Config;
use upkeep::events::{Event, ReleasePayload};
use upkeep::store::events;

use crate::support::app::{self, ADMIN_TOKEN, TestDb, fresh_db, install_crypto, test_config};
use crate::support::fake_github;
use crate::support::inventory::DependencyBuilder;

/// The service with a configuration the test adjusts.
struct App {
    addr: std::net::SocketAddr,
    /// Repositories registered by `https://github.com/...` URLs live here.
    github: fake_github::FakeGithub,
    db: TestDb,
    config: Config,
    client: reqwest::Client,
    shutdown: watch::Sender<bool>,
    server: tokio::task::JoinHandle<()>,
}

impl App {
    async fn spawn(adjust: impl FnOnce(&mut Config)) -> App {
        install_crypto();
        let db = fresh_db().await;
        let mut config = test_config(&db.url);
        let github = fake_github::FakeGithub::start().await;
        config.github_api_url = github.url();
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
            config,
            client: reqwest::Client::new(),
            shutdown,
            server,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    async fn team_token(&self, name: &str) -> String {
        let created = self
            .client
            .post(self.url("/api/v1/teams"))
            .bearer_auth(ADMIN_TOKEN)
            .json(&json!({ "name": name }))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
        let token = self
            .client
            .post(self.url(&format!("/api/v1/teams/{name}/tokens")))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(token.status(), 201);
        token.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Register a repository by API (emits `repository_upserted`); returns its id.
    async fn register(&self, token: &str, url: &str) -> i64 {
        if let Some((owner, name)) = url
            .strip_prefix("https://github.com/")
            .and_then(|p| p.split_once('/'))
        {
            self.github
                .add_repo(owner, name, "main", &[("README.md", "# repository\n")]);
        }
        let response = self
            .client
            .post(self.url("/api/v1/repositories"))
            .bearer_auth(token)
            .json(&json!({ "url": url }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        response.json::<Value>().await.unwrap()["id"]
            .as_i64()
            .unwrap()
    }

    async fn remove(&self, token: &str, id: i64) {
        let response = self
            .client
            .delete(self.url(&format!("/api/v1/repositories/{id}")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204);
    }

    /// Append a fleet-wide `release_published` directly to the journal.
    async fn publish_release(&self, name: &str, version: &str) -> i64 {
        let store = &self.db.store;
        let mut tx = store.begin().await.unwrap();
        let seq = events::append(
            &mut tx,
            store.backend(),
            Event::ReleasePublished(ReleasePayload {
                ecosystem: upkeep_resolvers::Ecosystem::Npm,
                name: name.into(),
                version: version.into(),
                published_at: None,
                prerelease: false,
            })
            .into_new(None, format!("package:npm:{name}")),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        seq
    }

    /// Register a repository whose `package.json` depends on npm package `package`, and wait until
    /// its crawl recorded the dependency (its team then reads the package's release events).
    async fn register_using(&self, token: &str, owner: &str, name: &str, package: &str) -> i64 {
        let manifest = json!({"name": name, "dependencies": {package: "^1.0.0"}}).to_string();
        self.github
            .add_repo(owner, name, "main", &[("package.json", manifest.as_str())]);
        let response = self
            .client
            .post(self.url("/api/v1/repositories"))
            .bearer_auth(token)
            .json(&json!({ "url": format!("https://github.com/{owner}/{name}") }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        let id = response.json::<Value>().await.unwrap()["id"]
            .as_i64()
            .unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while self
            .db
            .store
            .dependencies_of_repository(id)
            .await
            .unwrap()
            .is_empty()
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the crawl records {package}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        id
    }

    /// Record that repository `repository_id` depends on npm package `name`, as a crawl would
    /// (without the crawl's events): its team then reads the package's release events. For
    /// repositories no crawl runs on (a crawl would replace what this writes).
    async fn uses(&self, repository_id: i64, name: &str) {
        DependencyBuilder::npm(name)
            .insert(&self.db.store, repository_id)
            .await;
    }

    async fn get(&self, token: Option<&str>, path: &str) -> (StatusCode, Value) {
        let mut request = self.client.get(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn subscribe(&self, token: &str, body: &Value) -> (StatusCode, Value) {
        let response = self
            .client
            .post(self.url("/api/v1/subscriptions"))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap();
        let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn stop(self) {
        drop(self.stop_keeping_db().await);
    }

    /// Stop the service; the database stays for the caller.
    async fn stop_keeping_db(self) -> (TestDb, Config) {
        let _ = self.shutdown.send(true);
        tokio::time::timeout(Duration::from_secs(30), self.server)
            .await
            .expect("the server stops within 30 s")
            .expect("the server task ends cleanly");
        (self.db, self.config)
    }
}

fn kinds(events: &Value) -> Vec<&str> {
    events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect()
}

fn checked_in_schema_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(upkeep::events::SCHEMA_PATH)
}

#[test]
fn checked_in_schema_matches_the_event_types() {
    let generated = upkeep::events::json_schema_text().expect("the schema generates");
    let path = checked_in_schema_path();
    if std::env::var_os("UPKEEP_UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "{} differs from the schema the code generates: the event types changed. If the change \
         is intended, regenerate it with `UPKEEP_UPDATE_SCHEMA=1 cargo test --test it events::` and \
         commit the file.",
        upkeep::events::SCHEMA_PATH
    );
    let schema: Value = serde_json::from_str(&checked_in).unwrap();
    let titles: Vec<&str> = schema["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["title"].as_str().unwrap())
        .collect();
    let types: Vec<&str> = Event::TYPES.iter().map(|(_, t)| *t).collect();
    assert_eq!(titles, types, "one branch per event type");
    let text = checked_in.as_str();
    assert!(
        !text.contains("#/components/"),
        "references point into $defs"
    );
}

#[tokio::test]
async fn schema_endpoint_serves_the_checked_in_schema_without_auth() {
    let app = App::spawn(|_| {}).await;
    let response = app
        .client
        .get(app.url("/api/v1/events/schema"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/schema+json"
    );
    let served: Value = response.json().await.unwrap();
    let checked_in: Value =
        serde_json::from_str(&std::fs::read_to_string(checked_in_schema_path()).unwrap()).unwrap();
    assert_eq!(served, checked_in);
    let (status, doc) = app.get(None, "/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    for path in [
        "/api/v1/events",
        "/api/v1/events/stream",
        "/api/v1/events/schema",
        "/api/v1/subscriptions",
        "/api/v1/subscriptions/{id}",
        "/api/v1/subscriptions/{id}/deliveries",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} is documented");
    }
    app.stop().await;
}

/// Check an envelope against the checked-in schema's branch for its type: the envelope's required
/// keys and no others, and the payload's required keys and no unknown ones.
fn conforms(schema: &Value, event: &Value) {
    let kind = event["type"].as_str().unwrap();
    let branch = schema["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["title"] == kind)
        .unwrap_or_else(|| panic!("no schema branch for {kind}"));
    let keys = |v: &Value| -> Vec<String> {
        let mut keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    };
    let mut required: Vec<String> = branch["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect();
    required.sort();
    assert_eq!(keys(event), required, "{event}");
    assert_eq!(branch["properties"]["stream"]["const"], event["stream"]);
    let mut payload_schema = &branch["properties"]["payload"];
    if let Some(reference) = payload_schema["$ref"].as_str() {
        let name = reference.strip_prefix("#/$defs/").unwrap();
        payload_schema = &schema["$defs"][name];
    }
    let properties = payload_schema["properties"].as_object().unwrap();
    for key in payload_schema["required"].as_array().unwrap() {
        assert!(
            event["payload"].get(key.as_str().unwrap()).is_some(),
            "{kind} payload lacks {key}"
        );
    }
    for key in keys(&event["payload"]) {
        assert!(
            properties.contains_key(&key),
            "{kind} payload has undeclared {key}"
        );
    }
}

#[tokio::test]
async fn cursor_api_scopes_filters_and_pages() {
    // This test counts the journal exactly: keep the workers from crawling the repositories it
    // registers (crawls may add their own events).
    let app = App::spawn(|config| config.job_poll_ms = 60_000).await;
    let acme = app.team_token("acme").await;
    let globex = app.team_token("globex").await;
    let one = app.register(&acme, "https://github.com/acme/one").await;
    let web = app.register(&globex, "https://github.com/globex/web").await;
    let two = app.register(&acme, "https://github.com/acme/two").await;
    app.remove(&acme, one).await;
    // Both teams use the package, so both read its release.
    app.uses(two, "react").await;
    app.uses(web, "react").await;
    app.publish_release("react", "19.0.0").await;

    let (status, page) = app.get(Some(&acme), "/api/v1/events").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        kinds(&page["events"]),
        [
            "repository_upserted",
            "repository_upserted",
            "repository_deleted",
            "release_published"
        ],
        "a team sees its own events and the releases of packages it uses"
    );
    let first = &page["events"][0];
    for key in [
        "id",
        "seq",
        "stream",
        "type",
        "occurred_at",
        "subject_key",
        "payload",
    ] {
        assert!(first.get(key).is_some(), "envelope has {key}: {first}");
    }
    assert!(first.get("team_id").is_none());
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(checked_in_schema_path()).unwrap()).unwrap();
    for event in page["events"].as_array().unwrap() {
        conforms(&schema, event);
    }
    assert_eq!(first["stream"], "repository_event");
    assert_eq!(
        first["payload"]["repository"]["url"],
        "https://github.com/acme/one"
    );
    let seqs: Vec<i64> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    assert_eq!(page["next_after"], seqs[3]);

    let (_, other) = app.get(Some(&globex), "/api/v1/events").await;
    assert_eq!(
        kinds(&other["events"]),
        ["repository_upserted", "release_published"]
    );
    assert_eq!(
        other["events"][0]["payload"]["repository"]["url"],
        "https://github.com/globex/web"
    );
    let (_, all) = app.get(Some(ADMIN_TOKEN), "/api/v1/events").await;
    assert_eq!(
        all["events"].as_array().unwrap().len(),
        5,
        "the admin sees all"
    );

    let (_, typed) = app
        .get(
            Some(&acme),
            "/api/v1/events?type=repository_deleted,release_published",
        )
        .await;
    assert_eq!(
        kinds(&typed["events"]),
        ["repository_deleted", "release_published"]
    );

    // Paging: two, then the other two, then nothing (the cursor stays).
    let (_, p1) = app.get(Some(&acme), "/api/v1/events?limit=2").await;
    assert_eq!(p1["events"].as_array().unwrap().len(), 2);
    assert_eq!(p1["next_after"], seqs[1]);
    let (_, p2) = app
        .get(
            Some(&acme),
            &format!("/api/v1/events?limit=2&after={}", p1["next_after"]),
        )
        .await;
    assert_eq!(
        kinds(&p2["events"]),
        ["repository_deleted", "release_published"]
    );
    let (_, p3) = app
        .get(
            Some(&acme),
            &format!("/api/v1/events?limit=2&after={}", p2["next_after"]),
        )
        .await;
    assert_eq!(p3["events"], json!([]));
    assert_eq!(p3["next_after"], p2["next_after"]);

    for (query, field) in [
        ("type=nope", "type"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("after=-1", "after"),
    ] {
        let (status, body) = app
            .get(Some(&acme), &format!("/api/v1/events?{query}"))
            .await;
        assert_eq!(status, 422, "{query}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.starts_with(field), "{query}: {message}");
    }
    let (status, _) = app.get(Some(&acme), "/api/v1/events?after=x").await;
    assert_eq!(status, 400);
    let (status, _) = app.get(None, "/api/v1/events").await;
    assert_eq!(status, 401);
    app.stop().await;
}

/// One parsed server-sent event.
#[derive(Debug)]
struct Sse {
    id: i64,
    event: String,
    data: Value,
}

/// Read server-sent events from a streaming response until `n` arrived.
async fn read_sse(response: &mut reqwest::Response, buffer: &mut String, n: usize) -> Vec<Sse> {
    let mut out = Vec::new();
    let read = async {
        while out.len() < n {
            while let Some(end) = buffer.find("\n\n") {
                let frame: String = buffer.drain(..end + 2).collect();
                let (mut id, mut event, mut data) = (None, None, String::new());
                for line in frame.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        id = v.trim().parse().ok();
                    } else if let Some(v) = line.strip_prefix("event:") {
                        event = Some(v.trim().to_owned());
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    }
                }
                if let (Some(id), Some(event)) = (id, event) {
                    out.push(Sse {
                        id,
                        event,
                        data: serde_json::from_str(&data).unwrap(),
                    });
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

#[tokio::test]
async fn server_sent_events_stream_and_resume_from_last_event_id() {
    let app = App::spawn(|_| {}).await;
    let acme = app.team_token("acme").await;
    let globex = app.team_token("globex").await;
    let one = app.register(&acme, "https://github.com/acme/one").await;
    app.register(&globex, "https://github.com/globex/web").await;
    app.register(&acme, "https://github.com/acme/two").await;

    let mut stream = app
        .client
        .get(app.url("/api/v1/events/stream"))
        .bearer_auth(&acme)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    assert!(
        stream.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut buffer = String::new();
    let first = read_sse(&mut stream, &mut buffer, 2).await;
    assert_eq!(
        first.iter().map(|e| e.event.as_str()).collect::<Vec<_>>(),
        ["repository_upserted", "repository_upserted"],
        "globex's event is not on acme's stream"
    );
    for event in &first {
        assert_eq!(event.data["seq"], event.id);
        assert_eq!(event.data["type"], event.event.as_str());
    }
    // Events committed while connected arrive live.
    app.remove(&acme, one).await;
    let live = read_sse(&mut stream, &mut buffer, 1).await;
    assert_eq!(live[0].event, "repository_deleted");
    drop(stream);

    // Reconnect as a browser would, after the first event: only the later ones come.
    let mut resumed = app
        .client
        .get(app.url("/api/v1/events/stream"))
        .bearer_auth(&acme)
        .header("Last-Event-ID", first[0].id.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resumed.status(), 200);
    let mut buffer = String::new();
    let again = read_sse(&mut resumed, &mut buffer, 2).await;
    assert_eq!(
        again.iter().map(|e| e.id).collect::<Vec<_>>(),
        [first[1].id, live[0].id]
    );
    drop(resumed);

    // `after` and `type` work on the stream too.
    let mut typed = app
        .client
        .get(app.url(&format!(
            "/api/v1/events/stream?type=repository_deleted&after={}",
            first[0].id
        )))
        .bearer_auth(&acme)
        .send()
        .await
        .unwrap();
    let mut buffer = String::new();
    let only = read_sse(&mut typed, &mut buffer, 1).await;
    assert_eq!(only[0].id, live[0].id);
    drop(typed);

    let bad = app
        .client
        .get(app.url("/api/v1/events/stream"))
        .bearer_auth(&acme)
        .header("Last-Event-ID", "yesterday")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    app.stop().await;
}

#[tokio::test]
async fn server_sent_event_streams_end_on_shutdown() {
    let app = App::spawn(|_| {}).await;
    let acme = app.team_token("acme").await;
    let mut stream = app
        .client
        .get(app.url("/api/v1/events/stream"))
        .bearer_auth(&acme)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    // The stream stays open; stopping the server must not wait for the client.
    app.stop().await;
    // And the client sees its stream end: the body finishes cleanly.
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(chunk) = stream.chunk().await.expect("the stream ends cleanly") {
            assert!(
                !chunk.starts_with(b"data:") && !chunk.starts_with(b"id:"),
                "no event after shutdown: {chunk:?}"
            );
        }
    })
    .await;
    assert!(ended.is_ok(), "the event stream did not end after shutdown");
}

/// Issue 10 point 2: IPv6 addresses that carry a loopback or private IPv4 address (6to4, Teredo)
/// are not public webhook targets.
#[tokio::test]
async fn webhooks_to_6to4_and_teredo_addresses_are_refused() {
    let app = App::spawn(|_| {}).await;
    let acme = app.team_token("acme").await;
    for url in [
        // 6to4 of 127.0.0.1 and of 169.254.169.254.
        "http://[2002:7f00:1::1]:9/hook",
        "http://[2002:a9fe:a9fe::1]/latest",
        // Teredo (its client address is obfuscated; never a public target).
        "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/hook",
        "http://[2001::7f00:1]:9/hook",
    ] {
        let request = json!({"url": url, "types": ["repository_upserted"],
            "secret": "a-very-secret-signing-key"});
        let (status, answer) = app.subscribe(&acme, &request).await;
        assert_eq!(status, 422, "{url}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains("non-public address"), "{url}: {message}");
    }
    let (_, listed) = app.get(Some(&acme), "/api/v1/subscriptions").await;
    assert_eq!(listed["items"], json!([]));
}

#[tokio::test]
async fn subscriptions_are_validated_scoped_and_never_show_the_secret() {
    let app = App::spawn(|_| {}).await;
    assert!(!app.config.webhook_allow_private_targets);
    let acme = app.team_token("acme").await;
    let globex = app.team_token("globex").await;
    let secret = "a-very-secret-signing-key";
    let body = |url: &str, types: Value| json!({"url": url, "types": types, "secret": secret});
    for (request, field) in [
        (
            body(
                "https://user:pw@93.184.216.34/hook",
                json!(["repository_upserted"]),
            ),
            "url",
        ),
        (
            body(
                "https://token@93.184.216.34/hook",
                json!(["repository_upserted"]),
            ),
            "url",
        ),
        (
            body("ftp://93.184.216.34/hook", json!(["repository_upserted"])),
            "url",
        ),
        (body("not a url", json!(["repository_upserted"])), "url"),
        (
            body("http://127.0.0.1:9/hook", json!(["repository_upserted"])),
            "url",
        ),
        (
            body("http://localhost:9/hook", json!(["repository_upserted"])),
            "url",
        ),
        (
            body("http://10.0.0.7/hook", json!(["repository_upserted"])),
            "url",
        ),
        (
            body(
                "http://169.254.169.254/latest",
                json!(["repository_upserted"]),
            ),
            "url",
        ),
        (
            body("http://[::1]:9/hook", json!(["repository_upserted"])),
            "url",
        ),
        (
            body("https://93.184.216.34/hook", json!(["repository_exploded"])),
            "types",
        ),
        (body("https://93.184.216.34/hook", json!([])), "types"),
        (
            json!({"url": "https://93.184.216.34/hook", "types": ["release_published"], "secret": "short"}),
            "secret",
        ),
        (
            json!({"url": "https://93.184.216.34/hook", "types": ["release_published"], "secret": secret, "max_attempts": 0}),
            "max_attempts",
        ),
    ] {
        let (status, answer) = app.subscribe(&acme, &request).await;
        assert_eq!(status, 422, "{request}: {answer}");
        assert_eq!(answer["error"]["code"], "validation");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.starts_with(field), "{request}: {message}");
    }
    let (status, _) = app
        .subscribe(&acme, &json!({"url": "https://93.184.216.34/hook"}))
        .await;
    assert_eq!(status, 422, "missing fields");

    let (status, created) = app
        .subscribe(
            &acme,
            &body("https://93.184.216.34/hook", json!(["release_published"])),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert!(created.get("secret").is_none(), "{created}");
    assert!(!created.to_string().contains(secret));
    assert_eq!(created["types"], json!(["release_published"]));
    assert_eq!(created["max_attempts"], 8);
    let id = created["id"].as_i64().unwrap();

    let (_, listed) = app.get(Some(&acme), "/api/v1/subscriptions").await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert!(!listed.to_string().contains(secret));
    let (_, theirs) = app.get(Some(&globex), "/api/v1/subscriptions").await;
    assert_eq!(theirs["items"], json!([]));
    let path = format!("/api/v1/subscriptions/{id}/deliveries");
    let (status, _) = app.get(Some(&globex), &path).await;
    assert_eq!(status, 403);
    let (status, deliveries) = app.get(Some(&acme), &path).await;
    assert_eq!(status, 200);
    assert_eq!(deliveries["items"], json!([]));
    let (status, _) = app.get(Some(&acme), &format!("{path}?status=lost")).await;
    assert_eq!(status, 422);
    let (status, _) = app
        .get(Some(&acme), "/api/v1/subscriptions/999/deliveries")
        .await;
    assert_eq!(status, 404);

    let (status, _) = app
        .subscribe(
            ADMIN_TOKEN,
            &body("https://93.184.216.34/hook", json!(["release_published"])),
        )
        .await;
    assert_eq!(status, 422, "the admin names the team");

    let delete = |token: &str| {
        app.client
            .delete(app.url(&format!("/api/v1/subscriptions/{id}")))
            .bearer_auth(token)
            .send()
    };
    assert_eq!(delete(&globex).await.unwrap().status(), 403);
    assert_eq!(delete(&acme).await.unwrap().status(), 204);
    assert_eq!(delete(&acme).await.unwrap().status(), 404);
    app.stop().await;
}

/// One request the receiver saw.
#[derive(Debug, Clone)]
struct Received {
    headers: HeaderMap,
    body: Vec<u8>,
}

/// A local webhook receiver answering with the statuses in `script` (then 200).
struct Receiver {
    url: String,
    seen: Arc<Mutex<Vec<Received>>>,
}

async fn receiver(script: Vec<u16>) -> Receiver {
    let seen: Arc<Mutex<Vec<Received>>> = Arc::default();
    let script = Arc::new(Mutex::new(script.into_iter()));
    let record = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let record = record.clone();
            let script = script.clone();
            async move {
                record.lock().unwrap().push(Received {
                    headers,
                    body: body.to_vec(),
                });
                let status = script.lock().unwrap().next().unwrap_or(200);
                StatusCode::from_u16(status).unwrap()
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

    async fn wait_for(&self, n: usize, within: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let seen = self.seen();
            if seen.len() >= n {
                return seen;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the receiver got {} of {n} requests in time",
                seen.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Poll a subscription's deliveries until `done` holds.
async fn wait_deliveries(
    app: &App,
    token: &str,
    id: i64,
    within: Duration,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let (status, page) = app
            .get(
                Some(token),
                &format!("/api/v1/subscriptions/{id}/deliveries"),
            )
            .await;
        assert_eq!(status, 200);
        let items = page["items"].as_array().unwrap().clone();
        if done(&items) {
            return items;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "deliveries did not settle in time: {items:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn webhooks_deliver_signed_events_of_the_team_and_the_fleet() {
    let app = App::spawn(|c| c.webhook_allow_private_targets = true).await;
    let acme = app.team_token("acme").await;
    let globex = app.team_token("globex").await;
    let hook = receiver(vec![]).await;
    let secret = "acme-webhook-secret-0001";
    // Registered before the subscription (which starts at the journal's head): acme uses left-pad.
    app.register_using(&acme, "acme", "uses-left-pad", "left-pad")
        .await;
    let (status, sub) = app
        .subscribe(
            &acme,
            &json!({"url": hook.url, "types": ["repository_upserted", "release_published"], "secret": secret}),
        )
        .await;
    assert_eq!(status, 201, "{sub}");
    let sub_id = sub["id"].as_i64().unwrap();

    let repo = app.register(&acme, "https://github.com/acme/one").await;
    app.register(&globex, "https://github.com/globex/web").await; // another team's
    app.remove(&acme, repo).await; // a type not subscribed to
    app.publish_release("left-pad", "2.0.0").await; // fleet-wide, a package acme uses

    hook.wait_for(2, Duration::from_secs(20)).await;
    // The last event in the journal is a matching one, so once its delivery is recorded the
    // dispatcher has examined every event before it; every recorded delivery has then been sent.
    let deliveries = wait_deliveries(&app, &acme, sub_id, Duration::from_secs(10), |items| {
        items.len() >= 2 && items.iter().all(|d| d["status"] == "delivered")
    })
    .await;
    assert_eq!(
        deliveries.len(),
        2,
        "only the matching events are delivered"
    );
    let mut seen = hook.seen();
    assert_eq!(seen.len(), 2, "only the matching events are delivered");
    // Each delivery is its own job, so they may arrive in either order; the journal orders them.
    seen.sort_by_key(|request| {
        serde_json::from_slice::<Value>(&request.body).unwrap()["seq"]
            .as_i64()
            .unwrap()
    });
    let mut types = Vec::new();
    for request in &seen {
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        let header = |name: &str| request.headers[name].to_str().unwrap().to_owned();
        assert_eq!(
            header("x-upkeep-signature-256"),
            app::sha256_signature(secret, &request.body),
            "the signature is HMAC-SHA256 of the body"
        );
        assert_eq!(header("x-upkeep-event"), body["type"].as_str().unwrap());
        assert_eq!(header("x-upkeep-delivery"), body["id"].as_str().unwrap());
        assert_eq!(header("content-type"), "application/json");
        types.push(body["type"].as_str().unwrap().to_owned());
    }
    assert_eq!(types, ["repository_upserted", "release_published"]);
    assert_eq!(
        serde_json::from_slice::<Value>(&seen[0].body).unwrap()["payload"]["repository"]["url"],
        "https://github.com/acme/one"
    );

    let deliveries = wait_deliveries(&app, &acme, sub_id, Duration::from_secs(10), |items| {
        items.len() == 2 && items.iter().all(|d| d["status"] == "delivered")
    })
    .await;
    for delivery in &deliveries {
        assert_eq!(delivery["attempts"], 1);
        assert_eq!(delivery["last_status_code"], 200);
        assert!(delivery["delivered_at"].is_string());
    }
    let (_, delivered) = app
        .get(
            Some(&acme),
            &format!("/api/v1/subscriptions/{sub_id}/deliveries?status=delivered&limit=1"),
        )
        .await;
    assert_eq!(delivered["items"].as_array().unwrap().len(), 1);
    assert_eq!(delivered["next"], deliveries[0]["id"]);
    app.stop().await;
}

#[tokio::test]
async fn with_a_secret_key_subscription_secrets_are_sealed_at_rest() {
    let app = App::spawn(|c| {
        c.webhook_allow_private_targets = true;
        c.secret_key = Some(upkeep::config::Secret::new("5a".repeat(32)));
    })
    .await;
    let acme = app.team_token("acme").await;
    let hook = receiver(vec![]).await;
    let secret = "sealed-at-rest-secret-0002";
    let (status, sub) = app
        .subscribe(
            &acme,
            &json!({"url": hook.url, "types": ["repository_upserted"], "secret": secret}),
        )
        .await;
    assert_eq!(status, 201, "{sub}");
    let (stored,): (String,) = sqlx::query_as("SELECT secret FROM webhook_subscriptions")
        .fetch_one(app.db.store.pool())
        .await
        .unwrap();
    assert!(stored.starts_with("sealed:v1:"), "{stored}");
    assert!(!stored.contains(secret));

    app.register(&acme, "https://github.com/acme/sealed").await;
    let seen = hook.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!(
        seen[0].headers["x-upkeep-signature-256"].to_str().unwrap(),
        app::sha256_signature(secret, &seen[0].body),
        "deliveries are signed with the secret as given"
    );
    app.stop().await;
}

#[tokio::test]
async fn failed_deliveries_are_retried_until_the_receiver_accepts() {
    let app = App::spawn(|c| c.webhook_allow_private_targets = true).await;
    let acme = app.team_token("acme").await;
    let hook = receiver(vec![500, 500]).await;
    // Registered before the subscription (which starts at the journal's head): acme uses tokio.
    app.register_using(&acme, "acme", "uses-tokio", "tokio")
        .await;
    let (status, sub) = app
        .subscribe(
            &acme,
            &json!({"url": hook.url, "types": ["release_published"], "secret": "retry-secret-0123456789"}),
        )
        .await;
    assert_eq!(status, 201);
    let sub_id = sub["id"].as_i64().unwrap();
    app.publish_release("tokio", "2.0.0").await;

    // Backoff: about 2 s after the first failure, 4 s after the second.
    let seen = hook.wait_for(3, Duration::from_secs(40)).await;
    let ids: Vec<&str> = seen
        .iter()
        .map(|r| r.headers["x-upkeep-delivery"].to_str().unwrap())
        .collect();
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "one event, three attempts"
    );
    let deliveries = wait_deliveries(&app, &acme, sub_id, Duration::from_secs(10), |items| {
        items.first().is_some_and(|d| d["status"] == "delivered")
    })
    .await;
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0]["attempts"], 3);
    assert_eq!(deliveries[0]["last_status_code"], 200);
    app.stop().await;
}

#[tokio::test]
async fn deliveries_are_dead_lettered_after_max_attempts() {
    let app = App::spawn(|c| c.webhook_allow_private_targets = true).await;
    let acme = app.team_token("acme").await;
    let hook = receiver(vec![503; 10]).await;
    // Registered before the subscription (which starts at the journal's head): acme uses chrono.
    app.register_using(&acme, "acme", "uses-chrono", "chrono")
        .await;
    let (status, sub) = app
        .subscribe(
            &acme,
            &json!({"url": hook.url, "types": ["release_published"], "secret": "dead-letter-secret-0123", "max_attempts": 2}),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(sub["max_attempts"], 2);
    let sub_id = sub["id"].as_i64().unwrap();
    app.publish_release("chrono", "0.5.0").await;

    let deliveries = wait_deliveries(&app, &acme, sub_id, Duration::from_secs(30), |items| {
        items.first().is_some_and(|d| d["status"] == "dead")
    })
    .await;
    assert_eq!(deliveries[0]["attempts"], 2);
    assert_eq!(deliveries[0]["last_status_code"], 503);
    assert!(
        deliveries[0]["last_error"]
            .as_str()
            .unwrap()
            .contains("503"),
        "{deliveries:?}"
    );
    let (_, dead) = app
        .get(
            Some(&acme),
            &format!("/api/v1/subscriptions/{sub_id}/deliveries?status=dead"),
        )
        .await;
    assert_eq!(dead["items"].as_array().unwrap().len(), 1);
    // No attempt after the last one: the delivery's job has ended, so nothing retries it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let counts = app.db.store.job_counts().await.unwrap();
        let live = counts.iter().any(|(kind, state, n)| {
            kind == "deliver_webhook" && (state == "pending" || state == "running") && *n > 0
        });
        if !live {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the delivery job did not end: {counts:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(hook.seen().len(), 2);
    app.stop().await;
}

#[tokio::test]
#[ignore = "needs NATS: set UPKEEP_TEST_NATS_URL=nats://127.0.0.1:4222"]
async fn events_are_published_to_jetstream_once_across_restarts() {
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
            ack_policy: consumer::AckPolicy::None,
            inactive_threshold: Duration::from_mins(2),
            ..Default::default()
        })
        .await
        .unwrap();
    // Event id → (subject, Nats-Msg-Id, count) as the consumer receives them.
    let mut received: HashMap<String, (String, String, usize)> = HashMap::new();
    let drain = async |received: &mut HashMap<String, (String, String, usize)>| {
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
            let msg_id = message
                .headers
                .as_ref()
                .and_then(|h| h.get("Nats-Msg-Id"))
                .map(|v| v.as_str().to_owned())
                .unwrap_or_default();
            let entry = received
                .entry(body["id"].as_str().unwrap().to_owned())
                .or_insert((message.subject.to_string(), msg_id, 0));
            entry.2 += 1;
        }
    };

    let app = App::spawn(|c| c.nats_url = Some(nats_url.clone())).await;
    let acme = app.team_token("acme").await;
    app.register(&acme, "https://github.com/acme/one").await;
    app.register(&acme, "https://github.com/acme/two").await;
    app.publish_release("nats-test", "1.0.0").await;
    let journal = app
        .db
        .store
        .events_after(&events::EventFilter {
            after: 0,
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(journal.len(), 3);
    let ours = |received: &HashMap<String, (String, String, usize)>| {
        journal
            .iter()
            .filter(|e| received.contains_key(&e.id))
            .count()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while ours(&received) < journal.len() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "events reach JetStream: {received:?}"
        );
        drain(&mut received).await;
    }
    for event in &journal {
        let (subject, msg_id, _) = &received[&event.id];
        assert_eq!(subject, &format!("upkeep.{}.{}", event.stream, event.kind));
        assert_eq!(msg_id, &event.id, "Nats-Msg-Id is the event id");
    }
    let store = app.db.store.clone();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while store.delivery_cursor("nats").await.unwrap() < journal[2].seq {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the cursor advances"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (db, config) = app.stop_keeping_db().await;

    // A publisher that restarts from an old position (as after an outage before the position was
    // saved) republishes; JetStream drops the duplicates by Nats-Msg-Id. New events still arrive.
    sqlx::query("UPDATE delivery_cursors SET last_seq = 0, leased_by = NULL, leased_until = NULL WHERE name = 'nats'")
        .execute(store.pool())
        .await
        .unwrap();
    let mut tx = store.begin().await.unwrap();
    let late = events::append(
        &mut tx,
        store.backend(),
        Event::ReleasePublished(ReleasePayload {
            ecosystem: upkeep_resolvers::Ecosystem::Cargo,
            name: "nats-test".into(),
            version: "1.0.1".into(),
            published_at: None,
            prerelease: false,
        })
        .into_new(None, "package:cargo:nats-test"),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let services = upkeep::services::Services::from_config(&config, store.clone()).unwrap();
    let (stop, rx) = watch::channel(false);
    let publisher = tokio::spawn(upkeep::delivery::nats::run(services, rx));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while store.delivery_cursor("nats").await.unwrap() < late {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the restarted publisher catches up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = stop.send(true);
    publisher.await.unwrap();
    for _ in 0..3 {
        drain(&mut received).await;
    }
    let journal = store
        .events_after(&events::EventFilter {
            after: 0,
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(journal.len(), 4);
    for event in &journal {
        let count = received.get(&event.id).map_or(0, |r| r.2);
        assert_eq!(
            count, 1,
            "event {} ({}) arrived exactly once",
            event.seq, event.kind
        );
    }
    drop(db);
}
