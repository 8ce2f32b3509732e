//! The REST API through the real binary and curl: admin tokens, CRUD, the permission
//! matrix, role scoping, API keys, logout, SFTPGo's error bodies, and a user created
//! over HTTP logging in with OpenSSH's sftp.

mod common;

use std::process::Command;
use std::time::Duration;

use common::api::*;
use common::*;
use serde_json::json;

#[test]
fn rest_api_manages_objects_with_sftpgo_semantics() {
    let (srv, api) = start_with_api();
    assert_eq!(api.call("GET", "/healthz", &[], None).status, 200);
    let doc = api.call("GET", "/openapi/openapi.yaml", &[], None);
    assert!(doc.status == 200 && doc.raw.starts_with("openapi: 3"));

    // Credentials: wrong password and no token are 401 with SFTPGo's error body.
    let r = api.call("GET", "/api/v2/token", &["-u", "root:wrong"], None);
    assert_eq!(r.status, 401);
    assert!(
        r.body["error"].is_string() && r.body["message"].is_string(),
        "{}",
        r.raw
    );
    assert_eq!(api.call("GET", "/api/v2/users", &[], None).status, 401);
    let root = api.token("root", "root-pass-1");
    let auth = bearer(&root);
    assert_eq!(api.call("GET", "/api/v2/version", &auth, None).status, 200);

    // Create a user over HTTP, then log in with it over SFTP.
    let home = srv.homes_dir().join("webuser");
    let user = json!({"username": "webuser", "password": "web-pass-1", "status": 1,
        "home_dir": home, "permissions": {"/": ["*"]}, "public_keys": [srv.client_pub]});
    let r = api.call("POST", "/api/v2/users", &auth, Some(&user));
    assert_eq!(r.status, 201, "{}", r.raw);
    assert_eq!(r.body["username"], "webuser");
    assert!(
        r.body.get("password").is_none(),
        "passwords are never returned"
    );
    assert!(r.body["id"].as_i64().unwrap() > 0);
    let data = write_data(&srv.local().join("w.bin"), 50_000, 5);
    srv.sftp_batch_as(
        "webuser",
        &srv.client_key,
        &["put w.bin /w.bin"],
        Duration::from_secs(60),
    )
    .assert_ok("sftp as the user created through the API");
    assert_file_eq(&home.join("w.bin"), &data, "uploaded file");

    // Errors: duplicate 409, bad field 400 naming it, unknown 404.
    assert_eq!(
        api.call("POST", "/api/v2/users", &auth, Some(&user)).status,
        409
    );
    let mut bad = user.clone();
    bad["username"] = json!("other");
    bad["permissions"] = json!(["*"]);
    let r = api.call("POST", "/api/v2/users", &auth, Some(&bad));
    assert_eq!(r.status, 400);
    assert!(
        r.body["error"].as_str().unwrap().contains("permissions"),
        "{}",
        r.raw
    );
    bad["permissions"] = json!({"/": ["fly"]});
    let r = api.call("POST", "/api/v2/users", &auth, Some(&bad));
    assert_eq!(r.status, 400, "{}", r.raw);
    assert_eq!(
        api.call("GET", "/api/v2/users/nobody", &auth, None).status,
        404
    );
    let r = api.call("GET", "/api/v2/users?limit=x", &auth, None);
    assert_eq!(r.status, 400);

    // Update keeps the password when none is sent; the path names the user.
    let mut edit = user.clone();
    edit["password"] = json!("");
    edit["description"] = json!("edited");
    edit["username"] = json!("renamed");
    let r = api.call("PUT", "/api/v2/users/webuser", &auth, Some(&edit));
    assert_eq!(
        (r.status, r.body["message"].as_str()),
        (200, Some("User updated")),
        "{}",
        r.raw
    );
    let r = api.call("GET", "/api/v2/users/webuser", &auth, None);
    assert_eq!(r.body["description"], "edited");
    srv.sftp_batch_as(
        "webuser",
        &srv.client_key,
        &["ls /"],
        Duration::from_secs(60),
    )
    .assert_ok("still logs in after the update");

    // Permission matrix: an admin with only view_users.
    let viewer = json!({"username": "viewer", "password": "viewer-pass-1", "status": 1,
        "permissions": ["view_users"]});
    assert_eq!(
        api.call("POST", "/api/v2/admins", &auth, Some(&viewer))
            .status,
        201
    );
    let v = api.token("viewer", "viewer-pass-1");
    let vauth = bearer(&v);
    assert_eq!(api.call("GET", "/api/v2/users", &vauth, None).status, 200);
    let mut another = user.clone();
    another["username"] = json!("blocked");
    assert_eq!(
        api.call("POST", "/api/v2/users", &vauth, Some(&another))
            .status,
        403
    );
    assert_eq!(api.call("GET", "/api/v2/admins", &vauth, None).status, 403);
    assert_eq!(
        api.call("DELETE", "/api/v2/users/webuser", &vauth, None)
            .status,
        403
    );

    // Role scoping: a role admin sees and creates only its role's users.
    assert_eq!(
        api.call(
            "POST",
            "/api/v2/roles",
            &auth,
            Some(&json!({"name": "ops"}))
        )
        .status,
        201
    );
    let ops = json!({"username": "opsadmin", "password": "ops-pass-1", "status": 1,
        "permissions": ["add_users", "view_users", "edit_users"], "role": "ops"});
    assert_eq!(
        api.call("POST", "/api/v2/admins", &auth, Some(&ops)).status,
        201
    );
    let o = api.token("opsadmin", "ops-pass-1");
    let oauth = bearer(&o);
    let mut opsuser = user.clone();
    opsuser["username"] = json!("opsuser");
    let r = api.call("POST", "/api/v2/users", &oauth, Some(&opsuser));
    assert_eq!(
        (r.status, r.body["role"].as_str()),
        (201, Some("ops")),
        "{}",
        r.raw
    );
    let listed = api.call("GET", "/api/v2/users", &oauth, None);
    let names: Vec<&str> = listed
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["opsuser"]);
    assert_eq!(
        api.call("GET", "/api/v2/users/webuser", &oauth, None)
            .status,
        404
    );
    let all = api.call("GET", "/api/v2/users?order=DESC&limit=1", &auth, None);
    assert_eq!(all.body[0]["username"], "webuser");

    // API keys: shown once, then accepted in X-SFTPGO-API-KEY once the admin allows it.
    let r = api.call(
        "POST",
        "/api/v2/apikeys",
        &auth,
        Some(&json!({"name": "ci", "scope": 1, "admin": "root"})),
    );
    assert_eq!(r.status, 201, "{}", r.raw);
    let key = r.body["key"].as_str().unwrap().to_string();
    let key_header = format!("X-SFTPGO-API-KEY: {key}");
    assert_eq!(
        api.call("GET", "/api/v2/users", &["-H", &key_header], None)
            .status,
        401,
        "the admin has not allowed API key auth yet"
    );
    let root_admin = api.call("GET", "/api/v2/admins/root", &auth, None).body;
    let mut allow = root_admin.clone();
    allow["filters"]["allow_api_key_auth"] = json!(true);
    assert_eq!(
        api.call("PUT", "/api/v2/admins/root", &auth, Some(&allow))
            .status,
        200
    );
    assert_eq!(
        api.call("GET", "/api/v2/users", &["-H", &key_header], None)
            .status,
        200
    );
    let keys = api.call("GET", "/api/v2/apikeys", &auth, None);
    assert!(
        keys.body[0].get("key").is_none(),
        "key hashes are never returned"
    );
    // The PUT without a password kept it: a new token still comes.
    api.token("root", "root-pass-1");

    // IP lists: networks are canonical in the path and the body.
    let r = api.call(
        "POST",
        "/api/v2/iplists/2",
        &auth,
        Some(&json!({"ipornet": "203.0.113.9/24", "mode": 2, "description": "scanner"})),
    );
    assert_eq!(r.status, 201, "{}", r.raw);
    let r = api.call("GET", "/api/v2/iplists/2/203.0.113.0%2F24", &auth, None);
    assert_eq!(
        (r.status, r.body["description"].as_str()),
        (200, Some("scanner")),
        "{}",
        r.raw
    );
    // SFTPGo's keyset paging: `filter` by prefix, `from` after the last one seen.
    for net in ["198.51.100.0/24", "203.0.114.0/24", "203.0.115.0/24"] {
        let r = api.call(
            "POST",
            "/api/v2/iplists/2",
            &auth,
            Some(&json!({"ipornet": net, "mode": 2})),
        );
        assert_eq!(r.status, 201, "{}", r.raw);
    }
    let nets = |query: &str| -> Vec<String> {
        let r = api.call("GET", &format!("/api/v2/iplists/2?{query}"), &auth, None);
        assert_eq!(r.status, 200, "{}", r.raw);
        r.body
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["ipornet"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        nets("filter=203.&limit=2"),
        ["203.0.113.0/24", "203.0.114.0/24"]
    );
    assert_eq!(
        nets("filter=203.&from=203.0.114.0%2F24"),
        ["203.0.115.0/24"]
    );
    assert_eq!(
        nets("from=203.0.114.0%2F24&order=DESC"),
        ["203.0.113.0/24", "198.51.100.0/24"]
    );

    // Self-service: profile and password change (the old password stops working).
    let r = api.call(
        "PUT",
        "/api/v2/admin/profile",
        &vauth,
        Some(&json!({"email": "viewer@example.com", "description": "reads"})),
    );
    assert_eq!(r.status, 200, "{}", r.raw);
    let r = api.call("GET", "/api/v2/admin/profile", &vauth, None);
    assert_eq!(r.body["email"], "viewer@example.com");
    let r = api.call(
        "PUT",
        "/api/v2/admin/changepwd",
        &vauth,
        Some(&json!({"current_password": "wrong", "new_password": "x-2"})),
    );
    assert_eq!(r.status, 400, "{}", r.raw);
    let r = api.call(
        "PUT",
        "/api/v2/admin/changepwd",
        &vauth,
        Some(&json!({"current_password": "viewer-pass-1", "new_password": "viewer-pass-2"})),
    );
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(
        api.call(
            "GET",
            "/api/v2/token",
            &["-u", "viewer:viewer-pass-1"],
            None
        )
        .status,
        401,
        "the old password (cached before) no longer works"
    );
    api.token("viewer", "viewer-pass-2");

    // Logout invalidates the token; delete removes the user.
    let r = api.call("DELETE", "/api/v2/users/webuser", &auth, None);
    assert_eq!(
        (r.status, r.body["message"].as_str()),
        (200, Some("User deleted"))
    );
    assert_eq!(
        api.call("GET", "/api/v2/users/webuser", &auth, None).status,
        404
    );
    assert_eq!(api.call("GET", "/api/v2/logout", &auth, None).status, 200);
    assert_eq!(api.call("GET", "/api/v2/users", &auth, None).status, 401);
}

