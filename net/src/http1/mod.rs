//! Our HTTP/1.1 server connection, used by WebDAV: request heads ([`head`]), request
//! bodies ([`body`]), responses ([`response`]) over a connection split into its two
//! directions ([`io`]).
//!
//! hyper served WebDAV before; it owns the socket for the whole connection, so a GET
//! body could only leave through its buffers. This loop hands a response's file to
//! `sendfile(2)` when the connection is clear text ([`FileBody`]), and keeps what
//! hyper gave: keep-alive and pipelining, `100 Continue` sent only once the handler
//! reads the body, strict framing (see [`head`] and [`body`]), a time limit on each
//! request head counted from when the loop starts waiting for it (a silent or idle
//! keep-alive connection ends then too), and the idle limit on bodies and responses.
//!
//! One request is served at a time. The handler gets the request with a body that
//! reads from the connection as it is polled; once the response is written, the next
//! request is read only if that body was read to its end (a small unread body is
//! drained first), otherwise the connection closes.

pub mod body;
pub mod head;
pub mod io;
pub mod response;

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, Version};
use http_body::Body;
use tokio::io::AsyncWriteExt;
use tokio::sync::oneshot;

pub use body::RequestBody;
pub use response::FileBody;

use body::{HeadError, Reader};
use head::Refusal;
use io::WriteSide;
use response::Exchange;

use crate::idle_stream::IdleStream;
use crate::tls_stream::MaybeTls;

/// Most bytes of an unread request body drained to keep the connection open.
const DRAIN_MAX: u64 = 64 * 1024;
/// Longest wait for those bytes.
const DRAIN_TIME: Duration = Duration::from_secs(2);

/// Most bytes read and discarded while a closing connection waits for the client to
/// close its side.
const LINGER_MAX: usize = 1024 * 1024;
/// Longest such wait.
const LINGER_TIME: Duration = Duration::from_secs(2);

/// Limits of one connection.
pub struct Settings {
    /// A read or write that moves no byte for this long fails the connection (between
    /// requests too).
    pub idle: Duration,
    /// Once its first byte has arrived, a request head must be complete within this.
    pub header_timeout: Duration,
    /// The worker's busy poller, told of every read that returns data.
    pub busy: Option<crate::busy_poll::Registration>,
}

/// Serves requests on `stream` with `service` until the client closes the connection,
/// a response asks for the close, or an error or timeout ends it.
pub async fn serve<S, F, B>(
    stream: MaybeTls,
    settings: Settings,
    mut service: S,
) -> std::io::Result<()>
where
    S: FnMut(Request<RequestBody>) -> F,
    F: Future<Output = Response<B>>,
    B: Body<Data = Bytes> + Unpin,
    B::Error: Display,
{
    let (r, w) = io::split(stream);
    let mut reader = Box::new(Reader::new(
        IdleStream::new(r, settings.idle).with_busy_poll(settings.busy),
    ));
    let mut writer = IdleStream::new(w, settings.idle);
    loop {
        reader.touch();
        let head = match reader.read_head(settings.header_timeout).await {
            Ok(Some(head)) => head,
            Ok(None) => return Ok(()),
            Err(HeadError::Refused(refusal)) => {
                refuse(&mut writer, refusal).await;
                reader.linger(LINGER_MAX, LINGER_TIME).await;
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    refusal.reason,
                ));
            }
            Err(HeadError::Io(e)) => return Err(e),
        };
        let ex = Exchange {
            head_request: head.request.method() == Method::HEAD,
            http10: head.request.version() == Version::HTTP_10,
            keep_alive: head.keep_alive,
        };
        let (back, mut returned) = oneshot::channel();
        let (signal, mut wants_continue) = match head.expects_continue {
            true => {
                let (tx, rx) = oneshot::channel();
                (Some(tx), Some(rx))
            }
            false => (None, None),
        };
        let body = RequestBody::new(reader, head.framing, back, signal);
        let (parts, ()) = head.request.into_parts();
        let handled = service(Request::from_parts(parts, body));
        tokio::pin!(handled);
        let mut continue_owed = head.expects_continue;
        let response = loop {
            let polled = tokio::select! {
                resp = &mut handled => Ok(resp),
                reads = continue_wanted(&mut wants_continue) => Err(reads),
            };
            match polled {
                Ok(resp) => break resp,
                Err(reads) => {
                    wants_continue = None;
                    if reads {
                        continue_owed = false;
                        writer.touch();
                        writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await?;
                        writer.flush().await?;
                    }
                }
            }
        };
        // The handler has dropped the request by now unless it kept its body. What is
        // left of the body decides whether the connection can carry another request;
        // the response says so.
        let next = returned.try_recv().ok();
        let reusable = next
            .as_ref()
            .is_some_and(|r| r.body_done() || (!continue_owed && r.body_left_within(DRAIN_MAX)));
        let ex = Exchange {
            keep_alive: ex.keep_alive && reusable,
            ..ex
        };
        writer.touch();
        let keep_alive = response::write(&mut writer, ex, response, settings.idle).await?;
        let Some(mut next) = next else {
            return close(&mut writer).await;
        };
        if !keep_alive || !(next.body_done() || drain(&mut next).await) {
            let result = close(&mut writer).await;
            next.linger(LINGER_MAX, LINGER_TIME).await;
            return result;
        }
        reader = next;
    }
}

/// Resolves once the handler starts reading a body whose client waits for
/// `100 Continue` (true), or drops it unread (false); never without such a body.
async fn continue_wanted(rx: &mut Option<oneshot::Receiver<()>>) -> bool {
    match rx {
        Some(rx) => rx.await.is_ok(),
        None => std::future::pending().await,
    }
}

/// Reads and discards the rest of a small request body the handler did not read
/// (a refused upload), so that the connection can carry the next request; false when
/// it does not arrive in time.
async fn drain(reader: &mut Reader) -> bool {
    // The handler may have taken a while: that was no idleness of the client.
    reader.touch();
    let all = async {
        let mut total = 0u64;
        while let Some(data) = reader.next_chunk().await? {
            total += data.len() as u64;
            if total > DRAIN_MAX {
                return Ok(false);
            }
        }
        Ok::<_, std::io::Error>(true)
    };
    matches!(tokio::time::timeout(DRAIN_TIME, all).await, Ok(Ok(true)))
}

/// Answers a refused request head and ends the connection.
async fn refuse(writer: &mut IdleStream<WriteSide>, refusal: Refusal) {
    let text = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{}",
        refusal.status.as_str(),
        refusal.status.canonical_reason().unwrap_or(""),
        refusal.reason.len(),
        refusal.reason
    );
    let _ = writer.write_all(text.as_bytes()).await;
    let _ = close(writer).await;
}

/// Flushes and shuts the write side down (the client reads the end of the stream).
async fn close(writer: &mut IdleStream<WriteSide>) -> std::io::Result<()> {
    let _ = writer.flush().await;
    let _ = writer.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests;
