//! `/api/v2/connections` through the real binary: an OpenSSH `sftp` session and user API
//! requests show up in one listing, count against `max_sessions` together, and an
//! admin's close really ends the SFTP session.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::api::*;
use common::*;
use serde_json::{Value, json};

/// An interactive `sftp` session of `user` kept open by holding its stdin.
fn open_sftp(srv: &Server, user: &str) -> Child {
    require_tools(&["sftp"]);
    Command::new("sftp")
        .arg("-b")
        .arg("-")
        .arg("-P")
        .arg(srv.port.to_string())
        .args(ssh_client_opts(&srv.client_key))
        .arg(format!("{user}@127.0.0.1"))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn sftp")
}

/// Polls the connection list until `pred` holds (10 s at most).
fn wait_for_list(api: &Api, auth: &str, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = api.call("GET", "/api/v2/connections", &bearer(auth), None);
        assert_eq!(r.status, 200, "{}", r.raw);
        let list = r.body.as_array().cloned().unwrap_or_default();
        if pred(&list) {
            return list;
        }
        assert!(
            Instant::now() < deadline,
            "connections never matched: {}",
            r.raw
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn connections_are_listed_limited_and_closed() {
    let builder = Server::builder().user("bob", |u| u["max_sessions"] = json!(1));
    let (srv, api) = start_api_with(builder);
    let root = api.token("root", "root-pass-1");
    let mut sftp = open_sftp(&srv, USER);
    let list = wait_for_list(&api, &root, |l| {
        l.iter()
            .any(|c| c["username"] == USER && c["protocol"] == "SFTP")
    });
    let c = list.iter().find(|c| c["username"] == USER).unwrap();
    assert!(
        c["client_version"]
            .as_str()
            .unwrap()
            .starts_with("SSH-2.0-OpenSSH"),
        "{c}"
    );
    assert!(
        c["remote_address"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:")
    );
    assert!(c["connection_time"].as_i64().unwrap() <= c["current_time"].as_i64().unwrap());
    let id = c["connection_id"].as_str().unwrap().to_string();

    // Permissions: view_conns to list, close_conns to close.
    let r = api.call(
        "POST",
        "/api/v2/admins",
        &bearer(&root),
        Some(
            &json!({"username": "viewer", "password": "viewer-pass-1", "status": 1,
            "permissions": ["view_conns"]}),
        ),
    );
    assert_eq!(r.status, 201, "{}", r.raw);
    let viewer = api.token("viewer", "viewer-pass-1");
    assert_eq!(
        api.call("GET", "/api/v2/connections", &bearer(&viewer), None)
            .status,
        200
    );
    let r = api.call(
        "DELETE",
        &format!("/api/v2/connections/{id}"),
        &bearer(&viewer),
        None,
    );
    assert_eq!(r.status, 403, "{}", r.raw);
    let r = api.call(
        "DELETE",
        "/api/v2/connections/no-such-id",
        &bearer(&root),
        None,
    );
    assert_eq!(r.status, 404, "{}", r.raw);

    // The close ends the real sftp client's session.
    let r = api.call(
        "DELETE",
        &format!("/api/v2/connections/{id}"),
        &bearer(&root),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.raw);
    wait_for_list(&api, &root, |l| l.iter().all(|c| c["username"] != USER));
    // sftp blocks on its stdin; its next command finds the session gone.
    {
        use std::io::Write;
        let mut stdin = sftp.stdin.take().expect("sftp stdin");
        let _ = stdin.write_all(b"ls\n");
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(st) = sftp.try_wait().expect("wait sftp") {
            break st;
        }
        if Instant::now() > deadline {
            let _ = sftp.kill();
            panic!("sftp still running after its connection was closed");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(!status.success(), "sftp saw the session end: {status}");

    // bob's single session: taken by SFTP, the user API gets a 429, and back after.
    let t = api.call(
        "GET",
        "/api/v2/user/token",
        &["-u", &format!("bob:{PASSWORD}")],
        None,
    );
    assert_eq!(t.status, 200, "{}", t.raw);
    let bob = format!(
        "Authorization: Bearer {}",
        t.body["access_token"].as_str().unwrap()
    );
    assert_eq!(
        api.call("GET", "/api/v2/user/dirs", &bearer(&bob), None)
            .status,
        200
    );
    let mut bob_sftp = open_sftp(&srv, "bob");
    wait_for_list(&api, &root, |l| l.iter().any(|c| c["username"] == "bob"));
    let r = api.call("GET", "/api/v2/user/dirs", &bearer(&bob), None);
    assert_eq!(r.status, 429, "{}", r.raw);
    drop(bob_sftp.stdin.take());
    let _ = bob_sftp.wait();
    wait_for_list(&api, &root, |l| l.iter().all(|c| c["username"] != "bob"));
    assert_eq!(
        api.call("GET", "/api/v2/user/dirs", &bearer(&bob), None)
            .status,
        200
    );
}

#[test]
fn an_admin_close_ends_a_webdav_request_in_flight() {
    use std::io::Read;
    let dav_port = free_port();
    let builder = Server::builder()
        .env("SFTPGO_WEBDAVD__BINDINGS__0__PORT", &dav_port.to_string())
        .env("SFTPGO_WEBDAVD__BINDINGS__0__ADDRESS", "127.0.0.1");
    let (srv, api) = start_api_with(builder);
    srv.ensure_home();
    let root = api.token("root", "root-pass-1");
    let mut tcp = common::dav::stalled_put(dav_port, "/held.bin");
    let list = wait_for_list(&api, &root, |l| {
        l.iter()
            .any(|c| c["username"] == USER && c["protocol"] == "DAV")
    });
    let id = list
        .iter()
        .find(|c| c["protocol"] == "DAV")
        .and_then(|c| c["connection_id"].as_str())
        .unwrap()
        .to_string();
    let r = api.call(
        "DELETE",
        &format!("/api/v2/connections/{id}"),
        &bearer(&root),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.raw);
    // The server drops the connection: the client reads its end (or a reset) at once.
    tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let started = Instant::now();
    let mut reply = Vec::new();
    let read = tcp.read_to_end(&mut reply);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "the connection outlived the close: {read:?}"
    );
    let reply = String::from_utf8_lossy(&reply);
    assert!(
        !reply.contains(" 201 "),
        "the closed upload succeeded: {reply}"
    );
    wait_for_list(&api, &root, |l| l.iter().all(|c| c["protocol"] != "DAV"));
}
