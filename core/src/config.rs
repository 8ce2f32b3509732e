//! The `common` configuration section (the part this server acts on so far).

use serde::{Deserialize, Serialize};

/// How uploads reach their final name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(try_from = "u8", into = "u8")]
pub enum UploadMode {
    /// 0: write straight to the target file.
    #[default]
    Standard,
    /// 1: write to a temporary name, rename on successful close.
    Atomic,
    /// 2: like atomic, but a failed upload is kept under the target name to be resumed.
    AtomicWithResume,
}

impl TryFrom<u8> for UploadMode {
    type Error = String;
    fn try_from(v: u8) -> Result<Self, String> {
        match v {
            0 => Ok(Self::Standard),
            1 => Ok(Self::Atomic),
            2 => Ok(Self::AtomicWithResume),
            _ => Err(format!("invalid upload_mode {v}: must be 0, 1 or 2")),
        }
    }
}

impl From<UploadMode> for u8 {
    fn from(m: UploadMode) -> u8 {
        match m {
            UploadMode::Standard => 0,
            UploadMode::Atomic => 1,
            UploadMode::AtomicWithResume => 2,
        }
    }
}

/// Default `common.busy_poll_us`: longer than a local client's turn between two
/// requests (about 50–80 µs measured on a 2-core VM).
pub const DEFAULT_BUSY_POLL_US: u64 = 100;
/// Largest `common.busy_poll_us`.
pub const MAX_BUSY_POLL_US: u64 = 10_000;

/// `common` section.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CommonConfig {
    /// Minutes of inactivity before a session is closed (0 = never).
    pub idle_timeout: u64,
    /// Upload mode: 0 direct, 1 atomic, 2 atomic with resume.
    pub upload_mode: UploadMode,
    /// Maximum concurrent client connections over all protocols (0 = unlimited).
    pub max_total_connections: u32,
    /// Maximum concurrent client connections from one IP address (0 = unlimited).
    pub max_per_host_connections: u32,
    /// Brute-force protection.
    pub defender: crate::defender::DefenderConfig,
    /// HAProxy PROXY protocol on SSH and FTP: 0 off, 1 a header is used when sent by
    /// an allowed proxy (and dropped when sent by anyone else), 2 a header is required
    /// from allowed proxies and every other source is refused.
    pub proxy_protocol: u8,
    /// Addresses or networks allowed to send a PROXY header.
    pub proxy_allowed: Vec<String>,
    /// Addresses or networks whose connections are taken as they are, never looking
    /// for a header (health checks).
    pub proxy_skipped: Vec<String>,
    /// The Event Manager's settings.
    pub event_manager: crate::events::EventManagerConfig,
    /// 1: only addresses in the allow list (IP list type 1) may connect, on every
    /// protocol; 0: the list is not consulted.
    pub allowlist_status: u8,
    /// Token-bucket rate limiters (SFTPGo's default: one, off).
    pub rate_limiters: Vec<crate::ratelimit::RateLimiterConfig>,
    /// Microseconds a worker with nothing to run spins on the sockets of connections
    /// in the middle of a request/reply exchange before it sleeps (0 = never). Not an
    /// SFTPGo key.
    pub busy_poll_us: u64,
}

impl CommonConfig {
    /// `idle_timeout` as a duration; `None` when sessions never time out.
    pub fn idle_limit(&self) -> Option<std::time::Duration> {
        (self.idle_timeout > 0).then(|| std::time::Duration::from_secs(self.idle_timeout * 60))
    }

    /// Checks the values serde cannot.
    pub fn validate(&self) -> Result<(), String> {
        if self.proxy_protocol > 2 {
            return Err("common.proxy_protocol: must be 0, 1 or 2".into());
        }
        if self.busy_poll_us > MAX_BUSY_POLL_US {
            return Err(format!(
                "common.busy_poll_us: at most {MAX_BUSY_POLL_US} (a worker spinning longer only burns CPU)"
            ));
        }
        if self.allowlist_status > 1 {
            return Err("common.allowlist_status: must be 0 or 1".into());
        }
        for (i, l) in self.rate_limiters.iter().enumerate() {
            l.validate(&format!("common.rate_limiters[{i}]"))?;
        }
        for (key, list) in [
            ("proxy_allowed", &self.proxy_allowed),
            ("proxy_skipped", &self.proxy_skipped),
        ] {
            for entry in list {
                crate::model::ip_list::parse_cidr(entry)
                    .map_err(|e| format!("common.{key}: {e}"))?;
            }
        }
        self.event_manager.validate()?;
        self.defender.validate()
    }
}

impl Default for CommonConfig {
    fn default() -> Self {
        Self {
            idle_timeout: 15,
            upload_mode: UploadMode::Standard,
            max_total_connections: 0,
            max_per_host_connections: 20,
            defender: crate::defender::DefenderConfig::default(),
            proxy_protocol: 0,
            proxy_allowed: Vec::new(),
            proxy_skipped: Vec::new(),
            event_manager: crate::events::EventManagerConfig::default(),
            allowlist_status: 0,
            rate_limiters: vec![crate::ratelimit::RateLimiterConfig::default()],
            busy_poll_us: DEFAULT_BUSY_POLL_US,
        }
    }
}
