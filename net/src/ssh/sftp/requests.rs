//! Request handlers, one per SFTP v3 message type (draft-ietf-secsh-filexfer-02 §6) and
//! per OpenSSH extension (PROTOCOL in OpenSSH's sources, §4.x).

use std::sync::Arc;

use bytes::{BufMut, Bytes};
use sftpgo_core::connection::{Transfer, WriteOptions};
use sftpgo_core::path::VirtualPath;
use sftpgo_core::{Error, ErrorKind};
use sftpgo_vfs::SetAttrs;

use super::codec::{Malformed, Packet, Reader, kind, pflags, status, status_packet};
use super::engine::{Handle, Session};
use super::pipeline::{ReplyFuture, Span};
use crate::reply_buf::ReplyBuf;

/// Extensions announced in VERSION: (name, version).
const EXTENSIONS: &[(&str, &str)] = &[
    ("posix-rename@openssh.com", "1"),
    ("statvfs@openssh.com", "2"),
    ("fstatvfs@openssh.com", "2"),
    ("hardlink@openssh.com", "1"),
    ("fsync@openssh.com", "1"),
    ("lsetstat@openssh.com", "1"),
    ("limits@openssh.com", "1"),
    ("expand-path@openssh.com", "1"),
    ("copy-data", "1"),
];

/// Bytes before the data in a DATA reply: length, type, id, data length.
const DATA_HEADER: usize = 13;

/// Directory entries per READDIR reply.
const READDIR_BATCH: usize = 128;

type Reply = Result<Bytes, Malformed>;

pub(super) fn error_packet(id: u32, e: &Error) -> Bytes {
    let code = match e.kind {
        ErrorKind::NotFound => status::NO_SUCH_FILE,
        ErrorKind::PermissionDenied => status::PERMISSION_DENIED,
        ErrorKind::Unsupported => status::OP_UNSUPPORTED,
        ErrorKind::InvalidInput => status::BAD_MESSAGE,
        ErrorKind::QuotaExceeded
        | ErrorKind::AlreadyExists
        | ErrorKind::Conflict
        | ErrorKind::Transient
        | ErrorKind::Internal => status::FAILURE,
    };
    status_packet(id, code, &e.message)
}

fn ok(id: u32) -> Bytes {
    status_packet(id, status::OK, "OK")
}

pub(super) fn done(id: u32, r: sftpgo_core::Result<()>) -> Bytes {
    match r {
        Ok(()) => ok(id),
        Err(e) => error_packet(id, &e),
    }
}

pub(super) fn name_reply(id: u32, name: &str) -> Bytes {
    let mut p = Packet::new(kind::NAME, Some(id), 32 + 2 * name.len());
    p.u32(1)
        .bytes(name.as_bytes())
        .bytes(name.as_bytes())
        .no_attrs();
    p.finish()
}

impl Session {
    pub(super) fn init(&mut self) -> Bytes {
        self.version_sent = true;
        let mut p = Packet::new(kind::VERSION, None, 256);
        p.u32(3);
        for (name, ver) in EXTENSIONS {
            p.bytes(name.as_bytes()).bytes(ver.as_bytes());
        }
        p.finish()
    }

    fn path(&self, raw: &str) -> Result<VirtualPath, Error> {
        self.conn.resolve(raw)
    }

    pub(super) fn file(&self, raw: &[u8]) -> Result<Arc<sftpgo_core::connection::Transfer>, Error> {
        match Self::handle_id(raw).and_then(|h| self.handles.get(&h)) {
            Some(Handle::File { transfer, .. }) => Ok(transfer.clone()),
            _ => Err(Error::invalid("invalid handle")),
        }
    }

