//! Outbound mail (the `smtp` section): a small SMTP client (RFC 5321) with implicit TLS
//! or STARTTLS (RFC 3207), AUTH PLAIN, LOGIN and CRAM-MD5 (RFC 4954, 2195), and MIME
//! messages (RFC 2045/2046): a text or HTML body, attachments, both base64-encoded, a
//! UTF-8 subject as an RFC 2047 encoded word.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use sftpgo_core::events::Mail;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::tls::client_config;

/// Deadline of one mail, connection to QUIT.
const MAIL_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest reply line read from a server.
const MAX_REPLY_LINE: usize = 4096;

/// `smtp.oauth2` (accepted; XOAUTH2 is not supported).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OAuth2Config {
    /// 0 Google, 1 Microsoft.
    pub provider: u8,
    /// Microsoft tenant.
    pub tenant: String,
    /// Client id.
    pub client_id: String,
    /// Client secret.
    pub client_secret: String,
    /// Refresh token.
    pub refresh_token: String,
}

/// The `smtp` section.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmtpConfig {
    /// Server; empty: mail is off.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Sender, `address` or `Name <address>`.
    pub from: String,
    /// Login; empty: no authentication.
    pub user: String,
    /// Password.
    pub password: String,
    /// 0 PLAIN, 1 LOGIN, 2 CRAM-MD5, 3 XOAUTH2 (not supported).
    pub auth_type: u8,
    /// 0 none, 1 implicit TLS, 2 STARTTLS.
    pub encryption: u8,
    /// Name sent in EHLO; empty: `localhost`.
    pub domain: String,
    /// Templates directory (accepted; built-in texts are used).
    pub templates_path: String,
    /// Log the SMTP dialogue at debug level (1).
    pub debug: u8,
    /// OAuth2 settings for XOAUTH2.
    pub oauth2: OAuth2Config,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        Self {
            host: String::new(),
            port: 587,
            from: String::new(),
            user: String::new(),
            password: String::new(),
            auth_type: 0,
            encryption: 0,
            domain: String::new(),
            templates_path: "templates".into(),
            debug: 0,
            oauth2: OAuth2Config::default(),
        }
    }
}

impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("from", &self.from)
            .field("user", &self.user)
            .field("password", &sftpgo_core::kms::redacted(&self.password))
            .field("auth_type", &self.auth_type)
            .field("encryption", &self.encryption)
            .field("domain", &self.domain)
            .finish_non_exhaustive()
    }
}

impl SmtpConfig {
    /// Checks the values serde cannot.
    pub fn validate(&self) -> Result<(), String> {
        if self.host.is_empty() {
            return Ok(());
        }
        if self.from.is_empty() {
            return Err("smtp.from: mandatory when smtp.host is set".into());
        }
        if self.auth_type > 3 {
            return Err("smtp.auth_type: must be 0, 1, 2 or 3".into());
        }
        if self.auth_type == 3 {
            return Err("smtp.auth_type: XOAUTH2 is not supported yet".into());
        }
        if self.encryption > 2 {
            return Err("smtp.encryption: must be 0, 1 or 2".into());
        }
        Ok(())
    }

    /// True when mail can be sent.
    pub fn enabled(&self) -> bool {
        !self.host.is_empty()
    }
}

trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin> Io for T {}

struct Session {
    io: BufReader<Box<dyn Io>>,
    debug: bool,
}

