//! READ and WRITE requests in flight at the same time, completed out of order.
//!
//! SFTP lets a server answer requests in any order (draft-ietf-secsh-filexfer-02 §6.1),
//! and clients keep many READs or WRITEs outstanding. Running them one after another
//! would make every request wait for the previous one's file I/O (on disk file systems
//! a buffered write goes to io_uring's worker threads: tens of microseconds each). Here
//! each READ/WRITE becomes a future polled alongside the request reader, so the kernel
//! works on several at once while new requests are parsed.
//!
//! Ordering rules (the draft's: the result must be as if requests ran in order where
//! they could interfere):
//! - READs of one handle run together; a WRITE waits for in-flight requests on the same
//!   handle whose byte range overlaps its own (and vice versa);
//! - append-mode handles run one request at a time (offsets are ignored there);
//! - every other request (CLOSE, FSTAT, SETSTAT, fsync, ...) waits until nothing is in
//!   flight, so it sees every earlier write and its reply comes after theirs.

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::FuturesUnordered;

/// Requests in flight per session before the reader stops taking new ones.
pub const MAX_IN_FLIGHT: usize = 64;

/// A request's reply, produced when its I/O finishes.
pub type ReplyFuture = Pin<Box<dyn Future<Output = Bytes> + Send>>;

/// A started request, tagged with its token.
type Running = Pin<Box<dyn Future<Output = (u64, Bytes)> + Send>>;

/// What an in-flight request touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Handle id.
    pub handle: u32,
    /// True for WRITE.
    pub write: bool,
    /// Byte range `[start, end)`.
    pub start: u64,
    /// End of the byte range.
    pub end: u64,
    /// The handle needs strict request order (append mode).
    pub sequential: bool,
}

impl Span {
    /// True when `self` may not start while `other` is in flight.
    pub fn conflicts_with(&self, other: &Span) -> bool {
        if self.handle != other.handle {
            return false;
        }
        if self.sequential || other.sequential {
            return true;
        }
        (self.write || other.write) && self.start < other.end && other.start < self.end
    }
}

/// The in-flight set of one session.
#[derive(Default)]
pub struct Pipeline {
    running: FuturesUnordered<Running>,
    spans: Vec<(u64, Span)>,
    next_token: u64,
}

impl Pipeline {
    /// Number of requests in flight.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// True when nothing is in flight.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// True when a request touching `span` must wait for some in-flight one.
    pub fn blocks(&self, span: &Span) -> bool {
        self.spans.iter().any(|(_, s)| span.conflicts_with(s))
    }

    /// Starts `reply` for a request touching `span`.
    pub fn push(&mut self, span: Span, reply: ReplyFuture) {
        let token = self.next_token;
        self.next_token = self.next_token.wrapping_add(1);
        self.spans.push((token, span));
        self.running
            .push(Box::pin(async move { (token, reply.await) }));
    }

    /// Waits for the next request to finish and returns its reply; `None` when nothing
    /// is in flight.
    pub async fn next(&mut self) -> Option<Bytes> {
        let (token, reply) = self.running.next().await?;
        self.spans.retain(|(t, _)| *t != token);
        Some(reply)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn span(handle: u32, write: bool, start: u64, end: u64) -> Span {
        Span {
            handle,
            write,
            start,
            end,
            sequential: false,
        }
    }

    #[test]
    fn reads_share_writes_exclude_overlaps() {
        let r = span(1, false, 0, 100);
        assert!(
            !r.conflicts_with(&span(1, false, 50, 150)),
            "reads overlap freely"
        );
        assert!(
            r.conflicts_with(&span(1, true, 50, 150)),
            "read vs overlapping write"
        );
        assert!(span(1, true, 0, 100).conflicts_with(&span(1, true, 99, 200)));
        assert!(
            !span(1, true, 0, 100).conflicts_with(&span(1, true, 100, 200)),
            "adjacent"
        );
        assert!(
            !span(1, true, 0, 100).conflicts_with(&span(2, true, 0, 100)),
            "other handle"
        );
        let mut seq = span(1, true, 0, 10);
        seq.sequential = true;
        assert!(
            seq.conflicts_with(&span(1, false, 500, 600)),
            "append mode is ordered"
        );
    }

    #[tokio::test]
    async fn replies_come_back_in_completion_order() {
        let mut p = Pipeline::default();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        p.push(
            span(1, false, 0, 10),
            Box::pin(async move {
                let _ = rx.await;
                Bytes::from_static(b"slow")
            }),
        );
        p.push(
            span(1, false, 10, 20),
            Box::pin(async { Bytes::from_static(b"fast") }),
        );
        assert!(p.blocks(&span(1, true, 5, 6)));
        assert_eq!(p.next().await.unwrap(), "fast");
        tx.send(()).unwrap();
        assert_eq!(p.next().await.unwrap(), "slow");
        assert!(p.is_empty());
        assert!(p.next().await.is_none());
    }
}
