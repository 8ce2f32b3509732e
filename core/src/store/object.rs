//! The document store every data provider engine implements ([`ObjectStore`]), and the
//! engine-independent write rules built on its transactions ([`put`], [`delete`]):
//! unique keys, references that must exist, and what a delete does to referring objects
//! (refuse, cascade or unlink, see [`super::kind::on_delete`]).

use async_trait::async_trait;
use serde_json::Value;

use super::kind::{COUNTERS, Counter, CounterOp, Kind, OnDelete, Ref, on_delete, refs_of, unlink};
use super::{StoreError, StoreResult};

/// A stored object: its JSON without counters, and the counters.
#[derive(Debug, Clone, PartialEq)]
pub struct Doc {
    /// Numeric id, assigned on insert.
    pub id: i64,
    /// Unique key within its kind.
    pub key: String,
    /// The JSON document (counter fields removed).
    pub data: Value,
    /// Counter slots ([`Counter`]).
    pub counters: [i64; COUNTERS],
}

/// Paging and order of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListQuery {
    /// Objects to skip.
    pub offset: i64,
    /// Maximum objects returned.
    pub limit: i64,
    /// Order by key descending instead of ascending.
    pub descending: bool,
}

impl Default for ListQuery {
    fn default() -> Self {
        Self {
            offset: 0,
            limit: i64::MAX,
            descending: false,
        }
    }
}

/// One write transaction. Dropping it without [`StoreTxn::commit`] rolls back.
#[async_trait]
pub trait StoreTxn: Send {
    /// The object, if stored.
    async fn get(&mut self, kind: Kind, key: &str) -> StoreResult<Option<Doc>>;
    /// Inserts a new object with its counters; returns its id. Conflict if the key exists.
    async fn insert(
        &mut self,
        kind: Kind,
        key: &str,
        data: &Value,
        counters: &[i64; COUNTERS],
    ) -> StoreResult<i64>;
    /// Replaces the JSON of an existing object (counters unchanged).
    async fn update(&mut self, kind: Kind, key: &str, data: &Value) -> StoreResult<()>;
    /// Deletes the object and the references it holds.
    async fn remove(&mut self, kind: Kind, key: &str) -> StoreResult<()>;
    /// Objects referring to `(kind, key)`.
    async fn refs_to(&mut self, kind: Kind, key: &str) -> StoreResult<Vec<Ref>>;
    /// Replaces the references held by `(kind, key)`; every target exists.
    async fn set_refs(&mut self, kind: Kind, key: &str, to: &[Ref]) -> StoreResult<()>;
    /// Makes the changes durable.
    async fn commit(self: Box<Self>) -> StoreResult<()>;
}

/// A data provider engine: JSON documents per kind, counters, references.
#[async_trait]
pub trait ObjectStore: Send + Sync {
    /// The object, if stored.
    async fn get(&self, kind: Kind, key: &str) -> StoreResult<Option<Doc>>;
    /// Objects of `kind` ordered by key.
    async fn list(&self, kind: Kind, query: ListQuery) -> StoreResult<Vec<Doc>>;
    /// Objects referring to `(kind, key)`, ordered.
    async fn referrers(&self, kind: Kind, key: &str) -> StoreResult<Vec<Ref>>;
    /// Applies counter changes atomically; NotFound when the object does not exist.
    async fn update_counters(
        &self,
        kind: Kind,
        key: &str,
        ops: &[(Counter, CounterOp)],
    ) -> StoreResult<()>;
    /// Starts a write transaction. Write transactions of one process run one at a time.
    async fn begin(&self) -> StoreResult<Box<dyn StoreTxn + '_>>;
}

/// Whether [`put`] creates or replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutMode {
    /// The key must be new.
    Insert,
    /// The key must exist.
    Update,
}

