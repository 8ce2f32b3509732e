//! [`ObjectStore`] on the SQL engines: table `objects` holds each object's JSON document
//! and counter columns `c0`..`c7`; table `object_refs` holds the references, with
//! foreign keys so the database itself refuses a dangling reference. The same SQL runs
//! on every engine except for placeholders and how an insert returns its id.

use async_trait::async_trait;
use serde_json::Value;
use sftpgo_core::store::{
    COUNTERS, Counter, CounterOp, Doc, Kind, ListQuery, ObjectStore, Ref, StoreError, StoreResult,
    StoreTxn,
};
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, AssertSqlSafe, Row, Transaction};
use tokio::sync::OwnedMutexGuard;

use super::{Dialect, SqlProvider, backend};

const DOC_COLUMNS: &str = "id, name, data, c0, c1, c2, c3, c4, c5, c6, c7";

fn doc_from_row(row: &AnyRow) -> StoreResult<Doc> {
    let text: String = row.try_get("data").map_err(backend)?;
    let data: Value = serde_json::from_str(&text)
        .map_err(|e| StoreError::Backend(format!("stored document: {e}")))?;
    let mut counters = [0i64; COUNTERS];
    for (i, slot) in counters.iter_mut().enumerate() {
        *slot = row.try_get(3 + i).map_err(backend)?;
    }
    Ok(Doc {
        id: row.try_get("id").map_err(backend)?,
        key: row.try_get("name").map_err(backend)?,
        data,
        counters,
    })
}

fn json_text(v: &Value) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Backend(e.to_string()))
}

fn refs_from_rows(rows: &[AnyRow]) -> StoreResult<Vec<Ref>> {
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let kind: i64 = row.try_get(0).map_err(backend)?;
        let name: String = row.try_get(1).map_err(backend)?;
        out.extend(Kind::from_code(kind).map(|k| (k, name)));
    }
    Ok(out)
}

/// The SQL of the operations, with this provider's table names and placeholders.
struct Sql<'a>(&'a SqlProvider);

impl Sql<'_> {
    fn objects(&self) -> String {
        self.0.table("objects")
    }

    fn refs(&self) -> String {
        self.0.table("object_refs")
    }

    fn ph(&self, n: usize) -> String {
        self.0.dialect.ph(n)
    }

    fn select_one(&self) -> String {
        format!(
            "SELECT {DOC_COLUMNS} FROM {} WHERE kind = {} AND name = {}",
            self.objects(),
            self.ph(1),
            self.ph(2)
        )
    }

    fn refs_to(&self) -> String {
        let (o, r) = (self.objects(), self.refs());
        format!(
            "SELECT f.kind, f.name FROM {r} r JOIN {o} f ON f.id = r.from_id \
             JOIN {o} t ON t.id = r.to_id WHERE t.kind = {} AND t.name = {} \
             ORDER BY f.kind, f.name",
            self.ph(1),
            self.ph(2)
        )
    }
}

async fn fetch_doc(
    conn: &mut AnyConnection,
    sql: &Sql<'_>,
    kind: Kind,
    key: &str,
) -> StoreResult<Option<Doc>> {
    let row = sqlx::query(AssertSqlSafe(sql.select_one()))
        .bind(kind.code())
        .bind(key)
        .fetch_optional(&mut *conn)
        .await
        .map_err(backend)?;
    row.as_ref().map(doc_from_row).transpose()
}

/// A write transaction on one pooled connection, holding this process's writer turn.
struct SqlTxn<'a> {
    provider: &'a SqlProvider,
    tx: Transaction<'static, Any>,
    _turn: OwnedMutexGuard<()>,
}

