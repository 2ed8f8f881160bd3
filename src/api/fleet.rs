//! The fleet inventory: a repository's dependencies with their latest and recommended versions,
//! which repositories use a package (optionally below a version, or locked under a version prefix
//! such as `?locked=0.9`, transitive lockfile pins included), and recommendations across the
//! caller's repositories.
//!
//! Package names with `/` (npm scopes `@types/node`, Go modules `github.com/pkg/errors`) work in
//! the usages path either literally (`/api/v1/packages/npm/@types/node/usages`: the route takes
//! the rest of the path and strips the trailing `/usages`) or percent-encoded
//! (`@types%2Fnode`, decoded by the router). Maven names are `groupId:artifactId`.
//!
//! Team scope: a team token sees its own repositories only. Asking for another team's repository
//! is 403; usages and recommendation listings simply do not include other teams' repositories.

use axum::Json;
use axum::extract::State;
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use upkeep_resolvers::Ecosystem;
use upkeep_resolvers::manager::{DependencyKind, Manager, SkipReason};
use upkeep_resolvers::problem::{Problem, ProblemCode};
use upkeep_resolvers::runtime::RuntimeBlock;
use upkeep_resolvers::versioning::UpdateKind;
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::repositories::ListParams;
use super::{ApiError, ApiPath, ApiQuery, AppState, page_limit};
use crate::api::auth::Principal;
use crate::fleet::{self, ListedDependency, RepositoryUsages, UsageFilter, VersionPrefix};
use crate::recommendation_kind::RecommendationKind;
use crate::resolve::plan::Desired;
use crate::store::inventory::DependencyRecord;
use crate::store::recommendations::{RecommendationFilter, RecommendationRow};

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
    #[schema(value_type = String)]
    pub kind: RecommendationKind,
    pub target_version: String,
    /// The requirement to write; `null` when only the lockfile changes or it cannot be rewritten.
    pub new_requirement: Option<String>,
}

impl From<Desired> for RecommendationBrief {
    fn from(r: Desired) -> Self {
        RecommendationBrief {
            kind: r.kind,
            target_version: r.target_version,
            new_requirement: r.new_requirement,
        }
    }
}

/// Why a dependency has no answer.
#[derive(Serialize, ToSchema)]
pub struct DependencyProblem {
    /// `not_found` (the registry does not know the package), `unreachable` (transport error,
    /// 5xx, rate limit), `unauthorised` (401/403), `registry_error` (another unusable answer),
    /// `not_looked_up` (a name the registry cannot have, a refused address) or
    /// `no_matching_release` (releases exist, none satisfies the requirement).
    #[schema(value_type = String)]
    pub code: ProblemCode,
    pub message: String,
}

impl From<Problem> for DependencyProblem {
    fn from(problem: Problem) -> Self {
        DependencyProblem {
            code: problem.code,
            message: problem.message,
        }
    }
}

/// A newer release held back because the repository's declared runtime cannot run it.
#[derive(Serialize, ToSchema)]
pub struct RuntimeBlockBrief {
    /// The release the policy would otherwise recommend.
    pub version: String,
    /// `python`, `node` or `rust`.
    pub runtime: String,
    /// What the release requires, as its registry states it (`>=3.12`; for Rust the minimum
    /// version).
    pub requires: String,
    /// The runtime version the repository declares: the lowest its declarations admit.
    pub runtime_version: String,
}

impl From<RuntimeBlock> for RuntimeBlockBrief {
    fn from(block: RuntimeBlock) -> Self {
        RuntimeBlockBrief {
            version: block.version,
            runtime: block.runtime.as_str().to_owned(),
            requires: block.requires,
            runtime_version: block.runtime_version,
        }
    }
}

