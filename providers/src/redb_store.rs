//! The embedded key/value provider on redb (driver `bolt`, SFTPGo's name for its bbolt
//! store, or `redb`), also used in memory for the `memory` driver. One file, one
//! process: the file is locked while the server runs.
//!
//! Layout (schema 2):
//! - `objects`: (kind code, key) → record JSON `{"id", "c": [counters], "d": document}`;
//! - `refs_to` / `refs_from`: multimaps (target → referrer, referrer → target) holding
//!   the references between objects;
//! - `meta`: schema version and the last id handed out.
//!
//! Schema 1 kept users alone in table `users`; [`RedbProvider::initialize`] moves them.
//! Writes are one redb transaction each, committed durably; one write transaction runs
//! at a time, queued on an async lock so no runtime thread blocks waiting for another.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use redb::{
    Database, MultimapTableDefinition, ReadableDatabase, ReadableMultimapTable, ReadableTable,
    TableDefinition, TableError, WriteTransaction,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sftpgo_core::store::{
    COUNTERS, Counter, CounterOp, Doc, Kind, ListQuery, ObjectStore, Ref, StoreError, StoreResult,
    StoreTxn, put_counters, take_counters,
};
use tokio::sync::{Mutex, OwnedMutexGuard};

type ObjKey<'a> = (u8, &'a str);

const OBJECTS: TableDefinition<ObjKey, &[u8]> = TableDefinition::new("objects");
const REFS_TO: MultimapTableDefinition<ObjKey, ObjKey> = MultimapTableDefinition::new("refs_to");
const REFS_FROM: MultimapTableDefinition<ObjKey, ObjKey> =
    MultimapTableDefinition::new("refs_from");
const META: TableDefinition<&str, i64> = TableDefinition::new("meta");
/// Schema 1's users table.
const USERS_V1: TableDefinition<&str, &[u8]> = TableDefinition::new("users");
const SCHEMA_VERSION: i64 = 2;

/// The redb store.
#[derive(Clone)]
pub struct RedbProvider {
    db: Arc<Database>,
    writer: Arc<Mutex<()>>,
    in_memory: bool,
}

#[derive(Serialize, Deserialize)]
struct Record {
    id: i64,
    c: [i64; COUNTERS],
    d: Value,
}

fn backend(e: impl Into<redb::Error>) -> StoreError {
    StoreError::Backend(format!("redb: {}", e.into()))
}

fn code(kind: Kind) -> u8 {
    u8::try_from(kind.code()).unwrap_or(u8::MAX)
}

fn decode_ref(kind: u8, key: &str) -> Option<Ref> {
    Kind::from_code(i64::from(kind)).map(|k| (k, key.to_string()))
}

fn encode(rec: &Record) -> StoreResult<Vec<u8>> {
    serde_json::to_vec(rec).map_err(|e| StoreError::Backend(e.to_string()))
}

fn decode(bytes: &[u8]) -> StoreResult<Record> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Backend(format!("stored object: {e}")))
}

fn to_doc(key: &str, rec: Record) -> Doc {
    Doc {
        id: rec.id,
        key: key.to_string(),
        data: rec.d,
        counters: rec.c,
    }
}

/// Maps "table not created yet" to an empty result.
macro_rules! open_or {
    ($tx:expr, $def:expr, $empty:expr) => {
        match $tx.open_table($def) {
            Ok(t) => t,
            Err(TableError::TableDoesNotExist(_)) => return Ok($empty),
            Err(e) => return Err(backend(e)),
        }
    };
}

impl RedbProvider {
    /// Opens (creating if missing) the database file at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = Database::create(path)
            .map_err(|e| StoreError::Backend(format!("cannot open {}: {e}", path.display())))?;
        Ok(Self::with_db(db, false))
    }

    /// A database kept in memory (the `memory` driver).
    pub fn in_memory() -> Result<Self, StoreError> {
        let db = Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .map_err(|e| StoreError::Backend(format!("in-memory database: {e}")))?;
        Ok(Self::with_db(db, true))
    }

    fn with_db(db: Database, in_memory: bool) -> Self {
        Self {
            db: Arc::new(db),
            writer: Arc::new(Mutex::new(())),
            in_memory,
        }
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

    /// Runs the write `f` in its own transaction on the blocking pool, in turn with the
    /// other writers.
    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&WriteTransaction) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let _turn = self.writer.clone().lock_owned().await;
        self.blocking(move |db| {
            let tx = db.begin_write().map_err(backend)?;
            let out = f(&tx)?;
            tx.commit().map_err(backend)?;
            Ok(out)
        })
        .await
    }
}

