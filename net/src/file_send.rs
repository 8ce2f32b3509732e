//! Sending a download to a clear-text TCP socket without copying it through our
//! buffers: `sendfile(2)` moves page-cache pages straight to the socket whenever the
//! storage says the bytes are there (see `FileHandle::zero_copy_source`), and a read
//! into a buffer followed by a write covers the rest (other back-ends, pages not yet
//! cached, transfers whose limits count every read). Shared by FTP data connections
//! and WebDAV GET responses.

use std::future::Future;
use std::io;
use std::os::fd::BorrowedFd;
use std::time::Duration;

use sftpgo_core::connection::Transfer;
use tokio::io::Interest;
use tokio::net::TcpStream;

/// Bytes moved per step.
pub const CHUNK: usize = 256 * 1024;

/// Why a transfer stopped.
#[derive(Debug)]
pub enum PumpError {
    /// The file side failed (permissions, quota, storage).
    File(sftpgo_core::Error),
    /// The connection failed.
    Net(io::Error),
}

/// Fails a connection operation that makes no progress for `idle` (a client that
/// stopped reading or sending would otherwise hold the transfer forever).
pub async fn within<T>(idle: Duration, op: impl Future<Output = io::Result<T>>) -> io::Result<T> {
    tokio::time::timeout(idle, op).await.unwrap_or_else(|_| {
        Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "no progress on the connection",
        ))
    })
}

/// Sends the file from `offset` to `tcp`: `len` bytes, or up to the end of the file
/// when `len` is `None`; returns the bytes sent (fewer than `len` only when the file
/// ended first).
pub async fn send_range(
    t: &Transfer,
    mut offset: u64,
    len: Option<u64>,
    tcp: &TcpStream,
    idle: Duration,
) -> Result<u64, PumpError> {
    let mut buf: Vec<u8> = Vec::new();
    let mut sent = 0u64;
    loop {
        let step = match len {
            Some(l) => usize::try_from(l - sent).unwrap_or(CHUNK).min(CHUNK),
            None => CHUNK,
        };
        if step == 0 {
            break;
        }
        let n = match t.zero_copy_source(offset, step) {
            Some(fd) => {
                let n = within(idle, sendfile(tcp, fd, offset, step))
                    .await
                    .map_err(PumpError::Net)?;
                t.record_sent(n as u64);
                n
            }
            None => {
                if buf.is_empty() {
                    buf = vec![0u8; CHUNK];
                }
                let part = buf.get_mut(..step).unwrap_or_default();
                let n = t.read_at(part, offset).await.map_err(PumpError::File)?;
                let data = part.get(..n).unwrap_or_default();
                within(idle, write_all(tcp, data))
                    .await
                    .map_err(PumpError::Net)?;
                n
            }
        };
        if n == 0 {
            break;
        }
        offset += n as u64;
        sent += n as u64;
    }
    Ok(sent)
}

/// One `sendfile(2)` of up to `len` bytes at `offset`, waiting for the socket to take
/// data; returns the bytes sent (0 at end of file).
async fn sendfile(
    tcp: &TcpStream,
    file: BorrowedFd<'_>,
    offset: u64,
    len: usize,
) -> io::Result<usize> {
    loop {
        tcp.writable().await?;
        let mut at = offset;
        match tcp.try_io(Interest::WRITABLE, || {
            rustix::fs::sendfile(tcp, file, Some(&mut at), len).map_err(io::Error::from)
        }) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Writes `head` (a response head) with `MSG_MORE`: the kernel holds a partial segment
/// until the file bytes sent next fill it, so the head and the start of the body
/// leave in one packet rather than waking the client twice.
pub async fn write_head_more(tcp: &TcpStream, head: &[u8], idle: Duration) -> io::Result<()> {
    within(idle, send_all(tcp, head, rustix::net::SendFlags::MORE)).await
}

/// Writes all of `data` to a socket shared with other borrowers.
async fn write_all(tcp: &TcpStream, data: &[u8]) -> io::Result<()> {
    send_all(tcp, data, rustix::net::SendFlags::empty()).await
}

/// Sends all of `data` with `flags`, waiting for the socket to take it.
async fn send_all(
    tcp: &TcpStream,
    mut data: &[u8],
    flags: rustix::net::SendFlags,
) -> io::Result<()> {
    while !data.is_empty() {
        tcp.writable().await?;
        match tcp.try_io(Interest::WRITABLE, || {
            rustix::net::send(tcp, data, flags).map_err(io::Error::from)
        }) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => data = data.get(n..).unwrap_or_default(),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
