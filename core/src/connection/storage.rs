//! A user's storage: the back-end of the home directory plus one back-end per virtual
//! folder, and the routing of a virtual path to the back-end that owns it (the deepest
//! mount point that contains it). Only the connection routes; front-ends never see a
//! back-end.

use std::sync::Arc;

use sftpgo_vfs::{FileInfo, FileKind, Fs};

use super::FsFactory;
use crate::model::User;
use crate::path::VirtualPath;
use crate::{Error, Result};

/// A virtual folder mounted in the user's tree.
pub struct Mount {
    point: VirtualPath,
    folder: String,
    quota_size: i64,
    quota_files: i64,
    fs: Arc<dyn Fs>,
}

impl Mount {
    /// Where the folder appears.
    pub fn point(&self) -> &VirtualPath {
        &self.point
    }

    /// The folder's name (the key of its usage counters).
    pub fn folder(&self) -> &str {
        &self.folder
    }

    /// Quota in bytes: 0 unlimited, -1 counted in the user's quota.
    pub fn quota_size(&self) -> i64 {
        self.quota_size
    }

    /// Quota in files: 0 unlimited, -1 counted in the user's quota.
    pub fn quota_files(&self) -> i64 {
        self.quota_files
    }

    /// The folder's back-end.
    pub(crate) fn fs(&self) -> &Arc<dyn Fs> {
        &self.fs
    }

    /// True when the folder's usage also counts against the user's quota.
    pub fn in_user_quota(&self) -> bool {
        self.quota_size == -1 && self.quota_files == -1
    }
}

/// The home back-end and the mounted folders, deepest mount point first.
pub struct Storage {
    home: Arc<dyn Fs>,
    mounts: Vec<Mount>,
}

/// Where a virtual path lives: its back-end, the path relative to that back-end's root,
/// and the folder when it is not the home.
pub(crate) struct Route<'a> {
    pub fs: &'a Arc<dyn Fs>,
    pub rel: &'a str,
    pub mount: Option<&'a Mount>,
}

impl Route<'_> {
    /// True when both routes reach the same back-end (a plain rename can move data
    /// between them).
    pub fn same_backend(&self, other: &Route<'_>) -> bool {
        Arc::ptr_eq(self.fs, other.fs)
    }
}

impl Storage {
    /// Storage with only a home back-end.
    pub fn new(home: Arc<dyn Fs>) -> Self {
        Self {
            home,
            mounts: Vec::new(),
        }
    }

    /// Mounts `fs` (the folder named `folder`) at `point`.
    pub fn with_mount(
        mut self,
        point: VirtualPath,
        folder: impl Into<String>,
        quota: (i64, i64),
        fs: Arc<dyn Fs>,
    ) -> Self {
        self.mounts.push(Mount {
            point,
            folder: folder.into(),
            quota_size: quota.0,
            quota_files: quota.1,
            fs,
        });
        // Deepest first, so the first match is the owner.
        self.mounts
            .sort_by_key(|m| std::cmp::Reverse(m.point.components().count()));
        self
    }

    /// The user's home plus each of the user's virtual folders, built by `factory`.
    pub fn open(factory: &dyn FsFactory, user: &User) -> Result<Self> {
        let root_mounted = user
            .virtual_folders
            .iter()
            .any(|f| VirtualPath::parse(&f.virtual_path).is_ok_and(|p| p.is_root()));
        let home = if root_mounted {
            // A folder mounted at `/` hides the whole home: it is never opened.
            Arc::new(Unreachable) as Arc<dyn Fs>
        } else {
            factory.fs_for(user)?
        };
        let mut storage = Self::new(home);
        for folder in &user.virtual_folders {
            // One folder, one mount: two mounts of it (a group's and the user's own)
            // would be two back-ends over the same files.
            if storage.mounts.iter().any(|m| m.folder == folder.name) {
                tracing::warn!(username = %user.username, folder = %folder.name,
                    virtual_path = %folder.virtual_path, "folder mapped twice: only the first mount is served");
                continue;
            }
            let point = VirtualPath::parse(&folder.virtual_path)?;
            let fs = factory.folder_fs(user, folder)?;
            storage = storage.with_mount(
                point,
                folder.name.clone(),
                (folder.quota_size, folder.quota_files),
                fs,
            );
        }
        Ok(storage)
    }

