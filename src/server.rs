//! Running the service: the HTTP API and the job workers, with graceful shutdown.
//!
//! The API and the workers use separate database pools: workers (with the scheduler and delivery
//! loops) the process's store, sized by `database_max_connections`; API handlers a pool split from
//! it ([`api_store`]), sized by `database_api_connections`, that waits at most
//! `database_api_acquire_timeout_ms` for a connection and then answers 503 with `Retry-After`. A
//! flood of requests thus sheds load quickly and never takes the connections workers need to save
//! their results.

use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::info;

use crate::api::{self, AppState};
use crate::config::Config;
use crate::jobs::dispatch::JobTable;
use crate::jobs::worker::{self, WorkerSettings};
use crate::services::Services;
use crate::store::{PoolSize, Store};

/// How often the scheduler looks for repositories due for a crawl and packages due for a lookup.
pub const SCHEDULER_TICK: Duration = Duration::from_mins(1);

/// Start the delivery loops until `shutdown`: the webhook dispatcher always, the NATS publisher
/// when `nats_url` is configured. `upkeep serve` and `upkeep worker` both call this.
pub fn spawn_delivery(
    services: &Services,
    shutdown: &watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = vec![tokio::spawn(crate::delivery::webhooks::run(
        services.clone(),
        shutdown.clone(),
    ))];
    if services.config.nats_url.is_some() {
        tasks.push(tokio::spawn(crate::delivery::nats::run(
            services.clone(),
            shutdown.clone(),
        )));
    }
    tasks
}

/// Say at start when webhook secrets will be stored unsealed (no `secret_key`).
pub fn warn_if_secrets_unsealed(services: &Services) {
    if !services.secrets.is_sealing() {
        tracing::warn!(
            "secret_key is not set: outgoing webhook secrets are stored unsealed in the database \
             (set UPKEEP_SECRET_KEY to 64 hex characters to seal them)"
        );
    }
}

/// The scheduler's settings from configuration.
pub fn schedule(config: &Config) -> crate::scheduler::Schedule {
    crate::scheduler::Schedule {
        tick: SCHEDULER_TICK,
        crawl_interval: Duration::from_secs(config.crawl_interval_seconds),
        release_ttl: Duration::from_secs(config.release_ttl_seconds),
    }
}

pub fn worker_settings(config: &Config) -> WorkerSettings {
    WorkerSettings {
        concurrency: config.workers,
        lease: Duration::from_secs(config.job_lease_seconds),
        poll: Duration::from_millis(config.job_poll_ms),
    }
}

/// A receiver that turns true on Ctrl-C or SIGTERM.
pub fn shutdown_signal() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("installing a SIGTERM handler succeeds on unix");
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        info!("shutdown requested");
        let _ = tx.send(true);
    });
    rx
}

/// The API's pool, split from the workers' `store`: `database_api_connections` connections, and
/// at most `database_api_acquire_timeout_ms` of waiting for one.
pub fn api_store(store: &Store, config: &Config) -> Store {
    store.split(
        PoolSize {
            max: config.database_api_connections,
        },
        Duration::from_millis(config.database_api_acquire_timeout_ms),
    )
}

/// Serve the API on `listener` and run workers until `shutdown`: in-flight requests finish and
/// workers give back their leases before this returns. The API gets its own pool ([`api_store`]).
pub async fn serve(
    services: Services,
    listener: TcpListener,
    shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let api = api_store(&services.store, &services.config);
    serve_with_api_store(services, api, listener, shutdown).await
}

/// [`serve`] with the API on `api` (a pool split from `services.store`; workers keep
/// `services.store`).
pub async fn serve_with_api_store(
    services: Services,
    api: Store,
    listener: TcpListener,
    shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let config = services.config.clone();
    let state = AppState {
        services: Services {
            store: api,
            ..services.clone()
        },
        admin_token: config.admin_token.clone(),
        metrics: crate::telemetry::metrics(),
    };
    let app = api::router(state).layer(axum::Extension(api::events::StreamShutdown(
        shutdown.clone(),
    )));
    warn_if_secrets_unsealed(&services);
    if config.admin_token.is_none() {
        tracing::warn!(
            "admin_token is not set: no team or team token can be created through the API \
             (set UPKEEP_ADMIN_TOKEN, or create them on this database with \
             `upkeep team create NAME` and `upkeep token create --team NAME`)"
        );
    }
    info!(address = %listener.local_addr()?, "listening");
    let workers = tokio::spawn(worker::run(
        services.clone(),
        JobTable::standard(),
        worker_settings(&config),
        shutdown.clone(),
    ));
    let delivery = spawn_delivery(&services, &shutdown);
    let scheduler = tokio::spawn(crate::scheduler::run(
        services.store.clone(),
        schedule(&config),
        shutdown.clone(),
    ));
    let mut http_shutdown = shutdown.clone();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = http_shutdown.wait_for(|stop| *stop).await;
        })
        .await?;
    let _ = workers.await;
    for task in delivery {
        let _ = task.await;
    }
    let _ = scheduler.await;
    Ok(())
}