fn next_id(tx: &WriteTransaction) -> StoreResult<i64> {
    let mut meta = tx.open_table(META).map_err(backend)?;
    let id = meta
        .get("last_id")
        .map_err(backend)?
        .map(|v| v.value())
        .unwrap_or(0)
        + 1;
    meta.insert("last_id", id).map_err(backend)?;
    Ok(id)
}

fn get_in(tx: &WriteTransaction, kind: Kind, key: &str) -> StoreResult<Option<Record>> {
    let table = tx.open_table(OBJECTS).map_err(backend)?;
    let rec = table.get((code(kind), key)).map_err(backend)?;
    rec.map(|v| decode(v.value())).transpose()
}

fn put_in(tx: &WriteTransaction, kind: Kind, key: &str, rec: &Record) -> StoreResult<()> {
    let mut table = tx.open_table(OBJECTS).map_err(backend)?;
    table
        .insert((code(kind), key), encode(rec)?.as_slice())
        .map_err(backend)?;
    Ok(())
}

fn set_refs_in(tx: &WriteTransaction, kind: Kind, key: &str, to: &[Ref]) -> StoreResult<()> {
    let from = (code(kind), key);
    let mut refs_from = tx.open_multimap_table(REFS_FROM).map_err(backend)?;
    let mut refs_to = tx.open_multimap_table(REFS_TO).map_err(backend)?;
    let old: Vec<(u8, String)> = refs_from
        .remove_all(from)
        .map_err(backend)?
        .map(|v| v.map(|g| (g.value().0, g.value().1.to_string())))
        .collect::<Result<_, _>>()
        .map_err(backend)?;
    for (k, n) in &old {
        refs_to.remove((*k, n.as_str()), from).map_err(backend)?;
    }
    for (k, n) in to {
        let target = (code(*k), n.as_str());
        refs_from.insert(from, target).map_err(backend)?;
        refs_to.insert(target, from).map_err(backend)?;
    }
    Ok(())
}

/// A write transaction held across awaits; its operations are small and run inline.
struct RedbTxn {
    tx: WriteTransaction,
    _turn: OwnedMutexGuard<()>,
}

#[async_trait]
impl StoreTxn for RedbTxn {
    async fn get(&mut self, kind: Kind, key: &str) -> StoreResult<Option<Doc>> {
        Ok(get_in(&self.tx, kind, key)?.map(|r| to_doc(key, r)))
    }

    async fn insert(
        &mut self,
        kind: Kind,
        key: &str,
        data: &Value,
        counters: &[i64; COUNTERS],
    ) -> StoreResult<i64> {
        if get_in(&self.tx, kind, key)?.is_some() {
            return Err(StoreError::Conflict(format!("{} {key:?}", kind.label())));
        }
        let id = next_id(&self.tx)?;
        let rec = Record {
            id,
            c: *counters,
            d: data.clone(),
        };
        put_in(&self.tx, kind, key, &rec)?;
        Ok(id)
    }

    async fn update(&mut self, kind: Kind, key: &str, data: &Value) -> StoreResult<()> {
        let mut rec = get_in(&self.tx, kind, key)?
            .ok_or_else(|| StoreError::NotFound(format!("{} {key:?}", kind.label())))?;
        rec.d = data.clone();
        put_in(&self.tx, kind, key, &rec)
    }

    async fn remove(&mut self, kind: Kind, key: &str) -> StoreResult<()> {
        set_refs_in(&self.tx, kind, key, &[])?;
        let mut table = self.tx.open_table(OBJECTS).map_err(backend)?;
        table.remove((code(kind), key)).map_err(backend)?;
        Ok(())
    }

    async fn refs_to(&mut self, kind: Kind, key: &str) -> StoreResult<Vec<Ref>> {
        let table = self.tx.open_multimap_table(REFS_TO).map_err(backend)?;
        let mut out = Vec::new();
        for v in table.get((code(kind), key)).map_err(backend)? {
            let v = v.map_err(backend)?;
            out.extend(decode_ref(v.value().0, v.value().1));
        }
        Ok(out)
    }

    async fn set_refs(&mut self, kind: Kind, key: &str, to: &[Ref]) -> StoreResult<()> {
        set_refs_in(&self.tx, kind, key, to)
    }

    async fn commit(self: Box<Self>) -> StoreResult<()> {
        let RedbTxn { tx, _turn } = *self;
        // The durable commit waits for the disk: run it off the runtime thread.
        tokio::task::spawn_blocking(move || tx.commit().map_err(backend))
            .await
            .map_err(|e| StoreError::Backend(format!("redb task: {e}")))?
    }
}

