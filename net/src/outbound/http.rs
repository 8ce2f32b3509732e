//! Outbound HTTP/1.1 requests of event actions: one connection per request (hyper's
//! client connection), HTTPS through rustls with the web PKI roots (or no verification
//! when the action asks for it), a deadline over the whole exchange. Redirects are not
//! followed: a 3xx is the answer.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use sftpgo_core::events::HttpRequest;
use tokio::net::TcpStream;

use super::tls::client_config;

/// Deadline of the TCP connection and of the TLS handshake, each.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Largest response body read (then dropped): enough to log an error page.
const MAX_RESPONSE_BODY: usize = 64 * 1024;

/// Sends one request; the response status, or why it could not be sent.
pub async fn send(req: HttpRequest) -> Result<u16, String> {
    match req.timeout {
        Some(limit) => tokio::time::timeout(limit, exchange(req))
            .await
            .map_err(|_| "timeout".to_string())?,
        None => exchange(req).await,
    }
}

trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin> Io for T {}

async fn exchange(req: HttpRequest) -> Result<u16, String> {
    let uri: http::Uri = req
        .url
        .parse()
        .map_err(|e| format!("invalid URL {:?}: {e}", req.url))?;
    let https = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => return Err(format!("unsupported URL {:?}", req.url)),
    };
    let host = uri.host().ok_or("the URL has no host")?.to_string();
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let bare_host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let tcp = tokio::time::timeout(
        CONNECT_TIMEOUT,
        TcpStream::connect((bare_host.as_str(), port)),
    )
    .await
    .map_err(|_| format!("timeout connecting to {host}:{port}"))?
    .map_err(|e| format!("cannot connect to {host}:{port}: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let io: Box<dyn Io> = if https {
        let connector =
            tokio_rustls::TlsConnector::from(Arc::new(client_config(req.skip_tls_verify)?));
        let name = rustls::pki_types::ServerName::try_from(bare_host.clone())
            .map_err(|e| format!("invalid server name {host:?}: {e}"))?;
        Box::new(
            tokio::time::timeout(CONNECT_TIMEOUT, connector.connect(name, tcp))
                .await
                .map_err(|_| format!("timeout in the TLS handshake with {host}"))?
                .map_err(|e| format!("TLS handshake with {host}: {e}"))?,
        )
    } else {
        Box::new(tcp)
    };
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| e.to_string())?;
    let driver = tokio::spawn(async move {
        let _ = conn.await;
    });
    let authority = match uri.port_u16() {
        Some(p) => format!("{host}:{p}"),
        None => host.clone(),
    };
    let path = uri
        .path_and_query()
        .map_or("/", http::uri::PathAndQuery::as_str);
    let mut builder = http::Request::builder()
        .method(req.method.as_str())
        .uri(path)
        .header(http::header::HOST, authority)
        .header(http::header::USER_AGENT, "SFTPGo");
    if let Some((user, pass)) = &req.basic_auth {
        use base64::Engine as _;
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        builder = builder.header(http::header::AUTHORIZATION, format!("Basic {token}"));
    }
    let mut request = builder
        .body(Full::new(Bytes::from(req.body)))
        .map_err(|e| e.to_string())?;
    for (k, v) in &req.headers {
        let name = http::HeaderName::from_bytes(k.as_bytes())
            .map_err(|e| format!("invalid header name {k:?}: {e}"))?;
        let value = http::HeaderValue::from_str(v)
            .map_err(|e| format!("invalid value of header {k:?}: {e}"))?;
        request.headers_mut().insert(name, value);
    }
    let resp = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let body = Limited::new(resp.into_body(), MAX_RESPONSE_BODY)
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    if !(200..=204).contains(&status) {
        tracing::debug!(sender = "eventmanager", status,
            body = %String::from_utf8_lossy(body.get(..body.len().min(2048)).unwrap_or_default()),
            "HTTP action answered");
    }
    driver.abort();
    Ok(status)
}
