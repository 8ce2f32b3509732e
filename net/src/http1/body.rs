//! The read side of a connection: request heads, and request bodies decoded from
//! their framing (a length, or `chunked` with its size lines and trailers).
//!
//! While a request's handler runs, its [`RequestBody`] owns the [`Reader`]; when the
//! body is finished or dropped it hands the reader back to the connection loop, which
//! reads the next request from it only if the body was read to its end (otherwise
//! the connection closes: what is left of the body would be taken for a request).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body::{Frame, SizeHint};
use tokio::io::AsyncReadExt;
use tokio::sync::oneshot;

use super::head::{self, Framing, Head, Refusal};
use super::io::ReadSide;
use crate::idle_stream::IdleStream;

/// Bytes the read buffer grows by while it holds request heads and chunk lines (an
/// idle connection keeps no more).
const HEAD_CHUNK: usize = 8 * 1024;
/// Bytes it grows by for body data: each piece handed to the handler is at most this
/// large, and large pieces mean few file writes.
const BODY_CHUNK: usize = 256 * 1024;
/// Longest chunk-size line or trailer field accepted.
const MAX_LINE: usize = 4096;
/// Most trailer bytes accepted after the last chunk.
const MAX_TRAILERS: usize = 16 * 1024;

/// Why no request head was read.
#[derive(Debug)]
pub enum HeadError {
    /// The client sent something that is not an acceptable request head.
    Refused(Refusal),
    /// The connection failed, timed out or closed in the middle of a head.
    Io(io::Error),
}

/// Where the body of the current request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyState {
    /// Read to its end (or there is none).
    Done,
    /// This many bytes of a `Content-Length` body are left.
    Length(u64),
    /// A chunk-size line comes next.
    ChunkSize,
    /// This many bytes of the current chunk are left.
    ChunkData(u64),
    /// The CRLF after a chunk's data comes next.
    ChunkEnd,
    /// Trailer fields, up to an empty line, come next.
    Trailers,
}

/// The read side with what has been received but not yet used.
pub struct Reader {
    io: IdleStream<ReadSide>,
    buf: BytesMut,
    body: BodyState,
}

fn invalid(why: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why)
}

impl Reader {
    /// A reader over `io`.
    pub fn new(io: IdleStream<ReadSide>) -> Self {
        Self {
            io,
            buf: BytesMut::with_capacity(HEAD_CHUNK),
            body: BodyState::Done,
        }
    }

    /// Restarts the idle clock (before waiting for the next request: a long response
    /// is no idleness of the read side).
    pub fn touch(&mut self) {
        self.io.touch();
    }

    /// Reads more bytes into the buffer, growing it by `chunk` when little room is
    /// left; 0 at end of stream.
    async fn fill_by(&mut self, chunk: usize) -> io::Result<usize> {
        if self.buf.capacity() - self.buf.len() < chunk / 8 {
            self.buf.reserve(chunk);
        }
        self.io.read_buf(&mut self.buf).await
    }

    /// [`Self::fill_by`] for heads and framing lines.
    async fn fill(&mut self) -> io::Result<usize> {
        self.fill_by(HEAD_CHUNK).await
    }

