//! Dumps: everything written by `Dump::collect` loads back into an empty provider and
//! dumps again identically; load modes; an SFTPGo 2.7 dump loads unchanged.

use serde_json::Value;
use sftpgo_core::dump::{Dump, LoadMode};

use super::objects::populate;
use super::targets::{Target, fresh};

/// The dump as JSON without the numeric ids an engine assigns.
async fn snapshot(c: &sftpgo_core::catalog::Catalog) -> Value {
    let mut v = serde_json::to_value(Dump::collect(c).await.unwrap()).unwrap();
    strip_ids(&mut v);
    v
}

fn strip_ids(v: &mut Value) {
    match v {
        Value::Object(o) => {
            if o.get("id").is_some_and(Value::is_i64) {
                o.remove("id");
            }
            o.values_mut().for_each(strip_ids);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_ids),
        _ => {}
    }
}

pub async fn dump_round_trip(t: Target) {
    let e = fresh(&t).await;
    populate(&e.c).await;
    e.c.add_quota(sftpgo_core::store::Kind::User, "bob", 1234, 5)
        .await
        .unwrap();
    let before = snapshot(&e.c).await;
    let text = serde_json::to_vec(&Dump::collect(&e.c).await.unwrap()).unwrap();
    e.p.reset().await.unwrap();
    e.p.initialize().await.unwrap();
    let report = Dump::from_json(&text)
        .unwrap()
        .load(&e.c, LoadMode::AddUpdate)
        .await
        .unwrap();
    assert_eq!(report.updated, 0);
    assert!(report.added >= 13, "{report:?}");
    let after = snapshot(&e.c).await;
    assert_eq!(before, after, "dump -> load -> dump is the identity");
    assert_eq!(after["users"][0]["used_quota_size"], 0, "alice");
    assert_eq!(
        after["users"][1]["used_quota_size"], 1234,
        "counters are restored"
    );

    // Mode 1 leaves existing objects alone; mode 0 replaces them.
    let mut dump = Dump::from_json(&text).unwrap();
    dump.users
        .iter_mut()
        .for_each(|u| u.description = "from dump".into());
    let r = dump.clone().load(&e.c, LoadMode::AddOnly).await.unwrap();
    assert_eq!((r.added, r.updated), (0, 0));
    assert!(r.skipped >= 13);
    let bob: sftpgo_core::model::User = e.c.get("bob").await.unwrap().unwrap();
    assert_ne!(bob.description, "from dump");
    let r = dump.load(&e.c, LoadMode::AddUpdate).await.unwrap();
    assert_eq!(r.updated_users, vec!["alice", "bob"]);
    let bob: sftpgo_core::model::User = e.c.get("bob").await.unwrap().unwrap();
    assert_eq!(bob.description, "from dump");

    // A dump with a bad object is refused with its name and field.
    let bad =
        br#"{"version": 17, "groups": [{"name": "g", "user_settings": {"home_dir": "rel"}}]}"#;
    let err = Dump::from_json(bad)
        .unwrap()
        .load(&e.c, LoadMode::AddUpdate)
        .await
        .unwrap_err();
    assert!(
        err.message.contains("group \"g\"") && err.message.contains("home_dir"),
        "{err}"
    );
    e.p.reset().await.unwrap();
}

const SFTPGO_DUMP: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/fixtures/sftpgo-2.7-dump.json"
);

/// Checks that every field of `want` (an object from SFTPGo's dump) is in `got` with the
/// same value; numeric ids are the engine's own.
fn assert_kept(path: &str, want: &Value, got: &Value) {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for (k, v) in w {
                if k == "id" && v.is_i64() {
                    continue;
                }
                let here = format!("{path}.{k}");
                let Some(gv) = g.get(k) else {
                    panic!("{here} is missing");
                };
                // A rule's copy of an action: the reference is what is stored.
                if path.ends_with("actions[]")
                    && !matches!(k.as_str(), "name" | "order" | "relation_options" | "type")
                {
                    continue;
                }
                assert_kept(&here, v, gv);
            }
        }
        (Value::Array(w), Value::Array(g)) => {
            assert_eq!(w.len(), g.len(), "{path}: length");
            for (wv, gv) in w.iter().zip(g) {
                assert_kept(&format!("{path}[]"), wv, gv);
            }
        }
        _ => assert_eq!(want, got, "{path}"),
    }
}

pub async fn sftpgo_dump_loads_unchanged(t: Target) {
    let e = fresh(&t).await;
    let text = std::fs::read(SFTPGO_DUMP).unwrap();
    let report = Dump::from_json(&text)
        .unwrap()
        .load(&e.c, LoadMode::AddUpdate)
        .await
        .unwrap();
    assert!(report.unsupported.is_empty(), "{report:?}");
    let want: Value = serde_json::from_slice(&text).unwrap();
    let got = serde_json::to_value(Dump::collect(&e.c).await.unwrap()).unwrap();
    for section in [
        "users",
        "groups",
        "folders",
        "admins",
        "api_keys",
        "shares",
        "event_actions",
        "event_rules",
        "roles",
        "ip_lists",
        "configs",
    ] {
        let field = match section {
            "users" | "admins" => "username",
            "shares" | "api_keys" => "id",
            "ip_lists" => "ipornet",
            _ => "name",
        };
        let key = |v: &Value| v[field].as_str().unwrap_or_default().to_string();
        match (&want[section], &got[section]) {
            (Value::Array(w), Value::Array(g)) => {
                assert_eq!(w.len(), g.len(), "{section}: count");
                for wv in w {
                    let gv = g
                        .iter()
                        .find(|gv| key(gv) == key(wv) && gv.get("type") == wv.get("type"))
                        .unwrap_or_else(|| panic!("{section}: {} missing", key(wv)));
                    assert_kept(&format!("{section}[{}]", key(wv)), wv, gv);
                }
            }
            (w, g) => assert_kept(section, w, g),
        }
    }
    // The hashes SFTPGo wrote still verify.
    let alice: sftpgo_core::model::User = e.c.get("alice").await.unwrap().unwrap();
    assert!(sftpgo_core::password::verify(
        "Alice-Passw0rd!",
        &alice.password
    ));
    let bob: sftpgo_core::model::User = e.c.get("bob").await.unwrap().unwrap();
    assert!(sftpgo_core::password::verify(
        "Bob-Passw0rd!",
        &bob.password
    ));
    let now = sftpgo_core::now_millis();
    let key =
        e.c.verify_api_key("Y533DnGtHF3rtFfyeXKDWx.EdewC3anV3SEyH2gP4JmaN", now)
            .await
            .unwrap()
            .expect("the admin API key from the dump verifies");
    assert_eq!(key.admin, "admin");
    // Bob's key expired on 2026-05-15: refused now, accepted before that.
    let bobs = "BKsxyhxQr5eVCAjPkmySBb.4hYWd7ERH9kb2Hybc8jQKD";
    assert!(e.c.verify_api_key(bobs, now).await.unwrap().is_none());
    let before = 1_760_000_000_000;
    assert_eq!(
        e.c.verify_api_key(bobs, before)
            .await
            .unwrap()
            .unwrap()
            .user,
        "bob"
    );
    e.p.reset().await.unwrap();
}
