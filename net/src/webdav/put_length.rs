//! PUT bodies held to the length their headers declare. The connection
//! ([`crate::http1`]) enforces `Content-Length`; a chunked body can still declare its size with
//! `X-Expected-Entity-Length` or a `Content-Range`. dav-server compares those only after
//! it has flushed the file, and our flush completes the upload, so a body that ends
//! early (or runs long) would be committed before the check. [`DeclaredLength`] turns
//! such a body into an error frame instead: dav-server stops before the flush and the
//! upload is abandoned as failed.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::HeaderMap;
use http_body::{Body as HttpBody, Frame};

/// The length a chunked PUT body declares, if any: `X-Expected-Entity-Length`, else the
/// span of `Content-Range: bytes first-last/total`. `None` when `Content-Length` is
/// present (the connection holds the body to it) or nothing is declared.
pub fn declared_length(headers: &HeaderMap) -> Option<u64> {
    if headers.contains_key(http::header::CONTENT_LENGTH) {
        return None;
    }
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(n) = text("x-expected-entity-length").and_then(|v| v.trim().parse().ok()) {
        return Some(n);
    }
    let (first, last) = content_range(text("content-range")?)?;
    last.checked_sub(first)?.checked_add(1)
}

/// The first and last byte of a `Content-Range: bytes first-last/total` value.
pub fn content_range(value: &str) -> Option<(u64, u64)> {
    let range = value.trim().strip_prefix("bytes")?.trim_start();
    let (span, _total) = range.split_once('/')?;
    let (first, last) = span.split_once('-')?;
    Some((first.trim().parse().ok()?, last.trim().parse().ok()?))
}

/// A request body that fails when it carries more or fewer bytes than `expected`.
pub struct DeclaredLength<B> {
    inner: B,
    expected: Option<u64>,
    seen: u64,
    mismatch: Arc<AtomicBool>,
}

impl<B> DeclaredLength<B> {
    /// `inner` held to `expected` bytes (`None`: passed through).
    pub fn new(inner: B, expected: Option<u64>) -> Self {
        Self {
            inner,
            expected,
            seen: 0,
            mismatch: Arc::default(),
        }
    }

    /// Set once the body turned out longer or shorter than declared.
    pub fn mismatch(&self) -> Arc<AtomicBool> {
        self.mismatch.clone()
    }

    fn refuse(&mut self, why: &'static str) -> std::io::Error {
        self.mismatch.store(true, Ordering::Relaxed);
        // Whatever follows is not read: the request ends here.
        self.expected = None;
        std::io::Error::new(std::io::ErrorKind::InvalidData, why)
    }
}

impl<B> HttpBody for DeclaredLength<B>
where
    B: HttpBody<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if this.mismatch.load(Ordering::Relaxed) {
            return Poll::Ready(None);
        }
        match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    this.seen = this.seen.saturating_add(data.len() as u64);
                }
                if this.expected.is_some_and(|n| this.seen > n) {
                    return Poll::Ready(Some(Err(this.refuse("body longer than declared"))));
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Some(Err(e)) => Poll::Ready(Some(Err(std::io::Error::other(e)))),
            None if this.expected.is_some_and(|n| this.seen < n) => {
                Poll::Ready(Some(Err(this.refuse("body shorter than declared"))))
            }
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        // A short body must still be polled once more to report the shortfall.
        self.inner.is_end_stream() && self.expected.is_none_or(|n| self.seen == n)
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, StreamBody};

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, http::HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn declared_lengths_are_read_from_the_headers() {
        assert_eq!(declared_length(&headers(&[])), None);
        assert_eq!(
            declared_length(&headers(&[("x-expected-entity-length", "100")])),
            Some(100)
        );
        assert_eq!(
            declared_length(&headers(&[("content-range", "bytes 10-19/*")])),
            Some(10)
        );
        assert_eq!(
            declared_length(&headers(&[("content-range", "bytes 0-0/5")])),
            Some(1)
        );
        // the connection enforces Content-Length itself.
        assert_eq!(
            declared_length(&headers(&[
                ("content-length", "5"),
                ("content-range", "bytes 0-4/5")
            ])),
            None
        );
        // Malformed ranges are dav-server's to refuse.
        assert_eq!(
            declared_length(&headers(&[("content-range", "bytes 9-3/*")])),
            None
        );
        assert_eq!(
            declared_length(&headers(&[("content-range", "items 0-4/5")])),
            None
        );
    }

    fn body(
        chunks: &[&'static [u8]],
    ) -> impl HttpBody<Data = Bytes, Error = std::io::Error> + Unpin {
        let frames: Vec<Result<Frame<Bytes>, std::io::Error>> = chunks
            .iter()
            .map(|c| Ok(Frame::data(Bytes::from_static(c))))
            .collect();
        StreamBody::new(futures::stream::iter(frames))
    }

    async fn collect(
        b: DeclaredLength<impl HttpBody<Data = Bytes, Error = std::io::Error> + Unpin>,
    ) -> Result<Bytes, std::io::Error> {
        Ok(b.collect().await?.to_bytes())
    }

    #[tokio::test]
    async fn only_the_declared_length_passes() {
        let exact = DeclaredLength::new(body(&[b"hello ", b"world"]), Some(11));
        let flag = exact.mismatch();
        assert_eq!(collect(exact).await.unwrap(), "hello world");
        assert!(!flag.load(Ordering::Relaxed));

        let short = DeclaredLength::new(body(&[b"hello"]), Some(11));
        let flag = short.mismatch();
        let err = collect(short).await.unwrap_err();
        assert!(err.to_string().contains("shorter"), "{err}");
        assert!(flag.load(Ordering::Relaxed));

        let long = DeclaredLength::new(body(&[b"hello ", b"world", b"!"]), Some(11));
        let flag = long.mismatch();
        let err = collect(long).await.unwrap_err();
        assert!(err.to_string().contains("longer"), "{err}");
        assert!(flag.load(Ordering::Relaxed));

        let free = DeclaredLength::new(body(&[b"any", b"thing"]), None);
        assert_eq!(collect(free).await.unwrap(), "anything");
    }
}
