//! An open local file: positional reads and writes on an owned fd.
//!
//! How each I/O is issued, cheapest first:
//! - Reads first try `preadv2(RWF_NOWAIT)`: data already in the page cache is copied
//!   inline, without a ring round trip. Only what would block goes to the ring.
//! - Files on memory-backed file systems (tmpfs, ramfs) never wait for a device, but
//!   the kernel does not support non-blocking I/O on them, so io_uring would hand every
//!   request to its worker threads (a thread hop per request). They use plain
//!   pread/pwrite inline.
//! - Everything else goes through the thread's io_uring; pread/pwrite where there is none.

use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;

use super::uring::Ring;
use crate::{FileHandle, FileInfo, FsResult, SetAttrs};

/// A regular file opened by [`super::LocalFs`].
#[derive(Debug)]
pub struct LocalFile {
    file: File,
    /// On tmpfs/ramfs: every I/O is a memory copy, done inline.
    memory_backed: bool,
    /// Opened with `O_APPEND`: positional writes go to the end (and `splice` refuses).
    append: bool,
    /// Cleared once the file system refused `RWF_NOWAIT`.
    try_nowait: AtomicBool,
}

impl LocalFile {
    pub(crate) fn new(fd: OwnedFd) -> Self {
        let memory_backed = rustix::fs::fstatfs(&fd).is_ok_and(|st| {
            // statfs(2): TMPFS_MAGIC, RAMFS_MAGIC.
            matches!(st.f_type, 0x0102_1994 | 0x8584_58f6)
        });
        let append =
            rustix::fs::fcntl_getfl(&fd).is_ok_and(|f| f.contains(rustix::fs::OFlags::APPEND));
        Self {
            file: File::from(fd),
            memory_backed,
            append,
            try_nowait: AtomicBool::new(!memory_backed),
        }
    }

    /// Copies what the page cache already holds without blocking; `None` when nothing
    /// could be read that way (not cached, or not supported here).
    fn read_cached(&self, buf: &mut [u8], offset: u64) -> Option<usize> {
        if !self.try_nowait.load(Ordering::Relaxed) {
            return None;
        }
        let mut iov = [std::io::IoSliceMut::new(buf)];
        match rustix::io::preadv2(
            &self.file,
            &mut iov,
            offset,
            rustix::io::ReadWriteFlags::NOWAIT,
        ) {
            Ok(n) if n > 0 => Some(n),
            Ok(_) => None,
            Err(e) => {
                if e != rustix::io::Errno::AGAIN {
                    self.try_nowait.store(false, Ordering::Relaxed);
                }
                None
            }
        }
    }
}

#[async_trait]
impl FileHandle for LocalFile {
    /// Memory-backed files only: `sendfile` from them never waits for a device. On a
    /// disk file one uncached page would block the worker thread (a cached first or
    /// last page says nothing about the pages between), so those go through the ring.
    fn zero_copy_source(&self, _offset: u64, _len: usize) -> Option<std::os::fd::BorrowedFd<'_>> {
        use std::os::fd::AsFd;
        self.memory_backed.then(|| self.file.as_fd())
    }

    fn writes_inline(&self) -> bool {
        self.memory_backed
    }

    /// Memory-backed files only, as for sends: on a disk file the page-cache copy can
    /// wait for writeback, which must not stall the worker.
    fn zero_copy_sink(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        use std::os::fd::AsFd;
        (self.memory_backed && !self.append).then(|| self.file.as_fd())
    }

    async fn read_at(&self, buf: &mut [u8], offset: u64) -> FsResult<usize> {
        let ring = if self.memory_backed {
            None
        } else {
            Ring::current()
        };
        let fd = self.file.as_raw_fd();
        let mut done = 0;
        while let Some(rest) = buf.get_mut(done..).filter(|r| !r.is_empty()) {
            let at = offset + done as u64;
            let wanted = rest.len();
            let (n, blocking) = match (self.read_cached(rest, at), &ring) {
                (Some(n), _) => (n, false),
                (None, Some(ring)) => (ring.read_at(fd, rest, at).await?, false),
                (None, None) => (self.file.read_at(rest, at)?, true),
            };
            done += n;
            // A blocking pread on a regular file comes back short only at end of file;
            // stopping here saves the read that would return 0.
            if n == 0 || (blocking && n < wanted) {
                break;
            }
        }
        Ok(done)
    }

    async fn write_at(&self, buf: &[u8], offset: u64) -> FsResult<()> {
        let ring = if self.memory_backed {
            None
        } else {
            Ring::current()
        };
        let Some(ring) = ring else {
            return Ok(self.file.write_all_at(buf, offset)?);
        };
        let fd = self.file.as_raw_fd();
        let mut done = 0;
        while let Some(rest) = buf.get(done..).filter(|r| !r.is_empty()) {
            let n = ring.write_at(fd, rest, offset + done as u64).await?;
            if n == 0 {
                return Err(crate::FsError::from_errno(libc::EIO));
            }
            done += n;
        }
        Ok(())
    }

    async fn stat(&self) -> FsResult<FileInfo> {
        let st = rustix::fs::fstat(&self.file)?;
        Ok(super::info_from_stat("", &st))
    }

    async fn set_attrs(&self, attrs: &SetAttrs) -> FsResult<()> {
        if let Some(size) = attrs.size {
            self.file.set_len(size)?;
        }
        if let Some(perm) = attrs.perm {
            rustix::fs::fchmod(&self.file, rustix::fs::Mode::from_raw_mode(perm & 0o7777))?;
        }
        if let Some((uid, gid)) = attrs.uid_gid {
            rustix::fs::fchown(
                &self.file,
                Some(rustix::fs::Uid::from_raw(uid)),
                Some(rustix::fs::Gid::from_raw(gid)),
            )?;
        }
        if let Some((atime, mtime)) = attrs.times {
            rustix::fs::futimens(&self.file, &super::timestamps(atime, mtime))?;
        }
        Ok(())
    }

    async fn sync(&self) -> FsResult<()> {
        if self.memory_backed {
            return Ok(self.file.sync_all()?);
        }
        // A flush to disk can take seconds: not on the worker thread, whose other
        // connections would wait. The blocking pool works on a duplicate descriptor.
        let file = self.file.try_clone()?;
        tokio::task::spawn_blocking(move || file.sync_all())
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))??;
        Ok(())
    }
}