impl Session {
    /// Reads one (possibly multi-line) reply: its code and text lines. Lines longer
    /// than [`MAX_REPLY_LINE`], or more than 100 of them, end the session.
    async fn reply(&mut self) -> Result<(u16, Vec<String>), String> {
        let mut lines = Vec::new();
        loop {
            let mut raw = Vec::new();
            let n = (&mut self.io)
                .take(MAX_REPLY_LINE as u64 + 1)
                .read_until(b'\n', &mut raw)
                .await
                .map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("the SMTP server closed the connection".into());
            }
            if n > MAX_REPLY_LINE || lines.len() > 100 {
                return Err("the SMTP server's reply is too long".into());
            }
            let line = String::from_utf8_lossy(&raw).trim_end().to_string();
            if self.debug {
                tracing::debug!(sender = "smtp", line = %line, "<");
            }
            let code = line
                .get(..3)
                .and_then(|c| c.parse::<u16>().ok())
                .ok_or_else(|| format!("malformed SMTP reply {line:?}"))?;
            let last = line.as_bytes().get(3) != Some(&b'-');
            lines.push(line.get(4..).unwrap_or_default().to_string());
            if last {
                return Ok((code, lines));
            }
        }
    }

    async fn send(&mut self, line: &str, secret: bool) -> Result<(), String> {
        if self.debug {
            tracing::debug!(sender = "smtp", line = %if secret { "<redacted>" } else { line }, ">");
        }
        let io = self.io.get_mut();
        io.write_all(line.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        io.write_all(b"\r\n").await.map_err(|e| e.to_string())?;
        io.flush().await.map_err(|e| e.to_string())
    }

    /// Sends a command and expects a reply in `ok` (its text on success).
    async fn command(
        &mut self,
        line: &str,
        ok: &[u16],
        secret: bool,
    ) -> Result<Vec<String>, String> {
        self.send(line, secret).await?;
        let (code, text) = self.reply().await?;
        if ok.contains(&code) {
            Ok(text)
        } else {
            let shown = if secret { "AUTH" } else { line };
            Err(format!("{shown}: {code} {}", text.join(" ")))
        }
    }
}

/// The address inside `Name <address>`, or the whole text.
fn address_of(s: &str) -> &str {
    match (s.find('<'), s.rfind('>')) {
        (Some(a), Some(b)) if a < b => s.get(a + 1..b).unwrap_or(s).trim(),
        _ => s.trim(),
    }
}

/// The address of `s`, refused when it could smuggle SMTP commands or headers (line
/// breaks, brackets, spaces, controls) or has no `@`.
fn clean_address(s: &str) -> Result<&str, String> {
    let a = address_of(s);
    let bad = a.is_empty()
        || !a.contains('@')
        || a.chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';'));
    if bad {
        Err(format!("invalid email address {s:?}"))
    } else {
        Ok(a)
    }
}

/// A header value: as it is when ASCII, else an RFC 2047 encoded word.
fn header_text(s: &str) -> String {
    if s.is_ascii() && !s.contains(['\r', '\n']) {
        s.to_string()
    } else {
        format!(
            "=?UTF-8?B?{}?=",
            STANDARD.encode(s.replace(['\r', '\n'], " "))
        )
    }
}

/// Base64 in lines of 76 characters.
fn base64_lines(data: &[u8]) -> String {
    let encoded = STANDARD.encode(data);
    let mut out = String::with_capacity(encoded.len() + encoded.len() / 38);
    for chunk in encoded.as_bytes().chunks(76) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push_str("\r\n");
    }
    out
}

/// `Fri, 04 Dec 2026 15:54:29 +0000`.
fn rfc5322_date(secs: i64) -> String {
    format!("{} +0000", sftpgo_core::clock::rfc1123(secs))
}

