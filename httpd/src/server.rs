//! The HTTP listener: hyper's HTTP/1.1 connection driver on the side runtime, one task
//! per connection, header-read timeout, connection caps, and a shutdown signal that
//! stops accepting. Bodies are left unread here: handlers read them after
//! authentication (`routes::Request::read_body`, or streamed for uploads).

use std::net::SocketAddr;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::HttpState;
use crate::proxy::ProxyPolicy;
use crate::response::{ApiError, HttpResponse};
use crate::routes::{Request, route};
use crate::security::{RequestView, Security, Verdict};

/// Runs on each accepted connection before any HTTP byte: yields the client's address
/// (the one a PROXY protocol header names), or `None` to drop the connection. The
/// binary supplies it for bindings with `proxy_mode` 1.
#[async_trait::async_trait]
pub trait Preamble: Send + Sync {
    /// The client of a connection from `peer`.
    async fn client(
        &self,
        stream: &mut tokio::net::TcpStream,
        peer: SocketAddr,
    ) -> Option<SocketAddr>;
}

/// How one binding serves its connections.
pub struct ListenerSettings {
    /// TLS (HTTPS bindings).
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    /// Trusted proxies and their client-address header.
    pub proxy: ProxyPolicy,
    /// Allowed hosts, HTTPS redirect, security headers.
    pub security: Security,
    /// PROXY protocol, when the binding applies it.
    pub preamble: Option<Arc<dyn Preamble>>,
}

/// Time a client has to send a request's headers (also the keep-alive idle limit).
const HEADER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

async fn handle(
    state: Arc<HttpState>,
    req: hyper::Request<Incoming>,
    peer: SocketAddr,
    settings: &ListenerSettings,
) -> HttpResponse {
    let (mut parts, body) = req.into_parts();
    let trusted = settings.proxy.allows(peer.ip());
    if !trusted {
        settings.security.strip_untrusted(&mut parts.headers);
    }
    // The client as trusted proxies name it; what filters and logs see.
    let client = settings.proxy.client(peer, &parts.headers);
    // Every request: a ban or an allow-list change reaches open keep-alive
    // connections too, and clients behind trusted proxies are judged one by one.
    if let Some(why) = state.defender.refusal(client.ip(), "HTTP") {
        return ApiError::new(hyper::StatusCode::FORBIDDEN, why).into_response();
    }
    if let Err(limited) = state.defender.rate_limit(client.ip(), "HTTP").await {
        return crate::response::too_many_requests(limited.wait);
    }
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or("/", hyper::http::uri::PathAndQuery::as_str)
        .to_string();
    let view = RequestView {
        headers: &parts.headers,
        path_and_query: &path_and_query,
        tls: settings.tls.is_some(),
        trusted_proxy: trusted,
    };
    match settings.security.check(&view) {
        Verdict::Serve => {}
        Verdict::Refuse => {
            tracing::debug!(sender = "httpd", remote = %client, "request refused: host not allowed");
            return crate::security::refused();
        }
        Verdict::Redirect(url) => {
            let mut resp = crate::security::redirect(&url);
            settings.security.decorate(&view, resp.headers_mut());
            return resp;
        }
    }
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(pre) = state.cors.preflight(parts.method.as_str(), header) {
        let mut resp = hyper::Response::new(crate::response::full(bytes::Bytes::new()));
        *resp.status_mut() =
            hyper::StatusCode::from_u16(pre.status).unwrap_or(hyper::StatusCode::NO_CONTENT);
        crate::response::add_headers(resp.headers_mut(), pre.headers);
        settings.security.decorate(&view, resp.headers_mut());
        return resp;
    }
    let request = Request {
        method: parts.method.clone(),
        path: parts.uri.path(),
        query: parts.uri.query(),
        headers: &parts.headers,
        body: Some(body),
        ip: client.ip(),
        peer: client,
    };
    let started = std::time::Instant::now();
    let mut resp = match route(&state, request).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    let cors = state.cors.decorate(parts.method.as_str(), header("origin"));
    crate::response::add_headers(resp.headers_mut(), cors);
    settings.security.decorate(&view, resp.headers_mut());
    tracing::debug!(sender = "httpd", method = %parts.method, path = parts.uri.path(),
        status = resp.status().as_u16(), elapsed_us = started.elapsed().as_micros() as u64,
        remote = %client, "request");
    resp
}

