//! The catalog: the typed face of the data provider. CRUD for every kind of object with
//! validation, naming rules, password hashing, timestamps, counters, and the folder and
//! referrer fields joined on read, over any engine's [`ObjectStore`]. The REST API, the
//! CLI and dump loading all write through it, so the rules hold whoever writes.

mod counters;
mod decorate;
mod stored;
mod users;

use std::sync::Arc;

use serde_json::Value;

pub use stored::{Stored, random_id};

use crate::kms::Kms;
use crate::model::NamingRules;
use crate::store::{COUNTERS, Kind, ListQuery, ObjectStore, PutMode, StoreError, take_counters};
use crate::{Error, ErrorKind, Result, password};
use decorate::strip_derived;

/// Converts a store failure into a core error of the matching kind.
pub fn store_error(e: StoreError) -> Error {
    match e {
        StoreError::NotFound(m) => Error::new(ErrorKind::NotFound, format!("{m} not found")),
        StoreError::Conflict(m) => {
            Error::new(ErrorKind::AlreadyExists, format!("{m} already exists"))
        }
        StoreError::Invalid(m) => Error::invalid(m),
        StoreError::Changed(m) => Error::new(
            ErrorKind::Transient,
            format!("{m} changed while being updated, try again"),
        ),
        StoreError::Backend(m) => Error::new(ErrorKind::Internal, m),
    }
}

/// Largest stored document: keeps one object from filling the database or memory.
pub const MAX_OBJECT_BYTES: usize = 1 << 20;

/// Kinds whose JSON `id` is the store's numeric id.
fn numeric_id(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::User
            | Kind::Group
            | Kind::Folder
            | Kind::Admin
            | Kind::Role
            | Kind::EventAction
            | Kind::EventRule
    )
}

/// Kinds with `created_at`.
fn has_created_at(kind: Kind) -> bool {
    !matches!(kind, Kind::Folder | Kind::EventAction | Kind::Configs)
}

/// How a write treats the counters and timestamps it is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// An admin's request: counters start at 0, timestamps are set now.
    Request,
    /// A dump being restored: counters and creation times are kept.
    Restore,
}

/// The typed data provider.
#[derive(Clone)]
pub struct Catalog {
    store: Arc<dyn ObjectStore>,
    naming: NamingRules,
    kms: Kms,
    /// Bumped by every write through this catalog; caches compare it.
    generation: Arc<std::sync::atomic::AtomicU64>,
}

impl Catalog {
    /// A catalog over `store` applying `naming` to new names.
    pub fn new(store: Arc<dyn ObjectStore>, naming: NamingRules) -> Self {
        Self {
            store,
            naming,
            kms: Kms::default(),
            generation: Arc::default(),
        }
    }

    /// Seals secrets with `kms` (default: the local key store without a master key).
    pub fn with_kms(mut self, kms: Kms) -> Self {
        self.kms = kms;
        self
    }

    /// The key store, to decrypt the secrets a storage back-end needs.
    pub fn kms(&self) -> &Kms {
        &self.kms
    }

    /// The naming rules applied to new names.
    pub fn naming(&self) -> NamingRules {
        self.naming
    }

    /// Changes with every write made through this catalog (or its clones): a cache of
    /// derived data (users with group settings applied) is stale when it moved.
    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    /// A key as stored: names follow the naming rules; ids are used as given.
    pub(crate) fn lookup_key(&self, kind: Kind, key: &str) -> String {
        match kind {
            Kind::ApiKey | Kind::Share | Kind::IpListEntry | Kind::Configs => key.to_string(),
            _ => self.naming.convert(key),
        }
    }

