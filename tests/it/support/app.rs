//! The app under test: a fresh database per test on the backend CI selects, and the app spawned
//! on port 0.
//!
//! Backend: SQLite (a temporary file) unless `UPKEEP_TEST_DATABASE_URL` names a PostgreSQL server;
//! then every test gets its own new database `upkeep_t_<uuid>` on that server (`.ci/run` drops
//! them afterwards).

use std::net::SocketAddr;

use tokio::sync::watch;
use upkeep::config::{Config, Secret};
use upkeep::store::{Backend, Store};

/// A loopback address where nothing listens (the discard port).
pub const CLOSED_PORT: &str = "http://127.0.0.1:9/";

pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";

/// A fresh, migrated store, and the temporary directory that holds it (SQLite).
pub struct TestDb {
    pub store: Store,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

/// The PostgreSQL server URL tests use, if configured.
pub fn postgres_server() -> Option<String> {
    std::env::var("UPKEEP_TEST_DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres"))
}

/// Like `postgres_server`, for tests that only make sense on PostgreSQL (they are `#[ignore]`d by
/// default and run in CI with `--include-ignored`).
pub fn require_postgres() -> String {
    postgres_server()
        .expect("this test needs PostgreSQL: set UPKEEP_TEST_DATABASE_URL=postgres://user@host/db")
}

pub async fn fresh_db() -> TestDb {
    if let Some(server) = postgres_server() {
        let name = format!("upkeep_t_{}", uuid::Uuid::new_v4().simple());
        let admin = Store::connect(&server)
            .await
            .expect("connect to the PostgreSQL test server");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(admin.pool())
            .await
            .expect("create test database");
        admin.close().await;
        let mut url = url::Url::parse(&server).expect("UPKEEP_TEST_DATABASE_URL is a URL");
        url.set_path(&format!("/{name}"));
        let url = url.to_string();
        let store = Store::open(&url).await.expect("open the test database");
        assert_eq!(store.backend(), Backend::Postgres);
        TestDb {
            store,
            url,
            _dir: None,
        }
    } else {
        fresh_sqlite_db().await
    }
}

/// A fresh, migrated SQLite store in a temporary directory, whatever the backend tests select.
pub async fn fresh_sqlite_db() -> TestDb {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("upkeep.db").display()
    );
    let store = Store::open(&url).await.expect("open the test database");
    assert_eq!(store.backend(), Backend::Sqlite);
    TestDb {
        store,
        url,
        _dir: Some(dir),
    }
}

/// The service running on 127.0.0.1 with a fresh database.
pub struct TestApp {
    pub addr: SocketAddr,
    pub db: TestDb,
    pub client: reqwest::Client,
    shutdown: watch::Sender<bool>,
    server: Option<tokio::task::JoinHandle<()>>,
}

pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

pub fn test_config(db_url: &str) -> Config {
    let mut config =
        Config::from_sources(None, &std::collections::BTreeMap::new()).expect("defaults are valid");
    db_url.clone_into(&mut config.database_url);
    config.admin_token = Some(Secret::new(ADMIN_TOKEN));
    config.workers = 2;
    config.job_poll_ms = 20;
    // Tests never leave the machine: every registry and GitHub point at a closed loopback port
    // unless the test configures a fake.
    for (key, _) in upkeep_resolvers::registry::DEFAULT_BASE_URLS {
        config
            .registries
            .insert((*key).to_owned(), CLOSED_PORT.to_owned());
    }
    CLOSED_PORT.clone_into(&mut config.github_api_url);
    // The fake GitHub requires its token, like GitHub for private repositories.
    config.github_token = Some(Secret::new(super::fake_github::TOKEN));
    config.cache_dir = std::env::temp_dir().join(format!(
        "upkeep-test-cache-{}",
        uuid::Uuid::new_v4().simple()
    ));
    // The git repositories tests register as local paths live in the temporary directory.
    config.local_repository_roots =
        vec![std::fs::canonicalize(std::env::temp_dir()).expect("the temporary directory")];
    config
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        TestApp::spawn_with(|_| {}).await
    }

    /// Like `spawn`, with the test's changes to the configuration (e.g. `github_api_url`).
    pub async fn spawn_with(configure: impl FnOnce(&mut Config)) -> TestApp {
        install_crypto();
        let db = fresh_db().await;
        let mut config = test_config(&db.url);
        configure(&mut config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind port 0");
        let addr = listener.local_addr().expect("local addr");
        let (shutdown, rx) = watch::channel(false);
        let store = db.store.clone();
        let server = tokio::spawn(async move {
            let services =
                upkeep::services::Services::from_config(&config, store).expect("services");
            upkeep::server::serve(services, listener, rx)
                .await
                .expect("server runs");
        });
        let client = reqwest::Client::builder().build().expect("client");
        TestApp {
            addr,
            db,
            client,
            shutdown,
            server: Some(server),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Create a team and a token for it through the admin API.
    pub async fn team_token(&self, name: &str) -> String {
        let response = self
            .client
            .post(self.url("/api/v1/teams"))
            .bearer_auth(ADMIN_TOKEN)
            .json(&serde_json::json!({ "name": name }))
            .send()
            .await
            .expect("create team");
        assert_eq!(response.status(), 201, "create team {name}");
        let response = self
            .client
            .post(self.url(&format!("/api/v1/teams/{name}/tokens")))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("create token");
        assert_eq!(response.status(), 201);
        let body: serde_json::Value = response.json().await.expect("token json");
        body["token"].as_str().expect("token string").to_owned()
    }

    /// Stop gracefully and wait for the server to finish.
    pub async fn stop(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(server) = self.server.take() {
            server.await.expect("server task ends cleanly");
        }
    }
}

/// `sha256=<hex HMAC-SHA256(secret, body)>`: the signature header value GitHub sends and upkeep's
/// outgoing webhooks carry, computed here independently of the code under test.
pub fn sha256_signature(secret: &str, body: &[u8]) -> String {
    use hmac::{KeyInit, Mac};
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Jobs pending or running in `store`'s queue.
pub async fn busy_jobs(store: &Store) -> i64 {
    store
        .job_counts()
        .await
        .expect("job counts")
        .iter()
        .filter(|(_, state, _)| state == "pending" || state == "running")
        .map(|(_, _, n)| n)
        .sum()
}

/// Wait (at most `within`) until no job is pending or running, so the journal stops growing.
pub async fn wait_for_idle_queue(store: &Store, within: std::time::Duration) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let busy = busy_jobs(store).await;
        if busy == 0 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{busy} jobs still pending or running"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
