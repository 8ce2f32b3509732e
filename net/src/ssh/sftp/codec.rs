//! SFTP v3 wire format (draft-ietf-secsh-filexfer-02, §3–§7): packet framing, typed
//! requests, and reply encoding. Parsing never panics: every read is bounds-checked.

use bytes::{BufMut, Bytes, BytesMut};
use sftpgo_vfs::{FileInfo, SetAttrs};

/// Packet types (§3).
pub mod kind {
    pub const INIT: u8 = 1;
    pub const VERSION: u8 = 2;
    pub const OPEN: u8 = 3;
    pub const CLOSE: u8 = 4;
    pub const READ: u8 = 5;
    pub const WRITE: u8 = 6;
    pub const LSTAT: u8 = 7;
    pub const FSTAT: u8 = 8;
    pub const SETSTAT: u8 = 9;
    pub const FSETSTAT: u8 = 10;
    pub const OPENDIR: u8 = 11;
    pub const READDIR: u8 = 12;
    pub const REMOVE: u8 = 13;
    pub const MKDIR: u8 = 14;
    pub const RMDIR: u8 = 15;
    pub const REALPATH: u8 = 16;
    pub const STAT: u8 = 17;
    pub const RENAME: u8 = 18;
    pub const READLINK: u8 = 19;
    pub const SYMLINK: u8 = 20;
    pub const STATUS: u8 = 101;
    pub const HANDLE: u8 = 102;
    pub const DATA: u8 = 103;
    pub const NAME: u8 = 104;
    pub const ATTRS: u8 = 105;
    pub const EXTENDED: u8 = 200;
    pub const EXTENDED_REPLY: u8 = 201;
}

/// Status codes (§7).
pub mod status {
    pub const OK: u32 = 0;
    pub const EOF: u32 = 1;
    pub const NO_SUCH_FILE: u32 = 2;
    pub const PERMISSION_DENIED: u32 = 3;
    pub const FAILURE: u32 = 4;
    pub const BAD_MESSAGE: u32 = 5;
    pub const OP_UNSUPPORTED: u32 = 8;
}

/// Open flags (§6.3).
pub mod pflags {
    pub const READ: u32 = 0x01;
    pub const WRITE: u32 = 0x02;
    pub const APPEND: u32 = 0x04;
    pub const CREAT: u32 = 0x08;
    pub const TRUNC: u32 = 0x10;
    pub const EXCL: u32 = 0x20;
}

const ATTR_SIZE: u32 = 0x01;
const ATTR_UIDGID: u32 = 0x02;
const ATTR_PERMISSIONS: u32 = 0x04;
const ATTR_ACMODTIME: u32 = 0x08;
const ATTR_EXTENDED: u32 = 0x8000_0000;

/// A malformed packet body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed;

