//! Logging (tracing, text or JSON) and the process-wide Prometheus recorder.

use std::io::IsTerminal as _;
use std::sync::{Arc, OnceLock};

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

use crate::config::{Config, LogFormat};

/// Install the log subscriber once; later calls (tests) are ignored. Colours only when stderr is
/// a terminal (a file or pipe gets plain text). `octocrab`'s own log lines are off unless the
/// filter names it: it logs every failed request as a bare ERROR, and the GitHub client already
/// returns that failure to its caller, which logs one line saying what it was doing.
pub fn init_logging(config: &Config) {
    let filter = EnvFilter::try_new(with_octocrab_quiet(&config.log_level))
        .unwrap_or_else(|_| EnvFilter::new(with_octocrab_quiet("info")));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = match config.log_format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// `directives` with `octocrab=off` added unless they name `octocrab` themselves.
fn with_octocrab_quiet(directives: &str) -> String {
    if directives.contains("octocrab") {
        directives.to_owned()
    } else {
        format!("{directives},octocrab=off")
    }
}

static METRICS: OnceLock<Arc<PrometheusHandle>> = OnceLock::new();

/// The process-wide metrics recorder (installed on first use).
pub fn metrics() -> Arc<PrometheusHandle> {
    METRICS
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Suffix("duration_seconds".into()),
                    &[
                        0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                        60.0,
                    ],
                )
                .expect("the bucket list is not empty")
                .build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (an embedding test harness); then this
            // handle renders only what it records, which is still correct for our own metrics.
            let _ = metrics::set_global_recorder(recorder);
            Arc::new(handle)
        })
        .clone()
}
