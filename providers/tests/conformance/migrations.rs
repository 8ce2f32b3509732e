//! Schema upgrades keep data: a database left at schema 1 (users in their own table)
//! is upgraded at start to schema 2 with every user and its counters intact.

use sftpgo_core::model::User;
use sqlx::{AssertSqlSafe, Connection};

use super::targets::{Env, Target};

const SCHEMA_1: &[(&str, &str)] = &[
    (
        "sqlite",
        include_str!("../../../migrations/sqlite/0001_users.sql"),
    ),
    (
        "postgres",
        include_str!("../../../migrations/postgresql/0001_users.sql"),
    ),
    (
        "mysql",
        include_str!("../../../migrations/mysql/0001_users.sql"),
    ),
];

/// Builds schema 1 by hand with one user, `legacy` (id 7).
async fn sql_schema_1(t: &Target) {
    let path = t.dir.path().join(&t.cfg.name);
    let url = sftpgo_providers::sql::connection_url(&t.cfg, &path, t.dir.path()).unwrap();
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&url).await.unwrap();
    let engine = url.split(':').next().unwrap();
    let ddl = SCHEMA_1
        .iter()
        .find(|(e, _)| *e == engine)
        .map(|(_, sql)| sql.replace("{prefix}", &t.cfg.sql_tables_prefix))
        .unwrap();
    sqlx::raw_sql(AssertSqlSafe(ddl))
        .execute(&mut conn)
        .await
        .unwrap();
    let p = &t.cfg.sql_tables_prefix;
    sqlx::raw_sql(AssertSqlSafe(format!(
        "CREATE TABLE {p}schema_version (id INTEGER PRIMARY KEY, version BIGINT NOT NULL);
         INSERT INTO {p}schema_version (id, version) VALUES (1, 1);
         INSERT INTO {p}users (id, username, status, password, public_keys, home_dir, uid, gid,
            max_sessions, quota_size, quota_files, permissions, used_quota_size, used_quota_files,
            last_quota_update, upload_bandwidth, download_bandwidth, expiration_date, last_login,
            filters, filesystem, additional_info, description, email, created_at, updated_at, extra)
         VALUES (7, 'legacy', 1, '$2b$04$abc', '[\"ssh-ed25519 AAAA k\"]', '/srv/legacy', 1000, 1000,
            2, 1000000, 10, '{{\"/\": [\"*\"]}}', 4242, 3,
            1700000000000, 0, 0, 0, 1700000000999,
            '{{\"denied_protocols\": [\"FTP\"]}}', '{{\"provider\": 0}}', 'info', 'old user', 'l@example.com',
            1600000000000, 1650000000000,
            '{{\"last_password_change\": 5, \"used_upload_data_transfer\": 77, \"first_upload\": 1700000000123}}');"
    )))
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
}

/// Builds redb schema 1 by hand with the same user.
fn redb_schema_1(t: &Target) {
    let path = t.dir.path().join(&t.cfg.name);
    let db = redb::Database::create(&path).unwrap();
    let users: redb::TableDefinition<&str, &[u8]> = redb::TableDefinition::new("users");
    let meta: redb::TableDefinition<&str, i64> = redb::TableDefinition::new("meta");
    let user = serde_json::json!({"id": 7, "username": "legacy", "status": 1,
        "password": "$2b$04$abc", "public_keys": ["ssh-ed25519 AAAA k"], "home_dir": "/srv/legacy",
        "uid": 1000, "gid": 1000, "max_sessions": 2, "quota_size": 1000000, "quota_files": 10,
        "permissions": {"/": ["*"]}, "used_quota_size": 4242, "used_quota_files": 3,
        "last_quota_update": 1700000000000_i64, "last_login": 1700000000999_i64,
        "filters": {"denied_protocols": ["FTP"]}, "filesystem": {"provider": 0},
        "additional_info": "info", "description": "old user", "email": "l@example.com",
        "created_at": 1600000000000_i64, "updated_at": 1650000000000_i64, "last_password_change": 5,
        "used_upload_data_transfer": 77, "first_upload": 1700000000123_i64});
    let tx = db.begin_write().unwrap();
    {
        let mut t = tx.open_table(users).unwrap();
        t.insert("legacy", serde_json::to_vec(&user).unwrap().as_slice())
            .unwrap();
        let mut m = tx.open_table(meta).unwrap();
        m.insert("schema_version", 1).unwrap();
        m.insert("last_user_id", 7).unwrap();
    }
    tx.commit().unwrap();
}

