//! Running the service: the HTTP API and the job workers, with graceful shutdown.

use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::info;

use crate::api::{self, AppState};
use crate::config::Config;
use crate::jobs::dispatch::JobTable;
use crate::jobs::worker::{self, WorkerSettings};
use crate::services::Services;

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

/// Serve the API on `listener` and run workers until `shutdown`: in-flight requests finish and
/// workers give back their leases before this returns.
pub async fn serve(
    services: Services,
    listener: TcpListener,
    shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let config = services.config.clone();
    let state = AppState {
        services: services.clone(),
        admin_token: config.admin_token.clone(),
        metrics: crate::telemetry::metrics(),
    };
    let app = api::router(state).layer(axum::Extension(api::events::StreamShutdown(
        shutdown.clone(),
    )));
    warn_if_secrets_unsealed(&services);
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
