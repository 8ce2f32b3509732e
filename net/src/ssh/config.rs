//! The `sftpd` configuration section (keys acted on so far) and its translation into a
//! russh server configuration.

use std::borrow::Cow;
use std::time::Duration;

use russh::keys::{Algorithm, EcdsaCurve, HashAlg, PrivateKey};
use serde::{Deserialize, Serialize};

/// One listening address.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct Binding {
    /// TCP port; 0 disables the binding.
    pub port: u16,
    /// Address to listen on; empty means all addresses.
    pub address: String,
    /// Honour `common.proxy_protocol` on this binding.
    pub apply_proxy_config: bool,
}

impl Default for Binding {
    fn default() -> Self {
        Self {
            port: 2022,
            address: String::new(),
            apply_proxy_config: true,
        }
    }
}

/// `sftpd` section.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Listening addresses.
    pub bindings: Vec<Binding>,
    /// Authentication attempts per connection (0 means 6).
    pub max_auth_tries: u32,
    /// Host private key files (relative to the config dir). Empty: `id_ed25519` and
    /// `id_rsa` in the config dir, generated on first start.
    pub host_keys: Vec<String>,
    /// Key exchange algorithms (empty = defaults).
    pub kex_algorithms: Vec<String>,
    /// Ciphers (empty = defaults).
    pub ciphers: Vec<String>,
    /// MACs (empty = defaults).
    pub macs: Vec<String>,
    /// File whose content is sent as the pre-authentication banner.
    pub login_banner_file: String,
    /// SSH commands allowed; `*` enables all.
    pub enabled_ssh_commands: Vec<String>,
    /// Allow password authentication.
    pub password_authentication: bool,
    /// Not in SFTPGo: bytes a client may send on a channel before waiting for the
    /// server to open its window again (SSH flow control). Large windows keep uploads
    /// streaming on fast links.
    pub channel_window_size: u32,
    /// Not in SFTPGo: largest SSH channel packet the server accepts and sends (at least
    /// 32768 per RFC 4254, at most 262144).
    pub channel_max_packet_size: u32,
}

/// Default `channel_window_size`: 16 MiB.
pub const DEFAULT_WINDOW_SIZE: u32 = 16 * 1024 * 1024;
/// Default `channel_max_packet_size`: 256 KiB.
pub const DEFAULT_MAX_PACKET_SIZE: u32 = 256 * 1024;

/// Every SSH command this server implements.
pub const SUPPORTED_COMMANDS: &[&str] = &[
    "md5sum",
    "sha1sum",
    "sha256sum",
    "sha384sum",
    "sha512sum",
    "cd",
    "pwd",
    "scp",
    "sftpgo-copy",
    "sftpgo-remove",
];

impl Default for Config {
    fn default() -> Self {
        Self {
            bindings: vec![Binding::default()],
            max_auth_tries: 0,
            host_keys: Vec::new(),
            kex_algorithms: Vec::new(),
            ciphers: Vec::new(),
            macs: Vec::new(),
            login_banner_file: String::new(),
            enabled_ssh_commands: ["md5sum", "sha1sum", "sha256sum", "cd", "pwd", "scp"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            password_authentication: true,
            channel_window_size: DEFAULT_WINDOW_SIZE,
            channel_max_packet_size: DEFAULT_MAX_PACKET_SIZE,
        }
    }
}

/// Default ciphers: AES-GCM first (fastest with AES-NI), then ChaCha20-Poly1305, then CTR.
const DEFAULT_CIPHERS: &[russh::cipher::Name] = &[
    russh::cipher::AES_128_GCM,
    russh::cipher::AES_256_GCM,
    russh::cipher::CHACHA20_POLY1305,
    russh::cipher::AES_256_CTR,
    russh::cipher::AES_192_CTR,
    russh::cipher::AES_128_CTR,
];

/// Host-key and client-key algorithms: no SHA-1 `ssh-rsa` signatures.
const KEY_ALGORITHMS: &[Algorithm] = &[
    Algorithm::Ed25519,
    Algorithm::Ecdsa {
        curve: EcdsaCurve::NistP256,
    },
    Algorithm::Ecdsa {
        curve: EcdsaCurve::NistP384,
    },
    Algorithm::Ecdsa {
        curve: EcdsaCurve::NistP521,
    },
    Algorithm::Rsa {
        hash: Some(HashAlg::Sha512),
    },
    Algorithm::Rsa {
        hash: Some(HashAlg::Sha256),
    },
];

impl Config {
    /// Checks values serde cannot.
    pub fn validate(&self) -> Result<(), String> {
        for c in &self.enabled_ssh_commands {
            if c != "*" && !SUPPORTED_COMMANDS.contains(&c.as_str()) {
                return Err(format!(
                    "sftpd.enabled_ssh_commands: unsupported command {c:?} (supported: {})",
                    SUPPORTED_COMMANDS.join(", ")
                ));
            }
        }
        for c in &self.ciphers {
            russh::cipher::Name::try_from(c.as_str())
                .map_err(|_| format!("sftpd.ciphers: unsupported cipher {c:?}"))?;
        }
        for k in &self.kex_algorithms {
            russh::kex::Name::try_from(k.as_str())
                .map_err(|_| format!("sftpd.kex_algorithms: unsupported algorithm {k:?}"))?;
        }
        for m in &self.macs {
            russh::mac::Name::try_from(m.as_str())
                .map_err(|_| format!("sftpd.macs: unsupported MAC {m:?}"))?;
        }
        if !(32_768..=262_144).contains(&self.channel_max_packet_size) {
            return Err(format!(
                "sftpd.channel_max_packet_size: {} is outside 32768..=262144",
                self.channel_max_packet_size
            ));
        }
        if !(65_536..=1 << 30).contains(&self.channel_window_size) {
            return Err(format!(
                "sftpd.channel_window_size: {} is outside 65536..=1073741824",
                self.channel_window_size
            ));
        }
        Ok(())
    }

