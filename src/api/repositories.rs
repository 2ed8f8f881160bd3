//! Registering, listing and removing repositories.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::{ApiError, ApiJson, ApiPath, ApiQuery, AppState};
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
    let team_id = match (&principal, body.team.as_deref()) {
        (Principal::Team(own), None) => own.id,
        (Principal::Team(own), Some(name)) if name == own.name => own.id,
        (Principal::Team(_), Some(_)) => {
            return Err(ApiError::forbidden(
                "a team token registers repositories for its own team only",
            ));
        }
        (Principal::Admin, None) => {
            return Err(ApiError::invalid(
                "team",
                "required when using the admin token",
            ));
        }
        (Principal::Admin, Some(name)) => {
            state
                .store
                .team_by_name(name)
                .await?
                .ok_or_else(|| ApiError::invalid("team", format!("no team `{name}`")))?
                .id
        }
    };
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
    let limit = params.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::invalid("limit", "must be between 1 and 500"));
    }
    let page = state
        .store
        .repositories(principal.team_scope(), params.after.unwrap_or(0), limit)
        .await?;
    Ok(Json(RepositoryPage {
        items: page.items,
        next: page.next,
    }))
}

async fn owned(state: &AppState, principal: &Principal, id: i64) -> Result<Repository, ApiError> {
    let repo = state
        .store
        .repository(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("repository {id}")))?;
    if !principal.may_access(repo.team_id) {
        return Err(ApiError::forbidden(format!(
            "repository {id} belongs to another team"
        )));
    }
    Ok(repo)
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
    Ok(Json(owned(&state, &principal, id).await?))
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
    owned(&state, &principal, id).await?;
    state.store.remove_repository(id).await?;
    Ok(StatusCode::NO_CONTENT)
}
