//! The session loop: framing, dispatch, handle table, writer task, teardown.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::{Buf, Bytes, BytesMut};
use russh::ChannelMsg;
use russh::server::Msg;
use sftpgo_core::connection::{Connection, Transfer};
use sftpgo_core::path::VirtualPath;
use tokio::sync::mpsc;

use super::codec::{Malformed, Reader, kind, status, status_packet};
use super::pipeline::{MAX_IN_FLIGHT, Pipeline};
use super::requests::Io;

/// Size limits advertised through `limits@openssh.com` and enforced on input.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest packet accepted (length field value).
    pub max_packet: u32,
    /// Largest READ served in one reply.
    pub max_read: u32,
    /// Largest WRITE accepted.
    pub max_write: u32,
    /// Open handles per session.
    pub max_handles: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_packet: 256 * 1024 + 8 * 1024,
            max_read: 256 * 1024,
            max_write: 256 * 1024,
            max_handles: 1024,
        }
    }
}

/// An open handle.
pub(super) enum Handle {
    File {
        transfer: Arc<Transfer>,
        /// Opened with SSH_FXF_APPEND: requests on it keep their order.
        append: bool,
    },
    Dir {
        path: VirtualPath,
        /// Entries not yet sent; loaded on the first READDIR.
        entries: Option<std::collections::VecDeque<sftpgo_vfs::FileInfo>>,
    },
}

/// Per-session state the request handlers work on.
pub(super) struct Session {
    pub conn: Connection,
    pub limits: Limits,
    pub handles: HashMap<u32, Handle>,
    next_handle: u32,
    pub version_sent: bool,
}

impl Session {
    pub fn add_handle(&mut self, h: Handle) -> Option<Vec<u8>> {
        if self.handles.len() >= self.limits.max_handles as usize {
            return None;
        }
        loop {
            self.next_handle = self.next_handle.wrapping_add(1);
            if !self.handles.contains_key(&self.next_handle) {
                break;
            }
        }
        self.handles.insert(self.next_handle, h);
        Some(self.next_handle.to_be_bytes().to_vec())
    }

    pub fn handle_id(raw: &[u8]) -> Option<u32> {
        let b: [u8; 4] = raw.try_into().ok()?;
        Some(u32::from_be_bytes(b))
    }
}

/// Serves SFTP on `channel` until the client closes it or sends garbage framing.
pub async fn serve(channel: russh::Channel<Msg>, conn: Connection, limits: Limits) {
    let (mut rx, tx) = channel.split();
    let (out_tx, mut out_rx) = mpsc::channel::<Bytes>(256);
    let conn_id = conn.id().to_string();
    let writer = tokio::spawn(async move {
        while let Some(first) = out_rx.recv().await {
            if tx.data_bytes(first).await.is_err() {
                return;
            }
        }
        // Like OpenSSH's sftp-server, report a clean exit: scp in SFTP mode checks it.
        let _ = tx.exit_status(0).await;
        let _ = tx.eof().await;
        let _ = tx.close().await;
    });

    let mut session = Session {
        conn,
        limits,
        handles: HashMap::new(),
        next_handle: 0,
        version_sent: false,
    };
    let mut inbuf = BytesMut::new();
    let mut pipeline = Pipeline::default();
    'outer: loop {
        let msg = tokio::select! {
            biased;
            Some(reply) = pipeline.next(), if !pipeline.is_empty() => {
                if out_tx.send(reply).await.is_err() {
                    break 'outer;
                }
                continue;
            }
            msg = rx.wait(), if pipeline.len() < MAX_IN_FLIGHT => msg,
        };
        match msg {
            Some(ChannelMsg::Data { data }) => {
                inbuf.extend_from_slice(&data);
                loop {
                    match next_packet(&mut inbuf, limits.max_packet) {
                        Ok(Some(pkt)) => {
                            if session.handle(pkt, &mut pipeline, &out_tx).await.is_err() {
                                break 'outer;
                            }
                        }
                        Ok(None) => {
                            // An idle session keeps no input buffer.
                            if inbuf.is_empty() {
                                inbuf = BytesMut::new();
                            }
                            break;
                        }
                        Err(Malformed) => {
                            tracing::warn!(connection_id = %conn_id, "malformed SFTP packet framing, closing the channel");
                            break 'outer;
                        }
                    }
                }
            }
            Some(ChannelMsg::Eof | ChannelMsg::Close) | None => break,
            Some(_) => {}
        }
    }
    // Requests already received still complete (an upload's last writes land).
    while let Some(reply) = pipeline.next().await {
        let _ = out_tx.send(reply).await;
    }
    for (_, h) in session.handles.drain() {
        if let Handle::File { transfer, .. } = h {
            transfer.abort().await;
        }
    }
    drop(out_tx);
    let _ = writer.await;
    tracing::debug!(connection_id = %conn_id, "SFTP session ended");
}

