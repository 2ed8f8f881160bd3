//! The address guard: which addresses an outgoing request may reach.
//!
//! Hosts taken from user content (an image registry in a Dockerfile, a module path, a repository
//! declared in a manifest, a token realm or a redirect a registry answers with) may only be
//! reached on public addresses, so a manifest cannot make the server talk to its own loopback,
//! its private network or a cloud metadata endpoint. Hosts configured as registries
//! ([`AllowedHosts`]) are exempt: private registries are configured, not discovered.
//!
//! - [`is_public_ip`] is the one list of non-public ranges, used by the registry client and by
//!   the service's outgoing webhooks.
//! - [`PublicResolver`] is the DNS resolver of guarded connections: it resolves, drops every
//!   non-public address and hands only public ones to the connector, so the address checked is
//!   the address connected to (no DNS rebinding between check and connect). Hosts written as IP
//!   literals never reach a resolver; [`check_literal`] covers them.
//! - A refusal is an [`AddressRefused`], which the HTTP client reports as
//!   [`super::HttpError::Refused`].

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// How long a guarded DNS lookup may take.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the guard refused a host.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AddressRefused(pub String);

/// Is `ip` an address on the public internet? Not: loopback, private, link-local, shared (CGNAT
/// `100.64.0.0/10`), unspecified, `0.0.0.0/8`, broadcast, multicast, documentation,
/// benchmarking (`198.18.0.0/15`), IETF protocol assignments (`192.0.0.0/24`), the 6to4 relay
/// anycast (`192.88.99.0/24`) and reserved (`240.0.0.0/4`) IPv4 ranges; IPv6 loopback,
/// unspecified, multicast, unique-local, link-local, site-local, documentation, discard-only,
/// Teredo (`2001::/32`), benchmarking and ORCHID ranges; and IPv6 addresses that carry an IPv4
/// address (IPv4-mapped, IPv4-compatible, IPv4-translated, NAT64 `64:ff9b::/96`, 6to4
/// `2002::/16`) unless the embedded IPv4 address is public itself (IPv4-compatible and local-use
/// NAT64 `64:ff9b:1::/48` never are).
pub fn is_public_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 192 && b == 88 && c == 99)
        || (a == 198 && (b == 18 || b == 19))
        || a >= 240)
}

/// The IPv4 address in the last 32 bits of `ip`.
fn low_v4(ip: Ipv6Addr) -> Ipv4Addr {
    let [.., hi, lo] = ip.segments();
    Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo))
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    // IPv4-mapped ::ffff:a.b.c.d: the IPv4 address is what is reached.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    // IPv4-translated ::ffff:0:a.b.c.d (SIIT) and NAT64 64:ff9b::/96 reach the embedded address.
    if s[..6] == [0, 0, 0, 0, 0xffff, 0] || s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_public_v4(low_v4(ip));
    }
    // 6to4 2002:AABB:CCDD::/48 tunnels to the IPv4 address AA.BB.CC.DD.
    if s[0] == 0x2002 {
        let v4 = Ipv4Addr::from((u32::from(s[1]) << 16) | u32::from(s[2]));
        return is_public_v4(v4);
    }
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || s[..6] == [0, 0, 0, 0, 0, 0] // IPv4-compatible (deprecated) and the reserved ::/96
        || (s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1) // local-use NAT64 64:ff9b:1::/48
        || s[..4] == [0x100, 0, 0, 0] // discard-only 100::/64
        || (s[0] == 0x2001 && s[1] == 0) // Teredo 2001::/32 (the IPv4 address is obfuscated)
        || (s[0] == 0x2001 && s[1] == 2 && s[2] == 0) // benchmarking 2001:2::/48
        || (s[0] == 0x2001 && (s[1] & 0xfff0) == 0x10) // ORCHID 2001:10::/28
        || (s[0] == 0x2001 && (s[1] & 0xfff0) == 0x20) // ORCHIDv2 2001:20::/28
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation 2001:db8::/32
        || (s[0] & 0xfff0) == 0x3ff0 // documentation 3fff::/20
        || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (s[0] & 0xffc0) == 0xfec0) // site-local fec0::/10 (deprecated)
}

/// `host:port` of `url` as the guard and the credentials see it: the host in lower case, the
/// port explicit or the scheme's default.
fn host_port(url: &Url) -> Option<(String, Option<u16>)> {
    let host = url.host_str()?.to_ascii_lowercase();
    Some((host, url.port_or_known_default()))
}