#[async_trait]
impl ObjectStore for RedbProvider {
    async fn get(&self, kind: Kind, key: &str) -> StoreResult<Option<Doc>> {
        let key = key.to_string();
        self.blocking(move |db| {
            let tx = db.begin_read().map_err(backend)?;
            let table = open_or!(tx, OBJECTS, None);
            let rec = table.get((code(kind), key.as_str())).map_err(backend)?;
            Ok(rec
                .map(|v| decode(v.value()))
                .transpose()?
                .map(|r| to_doc(&key, r)))
        })
        .await
    }

    async fn list(&self, kind: Kind, query: ListQuery) -> StoreResult<Vec<Doc>> {
        let skip = usize::try_from(query.offset.max(0)).unwrap_or(usize::MAX);
        let take = usize::try_from(query.limit.max(0)).unwrap_or(usize::MAX);
        self.blocking(move |db| {
            let tx = db.begin_read().map_err(backend)?;
            let table = open_or!(tx, OBJECTS, Vec::new());
            let c = code(kind);
            // Keys iterate in byte order: the SQL engines' binary collation.
            let range = table.range((c, "")..(c + 1, "")).map_err(backend)?;
            let convert = |entry: Result<_, redb::StorageError>| -> StoreResult<Doc> {
                let (k, v): (redb::AccessGuard<ObjKey>, redb::AccessGuard<&[u8]>) =
                    entry.map_err(backend)?;
                Ok(to_doc(k.value().1, decode(v.value())?))
            };
            if query.descending {
                range.rev().skip(skip).take(take).map(convert).collect()
            } else {
                range.skip(skip).take(take).map(convert).collect()
            }
        })
        .await
    }

    async fn referrers(&self, kind: Kind, key: &str) -> StoreResult<Vec<Ref>> {
        let key = key.to_string();
        self.blocking(move |db| {
            let tx = db.begin_read().map_err(backend)?;
            let table = match tx.open_multimap_table(REFS_TO) {
                Ok(t) => t,
                Err(TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
                Err(e) => return Err(backend(e)),
            };
            let mut out = Vec::new();
            for v in table.get((code(kind), key.as_str())).map_err(backend)? {
                let v = v.map_err(backend)?;
                out.extend(decode_ref(v.value().0, v.value().1));
            }
            out.sort();
            Ok(out)
        })
        .await
    }

    async fn update_counters(
        &self,
        kind: Kind,
        key: &str,
        ops: &[(Counter, CounterOp)],
    ) -> StoreResult<()> {
        let key = key.to_string();
        let ops = ops.to_vec();
        self.write(move |tx| {
            let mut rec = get_in(tx, kind, &key)?
                .ok_or_else(|| StoreError::NotFound(format!("{} {key:?}", kind.label())))?;
            for (counter, op) in ops {
                if let Some(slot) = rec.c.get_mut(counter as usize) {
                    *slot = match op {
                        CounterOp::Add(n) => slot.saturating_add(n),
                        CounterOp::Set(n) => n,
                        CounterOp::SetIfZero(n) if *slot == 0 => n,
                        CounterOp::SetIfZero(_) => *slot,
                    };
                }
            }
            put_in(tx, kind, &key, &rec)
        })
        .await
    }

    async fn begin(&self) -> StoreResult<Box<dyn StoreTxn + '_>> {
        let turn = self.writer.clone().lock_owned().await;
        let db = self.db.clone();
        let tx = tokio::task::spawn_blocking(move || db.begin_write().map_err(backend))
            .await
            .map_err(|e| StoreError::Backend(format!("redb task: {e}")))??;
        Ok(Box::new(RedbTxn { tx, _turn: turn }))
    }
}

/// Moves schema 1's users into `objects`.
fn migrate_v1(tx: &WriteTransaction) -> StoreResult<()> {
    let users: Vec<(String, Vec<u8>)> = {
        let table = match tx.open_table(USERS_V1) {
            Ok(t) => t,
            Err(TableError::TableDoesNotExist(_)) => return Ok(()),
            Err(e) => return Err(backend(e)),
        };
        let mut out = Vec::new();
        for entry in table.iter().map_err(backend)? {
            let (k, v) = entry.map_err(backend)?;
            out.push((k.value().to_string(), v.value().to_vec()));
        }
        out
    };
    for (name, bytes) in users {
        let mut data: Value = serde_json::from_slice(&bytes)
            .map_err(|e| StoreError::Backend(format!("schema 1 user {name:?}: {e}")))?;
        let id = data.get("id").and_then(Value::as_i64).unwrap_or(0);
        if let Some(obj) = data.as_object_mut() {
            obj.remove("id");
        }
        let counters = take_counters(Kind::User, &mut data);
        put_in(
            tx,
            Kind::User,
            &name,
            &Record {
                id,
                c: counters,
                d: data,
            },
        )?;
    }
    tx.delete_table(USERS_V1).map_err(backend)?;
    Ok(())
}

