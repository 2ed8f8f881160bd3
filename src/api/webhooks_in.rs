//! `POST /webhooks/github`: GitHub's webhooks in.
//!
//! - Authentication is the delivery's `X-Hub-Signature-256` (HMAC-SHA256 of the raw body with
//!   `github_webhook_secret`, compared in constant time). No secret configured, a missing or a
//!   wrong signature → 401 and nothing is queued. No bearer token is involved.
//! - Memory: the endpoint takes no bearer token, so nothing is read before it must be. With no
//!   secret configured, or no well-formed signature header, the answer is 401 **before the body
//!   is read** (401 rather than 404 or 403: the request did not authenticate, and GitHub's delivery
//!   log then points the operator at the secret). A body over [`MAX_PAYLOAD_BYTES`] is 413 (from
//!   `Content-Length` before reading, or once the stream passes the limit). A body larger than
//!   [`LARGE_BODY_BYTES`] needs one of [`LARGE_BODY_PERMITS`] permits while it is read; when all
//!   are taken the answer is 503 with `Retry-After` at once. The HMAC runs over the body as it
//!   arrives; the payload is parsed only once the signature matches.
//! - `X-GitHub-Delivery` is recorded (table `github_deliveries`); a delivery seen before →
//!   200 `{"status":"duplicate"}` and nothing is queued. A delivery whose handling fails is
//!   forgotten again, so GitHub's redelivery is handled.
//! - A push is also deduplicated on its `after` commit per repository (table
//!   `github_push_heads`): the same push under a new delivery id (a second webhook, a replayed
//!   body) → 200 `{"status":"duplicate"}` and nothing is queued.
//! - `ping` → 200 `{"status":"pong"}`.
//! - `push` to a repository's default branch (`ref` = `refs/heads/<default branch>`; the branch
//!   recorded for the repository, else the payload's `repository.default_branch`) → a crawl at
//!   priority 100 for every registered repository (any team) whose normalised URL is
//!   `https://github.com/<full_name lower-cased>` (or the normalised `html_url`, for GitHub
//!   Enterprise Server). A crawl already pending is raised to that priority and made due now.
//!   200 `{"status":"queued","repositories":[ids]}`; pushes to other branches, branch deletions
//!   and unregistered repositories → 202 `{"status":"ignored"}`.
//! - `installation` (`created` / `deleted`) and `installation_repositories` (`added` / `removed`)
//!   change which repositories are registered. **Rule**: repositories the app gains are registered
//!   for the one team that already has repositories of the installation's account registered (and
//!   a crawl is queued for each); with no such team, or more than one, nothing is added (202, and
//!   the reason is logged), because a webhook cannot say which team should own them. Repositories
//!   the app loses are removed from every team that registered them.
//! - Any other event → 202 `{"status":"ignored"}`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use axum::{Extension, Json};
use futures_util::StreamExt as _;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{ApiError, AppState};
use crate::repository_url::RepositoryUrl;
use crate::store::repositories::Repository;

/// Priority of a crawl a push asked for (scheduled crawls run at 0).
pub const PUSH_CRAWL_PRIORITY: i64 = crate::jobs::crawl::URGENT_CRAWL_PRIORITY;
/// The largest payload GitHub sends.
pub const MAX_PAYLOAD_BYTES: usize = 25 * 1024 * 1024;
/// Bodies up to this size (the API's limit) are read like any request; larger ones need a permit.
pub const LARGE_BODY_BYTES: usize = 2 * 1024 * 1024;
/// How many bodies larger than [`LARGE_BODY_BYTES`] one process reads at once.
pub const LARGE_BODY_PERMITS: usize = 4;

type HmacSha256 = Hmac<sha2::Sha256>;

/// The digest a `sha256=<hex>` signature header names; `None` when it names none.
fn signature_digest(signature: &str) -> Option<Vec<u8>> {
    let digest = hex::decode(signature.trim().strip_prefix("sha256=")?).ok()?;
    (digest.len() == 32).then_some(digest)
}

