//! The data model through the real binary: group settings reaching an OpenSSH login,
//! users with virtual folders refused rather than misrouted, an SFTPGo 2.7 dump loaded
//! by `initprovider`, the memory provider's dump file, and `create_default_admin`.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;
use serde_json::{Value, json};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/sftpgo-2.7-dump.json"
);

/// `kind code → (count, names)` read from a SQLite provider with Python's sqlite3.
fn stored_objects(db: &Path) -> Value {
    let script = "import sqlite3, sys, json\n\
        c = sqlite3.connect(sys.argv[1])\n\
        out = {}\n\
        for kind, name, data in c.execute('select kind, name, data from objects order by kind, name'):\n\
        \x20   out.setdefault(str(kind), []).append([name, json.loads(data)])\n\
        print(json.dumps(out))\n";
    let out = run(
        Command::new("python3").args(["-c", script]).arg(db),
        Duration::from_secs(30),
    );
    out.assert_ok("read the objects table");
    serde_json::from_str(out.stdout.trim()).expect("json from sqlite3")
}

fn names(objects: &Value, kind: u32) -> Vec<String> {
    objects[kind.to_string()]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|e| e[0].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn group_settings_reach_a_real_login() {
    let builder = Server::builder();
    let staff_home = builder.root().join("homes/staff/%username%");
    let srv = builder
        .dump_section(
            "groups",
            json!([{
                "name": "staff",
                "user_settings": {
                    "home_dir": staff_home,
                    "permissions": {"/": ["*"], "/drop": ["upload", "list"]},
                    "filters": {"file_patterns": [{"path": "/", "denied_patterns": ["*.exe"]}]}
                }
            }]),
        )
        .user("gina", |u| {
            u["home_dir"] = json!("");
            u["permissions"] = json!({});
            u["filters"] = json!({});
            u["groups"] = json!([{"name": "staff", "type": 1}]);
        })
        .start();
    let data = write_data(&srv.local().join("up.txt"), 70_000, 3);
    write_data(&srv.local().join("tool.exe"), 100, 4);
    srv.sftp_batch_as(
        "gina",
        &srv.client_key,
        &["mkdir /drop", "put up.txt /drop/up.txt"],
        Duration::from_secs(60),
    )
    .assert_ok("upload as a user whose home and permissions come from its group");
    let home = srv.root().join("homes/staff/gina");
    assert_file_eq(
        &home.join("drop/up.txt"),
        &data,
        "the file lands in the group's home template",
    );
    srv.sftp_batch_as(
        "gina",
        &srv.client_key,
        &["get /drop/up.txt back.txt"],
        Duration::from_secs(60),
    )
    .assert_refused("download where the group grants only upload and list");
    srv.sftp_batch_as(
        "gina",
        &srv.client_key,
        &["put tool.exe /tool.exe"],
        Duration::from_secs(60),
    )
    .assert_refused("upload of a name the group's patterns deny");
    assert!(!home.join("tool.exe").exists());
}

#[test]
fn folders_of_users_and_their_groups_are_served() {
    let builder = Server::builder();
    let own = builder.root().join("folders/own");
    let team = builder.root().join("folders/team");
    let srv = builder
        .dump_section(
            "folders",
            json!([{"name": "own", "mapped_path": own}, {"name": "team", "mapped_path": team}]),
        )
        .dump_section(
            "groups",
            json!([{"name": "staff", "virtual_folders": [{"name": "team", "virtual_path": "/team"}]}]),
        )
        .user("vera", |u| {
            u["virtual_folders"] = json!([{"name": "own", "virtual_path": "/f"}]);
            u["groups"] = json!([{"name": "staff", "type": 2}]);
        })
        .start();
    let data = write_data(&srv.local().join("x.txt"), 10, 1);
    srv.sftp_batch_as(
        "vera",
        &srv.client_key,
        &["put x.txt /f/x.txt", "put x.txt /team/x.txt"],
        Duration::from_secs(60),
    )
    .assert_ok("uploads into the user's and the group's folders");
    assert_file_eq(&own.join("x.txt"), &data, "the user's own folder");
    assert_file_eq(&team.join("x.txt"), &data, "the group's folder");
    assert!(
        !srv.home_of("vera").join("f").exists(),
        "nothing written in the home"
    );
    // Other users are unaffected.
    srv.sftp_batch(&["put x.txt /x.txt"])
        .assert_ok("another user on the same server");
    assert!(!srv.home_of(USER).join("f").exists());
}

#[test]
fn initprovider_loads_an_sftpgo_dump_and_creates_the_default_admin() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("cfg");
    std::fs::create_dir_all(&cfg).unwrap();
    let init = |env: &[(&str, &str)], load: bool| {
        let mut cmd = sftpgo_cmd();
        cmd.args(["initprovider", "-l", "", "-c"])
            .arg(&cfg)
            .envs(env.iter().copied());
        if load {
            cmd.args(["--loaddata-from", FIXTURE, "--loaddata-mode", "0"]);
        }
        run(&mut cmd, Duration::from_secs(120))
    };
    init(&[], true).assert_ok("initprovider --loaddata-from an SFTPGo 2.7 dump");
    let objects = stored_objects(&cfg.join("sftpgo.db"));
    let expected: [(u32, &[&str]); 10] = [
        (1, &["alice", "bob", "carol"]),
        (2, &["readonly", "staff"]),
        (3, &["archive", "shared"]),
        (4, &["admin", "helpdesk"]),
        (5, &["sales", "support"]),
        (6, &["BKsxyhxQr5eVCAjPkmySBb", "Y533DnGtHF3rtFfyeXKDWx"]),
        (
            8,
            &["archive-processed", "nightly-report", "notify-webhook"],
        ),
        (9, &["csv-transfers", "nightly-report"]),
        (
            10,
            &["1:192.168.1.0/24", "2:203.0.113.0/24", "3:10.8.0.0/16"],
        ),
        (11, &["configs"]),
    ];
    for (kind, want) in expected {
        assert_eq!(names(&objects, kind), want, "kind {kind}");
    }
    assert_eq!(names(&objects, 7).len(), 2, "shares");
    // Loading again in add-only mode changes nothing and does not fail.
    let mut again = sftpgo_cmd();
    again
        .args(["initprovider", "-l", "", "-c"])
        .arg(&cfg)
        .args(["--loaddata-from", FIXTURE, "--loaddata-mode", "1"]);
    run(&mut again, Duration::from_secs(120)).assert_ok("second load, add-only");
    assert_eq!(stored_objects(&cfg.join("sftpgo.db")), objects);

    // create_default_admin: only when there is no admin at all.
    let env = [
        ("SFTPGO_DATA_PROVIDER__CREATE_DEFAULT_ADMIN", "true"),
        ("SFTPGO_DEFAULT_ADMIN_USERNAME", "boss"),
        ("SFTPGO_DEFAULT_ADMIN_PASSWORD", "boss-pass-1"),
    ];
    init(&env, false).assert_ok("initprovider with admins present");
    assert_eq!(
        names(&stored_objects(&cfg.join("sftpgo.db")), 4),
        ["admin", "helpdesk"]
    );
    let mut reset = sftpgo_cmd();
    reset
        .args(["resetprovider", "--force", "-l", "", "-c"])
        .arg(&cfg);
    run(&mut reset, Duration::from_secs(60)).assert_ok("resetprovider");
    init(&env, false).assert_ok("initprovider on an empty provider");
    init(&env, false).assert_ok("and again");
    let objects = stored_objects(&cfg.join("sftpgo.db"));
    assert_eq!(names(&objects, 4), ["boss"]);
    let admin = &objects["4"][0][1];
    assert_eq!(admin["permissions"], json!(["*"]));
    let hash = admin["password"].as_str().unwrap();
    assert!(hash.starts_with("$argon2id$"), "stored hashed: {hash}");
}