/// Splits one complete packet (without its length prefix) off `buf`.
fn next_packet(buf: &mut BytesMut, max: u32) -> Result<Option<Bytes>, Malformed> {
    let Some(len_bytes) = buf.get(..4) else {
        return Ok(None);
    };
    let len = u32::from_be_bytes(len_bytes.try_into().map_err(|_| Malformed)?);
    if len == 0 || len > max {
        return Err(Malformed);
    }
    let total = 4 + len as usize;
    if buf.len() < total {
        buf.reserve(total - buf.len());
        return Ok(None);
    }
    buf.advance(4);
    Ok(Some(buf.split_to(len as usize).freeze()))
}

/// The reply channel is gone: the client left.
pub(super) struct Closed;

impl Session {
    /// Runs one request: READ and WRITE join the pipeline, everything else runs once the
    /// pipeline is empty (see `pipeline` for the ordering rules).
    async fn handle(
        &mut self,
        pkt: Bytes,
        pipeline: &mut Pipeline,
        out: &mpsc::Sender<Bytes>,
    ) -> Result<(), Closed> {
        let ty = pkt.first().copied();
        if matches!(ty, Some(kind::READ | kind::WRITE)) {
            let io = self.start_io(&pkt).unwrap_or_else(|Malformed| {
                let id = Reader::new(pkt.get(1..).unwrap_or_default())
                    .u32()
                    .unwrap_or(0);
                Io::Reply(status_packet(id, status::BAD_MESSAGE, "malformed request"))
            });
            match io {
                Io::Reply(reply) => return out.send(reply).await.map_err(|_| Closed),
                Io::Start(span, reply) => {
                    while pipeline.blocks(&span) || pipeline.len() >= MAX_IN_FLIGHT {
                        if let Some(done) = pipeline.next().await {
                            out.send(done).await.map_err(|_| Closed)?;
                        }
                    }
                    pipeline.push(span, reply);
                    return Ok(());
                }
            }
        }
        while let Some(done) = pipeline.next().await {
            out.send(done).await.map_err(|_| Closed)?;
        }
        match self.dispatch(&pkt).await {
            Some(reply) => out.send(reply).await.map_err(|_| Closed),
            None => Ok(()),
        }
    }

    /// Handles one packet; returns the reply, if any.
    async fn dispatch(&mut self, pkt: &[u8]) -> Option<Bytes> {
        let mut r = Reader::new(pkt);
        let Ok(ty) = r.u8() else {
            return None;
        };
        if ty == kind::INIT {
            return Some(self.init());
        }
        let Ok(id) = r.u32() else {
            return Some(status_packet(0, status::BAD_MESSAGE, "bad message"));
        };
        match self.request(ty, id, &mut r).await {
            Ok(reply) => Some(reply),
            Err(Malformed) => Some(status_packet(id, status::BAD_MESSAGE, "malformed request")),
        }
    }
}
