//! File transfers: opening for download/upload under the upload mode, byte accounting,
//! size and quota limits, and the final rename, quota charge and log when a transfer
//! ends.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use sftpgo_vfs::{FileHandle, FileInfo, FileKind, Fs, FsErrorKind, OpenOptions, SetAttrs};

use super::limits::{TransferLimits, transfer_quota_exceeded};
use super::{Connection, TEMP_UPLOAD_PREFIX};
use crate::config::UploadMode;
use crate::model::Permission;
use crate::path::VirtualPath;
use crate::usage::{Charge, Reservation};
use crate::{Error, ErrorKind, Result};

/// Direction of a transfer, as named in transfer logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferKind {
    /// Server to client.
    Download,
    /// Client to server.
    Upload,
}

/// How the client wants to open a file for writing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteOptions {
    /// Also readable.
    pub read: bool,
    /// Truncate an existing file.
    pub truncate: bool,
    /// Writes go to the end.
    pub append: bool,
    /// Fail if the file exists.
    pub exclusive: bool,
    /// Permission bits for a new file (0 = default).
    pub mode: u32,
    /// Create the file when missing (otherwise a missing file is an error).
    pub create: bool,
}

/// Where an atomic upload is written before it gets its final name.
#[derive(Debug)]
pub(super) struct Staging {
    temp: String,
    target: String,
    keep_on_error: bool,
}

/// What an upload changes in the usage counters when it ends.
struct QuotaState {
    charge: Charge,
    /// Bytes of the target already counted (its size before the upload).
    counted: u64,
    /// The target did not exist: the upload adds a file.
    new_file: bool,
    /// The file's size as writes and truncations leave it.
    size: AtomicU64,
    /// The upload's share of the running total its limits are checked against.
    reservation: Mutex<Option<Reservation>>,
}

impl QuotaState {
    /// Records that the file will be `size` bytes; false when that passes the quota
    /// with every other running upload counted.
    fn grow_to(&self, size: u64) -> bool {
        let reservation = self.reservation.lock().unwrap_or_else(|e| e.into_inner());
        let Some(r) = reservation.as_ref() else {
            return true;
        };
        let size = size.max(self.size.load(Ordering::Relaxed));
        let growth = i64::try_from(size.saturating_sub(self.counted)).unwrap_or(i64::MAX);
        r.grow(growth)
    }

    /// Ends the upload's share of the running total (its charge is written by then).
    fn release(&self) {
        self.reservation
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
    }
}

/// An open file of a connection. Safe to use from several in-flight requests.
pub struct Transfer {
    file: Box<dyn FileHandle>,
    fs: Arc<dyn Fs>,
    /// The file's path on `fs` (its final name for staged uploads).
    rel: String,
    kind: TransferKind,
    path: VirtualPath,
    connection_id: String,
    protocol: &'static str,
    username: String,
    bytes: AtomicU64,
    /// Largest size the file may reach (upload size limit and quota).
    max_size: u64,
    quota: Option<QuotaState>,
    limits: TransferLimits,
    started: Instant,
    staging: Mutex<Option<Staging>>,
    finished: std::sync::atomic::AtomicBool,
    /// The first write error: the upload is incomplete, so closing it aborts it.
    failed: Mutex<Option<Error>>,
    /// Where its `upload`/`download` event goes (client transfers with rules only).
    events: Option<Arc<super::events::EventHook>>,
    /// For client transfers: the session's "first upload/download recorded" flags and
    /// where to record it.
    first: Option<(Arc<super::FirstTransfers>, Arc<crate::usage::QuotaTracker>)>,
}

impl Connection {
    /// Opens `p` for download. Needs `download` on the parent.
    pub async fn open_read(&self, p: &VirtualPath) -> Result<Transfer> {
        self.open_read_for(p, true).await
    }

    /// Opens `p` for a request that only looks at the file without sending its bytes
    /// (a WebDAV HEAD): needs `download` like [`Self::open_read`], but is no client
    /// download (no `pre-download` event, no transfer limits, no `download` event).
    pub async fn open_read_quiet(&self, p: &VirtualPath) -> Result<Transfer> {
        self.open_read_for(p, false).await
    }

