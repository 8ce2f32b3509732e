//! Groups: shared settings for their members (`user_settings`), folders mounted for every
//! member, and the membership entries users and admins hold.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::folder::{FolderMapping, validate_mappings};
use super::names::check_len;
use crate::{Error, Result};

/// A group.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Group {
    /// Store id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Creation time, Unix ms.
    pub created_at: i64,
    /// Last update, Unix ms.
    pub updated_at: i64,
    /// Settings members inherit (home_dir, quotas, permissions, filters, filesystem, ...).
    pub user_settings: Map<String, Value>,
    /// Folders mounted for every member.
    pub virtual_folders: Vec<FolderMapping>,
    /// Member users (read-only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<String>,
    /// Admins bound to it (read-only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub admins: Vec<String>,
    /// Other fields, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Group {
    /// Checks the group before it is stored.
    pub fn validate(&self) -> Result<()> {
        check_len("description", &self.description, 512)?;
        validate_mappings("virtual_folders", &self.virtual_folders)?;
        if let Some(home) = self.user_settings.get("home_dir").and_then(Value::as_str)
            && !home.is_empty()
            && !home.starts_with('/')
        {
            return Err(Error::invalid(format!(
                "user_settings.home_dir: {home:?} must be an absolute path"
            )));
        }
        if let Some(perms) = self.user_settings.get("permissions")
            && !perms.is_null()
        {
            let map: std::collections::BTreeMap<String, Vec<String>> =
                serde_json::from_value(perms.clone())
                    .map_err(|e| Error::invalid(format!("user_settings.permissions: {e}")))?;
            for (dir, list) in &map {
                for p in list {
                    p.parse::<super::Permission>().map_err(|e| {
                        Error::invalid(format!("user_settings.permissions: {dir:?}: {e}"))
                    })?;
                }
            }
        }
        Ok(())
    }
}

/// How a user belongs to a group (`groups[].type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupType {
    /// 1: provides home directory, file system and base settings.
    Primary,
    /// 2: adds folders, permissions and filters.
    Secondary,
    /// 3: membership only.
    Membership,
}

/// A user's `groups[]` entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GroupMapping {
    /// The group's name.
    pub name: String,
    /// 1 primary, 2 secondary, 3 membership.
    #[serde(rename = "type")]
    pub kind: i32,
}

impl GroupMapping {
    /// The membership type.
    pub fn group_type(&self) -> Option<GroupType> {
        match self.kind {
            1 => Some(GroupType::Primary),
            2 => Some(GroupType::Secondary),
            3 => Some(GroupType::Membership),
            _ => None,
        }
    }
}

/// Checks a user's group list: known types, at most one primary group, no duplicates.
pub fn validate_group_mappings(groups: &[GroupMapping]) -> Result<()> {
    let mut primary = 0;
    for (i, g) in groups.iter().enumerate() {
        if g.name.is_empty() {
            return Err(Error::invalid("groups.name: mandatory"));
        }
        match g.group_type() {
            None => {
                return Err(Error::invalid(format!(
                    "groups.type: {} is not valid for group {:?} (1 primary, 2 secondary, \
                     3 membership)",
                    g.kind, g.name
                )));
            }
            Some(GroupType::Primary) => primary += 1,
            Some(_) => {}
        }
        if groups.iter().skip(i + 1).any(|o| o.name == g.name) {
            return Err(Error::invalid(format!(
                "groups: group {:?} is listed twice",
                g.name
            )));
        }
    }
    if primary > 1 {
        return Err(Error::invalid("groups: only one primary group is allowed"));
    }
    Ok(())
}
