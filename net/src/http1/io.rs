//! The two directions of one connection, used by different tasks at once: a request
//! body is read while its handler runs, and the response goes out through the write
//! side. A plain TCP connection splits without a lock, and its write side keeps the
//! socket within reach for `sendfile`; TLS splits through tokio's shared half.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use crate::tls_stream::MaybeTls;

/// The read direction.
pub enum ReadSide {
    /// Clear text.
    Plain(OwnedReadHalf),
    /// TLS.
    Tls(tokio::io::ReadHalf<MaybeTls>),
}

/// The write direction.
pub enum WriteSide {
    /// Clear text.
    Plain(OwnedWriteHalf),
    /// TLS.
    Tls(tokio::io::WriteHalf<MaybeTls>),
}

/// Splits `stream` into its directions.
pub fn split(stream: MaybeTls) -> (ReadSide, WriteSide) {
    match stream {
        MaybeTls::Plain(tcp) => {
            let (r, w) = tcp.into_split();
            (ReadSide::Plain(r), WriteSide::Plain(w))
        }
        tls => {
            let (r, w) = tokio::io::split(tls);
            (ReadSide::Tls(r), WriteSide::Tls(w))
        }
    }
}

impl WriteSide {
    /// The socket, when the connection is clear text (a `sendfile` target).
    pub fn plain_socket(&self) -> Option<&TcpStream> {
        match self {
            Self::Plain(w) => Some(w.as_ref()),
            Self::Tls(_) => None,
        }
    }
}

impl AsyncRead for ReadSide {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(r) => Pin::new(r).poll_read(cx, buf),
            Self::Tls(r) => Pin::new(r).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for WriteSide {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(w) => Pin::new(w).poll_write(cx, buf),
            Self::Tls(w) => Pin::new(w).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(w) => Pin::new(w).poll_write_vectored(cx, bufs),
            Self::Tls(w) => Pin::new(w).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Self::Plain(w) => w.is_write_vectored(),
            Self::Tls(w) => w.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(w) => Pin::new(w).poll_flush(cx),
            Self::Tls(w) => Pin::new(w).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(w) => Pin::new(w).poll_shutdown(cx),
            Self::Tls(w) => Pin::new(w).poll_shutdown(cx),
        }
    }
}
