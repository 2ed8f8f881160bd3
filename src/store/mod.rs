//! The store: one portable SQL layer over SQLite (embedded default) and PostgreSQL (production).
//!
//! Design: every query is written once against sqlx's `Any` driver with `$n` placeholders, which
//! both backends accept. The schema keeps to the types `Any` carries (BIGINT, TEXT, SMALLINT flags;
//! timestamps as BIGINT milliseconds since the epoch). The few statements that must differ — the
//! job claim (`FOR UPDATE SKIP LOCKED`) and the journal append lock — branch on [`Backend`] in the
//! module that owns them. Migrations live in `migrations/sqlite` and `migrations/postgres`.
//!
//! Pools: a process may split its store into several pools ([`Store::split`]) — `serve` gives the
//! API its own pool with a short acquire timeout, so a flood of requests sheds load (503) instead
//! of taking the connections the workers need to save their results. Pools split from one store
//! close together.
//!
//! Readiness: [`Store::readiness_problem`] says why the store cannot serve — the database does not
//! answer, its schema is not the one this binary's migrations make (migrations are applied only
//! by `upkeep migrate` and at start, never silently at run time), or the SQLite file opened at
//! start was removed or replaced.
//!
//! SQLite runs in WAL mode with `synchronous = FULL`: a commit answered is on disk, also when the
//! machine loses power (`NORMAL` may lose the last commits; the cost is in the README).

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

use serde::Serialize;
use serde::de::{DeserializeOwned, IntoDeserializer};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::migrate::Migrator;
use sqlx::{Any, AnyPool, Executor, Row};

pub mod events;
pub mod inventory;
pub mod jobs;
pub mod pushes;
pub mod recommendations;
pub mod releases;
pub mod repositories;
pub mod subscriptions;
pub mod teams;
pub mod webhook_deliveries;

/// A transaction on either backend.
pub type Tx = sqlx::Transaction<'static, Any>;

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database URL that names a supported backend.
/// Why a text is not a database URL upkeep can open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidDatabaseUrl(pub String);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    pub backend: Backend,
    url: String,
}

impl DatabaseUrl {
    /// Accepts `sqlite:FILE`, `sqlite://FILE`, `sqlite::memory:` and `postgres(ql)://…`.
    pub fn parse(url: &str) -> Result<DatabaseUrl, InvalidDatabaseUrl> {
        let url = url.trim();
        if let Some(rest) = url.strip_prefix("sqlite:") {
            let path = rest.trim_start_matches("//");
            let path = path.split('?').next().unwrap_or_default();
            if path.is_empty() {
                return Err(InvalidDatabaseUrl(format!(
                    "`{url}` names no SQLite file (try sqlite://upkeep.db?mode=rwc)"
                )));
            }
            return Ok(DatabaseUrl {
                backend: Backend::Sqlite,
                url: url.to_owned(),
            });
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let parsed = url::Url::parse(url).map_err(|e| {
                InvalidDatabaseUrl(format!("`{}` is not a valid URL: {e}", redact(url)))
            })?;
            if parsed.host_str().is_none_or(str::is_empty) {
                return Err(InvalidDatabaseUrl(format!(
                    "`{}` names no host",
                    redact(url)
                )));
            }
            return Ok(DatabaseUrl {
                backend: Backend::Postgres,
                url: url.to_owned(),
            });
        }
        Err(InvalidDatabaseUrl(format!(
            "`{}` is not a sqlite: or postgres:// URL",
            redact(url)
        )))
    }

    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// The SQLite database file (`None` for PostgreSQL and in-memory SQLite).
    pub fn sqlite_file(&self) -> Option<PathBuf> {
        if self.backend != Backend::Sqlite {
            return None;
        }
        let rest = self.url.strip_prefix("sqlite:")?.trim_start_matches("//");
        let path = rest.split('?').next().unwrap_or_default();
        (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
    }
}

/// `url` with any password replaced, for messages.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0}")]
    InvalidUrl(String),
    #[error("{0}")]
    Invalid(String),
    #[error("already exists: {0}")]
    Conflict(String),
    #[error("not found: {0}")]
    NotFound(String),
}

impl StoreError {
    /// Did the statement hit a unique constraint?
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Sqlx(sqlx::Error::Database(e)) if e.is_unique_violation())
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// How many connections the pool may open: `max` when given, else 8 on SQLite (its one writer
/// gains nothing from more) and 16 on PostgreSQL. Measured with the fleet benchmark (32 workers,
/// PostgreSQL on the same 2-core machine): 16 connections finished the full cycle in 45 s, 40 in
/// 50 s, so the default does not grow with the worker count; `database_max_connections` raises
/// it where the database has the cores for it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolSize {
    pub max: Option<u32>,
}

