//! The SQL providers: SQLite (default, WAL), PostgreSQL and MySQL/MariaDB through sqlx's
//! `Any` driver, one implementation with per-engine SQL where the dialects differ
//! (`dialect`). Each engine has its own migrations under `migrations/<engine>/`, applied
//! by our runner in one transaction under an engine lock, so servers starting together
//! wait for each other instead of racing.

mod dialect;
mod objects;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sftpgo_core::store::StoreError;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, AssertSqlSafe, Connection, Executor};

pub use dialect::Dialect;

use crate::{Config, Driver};

/// A SQL store.
#[derive(Debug, Clone)]
pub struct SqlProvider {
    pool: AnyPool,
    prefix: String,
    dialect: Dialect,
    /// This process's write transactions run one at a time.
    writer: Arc<tokio::sync::Mutex<()>>,
}

pub(crate) fn backend(e: sqlx::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Percent-encodes `s` for the user-info or path part of a URL.
fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The TLS part of the URL query for `cfg.sslmode` (SFTPGo's numbering).
fn tls_params(cfg: &Config, config_dir: &std::path::Path) -> String {
    let mode = match (cfg.driver, cfg.sslmode) {
        (Driver::Postgresql, 0) => "sslmode=disable",
        (Driver::Postgresql, 1) => "sslmode=require",
        (Driver::Postgresql, 2) => "sslmode=verify-ca",
        (Driver::Postgresql, _) => "sslmode=verify-full",
        (_, 0) => "ssl-mode=DISABLED",
        (_, 1 | 2) => "ssl-mode=REQUIRED",
        (_, _) => "ssl-mode=PREFERRED",
    };
    let pg = cfg.driver == Driver::Postgresql;
    let mut params = vec![mode.to_string()];
    let files = [
        (&cfg.root_cert, if pg { "sslrootcert" } else { "ssl-ca" }),
        (&cfg.client_cert, if pg { "sslcert" } else { "ssl-cert" }),
        (&cfg.client_key, if pg { "sslkey" } else { "ssl-key" }),
    ];
    for (file, key) in files {
        if !file.is_empty() {
            let path = config_dir.join(file);
            params.push(format!("{key}={}", url_escape(&path.display().to_string())));
        }
    }
    params.join("&")
}

/// The connection URL for `cfg`; `sqlite_path` is the resolved file for SQLite, and
/// relative certificate paths are taken from `config_dir`.
pub fn connection_url(
    cfg: &Config,
    sqlite_path: &std::path::Path,
    config_dir: &std::path::Path,
) -> Result<String, StoreError> {
    if !cfg.connection_string.is_empty() {
        return Ok(cfg.connection_string.clone());
    }
    let (scheme, default_port) = match cfg.driver {
        Driver::Sqlite => return Ok(format!("sqlite://{}?mode=rwc", sqlite_path.display())),
        Driver::Postgresql => ("postgres", 5432),
        Driver::Mysql => ("mysql", 3306),
        other => {
            return Err(StoreError::Backend(format!(
                "{} is not a SQL driver",
                other.as_str()
            )));
        }
    };
    let host = if cfg.host.is_empty() {
        "127.0.0.1"
    } else {
        &cfg.host
    };
    let port = if cfg.port == 0 {
        default_port
    } else {
        cfg.port
    };
    let auth = match (cfg.username.is_empty(), cfg.password.is_empty()) {
        (true, _) => String::new(),
        (false, true) => format!("{}@", url_escape(&cfg.username)),
        (false, false) => format!(
            "{}:{}@",
            url_escape(&cfg.username),
            url_escape(&cfg.password)
        ),
    };
    let tls = tls_params(cfg, config_dir);
    Ok(format!(
        "{scheme}://{auth}{host}:{port}/{}?{tls}",
        url_escape(&cfg.name)
    ))
}

impl SqlProvider {
    /// Connects to the database `url` (see [`connection_url`]).
    pub async fn connect(url: &str, cfg: &Config) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let dialect = match url.split(':').next() {
            Some("sqlite") => Dialect::Sqlite,
            Some("postgres" | "postgresql") => Dialect::Postgres,
            Some("mysql" | "mariadb") => Dialect::Mysql,
            _ => {
                return Err(StoreError::Backend(
                    "unsupported connection string scheme (want sqlite:, postgres: or mysql:)"
                        .into(),
                ));
            }
        };
        let opts = AnyConnectOptions::from_str(url).map_err(backend)?;
        // One direct connection first: the pool would retry until its timeout and then
        // report only "timed out", hiding the cause (refused, bad password, no database).
        let probe = sqlx::AnyConnection::connect_with(&opts)
            .await
            .map_err(|e| StoreError::Backend(format!("cannot connect to the database: {e}")))?;
        let _ = probe.close().await;
        let size = match (cfg.pool_size, dialect) {
            (0, Dialect::Sqlite) => 4,
            (0, _) => 10,
            (n, _) => n,
        };
        let pool = AnyPoolOptions::new()
            .max_connections(size)
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if dialect == Dialect::Sqlite {
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; \
                             PRAGMA foreign_keys = ON;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(opts)
            .await
            .map_err(backend)?;
        Ok(Self {
            pool,
            prefix: cfg.sql_tables_prefix.clone(),
            dialect,
            writer: Arc::new(tokio::sync::Mutex::new(())),
        })
    }

    /// The engine.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    pub(crate) fn table(&self, name: &str) -> String {
        format!("{}{}", self.prefix, name)
    }

    /// Upgrades to the latest schema (`target` None) or reverts to `target`, in one
    /// transaction under the engine's schema lock, so servers starting together wait
    /// for each other.
    async fn change_schema(&self, target: Option<i64>) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await.map_err(backend)?;
        sqlx::query(self.dialect.begin_exclusive())
            .execute(&mut *conn)
            .await
            .map_err(backend)?;
        let result = self.migrate(&mut conn, target).await;
        let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
        let ended = sqlx::query(end).execute(&mut *conn).await;
        if let Some(unlock) = self.dialect.schema_unlock() {
            let _ = sqlx::query(unlock).execute(&mut *conn).await;
        }
        result?;
        ended.map(|_| ()).map_err(backend)
    }

    async fn run_script(
        &self,
        conn: &mut sqlx::AnyConnection,
        sql: &str,
    ) -> Result<(), sqlx::Error> {
        let sql = sql.replace("{prefix}", &self.prefix);
        sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    async fn migrate(
        &self,
        conn: &mut sqlx::AnyConnection,
        target: Option<i64>,
    ) -> Result<(), StoreError> {
        if let Some(lock) = self.dialect.schema_lock() {
            sqlx::query(lock)
                .execute(&mut *conn)
                .await
                .map_err(backend)?;
        }
        let version_table = self.table("schema_version");
        sqlx::query(AssertSqlSafe(
            self.dialect.version_table_ddl(&version_table),
        ))
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
        let current: Option<i64> = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT version FROM {version_table} WHERE id = 1"
        )))
        .fetch_optional(&mut *conn)
        .await
        .map_err(backend)?;
        let current = current.unwrap_or(0);
        let set_version =
            |v: i64| sqlx::query(AssertSqlSafe(self.dialect.set_version(&version_table))).bind(v);
        let Some(to) = target else {
            for (version, sql) in self.dialect.migrations() {
                if *version <= current {
                    continue;
                }
                self.run_script(conn, sql).await.map_err(backend)?;
                set_version(*version)
                    .execute(&mut *conn)
                    .await
                    .map_err(backend)?;
                tracing::info!(version, "data provider schema upgraded");
            }
            return Ok(());
        };
        crate::check_revert(current, to)?;
        for (from, scripts) in self.dialect.downgrades().iter().rev() {
            if *from > current || *from <= to {
                continue;
            }
            for sql in *scripts {
                self.run_script(conn, sql).await.map_err(backend)?;
            }
            set_version(from - 1)
                .execute(&mut *conn)
                .await
                .map_err(backend)?;
            tracing::info!(version = from - 1, "data provider schema reverted");
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl crate::Provider for SqlProvider {
    async fn initialize(&self) -> Result<(), StoreError> {
        self.change_schema(None).await
    }

    async fn revert(&self, to_version: i64) -> Result<(), StoreError> {
        self.change_schema(Some(to_version)).await
    }

    async fn reset(&self) -> Result<(), StoreError> {
        // References first: they point into `objects`.
        for t in ["object_refs", "objects", "users", "schema_version"] {
            sqlx::query(AssertSqlSafe(format!(
                "DROP TABLE IF EXISTS {}",
                self.table(t)
            )))
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        }
        Ok(())
    }

    async fn schema_version(&self) -> Result<i64, StoreError> {
        let exists: Option<String> = sqlx::query_scalar(self.dialect.table_exists())
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
