//! SCP, the legacy `rcp`-style protocol that `scp -O` speaks (`scp -t` sink, `scp -f`
//! source; recursion with `-r`, times with `-p`). Implemented in-process on top of the
//! user's `Connection`, so permissions, patterns and upload modes apply as for SFTP.
//!
//! Wire summary: control lines `C<mode> <size> <name>`, `D<mode> 0 <name>`, `E`,
//! `T<mtime> 0 <atime> 0`; each answered by a single `\0` (ok), `\x01msg\n` (warning) or
//! `\x02msg\n` (fatal).

#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use bytes::Bytes;
use russh::server::Msg;
use russh::{Channel, ChannelWriteHalf};
use sftpgo_core::connection::{Connection, WriteOptions};
use sftpgo_core::path::VirtualPath;
use sftpgo_core::{Error, ErrorKind};
use sftpgo_vfs::{FileKind, SetAttrs};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};

const CHUNK: usize = 256 * 1024;
const MAX_LINE: usize = 8192;
const MAX_DEPTH: usize = 128;

type Tx = ChannelWriteHalf<Msg>;

struct Opts {
    sink: bool,
    source: bool,
    recursive: bool,
    preserve: bool,
    target_is_dir: bool,
    path: Option<String>,
}

fn parse(args: &[String]) -> Result<Opts, String> {
    let mut o = Opts {
        sink: false,
        source: false,
        recursive: false,
        preserve: false,
        target_is_dir: false,
        path: None,
    };
    let mut rest = false;
    for a in args {
        if !rest && a == "--" {
            rest = true;
        } else if !rest && a.starts_with('-') && a.len() > 1 {
            for f in a.chars().skip(1) {
                match f {
                    't' => o.sink = true,
                    'f' => o.source = true,
                    'r' => o.recursive = true,
                    'p' => o.preserve = true,
                    'd' => o.target_is_dir = true,
                    'v' | 'q' | 'E' | 'T' => {}
                    other => return Err(format!("unsupported option -{other}")),
                }
            }
        } else if o.path.is_none() {
            o.path = Some(a.clone());
        } else {
            return Err("only one path is supported".into());
        }
    }
    if o.sink == o.source {
        return Err("exactly one of -t and -f is required".into());
    }
    Ok(o)
}

/// Runs an `scp` exec request and closes the channel with its exit status.
pub async fn run(channel: Channel<Msg>, conn: Connection, args: &[String]) {
    let (mut rx, tx) = channel.split();
    let status = match parse(args) {
        Err(e) => {
            let _ = tx.data_bytes(format!("\x02scp: {e}\n").into_bytes()).await;
            1
        }
        Ok(opts) => {
            let mut reader = BufReader::with_capacity(CHUNK, rx.make_reader());
            let path = opts.path.clone().unwrap_or_else(|| ".".into());
            let res = if opts.sink {
                Sink {
                    conn: &conn,
                    tx: &tx,
                    opts: &opts,
                }
                .run(&mut reader, &path)
                .await
            } else {
                Source {
                    conn: &conn,
                    tx: &tx,
                    opts: &opts,
                }
                .run(&mut reader, &path)
                .await
            };
            match res {
                Ok(()) => 0,
                Err(e) => {
                    tracing::warn!(connection_id = %conn.id(), error = %e, "scp failed");
                    let _ = tx.data_bytes(format!("\x01scp: {e}\n").into_bytes()).await;
                    1
                }
            }
        }
    };
    let _ = tx.exit_status(status).await;
    let _ = tx.eof().await;
    let _ = tx.close().await;
}

fn proto(msg: &str) -> Error {
    Error::invalid(format!("protocol error: {msg}"))
}

