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
}

impl Default for CommonConfig {
    fn default() -> Self {
        Self {
            idle_timeout: 15,
            upload_mode: UploadMode::Standard,
            max_total_connections: 0,
            max_per_host_connections: 20,
            defender: crate::defender::DefenderConfig::default(),
        }
    }
}
