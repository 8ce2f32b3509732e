//! HAProxy PROXY protocol (v1 text and v2 binary headers) in front of SSH and FTP
//! (`common.proxy_protocol`, `proxy_allowed`, `proxy_skipped`): reads the header a
//! load balancer sends before any protocol byte and yields the client address it
//! carries, following SFTPGo's policies:
//!
//! - a source in `proxy_skipped` is taken as it is, no header looked for;
//! - mode 1: a header from a source in `proxy_allowed` gives the client address; a
//!   header from anyone else is read and dropped; no header is fine;
//! - mode 2: sources in `proxy_allowed` must send a header; everyone else is refused.
//!
//! The header is peeked first, so a connection without one loses no byte; only the
//! header's own bytes are consumed. A malformed header closes the connection.

#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use sftpgo_core::config::CommonConfig;
use sftpgo_core::model::ip_list;

/// How long a client may take to send its header (as SFTPGo).
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest header accepted: v1 is at most 107 bytes; v2 is 16 bytes plus addresses
/// and TLVs, which load balancers keep small.
const MAX_HEADER: usize = 4096;

/// The v2 signature.
const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";

/// The PROXY protocol settings of a listener.
#[derive(Debug, Clone)]
pub struct ProxyProtocol {
    required: bool,
    allowed: Vec<String>,
    skipped: Vec<String>,
    timeout: Duration,
}

/// What a header says about the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The client the proxy relays.
    Client(SocketAddr),
    /// A connection of the proxy itself (v2 `LOCAL`, v1 `UNKNOWN`): its own address
    /// stands.
    Proxy,
}

/// The outcome of parsing the first bytes of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parsed {
    /// Too few bytes to tell.
    NeedMore,
    /// Not a PROXY header.
    NotProxy,
    /// A header of `len` bytes.
    Header {
        /// Bytes the header takes.
        len: usize,
        /// What it says.
        origin: Origin,
    },
    /// A PROXY header that is malformed or unsupported.
    Invalid(&'static str),
}

/// What the policy says about one source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Policy {
    Skip,
    Use,
    Ignore,
    Require,
    Reject,
}

impl ProxyProtocol {
    /// The settings of `common`, or `None` when the protocol is off.
    pub fn from_config(common: &CommonConfig) -> Option<Self> {
        (common.proxy_protocol > 0).then(|| Self {
            required: common.proxy_protocol == 2,
            allowed: common.proxy_allowed.clone(),
            skipped: common.proxy_skipped.clone(),
            timeout: HEADER_TIMEOUT,
        })
    }

    /// Waits at most `timeout` for a header (tests).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn policy(&self, upstream: IpAddr) -> Policy {
        let hit = |list: &[String]| list.iter().any(|n| ip_list::contains(n, upstream));
        if hit(&self.skipped) {
            Policy::Skip
        } else if hit(&self.allowed) {
            if self.required {
                Policy::Require
            } else {
                Policy::Use
            }
        } else if self.required {
            Policy::Reject
        } else {
            Policy::Ignore
        }
    }

    /// The client address of a connection from `upstream`, after consuming its
    /// header; `None` when the connection must be closed.
    pub async fn client_of(
        &self,
        stream: &mut TcpStream,
        upstream: SocketAddr,
    ) -> Option<SocketAddr> {
        let policy = self.policy(upstream.ip());
        match policy {
            Policy::Skip => return Some(upstream),
            Policy::Reject => {
                tracing::debug!(remote = %upstream, "connection refused: not an allowed proxy");
                return None;
            }
            _ => {}
        }
        let parsed = match tokio::time::timeout(self.timeout, peek_header(stream)).await {
            Ok(Ok(p)) => p,
            Ok(Err(_)) => return None,
            Err(_) => Parsed::NotProxy,
        };
        match parsed {
            Parsed::Header { len, origin } => {
                let mut header = vec![0u8; len];
                if stream.read_exact(&mut header).await.is_err() {
                    return None;
                }
                match (policy, origin) {
                    (Policy::Use | Policy::Require, Origin::Client(client)) => Some(client),
                    _ => Some(upstream),
                }
            }
            Parsed::NotProxy | Parsed::NeedMore if policy == Policy::Require => {
                tracing::debug!(remote = %upstream, "connection refused: PROXY header required");
                None
            }
            Parsed::NotProxy | Parsed::NeedMore => Some(upstream),
            Parsed::Invalid(why) => {
                tracing::warn!(remote = %upstream, reason = why, "connection refused: bad PROXY header");
                None
            }
        }
    }
}

/// Peeks until the first bytes tell whether a header is there and how long it is.
async fn peek_header(stream: &TcpStream) -> std::io::Result<Parsed> {
    let mut buf = vec![0u8; MAX_HEADER];
    let mut seen = 0;
    // Backs off while a header trickles in, so a slow client costs few wake-ups.
    let mut pause = Duration::from_millis(2);
    loop {
        let n = stream.peek(&mut buf).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let parsed = parse(buf.get(..n).unwrap_or_default());
        if parsed != Parsed::NeedMore {
            return Ok(parsed);
        }
        if n == buf.len() {
            return Ok(Parsed::Invalid("header too long"));
        }
        if n == seen {
            // The rest of the header is on its way: peek returns at once while
            // anything is queued, so wait a little before looking again.
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(200));
        }
        seen = n;
    }
}

