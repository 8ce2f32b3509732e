//! Data connections (RFC 959 §3.2, RFC 2428): passive listeners from the configured
//! port range, active connections to the client, the address checks that stop FTP
//! bounce attacks and data-connection theft, and TLS for `PROT P` (RFC 4217 §9).

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket};
use tokio_rustls::TlsAcceptor;

use super::config::PortRange;
use super::stream::MaybeTls;

/// How long a data connection may take to arrive or connect.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// The passive port range, shared by every worker and connection.
pub struct PassivePorts {
    range: PortRange,
    cursor: AtomicU32,
}

impl PassivePorts {
    /// Ports `range.start..=range.end`.
    pub fn new(range: PortRange) -> Self {
        let mut seed = [0u8; 4];
        rand::fill(&mut seed);
        Self {
            range,
            cursor: AtomicU32::new(u32::from_le_bytes(seed)),
        }
    }

    /// Listens on a free port of the range at `ip`. Successive calls start at
    /// different ports so concurrent sessions rarely collide.
    pub fn listen(&self, ip: IpAddr) -> io::Result<TcpListener> {
        let span = u32::from(self.range.end - self.range.start) + 1;
        let first = self.cursor.fetch_add(1, Ordering::Relaxed) % span;
        for i in 0..span {
            let offset = (first + i) % span;
            let port = self.range.start + u16::try_from(offset).unwrap_or(0);
            match std::net::TcpListener::bind(SocketAddr::new(ip, port)) {
                Ok(l) => {
                    l.set_nonblocking(true)?;
                    return TcpListener::from_std(l);
                }
                Err(e) if e.kind() == io::ErrorKind::AddrInUse => continue,
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            "no free port in ftpd.passive_port_range",
        ))
    }
}

/// How the next data connection is made.
pub enum DataPlan {
    /// `PASV`/`EPSV`: the client connects to this listener.
    Passive(TcpListener),
    /// `PORT`/`EPRT`: the server connects to this address.
    Active(SocketAddr),
}

/// Who may be on the other end of a data connection.
pub struct DataPolicy {
    /// The control connection's client address.
    pub client_ip: IpAddr,
    /// The control connection's local address (active connections leave from it).
    pub local_ip: IpAddr,
    /// Passive connections must come from `client_ip`.
    pub same_ip_passive: bool,
    /// Active connections leave from port 20.
    pub active_from_port_20: bool,
    /// PROXY protocol of the binding: passive connections carry the client's address
    /// in a header.
    pub proxy: Option<std::sync::Arc<crate::proxy_protocol::ProxyProtocol>>,
}

/// Opens the data connection and, with `tls`, runs its TLS handshake.
pub async fn open(
    plan: DataPlan,
    policy: &DataPolicy,
    tls: Option<&TlsAcceptor>,
) -> io::Result<MaybeTls> {
    let tcp = match plan {
        DataPlan::Passive(listener) => {
            tokio::time::timeout(CONNECT_TIMEOUT, accept_from(&listener, policy))
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no data connection"))??
        }
        DataPlan::Active(addr) => {
            let socket = if addr.is_ipv4() {
                TcpSocket::new_v4()?
            } else {
                TcpSocket::new_v6()?
            };
            if policy.active_from_port_20 {
                socket.set_reuseaddr(true)?;
                socket.bind(SocketAddr::new(policy.local_ip, 20))?;
            }
            tokio::time::timeout(CONNECT_TIMEOUT, socket.connect(addr))
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??
        }
    };
    match tls {
        Some(acceptor) => {
            tokio::time::timeout(CONNECT_TIMEOUT, MaybeTls::accept_tls(tcp, acceptor))
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"))?
        }
        None => Ok(MaybeTls::Plain(tcp)),
    }
}

/// Accepts the first connection from an allowed address; others are dropped.
async fn accept_from(
    listener: &TcpListener,
    policy: &DataPolicy,
) -> io::Result<tokio::net::TcpStream> {
    loop {
        let (mut tcp, upstream) = listener.accept().await?;
        let from = match &policy.proxy {
            Some(p) => match p.client_of(&mut tcp, upstream).await {
                Some(from) => from,
                None => continue,
            },
            None => upstream,
        };
        if !policy.same_ip_passive || same_host(from.ip(), policy.client_ip) {
            return Ok(tcp);
        }
        tracing::warn!(sender = "FTP", expected = %policy.client_ip, from = %from,
            "passive data connection from another address refused");
    }
}

