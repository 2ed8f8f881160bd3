//! Registering, listing and removing repositories; one repository with its last crawl, the
//! warnings on its files and how many dependencies have a problem.

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use upkeep_resolvers::manager::Warning;

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

/// A warning the last crawl left on a file of the repository (a manifest that could not be
/// parsed, an invalid `.upkeep.toml`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
pub struct CrawlWarning {
    /// The file's path in the repository.
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    pub message: String,
}

/// The newest crawl of a repository.
#[derive(Serialize, utoipa::ToSchema)]
pub struct LastCrawl {
    /// `running`, `completed` (a new commit was read), `unchanged` or `failed`.
    pub status: String,
    pub started_at: DateTime<Utc>,
    /// `null` while the crawl runs.
    pub finished_at: Option<DateTime<Utc>>,
    /// How long it took, in milliseconds; `null` while it runs.
    pub duration_ms: Option<i64>,
    /// The commit it read (an unchanged crawl: the commit it found unchanged).
    pub commit: Option<String>,
    /// Why it failed, for a failed crawl.
    pub error: Option<String>,
}

/// One repository, with its last crawl, the warnings on its files and how many dependencies have
/// a problem.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RepositoryDetail {
    #[serde(flatten)]
    pub repository: Repository,
    /// `null` until the first crawl starts.
    pub last_crawl: Option<LastCrawl>,
    /// The warnings on the repository's files as the last successful crawl left them.
    pub warnings: Vec<CrawlWarning>,
    /// Dependencies whose `problem` is set in `GET /api/v1/repositories/{id}/dependencies`.
    pub dependencies_with_problems: i64,
}

/// One repository, with its last crawl and its problems.
#[utoipa::path(get, path = "/api/v1/repositories/{id}", tag = "repositories",
    params(("id" = i64, Path, description = "Repository id")),
    responses((status = 200, body = RepositoryDetail), (status = 400, body = super::ErrorBody), (status = 401, body = super::ErrorBody), (status = 403, body = super::ErrorBody),
        (status = 404, body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<RepositoryDetail>, ApiError> {
    let repository = principal.visible_repository(state.store(), id).await?;
    let store = state.store();
    let head = store.crawl_state(id).await?.and_then(|s| s.head_commit);
    let last_crawl = store.last_crawl(id).await?.map(|crawl| LastCrawl {
        commit: crawl.commit_sha.or_else(|| {
            (crawl.status == "unchanged")
                .then(|| head.clone())
                .flatten()
        }),
        duration_ms: crawl
            .finished_at
            .map(|end| (end - crawl.started_at).num_milliseconds()),
        status: crawl.status,
        started_at: crawl.started_at,
        finished_at: crawl.finished_at,
        error: crawl.error,
    });
    let mut warnings = BTreeSet::new();
    for manifest in store.manifests_of(id).await? {
        // Stored by the crawl as a JSON array of `{line, message}`.
        let Ok(found) = serde_json::from_str::<Vec<Warning>>(&manifest.warnings) else {
            continue;
        };
        for warning in found {
            warnings.insert(CrawlWarning {
                file: manifest.path.clone(),
                line: warning.line,
                message: warning.message,
            });
        }
    }
    let dependencies_with_problems =
        crate::fleet::dependencies_with_problems(store, id, Utc::now()).await?;
    Ok(Json(RepositoryDetail {
        repository,
        last_crawl,
        warnings: warnings.into_iter().collect(),
        dependencies_with_problems,
    }))
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