#[test]
fn rest_api_maintenance_dump_load_status_and_quotas() {
    let (srv, api) = start_with_api();
    let root = api.token("root", "root-pass-1");
    let auth = bearer(&root);

    let status = api.call("GET", "/api/v2/status", &auth, None);
    assert_eq!(status.status, 200, "{}", status.raw);
    assert_eq!(status.body["data_provider"]["is_active"], true);
    assert_eq!(status.body["ssh"]["is_active"], true);

    // dumpdata: in the response, or into the backups directory by plain name only.
    let dump = api.call("GET", "/api/v2/dumpdata?output-data=1", &auth, None);
    assert_eq!(dump.status, 200);
    assert_eq!(dump.body["version"], 17);
    assert_eq!(dump.body["users"][0]["username"], USER);
    assert_eq!(dump.body["admins"][0]["username"], "root");
    let saved = api.call("GET", "/api/v2/dumpdata?output-file=snap.json", &auth, None);
    assert_eq!(saved.status, 200, "{}", saved.raw);
    let file = srv.config_dir().join("backups/snap.json");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&file).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600, "dumps hold hashes and secrets");
    for bad in ["../escape.json", "%2e%2e%2fescape.json", ".hidden"] {
        let r = api.call(
            "GET",
            &format!("/api/v2/dumpdata?output-file={bad}"),
            &auth,
            None,
        );
        assert_eq!(r.status, 400, "{bad}: {}", r.raw);
    }
    assert!(!srv.config_dir().join("escape.json").exists());

    // loaddata: a body, and a file from the backups directory.
    let extra = json!({"version": 17, "groups": [{"name": "from-api", "user_settings": {}}]});
    let r = api.call("POST", "/api/v2/loaddata?mode=0", &auth, Some(&extra));
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(
        api.call("GET", "/api/v2/groups/from-api", &auth, None)
            .status,
        200
    );
    assert_eq!(
        api.call("DELETE", "/api/v2/groups/from-api", &auth, None)
            .status,
        200
    );
    let r = api.call(
        "GET",
        "/api/v2/loaddata?input-file=snap.json&mode=1",
        &auth,
        None,
    );
    assert_eq!(r.status, 200, "{}", r.raw);
    // As SFTPGo: output-file may be a relative path, input-file an absolute one, but
    // both stay inside the backups directory.
    let r = api.call(
        "GET",
        "/api/v2/dumpdata?output-file=sub%2Fsnap2.json",
        &auth,
        None,
    );
    assert_eq!(r.status, 200, "{}", r.raw);
    assert!(srv.config_dir().join("backups/sub/snap2.json").is_file());
    let abs = srv.config_dir().join("backups/sub/snap2.json");
    let r = api.call(
        "GET",
        &format!("/api/v2/loaddata?input-file={}&mode=1", abs.display()),
        &auth,
        None,
    );
    assert_eq!(r.status, 200, "{}", r.raw);
    for bad in ["/etc/passwd", "..%2Fsftpgo.db", "%2Fetc%2Fhostname"] {
        let r = api.call(
            "GET",
            &format!("/api/v2/loaddata?input-file={bad}"),
            &auth,
            None,
        );
        assert_eq!(r.status, 400, "{bad}: {}", r.raw);
    }
    let bad_dump = json!({"version": 17, "groups": [{"name": "g", "user_settings": {"home_dir": "relative"}}]});
    let r = api.call("POST", "/api/v2/loaddata", &auth, Some(&bad_dump));
    assert_eq!(r.status, 400);
    assert!(
        r.body["error"].as_str().unwrap().contains("home_dir"),
        "{}",
        r.raw
    );

    // Quotas: reset, add, transfer usage.
    let usage = |mode: &str, size: i64| {
        api.call(
            "PUT",
            &format!("/api/v2/quotas/users/{USER}/usage?mode={mode}"),
            &auth,
            Some(&json!({"used_quota_size": size, "used_quota_files": 2})),
        )
    };
    assert_eq!(usage("reset", 1000).status, 200);
    assert_eq!(usage("add", 24).status, 200);
    let u = api
        .call("GET", &format!("/api/v2/users/{USER}"), &auth, None)
        .body;
    assert_eq!(
        (
            u["used_quota_size"].as_i64(),
            u["used_quota_files"].as_i64()
        ),
        (Some(1024), Some(4))
    );
    assert_eq!(usage("reset", -1).status, 400);
    let r = api.call(
        "PUT",
        &format!("/api/v2/quotas/users/{USER}/transfer-usage"),
        &auth,
        Some(&json!({"used_upload_data_transfer": 5, "used_download_data_transfer": 6})),
    );
    assert_eq!(r.status, 200, "{}", r.raw);
    let u = api
        .call("GET", &format!("/api/v2/users/{USER}"), &auth, None)
        .body;
    assert_eq!(u["used_download_data_transfer"], 6);
    let r = api.call(
        "PUT",
        "/api/v2/quotas/users/nobody/usage",
        &auth,
        Some(&json!({"used_quota_size": 1})),
    );
    assert_eq!(r.status, 404);
}