    /// The back-end owning `p`.
    pub(crate) fn route<'a>(&'a self, p: &'a VirtualPath) -> Route<'a> {
        for m in &self.mounts {
            if p.starts_with(&m.point) {
                let rel = if m.point.is_root() {
                    p.fs_relative()
                } else {
                    p.as_str()
                        .get(m.point.as_str().len()..)
                        .unwrap_or("")
                        .trim_start_matches('/')
                };
                return Route {
                    fs: &m.fs,
                    rel,
                    mount: Some(m),
                };
            }
        }
        Route {
            fs: &self.home,
            rel: p.fs_relative(),
            mount: None,
        }
    }

    /// True when `p` is a mount point or has one below it: such a path cannot be
    /// removed, renamed or replaced.
    pub(crate) fn covers_mount(&self, p: &VirtualPath) -> bool {
        self.mounts.iter().any(|m| m.point.starts_with(p))
    }

    /// True when a mount point lies strictly below `p` (so `p` exists as a directory
    /// even where its own back-end has nothing).
    pub(crate) fn leads_to_mount(&self, p: &VirtualPath) -> bool {
        self.mounts
            .iter()
            .any(|m| m.point != *p && m.point.starts_with(p))
    }

    /// The names directly below `dir` that lead to a mount point: the mount points
    /// themselves and the directories above deeper ones.
    pub(crate) fn names_below(&self, dir: &VirtualPath) -> Vec<(String, Option<&Mount>)> {
        let depth = dir.components().count();
        let mut out: Vec<(String, Option<&Mount>)> = Vec::new();
        for m in &self.mounts {
            if m.point == *dir || !m.point.starts_with(dir) {
                continue;
            }
            let Some(name) = m.point.components().nth(depth) else {
                continue;
            };
            let direct = m.point.components().count() == depth + 1;
            match out.iter_mut().find(|(n, _)| n == name) {
                Some(slot) if direct => slot.1 = Some(m),
                Some(_) => {}
                None => out.push((name.to_string(), direct.then_some(m))),
            }
        }
        out
    }
}

/// A directory entry for a path that exists only because a mount point lies below it.
pub(crate) fn synthetic_dir(name: &str) -> FileInfo {
    FileInfo {
        name: name.to_string(),
        kind: FileKind::Dir,
        size: 0,
        perm: 0o755,
        uid: 0,
        gid: 0,
        atime: 0,
        mtime: 0,
        nlink: 1,
        id: (0, 0),
    }
}

/// The home of a user whose whole tree is a virtual folder mounted at `/`: never routed
/// to, so every call is an error.
struct Unreachable;

#[async_trait::async_trait]
impl Fs for Unreachable {
    async fn stat(&self, _: &str) -> sftpgo_vfs::FsResult<FileInfo> {
        Err(unreachable_error())
    }
    async fn lstat(&self, _: &str) -> sftpgo_vfs::FsResult<FileInfo> {
        Err(unreachable_error())
    }
    async fn open(
        &self,
        _: &str,
        _: &sftpgo_vfs::OpenOptions,
    ) -> sftpgo_vfs::FsResult<Box<dyn sftpgo_vfs::FileHandle>> {
        Err(unreachable_error())
    }
    async fn read_dir(&self, _: &str) -> sftpgo_vfs::FsResult<Vec<FileInfo>> {
        Err(unreachable_error())
    }
    async fn mkdir(&self, _: &str, _: u32) -> sftpgo_vfs::FsResult<()> {
        Err(unreachable_error())
    }
    async fn remove_file(&self, _: &str) -> sftpgo_vfs::FsResult<()> {
        Err(unreachable_error())
    }
    async fn remove_dir(&self, _: &str) -> sftpgo_vfs::FsResult<()> {
        Err(unreachable_error())
    }
    async fn rename(&self, _: &str, _: &str, _: bool) -> sftpgo_vfs::FsResult<()> {
        Err(unreachable_error())
    }
    async fn symlink(&self, _: &str, _: &str) -> sftpgo_vfs::FsResult<()> {
        Err(unreachable_error())
    }
    async fn read_link(&self, _: &str) -> sftpgo_vfs::FsResult<String> {
        Err(unreachable_error())
    }
    async fn hard_link(&self, _: &str, _: &str) -> sftpgo_vfs::FsResult<()> {
        Err(unreachable_error())
    }
    async fn set_attrs(
        &self,
        _: &str,
        _: &sftpgo_vfs::SetAttrs,
        _: bool,
    ) -> sftpgo_vfs::FsResult<()> {
        Err(unreachable_error())
    }
    async fn statvfs(&self, _: &str) -> sftpgo_vfs::FsResult<sftpgo_vfs::StatVfs> {
        Err(unreachable_error())
    }
}