/// Takes schema 2 back to schema 1: users return to table `users` as whole JSON
/// documents (counters and id included); every other object is dropped.
fn revert_to_v1(tx: &WriteTransaction) -> StoreResult<()> {
    let users: Vec<(String, Record)> = {
        let table = tx.open_table(OBJECTS).map_err(backend)?;
        let c = code(Kind::User);
        let mut out = Vec::new();
        for entry in table.range((c, "")..(c + 1, "")).map_err(backend)? {
            let (k, v) = entry.map_err(backend)?;
            out.push((k.value().1.to_string(), decode(v.value())?));
        }
        out
    };
    {
        let mut table = tx.open_table(USERS_V1).map_err(backend)?;
        for (name, rec) in users {
            let mut data = rec.d;
            put_counters(Kind::User, &mut data, &rec.c);
            if let Some(obj) = data.as_object_mut() {
                obj.insert("id".into(), Value::from(rec.id));
            }
            let bytes =
                serde_json::to_vec(&data).map_err(|e| StoreError::Backend(e.to_string()))?;
            table
                .insert(name.as_str(), bytes.as_slice())
                .map_err(backend)?;
        }
    }
    tx.delete_table(OBJECTS).map_err(backend)?;
    tx.delete_multimap_table(REFS_TO).map_err(backend)?;
    tx.delete_multimap_table(REFS_FROM).map_err(backend)?;
    let mut meta = tx.open_table(META).map_err(backend)?;
    let last = meta
        .get("last_id")
        .map_err(backend)?
        .map(|v| v.value())
        .unwrap_or(0);
    meta.insert("last_user_id", last).map_err(backend)?;
    meta.remove("last_id").map_err(backend)?;
    meta.insert("schema_version", 1).map_err(backend)?;
    Ok(())
}

#[async_trait]
impl crate::Provider for RedbProvider {
    async fn revert(&self, to_version: i64) -> Result<(), StoreError> {
        if self.in_memory {
            return Err(StoreError::Invalid(
                "revertprovider is not supported for the memory provider".into(),
            ));
        }
        self.write(move |tx| {
            let current = {
                let meta = tx.open_table(META).map_err(backend)?;
                meta.get("schema_version")
                    .map_err(backend)?
                    .map(|v| v.value())
                    .unwrap_or(0)
            };
            crate::check_revert(current, to_version)?;
            revert_to_v1(tx)
        })
        .await
    }

    async fn initialize(&self) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.open_table(OBJECTS).map_err(backend)?;
            tx.open_multimap_table(REFS_TO).map_err(backend)?;
            tx.open_multimap_table(REFS_FROM).map_err(backend)?;
            let version = {
                let meta = tx.open_table(META).map_err(backend)?;
                meta.get("schema_version")
                    .map_err(backend)?
                    .map(|v| v.value())
                    .unwrap_or(0)
            };
            if version == 1 {
                migrate_v1(tx)?;
                // Schema 1 numbered users with `last_user_id`.
                let mut meta = tx.open_table(META).map_err(backend)?;
                let last = meta
                    .get("last_user_id")
                    .map_err(backend)?
                    .map(|v| v.value())
                    .unwrap_or(0);
                meta.insert("last_id", last).map_err(backend)?;
                meta.remove("last_user_id").map_err(backend)?;
            }
            let mut meta = tx.open_table(META).map_err(backend)?;
            meta.insert("schema_version", SCHEMA_VERSION)
                .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn reset(&self) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.delete_table(OBJECTS).map_err(backend)?;
            tx.delete_multimap_table(REFS_TO).map_err(backend)?;
            tx.delete_multimap_table(REFS_FROM).map_err(backend)?;
            tx.delete_table(USERS_V1).map_err(backend)?;
            tx.delete_table(META).map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn schema_version(&self) -> Result<i64, StoreError> {
        self.blocking(|db| {
            let tx = db.begin_read().map_err(backend)?;
            let meta = open_or!(tx, META, 0);
            Ok(meta
                .get("schema_version")
                .map_err(backend)?
                .map(|v| v.value())
                .unwrap_or(0))
        })
        .await
    }
}
