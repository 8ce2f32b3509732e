//! Renames between back-ends (the home and a virtual folder, or two folders): the
//! data is copied, then the source removed, one file at a time, so nothing is lost if
//! the move stops half way; each file is checked against and charged to the quota
//! where it lands, and released where it left.

use sftpgo_vfs::{FileInfo, FileKind, SetAttrs};

use super::limits::TransferLimits;
use super::ops::MAX_RECURSION;
use super::ops::relative_target;
use super::transfer::copy_data;
use super::{Connection, TransferKind, WriteOptions};
use crate::path::VirtualPath;
use crate::{Error, ErrorKind, Result};

/// One move between back-ends: its roots, and the directories it created (to skip
/// them if the target's storage overlaps the source's).
struct Move {
    roots: (VirtualPath, VirtualPath),
    created: Vec<FileInfo>,
}

/// `p` moved from under `from` to under `to`, if it lies under `from`.
fn rebase(p: &VirtualPath, from: &VirtualPath, to: &VirtualPath) -> Option<VirtualPath> {
    if !p.starts_with(from) {
        return None;
    }
    let rest = p.as_str().get(from.as_str().len()..)?;
    VirtualPath::parse(&format!("{}/{rest}", to.as_str())).ok()
}

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
        let mut mv = Move {
            roots: (from.clone(), to.clone()),
            created: Vec::new(),
        };
        Box::pin(self.move_rec(&mut mv, from, to, info, existing.as_ref(), 0)).await
    }

    async fn move_rec(
        &self,
        mv: &mut Move,
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
                if let Ok(made) = rt.fs.lstat(rt.rel).await {
                    mv.created.push(made);
                }
                for entry in rf.fs.read_dir(rf.rel).await? {
                    // Folders whose storage overlaps: never walk into what this move
                    // just created.
                    if mv.created.iter().any(|c| c.same_file(&entry)) {
                        continue;
                    }
                    let (f, t) = (from.join(&entry.name)?, to.join(&entry.name)?);
                    Box::pin(self.move_rec(mv, &f, &t, &entry, None, depth + 1)).await?;
                }
                rf.fs.remove_dir(rf.rel).await?;
            }
            FileKind::File => {
                if existing.is_some_and(|e| e.same_file(info)) {
                    return Err(Error::new(
                        ErrorKind::Unsupported,
                        "the source and the target are the same file",
                    ));
                }
                self.copy_between(from, to, info, existing).await?;
                rf.fs.remove_file(rf.rel).await?;
                self.release(rf.mount, info).await;
            }
            FileKind::Symlink => {
                let stored = rf.fs.read_link(rf.rel).await?;
                let target = VirtualPath::resolve(&from.parent(), &stored)?;
                // A link into the moved tree follows it; any other link is checked
                // like a new one.
                let text = match rebase(&target, &mv.roots.0, &mv.roots.1) {
                    Some(moved) if depth > 0 => relative_target(&to.parent(), &moved),
                    _ => self.relocated_link(from, to, &stored)?,
                };
                let rt = self.storage.route(to);
                if let Some(old) = existing {
                    rt.fs.remove_file(rt.rel).await?;
                    self.release(rt.mount, old).await;
                }
                rt.fs.symlink(&text, rt.rel).await?;
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
        let dst = self.open_write_unchecked(to, opts, existing, None).await?;
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
