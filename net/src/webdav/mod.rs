//! WebDAV front-end: hyper HTTP/1.1 on the per-core workers, Basic authentication
//! through `sftpgo-core`, and dav-server (RFC 4918 class 1 and 2: PROPFIND, MKCOL, COPY,
//! MOVE, LOCK/UNLOCK with an in-memory lock table) over each request's
//! `core::Connection` ([`fs`]).
//!
//! Each request is authenticated and registered as a session for its duration, as in
//! SFTPGo, so `max_sessions`, the connection list and the defender apply.

#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

pub mod config;
mod fs;
mod props;

pub use props::DeadProps;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use dav_server::DavHandler;
use dav_server::body::Body;
use http::{Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use sftpgo_core::auth::{AuthError, Authenticator, Client};
use sftpgo_core::config::CommonConfig;
use sftpgo_core::connection::{Connection, FsFactory};
use sftpgo_core::defender::{Defender, HostEvent};
use sftpgo_core::sessions::{Activity, Closer, ConnectionLimiter, NewConnection, SessionRegistry};
use tokio_rustls::TlsAcceptor;

pub use config::{Binding, Config};

use crate::tls_stream::MaybeTls;

/// How long a client may take to send a request's headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// Bytes read per step of a GET body (dav-server's default is 16 KiB).
const GET_CHUNK: usize = 256 * 1024;
/// The realm of `WWW-Authenticate`.
const REALM: &str = "Basic realm=\"SFTPGo WebDAV\"";

/// What every WebDAV connection shares.
pub struct DavServer {
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
    /// Storage for a logged-in user.
    pub fs_factory: Arc<dyn FsFactory>,
    /// Locks, shared by every binding and worker.
    pub locks: Locks,
    /// Dead properties, shared by every binding and worker.
    pub props: DeadProps,
}

/// The WebDAV lock table (in memory: locks do not survive a restart).
#[derive(Clone)]
pub struct Locks(Box<dyn dav_server::ls::DavLockSystem>);

impl Default for Locks {
    fn default() -> Self {
        Self(dav_server::memls::MemLs::new())
    }
}

/// One WebDAV binding.
pub struct DavListener {
    server: Arc<DavServer>,
    handler: DavHandler<fs::Session>,
    tls: Option<TlsAcceptor>,
}

impl DavListener {
    /// A listener for `binding`; `tls` when it serves HTTPS.
    pub fn new(server: Arc<DavServer>, binding: &Binding, tls: Option<TlsAcceptor>) -> Self {
        let mut builder = DavHandler::builder()
            .filesystem(Box::new(fs::ConnectionFs {
                props: server.props.clone(),
            }))
            .locksystem(server.locks.0.clone())
            .read_buf_size(GET_CHUNK);
        if !binding.prefix.is_empty() {
            builder = builder.strip_prefix(binding.prefix.clone());
        }
        Self {
            server,
            handler: builder.build_handler(),
            tls,
        }
    }

    /// Serves one accepted connection until it ends.
    pub async fn serve_connection(self: Arc<Self>, tcp: tokio::net::TcpStream) {
        let Ok(peer) = tcp.peer_addr() else {
            return;
        };
        let srv = &self.server;
        let Some(_slot) =
            crate::admission::admit(&srv.defender, &srv.limiter, peer, "WebDAV", "DAV")
        else {
            return;
        };
        let _ = tcp.set_nodelay(true);
        let stream = match &self.tls {
            Some(acceptor) => {
                let handshake = MaybeTls::accept_tls(tcp, acceptor);
                match tokio::time::timeout(HEADER_TIMEOUT, handshake).await {
                    Ok(Ok(s)) => s,
                    _ => return,
                }
            }
            None => MaybeTls::Plain(tcp),
        };
        let me = self.clone();
        let service = hyper::service::service_fn(move |req| {
            let me = me.clone();
            async move { Ok::<_, Infallible>(me.handle(req, peer).await) }
        });
        let served = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_TIMEOUT)
            .serve_connection(TokioIo::new(stream), service)
            .await;
        if let Err(e) = served {
            tracing::debug!(sender = "WebDAV", remote = %peer, error = %e, "connection ended with an error");
        }
    }

    async fn handle(&self, req: Request<Incoming>, peer: SocketAddr) -> Response<Body> {
        let srv = &self.server;
        let ip = peer.ip().to_canonical();
        let Some((username, password)) = basic_credentials(&req) else {
            return unauthorized();
        };
        let client = Client {
            protocol: "DAV",
            ip,
        };
        let user = match srv.auth.password(&username, &password, client).await {
            Ok(u) => u,
            Err(e) => {
                tracing::warn!(sender = "WebDAV", username = %username, remote = %peer, reason = %e, "login failed");
                let event = match e {
                    AuthError::UnknownUser => Some(HostEvent::UserNotFound),
                    AuthError::Store(_) => None,
                    _ => Some(HostEvent::LoginFailed),
                };
                if let Some(ev) = event {
                    srv.defender.add_event(ip, "DAV", ev);
                }
                return unauthorized();
            }
        };
        let id = srv.sessions.connection_id("DAV");
        let activity = Activity::default();
        let registered = NewConnection {
            id: id.clone(),
            username: user.username.clone(),
            role: user.role.clone(),
            protocol: "DAV".into(),
            remote: peer.to_string(),
            closer: Closer::default(),
            activity: activity.clone(),
        };
        let Some(_guard) = srv.sessions.try_acquire(registered, user.max_sessions) else {
            tracing::warn!(sender = "WebDAV", username = %username, remote = %peer, "request refused: too many open sessions");
            return status(StatusCode::TOO_MANY_REQUESTS, "too many open sessions");
        };
        let fs = match srv.fs_factory.fs_for(&user) {
            Ok(fs) => fs,
            Err(e) => {
                tracing::error!(sender = "WebDAV", username = %username, error = %e, "cannot open the user's file system");
                return status(StatusCode::INTERNAL_SERVER_ERROR, "storage unavailable");
            }
        };
        let conn = Connection::new(
            id,
            "DAV",
            peer.to_string(),
            Arc::new(user),
            fs,
            srv.common.upload_mode,
        )
        .with_activity(activity);
        self.handler
            .handle_guarded(req, username, Arc::new(conn))
            .await
    }
}

