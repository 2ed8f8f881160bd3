//! The one shared HTTP client every registry adapter uses.
//!
//! What every GET gets, so adapters never write it again:
//! - a `upkeep/<version>` user agent, connect and total timeouts, gzip;
//! - retries with exponential backoff and jitter on connect errors, timeouts, `429` and `5xx`,
//!   honouring `Retry-After` (seconds or an HTTP date, capped by [`HttpConfig::max_retry_after`]);
//! - a per-host limit of requests in flight and an optional per-host request rate;
//! - conditional requests: a response with an `ETag` or `Last-Modified` is cached (memory, and disk
//!   when [`HttpConfig::cache_dir`] is set); the next GET revalidates it and a `304` returns the
//!   cached body with [`HttpResponse::revalidated`] set and no body downloaded;
//! - a maximum body size, enforced while streaming ([`HttpError::TooLarge`]);
//! - credentials per host ([`HttpConfig::credentials`]) sent only to that host, never logged;
//! - coalescing: concurrent GETs of the same URL and headers share one request;
//! - the address guard ([`address_guard`]): a host that is not configured (a registry base URL,
//!   [`HttpConfig::allowed_hosts`], a host with credentials) is reached on public addresses only,
//!   through a resolver that pins the checked address for the connection; otherwise the request
//!   fails with [`HttpError::Refused`] before anything is sent;
//! - redirects followed here, hop by hop (at most [`MAX_REDIRECTS`]): each hop passes the guard
//!   (once a hop leaves the configured hosts, every later hop is guarded too), the caller's
//!   `Authorization` header never goes to another origin than the requested URL's, and
//!   configured credentials only to their own host;
//! - counters for tests and benchmarks ([`HttpClient::stats`]).

pub mod address_guard;
mod cache;
mod config;
mod limits;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Once, PoisonError};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use tokio::sync::OnceCell;

use address_guard::{AllowedHosts, PublicResolver};
use cache::{CachedMeta, CachedResponse, ResponseCache};
pub use config::{Credential, DEFAULT_USER_AGENT, HttpConfig, Secret};
use limits::HostLimits;

/// Redirects followed for one request at most.
pub const MAX_REDIRECTS: usize = 10;

/// A transport-level failure (after retries).
#[derive(Debug, Clone, thiserror::Error)]
pub enum HttpError {
    #[error("request to {url} failed: {message}")]
    Transport { url: String, message: String },
    #[error("response from {url} is larger than {limit} bytes")]
    TooLarge { url: String, limit: usize },
    /// The address guard refused the request (or a redirect of it); nothing was sent there.
    #[error("request to {url} refused: {reason}")]
    Refused { url: String, reason: String },
}

/// A complete response. Any HTTP status is a response, not an error.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// True when the body came from the cache after a `304 Not Modified`.
    pub revalidated: bool,
}

impl HttpResponse {
    /// The value of header `name` when present and valid text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Counters of what the client did on the wire, for tests and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HttpStats {
    /// Requests sent on the wire, retries included.
    pub requests_sent: u64,
    /// Retries (requests beyond the first attempt of a GET).
    pub retries: u64,
    /// `304 Not Modified` answers that reused a cached body.
    pub not_modified: u64,
    /// Response bodies downloaded (every answer except a cache-served `304`).
    pub bodies_downloaded: u64,
    /// Bytes of those bodies, after decompression.
    pub bytes_downloaded: u64,
    /// GETs that joined an identical request already in flight instead of sending their own.
    pub coalesced: u64,
}

#[derive(Default)]
struct Counters {
    requests_sent: AtomicU64,
    retries: AtomicU64,
    not_modified: AtomicU64,
    bodies_downloaded: AtomicU64,
    bytes_downloaded: AtomicU64,
    coalesced: AtomicU64,
}