    pub(super) async fn request(&mut self, ty: u8, id: u32, r: &mut Reader<'_>) -> Reply {
        Ok(match ty {
            kind::OPEN => self.open(id, r).await?,
            kind::CLOSE => self.close(id, r).await?,
            kind::LSTAT | kind::STAT => {
                let p = r.string()?;
                let res = match self.path(p) {
                    Ok(vp) if ty == kind::STAT => self.conn.stat(&vp).await,
                    Ok(vp) => self.conn.lstat(&vp).await,
                    Err(e) => Err(e),
                };
                attrs_reply(id, res)
            }
            kind::FSTAT => {
                let h = r.bytes()?;
                let res = match self.file(h) {
                    Ok(t) => t.stat().await,
                    Err(e) => Err(e),
                };
                attrs_reply(id, res)
            }
            kind::SETSTAT => {
                let p = r.string()?;
                let attrs = r.attrs()?;
                self.setstat(id, p, &attrs, true).await
            }
            kind::FSETSTAT => {
                let h = r.bytes()?;
                let attrs = r.attrs()?;
                // Same permission checks as SETSTAT, applied through the open handle.
                let res = match self.file(h) {
                    Ok(t) => match self.conn.authorize_set_attrs(t.path(), &attrs) {
                        Ok(()) => t.set_attrs(&attrs).await,
                        Err(e) => Err(e),
                    },
                    Err(e) => Err(e),
                };
                done(id, res)
            }
            kind::OPENDIR => {
                let p = r.string()?;
                match self.opendir(p).await {
                    Ok(handle) => handle_reply(id, &handle),
                    Err(e) => error_packet(id, &e),
                }
            }
            kind::READDIR => self.readdir(id, r).await?,
            kind::REMOVE => {
                let p = r.string()?;
                let res = match self.path(p) {
                    Ok(vp) => self.conn.remove_file(&vp).await,
                    Err(e) => Err(e),
                };
                done(id, res)
            }
            kind::MKDIR => {
                let p = r.string()?;
                let attrs = r.attrs()?;
                let res = match self.path(p) {
                    Ok(vp) => self.conn.mkdir(&vp, attrs.perm.unwrap_or(0o755)).await,
                    Err(e) => Err(e),
                };
                done(id, res)
            }
            kind::RMDIR => {
                let p = r.string()?;
                let res = match self.path(p) {
                    Ok(vp) => self.conn.remove_dir(&vp).await,
                    Err(e) => Err(e),
                };
                done(id, res)
            }
            kind::REALPATH => {
                let p = r.string()?;
                match self.path(p) {
                    Ok(vp) => name_reply(id, vp.as_str()),
                    Err(e) => error_packet(id, &e),
                }
            }
            kind::RENAME => {
                let from = r.string()?;
                let to = r.string()?;
                self.rename(id, from, to, false).await
            }
            kind::READLINK => {
                let p = r.string()?;
                let res = match self.path(p) {
                    Ok(vp) => self.conn.read_link(&vp).await,
                    Err(e) => Err(e),
                };
                match res {
                    Ok(target) => name_reply(id, target.as_str()),
                    Err(e) => error_packet(id, &e),
                }
            }
            kind::SYMLINK => {
                // OpenSSH sends (target, link), the reverse of the draft; every common
                // client follows OpenSSH.
                let target = r.string()?;
                let link = r.string()?;
                let res = match self.path(link) {
                    Ok(vp) => self.conn.symlink(target, &vp).await,
                    Err(e) => Err(e),
                };
                done(id, res)
            }
            kind::EXTENDED => self.extended(id, r).await?,
            _ => status_packet(id, status::OP_UNSUPPORTED, "operation not supported"),
        })
    }