    /// The next request head; `Ok(None)` when the client closed the connection
    /// between requests. Once its first byte has arrived, the whole head must arrive
    /// within `timeout`.
    pub async fn read_head(&mut self, timeout: Duration) -> Result<Option<Head>, HeadError> {
        if self.buf.is_empty() && self.buf.capacity() > 2 * HEAD_CHUNK {
            // What a body's large reads left: an idle connection keeps a small buffer.
            self.buf = BytesMut::with_capacity(HEAD_CHUNK);
        }
        let mut deadline = None;
        loop {
            // Empty lines before a request line are allowed (RFC 9112 §2.2).
            while self.buf.starts_with(b"\r\n") {
                let _ = self.buf.split_to(2);
            }
            if !self.buf.is_empty() {
                if let Some((head, len)) = head::parse(&self.buf).map_err(HeadError::Refused)? {
                    let _ = self.buf.split_to(len);
                    return Ok(Some(head));
                }
                deadline.get_or_insert_with(|| tokio::time::Instant::now() + timeout);
            }
            let read = match deadline {
                Some(at) => tokio::time::timeout_at(at, self.fill())
                    .await
                    .unwrap_or_else(|_| {
                        Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "request head not received in time",
                        ))
                    }),
                None => self.fill().await,
            };
            match read.map_err(HeadError::Io)? {
                0 if self.buf.is_empty() => return Ok(None),
                0 => {
                    return Err(HeadError::Io(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "connection closed in a request head",
                    )));
                }
                _ => {}
            }
        }
    }

    /// Reads and discards input until the client closes its side, for at most `max`
    /// bytes and `time`: called after the write side is shut down, so that unread
    /// request bytes do not make the kernel reset the connection (which can destroy
    /// the response before the client reads it).
    pub async fn linger(&mut self, max: usize, time: Duration) {
        let mut seen = 0usize;
        let _ = tokio::time::timeout(time, async {
            while seen <= max {
                self.buf.clear();
                match self.fill().await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => seen += n,
                }
            }
        })
        .await;
    }

    /// Starts reading a body delimited by `framing`.
    pub fn start_body(&mut self, framing: Framing) {
        self.body = match framing {
            Framing::Empty | Framing::Length(0) => BodyState::Done,
            Framing::Length(n) => BodyState::Length(n),
            Framing::Chunked => BodyState::ChunkSize,
        };
    }

    /// Whether the current body has been read to its end.
    pub fn body_done(&self) -> bool {
        self.body == BodyState::Done
    }

    /// Whether the rest of the current body has a known length of at most `max`.
    pub fn body_left_within(&self, max: u64) -> bool {
        matches!(self.body, BodyState::Length(n) if n <= max)
    }

    /// Up to `left` body bytes from the buffer, reading if it is empty.
    async fn data(&mut self, left: u64) -> io::Result<Bytes> {
        let want = usize::try_from(left)
            .unwrap_or(BODY_CHUNK)
            .clamp(HEAD_CHUNK, BODY_CHUNK);
        if self.buf.is_empty() && self.fill_by(want).await? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed in a request body",
            ));
        }
        let take = usize::try_from(left)
            .unwrap_or(usize::MAX)
            .min(self.buf.len());
        Ok(self.buf.split_to(take).freeze())
    }

    /// One CRLF-terminated line, without its CRLF.
    async fn line(&mut self, max: usize) -> io::Result<BytesMut> {
        let mut scanned = 0;
        loop {
            if let Some(at) = self
                .buf
                .get(scanned..)
                .and_then(|rest| rest.windows(2).position(|w| w == b"\r\n"))
            {
                let mut line = self.buf.split_to(scanned + at + 2);
                line.truncate(scanned + at);
                return Ok(line);
            }
            if self.buf.len() > max {
                return Err(invalid("chunked body line too long"));
            }
            scanned = self.buf.len().saturating_sub(1);
            if self.fill().await? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed in a chunked body",
                ));
            }
        }
    }

    /// The next piece of the body; `None` at its end.
    pub async fn next_chunk(&mut self) -> io::Result<Option<Bytes>> {
        let mut trailer_bytes = 0usize;
        loop {
            match self.body {
                BodyState::Done => return Ok(None),
                BodyState::Length(left) => {
                    let data = self.data(left).await?;
                    let left = left - data.len() as u64;
                    self.body = if left == 0 {
                        BodyState::Done
                    } else {
                        BodyState::Length(left)
                    };
                    return Ok(Some(data));
                }
                BodyState::ChunkSize => {
                    let line = self.line(MAX_LINE).await?;
                    let size = chunk_size(&line)?;
                    self.body = if size == 0 {
                        BodyState::Trailers
                    } else {
                        BodyState::ChunkData(size)
                    };
                }
                BodyState::ChunkData(left) => {
                    let data = self.data(left).await?;
                    let left = left - data.len() as u64;
                    self.body = if left == 0 {
                        BodyState::ChunkEnd
                    } else {
                        BodyState::ChunkData(left)
                    };
                    return Ok(Some(data));
                }
                BodyState::ChunkEnd => {
                    let line = self.line(2).await?;
                    if !line.is_empty() {
                        return Err(invalid("chunk data longer than its size"));
                    }
                    self.body = BodyState::ChunkSize;
                }
                BodyState::Trailers => {
                    let line = self.line(MAX_LINE).await?;
                    trailer_bytes += line.len() + 2;
                    if trailer_bytes > MAX_TRAILERS {
                        return Err(invalid("chunked body trailers too long"));
                    }
                    if line.is_empty() {
                        self.body = BodyState::Done;
                    }
                }
            }
        }
    }
}