/// Cursor over a packet body.
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Reads from `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Malformed> {
        let (head, tail) = self.buf.split_at_checked(n).ok_or(Malformed)?;
        self.buf = tail;
        Ok(head)
    }

    /// One byte.
    pub fn u8(&mut self) -> Result<u8, Malformed> {
        let b = self.take(1)?;
        b.first().copied().ok_or(Malformed)
    }

    /// Big-endian u32.
    pub fn u32(&mut self) -> Result<u32, Malformed> {
        let b: [u8; 4] = self.take(4)?.try_into().map_err(|_| Malformed)?;
        Ok(u32::from_be_bytes(b))
    }

    /// Big-endian u64.
    pub fn u64(&mut self) -> Result<u64, Malformed> {
        let b: [u8; 8] = self.take(8)?.try_into().map_err(|_| Malformed)?;
        Ok(u64::from_be_bytes(b))
    }

    /// Length-prefixed bytes.
    pub fn bytes(&mut self) -> Result<&'a [u8], Malformed> {
        let n = self.u32()? as usize;
        self.take(n)
    }

    /// Length-prefixed UTF-8 string.
    pub fn string(&mut self) -> Result<&'a str, Malformed> {
        std::str::from_utf8(self.bytes()?).map_err(|_| Malformed)
    }

    /// Attributes (§5), as changes to apply.
    pub fn attrs(&mut self) -> Result<SetAttrs, Malformed> {
        let flags = self.u32()?;
        let mut a = SetAttrs::default();
        if flags & ATTR_SIZE != 0 {
            a.size = Some(self.u64()?);
        }
        if flags & ATTR_UIDGID != 0 {
            a.uid_gid = Some((self.u32()?, self.u32()?));
        }
        if flags & ATTR_PERMISSIONS != 0 {
            a.perm = Some(self.u32()? & 0o7777);
        }
        if flags & ATTR_ACMODTIME != 0 {
            let atime = i64::from(self.u32()?);
            let mtime = i64::from(self.u32()?);
            a.times = Some((atime, mtime));
        }
        if flags & ATTR_EXTENDED != 0 {
            let count = self.u32()?;
            for _ in 0..count {
                self.bytes()?;
                self.bytes()?;
            }
        }
        Ok(a)
    }

    /// Bytes left.
    pub fn rest(&self) -> &'a [u8] {
        self.buf
    }
}

/// Builds one reply packet: `length | type | id | body`.
pub struct Packet {
    buf: BytesMut,
}

impl Packet {
    /// Starts a reply of `kind` for request `id` (pass `None` for VERSION).
    pub fn new(kind: u8, id: Option<u32>, capacity: usize) -> Self {
        let mut buf = BytesMut::with_capacity(capacity + 9);
        buf.put_u32(0);
        buf.put_u8(kind);
        if let Some(id) = id {
            buf.put_u32(id);
        }
        Self { buf }
    }

    /// Appends a u32.
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.buf.put_u32(v);
        self
    }

    /// Appends a u64.
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.buf.put_u64(v);
        self
    }

    /// Appends length-prefixed bytes.
    pub fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.buf.put_u32(u32::try_from(v.len()).unwrap_or(u32::MAX));
        self.buf.put_slice(v);
        self
    }

    /// Appends attributes of a file.
    pub fn attrs(&mut self, info: &FileInfo) -> &mut Self {
        self.buf
            .put_u32(ATTR_SIZE | ATTR_UIDGID | ATTR_PERMISSIONS | ATTR_ACMODTIME);
        self.buf.put_u64(info.size);
        self.buf.put_u32(info.uid);
        self.buf.put_u32(info.gid);
        self.buf.put_u32(info.mode());
        self.buf.put_u32(clamp_time(info.atime));
        self.buf.put_u32(clamp_time(info.mtime));
        self
    }

    /// Appends empty attributes.
    pub fn no_attrs(&mut self) -> &mut Self {
        self.buf.put_u32(0);
        self
    }

    /// Reserves `n` bytes for data written in place and returns them (for READ
    /// replies: the file is read straight into the packet).
    pub fn data_slot(&mut self, n: usize) -> &mut [u8] {
        let start = self.buf.len();
        self.buf.resize(start + n, 0);
        self.buf.get_mut(start..).unwrap_or_default()
    }

    /// Drops the last `n` bytes (unused part of a data slot).
    pub fn truncate_by(&mut self, n: usize) {
        let len = self.buf.len().saturating_sub(n);
        self.buf.truncate(len);
    }

    /// Overwrites a u32 written earlier at byte position `at`.
    pub fn patch_u32(&mut self, at: usize, v: u32) {
        if let Some(dst) = self.buf.get_mut(at..at + 4) {
            dst.copy_from_slice(&v.to_be_bytes());
        }
    }

    /// Current length (including the 4-byte length prefix).
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// True when only the prefix is present.
    pub fn is_empty(&self) -> bool {
        self.buf.len() <= 4
    }

    /// Patches the length and returns the wire bytes.
    pub fn finish(mut self) -> Bytes {
        let len = u32::try_from(self.buf.len().saturating_sub(4)).unwrap_or(u32::MAX);
        if let Some(prefix) = self.buf.get_mut(..4) {
            prefix.copy_from_slice(&len.to_be_bytes());
        }
        self.buf.freeze()
    }
}

fn clamp_time(t: i64) -> u32 {
    u32::try_from(t.max(0)).unwrap_or(u32::MAX)
}

/// A STATUS reply.
pub fn status_packet(id: u32, code: u32, message: &str) -> Bytes {
    let mut p = Packet::new(kind::STATUS, Some(id), 16 + message.len());
    p.u32(code).bytes(message.as_bytes()).bytes(b"en");
    p.finish()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn reader_is_bounds_checked() {
        let mut r = Reader::new(&[0, 0, 0, 9, b'a']);
        assert_eq!(r.bytes(), Err(Malformed));
        let mut r = Reader::new(&[0xff; 3]);
        assert_eq!(r.u32(), Err(Malformed));
        let mut r = Reader::new(&[0, 0, 0, 0x0f]);
        assert_eq!(r.attrs(), Err(Malformed));
    }

    #[test]
    fn packet_round_trip() {
        let b = status_packet(7, status::EOF, "eof");
        let mut r = Reader::new(&b);
        assert_eq!(r.u32().unwrap() as usize, b.len() - 4);
        assert_eq!(r.u8().unwrap(), kind::STATUS);
        assert_eq!(r.u32().unwrap(), 7);
        assert_eq!(r.u32().unwrap(), status::EOF);
        assert_eq!(r.string().unwrap(), "eof");
    }
}
