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
pub mod multipart;
pub mod proxy;
pub mod qr;
pub mod response;
pub mod routes;
pub mod security;
pub mod server;
pub mod tls;

pub use config::{Binding, Config};
use sftpgo_core::catalog::Catalog;

/// What every request handler shares.
pub struct HttpState {
    /// The data provider.
    pub catalog: Catalog,
    /// Token signing and revocation.
    pub tokens: auth::Tokens,
    /// Recent successful admin password checks.
    pub admin_passwords: sftpgo_core::password::PasswordCache,
    /// Serve `/openapi/openapi.yaml`.
    pub render_openapi: bool,
    /// Where `dumpdata` writes and `loaddata` reads named files (none: only dumps in
    /// responses and request bodies).
    pub backups_dir: Option<std::path::PathBuf>,
    /// The services' status for `GET /status` (the data provider's is checked live).
    pub status: serde_json::Value,
    /// The user side (`/api/v2/user/...`), when the server provides storage.
    pub users: Option<routes::user::UserApi>,
    /// `httpd.max_upload_file_size` (0: no server-wide limit).
    pub max_upload_file_size: i64,
    /// Connection caps shared with the other protocols (`common.max_total_connections`,
    /// `common.max_per_host_connections`).
    pub limiter: Option<std::sync::Arc<sftpgo_core::sessions::ConnectionLimiter>>,
    /// Authenticated connections of every protocol: user API requests register here
    /// (counted in `max_sessions`), and `/connections` lists and closes them.
    pub sessions: std::sync::Arc<sftpgo_core::sessions::SessionRegistry>,
    /// Quota scans running.
    pub scans: std::sync::Arc<sftpgo_core::quota::QuotaScans>,
    /// TOTP configurations (`mfa`) and passcode checks.
    pub totp: std::sync::Arc<sftpgo_core::mfa::Totp>,
    /// `httpd.cors`.
    pub cors: sftpgo_core::cors::CorsConfig,
    /// Brute-force protection shared with the other protocols.
    pub defender: std::sync::Arc<sftpgo_core::defender::Defender>,
    /// Serialises the check and increment of share uses (`max_tokens`).
    pub share_uses: tokio::sync::Mutex<()>,
    /// The Event Manager (on-demand rules, retention checks).
    pub events: Option<std::sync::Arc<sftpgo_core::events::EventManager>>,
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
            tokens: auth::Tokens::new(key, config.jwt_lifetime, config.token_validation),
            admin_passwords: sftpgo_core::password::PasswordCache::default(),
            render_openapi: config.bindings.iter().any(|b| b.render_openapi),
            backups_dir: None,
            status: serde_json::json!({}),
            users: None,
            max_upload_file_size: config.max_upload_file_size,
            limiter: None,
            sessions: std::sync::Arc::default(),
            scans: std::sync::Arc::default(),
            cors: config.cors.clone(),
            defender: std::sync::Arc::default(),
            share_uses: tokio::sync::Mutex::new(()),
            events: None,
            totp: std::sync::Arc::new(
                sftpgo_core::mfa::Totp::new(sftpgo_core::mfa::MfaConfig::default())
                    .unwrap_or_default(),
            ),
        }
    }

    /// Counts HTTP connections against `limiter`.
    pub fn with_limiter(
        mut self,
        limiter: std::sync::Arc<sftpgo_core::sessions::ConnectionLimiter>,
    ) -> Self {
        self.limiter = Some(limiter);
        self
    }

    /// Shares the session registry of the other protocols.
    pub fn with_sessions(
        mut self,
        sessions: std::sync::Arc<sftpgo_core::sessions::SessionRegistry>,
    ) -> Self {
        self.sessions = sessions;
        self
    }

    /// Uses the `mfa` section's TOTP configurations (shared with the other protocols,
    /// so a passcode is accepted once across all of them).
    pub fn with_totp(mut self, totp: std::sync::Arc<sftpgo_core::mfa::Totp>) -> Self {
        self.totp = totp;
        self
    }

    /// Shares the defender of the other protocols.
    pub fn with_defender(
        mut self,
        defender: std::sync::Arc<sftpgo_core::defender::Defender>,
    ) -> Self {
        self.defender = defender;
        self
    }

    /// Runs event rules with `events`, which shares quota scans `scans` with the API.
    pub fn with_events(
        mut self,
        scans: std::sync::Arc<sftpgo_core::quota::QuotaScans>,
        events: std::sync::Arc<sftpgo_core::events::EventManager>,
    ) -> Self {
        self.scans = scans;
        self.events = Some(events);
        self
    }

    /// Turns on the user side.
    pub fn with_user_api(mut self, users: routes::user::UserApi) -> Self {
        self.users = Some(users);
        self
    }

    /// Sets the backups directory.
    pub fn with_backups_dir(mut self, dir: std::path::PathBuf) -> Self {
        self.backups_dir = Some(dir);
        self
    }

    /// Sets the status snapshot of the other services.
    pub fn with_status(mut self, status: serde_json::Value) -> Self {
        self.status = status;
        self
    }
}
