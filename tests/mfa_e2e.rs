//! Two-factor authentication through the real binary: an admin and a user set up TOTP
//! over the REST API, token requests then need `X-SFTPGO-OTP` (checked with passcodes
//! computed here per RFC 6238), passcodes work once, recovery codes are issued and
//! renewed, secrets never come back in responses, SSH refuses users whose 2FA covers
//! SSH, and admins turn 2FA off.

mod common;

use std::process::Command;

use base64::Engine as _;
use common::api::*;
use common::*;
use serde_json::json;

fn now() -> i64 {
    now_millis() / 1000
}

fn code(secret: &str, at: i64) -> String {
    sftpgo_core::mfa::passcode_at("sha1", secret, at).expect("passcode")
}

fn token_with_otp(api: &Api, path: &str, user: &str, pass: &str, otp: Option<&str>) -> Reply {
    let creds = format!("{user}:{pass}");
    let header = otp.map(|o| format!("X-SFTPGO-OTP: {o}"));
    let mut auth = vec!["-u", creds.as_str()];
    if let Some(h) = &header {
        auth.extend(["-H", h.as_str()]);
    }
    api.call("GET", path, &auth, None)
}

#[test]
fn totp_for_admins_and_users() {
    let (srv, api) = start_with_api();
    let root = api.token("root", "root-pass-1");
    let auth = bearer(&root);

    let r = api.call("GET", "/api/v2/admin/totp/configs", &auth, None);
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(
        r.body,
        json!([{"name": "Default", "issuer": "SFTPGo", "algo": "sha1"}])
    );
    let r = api.call(
        "POST",
        "/api/v2/admin/totp/generate",
        &auth,
        Some(&json!({})),
    );
    assert_eq!(r.status, 200, "{}", r.raw);
    let secret = r.body["secret"].as_str().unwrap().to_string();
    assert!(
        r.body["url"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/SFTPGo:Admin%20%22root%22?"),
        "{}",
        r.raw
    );
    // The QR code a phone scans holds the same link.
    let png = srv.root().join("qr.png");
    let qr = r.body["qr_code"].as_str().unwrap();
    std::fs::write(
        &png,
        base64::engine::general_purpose::STANDARD
            .decode(qr)
            .unwrap(),
    )
    .unwrap();
    require_tools(&["zbarimg"]);
    let scan = run(
        Command::new("zbarimg").args(["--raw", "-q"]).arg(&png),
        CLIENT_TIMEOUT,
    );
    scan.assert_ok("zbarimg");
    assert_eq!(scan.stdout.trim(), r.body["url"].as_str().unwrap());
    let first = code(&secret, now());
    let check = json!({"config_name": "Default", "passcode": first, "secret": secret});
    let r = api.call("POST", "/api/v2/admin/totp/validate", &auth, Some(&check));
    assert_eq!(r.status, 200, "{}", r.raw);
    let r = api.call("POST", "/api/v2/admin/totp/validate", &auth, Some(&check));
    assert_eq!(r.status, 400, "a passcode works once: {}", r.raw);
    let r = api.call(
        "POST",
        "/api/v2/admin/totp/save",
        &auth,
        Some(&json!({"enabled": true, "config_name": "Nope",
            "secret": {"status": "Plain", "payload": secret}})),
    );
    assert_eq!(r.status, 400, "{}", r.raw);
    let r = api.call(
        "POST",
        "/api/v2/admin/totp/save",
        &auth,
        Some(&json!({"enabled": true, "config_name": "Default",
            "secret": {"status": "Plain", "payload": secret}})),
    );
    assert_eq!(r.status, 200, "{}", r.raw);
    let r = api.call("GET", "/api/v2/admin/2fa/recoverycodes", &auth, None);
    assert_eq!(r.status, 200, "{}", r.raw);
    let codes = r.body.as_array().unwrap().clone();
    assert_eq!(codes.len(), 12);
    assert!(
        codes
            .iter()
            .all(|c| c["used"] == false && c["code"].as_str().unwrap().starts_with("RC-"))
    );

    // The token now needs the passcode.
    assert_eq!(
        token_with_otp(&api, "/api/v2/token", "root", "root-pass-1", None).status,
        401
    );
    let r = token_with_otp(&api, "/api/v2/token", "root", "root-pass-1", Some("000000"));
    assert_eq!(r.status, 401);
    let next = code(&secret, now() + 30);
    let r = token_with_otp(&api, "/api/v2/token", "root", "root-pass-1", Some(&next));
    assert_eq!(r.status, 200, "{}", r.raw);
    let r = token_with_otp(&api, "/api/v2/token", "root", "root-pass-1", Some(&next));
    assert_eq!(r.status, 401, "replayed passcode");
    // The secret is stored sealed and never shown.
    let r = api.call("GET", "/api/v2/admins/root", &auth, None);
    let stored = &r.body["filters"]["totp_config"]["secret"];
    assert_eq!(stored["status"], "Secretbox", "{}", r.raw);
    assert_eq!(stored["payload"], "", "{}", r.raw);
    assert!(!r.raw.contains(&secret));
    let r = api.call("POST", "/api/v2/admin/2fa/recoverycodes", &auth, None);
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_ne!(r.body[0], codes[0]["code"]);

    // A user turns on 2FA for HTTP and SSH.
    let t = token_with_otp(&api, "/api/v2/user/token", USER, PASSWORD, None);
    assert_eq!(t.status, 200, "{}", t.raw);
    let ua = format!(
        "Authorization: Bearer {}",
        t.body["access_token"].as_str().unwrap()
    );
    let r = api.call("POST", "/api/v2/user/totp/generate", &bearer(&ua), None);
    assert_eq!(r.status, 200, "{}", r.raw);
    let user_secret = r.body["secret"].as_str().unwrap().to_string();
    let r = api.call(
        "POST",
        "/api/v2/user/totp/save",
        &bearer(&ua),
        Some(
            &json!({"enabled": true, "config_name": "Default", "protocols": ["HTTP", "SSH"],
            "secret": {"status": "Plain", "payload": user_secret}}),
        ),
    );
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(
        token_with_otp(&api, "/api/v2/user/token", USER, PASSWORD, None).status,
        401
    );
    let c = code(&user_secret, now());
    let r = token_with_otp(&api, "/api/v2/user/token", USER, PASSWORD, Some(&c));
    assert_eq!(r.status, 200, "{}", r.raw);
    // An admin rewriting the user without the 2FA fields (as automation does) keeps
    // them, and may require 2FA, which the user then cannot turn off.
    let r = api.call("GET", &format!("/api/v2/users/{USER}"), &auth, None);
    let mut edited = r.body.clone();
    let filters = edited["filters"].as_object_mut().unwrap();
    filters.remove("totp_config");
    filters.remove("recovery_codes");
    filters.insert("two_factor_protocols".into(), json!(["HTTP"]));
    let r = api.call(
        "PUT",
        &format!("/api/v2/users/{USER}"),
        &auth,
        Some(&edited),
    );
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(
        token_with_otp(&api, "/api/v2/user/token", USER, PASSWORD, None).status,
        401,
        "2FA survives an admin edit"
    );
    let r = api.call(
        "POST",
        "/api/v2/user/totp/save",
        &bearer(&ua),
        Some(&json!({"enabled": false})),
    );
    assert_eq!(r.status, 400, "required by the admin: {}", r.raw);
    let r = api.call(
        "POST",
        "/api/v2/user/totp/save",
        &bearer(&ua),
        Some(
            &json!({"enabled": true, "config_name": "Default", "protocols": ["HTTP", "SSH"],
            "secret": {"status": "Plain", "payload": "AB"}}),
        ),
    );
    assert_eq!(
        r.status, 400,
        "secrets under 160 bits are refused: {}",
        r.raw
    );
    srv.paramiko(&[
        "--user",
        USER,
        "--expect-auth-failure",
        "--password",
        PASSWORD,
    ])
    .assert_ok("SSH cannot ask for the passcode after a password, so it refuses");
    srv.sftp_batch(&["ls"]).assert_ok("keys are not affected");

    // Admins turn it off: the user logs in over SSH again, the admin needs no passcode.
    let r = api.call(
        "PUT",
        &format!("/api/v2/users/{USER}/2fa/disable"),
        &auth,
        None,
    );
    assert_eq!(r.status, 200, "{}", r.raw);
    let r = api.call(
        "PUT",
        &format!("/api/v2/users/{USER}/2fa/disable"),
        &auth,
        None,
    );
    assert_eq!(r.status, 400, "already off: {}", r.raw);
    let home = srv.ensure_home();
    srv.paramiko(&[
        "--user",
        USER,
        "--password",
        PASSWORD,
        "--home",
        home.to_str().unwrap(),
    ])
    .assert_ok("password logins over SSH work again with 2FA off");
    let r = api.call("PUT", "/api/v2/admins/root/2fa/disable", &auth, None);
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(
        token_with_otp(&api, "/api/v2/token", "root", "root-pass-1", None).status,
        200
    );
    let r = api.call("GET", "/api/v2/admin/2fa/recoverycodes", &auth, None);
    assert_eq!(r.status, 403, "no codes with 2FA off: {}", r.raw);
}

#[test]
fn wrong_passcodes_are_scored_like_wrong_passwords() {
    let (_srv, api) = start_api_with(
        Server::builder()
            .env("SFTPGO_COMMON__DEFENDER__ENABLED", "true")
            .env("SFTPGO_COMMON__DEFENDER__THRESHOLD", "5")
            .env("SFTPGO_COMMON__DEFENDER__SCORE_VALID", "2")
            .env("SFTPGO_COMMON__DEFENDER__LOGIN_DELAY__PASSWORD_FAILED", "0"),
    );
    let root = api.token("root", "root-pass-1");
    let auth = bearer(&root);
    let r = api.call(
        "POST",
        "/api/v2/admin/totp/generate",
        &auth,
        Some(&json!({})),
    );
    let secret = r.body["secret"].as_str().unwrap().to_string();
    let r = api.call(
        "POST",
        "/api/v2/admin/totp/save",
        &auth,
        Some(&json!({"enabled": true, "config_name": "Default",
            "secret": {"status": "Plain", "payload": secret}})),
    );
    assert_eq!(r.status, 200, "{}", r.raw);
    // The right password with wrong passcodes: scored, and the address is banned.
    for _ in 0..3 {
        let r = token_with_otp(&api, "/api/v2/token", "root", "root-pass-1", Some("000000"));
        assert_eq!(r.status, 401, "{}", r.raw);
    }
    api.refuses_connections();
}
