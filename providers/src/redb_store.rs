//! The embedded key/value provider on redb (driver `bolt`, SFTPGo's name for its bbolt
//! store, or `redb`). One file, one process: the file is locked while the server runs.
//!
//! Layout: table `users` maps the username to the user's JSON (the dump format's
//! fields), table `meta` holds the schema version and the last user id. Every write is
//! one redb transaction, committed durably before the call returns. redb calls block,
//! so they run on the blocking thread pool.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, TableError};
use sftpgo_core::model::User;
use sftpgo_core::store::{StoreError, StoreResult, UserStore};

const USERS: TableDefinition<&str, &[u8]> = TableDefinition::new("users");
const META: TableDefinition<&str, i64> = TableDefinition::new("meta");
const SCHEMA_VERSION: i64 = 1;

/// The redb store.
#[derive(Clone)]
pub struct RedbProvider {
    db: Arc<Database>,
}

fn backend(e: impl Into<redb::Error>) -> StoreError {
    StoreError::Backend(format!("redb: {}", e.into()))
}

fn to_json(u: &User) -> StoreResult<Vec<u8>> {
    serde_json::to_vec(u).map_err(|e| StoreError::Backend(e.to_string()))
}

fn from_json(bytes: &[u8]) -> StoreResult<User> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Backend(format!("stored user: {e}")))
}

impl RedbProvider {
    /// Opens (creating if missing) the database file at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = Database::create(path)
            .map_err(|e| StoreError::Backend(format!("cannot open {}: {e}", path.display())))?;
        Ok(Self { db: Arc::new(db) })
    }

    /// Runs `f` on the blocking pool with the database.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Database) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || f(&db))
            .await
            .map_err(|e| StoreError::Backend(format!("redb task: {e}")))?
    }
}

#[async_trait]
impl UserStore for RedbProvider {
    async fn user_by_name(&self, username: &str) -> StoreResult<Option<User>> {
        let name = username.to_string();
        self.blocking(move |db| {
            let tx = db.begin_read().map_err(backend)?;
            let table = match tx.open_table(USERS) {
                Ok(t) => t,
                Err(TableError::TableDoesNotExist(_)) => return Ok(None),
                Err(e) => return Err(backend(e)),
            };
            match table.get(name.as_str()).map_err(backend)? {
                Some(v) => from_json(v.value()).map(Some),
                None => Ok(None),
            }
        })
        .await
    }

    async fn add_user(&self, user: &User) -> StoreResult<User> {
        user.validate()
            .map_err(|e| StoreError::Invalid(e.message))?;
        let mut out = user.clone();
        self.blocking(move |db| {
            let tx = db.begin_write().map_err(backend)?;
            {
                let mut users = tx.open_table(USERS).map_err(backend)?;
                if users.get(out.username.as_str()).map_err(backend)?.is_some() {
                    return Err(StoreError::Conflict(format!("user {:?}", out.username)));
                }
                let mut meta = tx.open_table(META).map_err(backend)?;
                let id = meta
                    .get("last_user_id")
                    .map_err(backend)?
                    .map(|v| v.value())
                    .unwrap_or(0)
                    + 1;
                meta.insert("last_user_id", id).map_err(backend)?;
                out.id = id;
                users
                    .insert(out.username.as_str(), to_json(&out)?.as_slice())
                    .map_err(backend)?;
            }
            tx.commit().map_err(backend)?;
            Ok(out)
        })
        .await
    }

    async fn update_user(&self, user: &User) -> StoreResult<()> {
        user.validate()
            .map_err(|e| StoreError::Invalid(e.message))?;
        let mut user = user.clone();
        self.blocking(move |db| {
            let tx = db.begin_write().map_err(backend)?;
            {
                let mut users = tx.open_table(USERS).map_err(backend)?;
                let stored = match users.get(user.username.as_str()).map_err(backend)? {
                    Some(v) => from_json(v.value())?,
                    None => {
                        return Err(StoreError::NotFound(format!("user {:?}", user.username)));
                    }
                };
                user.id = stored.id;
                users
                    .insert(user.username.as_str(), to_json(&user)?.as_slice())
                    .map_err(backend)?;
            }
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn delete_user(&self, username: &str) -> StoreResult<()> {
        let name = username.to_string();
        self.blocking(move |db| {
            let tx = db.begin_write().map_err(backend)?;
            let removed = {
                let mut users = tx.open_table(USERS).map_err(backend)?;
                users.remove(name.as_str()).map_err(backend)?.is_some()
            };
            if !removed {
                return Err(StoreError::NotFound(format!("user {name:?}")));
            }
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn list_users(&self, offset: i64, limit: i64) -> StoreResult<Vec<User>> {
        let skip = usize::try_from(offset.max(0)).unwrap_or(usize::MAX);
        let take = usize::try_from(limit.max(0)).unwrap_or(usize::MAX);
        self.blocking(move |db| {
            let tx = db.begin_read().map_err(backend)?;
            let table = match tx.open_table(USERS) {
                Ok(t) => t,
                Err(TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
                Err(e) => return Err(backend(e)),
            };
            // Keys iterate in byte order: usernames sorted as SQL's binary collation.
            table
                .iter()
                .map_err(backend)?
                .skip(skip)
                .take(take)
                .map(|entry| {
                    let (_, v) = entry.map_err(backend)?;
                    from_json(v.value())
                })
                .collect()
        })
        .await
    }

    async fn set_last_login(&self, username: &str, at_ms: i64) -> StoreResult<()> {
        let name = username.to_string();
        self.blocking(move |db| {
            let tx = db.begin_write().map_err(backend)?;
            {
                let mut users = tx.open_table(USERS).map_err(backend)?;
                let stored = users
                    .get(name.as_str())
                    .map_err(backend)?
                    .map(|v| from_json(v.value()))
                    .transpose()?;
                if let Some(mut u) = stored {
                    u.last_login = at_ms;
                    users
                        .insert(name.as_str(), to_json(&u)?.as_slice())
                        .map_err(backend)?;
                }
            }
            tx.commit().map_err(backend)
        })
        .await
    }
}

#[async_trait]
impl crate::Provider for RedbProvider {
    async fn initialize(&self) -> Result<(), StoreError> {
        self.blocking(|db| {
            let tx = db.begin_write().map_err(backend)?;
            {
                tx.open_table(USERS).map_err(backend)?;
                let mut meta = tx.open_table(META).map_err(backend)?;
                meta.insert("schema_version", SCHEMA_VERSION)
                    .map_err(backend)?;
            }
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn reset(&self) -> Result<(), StoreError> {
        self.blocking(|db| {
            let tx = db.begin_write().map_err(backend)?;
            tx.delete_table(USERS).map_err(backend)?;
            tx.delete_table(META).map_err(backend)?;
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn schema_version(&self) -> Result<i64, StoreError> {
        self.blocking(|db| {
            let tx = db.begin_read().map_err(backend)?;
            let meta = match tx.open_table(META) {
                Ok(t) => t,
                Err(TableError::TableDoesNotExist(_)) => return Ok(0),
                Err(e) => return Err(backend(e)),
            };
            Ok(meta
                .get("schema_version")
                .map_err(backend)?
                .map(|v| v.value())
                .unwrap_or(0))
        })
        .await
    }
}
