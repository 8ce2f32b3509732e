//! Local disk back-end, confined to its root directory.
//!
//! Every path is resolved with `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)` against a
//! directory fd opened once for the root: `..` and absolute symlinks are interpreted inside
//! the root (chroot semantics), so neither a crafted path nor a symlink planted on disk can
//! reach a file outside it. Operations on a final component (mkdir, unlink, rename, …)
//! resolve the parent that way and then act on the bare name with the `*at` syscalls.
//!
//! File data goes through the calling worker's io_uring ([`uring`]); `pread`/`pwrite`
//! where io_uring is unavailable.

mod file;
pub mod uring;

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use rustix::fs::{AtFlags, Mode, OFlags, RenameFlags, ResolveFlags};

use crate::{
    FileHandle, FileInfo, FileKind, Fs, FsError, FsErrorKind, FsResult, OpenOptions, SetAttrs,
    StatVfs,
};
pub use file::LocalFile;

/// A local directory served as a file system.
#[derive(Debug)]
pub struct LocalFs {
    root: PathBuf,
    root_fd: OwnedFd,
    owner: Option<(u32, u32)>,
}

const RESOLVE: ResolveFlags = ResolveFlags::IN_ROOT.union(ResolveFlags::NO_MAGICLINKS);

impl LocalFs {
    /// Opens `root` (which must exist and be a directory).
    pub fn new(root: impl AsRef<Path>) -> FsResult<Self> {
        let root = root.as_ref().to_path_buf();
        let root_fd = rustix::fs::open(
            &root,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Self {
            root,
            root_fd,
            owner: None,
        })
    }

    /// Gives files, directories and symlinks this back-end creates to `uid`/`gid` (SFTPGo's
    /// per-user `uid`/`gid`; 0 leaves that id alone). Needs the privilege to chown.
    pub fn with_owner(mut self, uid: u32, gid: u32) -> Self {
        if uid != 0 || gid != 0 {
            self.owner = Some((uid, gid));
        }
        self
    }

    /// Applies the configured owner to `name` in `dir` (not following symlinks).
    fn chown_created(&self, dir: &OwnedFd, name: &str) -> FsResult<()> {
        let Some((uid, gid)) = self.owner else {
            return Ok(());
        };
        let id = |v: u32| (v != 0).then_some(v);
        rustix::fs::chownat(
            dir,
            name,
            id(uid).map(rustix::fs::Uid::from_raw),
            id(gid).map(rustix::fs::Gid::from_raw),
            AtFlags::SYMLINK_NOFOLLOW,
        )?;
        Ok(())
    }

    /// The host directory this back-end serves.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn resolve(&self, path: &str, flags: OFlags, mode: u32) -> FsResult<OwnedFd> {
        let rel = if path.is_empty() { "." } else { path };
        // openat2 rejects a mode unless a file may be created.
        let mode = if flags.contains(OFlags::CREATE) {
            mode
        } else {
            0
        };
        Ok(rustix::fs::openat2(
            self.root_fd.as_fd(),
            rel,
            flags | OFlags::CLOEXEC,
            Mode::from_raw_mode(mode),
            RESOLVE,
        )?)
    }

    /// Resolves the parent directory of `path` and returns it with the last component.
    fn parent_and_name<'p>(&self, path: &'p str) -> FsResult<(OwnedFd, &'p str)> {
        let (parent, name) = match path.rfind('/') {
            Some(i) => (&path[..i], &path[i + 1..]),
            None => ("", path),
        };
        if name.is_empty() || name == "." || name == ".." {
            return Err(FsError::new(FsErrorKind::InvalidInput, "invalid path"));
        }
        let fd = self.resolve(parent, OFlags::PATH | OFlags::DIRECTORY, 0)?;
        Ok((fd, name))
    }

    fn set_attrs_fd(fd: &OwnedFd, attrs: &SetAttrs) -> FsResult<()> {
        // An O_PATH fd cannot be used with fchmod/futimens; its /proc/self/fd entry can,
        // and it names exactly the inode we resolved (no second path walk).
        let proc_path = format!("/proc/self/fd/{}", rustix::fd::AsRawFd::as_raw_fd(fd));
        if let Some(perm) = attrs.perm {
            rustix::fs::chmod(&proc_path, Mode::from_raw_mode(perm & 0o7777))?;
        }
        if let Some((uid, gid)) = attrs.uid_gid {
            rustix::fs::chownat(
                fd.as_fd(),
                "",
                Some(rustix::fs::Uid::from_raw(uid)),
                Some(rustix::fs::Gid::from_raw(gid)),
                AtFlags::EMPTY_PATH,
            )?;
        }
        if let Some((atime, mtime)) = attrs.times {
            rustix::fs::utimensat(
                rustix::fs::CWD,
                &proc_path,
                &timestamps(atime, mtime),
                AtFlags::empty(),
            )?;
        }
        if let Some(size) = attrs.size {
            let f = rustix::fs::open(&proc_path, OFlags::WRONLY | OFlags::CLOEXEC, Mode::empty())?;
            rustix::fs::ftruncate(&f, size)?;
        }
        Ok(())
    }
}

