//! Typed errors returned by core operations; front-ends map [`ErrorKind`] to wire codes.

use sftpgo_vfs::{FsError, FsErrorKind};

/// The kinds every front-end maps in one place (SFTP status, FTP reply, HTTP status).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Missing path or object.
    NotFound,
    /// Refused by policy (permissions, patterns, root confinement) or by the OS.
    PermissionDenied,
    /// Quota or transfer limit reached.
    QuotaExceeded,
    /// Not supported by this server or back-end.
    Unsupported,
    /// Malformed request.
    InvalidInput,
    /// The target exists.
    AlreadyExists,
    /// A directory is not empty, or a file/dir type mismatch.
    Conflict,
    /// Try again later.
    Transient,
    /// Anything else; details are logged, not sent.
    Internal,
}

/// A core error: a kind and a message safe to show to the client.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// Client-safe message.
    pub message: String,
}

impl Error {
    /// Builds an error.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// A permission refusal.
    pub fn denied() -> Self {
        Self::new(ErrorKind::PermissionDenied, "permission denied")
    }

    /// An invalid-input error.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }

    /// A not-found error.
    pub fn not_found() -> Self {
        Self::new(ErrorKind::NotFound, "no such file or directory")
    }
}

impl From<FsError> for Error {
    fn from(e: FsError) -> Self {
        let kind = match e.kind {
            FsErrorKind::NotFound => ErrorKind::NotFound,
            FsErrorKind::PermissionDenied => ErrorKind::PermissionDenied,
            FsErrorKind::AlreadyExists => ErrorKind::AlreadyExists,
            FsErrorKind::NotADirectory
            | FsErrorKind::IsADirectory
            | FsErrorKind::DirectoryNotEmpty => ErrorKind::Conflict,
            FsErrorKind::InvalidInput => ErrorKind::InvalidInput,
            FsErrorKind::Unsupported => ErrorKind::Unsupported,
            FsErrorKind::NoSpace => ErrorKind::QuotaExceeded,
            FsErrorKind::Transient => ErrorKind::Transient,
            FsErrorKind::Internal => ErrorKind::Internal,
        };
        Self::new(kind, e.message)
    }
}

/// Result alias for core operations.
pub type Result<T> = std::result::Result<T, Error>;
