//! Where each engine's test data lives: SQLite (a temp file), redb (a temp file),
//! memory, PostgreSQL (127.0.0.1:5432, db `test`, user `postgres`) and MariaDB/MySQL
//! (127.0.0.1:3306, db `test`, user `root`). A network engine that cannot be reached is
//! skipped with a message. Override with `SFTPGO_TEST_PG_URL` / `SFTPGO_TEST_MYSQL_URL`.
//! Each test uses its own table prefix, so tests run in parallel against one database.

use std::sync::Arc;

use sftpgo_core::catalog::Catalog;
use sftpgo_core::model::NamingRules;
use sftpgo_providers::{Config, Driver, Provider};

/// Where one test's data lives; `open` can be called many times for the same data.
pub struct Target {
    pub cfg: Config,
    pub dir: tempfile::TempDir,
    /// Separate `open`s see the same data (false for memory).
    pub shared: bool,
}

impl Target {
    pub async fn open(&self) -> Arc<dyn Provider> {
        sftpgo_providers::open(&self.cfg, self.dir.path())
            .await
            .expect("open provider")
    }
}

/// A table prefix unique to this process and case, short enough for MySQL's and
/// PostgreSQL's 63/64-character identifiers.
fn prefix(case: &str) -> String {
    let hash = case.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    format!("c{}_{:08x}_", std::process::id(), hash as u32)
}

pub async fn sqlite(case: &str) -> Option<Target> {
    let cfg = Config {
        name: "conformance.db".into(),
        sql_tables_prefix: prefix(case),
        ..Config::default()
    };
    Some(Target {
        cfg,
        dir: tempfile::tempdir().unwrap(),
        shared: true,
    })
}

pub async fn redb(_case: &str) -> Option<Target> {
    let cfg = Config {
        driver: Driver::Bolt,
        name: "conformance.redb".into(),
        ..Config::default()
    };
    Some(Target {
        cfg,
        dir: tempfile::tempdir().unwrap(),
        // The file is locked by the process that has it open.
        shared: false,
    })
}

pub async fn memory(_case: &str) -> Option<Target> {
    let cfg = Config {
        driver: Driver::Memory,
        name: String::new(),
        ..Config::default()
    };
    Some(Target {
        cfg,
        dir: tempfile::tempdir().unwrap(),
        shared: false,
    })
}

async fn network(case: &str, env: &str, default_url: &str, label: &str) -> Option<Target> {
    let url = std::env::var(env).unwrap_or_else(|_| default_url.to_string());
    let cfg = Config {
        driver: if url.starts_with("postgres") {
            Driver::Postgresql
        } else {
            Driver::Mysql
        },
        connection_string: url.clone(),
        name: "test".into(),
        sql_tables_prefix: prefix(case),
        ..Config::default()
    };
    let target = Target {
        cfg,
        dir: tempfile::tempdir().unwrap(),
        shared: true,
    };
    match sftpgo_providers::open(&target.cfg, target.dir.path()).await {
        Ok(p) => match p.schema_version().await {
            Ok(_) => Some(target),
            Err(e) => {
                eprintln!("SKIP {label} conformance ({case}): {url} does not answer: {e}");
                None
            }
        },
        Err(e) => {
            eprintln!("SKIP {label} conformance ({case}): cannot reach {url}: {e}");
            None
        }
    }
}

pub async fn postgres(case: &str) -> Option<Target> {
    network(
        case,
        "SFTPGO_TEST_PG_URL",
        "postgres://postgres@127.0.0.1:5432/test?sslmode=disable",
        "PostgreSQL",
    )
    .await
}

pub async fn mariadb(case: &str) -> Option<Target> {
    network(
        case,
        "SFTPGO_TEST_MYSQL_URL",
        "mysql://root@127.0.0.1:3306/test?ssl-mode=DISABLED",
        "MariaDB/MySQL",
    )
    .await
}

/// A freshly initialised provider and the catalog over it.
pub struct Env {
    /// Schema management.
    pub p: Arc<dyn Provider>,
    /// Typed access.
    pub c: Catalog,
}

/// Opens the target with empty tables.
pub async fn fresh(t: &Target) -> Env {
    let p = t.open().await;
    p.reset().await.unwrap();
    p.initialize().await.unwrap();
    let c = Catalog::new(p.clone(), NamingRules::default());
    Env { p, c }
}
