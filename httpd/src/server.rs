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

/// Time a client has to send a request's headers (also the keep-alive idle limit).
const HEADER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

async fn handle(
    state: Arc<HttpState>,
    req: hyper::Request<Incoming>,
    peer: SocketAddr,
    proxy: &ProxyPolicy,
) -> HttpResponse {
    let (parts, body) = req.into_parts();
    // The client as trusted proxies name it; what filters and logs see.
    let client = proxy.client(peer, &parts.headers);
    if client != peer && state.defender.is_banned(client.ip()) {
        // A banned client behind a trusted proxy (banned peers never get this far).
        return ApiError::new(hyper::StatusCode::FORBIDDEN, "your IP address is banned")
            .into_response();
    }
    if let Some(pre) = state.cors.preflight(&parts.method, &parts.headers) {
        let (head, ()) = pre.into_parts();
        return hyper::Response::from_parts(head, crate::response::full(bytes::Bytes::new()));
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
    state
        .cors
        .decorate(&parts.method, &parts.headers, resp.headers_mut());
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

/// Serves `listener` until `stop` turns true; with `tls`, every connection starts with
/// a TLS handshake (failed handshakes are logged and dropped).
pub async fn serve(
    listener: TcpListener,
    state: Arc<HttpState>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    proxy: ProxyPolicy,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let proxy = Arc::new(proxy);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(sender = "httpd", error = %e, "accept failed");
                    continue;
                }
            },
            _ = stop.changed() => return,
        };
        if state.defender.is_banned(peer.ip()) {
            tracing::debug!(sender = "httpd", remote = %peer, "connection refused: banned by the defender");
            continue;
        }
        // Counted before any byte is read; the slot is held until the connection ends.
        // A trusted proxy carries many clients: no per-host cap, and refusals are not
        // scored against it (that would ban every client behind it).
        let trusted_proxy = proxy.trusts(peer.ip());
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
                continue;
            }
            Some(Ok(slot)) => Some(slot),
            None => None,
        };
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        let tls = tls.clone();
        let proxy = proxy.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let state = state.clone();
                let proxy = proxy.clone();
                async move { Ok::<_, std::convert::Infallible>(handle(state, req, peer, &proxy).await) }
            });
            let result = match tls {
                None => {
                    builder()
                        .serve_connection(TokioIo::new(stream), service)
                        .await
                }
                Some(acceptor) => {
                    let handshake = tokio::time::timeout(
                        std::time::Duration::from_secs(10),
                        acceptor.accept(stream),
                    )
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
        });
    }
}