/// The hosts configured as registries: exempt from the guard. An entry is `host` (any port) or
/// `host:port` (that port only); IPv6 hosts are written in brackets (`[::1]:5000`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedHosts {
    entries: BTreeSet<String>,
}

impl AllowedHosts {
    /// No host is exempt.
    pub fn none() -> Self {
        AllowedHosts::default()
    }

    /// Adds `entry` (`host` or `host:port`).
    pub fn insert(&mut self, entry: &str) {
        let entry = entry.trim().to_ascii_lowercase();
        if !entry.is_empty() {
            self.entries.insert(entry);
        }
    }

    /// Adds the host and port of `url` (the scheme's default port when it names none). A text
    /// that is not an absolute URL adds nothing.
    pub fn insert_url(&mut self, url: &str) {
        let url = url.trim();
        let url = url.strip_prefix("sparse+").unwrap_or(url);
        if let Ok(parsed) = Url::parse(url)
            && let Some((host, port)) = host_port(&parsed)
        {
            self.entries.insert(match port {
                Some(port) => format!("{host}:{port}"),
                None => host,
            });
        }
    }

    /// Is the host of `url` exempt?
    pub fn allows(&self, url: &Url) -> bool {
        let Some((host, port)) = host_port(url) else {
            return false;
        };
        self.entries.contains(&host)
            || port.is_some_and(|port| self.entries.contains(&format!("{host}:{port}")))
    }

    /// Every entry.
    pub fn entries(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(String::as_str)
    }
}

/// Checks what a guarded request can be refused for before any lookup: the scheme must be
/// `http` or `https`, and a host written as an IP address must be public.
pub fn check_literal(url: &Url) -> Result<(), AddressRefused> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(AddressRefused(format!(
            "scheme `{}` is not http or https",
            url.scheme()
        )));
    }
    let Some(host) = url.host_str() else {
        return Err(AddressRefused("the URL names no host".to_owned()));
    };
    // A parsed URL writes IPv4 hosts in dotted decimal and IPv6 hosts in brackets.
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let Ok(ip) = bare.parse::<IpAddr>() else {
        return Ok(());
    };
    if is_public_ip(ip) {
        Ok(())
    } else {
        Err(refused_address(ip))
    }
}

fn refused_address(ip: IpAddr) -> AddressRefused {
    AddressRefused(format!(
        "{ip} is not a public address and the host is not a configured registry"
    ))
}

/// Resolves `host` and keeps its public addresses (port `port`); refused when it has none.
pub async fn resolve_public(host: &str, port: u16) -> Result<Vec<SocketAddr>, AddressRefused> {
    let found: Vec<SocketAddr> =
        tokio::time::timeout(LOOKUP_TIMEOUT, tokio::net::lookup_host((host, port)))
            .await
            .map_err(|_| AddressRefused(format!("resolving `{host}` timed out")))?
            .map_err(|e| AddressRefused(format!("cannot resolve `{host}`: {e}")))?
            .collect();
    let public: Vec<SocketAddr> = found
        .iter()
        .copied()
        .filter(|addr| is_public_ip(addr.ip()))
        .collect();
    match (public.is_empty(), found.first()) {
        (false, _) => Ok(public),
        (true, Some(first)) => Err(AddressRefused(format!(
            "`{host}` resolves to {}, which is not a public address, and the host is not a \
             configured registry",
            first.ip()
        ))),
        (true, None) => Err(AddressRefused(format!("`{host}` resolves to no address"))),
    }
}

/// The resolver of guarded connections: only public addresses reach the connector.
#[derive(Debug, Clone, Copy, Default)]
pub struct PublicResolver;

impl Resolve for PublicResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs = resolve_public(&host, 0).await?;
            let addrs: Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