/// schemathesis fuzzes every documented operation (bounded in time and examples): no
/// 5xx, every response matches its documented status codes and schema. `/logout` would
/// end the token mid-run and `/admins/{username}` could disable the admin it runs as,
/// so those are left out; `/healthz` lives outside `/api/v2`.
#[test]
fn openapi_contract_holds_under_schemathesis() {
    require_tools(&["schemathesis", "curl"]);
    let (srv, api) = start_with_api();
    let token = api.token("root", "root-pass-1");
    let out = run(
        Command::new("schemathesis")
            .arg("run")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.yaml"))
            .args(["--url", &format!("{}/api/v2", api.base)])
            .args(["-H", &token])
            .args(["-n", "10", "--max-time", "60", "--seed", "1"])
            .args([
                "--checks",
                "not_a_server_error,response_schema_conformance,status_code_conformance",
            ])
            .args(["--exclude-path", "/logout", "--exclude-path", "/healthz"])
            .args(["--exclude-path-regex", "^/admins/"])
            .env("NO_COLOR", "1")
            .current_dir(srv.root()),
        Duration::from_secs(240),
    );
    assert!(
        out.success(),
        "schemathesis found contract violations\n{}",
        out.report()
    );
}

#[test]
fn https_with_client_certificates() {
    require_tools(&["curl", "openssl"]);
    let port = free_port();
    let builder = Server::builder();
    let cfg = builder.root().join("cfg");
    make_pki(&cfg);
    make_crl(&cfg);
    let srv = builder
        .env("SFTPGO_HTTPD__BINDINGS__0__PORT", &port.to_string())
        .env("SFTPGO_HTTPD__BINDINGS__0__ADDRESS", "127.0.0.1")
        .env("SFTPGO_HTTPD__BINDINGS__0__ENABLE_HTTPS", "true")
        .env("SFTPGO_HTTPD__BINDINGS__0__CLIENT_AUTH_TYPE", "1")
        .env(
            "SFTPGO_HTTPD__BINDINGS__0__TLS_CIPHER_SUITES",
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,TLS_RSA_WITH_AES_128_CBC_SHA",
        )
        .env("SFTPGO_HTTPD__CERTIFICATE_FILE", "server.crt")
        .env("SFTPGO_HTTPD__CERTIFICATE_KEY_FILE", "server.key")
        .env("SFTPGO_HTTPD__CA_CERTIFICATES", "ca.crt")
        .env("SFTPGO_HTTPD__CA_REVOCATION_LISTS", "ca.crl")
        .start();
    let url = format!("https://127.0.0.1:{port}/healthz");
    let curl = |extra: &[&str], url: &str| {
        run(
            Command::new("curl")
                .args([
                    "-s",
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{http_code}",
                    "--cacert",
                    "ca.crt",
                ])
                .args(extra)
                .arg(url)
                .current_dir(srv.config_dir()),
            Duration::from_secs(30),
        )
    };
    let ok = curl(&["--cert", "client.crt", "--key", "client.key"], &url);
    assert_eq!(ok.stdout.trim(), "200", "{}", ok.report());
    let revoked = curl(&["--cert", "revoked.crt", "--key", "revoked.key"], &url);
    assert_ne!(
        revoked.stdout.trim(),
        "200",
        "a revoked client certificate is refused\n{}",
        revoked.report()
    );
    // TLS 1.2 offers only the configured suite; TLS 1.3 is unaffected.
    let tls12 = |cipher: &str| {
        curl(
            &[
                "--cert",
                "client.crt",
                "--key",
                "client.key",
                "--tls-max",
                "1.2",
                "--ciphers",
                cipher,
            ],
            &url,
        )
    };
    let chacha = tls12("ECDHE-ECDSA-CHACHA20-POLY1305");
    assert_eq!(chacha.stdout.trim(), "200", "{}", chacha.report());
    let gcm = tls12("ECDHE-ECDSA-AES128-GCM-SHA256");
    assert_ne!(
        gcm.stdout.trim(),
        "200",
        "suite not configured\n{}",
        gcm.report()
    );
    let no_cert = curl(&[], &url);
    assert_ne!(
        no_cert.stdout.trim(),
        "200",
        "a client certificate is required\n{}",
        no_cert.report()
    );
    let wrong = curl(&["--cert", "server.crt", "--key", "server.key"], &url);
    assert_ne!(
        wrong.stdout.trim(),
        "200",
        "only clientAuth certificates\n{}",
        wrong.report()
    );
    let plain = curl(&[], &format!("http://127.0.0.1:{port}/healthz"));
    assert_ne!(
        plain.stdout.trim(),
        "200",
        "plain HTTP is not served on an HTTPS binding"
    );
    assert!(
        srv.log_tail().contains("https=true") || srv.log_tail().contains("\"https\":true"),
        "{}",
        srv.log_tail()
    );
}

