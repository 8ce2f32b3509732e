//! The defender through the real binary: failed REST logins from a client named by a
//! trusted proxy get it banned (403 for that client only), admins list, read and lift
//! bans over the API, and failed SSH logins ban the address for every protocol.

mod common;

use common::api::*;
use common::*;

#[test]
fn failed_logins_ban_hosts_across_protocols() {
    let builder = Server::builder()
        .env("SFTPGO_COMMON__DEFENDER__ENABLED", "true")
        .env("SFTPGO_COMMON__DEFENDER__THRESHOLD", "5")
        .env("SFTPGO_COMMON__DEFENDER__LOGIN_DELAY__PASSWORD_FAILED", "0")
        .env("SFTPGO_HTTPD__BINDINGS__0__PROXY_ALLOWED", "127.0.0.1")
        .env(
            "SFTPGO_HTTPD__BINDINGS__0__CLIENT_IP_PROXY_HEADER",
            "X-Forwarded-For",
        );
    let (srv, api) = start_api_with(builder);
    let root = api.token("root", "root-pass-1");
    let token_from = |ip: &str, user: &str| {
        let creds = format!("{user}:{PASSWORD}");
        let xff = format!("X-Forwarded-For: {ip}");
        api.call(
            "GET",
            "/api/v2/user/token",
            &["-u", creds.as_str(), "-H", xff.as_str()],
            None,
        )
        .status
    };
    // Unknown users score 2 each: the third reaches the threshold of 5.
    for _ in 0..3 {
        assert_eq!(token_from("203.0.113.9", "nobody"), 401);
    }
    assert_eq!(
        token_from("203.0.113.9", USER),
        403,
        "banned, even with good credentials"
    );
    assert_eq!(
        token_from("203.0.113.10", USER),
        200,
        "other clients are not affected"
    );

    let r = api.call("GET", "/api/v2/defender/hosts", &bearer(&root), None);
    assert_eq!(r.status, 200, "{}", r.raw);
    let host = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["ip"] == "203.0.113.9")
        .unwrap_or_else(|| panic!("banned host listed: {}", r.raw))
        .clone();
    assert!(host["ban_time"].as_str().unwrap().ends_with('Z'), "{host}");
    let id = host["id"].as_str().unwrap();
    assert_eq!(id, "3230332e302e3131332e39", "hex of the address text");
    let path = format!("/api/v2/defender/hosts/{id}");
    assert_eq!(api.call("GET", &path, &bearer(&root), None).status, 200);
    assert_eq!(
        api.call("GET", "/api/v2/defender/hosts/zz", &bearer(&root), None)
            .status,
        400
    );
    assert_eq!(api.call("DELETE", &path, &bearer(&root), None).status, 200);
    assert_eq!(api.call("DELETE", &path, &bearer(&root), None).status, 404);
    assert_eq!(token_from("203.0.113.9", USER), 200, "the ban is lifted");

    // SSH: failed password logins of an unknown user from loopback ban loopback, for
    // SSH and HTTP alike.
    for _ in 0..3 {
        srv.paramiko(&[
            "--user",
            "ghost",
            "--expect-auth-failure",
            "--password",
            "nope",
        ])
        .assert_ok("refused login");
    }
    srv.sftp_batch(&["ls"])
        .assert_refused("a banned address cannot open SSH connections");
    // The REST API refuses the banned address too.
    api.refuses_connections();
    assert!(srv.log_tail().contains("host banned"), "{}", srv.log_tail());
}

/// `sftp` as alice with a key: did the session work?
fn ssh_ok(srv: &Server) -> bool {
    srv.sftp_batch(&["pwd"]).success()
}

