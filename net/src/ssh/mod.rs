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
use sftpgo_core::connection::Opener;
use sftpgo_core::defender::Defender;
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
    /// Brute-force protection shared by every front-end.
    pub defender: Arc<Defender>,
    /// Opens a logged-in user's session: storage, upload mode, quota.
    pub opener: Arc<Opener>,
    /// Pre-authentication banner.
    pub banner: Option<String>,
    /// SFTP engine limits.
    pub sftp_limits: sftp::Limits,
}

impl SshServer {
    /// Serves one accepted TCP connection from client `peer_addr` (the socket's peer,
    /// or the client a PROXY header names) until it ends.
    pub async fn serve_connection(
        self: Arc<Self>,
        stream: tokio::net::TcpStream,
        peer_addr: std::net::SocketAddr,
    ) {
        let peer = peer_addr.to_string();
        // Bans and caps apply before any protocol byte is read.
        let Some(_slot) =
            crate::admission::admit_rated(&self.defender, &self.limiter, peer_addr, "SSH", "SSH")
                .await
        else {
            return;
        };
        let _ = stream.set_nodelay(true);
        let closer = Closer::default();
        // A second handle on the socket, to cut it if a closed session does not end,
        // and to busy poll it while the session is in an exchange.
        let killer = {
            use std::os::fd::AsFd;
            stream
                .as_fd()
                .try_clone_to_owned()
                .ok()
                .map(|fd| Arc::new(std::net::TcpStream::from(fd)))
        };
        let busy = killer
            .clone()
            .and_then(|fd| crate::busy_poll::Registration::new(fd));
        let handler = SshHandler::new(self.clone(), peer_addr, closer.clone());
        let tried = handler.auth_tried();
        let stream = read_buffer::ReadBuffered::new(stream, busy);
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
                        close_session(&mut session, killer.as_deref()).await
                    }
                };
                if let Err(e) = result {
                    tracing::debug!(remote = %peer, error = %e, "SSH connection ended with an error");
                }
            }
            Err(e) => tracing::debug!(remote = %peer, error = %e, "SSH handshake failed"),
        }
        // A client that left (or failed the handshake) without trying to log in.
        if !tried.load(std::sync::atomic::Ordering::Relaxed) {
            self.defender.add_event(
                peer_addr.ip().to_canonical(),
                "SSH",
                sftpgo_core::defender::HostEvent::NoLoginTried,
            );
        }
    }
}

/// Ends a session an admin closed: SSH_MSG_DISCONNECT first, then, if the session is
/// still running after a short wait (its loop stuck, the client not reading), the
/// socket is shut down so every read and write fails and the session task ends.
async fn close_session<H: russh::server::Handler>(
    session: &mut russh::server::RunningSession<H>,
    killer: Option<&std::net::TcpStream>,
) -> Result<(), H::Error> {
    const WAIT: std::time::Duration = std::time::Duration::from_secs(2);
    let handle = session.handle();
    let _ = tokio::time::timeout(
        WAIT,
        handle.disconnect(
            russh::Disconnect::ByApplication,
            "connection closed by the administrator".into(),
            "en".into(),
        ),
    )
    .await;
    if let Ok(r) = tokio::time::timeout(WAIT, &mut *session).await {
        return r;
    }
    if let Some(socket) = killer {
        let _ = socket.shutdown(std::net::Shutdown::Both);
    }
    tokio::time::timeout(WAIT * 3, session)
        .await
        .unwrap_or(Ok(()))
}
