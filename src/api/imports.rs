//! Importing every repository of a GitHub organisation.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::{ApiError, ApiJson, AppState};
use crate::api::auth::Principal;
use crate::forge::github::GithubError;
use crate::jobs::crawl::Crawl;
use crate::jobs::enqueue;
use crate::repository_url::RepositoryUrl;
use crate::store::StoreError;
use crate::store::repositories::Repository;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateImport {
    /// The GitHub organisation whose repositories to register.
    pub github_org: String,
    /// The owning team; required with the admin token, optional (own team) with a team token.
    #[serde(default)]
    pub team: Option<String>,
}

/// A repository the import did not register.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SkippedRepository {
    /// `owner/name` as GitHub spells it.
    pub full_name: String,
    /// `archived` or `already registered`.
    pub reason: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ImportResult {
    /// Repositories registered now; a crawl is queued for each.
    pub registered: Vec<Repository>,
    pub skipped: Vec<SkippedRepository>,
}

/// Register every repository of a GitHub organisation (archived ones skipped).
#[utoipa::path(post, path = "/api/v1/imports", tag = "repositories", request_body = CreateImport,
    responses((status = 200, body = ImportResult), (status = 400, body = super::ErrorBody), (status = 401, body = super::ErrorBody),
        (status = 403, body = super::ErrorBody), (status = 422, body = super::ErrorBody), (status = 503, body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<CreateImport>,
) -> Result<(StatusCode, Json<ImportResult>), ApiError> {
    let org = body.github_org.trim();
    if org.is_empty()
        || org.len() > 39
        || org.starts_with('-')
        || !org.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(ApiError::invalid(
            "github_org",
            "must be a GitHub organisation name (letters, digits and hyphens, at most 39)",
        ));
    }
    let team_id = principal
        .acting_team(state.store(), body.team.as_deref(), "imports repositories")
        .await?;
    let Some(github) = state.services.github.as_ref() else {
        return Err(ApiError::invalid(
            "github_org",
            "GitHub is not configured on this server",
        ));
    };
    let repos = github.org_repositories(org).await.map_err(|e| match e {
        GithubError::NotFound(_) => ApiError::invalid(
            "github_org",
            format!("no GitHub organisation `{org}` is visible to this server"),
        ),
        GithubError::RateLimited { reset_at } => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            super::error::ErrorCode::Unavailable,
            format!("GitHub's rate limit is exhausted until {reset_at}; try again later"),
        ),
        error @ GithubError::EmptyRepository(_) => {
            // An organisation listing reads no git objects; say what GitHub said all the same.
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                super::error::ErrorCode::Unavailable,
                format!("GitHub did not answer as expected: {error}"),
            )
        }
        GithubError::Api(message) => {
            tracing::warn!(org, error = %message, "organisation import failed");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                super::error::ErrorCode::Unavailable,
                format!("GitHub did not answer as expected: {message}"),
            )
        }
    })?;

    let mut registered = Vec::new();
    let mut skipped = Vec::new();
    for repo in repos {
        if repo.archived {
            skipped.push(SkippedRepository {
                full_name: repo.full_name,
                reason: "archived".into(),
            });
            continue;
        }
        let url = match RepositoryUrl::parse(&format!("https://github.com/{}", repo.full_name)) {
            Ok(url) => url,
            Err(problem) => {
                skipped.push(SkippedRepository {
                    full_name: repo.full_name,
                    reason: format!("not a valid repository name: {problem}"),
                });
                continue;
            }
        };
        let added = match state
            .store()
            .add_repository(team_id, &url, Some(&repo.default_branch))
            .await
        {
            Ok(added) => added,
            Err(StoreError::Conflict(_)) => {
                skipped.push(SkippedRepository {
                    full_name: repo.full_name,
                    reason: "already registered".into(),
                });
                continue;
            }
            Err(other) => return Err(other.into()),
        };
        enqueue(
            state.store(),
            &Crawl {
                repository_id: added.id,
            },
        )
        .await?;
        registered.push(added);
    }
    tracing::info!(
        org,
        team_id,
        registered = registered.len(),
        skipped = skipped.len(),
        "organisation imported"
    );
    Ok((
        StatusCode::OK,
        Json(ImportResult {
            registered,
            skipped,
        }),
    ))
}
