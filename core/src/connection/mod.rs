//! The Connection API: the one path every protocol takes to user data.
//!
//! A front-end resolves each client path with [`Connection::resolve`] (canonical
//! [`VirtualPath`], relative paths taken from the user's start directory), then calls an
//! operation. Each operation checks the user's per-directory permissions and file
//! patterns before it touches the [`Fs`]. Uploads follow `upload_mode` (direct, atomic,
//! atomic with resume); transfers are logged when they end.

mod ops;
mod transfer;

use std::sync::Arc;

use sftpgo_vfs::Fs;

use crate::config::UploadMode;
use crate::model::{Permission, User};
use crate::path::VirtualPath;
use crate::sessions::Activity;
use crate::{Error, Result};

pub use transfer::{Transfer, TransferKind, WriteOptions};

/// Prefix of temporary files written by atomic uploads; hidden from listings.
pub const TEMP_UPLOAD_PREFIX: &str = ".sftpgo-upload.";

/// An authenticated user's session with its storage.
pub struct Connection {
    id: String,
    protocol: &'static str,
    remote: String,
    user: Arc<User>,
    fs: Arc<dyn Fs>,
    upload_mode: UploadMode,
    start_dir: VirtualPath,
    activity: Activity,
}

impl Connection {
    /// Opens a session for `user` over `fs` (rooted at the user's home).
    pub fn new(
        id: String,
        protocol: &'static str,
        remote: String,
        user: Arc<User>,
        fs: Arc<dyn Fs>,
        upload_mode: UploadMode,
    ) -> Self {
        let start_dir = if user.filters.start_directory.is_empty() {
            VirtualPath::root()
        } else {
            VirtualPath::parse(&user.filters.start_directory)
                .unwrap_or_else(|_| VirtualPath::root())
        };
        Self {
            id,
            protocol,
            remote,
            user,
            fs,
            upload_mode,
            start_dir,
            activity: Activity::default(),
        }
    }

    /// Records this session's requests in `activity` (shared with the session
    /// registry, which reports the last one).
    pub fn with_activity(mut self, activity: Activity) -> Self {
        self.activity = activity;
        self
    }

    /// Connection id used in logs.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Protocol name (`SFTP`, `SCP`, `SSH`, ...).
    pub fn protocol(&self) -> &'static str {
        self.protocol
    }

    /// The logged-in user.
    pub fn user(&self) -> &User {
        &self.user
    }

    /// Client address.
    pub fn remote(&self) -> &str {
        &self.remote
    }

    /// The directory relative client paths start from.
    pub fn start_dir(&self) -> &VirtualPath {
        &self.start_dir
    }

    /// Canonicalises a client path. Relative paths start at the start directory. Every
    /// client request passes here, so this is where activity is recorded.
    pub fn resolve(&self, raw: &str) -> Result<VirtualPath> {
        self.activity.touch();
        VirtualPath::resolve(&self.start_dir, raw)
    }

    /// Canonicalises a client path relative to `cwd`, for protocols with a current
    /// directory the client changes (FTP `CWD`). Records activity like [`Self::resolve`].
    pub fn resolve_from(&self, cwd: &VirtualPath, raw: &str) -> Result<VirtualPath> {
        self.activity.touch();
        VirtualPath::resolve(cwd, raw)
    }

    /// Whether the user holds `perm` in `dir` (for listings that describe what the
    /// client may do, such as FTP's `MLSD` `perm` fact).
    pub fn may(&self, perm: Permission, dir: &VirtualPath) -> bool {
        self.user.has_perm(perm, dir)
    }

    fn require(&self, perm: Permission, dir: &VirtualPath) -> Result<()> {
        if self.user.has_perm(perm, dir) {
            Ok(())
        } else {
            Err(Error::denied())
        }
    }

    fn require_any(&self, perms: &[Permission], dir: &VirtualPath) -> Result<()> {
        if self.user.has_any_perm(perms, dir) {
            Ok(())
        } else {
            Err(Error::denied())
        }
    }

    /// Refuses names denied by the file patterns of their directory (hidden ones look
    /// missing), and the server's own temporary upload names.
    fn require_name(&self, p: &VirtualPath) -> Result<()> {
        if p.name().starts_with(TEMP_UPLOAD_PREFIX) {
            return Err(Error::denied());
        }
        match self.user.name_allowed(p) {
            (true, _) => Ok(()),
            (false, true) => Err(Error::not_found()),
            (false, false) => Err(Error::denied()),
        }
    }
}

/// Builds the storage of a user's session. Implemented by the binary, which is the only
/// place that names concrete back-ends.
pub trait FsFactory: Send + Sync {
    /// The file system rooted at the user's home (created if missing).
    fn fs_for(&self, user: &User) -> Result<Arc<dyn Fs>>;
}
