//! Error kinds shared by every back-end.

use std::fmt;

/// What went wrong, in the few kinds front-ends need to choose a wire code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsErrorKind {
    /// The path (or a parent) does not exist.
    NotFound,
    /// The back-end refused the operation, or the path would leave the root.
    PermissionDenied,
    /// The target already exists.
    AlreadyExists,
    /// A directory was expected.
    NotADirectory,
    /// A file was expected.
    IsADirectory,
    /// The directory is not empty.
    DirectoryNotEmpty,
    /// The request is malformed for this back-end.
    InvalidInput,
    /// The back-end cannot do this.
    Unsupported,
    /// Out of space.
    NoSpace,
    /// Temporary; a retry may succeed.
    Transient,
    /// Anything else.
    Internal,
}

/// A back-end error: a kind and a message that is safe to show to the client.
#[derive(Debug, Clone, thiserror::Error)]
pub struct FsError {
    /// The kind front-ends map to wire codes.
    pub kind: FsErrorKind,
    /// Human-readable detail (never contains host paths outside the root).
    pub message: String,
}

impl fmt::Display for FsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl FsError {
    /// Builds an error of `kind`.
    pub fn new(kind: FsErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// Maps an OS error number to a kind and a generic message.
    pub fn from_errno(errno: i32) -> Self {
        use FsErrorKind::*;
        let (kind, msg) = match errno {
            libc::ENOENT => (NotFound, "no such file or directory"),
            libc::EACCES | libc::EPERM | libc::EROFS => (PermissionDenied, "permission denied"),
            // RESOLVE_IN_ROOT/BENEATH refusals and symlink loops never reveal details.
            libc::EXDEV | libc::ELOOP => (PermissionDenied, "path not allowed"),
            libc::EEXIST => (AlreadyExists, "file already exists"),
            libc::ENOTDIR => (NotADirectory, "not a directory"),
            libc::EISDIR => (IsADirectory, "is a directory"),
            libc::ENOTEMPTY => (DirectoryNotEmpty, "directory not empty"),
            libc::EINVAL | libc::ENAMETOOLONG => (InvalidInput, "invalid argument"),
            libc::ENOSYS | libc::EOPNOTSUPP => (Unsupported, "operation not supported"),
            libc::ENOSPC | libc::EDQUOT => (NoSpace, "no space left on device"),
            libc::EAGAIN | libc::EINTR | libc::EBUSY => (Transient, "resource busy, try again"),
            _ => (Internal, "i/o error"),
        };
        Self::new(kind, msg)
    }
}

impl From<rustix::io::Errno> for FsError {
    fn from(e: rustix::io::Errno) -> Self {
        Self::from_errno(e.raw_os_error())
    }
}

impl From<std::io::Error> for FsError {
    fn from(e: std::io::Error) -> Self {
        match e.raw_os_error() {
            Some(n) => Self::from_errno(n),
            None => Self::new(FsErrorKind::Internal, "i/o error"),
        }
    }
}

/// Result alias for back-end operations.
pub type FsResult<T> = Result<T, FsError>;
