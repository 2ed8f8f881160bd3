//! Readiness and database trouble (issue 10, points 8, 9 and 11): `/readyz` says why the process
//! cannot serve (no database, a lost schema, a removed SQLite file), every API route answers 503
//! with `Retry-After` (never 500) while the database is gone, and the API sheds load from its own
//! pool while the workers keep theirs. Runs on SQLite, or PostgreSQL when
//! `UPKEEP_TEST_DATABASE_URL` is set; the fault test against the real binary runs on PostgreSQL.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Value, json};
use sqlx::{Connection as _, Row as _};
use tokio::sync::watch;
use upkeep::config::Config;
use upkeep::store::{Backend, PoolSize, Store};

use crate::support::app::{self, ADMIN_TOKEN, TestApp};
use crate::support::inventory;

/// A bound against hanging while waiting for a condition (not a timing assertion).
const WAIT: Duration = Duration::from_secs(30);

async fn get(client: &reqwest::Client, url: &str) -> (u16, Value) {
    let response = client.get(url).send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Drop every table of the database at `url` under the running app (its schema is lost).
async fn drop_every_table(url: &str, backend: Backend) {
    let mut conn = sqlx::AnyConnection::connect(url).await.expect("connect");
    match backend {
        Backend::Postgres => {
            sqlx::query("DROP SCHEMA public CASCADE")
                .execute(&mut conn)
                .await
                .expect("drop schema");
            sqlx::query("CREATE SCHEMA public")
                .execute(&mut conn)
                .await
                .expect("create schema");
        }
        Backend::Sqlite => {
            sqlx::query("PRAGMA foreign_keys = OFF")
                .execute(&mut conn)
                .await
                .expect("pragma");
            let tables: Vec<String> = sqlx::query(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            )
            .fetch_all(&mut conn)
            .await
            .expect("tables")
            .iter()
            .map(|row| row.get("name"))
            .collect();
            for table in tables {
                sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE \"{table}\"")))
                    .execute(&mut conn)
                    .await
                    .expect("drop table");
            }
        }
    }
    conn.close().await.expect("close");
}

#[tokio::test]
async fn a_lost_schema_makes_the_process_not_ready_and_api_calls_answer_503() {
    let app = TestApp::spawn().await;
    let token = app.team_token("platform").await;
    assert_eq!(get(&app.client, &app.url("/readyz")).await.0, 200);

    drop_every_table(&app.db.url, app.db.store.backend()).await;

    let (status, body) = get(&app.client, &app.url("/readyz")).await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["reason"]
            .as_str()
            .is_some_and(|r| r.contains("no upkeep schema")),
        "{body}"
    );
    let response = app
        .client
        .get(app.url("/api/v1/repositories"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    let error: Value = response.json().await.expect("JSON error");
    assert_eq!(error["error"]["code"], "unavailable", "{error}");
    // Nothing migrates behind the operator's back: still not ready.
    assert_eq!(get(&app.client, &app.url("/readyz")).await.0, 503);

    // Migrating (what `upkeep migrate` does) makes it ready again.
    app.db.store.migrate().await.expect("migrate");
    assert_eq!(get(&app.client, &app.url("/readyz")).await.0, 200);
    app.stop().await;
}

/// Serve `store` (workers on it, the API on `api`) until the returned sender says stop.
async fn serve_on(
    store: &Store,
    api: Store,
    config: &Config,
) -> (SocketAddr, watch::Sender<bool>, tokio::task::JoinHandle<()>) {
    app::install_crypto();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, rx) = watch::channel(false);
    let services =
        upkeep::services::Services::from_config(config, store.clone()).expect("services");
    let server = tokio::spawn(async move {
        upkeep::server::serve_with_api_store(services, api, listener, rx)
            .await
            .expect("server runs");
    });
    (addr, stop, server)
}

#[tokio::test]
async fn readiness_notices_the_sqlite_file_removed_or_replaced() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("upkeep.db");
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let store = Store::open(&url).await.expect("open");
    let config = app::test_config(&url);
    let api = upkeep::server::api_store(&store, &config);
    let (addr, stop, server) = serve_on(&store, api, &config).await;
    let client = reqwest::Client::new();
    let readyz = format!("http://{addr}/readyz");
    assert_eq!(get(&client, &readyz).await.0, 200);

    let aside = dir.path().join("aside.db");
    std::fs::rename(&path, &aside).expect("move the file away");
    let (status, body) = get(&client, &readyz).await;
    assert_eq!(status, 503, "{body}");
    // "removed", or "replaced" when a pool connection opened meanwhile (`mode=rwc`) has already
    // created a new, empty file at the path: either way the file opened is gone.
    assert!(
        body["reason"]
            .as_str()
            .is_some_and(|r| r.contains("removed") || r.contains("replaced")),
        "{body}"
    );

    std::fs::copy(&aside, &path).expect("a copy in its place");
    let (status, body) = get(&client, &readyz).await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["reason"]
            .as_str()
            .is_some_and(|r| r.contains("replaced")),
        "{body}"
    );

    std::fs::remove_file(&path).expect("remove the copy");
    std::fs::rename(&aside, &path).expect("put the file back");
    assert_eq!(get(&client, &readyz).await.0, 200);
    let _ = stop.send(true);
    server.await.expect("server stops");
}

