//! sftpgo-httpd: the REST API v2 (WebAdmin, WebClient and public shares to come).
//!
//! Contract: runs on the tokio side runtime, shares state with the protocol workers only
//! through `sftpgo-core` (the [`Catalog`], store traits, session registry), and never
//! imports `sftpgo-net`. Paths, JSON shapes, status codes and error bodies follow
//! SFTPGo's API so its automation keeps working; `openapi/openapi.yaml` is the contract
//! and a test checks the router against it.
//!
//! Entry points: [`Config`] (`httpd` section), [`HttpState`], [`server::serve`].

pub mod auth;
mod config;
pub mod jwt;
pub mod response;
pub mod routes;
pub mod server;

pub use config::{Binding, Config};
use sftpgo_core::catalog::Catalog;

/// What every request handler shares.
pub struct HttpState {
    /// The data provider.
    pub catalog: Catalog,
    /// Token signing and revocation.
    pub tokens: auth::Tokens,
    /// Serve `/openapi/openapi.yaml`.
    pub render_openapi: bool,
}

impl HttpState {
    /// State for `config`; `signing_key` is the configured passphrase or, when empty, a
    /// random key (tokens then end with the process).
    pub fn new(catalog: Catalog, config: &Config, signing_key: &str) -> Self {
        let key = if signing_key.is_empty() {
            let mut k = vec![0u8; 32];
            rand::fill(&mut k[..]);
            k
        } else {
            signing_key.as_bytes().to_vec()
        };
        Self {
            catalog,
            tokens: auth::Tokens::new(key, config.jwt_lifetime),
            render_openapi: config.bindings.iter().any(|b| b.render_openapi),
        }
    }
}
