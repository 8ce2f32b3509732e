//! The `webdavd` configuration section, with SFTPGo's keys and defaults.

use serde::{Deserialize, Serialize};

/// One WebDAV listening address.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct Binding {
    /// TCP port; 0 disables the binding.
    pub port: u16,
    /// Address to listen on; empty means all addresses.
    pub address: String,
    /// Serve HTTPS.
    pub enable_https: bool,
    /// Certificate for this binding (PEM, relative to the config dir); empty: the
    /// section's.
    pub certificate_file: String,
    /// Private key for `certificate_file`.
    pub certificate_key_file: String,
    /// Lowest TLS version: 12 or 13.
    pub min_tls_version: u8,
    /// Client certificates: 0 not asked, 1 required and verified.
    pub client_auth_type: u8,
    /// URL path prefix the WebDAV tree is served under (`/dav`); empty: the root.
    pub prefix: String,
    /// TLS 1.2 cipher suites (Go/IANA names) in order of preference; empty: the
    /// defaults. Names rustls does not implement (CBC, RSA key exchange) are left out.
    pub tls_cipher_suites: Vec<String>,
    /// ALPN protocols offered (`http/1.1`, `h2`); only HTTP/1.1 is served.
    pub tls_protocols: Vec<String>,
    /// 1: connections start with a PROXY protocol header, read as
    /// `common.proxy_protocol` says; 0: none.
    pub proxy_mode: u8,
}

impl Default for Binding {
    fn default() -> Self {
        Self {
            port: 0,
            address: String::new(),
            enable_https: false,
            certificate_file: String::new(),
            certificate_key_file: String::new(),
            min_tls_version: 12,
            client_auth_type: 0,
            prefix: String::new(),
            tls_cipher_suites: Vec::new(),
            tls_protocols: Vec::new(),
            proxy_mode: 0,
        }
    }
}

/// `webdavd` section.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Listening addresses (port 0: disabled, the default).
    pub bindings: Vec<Binding>,
    /// Default certificate (PEM, relative to the config dir).
    pub certificate_file: String,
    /// Private key of `certificate_file`.
    pub certificate_key_file: String,
    /// CA certificates that verify client certificates.
    pub ca_certificates: Vec<String>,
    /// Certificate revocation lists (PEM or DER) client certificates are checked
    /// against.
    pub ca_revocation_lists: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            bindings: vec![Binding::default()],
            certificate_file: String::new(),
            certificate_key_file: String::new(),
            ca_certificates: Vec::new(),
            ca_revocation_lists: Vec::new(),
        }
    }
}

impl Config {
    /// Checks values serde cannot.
    pub fn validate(&self) -> Result<(), String> {
        for (i, b) in self.bindings.iter().enumerate() {
            let at = format!("webdavd.bindings[{i}]");
            if b.port == 0 {
                continue;
            }
            if b.min_tls_version != 12 && b.min_tls_version != 13 {
                return Err(format!("{at}.min_tls_version: must be 12 or 13"));
            }
            if b.client_auth_type > 1 {
                return Err(format!("{at}.client_auth_type: must be 0 or 1"));
            }
            if b.proxy_mode > 1 {
                return Err(format!("{at}.proxy_mode: must be 0 or 1"));
            }
            sftpgo_core::tls::validate_cipher_suites(
                &format!("{at}.tls_cipher_suites"),
                &b.tls_cipher_suites,
            )?;
            let has_cert = !self.certificate_file.is_empty() || !b.certificate_file.is_empty();
            if b.enable_https && !has_cert {
                return Err(format!(
                    "{at}.enable_https: HTTPS needs certificate_file and certificate_key_file"
                ));
            }
            if b.client_auth_type == 1 && self.ca_certificates.is_empty() {
                return Err(format!(
                    "{at}.client_auth_type: client certificates need webdavd.ca_certificates"
                ));
            }
            if !b.prefix.is_empty() && (!b.prefix.starts_with('/') || b.prefix.ends_with('/')) {
                return Err(format!(
                    "{at}.prefix: {:?} must start with / and not end with /",
                    b.prefix
                ));
            }
        }
        Ok(())
    }
}
