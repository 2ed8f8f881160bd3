//! Delivering the event journal to consumers beyond the cursor API: signed outgoing webhooks
//! ([`webhooks`]) and NATS JetStream ([`nats`]).
//!
//! Both are loops that read the journal after a durable position kept in the database and move
//! that position only after the consumer has the events, so delivery is at-least-once and survives
//! restarts and outages (consumers deduplicate on the event `id`). When several processes run
//! (`upkeep serve` and `upkeep worker`s on PostgreSQL), one holds each loop's lease
//! (`delivery_cursors`) and the others wait to take over. The service starts both loops
//! (`server::spawn_delivery`).
//!
//! Webhook targets pass the same address guard as registry requests
//! ([`upkeep_resolvers::http::address_guard`]): public addresses only (unless
//! `webhook_allow_private_targets`), the checked addresses pinned for the connection.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::store::{Store, StoreError};

pub mod nats;
pub mod webhooks;

/// How long a loop's lease lasts without renewal; a dead holder is replaced after this.
pub const LEASE: Duration = Duration::from_secs(30);

/// A name for this process's delivery loops (lease holder).
pub fn holder_name(role: &str) -> String {
    format!("{role}:{}", crate::jobs::worker_name())
}

/// One delivery loop's lease in `delivery_cursors`, renewed at most every third of [`LEASE`], and
/// the loop's durable journal position while held.
pub struct Lease {
    name: &'static str,
    holder: String,
    renewed: Option<std::time::Instant>,
    position: Option<i64>,
}

impl Lease {
    pub fn new(name: &'static str, holder: String) -> Lease {
        Lease {
            name,
            holder,
            renewed: None,
            position: None,
        }
    }

    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Take or renew the lease: the loop's position while this process holds it, `None` while
    /// another live process does.
    pub async fn hold(&mut self, store: &Store) -> Result<Option<i64>, StoreError> {
        if let (Some(at), Some(position)) = (self.renewed, self.position)
            && at.elapsed() < LEASE / 3
        {
            return Ok(Some(position));
        }
        let lease_ms = crate::store::duration_ms(LEASE);
        let taken = store
            .take_delivery_lease(self.name, &self.holder, lease_ms)
            .await?;
        if let Some(stored) = taken {
            self.renewed = Some(std::time::Instant::now());
            let position = self.position.map_or(stored, |own| own.max(stored));
            self.position = Some(position);
            Ok(Some(position))
        } else {
            self.renewed = None;
            self.position = None;
            Ok(None)
        }
    }

    /// Move the durable position to `seq`; false when the lease was lost meanwhile.
    pub async fn advance(&mut self, store: &Store, seq: i64) -> Result<bool, StoreError> {
        let held = store
            .advance_delivery_cursor(self.name, &self.holder, seq)
            .await?;
        if held {
            self.position = Some(seq);
        } else {
            self.renewed = None;
            self.position = None;
        }
        Ok(held)
    }

    /// Give the lease up so another process takes over at once.
    pub async fn release(&self, store: &Store) {
        if let Err(error) = store.release_delivery_lease(self.name, &self.holder).await {
            tracing::warn!(%error, lease = self.name, "releasing a delivery lease failed");
        }
    }
}

/// `sha256=<hex HMAC-SHA256(secret, body)>`, the `X-Upkeep-Signature-256` header value.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The one list of non-public ranges, shared with the registry client's address guard.
pub use upkeep_resolvers::http::address_guard::is_public_ip;

/// Why a webhook target URL is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TargetError(pub String);

/// Check a webhook target's form: an absolute http(s) URL with a host and no credentials.
pub fn check_target_form(url: &str) -> Result<url::Url, TargetError> {
    let parsed =
        url::Url::parse(url).map_err(|e| TargetError(format!("not an absolute URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(TargetError(format!(
            "scheme `{}` is not http or https",
            parsed.scheme()
        )));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(TargetError(
            "must not contain credentials (user:password@); sign with the secret instead".into(),
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(TargetError("names no host".into()));
    }
    Ok(parsed)
}

/// Resolve a target's host; unless `allow_private`, refuse it when any address it resolves to is
/// not public. Returns the addresses to connect to (the caller pins them, so a second lookup
/// cannot swap in a private address).
pub async fn resolve_target(
    url: &url::Url,
    allow_private: bool,
) -> Result<Vec<SocketAddr>, TargetError> {
    let port = url
        .port_or_known_default()
        .ok_or_else(|| TargetError("has no port".into()))?;
    let addrs: Vec<SocketAddr> = match url.host() {
        Some(url::Host::Ipv4(ip)) => vec![SocketAddr::new(IpAddr::V4(ip), port)],
        Some(url::Host::Ipv6(ip)) => vec![SocketAddr::new(IpAddr::V6(ip), port)],
        Some(url::Host::Domain(host)) => {
            let lookup = tokio::time::timeout(
                Duration::from_secs(5),
                tokio::net::lookup_host((host, port)),
            )
            .await
            .map_err(|_| TargetError(format!("resolving `{host}` timed out")))?
            .map_err(|e| TargetError(format!("cannot resolve `{host}`: {e}")))?;
            lookup.collect()
        }
        None => return Err(TargetError("names no host".into())),
    };
    if addrs.is_empty() {
        return Err(TargetError("the host resolves to no address".into()));
    }
    if !allow_private && let Some(private) = addrs.iter().find(|a| !is_public_ip(a.ip())) {
        return Err(TargetError(format!(
            "resolves to the non-public address {} (loopback, private and link-local targets \
             are refused unless `webhook_allow_private_targets` is set)",
            private.ip()
        )));
    }
    Ok(addrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_and_private_addresses() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "64:ff9b::a00:1",
            "2001:db8::1",
            "2002:7f00:1::1",
            "2002:a9fe:a9fe::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "2001::7f00:1",
        ] {
            assert!(!is_public_ip(private.parse().unwrap()), "{private}");
        }
        for public in [
            "1.1.1.1",
            "93.184.216.34",
            "2606:4700::1111",
            "::ffff:1.1.1.1",
        ] {
            assert!(is_public_ip(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn target_forms() {
        assert!(check_target_form("https://hooks.example.com/x").is_ok());
        assert!(check_target_form("ftp://hooks.example.com/x").is_err());
        assert!(check_target_form("https://user:pw@hooks.example.com/x").is_err());
        assert!(check_target_form("https://user@hooks.example.com/x").is_err());
        assert!(check_target_form("/relative").is_err());
    }

    #[test]
    fn signatures_are_hmac_sha256() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[tokio::test]
    async fn private_targets_need_the_flag() {
        let url = url::Url::parse("http://127.0.0.1:9/hook").unwrap();
        assert!(resolve_target(&url, false).await.is_err());
        assert!(resolve_target(&url, true).await.is_ok());
        let url = url::Url::parse("http://localhost:9/hook").unwrap();
        assert!(resolve_target(&url, false).await.is_err());
    }
}
