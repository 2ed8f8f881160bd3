//! The HTTP service: health and metrics endpoints, the JSON API under `/api/v1`, and its OpenAPI
//! document. Handlers live in one module per domain; errors follow the policy in [`error`].

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, MatchedPath, Request};
use axum::http::HeaderName;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::{Config as SwaggerConfig, SwaggerUi};

use crate::config::Secret;
use crate::store::Store;

pub mod auth;
pub mod error;
pub mod events;
pub mod fleet;
pub mod health;
pub mod imports;
pub mod policy;
pub mod repositories;
pub mod subscriptions;
pub mod teams;
pub mod webhooks_in;

pub use error::{ApiError, ErrorBody};

/// Shared by every handler.
#[derive(Clone)]
pub struct AppState {
    pub services: crate::services::Services,
    pub admin_token: Option<Secret>,
    pub metrics: Arc<PrometheusHandle>,
}

impl AppState {
    /// The database (the services' handle).
    pub fn store(&self) -> &Store {
        &self.services.store
    }
}

/// The page size a list call asked for (`default` when it named none); 422 naming `limit` unless
/// it is between 1 and `max`.
pub fn page_limit(requested: Option<i64>, default: i64, max: i64) -> Result<i64, ApiError> {
    let limit = requested.unwrap_or(default);
    if !(1..=max).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            format!("must be between 1 and {max}"),
        ));
    }
    Ok(limit)
}

/// `Json<T>` whose rejections follow the API's error policy.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    axum::Json<T>: FromRequest<S, Rejection = axum::extract::rejection::JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let axum::Json(value) = axum::Json::<T>::from_request(req, state).await?;
        Ok(ApiJson(value))
    }
}

/// `Query<T>` whose rejections follow the API's error policy.
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    axum::extract::Query<T>:
        FromRequestParts<S, Rejection = axum::extract::rejection::QueryRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let axum::extract::Query(value) =
            axum::extract::Query::<T>::from_request_parts(parts, state).await?;
        Ok(ApiQuery(value))
    }
}

/// `Path<T>` whose rejections follow the API's error policy (`/repositories/abc` is a 400 with
/// the JSON error body, not axum's plain-text one).
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    axum::extract::Path<T>:
        FromRequestParts<S, Rejection = axum::extract::rejection::PathRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(value) =
            axum::extract::Path::<T>::from_request_parts(parts, state).await?;
        Ok(ApiPath(value))
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "upkeep", description = "Keeps every registered repository's dependencies current.\n\n\
Lists page one way: `{items, next}`; pass `next` as `after` (with an optional `limit`) for the \
following page, `next` is `null` on the last one. The event journal is a cursor stream instead: \
`GET /api/v1/events` answers `{events, next_after}`, where `next_after` is never null (poll with it \
to read on as events arrive)."),
    modifiers(&BearerAuth),
    tags((name = "repositories"), (name = "teams"))
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The API routes and the OpenAPI document describing them.
pub fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(repositories::create, repositories::list))
        .routes(routes!(repositories::get, repositories::delete))
        .routes(routes!(repositories::crawl))
        .routes(routes!(teams::create_team))
        .routes(routes!(teams::create_token))
        .routes(routes!(imports::create))
        .routes(routes!(events::list))
        .routes(routes!(events::stream))
        .routes(routes!(events::schema))
        .routes(routes!(subscriptions::create, subscriptions::list))
        .routes(routes!(subscriptions::delete))
        .routes(routes!(subscriptions::deliveries))
        .merge(fleet::router())
        .merge(policy::router())
        .split_for_parts()
}

/// The OpenAPI document as served at `/api/v1/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().1
}

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    let (api, doc) = api();
    let doc = Arc::new(doc);
    let request_id = HeaderName::from_static("x-request-id");
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route("/webhooks/github", webhooks_in::route())
        .route("/api/v1/openapi.json", get({
            let doc = doc.clone();
            move || async move { axum::Json(doc.as_ref().clone()) }
        }))
        // Swagger UI on the document above, every asset compiled into the binary (the
        // `vendored` feature: nothing is fetched at build time or by the browser); `/api/docs`
        // redirects to `/api/docs/`.
        .merge(Router::from(
            SwaggerUi::new("/api/docs").config(SwaggerConfig::from("/api/v1/openapi.json")),
        ))
        .merge(api)
        .fallback(|| async { ApiError::not_found("no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(axum::http::StatusCode::METHOD_NOT_ALLOWED, error::ErrorCode::MethodNotAllowed, "method not allowed on this route")
        })
        .layer(axum::middleware::from_fn(record_metrics))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path())
        }).on_response(DefaultOnResponse::new().level(tracing::Level::INFO)))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}

/// Count requests by route and status, and their latency.
async fn record_metrics(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().to_string();
    let started = Instant::now();
    let response = next.run(req).await.into_response();
    let status = response.status().as_u16().to_string();
    metrics::counter!("upkeep_http_requests_total", "route" => route.clone(), "method" => method, "status" => status)
        .increment(1);
    metrics::histogram!("upkeep_http_request_duration_seconds", "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}
