//! How requests reach GitHub: octocrab's raw calls (`build_request` + `execute`), so every
//! response's status and headers are seen here. Before each request the shared
//! [`super::budget::Budget`] is asked whether to go, wait for the reset, or give up with
//! [`GithubError::RateLimited`]; every response's `X-RateLimit-Remaining` / `X-RateLimit-Reset`
//! update it. Secondary limits (403/429 with `Retry-After` or a "secondary rate limit" message)
//! and exhausted primary limits are waited out and retried, within
//! [`super::GithubTuning::max_wait`] and [`super::GithubTuning::max_retries`]; a GET answered
//! `500`, `502`, `503` or `504` is repeated after [`super::GithubTuning::server_error_backoff`]
//! (doubling), at most `max_retries` times; an installation token GitHub refuses (401) is renewed
//! once.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use octocrab::Octocrab;

use super::auth::Scope;
use super::budget::{self, Admission};
use super::{Endpoint, GithubClient, GithubError};
use crate::config::Secret;

/// Request counters of a client and its clones (read by [`GithubClient::stats`]).
#[derive(Default)]
pub(super) struct Counters {
    pub(super) requests: [AtomicU64; 7],
    pub(super) not_modified: AtomicU64,
    pub(super) retries: AtomicU64,
    pub(super) waits: AtomicU64,
}

/// One response, read whole.
pub(super) struct Reply {
    pub(super) status: StatusCode,
    pub(super) headers: HeaderMap,
    pub(super) body: String,
}

impl Reply {
    pub(super) fn json<T: serde::de::DeserializeOwned>(
        &self,
        what: &str,
    ) -> Result<T, GithubError> {
        serde_json::from_str(&self.body)
            .map_err(|e| GithubError::Api(format!("unexpected response shape for {what}: {e}")))
    }

    /// GitHub's `message`, for error texts.
    fn message(&self) -> String {
        serde_json::from_str::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|v| v["message"].as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// An error for an unexpected status.
    pub(super) fn error(&self, what: &str) -> GithubError {
        match self.status {
            StatusCode::NOT_FOUND | StatusCode::GONE => GithubError::NotFound(what.to_owned()),
            StatusCode::CONFLICT if self.message().to_ascii_lowercase().contains("is empty") => {
                GithubError::EmptyRepository(what.to_owned())
            }
            status => {
                let message = self.message();
                if message.is_empty() {
                    GithubError::Api(format!("{what}: HTTP {}", status.as_u16()))
                } else {
                    GithubError::Api(format!("{what}: HTTP {}: {message}", status.as_u16()))
                }
            }
        }
    }
}

/// What to do with a response.
enum Outcome {
    Done,
    /// The installation token was refused: mint a new one and repeat once.
    Unauthorized,
    /// Rate limited: wait this long and repeat; `reset_at` for the error when not waiting.
    Wait {
        wait: Duration,
        reset_at: DateTime<Utc>,
    },
    /// A GET answered with a transient server error: back off and repeat.
    ServerError,
}

impl GithubClient {
    /// A `Link` target, accepted only on the configured API's origin (the request carries our
    /// credential).
    pub(super) fn same_origin(&self, link: &str) -> Result<String, GithubError> {
        let url = url::Url::parse(link)
            .map_err(|e| GithubError::Api(format!("invalid pagination link `{link}`: {e}")))?;
        if url.origin() != self.inner.base.origin() {
            return Err(GithubError::Api(format!(
                "pagination link `{link}` leaves the configured API"
            )));
        }
        Ok(url.to_string())
    }

    async fn octocrab(&self) -> Result<&Octocrab, GithubError> {
        self.inner
            .octocrab
            .get_or_try_init(|| async {
                let builder = Octocrab::builder()
                    .base_uri(self.inner.config.api_url.trim())
                    .map_err(|e| GithubError::Api(format!("invalid API URL: {e}")))?
                    .set_connect_timeout(Some(Duration::from_secs(10)))
                    .set_read_timeout(Some(self.inner.tuning.timeout));
                builder
                    .build()
                    .map_err(|e| GithubError::Api(format!("cannot build the HTTP client: {e}")))
            })
            .await
    }