/// One dependency of a repository.
#[derive(Serialize, ToSchema)]
pub struct DependencyItem {
    pub id: i64,
    /// The manifest path in the repository.
    pub manifest: String,
    #[schema(value_type = String)]
    pub manager: Manager,
    #[schema(value_type = String)]
    pub ecosystem: Ecosystem,
    pub name: String,
    pub requirement: Option<String>,
    pub locked: Option<String>,
    /// `normal`, `dev`, `build`, ... as the manager reports it.
    #[schema(value_type = String)]
    pub kind: DependencyKind,
    /// Why the dependency is not updated (git source, local path, ...), if it is not.
    #[schema(value_type = Option<String>)]
    pub skipped: Option<SkipReason>,
    /// The version in use: locked, else the lowest the requirement allows.
    pub current: Option<String>,
    /// The newest usable release (no policy applied); `null` until the package is resolved.
    pub latest: Option<String>,
    pub latest_published_at: Option<DateTime<Utc>>,
    /// The kind of `current` → `latest`: `patch`, `minor` or `major`; `null` when current.
    #[schema(value_type = Option<String>)]
    pub update: Option<UpdateKind>,
    /// The preferred recommended target: the patch/minor one when there is one, else the major.
    pub recommended: Option<String>,
    /// Every stored recommendation (majors are reported separately from patch/minor ones).
    pub recommendations: Vec<RecommendationBrief>,
    /// Why there is no answer (`latest` is then usually `null`): the package's last lookup
    /// failed, or no release satisfies the requirement; `null` when there is none.
    pub problem: Option<DependencyProblem>,
    /// A newer release the policy would recommend but the runtime the repository declares
    /// (`requires-python`, `.python-version`, `.nvmrc`, `engines.node`, `rust-toolchain`) cannot
    /// run; `null` when the runtime holds nothing back.
    pub blocked_by_runtime: Option<RuntimeBlockBrief>,
}

