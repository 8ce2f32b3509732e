//! Recycled buffers for file data on its way out: SFTP READ replies and WebDAV GET
//! bodies.
//!
//! A reply carries up to 256 KiB read straight from the file. Allocating and zeroing a
//! fresh buffer for each one cost about a tenth of the SFTP download path (memset plus
//! new pages, see docs/performance-notes.md). Instead each worker thread keeps a small
//! free list: a buffer goes back to it when the transport (russh, hyper) has sent and
//! dropped it. Recycled buffers keep their initialised length, so they are not zeroed
//! again. The list is per thread because a session and its transport task (or a hyper
//! connection) run on the same worker; a buffer dropped elsewhere simply joins that
//! thread's list.

use std::cell::RefCell;

use bytes::Bytes;

use crate::copy_placement;

/// Buffers kept per worker thread (at most this many × the largest reply).
const MAX_FREE: usize = 64;
/// Smaller replies are not worth recycling.
const MIN_RECYCLED: usize = 16 * 1024;

thread_local! {
    static FREE: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// A reply: `header` bytes then up to `data` bytes of file content, placed in a
/// recycled buffer where the copies around it are fast (see [`crate::copy_placement`]);
/// contents are arbitrary.
pub struct ReplyBuf {
    buf: Vec<u8>,
    start: usize,
    len: usize,
}

impl ReplyBuf {
    /// Takes a buffer from this thread's free list, or allocates one, for a reply of
    /// `header` bytes followed by `data` bytes read from the file at `file_offset`.
    pub fn for_file(header: usize, data: usize, file_offset: u64) -> Self {
        let len = header + data;
        let recycled = if len >= MIN_RECYCLED {
            FREE.with(|f| f.borrow_mut().pop())
        } else {
            None
        };
        let mut buf = recycled.unwrap_or_default();
        let needed = len + copy_placement::SLACK;
        if buf.len() < needed {
            // Zeroes only the part never used before.
            buf.resize(needed, 0);
        }
        let data_at = copy_placement::data_start(buf.as_ptr() as usize, header, file_offset);
        Self {
            buf,
            start: data_at - header,
            len,
        }
    }

    /// The usable bytes: the header, then room for the data.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        self.buf
            .get_mut(self.start..self.start + self.len)
            .unwrap_or_default()
    }

    /// Hands the first `len` bytes to the transport; the buffer returns to the free list
    /// when the last reference is dropped.
    pub fn freeze(mut self, len: usize) -> Bytes {
        self.len = len.min(self.len);
        Bytes::from_owner(self)
    }
}

impl AsRef<[u8]> for ReplyBuf {
    fn as_ref(&self) -> &[u8] {
        self.buf
            .get(self.start..self.start + self.len)
            .unwrap_or_default()
    }
}

impl Drop for ReplyBuf {
    fn drop(&mut self) {
        if self.buf.len() < MIN_RECYCLED {
            return;
        }
        let buf = std::mem::take(&mut self.buf);
        // During thread teardown the list may be gone already; then the buffer is freed.
        let _ = FREE.try_with(|f| {
            let mut f = f.borrow_mut();
            if f.len() < MAX_FREE {
                f.push(buf);
            }
        });
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_recycled_without_losing_length() {
        let mut b = ReplyBuf::for_file(0, 64 * 1024, 0);
        b.as_mut_slice().fill(7);
        let ptr = b.as_mut_slice().as_ptr();
        let frozen = b.freeze(100);
        assert_eq!(frozen.len(), 100);
        assert!(frozen.iter().all(|&x| x == 7));
        drop(frozen);
        let mut again = ReplyBuf::for_file(0, 32 * 1024, 0);
        assert_eq!(again.as_mut_slice().len(), 32 * 1024);
        assert_eq!(
            again.as_mut_slice().as_ptr(),
            ptr,
            "the freed buffer is reused"
        );
    }

    #[test]
    fn small_buffers_are_not_kept() {
        let b = ReplyBuf::for_file(0, 100, 0);
        drop(b.freeze(10));
        assert!(FREE.with(|f| f.borrow().is_empty()));
    }
}
