//! The `ftpd` configuration section, with SFTPGo's keys and defaults.

use serde::{Deserialize, Serialize};

/// How a binding uses TLS (`tls_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsMode {
    /// 0: plain FTP, with explicit `AUTH TLS` available when a certificate is set.
    #[default]
    ExplicitOptional,
    /// 1: explicit TLS required for the control and data connections.
    ExplicitRequired,
    /// 2: implicit TLS (the connection starts with the TLS handshake).
    Implicit,
}

impl Serialize for TlsMode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(match self {
            Self::ExplicitOptional => 0,
            Self::ExplicitRequired => 1,
            Self::Implicit => 2,
        })
    }
}

impl<'de> Deserialize<'de> for TlsMode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match u8::deserialize(d)? {
            0 => Ok(Self::ExplicitOptional),
            1 => Ok(Self::ExplicitRequired),
            2 => Ok(Self::Implicit),
            n => Err(serde::de::Error::custom(format!(
                "tls_mode must be 0, 1 or 2, not {n}"
            ))),
        }
    }
}

/// A passive-mode address announced to clients from some networks.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct PassiveIpOverride {
    /// The IPv4 address announced (empty: the address the client connected to).
    pub ip: String,
    /// Client networks (CIDR) this applies to.
    pub networks: Vec<String>,
}

/// One FTP listening address.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct Binding {
    /// TCP port; 0 disables the binding.
    pub port: u16,
    /// Address to listen on; empty means all addresses.
    pub address: String,
    /// 0 explicit TLS optional, 1 explicit TLS required, 2 implicit TLS.
    pub tls_mode: TlsMode,
    /// Certificate for this binding (PEM, relative to the config dir); empty: the
    /// section's `certificate_file`.
    pub certificate_file: String,
    /// Private key for `certificate_file`.
    pub certificate_key_file: String,
    /// Lowest TLS version: 12 or 13.
    pub min_tls_version: u8,
    /// IPv4 address announced in `PASV` replies instead of the local address.
    pub force_passive_ip: String,
    /// Per-client-network `PASV` addresses, checked before `force_passive_ip`.
    pub passive_ip_overrides: Vec<PassiveIpOverride>,
    /// Host name resolved on every `PASV` for the announced address (when
    /// `force_passive_ip` is empty).
    pub passive_host: String,
    /// Client certificates: 0 not asked, 1 required and verified against
    /// `ca_certificates`, 2 verified when given.
    pub client_auth_type: u8,
    /// 0: a passive data connection must come from the control connection's address;
    /// 1: from anywhere.
    pub passive_connections_security: u8,
    /// 0: `PORT`/`EPRT` must name the control connection's address (no FTP bounce);
    /// 1: any address.
    pub active_connections_security: u8,
    /// Log every command and reply at debug level.
    pub debug: bool,
    /// TLS 1.2 cipher suites (Go/IANA names) in order of preference; empty: the
    /// defaults. Names rustls does not implement (CBC, RSA key exchange) are left out.
    pub tls_cipher_suites: Vec<String>,
    /// Honour `common.proxy_protocol` on this binding (control and passive data
    /// connections).
    pub apply_proxy_config: bool,
}

impl Default for Binding {
    fn default() -> Self {
        Self {
            port: 0,
            address: String::new(),
            tls_mode: TlsMode::ExplicitOptional,
            certificate_file: String::new(),
            certificate_key_file: String::new(),
            min_tls_version: 12,
            force_passive_ip: String::new(),
            passive_ip_overrides: Vec::new(),
            passive_host: String::new(),
            client_auth_type: 0,
            passive_connections_security: 0,
            active_connections_security: 0,
            debug: false,
            tls_cipher_suites: Vec::new(),
            apply_proxy_config: true,
        }
    }
}

/// The passive data port range (inclusive).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct PortRange {
    /// First port.
    pub start: u16,
    /// Last port.
    pub end: u16,
}

impl Default for PortRange {
    fn default() -> Self {
        Self {
            start: 50000,
            end: 50100,
        }
    }
}

/// `ftpd` section.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Listening addresses (port 0: disabled, the default).
    pub bindings: Vec<Binding>,
    /// File whose content is the greeting (relative to the config dir); empty: a
    /// built-in one.
    pub banner_file: String,
    /// Active-mode data connections leave from any local port (true) or from port 20.
    pub active_transfers_port_non_20: bool,
    /// Ports for passive data connections.
    pub passive_port_range: PortRange,
    /// Refuse `PORT` and `EPRT`.
    pub disable_active_mode: bool,
    /// Allow `SITE CHMOD` and `SITE SYMLINK`.
    pub enable_site: bool,
    /// Allow `HASH`, `XMD5`, `XSHA1`, `XSHA256`, `XSHA512` and `MD5`.
    pub hash_support: bool,
    /// Allow `COMB` (joining uploaded parts into one file).
    pub combine_support: bool,
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
            banner_file: String::new(),
            active_transfers_port_non_20: true,
            passive_port_range: PortRange::default(),
            disable_active_mode: false,
            enable_site: false,
            hash_support: false,
            combine_support: false,
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
        let r = self.passive_port_range;
        if r.start == 0 || r.start > r.end {
            return Err(format!(
                "ftpd.passive_port_range: invalid range {}-{}",
                r.start, r.end
            ));
        }
        for (i, b) in self.bindings.iter().enumerate() {
            let at = format!("ftpd.bindings[{i}]");
            sftpgo_core::tls::validate_cipher_suites(
                &format!("{at}.tls_cipher_suites"),
                &b.tls_cipher_suites,
            )?;
            if b.port == 0 {
                continue;
            }
            if b.min_tls_version != 12 && b.min_tls_version != 13 {
                return Err(format!("{at}.min_tls_version: must be 12 or 13"));
            }
            if b.client_auth_type > 2 {
                return Err(format!("{at}.client_auth_type: must be 0, 1 or 2"));
            }
            if b.passive_connections_security > 1 || b.active_connections_security > 1 {
                return Err(format!(
                    "{at}: passive/active_connections_security must be 0 or 1"
                ));
            }
            if !b.force_passive_ip.is_empty()
                && b.force_passive_ip.parse::<std::net::Ipv4Addr>().is_err()
            {
                return Err(format!(
                    "{at}.force_passive_ip: {:?} is not an IPv4 address",
                    b.force_passive_ip
                ));
            }
            for o in &b.passive_ip_overrides {
                if !o.ip.is_empty() && o.ip.parse::<std::net::Ipv4Addr>().is_err() {
                    return Err(format!(
                        "{at}.passive_ip_overrides: {:?} is not an IPv4 address",
                        o.ip
                    ));
                }
                for n in &o.networks {
                    sftpgo_core::model::ip_list::parse_cidr(n)
                        .map_err(|e| format!("{at}.passive_ip_overrides: {e}"))?;
                }
            }
            let has_cert = !self.certificate_file.is_empty() || !b.certificate_file.is_empty();
            if b.tls_mode != TlsMode::ExplicitOptional && !has_cert {
                return Err(format!(
                    "{at}.tls_mode: TLS needs certificate_file and certificate_key_file"
                ));
            }
            if b.client_auth_type > 0 && self.ca_certificates.is_empty() {
                return Err(format!(
                    "{at}.client_auth_type: client certificates need ftpd.ca_certificates"
                ));
            }
        }
        Ok(())
    }
}