/// Compares addresses, seeing through IPv4-mapped IPv6.
pub fn same_host(a: IpAddr, b: IpAddr) -> bool {
    a.to_canonical() == b.to_canonical()
}

/// `h1,h2,h3,h4,p1,p2` of `PORT` (RFC 959 §4.1.2).
pub fn parse_port(arg: &str) -> Option<SocketAddr> {
    let nums: Vec<u8> = arg
        .trim()
        .split(',')
        .map(|p| p.trim().parse::<u8>())
        .collect::<Result<_, _>>()
        .ok()?;
    let [a, b, c, d, hi, lo] = nums.as_slice() else {
        return None;
    };
    let ip = Ipv4Addr::new(*a, *b, *c, *d);
    Some(SocketAddr::new(
        IpAddr::V4(ip),
        u16::from(*hi) << 8 | u16::from(*lo),
    ))
}

/// `<d>proto<d>address<d>port<d>` of `EPRT` (RFC 2428 §2).
pub fn parse_eprt(arg: &str) -> Option<SocketAddr> {
    let arg = arg.trim();
    let delim = arg.chars().next()?;
    if !(33..=126).contains(&u32::from(delim)) {
        return None;
    }
    let parts: Vec<&str> = arg.split(delim).collect();
    let ["", proto, addr, port, ""] = parts.as_slice() else {
        return None;
    };
    let ip: IpAddr = match *proto {
        "1" => IpAddr::V4(addr.parse().ok()?),
        "2" => IpAddr::V6(addr.parse().ok()?),
        _ => return None,
    };
    Some(SocketAddr::new(ip, port.parse().ok()?))
}

/// The `227` reply text for a passive listener announced at `ip` (RFC 959 §4.1.2).
pub fn pasv_reply(ip: Ipv4Addr, port: u16) -> String {
    let [a, b, c, d] = ip.octets();
    format!(
        "Entering Passive Mode ({a},{b},{c},{d},{},{})",
        port >> 8,
        port & 0xff
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn port_arguments() {
        assert_eq!(
            parse_port("127,0,0,1,195,80"),
            Some("127.0.0.1:50000".parse().unwrap())
        );
        assert_eq!(parse_port("127,0,0,1,195"), None);
        assert_eq!(parse_port("127,0,0,1,195,800"), None);
        assert_eq!(parse_port("a,0,0,1,1,1"), None);
        assert_eq!(
            parse_eprt("|1|132.235.1.2|6275|"),
            Some("132.235.1.2:6275".parse().unwrap())
        );
        assert_eq!(
            parse_eprt("|2|::1|5282|"),
            Some("[::1]:5282".parse().unwrap())
        );
        assert_eq!(parse_eprt("|3|::1|5282|"), None);
        assert_eq!(parse_eprt("|1|::1|5282|"), None);
        assert_eq!(parse_eprt("|1|1.2.3.4|99999|"), None);
        assert_eq!(
            pasv_reply(Ipv4Addr::LOCALHOST, 50000),
            "Entering Passive Mode (127,0,0,1,195,80)"
        );
    }

    #[test]
    fn mapped_addresses_match() {
        let v4: IpAddr = "127.0.0.1".parse().unwrap();
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert!(same_host(v4, mapped));
        assert!(!same_host(v4, "127.0.0.2".parse().unwrap()));
    }

    #[tokio::test]
    async fn passive_ports_stay_in_range_and_skip_busy_ones() {
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        // Two adjacent free ports, the first held busy by this test (no fixed ports:
        // another process may own any given one).
        let (busy, free) = (0..50)
            .find_map(|_| {
                let a = std::net::TcpListener::bind((ip, 0)).ok()?;
                let p = a.local_addr().ok()?.port();
                let next = p.checked_add(1)?;
                std::net::TcpListener::bind((ip, next)).ok()?;
                Some((a, next))
            })
            .unwrap();
        let start = busy.local_addr().unwrap().port();
        let ports = PassivePorts::new(PortRange { start, end: free });
        for _ in 0..3 {
            let l = ports.listen(ip).unwrap();
            assert_eq!(
                l.local_addr().unwrap().port(),
                free,
                "the busy port is skipped"
            );
            drop(l);
        }
        let held = ports.listen(ip).unwrap();
        assert!(ports.listen(ip).is_err(), "range exhausted");
        drop(held);
    }
}