/// Parses a PROXY header at the start of `buf`.
pub fn parse(buf: &[u8]) -> Parsed {
    const V1: &[u8] = b"PROXY ";
    let (sig_len, v1_len) = (V2_SIGNATURE.len(), V1.len());
    if buf.len() < sig_len {
        let v2 = V2_SIGNATURE.get(..buf.len()) == Some(buf);
        let v1 = buf.len() < v1_len && V1.get(..buf.len()) == Some(buf);
        let v1_started = buf.len() >= v1_len && buf.starts_with(V1);
        return if v2 || v1 {
            Parsed::NeedMore
        } else if v1_started {
            parse_v1(buf)
        } else {
            Parsed::NotProxy
        };
    }
    if buf.starts_with(&V2_SIGNATURE) {
        parse_v2(buf)
    } else if buf.starts_with(V1) {
        parse_v1(buf)
    } else {
        Parsed::NotProxy
    }
}

fn parse_v1(buf: &[u8]) -> Parsed {
    const MAX_V1: usize = 107;
    let Some(end) = buf.windows(2).position(|w| w == b"\r\n") else {
        return if buf.len() >= MAX_V1 {
            Parsed::Invalid("v1 header without CRLF")
        } else {
            Parsed::NeedMore
        };
    };
    if end + 2 > MAX_V1 {
        return Parsed::Invalid("v1 header too long");
    }
    let Ok(line) = std::str::from_utf8(buf.get(..end).unwrap_or_default()) else {
        return Parsed::Invalid("v1 header is not text");
    };
    let parts: Vec<&str> = line.split(' ').collect();
    let origin = match parts.as_slice() {
        ["PROXY", "UNKNOWN", ..] => Origin::Proxy,
        [
            "PROXY",
            family @ ("TCP4" | "TCP6"),
            src,
            _dst,
            sport,
            _dport,
        ] => {
            let ip = match (*family, src.parse::<IpAddr>()) {
                ("TCP4", Ok(ip @ IpAddr::V4(_))) | ("TCP6", Ok(ip @ IpAddr::V6(_))) => ip,
                _ => return Parsed::Invalid("v1 source address"),
            };
            let Some(port) = port_of(sport) else {
                return Parsed::Invalid("v1 source port");
            };
            Origin::Client(SocketAddr::new(ip, port))
        }
        _ => return Parsed::Invalid("v1 header fields"),
    };
    Parsed::Header {
        len: end + 2,
        origin,
    }
}

/// A decimal port without sign or leading zeros.
fn port_of(s: &str) -> Option<u16> {
    if s.is_empty() || (s.len() > 1 && s.starts_with('0')) || !s.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    s.parse().ok()
}

fn parse_v2(buf: &[u8]) -> Parsed {
    let (Some(&ver_cmd), Some(&family), Some(&len_hi), Some(&len_lo)) =
        (buf.get(12), buf.get(13), buf.get(14), buf.get(15))
    else {
        return Parsed::NeedMore;
    };
    if ver_cmd >> 4 != 2 {
        return Parsed::Invalid("v2 version");
    }
    let len = 16 + usize::from(u16::from_be_bytes([len_hi, len_lo]));
    if len > MAX_HEADER {
        return Parsed::Invalid("v2 header too long");
    }
    let Some(body) = buf.get(16..len) else {
        return Parsed::NeedMore;
    };
    let origin = match (ver_cmd & 0x0f, family) {
        (0, _) => Origin::Proxy,
        (1, 0x00) => Origin::Proxy,
        (1, 0x11) => {
            let (Some(ip), Some(port)) = (array::<4>(body, 0), array::<2>(body, 8)) else {
                return Parsed::Invalid("v2 IPv4 addresses truncated");
            };
            let ip = Ipv4Addr::from(ip);
            Origin::Client(SocketAddr::new(ip.into(), u16::from_be_bytes(port)))
        }
        (1, 0x21) => {
            let (Some(ip), Some(port)) = (array::<16>(body, 0), array::<2>(body, 32)) else {
                return Parsed::Invalid("v2 IPv6 addresses truncated");
            };
            let ip = Ipv6Addr::from(ip);
            Origin::Client(SocketAddr::new(ip.into(), u16::from_be_bytes(port)))
        }
        (1, _) => return Parsed::Invalid("v2 address family is not TCP"),
        _ => return Parsed::Invalid("v2 command"),
    };
    Parsed::Header { len, origin }
}