/// The HTTPS acceptor of a binding (`None` for plain HTTP); paths are relative to
/// `config_dir`.
pub fn acceptor(
    cfg: &Config,
    binding: &Binding,
    config_dir: &std::path::Path,
) -> Result<Option<TlsAcceptor>, String> {
    if !binding.enable_https {
        return Ok(None);
    }
    let (cert, key) = if binding.certificate_file.is_empty() {
        (&cfg.certificate_file, &cfg.certificate_key_file)
    } else {
        (&binding.certificate_file, &binding.certificate_key_file)
    };
    let settings = sftpgo_core::tls::ServerTls {
        cert: config_dir.join(cert),
        key: config_dir.join(key),
        min_version: binding.min_tls_version,
        client_auth: if binding.client_auth_type == 1 {
            sftpgo_core::tls::ClientAuth::Required
        } else {
            sftpgo_core::tls::ClientAuth::Off
        },
        client_cas: cfg
            .ca_certificates
            .iter()
            .map(|c| config_dir.join(c))
            .collect(),
        section: "webdavd",
    };
    let mut config = settings.server_config()?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Some(TlsAcceptor::from(Arc::new(config))))
}

/// `Authorization: Basic` user and password.
fn basic_credentials<B>(req: &Request<B>) -> Option<(String, String)> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, pass) = text.split_once(':')?;
    Some((user.to_string(), pass.to_string()))
}

fn status(code: StatusCode, text: &'static str) -> Response<Body> {
    let mut r = Response::new(Body::from(text));
    *r.status_mut() = code;
    r
}

fn unauthorized() -> Response<Body> {
    let mut r = status(StatusCode::UNAUTHORIZED, "authentication required");
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static(REALM),
    );
    r
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_parsed_strictly() {
        let req = |v: &str| {
            Request::builder()
                .header(header::AUTHORIZATION, v)
                .body(())
                .unwrap()
        };
        // "alice:pa:ss" — the password may hold colons.
        assert_eq!(
            basic_credentials(&req("Basic YWxpY2U6cGE6c3M=")),
            Some(("alice".into(), "pa:ss".into()))
        );
        assert_eq!(basic_credentials(&req("Bearer x")), None);
        assert_eq!(basic_credentials(&req("Basic !!!")), None);
        assert_eq!(basic_credentials(&req("Basic YWxpY2U=")), None, "no colon");
    }
}
