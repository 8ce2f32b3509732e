//! WebDAV clients for the tests: curl with WebDAV verbs, and litmus.

use std::process::Command;

use super::{
    CLIENT_TIMEOUT, CmdOutput, PASSWORD, Server, ServerBuilder, USER, free_port, make_pki,
    require_tools, run,
};

/// A test server with a WebDAV binding on a free loopback port.
pub struct DavServer {
    pub srv: Server,
    pub port: u16,
    /// `http://127.0.0.1:<port>` (or https).
    pub base: String,
}

/// `builder`'s server with WebDAV on a free port.
pub fn start_dav(builder: ServerBuilder) -> DavServer {
    let port = free_port();
    let srv = builder
        .env("SFTPGO_WEBDAVD__BINDINGS__0__PORT", &port.to_string())
        .env("SFTPGO_WEBDAVD__BINDINGS__0__ADDRESS", "127.0.0.1")
        .start();
    DavServer {
        srv,
        port,
        base: format!("http://127.0.0.1:{port}"),
    }
}

/// [`start_dav`] with HTTPS on the binding (a fresh PKI in the config dir, the server
/// certificate `server.crt`); `base` is `https://127.0.0.1:<port><prefix>`.
pub fn start_dav_https(builder: ServerBuilder, prefix: &str) -> DavServer {
    require_tools(&["openssl"]);
    let builder = builder
        .env("SFTPGO_WEBDAVD__CERTIFICATE_FILE", "server.crt")
        .env("SFTPGO_WEBDAVD__CERTIFICATE_KEY_FILE", "server.key")
        .env("SFTPGO_WEBDAVD__BINDINGS__0__ENABLE_HTTPS", "true");
    make_pki(&builder.root().join("cfg"));
    let mut d = start_dav(builder);
    d.base = format!("https://127.0.0.1:{}{prefix}", d.port);
    d
}

impl DavServer {
    /// curl as `user` with `args`, then the URL of `path`; the output ends with the
    /// HTTP status on its own line.
    pub fn curl_as(&self, user: &str, path: &str, args: &[&str]) -> CmdOutput {
        require_tools(&["curl"]);
        run(
            Command::new("curl")
                .args([
                    "-sS",
                    "-k",
                    "-w",
                    "\n%{http_code}",
                    "--user",
                    &format!("{user}:{PASSWORD}"),
                ])
                .args(args)
                .arg(format!("{}{path}", self.base))
                .current_dir(self.srv.local()),
            CLIENT_TIMEOUT,
        )
    }

    /// `curl_as` for alice.
    pub fn curl(&self, path: &str, args: &[&str]) -> CmdOutput {
        self.curl_as(USER, path, args)
    }

    /// The HTTP status of a curl call.
    pub fn status(&self, path: &str, args: &[&str]) -> u16 {
        let out = self.curl(path, args);
        out.assert_ok(&format!("curl {args:?} {path}"));
        out.stdout
            .rsplit('\n')
            .next()
            .and_then(|c| c.trim().parse().ok())
            .unwrap_or(0)
    }
}

/// A raw TCP client whose PUT of `path` announces 1000 bytes and sends 11, then waits:
/// an upload that stays in flight. (curl cannot play it: it blocks reading its stdin
/// and would not notice the server closing.)
pub fn stalled_put(port: u16, path: &str) -> std::net::TcpStream {
    use base64::Engine as _;
    use std::io::Write;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
    let mut tcp = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(
        tcp,
        "PUT {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic {auth}\r\n\
         Content-Length: 1000\r\n\r\nfirst bytes"
    )
    .expect("send the request");
    tcp
}
