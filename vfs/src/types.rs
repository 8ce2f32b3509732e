//! Plain data exchanged with back-ends.

/// The type of a directory entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// Regular file.
    File,
    /// Directory.
    Dir,
    /// Symbolic link.
    Symlink,
    /// Anything else (fifo, socket, device).
    Other,
}

/// Attributes of one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    /// Last path component (empty for a root).
    pub name: String,
    /// Entry type.
    pub kind: FileKind,
    /// Size in bytes.
    pub size: u64,
    /// Permission bits (0o7777 mask).
    pub perm: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Access time, Unix seconds.
    pub atime: i64,
    /// Modification time, Unix seconds.
    pub mtime: i64,
    /// Hard link count.
    pub nlink: u64,
    /// Identity of the underlying file, `(device, inode)`; `(0, 0)` when the back-end
    /// has none. Two entries with the same non-zero identity are the same file.
    pub id: (u64, u64),
}

impl FileInfo {
    /// True when both entries are known to be the same underlying file.
    pub fn same_file(&self, other: &FileInfo) -> bool {
        self.id != (0, 0) && self.id == other.id
    }
}

impl FileInfo {
    /// True for directories.
    pub fn is_dir(&self) -> bool {
        self.kind == FileKind::Dir
    }

    /// Full POSIX mode: type bits plus permission bits.
    pub fn mode(&self) -> u32 {
        let t = match self.kind {
            FileKind::File => 0o100000,
            FileKind::Dir => 0o040000,
            FileKind::Symlink => 0o120000,
            FileKind::Other => 0o010000,
        };
        t | (self.perm & 0o7777)
    }
}

/// How to open a file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpenOptions {
    /// Open for reading.
    pub read: bool,
    /// Open for writing.
    pub write: bool,
    /// Every write goes to the end of the file.
    pub append: bool,
    /// Create if missing.
    pub create: bool,
    /// Fail if it exists (with `create`).
    pub exclusive: bool,
    /// Truncate to zero length on open.
    pub truncate: bool,
    /// Permission bits for a created file.
    pub mode: u32,
}

/// Attribute changes; `None` leaves a field alone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SetAttrs {
    /// New size (truncate or extend).
    pub size: Option<u64>,
    /// New owner and group.
    pub uid_gid: Option<(u32, u32)>,
    /// New permission bits.
    pub perm: Option<u32>,
    /// New access and modification times (Unix seconds).
    pub times: Option<(i64, i64)>,
}

impl SetAttrs {
    /// True when nothing would change.
    pub fn is_empty(&self) -> bool {
        self.size.is_none() && self.uid_gid.is_none() && self.perm.is_none() && self.times.is_none()
    }
}

/// File-system statistics (the fields of POSIX statvfs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatVfs {
    /// Block size.
    pub bsize: u64,
    /// Fragment size.
    pub frsize: u64,
    /// Blocks in fragment units.
    pub blocks: u64,
    /// Free blocks.
    pub bfree: u64,
    /// Free blocks for unprivileged users.
    pub bavail: u64,
    /// Inodes.
    pub files: u64,
    /// Free inodes.
    pub ffree: u64,
    /// Free inodes for unprivileged users.
    pub favail: u64,
    /// File-system id.
    pub fsid: u64,
    /// Mount flags.
    pub flag: u64,
    /// Maximum name length.
    pub namemax: u64,
}
