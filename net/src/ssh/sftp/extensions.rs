//! OpenSSH SFTP extensions (OpenSSH `PROTOCOL` §4.3–§4.11) and `copy-data`
//! (draft-ietf-secsh-filexfer-extensions-00 §7).

use bytes::Bytes;
use sftpgo_core::Error;
use sftpgo_vfs::StatVfs;

use super::codec::{Malformed, Packet, Reader, kind, status, status_packet};
use super::engine::Session;
use super::requests::{done, error_packet};

type Reply = Result<Bytes, Malformed>;

/// Largest copy-data chunk.
const COPY_CHUNK: usize = 256 * 1024;

impl Session {
    pub(super) async fn extended(&mut self, id: u32, r: &mut Reader<'_>) -> Reply {
        let name = r.string()?;
        Ok(match name {
            "posix-rename@openssh.com" => {
                let from = r.string()?;
                let to = r.string()?;
                self.rename(id, from, to, true).await
            }
            "statvfs@openssh.com" => {
                let p = r.string()?;
                let res = match self.conn.resolve(p) {
                    Ok(vp) => self.conn.statvfs(&vp).await,
                    Err(e) => Err(e),
                };
                statvfs_reply(id, res)
            }
            "fstatvfs@openssh.com" => {
                let h = r.bytes()?;
                let res = match self.file(h) {
                    Ok(t) => {
                        let parent = t.path().parent();
                        self.conn.statvfs(&parent).await
                    }
                    Err(e) => Err(e),
                };
                statvfs_reply(id, res)
            }
            "hardlink@openssh.com" => {
                let old = r.string()?;
                let new = r.string()?;
                let res = match (self.conn.resolve(old), self.conn.resolve(new)) {
                    (Ok(a), Ok(b)) => self.conn.hard_link(&a, &b).await,
                    (Err(e), _) | (_, Err(e)) => Err(e),
                };
                done(id, res)
            }
            "fsync@openssh.com" => {
                let h = r.bytes()?;
                let res = match self.file(h) {
                    Ok(t) => t.sync().await,
                    Err(e) => Err(e),
                };
                done(id, res)
            }
            "lsetstat@openssh.com" => {
                let p = r.string()?;
                let attrs = r.attrs()?;
                self.setstat(id, p, &attrs, false).await
            }
            "limits@openssh.com" => {
                let mut p = Packet::new(kind::EXTENDED_REPLY, Some(id), 32);
                p.u64(u64::from(self.limits.max_packet))
                    .u64(u64::from(self.limits.max_read))
                    .u64(u64::from(self.limits.max_write))
                    .u64(u64::from(self.limits.max_handles));
                p.finish()
            }
            "expand-path@openssh.com" => {
                let p = r.string()?;
                // `~` and `~/x` name the user's start directory; the rest resolves as usual.
                let expanded = match p.strip_prefix('~') {
                    Some(rest) if rest.is_empty() || rest.starts_with('/') => {
                        format!("{}{}", self.conn.start_dir(), rest)
                    }
                    _ => p.to_string(),
                };
                match self.conn.resolve(&expanded) {
                    Ok(vp) => super::requests::name_reply(id, vp.as_str()),
                    Err(e) => error_packet(id, &e),
                }
            }
            "copy-data" => self.copy_data(id, r).await?,
            _ => status_packet(id, status::OP_UNSUPPORTED, "unsupported extension"),
        })
    }

    async fn copy_data(&mut self, id: u32, r: &mut Reader<'_>) -> Reply {
        let src = r.bytes()?;
        let mut read_off = r.u64()?;
        let length = r.u64()?;
        let dst = r.bytes()?;
        let mut write_off = r.u64()?;
        let (src, dst) = match (self.file(src), self.file(dst)) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(e), _) | (_, Err(e)) => return Ok(error_packet(id, &e)),
        };
        if std::sync::Arc::ptr_eq(&src, &dst) {
            return Ok(error_packet(
                id,
                &Error::invalid("source and destination are the same handle"),
            ));
        }
        let mut remaining = if length == 0 { u64::MAX } else { length };
        let mut buf = vec![0u8; COPY_CHUNK];
        while remaining > 0 {
            let want = usize::try_from(remaining.min(COPY_CHUNK as u64)).unwrap_or(COPY_CHUNK);
            let Some(chunk) = buf.get_mut(..want) else {
                break;
            };
            let n = match src.read_at(chunk, read_off).await {
                Ok(0) if length == 0 => break,
                Ok(0) => return Ok(status_packet(id, status::EOF, "EOF")),
                Ok(n) => n,
                Err(e) => return Ok(error_packet(id, &e)),
            };
            let data = chunk.get(..n).unwrap_or_default();
            if let Err(e) = dst.write_at(data, write_off).await {
                return Ok(error_packet(id, &e));
            }
            read_off += n as u64;
            write_off += n as u64;
            remaining = remaining.saturating_sub(n as u64);
        }
        Ok(status_packet(id, status::OK, "OK"))
    }
}

fn statvfs_reply(id: u32, res: sftpgo_core::Result<StatVfs>) -> Bytes {
    match res {
        Ok(s) => {
            let mut p = Packet::new(kind::EXTENDED_REPLY, Some(id), 88);
            for v in [
                s.bsize, s.frsize, s.blocks, s.bfree, s.bavail, s.files, s.ffree, s.favail, s.fsid,
                s.flag, s.namemax,
            ] {
                p.u64(v);
            }
            p.finish()
        }
        Err(e) => error_packet(id, &e),
    }
}