/// HTTP/1.1 with a timer, so slow or idle clients are dropped after
/// [`HEADER_TIMEOUT`] instead of holding a connection forever.
fn builder() -> http1::Builder {
    let mut b = http1::Builder::new();
    b.timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    b
}

/// Serves `listener` until `stop` turns true; with TLS, every connection starts with a
/// handshake (failed handshakes are logged and dropped); with a preamble, the PROXY
/// header is read first.
pub async fn serve(
    listener: TcpListener,
    state: Arc<HttpState>,
    settings: ListenerSettings,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let settings = Arc::new(settings);
    loop {
        let (stream, upstream) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors, say: do not spin.
                    tracing::warn!(sender = "httpd", error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.changed() => return,
        };
        let state = state.clone();
        let settings = settings.clone();
        tokio::spawn(serve_connection(stream, upstream, state, settings));
    }
}

/// One accepted connection: its PROXY header, admission (bans, caps), TLS, then HTTP.
async fn serve_connection(
    mut stream: tokio::net::TcpStream,
    upstream: SocketAddr,
    state: Arc<HttpState>,
    settings: Arc<ListenerSettings>,
) {
    let upstream = SocketAddr::new(upstream.ip().to_canonical(), upstream.port());
    let peer = match &settings.preamble {
        // A banned address cannot even hold a socket waiting for its header.
        Some(_) if state.defender.banned(upstream.ip(), "HTTP") => return,
        Some(p) => match p.client(&mut stream, upstream).await {
            Some(peer) => SocketAddr::new(peer.ip().to_canonical(), peer.port()),
            None => return,
        },
        None => upstream,
    };
    // A trusted proxy need not be in the allow list (its clients are checked per
    // request), but a banned one is refused like any peer.
    let refusal = if settings.proxy.trusts(peer.ip()) {
        state
            .defender
            .banned(peer.ip(), "HTTP")
            .then_some("your IP address is blocked")
    } else {
        state.defender.refusal(peer.ip(), "HTTP")
    };
    if let Some(why) = refusal {
        tracing::debug!(sender = "httpd", remote = %peer, reason = why, "connection refused");
        return;
    }
    // Counted before any HTTP byte is read; the slot is held until the connection
    // ends. A trusted proxy carries many clients: no per-host cap, and refusals are not
    // scored against it (that would ban every client behind it).
    let trusted_proxy = settings.proxy.trusts(peer.ip());
    let slot = match state
        .limiter
        .as_ref()
        .map(|l| l.try_acquire_from(peer.ip(), !trusted_proxy))
    {
        Some(Err(reason)) => {
            tracing::debug!(sender = "httpd", remote = %peer, reason, "connection refused");
            if !trusted_proxy {
                state.defender.add_event(
                    peer.ip(),
                    "HTTP",
                    sftpgo_core::defender::HostEvent::LimitExceeded,
                );
            }
            return;
        }
        Some(Ok(slot)) => Some(slot),
        None => None,
    };
    let _ = stream.set_nodelay(true);
    let handler_settings = settings.clone();
    let service = service_fn(move |req| {
        let state = state.clone();
        let settings = handler_settings.clone();
        async move { Ok::<_, std::convert::Infallible>(handle(state, req, peer, &settings).await) }
    });
    let result = match &settings.tls {
        None => {
            builder()
                .serve_connection(TokioIo::new(stream), service)
                .await
        }
        Some(acceptor) => {
            let handshake =
                tokio::time::timeout(std::time::Duration::from_secs(10), acceptor.accept(stream))
                    .await;
            let stream = match handshake {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::debug!(sender = "httpd", error = %e, remote = %peer, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(sender = "httpd", remote = %peer, "TLS handshake timed out");
                    return;
                }
            };
            builder()
                .serve_connection(TokioIo::new(stream), service)
                .await
        }
    };
    if let Err(e) = result {
        tracing::debug!(sender = "httpd", error = %e, remote = %peer, "connection ended");
    }
    drop(slot);
}
