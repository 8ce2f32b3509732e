//! WebDAV front-end: our HTTP/1.1 loop ([`crate::http1`]) on the per-core workers, Basic authentication
//! through `sftpgo-core`, and dav-server (RFC 4918 class 1 and 2: PROPFIND, MKCOL, COPY,
//! MOVE, LOCK/UNLOCK with an in-memory lock table) over each request's
//! `core::Connection` (`fs`).
//!
//! Each request is authenticated and registered as a session for its duration, as in
//! SFTPGo, so `max_sessions`, the connection list and the defender apply; an admin's
//! close from the list drops the TCP connection with the request in flight.

#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

pub mod config;
mod fs;
mod limits;
mod locks;
mod login;
mod props;
mod put_length;

pub use props::DeadProps;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use dav_server::body::Body;
use dav_server::ls::DavLockSystem;
use dav_server::{DavHandler, DavMethod, DavMethodSet};
use http::{Request, Response, StatusCode, header};
use limits::SessionBody;
use login::{add_headers, basic_credentials, login};
use put_length::DeclaredLength;
use sftpgo_core::auth::{AuthError, Authenticator, Client};
use sftpgo_core::config::CommonConfig;
use sftpgo_core::connection::{Connection, Opener};
use sftpgo_core::cors::CorsConfig;
use sftpgo_core::defender::{Defender, HostEvent};
use sftpgo_core::model::Permission;
use sftpgo_core::path::VirtualPath;
use sftpgo_core::sessions::{Activity, Closer, ConnectionLimiter, NewConnection, SessionRegistry};
use tokio_rustls::TlsAcceptor;

pub use config::{Binding, Cache, Config};

use crate::http1::{FileBody, RequestBody};
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
    /// Opens a logged-in user's session: storage, upload mode, quota.
    pub opener: Arc<Opener>,
    /// Locks, shared by every binding and worker.
    pub locks: Locks,
    /// Dead properties, shared by every binding and worker.
    pub props: DeadProps,
    /// `webdavd.cache` (custom MIME types).
    pub cache: Cache,
    /// `webdavd.cors`.
    pub cors: CorsConfig,
}

/// WebDAV lock tables, one per user (in memory: locks do not survive a restart; they
/// expire with their timeout). dav-server keys locks by path, so a table shared by all
/// users would let one user's lock block the same path in every other home.
#[derive(Clone, Default)]
pub struct Locks(Arc<std::sync::Mutex<std::collections::HashMap<String, Box<dyn DavLockSystem>>>>);

impl Locks {
    fn for_user(&self, username: &str) -> Box<dyn DavLockSystem> {
        let mut all = self.0.lock().unwrap_or_else(|e| e.into_inner());
        all.entry(username.to_string())
            .or_insert_with(|| Box::new(locks::ExpiringLocks::default()))
            .clone()
    }
}

/// One WebDAV binding.
pub struct DavListener {
    server: Arc<DavServer>,
    prefix: String,
    tls: Option<TlsAcceptor>,
    proxies: sftpgo_core::forwarded::TrustedProxies,
}

impl DavListener {
    /// A listener for `binding`; `tls` when it serves HTTPS.
    pub fn new(server: Arc<DavServer>, binding: &Binding, tls: Option<TlsAcceptor>) -> Self {
        Self {
            server,
            prefix: binding.prefix.clone(),
            tls,
            proxies: sftpgo_core::forwarded::TrustedProxies::new(
                binding.proxy_allowed.clone(),
                binding.client_ip_proxy_header.clone(),
                binding.client_ip_header_depth,
            ),
        }
    }

    /// dav-server for one user's request: their lock table, our file system, no
    /// `PATCH` (not WebDAV, and its appends would skip the upload size limit).
    fn handler(&self, username: &str) -> DavHandler<fs::Session> {
        let mut methods = DavMethodSet::WEBDAV_RW;
        methods.remove(DavMethod::Patch);
        let mut builder = DavHandler::builder()
            .filesystem(Box::new(fs::ConnectionFs {
                props: self.server.props.clone(),
            }))
            .locksystem(self.server.locks.for_user(username))
            .methods(methods)
            .read_buf_size(GET_CHUNK);
        if !self.prefix.is_empty() {
            builder = builder.strip_prefix(self.prefix.clone());
        }
        builder.build_handler()
    }