/// Whole-second access and modification times for `utimensat`/`futimens`.
pub(crate) fn timestamps(atime: i64, mtime: i64) -> rustix::fs::Timestamps {
    let ts = |s: i64| rustix::fs::Timespec {
        tv_sec: s,
        tv_nsec: 0,
    };
    rustix::fs::Timestamps {
        last_access: ts(atime),
        last_modification: ts(mtime),
    }
}

/// Converts a raw stat into [`FileInfo`].
pub(crate) fn info_from_stat(name: &str, st: &rustix::fs::Stat) -> FileInfo {
    let fmt = st.st_mode & libc::S_IFMT;
    let kind = match fmt {
        libc::S_IFREG => FileKind::File,
        libc::S_IFDIR => FileKind::Dir,
        libc::S_IFLNK => FileKind::Symlink,
        _ => FileKind::Other,
    };
    FileInfo {
        name: name.to_string(),
        kind,
        size: u64::try_from(st.st_size).unwrap_or(0),
        perm: st.st_mode & 0o7777,
        uid: st.st_uid,
        gid: st.st_gid,
        atime: st.st_atime,
        mtime: st.st_mtime,
        nlink: st.st_nlink,
        id: (st.st_dev, st.st_ino),
    }
}

/// `name` when it is in the `user.` namespace: the only one served (the others are
/// the system's, and the server may run as root).
fn user_xattr(name: &str) -> FsResult<&str> {
    if name.len() > "user.".len() && name.starts_with("user.") && !name.contains('\0') {
        Ok(name)
    } else {
        Err(FsError::new(
            FsErrorKind::InvalidInput,
            "only user. extended attributes are served",
        ))
    }
}

fn last_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

#[async_trait]
impl Fs for LocalFs {
    fn host_path(&self, path: &str) -> Option<PathBuf> {
        Some(if path.is_empty() {
            self.root.clone()
        } else {
            self.root.join(path)
        })
    }

    async fn stat(&self, path: &str) -> FsResult<FileInfo> {
        let fd = self.resolve(path, OFlags::PATH, 0)?;
        let st = rustix::fs::fstat(&fd)?;
        Ok(info_from_stat(last_name(path), &st))
    }