async fn read_line<R: AsyncRead + Unpin>(r: &mut BufReader<R>) -> Result<String, Error> {
    let mut buf = Vec::new();
    let n = (&mut *r)
        .take(MAX_LINE as u64)
        .read_until(b'\n', &mut buf)
        .await
        .map_err(|_| proto("read failed"))?;
    if n == 0 || buf.last() != Some(&b'\n') {
        return Err(proto("unterminated control line"));
    }
    buf.pop();
    String::from_utf8(buf).map_err(|_| proto("control line is not UTF-8"))
}

async fn read_ack<R: AsyncRead + Unpin>(r: &mut BufReader<R>) -> Result<(), Error> {
    match r.read_u8().await {
        Ok(0) => Ok(()),
        Ok(1 | 2) => Err(Error::new(
            ErrorKind::Internal,
            format!("client: {}", read_line(r).await?),
        )),
        Ok(_) => Err(proto("unexpected reply")),
        Err(_) => Err(proto("connection closed")),
    }
}

async fn send(tx: &Tx, data: impl Into<Bytes>) -> Result<(), Error> {
    tx.data_bytes(data.into())
        .await
        .map_err(|_| Error::new(ErrorKind::Transient, "channel closed"))
}

/// Parses `<mode> <size> <name>` of a C or D line.
fn parse_entry(line: &str) -> Result<(u32, u64, String), Error> {
    let mut it = line.splitn(3, ' ');
    let mode = it.next().and_then(|m| u32::from_str_radix(m, 8).ok());
    let size = it.next().and_then(|s| s.parse::<u64>().ok());
    let name = it.next();
    match (mode, size, name) {
        (Some(m), Some(s), Some(n))
            if !n.is_empty() && n != "." && n != ".." && !n.contains('/') =>
        {
            Ok((m & 0o7777, s, n.to_string()))
        }
        _ => Err(proto("invalid file entry")),
    }
}

fn parse_times(line: &str) -> Result<(i64, i64), Error> {
    let v: Vec<i64> = line.split(' ').filter_map(|s| s.parse().ok()).collect();
    match v.as_slice() {
        [m, _, a, _] => Ok((*m, *a)),
        _ => Err(proto("invalid times")),
    }
}

struct Sink<'a> {
    conn: &'a Connection,
    tx: &'a Tx,
    opts: &'a Opts,
}

