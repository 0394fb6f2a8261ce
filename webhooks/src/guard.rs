//! Where webhooks may go. A tenant-supplied URL must not turn the dispatcher into a way into
//! our own network (SSRF): loopback, private, link-local and other non-global addresses are
//! refused unless configured otherwise, both when the URL is checked and again by the
//! resolver used for the connection, so a DNS answer that changes in between is caught too.

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::Url;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    #[error("webhook URLs must be http or https, not {0}")]
    Scheme(String),
    #[error("the webhook URL has no host")]
    NoHost,
    #[error("the webhook URL must not carry credentials")]
    Credentials,
    #[error("{host} resolves to {addr}, a private, loopback or link-local address")]
    Blocked { host: String, addr: IpAddr },
    #[error("{host} does not resolve: {reason}")]
    Unresolvable { host: String, reason: String },
}

fn v4_is_global(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        // Carrier-grade NAT and benchmarking ranges are as internal as RFC 1918.
        || (a == 100 && (64..128).contains(&b))
        || (a == 198 && (b == 18 || b == 19))
        || a >= 240)
}

/// The IPv4 address an IPv6 address reaches through a translator or tunnel, where that is
/// fixed by the address itself: a host that resolves to one of these reaches the IPv4 network
/// behind it, so it is judged by that IPv4 address.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let o = ip.octets();
    let v4 = |at: usize| Ipv4Addr::new(o[at], o[at + 1], o[at + 2], o[at + 3]);
    match s {
        // IPv4-mapped ::ffff:a.b.c.d and IPv4-compatible ::a.b.c.d (deprecated, still routed
        // by some stacks; `::` and `::1` land on 0.0.0.0/8, which is refused).
        [0, 0, 0, 0, 0, 0xffff | 0, ..] => Some(v4(12)),
        // NAT64, well-known prefix 64:ff9b::/96 (RFC 6052).
        [0x64, 0xff9b, 0, 0, 0, 0, ..] => Some(v4(12)),
        // 6to4 2002:a.b.c.d::/48 (RFC 3056).
        [0x2002, ..] => Some(v4(2)),
        _ => None,
    }
}

fn v6_is_global(ip: Ipv6Addr) -> bool {
    if let Some(v4) = embedded_v4(ip) {
        return v4_is_global(v4);
    }
    let [first, second, third, ..] = ip.segments();
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local
        || (first & 0xffc0) == 0xfe80 // link local
        || (first == 0x2001 && second == 0x0db8) // documentation
        // Local-use NAT64 (64:ff9b:1::/48, RFC 8215): internal by definition.
        || (first == 0x64 && second == 0xff9b && third == 1)
        // Teredo (2001::/32): the IPv4 peer is obfuscated in the address, so it cannot be
        // judged; benchmarking (2001:2::/48); discard-only (100::/64).
        || (first == 0x2001 && second == 0)
        || (first == 0x2001 && second == 2 && third == 0)
        || (first == 0x0100 && second == 0 && third == 0 && ip.segments()[3] == 0))
}

pub fn is_global(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4_is_global(v4),
        IpAddr::V6(v6) => v6_is_global(v6),
    }
}

/// The URL's shape: http(s), a host, no user info. Says nothing yet about where it points.
pub fn check_shape(url: &Url) -> Result<(), GuardError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(GuardError::Scheme(url.scheme().to_string()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(GuardError::Credentials);
    }
    url.host_str().ok_or(GuardError::NoHost)?;
    Ok(())
}

#[derive(Debug, Clone, Copy)]
pub struct AddressPolicy {
    pub allow_private: bool,
}

impl AddressPolicy {
    fn admit(&self, host: &str, addr: IpAddr) -> Result<(), GuardError> {
        if self.allow_private || is_global(addr) {
            Ok(())
        } else {
            Err(GuardError::Blocked {
                host: host.to_string(),
                addr,
            })
        }
    }

    /// Resolves the URL's host and checks every address it has (nothing to resolve when
    /// every address is allowed).
    pub async fn check(&self, url: &Url) -> Result<(), GuardError> {
        check_shape(url)?;
        if self.allow_private {
            return Ok(());
        }
        let host = url.host_str().ok_or(GuardError::NoHost)?;
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return self.admit(host, ip);
        }
        let addrs = resolve(bare).await?;
        for addr in addrs {
            self.admit(host, addr.ip())?;
        }
        Ok(())
    }
}

async fn resolve(host: &str) -> Result<Vec<SocketAddr>, GuardError> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, 0))
        .await
        .map_err(|e| GuardError::Unresolvable {
            host: host.to_string(),
            reason: e.to_string(),
        })?
        .collect();
    if addrs.is_empty() {
        return Err(GuardError::Unresolvable {
            host: host.to_string(),
            reason: "no addresses".into(),
        });
    }
    Ok(addrs)
}

impl Resolve for AddressPolicy {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = *self;
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs = resolve(&host).await?;
            for addr in &addrs {
                policy.admit(&host, addr.ip())?;
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_ranges_are_not_global() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            // The same internal IPv4 addresses through NAT64, 6to4 and the IPv4-compatible form.
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b::10.0.0.1",
            "64:ff9b:1::a00:1",
            "2002:7f00:1::1",
            "2002:a9fe:a9fe::",
            "2002:c0a8:101::1",
            "::127.0.0.1",
            "::10.0.0.1",
            "::169.254.169.254",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "2001:2::1",
            "100::1",
        ] {
            assert!(!is_global(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "64:ff9b::808:808",
            "2002:808:808::1",
            "2001:4860:4860::8888",
        ] {
            assert!(is_global(ip.parse().unwrap()), "{ip}");
        }
    }

    #[tokio::test]
    async fn refuses_loopback_unless_allowed() {
        let url = Url::parse("http://127.0.0.1:9/hook").unwrap();
        let strict = AddressPolicy {
            allow_private: false,
        };
        assert!(matches!(
            strict.check(&url).await,
            Err(GuardError::Blocked { .. })
        ));
        let url = Url::parse("http://localhost:9/hook").unwrap();
        assert!(matches!(
            strict.check(&url).await,
            Err(GuardError::Blocked { .. })
        ));
        let relaxed = AddressPolicy {
            allow_private: true,
        };
        assert!(relaxed.check(&url).await.is_ok());
        assert!(matches!(
            strict
                .check(&Url::parse("ftp://example.com/").unwrap())
                .await,
            Err(GuardError::Scheme(_))
        ));
        assert!(matches!(
            strict
                .check(&Url::parse("http://user:pw@example.com/").unwrap())
                .await,
            Err(GuardError::Credentials)
        ));
    }
}
