//! The address rules for outbound deliveries: `https://` only, and never to a loopback,
//! private, link-local, unspecified or multicast address, checked on the resolved
//! address at creation and again at every delivery (a name's records can change).
//! `webhooks.allow_private_targets` lifts both rules.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::Arc,
};

use url::Url;

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum AddressError {
    #[error("`{url}` is not a URL: {reason}")]
    Malformed { url: String, reason: String },
    #[error("`{0}` is not https:// (webhook URLs must use https unless webhooks.allow_private_targets is on)")]
    NotHttps(String),
    #[error(
        "`{host}` resolves to {ip}, a {kind} address; webhooks are not sent to {kind} addresses"
    )]
    Refused {
        host: String,
        ip: IpAddr,
        kind: &'static str,
    },
    #[error("cannot resolve `{host}`: {reason}")]
    Unresolved { host: String, reason: String },
}

/// Why an address is refused, or `None` when deliveries may reach it.
pub fn refused_kind(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => refused_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => refused_v4(v4),
            None => refused_v6(v6),
        },
    }
}

fn refused_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_unspecified() || a == 0 {
        Some("unspecified")
    } else if ip.is_link_local() {
        Some("link-local")
    } else if ip.is_multicast() || ip.is_broadcast() || a >= 240 {
        Some("multicast")
    } else if ip.is_private() || (a == 100 && (64..128).contains(&b)) {
        // 100.64.0.0/10 is carrier-grade NAT space: private to the operator.
        Some("private")
    } else {
        None
    }
}

fn refused_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_unspecified() {
        Some("unspecified")
    } else if ip.is_multicast() {
        Some("multicast")
    } else if first & 0xffc0 == 0xfe80 {
        Some("link-local")
    } else if first & 0xfe00 == 0xfc00 {
        Some("private")
    } else {
        None
    }
}

/// The URL's form: absolute http(s) with a host, and https unless private targets are
/// allowed. An IP literal is checked here; a name is checked once resolved.
pub fn check_form(raw: &str, allow_private: bool) -> Result<Url, AddressError> {
    let malformed = |reason: &str| AddressError::Malformed {
        url: raw.to_owned(),
        reason: reason.to_owned(),
    };
    let url = Url::parse(raw).map_err(|e| malformed(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(malformed("expected https://HOST/PATH"));
    }
    if raw.len() > 2048 {
        return Err(malformed("longer than 2048 characters"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(malformed("credentials do not belong in a webhook URL"));
    }
    if allow_private {
        return Ok(url);
    }
    if url.scheme() != "https" {
        return Err(AddressError::NotHttps(raw.to_owned()));
    }
    if let Some(ip) = literal_ip(&url) {
        check_ip(&host_of(&url), ip)?;
    }
    Ok(url)
}

/// Checks the form and every address the host resolves to now.
pub async fn check_url(raw: &str, allow_private: bool) -> Result<Url, AddressError> {
    let url = check_form(raw, allow_private)?;
    if !allow_private && literal_ip(&url).is_none() {
        resolve_checked(&host_of(&url), url.port_or_known_default().unwrap_or(443)).await?;
    }
    Ok(url)
}

fn host_of(url: &Url) -> String {
    url.host_str().unwrap_or_default().to_owned()
}

fn literal_ip(url: &Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
        url::Host::Domain(_) => None,
    }
}

fn check_ip(host: &str, ip: IpAddr) -> Result<(), AddressError> {
    match refused_kind(ip) {
        None => Ok(()),
        Some(kind) => Err(AddressError::Refused {
            host: host.to_owned(),
            ip,
            kind,
        }),
    }
}

/// Every address of `host`, refused whole if any one is forbidden: a name that mixes a
/// public and a private address is not one deliveries should trust.
async fn resolve_checked(host: &str, port: u16) -> Result<Vec<SocketAddr>, AddressError> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| AddressError::Unresolved {
            host: host.to_owned(),
            reason: e.to_string(),
        })?
        .collect();
    if addrs.is_empty() {
        return Err(AddressError::Unresolved {
            host: host.to_owned(),
            reason: "no address".into(),
        });
    }
    for addr in &addrs {
        check_ip(host, addr.ip())?;
    }
    Ok(addrs)
}

/// reqwest's resolver for deliveries: the connection goes to an address checked at
/// this delivery, never to one the name pointed to when the endpoint was made.
#[derive(Debug, Clone, Default)]
pub struct CheckedResolver;

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            // The port is replaced by the URL's own; lookup_host needs one.
            let addrs = resolve_checked(&host, 0).await?;
            let addrs: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

/// The resolver a delivery client uses.
pub fn checked_resolver() -> Arc<CheckedResolver> {
    Arc::new(CheckedResolver)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_special_addresses_are_refused() {
        for (ip, kind) in [
            ("127.0.0.1", "loopback"),
            ("10.1.2.3", "private"),
            ("172.16.0.1", "private"),
            ("192.168.1.1", "private"),
            ("169.254.169.254", "link-local"),
            ("0.0.0.0", "unspecified"),
            ("224.0.0.1", "multicast"),
            ("::1", "loopback"),
            ("::ffff:127.0.0.1", "loopback"),
            ("fd00::1", "private"),
            ("fe80::1", "link-local"),
            ("::", "unspecified"),
        ] {
            assert_eq!(refused_kind(ip.parse().unwrap()), Some(kind), "{ip}");
        }
        assert_eq!(refused_kind("93.184.215.14".parse().unwrap()), None);
        assert_eq!(refused_kind("2606:2800:21f:cb07::1".parse().unwrap()), None);
    }

    #[test]
    fn urls_must_be_https_to_a_public_literal_unless_allowed() {
        assert!(matches!(
            check_form("http://example.com/hook", false),
            Err(AddressError::NotHttps(_))
        ));
        assert!(matches!(
            check_form("https://10.0.0.7/hook", false),
            Err(AddressError::Refused {
                kind: "private",
                ..
            })
        ));
        assert!(matches!(
            check_form("not a url", false),
            Err(AddressError::Malformed { .. })
        ));
        assert!(matches!(
            check_form("ftp://example.com/", true),
            Err(AddressError::Malformed { .. })
        ));
        assert!(check_form("http://127.0.0.1:9/hook", true).is_ok());
        assert!(check_form("https://example.com/hook", false).is_ok());
    }
}