impl Sink<'_> {
    async fn run<R: AsyncRead + Unpin>(
        &self,
        r: &mut BufReader<R>,
        raw: &str,
    ) -> Result<(), Error> {
        let target = self.conn.resolve(raw)?;
        let target_is_dir = match self.conn.stat(&target).await {
            Ok(info) => info.is_dir(),
            Err(e) if e.kind == ErrorKind::NotFound => false,
            Err(e) => return Err(e),
        };
        if self.opts.target_is_dir && !target_is_dir {
            return Err(Error::new(
                ErrorKind::NotFound,
                format!("{raw}: not a directory"),
            ));
        }
        send(self.tx, &b"\0"[..]).await?;
        // Stack of (directory, times to set when leaving it).
        let mut dirs: Vec<(VirtualPath, Option<(i64, i64)>)> = Vec::new();
        let mut times: Option<(i64, i64)> = None;
        loop {
            let kind = match r.read_u8().await {
                Ok(k) => k,
                Err(_) => return Ok(()),
            };
            match kind {
                b'T' => {
                    times = Some(parse_times(&read_line(r).await?)?);
                    send(self.tx, &b"\0"[..]).await?;
                }
                b'C' => {
                    let (mode, size, name) = parse_entry(&read_line(r).await?)?;
                    let dest = match dirs.last() {
                        Some((d, _)) => d.join(&name)?,
                        None if target_is_dir => target.join(&name)?,
                        None => target.clone(),
                    };
                    self.receive_file(r, &dest, mode, size, times.take())
                        .await?;
                }
                b'D' => {
                    if !self.opts.recursive {
                        return Err(proto("directory sent without -r"));
                    }
                    if dirs.len() >= MAX_DEPTH {
                        return Err(proto("directory tree too deep"));
                    }
                    let (mode, _, name) = parse_entry(&read_line(r).await?)?;
                    let dir = match dirs.last() {
                        Some((d, _)) => d.join(&name)?,
                        None if target_is_dir => target.join(&name)?,
                        None => target.clone(),
                    };
                    match self.conn.stat(&dir).await {
                        Ok(info) if info.is_dir() => {}
                        Ok(_) => {
                            self.warn(&format!("{dir}: not a directory")).await?;
                            return Err(Error::new(ErrorKind::Conflict, "not a directory"));
                        }
                        Err(_) => {
                            if let Err(e) = self.conn.mkdir(&dir, mode).await {
                                self.warn(&format!("{dir}: {e}")).await?;
                                return Err(e);
                            }
                        }
                    }
                    dirs.push((dir, times.take()));
                    send(self.tx, &b"\0"[..]).await?;
                }
                b'E' => {
                    read_line(r).await?;
                    let Some((dir, t)) = dirs.pop() else {
                        return Err(proto("unbalanced E"));
                    };
                    if let Some(t) = t {
                        self.set_times(&dir, t).await;
                    }
                    send(self.tx, &b"\0"[..]).await?;
                }
                1 | 2 => {
                    let msg = read_line(r).await?;
                    tracing::warn!(connection_id = %self.conn.id(), message = %msg, "scp client error");
                    if kind == 2 {
                        return Err(Error::new(ErrorKind::Internal, msg));
                    }
                }
                _ => return Err(proto("unknown control message")),
            }
        }
    }

    async fn warn(&self, msg: &str) -> Result<(), Error> {
        send(self.tx, format!("\x01scp: {msg}\n").into_bytes()).await
    }

    async fn set_times(&self, p: &VirtualPath, (mtime, atime): (i64, i64)) {
        let attrs = SetAttrs {
            times: Some((atime, mtime)),
            ..Default::default()
        };
        if let Err(e) = self.conn.set_attrs(p, &attrs, true).await {
            tracing::debug!(path = %p, error = %e, "scp: times not preserved");
        }
    }

    async fn receive_file<R: AsyncRead + Unpin>(
        &self,
        r: &mut BufReader<R>,
        dest: &VirtualPath,
        mode: u32,
        size: u64,
        times: Option<(i64, i64)>,
    ) -> Result<(), Error> {
        let opts = WriteOptions {
            truncate: true,
            create: true,
            mode,
            ..Default::default()
        };
        let transfer = match self.conn.open_write(dest, opts).await {
            Ok(t) => t,
            Err(e) => {
                // The client sends no data after a refusal; the session goes on.
                self.warn(&format!("{dest}: {e}")).await?;
                return Ok(());
            }
        };
        send(self.tx, &b"\0"[..]).await?;
        let mut buf = vec![0u8; CHUNK];
        let mut off = 0u64;
        let mut failure: Option<Error> = None;
        while off < size {
            let want = usize::try_from((size - off).min(CHUNK as u64)).unwrap_or(CHUNK);
            let Some(chunk) = buf.get_mut(..want) else {
                break;
            };
            let n = r.read(chunk).await.map_err(|_| proto("read failed"))?;
            if n == 0 {
                transfer.abort().await;
                return Err(proto("connection closed during transfer"));
            }
            if failure.is_none()
                && let Err(e) = transfer
                    .write_at(chunk.get(..n).unwrap_or_default(), off)
                    .await
            {
                failure = Some(e);
            }
            off += n as u64;
        }
        read_ack(r).await?;
        if let Some(e) = failure {
            transfer.abort().await;
            self.warn(&format!("{dest}: {e}")).await?;
            return Ok(());
        }
        if let Err(e) = transfer.close().await {
            self.warn(&format!("{dest}: {e}")).await?;
            return Ok(());
        }
        if let Some(t) = times {
            self.set_times(dest, t).await;
        }
        send(self.tx, &b"\0"[..]).await
    }
}