/// Does `signature` (`sha256=<hex>`) sign `body` with `secret`? Constant-time comparison.
pub fn signature_matches(secret: &[u8], body: &[u8], signature: &str) -> bool {
    let Some(expected) = signature_digest(signature) else {
        return false;
    };
    let Ok(mut mac) = HmacSha256::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// The permits for bodies larger than [`LARGE_BODY_BYTES`], one set per router.
#[derive(Clone)]
struct LargeBodies(Arc<Semaphore>);

/// The route of `POST /webhooks/github`, with its permits for large bodies.
pub fn route() -> MethodRouter<AppState> {
    axum::routing::post(github).layer(Extension(LargeBodies(Arc::new(Semaphore::new(
        LARGE_BODY_PERMITS,
    )))))
}

/// Why a body was not read to the end.
enum BodyRefused {
    TooLarge,
    Busy,
    Unreadable(axum::Error),
}

impl IntoResponse for BodyRefused {
    fn into_response(self) -> Response {
        match self {
            BodyRefused::TooLarge => ApiError::payload_too_large(format!(
                "the payload is larger than {MAX_PAYLOAD_BYTES} bytes"
            ))
            .into_response(),
            BodyRefused::Busy => {
                tracing::warn!("GitHub webhook shed: every large-body permit is taken");
                ApiError::unavailable("too many large deliveries at once; retry later")
                    .into_response()
            }
            BodyRefused::Unreadable(e) => {
                ApiError::bad_request(format!("the body could not be read: {e}")).into_response()
            }
        }
    }
}

/// Read `body` whole, feeding `mac` as it arrives: at most [`MAX_PAYLOAD_BYTES`], and beyond
/// [`LARGE_BODY_BYTES`] only with a permit of `large` (taken without waiting).
async fn read_body(
    body: Body,
    declared: Option<usize>,
    large: &LargeBodies,
    mac: &mut HmacSha256,
) -> Result<Vec<u8>, BodyRefused> {
    if declared.is_some_and(|n| n > MAX_PAYLOAD_BYTES) {
        return Err(BodyRefused::TooLarge);
    }
    let take_permit = || {
        Arc::clone(&large.0)
            .try_acquire_owned()
            .map_err(|_| BodyRefused::Busy)
    };
    let mut permit: Option<OwnedSemaphorePermit> = None;
    if declared.is_some_and(|n| n > LARGE_BODY_BYTES) {
        permit = Some(take_permit()?);
    }
    let mut bytes = Vec::with_capacity(declared.unwrap_or(0).min(LARGE_BODY_BYTES));
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(BodyRefused::Unreadable)?;
        let size = bytes.len() + chunk.len();
        if size > MAX_PAYLOAD_BYTES {
            return Err(BodyRefused::TooLarge);
        }
        if size > LARGE_BODY_BYTES && permit.is_none() {
            permit = Some(take_permit()?);
        }
        mac.update(&chunk);
        bytes.extend_from_slice(&chunk);
    }
    drop(permit);
    Ok(bytes)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

fn ignored(reason: &str) -> Response {
    (
        StatusCode::ACCEPTED,
        Json(json!({ "status": "ignored", "reason": reason })),
    )
        .into_response()
}

/// The webhook endpoint.
async fn github(
    State(state): State<AppState>,
    Extension(large): Extension<LargeBodies>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(secret) = state.services.config.github_webhook_secret.as_ref() else {
        tracing::warn!("GitHub webhook refused: no webhook secret is configured");
        return ApiError::unauthorized("webhooks are not enabled on this server").into_response();
    };
    let Some(signature) = header(&headers, "x-hub-signature-256") else {
        return ApiError::unauthorized("missing X-Hub-Signature-256").into_response();
    };
    let Some(expected) = signature_digest(signature) else {
        return ApiError::unauthorized("X-Hub-Signature-256 is not `sha256=<64 hex digits>`")
            .into_response();
    };
    let Ok(mut mac) = HmacSha256::new_from_slice(secret.expose().as_bytes()) else {
        return ApiError::internal("the webhook secret is not a valid HMAC key").into_response();
    };
    let declared = header(&headers, "content-length").and_then(|n| n.parse().ok());
    let body = match read_body(body, declared, &large, &mut mac).await {
        Ok(body) => body,
        Err(refused) => return refused.into_response(),
    };
    if mac.verify_slice(&expected).is_err() {
        tracing::warn!("GitHub webhook refused: signature does not match");
        return ApiError::unauthorized("X-Hub-Signature-256 does not match the payload")
            .into_response();
    }
    let Some(event) = header(&headers, "x-github-event") else {
        return ApiError::bad_request("missing X-GitHub-Event").into_response();
    };
    if event == "ping" {
        return (StatusCode::OK, Json(json!({ "status": "pong" }))).into_response();
    }
    let Some(delivery) = header(&headers, "x-github-delivery") else {
        return ApiError::bad_request("missing X-GitHub-Delivery").into_response();
    };
    if delivery.len() > 200 {
        return ApiError::bad_request("X-GitHub-Delivery is too long").into_response();
    }
    match state.store().record_github_delivery(delivery, event).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::info!(delivery, event, "duplicate GitHub delivery");
            return (StatusCode::OK, Json(json!({ "status": "duplicate" }))).into_response();
        }
        Err(e) => return ApiError::from(e).into_response(),
    }
    let result = match serde_json::from_slice::<Value>(&body) {
        Ok(payload) => handle(&state, event, &payload).await,
        Err(e) => Err(ApiError::bad_request(format!(
            "the payload is not JSON: {e}"
        ))),
    };
    match result {
        Ok(response) => response,
        Err(error) => {
            if let Err(e) = state.store().forget_github_delivery(delivery).await {
                tracing::error!(delivery, error = %e, "could not forget a failed delivery");
            }
            error.into_response()
        }
    }
}

