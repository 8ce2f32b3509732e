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
/// Most chunk-extension bytes accepted in one body (each would otherwise cost a
/// frame and pin its read buffer for a few bytes of data).
const MAX_EXTENSIONS: usize = 16 * 1024;

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
    /// The body failed: where it ends is unknown, so the connection cannot go on.
    Broken,
}

/// The read side with what has been received but not yet used.
pub struct Reader {
    io: IdleStream<ReadSide>,
    buf: BytesMut,
    body: BodyState,
    /// Chunk-extension bytes seen in the current body.
    extensions: usize,
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
            extensions: 0,
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
    /// between requests. The whole head must arrive within `timeout` of the call: a
    /// connection that stays silent, or idle between requests, ends then too.
    pub async fn read_head(&mut self, timeout: Duration) -> Result<Option<Head>, HeadError> {
        if self.buf.is_empty() && self.buf.capacity() > 2 * HEAD_CHUNK {
            // What a body's large reads left: an idle connection keeps a small buffer.
            self.buf = BytesMut::with_capacity(HEAD_CHUNK);
        }
        let deadline = tokio::time::Instant::now() + timeout;
        // Bytes already parsed as an incomplete head: parsing again waits for a new
        // line, so a head sent a byte at a time costs one parse per line, not per byte.
        let mut parsed = 0;
        loop {
            // Empty lines before a request line are allowed (RFC 9112 §2.2).
            while self.buf.starts_with(b"\r\n") {
                let _ = self.buf.split_to(2);
                parsed = 0;
            }
            let fresh = self.buf.get(parsed..).unwrap_or_default();
            if !self.buf.is_empty()
                && (parsed == 0 || fresh.contains(&b'\n') || self.buf.len() >= head::MAX_HEAD)
            {
                if let Some((head, len)) = head::parse(&self.buf).map_err(HeadError::Refused)? {
                    let _ = self.buf.split_to(len);
                    return Ok(Some(head));
                }
                parsed = self.buf.len();
            }
            let read = tokio::time::timeout_at(deadline, self.fill())
                .await
                .unwrap_or_else(|_| {
                    Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "request head not received in time",
                    ))
                });
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
        self.extensions = 0;
    }

    /// Marks the body as failed (its end is unknown).
    fn break_body(&mut self) {
        self.body = BodyState::Broken;
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
                if scanned + at > max {
                    return Err(invalid("chunked body line too long"));
                }
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
                BodyState::Broken => return Err(invalid("request body framing lost")),
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
                    let (size, extension) = chunk_size(&line)?;
                    self.extensions += extension;
                    if self.extensions > MAX_EXTENSIONS {
                        return Err(invalid("too many chunk extension bytes"));
                    }
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
                    } else if !is_field_line(&line) {
                        return Err(invalid("malformed trailer field"));
                    }
                }
            }
        }
    }
}

/// A control character other than horizontal tab (CR and LF included): never part of
/// a chunk extension or a field line.
fn is_ctl(b: u8) -> bool {
    (b < 0x20 && b != b'\t') || b == 0x7f
}

/// Whether `b` may appear in a token (a field name).
fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Whether a trailer line is `name: value` with a token name and no control
/// characters (a bare CR or LF would let a proxy see a different end of body).
fn is_field_line(line: &[u8]) -> bool {
    let Some(colon) = line.iter().position(|&b| b == b':') else {
        return false;
    };
    let (name, value) = line.split_at(colon);
    !name.is_empty() && name.iter().all(|&b| is_token(b)) && !value.iter().any(|&b| is_ctl(b))
}

/// The size of a chunk-size line (`1a2b`, `1a2b;name=value`, spaces or tabs allowed
/// before the `;`) and the length of its extension. Anything else (a bare CR or LF,
/// control characters, signs, `0x`) is refused: a proxy that read the line
/// differently would see a different end of body.
fn chunk_size(line: &[u8]) -> io::Result<(u64, usize)> {
    let malformed = || invalid("malformed chunk size");
    let end = line
        .iter()
        .position(|b| !b.is_ascii_hexdigit())
        .unwrap_or(line.len());
    let (digits, rest) = line.split_at(end);
    let significant = match digits.iter().position(|&d| d != b'0') {
        Some(first) => digits.get(first..).unwrap_or_default(),
        None => &[][..],
    };
    if digits.is_empty() || significant.len() > 15 {
        return Err(malformed());
    }
    let mut size = 0u64;
    for &d in significant {
        let v = (d as char).to_digit(16).ok_or_else(malformed)?;
        size = size * 16 + u64::from(v);
    }
    let after_space = rest
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .map_or(&[][..], |at| rest.get(at..).unwrap_or_default());
    match after_space.first() {
        None => Ok((size, 0)),
        Some(b';') if !after_space.iter().any(|&b| is_ctl(b)) => Ok((size, after_space.len())),
        Some(_) => Err(malformed()),
    }
}

type Pending =
    Pin<Box<dyn Future<Output = (Box<Reader>, io::Result<Option<Bytes>>)> + Send + Sync>>;

/// A request body read from the connection as the handler polls it.
pub struct RequestBody {
    reader: Option<Box<Reader>>,
    /// Whether the handler has polled the body yet.
    started: bool,
    /// Whether reading failed (every later poll fails too).
    failed: bool,
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
            started: false,
            failed: false,
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
        if this.failed {
            return Poll::Ready(Some(Err(invalid("the request body failed"))));
        }
        if this.pending.is_none() {
            let Some(mut reader) = this.reader.take() else {
                return Poll::Ready(None);
            };
            if reader.body_done() {
                this.reader = Some(reader);
                this.give_back();
                return Poll::Ready(None);
            }
            if !this.started {
                // The handler may have worked for a while before reading: that was
                // no idleness of the client.
                this.started = true;
                reader.touch();
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
                // The framing is lost: the connection cannot carry another request,
                // but the loop gets the reader back to drain it before closing.
                if let Some(reader) = this.reader.as_mut() {
                    reader.break_body();
                }
                this.failed = true;
                this.give_back();
                Poll::Ready(Some(Err(e)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        !self.failed && self.pending.is_none() && self.reader.as_ref().is_none_or(|r| r.body_done())
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
        assert_eq!(chunk_size(b"0").unwrap(), (0, 0));
        assert_eq!(chunk_size(b"1a").unwrap(), (26, 0));
        assert_eq!(chunk_size(b"FF;name=value").unwrap(), (255, 11));
        assert_eq!(chunk_size(b"FF \t;x").unwrap(), (255, 2));
        assert_eq!(chunk_size(b"10 ").unwrap(), (16, 0));
        assert_eq!(chunk_size(b"00000000000000000005").unwrap(), (5, 0));
        for bad in [
            &b""[..],
            b"x",
            b"-1",
            b"+1",
            b" 1",
            b"0x10",
            b"1234567890abcdef0",
            b"2;\nxx",
            b"5\n",
            b"5\r",
            b"5;a\rb",
            b"5 x",
        ] {
            assert!(chunk_size(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn trailer_lines_are_fields() {
        assert!(is_field_line(b"X-Checksum: abc"));
        assert!(is_field_line(b"X-Empty:"));
        for bad in [
            &b"no colon"[..],
            b": empty name",
            b"X: y\nGET /",
            b"bad name: v",
            b"X: a\rb",
        ] {
            assert!(!is_field_line(bad), "{bad:?}");
        }
    }
}
