//! Renames between back-ends (the home and a virtual folder, or two folders): the
//! data is copied, then the source removed, one file at a time, so nothing is lost if
//! the move stops half way; each file is checked against and charged to the quota
//! where it lands, and released where it left.

use sftpgo_vfs::{FileInfo, FileKind, SetAttrs};

use super::limits::TransferLimits;
use super::ops::MAX_RECURSION;
use super::transfer::copy_data;
use super::{Connection, TransferKind, WriteOptions};
use crate::path::VirtualPath;
use crate::{Error, ErrorKind, Result};

impl Connection {
    /// Moves `from` (described by `info`) to `to` on another back-end. `replaced` is
    /// the file `to` held, when the caller allowed replacing it. Permissions are the
    /// caller's (the rename's); the tree below has no rules of its own.
    pub(super) async fn move_across(
        &self,
        from: &VirtualPath,
        to: &VirtualPath,
        info: &FileInfo,
        replaced: Option<&FileInfo>,
    ) -> Result<()> {
        let existing = self.stat_routed(to, false).await.ok();
        if existing.is_some() && replaced.is_none() {
            return Err(Error::new(ErrorKind::AlreadyExists, "file already exists"));
        }
        if info.is_dir() && existing.is_some() {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "cannot replace an existing entry with a directory from another folder",
            ));
        }
        Box::pin(self.move_rec(from, to, info, existing.as_ref(), 0)).await
    }

    async fn move_rec(
        &self,
        from: &VirtualPath,
        to: &VirtualPath,
        info: &FileInfo,
        existing: Option<&FileInfo>,
        depth: usize,
    ) -> Result<()> {
        if depth > MAX_RECURSION {
            return Err(Error::invalid("directory tree too deep"));
        }
        let rf = self.storage.route(from);
        match info.kind {
            FileKind::Dir => {
                let rt = self.storage.route(to);
                rt.fs.mkdir(rt.rel, info.perm).await?;
                for entry in rf.fs.read_dir(rf.rel).await? {
                    let (f, t) = (from.join(&entry.name)?, to.join(&entry.name)?);
                    Box::pin(self.move_rec(&f, &t, &entry, None, depth + 1)).await?;
                }
                rf.fs.remove_dir(rf.rel).await?;
            }
            FileKind::File => {
                self.copy_between(from, to, info, existing).await?;
                rf.fs.remove_file(rf.rel).await?;
                self.release(rf.mount, info).await;
            }
            FileKind::Symlink => {
                let target = rf.fs.read_link(rf.rel).await?;
                let rt = self.storage.route(to);
                if existing.is_some() {
                    rt.fs.remove_file(rt.rel).await?;
                    if let Some(old) = existing {
                        self.release(rt.mount, old).await;
                    }
                }
                rt.fs.symlink(&target, rt.rel).await?;
                rf.fs.remove_file(rf.rel).await?;
            }
            FileKind::Other => {
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    "special files cannot be moved to another folder",
                ));
            }
        }
        Ok(())
    }

    /// Copies one file's data and modification time under the upload mode and quota
    /// of the target.
    async fn copy_between(
        &self,
        from: &VirtualPath,
        to: &VirtualPath,
        info: &FileInfo,
        existing: Option<&FileInfo>,
    ) -> Result<()> {
        let rf = self.storage.route(from);
        let read = sftpgo_vfs::OpenOptions {
            read: true,
            ..Default::default()
        };
        let src = self.transfer(
            rf.fs.open(rf.rel, &read).await?,
            rf.fs.clone(),
            TransferKind::Download,
            from.clone(),
            (None, TransferLimits::none()),
        );
        let opts = WriteOptions {
            truncate: true,
            create: true,
            mode: info.perm,
            ..Default::default()
        };
        let dst = self
            .open_write_unchecked(to, opts, existing, TransferLimits::none())
            .await?;
        let copied = copy_data(&src, &dst).await;
        let _ = src.close().await;
        if let Err(e) = copied {
            dst.abort().await;
            return Err(e);
        }
        dst.close().await?;
        let rt = self.storage.route(to);
        let times = SetAttrs {
            times: Some((info.atime, info.mtime)),
            ..Default::default()
        };
        let _ = rt.fs.set_attrs(rt.rel, &times, false).await;
        Ok(())
    }
}