impl Counters {
    fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

type Shared = Arc<OnceCell<Result<HttpResponse, HttpError>>>;

struct Inner {
    /// Connections to configured hosts: the system resolver and proxy settings.
    client: reqwest::Client,
    /// Connections to every other host: public addresses only, no proxy.
    guarded: reqwest::Client,
    config: HttpConfig,
    cache: ResponseCache,
    limits: HostLimits,
    in_flight: Mutex<HashMap<String, Shared>>,
    counters: Counters,
}

/// The shared client. Cloning is cheap and clones share cache, limits and counters.
#[derive(Clone)]
pub struct HttpClient {
    inner: Arc<Inner>,
    /// Hosts exempt from the address guard; `None` in a [`HttpClient::for_user_content`] view,
    /// where no host is.
    allowed: Option<Arc<AllowedHosts>>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("config", &self.inner.config)
            .field("allowed", &self.allowed)
            .finish_non_exhaustive()
    }
}

/// Installs the rustls `ring` crypto provider as the process default, once. Safe to call from
/// anywhere; a provider installed earlier (by the application) is kept.
pub fn install_crypto_provider() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // An `Err` means some provider is already installed, which is all we need.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// Why one attempt failed, and whether another attempt may help.
struct AttemptError {
    error: HttpError,
    retryable: bool,
}

/// What one attempt produced.
enum Attempt {
    Fresh {
        status: u16,
        headers: HeaderMap,
        body: Bytes,
    },
    NotModified {
        headers: HeaderMap,
    },
}

impl HttpClient {
    /// A client with `config`.
    pub fn new(config: HttpConfig) -> Result<Self, HttpError> {
        install_crypto_provider();
        let builder = || {
            reqwest::Client::builder()
                .user_agent(config.user_agent.clone())
                .connect_timeout(config.connect_timeout)
                .timeout(config.timeout)
                .gzip(true)
                .redirect(reqwest::redirect::Policy::none())
        };
        let build_error = |e: reqwest::Error| HttpError::Transport {
            url: String::new(),
            message: e.without_url().to_string(),
        };
        let client = builder().build().map_err(build_error)?;
        // A proxy would resolve the host itself, out of the guard's sight.
        let guarded = builder()
            .no_proxy()
            .dns_resolver(PublicResolver)
            .build()
            .map_err(build_error)?;
        let mut allowed = config.allowed_hosts.clone();
        for host in config.credentials.keys() {
            allowed.insert(host);
        }
        Ok(HttpClient {
            allowed: Some(Arc::new(allowed)),
            inner: Arc::new(Inner {
                client,
                guarded,
                cache: ResponseCache::new(config.cache_dir.clone(), config.memory_cache_bytes),
                limits: HostLimits::new(
                    config.per_host_concurrency,
                    config.per_host_requests_per_second,
                ),
                config,
                in_flight: Mutex::new(HashMap::new()),
                counters: Counters::default(),
            }),
        })
    }

    /// A client with [`HttpConfig::default`]: no credentials, in-memory cache only.
    pub fn with_defaults() -> Result<Self, HttpError> {
        Self::new(HttpConfig::default())
    }

    /// The configuration this client was built with.
    pub fn config(&self) -> &HttpConfig {
        &self.inner.config
    }

    /// This client with `extra` hosts exempt from the address guard as well (sharing cache,
    /// limits and counters). The registry adapters add their configured base URLs this way.
    #[must_use]
    pub fn allowing(&self, extra: &AllowedHosts) -> HttpClient {
        let mut allowed = self.allowed.as_deref().cloned().unwrap_or_default();
        for entry in extra.entries() {
            allowed.insert(entry);
        }
        HttpClient {
            inner: Arc::clone(&self.inner),
            allowed: Some(Arc::new(allowed)),
        }
    }

    /// A view of this client for URLs that another party chose (a token realm or a next page
    /// named by a registry that is not configured): every host is guarded, configured ones too,
    /// and no configured credentials are sent.
    #[must_use]
    pub fn for_user_content(&self) -> HttpClient {
        HttpClient {
            inner: Arc::clone(&self.inner),
            allowed: None,
        }
    }

    /// Whether requests to the host of `url` are exempt from the address guard.
    pub fn allows(&self, url: &str) -> bool {
        reqwest::Url::parse(url).is_ok_and(|url| self.exempt(&url))
    }

    fn exempt(&self, url: &reqwest::Url) -> bool {
        self.allowed
            .as_deref()
            .is_some_and(|allowed| allowed.allows(url))
    }