/// The whole message (headers and MIME body), CRLF lines.
pub fn message(from: &str, mail: &Mail, now_secs: i64, id: &str, domain: &str) -> String {
    let mut m = String::new();
    m.push_str(&format!("From: {}\r\n", header_text(from)));
    let to: Vec<&str> = mail
        .to
        .iter()
        .filter_map(|t| clean_address(t).ok())
        .collect();
    m.push_str(&format!("To: {}\r\n", to.join(", ")));
    m.push_str(&format!("Subject: {}\r\n", header_text(&mail.subject)));
    m.push_str(&format!("Date: {}\r\n", rfc5322_date(now_secs)));
    m.push_str(&format!("Message-ID: <{id}@{domain}>\r\n"));
    m.push_str("MIME-Version: 1.0\r\n");
    let kind = if mail.html { "text/html" } else { "text/plain" };
    let body_part = format!(
        "Content-Type: {kind}; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n{}",
        base64_lines(mail.body.as_bytes())
    );
    if mail.attachments.is_empty() {
        m.push_str(&body_part);
        return m;
    }
    let boundary = format!("sftpgo-{id}");
    m.push_str(&format!(
        "Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n"
    ));
    m.push_str(&format!("--{boundary}\r\n{body_part}"));
    for a in &mail.attachments {
        let name = header_text(&a.name).replace('"', "'");
        m.push_str(&format!(
            "--{boundary}\r\nContent-Type: application/octet-stream; name=\"{name}\"\r\n\
             Content-Disposition: attachment; filename=\"{name}\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{}",
            base64_lines(&a.data)
        ));
    }
    m.push_str(&format!("--{boundary}--\r\n"));
    m
}

/// The CRAM-MD5 answer to `challenge` (base64), RFC 2195.
fn cram_md5(user: &str, password: &str, challenge: &str) -> Result<String, String> {
    use hmac::{Hmac, Mac};
    let challenge = STANDARD
        .decode(challenge.trim())
        .map_err(|_| "malformed CRAM-MD5 challenge".to_string())?;
    let mut mac =
        <Hmac<md5::Md5> as Mac>::new_from_slice(password.as_bytes()).map_err(|e| e.to_string())?;
    mac.update(&challenge);
    let digest = hex::encode(mac.finalize().into_bytes());
    Ok(STANDARD.encode(format!("{user} {digest}")))
}

/// Sends mail with `cfg`'s server.
pub async fn send(cfg: &SmtpConfig, mail: Mail) -> Result<(), String> {
    if !cfg.enabled() {
        return Err("no SMTP server is configured".into());
    }
    tokio::time::timeout(MAIL_TIMEOUT, deliver(cfg, mail))
        .await
        .map_err(|_| "timeout".to_string())?
}

async fn start_tls(host: &str, io: Box<dyn Io>) -> Result<Box<dyn Io>, String> {
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client_config(false)?));
    let name = rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|e| format!("invalid server name {host:?}: {e}"))?;
    let tls = connector
        .connect(name, io)
        .await
        .map_err(|e| format!("TLS handshake with {host}: {e}"))?;
    Ok(Box::new(tls))
}

