//! The `httpd` configuration section (SFTPGo's keys; those not implemented yet are
//! reported by the binary's config loader).

use serde::{Deserialize, Serialize};

/// One listener.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Binding {
    /// TCP port (0 disables the binding).
    pub port: u16,
    /// Address to listen on (empty: all interfaces).
    pub address: String,
    /// Serve the REST API (`/api/v2`).
    pub enable_rest_api: bool,
    /// Serve WebAdmin (not implemented yet; accepted for compatibility).
    pub enable_web_admin: bool,
    /// Serve WebClient (not implemented yet; accepted for compatibility).
    pub enable_web_client: bool,
    /// Serve the OpenAPI document at `/openapi/openapi.yaml`.
    pub render_openapi: bool,
    /// HTTPS on this binding (not implemented yet: refused at start).
    pub enable_https: bool,
}

impl Default for Binding {
    fn default() -> Self {
        Self {
            port: 8080,
            address: String::new(),
            enable_rest_api: true,
            enable_web_admin: true,
            enable_web_client: true,
            render_openapi: true,
            enable_https: false,
        }
    }
}

/// `httpd`.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Listeners.
    pub bindings: Vec<Binding>,
    /// Secret that signs access tokens; empty: a random key per start (tokens do not
    /// survive a restart).
    pub signing_passphrase: String,
    /// File holding `signing_passphrase` (relative to the config dir).
    pub signing_passphrase_file: String,
    /// Access token lifetime in minutes (1-720).
    pub jwt_lifetime: u32,
    /// Largest upload through the API in bytes (0: unlimited).
    pub max_upload_file_size: i64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            bindings: vec![Binding::default()],
            signing_passphrase: String::new(),
            signing_passphrase_file: String::new(),
            jwt_lifetime: 20,
            max_upload_file_size: 0,
        }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("bindings", &self.bindings)
            .field(
                "signing_passphrase",
                &sftpgo_core::kms::redacted(&self.signing_passphrase),
            )
            .field("signing_passphrase_file", &self.signing_passphrase_file)
            .field("jwt_lifetime", &self.jwt_lifetime)
            .field("max_upload_file_size", &self.max_upload_file_size)
            .finish()
    }
}

impl Config {
    /// Checks values serde cannot.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=720).contains(&self.jwt_lifetime) {
            return Err("httpd.jwt_lifetime: must be between 1 and 720 minutes".into());
        }
        if self.bindings.iter().any(|b| b.port != 0 && b.enable_https) {
            return Err("httpd.bindings.enable_https: HTTPS is not supported yet".into());
        }
        Ok(())
    }
}
