//! Namespace operations: stat, list, mkdir, remove, rename, links, attributes, copy.

use sftpgo_vfs::{FileInfo, FileKind, FsErrorKind, SetAttrs, StatVfs};

use super::storage::{mount_error, synthetic_dir};
use super::{Connection, TEMP_UPLOAD_PREFIX};
use crate::hash::{HashAlgo, Hasher};
use crate::model::Permission;
use crate::path::VirtualPath;
use crate::{Error, ErrorKind, Result};

/// The path from directory `from` to `to`, both virtual, as `../a/b`.
pub(super) fn relative_target(from: &VirtualPath, to: &VirtualPath) -> String {
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

/// Directory depth limit for recursive copy/remove/move.
pub(super) const MAX_RECURSION: usize = 128;

/// Links cannot join two virtual folders (or a folder and the home).
fn across_folders() -> Error {
    Error::new(
        ErrorKind::Unsupported,
        "links cannot cross virtual folder boundaries",
    )
}

impl Connection {
    /// Attributes of `p`, following symlinks. Needs `list` on the parent directory.
    pub async fn stat(&self, p: &VirtualPath) -> Result<FileInfo> {
        if !p.is_root() {
            self.require(Permission::List, &p.parent())?;
            self.require_visible(p)?;
        }
        self.stat_routed(p, true).await
    }

    /// Attributes of `p` itself.
    pub async fn lstat(&self, p: &VirtualPath) -> Result<FileInfo> {
        if !p.is_root() {
            self.require(Permission::List, &p.parent())?;
            self.require_visible(p)?;
        }
        self.stat_routed(p, false).await
    }

    /// Attributes from the back-end owning `p`; a directory that exists only because
    /// a virtual folder is mounted below it is reported as an empty directory.
    pub(super) async fn stat_routed(&self, p: &VirtualPath, follow: bool) -> Result<FileInfo> {
        let r = self.storage.route(p);
        let found = if follow {
            r.fs.stat(r.rel).await
        } else {
            r.fs.lstat(r.rel).await
        };
        match found {
            Err(e) if e.kind == FsErrorKind::NotFound && self.storage.leads_to_mount(p) => {
                Ok(synthetic_dir(p.name()))
            }
            other => Ok(other?),
        }
    }

    pub(super) fn require_visible(&self, p: &VirtualPath) -> Result<()> {
        if p.name().starts_with(TEMP_UPLOAD_PREFIX) || self.user.name_allowed(p) == (false, true) {
            return Err(Error::not_found());
        }
        Ok(())
    }

    /// Lists a directory. Needs `list` on it; names hidden by patterns are left out.
    pub async fn read_dir(&self, p: &VirtualPath) -> Result<Vec<FileInfo>> {
        self.require(Permission::List, p)?;
        let mut entries = self.read_dir_routed(p).await?;
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

    /// The entries of directory `p` in its back-end, with the virtual folders mounted
    /// directly below it (and the directories leading to deeper ones) in place of
    /// whatever the back-end has under those names.
    pub(super) async fn read_dir_routed(&self, p: &VirtualPath) -> Result<Vec<FileInfo>> {
        let r = self.storage.route(p);
        let mut entries = match r.fs.read_dir(r.rel).await {
            Ok(entries) => entries,
            Err(e) if e.kind == FsErrorKind::NotFound && self.storage.leads_to_mount(p) => {
                Vec::new()
            }
            Err(e) => return Err(e.into()),
        };
        for (name, mount) in self.storage.names_below(p) {
            entries.retain(|e| e.name != name);
            let info = match mount {
                Some(m) => match m.fs().stat("").await {
                    Ok(mut info) => {
                        info.name = name;
                        info
                    }
                    Err(_) => synthetic_dir(&name),
                },
                None => synthetic_dir(&name),
            };
            entries.push(info);
        }
        Ok(entries)
    }

    /// Creates a directory. Needs `create_dirs` on the parent.
    pub async fn mkdir(&self, p: &VirtualPath, mode: u32) -> Result<()> {
        if p.is_root() || self.storage.covers_mount(p) {
            return Err(Error::new(ErrorKind::AlreadyExists, "file already exists"));
        }
        self.require(Permission::CreateDirs, &p.parent())?;
        self.require_name(p)?;
        let r = self.storage.route(p);
        let done: Result<()> = r.fs.mkdir(r.rel, mode).await.map_err(Into::into);
        self.post_event("mkdir", p, None, 0, &done);
        done?;
        tracing::info!(connection_id = %self.id, path = %p, "Mkdir");
        Ok(())
    }

    /// Removes a file or symlink. Needs `delete` or `delete_files` on the parent.
    pub async fn remove_file(&self, p: &VirtualPath) -> Result<()> {
        if self.storage.covers_mount(p) {
            return Err(mount_error());
        }
        self.require_any(&[Permission::Delete, Permission::DeleteFiles], &p.parent())?;
        self.require_name(p)?;
        let r = self.storage.route(p);
        let info = r.fs.lstat(r.rel).await?;
        if info.is_dir() {
            return Err(Error::new(ErrorKind::Conflict, "is a directory"));
        }
        let size = i64::try_from(info.size).unwrap_or(i64::MAX);
        self.pre_event("pre-delete", p, Some(size)).await?;
        let done: Result<()> = r.fs.remove_file(r.rel).await.map_err(Into::into);
        self.post_event("delete", p, None, size, &done);
        done?;
        self.release(r.mount, &info).await;
        tracing::info!(connection_id = %self.id, path = %p, "Remove");
        Ok(())
    }

    /// Takes a removed or replaced file's bytes off the usage counters.
    pub(super) async fn release(&self, mount: Option<&super::Mount>, info: &FileInfo) {
        if info.kind == FileKind::File
            && let Some(charge) = self.charge(mount)
        {
            charge
                .apply(-i64::try_from(info.size).unwrap_or(i64::MAX), -1)
                .await;
        }
    }

    /// Removes an empty directory. Needs `delete` or `delete_dirs` on the parent.
    pub async fn remove_dir(&self, p: &VirtualPath) -> Result<()> {
        if p.is_root() {
            return Err(Error::denied());
        }
        if self.storage.covers_mount(p) {
            return Err(mount_error());
        }
        self.require_any(&[Permission::Delete, Permission::DeleteDirs], &p.parent())?;
        self.require_name(p)?;
        let r = self.storage.route(p);
        let done: Result<()> = r.fs.remove_dir(r.rel).await.map_err(Into::into);
        self.post_event("rmdir", p, None, 0, &done);
        done?;
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
        if self.storage.covers_mount(from) || self.storage.covers_mount(to) {
            return Err(mount_error());
        }
        self.require_name(from)?;
        self.require_name(to)?;
        let (rf, rt) = (self.storage.route(from), self.storage.route(to));
        let info = rf.fs.lstat(rf.rel).await?;
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
        let replaced = if replace {
            rt.fs.lstat(rt.rel).await.ok()
        } else {
            None
        };
        if replaced.is_some() {
            self.require(Permission::Overwrite, &to.parent())?;
        }
        let done = if rf.same_backend(&rt) {
            self.rename_within(from, to, replace, &info, replaced).await
        } else {
            // Another folder: copied, then removed, each file charged where it lands.
            self.move_across(from, to, &info, replaced.as_ref()).await
        };
        let size = i64::try_from(info.size).unwrap_or(i64::MAX);
        self.post_event("rename", from, Some(to), size, &done);
        done?;
        tracing::info!(connection_id = %self.id, path = %from, target = %to, "Rename");
        Ok(())
    }

    /// A rename on one back-end, `info` describing `from` and `replaced` the entry `to`
    /// held when replacing it is allowed.
    async fn rename_within(
        &self,
        from: &VirtualPath,
        to: &VirtualPath,
        replace: bool,
        info: &FileInfo,
        replaced: Option<FileInfo>,
    ) -> Result<()> {
        let (rf, rt) = (self.storage.route(from), self.storage.route(to));
        if info.is_dir() && from.parent() != to.parent() {
            self.check_links_stay(from).await?;
        }
        if info.kind == FileKind::Symlink && from.parent() != to.parent() {
            return self.rename_link(from, to, replace).await;
        }
        rf.fs.rename(rf.rel, rt.rel, replace).await?;
        // Renaming a name onto another name of the same file changes nothing.
        if let Some(old) = replaced.filter(|old| from != to && !old.same_file(info)) {
            self.release(rt.mount, &old).await;
        }
        Ok(())
    }

    /// Creates a symlink at `link` pointing at `target` (a client path, canonicalised
    /// relative to the link's directory and stored as an absolute virtual path, which the
    /// back-end resolves inside the user's root). Needs `create_symlinks`.
    pub async fn symlink(&self, target_raw: &str, link: &VirtualPath) -> Result<()> {
        let target = VirtualPath::resolve(&link.parent(), target_raw)?;
        self.require(Permission::CreateSymlinks, &link.parent())?;
        if self.storage.covers_mount(link) {
            return Err(mount_error());
        }
        let (rl, rt) = (self.storage.route(link), self.storage.route(&target));
        if !rl.same_backend(&rt) {
            return Err(across_folders());
        }
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
        rl.fs.symlink(&stored, rl.rel).await?;
        tracing::info!(connection_id = %self.id, path = %link, target = %target, "Symlink");
        Ok(())
    }

    /// Reads a symlink, as a virtual path. Needs `list` on the parent.
    pub async fn read_link(&self, p: &VirtualPath) -> Result<VirtualPath> {
        self.require(Permission::List, &p.parent())?;
        self.require_visible(p)?;
        let r = self.storage.route(p);
        let target = r.fs.read_link(r.rel).await?;
        VirtualPath::resolve(&p.parent(), &target)
    }

    /// Creates a hard link. Needs `create_symlinks` on the link's directory, and
    /// `download` on the source's (the link exposes the same data).
    pub async fn hard_link(&self, existing: &VirtualPath, link: &VirtualPath) -> Result<()> {
        self.require(Permission::CreateSymlinks, &link.parent())?;
        self.require(Permission::Download, &existing.parent())?;
        self.require_name(existing)?;
        self.require_name(link)?;
        if self.storage.covers_mount(link) {
            return Err(mount_error());
        }
        let (re, rl) = (self.storage.route(existing), self.storage.route(link));
        if !re.same_backend(&rl) {
            return Err(across_folders());
        }
        let info = re.fs.lstat(re.rel).await?;
        if info.kind != FileKind::File {
            return Err(Error::invalid(
                "hard links are only allowed to regular files",
            ));
        }
        // Every name counts as a file of its size: removing either one releases it.
        if let Some(room) = self.quota_room(rl.mount, true).await?
            && info.size > room
        {
            return Err(super::quota::quota_exceeded("the size quota is used up"));
        }
        re.fs.hard_link(re.rel, rl.rel).await?;
        if let Some(charge) = self.charge(rl.mount) {
            charge
                .apply(i64::try_from(info.size).unwrap_or(i64::MAX), 1)
                .await;
        }
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
        let r = self.storage.route(p);
        // Growing a file by path is checked and charged like an upload. Shrinking is
        // not released here: the file may be open for an upload that still counts its
        // old size, so the next quota scan settles it.
        let growth = match attrs.size {
            Some(size) => {
                let old = r.fs.stat(r.rel).await?;
                let growth = size.saturating_sub(old.size);
                let max = self.user.filters.max_upload_file_size;
                if growth > 0 && max > 0 && size > u64::try_from(max).unwrap_or(u64::MAX) {
                    return Err(super::quota::quota_exceeded(
                        "the file would pass the upload size limit",
                    ));
                }
                if growth > 0
                    && let Some(room) = self.quota_room(r.mount, false).await?
                    && growth > room
                {
                    return Err(super::quota::quota_exceeded("the size quota is used up"));
                }
                (old.kind == FileKind::File).then_some(growth)
            }
            None => None,
        };
        r.fs.set_attrs(r.rel, attrs, follow).await?;
        if let Some(growth) = growth.filter(|g| *g > 0)
            && let Some(charge) = self.charge(r.mount)
        {
            charge
                .apply(i64::try_from(growth).unwrap_or(i64::MAX), 0)
                .await;
        }
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
        let r = self.storage.route(p);
        Ok(r.fs.statvfs(r.rel).await?)
    }

    /// Digest of a file's content. Needs `download` on the parent.
    pub async fn hash_file(&self, p: &VirtualPath, algo: HashAlgo) -> Result<String> {
        let t = self.open_read_for(p, false).await?;
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
        if self.storage.covers_mount(src) || self.storage.covers_mount(dst) {
            return Err(Error::new(
                ErrorKind::PermissionDenied,
                "a virtual folder, or a directory containing one, cannot be copied or replaced",
            ));
        }
        let done = Box::pin(self.copy_rec(src, dst, 0)).await;
        let size = match self.events.as_ref().filter(|h| h.wants("copy")) {
            Some(_) => self.stat(src).await.map_or(0, |i| {
                if i.is_dir() {
                    0
                } else {
                    i64::try_from(i.size).unwrap_or(i64::MAX)
                }
            }),
            None => 0,
        };
        self.post_event("copy", src, Some(dst), size, &done);
        done?;
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
        let rs = self.storage.route(src);
        let info = rs.fs.lstat(rs.rel).await?;
        match info.kind {
            FileKind::Dir => {
                self.require(Permission::List, src)?;
                match self.mkdir(dst, info.perm).await {
                    Ok(()) => {}
                    Err(e) if e.kind == crate::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(e),
                }
                for entry in rs.fs.read_dir(rs.rel).await? {
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
        let r = self.open_read_for(src, false).await?;
        let opts = super::WriteOptions {
            truncate: true,
            create: true,
            ..Default::default()
        };
        let w = match self.open_write_for(dst, opts, false).await {
            Ok(w) => w,
            Err(e) => {
                let _ = r.close().await;
                return Err(e);
            }
        };
        let copied = super::transfer::copy_data(&r, &w).await;
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
        if self.storage.covers_mount(p) {
            return Err(mount_error());
        }
        Box::pin(self.remove_rec(p, 0)).await
    }

    async fn remove_rec(&self, p: &VirtualPath, depth: usize) -> Result<()> {
        if depth > MAX_RECURSION {
            return Err(Error::invalid("directory tree too deep"));
        }
        let r = self.storage.route(p);
        let info = r.fs.lstat(r.rel).await?;
        if info.is_dir() {
            self.require(Permission::List, p)?;
            for entry in r.fs.read_dir(r.rel).await? {
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
