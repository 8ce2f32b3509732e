//! Namespace operations: stat, list, mkdir, remove, rename, links, attributes, copy.

use sftpgo_vfs::{FileInfo, FileKind, SetAttrs, StatVfs};

use super::{Connection, TEMP_UPLOAD_PREFIX};
use crate::hash::{HashAlgo, Hasher};
use crate::model::Permission;
use crate::path::VirtualPath;
use crate::{Error, ErrorKind, Result};

/// The path from directory `from` to `to`, both virtual, as `../a/b`.
fn relative_target(from: &VirtualPath, to: &VirtualPath) -> String {
    let f: Vec<&str> = from.components().collect();
    let t: Vec<&str> = to.components().collect();
    let common = f.iter().zip(t.iter()).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<&str> = vec![".."; f.len() - common];
    parts.extend(t.iter().skip(common));
    if parts.is_empty() {
        ".".to_string()
    } else {
        parts.join("/")
    }
}

/// Directory depth limit for recursive copy/remove.
const MAX_RECURSION: usize = 128;

impl Connection {
    /// Attributes of `p`, following symlinks. Needs `list` on the parent directory.
    pub async fn stat(&self, p: &VirtualPath) -> Result<FileInfo> {
        if !p.is_root() {
            self.require(Permission::List, &p.parent())?;
            self.require_visible(p)?;
        }
        Ok(self.fs.stat(p.fs_relative()).await?)
    }

    /// Attributes of `p` itself.
    pub async fn lstat(&self, p: &VirtualPath) -> Result<FileInfo> {
        if !p.is_root() {
            self.require(Permission::List, &p.parent())?;
            self.require_visible(p)?;
        }
        Ok(self.fs.lstat(p.fs_relative()).await?)
    }

    fn require_visible(&self, p: &VirtualPath) -> Result<()> {
        if p.name().starts_with(TEMP_UPLOAD_PREFIX) || self.user.name_allowed(p) == (false, true) {
            return Err(Error::not_found());
        }
        Ok(())
    }

    /// Lists a directory. Needs `list` on it; names hidden by patterns are left out.
    pub async fn read_dir(&self, p: &VirtualPath) -> Result<Vec<FileInfo>> {
        self.require(Permission::List, p)?;
        let mut entries = self.fs.read_dir(p.fs_relative()).await?;
        entries.retain(|e| {
            if e.name.starts_with(TEMP_UPLOAD_PREFIX) {
                return false;
            }
            match p.join(&e.name) {
                Ok(child) => self.user.name_allowed(&child) != (false, true),
                Err(_) => false,
            }
        });
        Ok(entries)
    }

    /// Creates a directory. Needs `create_dirs` on the parent.
    pub async fn mkdir(&self, p: &VirtualPath, mode: u32) -> Result<()> {
        if p.is_root() {
            return Err(Error::new(ErrorKind::AlreadyExists, "file already exists"));
        }
        self.require(Permission::CreateDirs, &p.parent())?;
        self.require_name(p)?;
        self.fs.mkdir(p.fs_relative(), mode).await?;
        tracing::info!(connection_id = %self.id, path = %p, "Mkdir");
        Ok(())
    }

    /// Removes a file or symlink. Needs `delete` or `delete_files` on the parent.
    pub async fn remove_file(&self, p: &VirtualPath) -> Result<()> {
        self.require_any(&[Permission::Delete, Permission::DeleteFiles], &p.parent())?;
        self.require_name(p)?;
        let info = self.fs.lstat(p.fs_relative()).await?;
        if info.is_dir() {
            return Err(Error::new(ErrorKind::Conflict, "is a directory"));
        }
        self.fs.remove_file(p.fs_relative()).await?;
        tracing::info!(connection_id = %self.id, path = %p, "Remove");
        Ok(())
    }

    /// Removes an empty directory. Needs `delete` or `delete_dirs` on the parent.
    pub async fn remove_dir(&self, p: &VirtualPath) -> Result<()> {
        if p.is_root() {
            return Err(Error::denied());
        }
        self.require_any(&[Permission::Delete, Permission::DeleteDirs], &p.parent())?;
        self.require_name(p)?;
        self.fs.remove_dir(p.fs_relative()).await?;
        tracing::info!(connection_id = %self.id, path = %p, "Rmdir");
        Ok(())
    }

