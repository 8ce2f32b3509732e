//! Client addresses behind reverse proxies: a binding's `proxy_allowed` proxies may
//! name the client in `client_ip_proxy_header` (taken `client_ip_header_depth`
//! entries from the end, as SFTPGo does); from anyone else the header is ignored. The
//! address found is what IP filters, allow lists and logs see.

use std::net::{IpAddr, SocketAddr};

use hyper::HeaderMap;

use crate::Binding;

/// A binding's proxy settings.
#[derive(Debug, Clone, Default)]
pub struct ProxyPolicy {
    allowed: Vec<String>,
    header: String,
    depth: usize,
}

impl ProxyPolicy {
    /// The settings of `binding`.
    pub fn of(binding: &Binding) -> Self {
        Self {
            allowed: binding.proxy_allowed.clone(),
            header: binding.client_ip_proxy_header.clone(),
            depth: binding.client_ip_header_depth,
        }
    }

    /// Whether `peer` is in `proxy_allowed`.
    pub fn allows(&self, peer: IpAddr) -> bool {
        self.allowed
            .iter()
            .any(|n| sftpgo_core::model::ip_list::contains(n, peer))
    }

    /// Whether `peer` is one of the trusted proxies (and a header is configured).
    pub fn trusts(&self, peer: IpAddr) -> bool {
        !self.header.is_empty() && self.allows(peer)
    }

    /// The client's address: the header's when `peer` is a trusted proxy and the
    /// header holds a valid address at the configured depth, `peer` otherwise.
    pub fn client(&self, peer: SocketAddr, headers: &HeaderMap) -> SocketAddr {
        if !self.trusts(peer.ip()) {
            return peer;
        }
        let addrs: Vec<&str> = headers
            .get_all(self.header.as_str())
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        let Some(idx) = addrs.len().checked_sub(1 + self.depth) else {
            return peer;
        };
        match addrs.get(idx).and_then(|a| a.parse::<IpAddr>().ok()) {
            Some(ip) => SocketAddr::new(ip, peer.port()),
            None => peer,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_trusted_proxies_name_the_client() {
        let policy = ProxyPolicy {
            allowed: vec!["10.0.0.0/8".into()],
            header: "X-Forwarded-For".into(),
            depth: 0,
        };
        let mut h = HeaderMap::new();
        h.append("x-forwarded-for", "1.1.1.1, 2.2.2.2".parse().unwrap());
        h.append("x-forwarded-for", "3.3.3.3".parse().unwrap());
        let proxy: SocketAddr = "10.1.1.1:5000".parse().unwrap();
        let other: SocketAddr = "192.168.1.1:5000".parse().unwrap();
        assert_eq!(policy.client(proxy, &h).ip().to_string(), "3.3.3.3");
        assert_eq!(
            policy.client(other, &h),
            other,
            "untrusted peers are taken as is"
        );
        let deeper = ProxyPolicy {
            depth: 2,
            ..policy.clone()
        };
        assert_eq!(deeper.client(proxy, &h).ip().to_string(), "1.1.1.1");
        let too_deep = ProxyPolicy {
            depth: 3,
            ..policy.clone()
        };
        assert_eq!(too_deep.client(proxy, &h), proxy);
        let mut bad = HeaderMap::new();
        bad.insert("x-forwarded-for", "not-an-ip".parse().unwrap());
        assert_eq!(policy.client(proxy, &bad), proxy);
    }
}
