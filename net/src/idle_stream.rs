//! A stream that fails once it has moved no byte for a set time
//! (`common.idle_timeout`).
//!
//! A request head has its own time limit, but nothing else would bound a request body
//! that stops arriving or a response the client stops reading: such a client would
//! hold its connection, its upload and its session slot forever. WebDAV wraps each
//! direction of a connection in [`IdleStream`] ([`crate::http1`]): a read or write
//! that stays pending past the limit returns `TimedOut`, the connection ends, and the
//! transfer in progress ends as failed. The connection loop restarts a direction's
//! clock ([`IdleStream::touch`]) before it waits on it after the other direction
//! worked, so a long download does not count as idleness of the read side. Reads that
//! return data also tell the worker's busy poller (`crate::busy_poll`) that the
//! connection is in an exchange.

use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// `inner`, failing any read or write that waits past `limit` since the last byte
/// moved either way.
pub struct IdleStream<S> {
    inner: S,
    limit: Duration,
    last_progress: Instant,
    read_timer: Pin<Box<Sleep>>,
    write_timer: Pin<Box<Sleep>>,
    busy: Option<crate::busy_poll::Registration>,
}

impl<S> IdleStream<S> {
    /// Wraps `inner`; the clock starts now.
    pub fn new(inner: S, limit: Duration) -> Self {
        let now = Instant::now();
        let deadline = now + limit;
        Self {
            inner,
            limit,
            last_progress: now,
            read_timer: Box::pin(tokio::time::sleep_until(deadline)),
            write_timer: Box::pin(tokio::time::sleep_until(deadline)),
            busy: None,
        }
    }

    /// Restarts the clock, as if a byte had just moved: for a caller about to wait on
    /// a direction that had nothing to do while the other one worked.
    pub fn touch(&mut self) {
        self.last_progress = Instant::now();
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Reports every read that returns data to `busy`.
    pub fn with_busy_poll(mut self, busy: Option<crate::busy_poll::Registration>) -> Self {
        self.busy = busy;
        self
    }
}

/// Called while one direction is pending: an error once the limit has passed since the
/// last progress, otherwise `Pending` with `timer` set to wake the task at that moment.
fn stalled(
    timer: &mut Pin<Box<Sleep>>,
    last_progress: Instant,
    limit: Duration,
    cx: &mut Context<'_>,
) -> Poll<io::Error> {
    let deadline = last_progress + limit;
    if timer.deadline() != deadline {
        timer.as_mut().reset(deadline);
    }
    match timer.as_mut().poll(cx) {
        Poll::Ready(()) => Poll::Ready(io::Error::new(
            io::ErrorKind::TimedOut,
            "no data moved on the connection within the idle timeout",
        )),
        Poll::Pending => Poll::Pending,
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for IdleStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(r) => {
                if buf.filled().len() > before {
                    this.last_progress = Instant::now();
                    if let Some(b) = &this.busy {
                        b.input();
                    }
                }
                Poll::Ready(r)
            }
            Poll::Pending => {
                stalled(&mut this.read_timer, this.last_progress, this.limit, cx).map(Err)
            }
        }
    }
}

impl<S> IdleStream<S> {
    /// Counts a write that moved bytes as progress.
    fn count_write(&mut self, polled: &Poll<io::Result<usize>>) {
        if matches!(polled, Poll::Ready(Ok(n)) if *n > 0) {
            self.last_progress = Instant::now();
        }
    }

    /// Passes a write-side result through; while it is pending, waits with the write
    /// timer.
    fn write_side<T>(
        &mut self,
        polled: Poll<io::Result<T>>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<T>> {
        match polled {
            Poll::Pending => {
                stalled(&mut self.write_timer, self.last_progress, self.limit, cx).map(Err)
            }
            ready => ready,
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for IdleStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.count_write(&polled);
        this.write_side(polled, cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.count_write(&polled);
        this.write_side(polled, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_flush(cx);
        this.write_side(polled, cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_shutdown(cx);
        this.write_side(polled, cx)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, duplex};

    const LIMIT: Duration = Duration::from_millis(300);

    #[tokio::test]
    async fn a_read_that_gets_nothing_fails_after_the_limit() {
        let (ours, _peer) = duplex(1024);
        let mut s = IdleStream::new(ours, LIMIT);
        let started = std::time::Instant::now();
        let err = s.read(&mut [0u8; 16]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() >= LIMIT);
    }

    #[tokio::test]
    async fn a_write_the_peer_never_reads_fails_after_the_limit() {
        let (ours, _peer) = duplex(64);
        let mut s = IdleStream::new(ours, LIMIT);
        let err = s.write_all(&[7u8; 4096]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }

    #[tokio::test]
    async fn progress_either_way_keeps_a_pending_read_alive() {
        let (ours, mut peer) = duplex(1024);
        let s = IdleStream::new(ours, LIMIT);
        let (mut rd, mut wr) = tokio::io::split(s);
        // The peer reads what we write, slowly, for three times the limit.
        let drain = tokio::spawn(async move {
            let mut got = 0;
            let mut buf = [0u8; 8];
            while got < 12 {
                got += peer.read(&mut buf).await.unwrap();
            }
            peer
        });
        let writer = tokio::spawn(async move {
            for _ in 0..12 {
                tokio::time::sleep(LIMIT / 4).await;
                wr.write_all(b"x").await.unwrap();
            }
            wr
        });
        let started = std::time::Instant::now();
        // Nothing ever arrives to read: the read fails only once writes stop too.
        let err = rd.read(&mut [0u8; 8]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(
            started.elapsed() >= LIMIT * 3,
            "failed after {:?}",
            started.elapsed()
        );
        let _keep = (writer.await.unwrap(), drain.await.unwrap());
    }

    #[tokio::test]
    async fn data_flows_through_unchanged() {
        let (ours, mut peer) = duplex(1024);
        let mut s = IdleStream::new(ours, LIMIT);
        peer.write_all(b"hello").await.unwrap();
        let mut buf = [0u8; 5];
        s.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"hello");
        s.write_all(b"world").await.unwrap();
        peer.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"world");
    }
}