pub async fn schema_1_is_upgraded(t: Target) {
    if t.cfg.driver == sftpgo_providers::Driver::Memory {
        return; // nothing persists, nothing to upgrade
    }
    let p = t.open().await;
    p.reset().await.unwrap();
    if t.cfg.driver == sftpgo_providers::Driver::Bolt {
        drop(p);
        redb_schema_1(&t);
    } else {
        sql_schema_1(&t).await;
    }
    let e = fresh_keeping_data(&t).await;
    assert_eq!(e.p.schema_version().await.unwrap(), 2);
    let u: User =
        e.c.get("legacy")
            .await
            .unwrap()
            .expect("the user survived the upgrade");
    assert_eq!((u.id, u.home_dir.as_str(), u.uid), (7, "/srv/legacy", 1000));
    assert_eq!((u.used_quota_size, u.used_quota_files), (4242, 3));
    assert_eq!(
        (u.last_quota_update, u.last_login),
        (1_700_000_000_000, 1_700_000_000_999)
    );
    assert_eq!(u.permissions["/"], vec!["*"]);
    assert_eq!(u.filters.denied_protocols, vec!["FTP"]);
    assert_eq!(u.public_keys, vec!["ssh-ed25519 AAAA k"]);
    assert_eq!(
        (u.created_at, u.updated_at),
        (1_600_000_000_000, 1_650_000_000_000)
    );
    assert_eq!(u.extra["last_password_change"], 5, "unknown fields survive");
    assert_eq!(
        u.extra["used_upload_data_transfer"], 77,
        "transfer counters survive"
    );
    assert_eq!(u.extra["first_upload"], 1_700_000_000_123_i64);
    assert_eq!(u.password, "$2b$04$abc");
    // New objects get fresh ids after the migrated ones.
    let n = e.c.add(&super::users::user("next")).await.unwrap();
    assert!(n.id > 7, "id {} reused", n.id);
    e.p.reset().await.unwrap();
}

/// Opens and initialises without resetting (unlike `targets::fresh`).
async fn fresh_keeping_data(t: &Target) -> Env {
    let p = t.open().await;
    p.initialize().await.unwrap();
    let c = sftpgo_core::catalog::Catalog::new(p.clone(), Default::default());
    Env { p, c }
}

pub async fn revert_and_upgrade_again(t: Target) {
    let e = fresh_keeping_data(&t).await;
    e.p.reset().await.unwrap();
    e.p.initialize().await.unwrap();
    let c = &e.c;
    super::objects::populate(c).await;
    c.add_quota(sftpgo_core::store::Kind::User, "bob", 99, 2)
        .await
        .unwrap();
    c.add_transfer("bob", 1234, 5678).await.unwrap();
    let bob_before: User = c.get("bob").await.unwrap().unwrap();
    if t.cfg.driver == sftpgo_providers::Driver::Memory {
        let err = e.p.revert(1).await.unwrap_err();
        assert!(err.to_string().contains("memory"), "{err}");
        return;
    }
    for bad in [0, 2, 3] {
        assert!(e.p.revert(bad).await.is_err(), "revert to {bad} must fail");
    }
    e.p.revert(1).await.unwrap();
    assert_eq!(e.p.schema_version().await.unwrap(), 1);
    assert!(e.p.revert(1).await.is_err(), "already at 1");
    // The redb file is locked by the handle that has it open: reuse it.
    let again = if t.shared {
        t.open().await
    } else {
        e.p.clone()
    };
    again.initialize().await.unwrap();
    assert_eq!(again.schema_version().await.unwrap(), 2);
    let c = sftpgo_core::catalog::Catalog::new(again.clone(), Default::default());
    let bob: User = c
        .get("bob")
        .await
        .unwrap()
        .expect("users survive the round trip");
    assert_eq!(bob, bob_before, "every field and counter of bob is back");
    let alice: User = c.get("alice").await.unwrap().unwrap();
    assert!(
        alice.groups.iter().any(|g| g.name == "staff"),
        "kept as data"
    );
    assert!(
        c.get::<sftpgo_core::model::Group>("staff")
            .await
            .unwrap()
            .is_none(),
        "schema 1 had no groups: they are gone"
    );
    again.reset().await.unwrap();
}