#[test]
fn memory_provider_loads_the_dump_named_in_name() {
    // A dump with one SFTPGo user (bcrypt hash) in a group; the memory provider reads it
    // at start, and the group's home template and the hash work for an OpenSSH login.
    let builder = Server::builder();
    let dump_path = builder.root().join("cfg/memory-dump.json");
    let home = builder.root().join("homes/%username%");
    let client_pub = builder.root().join("keys/client_key.pub");
    let key = std::fs::read_to_string(&client_pub).unwrap();
    let dump = json!({
        "version": 17,
        "groups": [{"name": "g", "user_settings": {"home_dir": home, "permissions": {"/": ["*"]}}}],
        "users": [{"username": "mona", "status": 1, "public_keys": [key.trim()],
            "password": "$2a$10$C9I2c2mFzN0S9.tXb4S1LucWQH2Y3nJ3x9wPp0q3v1cJ3m7oQyZ4S",
            "groups": [{"name": "g", "type": 1}], "filesystem": {"provider": 0}}]
    });
    std::fs::write(&dump_path, serde_json::to_vec(&dump).unwrap()).unwrap();
    let srv = builder
        .env("SFTPGO_DATA_PROVIDER__DRIVER", "memory")
        .env("SFTPGO_DATA_PROVIDER__NAME", "memory-dump.json")
        .start();
    write_data(&srv.local().join("m.bin"), 4096, 9);
    srv.sftp_batch_as(
        "mona",
        &srv.client_key,
        &["put m.bin /m.bin"],
        Duration::from_secs(60),
    )
    .assert_ok("login as a user from the memory provider's dump");
    assert!(srv.root().join("homes/mona/m.bin").is_file());
}

