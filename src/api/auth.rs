//! Bearer-token authentication: the admin token from configuration, or a team's API token.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::{ApiError, AppState};
use crate::store::Store;
use crate::store::repositories::Repository;
use crate::store::teams::Team;

/// Who is calling.
#[derive(Debug, Clone)]
pub enum Principal {
    /// The bootstrap admin token: may manage teams and see every team's data.
    Admin,
    Team(Team),
}

impl Principal {
    /// The team whose data this caller may see; `None` for the admin (every team).
    pub fn team_scope(&self) -> Option<i64> {
        match self {
            Principal::Admin => None,
            Principal::Team(team) => Some(team.id),
        }
    }

    /// May this caller act on data of team `team_id`?
    pub fn may_access(&self, team_id: i64) -> bool {
        self.team_scope().is_none_or(|own| own == team_id)
    }

    /// The team a call acts for: a team token's own team (a `team` named in the request must be
    /// it), or the named team for the admin token, which must name one. `action` completes the
    /// refusal "a team token {action} for its own team only".
    pub async fn acting_team(
        &self,
        store: &Store,
        team: Option<&str>,
        action: &str,
    ) -> Result<i64, ApiError> {
        match (self, team) {
            (Principal::Team(own), None) => Ok(own.id),
            (Principal::Team(own), Some(name)) if name == own.name => Ok(own.id),
            (Principal::Team(_), Some(_)) => Err(ApiError::forbidden(format!(
                "a team token {action} for its own team only"
            ))),
            (Principal::Admin, None) => Err(ApiError::invalid(
                "team",
                "required when using the admin token",
            )),
            (Principal::Admin, Some(name)) => Ok(store
                .team_by_name(name)
                .await?
                .ok_or_else(|| ApiError::invalid("team", format!("no team `{name}`")))?
                .id),
        }
    }

    /// Repository `id`, when this caller may see it: 404 when it does not exist, 403 when it is
    /// another team's.
    pub async fn visible_repository(&self, store: &Store, id: i64) -> Result<Repository, ApiError> {
        let repo = store
            .repository(id)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("repository {id}")))?;
        if !self.may_access(repo.team_id) {
            return Err(ApiError::forbidden(format!(
                "repository {id} belongs to another team"
            )));
        }
        Ok(repo)
    }

    pub fn require_admin(&self) -> Result<(), ApiError> {
        match self {
            Principal::Admin => Ok(()),
            Principal::Team(_) => Err(ApiError::forbidden("this call needs the admin token")),
        }
    }
}

/// Compare without leaking the position of the first difference through timing.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| {
                ApiError::unauthorized("missing `Authorization: Bearer <token>` header")
            })?;
        let token = header
            .to_str()
            .ok()
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ApiError::unauthorized("the Authorization header is not `Bearer <token>`")
            })?;
        if let Some(admin) = &state.admin_token
            && constant_time_eq(admin.expose().as_bytes(), token.as_bytes())
        {
            return Ok(Principal::Admin);
        }
        match state.store().team_for_token(token).await? {
            Some(team) => Ok(Principal::Team(team)),
            None => Err(ApiError::unauthorized("unknown or revoked token")),
        }
    }
}
