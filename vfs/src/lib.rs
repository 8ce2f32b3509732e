//! sftpgo-vfs: storage back-ends behind one [`Fs`] trait.
//!
//! Contract:
//! - A back-end serves paths *relative to its own root*, already canonicalised by
//!   `sftpgo-core` (no `.`/`..` components, no leading `/`, `""` is the root). It must
//!   still never let a path, a symlink or a race escape that root.
//! - Errors are [`FsError`]s carrying a small [`FsErrorKind`]; front-ends map kinds to wire
//!   codes, never strings.
//! - This crate knows nothing of users, permissions, quotas or protocols.
//!
//! Entry points: [`Fs`], [`FileHandle`], [`local::LocalFs`].

mod error;
pub mod local;
mod types;

pub use error::{FsError, FsErrorKind, FsResult};
pub use types::{FileInfo, FileKind, OpenOptions, SetAttrs, StatVfs};

use async_trait::async_trait;

/// An open file of a back-end. Offsets are absolute; there is no cursor, so several
/// requests can be in flight on one handle.
#[async_trait]
pub trait FileHandle: Send + Sync {
    /// Reads up to `buf.len()` bytes at `offset`; returns 0 at end of file. Fills the
    /// buffer completely unless end of file is reached first.
    async fn read_at(&self, buf: &mut [u8], offset: u64) -> FsResult<usize>;
    /// Writes all of `buf` at `offset`.
    async fn write_at(&self, buf: &[u8], offset: u64) -> FsResult<()>;
    /// Current attributes of the open file.
    async fn stat(&self) -> FsResult<FileInfo>;
    /// Applies attribute changes to the open file.
    async fn set_attrs(&self, attrs: &SetAttrs) -> FsResult<()>;
    /// Flushes data and metadata to stable storage.
    async fn sync(&self) -> FsResult<()>;
    /// The descriptor a zero-copy send (`sendfile`) can read `len` bytes at `offset`
    /// from without blocking the calling thread (memory-backed files, or bytes already
    /// in the page cache); `None` when the caller must use [`FileHandle::read_at`].
    fn zero_copy_source(&self, _offset: u64, _len: usize) -> Option<std::os::fd::BorrowedFd<'_>> {
        None
    }
    /// Whether [`FileHandle::write_at`] is a plain memory copy done on the calling
    /// thread (memory-backed files): callers streaming from a socket then use small
    /// chunks, which the file write reads back while they are still in the CPU's L1
    /// cache. `false` when each write is a round trip (a ring, a network request),
    /// which larger chunks amortise.
    fn writes_inline(&self) -> bool {
        false
    }
    /// The descriptor a zero-copy receive (`splice(2)` from a socket through a pipe)
    /// can write any range of the file to without blocking the calling thread
    /// (memory-backed files not opened for appending); `None` when the caller must use
    /// [`FileHandle::write_at`].
    fn zero_copy_sink(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        None
    }
}

/// A storage back-end rooted somewhere. Paths are relative to that root (see the crate
/// contract); `""` names the root itself.
#[async_trait]
pub trait Fs: Send + Sync {
    /// Attributes, following a final symlink (within the root).
    async fn stat(&self, path: &str) -> FsResult<FileInfo>;
    /// Attributes of the entry itself (a symlink is reported as a symlink).
    async fn lstat(&self, path: &str) -> FsResult<FileInfo>;
    /// Opens (and optionally creates) a regular file.
    async fn open(&self, path: &str, opts: &OpenOptions) -> FsResult<Box<dyn FileHandle>>;
    /// Lists a directory (without `.` and `..`); entries are lstat'ed.
    async fn read_dir(&self, path: &str) -> FsResult<Vec<FileInfo>>;
    /// Creates one directory.
    async fn mkdir(&self, path: &str, mode: u32) -> FsResult<()>;
    /// Removes a file or symlink.
    async fn remove_file(&self, path: &str) -> FsResult<()>;
    /// Removes an empty directory.
    async fn remove_dir(&self, path: &str) -> FsResult<()>;
    /// Renames `from` to `to`; with `replace` false an existing `to` is an error.
    async fn rename(&self, from: &str, to: &str, replace: bool) -> FsResult<()>;
    /// Creates a symlink at `link` whose content is `target` (stored verbatim).
    async fn symlink(&self, target: &str, link: &str) -> FsResult<()>;
    /// Reads a symlink's content.
    async fn read_link(&self, path: &str) -> FsResult<String>;
    /// Creates a hard link `link` to the existing file `existing`.
    async fn hard_link(&self, existing: &str, link: &str) -> FsResult<()>;
    /// Applies attribute changes; `follow` false acts on a symlink itself where possible.
    async fn set_attrs(&self, path: &str, attrs: &SetAttrs, follow: bool) -> FsResult<()>;
    /// File-system statistics for the back-end holding `path`.
    async fn statvfs(&self, path: &str) -> FsResult<StatVfs>;
    /// The value of the extended attribute `name` (in the `user.` namespace) of
    /// `path`, `None` when it has none. [`FsErrorKind::Unsupported`] by default and
    /// where the storage keeps no such attributes.
    async fn get_xattr(&self, path: &str, name: &str) -> FsResult<Option<Vec<u8>>> {
        let _ = (path, name);
        Err(FsError::new(
            FsErrorKind::Unsupported,
            "extended attributes are not supported",
        ))
    }
    /// Sets (or, with `None`, removes) the extended attribute `name` (in the `user.`
    /// namespace) of `path`; removing a missing one is no error. Unsupported by
    /// default, like [`Fs::get_xattr`]; a value the storage cannot hold is
    /// [`FsErrorKind::NoSpace`].
    async fn set_xattr(&self, path: &str, name: &str, value: Option<&[u8]>) -> FsResult<()> {
        let _ = (path, name, value);
        Err(FsError::new(
            FsErrorKind::Unsupported,
            "extended attributes are not supported",
        ))
    }
    /// Where `path` is on the host, for back-ends that have one (reported to event
    /// actions as `{{.FsPath}}`; never opened through it). `None` by default.
    fn host_path(&self, path: &str) -> Option<std::path::PathBuf> {
        let _ = path;
        None
    }
}
