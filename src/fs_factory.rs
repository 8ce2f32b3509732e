//! The one place that names concrete storage back-ends: local disk for now, for users'
//! homes and for virtual folders.

use std::path::Path;
use std::sync::Arc;

use serde_json::Value;
use sftpgo_core::connection::FsFactory;
use sftpgo_core::model::{FolderMapping, User};
use sftpgo_core::{Error, ErrorKind};
use sftpgo_vfs::Fs;
use sftpgo_vfs::local::LocalFs;

/// Builds each user's storage from `filesystem.provider`.
pub struct Backends;

/// `filesystem.provider` of a user or folder (0 local disk).
fn provider(filesystem: &Value) -> i64 {
    filesystem
        .get("provider")
        .and_then(Value::as_i64)
        .unwrap_or(0)
}

fn unsupported(provider: i64) -> Error {
    Error::new(
        ErrorKind::Unsupported,
        format!("storage back-end {provider} is not served by this server yet"),
    )
}

/// A local directory as a back-end root, created (and given to `uid`/`gid`) if missing.
fn local_root(dir: &Path, uid: u32, gid: u32) -> sftpgo_core::Result<Arc<dyn Fs>> {
    if !dir.is_dir() {
        std::fs::create_dir_all(dir).map_err(|e| {
            Error::new(ErrorKind::Internal, format!("cannot create directory: {e}"))
        })?;
        if uid != 0 || gid != 0 {
            let id = |v: u32| (v != 0).then_some(v);
            std::os::unix::fs::chown(dir, id(uid), id(gid)).map_err(|e| {
                Error::new(ErrorKind::Internal, format!("cannot chown directory: {e}"))
            })?;
        }
    }
    Ok(Arc::new(LocalFs::new(dir)?.with_owner(uid, gid)))
}

impl FsFactory for Backends {
    fn fs_for(&self, user: &User) -> sftpgo_core::Result<Arc<dyn Fs>> {
        let p = provider(&user.filesystem);
        if p != 0 {
            return Err(unsupported(p));
        }
        if user.home_dir.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "the user has no home directory (neither its own nor from a primary group)",
            ));
        }
        local_root(Path::new(&user.home_dir), user.uid, user.gid)
    }

    fn folder_fs(&self, user: &User, folder: &FolderMapping) -> sftpgo_core::Result<Arc<dyn Fs>> {
        let p = folder.extra.get("filesystem").map_or(0, provider);
        if p != 0 {
            return Err(unsupported(p));
        }
        let mapped = folder
            .extra
            .get("mapped_path")
            .and_then(Value::as_str)
            .unwrap_or("");
        if mapped.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("virtual folder {:?} has no mapped_path", folder.name),
            ));
        }
        // `subpath` is a clean relative path (validated with the mapping).
        let root = Path::new(mapped).join(folder.subpath.trim_start_matches('/'));
        local_root(&root, user.uid, user.gid)
    }
}