#[tokio::test]
async fn sqlite_commits_are_durable_in_wal_mode() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("upkeep.db").display()
    );
    let store = Store::open(&url).await.expect("open");
    let split = store.split(PoolSize { max: Some(1) }, Duration::from_secs(5));
    for pool in [store.pool(), split.pool()] {
        let mode: String = sqlx::query("PRAGMA journal_mode")
            .fetch_one(pool)
            .await
            .expect("journal mode")
            .get(0);
        assert_eq!(mode, "wal");
        // 2 = FULL: a commit is on disk before it is answered (1 = NORMAL may lose it).
        let synchronous: i64 = sqlx::query("PRAGMA synchronous")
            .fetch_one(pool)
            .await
            .expect("synchronous")
            .get(0);
        assert_eq!(synchronous, 2);
    }
    store.close().await;
    assert!(
        split.pool().is_closed(),
        "split pools close with their store"
    );
    let late = store.split(PoolSize { max: Some(1) }, Duration::from_secs(5));
    assert!(
        late.pool().is_closed(),
        "a pool split after closing starts closed"
    );
}

/// `path` of the OpenAPI document with its parameters filled in.
fn concrete(path: &str) -> String {
    path.replace("{id}", "1")
        .replace("{name}", "platform")
        .replace("{ecosystem}", "npm")
}

#[tokio::test]
async fn every_api_route_answers_503_when_the_database_is_gone() {
    let app = TestApp::spawn().await;
    let token = app.team_token("platform").await;
    let (_, doc) = get(&app.client, &app.url("/api/v1/openapi.json")).await;
    let mut operations = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            if operation.get("security").is_some() {
                operations.push((method.to_ascii_uppercase(), concrete(path)));
            }
        }
    }
    assert!(operations.len() >= 15, "{operations:?}");

    app.db.store.close().await;

    let mut wrong = Vec::new();
    for (method, path) in &operations {
        // A team token (authentication needs the database) and the admin token (the handler
        // does); bodies are empty objects, requests without one carry none.
        for bearer in [token.as_str(), ADMIN_TOKEN] {
            let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
            let mut request = app
                .client
                .request(method.clone(), app.url(path))
                .bearer_auth(bearer);
            if method == reqwest::Method::POST || method == reqwest::Method::PUT {
                request = request.json(&json!({}));
            }
            let response = request.send().await.expect("request");
            let status = response.status().as_u16();
            let retry_after = response.headers().contains_key("retry-after");
            let admin = bearer == ADMIN_TOKEN;
            // The admin's requests with an empty body may be refused for the body first (422):
            // that answer does not depend on the database.
            let acceptable = status == 503 && retry_after
                || admin && status == 422 && method != reqwest::Method::GET;
            if !acceptable {
                wrong.push(format!("{method} {path} (admin: {admin}): {status}"));
            }
        }
    }
    assert!(wrong.is_empty(), "not 503 with Retry-After: {wrong:#?}");
}

#[tokio::test]
async fn the_api_sheds_load_from_its_own_pool_while_workers_finish_jobs() {
    let db = app::fresh_db().await;
    let mut config = app::test_config(&db.url);
    config.database_api_connections = Some(2);
    config.database_api_acquire_timeout_ms = 200;
    let team = db.store.create_team("platform").await.expect("team");
    let token = db.store.create_token(&team).await.expect("token").token;
    let api = upkeep::server::api_store(&db.store, &config);
    let (addr, stop, server) = serve_on(&db.store, api.clone(), &config).await;
    let client = reqwest::Client::new();

    // Every API connection is taken.
    let mut held = Vec::new();
    for _ in 0..2 {
        held.push(api.pool().acquire().await.expect("an API connection"));
    }
    let response = client
        .get(format!("http://{addr}/api/v1/repositories"))
        .bearer_auth(token.expose())
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));

    // The workers' pool is untouched: a job queued now completes.
    let repo = inventory::repository(&db.store, team.id, "https://github.com/acme/api").await;
    let job = upkeep::jobs::enqueue(
        &db.store,
        &upkeep::jobs::recommend_repository::RecommendRepository::all(repo),
    )
    .await
    .expect("enqueue")
    .expect("a new job");
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let record = db.store.job(job).await.expect("job").expect("job row");
        if record.state == "done" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the job did not finish: {record:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Connections back: the API answers again.
    drop(held);
    let response = client
        .get(format!("http://{addr}/api/v1/repositories"))
        .bearer_auth(token.expose())
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let _ = stop.send(true);
    server.await.expect("server stops");
}

