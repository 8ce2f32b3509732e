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