    async fn lstat(&self, path: &str) -> FsResult<FileInfo> {
        if path.is_empty() {
            return self.stat(path).await;
        }
        let (dir, name) = self.parent_and_name(path)?;
        let st = rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW)?;
        Ok(info_from_stat(name, &st))
    }

    async fn open(&self, path: &str, opts: &OpenOptions) -> FsResult<Box<dyn FileHandle>> {
        let mut flags = match (opts.read, opts.write || opts.append) {
            (true, true) => OFlags::RDWR,
            (false, true) => OFlags::WRONLY,
            _ => OFlags::RDONLY,
        };
        if opts.append {
            flags |= OFlags::APPEND;
        }
        if opts.create {
            flags |= OFlags::CREATE;
        }
        if opts.create && opts.exclusive {
            flags |= OFlags::EXCL;
        }
        if opts.truncate {
            flags |= OFlags::TRUNC;
        }
        // Non-blocking open: a FIFO (or device) planted in a home directory must not
        // park the worker thread in open(2) until a writer shows up. Only regular
        // files are served.
        flags |= OFlags::NONBLOCK;
        let mode = if opts.mode == 0 { 0o666 } else { opts.mode };
        let fd = self.resolve(path, flags, mode)?;
        let st = rustix::fs::fstat(&fd)?;
        match st.st_mode & libc::S_IFMT {
            libc::S_IFREG => {
                // Back to blocking mode: io_uring would otherwise answer EAGAIN for
                // reads that must wait for the disk instead of queueing them.
                let fl = rustix::fs::fcntl_getfl(&fd)?;
                rustix::fs::fcntl_setfl(&fd, fl - OFlags::NONBLOCK)?;
            }
            libc::S_IFDIR => {
                return Err(FsError::new(FsErrorKind::IsADirectory, "is a directory"));
            }
            _ => {
                return Err(FsError::new(
                    FsErrorKind::InvalidInput,
                    "not a regular file",
                ));
            }
        }
        if opts.create
            && let Some((uid, gid)) = self.owner
            && (st.st_uid != uid || st.st_gid != gid)
        {
            let id = |v: u32| (v != 0).then_some(v);
            rustix::fs::fchown(
                &fd,
                id(uid).map(rustix::fs::Uid::from_raw),
                id(gid).map(rustix::fs::Gid::from_raw),
            )?;
        }
        Ok(Box::new(LocalFile::new(fd)))
    }

    async fn read_dir(&self, path: &str) -> FsResult<Vec<FileInfo>> {
        let fd = self.resolve(path, OFlags::RDONLY | OFlags::DIRECTORY, 0)?;
        let mut out = Vec::new();
        let dir = rustix::fs::Dir::read_from(&fd)?;
        for entry in dir {
            let entry = entry?;
            let name_bytes = entry.file_name().to_bytes();
            if name_bytes == b"." || name_bytes == b".." {
                continue;
            }
            let name = String::from_utf8_lossy(name_bytes).into_owned();
            match rustix::fs::statat(&fd, entry.file_name(), AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) => out.push(info_from_stat(&name, &st)),
                // Raced with a delete: skip it.
                Err(rustix::io::Errno::NOENT) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(out)
    }

    async fn mkdir(&self, path: &str, mode: u32) -> FsResult<()> {
        let (dir, name) = self.parent_and_name(path)?;
        let mode = if mode == 0 { 0o777 } else { mode };
        rustix::fs::mkdirat(&dir, name, Mode::from_raw_mode(mode))?;
        self.chown_created(&dir, name)?;
        Ok(())
    }

    async fn remove_file(&self, path: &str) -> FsResult<()> {
        let (dir, name) = self.parent_and_name(path)?;
        rustix::fs::unlinkat(&dir, name, AtFlags::empty())?;
        Ok(())
    }

    async fn remove_dir(&self, path: &str) -> FsResult<()> {
        let (dir, name) = self.parent_and_name(path)?;
        rustix::fs::unlinkat(&dir, name, AtFlags::REMOVEDIR)?;
        Ok(())
    }

    async fn rename(&self, from: &str, to: &str, replace: bool) -> FsResult<()> {
        let (fdir, fname) = self.parent_and_name(from)?;
        let (tdir, tname) = self.parent_and_name(to)?;
        let flags = if replace {
            RenameFlags::empty()
        } else {
            RenameFlags::NOREPLACE
        };
        rustix::fs::renameat_with(&fdir, fname, &tdir, tname, flags)?;
        Ok(())
    }

    async fn symlink(&self, target: &str, link: &str) -> FsResult<()> {
        let (dir, name) = self.parent_and_name(link)?;
        rustix::fs::symlinkat(target, &dir, name)?;
        self.chown_created(&dir, name)?;
        Ok(())
    }

    async fn read_link(&self, path: &str) -> FsResult<String> {
        let (dir, name) = self.parent_and_name(path)?;
        let target = rustix::fs::readlinkat(&dir, name, Vec::new())?;
        Ok(target.to_string_lossy().into_owned())
    }

    async fn hard_link(&self, existing: &str, link: &str) -> FsResult<()> {
        let (sdir, sname) = self.parent_and_name(existing)?;
        let (ldir, lname) = self.parent_and_name(link)?;
        rustix::fs::linkat(&sdir, sname, &ldir, lname, AtFlags::empty())?;
        Ok(())
    }

    async fn set_attrs(&self, path: &str, attrs: &SetAttrs, follow: bool) -> FsResult<()> {
        if !follow && !path.is_empty() {
            let (dir, name) = self.parent_and_name(path)?;
            let st = rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW)?;
            if st.st_mode & libc::S_IFMT == libc::S_IFLNK {
                // Linux cannot chmod/truncate a symlink; times and owner can be set.
                if let Some((uid, gid)) = attrs.uid_gid {
                    rustix::fs::chownat(
                        &dir,
                        name,
                        Some(rustix::fs::Uid::from_raw(uid)),
                        Some(rustix::fs::Gid::from_raw(gid)),
                        AtFlags::SYMLINK_NOFOLLOW,
                    )?;
                }
                if let Some((atime, mtime)) = attrs.times {
                    rustix::fs::utimensat(
                        &dir,
                        name,
                        &timestamps(atime, mtime),
                        AtFlags::SYMLINK_NOFOLLOW,
                    )?;
                }
                return Ok(());
            }
        }
        let fd = self.resolve(path, OFlags::PATH, 0)?;
        Self::set_attrs_fd(&fd, attrs)
    }

    async fn get_xattr(&self, path: &str, name: &str) -> FsResult<Option<Vec<u8>>> {
        let name = user_xattr(name)?;
        let fd = self.resolve(path, OFlags::PATH, 0)?;
        let proc_path = format!("/proc/self/fd/{}", rustix::fd::AsRawFd::as_raw_fd(&fd));
        // Most values are small: one call into a small buffer, a second sized one
        // only when it does not fit.
        let mut small = [0u8; 4096];
        match rustix::fs::getxattr(&proc_path, name, &mut small[..]) {
            Ok(n) => return Ok(Some(small.get(..n).unwrap_or_default().to_vec())),
            Err(rustix::io::Errno::NODATA) => return Ok(None),
            Err(rustix::io::Errno::RANGE) => {}
            Err(e) => return Err(e.into()),
        }
        loop {
            let len = match rustix::fs::getxattr_query(&proc_path, name) {
                Ok(len) => len,
                Err(rustix::io::Errno::NODATA) => return Ok(None),
                Err(e) => return Err(e.into()),
            };
            let mut value = vec![0u8; len];
            match rustix::fs::getxattr(&proc_path, name, &mut value[..]) {
                Ok(n) => {
                    value.truncate(n);
                    return Ok(Some(value));
                }
                Err(rustix::io::Errno::NODATA) => return Ok(None),
                // It grew in between: ask again.
                Err(rustix::io::Errno::RANGE) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    async fn set_xattr(&self, path: &str, name: &str, value: Option<&[u8]>) -> FsResult<()> {
        let name = user_xattr(name)?;
        let fd = self.resolve(path, OFlags::PATH, 0)?;
        let proc_path = format!("/proc/self/fd/{}", rustix::fd::AsRawFd::as_raw_fd(&fd));
        let done = match value {
            Some(v) => rustix::fs::setxattr(&proc_path, name, v, rustix::fs::XattrFlags::empty()),
            None => match rustix::fs::removexattr(&proc_path, name) {
                Err(rustix::io::Errno::NODATA) => Ok(()),
                other => other,
            },
        };
        match done {
            Ok(()) => Ok(()),
            Err(rustix::io::Errno::TOOBIG | rustix::io::Errno::RANGE) => Err(FsError::new(
                FsErrorKind::NoSpace,
                "the value is too large for the file system",
            )),
            Err(e) => Err(e.into()),
        }
    }

    async fn statvfs(&self, path: &str) -> FsResult<StatVfs> {
        let fd = self.resolve(path, OFlags::PATH, 0)?;
        let s = rustix::fs::fstatvfs(&fd)?;
        Ok(StatVfs {
            bsize: s.f_bsize,
            frsize: s.f_frsize,
            blocks: s.f_blocks,
            bfree: s.f_bfree,
            bavail: s.f_bavail,
            files: s.f_files,
            ffree: s.f_ffree,
            favail: s.f_favail,
            fsid: s.f_fsid,
            flag: s.f_flag.bits(),
            namemax: s.f_namemax,
        })
    }
}

#[cfg(test)]
mod tests;
