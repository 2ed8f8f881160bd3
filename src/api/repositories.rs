//! Registering, listing and removing repositories.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::{ApiError, ApiJson, ApiPath, ApiQuery, AppState, page_limit};
use crate::api::auth::Principal;
use crate::repository_url::RepositoryUrl;
use crate::store::repositories::Repository;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRepository {
    /// A GitHub URL, another git URL, or an absolute local path.
    pub url: String,
    /// The owning team; required with the admin token, optional (own team) with a team token.
    #[serde(default)]
    pub team: Option<String>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Return repositories with ids after this cursor (the previous page's `next`).
    #[serde(default)]
    pub after: Option<i64>,
    /// Page size, 1–500 (default 50).
    #[serde(default)]
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RepositoryPage {
    pub items: Vec<Repository>,
    /// Cursor for the next page, `null` on the last page.
    pub next: Option<i64>,
}

/// Register a repository.
#[utoipa::path(post, path = "/api/v1/repositories", tag = "repositories", request_body = CreateRepository,
    responses((status = 201, body = Repository), (status = 400, body = super::ErrorBody), (status = 401, body = super::ErrorBody),
        (status = 403, body = super::ErrorBody), (status = 409, body = super::ErrorBody), (status = 422, body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<CreateRepository>,
) -> Result<(StatusCode, Json<Repository>), ApiError> {
    let url = RepositoryUrl::parse(&body.url).map_err(|e| ApiError::invalid("url", e))?;
    let team_id = principal
        .acting_team(
            state.store(),
            body.team.as_deref(),
            "registers repositories",
        )
        .await?;
    let repo = crate::crawler::registration::register(&state.services, team_id, &url)
        .await
        .map_err(|e| match e {
            crate::crawler::registration::RegisterError::Store(e) => ApiError::from(e),
            refused => ApiError::invalid("url", refused.to_string()),
        })?;
    Ok((StatusCode::CREATED, Json(repo)))
}

/// List the caller's repositories, paginated by id.
#[utoipa::path(get, path = "/api/v1/repositories", tag = "repositories", params(ListParams),
    responses((status = 200, body = RepositoryPage), (status = 400, body = super::ErrorBody), (status = 401, body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<RepositoryPage>, ApiError> {
    let limit = page_limit(params.limit, 50, 500)?;
    let page = state
        .store()
        .repositories(principal.team_scope(), params.after.unwrap_or(0), limit)
        .await?;
    Ok(Json(RepositoryPage {
        items: page.items,
        next: page.next,
    }))
}

/// One repository.
#[utoipa::path(get, path = "/api/v1/repositories/{id}", tag = "repositories",
    params(("id" = i64, Path, description = "Repository id")),
    responses((status = 200, body = Repository), (status = 400, body = super::ErrorBody), (status = 401, body = super::ErrorBody), (status = 403, body = super::ErrorBody),
        (status = 404, body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Repository>, ApiError> {
    Ok(Json(principal.visible_repository(state.store(), id).await?))
}

/// Remove a repository and everything crawled from it.
#[utoipa::path(delete, path = "/api/v1/repositories/{id}", tag = "repositories",
    params(("id" = i64, Path, description = "Repository id")),
    responses((status = 204), (status = 400, body = super::ErrorBody), (status = 401, body = super::ErrorBody), (status = 403, body = super::ErrorBody),
        (status = 404, body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    principal.visible_repository(state.store(), id).await?;
    state.store().remove_repository(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What `POST /repositories/{id}/crawl` did.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CrawlQueued {
    pub repository_id: i64,
    /// `false` when a crawl of this repository was already pending (it was moved up instead).
    pub queued: bool,
}

/// Crawl a repository now: queue a crawl ahead of scheduled work (or move its pending crawl up).
#[utoipa::path(post, path = "/api/v1/repositories/{id}/crawl", operation_id = "crawl_repository", tag = "repositories",
    params(("id" = i64, Path, description = "Repository id")),
    responses((status = 202, body = CrawlQueued), (status = 400, body = super::ErrorBody), (status = 401, body = super::ErrorBody), (status = 403, body = super::ErrorBody),
        (status = 404, body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn crawl(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<i64>,
) -> Result<(StatusCode, Json<CrawlQueued>), ApiError> {
    principal.visible_repository(state.store(), id).await?;
    let queued =
        crate::jobs::crawl::queue_now(state.store(), id, crate::jobs::crawl::URGENT_CRAWL_PRIORITY)
            .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(CrawlQueued {
            repository_id: id,
            queued,
        }),
    ))
}
