//! Teams and tokens (admin only).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::{ApiError, ApiJson, ApiPath, AppState};
use crate::api::auth::Principal;
use crate::store::teams::{Team, validate_team_name};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTeam {
    pub name: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedToken {
    pub team: Team,
    /// Shown once; only its hash is stored.
    pub token: String,
}

/// Create a team.
#[utoipa::path(post, path = "/api/v1/teams", tag = "teams", request_body = CreateTeam,
    responses((status = 201, body = Team), (status = 401, body = super::ErrorBody), (status = 403, body = super::ErrorBody),
        (status = 409, body = super::ErrorBody), (status = 422, body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_team(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<CreateTeam>,
) -> Result<(StatusCode, Json<Team>), ApiError> {
    principal.require_admin()?;
    validate_team_name(&body.name).map_err(|e| ApiError::invalid("name", e))?;
    let team = state.store().create_team(&body.name).await?;
    Ok((StatusCode::CREATED, Json(team)))
}

/// Create an API token for a team. The token is in this response only.
#[utoipa::path(post, path = "/api/v1/teams/{name}/tokens", tag = "teams",
    params(("name" = String, Path, description = "Team name")),
    responses((status = 201, body = CreatedToken), (status = 401, body = super::ErrorBody), (status = 403, body = super::ErrorBody),
        (status = 404, body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_token(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(name): ApiPath<String>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    principal.require_admin()?;
    let team = state
        .store()
        .team_by_name(&name)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("team `{name}`")))?;
    let created = state.store().create_token(&team).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            team,
            token: created.token.expose().to_owned(),
        }),
    ))
}
