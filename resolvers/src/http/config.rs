//! Configuration of the shared HTTP client, and credentials that never print.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::address_guard::AllowedHosts;

/// The user agent every request carries unless configured otherwise.
pub const DEFAULT_USER_AGENT: &str = concat!("upkeep/", env!("CARGO_PKG_VERSION"));

/// A secret string (token or password). Its `Debug` and `Display` output is redacted (`***`), so
/// it cannot end up in a log line or an error message by accident; [`Secret::expose`] is the one
/// way to the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret value itself, for putting it on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_owned())
    }
}

/// How requests to one host authenticate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// `Authorization: Bearer <token>` (npm tokens, most private registries).
    Bearer(Secret),
    /// `Authorization: Basic base64(user:password)` (Artifactory, Nexus, devpi).
    Basic { username: String, password: Secret },
    /// The `Authorization` header value sent verbatim (Cargo registry tokens are sent as-is).
    Header(Secret),
}

/// Settings of the shared [`super::HttpClient`].
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// `User-Agent` of every request; default `upkeep/<version>`.
    pub user_agent: String,
    /// Time allowed for the TCP + TLS connect.
    pub connect_timeout: Duration,
    /// Time allowed for one attempt, from sending to the last body byte.
    pub timeout: Duration,
    /// Retries after the first attempt on connect errors, timeouts, 429 and 5xx.
    pub max_retries: u32,
    /// Backoff before the first retry; doubled per retry, with jitter.
    pub initial_backoff: Duration,
    /// Upper bound of the exponential backoff.
    pub max_backoff: Duration,
    /// Upper bound of a server's `Retry-After` that is honoured.
    pub max_retry_after: Duration,
    /// Largest response body accepted (after decompression); larger ones fail with `TooLarge`.
    pub max_response_bytes: usize,
    /// Requests in flight to one host at once.
    pub per_host_concurrency: usize,
    /// Requests started per second to one host; `None` means no rate limit.
    pub per_host_requests_per_second: Option<f64>,
    /// Where validated responses (`ETag` / `Last-Modified`) are kept across runs; `None` keeps
    /// them in memory only.
    pub cache_dir: Option<PathBuf>,
    /// Bytes of response bodies kept in memory for conditional requests.
    pub memory_cache_bytes: usize,
    /// Credentials keyed by host (`registry.example.com`, any port) or `host:port` (that port only).
    /// Sent only to that host, never logged.
    pub credentials: BTreeMap<String, Credential>,
    /// Hosts configured as registries (`host` or `host:port`), exempt from the address guard
    /// ([`super::address_guard`]) like the hosts of [`Self::credentials`] and of the registry
    /// base URLs. Every other host is reached on public addresses only.
    pub allowed_hosts: AllowedHosts,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            user_agent: DEFAULT_USER_AGENT.to_owned(),
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_mins(1),
            max_retries: 3,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(10),
            max_retry_after: Duration::from_mins(1),
            max_response_bytes: 64 * 1024 * 1024,
            per_host_concurrency: 16,
            per_host_requests_per_second: None,
            cache_dir: None,
            memory_cache_bytes: 64 * 1024 * 1024,
            credentials: BTreeMap::new(),
            allowed_hosts: AllowedHosts::none(),
        }
    }
}

impl HttpConfig {
    /// Adds a credential for `host` (`host` or `host:port`).
    #[must_use]
    pub fn with_credential(mut self, host: impl Into<String>, credential: Credential) -> Self {
        self.credentials
            .insert(host.into().to_ascii_lowercase(), credential);
        self
    }

    /// Exempts `host` (`host` or `host:port`) from the address guard.
    #[must_use]
    pub fn with_allowed_host(mut self, host: &str) -> Self {
        self.allowed_hosts.insert(host);
        self
    }

    /// The credential for a request to `host` on `port`: an exact `host:port` entry wins over a
    /// `host` entry.
    pub(crate) fn credential_for(&self, host: &str, port: Option<u16>) -> Option<&Credential> {
        let host = host.to_ascii_lowercase();
        port.and_then(|port| self.credentials.get(&format!("{host}:{port}")))
            .or_else(|| self.credentials.get(&host))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let config = HttpConfig::default()
            .with_credential("a.example", Credential::Bearer(Secret::new("tok-123")))
            .with_credential(
                "b.example:8443",
                Credential::Basic {
                    username: "me".into(),
                    password: Secret::new("pw-456"),
                },
            );
        let printed = format!("{config:?}");
        assert!(!printed.contains("tok-123"), "{printed}");
        assert!(!printed.contains("pw-456"), "{printed}");
    }

    #[test]
    fn credentials_match_host_and_port() {
        let config = HttpConfig::default()
            .with_credential("A.example", Credential::Bearer(Secret::new("any-port")))
            .with_credential("a.example:8443", Credential::Bearer(Secret::new("8443")));
        let token = |port| match config.credential_for("a.example", port) {
            Some(Credential::Bearer(secret)) => Some(secret.expose().to_owned()),
            _ => None,
        };
        assert_eq!(token(Some(8443)).as_deref(), Some("8443"));
        assert_eq!(token(Some(443)).as_deref(), Some("any-port"));
        assert!(config.credential_for("b.example", Some(443)).is_none());
    }
}
