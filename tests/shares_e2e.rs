//! Shares through the real binary and curl: a user shares a directory with a password,
//! anonymous clients download it as a ZIP (checked with Python's zipfile), browse it
//! and fetch files from it without leaving it; a write share takes uploads up to its
//! use limit; scope, expiry and the owner's WebClient options are enforced.

mod common;

use std::process::Command;
use std::time::Duration;

use common::api::*;
use common::*;
use serde_json::json;

/// curl a public share URL; returns (status, headers and body text).
fn public(api: &Api, path: &str, extra: &[&str]) -> (u16, String) {
    let out = run(
        Command::new("curl")
            .args(["-s", "-i", "-w", "\n%{http_code}"])
            .args(extra)
            .arg(format!("{}/api/v2/shares/{path}", api.base)),
        Duration::from_secs(60),
    );
    out.assert_ok("curl share");
    let (text, code) = out.stdout.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), text.to_string())
}

#[test]
fn shares_read_browse_upload_and_limits() {
    let builder = Server::builder().user("bob", |u| {
        u["filters"]["web_client"] = json!(["shares-disabled"]);
    });
    let (srv, api) = start_api_with(builder);
    let home = srv.ensure_home();
    let a = write_data(&home.join("pub/a.txt"), 1234, 1);
    let b = write_data(&home.join("pub/sub/b.bin"), 300_000, 2);
    write_data(&home.join("private.txt"), 10, 3);
    let ua = api.user_token(USER, PASSWORD);
    let root = api.token("root", "root-pass-1");

    // A password-protected read share of /pub.
    let r = api.call(
        "POST",
        "/api/v2/user/shares",
        &bearer(&ua),
        Some(&json!({"name": "docs", "scope": 1, "paths": ["/pub"], "password": "share-pass-1"})),
    );
    assert_eq!(r.status, 201, "{}", r.raw);
    let list = api.call("GET", "/api/v2/user/shares", &bearer(&ua), None);
    assert_eq!(list.body.as_array().unwrap().len(), 1, "{}", list.raw);
    let id = list.body[0]["id"].as_str().unwrap().to_string();
    assert_eq!(list.body[0]["password"], "[**redacted**]");
    assert_eq!(list.body[0]["username"], USER);

    let (status, text) = public(&api, &id, &[]);
    assert_eq!(status, 401);
    assert!(
        text.to_lowercase().contains("www-authenticate: basic"),
        "{text}"
    );
    assert_eq!(public(&api, &id, &["-u", "x:wrong"]).0, 401);
    let zip = srv.local().join("share.zip");
    let out = run(
        Command::new("curl")
            .args(["-s", "-f", "-u", "x:share-pass-1", "-o"])
            .arg(&zip)
            .arg(format!("{}/api/v2/shares/{id}", api.base)),
        Duration::from_secs(60),
    );
    out.assert_ok("share download");
    let check = run(
        Command::new("python3")
            .args([
                "-c",
                "import sys,zipfile\nz=zipfile.ZipFile(sys.argv[1])\nassert z.testzip() is None\nz.extractall(sys.argv[2])\nprint(sorted(z.namelist()))",
            ])
            .arg(&zip)
            .arg(srv.local().join("unzipped")),
        Duration::from_secs(60),
    );
    check.assert_ok("zipfile");
    assert_eq!(check.stdout.trim(), "['a.txt', 'sub/', 'sub/b.bin']");
    assert_file_eq(&srv.local().join("unzipped/sub/b.bin"), &b, "zipped b");

    // Browsing stays inside the shared directory.
    let creds = ["-u", "x:share-pass-1"];
    let (status, text) = public(&api, &format!("{id}/dirs?path=sub"), &creds);
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("\"b.bin\""), "{text}");
    let (status, _) = public(&api, &format!("{id}/dirs?path=..%2F"), &creds);
    assert_eq!(status, 403, "the parent of the share is out of reach");
    let (status, _) = public(&api, &format!("{id}/files?path=..%2Fprivate.txt"), &creds);
    assert_eq!(status, 403);
    let got = srv.local().join("a.txt");
    let out = run(
        Command::new("curl")
            .args(["-s", "-f", "-u", "x:share-pass-1", "-o"])
            .arg(&got)
            .arg(format!("{}/api/v2/shares/{id}/files?path=a.txt", api.base)),
        Duration::from_secs(60),
    );
    out.assert_ok("share file download");
    assert_file_eq(&got, &a, "shared file");
    let uses = api.call(
        "GET",
        &format!("/api/v2/user/shares/{id}"),
        &bearer(&ua),
        None,
    );
    assert_eq!(uses.body["used_tokens"], 2, "{}", uses.raw);
    // A read share takes no uploads.
    let (status, _) = public(
        &api,
        &format!("{id}/x.txt"),
        &["-u", "x:share-pass-1", "--data-binary", "x"],
    );
    assert_eq!(status, 403);

    // A write share without password, two uses.
    let r = api.call(
        "POST",
        "/api/v2/user/shares",
        &bearer(&ua),
        Some(&json!({"name": "inbox", "scope": 2, "paths": ["/inbox"], "max_tokens": 3})),
    );
    assert_eq!(r.status, 201, "{}", r.raw);
    let all = api.call("GET", "/api/v2/user/shares", &bearer(&ua), None);
    let wid = all
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "inbox")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    std::fs::create_dir_all(home.join("inbox")).unwrap();
    let up = srv.local().join("up.bin");
    let up_data = write_data(&up, 5000, 4);
    let form = format!("filenames=@{}", up.display());
    let (status, text) = public(&api, &wid, &["-F", &form]);
    assert_eq!(status, 201, "{text}");
    assert_file_eq(
        &home.join("inbox/up.bin"),
        &up_data,
        "uploaded through the share",
    );
    let (status, text) = public(
        &api,
        &format!("{wid}/raw.bin"),
        &["--data-binary", "raw body"],
    );
    assert_eq!(status, 201, "{text}");
    assert_eq!(
        std::fs::read(home.join("inbox/raw.bin")).unwrap(),
        b"raw body"
    );
    // One use left: of a two-file form, the first is stored and the second refused,
    // and the uses cannot be overrun.
    let second = srv.local().join("second.bin");
    write_data(&second, 100, 5);
    let form2 = format!("filenames=@{}", second.display());
    let form3 = format!("filenames=@{};filename=third.bin", second.display());
    let (status, text) = public(&api, &wid, &["-F", &form2, "-F", &form3]);
    assert_eq!(status, 403, "{text}");
    assert!(home.join("inbox/second.bin").exists());
    assert!(!home.join("inbox/third.bin").exists());
    let (status, _) = public(&api, &format!("{wid}/fourth.bin"), &["--data-binary", "x"]);
    assert_eq!(status, 403, "max_tokens reached");
    let uses = api.call(
        "GET",
        &format!("/api/v2/user/shares/{wid}"),
        &bearer(&ua),
        None,
    );
    assert_eq!(uses.body["used_tokens"], 3, "{}", uses.raw);
    let (status, _) = public(
        &api,
        &format!("{wid}/..%2F..%2Fescape.bin"),
        &["--data-binary", "x"],
    );
    assert!(
        status == 403 || status == 404,
        "never outside the share: {status}"
    );
    assert!(!home.join("escape.bin").exists());
    let (status, _) = public(&api, &wid, &[]);
    assert_eq!(status, 403, "a write share cannot be downloaded");

    // Expiry, deletion, and a user whose shares are disabled.
    let r = api.call(
        "PUT",
        &format!("/api/v2/user/shares/{id}"),
        &bearer(&ua),
        Some(
            &json!({"name": "docs", "scope": 1, "paths": ["/pub"], "password": "[**redacted**]",
            "expires_at": 1_000}),
        ),
    );
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(public(&api, &id, &creds).0, 403, "expired");
    // "[**redacted**]" kept the password; an empty one removes it, as in SFTPGo.
    let r = api.call(
        "PUT",
        &format!("/api/v2/user/shares/{id}"),
        &bearer(&ua),
        Some(&json!({"name": "docs", "scope": 1, "paths": ["/pub"], "password": ""})),
    );
    assert_eq!(r.status, 200, "{}", r.raw);
    let (status, _) = public(&api, &format!("{id}/files?path=a.txt"), &[]);
    assert_eq!(status, 200, "no password any more");
    let r = api.call(
        "DELETE",
        &format!("/api/v2/user/shares/{id}"),
        &bearer(&ua),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(public(&api, &id, &creds).0, 404);
    // An admin caps share lifetimes at one day: shares must expire, and within it.
    let r = api.call(
        "GET",
        &format!("/api/v2/users/{USER}"),
        &bearer(&root),
        None,
    );
    let mut edited = r.body.clone();
    edited["filters"]["max_shares_expiration"] = json!(1);
    let r = api.call(
        "PUT",
        &format!("/api/v2/users/{USER}"),
        &bearer(&root),
        Some(&edited),
    );
    assert_eq!(r.status, 200, "{}", r.raw);
    let share = |expires_at: i64| {
        api.call(
            "POST",
            "/api/v2/user/shares",
            &bearer(&ua),
            Some(&json!({"name": "capped", "scope": 1, "paths": ["/pub"],
                "password": "p4ss-word", "expires_at": expires_at})),
        )
        .status
    };
    assert_eq!(share(0), 400, "never expiring");
    assert_eq!(share(now_millis() + 3 * 86_400_000), 400, "beyond the cap");
    assert_eq!(share(now_millis() + 3_600_000), 201);
    let bob = api.user_token("bob", PASSWORD);
    let r = api.call(
        "POST",
        "/api/v2/user/shares",
        &bearer(&bob),
        Some(&json!({"name": "x", "scope": 1, "paths": ["/"]})),
    );
    assert_eq!(r.status, 403, "{}", r.raw);
}
