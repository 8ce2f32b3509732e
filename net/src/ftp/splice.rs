//! Zero-copy receive for plain-text uploads: `splice(2)` moves the socket's received
//! pages into a pipe without copying them, and a second `splice` copies them from the
//! pipe into the file. One copy per byte instead of two (socket → buffer → file), and
//! no user-space buffer at all.

use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};

use rustix::pipe::{PipeFlags, SpliceFlags};
use tokio::io::Interest;
use tokio::net::TcpStream;

/// Pipe capacity asked for: one step of a transfer.
pub const PIPE_BYTES: usize = 256 * 1024;

/// A pipe used as the in-kernel buffer between the socket and the file.
pub struct Pipe {
    read: OwnedFd,
    write: OwnedFd,
    /// What the pipe holds (what one step may move).
    capacity: usize,
}

impl Pipe {
    /// A close-on-exec pipe of up to [`PIPE_BYTES`] (the default 64 KiB when the
    /// per-user pipe allowance is used up).
    pub fn new() -> io::Result<Self> {
        let (read, write) = rustix::pipe::pipe_with(PipeFlags::CLOEXEC)?;
        let capacity = rustix::pipe::fcntl_setpipe_size(&write, PIPE_BYTES)
            .or_else(|_| rustix::pipe::fcntl_getpipe_size(&write))?;
        Ok(Self {
            read,
            write,
            capacity,
        })
    }

    /// Moves up to `len` received bytes from `tcp` into the (empty) pipe, waiting
    /// for data; 0 at the end of the stream.
    pub async fn fill_from(&self, tcp: &TcpStream, len: usize) -> io::Result<usize> {
        let len = len.min(self.capacity);
        loop {
            tcp.readable().await?;
            match tcp.try_io(Interest::READABLE, || {
                rustix::pipe::splice(
                    tcp,
                    None,
                    &self.write,
                    None,
                    len,
                    SpliceFlags::MOVE | SpliceFlags::NONBLOCK,
                )
                .map_err(io::Error::from)
            }) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Writes the `len` bytes the pipe holds into `file` at `offset`. The file never
    /// waits for a device (see `FileHandle::zero_copy_sink`), so this runs inline.
    /// Returns `len`, or the error that stopped it (the pipe is then left holding the
    /// rest, and the transfer fails).
    pub fn drain_to(&self, file: BorrowedFd<'_>, mut offset: u64, len: usize) -> io::Result<usize> {
        let mut left = len;
        while left > 0 {
            let n = rustix::pipe::splice(
                &self.read,
                None,
                file,
                Some(&mut offset),
                left,
                SpliceFlags::MOVE,
            )?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "the file took no more bytes",
                ));
            }
            left -= n;
        }
        Ok(len)
    }
}
