//! The Connection API: the one path every protocol takes to user data.
//!
//! A front-end opens a session with [`Opener::open`], resolves each client path with
//! [`Connection::resolve`] (canonical [`VirtualPath`], relative paths taken from the
//! user's start directory), then calls an operation. Each operation routes the path to
//! the back-end that owns it (the home or a virtual folder, [`Storage`]), checks the
//! user's per-directory permissions and file patterns, and checks and charges quota
//! before and after it touches the [`Fs`]. Uploads follow `upload_mode` (direct,
//! atomic, atomic with resume); transfers are logged when they end.

mod events;
mod limits;
mod links;
mod moves;
mod ops;
mod quota;
mod storage;
mod transfer;
mod xattrs;

use std::sync::Arc;

use sftpgo_vfs::Fs;

use crate::config::UploadMode;
use crate::model::{FolderMapping, Permission, User};
use crate::path::VirtualPath;
use crate::sessions::Activity;
use crate::{Error, Result};

pub use events::FsEventSink;
pub use storage::{Mount, Storage};
pub use transfer::{Transfer, TransferKind, WriteOptions};

use crate::usage::QuotaTracker;

/// Prefix of temporary files written by atomic uploads; hidden from listings.
pub const TEMP_UPLOAD_PREFIX: &str = ".sftpgo-upload.";

/// An authenticated user's session with its storage.
pub struct Connection {
    id: String,
    protocol: &'static str,
    remote: String,
    user: Arc<User>,
    storage: Storage,
    upload_mode: UploadMode,
    quota: Option<Arc<QuotaTracker>>,
    start_dir: VirtualPath,
    activity: Activity,
    events: Option<Arc<events::EventHook>>,
    first_done: Arc<FirstTransfers>,
}

/// Whether the account's first upload and first download are recorded (so a
/// session asks the provider at most once for each).
#[derive(Debug, Default)]
pub(crate) struct FirstTransfers {
    upload: std::sync::atomic::AtomicBool,
    download: std::sync::atomic::AtomicBool,
}

impl Connection {
    /// Opens a session for `user` over `storage` (its home and virtual folders).
    pub fn new(
        id: String,
        protocol: &'static str,
        remote: String,
        user: Arc<User>,
        storage: Storage,
        upload_mode: UploadMode,
    ) -> Self {
        let start_dir = if user.filters.start_directory.is_empty() {
            VirtualPath::root()
        } else {
            VirtualPath::parse(&user.filters.start_directory)
                .unwrap_or_else(|_| VirtualPath::root())
        };
        let recorded = |field: &str| {
            user.extra
                .get(field)
                .and_then(serde_json::Value::as_i64)
                .is_some_and(|v| v != 0)
        };
        let first_done = Arc::new(FirstTransfers {
            upload: recorded("first_upload").into(),
            download: recorded("first_download").into(),
        });
        Self {
            id,
            protocol,
            remote,
            user,
            storage,
            upload_mode,
            quota: None,
            start_dir,
            activity: Activity::default(),
            events: None,
            first_done,
        }
    }

    /// Sends this session's file system events to `sink` (the Event Manager).
    pub fn with_events(mut self, sink: std::sync::Weak<dyn FsEventSink>) -> Self {
        self.events = self.hook(sink);
        self
    }

    /// Records this session's requests in `activity` (shared with the session
    /// registry, which reports the last one).
    pub fn with_activity(mut self, activity: Activity) -> Self {
        self.activity = activity;
        self
    }

    /// Checks quota limits before writes and keeps usage counters with `tracker`.
    pub fn with_quota(mut self, tracker: Option<Arc<QuotaTracker>>) -> Self {
        self.quota = tracker;
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

    /// The file system of one of the user's virtual folders (created if missing).
    fn folder_fs(&self, user: &User, folder: &FolderMapping) -> Result<Arc<dyn Fs>> {
        let _ = user;
        Err(Error::new(
            crate::ErrorKind::Unsupported,
            format!("virtual folder {:?}: not served here", folder.name),
        ))
    }
}

/// Opens users' sessions the same way for every front-end: their storage (home plus
/// virtual folders), the upload mode and quota tracking.
pub struct Opener {
    fs: Arc<dyn FsFactory>,
    upload_mode: UploadMode,
    quota: Option<Arc<QuotaTracker>>,
    events: std::sync::OnceLock<std::sync::Weak<dyn FsEventSink>>,
}

impl Opener {
    /// Sessions over the back-ends `fs` builds, uploading as `upload_mode` says.
    pub fn new(fs: Arc<dyn FsFactory>, upload_mode: UploadMode) -> Self {
        Self {
            fs,
            upload_mode,
            quota: None,
            events: std::sync::OnceLock::new(),
        }
    }

    /// Sends the file system events of the sessions it opens from now on to `sink`
    /// (set once, when the Event Manager starts).
    pub fn set_events(&self, sink: std::sync::Weak<dyn FsEventSink>) {
        let _ = self.events.set(sink);
    }

    /// Checks and tracks quota with `tracker`.
    pub fn with_quota(mut self, tracker: Arc<QuotaTracker>) -> Self {
        self.quota = Some(tracker);
        self
    }

    /// The back-end factory (quota scans open storage with it).
    pub fn fs_factory(&self) -> &Arc<dyn FsFactory> {
        &self.fs
    }

    /// A session of `user` (id `id`, over `protocol`, from `remote`).
    pub fn open(
        &self,
        id: String,
        protocol: &'static str,
        remote: String,
        user: Arc<User>,
    ) -> Result<Connection> {
        let storage = Storage::open(self.fs.as_ref(), &user)?;
        let conn = Connection::new(id, protocol, remote, user, storage, self.upload_mode)
            .with_quota(self.quota.clone());
        Ok(match self.events.get() {
            Some(sink) => conn.with_events(sink.clone()),
            None => conn,
        })
    }
}