    fn bump(&self) {
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    /// The engine.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// Adds a new object; returns it as stored.
    pub async fn add<T: Stored>(&self, obj: &T) -> Result<T> {
        self.write(obj, PutMode::Insert, Origin::Request).await
    }

    /// Replaces an existing object (counters and creation time are kept; an empty
    /// password keeps the stored one); returns it as stored.
    pub async fn update<T: Stored>(&self, obj: &T) -> Result<T> {
        self.write(obj, PutMode::Update, Origin::Request).await
    }

    /// Reads the object of type `T` with `key`, lets `change` edit it, and stores it
    /// only if the stored object is still the one read (retried a few times
    /// otherwise): a read-modify-write that never loses a concurrent update.
    pub async fn modify<T, F>(&self, key: &str, change: F) -> Result<T>
    where
        T: Stored,
        F: Fn(&mut T) -> Result<()>,
    {
        const ATTEMPTS: usize = 5;
        let key = self.lookup_key(T::KIND, key);
        let mut result = Err(Error::new(ErrorKind::Transient, "not tried"));
        for _ in 0..ATTEMPTS {
            let Some(doc) = self.store.get(T::KIND, &key).await.map_err(store_error)? else {
                return Err(Error::new(
                    ErrorKind::NotFound,
                    format!("{} {key:?} not found", T::KIND.label()),
                ));
            };
            let base = doc.data.clone();
            let mut obj: T = from_value(T::KIND, self.decorate(T::KIND, doc, false).await?)?;
            change(&mut obj)?;
            result = self
                .write_once(&obj, PutMode::Update, Origin::Request, Some(&base))
                .await;
            if !matches!(&result, Err(e) if e.kind == ErrorKind::Transient) {
                break;
            }
        }
        self.bump();
        result
    }

    /// Adds or updates, as a dump load does.
    pub async fn restore<T: Stored>(&self, obj: &T, mode: PutMode) -> Result<T> {
        self.write(obj, mode, Origin::Restore).await
    }

    /// Deletes the object of type `T` with `key` (see [`crate::store::on_delete`]).
    pub async fn delete<T: Stored>(&self, key: &str) -> Result<()> {
        let key = self.lookup_key(T::KIND, key);
        let done = crate::store::delete(self.store.as_ref(), T::KIND, &key)
            .await
            .map_err(store_error);
        self.bump();
        done
    }

    /// The object of type `T` with `key`.
    pub async fn get<T: Stored>(&self, key: &str) -> Result<Option<T>> {
        let key = self.lookup_key(T::KIND, key);
        let Some(doc) = self.store.get(T::KIND, &key).await.map_err(store_error)? else {
            return Ok(None);
        };
        let value = self.decorate(T::KIND, doc, true).await?;
        from_value(T::KIND, value).map(Some)
    }

    /// The object without its read-only referrer lists (`users`, `admins`, `rules`):
    /// what the login path needs, without reading every member of a group.
    pub async fn get_lean<T: Stored>(&self, key: &str) -> Result<Option<T>> {
        let key = self.lookup_key(T::KIND, key);
        let Some(doc) = self.store.get(T::KIND, &key).await.map_err(store_error)? else {
            return Ok(None);
        };
        let value = self.decorate(T::KIND, doc, false).await?;
        from_value(T::KIND, value).map(Some)
    }

    /// Objects of type `T`, ordered by key.
    pub async fn list<T: Stored>(&self, query: ListQuery) -> Result<Vec<T>> {
        let docs = self.store.list(T::KIND, query).await.map_err(store_error)?;
        let mut out = Vec::with_capacity(docs.len());
        for doc in docs {
            out.push(from_value(
                T::KIND,
                self.decorate(T::KIND, doc, true).await?,
            )?);
        }
        Ok(out)
    }

    /// Writes `obj`, retrying when the stored object changed between the read its
    /// merge is based on (kept password, `Redacted` secrets, creation time) and the
    /// write.
    async fn write<T: Stored>(&self, obj: &T, mode: PutMode, origin: Origin) -> Result<T> {
        const ATTEMPTS: usize = 5;
        let mut result = self.write_once(obj, mode, origin, None).await;
        for _ in 1..ATTEMPTS {
            match &result {
                Err(e) if e.kind == ErrorKind::Transient => {
                    result = self.write_once(obj, mode, origin, None).await;
                }
                _ => break,
            }
        }
        self.bump();
        result
    }

    /// One write attempt; with `base`, a transient error unless the stored document is
    /// still `base`.
    async fn write_once<T: Stored>(
        &self,
        obj: &T,
        mode: PutMode,
        origin: Origin,
        base: Option<&Value>,
    ) -> Result<T> {
        let mut obj = obj.clone();
        let old = match mode {
            PutMode::Update => {
                let key = {
                    let mut probe = obj.clone();
                    // The key as it will be stored (naming rules applied).
                    let _ = probe.prepare(self.naming);
                    probe.key()
                };
                self.store
                    .get(T::KIND, &key)
                    .await
                    .map_err(store_error)?
                    .map(|d| d.data)
            }
            PutMode::Insert => None,
        };
        if let Some(base) = base
            && old.as_ref() != Some(base)
        {
            return Err(store_error(StoreError::Changed(
                T::KIND.label().to_string(),
            )));
        }
        // An empty password keeps the stored one (users, admins; an API key's hash is
        // never replaced), except for shares, where it removes the password, as in
        // SFTPGo.
        if let Some(old) = &old
            && let Some(secret) = obj.secret_mut()
            && ((secret.is_empty() && T::KIND != Kind::Share) || T::KIND == Kind::ApiKey)
        {
            *secret = old_secret(T::KIND, old);
        }
        obj.prepare(self.naming)?;
        if origin == Origin::Request {
            obj.check_request()?;
        }
        if let Some(secret) = obj.secret_mut()
            && !secret.is_empty()
            && !password::is_hashed(secret)
        {
            let plain = std::mem::take(secret);
            *secret = password::hash_async(&plain).await?;
        }
        let key = obj.key();
        let mut data = serde_json::to_value(&obj)
            .map_err(|e| Error::new(ErrorKind::Internal, e.to_string()))?;
        let counters = take_counters(T::KIND, &mut data);
        let counters = match origin {
            Origin::Restore => counters,
            Origin::Request => [0; COUNTERS],
        };
        strip_derived(T::KIND, &mut data);
        if has_created_at(T::KIND) {
            stamp_times(&mut data, old.as_ref(), origin);
        }
        self.kms.seal_all(
            &mut data,
            old.as_ref(),
            &additional_data(T::KIND, &key),
            origin == Origin::Request,
        )?;
        let size = data.to_string().len();
        if size > MAX_OBJECT_BYTES {
            return Err(Error::invalid(format!(
                "{} {key:?} is {size} bytes of JSON, more than the {MAX_OBJECT_BYTES} allowed",
                T::KIND.label()
            )));
        }
        crate::store::put_checked(
            self.store.as_ref(),
            T::KIND,
            &key,
            &data,
            &counters,
            mode,
            old.as_ref(),
        )
        .await
        .map_err(store_error)?;
        self.get::<T>(&key).await?.ok_or_else(|| {
            Error::new(
                ErrorKind::Internal,
                format!("{} {key:?} vanished after being stored", T::KIND.label()),
            )
        })
    }
}

/// What a secret of an object is bound to (SFTPGo's choice, so its secrets open here).
fn additional_data(kind: Kind, key: &str) -> String {
    match kind {
        Kind::Folder => format!("folder_{key}"),
        Kind::Group => format!("group_{key}"),
        Kind::Configs => "smtp".to_string(),
        _ => key.to_string(),
    }
}

/// Sets `created_at` (kept from the stored object, or from a dump) and `updated_at`
/// (now, or from a dump).
fn stamp_times(data: &mut Value, old: Option<&Value>, origin: Origin) {
    let Some(map) = data.as_object_mut() else {
        return;
    };
    let now = crate::now_millis();
    let given = |f: &str| map.get(f).and_then(Value::as_i64).unwrap_or(0);
    let (given_created, given_updated) = (given("created_at"), given("updated_at"));
    let created = match (old, origin) {
        (None, Origin::Restore) if given_created > 0 => given_created,
        (Some(old), _) => old.get("created_at").and_then(Value::as_i64).unwrap_or(now),
        (None, _) => now,
    };
    let updated = match origin {
        Origin::Restore if given_updated > 0 => given_updated,
        _ => now,
    };
    map.insert("created_at".into(), Value::from(created));
    map.insert("updated_at".into(), Value::from(updated));
}

/// The stored secret of `old` (password, or an API key's hash).
fn old_secret(kind: Kind, old: &Value) -> String {
    let field = if kind == Kind::ApiKey {
        "key"
    } else {
        "password"
    };
    old.get(field)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn from_value<T: Stored>(kind: Kind, value: Value) -> Result<T> {
    serde_json::from_value(value).map_err(|e| {
        Error::new(
            ErrorKind::Internal,
            format!("stored {} does not parse: {e}", kind.label()),
        )
    })
}
