//! sftpgo-providers: data providers implementing `sftpgo-core`'s store traits.
//!
//! Contract:
//! - Each engine implements [`sftpgo_core::store::ObjectStore`] (JSON documents per kind,
//!   counters, references, write transactions) and owns its schema: it creates or
//!   upgrades it (`initialize`) and can drop it (`reset`). The rules on top (validation,
//!   references, cascades) live in `sftpgo-core` and are the same for every engine.
//! - The `data_provider` configuration section is [`Config`]; [`open`] builds the engine
//!   it names.
//! - Nothing here knows about protocols or file systems.
//!
//! Engines: SQLite (default, WAL), PostgreSQL and MySQL/MariaDB (one sqlx implementation,
//! `sql`), redb (driver `bolt` or `redb`, `redb_store`) and memory (redb kept in memory).
//! Every engine passes the same conformance suite (`tests/conformance.rs`).

mod config;
pub mod redb_store;
pub mod sql;

pub use config::{Config, Driver};

use std::sync::Arc;

use sftpgo_core::store::{ObjectStore, StoreError};

/// An opened provider: the store plus schema management.
#[async_trait::async_trait]
pub trait Provider: ObjectStore {
    /// Creates or upgrades the schema; safe to run concurrently from several processes.
    async fn initialize(&self) -> Result<(), StoreError>;
    /// Drops every table of this provider.
    async fn reset(&self) -> Result<(), StoreError>;
    /// The current schema version (0 when not initialised).
    async fn schema_version(&self) -> Result<i64, StoreError>;
    /// Takes the schema back to `to_version` (`revertprovider`); data the older schema
    /// cannot hold is dropped.
    async fn revert(&self, to_version: i64) -> Result<(), StoreError>;
}

/// The oldest schema `revertprovider` can reach.
pub const OLDEST_SCHEMA: i64 = 1;

/// Checks a revert from `current` to `to`.
pub(crate) fn check_revert(current: i64, to: i64) -> Result<(), StoreError> {
    if current == 0 {
        return Err(StoreError::Invalid(
            "the data provider is not initialized: nothing to revert".into(),
        ));
    }
    if to == current {
        return Err(StoreError::Invalid(format!(
            "the schema is already at version {current}"
        )));
    }
    if to < OLDEST_SCHEMA || to > current {
        return Err(StoreError::Invalid(format!(
            "cannot revert schema {current} to {to}: the target must be between \
             {OLDEST_SCHEMA} and {}",
            current - 1
        )));
    }
    Ok(())
}

/// Opens the provider described by `cfg`; relative file names are taken from `config_dir`.
pub async fn open(
    cfg: &Config,
    config_dir: &std::path::Path,
) -> Result<Arc<dyn Provider>, StoreError> {
    // The file of the embedded engines (an absolute `name` replaces the directory).
    let path = config_dir.join(&cfg.name);
    match cfg.driver {
        Driver::Memory => {
            let p = Arc::new(redb_store::RedbProvider::in_memory()?);
            p.initialize().await?;
            // The dump named in `name` is loaded by the caller, through its catalog
            // (naming rules, KMS).
            Ok(p)
        }
        Driver::Bolt => Ok(Arc::new(redb_store::RedbProvider::open(&path)?)),
        Driver::Sqlite | Driver::Postgresql | Driver::Mysql => {
            let mut cfg = cfg.clone();
            if !cfg.password_file.is_empty() {
                let file = config_dir.join(&cfg.password_file);
                let secret = std::fs::read_to_string(&file).map_err(|e| {
                    StoreError::Backend(format!(
                        "data_provider.password_file: cannot read {}: {e}",
                        file.display()
                    ))
                })?;
                cfg.password = secret.trim().to_string();
            }
            let url = sql::connection_url(&cfg, &path, config_dir)?;
            Ok(Arc::new(sql::SqlProvider::connect(&url, &cfg).await?))
        }
        other => Err(StoreError::Backend(format!(
            "data provider driver {:?} is not implemented yet",
            other.as_str()
        ))),
    }
}
