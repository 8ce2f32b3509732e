//! Quota usage tracking: the used-size and used-files counters of users and virtual
//! folders that uploads, deletes, truncations and moves change, and the reads the
//! checks before a write need (`data_provider.track_quota`).
//!
//! Counters are plain software accounting, as in SFTPGo: files changed behind the
//! server's back are only seen by a quota scan.
//!
//! Uploads still running are counted too ([`Reservation`]): the bytes they have added
//! and the files they will create count against the limits of every other write, so
//! concurrent uploads cannot each take the whole room left.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

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

/// A user's or folder's usage as this server knows it.
#[derive(Debug, Default, Clone, Copy)]
struct Ledger {
    /// The stored counters as last read, plus this server's changes since.
    stored: (i64, i64),
    /// Bytes added and files about to be created by uploads still running.
    running: (i64, i64),
}

/// One ledger, shared by the tracker and the reservations against it, so a running
/// upload updates its ledger without looking it up (no map lookup or key copy per
/// write, and no lock shared by every user).
type LedgerCell = Arc<Mutex<Ledger>>;

fn lock(cell: &Mutex<Ledger>) -> std::sync::MutexGuard<'_, Ledger> {
    cell.lock().unwrap_or_else(|e| e.into_inner())
}

/// Reads and changes usage counters for connections.
pub struct QuotaTracker {
    catalog: Arc<Catalog>,
    mode: TrackQuota,
    ledgers: Mutex<HashMap<(Kind, String), LedgerCell>>,
}

impl QuotaTracker {
    /// Tracks usage in `catalog` as `mode` says.
    pub fn new(catalog: Arc<Catalog>, mode: TrackQuota) -> Self {
        Self {
            catalog,
            mode,
            ledgers: Mutex::new(HashMap::new()),
        }
    }

    /// The ledger of `(kind, key)`, made on first use.
    fn ledger(&self, kind: Kind, key: &str) -> LedgerCell {
        let mut ledgers = self.ledgers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(cell) = ledgers.get(&(kind, key.to_string())) {
            return cell.clone();
        }
        let cell = LedgerCell::default();
        ledgers.insert((kind, key.to_string()), cell.clone());
        cell
    }

    /// The ledger of `(kind, key)` if one was made.
    fn existing_ledger(&self, kind: Kind, key: &str) -> Option<LedgerCell> {
        let ledgers = self.ledgers.lock().unwrap_or_else(|e| e.into_inner());
        ledgers.get(&(kind, key.to_string())).cloned()
    }

    /// The tracking mode.
    pub fn mode(&self) -> TrackQuota {
        self.mode
    }

    /// Used `(bytes, files)` of a user or folder, running uploads included; a missing
    /// object counts as empty.
    pub async fn usage(&self, kind: Kind, key: &str) -> crate::Result<(i64, i64)> {
        let counters = self.catalog.counters(kind, key).await?;
        let stored = counters.map_or((0, 0), |c| {
            (c[Counter::Usage as usize], c[Counter::Files as usize])
        });
        let cell = self.ledger(kind, key);
        let mut l = lock(&cell);
        l.stored = stored;
        Ok((stored.0 + l.running.0, stored.1 + l.running.1))
    }

    /// Holds `files` new files against `(kind, key)` until the returned reservation
    /// is dropped; the upload's bytes are added with [`Reservation::grow`] against a
    /// `limit` in bytes (0 or less: none).
    pub fn reserve(self: &Arc<Self>, kind: Kind, key: &str, files: i64, limit: i64) -> Reservation {
        let ledger = self.ledger(kind, key);
        lock(&ledger).running.1 += files;
        Reservation {
            ledger,
            files,
            limit,
            bytes: AtomicI64::new(0),
        }
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
            if let Some(cell) = self.existing_ledger(*kind, key) {
                let mut l = lock(&cell);
                l.stored.0 += size;
                l.stored.1 += files;
            }
        }
    }
}

/// An upload's share of a running total: the files it will create and the bytes it
/// has added, released when it is dropped (after the upload's charge is written).
pub struct Reservation {
    ledger: LedgerCell,
    files: i64,
    limit: i64,
    bytes: AtomicI64,
}

impl Reservation {
    /// Records that the upload now adds `total` bytes; false (and nothing recorded)
    /// when that would take the usage past the limit.
    pub fn grow(&self, total: i64) -> bool {
        // Rewrites and sequential writes below the mark need no lock.
        if total <= self.bytes.load(Ordering::Acquire) {
            return true;
        }
        let mut l = lock(&self.ledger);
        let before = self.bytes.load(Ordering::Acquire);
        if total <= before {
            return true;
        }
        let delta = total - before;
        if self.limit > 0 && l.stored.0 + l.running.0 + delta > self.limit {
            return false;
        }
        l.running.0 += delta;
        self.bytes.store(total, Ordering::Release);
        true
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let bytes = self.bytes.load(Ordering::Acquire);
        let mut l = lock(&self.ledger);
        l.running.0 -= bytes;
        l.running.1 -= self.files;
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

    /// Records the first upload (or download) of `username` now, if none is recorded:
    /// true when this call recorded it. Each call stamps a value no other call of
    /// this process uses, so of two racing transfers only one sees its own.
    pub async fn mark_first(&self, username: &str, upload: bool) -> bool {
        static LAST: AtomicI64 = AtomicI64::new(0);
        let now = crate::now_millis();
        let stamp = LAST
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |last| {
                Some(now.max(last + 1))
            })
            .map_or(now, |last| now.max(last + 1));
        let slot = if upload {
            Counter::FirstUpload
        } else {
            Counter::FirstDownload
        };
        let set = self
            .catalog
            .update_counters(
                Kind::User,
                username,
                &[(slot, crate::store::CounterOp::SetIfZero(stamp))],
            )
            .await;
        if set.is_err() {
            return false;
        }
        matches!(self.catalog.counters(Kind::User, username).await,
            Ok(Some(c)) if c[slot as usize] == stamp)
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