async fn handle(state: &AppState, event: &str, payload: &Value) -> Result<Response, ApiError> {
    match event {
        "push" => push(state, payload).await,
        "installation" | "installation_repositories" => installation(state, event, payload).await,
        _ => Ok(ignored("event not used")),
    }
}

/// Registered repositories named by a payload's `repository` object.
async fn registered(state: &AppState, repository: &Value) -> Result<Vec<Repository>, ApiError> {
    let mut urls = Vec::new();
    if let Some(full_name) = repository["full_name"].as_str()
        && let Ok(url) = RepositoryUrl::parse(&format!("https://github.com/{full_name}"))
    {
        urls.push(url.url);
    }
    if let Some(html_url) = repository["html_url"].as_str()
        && let Ok(url) = RepositoryUrl::parse(html_url)
        && !urls.contains(&url.url)
    {
        urls.push(url.url);
    }
    let mut repos = Vec::new();
    for url in urls {
        repos.extend(state.store().repositories_by_url(&url).await?);
    }
    Ok(repos)
}

async fn queue_crawl(state: &AppState, repository_id: i64, priority: i64) -> Result<(), ApiError> {
    crate::jobs::crawl::queue_now(state.store(), repository_id, priority).await?;
    Ok(())
}

async fn push(state: &AppState, payload: &Value) -> Result<Response, ApiError> {
    let Some(git_ref) = payload["ref"].as_str() else {
        return Err(ApiError::invalid("ref", "a push payload names its `ref`"));
    };
    if payload["deleted"].as_bool() == Some(true) {
        return Ok(ignored("branch deleted"));
    }
    let Some(after) = payload["after"].as_str().filter(|a| !a.is_empty()) else {
        return Err(ApiError::invalid(
            "after",
            "a push payload names its `after` commit",
        ));
    };
    let repository = &payload["repository"];
    let repos = registered(state, repository).await?;
    if repos.is_empty() {
        return Ok(ignored("repository not registered"));
    }
    let payload_default = repository["default_branch"].as_str();
    let mut queued = Vec::new();
    let mut duplicates = Vec::new();
    for repo in repos {
        let Some(branch) = repo.default_branch.as_deref().or(payload_default) else {
            continue;
        };
        if git_ref != format!("refs/heads/{branch}") {
            continue;
        }
        if !state.store().record_push_head(repo.id, after).await? {
            duplicates.push(repo.id);
            continue;
        }
        if let Err(error) = queue_crawl(state, repo.id, PUSH_CRAWL_PRIORITY).await {
            // Not queued: forget this push (and the earlier ones of this delivery), so that
            // GitHub's redelivery is handled.
            for id in queued.iter().chain([&repo.id]) {
                if let Err(e) = state.store().forget_push_head(*id, after).await {
                    tracing::error!(repository = id, error = %e, "could not forget a push head");
                }
            }
            return Err(error);
        }
        queued.push(repo.id);
    }
    if queued.is_empty() && !duplicates.is_empty() {
        tracing::info!(git_ref, after, repositories = ?duplicates, "duplicate push");
        return Ok((StatusCode::OK, Json(json!({ "status": "duplicate" }))).into_response());
    }
    if queued.is_empty() {
        return Ok(ignored("not the default branch"));
    }
    tracing::info!(git_ref, repositories = ?queued, "push queued crawls");
    Ok((
        StatusCode::OK,
        Json(json!({ "status": "queued", "repositories": queued })),
    )
        .into_response())
}