    /// Opens `p` for reading; a `client` transfer runs under the user's transfer
    /// limits, the server's own reads (copies, digests) do not.
    pub(super) async fn open_read_for(&self, p: &VirtualPath, client: bool) -> Result<Transfer> {
        self.require(Permission::Download, &p.parent())?;
        self.require_name(p)?;
        let opts = OpenOptions {
            read: true,
            ..Default::default()
        };
        let limits = if client {
            self.pre_event("pre-download", p, None).await?;
            self.transfer_limits(TransferKind::Download).await?
        } else {
            TransferLimits::none()
        };
        let route = self.storage.route(p);
        let file = route.fs.open(route.rel, &opts).await?;
        let mut t = self.transfer(
            file,
            route.fs.clone(),
            TransferKind::Download,
            p.clone(),
            (None, limits),
        );
        if client {
            self.client_transfer(&mut t);
        }
        Ok(t)
    }

    /// Marks `t` as a client transfer: its end raises an event and records the
    /// account's first upload or download.
    fn client_transfer(&self, t: &mut Transfer) {
        t.events = self.events.clone();
        t.first = self.quota.clone().map(|q| (self.first_done.clone(), q));
    }

    /// Opens `p` for upload. Needs `upload` on the parent for a new file, `overwrite` for
    /// an existing one. With upload modes 1/2 a truncating upload goes to a temporary
    /// name and is renamed into place when the transfer closes cleanly.
    pub async fn open_write(&self, p: &VirtualPath, opts: WriteOptions) -> Result<Transfer> {
        self.open_write_for(p, opts, true).await
    }

    /// [`Self::open_write`]; a `client` transfer runs under the user's transfer
    /// limits, the server's own copies do not.
    pub(super) async fn open_write_for(
        &self,
        p: &VirtualPath,
        opts: WriteOptions,
        client: bool,
    ) -> Result<Transfer> {
        if p.is_root() {
            return Err(Error::new(ErrorKind::Conflict, "is a directory"));
        }
        if self.storage.covers_mount(p) {
            return Err(Error::new(ErrorKind::Conflict, "is a directory"));
        }
        let dir = p.parent();
        self.require_name(p)?;
        let route = self.storage.route(p);
        let existing = match route.fs.stat(route.rel).await {
            Ok(info) => Some(info),
            Err(e) if e.kind == FsErrorKind::NotFound => None,
            Err(e) => return Err(e.into()),
        };
        match &existing {
            Some(info) if info.is_dir() => {
                return Err(Error::new(ErrorKind::Conflict, "is a directory"));
            }
            Some(_) if opts.exclusive => {
                return Err(Error::new(ErrorKind::AlreadyExists, "file already exists"));
            }
            Some(_) => self.require(Permission::Overwrite, &dir)?,
            None if !opts.create => return Err(Error::not_found()),
            None => self.require(Permission::Upload, &dir)?,
        }
        let limits = if client {
            self.pre_event("pre-upload", p, Some(0)).await?;
            Some(self.transfer_limits(TransferKind::Upload).await?)
        } else {
            None
        };
        let mut t = self
            .open_write_unchecked(p, opts, existing.as_ref(), limits)
            .await?;
        if client {
            self.client_transfer(&mut t);
        }
        Ok(t)
    }

