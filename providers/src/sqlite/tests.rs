//! SQLite provider tests on a real database file.

use sftpgo_core::model::User;
use sftpgo_core::store::{StoreError, UserStore};

use super::SqliteProvider;
use crate::{Config, Provider};

async fn provider(dir: &std::path::Path) -> SqliteProvider {
    let p = SqliteProvider::open(&dir.join("t.db"), &Config::default())
        .await
        .unwrap();
    p.initialize().await.unwrap();
    p
}

fn user(name: &str) -> User {
    serde_json::from_value(serde_json::json!({
        "username": name, "home_dir": format!("/srv/{name}"), "password": "$2b$04$abc",
        "permissions": {"/": ["*"]}, "public_keys": ["ssh-ed25519 AAAA c"],
        "filters": {"file_patterns": [{"path": "/x", "denied_patterns": ["*.exe"]}], "web_client": ["mfa-disabled"]},
        "virtual_folders": [{"name": "f1", "virtual_path": "/v"}]
    }))
    .unwrap()
}

#[tokio::test(flavor = "current_thread")]
async fn crud_round_trip_keeps_every_field() {
    let tmp = tempfile::tempdir().unwrap();
    let p = provider(tmp.path()).await;
    let u = p.add_user(&user("alice")).await.unwrap();
    assert!(u.id > 0);
    let got = p.user_by_name("alice").await.unwrap().unwrap();
    assert_eq!(got, u);
    assert_eq!(got.extra["virtual_folders"][0]["name"], "f1");
    assert_eq!(got.filters.extra["web_client"][0], "mfa-disabled");
    let mut changed = got.clone();
    changed.max_sessions = 3;
    p.update_user(&changed).await.unwrap();
    assert_eq!(
        p.user_by_name("alice").await.unwrap().unwrap().max_sessions,
        3
    );
    assert!(matches!(
        p.add_user(&user("alice")).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(p.list_users(0, 10).await.unwrap().len(), 1);
    p.delete_user("alice").await.unwrap();
    assert!(p.user_by_name("alice").await.unwrap().is_none());
    assert!(matches!(
        p.delete_user("alice").await,
        Err(StoreError::NotFound(_))
    ));
}

#[tokio::test(flavor = "current_thread")]
async fn invalid_user_is_rejected_and_nothing_stored() {
    let tmp = tempfile::tempdir().unwrap();
    let p = provider(tmp.path()).await;
    let mut u = user("bob");
    u.permissions.insert("/d".into(), vec!["bogus".into()]);
    assert!(
        matches!(p.add_user(&u).await, Err(StoreError::Invalid(m)) if m.contains("permissions"))
    );
    assert!(p.user_by_name("bob").await.unwrap().is_none());
}

#[tokio::test(flavor = "current_thread")]
async fn initialize_is_idempotent_and_reset_drops() {
    let tmp = tempfile::tempdir().unwrap();
    let p = provider(tmp.path()).await;
    p.initialize().await.unwrap();
    assert_eq!(p.schema_version().await.unwrap(), 1);
    p.reset().await.unwrap();
    assert_eq!(p.schema_version().await.unwrap(), 0);
}
