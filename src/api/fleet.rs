//! The fleet inventory: a repository's dependencies with their latest and recommended versions,
//! which repositories use a package (optionally below a version), and recommendations across the
//! caller's repositories.
//!
//! Package names with `/` (npm scopes `@types/node`, Go modules `github.com/pkg/errors`) work in
//! the usages path either literally (`/api/v1/packages/npm/@types/node/usages`: the route takes
//! the rest of the path and strips the trailing `/usages`) or percent-encoded
//! (`@types%2Fnode`, decoded by the router). Maven names are `groupId:artifactId`.
//!
//! Team scope: a team token sees its own repositories only. Asking for another team's repository
//! is 403; usages and recommendation listings simply do not include other teams' repositories.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use upkeep_resolvers::Ecosystem;
use upkeep_resolvers::recommend::{Policy, evaluate};
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::repositories::ListParams;
use super::{ApiError, ApiPath, ApiQuery, AppState};
use crate::api::auth::Principal;
use crate::store::recommendations::{
    DependencyContext, RecommendationFilter, StoredRecommendation,
};
use crate::store::repositories::Repository;

/// The fleet routes and their OpenAPI description.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(FleetDoc::openapi())
        .routes(routes!(dependencies))
        .routes(routes!(recommendations))
        // Documented as `/api/v1/packages/{ecosystem}/{name}/usages` (FleetDoc); routed with a
        // wildcard so names containing `/` need no encoding.
        .route("/api/v1/packages/{ecosystem}/{*rest}", get(usages))
}

#[derive(OpenApi)]
#[openapi(paths(usages))]
struct FleetDoc;