    /// What the client has done so far.
    pub fn stats(&self) -> HttpStats {
        let c = &self.inner.counters;
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        HttpStats {
            requests_sent: load(&c.requests_sent),
            retries: load(&c.retries),
            not_modified: load(&c.not_modified),
            bodies_downloaded: load(&c.bodies_downloaded),
            bytes_downloaded: load(&c.bytes_downloaded),
            coalesced: load(&c.coalesced),
        }
    }

    /// Whether credentials are configured for the host of `url`.
    pub fn has_credentials_for(&self, url: &str) -> bool {
        reqwest::Url::parse(url).ok().is_some_and(|url| {
            url.host_str().is_some_and(|host| {
                self.inner
                    .config
                    .credential_for(host, url.port_or_known_default())
                    .is_some()
            })
        })
    }

    /// GET `url` with extra request `headers`.
    ///
    /// Concurrent calls with the same URL and headers share one request. Credentials configured
    /// for the URL's host are added unless `headers` carries its own `Authorization`. A cached
    /// validated response is revalidated unless `headers` carries its own conditional headers.
    pub async fn get(
        &self,
        url: &str,
        headers: &[(&str, &str)],
    ) -> Result<HttpResponse, HttpError> {
        let key = request_key(url, headers);
        // Views with different exemptions must not share an answer.
        let flight = match &self.allowed {
            Some(allowed) => format!("{:p}\n{key}", Arc::as_ptr(allowed)),
            None => format!("guarded\n{key}"),
        };
        let shared = {
            let mut in_flight = self
                .inner
                .in_flight
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(existing) = in_flight.get(&flight) {
                Counters::add(&self.inner.counters.coalesced, 1);
                Arc::clone(existing)
            } else {
                let fresh: Shared = Arc::new(OnceCell::new());
                in_flight.insert(flight.clone(), Arc::clone(&fresh));
                fresh
            }
        };
        let result = shared
            .get_or_init(|| self.fetch(url, headers, &key))
            .await
            .clone();
        let mut in_flight = self
            .inner
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if in_flight
            .get(&flight)
            .is_some_and(|current| Arc::ptr_eq(current, &shared))
        {
            in_flight.remove(&flight);
        }
        result
    }

    /// One GET with retries and the conditional-request cache.
    async fn fetch(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        key: &str,
    ) -> Result<HttpResponse, HttpError> {
        let shown = redact_url(url);
        let parsed = reqwest::Url::parse(url).map_err(|e| HttpError::Transport {
            url: shown.clone(),
            message: format!("invalid URL: {e}"),
        })?;
        let host_key = format!(
            "{}:{}",
            parsed.host_str().unwrap_or_default().to_ascii_lowercase(),
            parsed.port_or_known_default().unwrap_or_default()
        );
        let caller_conditional = headers.iter().any(|(name, _)| {
            name.eq_ignore_ascii_case("if-none-match")
                || name.eq_ignore_ascii_case("if-modified-since")
        });
        let cached = if caller_conditional {
            None
        } else {
            self.inner.cache.load(key).await
        };
        let config = &self.inner.config;
        let mut retry = 0u32;
        let attempt = loop {
            let attempt = self
                .attempt(&parsed, &shown, &host_key, headers, cached.as_deref())
                .await;
            let delay = match &attempt {
                Ok(Attempt::Fresh {
                    status, headers, ..
                }) if retry < config.max_retries && retryable_status(*status) => {
                    retry_after(headers, config.max_retry_after)
                        .unwrap_or_else(|| self.backoff(retry))
                }
                Err(failure) if failure.retryable && retry < config.max_retries => {
                    self.backoff(retry)
                }
                _ => break attempt,
            };
            tracing::debug!(url = %shown, retry = retry + 1, delay_ms = delay.as_millis(), "retrying");
            Counters::add(&self.inner.counters.retries, 1);
            tokio::time::sleep(delay).await;
            retry += 1;
        };
        match attempt.map_err(|failure| failure.error)? {
            Attempt::NotModified { headers } => match cached {
                Some(entry) => Ok(self.revalidated(entry, &headers).await),
                // A 304 to the caller's own conditional headers: pass it through.
                None => Ok(HttpResponse {
                    status: 304,
                    headers,
                    body: Bytes::new(),
                    revalidated: false,
                }),
            },
            Attempt::Fresh {
                status,
                headers,
                body,
            } => {
                if status == 200 && !caller_conditional {
                    self.remember(key, &headers, &body).await;
                }
                Ok(HttpResponse {
                    status,
                    headers,
                    body,
                    revalidated: false,
                })
            }
        }
    }

