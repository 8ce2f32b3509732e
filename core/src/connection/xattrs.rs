//! Extended attributes of files and directories (in the storage's `user.`
//! namespace): metadata a front-end keeps with a file, such as WebDAV's dead
//! properties, so that it follows the file through renames by any protocol and goes
//! away with it. Reading needs the path to be visible, as `stat` does; writing
//! changes the resource, so it needs `overwrite` in its directory (or, for what a
//! copy or move carries along, what that copy or move needed).

use sftpgo_vfs::FsErrorKind;

use super::Connection;
use crate::model::Permission;
use crate::path::VirtualPath;
use crate::{Error, Result};

impl Connection {
    /// The value of attribute `name` of `p`, `None` when it has none. An error of kind
    /// `Unsupported` when its storage keeps no extended attributes.
    pub async fn get_xattr(&self, p: &VirtualPath, name: &str) -> Result<Option<Vec<u8>>> {
        if !p.is_root() {
            self.require(Permission::List, &p.parent())?;
            self.require_visible(p)?;
        }
        let r = self.storage.route(p);
        self.on_storage(p, r.fs.get_xattr(r.rel, name).await)
    }

    /// Sets (or, with `None`, removes) attribute `name` of `p`: a change of the
    /// resource, so `overwrite` in its directory and a name the user may write.
    pub async fn set_xattr(&self, p: &VirtualPath, name: &str, value: Option<&[u8]>) -> Result<()> {
        if !p.is_root() {
            self.require_name(p)?;
        }
        self.require(Permission::Overwrite, &p.parent())?;
        self.write_xattr(p, name, value).await
    }

    /// Gives `p`, just copied or moved here, the attribute `name` its source had:
    /// needs `upload` or `overwrite` in its directory, as the copy or move did.
    pub async fn carry_xattr(&self, p: &VirtualPath, name: &str, value: &[u8]) -> Result<()> {
        if !p.is_root() {
            self.require_name(p)?;
        }
        self.require_any(&[Permission::Upload, Permission::Overwrite], &p.parent())?;
        self.write_xattr(p, name, Some(value)).await
    }

    async fn write_xattr(&self, p: &VirtualPath, name: &str, value: Option<&[u8]>) -> Result<()> {
        let r = self.storage.route(p);
        self.on_storage(p, r.fs.set_xattr(r.rel, name, value).await)
    }

    /// A back-end's answer for `p`; a directory that only exists as the way to a
    /// virtual folder has no storage to keep attributes in (Unsupported).
    fn on_storage<T>(&self, p: &VirtualPath, found: sftpgo_vfs::FsResult<T>) -> Result<T> {
        match found {
            Err(e) if e.kind == FsErrorKind::NotFound && self.storage.leads_to_mount(p) => {
                Err(Error::new(crate::ErrorKind::Unsupported, "no storage here"))
            }
            other => Ok(other?),
        }
    }
}