    /// Opens `p` for upload once permissions are settled (`existing`: what `p` is
    /// now, `limits`: the transfer limits it runs under): picks the upload mode, checks
    /// the disk quota and opens the file.
    pub(super) async fn open_write_unchecked(
        &self,
        p: &VirtualPath,
        opts: WriteOptions,
        existing: Option<&FileInfo>,
        limits: Option<TransferLimits>,
    ) -> Result<Transfer> {
        let dir = p.parent();
        let route = self.storage.route(p);
        // The server's own copies always stage, and leave nothing behind on failure.
        let mode = if limits.is_some() {
            self.upload_mode
        } else {
            UploadMode::Atomic
        };
        let atomic = mode != UploadMode::Standard
            && (existing.is_none() || opts.truncate)
            && !opts.append
            && !opts.read;
        // What the upload replaces: a staged upload takes the place of the entry itself
        // (a symlink is replaced, not followed); an in-place write changes the file the
        // path leads to. Only a regular file's bytes are counted already.
        let replaced = if atomic && existing.is_some() {
            route.fs.lstat(route.rel).await.ok()
        } else {
            existing.cloned()
        };
        let regular = replaced.filter(|i| i.kind == FileKind::File);
        let new_file = regular.is_none();
        let counted = regular.map_or(0, |i| i.size);
        let (room, reservation) = self.upload_room(route.mount, new_file).await?;
        let mut vopts = OpenOptions {
            read: opts.read,
            write: true,
            append: opts.append,
            create: true,
            exclusive: opts.exclusive,
            truncate: opts.truncate,
            mode: opts.mode,
        };
        let (file, staging) = if atomic {
            let mut rnd = [0u8; 8];
            rand::fill(&mut rnd);
            let temp_name = format!("{TEMP_UPLOAD_PREFIX}{}.{}", hex::encode(rnd), p.name());
            let temp = dir.join(&temp_name)?;
            vopts.exclusive = true;
            vopts.truncate = true;
            let temp_route = self.storage.route(&temp);
            let file = route.fs.open(temp_route.rel, &vopts).await?;
            let staging = Staging {
                temp: temp_route.rel.to_string(),
                target: route.rel.to_string(),
                keep_on_error: mode == UploadMode::AtomicWithResume,
            };
            (file, Some(staging))
        } else {
            (route.fs.open(route.rel, &vopts).await?, None)
        };
        // The size the file starts from: empty unless written in place without
        // truncation (append, resume, random access).
        let start_size = if atomic || opts.truncate { 0 } else { counted };
        let mut t = self.transfer(
            file,
            route.fs.clone(),
            TransferKind::Upload,
            p.clone(),
            (staging, limits.unwrap_or_else(TransferLimits::none)),
        );
        if let Some(room) = room {
            // The target's own bytes are released when it is replaced or rewritten.
            t.max_size = t.max_size.min(counted.saturating_add(room));
        }
        t.quota = self.charge(route.mount).map(|charge| QuotaState {
            charge,
            counted,
            new_file,
            size: AtomicU64::new(start_size),
            reservation: Mutex::new(reservation),
        });
        Ok(t)
    }

    /// A transfer of `file`, with its atomic-upload staging and limits.
    pub(super) fn transfer(
        &self,
        file: Box<dyn FileHandle>,
        fs: Arc<dyn Fs>,
        kind: TransferKind,
        path: VirtualPath,
        (staging, limits): (Option<Staging>, TransferLimits),
    ) -> Transfer {
        let max = self.user.filters.max_upload_file_size;
        let rel = self.storage.route(&path).rel.to_string();
        Transfer {
            file,
            fs,
            rel,
            kind,
            path,
            connection_id: self.id.clone(),
            protocol: self.protocol,
            username: self.user.username.clone(),
            bytes: AtomicU64::new(0),
            max_size: if kind == TransferKind::Upload && max > 0 {
                u64::try_from(max).unwrap_or(u64::MAX)
            } else {
                u64::MAX
            },
            quota: None,
            limits,
            started: Instant::now(),
            staging: Mutex::new(staging),
            finished: std::sync::atomic::AtomicBool::new(false),
            failed: Mutex::new(None),
            events: None,
            first: None,
        }
    }
}

/// Copy buffer of the server's own copies and moves.
const COPY_CHUNK: usize = 256 * 1024;

