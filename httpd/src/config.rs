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
    /// HTTPS on this binding (rustls).
    pub enable_https: bool,
    /// Certificate chain (PEM) for this binding; empty: the section's.
    pub certificate_file: String,
    /// Private key (PEM) for this binding; empty: the section's.
    pub certificate_key_file: String,
    /// Lowest TLS version: 12 or 13.
    pub min_tls_version: u8,
    /// 0: no client certificates; 1: a client certificate signed by one of
    /// `ca_certificates` is required (mutual TLS).
    pub client_auth_type: u8,
    /// Addresses and networks of reverse proxies whose client-address header is
    /// trusted.
    pub proxy_allowed: Vec<String>,
    /// Header carrying the client's address (`X-Forwarded-For`, `X-Real-IP`, ...);
    /// empty: none is read.
    pub client_ip_proxy_header: String,
    /// Which address of that header to take, counted from the last (0: the last).
    pub client_ip_header_depth: usize,
    /// TLS 1.2 cipher suites (Go/IANA names) in order of preference; empty: the
    /// defaults. Names rustls does not implement (CBC, RSA key exchange) are left out.
    pub tls_cipher_suites: Vec<String>,
    /// ALPN protocols offered (`http/1.1`, `h2`); only HTTP/1.1 is served.
    pub tls_protocols: Vec<String>,
    /// 1: connections start with a PROXY protocol header, read as
    /// `common.proxy_protocol` says; 0: none.
    pub proxy_mode: u8,
    /// Allowed hosts, HTTPS redirect and security headers.
    pub security: crate::security::SecurityConfig,
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
            certificate_file: String::new(),
            certificate_key_file: String::new(),
            min_tls_version: 12,
            client_auth_type: 0,
            proxy_allowed: Vec::new(),
            client_ip_proxy_header: String::new(),
            client_ip_header_depth: 0,
            tls_cipher_suites: Vec::new(),
            tls_protocols: Vec::new(),
            proxy_mode: 0,
            security: crate::security::SecurityConfig::default(),
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
    /// How tokens are checked, bits: 0 a token is only accepted from the address it
    /// was issued to; 1 skips that check; 2 also refuses tokens issued before the
    /// account last changed.
    pub token_validation: u8,
    /// Largest upload through the API in bytes (0: unlimited).
    pub max_upload_file_size: i64,
    /// Default certificate chain (PEM) for HTTPS bindings, relative to the config dir.
    pub certificate_file: String,
    /// Default private key (PEM) for HTTPS bindings, relative to the config dir.
    pub certificate_key_file: String,
    /// CA certificates (PEM) that sign accepted client certificates.
    pub ca_certificates: Vec<String>,
    /// Certificate revocation lists (PEM or DER) client certificates are checked
    /// against.
    pub ca_revocation_lists: Vec<String>,
    /// Cross-origin resource sharing.
    pub cors: sftpgo_core::cors::CorsConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            bindings: vec![Binding::default()],
            signing_passphrase: String::new(),
            signing_passphrase_file: String::new(),
            jwt_lifetime: 20,
            token_validation: 0,
            max_upload_file_size: 0,
            certificate_file: String::new(),
            certificate_key_file: String::new(),
            ca_certificates: Vec::new(),
            ca_revocation_lists: Vec::new(),
            cors: sftpgo_core::cors::CorsConfig::default(),
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
            .field("token_validation", &self.token_validation)
            .field("max_upload_file_size", &self.max_upload_file_size)
            .field("certificate_file", &self.certificate_file)
            .field("certificate_key_file", &self.certificate_key_file)
            .field("ca_certificates", &self.ca_certificates)
            .field("ca_revocation_lists", &self.ca_revocation_lists)
            .field("cors", &self.cors)
            .finish()
    }
}

impl Config {
    /// Checks values serde cannot.
    pub fn validate(&self) -> Result<(), String> {
        self.cors.validate("httpd")?;
        if !(1..=720).contains(&self.jwt_lifetime) {
            return Err("httpd.jwt_lifetime: must be between 1 and 720 minutes".into());
        }
        if self.token_validation > 3 {
            return Err("httpd.token_validation: must be 0, 1, 2 or 3".into());
        }
        for b in self.bindings.iter().filter(|b| b.port != 0) {
            if b.min_tls_version != 12 && b.min_tls_version != 13 {
                return Err("httpd.bindings.min_tls_version: must be 12 or 13".into());
            }
            for net in &b.proxy_allowed {
                sftpgo_core::model::ip_list::parse_cidr(net)
                    .map_err(|e| format!("httpd.bindings.proxy_allowed: {e}"))?;
            }
            if b.client_auth_type > 1 {
                return Err("httpd.bindings.client_auth_type: must be 0 or 1".into());
            }
            sftpgo_core::tls::validate_cipher_suites(
                "httpd.bindings.tls_cipher_suites",
                &b.tls_cipher_suites,
            )?;
            if b.proxy_mode > 1 {
                return Err("httpd.bindings.proxy_mode: must be 0 or 1".into());
            }
            b.security.validate("httpd.bindings")?;
            if b.enable_https {
                let cert = if b.certificate_file.is_empty() {
                    &self.certificate_file
                } else {
                    &b.certificate_file
                };
                if cert.is_empty() {
                    return Err(
                        "httpd: a binding with enable_https needs certificate_file and \
                         certificate_key_file"
                            .into(),
                    );
                }
                if b.client_auth_type == 1 && self.ca_certificates.is_empty() {
                    return Err(
                        "httpd.bindings.client_auth_type 1 needs httpd.ca_certificates".into(),
                    );
                }
            }
        }
        Ok(())
    }
}