/// The guard's refusal inside a transport error's causes, if that is why it failed.
pub(crate) fn refusal_in(error: &(dyn std::error::Error + 'static)) -> Option<AddressRefused> {
    let mut current = Some(error);
    while let Some(cause) = current {
        if let Some(refused) = cause.downcast_ref::<AddressRefused>() {
            return Some(refused.clone());
        }
        current = cause.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(text: &str) -> bool {
        is_public_ip(text.parse().expect("an IP address"))
    }

    #[test]
    fn non_public_ipv4_ranges() {
        for ip in [
            "127.0.0.1",
            "127.255.255.254",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "0.0.0.0",
            "0.1.2.3",
            "255.255.255.255",
            "240.0.0.1",
            "224.0.0.1",
            "239.255.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.9",
            "198.18.0.1",
            "198.19.255.255",
            "192.88.99.1",
        ] {
            assert!(!public(ip), "{ip} must not be public");
        }
    }

    #[test]
    fn public_ipv4_addresses() {
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.216.34",
            "100.63.255.255",
            "100.128.0.1",
            "172.32.0.1",
            "198.17.255.255",
            "198.20.0.1",
            "223.255.255.255",
        ] {
            assert!(public(ip), "{ip} must be public");
        }
    }

    #[test]
    fn non_public_ipv6_ranges() {
        for ip in [
            "::1",
            "::",
            "fd00::1",
            "fc00::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "3fff::1",
            "100::1",
            // IPv4-mapped, -compatible and -translated forms of non-public addresses.
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "::1.1.1.1",
            "::ffff:0:127.0.0.1",
            // NAT64 of loopback and the local-use NAT64 prefix.
            "64:ff9b::7f00:1",
            "64:ff9b::a00:1",
            "64:ff9b:1::101:101",
            // 6to4 of loopback, private and link-local addresses.
            "2002:7f00:1::1",
            "2002:a00:1::1",
            "2002:c0a8:101::1",
            "2002:a9fe:a9fe::1",
            // Teredo, whatever it embeds.
            "2001::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "2001:0:7f00:1::1",
            // Benchmarking and ORCHID.
            "2001:2::1",
            "2001:10::1",
            "2001:20::1",
        ] {
            assert!(!public(ip), "{ip} must not be public");
        }
    }

    #[test]
    fn public_ipv6_addresses() {
        for ip in [
            "2606:4700::1111",
            "2a00:1450:4001::1",
            "2001:4860:4860::8888",
            "::ffff:1.1.1.1",
            "::ffff:0:1.1.1.1",
            "64:ff9b::101:101",
            "2002:101:101::1",
        ] {
            assert!(public(ip), "{ip} must be public");
        }
    }

    #[test]
    fn literals_are_checked_without_a_lookup() {
        let url = |text: &str| Url::parse(text).expect("a URL");
        assert!(check_literal(&url("https://1.1.1.1/v2/")).is_ok());
        assert!(check_literal(&url("https://registry.example/v2/")).is_ok());
        for refused in [
            "http://127.0.0.1:5000/v2/",
            "http://[::1]:5000/v2/",
            "http://[2002:7f00:1::1]/",
            "http://[2001::7f00:1]/",
            "http://169.254.169.254/latest/meta-data/",
            "http://0x7f000001/",
            "file:///etc/passwd",
        ] {
            assert!(check_literal(&url(refused)).is_err(), "{refused}");
        }
    }

    #[test]
    fn allowed_hosts_match_host_and_port() {
        let mut allowed = AllowedHosts::none();
        allowed.insert_url("http://127.0.0.1:5000/docker/");
        allowed.insert_url("sparse+https://index.example/");
        allowed.insert("Registry.Internal");
        allowed.insert_url("not a url");
        let url = |text: &str| Url::parse(text).expect("a URL");
        assert!(allowed.allows(&url("http://127.0.0.1:5000/v2/")));
        assert!(!allowed.allows(&url("http://127.0.0.1:5001/v2/")));
        assert!(allowed.allows(&url("https://index.example/1/a")));
        assert!(!allowed.allows(&url("http://index.example/1/a")));
        assert!(allowed.allows(&url("https://registry.internal:8443/v2/")));
        assert!(allowed.allows(&url("http://REGISTRY.internal/v2/")));
        assert_eq!(allowed.entries().count(), 3);
    }

    #[tokio::test]
    async fn the_resolver_keeps_only_public_addresses() {
        let refused = resolve_public("localhost", 80)
            .await
            .expect_err("localhost is loopback");
        assert!(refused.0.contains("not a public address"), "{refused}");
        let addrs = resolve_public("1.1.1.1", 443)
            .await
            .expect("a literal resolves to itself");
        assert_eq!(addrs, vec!["1.1.1.1:443".parse().expect("address")]);
    }
}