struct Source<'a> {
    conn: &'a Connection,
    tx: &'a Tx,
    opts: &'a Opts,
}

impl Source<'_> {
    async fn run<R: AsyncRead + Unpin>(
        &self,
        r: &mut BufReader<R>,
        raw: &str,
    ) -> Result<(), Error> {
        read_ack(r).await?;
        let p = self.conn.resolve(raw)?;
        let info = self.conn.stat(&p).await?;
        if info.is_dir() {
            if !self.opts.recursive {
                return Err(Error::invalid(format!("{raw}: not a regular file")));
            }
            Box::pin(self.send_dir(r, &p, 0)).await
        } else {
            self.send_file(r, &p).await
        }
    }

    async fn send_times<R: AsyncRead + Unpin>(
        &self,
        r: &mut BufReader<R>,
        mtime: i64,
        atime: i64,
    ) -> Result<(), Error> {
        if self.opts.preserve {
            send(self.tx, format!("T{mtime} 0 {atime} 0\n").into_bytes()).await?;
            read_ack(r).await?;
        }
        Ok(())
    }

    async fn send_file<R: AsyncRead + Unpin>(
        &self,
        r: &mut BufReader<R>,
        p: &VirtualPath,
    ) -> Result<(), Error> {
        let transfer = self.conn.open_read(p).await?;
        let info = transfer.stat().await?;
        self.send_times(r, info.mtime, info.atime).await?;
        let name = if p.is_root() { "root" } else { p.name() };
        send(
            self.tx,
            format!("C{:04o} {} {}\n", info.perm & 0o7777, info.size, name).into_bytes(),
        )
        .await?;
        read_ack(r).await?;
        let mut off = 0u64;
        while off < info.size {
            let want = usize::try_from((info.size - off).min(CHUNK as u64)).unwrap_or(CHUNK);
            let mut buf = vec![0u8; want];
            let n = transfer.read_at(&mut buf, off).await?;
            if n == 0 {
                transfer.abort().await;
                return Err(Error::new(
                    ErrorKind::Internal,
                    "file shrank during transfer",
                ));
            }
            buf.truncate(n);
            send(self.tx, buf).await?;
            off += n as u64;
        }
        transfer.close().await?;
        send(self.tx, &b"\0"[..]).await?;
        read_ack(r).await
    }

    async fn send_dir<R: AsyncRead + Unpin>(
        &self,
        r: &mut BufReader<R>,
        p: &VirtualPath,
        depth: usize,
    ) -> Result<(), Error> {
        if depth > MAX_DEPTH {
            return Err(Error::invalid("directory tree too deep"));
        }
        let info = self.conn.stat(p).await?;
        let entries = self.conn.read_dir(p).await?;
        self.send_times(r, info.mtime, info.atime).await?;
        let name = if p.is_root() { "root" } else { p.name() };
        send(
            self.tx,
            format!("D{:04o} 0 {}\n", info.perm & 0o7777, name).into_bytes(),
        )
        .await?;
        read_ack(r).await?;
        for e in entries {
            let child = p.join(&e.name)?;
            let kind = match e.kind {
                FileKind::Symlink => match self.conn.stat(&child).await {
                    Ok(i) => i.kind,
                    Err(_) => continue,
                },
                k => k,
            };
            let res = match kind {
                FileKind::Dir => Box::pin(self.send_dir(r, &child, depth + 1)).await,
                FileKind::File => self.send_file(r, &child).await,
                _ => Ok(()),
            };
            if let Err(e) = res {
                if e.kind == ErrorKind::Transient {
                    return Err(e);
                }
                send(self.tx, format!("\x01scp: {child}: {e}\n").into_bytes()).await?;
            }
        }
        send(self.tx, &b"E\n"[..]).await?;
        read_ack(r).await
    }
}
