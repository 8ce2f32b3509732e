//! Writing one response: the status line, the header fields, and the body framed the
//! way the request allows (`Content-Length` when the length is known, `chunked` for
//! HTTP/1.1 otherwise, the end of the connection for HTTP/1.0). A response that
//! carries a [`FileBody`] closes that download once its body is written, and goes out
//! with `sendfile(2)` on clear-text connections when the body is one range of the
//! file; its body (the same bytes, read through buffers) is used everywhere else.

use std::fmt::Display;
use std::io::{self, IoSlice};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::{CONNECTION, CONTENT_LENGTH, DATE, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use http_body::Body;
use http_body_util::BodyExt;
use sftpgo_core::connection::Transfer;
use tokio::io::AsyncWriteExt;

use super::io::WriteSide;
use crate::file_send::{self, PumpError};
use crate::idle_stream::IdleStream;

/// Smallest body sent with `sendfile(2)`: a smaller one goes out with its head in one
/// write (a second system call and packet cost more than the copy; 2000 GETs of
/// 4 KiB files took 25% longer with `sendfile`).
const SENDFILE_MIN: u64 = 64 * 1024;

/// Body bytes gathered with the head (or with the chunk framing around them) into
/// one write; larger pieces are written straight from their buffers.
const COALESCE: usize = 64 * 1024;

/// A response extension: the download a response's body is read from. Once the
/// whole body is written the transfer is closed as complete (a response framed
/// without a body ends it unused, so nothing is logged). A transfer left open (the
/// connection failed mid-body) is dropped and logged as failed.
#[derive(Clone)]
pub struct FileBody {
    /// The open download.
    pub transfer: Arc<Transfer>,
    /// `(offset, len)` when the body is exactly those bytes of the file: it is sent
    /// with `sendfile(2)` when the connection is clear text and the response's
    /// `Content-Length` is `len`.
    pub range: Option<(u64, u64)>,
}

/// What the request says about its response.
#[derive(Debug, Clone, Copy)]
pub struct Exchange {
    /// A HEAD request: no body goes out.
    pub head_request: bool,
    /// An HTTP/1.0 request: no chunked framing, keep-alive only when asked for.
    pub http10: bool,
    /// Whether the client lets the connection stay open.
    pub keep_alive: bool,
}

/// How the body is delimited on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wire {
    None,
    Length(u64),
    Chunked,
    UntilClose,
}

/// Writes `response`; returns whether the connection may carry another request.
pub async fn write<B>(
    w: &mut IdleStream<WriteSide>,
    ex: Exchange,
    response: Response<B>,
    idle: Duration,
) -> io::Result<bool>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Display,
{
    let (mut parts, mut body) = response.into_parts();
    let file = parts.extensions.remove::<FileBody>();
    let headers = &mut parts.headers;
    let mut keep_alive = ex.keep_alive && !asks_close(headers);
    let wire = framing(parts.status, ex, headers, &body, &mut keep_alive);
    headers.remove(CONNECTION);
    if !keep_alive {
        headers.insert(CONNECTION, HeaderValue::from_static("close"));
    } else if ex.http10 {
        headers.insert(CONNECTION, HeaderValue::from_static("keep-alive"));
    }
    if !headers.contains_key(DATE)
        && let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(SystemTime::now()))
    {
        headers.insert(DATE, v);
    }
    let mut out = encode_head(parts.status, headers);
    let sendfile_range = match (&file, wire) {
        (Some(f), Wire::Length(n)) if n >= SENDFILE_MIN && w.get_ref().plain_socket().is_some() => {
            f.range.filter(|&(_, len)| len == n)
        }
        _ => None,
    };
    match (wire, sendfile_range, &file) {
        (Wire::None, _, _) => {
            w.write_all(&out).await?;
            if let Some(f) = &file {
                f.transfer.discard_unused();
            }
        }
        (_, Some((offset, len)), Some(f)) => {
            send_whole(w, &out, &f.transfer, offset, len, idle).await?
        }
        _ => stream_body(w, wire, &mut out, &mut body).await?,
    }
    w.flush().await?;
    if let Some(f) = file
        && let Err(e) = f.transfer.close().await
    {
        tracing::warn!(sender = "WebDAV", error = %e, "closing a download failed");
    }
    Ok(keep_alive)
}

/// Whether the handler asked for the connection to close after this response.
fn asks_close(headers: &HeaderMap) -> bool {
    headers.get_all(CONNECTION).iter().any(|v| {
        v.as_bytes()
            .split(|&b| b == b',')
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"close"))
    })
}