    /// Whether the request path is under this binding's prefix (at a segment
    /// boundary: `/dav/x`, not `/davx`).
    fn under_prefix<B>(&self, req: &Request<B>) -> bool {
        let path = req.uri().path();
        self.prefix.is_empty()
            || path == self.prefix
            || path
                .strip_prefix(self.prefix.as_str())
                .is_some_and(|rest| rest.starts_with('/'))
    }

    /// Serves one accepted connection until it ends.
    pub async fn serve_connection(self: Arc<Self>, tcp: tokio::net::TcpStream, peer: SocketAddr) {
        let srv = &self.server;
        let Some(_slot) =
            crate::admission::admit(&srv.defender, &srv.limiter, peer, "WebDAV", "DAV")
        else {
            return;
        };
        let _ = tcp.set_nodelay(true);
        let busy = crate::busy_poll::Registration::for_socket(&tcp);
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
        let cert: Option<Arc<[u8]>> = stream.peer_certificate().map(Arc::from);
        // A stalled body or an idle keep-alive connection ends after the idle timeout.
        let idle = srv
            .common
            .idle_limit()
            .unwrap_or(Duration::from_secs(365 * 86_400));
        // Every request of the connection is registered with this closer: an admin's
        // close ends the request in flight and the connection with it.
        let closer = Closer::default();
        let settings = crate::http1::Settings {
            idle,
            header_timeout: HEADER_TIMEOUT,
            busy,
        };
        let me = &self;
        let served = crate::http1::serve(stream, settings, |req| {
            me.handle(req, peer, cert.as_deref(), closer.clone())
        });
        tokio::select! {
            served = served => {
                if let Err(e) = served {
                    tracing::debug!(sender = "WebDAV", remote = %peer, error = %e, "connection ended with an error");
                }
            }
            () = closer.closed() => {
                tracing::info!(sender = "WebDAV", remote = %peer, "connection closed on request");
            }
        }
    }

    /// One request: a CORS preflight is answered here, before authentication (browsers
    /// send none with it); every other response gets the CORS headers.
    async fn handle(
        &self,
        req: Request<RequestBody>,
        peer: SocketAddr,
        cert: Option<&[u8]>,
        closer: Closer,
    ) -> Response<SessionBody> {
        let cors = &self.server.cors;
        if !cors.enabled {
            return self.respond(req, peer, cert, closer).await;
        }
        let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
        if let Some(pre) = cors.preflight(req.method().as_str(), header) {
            let mut resp = status(StatusCode::NO_CONTENT, "");
            *resp.status_mut() = StatusCode::from_u16(pre.status).unwrap_or(StatusCode::NO_CONTENT);
            add_headers(resp.headers_mut(), pre.headers);
            return resp;
        }
        let added = cors.decorate(req.method().as_str(), header("origin"));
        let mut resp = self.respond(req, peer, cert, closer).await;
        add_headers(resp.headers_mut(), added);
        resp
    }

