//! SFTPGo's JSON dump (`dumpdata`/`loaddata`/`--loaddata-from`), format version 17.
//!
//! Users are loaded; the other top-level collections are accepted and, when non-empty,
//! reported as not supported yet (they are not silently dropped: the caller logs them).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::model::User;
use crate::store::{StoreError, UserStore};
use crate::{Error, Result, password};

/// The dump format version written and read.
pub const DUMP_VERSION: i64 = 17;

/// A dump file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Dump {
    /// Users.
    pub users: Vec<User>,
    /// Format version.
    pub version: i64,
    /// groups, folders, admins, api_keys, shares, event_actions, event_rules, roles,
    /// ip_lists, configs: kept verbatim.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// `--loaddata-mode` / `mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadMode {
    /// 0: add new objects, update existing ones.
    AddUpdate,
    /// 1: add new objects, leave existing ones alone.
    AddOnly,
    /// 2: like 0, and disconnect affected users.
    AddUpdateDisconnect,
}

impl TryFrom<i64> for LoadMode {
    type Error = Error;
    fn try_from(v: i64) -> Result<Self> {
        match v {
            0 => Ok(Self::AddUpdate),
            1 => Ok(Self::AddOnly),
            2 => Ok(Self::AddUpdateDisconnect),
            _ => Err(Error::invalid(format!(
                "invalid load mode {v}: must be 0, 1 or 2"
            ))),
        }
    }
}

/// What a load did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LoadReport {
    /// Users created.
    pub added: usize,
    /// Users replaced.
    pub updated: usize,
    /// Users left as they were (add-only mode).
    pub skipped: usize,
    /// Non-empty collections that this server does not load yet.
    pub unsupported: Vec<String>,
}

impl Dump {
    /// Parses a dump, naming the offending field on error.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        let de = &mut serde_json::Deserializer::from_slice(bytes);
        let dump: Dump = serde_path_to_error::deserialize(de)
            .map_err(|e| Error::invalid(format!("invalid dump at {}: {}", e.path(), e.inner())))?;
        if dump.version > DUMP_VERSION {
            return Err(Error::invalid(format!(
                "dump version {} is newer than the supported {DUMP_VERSION}",
                dump.version
            )));
        }
        Ok(dump)
    }

    /// Loads the dump into `store`.
    pub async fn load(self, store: &dyn UserStore, mode: LoadMode) -> Result<LoadReport> {
        let mut report = LoadReport::default();
        for (key, value) in &self.other {
            let non_empty = match value {
                Value::Array(a) => !a.is_empty(),
                Value::Object(o) => !o.is_empty(),
                Value::Null => false,
                _ => true,
            };
            if non_empty {
                report.unsupported.push(key.clone());
            }
        }
        for mut user in self.users {
            if !user.password.is_empty() && !password::is_hashed(&user.password) {
                let plain = std::mem::take(&mut user.password);
                user.password = tokio::task::spawn_blocking(move || password::hash(&plain))
                    .await
                    .map_err(|e| Error::new(crate::ErrorKind::Internal, e.to_string()))??;
            }
            user.validate()
                .map_err(|e| Error::invalid(format!("user {:?}: {}", user.username, e.message)))?;
            let existing = store
                .user_by_name(&user.username)
                .await
                .map_err(store_err)?;
            match (existing, mode) {
                (Some(_), LoadMode::AddOnly) => report.skipped += 1,
                (Some(old), _) => {
                    user.id = old.id;
                    user.created_at = old.created_at;
                    user.updated_at = crate::now_millis();
                    store.update_user(&user).await.map_err(store_err)?;
                    report.updated += 1;
                }
                (None, _) => {
                    let now = crate::now_millis();
                    if user.created_at == 0 {
                        user.created_at = now;
                    }
                    user.updated_at = now;
                    store.add_user(&user).await.map_err(store_err)?;
                    report.added += 1;
                }
            }
        }
        Ok(report)
    }
}

fn store_err(e: StoreError) -> Error {
    match e {
        StoreError::Invalid(m) => Error::invalid(m),
        other => Error::new(crate::ErrorKind::Internal, other.to_string()),
    }
}