/// `upkeep` (the real binary) with the test's environment.
fn upkeep_command(
    database_url: &str,
    listen: &str,
    cache: &std::path::Path,
) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_upkeep"));
    command
        .env("UPKEEP_DATABASE_URL", database_url)
        .env("UPKEEP_LISTEN", listen)
        .env("UPKEEP_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("UPKEEP_WORKERS", "1")
        .env("UPKEEP_JOB_POLL_MS", "200")
        .env("UPKEEP_LOG_LEVEL", "error")
        .env("UPKEEP_CACHE_DIR", cache)
        .env("UPKEEP_GITHUB_API_URL", app::CLOSED_PORT)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    command
}

/// `/readyz` of the process at `readyz`, polled until `done` holds for its answer; every answer
/// before must satisfy `meanwhile`.
async fn poll_readyz(
    client: &reqwest::Client,
    readyz: &str,
    meanwhile: impl Fn(u16, &Value) -> bool,
    done: impl Fn(u16, &Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (status, body) = match client.get(readyz).send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                (status, response.json().await.unwrap_or(Value::Null))
            }
            Err(_) => (0, Value::Null),
        };
        if done(status, &body) {
            return body;
        }
        assert!(meanwhile(status, &body), "/readyz answered {status} {body}");
        assert!(
            tokio::time::Instant::now() < deadline,
            "/readyz never reached the expected state; last {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
#[ignore = "needs PostgreSQL: set UPKEEP_TEST_DATABASE_URL and run with --include-ignored"]
async fn postgres_readiness_is_truthful_while_the_database_is_dropped_and_recreated() {
    let server = app::require_postgres();
    let name = format!("upkeep_t_{}", uuid::Uuid::new_v4().simple());
    let admin = Store::connect(&server)
        .await
        .expect("connect to the server");
    let exec = |sql: String| {
        let admin = admin.clone();
        async move {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(admin.pool())
                .await
                .expect("admin statement");
        }
    };
    exec(format!("CREATE DATABASE {name}")).await;
    let mut url = url::Url::parse(&server).expect("server URL");
    url.set_path(&format!("/{name}"));
    let url = url.to_string();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("addr")
        .port();
    let listen = format!("127.0.0.1:{port}");
    let cache = tempfile::tempdir().expect("cache dir");
    let mut serve = upkeep_command(&url, &listen, cache.path())
        .arg("serve")
        .spawn()
        .expect("start upkeep serve");
    let client = reqwest::Client::new();
    let readyz = format!("http://{listen}/readyz");
    let repositories = format!("http://{listen}/api/v1/repositories");

    // Started: not ready until it is, then ready.
    poll_readyz(&client, &readyz, |_, _| true, |status, _| status == 200).await;

    // The database dropped: not ready at once, and the API answers 503.
    exec(format!("DROP DATABASE {name} WITH (FORCE)")).await;
    let body = poll_readyz(&client, &readyz, |_, _| false, |status, _| status == 503).await;
    assert_eq!(body["status"], "unavailable", "{body}");
    let response = client
        .get(&repositories)
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 503);

    // Recreated empty: still not ready, now because the schema is missing; nothing migrates it.
    exec(format!("CREATE DATABASE {name}")).await;
    poll_readyz(
        &client,
        &readyz,
        |status, _| status == 503,
        |status, body| {
            status == 503
                && body["reason"]
                    .as_str()
                    .is_some_and(|r| r.contains("no upkeep schema"))
        },
    )
    .await;
    for _ in 0..10 {
        assert_eq!(get(&client, &readyz).await.0, 503);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let response = client
        .get(&repositories)
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 503);

    // `upkeep migrate` restores the schema: ready again, without a restart.
    let migrated = upkeep_command(&url, &listen, cache.path())
        .arg("migrate")
        .status()
        .await
        .expect("run upkeep migrate");
    assert!(migrated.success());
    poll_readyz(
        &client,
        &readyz,
        |status, _| status == 503,
        |status, _| status == 200,
    )
    .await;
    assert!(
        serve.try_wait().expect("status").is_none(),
        "serve kept running"
    );

    serve.start_kill().expect("stop serve");
    let _ = serve.wait().await;
    exec(format!("DROP DATABASE {name} WITH (FORCE)")).await;
    admin.close().await;
}