/// Decides the body's framing and sets the header fields that announce it.
fn framing<B: Body>(
    status: StatusCode,
    ex: Exchange,
    headers: &mut HeaderMap,
    body: &B,
    keep_alive: &mut bool,
) -> Wire {
    headers.remove(TRANSFER_ENCODING);
    let bodiless = status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    if status.is_informational() || status == StatusCode::NO_CONTENT {
        // These never have a body, so no length either.
        headers.remove(CONTENT_LENGTH);
    }
    if bodiless || ex.head_request {
        return Wire::None;
    }
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(n) = declared {
        return Wire::Length(n);
    }
    if let Some(n) = body.size_hint().exact() {
        headers.insert(CONTENT_LENGTH, HeaderValue::from(n));
        return Wire::Length(n);
    }
    headers.remove(CONTENT_LENGTH);
    if ex.http10 {
        *keep_alive = false;
        return Wire::UntilClose;
    }
    headers.insert(TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
    Wire::Chunked
}

/// The status line and header fields, with the blank line that ends them.
fn encode_head(status: StatusCode, headers: &HeaderMap) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + headers.len() * 48);
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// Sends the response head and `len` bytes of `transfer` from `offset` as its body. A
/// file that ends before `len` fails the connection (the client sees a short body,
/// never padding).
async fn send_whole(
    w: &mut IdleStream<WriteSide>,
    head: &[u8],
    transfer: &Transfer,
    offset: u64,
    len: u64,
    idle: Duration,
) -> io::Result<()> {
    w.flush().await?;
    let Some(tcp) = w.get_ref().plain_socket() else {
        return Err(io::Error::other("sendfile needs a clear-text connection"));
    };
    file_send::write_head_more(tcp, head, idle).await?;
    let sent = file_send::send_range(transfer, offset, Some(len), tcp, idle)
        .await
        .map_err(|e| match e {
            PumpError::Net(e) => e,
            PumpError::File(e) => io::Error::other(e.to_string()),
        })?;
    if sent != len {
        tracing::warn!(
            sender = "WebDAV",
            offset = offset + sent,
            "the file shrank during the download; response cut short"
        );
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "file shorter than the response",
        ));
    }
    w.touch();
    Ok(())
}

/// Writes the head in `out` and the body after it, framed as `wire` says.
async fn stream_body<B>(
    w: &mut IdleStream<WriteSide>,
    wire: Wire,
    out: &mut Vec<u8>,
    body: &mut B,
) -> io::Result<()>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Display,
{
    let mut written = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| io::Error::other(e.to_string()))?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers: not sent
        };
        if data.is_empty() {
            continue;
        }
        written += data.len() as u64;
        if let Wire::Length(n) = wire
            && written > n
        {
            return Err(io::Error::other("response body longer than its length"));
        }
        if wire == Wire::Chunked {
            out.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
        }
        if out.len() + data.len() <= COALESCE {
            out.extend_from_slice(&data);
        } else {
            write_two(w, out, &data).await?;
            out.clear();
        }
        if wire == Wire::Chunked {
            out.extend_from_slice(b"\r\n");
        }
    }
    if let Wire::Length(n) = wire
        && written != n
    {
        return Err(io::Error::other("response body shorter than its length"));
    }
    if wire == Wire::Chunked {
        out.extend_from_slice(b"0\r\n\r\n");
    }
    w.write_all(out).await?;
    out.clear();
    Ok(())
}

/// Writes `a` then `b`, gathered into as few system calls as the socket allows.
async fn write_two(w: &mut IdleStream<WriteSide>, a: &[u8], b: &[u8]) -> io::Result<()> {
    let (mut a, mut b) = (a, b);
    while !a.is_empty() {
        let n = w
            .write_vectored(&[IoSlice::new(a), IoSlice::new(b)])
            .await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        let from_a = n.min(a.len());
        a = a.get(from_a..).unwrap_or_default();
        b = b.get(n - from_a..).unwrap_or_default();
    }
    w.write_all(b).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_close_is_found_among_tokens() {
        let mut h = HeaderMap::new();
        assert!(!asks_close(&h));
        h.insert(CONNECTION, HeaderValue::from_static("Upgrade, Close"));
        assert!(asks_close(&h));
        h.insert(CONNECTION, HeaderValue::from_static("keep-alive"));
        assert!(!asks_close(&h));
    }

    #[test]
    fn framing_follows_status_method_length_and_version() {
        let ex = Exchange {
            head_request: false,
            http10: false,
            keep_alive: true,
        };
        let full = http_body_util::Full::new(Bytes::from_static(b"abc"));
        let stream = http_body_util::StreamBody::new(futures::stream::empty::<
            Result<http_body::Frame<Bytes>, io::Error>,
        >());
        let mut keep = true;
        let mut h = HeaderMap::new();
        assert_eq!(
            framing(StatusCode::OK, ex, &mut h, &full, &mut keep),
            Wire::Length(3)
        );
        assert_eq!(h.get(CONTENT_LENGTH).map(|v| v.as_bytes()), Some(&b"3"[..]));
        let mut h = HeaderMap::new();
        assert_eq!(
            framing(StatusCode::OK, ex, &mut h, &stream, &mut keep),
            Wire::Chunked
        );
        assert!(keep);
        let http10 = Exchange { http10: true, ..ex };
        let mut h = HeaderMap::new();
        assert_eq!(
            framing(StatusCode::OK, http10, &mut h, &stream, &mut keep),
            Wire::UntilClose
        );
        assert!(!keep);
        let head = Exchange {
            head_request: true,
            ..ex
        };
        let mut h = HeaderMap::new();
        h.insert(CONTENT_LENGTH, HeaderValue::from(10u64));
        assert_eq!(
            framing(StatusCode::OK, head, &mut h, &full, &mut keep),
            Wire::None
        );
        assert_eq!(
            framing(StatusCode::NOT_MODIFIED, ex, &mut h, &full, &mut keep),
            Wire::None
        );
    }
}