#[async_trait]
impl StoreTxn for SqlTxn<'_> {
    async fn get(&mut self, kind: Kind, key: &str) -> StoreResult<Option<Doc>> {
        fetch_doc(&mut self.tx, &Sql(self.provider), kind, key).await
    }

    async fn insert(
        &mut self,
        kind: Kind,
        key: &str,
        data: &Value,
        counters: &[i64; COUNTERS],
    ) -> StoreResult<i64> {
        let sql = Sql(self.provider);
        let d = self.provider.dialect;
        let mut stmt = format!(
            "INSERT INTO {} (kind, name, data, c0, c1, c2, c3, c4, c5, c6, c7) VALUES ({})",
            sql.objects(),
            d.phs(1, 11)
        );
        // MySQL has no RETURNING; sqlx reports its LAST_INSERT_ID instead.
        let returning = d != Dialect::Mysql;
        if returning {
            stmt.push_str(" RETURNING id");
        }
        let mut q = sqlx::query(AssertSqlSafe(stmt))
            .bind(kind.code())
            .bind(key)
            .bind(json_text(data)?);
        for c in counters {
            q = q.bind(*c);
        }
        let conflict = |e: sqlx::Error| match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Conflict(format!("{} {key:?}", kind.label()))
            }
            _ => backend(e),
        };
        if returning {
            let row = q.fetch_one(&mut *self.tx).await.map_err(conflict)?;
            row.try_get(0).map_err(backend)
        } else {
            let done = q.execute(&mut *self.tx).await.map_err(conflict)?;
            done.last_insert_id()
                .ok_or_else(|| StoreError::Backend("the database returned no id".into()))
        }
    }

    async fn update(&mut self, kind: Kind, key: &str, data: &Value) -> StoreResult<()> {
        let sql = Sql(self.provider);
        let done = sqlx::query(AssertSqlSafe(format!(
            "UPDATE {} SET data = {} WHERE kind = {} AND name = {}",
            sql.objects(),
            sql.ph(1),
            sql.ph(2),
            sql.ph(3)
        )))
        .bind(json_text(data)?)
        .bind(kind.code())
        .bind(key)
        .execute(&mut *self.tx)
        .await
        .map_err(backend)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("{} {key:?}", kind.label())));
        }
        Ok(())
    }

    async fn remove(&mut self, kind: Kind, key: &str) -> StoreResult<()> {
        // The references it holds go with it (ON DELETE CASCADE on from_id).
        let sql = Sql(self.provider);
        sqlx::query(AssertSqlSafe(format!(
            "DELETE FROM {} WHERE kind = {} AND name = {}",
            sql.objects(),
            sql.ph(1),
            sql.ph(2)
        )))
        .bind(kind.code())
        .bind(key)
        .execute(&mut *self.tx)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                StoreError::Invalid(format!("the {} {key:?} is still referenced", kind.label()))
            }
            _ => backend(e),
        })?;
        Ok(())
    }

    async fn refs_to(&mut self, kind: Kind, key: &str) -> StoreResult<Vec<Ref>> {
        let rows = sqlx::query(AssertSqlSafe(Sql(self.provider).refs_to()))
            .bind(kind.code())
            .bind(key)
            .fetch_all(&mut *self.tx)
            .await
            .map_err(backend)?;
        refs_from_rows(&rows)
    }

    async fn set_refs(&mut self, kind: Kind, key: &str, to: &[Ref]) -> StoreResult<()> {
        let sql = Sql(self.provider);
        let Some(from) = fetch_doc(&mut self.tx, &sql, kind, key).await? else {
            return Err(StoreError::NotFound(format!("{} {key:?}", kind.label())));
        };
        sqlx::query(AssertSqlSafe(format!(
            "DELETE FROM {} WHERE from_id = {}",
            sql.refs(),
            sql.ph(1)
        )))
        .bind(from.id)
        .execute(&mut *self.tx)
        .await
        .map_err(backend)?;
        for (to_kind, to_key) in to {
            let done = sqlx::query(AssertSqlSafe(format!(
                "INSERT INTO {} (from_id, to_id) SELECT {}, id FROM {} \
                 WHERE kind = {} AND name = {}",
                sql.refs(),
                sql.ph(1),
                sql.objects(),
                sql.ph(2),
                sql.ph(3)
            )))
            .bind(from.id)
            .bind(to_kind.code())
            .bind(to_key.as_str())
            .execute(&mut *self.tx)
            .await
            .map_err(backend)?;
            if done.rows_affected() == 0 {
                return Err(StoreError::Invalid(format!(
                    "{} {to_key:?} does not exist",
                    to_kind.label()
                )));
            }
        }
        Ok(())
    }

    async fn commit(self: Box<Self>) -> StoreResult<()> {
        self.tx.commit().await.map_err(backend)
    }
}

