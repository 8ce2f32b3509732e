//! SFTPGo's JSON dump (`dumpdata`/`loaddata`/`--loaddata-from`, the memory provider's
//! file), format version 17: every section is read and written. Loading goes through
//! the [`Catalog`], so a dump gets the same validation as an API request; referenced
//! kinds are loaded first (roles, folders, groups, then users, ...).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::catalog::{Catalog, Stored};
use crate::model::{
    Admin, ApiKey, EventAction, EventRule, Folder, Group, IpListEntry, Role, Share, User,
};
use crate::store::{ListQuery, PutMode};
use crate::{Error, Result};

/// The dump format version written and read.
pub const DUMP_VERSION: i64 = 17;

/// A dump file, sections in SFTPGo's order.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Dump {
    /// Users.
    pub users: Vec<User>,
    /// Groups.
    pub groups: Vec<Group>,
    /// Virtual folders (`BaseVirtualFolder`).
    pub folders: Vec<Folder>,
    /// Admins.
    pub admins: Vec<Admin>,
    /// API keys (hashed).
    pub api_keys: Vec<ApiKey>,
    /// Shares.
    pub shares: Vec<Share>,
    /// Event actions.
    pub event_actions: Vec<EventAction>,
    /// Event rules.
    pub event_rules: Vec<EventRule>,
    /// Roles.
    pub roles: Vec<Role>,
    /// IP list entries.
    pub ip_lists: Vec<IpListEntry>,
    /// The `configs` object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub configs: Option<Value>,
    /// Format version.
    pub version: i64,
    /// Sections this server does not know, kept so they can be reported.
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
    /// Objects created.
    pub added: usize,
    /// Objects replaced.
    pub updated: usize,
    /// Objects left as they were (add-only mode).
    pub skipped: usize,
    /// Users that were replaced (mode 2 disconnects them).
    pub updated_users: Vec<String>,
    /// Non-empty sections this server does not know.
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

    /// Reads every object from `catalog` into a dump.
    pub async fn collect(catalog: &Catalog) -> Result<Self> {
        let all = ListQuery::default();
        Ok(Self {
            users: catalog.list(all).await?,
            groups: catalog.list(all).await?,
            folders: catalog.list(all).await?,
            admins: catalog.list(all).await?,
            api_keys: catalog.list(all).await?,
            shares: catalog.list(all).await?,
            event_actions: catalog.list(all).await?,
            event_rules: catalog.list(all).await?,
            roles: catalog.list(all).await?,
            ip_lists: catalog.list(all).await?,
            configs: Some(catalog.configs().await?),
            version: DUMP_VERSION,
            other: Map::new(),
        })
    }

    /// Loads the dump into `catalog`.
    pub async fn load(self, catalog: &Catalog, mode: LoadMode) -> Result<LoadReport> {
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
        load_all(catalog, self.roles, mode, &mut report).await?;
        load_all(catalog, self.folders, mode, &mut report).await?;
        load_all(catalog, self.groups, mode, &mut report).await?;
        load_all(catalog, self.users, mode, &mut report).await?;
        load_all(catalog, self.admins, mode, &mut report).await?;
        load_all(catalog, self.api_keys, mode, &mut report).await?;
        load_all(catalog, self.shares, mode, &mut report).await?;
        load_all(catalog, self.event_actions, mode, &mut report).await?;
        load_all(catalog, self.event_rules, mode, &mut report).await?;
        load_all(catalog, self.ip_lists, mode, &mut report).await?;
        if let Some(configs) = self
            .configs
            .filter(|c| c.as_object().is_some_and(|o| !o.is_empty()))
        {
            catalog.restore_configs(&configs).await?;
        }
        Ok(report)
    }
}

async fn load_all<T: Stored>(
    catalog: &Catalog,
    objects: Vec<T>,
    mode: LoadMode,
    report: &mut LoadReport,
) -> Result<()> {
    for obj in objects {
        let label = T::KIND.label();
        let key = {
            let mut probe = obj.clone();
            let _ = probe.prepare(catalog.naming());
            probe.key()
        };
        let context = |e: Error| Error::new(e.kind, format!("{label} {key:?}: {}", e.message));
        let exists = catalog.get::<T>(&key).await.map_err(context)?.is_some();
        match (exists, mode) {
            (true, LoadMode::AddOnly) => report.skipped += 1,
            (true, _) => {
                catalog
                    .restore(&obj, PutMode::Update)
                    .await
                    .map_err(context)?;
                report.updated += 1;
                if T::KIND == crate::store::Kind::User {
                    report.updated_users.push(key.clone());
                }
            }
            (false, _) => {
                catalog
                    .restore(&obj, PutMode::Insert)
                    .await
                    .map_err(context)?;
                report.added += 1;
            }
        }
    }
    Ok(())
}

/// Writes `bytes` to `path` readable by the owner only (dumps hold password hashes and
/// secrets), through a temporary file renamed into place; missing directories are
/// created owner-only.
pub fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", crate::catalog::random_id(10)));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_types_name_the_field() {
        let err =
            Dump::from_json(br#"{"users": [{"username": "a"}, {"username": 5}]}"#).unwrap_err();
        assert!(err.message.contains("users[1].username"), "{err}");
        let err = Dump::from_json(br#"{"ip_lists": [{"type": "allow"}]}"#).unwrap_err();
        assert!(err.message.contains("ip_lists[0].type"), "{err}");
        let err = Dump::from_json(br#"{"version": 18}"#).unwrap_err();
        assert!(err.message.contains("newer"), "{err}");
    }

    #[test]
    fn sections_are_written_in_sftpgo_order() {
        let text = serde_json::to_string(&Dump {
            version: DUMP_VERSION,
            configs: Some(serde_json::json!({})),
            ..Dump::default()
        })
        .unwrap();
        let order = [
            "users",
            "groups",
            "folders",
            "admins",
            "api_keys",
            "shares",
            "event_actions",
            "event_rules",
            "roles",
            "ip_lists",
            "configs",
            "version",
        ];
        let positions: Vec<usize> = order
            .iter()
            .map(|k| text.find(&format!("\"{k}\"")).unwrap())
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
    }
}
