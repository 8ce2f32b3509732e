//! The user side of the REST API through the real binary: curl for multipart uploads,
//! renames, copies, metadata, recursive deletes and ZIP streams (checked with Python's
//! `zipfile`), the account endpoints (profile, password) read back by OpenSSH logins,
//! user-scoped API keys, WebClient restrictions, and per-user IP filters on every
//! protocol.

mod common;

use std::process::Command;
use std::time::Duration;

use common::api::*;
use common::*;
use serde_json::json;

/// A user token from Basic credentials.
fn user_token(api: &Api, user: &str, pass: &str) -> Reply {
    api.call(
        "GET",
        "/api/v2/user/token",
        &["-u", &format!("{user}:{pass}")],
        None,
    )
}

fn auth_header(token: &Reply) -> String {
    format!(
        "Authorization: Bearer {}",
        token.body["access_token"].as_str().expect("a token")
    )
}

/// curl `-F` multipart upload into `dir`; returns the HTTP status and body.
fn multipart(api: &Api, auth: &str, query: &str, forms: &[&str], cwd: &std::path::Path) -> String {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-w", "\n%{http_code}", "-H", auth]);
    for f in forms {
        cmd.args(["-F", f]);
    }
    cmd.arg(format!("{}/api/v2/user/files?{query}", api.base))
        .current_dir(cwd);
    let out = run(&mut cmd, Duration::from_secs(60));
    out.assert_ok("curl multipart");
    out.stdout
}

/// Checks a ZIP with Python's `zipfile` (every CRC), extracts it into `dest` and
/// returns its `name size` lines.
fn unzip_listing(path: &std::path::Path, dest: &std::path::Path) -> String {
    require_tools(&["python3"]);
    let script = "import sys,zipfile\n\
        z=zipfile.ZipFile(sys.argv[1])\n\
        assert z.testzip() is None\n\
        z.extractall(sys.argv[2])\n\
        for i in z.infolist(): print(i.filename, i.file_size)";
    let out = run(
        Command::new("python3")
            .args(["-c", script])
            .arg(path)
            .arg(dest),
        Duration::from_secs(60),
    );
    out.assert_ok("python zipfile");
    out.stdout
}

/// Whether an SSH log line of the server contains `text`.
fn ssh_log_has(srv: &Server, text: &str) -> bool {
    srv.log_tail()
        .lines()
        .any(|l| l.contains("\"sender\":\"SSH\"") && l.contains(text))
}

