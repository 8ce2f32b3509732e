//! Client addresses behind reverse proxies, for the HTTP front-ends (REST API and
//! WebDAV): a binding's `proxy_allowed` proxies may name the client in
//! `client_ip_proxy_header`, taken `client_ip_header_depth` entries from the end, as
//! SFTPGo does; from anyone else the header is ignored. The address found is what IP
//! filters, allow lists, the defender, rate limiters and logs see.
//!
//! Only the header's values come in (as text), so this stays free of HTTP types.

use std::net::{IpAddr, SocketAddr};

/// A binding's trusted proxies.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    allowed: Vec<String>,
    header: String,
    depth: usize,
}

impl TrustedProxies {
    /// Proxies in `allowed` (addresses or networks) naming the client in `header`.
    pub fn new(allowed: Vec<String>, header: String, depth: usize) -> Self {
        Self {
            allowed,
            header,
            depth,
        }
    }

    /// The header that names the client (empty: none).
    pub fn header(&self) -> &str {
        &self.header
    }

    /// Whether `peer` is in `proxy_allowed`.
    pub fn allows(&self, peer: IpAddr) -> bool {
        self.allowed
            .iter()
            .any(|n| crate::model::ip_list::contains(n, peer))
    }

    /// Whether `peer` is a trusted proxy (and a header is configured).
    pub fn trusts(&self, peer: IpAddr) -> bool {
        !self.header.is_empty() && self.allows(peer)
    }

    /// The client's address: from the header's `values` (every line of it, in order;
    /// each may hold a comma-separated list) when `peer` is trusted and the entry at the
    /// configured depth is a valid address; `peer` otherwise.
    pub fn client<'a>(
        &self,
        peer: SocketAddr,
        values: impl Iterator<Item = &'a str>,
    ) -> SocketAddr {
        if !self.trusts(peer.ip()) {
            return peer;
        }
        let addrs: Vec<&str> = values.flat_map(|v| v.split(',')).map(str::trim).collect();
        let Some(idx) = addrs.len().checked_sub(1 + self.depth) else {
            return peer;
        };
        match addrs.get(idx).and_then(|a| a.parse::<IpAddr>().ok()) {
            Some(ip) => SocketAddr::new(ip.to_canonical(), peer.port()),
            None => peer,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_trusted_proxies_name_the_client() {
        let p = TrustedProxies::new(vec!["10.0.0.0/8".into()], "X-Forwarded-For".into(), 0);
        let values = ["1.1.1.1, 2.2.2.2", "3.3.3.3"];
        let proxy: SocketAddr = "10.1.1.1:5000".parse().unwrap();
        let other: SocketAddr = "192.168.1.1:5000".parse().unwrap();
        assert_eq!(
            p.client(proxy, values.into_iter()).ip().to_string(),
            "3.3.3.3"
        );
        assert_eq!(
            p.client(other, values.into_iter()),
            other,
            "untrusted peers"
        );
        let deeper = TrustedProxies::new(vec!["10.0.0.0/8".into()], "X-Forwarded-For".into(), 2);
        assert_eq!(
            deeper.client(proxy, values.into_iter()).ip().to_string(),
            "1.1.1.1"
        );
        let too_deep = TrustedProxies::new(vec!["10.0.0.0/8".into()], "X-Forwarded-For".into(), 3);
        assert_eq!(too_deep.client(proxy, values.into_iter()), proxy);
        assert_eq!(p.client(proxy, ["not-an-ip"].into_iter()), proxy);
        assert_eq!(
            p.client(proxy, ["::ffff:4.4.4.4"].into_iter())
                .ip()
                .to_string(),
            "4.4.4.4",
            "mapped addresses are IPv4"
        );
    }
}
