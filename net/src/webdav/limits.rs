//! Limits applied before dav-server sees a request: XML bodies (PROPFIND, PROPPATCH,
//! LOCK) are read whole, bounded in size and time, and refused when nested deeper than
//! any WebDAV document needs (dav-server's XML parser recurses once per level, so a
//! deeply nested body would exhaust the worker's stack). The response body keeps the
//! request's session registered until it has been sent.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame};
use http_body_util::BodyExt;
use sftpgo_core::sessions::SessionGuard;

/// Largest XML request body.
pub const MAX_XML_BODY: usize = 64 * 1024;
/// Deepest XML nesting accepted (WebDAV documents use fewer than 10 levels).
pub const MAX_XML_DEPTH: usize = 64;
/// Time a client has to send an XML body.
pub const XML_BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// Why an XML body was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum XmlRefusal {
    /// Larger than [`MAX_XML_BODY`], or unreadable.
    Large,
    /// Not sent in time.
    Slow,
    /// Nested deeper than [`MAX_XML_DEPTH`].
    Deep,
}

/// Reads an XML request body under the limits.
pub async fn read_xml<B>(body: B) -> Result<Bytes, XmlRefusal>
where
    B: HttpBody<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let limited = http_body_util::Limited::new(body, MAX_XML_BODY);
    let collected = tokio::time::timeout(XML_BODY_TIMEOUT, limited.collect())
        .await
        .map_err(|_| XmlRefusal::Slow)?
        .map_err(|_| XmlRefusal::Large)?;
    let bytes = collected.to_bytes();
    if depth_exceeds(&bytes, MAX_XML_DEPTH) {
        return Err(XmlRefusal::Deep);
    }
    Ok(bytes)
}

/// Whether elements nest deeper than `max`. Conservative: markup inside comments or
/// CDATA counts too, so the estimate is never below the parser's depth.
pub fn depth_exceeds(xml: &[u8], max: usize) -> bool {
    let mut depth = 0usize;
    let mut rest = xml;
    while let Some(at) = rest.iter().position(|&b| b == b'<') {
        let tag = rest.get(at..).unwrap_or_default();
        match tag.get(1) {
            Some(b'/') => depth = depth.saturating_sub(1),
            Some(b'?' | b'!') | None => {}
            Some(_) => {
                let self_closing = tag
                    .iter()
                    .position(|&b| b == b'>')
                    .and_then(|end| end.checked_sub(1))
                    .and_then(|before| tag.get(before))
                    == Some(&b'/');
                if !self_closing {
                    depth += 1;
                    if depth > max {
                        return true;
                    }
                }
            }
        }
        rest = tag.get(1..).unwrap_or_default();
    }
    false
}

/// A response body that holds the request's session until it is fully sent (or the
/// client goes away).
pub struct SessionBody {
    inner: dav_server::body::Body,
    _guard: Option<SessionGuard>,
}

impl SessionBody {
    /// `inner`, keeping `guard` alive while it is sent.
    pub fn new(inner: dav_server::body::Body, guard: Option<SessionGuard>) -> Self {
        Self {
            inner,
            _guard: guard,
        }
    }
}

impl HttpBody for SessionBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn nesting_is_measured() {
        let ok = br#"<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:getetag/></D:prop></D:propfind>"#;
        assert!(!depth_exceeds(ok, 3));
        assert!(depth_exceeds(ok, 1));
        let deep = "<a>".repeat(100);
        assert!(depth_exceeds(deep.as_bytes(), MAX_XML_DEPTH));
        let wide = "<a/>".repeat(10_000);
        assert!(!depth_exceeds(wide.as_bytes(), 2));
        let closed = "<a></a>".repeat(10_000);
        assert!(!depth_exceeds(closed.as_bytes(), 2));
    }
}