/// `N` bytes of `buf` from `at`, if there.
fn array<const N: usize>(buf: &[u8], at: usize) -> Option<[u8; N]> {
    buf.get(at..at.checked_add(N)?)?.try_into().ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn client(s: &str) -> Origin {
        Origin::Client(s.parse().unwrap())
    }

    #[test]
    fn v1_headers() {
        let h = b"PROXY TCP4 192.0.2.1 198.51.100.2 51234 22\r\nSSH-2.0-x";
        assert_eq!(
            parse(h),
            Parsed::Header {
                len: 44,
                origin: client("192.0.2.1:51234")
            }
        );
        let h = b"PROXY TCP6 2001:db8::1 2001:db8::2 4000 21\r\n";
        assert!(
            matches!(parse(h), Parsed::Header { origin, .. } if origin == client("[2001:db8::1]:4000"))
        );
        assert!(matches!(
            parse(b"PROXY UNKNOWN\r\n"),
            Parsed::Header {
                len: 15,
                origin: Origin::Proxy
            }
        ));
        assert_eq!(parse(b"PROXY TCP4 1.2.3.4"), Parsed::NeedMore);
        assert_eq!(parse(b"PRO"), Parsed::NeedMore);
        for bad in [
            &b"PROXY TCP4 ::1 1.2.3.4 1 2\r\n"[..],
            b"PROXY TCP4 1.2.3.4 1.2.3.4 99999 2\r\n",
            b"PROXY TCP4 1.2.3.4 1.2.3.4 01 2\r\n",
            b"PROXY TCP4 1.2.3.4 1.2.3.4 1\r\n",
            b"PROXY UDP4 1.2.3.4 1.2.3.4 1 2\r\n",
        ] {
            assert!(matches!(parse(bad), Parsed::Invalid(_)), "{bad:?}");
        }
        assert!(matches!(parse(&[b'P'; 200]), Parsed::NotProxy));
        let long = [b"PROXY ".as_slice(), &[b'1'; 120]].concat();
        assert!(matches!(parse(&long), Parsed::Invalid(_)));
    }

    #[test]
    fn v2_headers() {
        let mut h = V2_SIGNATURE.to_vec();
        h.extend([
            0x21, 0x11, 0, 12, 10, 1, 2, 3, 127, 0, 0, 1, 0x1f, 0x90, 0, 22,
        ]);
        assert_eq!(
            parse(&h),
            Parsed::Header {
                len: 28,
                origin: client("10.1.2.3:8080")
            }
        );
        assert_eq!(parse(&h[..20]), Parsed::NeedMore);
        assert_eq!(parse(&h[..5]), Parsed::NeedMore);
        let mut local = V2_SIGNATURE.to_vec();
        local.extend([0x20, 0x00, 0, 0]);
        assert_eq!(
            parse(&local),
            Parsed::Header {
                len: 16,
                origin: Origin::Proxy
            }
        );
        let mut v6 = V2_SIGNATURE.to_vec();
        v6.extend([0x21, 0x21, 0, 36]);
        v6.extend(std::iter::repeat_n(0u8, 15));
        v6.push(1);
        v6.extend([0u8; 16]);
        v6.extend([0, 80, 0, 22]);
        assert!(
            matches!(parse(&v6), Parsed::Header { len: 52, origin } if origin == client("[::1]:80"))
        );
        let mut udp = V2_SIGNATURE.to_vec();
        udp.extend([0x21, 0x12, 0, 12]);
        udp.extend([0u8; 12]);
        assert!(matches!(parse(&udp), Parsed::Invalid(_)));
        let mut short = V2_SIGNATURE.to_vec();
        short.extend([0x21, 0x11, 0, 4, 1, 2, 3, 4]);
        assert!(matches!(parse(&short), Parsed::Invalid(_)));
        let mut v3 = V2_SIGNATURE.to_vec();
        v3.extend([0x31, 0x11, 0, 0]);
        assert!(matches!(parse(&v3), Parsed::Invalid(_)));
        assert_eq!(parse(b"SSH-2.0-OpenSSH_9.2\r\n"), Parsed::NotProxy);
        assert_eq!(parse(b"\r\nGET"), Parsed::NotProxy);
    }

    #[test]
    fn policies_follow_sftpgo() {
        let cfg = |mode: u8| CommonConfig {
            proxy_protocol: mode,
            proxy_allowed: vec!["10.0.0.0/8".into()],
            proxy_skipped: vec!["10.9.9.9".into()],
            ..CommonConfig::default()
        };
        assert!(ProxyProtocol::from_config(&cfg(0)).is_none());
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let p1 = ProxyProtocol::from_config(&cfg(1)).unwrap();
        assert_eq!(p1.policy(ip("10.1.1.1")), Policy::Use);
        assert_eq!(p1.policy(ip("192.168.1.1")), Policy::Ignore);
        assert_eq!(p1.policy(ip("10.9.9.9")), Policy::Skip);
        let p2 = ProxyProtocol::from_config(&cfg(2)).unwrap();
        assert_eq!(p2.policy(ip("10.1.1.1")), Policy::Require);
        assert_eq!(p2.policy(ip("192.168.1.1")), Policy::Reject);
        assert_eq!(p2.policy(ip("::ffff:10.1.1.1")), Policy::Require);
    }
}