    /// The request for one hop: caller headers (without `Authorization` unless
    /// `hop.caller_authorization`), credentials for the host when it is exempt, validators.
    fn build_request(
        &self,
        url: &reqwest::Url,
        shown: &str,
        headers: &[(&str, &str)],
        cached: Option<&CachedResponse>,
        hop: Hop,
    ) -> Result<reqwest::RequestBuilder, HttpError> {
        let client = if hop.exempt {
            &self.inner.client
        } else {
            &self.inner.guarded
        };
        let mut request = client.get(url.clone());
        let mut has_authorization = false;
        for (name, value) in headers {
            if name.eq_ignore_ascii_case("authorization") {
                if !hop.caller_authorization {
                    continue;
                }
                has_authorization = true;
            }
            let (Ok(name), Ok(mut value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) else {
                return Err(HttpError::Transport {
                    url: shown.to_owned(),
                    message: format!("invalid request header {name:?}"),
                });
            };
            if name == header::AUTHORIZATION {
                value.set_sensitive(true);
            }
            request = request.header(name, value);
        }
        if !has_authorization
            && hop.exempt
            && let Some(host) = url.host_str()
            && let Some(credential) = self
                .inner
                .config
                .credential_for(host, url.port_or_known_default())
        {
            request = match credential {
                Credential::Bearer(token) => request.bearer_auth(token.expose()),
                Credential::Basic { username, password } => {
                    request.basic_auth(username, Some(password.expose()))
                }
                Credential::Header(value) => match HeaderValue::from_str(value.expose()) {
                    Ok(mut value) => {
                        value.set_sensitive(true);
                        request.header(header::AUTHORIZATION, value)
                    }
                    Err(_) => {
                        return Err(HttpError::Transport {
                            url: shown.to_owned(),
                            message: "the configured Authorization value is not a valid header"
                                .to_owned(),
                        });
                    }
                },
            };
        }
        if let Some(entry) = cached {
            if let Some(etag) = &entry.meta.etag {
                request = request.header(header::IF_NONE_MATCH, etag.as_str());
            }
            if let Some(modified) = &entry.meta.last_modified {
                request = request.header(header::IF_MODIFIED_SINCE, modified.as_str());
            }
        }
        Ok(request)
    }

    /// One request on the wire.
    async fn attempt(
        &self,
        url: &reqwest::Url,
        shown: &str,
        host_key: &str,
        headers: &[(&str, &str)],
        cached: Option<&CachedResponse>,
    ) -> Result<Attempt, AttemptError> {
        let config = &self.inner.config;
        let _permit = self.inner.limits.acquire(host_key).await;
        Counters::add(&self.inner.counters.requests_sent, 1);
        let transport = |e: &reqwest::Error| HttpError::Transport {
            url: shown.to_owned(),
            message: describe(e),
        };
        let fatal = |error| AttemptError {
            error,
            retryable: false,
        };
        let mut current = url.clone();
        let mut exempt = true;
        let mut redirects = 0;
        let mut response = loop {
            // Once a hop leaves the configured hosts, the chain stays guarded.
            exempt = exempt && self.exempt(&current);
            let refused = |reason: String| {
                fatal(HttpError::Refused {
                    url: shown.to_owned(),
                    reason: if redirects == 0 {
                        reason
                    } else {
                        format!("redirect to {}: {reason}", redact_url(current.as_str()))
                    },
                })
            };
            if !exempt {
                address_guard::check_literal(&current).map_err(|r| refused(r.0))?;
            }
            let hop = Hop {
                exempt,
                caller_authorization: current.origin() == url.origin(),
            };
            let request = self
                .build_request(&current, shown, headers, cached, hop)
                .map_err(fatal)?;
            let response = match request.send().await {
                Ok(response) => response,
                Err(e) => {
                    if let Some(refusal) = address_guard::refusal_in(&e) {
                        return Err(refused(refusal.0));
                    }
                    return Err(AttemptError {
                        error: transport(&e),
                        retryable: e.is_connect() || e.is_timeout() || e.is_request(),
                    });
                }
            };
            let Some(next) = redirect_target(&response, &current) else {
                break response;
            };
            redirects += 1;
            if redirects > MAX_REDIRECTS {
                return Err(fatal(HttpError::Transport {
                    url: shown.to_owned(),
                    message: format!("more than {MAX_REDIRECTS} redirects"),
                }));
            }
            tracing::debug!(url = %shown, to = %redact_url(next.as_str()), "following a redirect");
            current = next;
        };
        let status = response.status().as_u16();
        tracing::debug!(url = %shown, status, "response");
        let headers = response.headers().clone();
        if status == 304 {
            return Ok(Attempt::NotModified { headers });
        }
        let limit = config.max_response_bytes;
        let too_large = || AttemptError {
            error: HttpError::TooLarge {
                url: shown.to_owned(),
                limit,
            },
            retryable: false,
        };
        if response
            .content_length()
            .is_some_and(|length| usize::try_from(length).map_or(true, |length| length > limit))
        {
            return Err(too_large());
        }
        let mut body = BytesMut::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| AttemptError {
            error: transport(&e),
            retryable: true,
        })? {
            if body.len() + chunk.len() > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Counters::add(&self.inner.counters.bodies_downloaded, 1);
        Counters::add(
            &self.inner.counters.bytes_downloaded,
            u64::try_from(body.len()).unwrap_or(u64::MAX),
        );
        Ok(Attempt::Fresh {
            status,
            headers,
            body: body.freeze(),
        })
    }

    /// The cached answer after a `304`, with validators refreshed when the server sent new ones.
    async fn revalidated(&self, entry: Arc<CachedResponse>, fresh: &HeaderMap) -> HttpResponse {
        Counters::add(&self.inner.counters.not_modified, 1);
        let etag = header_text(fresh, header::ETAG);
        let last_modified = header_text(fresh, header::LAST_MODIFIED);
        let changed = (etag.is_some() && etag != entry.meta.etag)
            || (last_modified.is_some() && last_modified != entry.meta.last_modified);
        let entry = if changed {
            let mut meta = entry.meta.clone();
            meta.etag = etag.or(meta.etag);
            meta.last_modified = last_modified.or(meta.last_modified);
            self.inner
                .cache
                .store(CachedResponse {
                    meta,
                    body: entry.body.clone(),
                })
                .await
        } else {
            entry
        };
        let mut headers = HeaderMap::new();
        for (name, value) in &entry.meta.headers {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                headers.append(name, value);
            }
        }
        HttpResponse {
            status: entry.meta.status,
            headers,
            body: entry.body.clone(),
            revalidated: true,
        }
    }

