//! FTP clients for the tests: lftp and curl scripts, and a raw control-connection client
//! for what real clients never send (bounce attempts, oversized lines, pipelining).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::Duration;

use super::{
    CLIENT_TIMEOUT, CmdOutput, PASSWORD, Server, ServerBuilder, free_port, require_tools, run,
};

/// A test server with an FTP binding on a free loopback port.
pub struct FtpServer {
    pub srv: Server,
    pub port: u16,
}

/// `builder`'s server with FTP on a free port (plus whatever `env` the builder has).
pub fn start_ftp(builder: ServerBuilder) -> FtpServer {
    let port = free_port();
    let srv = builder
        .env("SFTPGO_FTPD__BINDINGS__0__PORT", &port.to_string())
        .env("SFTPGO_FTPD__BINDINGS__0__ADDRESS", "127.0.0.1")
        .start();
    FtpServer { srv, port }
}

/// Settings that keep lftp from retrying or waiting long, and plain FTP unless a
/// test asks for TLS.
pub const LFTP_PLAIN: &str = "set net:max-retries 1; set net:timeout 15; set net:reconnect-interval-base 1; \
     set ftp:ssl-allow no; set cmd:fail-exit yes;";

/// lftp over explicit TLS, control and data encrypted, self-signed certificate.
pub const LFTP_TLS: &str = "set net:max-retries 1; set net:timeout 15; set net:reconnect-interval-base 1; \
     set ftp:ssl-force yes; set ftp:ssl-protect-data yes; set ftp:ssl-protect-list yes; \
     set ssl:verify-certificate no; set cmd:fail-exit yes;";

impl FtpServer {
    /// Runs `lftp -c` with `settings`, logged in as `user`, then `script`; the local
    /// working dir is the server's `local()`.
    pub fn lftp_as(&self, user: &str, settings: &str, script: &str) -> CmdOutput {
        require_tools(&["lftp"]);
        let full = format!(
            "{settings} open -u {user},{PASSWORD} -p {} 127.0.0.1; {script}",
            self.port
        );
        run(
            Command::new("lftp")
                .arg("-c")
                .arg(full)
                .current_dir(self.srv.local()),
            super::BIG_TIMEOUT,
        )
    }

    /// `lftp_as` for alice over plain FTP.
    pub fn lftp(&self, script: &str) -> CmdOutput {
        self.lftp_as(super::USER, LFTP_PLAIN, script)
    }

    /// `curl` with `args` then `ftp://127.0.0.1:<port><path>` as alice.
    pub fn curl(&self, path: &str, args: &[&str]) -> CmdOutput {
        require_tools(&["curl"]);
        run(
            Command::new("curl")
                .args(["-sS", "--user", &format!("{}:{PASSWORD}", super::USER)])
                .args(args)
                .arg(format!("ftp://127.0.0.1:{}{path}", self.port))
                .current_dir(self.srv.local()),
            CLIENT_TIMEOUT,
        )
    }

    /// A raw control connection (greeting read).
    pub fn raw(&self) -> Raw {
        Raw::connect(self.port)
    }
}

/// A control connection driven line by line.
pub struct Raw {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Raw {
    /// Connects and reads the 220 greeting.
    pub fn connect(port: u16) -> Self {
        let (raw, code, text) = Self::open(port, b"");
        assert_eq!(code, 220, "greeting: {text}");
        raw
    }

    /// Connects, sends `preamble` (a PROXY header, say) and reads the first reply,
    /// whatever it is (code 0 when the server closed the connection).
    pub fn open(port: u16, preamble: &[u8]) -> (Self, u16, String) {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect to FTP");
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut raw = Self {
            reader: BufReader::new(s.try_clone().unwrap()),
            writer: s,
        };
        if !preamble.is_empty() {
            raw.send_raw(preamble);
        }
        let (code, text) = raw.reply();
        (raw, code, text)
    }

    /// Reads one reply, multi-line ones included: (code, all text).
    pub fn reply(&mut self) -> (u16, String) {
        let mut all = String::new();
        let mut first_code = None;
        loop {
            let mut line = String::new();
            let n = self.reader.read_line(&mut line).unwrap_or(0);
            if n == 0 {
                return (0, format!("{all}<connection closed>"));
            }
            all.push_str(&line);
            let code: Option<u16> = line.get(..3).and_then(|c| c.parse().ok());
            let sep = line.as_bytes().get(3).copied();
            match (first_code, code, sep) {
                (None, Some(c), Some(b' ')) => return (c, all),
                (None, Some(c), Some(b'-')) => first_code = Some(c),
                (Some(f), Some(c), Some(b' ')) if f == c => return (c, all),
                (None, _, _) => return (0, all),
                _ => {}
            }
        }
    }

    /// Sends bytes as they are.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        let _ = self.writer.write_all(bytes);
    }

    /// Sends a command line and reads the reply.
    pub fn cmd(&mut self, line: &str) -> (u16, String) {
        self.send_raw(format!("{line}\r\n").as_bytes());
        self.reply()
    }

    /// Logs in, asserting success.
    pub fn login(&mut self, user: &str, pass: &str) {
        let (c, t) = self.cmd(&format!("USER {user}"));
        assert_eq!(c, 331, "USER: {t}");
        let (c, t) = self.cmd(&format!("PASS {pass}"));
        assert_eq!(c, 230, "PASS: {t}");
    }

    /// `EPSV`, then connects to the announced port.
    pub fn epsv(&mut self) -> TcpStream {
        let (c, t) = self.cmd("EPSV");
        assert_eq!(c, 229, "EPSV: {t}");
        let port: u16 = t
            .split("|||")
            .nth(1)
            .and_then(|r| r.split('|').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("EPSV reply: {t}"));
        let s = TcpStream::connect(("127.0.0.1", port)).expect("data connection");
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        s
    }

    /// Whether the server closed the connection (reads EOF or a reset).
    pub fn is_closed(&mut self) -> bool {
        let mut b = [0u8; 1];
        matches!(self.reader.read(&mut b), Ok(0) | Err(_))
    }
}
