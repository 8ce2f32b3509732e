//! Every other kind of object: CRUD, read-only referrer lists, the reference rules
//! (refuse, cascade, unlink), counters under concurrency, and group settings at login.

use serde_json::json;
use sftpgo_core::ErrorKind;
use sftpgo_core::catalog::Catalog;
use sftpgo_core::model::{
    Admin, ApiKey, EventAction, EventRule, Folder, Group, IpListEntry, Role, Share, User,
};
use sftpgo_core::store::{Counter, CounterOp, Kind, ListQuery, UserStore};

use super::targets::{Target, fresh};
use super::users::user;

fn from<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
    serde_json::from_value(v).unwrap()
}

/// A role, two folders, a group, a user in it, an admin, keys, shares, actions, rules.
pub async fn populate(c: &Catalog) {
    c.add(&from::<Role>(
        json!({"name": "support", "description": "first line"}),
    ))
    .await
    .unwrap();
    c.add(&from::<Folder>(
        json!({"name": "shared", "mapped_path": "/srv/shared"}),
    ))
    .await
    .unwrap();
    c.add(&from::<Folder>(
        json!({"name": "archive", "mapped_path": "/srv/archive",
        "filesystem": {"provider": 1, "s3config": {"bucket": "b", "region": "eu"}}}),
    ))
    .await
    .unwrap();
    c.add(&from::<Group>(json!({"name": "staff",
        "user_settings": {"home_dir": "/srv/staff/%username%", "permissions": {"/": ["list", "download"]},
            "max_sessions": 4, "filters": {"denied_protocols": ["FTP"]}},
        "virtual_folders": [{"name": "shared", "virtual_path": "/shared"}]})))
        .await
        .unwrap();
    let mut alice: User = from(json!({"username": "alice", "password": "secret-1",
        "groups": [{"name": "staff", "type": 1}], "role": "support",
        "virtual_folders": [{"name": "archive", "virtual_path": "/archive", "quota_files": -1}]}));
    alice.permissions.clear();
    c.add(&alice).await.unwrap();
    c.add(&user("bob")).await.unwrap();
    c.add(&from::<Admin>(
        json!({"username": "root", "password": "admin-pass",
        "permissions": ["*"], "filters": {"allow_list": ["10.0.0.0/8"]}}),
    ))
    .await
    .unwrap();
    c.add(&from::<Admin>(
        json!({"username": "helpdesk", "password": "pw",
        "permissions": ["view_users", "add_users"], "role": "support",
        "groups": [{"name": "staff", "options": {"add_to_users_as": 1}}]}),
    ))
    .await
    .unwrap();
    c.add(&from::<Share>(
        json!({"id": "share1", "name": "docs", "scope": 1,
        "paths": ["/docs", "/pub/"], "username": "alice", "password": "share-pw",
        "allow_from": ["192.168.1.7/24"]}),
    ))
    .await
    .unwrap();
    c.add(&from::<ApiKey>(
        json!({"id": "key-bob", "name": "bob's CI", "scope": 2,
        "user": "bob", "key": "s3cr3t"}),
    ))
    .await
    .unwrap();
    c.add(&from::<ApiKey>(
        json!({"id": "key-root", "name": "automation", "scope": 1,
        "admin": "root", "key": "s3cr3t2"}),
    ))
    .await
    .unwrap();
    c.add(&from::<EventAction>(json!({"name": "notify", "type": 1,
        "options": {"http_config": {"endpoint": "http://127.0.0.1:9/x", "method": "POST", "timeout": 10}}})))
        .await
        .unwrap();
    c.add(&from::<EventRule>(
        json!({"name": "on-upload", "trigger": 1,
        "conditions": {"fs_events": ["upload"]},
        "actions": [{"name": "notify", "order": 1, "relation_options": {"execute_sync": true}}]}),
    ))
    .await
    .unwrap();
    c.add(&from::<IpListEntry>(
        json!({"ipornet": "203.0.113.9/24", "type": 2, "mode": 2,
        "protocols": 1, "description": "scanner"}),
    ))
    .await
    .unwrap();
    c.set_configs(&json!({"sftpd": {"kex_algorithms": ["curve25519-sha256"]}}))
        .await
        .unwrap();
}