    async fn open(&mut self, id: u32, r: &mut Reader<'_>) -> Reply {
        let p = r.string()?;
        let flags = r.u32()?;
        let attrs = r.attrs()?;
        let vp = match self.path(p) {
            Ok(vp) => vp,
            Err(e) => return Ok(error_packet(id, &e)),
        };
        let append = flags & pflags::APPEND != 0;
        let res = if flags & (pflags::WRITE | pflags::APPEND) != 0 {
            let opts = WriteOptions {
                read: flags & pflags::READ != 0,
                truncate: flags & pflags::TRUNC != 0,
                append: flags & pflags::APPEND != 0,
                exclusive: flags & pflags::EXCL != 0,
                create: flags & pflags::CREAT != 0,
                mode: attrs.perm.unwrap_or(0),
            };
            self.conn.open_write(&vp, opts).await
        } else {
            self.conn.open_read(&vp).await
        };
        Ok(match res {
            Ok(t) => {
                let t = Arc::new(t);
                match self.add_handle(Handle::File {
                    transfer: t.clone(),
                    append,
                }) {
                    Some(h) => handle_reply(id, &h),
                    None => {
                        t.abort().await;
                        status_packet(id, status::FAILURE, "too many open handles")
                    }
                }
            }
            Err(e) => error_packet(id, &e),
        })
    }

    async fn close(&mut self, id: u32, r: &mut Reader<'_>) -> Reply {
        let raw = r.bytes()?;
        let h = Self::handle_id(raw).and_then(|h| self.handles.remove(&h));
        Ok(match h {
            Some(Handle::File { transfer, .. }) => done(id, transfer.close().await),
            Some(Handle::Dir { .. }) => ok(id),
            None => status_packet(id, status::FAILURE, "invalid handle"),
        })
    }

    /// Parses a READ or WRITE and returns its reply future (or an immediate reply).
    pub(super) fn start_io(&self, pkt: &Bytes) -> Result<Io, Malformed> {
        let mut r = Reader::new(pkt);
        let ty = r.u8()?;
        let id = r.u32()?;
        let raw = r.bytes()?;
        let offset = r.u64()?;
        let Some((handle, transfer, append)) = self.file_entry(raw) else {
            return Ok(Io::Reply(status_packet(
                id,
                status::FAILURE,
                "invalid handle",
            )));
        };
        if ty == kind::READ {
            let len = r.u32()?.min(self.limits.max_read);
            let span = Span {
                handle,
                write: false,
                start: offset,
                end: offset.saturating_add(u64::from(len)),
                sequential: append,
            };
            return Ok(Io::Start(
                span,
                Box::pin(read_reply(transfer, id, offset, len as usize)),
            ));
        }
        let data = r.bytes()?;
        if data.len() > self.limits.max_write as usize {
            return Ok(Io::Reply(status_packet(
                id,
                status::FAILURE,
                "write too large",
            )));
        }
        let data = pkt.slice_ref(data);
        let span = Span {
            handle,
            write: true,
            start: offset,
            end: offset.saturating_add(data.len() as u64),
            sequential: append,
        };
        Ok(Io::Start(
            span,
            Box::pin(async move { done(id, transfer.write_at(&data, offset).await) }),
        ))
    }

    fn file_entry(&self, raw: &[u8]) -> Option<(u32, Arc<Transfer>, bool)> {
        let h = Self::handle_id(raw)?;
        match self.handles.get(&h)? {
            Handle::File { transfer, append } => Some((h, transfer.clone(), *append)),
            Handle::Dir { .. } => None,
        }
    }

    async fn opendir(&mut self, raw: &str) -> Result<Vec<u8>, Error> {
        let vp = self.path(raw)?;
        let info = self.conn.stat(&vp).await?;
        if !info.is_dir() {
            return Err(Error::new(ErrorKind::Conflict, "not a directory"));
        }
        // Checks the list permission now, so OPENDIR fails like opendir(3) would.
        self.conn.read_dir(&vp).await?;
        self.add_handle(Handle::Dir {
            path: vp,
            entries: None,
        })
        .ok_or_else(|| Error::new(ErrorKind::Transient, "too many open handles"))
    }