    /// Caches a `200` that carries a validator.
    async fn remember(&self, key: &str, headers: &HeaderMap, body: &Bytes) {
        let etag = header_text(headers, header::ETAG);
        let last_modified = header_text(headers, header::LAST_MODIFIED);
        if etag.is_none() && last_modified.is_none() {
            return;
        }
        let kept = headers
            .iter()
            .filter(|(name, _)| !SKIPPED_CACHE_HEADERS.contains(&name.as_str()))
            .filter_map(|(name, value)| {
                Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
            })
            .collect();
        self.inner
            .cache
            .store(CachedResponse {
                meta: CachedMeta {
                    key: key.to_owned(),
                    status: 200,
                    headers: kept,
                    etag,
                    last_modified,
                },
                body: body.clone(),
            })
            .await;
    }

    /// Exponential backoff with jitter: between half and all of `initial × 2^retry`, capped.
    fn backoff(&self, retry: u32) -> Duration {
        let config = &self.inner.config;
        let full = config
            .initial_backoff
            .saturating_mul(2u32.saturating_pow(retry.min(16)))
            .min(config.max_backoff);
        full / 2 + full.mul_f64(fastrand::f64() / 2.0)
    }
}

/// How one hop of a request is sent.
#[derive(Debug, Clone, Copy)]
struct Hop {
    /// The hop's host is exempt from the address guard (and may get configured credentials).
    exempt: bool,
    /// The hop goes to the requested URL's origin, so the caller's `Authorization` may go too.
    caller_authorization: bool,
}