    /// Send with credentials for `scope`, waiting out rate limits and renewing a refused
    /// installation token once.
    pub(super) async fn call(
        &self,
        endpoint: Endpoint,
        method: Method,
        target: &str,
        scope: Scope<'_>,
        headers: HeaderMap,
        body: Option<serde_json::Value>,
    ) -> Result<Reply, GithubError> {
        let mut rate_retries = 0u32;
        let mut server_retries = 0u32;
        let mut renewed = false;
        loop {
            let credential = self.credential(scope).await?;
            let reply = self
                .send(
                    endpoint,
                    &method,
                    target,
                    credential.as_ref(),
                    &headers,
                    body.as_ref(),
                )
                .await?;
            match self.outcome(&method, &reply, rate_retries) {
                Outcome::Done => return Ok(reply),
                Outcome::ServerError => {
                    if server_retries >= self.inner.tuning.max_retries {
                        return Ok(reply);
                    }
                    let wait = self
                        .inner
                        .tuning
                        .server_error_backoff
                        .saturating_mul(1 << server_retries.min(6));
                    server_retries += 1;
                    tracing::warn!(
                        endpoint = endpoint.as_str(),
                        status = reply.status.as_u16(),
                        wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                        "GitHub server error; retrying"
                    );
                    self.inner.counters.retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(wait).await;
                }
                Outcome::Unauthorized => {
                    let uses_installation = self.inner.app.is_some() && scope.account().is_some();
                    if renewed || !uses_installation {
                        return Ok(reply);
                    }
                    renewed = true;
                    self.forget_token(scope).await;
                    self.inner.counters.retries.fetch_add(1, Ordering::Relaxed);
                }
                Outcome::Wait { wait, reset_at } => {
                    if rate_retries >= self.inner.tuning.max_retries
                        || wait > self.inner.tuning.max_wait
                    {
                        return Err(GithubError::RateLimited { reset_at });
                    }
                    rate_retries += 1;
                    tracing::warn!(
                        endpoint = endpoint.as_str(),
                        status = reply.status.as_u16(),
                        wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                        "GitHub rate limit; waiting before retrying"
                    );
                    self.inner.counters.waits.fetch_add(1, Ordering::Relaxed);
                    self.inner.counters.retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    fn outcome(&self, method: &Method, reply: &Reply, retries: u32) -> Outcome {
        let status = reply.status;
        if status == StatusCode::UNAUTHORIZED {
            return Outcome::Unauthorized;
        }
        if *method == Method::GET
            && matches!(
                status,
                StatusCode::INTERNAL_SERVER_ERROR
                    | StatusCode::BAD_GATEWAY
                    | StatusCode::SERVICE_UNAVAILABLE
                    | StatusCode::GATEWAY_TIMEOUT
            )
        {
            return Outcome::ServerError;
        }
        if status != StatusCode::FORBIDDEN && status != StatusCode::TOO_MANY_REQUESTS {
            return Outcome::Done;
        }
        let now = Utc::now();
        if let Some(seconds) = reply
            .header("retry-after")
            .and_then(|v| v.trim().parse::<u64>().ok())
        {
            let wait = Duration::from_secs(seconds);
            return Outcome::Wait {
                wait,
                reset_at: now + chrono::Duration::seconds(i64::try_from(seconds).unwrap_or(0)),
            };
        }
        let remaining = reply
            .header("x-ratelimit-remaining")
            .and_then(|v| v.trim().parse::<u64>().ok());
        let reset = reply
            .header("x-ratelimit-reset")
            .and_then(|v| v.trim().parse::<i64>().ok());
        if remaining == Some(0)
            && let Some(reset) = reset
        {
            let wait_ms = (reset.saturating_mul(1000) - now.timestamp_millis()).max(0);
            return Outcome::Wait {
                wait: Duration::from_millis(u64::try_from(wait_ms).unwrap_or(0))
                    + Duration::from_millis(250),
                reset_at: budget::epoch_to_datetime(reset),
            };
        }
        let secondary = reply
            .message()
            .to_ascii_lowercase()
            .contains("secondary rate limit");
        if secondary || status == StatusCode::TOO_MANY_REQUESTS || remaining == Some(0) {
            let wait = self
                .inner
                .tuning
                .secondary_backoff
                .saturating_mul(1 << retries.min(6));
            return Outcome::Wait {
                wait,
                reset_at: now + chrono::Duration::from_std(wait).unwrap_or_default(),
            };
        }
        Outcome::Done
    }

    /// One HTTP exchange: budget admission, the request, budget update, counters.
    async fn send(
        &self,
        endpoint: Endpoint,
        method: &Method,
        target: &str,
        credential: Option<&Secret>,
        headers: &HeaderMap,
        body: Option<&serde_json::Value>,
    ) -> Result<Reply, GithubError> {
        let tuning = &self.inner.tuning;
        loop {
            match self
                .inner
                .budget
                .admit(tuning.rate_limit_reserve, tuning.max_wait)?
            {
                Admission::Go => break,
                Admission::Wait(wait) => {
                    tracing::info!(
                        wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                        "GitHub rate-limit budget under the reserve; pausing until it resets"
                    );
                    self.inner.counters.waits.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(wait).await;
                }
            }
        }
        let crab = self.octocrab().await?;
        let mut builder = http::Request::builder()
            .method(method.clone())
            .uri(target)
            .header(header::ACCEPT, "application/vnd.github+json");
        for (name, value) in headers {
            builder = builder.header(name, value);
        }
        if let Some(secret) = credential {
            let mut value = HeaderValue::from_str(&format!("Bearer {}", secret.expose()))
                .map_err(|_| GithubError::Api("the credential is not a valid header".into()))?;
            value.set_sensitive(true);
            builder = builder.header(header::AUTHORIZATION, value);
        }
        let request = crab.build_request(builder, body).map_err(|e| {
            GithubError::Api(format!("cannot build request {method} {target}: {e}"))
        })?;
        self.inner.counters.requests[endpoint.index()].fetch_add(1, Ordering::Relaxed);
        let response = crab
            .execute(request)
            .await
            .map_err(|e| GithubError::Api(format!("{method} {}: {e}", path_of(target))))?;
        let status = response.status();
        let headers = response.headers().clone();
        self.inner.budget.observe(
            headers
                .get("x-ratelimit-remaining")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse().ok()),
            headers
                .get("x-ratelimit-reset")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse().ok()),
        );
        if status == StatusCode::NOT_MODIFIED {
            self.inner
                .counters
                .not_modified
                .fetch_add(1, Ordering::Relaxed);
        }
        let body = crab.body_to_string(response).await.map_err(|e| {
            GithubError::Api(format!(
                "{method} {}: reading the body: {e}",
                path_of(target)
            ))
        })?;
        Ok(Reply {
            status,
            headers,
            body,
        })
    }
}

/// The `rel="next"` target of a `Link` header.
pub(super) fn next_link(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let is_next = params
            .split(';')
            .any(|p| p.trim().replace(' ', "") == "rel=\"next\"");
        is_next.then(|| {
            target
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned()
        })
    })
}

/// The path of a request target, for messages (no query, no host).
fn path_of(target: &str) -> &str {
    let path = target.split('?').next().unwrap_or(target);
    match path.find("://") {
        Some(scheme_end) => {
            let rest = &path[scheme_end + 3..];
            rest.find('/').map_or("/", |slash| &rest[slash..])
        }
        None => path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_link_headers() {
        let link = "<https://api.github.com/organizations/1/repos?page=2>; rel=\"next\", \
                    <https://api.github.com/organizations/1/repos?page=5>; rel=\"last\"";
        assert_eq!(
            next_link(link).as_deref(),
            Some("https://api.github.com/organizations/1/repos?page=2")
        );
        assert_eq!(
            next_link("<https://x/?page=1>; rel=\"prev\", <https://x/?page=1>; rel=\"first\""),
            None
        );
    }

    #[test]
    fn messages_name_paths_only() {
        assert_eq!(path_of("/repos/a/b?x=1"), "/repos/a/b");
        assert_eq!(
            path_of("https://h:1/api/v3/orgs/o/repos?page=2"),
            "/api/v3/orgs/o/repos"
        );
    }
}