#[test]
fn kms_settings_seal_dump_secrets_and_bad_ones_stop_start_up() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("cfg");
    std::fs::create_dir_all(&cfg).unwrap();
    let dump = tmp.path().join("dump.json");
    std::fs::write(
        &dump,
        serde_json::to_vec(
            &json!({"version": 17, "folders": [{"name": "s3", "mapped_path": "/srv/s3",
            "filesystem": {"provider": 1, "s3config": {"bucket": "b",
                "access_secret": {"status": "Plain", "payload": "plain-text-secret"}}}}]}),
        )
        .unwrap(),
    )
    .unwrap();
    std::fs::write(cfg.join("master.key"), "a-long-master-key\n").unwrap();
    let init = |env: &[(&str, &str)]| {
        let mut cmd = sftpgo_cmd();
        cmd.args(["initprovider", "-l", "", "-c"])
            .arg(&cfg)
            .arg("--loaddata-from")
            .arg(&dump)
            .envs(env.iter().copied());
        run(&mut cmd, Duration::from_secs(120))
    };
    for (var, value, key) in [
        (
            "SFTPGO_KMS__SECRETS__MASTER_KEY_PATH",
            "missing.key",
            "kms.secrets.master_key_path",
        ),
        (
            "SFTPGO_KMS__SECRETS__URL",
            "awskms://alias/x",
            "kms.secrets.url",
        ),
    ] {
        let out = init(&[(var, value)]);
        out.assert_refused(key);
        assert!(
            out.stderr.contains(key),
            "the error names {key}\n{}",
            out.report()
        );
    }
    init(&[("SFTPGO_KMS__SECRETS__MASTER_KEY_PATH", "master.key")])
        .assert_ok("initprovider with a master key file");
    let db = std::fs::read(cfg.join("sftpgo.db")).unwrap();
    let wal = std::fs::read(cfg.join("sftpgo.db-wal")).unwrap_or_default();
    let needle = b"plain-text-secret";
    assert!(
        !db.windows(needle.len()).any(|w| w == needle)
            && !wal.windows(needle.len()).any(|w| w == needle),
        "the secret is not stored in plain text"
    );
    let objects = stored_objects(&cfg.join("sftpgo.db"));
    let secret = &objects["3"][0][1]["filesystem"]["s3config"]["access_secret"];
    assert_eq!(secret["status"], "Secretbox");
    assert_eq!(secret["mode"], 1);
    assert_eq!(secret["additional_data"], "folder_s3");
}

#[test]
fn revertprovider_goes_back_to_schema_1_and_serve_upgrades_again() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("cfg");
    std::fs::create_dir_all(&cfg).unwrap();
    let cmd = |args: &[&str]| {
        let mut c = sftpgo_cmd();
        c.args(args).args(["-l", "", "-c"]).arg(&cfg);
        run(&mut c, Duration::from_secs(120))
    };
    let mut init = sftpgo_cmd();
    init.args(["initprovider", "-l", "", "-c"])
        .arg(&cfg)
        .args(["--loaddata-from", FIXTURE]);
    run(&mut init, Duration::from_secs(120)).assert_ok("initprovider with the SFTPGo dump");
    let refused = cmd(&["revertprovider", "--to-version", "1"]);
    refused.assert_refused("revertprovider with groups, admins, ... stored");
    assert!(refused.stderr.contains("--force"), "{}", refused.report());
    let out = cmd(&["revertprovider", "--to-version", "1", "--force"]);
    out.assert_ok("revertprovider --force");
    assert!(
        out.stdout.contains("reverted to schema version 1"),
        "{}",
        out.report()
    );
    let again = cmd(&["revertprovider", "--force"]);
    again.assert_refused("a second revert");
    assert!(
        again.stderr.contains("already at version 1"),
        "{}",
        again.report()
    );
    cmd(&["initprovider"]).assert_ok("upgrade again");
    let objects = stored_objects(&cfg.join("sftpgo.db"));
    assert_eq!(
        names(&objects, 1),
        ["alice", "bob", "carol"],
        "users come back"
    );
    assert!(names(&objects, 2).is_empty(), "schema 1 had no groups");
}