/// Where a redirect response sends the request: `Location` resolved against `current`, for the
/// statuses that redirect a GET. `None` for every other response.
fn redirect_target(response: &reqwest::Response, current: &reqwest::Url) -> Option<reqwest::Url> {
    if !matches!(response.status().as_u16(), 301 | 302 | 303 | 307 | 308) {
        return None;
    }
    let location = response.headers().get(header::LOCATION)?.to_str().ok()?;
    current.join(location).ok()
}

/// Response headers never written to the cache.
const SKIPPED_CACHE_HEADERS: &[&str] = &["set-cookie", "authorization", "www-authenticate"];

fn header_text(headers: &HeaderMap, name: HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Statuses worth another attempt.
fn retryable_status(status: u16) -> bool {
    status == 429 || (500..=599).contains(&status)
}

/// The server's `Retry-After` (delay seconds or an HTTP date), capped at `cap`.
fn retry_after(headers: &HeaderMap, cap: Duration) -> Option<Duration> {
    let value = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    let delay = if let Ok(seconds) = value.parse::<u64>() {
        Duration::from_secs(seconds)
    } else {
        let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
        (date.with_timezone(&chrono::Utc) - chrono::Utc::now())
            .to_std()
            .unwrap_or(Duration::ZERO)
    };
    Some(delay.min(cap))
}

/// The cache and coalescing key: the URL plus the request headers, order-independent.
fn request_key(url: &str, headers: &[(&str, &str)]) -> String {
    let mut parts: Vec<String> = headers
        .iter()
        .map(|(name, value)| format!("{}: {value}", name.to_ascii_lowercase()))
        .collect();
    parts.sort();
    let mut key = format!("GET {url}");
    for part in parts {
        key.push('\n');
        key.push_str(&part);
    }
    key
}

/// `url` without user name and password, for messages and logs.
fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) => {
            if !parsed.username().is_empty() || parsed.password().is_some() {
                let _ = parsed.set_username("");
                let _ = parsed.set_password(None);
            }
            parsed.into()
        }
        Err(_) => url.split(['?', '#']).next().unwrap_or_default().to_owned(),
    }
}

/// The text of a reqwest error and its causes, without the URL it carries (which could hold
/// user info); callers add the redacted URL themselves.
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text.replace(&format!(" ({url})"), "");
        text = text.replace(url.as_str(), "<url>");
    }
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut headers = HeaderMap::new();
        let cap = Duration::from_secs(30);
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("3"));
        assert_eq!(retry_after(&headers, cap), Some(Duration::from_secs(3)));
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("86400"));
        assert_eq!(retry_after(&headers, cap), Some(cap));
        headers.insert(
            header::RETRY_AFTER,
            HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"),
        );
        assert_eq!(retry_after(&headers, cap), Some(Duration::ZERO));
        let soon = (chrono::Utc::now() + chrono::Duration::seconds(20)).to_rfc2822();
        headers.insert(
            header::RETRY_AFTER,
            HeaderValue::from_str(&soon).expect("header value"),
        );
        let delay = retry_after(&headers, cap).expect("a date");
        assert!(delay > Duration::from_secs(15) && delay <= Duration::from_secs(20));
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers, cap), None);
    }

    #[test]
    fn keys_ignore_header_order_and_case() {
        assert_eq!(
            request_key("https://a/x", &[("Accept", "a"), ("X-B", "b")]),
            request_key("https://a/x", &[("x-b", "b"), ("accept", "a")])
        );
        assert_ne!(
            request_key("https://a/x", &[("accept", "a")]),
            request_key("https://a/x", &[("accept", "b")])
        );
    }

    #[test]
    fn urls_lose_their_user_info() {
        assert_eq!(
            redact_url("https://me:secret@r.example/x?y=1"),
            "https://r.example/x?y=1"
        );
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let client = HttpClient::new(HttpConfig {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            ..HttpConfig::default()
        })
        .expect("client");
        for _ in 0..20 {
            let first = client.backoff(0);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
            let third = client.backoff(2);
            assert!(third >= Duration::from_millis(200) && third <= Duration::from_millis(400));
            let late = client.backoff(30);
            assert!(late <= Duration::from_secs(1));
        }
    }
}
