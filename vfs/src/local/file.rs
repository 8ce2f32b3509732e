//! An open local file: positional reads and writes on an owned fd, through the
//! thread's io_uring when there is one (pread/pwrite otherwise).

use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::FileExt;

use async_trait::async_trait;

use super::uring::Ring;
use crate::{FileHandle, FileInfo, FsResult, SetAttrs};

/// A regular file opened by [`super::LocalFs`].
#[derive(Debug)]
pub struct LocalFile {
    file: File,
}

impl LocalFile {
    pub(crate) fn new(fd: OwnedFd) -> Self {
        Self {
            file: File::from(fd),
        }
    }
}

#[async_trait]
impl FileHandle for LocalFile {
    async fn read_at(&self, buf: &mut [u8], offset: u64) -> FsResult<usize> {
        let ring = Ring::current();
        let fd = self.file.as_raw_fd();
        let mut done = 0;
        while let Some(rest) = buf.get_mut(done..).filter(|r| !r.is_empty()) {
            let at = offset + done as u64;
            let n = match &ring {
                Some(ring) => ring.read_at(fd, rest, at).await?,
                None => self.file.read_at(rest, at)?,
            };
            if n == 0 {
                break;
            }
            done += n;
        }
        Ok(done)
    }

    async fn write_at(&self, buf: &[u8], offset: u64) -> FsResult<()> {
        let Some(ring) = Ring::current() else {
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
        Ok(self.file.sync_all()?)
    }
}
