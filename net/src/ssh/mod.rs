//! SSH front-end: russh transport, our SFTP engine, SCP and SSH commands.

mod commands;
pub mod config;
mod handler;
pub mod keys;
mod read_buffer;
mod scp;
pub mod sftp;

use std::sync::Arc;

use sftpgo_core::auth::Authenticator;
use sftpgo_core::config::CommonConfig;
use sftpgo_core::connection::FsFactory;
use sftpgo_core::sessions::{Closer, ConnectionLimiter, SessionRegistry};

pub use config::Config;
pub use handler::SshHandler;

/// Everything an SSH connection needs, shared by all workers.
pub struct SshServer {
    /// `sftpd` settings.
    pub config: Config,
    /// `common` settings.
    pub common: CommonConfig,
    /// russh settings derived from `config`.
    pub russh: Arc<russh::server::Config>,
    /// Login checks.
    pub auth: Authenticator,
    /// Active sessions.
    pub sessions: Arc<SessionRegistry>,
    /// Connection caps shared by every front-end.
    pub limiter: Arc<ConnectionLimiter>,
    /// Storage for a logged-in user.
    pub fs_factory: Arc<dyn FsFactory>,
    /// Pre-authentication banner.
    pub banner: Option<String>,
    /// SFTP engine limits.
    pub sftp_limits: sftp::Limits,
}

impl SshServer {
    /// Serves one accepted TCP connection until it ends.
    pub async fn serve_connection(self: Arc<Self>, stream: tokio::net::TcpStream) {
        let Ok(peer_addr) = stream.peer_addr() else {
            return;
        };
        let peer = peer_addr.to_string();
        // Caps apply before any protocol byte is read.
        let _slot = match self.limiter.try_acquire(peer_addr.ip()) {
            Ok(slot) => slot,
            Err(why) => {
                tracing::warn!(sender = "SSH", remote = %peer, reason = why, "connection refused");
                return;
            }
        };
        let _ = stream.set_nodelay(true);
        let closer = Closer::default();
        let handler = SshHandler::new(self.clone(), peer_addr, closer.clone());
        let stream = read_buffer::ReadBuffered::new(stream);
        match russh::server::run_stream(self.russh.clone(), stream, handler).await {
            Ok(mut session) => {
                let ended = tokio::select! {
                    r = &mut session => Some(r),
                    () = closer.closed() => None,
                };
                let result = match ended {
                    Some(r) => r,
                    None => {
                        tracing::info!(sender = "SSH", remote = %peer, "closing the connection on request");
                        let _ = session
                            .handle()
                            .disconnect(
                                russh::Disconnect::ByApplication,
                                "connection closed by the administrator".into(),
                                "en".into(),
                            )
                            .await;
                        tokio::time::timeout(std::time::Duration::from_secs(5), session)
                            .await
                            .unwrap_or(Ok(()))
                    }
                };
                if let Err(e) = result {
                    tracing::debug!(remote = %peer, error = %e, "SSH connection ended with an error");
                }
            }
            Err(e) => tracing::debug!(remote = %peer, error = %e, "SSH handshake failed"),
        }
    }
}