    /// Renames `from` to `to`. Needs a rename permission on both parents and, when the
    /// target exists and `replace` is set, `overwrite` on the target's parent.
    pub async fn rename(&self, from: &VirtualPath, to: &VirtualPath, replace: bool) -> Result<()> {
        if from.is_root() || to.is_root() {
            return Err(Error::denied());
        }
        if to.starts_with(from) && to != from {
            return Err(Error::invalid("cannot move a directory into itself"));
        }
        self.require_name(from)?;
        self.require_name(to)?;
        let info = self.fs.lstat(from.fs_relative()).await?;
        let specific = if info.is_dir() {
            Permission::RenameDirs
        } else {
            Permission::RenameFiles
        };
        self.require_any(&[Permission::Rename, specific], &from.parent())?;
        self.require_any(&[Permission::Rename, specific], &to.parent())?;
        // A directory with its own permissions or patterns inside (or a target with
        // them) would change rules by moving: refused, as SFTPGo refuses what its
        // recursive check cannot grant.
        if info.is_dir() && (self.user.has_rules_within(from) || self.user.has_rules_within(to)) {
            return Err(Error::new(
                ErrorKind::PermissionDenied,
                "cannot rename a directory that has its own permissions or patterns inside",
            ));
        }
        if replace && self.fs.lstat(to.fs_relative()).await.is_ok() {
            self.require(Permission::Overwrite, &to.parent())?;
        }
        self.fs
            .rename(from.fs_relative(), to.fs_relative(), replace)
            .await?;
        tracing::info!(connection_id = %self.id, path = %from, target = %to, "Rename");
        Ok(())
    }

    /// Creates a symlink at `link` pointing at `target` (a client path, canonicalised
    /// relative to the link's directory and stored as an absolute virtual path, which the
    /// back-end resolves inside the user's root). Needs `create_symlinks`.
    pub async fn symlink(&self, target_raw: &str, link: &VirtualPath) -> Result<()> {
        let target = VirtualPath::resolve(&link.parent(), target_raw)?;
        self.require(Permission::CreateSymlinks, &link.parent())?;
        // As SFTPGo: the target's directory must allow links too, and the root cannot
        // be linked. A link to a tree with its own rules would reach it under the
        // link's (other) rules, so that is refused as well.
        if target.is_root() || self.user.has_rules_within(&target) {
            return Err(Error::denied());
        }
        self.require(Permission::CreateSymlinks, &target.parent())?;
        self.require_name(link)?;
        self.require_name(&target)?;
        // Stored relative to the link's directory: it resolves the same way inside the
        // server (chrooted) and for host tools looking at the home directory.
        let stored = relative_target(&link.parent(), &target);
        self.fs.symlink(&stored, link.fs_relative()).await?;
        tracing::info!(connection_id = %self.id, path = %link, target = %target, "Symlink");
        Ok(())
    }

    /// Reads a symlink, as a virtual path. Needs `list` on the parent.
    pub async fn read_link(&self, p: &VirtualPath) -> Result<VirtualPath> {
        self.require(Permission::List, &p.parent())?;
        self.require_visible(p)?;
        let target = self.fs.read_link(p.fs_relative()).await?;
        VirtualPath::resolve(&p.parent(), &target)
    }

    /// Creates a hard link. Needs `create_symlinks` on the link's directory, and
    /// `download` on the source's (the link exposes the same data).
    pub async fn hard_link(&self, existing: &VirtualPath, link: &VirtualPath) -> Result<()> {
        self.require(Permission::CreateSymlinks, &link.parent())?;
        self.require(Permission::Download, &existing.parent())?;
        self.require_name(existing)?;
        self.require_name(link)?;
        let info = self.fs.lstat(existing.fs_relative()).await?;
        if info.kind != FileKind::File {
            return Err(Error::invalid(
                "hard links are only allowed to regular files",
            ));
        }
        self.fs
            .hard_link(existing.fs_relative(), link.fs_relative())
            .await?;
        tracing::info!(connection_id = %self.id, path = %existing, target = %link, "Link");
        Ok(())
    }

    /// Changes attributes. Needs `chmod`, `chown`, `chtimes` or `overwrite` (for size)
    /// on the parent, as applicable.
    pub async fn set_attrs(&self, p: &VirtualPath, attrs: &SetAttrs, follow: bool) -> Result<()> {
        if attrs.is_empty() {
            return Ok(());
        }
        self.authorize_set_attrs(p, attrs)?;
        self.fs.set_attrs(p.fs_relative(), attrs, follow).await?;
        tracing::info!(connection_id = %self.id, path = %p, ?attrs, "SetStat");
        Ok(())
    }

    /// The permission checks of [`Connection::set_attrs`], for callers that apply the
    /// change through an open handle (FSETSTAT).
    pub fn authorize_set_attrs(&self, p: &VirtualPath, attrs: &SetAttrs) -> Result<()> {
        let dir = p.parent();
        if attrs.perm.is_some() {
            self.require(Permission::Chmod, &dir)?;
        }
        if attrs.uid_gid.is_some() {
            self.require(Permission::Chown, &dir)?;
        }
        if attrs.times.is_some() {
            self.require(Permission::Chtimes, &dir)?;
        }
        if attrs.size.is_some() {
            self.require(Permission::Overwrite, &dir)?;
        }
        if !p.is_root() {
            self.require_name(p)?;
        }
        Ok(())
    }

    /// File-system statistics.
    pub async fn statvfs(&self, p: &VirtualPath) -> Result<StatVfs> {
        Ok(self.fs.statvfs(p.fs_relative()).await?)
    }