/// Stores `data` under `(kind, key)`: checks that every object it refers to exists,
/// that the key is new (insert) or present (update), and records its references.
/// Returns the object's id.
pub async fn put(
    store: &dyn ObjectStore,
    kind: Kind,
    key: &str,
    data: &Value,
    counters: &[i64; COUNTERS],
    mode: PutMode,
) -> StoreResult<i64> {
    put_checked(store, kind, key, data, counters, mode, None).await
}

/// [`put`], and for an update with `expected` set, only if the stored document still
/// equals it ([`StoreError::Changed`] otherwise): a write built from an earlier read
/// cannot undo a change made in between.
pub async fn put_checked(
    store: &dyn ObjectStore,
    kind: Kind,
    key: &str,
    data: &Value,
    counters: &[i64; COUNTERS],
    mode: PutMode,
    expected: Option<&Value>,
) -> StoreResult<i64> {
    let refs = refs_of(kind, data);
    let mut tx = store.begin().await?;
    for (to_kind, to_key) in &refs {
        if tx.get(*to_kind, to_key).await?.is_none() {
            return Err(StoreError::Invalid(format!(
                "{} {to_key:?} does not exist",
                to_kind.label()
            )));
        }
    }
    let existing = tx.get(kind, key).await?;
    let id = match (mode, existing) {
        (PutMode::Insert, Some(_)) => {
            return Err(StoreError::Conflict(format!("{} {key:?}", kind.label())));
        }
        (PutMode::Insert, None) => tx.insert(kind, key, data, counters).await?,
        (PutMode::Update, None) => {
            return Err(StoreError::NotFound(format!("{} {key:?}", kind.label())));
        }
        (PutMode::Update, Some(old)) => {
            if expected.is_some_and(|e| *e != old.data) {
                return Err(StoreError::Changed(format!("{} {key:?}", kind.label())));
            }
            tx.update(kind, key, data).await?;
            old.id
        }
    };
    tx.set_refs(kind, key, &refs).await?;
    tx.commit().await?;
    Ok(id)
}

/// Deletes `(kind, key)`, applying [`on_delete`] to every object referring to it.
pub async fn delete(store: &dyn ObjectStore, kind: Kind, key: &str) -> StoreResult<()> {
    let mut tx = store.begin().await?;
    if tx.get(kind, key).await?.is_none() {
        return Err(StoreError::NotFound(format!("{} {key:?}", kind.label())));
    }
    delete_in(tx.as_mut(), kind, key, 0).await?;
    tx.commit().await
}

/// Cascades are at most two levels deep (admin → API key); the bound stops a cycle.
const MAX_CASCADE_DEPTH: usize = 4;

fn delete_in<'a>(
    tx: &'a mut dyn StoreTxn,
    kind: Kind,
    key: &'a str,
    depth: usize,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = StoreResult<()>> + Send + 'a>> {
    Box::pin(async move {
        if depth > MAX_CASCADE_DEPTH {
            return Err(StoreError::Backend(format!(
                "delete of {} {key:?}: references nest too deeply",
                kind.label()
            )));
        }
        for (from_kind, from_key) in tx.refs_to(kind, key).await? {
            match on_delete(from_kind, kind) {
                OnDelete::Restrict => {
                    return Err(StoreError::Invalid(format!(
                        "the {} {key:?} is referenced by {} {from_key:?}, it cannot be removed",
                        kind.label(),
                        from_kind.label()
                    )));
                }
                OnDelete::Cascade => delete_in(tx, from_kind, &from_key, depth + 1).await?,
                OnDelete::Unlink => {
                    let Some(mut doc) = tx.get(from_kind, &from_key).await? else {
                        continue;
                    };
                    unlink(from_kind, &mut doc.data, kind, key);
                    tx.update(from_kind, &from_key, &doc.data).await?;
                    let refs = refs_of(from_kind, &doc.data);
                    tx.set_refs(from_kind, &from_key, &refs).await?;
                }
            }
        }
        tx.remove(kind, key).await
    })
}
