//! Users: every field round-trips, bad input changes nothing, pages are ordered, and
//! concurrent starts and writers lose nothing.

use sftpgo_core::model::{Folder, User};
use sftpgo_core::store::{StoreError, UserStore};

use super::targets::{Target, fresh};

pub fn user(name: &str) -> User {
    serde_json::from_value(serde_json::json!({
        "username": name, "home_dir": format!("/srv/{name}"), "password": "$2b$04$abc",
        "permissions": {"/": ["*"], "/ro": ["list", "download"]},
        "public_keys": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG/tJElFUESSVt492etT2YkugyaNDmyhE1asK3VnRO3/ c"], "email": "a@example.com", "status": 1,
        "quota_size": 1_i64 << 40, "uid": 4_000_000_000_u32, "expiration_date": 1_900_000_000_000_i64,
        "filters": {"file_patterns": [{"path": "/x", "denied_patterns": ["*.exe"]}], "web_client": ["mfa-disabled"]},
        "description": "unicode: żółw 🐢"
    }))
    .unwrap()
}

pub async fn crud_keeps_every_field(t: Target) {
    let e = fresh(&t).await;
    let folder = Folder {
        name: "f1".into(),
        mapped_path: "/srv/f1".into(),
        ..Folder::default()
    };
    e.c.add(&folder).await.unwrap();
    let mut input = user("alice");
    input.virtual_folders = serde_json::from_value(
        serde_json::json!([{"name": "f1", "virtual_path": "/v", "quota_size": -1}]),
    )
    .unwrap();
    let u = e.c.add_user(&input).await.unwrap();
    assert!(u.id > 0);
    let got = e.c.user_by_name("alice").await.unwrap().unwrap();
    assert_eq!(got, u, "every field round-trips");
    assert_eq!(got.virtual_folders[0].name, "f1");
    assert_eq!(got.virtual_folders[0].quota_size, -1);
    assert_eq!(
        got.virtual_folders[0].extra["mapped_path"], "/srv/f1",
        "the folder's own fields are joined"
    );
    assert_eq!(got.filters.extra["web_client"][0], "mfa-disabled");
    assert_eq!(got.uid, 4_000_000_000);
    assert!(got.created_at > 0 && got.updated_at >= got.created_at);
    let mut changed = got.clone();
    changed.max_sessions = 3;
    changed.description = "changed".into();
    changed.password = String::new();
    e.c.update_user(&changed).await.unwrap();
    let again = e.c.user_by_name("alice").await.unwrap().unwrap();
    assert_eq!((again.max_sessions, again.id), (3, u.id));
    assert_eq!(again.description, "changed");
    assert_eq!(
        again.password, u.password,
        "an empty password keeps the stored one"
    );
    assert_eq!(again.created_at, u.created_at);
    e.c.set_last_login("alice", 1_800_000_000_123)
        .await
        .unwrap();
    assert_eq!(
        e.c.user_by_name("alice").await.unwrap().unwrap().last_login,
        1_800_000_000_123
    );
    assert!(matches!(
        e.c.add_user(&user("alice")).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(
        e.c.user_by_name("Alice").await.unwrap().is_none(),
        "usernames are case sensitive"
    );
    e.c.delete_user("alice").await.unwrap();
    assert!(e.c.user_by_name("alice").await.unwrap().is_none());
    assert!(matches!(
        e.c.delete_user("alice").await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        e.c.update_user(&user("ghost")).await,
        Err(StoreError::NotFound(_))
    ));
    e.p.reset().await.unwrap();
}

pub async fn invalid_input_changes_nothing(t: Target) {
    let e = fresh(&t).await;
    let mut u = user("bob");
    u.permissions.insert("/d".into(), vec!["bogus".into()]);
    assert!(
        matches!(e.c.add_user(&u).await, Err(StoreError::Invalid(m)) if m.contains("permissions"))
    );
    assert!(e.c.user_by_name("bob").await.unwrap().is_none());
    let stored = e.c.add_user(&user("bob")).await.unwrap();
    assert!(matches!(
        e.c.update_user(&u).await,
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(e.c.user_by_name("bob").await.unwrap().unwrap(), stored);
    let mut bad_ip = user("carl");
    bad_ip.filters.extra.insert(
        "allowed_ip".into(),
        serde_json::json!(["10.0.0.0/8", "nope"]),
    );
    let r = e.c.add_user(&bad_ip).await;
    assert!(
        matches!(&r, Err(StoreError::Invalid(m)) if m.contains("filters.allowed_ip")),
        "{r:?}"
    );
    let mut huge = user("huge");
    huge.additional_info = "x".repeat(2 << 20);
    let r = e.c.add_user(&huge).await;
    assert!(
        matches!(&r, Err(StoreError::Invalid(m)) if m.contains("bytes")),
        "{r:?}"
    );
    assert!(e.c.user_by_name("huge").await.unwrap().is_none());
    for bad in ["../x", "a/b", "..", "x\0y", &"n".repeat(256)] {
        let r = e.c.add_user(&user(bad)).await;
        assert!(
            matches!(&r, Err(StoreError::Invalid(m)) if m.contains("username")),
            "{bad:?}: {r:?}"
        );
    }
    e.p.reset().await.unwrap();
}

pub async fn pagination_is_ordered_by_username(t: Target) {
    let e = fresh(&t).await;
    let mut names: Vec<String> = (0..25)
        .map(|i| format!("user{:02}", (i * 7) % 25))
        .collect();
    // Byte order on every engine: capitals sort before lower case.
    names.push("User99".into());
    names.push("zed".into());
    for n in &names {
        e.c.add_user(&user(n)).await.unwrap();
    }
    names.sort();
    let mut seen = Vec::new();
    for page in 0..3 {
        let got = e.c.list_users(page * 10, 10).await.unwrap();
        assert_eq!(got.len(), if page == 2 { 7 } else { 10 });
        seen.extend(got.into_iter().map(|u| u.username));
    }
    assert_eq!(seen, names);
    assert!(e.c.list_users(100, 10).await.unwrap().is_empty());
    let last_two: Vec<String> =
        e.c.list::<User>(sftpgo_core::store::ListQuery {
            offset: 0,
            limit: 2,
            descending: true,
        })
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert_eq!(last_two, vec!["zed", "user24"]);
    e.p.reset().await.unwrap();
}

pub async fn concurrent_writers_and_starts(t: Target) {
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
    assert_eq!(p.schema_version().await.unwrap(), 2);
    let c = sftpgo_core::catalog::Catalog::new(p.clone(), Default::default());
    // Fifty concurrent inserts and updates: nothing lost, ids unique.
    let mut tasks = Vec::new();
    for i in 0..50 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            let mut u = c.add_user(&user(&format!("c{i:02}"))).await.unwrap();
            u.max_sessions = i;
            c.update_user(&u).await.unwrap();
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
    let all = c.list_users(0, 100).await.unwrap();
    assert_eq!(all.len(), 50);
    for u in all {
        let i: i32 = u.username[1..].parse().unwrap();
        assert_eq!(u.max_sessions, i, "update of {} kept", u.username);
    }
    p.reset().await.unwrap();
    assert_eq!(p.schema_version().await.unwrap(), 0);
}

pub async fn naming_rules_apply_to_names_references_and_lookups(t: Target) {
    let e = fresh(&t).await;
    let c = e.c.clone();
    let strict =
        sftpgo_core::catalog::Catalog::new(e.p.clone(), sftpgo_core::model::NamingRules(7));
    let group: sftpgo_core::model::Group =
        serde_json::from_value(serde_json::json!({"name": " Staff ", "user_settings": {}}))
            .unwrap();
    assert_eq!(strict.add(&group).await.unwrap().name, "staff");
    let mut u = user("Alice");
    u.groups = serde_json::from_value(serde_json::json!([{"name": "STAFF", "type": 2}])).unwrap();
    let stored = strict.add_user(&u).await.unwrap();
    assert_eq!(
        (stored.username.as_str(), stored.groups[0].name.as_str()),
        ("alice", "staff")
    );
    assert!(
        strict.user_by_name("ALICE").await.unwrap().is_some(),
        "lookups are converted"
    );
    assert!(strict.login_user(" Alice").await.unwrap().is_some());
    assert!(
        c.user_by_name("Alice").await.unwrap().is_none(),
        "the default rules keep case"
    );
    e.p.reset().await.unwrap();
}
