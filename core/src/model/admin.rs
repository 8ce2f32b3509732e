//! Administrators, roles and API keys: who manages the server through the REST API and
//! WebAdmin.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::names::check_len;
use crate::{Error, Result};

/// The 15 admin permissions.
pub const ADMIN_PERMISSIONS: [&str; 15] = [
    "*",
    "add_users",
    "edit_users",
    "del_users",
    "view_users",
    "view_conns",
    "close_conns",
    "view_status",
    "manage_folders",
    "manage_groups",
    "quota_scans",
    "manage_defender",
    "view_defender",
    "view_events",
    "disable_mfa",
];

/// An admin's `groups[]` entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AdminGroupMapping {
    /// The group's name.
    pub name: String,
    /// `add_to_users_as`: 0 membership, 1 primary, 2 secondary.
    pub options: Map<String, Value>,
}

/// An administrator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Admin {
    /// Store id.
    pub id: i64,
    /// 1 enabled, 0 disabled.
    pub status: i32,
    /// Unique login name.
    pub username: String,
    /// Free text.
    pub description: String,
    /// Password hash (plain text only on input).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub password: String,
    /// Contact e-mail.
    pub email: String,
    /// Granted permissions.
    pub permissions: Vec<String>,
    /// allow_list, 2FA, preferences, ...
    pub filters: Map<String, Value>,
    /// Free text for integrations.
    pub additional_info: String,
    /// Groups new users are added to.
    pub groups: Vec<AdminGroupMapping>,
    /// Creation time, Unix ms.
    pub created_at: i64,
    /// Last update, Unix ms.
    pub updated_at: i64,
    /// Last login, Unix ms (counter).
    pub last_login: i64,
    /// Role: a role admin manages only that role's users.
    pub role: String,
    /// Other fields, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Default for Admin {
    fn default() -> Self {
        Self {
            id: 0,
            status: 1,
            username: String::new(),
            description: String::new(),
            password: String::new(),
            email: String::new(),
            permissions: Vec::new(),
            filters: Map::new(),
            additional_info: String::new(),
            groups: Vec::new(),
            created_at: 0,
            updated_at: 0,
            last_login: 0,
            role: String::new(),
            extra: Map::new(),
        }
    }
}

impl Admin {
    /// Checks the admin before it is stored.
    pub fn validate(&self) -> Result<()> {
        if self.status != 0 && self.status != 1 {
            return Err(Error::invalid("status: must be 0 or 1"));
        }
        if self.password.is_empty() {
            return Err(Error::invalid("password: mandatory"));
        }
        super::names::check_email("email", &self.email)?;
        check_len("description", &self.description, 512)?;
        if self.permissions.is_empty() {
            return Err(Error::invalid("permissions: at least one is required"));
        }
        for p in &self.permissions {
            if !ADMIN_PERMISSIONS.contains(&p.as_str()) {
                return Err(Error::invalid(format!(
                    "permissions: {p:?} is not an admin permission"
                )));
            }
        }
        if !self.role.is_empty() && self.permissions.iter().any(|p| p == "*") {
            return Err(Error::invalid(
                "permissions: a role admin cannot have the \"*\" permission",
            ));
        }
        if let Some(list) = self.filters.get("allow_list").and_then(Value::as_array) {
            for net in list {
                let s = net.as_str().unwrap_or_default();
                super::ip_list::parse_cidr(s)
                    .map_err(|e| Error::invalid(format!("filters.allow_list: {e}")))?;
            }
        }
        for g in &self.groups {
            let add_as = g
                .options
                .get("add_to_users_as")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            if !(0..=2).contains(&add_as) {
                return Err(Error::invalid(format!(
                    "groups.options.add_to_users_as: {add_as} is not valid (0, 1 or 2)"
                )));
            }
        }
        Ok(())
    }

    /// True when the admin holds `perm` (or `*`).
    pub fn has_permission(&self, perm: &str) -> bool {
        self.permissions.iter().any(|p| p == "*" || p == perm)
    }
}

/// A role.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Role {
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
    /// Users with this role (read-only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<String>,
    /// Admins with this role (read-only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub admins: Vec<String>,
    /// Other fields, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Role {
    /// Checks the role before it is stored.
    pub fn validate(&self) -> Result<()> {
        check_len("description", &self.description, 512)
    }
}

/// An API key. The secret is shown once, at creation, as `<id>.<secret>`; only its hash
/// is stored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ApiKey {
    /// Public identifier (the key before the dot).
    #[serde(rename = "id")]
    pub key_id: String,
    /// Label.
    pub name: String,
    /// The secret's hash when stored; the full key only in the creation response.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub key: String,
    /// 1 admin, 2 user.
    pub scope: i32,
    /// Creation time, Unix ms.
    pub created_at: i64,
    /// Last update, Unix ms.
    pub updated_at: i64,
    /// Last use, Unix ms (counter).
    pub last_use_at: i64,
    /// Expiry, Unix ms (0 never).
    pub expires_at: i64,
    /// Free text.
    pub description: String,
    /// The user it authenticates as (scope 2), if bound.
    pub user: String,
    /// The admin it authenticates as (scope 1), if bound.
    pub admin: String,
    /// Other fields, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ApiKey {
    /// Checks the key before it is stored.
    pub fn validate(&self) -> Result<()> {
        if self.name.is_empty() {
            return Err(Error::invalid("name: mandatory"));
        }
        check_len("name", &self.name, 255)?;
        check_len("description", &self.description, 512)?;
        match self.scope {
            1 if !self.user.is_empty() => Err(Error::invalid(
                "user: an admin-scoped key (scope 1) cannot be bound to a user",
            )),
            2 if !self.admin.is_empty() => Err(Error::invalid(
                "admin: a user-scoped key (scope 2) cannot be bound to an admin",
            )),
            1 | 2 => Ok(()),
            other => Err(Error::invalid(format!(
                "scope: {other} is not valid (1 admin, 2 user)"
            ))),
        }
    }
}
