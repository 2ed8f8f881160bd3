//! Liveness, readiness and Prometheus metrics.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::AppState;

/// Liveness: the process answers.
pub async fn healthz() -> Response {
    Json(json!({ "status": "ok" })).into_response()
}

/// Readiness: the database answers; 503 otherwise.
pub async fn readyz(State(state): State<AppState>) -> Response {
    match state.store().ping().await {
        Ok(()) => Json(json!({ "status": "ready" })).into_response(),
        Err(error) => {
            tracing::warn!(%error, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unavailable", "reason": "database unreachable" })),
            )
                .into_response()
        }
    }
}

/// Prometheus text exposition.
pub async fn metrics(State(state): State<AppState>) -> Response {
    match state.store().job_counts().await {
        Ok(counts) => {
            let mut depth = 0_i64;
            for (kind, job_state, n) in counts {
                if job_state == "pending" {
                    depth += n;
                }
                #[expect(clippy::cast_precision_loss, reason = "job counts are far below 2^52")]
                metrics::gauge!("upkeep_jobs", "kind" => kind, "state" => job_state).set(n as f64);
            }
            #[expect(clippy::cast_precision_loss, reason = "job counts are far below 2^52")]
            metrics::gauge!("upkeep_job_queue_depth").set(depth as f64);
        }
        Err(error) => tracing::warn!(%error, "reading job counts for metrics failed"),
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}
