//! SQLite provider (sqlx, WAL journal). Schema from `migrations/sqlite`, applied in one
//! `BEGIN IMMEDIATE` transaction so concurrent starts serialise instead of racing.

mod users;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sftpgo_core::store::StoreError;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::{AssertSqlSafe, Connection};

use crate::Config;

/// Migrations in order; `{prefix}` is replaced by `sql_tables_prefix`.
const MIGRATIONS: &[(i64, &str)] =
    &[(1, include_str!("../../../migrations/sqlite/0001_users.sql"))];

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteProvider {
    pool: SqlitePool,
    prefix: String,
}

pub(crate) fn backend(e: sqlx::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl SqliteProvider {
    /// Opens (creating if missing) the database file at `path`.
    pub async fn open(path: &Path, cfg: &Config) -> Result<Self, StoreError> {
        let url = format!("sqlite://{}", path.display());
        let opts = SqliteConnectOptions::from_str(&url)
            .map_err(backend)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let size = if cfg.pool_size == 0 { 4 } else { cfg.pool_size };
        let pool = SqlitePoolOptions::new()
            .max_connections(size)
            .connect_with(opts)
            .await
            .map_err(backend)?;
        Ok(Self {
            pool,
            prefix: cfg.sql_tables_prefix.clone(),
        })
    }

    pub(crate) fn table(&self, name: &str) -> String {
        format!("{}{}", self.prefix, name)
    }
}

#[async_trait::async_trait]
impl crate::Provider for SqliteProvider {
    async fn initialize(&self) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await.map_err(backend)?;
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut *conn)
            .await
            .map_err(backend)?;
        let result = async {
            let version_table = self.table("schema_version");
            sqlx::query(AssertSqlSafe(format!(
                "CREATE TABLE IF NOT EXISTS {version_table} (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL)"
            )))
            .execute(&mut *conn)
            .await?;
            let current: Option<i64> =
                sqlx::query_scalar(AssertSqlSafe(format!("SELECT version FROM {version_table} WHERE id = 1")))
                    .fetch_optional(&mut *conn)
                    .await?;
            let current = current.unwrap_or(0);
            for (version, sql) in MIGRATIONS {
                if *version <= current {
                    continue;
                }
                let sql = sql.replace("{prefix}", &self.prefix);
                sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut *conn).await?;
                sqlx::query(AssertSqlSafe(format!(
                    "INSERT INTO {version_table} (id, version) VALUES (1, ?) ON CONFLICT(id) DO UPDATE SET version = excluded.version"
                )))
                .bind(version)
                .execute(&mut *conn)
                .await?;
                tracing::info!(version, "data provider schema upgraded");
            }
            Ok::<(), sqlx::Error>(())
        }
        .await;
        match result {
            Ok(()) => {
                sqlx::query("COMMIT")
                    .execute(&mut *conn)
                    .await
                    .map_err(backend)?;
                Ok(())
            }
            Err(e) => {
                let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
                Err(backend(e))
            }
        }
    }

    async fn reset(&self) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await.map_err(backend)?;
        let mut tx = conn.begin().await.map_err(backend)?;
        for t in ["users", "schema_version"] {
            sqlx::query(AssertSqlSafe(format!(
                "DROP TABLE IF EXISTS {}",
                self.table(t)
            )))
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn schema_version(&self) -> Result<i64, StoreError> {
        let exists: Option<String> =
            sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?")
                .bind(self.table("schema_version"))
                .fetch_optional(&self.pool)
                .await
                .map_err(backend)?;
        if exists.is_none() {
            return Ok(0);
        }
        let v: Option<i64> = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT version FROM {} WHERE id = 1",
            self.table("schema_version")
        )))
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        Ok(v.unwrap_or(0))
    }
}

#[cfg(test)]
mod tests;
