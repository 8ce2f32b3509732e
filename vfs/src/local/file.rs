//! An open local file: positional reads and writes on an owned fd.

use std::fs::File;
use std::os::fd::OwnedFd;
use std::os::unix::fs::FileExt;

use async_trait::async_trait;

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
        let mut done = 0;
        while done < buf.len() {
            let n = self.file.read_at(&mut buf[done..], offset + done as u64)?;
            if n == 0 {
                break;
            }
            done += n;
        }
        Ok(done)
    }

    async fn write_at(&self, buf: &[u8], offset: u64) -> FsResult<()> {
        Ok(self.file.write_all_at(buf, offset)?)
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