/// Copies every byte of `from` into `to` at the same offsets.
pub(super) async fn copy_data(from: &Transfer, to: &Transfer) -> Result<()> {
    let mut buf = vec![0u8; COPY_CHUNK];
    let mut off = 0u64;
    loop {
        let n = from.read_at(&mut buf, off).await?;
        if n == 0 {
            return Ok(());
        }
        to.write_at(buf.get(..n).unwrap_or_default(), off).await?;
        off += n as u64;
    }
}

impl Transfer {
    /// The virtual path being transferred.
    pub fn path(&self) -> &VirtualPath {
        &self.path
    }

    /// Upload or download.
    pub fn kind(&self) -> TransferKind {
        self.kind
    }

    /// Reads at `offset`; fills `buf` unless end of file comes first.
    pub async fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<usize> {
        let n = self.file.read_at(buf, offset).await?;
        let moved = self.bytes.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
        if moved > self.limits.budget {
            return Err(self.fail(transfer_quota_exceeded(self.kind)));
        }
        self.limits.throttle(moved, self.started).await;
        Ok(n)
    }

    /// For downloads: the descriptor a zero-copy send can read `len` bytes at `offset`
    /// from without blocking (see [`sftpgo_vfs::FileHandle::zero_copy_source`]). The
    /// caller reports what it sent with [`Transfer::record_sent`].
    pub fn zero_copy_source(&self, offset: u64, len: usize) -> Option<std::os::fd::BorrowedFd<'_>> {
        if self.kind != TransferKind::Download || self.limits.constrained() {
            return None;
        }
        self.file.zero_copy_source(offset, len)
    }

    /// Whether writes are memory copies on the calling thread (see
    /// [`sftpgo_vfs::FileHandle::writes_inline`]).
    pub fn writes_inline(&self) -> bool {
        self.file.writes_inline()
    }

    /// Counts bytes sent outside [`Transfer::read_at`] (zero-copy sends).
    pub fn record_sent(&self, n: u64) {
        self.bytes.fetch_add(n, Ordering::Relaxed);
    }

    /// For uploads: the descriptor a zero-copy receive may write at `offset` to (see
    /// [`sftpgo_vfs::FileHandle::zero_copy_sink`]) and how many bytes, at most `len`,
    /// it may write there within the upload size limit and the quota. `None` when the
    /// caller must use [`Transfer::write_at`]: limits that count every write, no room
    /// left (so `write_at` reports the refusal), or storage that cannot take it. The
    /// caller reports the outcome with [`Transfer::record_received`].
    pub fn zero_copy_sink(
        &self,
        offset: u64,
        len: usize,
    ) -> Option<(std::os::fd::BorrowedFd<'_>, usize)> {
        if self.kind != TransferKind::Upload || self.limits.constrained() {
            return None;
        }
        let fd = self.file.zero_copy_sink()?;
        let room = self.max_size.saturating_sub(offset);
        let len = len.min(usize::try_from(room).unwrap_or(usize::MAX));
        if len == 0 {
            return None;
        }
        if let Some(q) = &self.quota
            && !q.grow_to(offset.saturating_add(len as u64))
        {
            return None;
        }
        Some((fd, len))
    }

    /// Counts what a zero-copy receive wrote at `offset`; a failed write makes the
    /// upload incomplete, as a failed [`Transfer::write_at`] does.
    pub fn record_received(&self, offset: u64, written: std::io::Result<usize>) -> Result<usize> {
        let n = written.map_err(|e| self.fail(sftpgo_vfs::FsError::from(e).into()))?;
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
        if let Some(q) = &self.quota {
            q.size.fetch_max(offset + n as u64, Ordering::Relaxed);
        }
        Ok(n)
    }

    /// Writes `data` at `offset`, refusing to grow past the user's upload size or
    /// quota limit. After a failed write the upload is incomplete: closing it aborts it
    /// and reports the failure.
    pub async fn write_at(&self, data: &[u8], offset: u64) -> Result<()> {
        if self.kind != TransferKind::Upload {
            return Err(Error::denied());
        }
        let end = offset.saturating_add(data.len() as u64);
        if end > self.max_size {
            return Err(self.fail(Error::new(
                ErrorKind::QuotaExceeded,
                "quota exceeded: the file would pass the user's upload size or quota limit",
            )));
        }
        let moved = self.bytes.load(Ordering::Relaxed) + data.len() as u64;
        if moved > self.limits.budget {
            return Err(self.fail(transfer_quota_exceeded(self.kind)));
        }
        if let Some(q) = &self.quota
            && !q.grow_to(end)
        {
            return Err(self.fail(Error::new(
                ErrorKind::QuotaExceeded,
                "quota exceeded: the file would pass the quota with the uploads running",
            )));
        }
        if let Err(e) = self.file.write_at(data, offset).await {
            return Err(self.fail(e.into()));
        }
        let moved = self.bytes.fetch_add(data.len() as u64, Ordering::Relaxed) + data.len() as u64;
        if let Some(q) = &self.quota {
            q.size.fetch_max(end, Ordering::Relaxed);
        }
        self.limits.throttle(moved, self.started).await;
        Ok(())
    }

    /// Attributes of the open file.
    pub async fn stat(&self) -> Result<FileInfo> {
        Ok(self.file.stat().await?)
    }

    /// Changes attributes of the open file (size only for uploads).
    pub async fn set_attrs(&self, attrs: &SetAttrs) -> Result<()> {
        if let Some(size) = attrs.size {
            if self.kind != TransferKind::Upload {
                return Err(Error::denied());
            }
            if size > self.max_size || self.quota.as_ref().is_some_and(|q| !q.grow_to(size)) {
                return Err(Error::new(
                    ErrorKind::QuotaExceeded,
                    "quota exceeded: the file would pass the user's upload size or quota limit",
                ));
            }
        }
        self.file.set_attrs(attrs).await?;
        if let (Some(size), Some(q)) = (attrs.size, &self.quota) {
            q.size.store(size, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Flushes to stable storage.
    pub async fn sync(&self) -> Result<()> {
        Ok(self.file.sync().await?)
    }

    /// Remembers the first write failure and returns `e`.
    fn fail(&self, e: Error) -> Error {
        let mut failed = self.failed.lock().unwrap_or_else(|p| p.into_inner());
        if failed.is_none() {
            *failed = Some(e.clone());
        }
        e
    }

    /// Ends the transfer cleanly: an atomic upload is synced and renamed into place.
    /// An upload whose write failed is aborted instead, and the failure returned.
    /// Calling it again is a no-op.
    pub async fn close(&self) -> Result<()> {
        let failed = self
            .failed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(e) = failed {
            self.abort().await;
            return Err(e);
        }
        if self.finished.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let staging = self.take_staging();
        let mut result = Ok(());
        if let Some(s) = staging {
            result = self.commit(&s).await;
            if result.is_err() {
                let _ = self.fs.remove_file(&s.temp).await;
            }
        }
        if result.is_ok() {
            self.charge_quota().await;
        }
        self.limits
            .record(self.kind, self.bytes.load(Ordering::Relaxed))
            .await;
        self.log(result.is_ok());
        if let Some(refused) = self.announce(&result).await {
            return Err(refused);
        }
        result
    }

    /// The event of the ended transfer (`upload` or `download`, with its outcome). A
    /// synchronous action refusing a completed upload removes the file, as SFTPGo
    /// does; the refusal is returned.
    async fn announce(&self, result: &Result<()>) -> Option<Error> {
        let upload = self.kind == TransferKind::Upload;
        let moved = upload || self.bytes.load(Ordering::Relaxed) > 0;
        let first = result.is_ok() && moved && self.mark_first().await;
        let hook = self.events.as_ref()?;
        let event = if upload { "upload" } else { "download" };
        if !hook.wants(event) {
            return None;
        }
        let size = self.final_size();
        let mut e = super::events::Emit::new(event, &self.path);
        e.fs_path = self.host_path();
        e.first = first;
        e.size = i64::try_from(size).unwrap_or(i64::MAX);
        e.elapsed_ms = i64::try_from(self.started.elapsed().as_millis()).unwrap_or(i64::MAX);
        e.error = result.as_ref().err();
        if self.kind == TransferKind::Download || result.is_err() {
            hook.emit_detached(e);
            return None;
        }
        let refused = hook.emit(e).await.err()?;
        if self.fs.remove_file(&self.rel).await.is_ok()
            && let Some(q) = &self.quota
        {
            let size = i64::try_from(q.size.load(Ordering::Relaxed)).unwrap_or(i64::MAX);
            q.charge.apply(-size, -1).await;
        }
        tracing::info!(connection_id = %self.connection_id, path = %self.path,
            "upload removed: refused by an event rule");
        Some(refused)
    }

    /// Records the account's first upload (or download) if this session has not seen
    /// one yet: true when this transfer is it.
    async fn mark_first(&self) -> bool {
        let Some((done, tracker)) = &self.first else {
            return false;
        };
        let upload = self.kind == TransferKind::Upload;
        let flag = if upload { &done.upload } else { &done.download };
        if flag.swap(true, Ordering::AcqRel) {
            return false;
        }
        tracker.mark_first(&self.username, upload).await
    }

    /// Where the file is on the host, if its back-end has such a place.
    fn host_path(&self) -> String {
        self.fs
            .host_path(&self.rel)
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    }

    /// The usage change the upload leaves behind: bytes beyond what the target held,
    /// and a file when it created one.
    fn quota_delta(&self) -> Option<(&Charge, i64, i64)> {
        let q = self.quota.as_ref()?;
        let size = q.size.load(Ordering::Relaxed);
        let delta =
            i64::try_from(size).unwrap_or(i64::MAX) - i64::try_from(q.counted).unwrap_or(i64::MAX);
        Some((&q.charge, delta, i64::from(q.new_file)))
    }

    async fn charge_quota(&self) {
        if let Some((charge, size, files)) = self.quota_delta() {
            charge.apply(size, files).await;
        }
        self.release_reservation();
    }

    fn release_reservation(&self) {
        if let Some(q) = &self.quota {
            q.release();
        }
    }

    /// Ends a download that sent nothing, because its response had no body (HEAD,
    /// 304, a refused range), without logging, counting or announcing a transfer:
    /// the client downloaded nothing. True when it ended it; a transfer that moved
    /// bytes, an upload or an ended transfer is left as it is. For a transfer no one
    /// reads any more: a read racing with it would be counted but never logged.
    pub fn discard_unused(&self) -> bool {
        if self.kind != TransferKind::Download || self.bytes.load(Ordering::Relaxed) > 0 {
            return false;
        }
        !self.finished.swap(true, Ordering::AcqRel)
    }

    /// Ends the transfer because the session went away or failed: an atomic upload is
    /// discarded (mode 1) or moved into place for a later resume (mode 2).
    pub async fn abort(&self) {
        if self.finished.swap(true, Ordering::AcqRel) {
            return;
        }
        let stays = match self.take_staging() {
            Some(s) if s.keep_on_error => {
                let kept = self.commit(&s).await.is_ok();
                if kept {
                    self.charge_quota().await;
                }
                kept
            }
            Some(s) => {
                let _ = self.fs.remove_file(&s.temp).await;
                false
            }
            // Written in place: the bytes stay, and so does their charge.
            None => {
                self.charge_quota().await;
                true
            }
        };
        self.limits
            .record(self.kind, self.bytes.load(Ordering::Relaxed))
            .await;
        self.log(false);
        if let Some(event) = self.failed_event(stays) {
            event.await;
        }
    }

    /// The event of a transfer that ended badly (`stays`: an upload's bytes remain
    /// under the final name), as an owned future so `Drop` can run it too. A
    /// synchronous upload rule refusing it removes what stays, as for a complete one.
    fn failed_event(&self, stays: bool) -> Option<impl Future<Output = ()> + Send + 'static> {
        let hook = self.events.clone()?;
        let event = if self.kind == TransferKind::Upload {
            "upload"
        } else {
            "download"
        };
        if !hook.wants(event) {
            return None;
        }
        let host_path = self.host_path();
        let error = self
            .failed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .unwrap_or_else(|| Error::new(ErrorKind::Transient, "the transfer was interrupted"));
        let (kind, path, fs, rel) = (
            self.kind,
            self.path.clone(),
            self.fs.clone(),
            self.rel.clone(),
        );
        let size = i64::try_from(self.final_size()).unwrap_or(i64::MAX);
        let elapsed_ms = i64::try_from(self.started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let charge = self.quota.as_ref().map(|q| q.charge.clone());
        let connection_id = self.connection_id.clone();
        Some(async move {
            let mut e = super::events::Emit::new(event, &path);
            e.fs_path = host_path;
            e.size = size;
            e.elapsed_ms = elapsed_ms;
            e.error = Some(&error);
            let refused = hook.emit(e).await.is_err();
            if refused
                && kind == TransferKind::Upload
                && stays
                && fs.remove_file(&rel).await.is_ok()
            {
                if let Some(c) = charge {
                    c.apply(-size, -1).await;
                }
                tracing::info!(connection_id = %connection_id, path = %path,
                    "interrupted upload removed: refused by an event rule");
            }
        })
    }

    /// Bytes the file holds (uploads) or bytes sent (downloads).
    fn final_size(&self) -> u64 {
        match (self.kind, &self.quota) {
            (TransferKind::Upload, Some(q)) => q.size.load(Ordering::Relaxed),
            _ => self.bytes.load(Ordering::Relaxed),
        }
    }

    fn take_staging(&self) -> Option<Staging> {
        self.staging
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    async fn commit(&self, s: &Staging) -> Result<()> {
        self.file.sync().await?;
        self.fs.rename(&s.temp, &s.target, true).await?;
        Ok(())
    }

    fn log(&self, ok: bool) {
        let elapsed_ms = self.started.elapsed().as_millis() as u64;
        let sender = match self.kind {
            TransferKind::Download => "Download",
            TransferKind::Upload => "Upload",
        };
        tracing::info!(
            target: "transfer",
            sender,
            connection_id = %self.connection_id,
            protocol = self.protocol,
            username = %self.username,
            file_path = %self.path,
            size_bytes = self.bytes.load(Ordering::Relaxed),
            elapsed_ms,
            ok,
            "transfer finished"
        );
    }
}

/// A transfer dropped without `close` or `abort` (its task was cancelled, e.g. at
/// shutdown or when a client vanished mid-request) is aborted: an atomic upload's
/// temporary file is removed (mode 1) or moved into place for a resume (mode 2) on
/// the current runtime, so no stray temporary file is left behind.
impl Drop for Transfer {
    fn drop(&mut self) {
        if self.finished.swap(true, Ordering::AcqRel) {
            return;
        }
        let delta = self
            .quota_delta()
            .map(|(charge, size, files)| (charge.clone(), size, files));
        let staging = self.take_staging();
        let stays = staging.as_ref().is_none_or(|s| s.keep_on_error);
        let event = self.failed_event(stays);
        match staging {
            Some(s) => {
                if let Ok(rt) = tokio::runtime::Handle::try_current() {
                    let fs = self.fs.clone();
                    rt.spawn(async move {
                        if s.keep_on_error {
                            if fs.rename(&s.temp, &s.target, true).await.is_ok()
                                && let Some((charge, size, files)) = delta
                            {
                                charge.apply(size, files).await;
                            }
                        } else {
                            let _ = fs.remove_file(&s.temp).await;
                        }
                        if let Some(event) = event {
                            event.await;
                        }
                    });
                }
            }
            None => {
                if let Some((charge, size, files)) = delta {
                    charge.apply_detached(size, files);
                }
                if let (Some(event), Ok(rt)) = (event, tokio::runtime::Handle::try_current()) {
                    rt.spawn(event);
                }
            }
        }
        self.limits
            .record_detached(self.kind, self.bytes.load(Ordering::Relaxed));
        self.log(false);
    }
}