pub async fn every_kind_round_trips(t: Target) {
    let e = fresh(&t).await;
    let c = &e.c;
    populate(c).await;
    let role: Role = c.get("support").await.unwrap().unwrap();
    assert_eq!(
        (role.users.clone(), role.admins.clone()),
        (vec!["alice".to_string()], vec!["helpdesk".to_string()])
    );
    assert!(role.id > 0 && role.created_at > 0);
    let group: Group = c.get("staff").await.unwrap().unwrap();
    assert_eq!(group.users, vec!["alice"]);
    assert_eq!(group.admins, vec!["helpdesk"]);
    assert_eq!(group.virtual_folders[0].extra["mapped_path"], "/srv/shared");
    let shared: Folder = c.get("shared").await.unwrap().unwrap();
    assert_eq!(
        (shared.users.clone(), shared.groups.clone()),
        (vec![], vec!["staff".to_string()])
    );
    let archive: Folder = c.get("archive").await.unwrap().unwrap();
    assert_eq!(archive.users, vec!["alice"]);
    assert_eq!(archive.filesystem["s3config"]["bucket"], "b");
    let admin: Admin = c.get("root").await.unwrap().unwrap();
    assert!(
        admin.password.starts_with("$argon2id$"),
        "admin passwords are hashed"
    );
    assert!(sftpgo_core::password::verify("admin-pass", &admin.password));
    let share: Share = c.get("share1").await.unwrap().unwrap();
    assert_eq!(share.paths, vec!["/docs", "/pub"], "paths are canonical");
    assert_eq!(share.allow_from, vec!["192.168.1.0/24"]);
    assert!(share.password.starts_with("$argon2id$"));
    let key: ApiKey = c.get("key-bob").await.unwrap().unwrap();
    assert_ne!(key.key, "s3cr3t", "API keys are stored hashed");
    let action: EventAction = c.get("notify").await.unwrap().unwrap();
    assert_eq!(action.rules, vec!["on-upload"]);
    let rule: EventRule = c.get("on-upload").await.unwrap().unwrap();
    assert_eq!(rule.actions[0].relation_options["execute_sync"], true);
    let entry: IpListEntry = c.get("2:203.0.113.0/24").await.unwrap().unwrap();
    assert_eq!(entry.ipornet, "203.0.113.0/24");
    assert_eq!(
        c.configs().await.unwrap()["sftpd"]["kex_algorithms"][0],
        "curve25519-sha256"
    );

    // Updates keep ids and creation times; lists see every object in key order.
    let mut g2 = group.clone();
    g2.description = "everyone".into();
    let g2 = c.update(&g2).await.unwrap();
    assert_eq!(
        (g2.id, g2.created_at, g2.description.as_str()),
        (group.id, group.created_at, "everyone")
    );
    let mut rule2 = rule.clone();
    rule2.status = 0;
    assert_eq!(c.update(&rule2).await.unwrap().status, 0);
    let admins: Vec<Admin> = c.list(ListQuery::default()).await.unwrap();
    let names: Vec<&str> = admins.iter().map(|a| a.username.as_str()).collect();
    assert_eq!(names, ["helpdesk", "root"]);
    let mut a2 = admin.clone();
    a2.password = String::new();
    a2.email = "root@example.com".into();
    let a2 = c.update(&a2).await.unwrap();
    assert_eq!(
        a2.password, admin.password,
        "an empty password keeps the stored one"
    );

    // API keys: the secret is shown once and verifies; a wrong or expired one does not.
    let created = c
        .add_api_key(&from(json!({"name": "new", "scope": 2, "user": "bob"})))
        .await
        .unwrap();
    let now = sftpgo_core::now_millis();
    assert!(created.key.starts_with(&format!("{}.", created.key_id)));
    assert!(c.verify_api_key(&created.key, now).await.unwrap().is_some());
    assert!(
        c.verify_api_key(&format!("{}x", created.key), now)
            .await
            .unwrap()
            .is_none()
    );
    let mut expiring = c.get::<ApiKey>(&created.key_id).await.unwrap().unwrap();
    expiring.expires_at = now - 1;
    c.update(&expiring).await.unwrap();
    assert!(c.verify_api_key(&created.key, now).await.unwrap().is_none());

    // Bad input names the field and stores nothing.
    let bad: Vec<(Kind, sftpgo_core::Result<()>)> = vec![
        (Kind::Role, c.add(&from::<Role>(json!({"name": "a/b"}))).await.map(|_| ())),
        (Kind::Admin, c.add(&from::<Admin>(json!({"username": "x", "password": "p", "permissions": ["fly"]}))).await.map(|_| ())),
        (Kind::Admin, c.add(&from::<Admin>(json!({"username": "y", "password": "p", "permissions": ["*"], "role": "support"}))).await.map(|_| ())),
        (Kind::Share, c.add(&from::<Share>(json!({"name": "s", "scope": 7, "paths": ["/"], "username": "bob"}))).await.map(|_| ())),
        (Kind::IpListEntry, c.add(&from::<IpListEntry>(json!({"ipornet": "300.1.1.1", "type": 1, "mode": 1}))).await.map(|_| ())),
        (Kind::IpListEntry, c.add(&from::<IpListEntry>(json!({"ipornet": "10.1.1.1", "type": 1, "mode": 2}))).await.map(|_| ())),
        (Kind::EventRule, c.add(&from::<EventRule>(json!({"name": "r", "trigger": 9, "actions": [{"name": "notify"}]}))).await.map(|_| ())),
        (Kind::Group, c.add(&from::<Group>(json!({"name": "g", "virtual_folders": [{"name": "shared", "virtual_path": "/a"}, {"name": "archive", "virtual_path": "/a/b"}]}))).await.map(|_| ())),
        (Kind::Group, c.add(&from::<Group>(json!({"name": "staff"}))).await.map(|_| ())),
    ];
    for (i, (kind, r)) in bad.into_iter().enumerate() {
        let err = r.expect_err(&format!("case {i} ({}) must fail", kind.label()));
        assert!(
            matches!(err.kind, ErrorKind::InvalidInput | ErrorKind::AlreadyExists),
            "case {i}: {err:?}"
        );
    }
    assert!(c.get::<Role>("a/b").await.unwrap().is_none());
    assert!(c.get::<Admin>("x").await.unwrap().is_none());
    assert_eq!(
        c.list::<Group>(ListQuery::default()).await.unwrap().len(),
        1
    );
    e.p.reset().await.unwrap();
}

