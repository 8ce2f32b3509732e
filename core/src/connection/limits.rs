//! Transfer limits of a connection: the user's data-transfer quotas (how many bytes it
//! may upload and download, against counters kept in the data provider) and bandwidth
//! throttling of each transfer (the user's rates, or the `bandwidth_limits` entry that
//! matches the client's address).

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Connection, TransferKind};
use crate::usage::{QuotaTracker, TrackQuota};
use crate::{Error, ErrorKind, Result};

/// The limits one transfer runs under.
pub(super) struct TransferLimits {
    /// Bytes the transfer may move (`u64::MAX`: no data-transfer quota).
    pub budget: u64,
    /// Bytes per second (0: unthrottled).
    pub rate: u64,
    /// Where the bytes moved are recorded when the transfer ends.
    pub counter: Option<(Arc<QuotaTracker>, String)>,
}

impl TransferLimits {
    /// No quota, no throttling, nothing recorded (the server's own copies and moves).
    pub fn none() -> Self {
        Self {
            budget: u64::MAX,
            rate: 0,
            counter: None,
        }
    }

    /// True when every byte must pass through the transfer's own read path (no
    /// zero-copy send), so it can be counted against the budget and throttled.
    pub fn constrained(&self) -> bool {
        self.budget != u64::MAX || self.rate != 0
    }

    /// Sleeps until `moved` bytes since `started` fit the rate.
    pub async fn throttle(&self, moved: u64, started: Instant) {
        if self.rate == 0 {
            return;
        }
        let wanted = Duration::from_secs_f64(moved as f64 / self.rate as f64);
        let elapsed = started.elapsed();
        if wanted > elapsed {
            tokio::time::sleep(wanted - elapsed).await;
        }
    }

    /// Records `moved` bytes in the user's data-transfer counters.
    pub async fn record(&self, kind: TransferKind, moved: u64) {
        if let Some((tracker, user)) = &self.counter {
            let (up, down) = split(kind, moved);
            tracker.add_transfer(user, up, down).await;
        }
    }

    /// [`Self::record`] from a destructor, on the current runtime.
    pub fn record_detached(&self, kind: TransferKind, moved: u64) {
        if let (Some((tracker, user)), Ok(rt)) =
            (&self.counter, tokio::runtime::Handle::try_current())
        {
            let (tracker, user) = (tracker.clone(), user.clone());
            let (up, down) = split(kind, moved);
            rt.spawn(async move { tracker.add_transfer(&user, up, down).await });
        }
    }
}

fn split(kind: TransferKind, moved: u64) -> (u64, u64) {
    match kind {
        TransferKind::Upload => (moved, 0),
        TransferKind::Download => (0, moved),
    }
}

/// The error of a transfer over the user's data-transfer quota.
pub(super) fn transfer_quota_exceeded(kind: TransferKind) -> Error {
    let what = match kind {
        TransferKind::Upload => "upload",
        TransferKind::Download => "download",
    };
    Error::new(
        ErrorKind::QuotaExceeded,
        format!("quota exceeded: the {what} data transfer limit is reached"),
    )
}

impl Connection {
    /// The limits a new transfer of `kind` runs under; refused when the user's
    /// data-transfer quota for it is used up. As SFTPGo, a total limit replaces the
    /// per-direction ones.
    pub(super) async fn transfer_limits(&self, kind: TransferKind) -> Result<TransferLimits> {
        let ip = self
            .remote
            .parse::<std::net::SocketAddr>()
            .map(|a| a.ip())
            .or_else(|_| self.remote.parse::<std::net::IpAddr>())
            .ok();
        let (up_kib, down_kib) = self.user.bandwidth_for(ip);
        let kib = match kind {
            TransferKind::Upload => up_kib,
            TransferKind::Download => down_kib,
        };
        let mut limits = TransferLimits {
            budget: u64::MAX,
            rate: u64::try_from(kib).unwrap_or(0).saturating_mul(1024),
            counter: None,
        };
        let Some(tracker) = &self.quota else {
            return Ok(limits);
        };
        let (up, down, total) = self.user.data_transfer_limits();
        let restricted = up > 0 || down > 0 || total > 0;
        let tracked = match tracker.mode() {
            TrackQuota::Off => false,
            TrackQuota::All => true,
            TrackQuota::Restricted => restricted,
        };
        if tracked {
            limits.counter = Some((tracker.clone(), self.user.username.clone()));
        }
        let own = match kind {
            TransferKind::Upload => up,
            TransferKind::Download => down,
        };
        if total == 0 && own == 0 {
            return Ok(limits);
        }
        let (used_up, used_down) = tracker.transfer_usage(&self.user.username).await?;
        let left = if total > 0 {
            total.saturating_sub(used_up.saturating_add(used_down))
        } else {
            own.saturating_sub(match kind {
                TransferKind::Upload => used_up,
                TransferKind::Download => used_down,
            })
        };
        if left == 0 {
            return Err(transfer_quota_exceeded(kind));
        }
        limits.budget = left;
        Ok(limits)
    }
}
