//! The REST API of a test server, driven with curl: calls with JSON bodies, tokens,
//! streamed uploads and downloads.

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use super::{CmdOutput, Server, ServerBuilder, free_port, require_tools, run};

/// The REST API of a test server, driven with curl.
pub struct Api {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
}

/// A response: status, JSON body (`Null` if not JSON) and raw text.
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub raw: String,
}

impl Api {
    pub fn call(&self, method: &str, path: &str, auth: &[&str], body: Option<&Value>) -> Reply {
        require_tools(&["curl"]);
        let mut cmd = Command::new("curl");
        cmd.args(["-s", "-X", method, "-w", "\n%{http_code}"])
            .args(auth)
            .arg(format!("{}{path}", self.base));
        if let Some(b) = body {
            cmd.args(["-H", "Content-Type: application/json", "--data-binary"])
                .arg(b.to_string());
        }
        let out = run(&mut cmd, Duration::from_secs(30));
        out.assert_ok(&format!("curl {method} {path}"));
        let (raw, code) = out.stdout.rsplit_once('\n').unwrap_or(("", "0"));
        Reply {
            status: code.trim().parse().unwrap_or(0),
            body: serde_json::from_str(raw).unwrap_or(Value::Null),
            raw: raw.to_string(),
        }
    }

    /// `Authorization: Bearer <token>` of a user token from Basic credentials.
    pub fn user_token(&self, user: &str, pass: &str) -> String {
        let r = self.call(
            "GET",
            "/api/v2/user/token",
            &["-u", &format!("{user}:{pass}")],
            None,
        );
        assert_eq!(r.status, 200, "user token for {user}: {}", r.raw);
        format!(
            "Authorization: Bearer {}",
            r.body["access_token"].as_str().unwrap()
        )
    }

    /// Whether a new connection to the server is refused (closed before any answer).
    pub fn refuses_connections(&self) -> CmdOutput {
        let out = run(
            Command::new("curl")
                .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
                .arg(format!("{}/healthz", self.base)),
            Duration::from_secs(30),
        );
        assert!(
            !out.success() || out.stdout.trim() == "000",
            "the connection was served: {}",
            out.report()
        );
        out
    }

    pub fn token(&self, user: &str, pass: &str) -> String {
        let r = self.call(
            "GET",
            "/api/v2/token",
            &["-u", &format!("{user}:{pass}")],
            None,
        );
        assert_eq!(r.status, 200, "token for {user}: {}", r.raw);
        assert!(r.body["expires_at"].as_str().unwrap().ends_with('Z'));
        format!(
            "Authorization: Bearer {}",
            r.body["access_token"].as_str().unwrap()
        )
    }
}

/// A server with the REST API on a free loopback port and the admin `root`.
pub fn start_with_api() -> (Server, Api) {
    start_api_with(Server::builder())
}

/// `builder`'s server with the REST API on a free loopback port and the admin `root`
/// (password `root-pass-1`).
pub fn start_api_with(builder: ServerBuilder) -> (Server, Api) {
    let port = free_port();
    let srv = builder
        .env("SFTPGO_HTTPD__BINDINGS__0__PORT", &port.to_string())
        .env("SFTPGO_HTTPD__BINDINGS__0__ADDRESS", "127.0.0.1")
        .env("SFTPGO_DATA_PROVIDER__CREATE_DEFAULT_ADMIN", "true")
        .env("SFTPGO_DEFAULT_ADMIN_USERNAME", "root")
        .env("SFTPGO_DEFAULT_ADMIN_PASSWORD", "root-pass-1")
        .start();
    let api = Api {
        base: format!("http://127.0.0.1:{port}"),
    };
    (srv, api)
}

/// curl's `-H <header>` arguments.
pub fn bearer(h: &str) -> [&str; 2] {
    ["-H", h]
}

/// `POST /api/v2/user/files/upload?path=<path>` with curl; `body` holds curl's body
/// options (run in `dir`). The output ends with the HTTP status.
pub fn upload(
    api: &Api,
    auth: &str,
    path: &str,
    body: &[&str],
    dir: &std::path::Path,
) -> CmdOutput {
    run(
        Command::new("curl")
            .args(["-s", "-w", "\n%{http_code}", "-H", auth])
            .args(body)
            .arg(format!("{}/api/v2/user/files/upload?path={path}", api.base))
            .current_dir(dir),
        Duration::from_secs(60),
    )
}

/// `curl` with raw output to `out` (for downloads); returns the HTTP status.
pub fn curl_download(
    api: &Api,
    path: &str,
    auth: &str,
    extra: &[&str],
    out: &std::path::Path,
) -> u16 {
    let r = run(
        Command::new("curl")
            .args(["-s", "-o"])
            .arg(out)
            .args(["-w", "%{http_code}", "-H", auth])
            .args(extra)
            .arg(format!("{}{path}", api.base)),
        Duration::from_secs(60),
    );
    r.assert_ok("curl download");
    r.stdout.trim().parse().unwrap_or(0)
}