pub async fn references_are_enforced(t: Target) {
    let e = fresh(&t).await;
    let c = &e.c;
    populate(c).await;
    let kind_of = |r: sftpgo_core::Result<()>| r.unwrap_err().kind;

    // Missing targets are refused and nothing is stored.
    let mut orphan = user("orphan");
    orphan.groups = from(json!([{"name": "nope", "type": 2}]));
    let err = c.add(&orphan).await.unwrap_err();
    assert!(
        err.message.contains("group \"nope\" does not exist"),
        "{err}"
    );
    assert!(c.get::<User>("orphan").await.unwrap().is_none());
    let r = c
        .add(&from::<Share>(
            json!({"name": "s", "scope": 1, "paths": ["/"], "username": "ghost"}),
        ))
        .await;
    assert_eq!(r.unwrap_err().kind, ErrorKind::InvalidInput);

    // Restrict: a group with members, a role with admins, an action used by a rule.
    let err = c.delete::<Group>("staff").await.unwrap_err();
    assert!(err.message.contains("referenced"), "{err}");
    assert_eq!(
        kind_of(c.delete::<Role>("support").await),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        kind_of(c.delete::<EventAction>("notify").await),
        ErrorKind::InvalidInput
    );
    assert!(c.get::<Group>("staff").await.unwrap().is_some());

    // Unlink: a deleted folder leaves the user's and group's lists.
    c.delete::<Folder>("shared").await.unwrap();
    assert!(
        c.get::<Group>("staff")
            .await
            .unwrap()
            .unwrap()
            .virtual_folders
            .is_empty()
    );
    c.delete::<Folder>("archive").await.unwrap();
    assert!(
        c.get::<User>("alice")
            .await
            .unwrap()
            .unwrap()
            .virtual_folders
            .is_empty()
    );

    // Cascade: a user's shares and API keys go with it; an admin's keys with it.
    c.delete::<User>("bob").await.unwrap();
    assert!(c.get::<ApiKey>("key-bob").await.unwrap().is_none());
    c.delete::<User>("alice").await.unwrap();
    assert!(c.get::<Share>("share1").await.unwrap().is_none());
    c.delete::<Admin>("root").await.unwrap();
    assert!(c.get::<ApiKey>("key-root").await.unwrap().is_none());

    // With the members gone the rest can go; the admin's group link is unlinked.
    c.delete::<Group>("staff").await.unwrap();
    assert!(
        c.get::<Admin>("helpdesk")
            .await
            .unwrap()
            .unwrap()
            .groups
            .is_empty()
    );
    c.delete::<Admin>("helpdesk").await.unwrap();
    c.delete::<Role>("support").await.unwrap();
    c.delete::<EventRule>("on-upload").await.unwrap();
    c.delete::<EventAction>("notify").await.unwrap();
    assert_eq!(
        kind_of(c.delete::<EventAction>("notify").await),
        ErrorKind::NotFound
    );

    // A role held only by users is unlinked from them.
    c.add(&from::<Role>(json!({"name": "temp"}))).await.unwrap();
    let mut dave = user("dave");
    dave.role = "temp".into();
    c.add(&dave).await.unwrap();
    c.delete::<Role>("temp").await.unwrap();
    assert_eq!(c.get::<User>("dave").await.unwrap().unwrap().role, "");
    e.p.reset().await.unwrap();
}