    async fn respond(
        &self,
        req: Request<RequestBody>,
        peer: SocketAddr,
        cert: Option<&[u8]>,
        closer: Closer,
    ) -> Response<SessionBody> {
        let srv = &self.server;
        // The client as a trusted proxy names it: what every check and log sees.
        let peer = self.proxies.client(
            peer,
            req.headers()
                .get_all(self.proxies.header())
                .iter()
                .filter_map(|v| v.to_str().ok()),
        );
        let ip = peer.ip().to_canonical();
        // A ban applies to open keep-alive connections too.
        if let Some(why) = srv.defender.refusal(ip, "DAV") {
            return close(status(StatusCode::FORBIDDEN, why));
        }
        if let Err(limited) = srv.defender.rate_limit(ip, "DAV").await {
            let mut resp = status(StatusCode::TOO_MANY_REQUESTS, "rate limit exceeded");
            let secs = limited.wait.as_secs_f64().ceil().max(1.0);
            if let Ok(v) = http::HeaderValue::from_str(&format!("{secs}")) {
                resp.headers_mut().insert(http::header::RETRY_AFTER, v);
            }
            return resp;
        }
        if !self.under_prefix(&req) {
            return status(StatusCode::NOT_FOUND, "not found");
        }
        if req.method().as_str().eq_ignore_ascii_case("PROPFIND")
            && req
                .headers()
                .get("depth")
                .is_some_and(|d| d.as_bytes().eq_ignore_ascii_case(b"infinity"))
        {
            return status(StatusCode::FORBIDDEN, "Depth: infinity is not supported");
        }
        // Without Basic credentials a client certificate names the user by its CN
        // (a `TLSCertificate` login, as SFTPGo).
        let cert_only = || {
            cert.and_then(sftpgo_core::x509::subject_common_name)
                .map(|cn| (cn, String::new()))
        };
        let Some((username, password)) = basic_credentials(&req).or_else(cert_only) else {
            return unauthorized();
        };
        let client = Client {
            protocol: "DAV",
            ip,
        };
        let user = match login(&srv.auth, &username, &password, cert, client).await {
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
            closer,
            activity: activity.clone(),
        };
        let Some(guard) = srv.sessions.try_acquire(registered, user.max_sessions) else {
            tracing::warn!(sender = "WebDAV", username = %username, remote = %peer, "request refused: too many open sessions");
            return status(StatusCode::TOO_MANY_REQUESTS, "too many open sessions");
        };
        let conn = match srv.opener.open(id, "DAV", peer.to_string(), Arc::new(user)) {
            Ok(conn) => Arc::new(conn.with_activity(activity)),
            Err(e) => {
                tracing::error!(sender = "WebDAV", username = %username, error = %e, "cannot open the user's file system");
                return status(StatusCode::INTERNAL_SERVER_ERROR, "storage unavailable");
            }
        };
        let method = req.method().as_str().to_ascii_uppercase();
        if method == "LOCK" && !self.may_lock(&conn, &req) {
            return status(
                StatusCode::FORBIDDEN,
                "locking needs upload or overwrite permission",
            );
        }
        let oc_mtime = (method == "PUT")
            .then(|| req.headers().get("x-oc-mtime"))
            .flatten()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<i64>().ok())
            .filter(|t| *t > 0);
        let oc_target = oc_mtime.and_then(|_| self.target(&conn, &req));
        let custom_mime = matches!(method.as_str(), "GET" | "HEAD")
            .then(|| srv.cache.mime_of(req.uri().path()))
            .flatten()
            .and_then(|m| http::HeaderValue::from_str(m).ok());
        let handler = self.handler(&username);
        let response = if matches!(method.as_str(), "PROPFIND" | "PROPPATCH" | "LOCK") {
            let (parts, body) = req.into_parts();
            match limits::read_xml(body).await {
                Ok(bytes) => {
                    let req = Request::from_parts(parts, http_body_util::Full::new(bytes));
                    handler
                        .handle_guarded(req, username, fs::Session::new(conn))
                        .await
                }
                Err(why) => {
                    tracing::warn!(sender = "WebDAV", remote = %peer, reason = ?why, "XML body refused");
                    return close(status(StatusCode::BAD_REQUEST, "request body refused"));
                }
            }
        } else {
            let (parts, body) = req.into_parts();
            let declared = (method == "PUT")
                .then(|| put_length::declared_length(&parts.headers))
                .flatten();
            let body = DeclaredLength::new(body, declared);
            let mismatch = body.mismatch();
            let req = Request::from_parts(parts, body);
            let session = match method.as_str() {
                "HEAD" => fs::Session::new(conn.clone()).looking_only(),
                "COPY" => match (self.target(&conn, &req), self.destination(&conn, &req)) {
                    (Some(from), Some(to)) => fs::Session::new(conn.clone()).copying(from, to),
                    _ => fs::Session::new(conn.clone()),
                },
                _ => fs::Session::new(conn.clone()),
            };
            let mut response = handler.handle_guarded(req, username, session.clone()).await;
            if mismatch.load(std::sync::atomic::Ordering::Relaxed) {
                tracing::warn!(sender = "WebDAV", remote = %peer, "upload refused: the body's length differs from the declared one");
                return close(status(
                    StatusCode::BAD_REQUEST,
                    "the body's length differs from the declared length",
                ));
            }
            if let Some(mime) = custom_mime
                && response.status().is_success()
            {
                response.headers_mut().insert(header::CONTENT_TYPE, mime);
            }
            if let Some(t) = oc_mtime
                && response.status().is_success()
            {
                self.apply_oc_mtime(&conn, oc_target, t, &mut response)
                    .await;
            }
            if let Some(transfer) = session.take_download() {
                // The download a GET or HEAD opened: closed once the body is sent, or
                // ended unused when the response carries no file bytes.
                if method == "GET" && file_status(response.status()) {
                    let range = sendfile_range(&response);
                    response
                        .extensions_mut()
                        .insert(FileBody { transfer, range });
                } else {
                    transfer.discard_unused();
                }
            }
            response
        };
        let (parts, body) = response.into_parts();
        Response::from_parts(parts, SessionBody::new(body, Some(guard)))
    }

    /// The request's target as a virtual path.
    fn target<B>(&self, conn: &Connection, req: &Request<B>) -> Option<VirtualPath> {
        let path = req.uri().path();
        let path = path.strip_prefix(self.prefix.as_str()).unwrap_or(path);
        conn.resolve(&percent_decode(path)).ok()
    }

    /// A COPY or MOVE's `Destination` as a virtual path (an absolute URL or an
    /// absolute path, under this binding's prefix).
    fn destination<B>(&self, conn: &Connection, req: &Request<B>) -> Option<VirtualPath> {
        let value = req.headers().get("destination")?.to_str().ok()?;
        let uri: http::Uri = value.parse().ok()?;
        let path = uri.path();
        let path = path.strip_prefix(self.prefix.as_str()).unwrap_or(path);
        conn.resolve(&percent_decode(path)).ok()
    }

    /// `LOCK` needs a permission that could change the resource: `upload` or
    /// `overwrite` in its directory.
    fn may_lock<B>(&self, conn: &Connection, req: &Request<B>) -> bool {
        let Some(p) = self.target(conn, req) else {
            return false;
        };
        conn.may(Permission::Upload, &p.parent()) || conn.may(Permission::Overwrite, &p.parent())
    }

    /// Applies `X-OC-Mtime` (Nextcloud/ownCloud clients: the file's modification time,
    /// Unix seconds) after a successful PUT; needs `chtimes`, like every time change.
    async fn apply_oc_mtime(
        &self,
        conn: &Connection,
        target: Option<VirtualPath>,
        mtime: i64,
        response: &mut Response<Body>,
    ) {
        let Some(p) = target else {
            return;
        };
        let attrs = sftpgo_vfs::SetAttrs {
            times: Some((mtime, mtime)),
            ..Default::default()
        };
        match conn.set_attrs(&p, &attrs, true).await {
            Ok(()) => {
                response
                    .headers_mut()
                    .insert("x-oc-mtime", header::HeaderValue::from_static("accepted"));
            }
            Err(e) => {
                tracing::debug!(sender = "WebDAV", path = %p, error = %e, "X-OC-Mtime not applied");
            }
        }
    }
}

