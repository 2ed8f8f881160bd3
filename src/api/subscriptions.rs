//! Outgoing webhook subscriptions: create, list, inspect deliveries, delete.
//!
//! A subscription receives its team's events and the fleet-wide ones of the types it names, each as
//! a signed POST (see `delivery::webhooks`). Its secret is accepted once and never returned.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::{ApiError, ApiJson, ApiPath, ApiQuery, AppState, page_limit};
use crate::api::auth::Principal;
use crate::config::Secret;
use crate::delivery::webhooks::DEFAULT_MAX_ATTEMPTS;
use crate::delivery::{check_target_form, resolve_target};
use crate::store::subscriptions::{Delivery, NewSubscription, Subscription};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSubscription {
    /// The receiver: an http(s) URL without credentials. Loopback, private and link-local targets
    /// are refused unless the service allows them (`webhook_allow_private_targets`).
    pub url: String,
    /// Event types to deliver (see `/api/v1/events/schema`).
    pub types: Vec<String>,
    /// Signing key (16–256 characters): every delivery carries
    /// `X-Upkeep-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>`. Never returned.
    pub secret: String,
    /// Attempts before a delivery is dead-lettered, 1–20 (default 8).
    #[serde(default)]
    pub max_attempts: Option<i64>,
    /// The owning team; required with the admin token, optional (own team) with a team token.
    #[serde(default)]
    pub team: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SubscriptionList {
    pub items: Vec<Subscription>,
    /// Cursor for the next page, `null` on the last page.
    pub next: Option<i64>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeliveryParams {
    /// Only deliveries in this state: `pending`, `delivered` or `dead`.
    #[serde(default)]
    pub status: Option<String>,
    /// Deliveries with ids after this cursor (the previous page's `next`).
    #[serde(default)]
    pub after: Option<i64>,
    /// Page size, 1–500 (default 50).
    #[serde(default)]
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DeliveryPage {
    pub items: Vec<Delivery>,
    /// Cursor for the next page, `null` on the last page.
    pub next: Option<i64>,
}

fn validate_types(types: &[String]) -> Result<Vec<String>, ApiError> {
    if types.is_empty() {
        return Err(ApiError::invalid("types", "name at least one event type"));
    }
    let mut out: Vec<String> = Vec::new();
    for kind in types {
        if !crate::events::is_known_type(kind) {
            return Err(ApiError::invalid(
                "types",
                format!("unknown event type `{kind}`"),
            ));
        }
        if !out.contains(kind) {
            out.push(kind.clone());
        }
    }
    Ok(out)
}

/// Subscribe a URL to event types.
#[utoipa::path(post, path = "/api/v1/subscriptions", operation_id = "create_subscription", tag = "subscriptions", request_body = CreateSubscription,
    responses((status = 201, body = Subscription), (status = 400, body = super::ErrorBody), (status = 401, body = super::ErrorBody),
        (status = 403, body = super::ErrorBody), (status = 422, body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<CreateSubscription>,
) -> Result<(StatusCode, Json<Subscription>), ApiError> {
    let url = check_target_form(body.url.trim()).map_err(|e| ApiError::invalid("url", e))?;
    let types = validate_types(&body.types)?;
    let secret_len = body.secret.chars().count();
    if !(16..=256).contains(&secret_len) {
        return Err(ApiError::invalid("secret", "must be 16 to 256 characters"));
    }
    let max_attempts = body.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS);
    if !(1..=20).contains(&max_attempts) {
        return Err(ApiError::invalid(
            "max_attempts",
            "must be between 1 and 20",
        ));
    }
    let team_id = principal
        .acting_team(state.store(), body.team.as_deref(), "creates subscriptions")
        .await?;
    resolve_target(&url, state.services.config.webhook_allow_private_targets)
        .await
        .map_err(|e| ApiError::invalid("url", e))?;
    let stored_secret = state
        .services
        .secrets
        .seal(&Secret::new(body.secret))
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let subscription = state
        .store()
        .create_subscription(&NewSubscription {
            team_id,
            url: url.to_string(),
            types,
            stored_secret,
            max_attempts,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(subscription)))
}

/// The caller's subscriptions (every team's for the admin).
#[utoipa::path(get, path = "/api/v1/subscriptions", operation_id = "list_subscriptions", tag = "subscriptions",
    params(super::repositories::ListParams),
    responses((status = 200, body = SubscriptionList), (status = 400, body = super::ErrorBody), (status = 401, body = super::ErrorBody),
        (status = 422, body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(params): ApiQuery<super::repositories::ListParams>,
) -> Result<Json<SubscriptionList>, ApiError> {
    let limit = usize::try_from(page_limit(params.limit, 50, 500)?).unwrap_or(50);
    let after = params.after.unwrap_or(0);
    // A team has few subscriptions: read them all (by id) and page here.
    let mut items: Vec<Subscription> = state
        .store()
        .subscriptions(principal.team_scope())
        .await?
        .into_iter()
        .filter(|s| s.id > after)
        .collect();
    let next = if items.len() > limit {
        items.truncate(limit);
        items.last().map(|s| s.id)
    } else {
        None
    };
    Ok(Json(SubscriptionList { items, next }))
}

async fn owned(state: &AppState, principal: &Principal, id: i64) -> Result<Subscription, ApiError> {
    let subscription = state
        .store()
        .subscription(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("subscription {id}")))?;
    if !principal.may_access(subscription.team_id) {
        return Err(ApiError::forbidden(format!(
            "subscription {id} belongs to another team"
        )));
    }
    Ok(subscription)
}

/// A subscription's deliveries and their state (pending, delivered, dead), oldest first.
#[utoipa::path(get, path = "/api/v1/subscriptions/{id}/deliveries", operation_id = "list_deliveries", tag = "subscriptions",
    params(("id" = i64, Path, description = "Subscription id"), DeliveryParams),
    responses((status = 200, body = DeliveryPage), (status = 400, body = super::ErrorBody), (status = 401, body = super::ErrorBody),
        (status = 403, body = super::ErrorBody), (status = 404, body = super::ErrorBody), (status = 422, body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn deliveries(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(params): ApiQuery<DeliveryParams>,
) -> Result<Json<DeliveryPage>, ApiError> {
    if let Some(status) = params.status.as_deref()
        && !matches!(status, "pending" | "delivered" | "dead")
    {
        return Err(ApiError::invalid(
            "status",
            format!("`{status}` is not pending, delivered or dead"),
        ));
    }
    let limit = page_limit(params.limit, 50, 500)?;
    owned(&state, &principal, id).await?;
    let page = state
        .store()
        .deliveries(
            id,
            params.status.as_deref(),
            params.after.unwrap_or(0),
            limit,
        )
        .await?;
    Ok(Json(DeliveryPage {
        items: page.items,
        next: page.next,
    }))
}

/// Delete a subscription; its pending deliveries are dropped.
#[utoipa::path(delete, path = "/api/v1/subscriptions/{id}", operation_id = "delete_subscription", tag = "subscriptions",
    params(("id" = i64, Path, description = "Subscription id")),
    responses((status = 204), (status = 400, body = super::ErrorBody), (status = 401, body = super::ErrorBody), (status = 403, body = super::ErrorBody),
        (status = 404, body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    owned(&state, &principal, id).await?;
    state.store().delete_subscription(id).await?;
    Ok(StatusCode::NO_CONTENT)
}
