//! A read buffer for the SSH socket that only exists while it holds data.
//!
//! russh reads every packet with two unbuffered reads (the first cipher block, then the
//! rest), so a burst of small SFTP requests costs two `recv` calls each. Reading small
//! requests through a buffer turns the burst into one `recv`. Large reads (bulk uploads)
//! bypass the buffer. The buffer is released whenever the socket has nothing to read,
//! so an idle session holds no buffer at all (idle RSS is a goal of its own). Every read
//! that returns data tells the worker's busy poller (`crate::busy_poll`) that the
//! session is in an exchange.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Bytes read from the socket at a time for small reads; reads at least this large go
/// straight to the socket.
const CAPACITY: usize = 16 * 1024;

/// Wraps a socket; reads are buffered, writes pass through.
pub struct ReadBuffered<S> {
    inner: S,
    /// Told about every read that returns data.
    busy: Option<crate::busy_poll::Registration>,
    /// Empty, or `CAPACITY` bytes of which `pos..end` are unread.
    buf: Vec<u8>,
    pos: usize,
    end: usize,
}

impl<S> ReadBuffered<S> {
    /// Wraps `inner`; no memory is allocated until the first small read. `busy`, when
    /// the worker busy polls, hears of every read that returns data.
    pub fn new(inner: S, busy: Option<crate::busy_poll::Registration>) -> Self {
        Self {
            inner,
            busy,
            buf: Vec::new(),
            pos: 0,
            end: 0,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for ReadBuffered<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.pos >= this.end {
            if out.remaining() >= CAPACITY {
                this.release();
                let before = out.filled().len();
                let read = Pin::new(&mut this.inner).poll_read(cx, out);
                if out.filled().len() > before {
                    this.input();
                }
                return read;
            }
            if this.buf.len() != CAPACITY {
                this.buf = vec![0; CAPACITY];
            }
            let mut rb = ReadBuf::new(&mut this.buf);
            match Pin::new(&mut this.inner).poll_read(cx, &mut rb) {
                Poll::Ready(Ok(())) => {
                    this.end = rb.filled().len();
                    this.pos = 0;
                    if this.end > 0 {
                        this.input();
                    }
                }
                other => {
                    // Nothing buffered: an idle connection keeps no buffer.
                    this.release();
                    ready!(other)?;
                }
            }
        }
        let avail = this.buf.get(this.pos..this.end).unwrap_or_default();
        let n = avail.len().min(out.remaining());
        out.put_slice(avail.get(..n).unwrap_or_default());
        this.pos += n;
        Poll::Ready(Ok(()))
    }
}

impl<S> ReadBuffered<S> {
    fn input(&self) {
        if let Some(b) = &self.busy {
            b.input();
        }
    }

    fn release(&mut self) {
        self.buf = Vec::new();
        self.pos = 0;
        self.end = 0;
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for ReadBuffered<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, data)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn small_and_large_reads_return_the_stream_in_order() {
        let (mut client, server) = tokio::io::duplex(1 << 20);
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let sent = data.clone();
        let writer = tokio::spawn(async move {
            for chunk in sent.chunks(7_777) {
                client.write_all(chunk).await.unwrap();
            }
        });
        let mut r = ReadBuffered::new(server, None);
        let mut got = Vec::new();
        let mut small = [0u8; 16];
        let mut large = vec![0u8; 40_000];
        while got.len() < data.len() {
            r.read_exact(&mut small).await.unwrap();
            got.extend_from_slice(&small);
            let want = large.len().min(data.len() - got.len());
            r.read_exact(&mut large[..want]).await.unwrap();
            got.extend_from_slice(&large[..want]);
        }
        writer.await.unwrap();
        assert_eq!(got, data);
    }

    #[tokio::test]
    async fn an_idle_reader_holds_no_buffer() {
        let (mut client, server) = tokio::io::duplex(1024);
        let mut r = ReadBuffered::new(server, None);
        client.write_all(b"hello").await.unwrap();
        let mut b = [0u8; 5];
        r.read_exact(&mut b).await.unwrap();
        assert_eq!(&b, b"hello");
        // Nothing more to read: the poll comes back pending and the buffer is gone.
        let pending =
            tokio::time::timeout(std::time::Duration::from_millis(20), r.read(&mut b)).await;
        assert!(pending.is_err());
        assert_eq!(r.buf.capacity(), 0);
    }
}
