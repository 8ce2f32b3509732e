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