async fn deliver(cfg: &SmtpConfig, mail: Mail) -> Result<(), String> {
    // Every address is checked before any byte goes out.
    let from = clean_address(&cfg.from)?.to_string();
    let rcpts: Vec<String> = mail
        .to
        .iter()
        .chain(mail.bcc.iter())
        .map(|r| clean_address(r).map(String::from))
        .collect::<Result<_, _>>()?;
    if mail.to.is_empty() {
        return Err("no recipient".into());
    }
    let tcp = TcpStream::connect((cfg.host.as_str(), cfg.port))
        .await
        .map_err(|e| format!("cannot connect to {}:{}: {e}", cfg.host, cfg.port))?;
    let mut io: Box<dyn Io> = Box::new(tcp);
    if cfg.encryption == 1 {
        io = start_tls(&cfg.host, io).await?;
    }
    let mut s = Session {
        io: BufReader::new(io),
        debug: cfg.debug > 0,
    };
    let (code, text) = s.reply().await?;
    if code != 220 {
        return Err(format!("greeting: {code} {}", text.join(" ")));
    }
    let domain = if cfg.domain.is_empty() {
        "localhost"
    } else {
        &cfg.domain
    };
    let mut caps = s.command(&format!("EHLO {domain}"), &[250], false).await?;
    if cfg.encryption == 2 {
        s.command("STARTTLS", &[220], false).await?;
        let plain = s.io.into_inner();
        s = Session {
            io: BufReader::new(start_tls(&cfg.host, plain).await?),
            debug: cfg.debug > 0,
        };
        caps = s.command(&format!("EHLO {domain}"), &[250], false).await?;
    }
    if !cfg.user.is_empty() {
        let offered = |m: &str| {
            caps.iter().any(|c| {
                let c = c.to_ascii_uppercase();
                c.starts_with("AUTH") && c.split([' ', '=']).any(|w| w == m)
            })
        };
        match cfg.auth_type {
            1 if offered("LOGIN") => {
                s.command("AUTH LOGIN", &[334], false).await?;
                s.command(&STANDARD.encode(&cfg.user), &[334], true).await?;
                s.command(&STANDARD.encode(&cfg.password), &[235], true)
                    .await?;
            }
            2 if offered("CRAM-MD5") => {
                let challenge = s.command("AUTH CRAM-MD5", &[334], false).await?;
                let answer = cram_md5(
                    &cfg.user,
                    &cfg.password,
                    challenge.first().map_or("", String::as_str),
                )?;
                s.command(&answer, &[235], true).await?;
            }
            0 if offered("PLAIN") => {
                let token = STANDARD.encode(format!("\0{}\0{}", cfg.user, cfg.password));
                s.command(&format!("AUTH PLAIN {token}"), &[235], true)
                    .await?;
            }
            _ => return Err("the SMTP server does not offer the configured authentication".into()),
        }
    }
    s.command(&format!("MAIL FROM:<{from}>"), &[250], false)
        .await?;
    for rcpt in &rcpts {
        s.command(&format!("RCPT TO:<{rcpt}>"), &[250, 251], false)
            .await?;
    }
    s.command("DATA", &[354], false).await?;
    let id = sftpgo_core::catalog::random_id(24);
    let body = message(
        &cfg.from,
        &mail,
        sftpgo_core::clock::now_secs(),
        &id,
        domain,
    );
    // Dot-stuffing (RFC 5321 §4.5.2), then the end of data.
    let mut data = String::with_capacity(body.len() + 8);
    for line in body.split_inclusive("\r\n") {
        if line.starts_with('.') {
            data.push('.');
        }
        data.push_str(line);
    }
    data.push_str(".\r\n");
    let io = s.io.get_mut();
    io.write_all(data.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    io.flush().await.map_err(|e| e.to_string())?;
    let (code, text) = s.reply().await?;
    if code != 250 {
        return Err(format!("message refused: {code} {}", text.join(" ")));
    }
    let _ = s.command("QUIT", &[221], false).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sftpgo_core::events::Attachment;

    #[test]
    fn addresses_dates_and_cram_md5() {
        assert_eq!(address_of("SFTPGo <ops@example.com>"), "ops@example.com");
        assert_eq!(address_of(" ops@example.com "), "ops@example.com");
        assert_eq!(clean_address("A <a@b>"), Ok("a@b"));
        for bad in ["a@b>\r\nDATA", "x\r\nRCPT TO:<y@z", "a b@c", "nobody", "<>"] {
            assert!(clean_address(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            rfc5322_date(1_796_399_669),
            "Fri, 04 Dec 2026 15:54:29 +0000"
        );
        // RFC 2195's example.
        let answer = cram_md5(
            "tim",
            "tanstaaftanstaaf",
            "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+",
        )
        .unwrap();
        assert_eq!(answer, "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw");
    }

    #[test]
    fn messages_are_mime_with_encoded_subjects() {
        let mail = Mail {
            to: vec!["a@x".into()],
            subject: "héllo".into(),
            body: "hi".into(),
            attachments: vec![Attachment {
                name: "r.csv".into(),
                data: b"a,b".to_vec(),
            }],
            ..Mail::default()
        };
        let m = message("me@x", &mail, 0, "id1", "x");
        assert!(m.contains("Subject: =?UTF-8?B?aMOpbGxv?=\r\n"), "{m}");
        assert!(m.contains("multipart/mixed; boundary=\"sftpgo-id1\""));
        assert!(m.contains("filename=\"r.csv\""));
        assert!(m.contains("YSxi\r\n"), "attachment in base64");
        assert!(m.ends_with("--sftpgo-id1--\r\n"));
    }
}
