//! Client addresses behind reverse proxies for the REST API: a binding's settings over
//! `sftpgo_core::forwarded::TrustedProxies` (the same rules WebDAV applies).

use std::net::{IpAddr, SocketAddr};

use hyper::HeaderMap;
use sftpgo_core::forwarded::TrustedProxies;

use crate::Binding;

/// A binding's proxy settings.
#[derive(Debug, Clone, Default)]
pub struct ProxyPolicy(TrustedProxies);

impl ProxyPolicy {
    /// The settings of `binding`.
    pub fn of(binding: &Binding) -> Self {
        Self(TrustedProxies::new(
            binding.proxy_allowed.clone(),
            binding.client_ip_proxy_header.clone(),
            binding.client_ip_header_depth,
        ))
    }

    /// Whether `peer` is in `proxy_allowed`.
    pub fn allows(&self, peer: IpAddr) -> bool {
        self.0.allows(peer)
    }

    /// Whether `peer` is one of the trusted proxies (and a header is configured).
    pub fn trusts(&self, peer: IpAddr) -> bool {
        self.0.trusts(peer)
    }

    /// The client's address: the header's when `peer` is a trusted proxy and the
    /// header holds a valid address at the configured depth, `peer` otherwise.
    pub fn client(&self, peer: SocketAddr, headers: &HeaderMap) -> SocketAddr {
        if !self.0.trusts(peer.ip()) {
            return peer;
        }
        self.0.client(
            peer,
            headers
                .get_all(self.0.header())
                .iter()
                .filter_map(|v| v.to_str().ok()),
        )
    }
}