pub async fn counters_add_up_under_concurrency(t: Target) {
    let e = fresh(&t).await;
    let c = &e.c;
    c.add(&user("carol")).await.unwrap();
    c.add(&from::<Folder>(
        json!({"name": "f", "mapped_path": "/srv/f"}),
    ))
    .await
    .unwrap();
    let mut tasks = Vec::new();
    for i in 0..50 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            c.add_quota(Kind::User, "carol", 10, 1).await.unwrap();
            c.add_quota(Kind::Folder, "f", 3, 1).await.unwrap();
            c.add_transfer("carol", i, 2 * i).await.unwrap();
            // The first upload is recorded once, whoever comes first.
            c.update_counters(
                Kind::User,
                "carol",
                &[(Counter::FirstUpload, CounterOp::SetIfZero(1000 + i))],
            )
            .await
            .unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let carol: User = c.get("carol").await.unwrap().unwrap();
    assert_eq!((carol.used_quota_size, carol.used_quota_files), (500, 50));
    let up: i64 = (0..50).sum();
    assert_eq!(carol.extra["used_upload_data_transfer"], up);
    assert_eq!(carol.extra["used_download_data_transfer"], 2 * up);
    let first = carol.extra["first_upload"].as_i64().unwrap();
    assert!((1000..1050).contains(&first) && carol.last_quota_update > 0);
    let f: Folder = c.get("f").await.unwrap().unwrap();
    assert_eq!((f.used_quota_size, f.used_quota_files), (150, 50));
    // Updating the user through the API does not touch its counters.
    let mut edit = carol.clone();
    edit.used_quota_size = 0;
    edit.max_sessions = 1;
    c.update(&edit).await.unwrap();
    c.add_transfer("carol", 1, 0).await.unwrap();
    c.update_counters(
        Kind::User,
        "carol",
        &[(Counter::FirstUpload, CounterOp::SetIfZero(1))],
    )
    .await
    .unwrap();
    let again: User = c.get("carol").await.unwrap().unwrap();
    assert_eq!(again.used_quota_size, 500);
    assert_eq!(
        again.extra["first_upload"].as_i64(),
        Some(first),
        "set once"
    );
    c.set_quota(Kind::User, "carol", 7, 1).await.unwrap();
    assert_eq!(
        c.get::<User>("carol")
            .await
            .unwrap()
            .unwrap()
            .used_quota_size,
        7
    );
    let missing = c
        .update_counters(Kind::User, "nobody", &[(Counter::Usage, CounterOp::Add(1))])
        .await;
    assert_eq!(missing.unwrap_err().kind, ErrorKind::NotFound);
    e.p.reset().await.unwrap();
}

