//! Quota usage tracking: the used-size and used-files counters of users and virtual
//! folders that uploads, deletes, truncations and moves change, and the reads the
//! checks before a write need (`data_provider.track_quota`).
//!
//! Counters are plain software accounting, as in SFTPGo: files changed behind the
//! server's back are only seen by a quota scan.

use std::sync::Arc;

use crate::catalog::Catalog;
use crate::store::{Counter, Kind};

/// `data_provider.track_quota`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TrackQuota {
    /// 0: no tracking and no quota checks.
    Off,
    /// 1: every user and folder is tracked.
    All,
    /// 2: only users and folders with quota limits are tracked (SFTPGo's default).
    #[default]
    Restricted,
}

impl TryFrom<i64> for TrackQuota {
    type Error = String;
    fn try_from(v: i64) -> Result<Self, String> {
        match v {
            0 => Ok(Self::Off),
            1 => Ok(Self::All),
            2 => Ok(Self::Restricted),
            _ => Err(format!("track_quota: {v} is not 0, 1 or 2")),
        }
    }
}

/// Reads and changes usage counters for connections.
pub struct QuotaTracker {
    catalog: Arc<Catalog>,
    mode: TrackQuota,
}

impl QuotaTracker {
    /// Tracks usage in `catalog` as `mode` says.
    pub fn new(catalog: Arc<Catalog>, mode: TrackQuota) -> Self {
        Self { catalog, mode }
    }

    /// The tracking mode.
    pub fn mode(&self) -> TrackQuota {
        self.mode
    }

    /// Used `(bytes, files)` of a user or folder; a missing object counts as empty.
    pub async fn usage(&self, kind: Kind, key: &str) -> crate::Result<(i64, i64)> {
        let counters = self.catalog.counters(kind, key).await?;
        Ok(counters.map_or((0, 0), |c| {
            (c[Counter::Usage as usize], c[Counter::Files as usize])
        }))
    }

    /// Adds `size` bytes and `files` files to each of `targets`. Failures are logged:
    /// the file operation they follow has already happened.
    pub async fn add(&self, targets: &[(Kind, String)], size: i64, files: i64) {
        if size == 0 && files == 0 {
            return;
        }
        for (kind, key) in targets {
            if let Err(e) = self.catalog.add_quota(*kind, key, size, files).await {
                tracing::warn!(kind = kind.label(), name = %key, size, files, error = %e,
                    "cannot update the used quota");
            }
        }
    }
}

impl QuotaTracker {
    /// Bytes a user has uploaded and downloaded, `(up, down)`, as its data-transfer
    /// counters hold them.
    pub async fn transfer_usage(&self, username: &str) -> crate::Result<(u64, u64)> {
        let counters = self.catalog.counters(Kind::User, username).await?;
        let get = |c: &[i64; crate::store::COUNTERS], slot: Counter| {
            u64::try_from(c[slot as usize]).unwrap_or(0)
        };
        Ok(counters.map_or((0, 0), |c| {
            (
                get(&c, Counter::UploadTransfer),
                get(&c, Counter::DownloadTransfer),
            )
        }))
    }

    /// Adds transferred bytes to a user's data-transfer counters; failures are logged.
    pub async fn add_transfer(&self, username: &str, up: u64, down: u64) {
        if up == 0 && down == 0 {
            return;
        }
        let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        if let Err(e) = self.catalog.add_transfer(username, n(up), n(down)).await {
            tracing::warn!(username = %username, up, down, error = %e,
                "cannot update the data transfer counters");
        }
    }
}

/// The counters one change is charged to, with the tracker that updates them.
#[derive(Clone)]
pub struct Charge {
    tracker: Arc<QuotaTracker>,
    targets: Vec<(Kind, String)>,
}

impl Charge {
    /// A charge to `targets` (nothing when empty).
    pub fn new(tracker: Arc<QuotaTracker>, targets: Vec<(Kind, String)>) -> Option<Self> {
        (!targets.is_empty()).then_some(Self { tracker, targets })
    }

    /// Adds `size` bytes and `files` files.
    pub async fn apply(&self, size: i64, files: i64) {
        self.tracker.add(&self.targets, size, files).await;
    }

    /// Adds later, on the current runtime (from a destructor).
    pub fn apply_detached(&self, size: i64, files: i64) {
        if size == 0 && files == 0 {
            return;
        }
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let me = self.clone();
            rt.spawn(async move { me.apply(size, files).await });
        }
    }
}
