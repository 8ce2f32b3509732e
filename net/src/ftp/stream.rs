//! The FTP control connection's line reader and reply writer (RFC 959 §4.2), over a
//! plain or TLS stream (RFC 4217).

use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::TlsAcceptor;

pub use crate::tls_stream::MaybeTls;

/// Longest command line accepted, terminator included: a path of 4096 bytes plus the
/// verb. Longer lines end the connection.
pub const MAX_LINE: usize = 8192;

/// What the control connection delivered.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A command line without its terminator or Telnet controls.
    Command(String),
    /// Longer than [`MAX_LINE`].
    TooLong,
    /// Not UTF-8 (RFC 2640 asks for UTF-8 paths).
    NotUtf8,
    /// The client closed the connection.
    Closed,
}

/// The control connection.
pub struct Control {
    stream: Option<MaybeTls>,
    buf: Vec<u8>,
}

impl Control {
    /// Wraps an accepted (and, for implicit TLS, handshaken) stream.
    pub fn new(stream: MaybeTls) -> Self {
        Self {
            stream: Some(stream),
            buf: Vec::with_capacity(512),
        }
    }

    fn stream(&mut self) -> io::Result<&mut MaybeTls> {
        self.stream
            .as_mut()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "control stream lost"))
    }

    /// Whether the control connection is encrypted.
    pub fn is_tls(&self) -> bool {
        self.stream.as_ref().is_some_and(MaybeTls::is_tls)
    }

    /// The client certificate of the control connection's TLS session.
    pub fn peer_certificate(&self) -> Option<Vec<u8>> {
        self.stream.as_ref().and_then(MaybeTls::peer_certificate)
    }

    /// Whether bytes past the last command are waiting (a client must not pipeline
    /// commands after `AUTH TLS`; accepting them would let an attacker inject
    /// commands into the encrypted session).
    pub fn has_buffered(&self) -> bool {
        !self.buf.is_empty()
    }

    /// Reads the next line. Cancel-safe: a partial line stays buffered.
    pub async fn read_line(&mut self) -> io::Result<Line> {
        loop {
            if let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
                let raw: Vec<u8> = self.buf.drain(..=pos).collect();
                return Ok(decode(&raw));
            }
            if self.buf.len() >= MAX_LINE {
                self.buf.clear();
                return Ok(Line::TooLong);
            }
            let mut chunk = [0u8; 1024];
            let room = (MAX_LINE - self.buf.len()).min(chunk.len());
            let Some(window) = chunk.get_mut(..room) else {
                return Ok(Line::TooLong);
            };
            let n = self.stream()?.read(window).await?;
            if n == 0 {
                return Ok(Line::Closed);
            }
            self.buf
                .extend_from_slice(window.get(..n).unwrap_or_default());
        }
    }

    /// Sends a reply; a text with several lines becomes a multi-line reply
    /// (`code-first`, ..., `code last`).
    pub async fn reply(&mut self, code: u16, text: &str) -> io::Result<()> {
        let mut out = String::with_capacity(text.len() + 16);
        let lines: Vec<&str> = text.lines().collect();
        match lines.split_last() {
            None => out.push_str(&format!("{code} \r\n")),
            Some((last, [])) => out.push_str(&format!("{code} {last}\r\n")),
            Some((last, first)) => {
                for (i, l) in first.iter().enumerate() {
                    if i == 0 {
                        out.push_str(&format!("{code}-{l}\r\n"));
                    } else {
                        // Continuation lines must not look like a final line.
                        out.push_str(&format!(" {l}\r\n"));
                    }
                }
                out.push_str(&format!("{code} {last}\r\n"));
            }
        }
        let s = self.stream()?;
        s.write_all(out.as_bytes()).await?;
        s.flush().await
    }

    /// Runs the TLS handshake on the control connection (`AUTH TLS`).
    pub async fn upgrade(&mut self, acceptor: &TlsAcceptor) -> io::Result<()> {
        match self.stream.take() {
            Some(MaybeTls::Plain(tcp)) => {
                self.stream = Some(MaybeTls::accept_tls(tcp, acceptor).await?);
                Ok(())
            }
            other => {
                self.stream = other;
                Err(io::Error::other(
                    "the control connection is already secured",
                ))
            }
        }
    }

    /// Closes the connection after flushing (and TLS close_notify).
    pub async fn shutdown(&mut self) {
        if let Ok(s) = self.stream() {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(2), s.shutdown()).await;
        }
    }
}

/// Strips the terminator and Telnet IAC sequences (RFC 854; clients send `IAC IP IAC
/// DM` before `ABOR`), then checks UTF-8.
fn decode(raw: &[u8]) -> Line {
    let mut out = Vec::with_capacity(raw.len());
    let mut it = raw.iter().copied();
    while let Some(b) = it.next() {
        if b == 0xFF {
            match it.next() {
                Some(0xFF) => out.push(0xFF),
                // WILL, WONT, DO, DONT carry an option byte.
                Some(0xFB..=0xFE) => {
                    it.next();
                }
                _ => {}
            }
            continue;
        }
        out.push(b);
    }
    while matches!(out.last(), Some(b'\n' | b'\r')) {
        out.pop();
    }
    match String::from_utf8(out) {
        Ok(s) => Line::Command(s),
        Err(_) => Line::NotUtf8,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn telnet_controls_and_terminators_are_stripped() {
        assert_eq!(decode(b"NOOP\r\n"), Line::Command("NOOP".into()));
        assert_eq!(decode(b"NOOP\n"), Line::Command("NOOP".into()));
        assert_eq!(
            decode(b"\xff\xf4\xff\xf2ABOR\r\n"),
            Line::Command("ABOR".into())
        );
        assert_eq!(decode(b"\xff\xfb\x01X\r\n"), Line::Command("X".into()));
        assert_eq!(decode(b"RETR \xc3\xa8\r\n"), Line::Command("RETR è".into()));
        assert_eq!(decode(b"RETR \xc3\r\n"), Line::NotUtf8);
    }
}