    /// Digest of a file's content. Needs `download` on the parent.
    pub async fn hash_file(&self, p: &VirtualPath, algo: HashAlgo) -> Result<String> {
        let t = self.open_read(p).await?;
        let mut h = Hasher::new(algo);
        let mut buf = vec![0u8; 256 * 1024];
        let mut off = 0u64;
        loop {
            let n = t.read_at(&mut buf, off).await?;
            if n == 0 {
                break;
            }
            h.update(buf.get(..n).unwrap_or_default());
            off += n as u64;
            // Cached reads complete at once: let the worker's other connections run.
            tokio::task::yield_now().await;
        }
        t.close().await?;
        Ok(h.finish_hex())
    }

    /// Server-side copy of a file or directory tree. Needs `copy` on the source and the
    /// destination directories, and the names must pass the patterns.
    pub async fn copy(&self, src: &VirtualPath, dst: &VirtualPath) -> Result<()> {
        if src.is_root() || dst.starts_with(src) {
            return Err(Error::invalid("cannot copy a directory into itself"));
        }
        Box::pin(self.copy_rec(src, dst, 0)).await?;
        tracing::info!(connection_id = %self.id, path = %src, target = %dst, "Copy");
        Ok(())
    }

    async fn copy_rec(&self, src: &VirtualPath, dst: &VirtualPath, depth: usize) -> Result<()> {
        if depth > MAX_RECURSION {
            return Err(Error::invalid("directory tree too deep"));
        }
        self.require(Permission::Copy, &src.parent())?;
        self.require(Permission::Copy, &dst.parent())?;
        self.require_name(src)?;
        self.require_name(dst)?;
        let info = self.fs.lstat(src.fs_relative()).await?;
        match info.kind {
            FileKind::Dir => {
                self.require(Permission::List, src)?;
                match self.mkdir(dst, info.perm).await {
                    Ok(()) => {}
                    Err(e) if e.kind == crate::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(e),
                }
                for entry in self.fs.read_dir(src.fs_relative()).await? {
                    let s = src.join(&entry.name)?;
                    let d = dst.join(&entry.name)?;
                    Box::pin(self.copy_rec(&s, &d, depth + 1)).await?;
                }
                Ok(())
            }
            FileKind::File => self.copy_file_data(src, dst).await,
            _ => Ok(()),
        }
    }

    /// Copies one file as a download of `src` and an upload to `dst`: the source needs
    /// `download`, the target `upload` (or `overwrite` when it exists), and the upload
    /// mode and size limits apply as for any upload.
    async fn copy_file_data(&self, src: &VirtualPath, dst: &VirtualPath) -> Result<()> {
        let r = self.open_read(src).await?;
        let opts = super::WriteOptions {
            truncate: true,
            create: true,
            ..Default::default()
        };
        let w = match self.open_write(dst, opts).await {
            Ok(w) => w,
            Err(e) => {
                let _ = r.close().await;
                return Err(e);
            }
        };
        let mut buf = vec![0u8; 256 * 1024];
        let mut off = 0u64;
        let copied: Result<()> = async {
            loop {
                let n = r.read_at(&mut buf, off).await?;
                if n == 0 {
                    return Ok(());
                }
                w.write_at(buf.get(..n).unwrap_or_default(), off).await?;
                off += n as u64;
            }
        }
        .await;
        let _ = r.close().await;
        match copied {
            Ok(()) => w.close().await,
            Err(e) => {
                w.abort().await;
                Err(e)
            }
        }
    }

    /// Recursive delete of a file or directory tree. Needs the delete permissions of
    /// every directory involved.
    pub async fn remove_all(&self, p: &VirtualPath) -> Result<()> {
        if p.is_root() {
            return Err(Error::denied());
        }
        Box::pin(self.remove_rec(p, 0)).await
    }

    async fn remove_rec(&self, p: &VirtualPath, depth: usize) -> Result<()> {
        if depth > MAX_RECURSION {
            return Err(Error::invalid("directory tree too deep"));
        }
        let info = self.fs.lstat(p.fs_relative()).await?;
        if info.is_dir() {
            self.require(Permission::List, p)?;
            for entry in self.fs.read_dir(p.fs_relative()).await? {
                Box::pin(self.remove_rec(&p.join(&entry.name)?, depth + 1)).await?;
            }
            self.remove_dir(p).await
        } else {
            self.remove_file(p).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::relative_target;
    use crate::path::VirtualPath;

    fn rel(a: &str, b: &str) -> String {
        relative_target(
            &VirtualPath::parse(a).unwrap(),
            &VirtualPath::parse(b).unwrap(),
        )
    }

    #[test]
    fn relative_symlink_targets() {
        assert_eq!(rel("/", "/big.bin"), "big.bin");
        assert_eq!(rel("/a/b", "/a/c/f"), "../c/f");
        assert_eq!(rel("/a/b", "/"), "../..");
        assert_eq!(rel("/a", "/a"), ".");
        assert_eq!(rel("/", "/etc/passwd"), "etc/passwd");
    }
}
