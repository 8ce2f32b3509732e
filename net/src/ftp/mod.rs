//! FTP/FTPS front-end: our own RFC 959 server with RFC 2228/4217 (TLS), 2389 (FEAT),
//! 2428 (EPRT/EPSV), 2640 (UTF-8) and 3659 (SIZE, MDTM, REST, MLST/MLSD).
//!
//! libunftp was measured and set aside for the data path (see `docs/ftp.md`): its
//! transfers copy 8 KiB at a time through the blocking pool. Here a data transfer moves
//! 256 KiB chunks with the disk and the socket working at the same time, and every
//! login and file operation goes through `sftpgo-core` like SSH's.

#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod commands;
pub mod config;
mod data;
mod pump;
mod reply;
mod session;
mod splice;
mod stream;
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;

use sftpgo_core::auth::Authenticator;
use sftpgo_core::config::CommonConfig;
use sftpgo_core::connection::Opener;
use sftpgo_core::defender::Defender;
use sftpgo_core::sessions::{ConnectionLimiter, SessionRegistry};
use tokio_rustls::TlsAcceptor;

pub use config::{Binding, Config, TlsMode};
pub use data::PassivePorts;

use session::Session;
use stream::{Control, MaybeTls};

/// Greeting sent when `banner_file` is not set.
pub const DEFAULT_BANNER: &str = "SFTPGo (Rust) FTP server ready";

/// What every FTP connection shares, whatever its binding.
pub struct FtpServer {
    /// `ftpd` settings.
    pub config: Config,
    /// `common` settings.
    pub common: CommonConfig,
    /// Login checks.
    pub auth: Authenticator,
    /// Active sessions of every protocol.
    pub sessions: Arc<SessionRegistry>,
    /// Connection caps shared by every front-end.
    pub limiter: Arc<ConnectionLimiter>,
    /// Brute-force protection shared by every front-end.
    pub defender: Arc<Defender>,
    /// Opens a logged-in user's session: storage, upload mode, quota.
    pub opener: Arc<Opener>,
    /// The greeting.
    pub banner: String,
    /// Ports for passive data connections.
    pub passive_ports: PassivePorts,
}

/// One FTP binding: the shared server plus the binding's settings and TLS.
pub struct FtpListener {
    /// The shared server.
    pub server: Arc<FtpServer>,
    /// This binding's settings.
    pub binding: Binding,
    /// TLS for `AUTH TLS`, `PROT P` and implicit mode; `None` without a certificate.
    pub tls: Option<TlsAcceptor>,
    /// PROXY protocol of the binding, for passive data connections too.
    pub proxy: Option<Arc<crate::proxy_protocol::ProxyProtocol>>,
}

impl FtpListener {
    /// Serves one accepted control connection from client `peer` (the socket's peer,
    /// or the client a PROXY header names) until it ends.
    pub async fn serve_connection(self: Arc<Self>, tcp: tokio::net::TcpStream, peer: SocketAddr) {
        let Ok(local) = tcp.local_addr() else {
            return;
        };
        let srv = &self.server;
        let Some(_slot) =
            crate::admission::admit_rated(&srv.defender, &srv.limiter, peer, "FTP", "FTP").await
        else {
            return;
        };
        let _ = tcp.set_nodelay(true);
        let stream = if self.binding.tls_mode == TlsMode::Implicit {
            let Some(acceptor) = &self.tls else {
                return;
            };
            match tokio::time::timeout(data::CONNECT_TIMEOUT, MaybeTls::accept_tls(tcp, acceptor))
                .await
            {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::debug!(sender = "FTP", remote = %peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => return,
            }
        } else {
            MaybeTls::Plain(tcp)
        };
        Session::new(self.clone(), Control::new(stream), peer, local)
            .run()
            .await;
    }
}