impl From<ListedDependency> for DependencyItem {
    fn from(listed: ListedDependency) -> Self {
        let d = listed.dependency;
        let evaluation = listed.evaluation;
        let recommendations: Vec<RecommendationBrief> =
            listed.recommendations.into_iter().map(Into::into).collect();
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
            update: evaluation.update,
            recommended: recommendations.first().map(|r| r.target_version.clone()),
            recommendations,
            problem: listed.problem.map(Into::into),
            blocked_by_runtime: listed.blocked_by_runtime.map(Into::into),
        }
    }
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
    principal.visible_repository(state.store(), id).await?;
    let limit = page_limit(params.limit, 100, 500)?;
    let page = fleet::dependencies(
        state.store(),
        id,
        params.after.unwrap_or(0),
        limit,
        Utc::now(),
    )
    .await?;
    Ok(Json(DependencyPage {
        items: page.items.into_iter().map(Into::into).collect(),
        next: page.next,
    }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UsagesParams {
    /// Only usages whose version in use (locked, else the requirement's lower bound) is below
    /// this version, compared with the ecosystem's version scheme.
    #[serde(default)]
    pub below: Option<String>,
    /// Only usages whose locked version lies under this version prefix, on component boundaries:
    /// `0.9` matches `0.9.0`, `0.9.2` and `0.9.0-rc.1`, not `0.90.1`. Direct dependencies match by
    /// their `locked` version, transitive lockfile pins (`kind` `transitive`) by theirs; usages
    /// without a locked version never match. Combines with `below`.
    #[serde(default)]
    pub locked: Option<String>,
    /// Return repositories with ids after this cursor (the previous page's `next`).
    #[serde(default)]
    pub after: Option<i64>,
    /// Page size in repositories, 1–500 (default 100).
    #[serde(default)]
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

/// One use of the package.
#[derive(Serialize, ToSchema)]
pub struct UsageItem {
    pub dependency_id: i64,
    pub manifest: String,
    #[schema(value_type = String)]
    pub manager: Manager,
    pub requirement: Option<String>,
    pub locked: Option<String>,
    /// The version in use: locked, else the requirement's lower bound; `null` when unknown.
    pub version: Option<String>,
    /// `normal`, `dev`, `build`, ... for a dependency a manifest declares; `transitive` for a
    /// version only the lockfile pins (its `manifest` is then the lockfile).
    #[schema(value_type = String)]
    pub kind: DependencyKind,
    #[schema(value_type = Option<String>)]
    pub skipped: Option<SkipReason>,
}

impl From<(DependencyRecord, Option<String>)> for UsageItem {
    fn from((d, version): (DependencyRecord, Option<String>)) -> Self {
        UsageItem {
            dependency_id: d.id,
            manifest: d.manifest,
            manager: d.manager,
            requirement: d.requirement,
            locked: d.locked,
            version,
            kind: d.kind,
            skipped: d.skip_reason,
        }
    }
}

/// A repository using the package, with each use.
#[derive(Serialize, ToSchema)]
pub struct RepositoryUsage {
    pub repository_id: i64,
    pub full_name: String,
    pub url: String,
    pub usages: Vec<UsageItem>,
}

impl From<RepositoryUsages> for RepositoryUsage {
    fn from(found: RepositoryUsages) -> Self {
        RepositoryUsage {
            repository_id: found.repository_id,
            full_name: found.full_name,
            url: found.url,
            usages: found.usages.into_iter().map(Into::into).collect(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct UsagesResponse {
    #[schema(value_type = String)]
    pub ecosystem: Ecosystem,
    pub name: String,
    pub below: Option<String>,
    /// The `locked` version prefix asked for.
    pub locked: Option<String>,
    /// The caller's repositories using the package (every team's for the admin), by id.
    pub items: Vec<RepositoryUsage>,
    /// The cursor of the next page (pass it as `after`); `null` on the last page.
    pub next: Option<i64>,
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
    let locked = params
        .locked
        .as_deref()
        .map(VersionPrefix::parse)
        .transpose()
        .map_err(|problem| ApiError::invalid("locked", problem.to_string()))?;
    let limit = page_limit(params.limit, 100, 500)?;
    let after = params.after.unwrap_or(0);
    let repositories = fleet::package_usages(
        state.store(),
        eco,
        name,
        &UsageFilter {
            below: below.as_deref(),
            locked: locked.as_ref(),
        },
        principal.team_scope(),
    )
    .await?;
    let page = fleet::usages_page(repositories, after, limit);
    Ok(Json(UsagesResponse {
        ecosystem: eco,
        name: name.to_owned(),
        below,
        locked: locked.map(|p| p.as_str().to_owned()),
        items: page.items.into_iter().map(Into::into).collect(),
        next: page.next,
    }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
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
    #[schema(value_type = String)]
    pub manager: Manager,
    #[schema(value_type = String)]
    pub ecosystem: Ecosystem,
    pub name: String,
    pub requirement: Option<String>,
    pub locked: Option<String>,
    /// `patch`, `minor`, `major` or `security`.
    #[schema(value_type = String)]
    pub kind: RecommendationKind,
    pub target_version: String,
    pub new_requirement: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<RecommendationRow> for RecommendationItem {
    fn from(r: RecommendationRow) -> Self {
        RecommendationItem {
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
        }
    }
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
    let limit = page_limit(params.limit, 100, 500)?;
    let kind = params
        .kind
        .as_deref()
        .map(str::parse::<RecommendationKind>)
        .transpose()
        .map_err(|problem| ApiError::invalid("kind", problem))?;
    let ecosystem = params
        .ecosystem
        .as_deref()
        .map(|e| parse_ecosystem("ecosystem", e))
        .transpose()?;
    if let Some(repository) = params.repository {
        principal
            .visible_repository(state.store(), repository)
            .await?;
    }
    let page = state
        .store()
        .recommendation_list(&RecommendationFilter {
            after: params.after.unwrap_or(0),
            limit,
            team_id: principal.team_scope(),
            repository_id: params.repository,
            kind,
            ecosystem,
        })
        .await?;
    Ok(Json(RecommendationPage {
        items: page.items.into_iter().map(Into::into).collect(),
        next: page.next,
    }))
}
