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
    /// Addresses and networks of reverse proxies whose client-address header is
    /// trusted.
    pub proxy_allowed: Vec<String>,
    /// Header carrying the client's address (`X-Forwarded-For`, ...); empty: none.
    pub client_ip_proxy_header: String,
    /// Which address of that header to take, counted from the last (0: the last).
    pub client_ip_header_depth: usize,
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
            proxy_allowed: Vec::new(),
            client_ip_proxy_header: String::new(),
            client_ip_header_depth: 0,
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
    /// `cache`: the users cache (logins use the shared password and user caches) and
    /// MIME types.
    pub cache: Cache,
    /// Cross-origin resource sharing, for browser-based WebDAV clients.
    pub cors: sftpgo_core::cors::CorsConfig,
}

/// `cache.users`: accepted; logins use the shared password and user caches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UsersCache {
    /// Minutes a cached user is kept (0: until it changes).
    pub expiration_time: u64,
    /// Users kept.
    pub max_size: usize,
}

impl Default for UsersCache {
    fn default() -> Self {
        Self {
            expiration_time: 0,
            max_size: 50,
        }
    }
}

/// One `cache.mime_types.custom_mappings` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MimeMapping {
    /// File extension, with its dot (`.log`).
    pub ext: String,
    /// Content type sent for it.
    pub mime: String,
}

/// `cache.mime_types`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MimeTypes {
    /// Accepted (types come from extensions, nothing needs caching).
    pub enabled: bool,
    /// Accepted.
    pub max_size: usize,
    /// Content types by extension, before the built-in table.
    pub custom_mappings: Vec<MimeMapping>,
}

impl Default for MimeTypes {
    fn default() -> Self {
        Self {
            enabled: true,
            max_size: 1000,
            custom_mappings: Vec::new(),
        }
    }
}

/// `cache`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Cache {
    /// Users.
    pub users: UsersCache,
    /// MIME types.
    pub mime_types: MimeTypes,
}

impl Cache {
    /// The custom content type of `path`'s extension, if one is configured
    /// (extensions compare without case).
    pub fn mime_of(&self, path: &str) -> Option<&str> {
        let name = path.rsplit('/').next().unwrap_or_default();
        let ext = name.rfind('.').map(|i| name.get(i..).unwrap_or_default())?;
        self.mime_types
            .custom_mappings
            .iter()
            .find(|m| m.ext.eq_ignore_ascii_case(ext))
            .map(|m| m.mime.as_str())
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            bindings: vec![Binding::default()],
            certificate_file: String::new(),
            certificate_key_file: String::new(),
            ca_certificates: Vec::new(),
            ca_revocation_lists: Vec::new(),
            cache: Cache::default(),
            cors: sftpgo_core::cors::CorsConfig::default(),
        }
    }
}

impl Config {
    /// Checks values serde cannot.
    pub fn validate(&self) -> Result<(), String> {
        self.cors.validate("webdavd")?;
        for m in &self.cache.mime_types.custom_mappings {
            if !m.ext.starts_with('.') || m.ext.len() < 2 {
                return Err(format!(
                    "webdavd.cache.mime_types.custom_mappings: extension {:?} must start with a dot",
                    m.ext
                ));
            }
            if m.mime.is_empty() || m.mime.contains(['\r', '\n']) {
                return Err(format!(
                    "webdavd.cache.mime_types.custom_mappings: invalid type {:?}",
                    m.mime
                ));
            }
        }
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
            for net in &b.proxy_allowed {
                sftpgo_core::model::ip_list::parse_cidr(net)
                    .map_err(|e| format!("{at}.proxy_allowed: {e}"))?;
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