impl PoolSize {
    pub fn connections(self, backend: Backend) -> u32 {
        match (self.max, backend) {
            (Some(max), _) => max.max(1),
            (None, Backend::Sqlite) => 8,
            (None, Backend::Postgres) => 16,
        }
    }
}

/// How long a connection is waited for, unless the pool was split with another timeout.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// The database handle shared by the API, the workers and the CLI.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// Every pool split from the same store, this one's included: they close together.
    family: Arc<Mutex<Family>>,
    /// SQLite: the database file as opened, which readiness checks is still there.
    file: Option<Arc<DatabaseFile>>,
}

/// The pools split from one store, and whether they were closed (a pool split later starts
/// closed).
#[derive(Debug, Default)]
struct Family {
    pools: Vec<AnyPool>,
    closed: bool,
}

/// A SQLite database file and its identity (device and inode) when it was opened.
#[derive(Debug)]
struct DatabaseFile {
    path: PathBuf,
    identity: Option<(u64, u64)>,
}

/// The device and inode of `path`, where the platform has them.
fn file_identity(path: &std::path::Path) -> std::io::Result<Option<(u64, u64)>> {
    let metadata = std::fs::metadata(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        Ok(Some((metadata.dev(), metadata.ino())))
    }
    #[cfg(not(unix))]
    {
        let _ = metadata;
        Ok(None)
    }
}

/// The pool options of either backend: size, acquire timeout, and SQLite's pragmas on every new
/// connection.
fn pool_options(backend: Backend, size: PoolSize, acquire_timeout: Duration) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(size.connections(backend))
        .acquire_timeout(acquire_timeout)
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                if backend == Backend::Sqlite {
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA busy_timeout = 10000").await?;
                    conn.execute("PRAGMA synchronous = FULL").await?;
                }
                Ok(())
            })
        })
}

/// The migrations this binary knows for `backend`.
fn migrator(backend: Backend) -> Migrator {
    match backend {
        Backend::Sqlite => sqlx::migrate!("migrations/sqlite"),
        Backend::Postgres => sqlx::migrate!("migrations/postgres"),
    }
}

static DRIVERS: Once = Once::new();

impl Store {
    /// Connect (creating the SQLite file when the URL says `mode=rwc`) without migrating, with
    /// the default pool size for one worker slot.
    pub async fn connect(url: &str) -> Result<Store> {
        Store::connect_sized(url, PoolSize::default()).await
    }

