//! Moving file bytes over a data connection. Each direction keeps two 256 KiB buffers
//! so the next file read (or socket read) runs while the previous chunk is written:
//! the disk and the network work at the same time, with no allocation per chunk.

use std::io;

use sftpgo_core::connection::Transfer;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Bytes moved per step.
pub const CHUNK: usize = 256 * 1024;

/// Why a transfer stopped.
#[derive(Debug)]
pub enum PumpError {
    /// The file side failed (permissions, quota, storage).
    File(sftpgo_core::Error),
    /// The data connection failed.
    Net(io::Error),
}

/// Sends the file from `offset` to `out`; returns the bytes sent.
pub async fn send<W: AsyncWrite + Unpin>(
    t: &Transfer,
    mut offset: u64,
    out: &mut W,
) -> Result<u64, PumpError> {
    let mut cur = vec![0u8; CHUNK];
    let mut next = vec![0u8; CHUNK];
    let mut n = t.read_at(&mut cur, offset).await.map_err(PumpError::File)?;
    let mut sent = 0u64;
    while n > 0 {
        let ahead = offset + n as u64;
        let data = cur.get(..n).unwrap_or_default();
        let (w, r) = tokio::join!(out.write_all(data), t.read_at(&mut next, ahead));
        w.map_err(PumpError::Net)?;
        let m = r.map_err(PumpError::File)?;
        sent += n as u64;
        offset = ahead;
        std::mem::swap(&mut cur, &mut next);
        n = m;
    }
    out.flush().await.map_err(PumpError::Net)?;
    Ok(sent)
}

/// Writes what arrives on `input` to the file from `offset` until the client closes
/// the data connection; returns the bytes received.
pub async fn receive<R: AsyncRead + Unpin>(
    t: &Transfer,
    mut offset: u64,
    input: &mut R,
) -> Result<u64, PumpError> {
    let mut cur = vec![0u8; CHUNK];
    let mut next = vec![0u8; CHUNK];
    let mut n = fill(input, &mut cur).await.map_err(PumpError::Net)?;
    let mut received = 0u64;
    while n > 0 {
        let data = cur.get(..n).unwrap_or_default();
        let (w, r) = tokio::join!(t.write_at(data, offset), fill(input, &mut next));
        w.map_err(PumpError::File)?;
        let m = r.map_err(PumpError::Net)?;
        received += n as u64;
        offset += n as u64;
        std::mem::swap(&mut cur, &mut next);
        n = m;
    }
    Ok(received)
}

/// Reads until `buf` is full or the stream ends.
async fn fill<R: AsyncRead + Unpin>(input: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while let Some(rest) = buf.get_mut(got..) {
        if rest.is_empty() {
            break;
        }
        let n = input.read(rest).await?;
        if n == 0 {
            break;
        }
        got += n;
    }
    Ok(got)
}