pub async fn group_settings_apply_at_login(t: Target) {
    let e = fresh(&t).await;
    let c = &e.c;
    populate(c).await;
    let stored: User = c.get("alice").await.unwrap().unwrap();
    assert_eq!(
        stored.home_dir, "",
        "the stored user keeps its own (empty) home"
    );
    let login = c.login_user("alice").await.unwrap().unwrap();
    assert_eq!(login.home_dir, "/srv/staff/alice");
    assert_eq!(login.max_sessions, 4);
    assert_eq!(login.permissions["/"], vec!["list", "download"]);
    assert_eq!(login.filters.denied_protocols, vec!["FTP"]);
    let mounts: Vec<&str> = login
        .virtual_folders
        .iter()
        .map(|f| f.virtual_path.as_str())
        .collect();
    assert_eq!(mounts, ["/archive", "/shared"]);
    e.p.reset().await.unwrap();
}

pub async fn secrets_are_sealed_at_rest(t: Target) {
    let e = fresh(&t).await;
    let c =
        e.c.clone()
            .with_kms(sftpgo_core::kms::Kms::new(Some("master-1".into())));
    let folder: Folder = from(json!({"name": "vault", "mapped_path": "/srv/vault",
        "filesystem": {"provider": 1, "s3config": {"bucket": "b",
            "access_secret": {"status": "Plain", "payload": "aws-secret-1"}}}}));
    c.add(&folder).await.unwrap();
    let raw = e.p.get(Kind::Folder, "vault").await.unwrap().unwrap().data;
    let sealed = raw["filesystem"]["s3config"]["access_secret"].clone();
    assert_eq!(sealed["status"], "Secretbox");
    assert_eq!(sealed["additional_data"], "folder_vault");
    assert_eq!(sealed["mode"], 1, "sealed with the master key");
    assert!(
        !raw.to_string().contains("aws-secret-1"),
        "no plain text at rest"
    );
    assert_eq!(c.kms().decrypt(&sealed).unwrap(), "aws-secret-1");
    assert!(
        e.c.kms().decrypt(&sealed).is_err(),
        "without the master key the secret stays closed"
    );
    // Saving with the secret redacted keeps it; a new plain value replaces it.
    let mut edit: Folder = c.get("vault").await.unwrap().unwrap();
    edit.filesystem["s3config"]["access_secret"] = json!({"status": "Redacted"});
    edit.description = "edited".into();
    c.update(&edit).await.unwrap();
    let raw = e.p.get(Kind::Folder, "vault").await.unwrap().unwrap().data;
    assert_eq!(raw["filesystem"]["s3config"]["access_secret"], sealed);
    edit.filesystem["s3config"]["access_secret"] =
        json!({"status": "Plain", "payload": "aws-secret-2"});
    c.update(&edit).await.unwrap();
    let raw = e.p.get(Kind::Folder, "vault").await.unwrap().unwrap().data;
    assert_eq!(
        c.kms()
            .decrypt(&raw["filesystem"]["s3config"]["access_secret"])
            .unwrap(),
        "aws-secret-2"
    );
    // A redacted secret with nothing stored is refused.
    let bad: Folder = from(json!({"name": "v2", "mapped_path": "/srv/v2",
        "filesystem": {"provider": 1, "s3config": {"access_secret": {"status": "Redacted"}}}}));
    assert_eq!(c.add(&bad).await.unwrap_err().kind, ErrorKind::InvalidInput);
    // configs (SMTP password) are sealed too.
    c.set_configs(
        &json!({"smtp": {"host": "mx", "password": {"status": "Plain", "payload": "smtp-pw"}}}),
    )
    .await
    .unwrap();
    let configs = c.configs().await.unwrap();
    assert_eq!(configs["smtp"]["password"]["additional_data"], "smtp");
    assert_eq!(
        c.kms().decrypt(&configs["smtp"]["password"]).unwrap(),
        "smtp-pw"
    );
    e.p.reset().await.unwrap();
}
