//! Error policy of the HTTP API.
//!
//! Every error leaves the API as `{"error": {"code": "...", "message": "..."}}` with a status that
//! says whose fault it is: 400 malformed request (bad JSON, bad query), 401 no or unknown token,
//! 403 a token acting outside its team, 404 unknown id or route, 409 duplicate, 422 a well-formed
//! request with an invalid field (the message names the field), 413 a body over the route's size
//! limit (`payload_too_large`; the API's limit is axum's default, 2 MB), 503 the database is
//! unreachable, busy (no connection free within `database_api_acquire_timeout_ms`) or not the
//! schema this binary knows (`unavailable`, always with `Retry-After`).
//! Every database error is a 503, never a 500: the request may succeed once the database is back,
//! and the cause goes to the log. Anything else is a 500 whose message says only "internal error";
//! the cause goes to the log with the request id, never to the client.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::store::StoreError;

/// Seconds a client is asked to wait (`Retry-After`) after a 503.
pub const RETRY_AFTER_SECONDS: u64 = 2;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
    /// `Retry-After` in seconds, sent with 503s.
    pub retry_after: Option<u64>,
}

/// The error body, for the OpenAPI document.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    pub message: String,
}

/// Stable machine-readable error code; each goes with one status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: the request could not be read (bad JSON, query or path).
    MalformedRequest,
    /// 401: no token, or an unknown one.
    Unauthorized,
    /// 403: a token acting outside its team.
    Forbidden,
    /// 404: unknown id or route.
    NotFound,
    /// 405: the route exists, the method does not.
    MethodNotAllowed,
    /// 409: a duplicate.
    Conflict,
    /// 413: the body is over the route's size limit.
    PayloadTooLarge,
    /// 422: a well-formed request with an invalid field; the message names the field.
    Validation,
    /// 503: the database or an upstream service is unavailable or busy; see `Retry-After`.
    Unavailable,
    /// 500: a bug; the cause is in the server's log under the request id.
    Internal,
}

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// 503 with `Retry-After`: the request may succeed later (the database is down or busy, or
    /// the server is shedding load).
    pub fn unavailable(message: impl Into<String>) -> Self {
        ApiError {
            retry_after: Some(RETRY_AFTER_SECONDS),
            ..ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::Unavailable,
                message,
            )
        }
    }

    /// 413: the body is larger than the route accepts.
    pub fn payload_too_large(message: impl Into<String>) -> Self {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::PayloadTooLarge,
            message,
        )
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::MalformedRequest,
            message,
        )
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, ErrorCode::Forbidden, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, message)
    }

    /// A field failed validation; the message starts with the field's name.
    pub fn invalid(field: &str, problem: impl std::fmt::Display) -> Self {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::Validation,
            format!("{field}: {problem}"),
        )
    }

    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            "internal error",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict(message) => {
                ApiError::new(StatusCode::CONFLICT, ErrorCode::Conflict, message)
            }
            StoreError::NotFound(message) => ApiError::not_found(message),
            StoreError::Invalid(message) | StoreError::InvalidUrl(message) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::Validation,
                message,
            ),
            StoreError::Sqlx(sqlx::Error::PoolTimedOut) => {
                tracing::warn!("no database connection free in time: shedding the request");
                ApiError::unavailable("the server is busy; retry later")
            }
            // Unreachable, closed, dropped, or not the schema this binary knows: the request may
            // succeed once the database is back (readiness says which).
            StoreError::Sqlx(_) | StoreError::Migrate(_) => {
                tracing::error!(%error, "database unavailable");
                ApiError::unavailable("the database is unavailable")
            }
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            // Well-formed JSON of the wrong shape: serde's message names the field.
            JsonRejection::JsonDataError(e) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::Validation,
                body_error_text(&e.body_text()),
            ),
            JsonRejection::JsonSyntaxError(e) => ApiError::bad_request(format!(
                "malformed JSON: {}",
                body_error_text(&e.body_text())
            )),
            JsonRejection::MissingJsonContentType(_) => {
                ApiError::bad_request("expected a JSON body with `Content-Type: application/json`")
            }
            other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::payload_too_large("the request body is larger than this route accepts")
            }
            other => ApiError::bad_request(other.body_text()),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::bad_request(format!(
            "invalid query string: {}",
            body_error_text(&rejection.body_text())
        ))
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        match rejection {
            PathRejection::FailedToDeserializePathParams(e) => {
                ApiError::bad_request(format!("invalid path: {}", body_error_text(&e.body_text())))
            }
            // A route without the parameters its handler reads: a bug, not a bad request.
            other => ApiError::internal(other.body_text()),
        }
    }
}

/// axum prefixes serde's message with a generic sentence; keep the part that names the problem.
fn body_error_text(text: &str) -> String {
    text.split_once(": ")
        .map_or(text, |(_, rest)| rest)
        .to_owned()
}