#[test]
fn user_files_api_goes_through_the_same_policy_as_sftp() {
    let (srv, api) = start_with_api();
    let r = api.call(
        "GET",
        "/api/v2/user/token",
        &["-u", &format!("{USER}:wrong")],
        None,
    );
    assert_eq!(r.status, 401);
    let r = api.call(
        "GET",
        "/api/v2/user/token",
        &["-u", &format!("{USER}:{PASSWORD}")],
        None,
    );
    assert_eq!(r.status, 200, "{}", r.raw);
    let user_auth = format!(
        "Authorization: Bearer {}",
        r.body["access_token"].as_str().unwrap()
    );
    let uauth = bearer(&user_auth);
    // Tokens do not cross: a user token is no admin token and the other way round.
    assert_eq!(api.call("GET", "/api/v2/users", &uauth, None).status, 401);
    let root = api.token("root", "root-pass-1");
    assert_eq!(
        api.call("GET", "/api/v2/user/dirs", &bearer(&root), None)
            .status,
        401
    );

    let r = api.call("POST", "/api/v2/user/dirs?path=%2Fweb", &uauth, None);
    assert_eq!(r.status, 201, "{}", r.raw);
    // A 3 MiB upload, streamed, with its modification time.
    let data = write_data(&srv.local().join("big.bin"), 3 << 20, 11);
    let up = upload(
        &api,
        &user_auth,
        "/web/big.bin",
        &[
            "-H",
            "X-SFTPGO-MTIME: 1600000000000",
            "--data-binary",
            "@big.bin",
        ],
        &srv.local(),
    );
    assert!(up.stdout.trim_end().ends_with("201"), "{}", up.report());
    assert_file_eq(&srv.home().join("web/big.bin"), &data, "uploaded over HTTP");
    assert_eq!(mtime_secs(&srv.home().join("web/big.bin")), 1_600_000_000);
    // The same file read back over SFTP, and over HTTP whole and by range.
    srv.sftp_batch(&["get /web/big.bin via-sftp.bin"])
        .assert_ok("sftp get");
    assert_file_eq(
        &srv.local().join("via-sftp.bin"),
        &data,
        "read back over SFTP",
    );
    let out = srv.local().join("via-http.bin");
    assert_eq!(
        curl_download(
            &api,
            "/api/v2/user/files?path=/web/big.bin",
            &user_auth,
            &[],
            &out
        ),
        200
    );
    assert_file_eq(&out, &data, "downloaded over HTTP");
    let part = srv.local().join("part.bin");
    let status = curl_download(
        &api,
        "/api/v2/user/files?path=/web/big.bin",
        &user_auth,
        &["-H", "Range: bytes=1000-1999"],
        &part,
    );
    assert_eq!(status, 206);
    assert_file_eq(&part, &data[1000..2000], "range");
    let status = curl_download(
        &api,
        "/api/v2/user/files?path=/web/big.bin",
        &user_auth,
        &["-H", "Range: bytes=9999999-"],
        &part,
    );
    assert_eq!(status, 416);
    let list = api.call("GET", "/api/v2/user/dirs?path=/web", &uauth, None);
    assert_eq!(list.body[0]["name"], "big.bin");
    assert_eq!(list.body[0]["size"], 3 << 20);

    // Policy: /ro is list+download only, /patterns allows only *.txt, the root confines.
    let deny = upload(
        &api,
        &user_auth,
        "/ro/x.txt",
        &["--data-binary", "x"],
        &srv.local(),
    );
    assert!(deny.stdout.trim_end().ends_with("403"), "{}", deny.report());
    let deny = upload(
        &api,
        &user_auth,
        "/patterns/x.exe",
        &["--data-binary", "x"],
        &srv.local(),
    );
    assert!(deny.stdout.trim_end().ends_with("403"), "{}", deny.report());
    let escape = api.call(
        "GET",
        "/api/v2/user/files?path=..%2F..%2F..%2Fetc%2Fpasswd",
        &uauth,
        None,
    );
    assert_eq!(
        escape.status, 404,
        "`..` stays inside the home: {}",
        escape.raw
    );
    let r = api.call(
        "DELETE",
        "/api/v2/user/files?path=/web/big.bin",
        &uauth,
        None,
    );
    assert_eq!(r.status, 200, "{}", r.raw);
    assert!(!srv.home().join("web/big.bin").exists());
}

