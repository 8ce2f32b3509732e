//! The catalog's counters (quotas, transfers, last use) and the `configs` object.

use serde_json::{Map, Value};

use super::{Catalog, Origin, store_error};
use crate::store::{COUNTERS, Counter, CounterOp, Kind, PutMode};
use crate::{Error, Result};

impl Catalog {
    /// Applies counter changes to one object atomically.
    pub async fn update_counters(
        &self,
        kind: Kind,
        key: &str,
        ops: &[(Counter, CounterOp)],
    ) -> Result<()> {
        let key = self.lookup_key(kind, key);
        self.store
            .update_counters(kind, &key, ops)
            .await
            .map_err(store_error)
    }

    /// The counters of one object (`None` when it is not stored).
    pub async fn counters(&self, kind: Kind, key: &str) -> Result<Option<[i64; COUNTERS]>> {
        let key = self.lookup_key(kind, key);
        Ok(self
            .store
            .get(kind, &key)
            .await
            .map_err(store_error)?
            .map(|d| d.counters))
    }

    /// Adds to the used quota of a user or folder (`kind`), stamping the update time.
    pub async fn add_quota(&self, kind: Kind, key: &str, size: i64, files: i64) -> Result<()> {
        self.update_counters(
            kind,
            key,
            &[
                (Counter::Usage, CounterOp::Add(size)),
                (Counter::Files, CounterOp::Add(files)),
                (Counter::QuotaUpdate, CounterOp::Set(crate::now_millis())),
            ],
        )
        .await
    }

    /// Sets the used quota of a user or folder (after a scan or a reset).
    pub async fn set_quota(&self, kind: Kind, key: &str, size: i64, files: i64) -> Result<()> {
        self.update_counters(
            kind,
            key,
            &[
                (Counter::Usage, CounterOp::Set(size)),
                (Counter::Files, CounterOp::Set(files)),
                (Counter::QuotaUpdate, CounterOp::Set(crate::now_millis())),
            ],
        )
        .await
    }

    /// Records transferred bytes for a user's transfer limits.
    pub async fn add_transfer(&self, username: &str, up: i64, down: i64) -> Result<()> {
        // First transfer times are recorded by the session (`QuotaTracker::mark_first`),
        // which also tells the Event Manager.
        let ops = [
            (Counter::UploadTransfer, CounterOp::Add(up)),
            (Counter::DownloadTransfer, CounterOp::Add(down)),
        ];
        self.update_counters(Kind::User, username, &ops).await
    }

    /// The `configs` object (empty when never set).
    pub async fn configs(&self) -> Result<Value> {
        Ok(self
            .store
            .get(Kind::Configs, "configs")
            .await
            .map_err(store_error)?
            .map_or_else(|| Value::Object(Map::new()), |d| d.data))
    }

    /// Replaces the `configs` object, stamping `updated_at`.
    pub async fn set_configs(&self, configs: &Value) -> Result<()> {
        self.put_configs(configs, Origin::Request).await
    }

    /// Replaces the `configs` object with one from a dump (its `updated_at` is kept).
    pub async fn restore_configs(&self, configs: &Value) -> Result<()> {
        self.put_configs(configs, Origin::Restore).await
    }

    async fn put_configs(&self, configs: &Value, origin: Origin) -> Result<()> {
        if !configs.is_object() {
            return Err(Error::invalid("configs: must be an object"));
        }
        let mut data = configs.clone();
        if let Some(obj) = data.as_object_mut() {
            let given = obj.get("updated_at").and_then(Value::as_i64).unwrap_or(0);
            let stamp = match origin {
                Origin::Restore if given > 0 => given,
                _ => crate::now_millis(),
            };
            obj.insert("updated_at".into(), Value::from(stamp));
        }
        let old = self
            .store
            .get(Kind::Configs, "configs")
            .await
            .map_err(store_error)?
            .map(|d| d.data);
        self.kms
            .seal_all(&mut data, old.as_ref(), "smtp", origin == Origin::Request)?;
        let mode = if old.is_some() {
            PutMode::Update
        } else {
            PutMode::Insert
        };
        crate::store::put(
            self.store.as_ref(),
            Kind::Configs,
            "configs",
            &data,
            &[0; COUNTERS],
            mode,
        )
        .await
        .map_err(store_error)?;
        self.bump();
        Ok(())
    }
}
