//! One conformance suite, run against every data provider engine: SQLite (a temp file),
//! redb (a temp file), memory, PostgreSQL (127.0.0.1:5432, db `test`, user `postgres`) and MariaDB/MySQL
//! (127.0.0.1:3306, db `test`, user `root`). A network engine that cannot be reached is
//! skipped with a message. Override with `SFTPGO_TEST_PG_URL` / `SFTPGO_TEST_MYSQL_URL`.
//!
//! Each test uses its own table prefix, so tests run in parallel against one database,
//! and drops its tables at the end.

use std::sync::Arc;

use sftpgo_core::model::User;
use sftpgo_core::store::StoreError;
use sftpgo_providers::{Config, Driver, Provider};

/// Where one test's data lives; `open` can be called many times for the same data.
struct Target {
    cfg: Config,
    dir: tempfile::TempDir,
    /// Separate `open`s see the same data (false for memory).
    shared: bool,
}

impl Target {
    async fn open(&self) -> Arc<dyn Provider> {
        sftpgo_providers::open(&self.cfg, self.dir.path())
            .await
            .expect("open provider")
    }
}

fn prefix(case: &str) -> String {
    format!("c{}_{case}_", std::process::id())
}

async fn sqlite(case: &str) -> Option<Target> {
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

async fn redb(_case: &str) -> Option<Target> {
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

async fn memory(_case: &str) -> Option<Target> {
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

async fn postgres(case: &str) -> Option<Target> {
    network(
        case,
        "SFTPGO_TEST_PG_URL",
        "postgres://postgres@127.0.0.1:5432/test?sslmode=disable",
        "PostgreSQL",
    )
    .await
}

async fn mariadb(case: &str) -> Option<Target> {
    network(
        case,
        "SFTPGO_TEST_MYSQL_URL",
        "mysql://root@127.0.0.1:3306/test?ssl-mode=DISABLED",
        "MariaDB/MySQL",
    )
    .await
}

fn user(name: &str) -> User {
    serde_json::from_value(serde_json::json!({
        "username": name, "home_dir": format!("/srv/{name}"), "password": "$2b$04$abc",
        "permissions": {"/": ["*"], "/ro": ["list", "download"]},
        "public_keys": ["ssh-ed25519 AAAA c"], "email": "a@example.com", "status": 1,
        "quota_size": 1_i64 << 40, "uid": 4_000_000_000_u32, "expiration_date": 1_900_000_000_000_i64,
        "filters": {"file_patterns": [{"path": "/x", "denied_patterns": ["*.exe"]}], "web_client": ["mfa-disabled"]},
        "virtual_folders": [{"name": "f1", "virtual_path": "/v"}],
        "description": "unicode: żółw 🐢"
    }))
    .unwrap()
}

async fn fresh(t: &Target) -> Arc<dyn Provider> {
    let p = t.open().await;
    p.reset().await.unwrap();
    p.initialize().await.unwrap();
    p
}

async fn crud_keeps_every_field(t: Target) {
    let p = fresh(&t).await;
    let u = p.add_user(&user("alice")).await.unwrap();
    assert!(u.id > 0);
    let got = p.user_by_name("alice").await.unwrap().unwrap();
    assert_eq!(got, u, "every field round-trips");
    assert_eq!(got.extra["virtual_folders"][0]["name"], "f1");
    assert_eq!(got.filters.extra["web_client"][0], "mfa-disabled");
    assert_eq!(got.uid, 4_000_000_000);
    let mut changed = got.clone();
    changed.max_sessions = 3;
    changed.description = "changed".into();
    p.update_user(&changed).await.unwrap();
    let again = p.user_by_name("alice").await.unwrap().unwrap();
    assert_eq!((again.max_sessions, again.id), (3, u.id));
    assert_eq!(again.description, "changed");
    p.set_last_login("alice", 1_800_000_000_123).await.unwrap();
    assert_eq!(
        p.user_by_name("alice").await.unwrap().unwrap().last_login,
        1_800_000_000_123
    );
    assert!(matches!(
        p.add_user(&user("alice")).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(
        p.user_by_name("Alice").await.unwrap().is_none(),
        "usernames are case sensitive"
    );
    p.delete_user("alice").await.unwrap();
    assert!(p.user_by_name("alice").await.unwrap().is_none());
    assert!(matches!(
        p.delete_user("alice").await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        p.update_user(&user("ghost")).await,
        Err(StoreError::NotFound(_))
    ));
    p.reset().await.unwrap();
}

async fn invalid_input_changes_nothing(t: Target) {
    let p = fresh(&t).await;
    let mut u = user("bob");
    u.permissions.insert("/d".into(), vec!["bogus".into()]);
    assert!(
        matches!(p.add_user(&u).await, Err(StoreError::Invalid(m)) if m.contains("permissions"))
    );
    assert!(p.user_by_name("bob").await.unwrap().is_none());
    let stored = p.add_user(&user("bob")).await.unwrap();
    assert!(matches!(
        p.update_user(&u).await,
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(p.user_by_name("bob").await.unwrap().unwrap(), stored);
    p.reset().await.unwrap();
}

async fn pagination_is_ordered_by_username(t: Target) {
    let p = fresh(&t).await;
    let mut names: Vec<String> = (0..25)
        .map(|i| format!("user{:02}", (i * 7) % 25))
        .collect();
    for n in &names {
        p.add_user(&user(n)).await.unwrap();
    }
    names.sort();
    let mut seen = Vec::new();
    for page in 0..3 {
        let got = p.list_users(page * 10, 10).await.unwrap();
        assert_eq!(got.len(), if page == 2 { 5 } else { 10 });
        seen.extend(got.into_iter().map(|u| u.username));
    }
    assert_eq!(seen, names);
    assert!(p.list_users(100, 10).await.unwrap().is_empty());
    p.reset().await.unwrap();
}

async fn concurrent_writers_and_starts(t: Target) {
    let p = t.open().await;
    p.reset().await.unwrap();
    // Several servers initialising the same fresh database at once.
    let mut starts = Vec::new();
    for _ in 0..6 {
        let other = if t.shared { t.open().await } else { p.clone() };
        starts.push(tokio::spawn(async move { other.initialize().await }));
    }
    for s in starts {
        s.await.unwrap().unwrap();
    }
    assert_eq!(p.schema_version().await.unwrap(), 1);
    // Fifty concurrent inserts and updates: nothing lost, ids unique.
    let mut tasks = Vec::new();
    for i in 0..50 {
        let p = p.clone();
        tasks.push(tokio::spawn(async move {
            let mut u = p.add_user(&user(&format!("c{i:02}"))).await.unwrap();
            u.max_sessions = i;
            p.update_user(&u).await.unwrap();
            u.id
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 50, "every insert got its own id");
    let all = p.list_users(0, 100).await.unwrap();
    assert_eq!(all.len(), 50);
    for u in all {
        let i: i32 = u.username[1..].parse().unwrap();
        assert_eq!(u.max_sessions, i, "update of {} kept", u.username);
    }
    p.reset().await.unwrap();
    assert_eq!(p.schema_version().await.unwrap(), 0);
}

macro_rules! conformance {
    ($engine:ident) => {
        mod $engine {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn crud_keeps_every_field() {
                if let Some(t) = super::$engine("crud").await {
                    super::crud_keeps_every_field(t).await;
                }
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn invalid_input_changes_nothing() {
                if let Some(t) = super::$engine("invalid").await {
                    super::invalid_input_changes_nothing(t).await;
                }
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn pagination_is_ordered_by_username() {
                if let Some(t) = super::$engine("pages").await {
                    super::pagination_is_ordered_by_username(t).await;
                }
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn concurrent_writers_and_starts() {
                if let Some(t) = super::$engine("concurrent").await {
                    super::concurrent_writers_and_starts(t).await;
                }
            }
        }
    };
}

conformance!(sqlite);
conformance!(memory);
conformance!(redb);
conformance!(postgres);
conformance!(mariadb);