/// Whether a GET response with this status carries the file's bytes.
fn file_status(status: StatusCode) -> bool {
    matches!(status, StatusCode::OK | StatusCode::PARTIAL_CONTENT)
}

/// The bytes of the file a GET response's body is, for `sendfile(2)`: the whole file
/// (200) or one range (206 with `Content-Range`); `None` for a multipart body.
fn sendfile_range(response: &Response<Body>) -> Option<(u64, u64)> {
    let headers = response.headers();
    let number = |v: &str| v.trim().parse::<u64>().ok();
    let len = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(number)?;
    let offset = match response.status() {
        StatusCode::OK => 0,
        StatusCode::PARTIAL_CONTENT => {
            let range = headers.get(header::CONTENT_RANGE)?.to_str().ok()?;
            let (first, last) = put_length::content_range(range)?;
            if last.checked_sub(first)?.checked_add(1)? != len {
                return None;
            }
            first
        }
        _ => return None,
    };
    Some((offset, len))
}

/// Percent-decodes a URL path (invalid UTF-8 becomes U+FFFD, which no real path holds).
fn percent_decode(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = |j: usize| bytes.get(j).and_then(|c| (*c as char).to_digit(16));
        if b == b'%'
            && let (Some(h), Some(l)) = (hex(i + 1), hex(i + 2))
        {
            out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
            i += 3;
            continue;
        }
        out.push(b);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
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
        client_cas: sftpgo_core::tls::under(config_dir, &cfg.ca_certificates),
        crls: sftpgo_core::tls::under(config_dir, &cfg.ca_revocation_lists),
        cipher_suites: binding.tls_cipher_suites.clone(),
        section: "webdavd",
    };
    let mut config = settings.server_config()?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Some(TlsAcceptor::from(Arc::new(config))))
}

fn status(code: StatusCode, text: &'static str) -> Response<SessionBody> {
    let mut r = Response::new(SessionBody::new(Body::from(text), None));
    *r.status_mut() = code;
    r
}

/// Asks for the connection to close after this response.
fn close(mut r: Response<SessionBody>) -> Response<SessionBody> {
    r.headers_mut().insert(
        header::CONNECTION,
        header::HeaderValue::from_static("close"),
    );
    r
}

fn unauthorized() -> Response<SessionBody> {
    let mut r = status(StatusCode::UNAUTHORIZED, "authentication required");
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static(REALM),
    );
    r
}
