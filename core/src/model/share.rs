//! Shares: links that give access to some of a user's paths without the user's
//! credentials, optionally protected by a password and limited in time and uses.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::names::check_len;
use crate::path::VirtualPath;
use crate::{Error, Result};

/// A share.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Share {
    /// Public identifier (in the share's URL).
    pub id: String,
    /// Label.
    pub name: String,
    /// Free text.
    pub description: String,
    /// 1 read, 2 write, 3 read-write.
    pub scope: i32,
    /// Shared virtual paths.
    pub paths: Vec<String>,
    /// Owner.
    pub username: String,
    /// Creation time, Unix ms.
    pub created_at: i64,
    /// Last update, Unix ms.
    pub updated_at: i64,
    /// Last use, Unix ms (counter).
    pub last_use_at: i64,
    /// Expiry, Unix ms (0 never).
    pub expires_at: i64,
    /// Password hash (plain text only on input; empty: none).
    pub password: String,
    /// Uses allowed (0 unlimited).
    pub max_tokens: i64,
    /// Uses so far (counter).
    pub used_tokens: i64,
    /// Networks allowed to use it (empty: any).
    pub allow_from: Vec<String>,
    /// Other fields, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Share {
    /// Canonicalises the paths and checks the share.
    pub fn normalize_and_validate(&mut self) -> Result<()> {
        if self.name.is_empty() {
            return Err(Error::invalid("name: mandatory"));
        }
        check_len("name", &self.name, 255)?;
        check_len("description", &self.description, 512)?;
        if !(1..=3).contains(&self.scope) {
            return Err(Error::invalid(format!(
                "scope: {} is not valid (1 read, 2 write, 3 read-write)",
                self.scope
            )));
        }
        if self.paths.is_empty() {
            return Err(Error::invalid("paths: at least one path is required"));
        }
        for p in &mut self.paths {
            *p = VirtualPath::parse(p)
                .map_err(|e| Error::invalid(format!("paths: {p:?}: {e}")))?
                .as_str()
                .to_string();
        }
        if self.scope != 1 && self.paths.len() > 1 {
            return Err(Error::invalid(
                "paths: a share with write access must have exactly one path",
            ));
        }
        if self.max_tokens < 0 {
            return Err(Error::invalid("max_tokens: must be 0 or positive"));
        }
        for net in &mut self.allow_from {
            *net = super::ip_list::parse_cidr(net)
                .map_err(|e| Error::invalid(format!("allow_from: {e}")))?;
        }
        Ok(())
    }
}
