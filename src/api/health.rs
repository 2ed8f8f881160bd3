//! Liveness, readiness and Prometheus metrics.
//!
//! Readiness is truthful: 200 only when the database answers, its schema is exactly the one this
//! binary's migrations make, and (SQLite) the file opened at start is still in place
//! ([`crate::store::Store::readiness_problem`]); otherwise 503 with the reason in the body. A lost
//! schema is not recreated at run time: `upkeep migrate` (or a restart) does that.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::AppState;
use super::error::RETRY_AFTER_SECONDS;
use crate::store::StoreError;

/// Liveness: the process answers.
pub async fn healthz() -> Response {
    Json(json!({ "status": "ok" })).into_response()
}

/// Readiness: 200 when the store can serve; 503 with the reason otherwise.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let reason = match state.store().readiness_problem().await {
        Ok(None) => return Json(json!({ "status": "ready" })).into_response(),
        Ok(Some(reason)) => reason,
        Err(StoreError::Sqlx(sqlx::Error::PoolTimedOut)) => {
            "no database connection free in time".to_owned()
        }
        Err(error) => {
            tracing::warn!(%error, "readiness: the database does not answer");
            "database unreachable".to_owned()
        }
    };
    tracing::warn!(reason, "not ready");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, RETRY_AFTER_SECONDS.to_string())],
        Json(json!({ "status": "unavailable", "reason": reason })),
    )
        .into_response()
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