#[test]
fn user_file_actions_multipart_and_zip_streams() {
    let (srv, api) = start_with_api();
    let token = user_token(&api, USER, PASSWORD);
    assert_eq!(token.status, 200, "{}", token.raw);
    let ua = auth_header(&token);
    let uauth = bearer(&ua);
    let local = srv.local();

    // Multipart: two files into a new directory; a client file name with `..` keeps
    // only its last component.
    let a = write_data(&local.join("a.bin"), 700_000, 1);
    let b = write_data(&local.join("b.txt"), 5_000, 2);
    let out = multipart(
        &api,
        &ua,
        "path=%2Fup%2Fnested&mkdir_parents=true",
        &[
            "filenames=@a.bin",
            "filenames=@b.txt;filename=../../escape.txt",
            "note=ignored",
        ],
        &local,
    );
    assert!(out.ends_with("201"), "{out}");
    let home = srv.home();
    assert_file_eq(&home.join("up/nested/a.bin"), &a, "multipart a");
    assert_file_eq(&home.join("up/nested/escape.txt"), &b, "multipart b");
    assert!(!srv.homes_dir().join("escape.txt").exists());
    assert!(!home.join("escape.txt").exists());
    // Policy holds for multipart too: /ro is read-only, /patterns only takes *.txt.
    let out = multipart(&api, &ua, "path=/ro", &["filenames=@b.txt"], &local);
    assert!(out.ends_with("403"), "{out}");
    let out = multipart(&api, &ua, "path=/patterns", &["filenames=@a.bin"], &local);
    assert!(out.ends_with("403"), "{out}");
    let out = multipart(&api, &ua, "path=/up", &["note=no files"], &local);
    assert!(out.ends_with("400"), "{out}");
    // What was uploaded over HTTP is what SFTP reads.
    srv.sftp_batch(&["get /up/nested/a.bin a-sftp.bin"])
        .assert_ok("sftp get");
    assert_file_eq(&local.join("a-sftp.bin"), &a, "sftp read-back");

    // Rename a file, move a directory, copy into a directory and onto a new name.
    let r = api.call(
        "PATCH",
        "/api/v2/user/files?path=/up/nested/escape.txt&target=/up/b.txt",
        &uauth,
        None,
    );
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(
        r.body["message"],
        "\"/up/nested/escape.txt\" renamed to \"/up/b.txt\""
    );
    let r = api.call(
        "POST",
        "/api/v2/user/file-actions/move?path=/up/nested&target=/up/moved",
        &uauth,
        None,
    );
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_file_eq(&home.join("up/moved/a.bin"), &a, "moved dir");
    let r = api.call("POST", "/api/v2/user/dirs?path=/copies", &uauth, None);
    assert_eq!(r.status, 201, "{}", r.raw);
    assert_eq!(r.body["message"], "Directory \"/copies\" created");
    let r = api.call(
        "POST",
        "/api/v2/user/file-actions/copy?path=/up/moved&target=/copies",
        &uauth,
        None,
    );
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_file_eq(&home.join("copies/moved/a.bin"), &a, "copied into dir");
    let r = api.call(
        "POST",
        "/api/v2/user/file-actions/copy?path=/up/b.txt&target=/copies/deep/b2.txt",
        &uauth,
        None,
    );
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_file_eq(&home.join("copies/deep/b2.txt"), &b, "copied file");
    let r = api.call(
        "POST",
        "/api/v2/user/file-actions/copy?path=/up/b.txt&target=/ro/b.txt",
        &uauth,
        None,
    );
    assert_eq!(r.status, 403, "copy needs the copy permission: {}", r.raw);
    let r = api.call(
        "POST",
        "/api/v2/user/file-actions/copy?path=/up/b.txt",
        &uauth,
        None,
    );
    assert_eq!(r.status, 400, "target is required: {}", r.raw);

    // Modification time.
    let r = api.call(
        "PATCH",
        "/api/v2/user/files/metadata?path=/up/b.txt",
        &uauth,
        Some(&json!({"modification_time": 1_500_000_000_000_i64})),
    );
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(mtime_secs(&home.join("up/b.txt")), 1_500_000_000);
    let r = api.call(
        "PATCH",
        "/api/v2/user/files/metadata?path=/up/b.txt",
        &uauth,
        Some(&json!({"mtime": 1})),
    );
    assert_eq!(r.status, 400, "{}", r.raw);

    // A ZIP of a directory and a file, streamed, checked by Python's zipfile.
    let zip = local.join("out.zip");
    let r = run(
        Command::new("curl")
            .args(["-s", "-D", "-", "-o"])
            .arg(&zip)
            .args(["-H", &ua, "-H", "Content-Type: application/json"])
            .args(["--data-binary", r#"["/copies", "/up/b.txt", "/copies"]"#])
            .arg(format!("{}/api/v2/user/streamzip", api.base)),
        Duration::from_secs(60),
    );
    r.assert_ok("curl streamzip");
    assert!(r.stdout.contains("200"), "{}", r.stdout);
    assert!(
        r.stdout.contains("alice-download.zip"),
        "content-disposition: {}",
        r.stdout
    );
    let unzipped = local.join("unzipped");
    let listing = unzip_listing(&zip, &unzipped);
    let mut got: Vec<&str> = listing.lines().collect();
    got.sort_unstable();
    assert_eq!(
        got,
        [
            "copies/ 0",
            "copies/deep/ 0",
            "copies/deep/b2.txt 5000",
            "copies/moved/ 0",
            "copies/moved/a.bin 700000",
            "up/b.txt 5000"
        ],
        "zip listing:\n{listing}"
    );
    assert_file_eq(&unzipped.join("copies/moved/a.bin"), &a, "zipped a");
    assert_file_eq(&unzipped.join("copies/deep/b2.txt"), &b, "zipped b2");
    assert_file_eq(&unzipped.join("up/b.txt"), &b, "zipped b");
    // A missing path is a 404 before anything is sent; a directory the user may not
    // list, found while streaming, aborts the connection instead of ending the archive
    // as if it were complete.
    let r = api.call(
        "POST",
        "/api/v2/user/streamzip",
        &uauth,
        Some(&json!(["/missing"])),
    );
    assert_eq!(r.status, 404, "{}", r.raw);
    write_data(&home.join("noaccess/secret.bin"), 10, 3);
    let aborted = run(
        Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-H", &ua])
            .args(["--data-binary", r#"["/up", "/noaccess"]"#])
            .arg(format!("{}/api/v2/user/streamzip", api.base)),
        Duration::from_secs(60),
    );
    assert!(
        !aborted.success(),
        "curl must see the abort: {}",
        aborted.report()
    );

    // Deletes: a file on /user/dirs is fine (recursive delete), a directory on
    // /user/files is a 400, a directory tree goes with /user/dirs.
    let r = api.call("DELETE", "/api/v2/user/files?path=/copies", &uauth, None);
    assert_eq!(r.status, 400, "{}", r.raw);
    let r = api.call("DELETE", "/api/v2/user/dirs?path=/copies", &uauth, None);
    assert_eq!(r.status, 200, "{}", r.raw);
    assert!(!home.join("copies").exists());
    let r = api.call("DELETE", "/api/v2/user/dirs?path=/", &uauth, None);
    assert_eq!(r.status, 403, "the root stays: {}", r.raw);
    // Relative paths start at `/`, and `..` never leaves the home.
    let r = api.call("GET", "/api/v2/user/dirs?path=up", &uauth, None);
    assert_eq!(r.status, 200, "{}", r.raw);
    let r = api.call(
        "PATCH",
        "/api/v2/user/files?path=/up/b.txt&target=..%2F..%2Foutside.txt",
        &uauth,
        None,
    );
    assert_eq!(r.status, 200, "{}", r.raw);
    assert!(home.join("outside.txt").exists(), "`..` clamps at the root");
    assert!(!srv.homes_dir().join("outside.txt").exists());
}

#[test]
fn user_account_api_keys_and_web_client_options() {
    let builder = Server::builder()
        .user("bob", |u| {
            u["filters"]["web_client"] = json!([
                "info-change-disabled",
                "password-change-disabled",
                "write-disabled"
            ]);
        })
        .user("carol", |u| {
            u["filters"]["denied_ip"] = json!(["127.0.0.0/8", "::1/128"]);
        })
        .user("erin", |u| {
            u["permissions"] = json!({"/": ["list", "download", "upload", "copy", "create_dirs"]});
        })
        .user("dave", |u| {
            u["filters"]["totp_config"] = json!({"enabled": true, "config_name": "Default",
                "protocols": ["SSH", "HTTP"]});
        });
    let (srv, api) = start_api_with(builder);
    let root = api.token("root", "root-pass-1");

    // Profile: read, then change the e-mail and replace the public keys; the new key
    // logs in over SSH and the old one no longer does.
    let t = user_token(&api, USER, PASSWORD);
    let ua = auth_header(&t);
    let r = api.call("GET", "/api/v2/user/profile", &bearer(&ua), None);
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.body["public_keys"][0], srv.client_pub.trim());
    let (new_key, new_pub) = srv.new_key("profile_key");
    let r = api.call(
        "PUT",
        "/api/v2/user/profile",
        &bearer(&ua),
        Some(
            &json!({"email": "alice@example.com", "public_keys": [new_pub.trim()],
            "allow_api_key_auth": true}),
        ),
    );
    assert_eq!(r.status, 200, "{}", r.raw);
    let stored = api.call(
        "GET",
        &format!("/api/v2/users/{USER}"),
        &bearer(&root),
        None,
    );
    assert_eq!(stored.body["email"], "alice@example.com");
    assert_eq!(stored.body["filters"]["allow_api_key_auth"], true);
    srv.sftp_batch_as(USER, &new_key, &["ls"], CLIENT_TIMEOUT)
        .assert_ok("login with the key set through the profile");
    srv.sftp_batch(&["ls"])
        .assert_refused("the replaced key no longer logs in");
    let r = api.call(
        "PUT",
        "/api/v2/user/profile",
        &bearer(&ua),
        Some(&json!({"public_keys": ["not a key"]})),
    );
    assert_eq!(r.status, 400, "{}", r.raw);

    // A user-scoped API key, bound to alice: file APIs yes, account changes no.
    let r = api.call(
        "POST",
        "/api/v2/apikeys",
        &bearer(&root),
        Some(&json!({"name": "alice-key", "scope": 2, "user": USER})),
    );
    assert_eq!(r.status, 201, "{}", r.raw);
    let key_header = format!("X-SFTPGO-API-KEY: {}", r.body["key"].as_str().unwrap());
    let r = api.call("GET", "/api/v2/user/dirs", &bearer(&key_header), None);
    assert_eq!(r.status, 200, "{}", r.raw);
    let r = api.call("GET", "/api/v2/user/profile", &bearer(&key_header), None);
    assert_eq!(r.status, 403, "{}", r.raw);
    let r = api.call("GET", "/api/v2/users", &bearer(&key_header), None);
    assert_eq!(r.status, 401, "a user key is no admin key: {}", r.raw);

    // Password change: the current one must match; then the token used is revoked,
    // the old password stops working and the new one works, over HTTP and SSH.
    let r = api.call(
        "PUT",
        "/api/v2/user/changepwd",
        &bearer(&ua),
        Some(&json!({"current_password": "wrong", "new_password": "n3w-pass"})),
    );
    assert_eq!(r.status, 400, "{}", r.raw);
    let r = api.call(
        "PUT",
        "/api/v2/user/changepwd",
        &bearer(&ua),
        Some(&json!({"current_password": PASSWORD, "new_password": "n3w-pass"})),
    );
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(
        api.call("GET", "/api/v2/user/dirs", &bearer(&ua), None)
            .status,
        401
    );
    assert_eq!(user_token(&api, USER, PASSWORD).status, 401);
    assert_eq!(user_token(&api, USER, "n3w-pass").status, 200);
    let stored = api.call(
        "GET",
        &format!("/api/v2/users/{USER}"),
        &bearer(&root),
        None,
    );
    assert_eq!(
        stored.body["email"], "alice@example.com",
        "the rest is kept"
    );

    // bob's WebClient options: no info or password changes, no writes; keys may change.
    let bt = auth_header(&user_token(&api, "bob", PASSWORD));
    let r = api.call(
        "PUT",
        "/api/v2/user/profile",
        &bearer(&bt),
        Some(&json!({"email": "bob@example.com", "public_keys": []})),
    );
    assert_eq!(r.status, 200, "{}", r.raw);
    let stored = api.call("GET", "/api/v2/users/bob", &bearer(&root), None);
    assert_ne!(
        stored.body["email"], "bob@example.com",
        "info changes are locked"
    );
    assert!(
        stored.body["public_keys"]
            .as_array()
            .is_none_or(Vec::is_empty)
    );
    let r = api.call(
        "PUT",
        "/api/v2/user/changepwd",
        &bearer(&bt),
        Some(&json!({"current_password": PASSWORD, "new_password": "other-1"})),
    );
    assert_eq!(r.status, 403, "{}", r.raw);
    let r = api.call("POST", "/api/v2/user/dirs?path=/x", &bearer(&bt), None);
    assert_eq!(r.status, 403, "{}", r.raw);

    // carol's denied_ip covers loopback: no token, no SSH login.
    assert_eq!(user_token(&api, "carol", PASSWORD).status, 401);
    srv.sftp_batch_as("carol", &srv.client_key, &["ls"], CLIENT_TIMEOUT)
        .assert_refused("denied_ip refuses SSH logins");
    assert!(
        ssh_log_has(&srv, "login from 127.0.0.1 is not allowed"),
        "the refusal is logged with its reason: {}",
        srv.log_tail()
    );

    // erin may copy and upload but not overwrite: a copy onto an existing file is
    // refused like an overwriting upload would be.
    let et = auth_header(&user_token(&api, "erin", PASSWORD));
    let up = upload(
        &api,
        &et,
        "/a.txt",
        &["--data-binary", "first"],
        &srv.local(),
    );
    assert!(up.stdout.trim_end().ends_with("201"), "{}", up.report());
    let copy = |target: &str| {
        api.call(
            "POST",
            &format!("/api/v2/user/file-actions/copy?path=/a.txt&target={target}"),
            &bearer(&et),
            None,
        )
    };
    assert_eq!(copy("/b.txt").status, 200);
    assert_eq!(copy("/b.txt").status, 403, "overwrite is needed to replace");
    assert_eq!(
        copy("/sub/c.txt").status,
        200,
        "create_dirs for the new parent"
    );
    assert_eq!(
        std::fs::read_to_string(srv.home_of("erin").join("sub/c.txt")).unwrap(),
        "first"
    );

    // dave has two-factor authentication on for SSH and HTTP. The token needs the
    // passcode; over SSH, a key still logs in (as in SFTPGo), but a password login,
    // which cannot be followed by the passcode yet, is refused.
    assert_eq!(user_token(&api, "dave", PASSWORD).status, 401);
    srv.sftp_batch_as("dave", &srv.client_key, &["ls"], CLIENT_TIMEOUT)
        .assert_ok("2FA does not apply to public keys");
    let out = srv.paramiko(&[
        "--user",
        "dave",
        "--expect-auth-failure",
        "--password",
        PASSWORD,
    ]);
    out.assert_ok("password logins of 2FA users are refused over SSH");
    assert!(
        ssh_log_has(
            &srv,
            "two-factor authentication is required for password logins over SSH"
        ),
        "{}",
        srv.log_tail()
    );
}