    async fn readdir(&mut self, id: u32, r: &mut Reader<'_>) -> Reply {
        let raw = r.bytes()?;
        let key = Self::handle_id(raw);
        let Some(Handle::Dir { path, entries }) = key.and_then(|k| self.handles.get_mut(&k)) else {
            return Ok(status_packet(id, status::FAILURE, "invalid handle"));
        };
        if entries.is_none() {
            let path = path.clone();
            let listed = match self.conn.read_dir(&path).await {
                Ok(e) => e,
                Err(e) => return Ok(error_packet(id, &e)),
            };
            if let Some(Handle::Dir { entries, .. }) = key.and_then(|k| self.handles.get_mut(&k)) {
                *entries = Some(listed.into());
            }
        }
        let Some(Handle::Dir {
            entries: Some(queue),
            ..
        }) = key.and_then(|k| self.handles.get_mut(&k))
        else {
            return Ok(status_packet(id, status::FAILURE, "invalid handle"));
        };
        if queue.is_empty() {
            return Ok(status_packet(id, status::EOF, "EOF"));
        }
        let n = queue.len().min(READDIR_BATCH);
        let now = sftpgo_core::clock::now_secs();
        let mut p = Packet::new(kind::NAME, Some(id), n * 128);
        p.u32(u32::try_from(n).unwrap_or(0));
        for e in queue.drain(..n) {
            p.bytes(e.name.as_bytes());
            p.bytes(crate::listing::long_name(&e, now).as_bytes());
            p.attrs(&e);
        }
        Ok(p.finish())
    }

    pub(super) async fn setstat(
        &mut self,
        id: u32,
        raw: &str,
        attrs: &SetAttrs,
        follow: bool,
    ) -> Bytes {
        let res = match self.path(raw) {
            Ok(vp) => self.conn.set_attrs(&vp, attrs, follow).await,
            Err(e) => Err(e),
        };
        done(id, res)
    }

    pub(super) async fn rename(&mut self, id: u32, from: &str, to: &str, replace: bool) -> Bytes {
        let res = match (self.path(from), self.path(to)) {
            (Ok(a), Ok(b)) => self.conn.rename(&a, &b, replace).await,
            (Err(e), _) | (_, Err(e)) => Err(e),
        };
        done(id, res)
    }
}

/// A READ or WRITE, ready to run, or its reply when it failed before any I/O.
pub(super) enum Io {
    /// Answer now.
    Reply(Bytes),
    /// Run this future; it resolves to the reply.
    Start(Span, ReplyFuture),
}

/// Reads up to `len` bytes at `offset` straight into a DATA reply.
async fn read_reply(t: Arc<Transfer>, id: u32, offset: u64, len: usize) -> Bytes {
    // Reply: length, type, id, data length, then the data read in place.
    let mut buf = ReplyBuf::for_file(DATA_HEADER, len, offset);
    let res = match buf.as_mut_slice().get_mut(DATA_HEADER..) {
        Some(slot) => t.read_at(slot, offset).await,
        None => Ok(0),
    };
    match res {
        Ok(0) => status_packet(id, status::EOF, "EOF"),
        Ok(n) => {
            let n32 = u32::try_from(n).unwrap_or(0);
            if let Some(head) = buf.as_mut_slice().get_mut(..DATA_HEADER) {
                head.copy_from_slice(&data_header(id, n32));
            }
            buf.freeze(DATA_HEADER + n)
        }
        Err(e) => error_packet(id, &e),
    }
}

/// `length | SSH_FXP_DATA | id | data length` for a DATA reply carrying `n` bytes.
fn data_header(id: u32, n: u32) -> [u8; DATA_HEADER] {
    let mut h = [0u8; DATA_HEADER];
    let mut w = h.as_mut_slice();
    w.put_u32(n + 9);
    w.put_u8(kind::DATA);
    w.put_u32(id);
    w.put_u32(n);
    h
}

fn handle_reply(id: u32, handle: &[u8]) -> Bytes {
    let mut p = Packet::new(kind::HANDLE, Some(id), 8 + handle.len());
    p.bytes(handle);
    p.finish()
}

fn attrs_reply(id: u32, res: sftpgo_core::Result<sftpgo_vfs::FileInfo>) -> Bytes {
    match res {
        Ok(info) => {
            let mut p = Packet::new(kind::ATTRS, Some(id), 40);
            p.attrs(&info);
            p.finish()
        }
        Err(e) => error_packet(id, &e),
    }
}
