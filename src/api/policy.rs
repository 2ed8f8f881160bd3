//! A repository's update policy (see [`crate::policy`] for the fields and `.upkeep.toml`).
//!
//! `PUT` replaces the whole policy (absent fields take their defaults). A policy that differs
//! from the stored one queues `recommend_repository` for every dependency of the repository, so
//! recommendations follow within one job run.

use axum::Json;
use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiError, ApiJson, ApiPath, AppState};
use crate::api::auth::Principal;
use crate::jobs::enqueue;
use crate::jobs::recommend_repository::RecommendRepository;
use crate::policy::RepoPolicy;

/// The policy routes and their OpenAPI description.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_policy, put_policy))
}

/// A repository's update policy.
#[utoipa::path(get, path = "/api/v1/repositories/{id}/policy", tag = "repositories",
    params(("id" = i64, Path, description = "Repository id")),
    responses((status = 200, body = RepoPolicy), (status = 400, body = super::ErrorBody), (status = 401, body = super::ErrorBody), (status = 403, body = super::ErrorBody),
        (status = 404, body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_policy(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<RepoPolicy>, ApiError> {
    principal.visible_repository(state.store(), id).await?;
    let (_, stored) = state
        .store()
        .repository_policy(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("repository {id}")))?;
    Ok(Json(RepoPolicy::from_stored(&stored)))
}

/// Replace a repository's update policy.
#[utoipa::path(put, path = "/api/v1/repositories/{id}/policy", tag = "repositories", request_body = RepoPolicy,
    params(("id" = i64, Path, description = "Repository id")),
    responses((status = 200, body = RepoPolicy), (status = 400, body = super::ErrorBody), (status = 401, body = super::ErrorBody),
        (status = 403, body = super::ErrorBody), (status = 404, body = super::ErrorBody), (status = 422, body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_policy(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<i64>,
    ApiJson(policy): ApiJson<RepoPolicy>,
) -> Result<Json<RepoPolicy>, ApiError> {
    principal.visible_repository(state.store(), id).await?;
    policy
        .validate()
        .map_err(|e| ApiError::invalid(&e.field, e.message))?;
    let (_, stored) = state
        .store()
        .repository_policy(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("repository {id}")))?;
    if RepoPolicy::from_stored(&stored) != policy {
        if !state
            .store()
            .set_repository_policy(id, &policy.to_stored())
            .await?
        {
            return Err(ApiError::not_found(format!("repository {id}")));
        }
        enqueue(state.store(), &RecommendRepository::all(id)).await?;
    }
    Ok(Json(policy))
}