    /// Whether `cmd` may run.
    pub fn command_enabled(&self, cmd: &str) -> bool {
        self.enabled_ssh_commands
            .iter()
            .any(|c| c == "*" || c == cmd)
    }

    /// The russh server configuration for these settings.
    pub fn russh_config(
        &self,
        keys: Vec<PrivateKey>,
        idle_timeout_minutes: u64,
        banner: Option<String>,
    ) -> russh::server::Config {
        let cipher = if self.ciphers.is_empty() {
            Cow::Borrowed(DEFAULT_CIPHERS)
        } else {
            Cow::Owned(
                self.ciphers
                    .iter()
                    .filter_map(|c| russh::cipher::Name::try_from(c.as_str()).ok())
                    .collect(),
            )
        };
        let mut preferred = russh::Preferred {
            cipher,
            key: Cow::Borrowed(KEY_ALGORITHMS),
            ..Default::default()
        };
        if !self.kex_algorithms.is_empty() {
            let mut kex: Vec<russh::kex::Name> = self
                .kex_algorithms
                .iter()
                .filter_map(|k| russh::kex::Name::try_from(k.as_str()).ok())
                .collect();
            kex.push(russh::kex::EXTENSION_SUPPORT_AS_SERVER);
            kex.push(russh::kex::EXTENSION_OPENSSH_STRICT_KEX_AS_SERVER);
            preferred.kex = Cow::Owned(kex);
        }
        if !self.macs.is_empty() {
            preferred.mac = Cow::Owned(
                self.macs
                    .iter()
                    .filter_map(|m| russh::mac::Name::try_from(m.as_str()).ok())
                    .collect(),
            );
        }
        let mut methods = russh::MethodSet::empty();
        methods.push(russh::MethodKind::PublicKey);
        if self.password_authentication {
            methods.push(russh::MethodKind::Password);
        }
        let _ = banner;
        russh::server::Config {
            server_id: russh::SshId::Standard(Cow::Owned(format!(
                "SSH-2.0-SFTPGo.rs_{}",
                env!("CARGO_PKG_VERSION")
            ))),
            methods,
            auth_rejection_time: Duration::from_millis(500),
            auth_rejection_time_initial: Some(Duration::from_millis(0)),
            keys,
            window_size: self.channel_window_size,
            maximum_packet_size: self.channel_max_packet_size,
            channel_buffer_size: 256,
            event_buffer_size: 64,
            preferred,
            max_auth_attempts: if self.max_auth_tries == 0 {
                6
            } else {
                self.max_auth_tries as usize
            },
            inactivity_timeout: (idle_timeout_minutes > 0)
                .then(|| Duration::from_secs(idle_timeout_minutes * 60)),
            keepalive_interval: None,
            nodelay: true,
            ..Default::default()
        }
    }
}