/// The size of a chunk-size line (`1a2b` or `1a2b;name=value`).
fn chunk_size(line: &[u8]) -> io::Result<u64> {
    let digits = line
        .split(|&b| b == b';')
        .next()
        .unwrap_or_default()
        .trim_ascii_end();
    if digits.is_empty() || digits.len() > 15 {
        return Err(invalid("malformed chunk size"));
    }
    let mut size = 0u64;
    for &d in digits {
        let v = (d as char)
            .to_digit(16)
            .ok_or_else(|| invalid("malformed chunk size"))?;
        size = size * 16 + u64::from(v);
    }
    Ok(size)
}

type Pending =
    Pin<Box<dyn Future<Output = (Box<Reader>, io::Result<Option<Bytes>>)> + Send + Sync>>;

/// A request body read from the connection as the handler polls it.
pub struct RequestBody {
    reader: Option<Box<Reader>>,
    pending: Option<Pending>,
    back: Option<oneshot::Sender<Box<Reader>>>,
    continue_signal: Option<oneshot::Sender<()>>,
    size: SizeHint,
}

impl RequestBody {
    /// The body `framing` delimits on `reader`. The reader goes back through `back`
    /// when the body ends or is dropped; `continue_signal` fires when the body is first
    /// polled (the loop then sends `100 Continue`).
    pub fn new(
        mut reader: Box<Reader>,
        framing: Framing,
        back: oneshot::Sender<Box<Reader>>,
        continue_signal: Option<oneshot::Sender<()>>,
    ) -> Self {
        reader.start_body(framing);
        let size = match framing {
            Framing::Empty => SizeHint::with_exact(0),
            Framing::Length(n) => SizeHint::with_exact(n),
            Framing::Chunked => SizeHint::default(),
        };
        Self {
            reader: Some(reader),
            pending: None,
            back: Some(back),
            continue_signal,
            size,
        }
    }

    fn give_back(&mut self) {
        if let (Some(reader), Some(back)) = (self.reader.take(), self.back.take()) {
            let _ = back.send(reader);
        }
    }
}

impl Drop for RequestBody {
    fn drop(&mut self) {
        self.give_back();
    }
}

impl http_body::Body for RequestBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = &mut *self;
        if this.pending.is_none() {
            let Some(mut reader) = this.reader.take() else {
                return Poll::Ready(None);
            };
            if reader.body_done() {
                this.reader = Some(reader);
                this.give_back();
                return Poll::Ready(None);
            }
            if let Some(signal) = this.continue_signal.take() {
                let _ = signal.send(());
            }
            this.pending = Some(Box::pin(async move {
                let read = reader.next_chunk().await;
                (reader, read)
            }));
        }
        let Some(pending) = this.pending.as_mut() else {
            return Poll::Ready(None);
        };
        let (reader, read) = std::task::ready!(pending.as_mut().poll(cx));
        this.pending = None;
        this.reader = Some(reader);
        match read {
            Ok(Some(data)) => Poll::Ready(Some(Ok(Frame::data(data)))),
            Ok(None) => {
                this.give_back();
                Poll::Ready(None)
            }
            Err(e) => {
                // The framing is lost: the connection cannot carry another request.
                this.reader = None;
                Poll::Ready(Some(Err(e)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.pending.is_none() && self.reader.as_ref().is_none_or(|r| r.body_done())
    }

    fn size_hint(&self) -> SizeHint {
        self.size
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn chunk_sizes_are_hex_with_optional_extensions() {
        assert_eq!(chunk_size(b"0").unwrap(), 0);
        assert_eq!(chunk_size(b"1a").unwrap(), 26);
        assert_eq!(chunk_size(b"FF;name=value").unwrap(), 255);
        assert_eq!(chunk_size(b"10 ").unwrap(), 16);
        for bad in [
            &b""[..],
            b"x",
            b"-1",
            b"+1",
            b" 1",
            b"0x10",
            b"1234567890abcdef0",
        ] {
            assert!(chunk_size(bad).is_err(), "{bad:?}");
        }
    }
}