    /// [`Store::connect`] with a pool sized by `size`.
    pub async fn connect_sized(url: &str, size: PoolSize) -> Result<Store> {
        DRIVERS.call_once(sqlx::any::install_default_drivers);
        let parsed = DatabaseUrl::parse(url).map_err(|e| StoreError::InvalidUrl(e.0))?;
        let options = AnyConnectOptions::from_str(parsed.as_str())?;
        let backend = parsed.backend;
        let pool = pool_options(backend, size, ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await?;
        // The pool has connected, so the file exists now (`mode=rwc` creates it).
        let file = match parsed.sqlite_file() {
            Some(path) => {
                let identity = file_identity(&path).map_err(|e| {
                    StoreError::Invalid(format!("cannot read {}: {e}", path.display()))
                })?;
                Some(Arc::new(DatabaseFile { path, identity }))
            }
            None => None,
        };
        Ok(Store {
            family: Arc::new(Mutex::new(Family {
                pools: vec![pool.clone()],
                closed: false,
            })),
            pool,
            backend,
            file,
        })
    }

    /// A new pool to the same database, sized by `size`, that waits at most `acquire_timeout` for
    /// a connection (then the statement fails with [`sqlx::Error::PoolTimedOut`]). It connects
    /// lazily and closes with this store.
    #[must_use]
    pub fn split(&self, size: PoolSize, acquire_timeout: Duration) -> Store {
        let pool = pool_options(self.backend, size, acquire_timeout)
            .connect_lazy_with((*self.pool.connect_options()).clone());
        let mut family = self
            .family
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if family.closed {
            // Marks the pool closed at once; a lazy pool has no connection to wait for.
            drop(pool.close());
        }
        family.pools.push(pool.clone());
        drop(family);
        Store {
            pool,
            backend: self.backend,
            family: Arc::clone(&self.family),
            file: self.file.clone(),
        }
    }

    /// Connect and apply pending migrations.
    pub async fn open(url: &str) -> Result<Store> {
        Store::open_sized(url, PoolSize::default()).await
    }

    /// [`Store::open`] with a pool sized by `size`.
    pub async fn open_sized(url: &str, size: PoolSize) -> Result<Store> {
        let store = Store::connect_sized(url, size).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Apply the backend's migrations.
    pub async fn migrate(&self) -> Result<()> {
        migrator(self.backend).run(&self.pool).await?;
        Ok(())
    }

    /// Why this store cannot serve requests, or `None` when it can: the database answers, has
    /// exactly the migrations this binary knows applied (none missing, none changed, none
    /// unknown), and — on SQLite — the file opened at start is still at its path. `Err` when the
    /// database does not answer.
    pub async fn readiness_problem(&self) -> Result<Option<String>> {
        if let Some(problem) = self.file_problem() {
            return Ok(Some(problem));
        }
        let rows = match sqlx::query(
            "SELECT version, checksum FROM _sqlx_migrations WHERE success = TRUE ORDER BY version",
        )
        .fetch_all(&self.pool)
        .await
        {
            Ok(rows) => rows,
            Err(error) => {
                // The database answers but has no migrations table: the schema is gone (a
                // dropped and recreated database, a new empty file).
                self.ping().await?;
                tracing::warn!(%error, "reading the schema version failed");
                return Ok(Some(
                    "the database has no upkeep schema (run `upkeep migrate`)".to_owned(),
                ));
            }
        };
        let mut applied = Vec::with_capacity(rows.len());
        for row in &rows {
            let version: i64 = row.try_get("version")?;
            let checksum: Vec<u8> = row.try_get("checksum")?;
            applied.push((version, checksum));
        }
        Ok(schema_problem(&migrator(self.backend), &applied))
    }

    /// On SQLite: the database file was removed or replaced since it was opened.
    fn file_problem(&self) -> Option<String> {
        let file = self.file.as_ref()?;
        match file_identity(&file.path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(format!(
                "the database file {} was removed",
                file.path.display()
            )),
            Err(e) => Some(format!(
                "the database file {} cannot be read: {e}",
                file.path.display()
            )),
            Ok(identity) if identity != file.identity => Some(format!(
                "the database file {} was replaced by another file",
                file.path.display()
            )),
            Ok(_) => None,
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Begin a transaction. On SQLite it takes the write lock up front (`BEGIN IMMEDIATE`), so two
    /// writers queue on the busy timeout instead of failing to upgrade a read lock.
    pub async fn begin(&self) -> Result<Tx> {
        match self.backend {
            Backend::Sqlite => Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?),
            Backend::Postgres => Ok(self.pool.begin().await?),
        }
    }

    /// Is the database answering?
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Close this pool and every pool split from the same store.
    pub async fn close(&self) {
        let pools = {
            let mut family = self
                .family
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            family.closed = true;
            family.pools.clone()
        };
        futures_util::future::join_all(pools.iter().map(AnyPool::close)).await;
    }
}

/// Compare the migrations applied to a database (`(version, checksum)`) with the ones `migrator`
/// knows: `None` when they are the same, else why not.
fn schema_problem(migrator: &Migrator, applied: &[(i64, Vec<u8>)]) -> Option<String> {
    let known: Vec<_> = migrator
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .collect();
    let binary = known.iter().map(|m| m.version).max().unwrap_or(0);
    let database = applied.iter().map(|(v, _)| *v).max();
    if applied.is_empty() {
        return Some("the database has no upkeep schema (run `upkeep migrate`)".to_owned());
    }
    let missing: Vec<i64> = known
        .iter()
        .filter(|m| !applied.iter().any(|(v, _)| *v == m.version))
        .map(|m| m.version)
        .collect();
    if !missing.is_empty() {
        return Some(format!(
            "the database schema lacks migrations {missing:?} this binary needs (database at \
             version {}, binary at {binary}; run `upkeep migrate`)",
            database.unwrap_or(0)
        ));
    }
    if let Some((version, _)) = applied.iter().find(|(version, checksum)| {
        known
            .iter()
            .any(|m| m.version == *version && m.checksum.as_ref() != checksum.as_slice())
    }) {
        return Some(format!(
            "migration {version} in the database differs from this binary's"
        ));
    }
    if let Some((version, _)) = applied
        .iter()
        .find(|(version, _)| !known.iter().any(|m| m.version == *version))
    {
        return Some(format!(
            "the database has migration {version}, which this binary does not know (binary at \
             version {binary}; run a newer upkeep)"
        ));
    }
    None
}

/// A domain value (ecosystem, manager, dependency kind, skip reason, recommendation kind) as the
/// text its column holds: its serde name, the same text the API and the events carry. With
/// [`from_text`] the one place where these values turn into text and back.
pub fn to_text<T: Serialize>(value: &T) -> Result<String> {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(text)) => Ok(text),
        Ok(other) => Err(StoreError::Invalid(format!(
            "{other} is not stored as a text column"
        ))),
        Err(e) => Err(StoreError::Invalid(e.to_string())),
    }
}

/// The domain value a `column` holds as `text` (see [`to_text`]); an unknown text is
/// [`StoreError::Invalid`] naming the column and the text.
pub fn from_text<T: DeserializeOwned>(column: &str, text: &str) -> Result<T> {
    let deserializer: serde::de::value::StrDeserializer<'_, serde::de::value::Error> =
        text.into_deserializer();
    T::deserialize(deserializer)
        .map_err(|e| StoreError::Invalid(format!("column `{column}` holds `{text}`: {e}")))
}

/// [`from_text`] of a row's `column`.
pub(crate) fn typed_column<T: DeserializeOwned>(row: &AnyRow, column: &str) -> Result<T> {
    let text: String = row.try_get(column)?;
    from_text(column, &text)
}

/// [`from_text`] of a row's nullable `column`.
pub(crate) fn typed_optional_column<T: DeserializeOwned>(
    row: &AnyRow,
    column: &str,
) -> Result<Option<T>> {
    let text: Option<String> = row.try_get(column)?;
    text.map(|text| from_text(column, &text)).transpose()
}

/// Now, in milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A duration in the milliseconds the store's timestamps use (saturating at `i64::MAX`).
pub fn duration_ms(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod text_tests {
    use upkeep_resolvers::Ecosystem;
    use upkeep_resolvers::manager::{DependencyKind, Manager, SkipReason};
    use upkeep_resolvers::versioning::UpdateKind;

    use super::{StoreError, from_text, to_text};
    use crate::recommendation_kind::RecommendationKind;

    /// The column text is the names the rows were written with before the values were typed.
    #[test]
    fn domain_values_keep_their_column_text() {
        for ecosystem in Ecosystem::ALL {
            let text = to_text(&ecosystem).expect("text");
            assert_eq!(text, ecosystem.as_str());
            assert_eq!(
                from_text::<Ecosystem>("ecosystem", &text).ok(),
                Some(ecosystem)
            );
        }
        for manager in Manager::ALL {
            let text = to_text(&manager).expect("text");
            assert_eq!(text, manager.as_str());
            assert_eq!(from_text::<Manager>("manager", &text).ok(), Some(manager));
        }
        for kind in [
            DependencyKind::Normal,
            DependencyKind::Dev,
            DependencyKind::Build,
            DependencyKind::Optional,
            DependencyKind::Peer,
            DependencyKind::Indirect,
            DependencyKind::Transitive,
            DependencyKind::Toolchain,
            DependencyKind::Override,
            DependencyKind::Plugin,
            DependencyKind::Parent,
            DependencyKind::Managed,
        ] {
            let text = to_text(&kind).expect("text");
            assert_eq!(text, kind.as_str());
            assert_eq!(from_text::<DependencyKind>("kind", &text).ok(), Some(kind));
        }
        for reason in [
            SkipReason::Path,
            SkipReason::Git,
            SkipReason::Url,
            SkipReason::Workspace,
            SkipReason::Local,
            SkipReason::UnresolvedVariable,
            SkipReason::NoVersion,
            SkipReason::Digest,
            SkipReason::InvalidRequirement,
        ] {
            let text = to_text(&reason).expect("text");
            assert_eq!(text, reason.as_str());
            assert_eq!(
                from_text::<SkipReason>("skip_reason", &text).ok(),
                Some(reason)
            );
        }
        for update in [UpdateKind::Patch, UpdateKind::Minor, UpdateKind::Major] {
            let kind = RecommendationKind::from(update);
            assert_eq!(to_text(&kind).expect("text"), update.as_str());
        }
        for kind in RecommendationKind::ALL {
            let text = to_text(&kind).expect("text");
            assert_eq!(text, kind.to_string());
            assert_eq!(
                from_text::<RecommendationKind>("kind", &text).ok(),
                Some(kind)
            );
        }
    }

    #[test]
    fn unknown_text_names_the_column() {
        let error = from_text::<Ecosystem>("ecosystem", "rubygems").expect_err("unknown");
        assert!(
            matches!(&error, StoreError::Invalid(m) if m.contains("`ecosystem`") && m.contains("rubygems")),
            "{error}"
        );
        assert!(from_text::<RecommendationKind>("kind", "").is_err());
    }
}

#[cfg(test)]
mod pool_size_tests {
    use super::{Backend, PoolSize};

    #[test]
    fn pool_sizes_default_per_backend_unless_configured() {
        let size = |max| PoolSize { max };
        assert_eq!(size(None).connections(Backend::Postgres), 16);
        assert_eq!(size(None).connections(Backend::Sqlite), 8);
        assert_eq!(size(Some(40)).connections(Backend::Postgres), 40);
        assert_eq!(size(Some(0)).connections(Backend::Sqlite), 1);
    }
}