/// Waits until `ssh_ok` gives `want` (IP lists are reloaded within a second).
fn wait_ssh(srv: &Server, want: bool, what: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while ssh_ok(srv) != want {
        assert!(std::time::Instant::now() < deadline, "{what}");
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
}

#[test]
fn ip_lists_gate_connections_per_protocol() {
    // The allow list is on and holds 127.0.0.1 for SSH and HTTP.
    let builder = Server::builder()
        .env("SFTPGO_COMMON__ALLOWLIST_STATUS", "1")
        .env("SFTPGO_COMMON__DEFENDER__ENABLED", "true")
        .env("SFTPGO_COMMON__DEFENDER__THRESHOLD", "5")
        .env("SFTPGO_COMMON__DEFENDER__SCORE_INVALID", "2")
        .env("SFTPGO_COMMON__DEFENDER__SCORE_VALID", "2")
        .env("SFTPGO_COMMON__DEFENDER__LOGIN_DELAY__PASSWORD_FAILED", "0")
        .dump_section(
            "ip_lists",
            serde_json::json!([{"ipornet": "127.0.0.1/32", "type": 1, "mode": 1, "protocols": 9}]),
        );
    let (srv, api) = start_api_with(builder);
    let root = api.token("root", "root-pass-1");
    let auth = bearer(&root);
    assert!(ssh_ok(&srv));
    // For HTTP only: SSH from this address is refused.
    let r = api.call(
        "PUT",
        "/api/v2/iplists/1/127.0.0.1%2F32",
        &auth,
        Some(&serde_json::json!({"mode": 1, "protocols": 8})),
    );
    assert_eq!(r.status, 200, "{}", r.raw);
    wait_ssh(&srv, false, "SSH is no longer in the allow list");
    let add = |body: serde_json::Value, t: u8| {
        let r = api.call("POST", &format!("/api/v2/iplists/{t}"), &auth, Some(&body));
        assert_eq!(r.status, 201, "{}", r.raw);
    };
    add(
        serde_json::json!({"ipornet": "127.0.0.0/8", "mode": 1, "protocols": 1}),
        1,
    );
    wait_ssh(&srv, true, "allowed for SSH once listed");

    // The defender's deny list bans, for the protocols it names.
    add(
        serde_json::json!({"ipornet": "127.0.0.1/32", "mode": 2, "protocols": 1}),
        2,
    );
    wait_ssh(&srv, false, "denied for SSH");
    assert_eq!(
        api.call("GET", "/api/v2/users", &auth, None).status,
        200,
        "not for HTTP"
    );
    let r = api.call("DELETE", "/api/v2/iplists/2/127.0.0.1%2F32", &auth, None);
    assert_eq!(r.status, 200, "{}", r.raw);
    wait_ssh(&srv, true, "allowed again");

    // The defender's safe list is never scored: failed logins do not ban.
    add(serde_json::json!({"ipornet": "127.0.0.0/8", "mode": 1}), 2);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    for _ in 0..4 {
        let r = api.call("GET", "/api/v2/token", &["-u", "root:wrong-pass"], None);
        assert_eq!(r.status, 401);
    }
    assert!(ssh_ok(&srv), "a safe address is not banned");
    assert_eq!(
        api.call("GET", "/api/v2/defender/hosts", &auth, None).body,
        serde_json::json!([])
    );
}

#[test]
fn connections_that_never_try_to_log_in_score_no_auth() {
    let srv = Server::builder()
        .env("SFTPGO_COMMON__DEFENDER__ENABLED", "true")
        .env("SFTPGO_COMMON__DEFENDER__THRESHOLD", "5")
        .env("SFTPGO_COMMON__DEFENDER__SCORE_NO_AUTH", "2")
        .start();
    assert!(ssh_ok(&srv));
    // Three clients that read the banner and leave: 6 points, banned.
    for _ in 0..3 {
        use std::io::Read;
        let mut s = std::net::TcpStream::connect(("127.0.0.1", srv.port)).unwrap();
        let mut buf = [0u8; 64];
        let _ = s.read(&mut buf);
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while ssh_ok(&srv) {
        assert!(std::time::Instant::now() < deadline, "not banned");
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
}

#[test]
fn rate_limiters_slow_down_and_refuse() {
    // HTTP: two requests a minute per address; SSH: three connections a minute, the
    // readiness probe takes one.
    let (srv, api) = start_api_with(
        Server::builder()
            .env("SFTPGO_COMMON__RATE_LIMITERS__0__AVERAGE", "1")
            .env("SFTPGO_COMMON__RATE_LIMITERS__0__PERIOD", "60000")
            .env("SFTPGO_COMMON__RATE_LIMITERS__0__BURST", "2")
            .env("SFTPGO_COMMON__RATE_LIMITERS__0__PROTOCOLS", "HTTP")
            .env("SFTPGO_COMMON__RATE_LIMITERS__1__AVERAGE", "1")
            .env("SFTPGO_COMMON__RATE_LIMITERS__1__PERIOD", "60000")
            .env("SFTPGO_COMMON__RATE_LIMITERS__1__BURST", "3")
            .env("SFTPGO_COMMON__RATE_LIMITERS__1__PROTOCOLS", "SSH"),
    );
    let token = api.token("root", "root-pass-1");
    assert_eq!(
        api.call("GET", "/api/v2/version", &bearer(&token), None)
            .status,
        200
    );
    let r = run(
        std::process::Command::new("curl")
            .args(["-s", "-i"])
            .arg(format!("{}/api/v2/version", api.base))
            .args(["-H", &token]),
        std::time::Duration::from_secs(30),
    );
    let head = r.stdout.to_lowercase();
    assert!(head.starts_with("http/1.1 429"), "{head}");
    assert!(head.contains("retry-after: "), "{head}");
    assert!(ssh_ok(&srv) && ssh_ok(&srv), "two connections fit");
    assert!(
        !ssh_ok(&srv),
        "the fourth connection of the minute is refused"
    );
}

#[test]
fn the_rate_limiters_safe_list_is_never_limited() {
    let (_srv, api) = start_api_with(
        Server::builder()
            .env("SFTPGO_COMMON__RATE_LIMITERS__0__AVERAGE", "1")
            .env("SFTPGO_COMMON__RATE_LIMITERS__0__PERIOD", "60000")
            .env("SFTPGO_COMMON__RATE_LIMITERS__0__BURST", "2")
            .env("SFTPGO_COMMON__RATE_LIMITERS__0__PROTOCOLS", "HTTP")
            .dump_section(
                "ip_lists",
                serde_json::json!([{"ipornet": "127.0.0.0/8", "type": 3, "mode": 1, "protocols": 0}]),
            ),
    );
    let token = api.token("root", "root-pass-1");
    for _ in 0..5 {
        assert_eq!(
            api.call("GET", "/api/v2/version", &bearer(&token), None)
                .status,
            200
        );
    }
}

#[test]
fn a_ban_reaches_an_open_keep_alive_connection() {
    let (_srv, api) = start_api_with(
        Server::builder()
            .env("SFTPGO_COMMON__DEFENDER__ENABLED", "true")
            .env("SFTPGO_COMMON__DEFENDER__THRESHOLD", "5")
            .env("SFTPGO_COMMON__DEFENDER__SCORE_VALID", "2")
            .env("SFTPGO_COMMON__DEFENDER__LOGIN_DELAY__PASSWORD_FAILED", "0"),
    );
    // One curl, one connection, six requests with a wrong password: the third scores
    // the ban, and the requests after it on the same connection are refused.
    let url = format!("{}/api/v2/token", api.base);
    let mut cmd = std::process::Command::new("curl");
    cmd.args([
        "-s",
        "-u",
        "root:wrong-pass",
        "-w",
        "%{http_code} %{num_connects}\n",
    ]);
    for _ in 0..6 {
        cmd.args(["-o", "/dev/null", &url]);
    }
    let out = run(&mut cmd, std::time::Duration::from_secs(30));
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 6, "{}", out.report());
    assert!(
        lines.iter().skip(1).all(|l| l.ends_with(" 0")),
        "one connection: {lines:?}"
    );
    assert_eq!(&lines[..3], ["401 1", "401 0", "401 0"], "{lines:?}");
    assert!(lines[3..].iter().all(|l| l.starts_with("403")), "{lines:?}");
}
