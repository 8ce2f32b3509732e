//! The one place that names concrete storage back-ends: local disk for now.

use std::sync::Arc;

use sftpgo_core::connection::FsFactory;
use sftpgo_core::model::User;
use sftpgo_core::{Error, ErrorKind};
use sftpgo_vfs::Fs;
use sftpgo_vfs::local::LocalFs;

/// Builds each user's storage from `filesystem.provider`.
pub struct Backends;

impl FsFactory for Backends {
    fn fs_for(&self, user: &User) -> sftpgo_core::Result<Arc<dyn Fs>> {
        let provider = user
            .filesystem
            .get("provider")
            .and_then(serde_json::Value::as_i64)
            .unwrap_or(0);
        if provider != 0 {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!("storage back-end {provider} is not served by this server yet"),
            ));
        }
        // Refuse rather than serve the folders' paths from the home directory.
        if !user.virtual_folders.is_empty() {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "virtual folders are not served by this server yet",
            ));
        }
        if user.home_dir.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "the user has no home directory (neither its own nor from a primary group)",
            ));
        }
        let home = std::path::Path::new(&user.home_dir);
        if !home.is_dir() {
            std::fs::create_dir_all(home).map_err(|e| {
                Error::new(ErrorKind::Internal, format!("cannot create home dir: {e}"))
            })?;
            if user.uid != 0 || user.gid != 0 {
                let id = |v: u32| (v != 0).then_some(v);
                std::os::unix::fs::chown(home, id(user.uid), id(user.gid)).map_err(|e| {
                    Error::new(ErrorKind::Internal, format!("cannot chown home dir: {e}"))
                })?;
            }
        }
        Ok(Arc::new(LocalFs::new(home)?.with_owner(user.uid, user.gid)))
    }
}
