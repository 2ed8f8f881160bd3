//! The store: one portable SQL layer over SQLite (embedded default) and PostgreSQL (production).
//!
//! Design: every query is written once against sqlx's `Any` driver with `$n` placeholders, which
//! both backends accept. The schema keeps to the types `Any` carries (BIGINT, TEXT, SMALLINT flags;
//! timestamps as BIGINT milliseconds since the epoch). The few statements that must differ — the
//! job claim (`FOR UPDATE SKIP LOCKED`) and the journal append lock — branch on [`Backend`] in the
//! module that owns them. Migrations live in `migrations/sqlite` and `migrations/postgres`.

use std::str::FromStr;
use std::sync::Once;
use std::time::Duration;

use serde::Serialize;
use serde::de::{DeserializeOwned, IntoDeserializer};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyPool, Executor, Row};

pub mod events;
pub mod inventory;
pub mod jobs;
pub mod recommendations;
pub mod releases;
pub mod repositories;
pub mod subscriptions;
pub mod teams;

/// A transaction on either backend.
pub type Tx = sqlx::Transaction<'static, Any>;

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database URL that names a supported backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    pub backend: Backend,
    url: String,
}

impl DatabaseUrl {
    /// Accepts `sqlite:FILE`, `sqlite://FILE`, `sqlite::memory:` and `postgres(ql)://…`.
    pub fn parse(url: &str) -> Result<DatabaseUrl, String> {
        let url = url.trim();
        if let Some(rest) = url.strip_prefix("sqlite:") {
            let path = rest.trim_start_matches("//");
            let path = path.split('?').next().unwrap_or_default();
            if path.is_empty() {
                return Err(format!(
                    "`{url}` names no SQLite file (try sqlite://upkeep.db?mode=rwc)"
                ));
            }
            return Ok(DatabaseUrl {
                backend: Backend::Sqlite,
                url: url.to_owned(),
            });
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let parsed = url::Url::parse(url)
                .map_err(|e| format!("`{}` is not a valid URL: {e}", redact(url)))?;
            if parsed.host_str().is_none_or(str::is_empty) {
                return Err(format!("`{}` names no host", redact(url)));
            }
            return Ok(DatabaseUrl {
                backend: Backend::Postgres,
                url: url.to_owned(),
            });
        }
        Err(format!(
            "`{}` is not a sqlite: or postgres:// URL",
            redact(url)
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.url
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

/// The database handle shared by the API, the workers and the CLI.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
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
        let parsed = DatabaseUrl::parse(url).map_err(StoreError::InvalidUrl)?;
        let options = AnyConnectOptions::from_str(parsed.as_str())?;
        let backend = parsed.backend;
        let pool = AnyPoolOptions::new()
            .max_connections(size.connections(backend))
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        Ok(Store { pool, backend })
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
        let migrator = match self.backend {
            Backend::Sqlite => sqlx::migrate!("migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("migrations/postgres"),
        };
        migrator.run(&self.pool).await?;
        Ok(())
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

    pub async fn close(&self) {
        self.pool.close().await;
    }
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