/// The repository, when the caller may see it (404 unknown, 403 another team's).
pub(crate) async fn owned_repository(
    state: &AppState,
    principal: &Principal,
    id: i64,
) -> Result<Repository, ApiError> {
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

fn parse_ecosystem(field: &str, value: &str) -> Result<Ecosystem, ApiError> {
    value.parse::<Ecosystem>().map_err(|_| {
        let known: Vec<&str> = Ecosystem::ALL.iter().map(|e| e.as_str()).collect();
        ApiError::invalid(
            field,
            format!("unknown ecosystem `{value}` (one of {})", known.join(", ")),
        )
    })
}

/// A stored recommendation of one dependency.
#[derive(Serialize, ToSchema)]
pub struct RecommendationBrief {
    /// `patch`, `minor`, `major` or `security`.
    pub kind: String,
    pub target_version: String,
    /// The requirement to write; `null` when only the lockfile changes or it cannot be rewritten.
    pub new_requirement: Option<String>,
}

impl From<StoredRecommendation> for RecommendationBrief {
    fn from(r: StoredRecommendation) -> Self {
        RecommendationBrief {
            kind: r.kind,
            target_version: r.target_version,
            new_requirement: r.new_requirement,
        }
    }
}

/// One dependency of a repository.
#[derive(Serialize, ToSchema)]
pub struct DependencyItem {
    pub id: i64,
    /// The manifest path in the repository.
    pub manifest: String,
    pub manager: String,
    pub ecosystem: String,
    pub name: String,
    pub requirement: Option<String>,
    pub locked: Option<String>,
    /// `normal`, `dev`, `build`, ... as the manager reports it.
    pub kind: String,
    /// Why the dependency is not updated (git source, local path, ...), if it is not.
    pub skipped: Option<String>,
    /// The version in use: locked, else the lowest the requirement allows.
    pub current: Option<String>,
    /// The newest usable release (no policy applied); `null` until the package is resolved.
    pub latest: Option<String>,
    pub latest_published_at: Option<DateTime<Utc>>,
    /// The kind of `current` → `latest`: `patch`, `minor` or `major`; `null` when current.
    pub update: Option<String>,
    /// The preferred recommended target: the patch/minor one when there is one, else the major.
    pub recommended: Option<String>,
    /// Every stored recommendation (majors are reported separately from patch/minor ones).
    pub recommendations: Vec<RecommendationBrief>,
}

#[derive(Serialize, ToSchema)]
pub struct DependencyPage {
    pub items: Vec<DependencyItem>,
    /// Cursor for the next page, `null` on the last page.
    pub next: Option<i64>,
}

/// A repository's dependencies with their latest and recommended versions, paginated by id.
#[utoipa::path(get, path = "/api/v1/repositories/{id}/dependencies", tag = "fleet",
    params(("id" = i64, Path, description = "Repository id"), ListParams),
    responses((status = 200, body = DependencyPage), (status = 400, body = super::ErrorBody), (status = 401, body = super::ErrorBody),
        (status = 403, body = super::ErrorBody), (status = 404, body = super::ErrorBody), (status = 422, body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn dependencies(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<DependencyPage>, ApiError> {
    owned_repository(&state, &principal, id).await?;
    let limit = params.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::invalid("limit", "must be between 1 and 500"));
    }
    let page = state
        .store
        .repository_dependencies(id, params.after.unwrap_or(0), limit)
        .await?;
    let mut package_ids: Vec<i64> = page.items.iter().map(|d| d.dependency.package_id).collect();
    package_ids.sort_unstable();
    package_ids.dedup();
    let releases = state.store.releases_for(&package_ids).await?;
    let now = Utc::now();
    let items = page
        .items
        .into_iter()
        .map(|item| {
            let d = item.dependency;
            let evaluation = d.ecosystem.parse::<Ecosystem>().ok().map(|ecosystem| {
                evaluate(
                    ecosystem,
                    d.requirement.as_deref(),
                    d.locked.as_deref(),
                    releases.get(&d.package_id).map_or(&[][..], Vec::as_slice),
                    &Policy::default(),
                    now,
                )
            });
            let evaluation = evaluation.unwrap_or_default();
            let mut recommendations: Vec<RecommendationBrief> =
                item.recommendations.into_iter().map(Into::into).collect();
            recommendations.sort_by_key(|r| r.kind == "major");
            DependencyItem {
                id: d.id,
                manifest: d.manifest,
                manager: d.manager,
                ecosystem: d.ecosystem,
                name: d.name,
                requirement: d.requirement,
                locked: d.locked,
                kind: d.kind,
                skipped: d.skip_reason,
                current: evaluation.current,
                latest: evaluation.latest,
                latest_published_at: evaluation.latest_published_at,
                update: evaluation.update.map(|k| k.as_str().to_owned()),
                recommended: recommendations.first().map(|r| r.target_version.clone()),
                recommendations,
            }
        })
        .collect();
    Ok(Json(DependencyPage {
        items,
        next: page.next,
    }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct UsagesParams {
    /// Only usages whose version in use (locked, else the requirement's lower bound) is below
    /// this version, compared with the ecosystem's version scheme.
    #[serde(default)]
    pub below: Option<String>,
}

/// One use of the package.
#[derive(Serialize, ToSchema)]
pub struct UsageItem {
    pub dependency_id: i64,
    pub manifest: String,
    pub manager: String,
    pub requirement: Option<String>,
    pub locked: Option<String>,
    /// The version in use: locked, else the requirement's lower bound; `null` when unknown.
    pub version: Option<String>,
    pub kind: String,
    pub skipped: Option<String>,
}

/// A repository using the package, with each use.
#[derive(Serialize, ToSchema)]
pub struct RepositoryUsage {
    pub repository_id: i64,
    pub full_name: String,
    pub url: String,
    pub usages: Vec<UsageItem>,
}

#[derive(Serialize, ToSchema)]
pub struct UsagesResponse {
    pub ecosystem: String,
    pub name: String,
    pub below: Option<String>,
    /// The caller's repositories using the package (every team's for the admin).
    pub repositories: Vec<RepositoryUsage>,
}

/// Which of the caller's repositories use a package, at which versions, in which manifests.
#[utoipa::path(get, path = "/api/v1/packages/{ecosystem}/{name}/usages", tag = "fleet",
    params(("ecosystem" = String, Path, description = "cargo, npm, pypi, maven, go, docker, github-actions or toolchain"),
        ("name" = String, Path, description = "Package name; may contain `/` literally or as `%2F` (`@types/node`, `github.com/pkg/errors`)"),
        UsagesParams),
    responses((status = 200, body = UsagesResponse), (status = 400, body = super::ErrorBody), (status = 401, body = super::ErrorBody),
        (status = 404, body = super::ErrorBody), (status = 422, body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn usages(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath((ecosystem, rest)): ApiPath<(String, String)>,
    ApiQuery(params): ApiQuery<UsagesParams>,
) -> Result<Json<UsagesResponse>, ApiError> {
    let name = rest
        .strip_suffix("/usages")
        .map(|n| n.trim_start_matches('/'))
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::not_found("no such route"))?;
    let eco = parse_ecosystem("ecosystem", &ecosystem)?;
    let scheme = eco.versioning().scheme();
    let below = match params.below.as_deref().map(str::trim) {
        Some(v) if !scheme.is_valid(v) => {
            return Err(ApiError::invalid(
                "below",
                format!("`{v}` is not a {ecosystem} version"),
            ));
        }
        other => other.map(str::to_owned),
    };
    let found = state
        .store
        .package_usages(eco.as_str(), name, principal.team_scope())
        .await?;
    let mut repositories: BTreeMap<i64, RepositoryUsage> = BTreeMap::new();
    for usage in found {
        let d: DependencyContext = usage.dependency;
        let version = d
            .locked
            .as_deref()
            .map(str::trim)
            .filter(|l| scheme.is_valid(l))
            .map(str::to_owned)
            .or_else(|| {
                d.requirement
                    .as_deref()
                    .and_then(|r| scheme.lower_bound(r.trim()))
            });
        if let Some(limit) = below.as_deref() {
            let is_below = version
                .as_deref()
                .is_some_and(|v| scheme.compare(v, limit).is_lt());
            if !is_below {
                continue;
            }
        }
        repositories
            .entry(usage.repository_id)
            .or_insert_with(|| RepositoryUsage {
                repository_id: usage.repository_id,
                full_name: usage.full_name.clone(),
                url: usage.url.clone(),
                usages: Vec::new(),
            })
            .usages
            .push(UsageItem {
                dependency_id: d.id,
                manifest: d.manifest,
                manager: d.manager,
                requirement: d.requirement,
                locked: d.locked,
                version,
                kind: d.kind,
                skipped: d.skip_reason,
            });
    }
    Ok(Json(UsagesResponse {
        ecosystem: eco.as_str().to_owned(),
        name: name.to_owned(),
        below,
        repositories: repositories.into_values().collect(),
    }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RecommendationParams {
    /// Only this repository's recommendations.
    #[serde(default)]
    pub repository: Option<i64>,
    /// `patch`, `minor`, `major` or `security`.
    #[serde(default)]
    pub kind: Option<String>,
    /// Only this ecosystem's packages.
    #[serde(default)]
    pub ecosystem: Option<String>,
    /// Return recommendations with ids after this cursor (the previous page's `next`).
    #[serde(default)]
    pub after: Option<i64>,
    /// Page size, 1–500 (default 100).
    #[serde(default)]
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

/// A recommendation with its dependency.
#[derive(Serialize, ToSchema)]
pub struct RecommendationItem {
    pub id: i64,
    pub repository_id: i64,
    pub repository: String,
    pub dependency_id: i64,
    pub manifest: String,
    pub manager: String,
    pub ecosystem: String,
    pub name: String,
    pub requirement: Option<String>,
    pub locked: Option<String>,
    /// `patch`, `minor`, `major` or `security`.
    pub kind: String,
    pub target_version: String,
    pub new_requirement: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct RecommendationPage {
    pub items: Vec<RecommendationItem>,
    /// Cursor for the next page, `null` on the last page.
    pub next: Option<i64>,
}

/// The caller's recommendations, filtered, paginated by id.
#[utoipa::path(get, path = "/api/v1/recommendations", tag = "fleet", params(RecommendationParams),
    responses((status = 200, body = RecommendationPage), (status = 400, body = super::ErrorBody), (status = 401, body = super::ErrorBody),
        (status = 403, body = super::ErrorBody), (status = 404, body = super::ErrorBody), (status = 422, body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn recommendations(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(params): ApiQuery<RecommendationParams>,
) -> Result<Json<RecommendationPage>, ApiError> {
    let limit = params.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::invalid("limit", "must be between 1 and 500"));
    }
    if let Some(kind) = params.kind.as_deref()
        && !["patch", "minor", "major", "security"].contains(&kind)
    {
        return Err(ApiError::invalid(
            "kind",
            format!("`{kind}` is not one of patch, minor, major, security"),
        ));
    }
    let ecosystem = params
        .ecosystem
        .as_deref()
        .map(|e| parse_ecosystem("ecosystem", e))
        .transpose()?;
    if let Some(repository) = params.repository {
        owned_repository(&state, &principal, repository).await?;
    }
    let page = state
        .store
        .recommendation_list(&RecommendationFilter {
            after: params.after.unwrap_or(0),
            limit,
            team_id: principal.team_scope(),
            repository_id: params.repository,
            kind: params.kind,
            ecosystem: ecosystem.map(|e| e.as_str().to_owned()),
        })
        .await?;
    let items = page
        .items
        .into_iter()
        .map(|r| RecommendationItem {
            id: r.id,
            repository_id: r.dependency.repository_id,
            repository: r.repository_full_name,
            dependency_id: r.dependency.id,
            manifest: r.dependency.manifest,
            manager: r.dependency.manager,
            ecosystem: r.dependency.ecosystem,
            name: r.dependency.name,
            requirement: r.dependency.requirement,
            locked: r.dependency.locked,
            kind: r.kind,
            target_version: r.target_version,
            new_requirement: r.new_requirement,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
        .collect();
    Ok(Json(RecommendationPage {
        items,
        next: page.next,
    }))
}