#[async_trait]
impl ObjectStore for SqlProvider {
    async fn get(&self, kind: Kind, key: &str) -> StoreResult<Option<Doc>> {
        let mut conn = self.pool.acquire().await.map_err(backend)?;
        fetch_doc(&mut conn, &Sql(self), kind, key).await
    }

    async fn list(&self, kind: Kind, query: ListQuery) -> StoreResult<Vec<Doc>> {
        let sql = Sql(self);
        let order = if query.descending { "DESC" } else { "ASC" };
        // Byte order on every engine (PostgreSQL would otherwise use the locale's).
        let name = match self.dialect {
            Dialect::Postgres => "name COLLATE \"C\"",
            Dialect::Sqlite | Dialect::Mysql => "name",
        };
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {DOC_COLUMNS} FROM {} WHERE kind = {} ORDER BY {name} {order} \
             LIMIT {} OFFSET {}",
            sql.objects(),
            sql.ph(1),
            sql.ph(2),
            sql.ph(3)
        )))
        .bind(kind.code())
        .bind(query.limit.max(0))
        .bind(query.offset.max(0))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(doc_from_row).collect()
    }

    async fn referrers(&self, kind: Kind, key: &str) -> StoreResult<Vec<Ref>> {
        let rows = sqlx::query(AssertSqlSafe(Sql(self).refs_to()))
            .bind(kind.code())
            .bind(key)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        refs_from_rows(&rows)
    }

    async fn update_counters(
        &self,
        kind: Kind,
        key: &str,
        ops: &[(Counter, CounterOp)],
    ) -> StoreResult<()> {
        if ops.is_empty() {
            return Ok(());
        }
        let sql = Sql(self);
        let mut sets = Vec::with_capacity(ops.len());
        for (i, (counter, op)) in ops.iter().enumerate() {
            let col = format!("c{}", *counter as usize);
            let p = sql.ph(i + 1);
            sets.push(match op {
                CounterOp::Add(_) => format!("{col} = {col} + {p}"),
                CounterOp::Set(_) => format!("{col} = {p}"),
                CounterOp::SetIfZero(_) => {
                    format!("{col} = CASE WHEN {col} = 0 THEN {p} ELSE {col} END")
                }
            });
        }
        let n = ops.len();
        let stmt = format!(
            "UPDATE {} SET {} WHERE kind = {} AND name = {}",
            sql.objects(),
            sets.join(", "),
            sql.ph(n + 1),
            sql.ph(n + 2)
        );
        let mut q = sqlx::query(AssertSqlSafe(stmt));
        for (_, op) in ops {
            q = q.bind(match op {
                CounterOp::Add(v) | CounterOp::Set(v) | CounterOp::SetIfZero(v) => *v,
            });
        }
        let done = q
            .bind(kind.code())
            .bind(key)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("{} {key:?}", kind.label())));
        }
        Ok(())
    }

    async fn begin(&self) -> StoreResult<Box<dyn StoreTxn + '_>> {
        let turn = self.writer.clone().lock_owned().await;
        let tx = match self.dialect {
            // Take SQLite's write lock at once: a read-then-write transaction could
            // otherwise fail when another connection wrote in between.
            Dialect::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Dialect::Postgres | Dialect::Mysql => self.pool.begin().await,
        }
        .map_err(backend)?;
        Ok(Box::new(SqlTxn {
            provider: self,
            tx,
            _turn: turn,
        }))
    }
}
