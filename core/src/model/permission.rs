//! The 17 per-directory user permissions.

use std::str::FromStr;

use crate::Error;

/// A user permission as named in SFTPGo's `permissions` map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// `*`: everything.
    Any,
    /// `list`
    List,
    /// `download`
    Download,
    /// `upload`
    Upload,
    /// `overwrite`
    Overwrite,
    /// `delete` (files and dirs)
    Delete,
    /// `delete_files`
    DeleteFiles,
    /// `delete_dirs`
    DeleteDirs,
    /// `rename` (files and dirs)
    Rename,
    /// `rename_files`
    RenameFiles,
    /// `rename_dirs`
    RenameDirs,
    /// `create_dirs`
    CreateDirs,
    /// `create_symlinks`
    CreateSymlinks,
    /// `chmod`
    Chmod,
    /// `chown`
    Chown,
    /// `chtimes`
    Chtimes,
    /// `copy`
    Copy,
}

impl Permission {
    /// Every permission, with its wire name.
    pub const ALL: [(Permission, &'static str); 17] = [
        (Permission::Any, "*"),
        (Permission::List, "list"),
        (Permission::Download, "download"),
        (Permission::Upload, "upload"),
        (Permission::Overwrite, "overwrite"),
        (Permission::Delete, "delete"),
        (Permission::DeleteFiles, "delete_files"),
        (Permission::DeleteDirs, "delete_dirs"),
        (Permission::Rename, "rename"),
        (Permission::RenameFiles, "rename_files"),
        (Permission::RenameDirs, "rename_dirs"),
        (Permission::CreateDirs, "create_dirs"),
        (Permission::CreateSymlinks, "create_symlinks"),
        (Permission::Chmod, "chmod"),
        (Permission::Chown, "chown"),
        (Permission::Chtimes, "chtimes"),
        (Permission::Copy, "copy"),
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(p, _)| *p == self)
            .map(|(_, n)| *n)
            .unwrap_or("*")
    }
}

impl FromStr for Permission {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::ALL
            .iter()
            .find(|(_, n)| *n == s)
            .map(|(p, _)| *p)
            .ok_or_else(|| Error::invalid(format!("invalid permission {s:?}")))
    }
}