#[test]
fn http_connections_count_against_the_common_caps() {
    let port = free_port();
    let srv = Server::builder()
        .env("SFTPGO_HTTPD__BINDINGS__0__PORT", &port.to_string())
        .env("SFTPGO_HTTPD__BINDINGS__0__ADDRESS", "127.0.0.1")
        .env("SFTPGO_COMMON__MAX_PER_HOST_CONNECTIONS", "1")
        .start();
    let healthz = || {
        run(
            Command::new("curl")
                .args([
                    "-s",
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{http_code}",
                    "--max-time",
                    "5",
                ])
                .arg(format!("http://127.0.0.1:{port}/healthz")),
            Duration::from_secs(30),
        )
        .stdout
        .trim()
        .to_string()
    };
    assert_eq!(healthz(), "200");
    let held = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert_ne!(
        healthz(),
        "200",
        "a second connection from the same host is refused"
    );
    drop(held);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        healthz(),
        "200",
        "the slot is freed when the connection ends"
    );
    drop(srv);
}

/// Polls `GET path` until `pred` holds on the body (10 s at most).
fn wait_for(api: &Api, auth: &str, path: &str, pred: impl Fn(&serde_json::Value) -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let r = api.call("GET", path, &bearer(auth), None);
        if r.status == 200 && pred(&r.body) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{path} never matched: {}",
            r.raw
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn quota_scans_recount_homes_and_folders() {
    let (srv, api) = start_with_api();
    let root = api.token("root", "root-pass-1");
    let home = srv.ensure_home();
    write_data(&home.join("a.bin"), 1000, 1);
    write_data(&home.join("sub/deeper/b.bin"), 2500, 2);
    write_data(&home.join(".sftpgo-upload.partial"), 77, 3);
    let r = api.call(
        "POST",
        &format!("/api/v2/quotas/users/{USER}/scan"),
        &bearer(&root),
        None,
    );
    assert_eq!(r.status, 202, "{}", r.raw);
    wait_for(&api, &root, &format!("/api/v2/users/{USER}"), |u| {
        u["used_quota_size"] == 3500 && u["used_quota_files"] == 2
    });
    let r = api.call("GET", "/api/v2/quotas/users/scans", &bearer(&root), None);
    assert_eq!(r.status, 200, "{}", r.raw);
    assert!(r.body.is_array());

    let folder_dir = srv.root().join("folder-data");
    write_data(&folder_dir.join("x/y.bin"), 4096, 4);
    let r = api.call(
        "POST",
        "/api/v2/folders",
        &bearer(&root),
        Some(&json!({"name": "shared", "mapped_path": folder_dir})),
    );
    assert_eq!(r.status, 201, "{}", r.raw);
    let r = api.call(
        "POST",
        "/api/v2/quotas/folders/shared/scan",
        &bearer(&root),
        None,
    );
    assert_eq!(r.status, 202, "{}", r.raw);
    wait_for(&api, &root, "/api/v2/folders/shared", |f| {
        f["used_quota_size"] == 4096 && f["used_quota_files"] == 1
    });

    let r = api.call(
        "POST",
        "/api/v2/quotas/users/nobody/scan",
        &bearer(&root),
        None,
    );
    assert_eq!(r.status, 404, "{}", r.raw);
    let r = api.call(
        "POST",
        "/api/v2/admins",
        &bearer(&root),
        Some(
            &json!({"username": "editor", "password": "editor-pass-1", "status": 1,
            "permissions": ["edit_users", "view_users"]}),
        ),
    );
    assert_eq!(r.status, 201, "{}", r.raw);
    let editor = api.token("editor", "editor-pass-1");
    let r = api.call(
        "POST",
        &format!("/api/v2/quotas/users/{USER}/scan"),
        &bearer(&editor),
        None,
    );
    assert_eq!(r.status, 403, "quota_scans is needed: {}", r.raw);
}

/// `curl -i` with `args`; returns the response head and body as text.
fn curl_head(api: &Api, path: &str, args: &[&str]) -> String {
    let out = run(
        Command::new("curl")
            .args(["-s", "-i"])
            .args(args)
            .arg(format!("{}{path}", api.base)),
        Duration::from_secs(30),
    );
    out.assert_ok("curl -i");
    out.stdout.to_lowercase()
}

#[test]
fn cors_and_trusted_proxy_headers() {
    let builder = Server::builder()
        .user("zed", |u| {
            u["filters"]["allowed_ip"] = json!(["10.9.0.0/16"])
        })
        .env("SFTPGO_HTTPD__CORS__ENABLED", "true")
        .env(
            "SFTPGO_HTTPD__CORS__ALLOWED_ORIGINS",
            "https://app.example.com",
        )
        .env("SFTPGO_HTTPD__CORS__ALLOWED_METHODS", "GET,POST,PUT")
        .env(
            "SFTPGO_HTTPD__CORS__ALLOWED_HEADERS",
            "Authorization,Content-Type",
        )
        .env("SFTPGO_HTTPD__BINDINGS__0__PROXY_ALLOWED", "127.0.0.1")
        .env(
            "SFTPGO_HTTPD__BINDINGS__0__CLIENT_IP_PROXY_HEADER",
            "X-Forwarded-For",
        )
        .env("SFTPGO_COMMON__MAX_PER_HOST_CONNECTIONS", "1");
    let (_srv, api) = start_api_with(builder);
    // A trusted proxy carries many clients: the per-host cap does not apply to it.
    let held = std::net::TcpStream::connect(api.base.trim_start_matches("http://")).unwrap();

    // CORS: a preflight from the allowed origin is answered, others get no grant.
    let head = curl_head(
        &api,
        "/api/v2/users",
        &[
            "-X",
            "OPTIONS",
            "-H",
            "Origin: https://app.example.com",
            "-H",
            "Access-Control-Request-Method: PUT",
            "-H",
            "Access-Control-Request-Headers: authorization",
        ],
    );
    assert!(head.starts_with("http/1.1 204"), "{head}");
    assert!(
        head.contains("access-control-allow-origin: https://app.example.com"),
        "{head}"
    );
    assert!(head.contains("access-control-allow-methods: put"), "{head}");
    let head = curl_head(&api, "/healthz", &["-H", "Origin: https://app.example.com"]);
    assert!(
        head.contains("access-control-allow-origin: https://app.example.com"),
        "{head}"
    );
    let head = curl_head(&api, "/healthz", &["-H", "Origin: https://evil.example"]);
    assert!(!head.contains("access-control-allow-origin"), "{head}");

    // Proxy headers: zed may only come from 10.9.0.0/16. Loopback is a trusted proxy
    // here, so X-Forwarded-For names the client.
    let token = |xff: Option<&str>| {
        let creds = format!("zed:{PASSWORD}");
        let header = xff.map(|x| format!("X-Forwarded-For: {x}"));
        let mut args = vec!["-u", creds.as_str()];
        if let Some(h) = &header {
            args.extend(["-H", h.as_str()]);
        }
        api.call("GET", "/api/v2/user/token", &args, None).status
    };
    assert_eq!(token(None), 401, "loopback is not in zed's allowed_ip");
    assert_eq!(token(Some("192.168.7.7")), 401);
    assert_eq!(
        token(Some("192.168.7.7, 10.9.3.4")),
        200,
        "the last hop counts"
    );
    assert_eq!(token(Some("garbage")), 401);
    drop(held);
}

/// `n` idle connections the server has accepted and still holds open (one refused
/// while an earlier request's connection was still counted is replaced).
fn hold_connections(addr: &str, n: usize) -> Vec<std::net::TcpStream> {
    let alive = |c: &std::net::TcpStream| {
        c.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 1];
        let open = matches!(c.peek(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
        c.set_nonblocking(false).unwrap();
        open
    };
    let mut held: Vec<std::net::TcpStream> = Vec::new();
    for _ in 0..50 {
        held.retain(|c| alive(c));
        if held.len() == n {
            return held;
        }
        while held.len() < n {
            held.push(std::net::TcpStream::connect(addr).unwrap());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("could not hold {n} connections open");
}

#[test]
fn proxy_headers_from_untrusted_peers_are_ignored() {
    let builder = Server::builder()
        .user("zed", |u| {
            u["filters"]["allowed_ip"] = json!(["10.9.0.0/16"])
        })
        .env("SFTPGO_HTTPD__BINDINGS__0__PROXY_ALLOWED", "10.0.0.1")
        .env(
            "SFTPGO_HTTPD__BINDINGS__0__CLIENT_IP_PROXY_HEADER",
            "X-Forwarded-For",
        )
        .env("SFTPGO_COMMON__MAX_PER_HOST_CONNECTIONS", "2");
    let (_srv, api) = start_api_with(builder);
    let r = api.call(
        "GET",
        "/api/v2/user/token",
        &[
            "-u",
            &format!("zed:{PASSWORD}"),
            "-H",
            "X-Forwarded-For: 10.9.3.4",
        ],
        None,
    );
    assert_eq!(
        r.status, 401,
        "a client cannot pick its own address: {}",
        r.raw
    );
    // An ordinary peer keeps its per-host cap: with two connections held, a third is
    // closed at once.
    let addr = api.base.trim_start_matches("http://").to_string();
    let held = hold_connections(&addr, 2);
    // The third connection is refused.
    api.refuses_connections();
    drop(held);
}

#[test]
fn tokens_are_bound_to_their_address_their_use_and_their_lifetime() {
    const KEY: &str = "a-signing-passphrase-for-tests";
    let (_srv, api) = start_api_with(
        Server::builder()
            .env("SFTPGO_HTTPD__SIGNING_PASSPHRASE", KEY)
            .env("SFTPGO_HTTPD__BINDINGS__0__PROXY_ALLOWED", "127.0.0.1")
            .env(
                "SFTPGO_HTTPD__BINDINGS__0__CLIENT_IP_PROXY_HEADER",
                "X-Forwarded-For",
            ),
    );
    let from = |ip: &str| format!("X-Forwarded-For: {ip}");
    let token_from = |ip: &str| {
        let r = api.call(
            "GET",
            "/api/v2/token",
            &["-u", "root:root-pass-1", "-H", &from(ip)],
            None,
        );
        assert_eq!(r.status, 200, "{}", r.raw);
        format!(
            "Authorization: Bearer {}",
            r.body["access_token"].as_str().unwrap()
        )
    };
    let status = |auth: &str, ip: &str, path: &str| {
        api.call("GET", path, &["-H", auth, "-H", &from(ip)], None)
    };
    let t = token_from("10.0.0.1");
    assert_eq!(status(&t, "10.0.0.1", "/api/v2/users").status, 200);
    let r = status(&t, "10.0.0.2", "/api/v2/users");
    assert_eq!(r.status, 401, "another address: {}", r.raw);
    assert_eq!(r.body["error"], "Your token is not valid");
    // An admin token is not a user token.
    let r = status(&t, "10.0.0.1", "/api/v2/user/profile");
    assert_eq!(r.status, 401, "{}", r.raw);

    // Tokens signed with the configured key: valid claims work, the same claims
    // expired, or from before their nbf, are refused.
    let now = (sftpgo_core::now_millis() / 1000) as i64;
    let signer = sftpgo_httpd::jwt::Signer::new(KEY.as_bytes().to_vec());
    let admin = api.call(
        "GET",
        "/api/v2/admins/root",
        &["-H", &t, "-H", &from("10.0.0.1")],
        None,
    );
    let claims = |iat: i64, exp: i64| sftpgo_httpd::jwt::Claims {
        aud: vec!["API".into(), "10.0.0.1".into()],
        username: "root".into(),
        sub: admin.body["updated_at"].to_string(),
        iat,
        nbf: iat,
        exp,
        jti: format!("test-{iat}-{exp}"),
    };
    let signed = |c| format!("Authorization: Bearer {}", signer.sign(&c));
    let fresh = signed(claims(now - 10, now + 60));
    assert_eq!(status(&fresh, "10.0.0.1", "/api/v2/users").status, 200);
    let expired = signed(claims(now - 120, now - 1));
    assert_eq!(status(&expired, "10.0.0.1", "/api/v2/users").status, 401);
    let early = signed(claims(now + 600, now + 900));
    assert_eq!(status(&early, "10.0.0.1", "/api/v2/users").status, 401);

    // Logout ends a token at once.
    assert_eq!(status(&fresh, "10.0.0.1", "/api/v2/logout").status, 200);
    let r = status(&fresh, "10.0.0.1", "/api/v2/users");
    assert_eq!(r.status, 401);
    assert_eq!(r.body["error"], "Your token is no longer valid");
}

#[test]
fn token_validation_can_skip_the_address_and_follow_account_changes() {
    let (_srv, api) = start_api_with(
        Server::builder()
            .env("SFTPGO_HTTPD__TOKEN_VALIDATION", "3")
            .env("SFTPGO_HTTPD__BINDINGS__0__PROXY_ALLOWED", "127.0.0.1")
            .env(
                "SFTPGO_HTTPD__BINDINGS__0__CLIENT_IP_PROXY_HEADER",
                "X-Forwarded-For",
            ),
    );
    let t = api.token("root", "root-pass-1");
    let other = ["-H", t.as_str(), "-H", "X-Forwarded-For: 10.9.9.9"];
    assert_eq!(api.call("GET", "/api/v2/users", &other, None).status, 200);
    // Any change to the account ends the tokens issued before it.
    let r = api.call(
        "PUT",
        "/api/v2/admin/profile",
        &bearer(&t),
        Some(&json!({"description": "changed"})),
    );
    assert_eq!(r.status, 200, "{}", r.raw);
    let r = api.call("GET", "/api/v2/users", &bearer(&t), None);
    assert_eq!(r.status, 401, "{}", r.raw);
    let t2 = api.token("root", "root-pass-1");
    assert_eq!(
        api.call("GET", "/api/v2/users", &bearer(&t2), None).status,
        200
    );
}

#[test]
fn security_headers_allowed_hosts_and_https_redirect() {
    let (_srv, api) = start_api_with(
        Server::builder()
            .env("SFTPGO_HTTPD__BINDINGS__0__SECURITY__ENABLED", "true")
            .env(
                "SFTPGO_HTTPD__BINDINGS__0__SECURITY__ALLOWED_HOSTS",
                "files\\.example\\.com(:[0-9]+)?",
            )
            .env(
                "SFTPGO_HTTPD__BINDINGS__0__SECURITY__ALLOWED_HOSTS_ARE_REGEX",
                "true",
            )
            .env(
                "SFTPGO_HTTPD__BINDINGS__0__SECURITY__HTTPS_REDIRECT",
                "true",
            )
            .env(
                "SFTPGO_HTTPD__BINDINGS__0__SECURITY__CONTENT_TYPE_NOSNIFF",
                "true",
            )
            .env(
                "SFTPGO_HTTPD__BINDINGS__0__SECURITY__CONTENT_SECURITY_POLICY",
                "default-src 'self'; script-src $NONCE",
            )
            .env(
                "SFTPGO_HTTPD__BINDINGS__0__SECURITY__REFERRER_POLICY",
                "no-referrer",
            )
            .env(
                "SFTPGO_HTTPD__BINDINGS__0__SECURITY__CACHE_CONTROL",
                "private",
            )
            .env("SFTPGO_HTTPD__BINDINGS__0__PROXY_ALLOWED", "127.0.0.1"),
    );
    // Another host is refused.
    let head = curl_head(&api, "/healthz", &["-H", "Host: evil.example.com"]);
    assert!(head.starts_with("http/1.1 403"), "{head}");
    // An allowed host over plain HTTP is sent to HTTPS, with the path and query kept.
    let head = curl_head(
        &api,
        "/api/v2/users?limit=1",
        &["-H", "Host: files.example.com:8443"],
    );
    assert!(head.starts_with("http/1.1 307"), "{head}");
    assert!(
        head.contains("location: https://files.example.com:8443/api/v2/users?limit=1"),
        "{head}"
    );
    // Behind a trusted TLS-terminating proxy the request is served, with the headers.
    let head = curl_head(
        &api,
        "/healthz",
        &[
            "-H",
            "Host: files.example.com",
            "-H",
            "X-Forwarded-Proto: https",
        ],
    );
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("x-content-type-options: nosniff"), "{head}");
    assert!(head.contains("referrer-policy: no-referrer"), "{head}");
    assert!(
        head.contains("content-security-policy: default-src 'self'; script-src 'nonce-"),
        "{head}"
    );
    assert!(
        head.contains("cache-control: no-cache, no-store, max-age=0, must-revalidate, private"),
        "{head}"
    );
}

#[test]
fn proxy_protocol_on_http_bindings() {
    let (_srv, api) = start_api_with(
        Server::builder()
            .env("SFTPGO_COMMON__PROXY_PROTOCOL", "1")
            .env("SFTPGO_COMMON__PROXY_ALLOWED", "127.0.0.1")
            .env("SFTPGO_HTTPD__BINDINGS__0__PROXY_MODE", "1"),
    );
    let admin = api.token("root", "root-pass-1");
    let fenced = json!({"username": "fenced", "password": "fenced-pass-1", "status": 1,
        "permissions": ["*"], "filters": {"allow_list": ["10.1.2.3/32"]}});
    let r = api.call("POST", "/api/v2/admins", &bearer(&admin), Some(&fenced));
    assert_eq!(r.status, 201, "{}", r.raw);
    // Without a header the connection's own address counts: refused by the allow list.
    let r = api.call(
        "GET",
        "/api/v2/token",
        &["-u", "fenced:fenced-pass-1"],
        None,
    );
    assert_eq!(r.status, 401, "{}", r.raw);
    // A PROXY v1 header naming the allowed client, then the request.
    let port = api.base.rsplit(':').next().unwrap().to_string();
    let script = "import base64, socket, sys\n\
        port = int(sys.argv[1])\n\
        s = socket.create_connection(('127.0.0.1', port))\n\
        auth = base64.b64encode(b'fenced:fenced-pass-1').decode()\n\
        s.sendall(('PROXY TCP4 10.1.2.3 127.0.0.1 40000 %d\\r\\n' % port).encode())\n\
        s.sendall(('GET /api/v2/token HTTP/1.1\\r\\nHost: x\\r\\nAuthorization: Basic '\n\
                   + auth + '\\r\\nConnection: close\\r\\n\\r\\n').encode())\n\
        data = b''\n\
        while True:\n    chunk = s.recv(65536)\n    if not chunk: break\n    data += chunk\n\
        print(data.split(b'\\r\\n')[0].decode())\n";
    let out = run(
        Command::new("python3").args(["-c", script, &port]),
        Duration::from_secs(30),
    );
    out.assert_ok("raw PROXY request");
    assert_eq!(out.stdout.trim(), "HTTP/1.1 200 OK", "{}", out.report());
}

#[test]
fn the_api_description_renders_in_a_browser_under_a_strict_csp() {
    require_tools(&["chromium"]);
    let (srv, api) = start_api_with(
        Server::builder()
            .env("SFTPGO_HTTPD__BINDINGS__0__SECURITY__ENABLED", "true")
            .env(
                "SFTPGO_HTTPD__BINDINGS__0__SECURITY__CONTENT_SECURITY_POLICY",
                "default-src 'self'",
            ),
    );
    let json = api.call("GET", "/openapi/openapi.json", &[], None);
    assert_eq!(json.status, 200);
    let operations: usize = json.body["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| {
            ["get", "post", "put", "patch", "delete"]
                .iter()
                .filter(|m| item.get(**m).is_some())
                .count()
        })
        .sum();
    assert!(operations > 100, "{operations}");
    let profile = srv.root().join("chromium-profile");
    let out = run(
        Command::new("chromium").args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=15000",
            &format!("--user-data-dir={}", profile.display()),
            "--dump-dom",
            &format!("{}/openapi", api.base),
        ]),
        Duration::from_secs(120),
    );
    out.assert_ok("chromium --dump-dom");
    let dom = out.stdout;
    assert!(
        dom.contains(&format!("{operations} operations.")),
        "the viewer rendered every operation: {}",
        dom.chars().take(2000).collect::<String>()
    );
    assert_eq!(dom.matches("class=\"op\"").count(), operations);
    assert!(dom.contains("/eventrules/run/{name}") && dom.contains("RetentionCheck"));
}
