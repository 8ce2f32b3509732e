//! File transfers: opening for download/upload under the upload mode, byte accounting,
//! size limits, and the final rename/log when a transfer ends.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use sftpgo_vfs::{FileHandle, FileInfo, Fs, FsErrorKind, OpenOptions, SetAttrs};

use super::{Connection, TEMP_UPLOAD_PREFIX};
use crate::config::UploadMode;
use crate::model::Permission;
use crate::path::VirtualPath;
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
struct Staging {
    temp: String,
    target: String,
    keep_on_error: bool,
}

/// An open file of a connection. Safe to use from several in-flight requests.
pub struct Transfer {
    file: Box<dyn FileHandle>,
    fs: Arc<dyn Fs>,
    kind: TransferKind,
    path: VirtualPath,
    connection_id: String,
    protocol: &'static str,
    username: String,
    bytes: AtomicU64,
    max_size: u64,
    started: Instant,
    staging: Mutex<Option<Staging>>,
    finished: std::sync::atomic::AtomicBool,
}

impl Connection {
    /// Opens `p` for download. Needs `download` on the parent.
    pub async fn open_read(&self, p: &VirtualPath) -> Result<Transfer> {
        self.require(Permission::Download, &p.parent())?;
        self.require_name(p)?;
        let opts = OpenOptions {
            read: true,
            ..Default::default()
        };
        let file = self.fs.open(p.fs_relative(), &opts).await?;
        Ok(self.transfer(file, TransferKind::Download, p.clone(), None))
    }

    /// Opens `p` for upload. Needs `upload` on the parent for a new file, `overwrite` for
    /// an existing one. With upload modes 1/2 a truncating upload goes to a temporary
    /// name and is renamed into place when the transfer closes cleanly.
    pub async fn open_write(&self, p: &VirtualPath, opts: WriteOptions) -> Result<Transfer> {
        if p.is_root() {
            return Err(Error::new(ErrorKind::Conflict, "is a directory"));
        }
        let dir = p.parent();
        self.require_name(p)?;
        let existing = match self.fs.stat(p.fs_relative()).await {
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
        let atomic = self.upload_mode != UploadMode::Standard
            && (existing.is_none() || opts.truncate)
            && !opts.append
            && !opts.read;
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
            let file = self.fs.open(temp.fs_relative(), &vopts).await?;
            let staging = Staging {
                temp: temp.fs_relative().to_string(),
                target: p.fs_relative().to_string(),
                keep_on_error: self.upload_mode == UploadMode::AtomicWithResume,
            };
            (file, Some(staging))
        } else {
            (self.fs.open(p.fs_relative(), &vopts).await?, None)
        };
        Ok(self.transfer(file, TransferKind::Upload, p.clone(), staging))
    }

    fn transfer(
        &self,
        file: Box<dyn FileHandle>,
        kind: TransferKind,
        path: VirtualPath,
        staging: Option<Staging>,
    ) -> Transfer {
        let max = self.user.filters.max_upload_file_size;
        Transfer {
            file,
            fs: self.fs.clone(),
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
            started: Instant::now(),
            staging: Mutex::new(staging),
            finished: std::sync::atomic::AtomicBool::new(false),
        }
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
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }

    /// For downloads: the descriptor a zero-copy send can read `len` bytes at `offset`
    /// from without blocking (see [`sftpgo_vfs::FileHandle::zero_copy_source`]). The
    /// caller reports what it sent with [`Transfer::record_sent`].
    pub fn zero_copy_source(&self, offset: u64, len: usize) -> Option<std::os::fd::BorrowedFd<'_>> {
        if self.kind != TransferKind::Download {
            return None;
        }
        self.file.zero_copy_source(offset, len)
    }

    /// Counts bytes sent outside [`Transfer::read_at`] (zero-copy sends).
    pub fn record_sent(&self, n: u64) {
        self.bytes.fetch_add(n, Ordering::Relaxed);
    }

    /// Writes `data` at `offset`, refusing to grow past the user's upload size limit.
    pub async fn write_at(&self, data: &[u8], offset: u64) -> Result<()> {
        if self.kind != TransferKind::Upload {
            return Err(Error::denied());
        }
        let end = offset.saturating_add(data.len() as u64);
        if end > self.max_size {
            return Err(Error::new(
                ErrorKind::QuotaExceeded,
                "file size exceeds the maximum allowed upload size",
            ));
        }
        self.file.write_at(data, offset).await?;
        self.bytes.fetch_add(data.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    /// Attributes of the open file.
    pub async fn stat(&self) -> Result<FileInfo> {
        Ok(self.file.stat().await?)
    }

    /// Changes attributes of the open file (size only for uploads).
    pub async fn set_attrs(&self, attrs: &SetAttrs) -> Result<()> {
        if attrs.size.is_some() && self.kind != TransferKind::Upload {
            return Err(Error::denied());
        }
        Ok(self.file.set_attrs(attrs).await?)
    }

    /// Flushes to stable storage.
    pub async fn sync(&self) -> Result<()> {
        Ok(self.file.sync().await?)
    }

    /// Ends the transfer cleanly: an atomic upload is synced and renamed into place.
    /// Calling it again is a no-op.
    pub async fn close(&self) -> Result<()> {
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
        self.log(result.is_ok());
        result
    }

    /// Ends the transfer because the session went away or failed: an atomic upload is
    /// discarded (mode 1) or moved into place for a later resume (mode 2).
    pub async fn abort(&self) {
        if self.finished.swap(true, Ordering::AcqRel) {
            return;
        }
        if let Some(s) = self.take_staging() {
            if s.keep_on_error {
                let _ = self.commit(&s).await;
            } else {
                let _ = self.fs.remove_file(&s.temp).await;
            }
        }
        self.log(false);
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
        if let Some(s) = self.take_staging()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            let fs = self.fs.clone();
            rt.spawn(async move {
                if s.keep_on_error {
                    let _ = fs.rename(&s.temp, &s.target, true).await;
                } else {
                    let _ = fs.remove_file(&s.temp).await;
                }
            });
        }
        self.log(false);
    }
}
