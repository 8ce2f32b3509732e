//! Virtual folders: the shared `BaseVirtualFolder` (a named storage location with its own
//! file system) and the per-user/per-group mapping that mounts it at a virtual path.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::names::check_len;
use crate::path::VirtualPath;
use crate::{Error, Result};

fn local_filesystem() -> Value {
    serde_json::json!({"provider": 0})
}

/// A `BaseVirtualFolder`: `folders[]` in a dump.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Folder {
    /// Store id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// Root of the folder on the local file system.
    pub mapped_path: String,
    /// Free text.
    pub description: String,
    /// Storage back-end configuration.
    pub filesystem: Value,
    /// Bytes used (counter).
    pub used_quota_size: i64,
    /// Files used (counter).
    pub used_quota_files: i64,
    /// Last quota update, Unix ms (counter).
    pub last_quota_update: i64,
    /// Users mounting it (read-only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<String>,
    /// Groups mounting it (read-only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// Other fields, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Default for Folder {
    fn default() -> Self {
        Self {
            id: 0,
            name: String::new(),
            mapped_path: String::new(),
            description: String::new(),
            filesystem: local_filesystem(),
            used_quota_size: 0,
            used_quota_files: 0,
            last_quota_update: 0,
            users: Vec::new(),
            groups: Vec::new(),
            extra: Map::new(),
        }
    }
}

impl Folder {
    /// Checks the folder before it is stored.
    pub fn validate(&self) -> Result<()> {
        check_len("description", &self.description, 512)?;
        let provider = self
            .filesystem
            .get("provider")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if !(0..=6).contains(&provider) {
            return Err(Error::invalid(format!(
                "filesystem.provider: {provider} is not a known storage back-end (0-6)"
            )));
        }
        if matches!(provider, 0 | 4) && !self.mapped_path.starts_with('/') {
            return Err(Error::invalid(format!(
                "mapped_path: {:?} must be an absolute path",
                self.mapped_path
            )));
        }
        Ok(())
    }
}

/// A `VirtualFolder`: a folder mounted in a user's or group's tree.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FolderMapping {
    /// The folder's name.
    pub name: String,
    /// Where it appears in the user's tree.
    pub virtual_path: String,
    /// Quota in bytes (0 unlimited, -1 counted in the user's quota).
    pub quota_size: i64,
    /// Quota in files (0 unlimited, -1 counted in the user's quota).
    pub quota_files: i64,
    /// Mount only this directory of the folder (empty: the whole folder).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub subpath: String,
    /// The folder's own fields, filled on read.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The mapping fields a stored `virtual_folders[]` entry keeps; the rest is the
/// folder's own data, joined on read.
pub const MAPPING_FIELDS: [&str; 5] = [
    "name",
    "virtual_path",
    "quota_size",
    "quota_files",
    "subpath",
];

/// Checks a list of mappings: known names, clean virtual paths, no path mounted twice
/// or inside another mount.
pub fn validate_mappings(field: &str, mappings: &[FolderMapping]) -> Result<()> {
    let mut paths: Vec<VirtualPath> = Vec::with_capacity(mappings.len());
    for (i, m) in mappings.iter().enumerate() {
        if m.name.is_empty() {
            return Err(Error::invalid(format!("{field}.name: mandatory")));
        }
        if mappings.iter().take(i).any(|o| o.name == m.name) {
            return Err(Error::invalid(format!(
                "{field}: the folder {:?} is mapped twice",
                m.name
            )));
        }
        let vp = VirtualPath::parse(&m.virtual_path)
            .map_err(|e| Error::invalid(format!("{field}.virtual_path: {e}")))?;
        if !m.subpath.is_empty() {
            let sub = VirtualPath::parse(&m.subpath)
                .map_err(|e| Error::invalid(format!("{field}.subpath: {e}")))?;
            if sub.as_str() != m.subpath {
                return Err(Error::invalid(format!(
                    "{field}.subpath: {:?} is not a clean absolute path (use {:?})",
                    m.subpath,
                    sub.as_str()
                )));
            }
        }
        if m.quota_size < -1 || m.quota_files < -1 {
            return Err(Error::invalid(format!(
                "{field}: quota_size and quota_files must be -1, 0 or positive"
            )));
        }
        for other in &paths {
            if other.starts_with(&vp) || vp.starts_with(other) {
                return Err(Error::invalid(format!(
                    "{field}: virtual path {:?} overlaps {:?}",
                    vp.as_str(),
                    other.as_str()
                )));
            }
        }
        paths.push(vp);
    }
    Ok(())
}