fn unreachable_error() -> sftpgo_vfs::FsError {
    sftpgo_vfs::FsError::new(
        sftpgo_vfs::FsErrorKind::NotFound,
        "no such file or directory",
    )
}

/// Refuses an operation on a mount point or on a directory holding one.
pub(crate) fn mount_error() -> Error {
    Error::new(
        crate::ErrorKind::PermissionDenied,
        "a virtual folder, or a directory containing one, cannot be renamed or removed",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use sftpgo_vfs::local::LocalFs;

    fn local(dir: &std::path::Path) -> Arc<dyn Fs> {
        Arc::new(LocalFs::new(dir).unwrap())
    }

    fn vp(s: &str) -> VirtualPath {
        VirtualPath::parse(s).unwrap()
    }

    #[test]
    fn routes_to_the_deepest_mount() {
        let t = tempfile::tempdir().unwrap();
        let (h, a, b) = (t.path().join("h"), t.path().join("a"), t.path().join("b"));
        for d in [&h, &a, &b] {
            std::fs::create_dir(d).unwrap();
        }
        let s = Storage::new(local(&h))
            .with_mount(vp("/x"), "a", (0, 0), local(&a))
            .with_mount(vp("/x/y/z"), "b", (-1, -1), local(&b));
        let check = |p: &str, folder: Option<&str>, rel: &str| {
            let p = vp(p);
            let r = s.route(&p);
            assert_eq!(r.mount.map(|m| m.folder()), folder, "{p}");
            assert_eq!(r.rel, rel, "{p}");
        };
        check("/", None, "");
        check("/xx", None, "xx");
        check("/x", Some("a"), "");
        check("/x/f", Some("a"), "f");
        check("/x/y", Some("a"), "y");
        check("/x/y/z", Some("b"), "");
        check("/x/y/z/deep/f", Some("b"), "deep/f");
        assert!(s.covers_mount(&vp("/x")) && s.covers_mount(&vp("/")));
        assert!(s.covers_mount(&vp("/x/y")) && !s.covers_mount(&vp("/x/f")));
        assert!(s.leads_to_mount(&vp("/x/y")) && !s.leads_to_mount(&vp("/x/y/z")));
        let names = s.names_below(&vp("/x"));
        assert_eq!(names.len(), 1);
        assert_eq!(names[0].0, "y");
        assert!(names[0].1.is_none(), "y only leads to a deeper mount");
        let top = s.names_below(&vp("/"));
        assert_eq!(top.len(), 1);
        assert_eq!(top[0].1.map(|m| m.folder()), Some("a"));
    }

    #[test]
    fn a_mount_at_the_root_takes_everything() {
        let t = tempfile::tempdir().unwrap();
        let s =
            Storage::new(Arc::new(Unreachable)).with_mount(vp("/"), "r", (0, 0), local(t.path()));
        let p = vp("/a/b");
        let r = s.route(&p);
        assert_eq!((r.mount.map(|m| m.folder()), r.rel), (Some("r"), "a/b"));
        let root = VirtualPath::root();
        assert_eq!(s.route(&root).rel, "");
    }
}