fn full_names(list: &Value) -> Vec<String> {
    list.as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|item| item["full_name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

async fn installation(
    state: &AppState,
    event: &str,
    payload: &Value,
) -> Result<Response, ApiError> {
    let action = payload["action"].as_str().unwrap_or_default();
    let (gained, lost) = match (event, action) {
        ("installation", "created") => (full_names(&payload["repositories"]), Vec::new()),
        ("installation", "deleted") => (Vec::new(), full_names(&payload["repositories"])),
        ("installation_repositories", "added") => {
            (full_names(&payload["repositories_added"]), Vec::new())
        }
        ("installation_repositories", "removed") => {
            (Vec::new(), full_names(&payload["repositories_removed"]))
        }
        _ => return Ok(ignored("installation action not used")),
    };
    let Some(account) = payload["installation"]["account"]["login"].as_str() else {
        return Err(ApiError::invalid(
            "installation.account.login",
            "an installation payload names its account",
        ));
    };

    let mut removed = Vec::new();
    for full_name in &lost {
        let Ok(url) = RepositoryUrl::parse(&format!("https://github.com/{full_name}")) else {
            continue;
        };
        for repo in state.store().repositories_by_url(&url.url).await? {
            match state.store().remove_repository(repo.id).await {
                Ok(_) | Err(crate::store::StoreError::NotFound(_)) => removed.push(repo.id),
                Err(e) => return Err(e.into()),
            }
        }
    }

    let mut added = Vec::new();
    let mut note = None;
    if !gained.is_empty() {
        let teams = state.store().teams_with_github_account(account).await?;
        match teams.as_slice() {
            [team_id] => {
                for full_name in &gained {
                    let Ok(url) = RepositoryUrl::parse(&format!("https://github.com/{full_name}"))
                    else {
                        continue;
                    };
                    match state.store().add_repository(*team_id, &url, None).await {
                        Ok(repo) => {
                            queue_crawl(state, repo.id, 0).await?;
                            added.push(repo.id);
                        }
                        Err(crate::store::StoreError::Conflict(_)) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            [] => {
                tracing::info!(
                    account,
                    repositories = gained.len(),
                    "installation gained repositories, but no team has repositories of this account; nothing registered"
                );
                note = Some("no team has repositories of this account");
            }
            _ => {
                tracing::info!(
                    account,
                    teams = ?teams,
                    "installation gained repositories, but several teams have repositories of this account; nothing registered"
                );
                note = Some("several teams have repositories of this account");
            }
        }
    }
    if added.is_empty() && removed.is_empty() {
        return Ok(ignored(note.unwrap_or("no registered repository changed")));
    }
    tracing::info!(account, added = ?added, removed = ?removed, "installation change applied");
    Ok((
        StatusCode::OK,
        Json(json!({ "status": "processed", "added": added, "removed": removed })),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::signature_matches;

    #[test]
    fn verifies_github_signatures() {
        // The example of GitHub's webhook documentation.
        let secret = b"It's a Secret to Everybody";
        let body = b"Hello, World!";
        let good = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert!(signature_matches(secret, body, good));
        assert!(!signature_matches(secret, b"Hello, World?", good));
        assert!(!signature_matches(b"other", body, good));
        assert!(!signature_matches(secret, body, "sha1=757107ea"));
        assert!(!signature_matches(secret, body, "sha256=zz"));
        assert!(!signature_matches(secret, body, ""));
    }
}
