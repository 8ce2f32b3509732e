//! File system events of a session, handed to the Event Manager: `pre-*` events before
//! an operation (a synchronous action's failure refuses it), and `upload`, `download`,
//! `delete`, `rename`, `mkdir`, `rmdir` and `copy` after it. Nothing is built unless a
//! rule wants the event; the server's own sessions (event actions) raise none.

use std::sync::{Arc, Weak};

use super::Connection;
use crate::events::FsEvent;
use crate::path::VirtualPath;
use crate::{Error, ErrorKind, Result};

/// Where sessions send their file system events (the Event Manager).
#[async_trait::async_trait]
pub trait FsEventSink: Send + Sync {
    /// Whether an active rule may react to `event` (cheap, without waiting: every
    /// file operation asks).
    fn wants(&self, event: &str) -> bool;
    /// Runs the rules `ev` fires; the failure of a synchronous action is returned.
    async fn fire(&self, ev: FsEvent) -> Result<()>;
}

/// A session's link to the Event Manager, with what every event of it carries.
pub(crate) struct EventHook {
    sink: Weak<dyn FsEventSink>,
    base: FsEvent,
}

/// One event of a session.
pub(crate) struct Emit<'a> {
    pub event: &'static str,
    pub path: &'a VirtualPath,
    pub fs_path: String,
    pub target: Option<(&'a VirtualPath, String)>,
    pub size: i64,
    pub elapsed_ms: i64,
    pub error: Option<&'a Error>,
    pub first: bool,
}

impl<'a> Emit<'a> {
    /// `event` on `path`, nothing else known yet.
    pub fn new(event: &'static str, path: &'a VirtualPath) -> Self {
        Self {
            event,
            path,
            fs_path: String::new(),
            target: None,
            size: 0,
            elapsed_ms: 0,
            error: None,
            first: false,
        }
    }
}

impl EventHook {
    /// Whether a rule wants `event` (so building it is worth it).
    pub fn wants(&self, event: &str) -> bool {
        self.sink.upgrade().is_some_and(|sink| sink.wants(event))
    }

    /// Sends one event; the failure of a synchronous action comes back as a permission
    /// error.
    pub async fn emit(&self, e: Emit<'_>) -> Result<()> {
        let Some(sink) = self.sink.upgrade() else {
            return Ok(());
        };
        if !sink.wants(e.event) {
            return Ok(());
        }
        let mut ev = self.base.clone();
        ev.event = e.event;
        ev.virtual_path = e.path.as_str().to_string();
        ev.fs_path = e.fs_path;
        if let Some((t, fs)) = e.target {
            ev.virtual_target_path = t.as_str().to_string();
            ev.fs_target_path = fs;
        }
        ev.file_size = e.size;
        ev.elapsed = e.elapsed_ms;
        ev.status = match e.error {
            None => 1,
            Some(err) if err.kind == ErrorKind::QuotaExceeded => 3,
            Some(_) => 2,
        };
        ev.error = e.error.map(|err| err.message.clone());
        ev.first = e.first;
        let (event, path) = (e.event, e.path.as_str().to_string());
        sink.fire(ev).await.map_err(|err| {
            // The action's error (hosts, paths, exit codes) stays in the log; the
            // client learns only that it was refused.
            tracing::info!(sender = "eventmanager", event, path = %path, error = %err.message,
                "operation refused by an event rule");
            Error::denied()
        })
    }

    /// [`Self::emit`] in the background (outcomes nobody waits for).
    pub fn emit_detached(self: &Arc<Self>, e: Emit<'_>) {
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let me = self.clone();
        let (event, path, fs_path, size, elapsed_ms) =
            (e.event, e.path.clone(), e.fs_path, e.size, e.elapsed_ms);
        let target = e.target.map(|(t, f)| (t.clone(), f));
        let error = e.error.cloned();
        rt.spawn(async move {
            let _ = me
                .emit(Emit {
                    event,
                    path: &path,
                    fs_path,
                    target: target.as_ref().map(|(t, f)| (t, f.clone())),
                    size,
                    elapsed_ms,
                    error: error.as_ref(),
                    first: false,
                })
                .await;
        });
    }
}

impl Connection {
    /// Sends this session's events to `sink` (the server's own sessions send none).
    pub(super) fn hook(&self, sink: Weak<dyn FsEventSink>) -> Option<Arc<EventHook>> {
        if matches!(self.protocol, "EventAction") {
            return None;
        }
        let ip = self
            .remote
            .parse::<std::net::SocketAddr>()
            .map(|a| a.ip().to_string())
            .unwrap_or_else(|_| self.remote.clone());
        Some(Arc::new(EventHook {
            sink,
            base: FsEvent {
                username: self.user.username.clone(),
                role: self.user.role.clone(),
                groups: self.user.groups.iter().map(|g| g.name.clone()).collect(),
                email: self.user.email.clone(),
                protocol: self.protocol.to_string(),
                ip,
                ..FsEvent::default()
            },
        }))
    }

    /// Where `p` is on the host, if its back-end has such a place.
    pub(super) fn host_path(&self, p: &VirtualPath) -> String {
        let r = self.storage.route(p);
        r.fs.host_path(r.rel)
            .map(|h| h.display().to_string())
            .unwrap_or_default()
    }

    /// Sends `event` on `p` (a `pre-*` event: a refusal is returned). Without
    /// `size`, the file's size is read, only when a rule wants the event.
    pub(super) async fn pre_event(
        &self,
        event: &'static str,
        p: &VirtualPath,
        size: Option<i64>,
    ) -> Result<()> {
        let Some(h) = &self.events else {
            return Ok(());
        };
        if !h.wants(event) {
            return Ok(());
        }
        let size = match size {
            Some(s) => s,
            None => {
                let r = self.storage.route(p);
                r.fs.stat(r.rel)
                    .await
                    .map_or(0, |i| i64::try_from(i.size).unwrap_or(i64::MAX))
            }
        };
        let mut e = Emit::new(event, p);
        e.fs_path = self.host_path(p);
        e.size = size;
        h.emit(e).await
    }

    /// Sends `event` on `p` (and `target`) after the operation, with its outcome.
    pub(super) fn post_event(
        &self,
        event: &'static str,
        p: &VirtualPath,
        target: Option<&VirtualPath>,
        size: i64,
        outcome: &Result<()>,
    ) {
        let Some(h) = self.events.as_ref().filter(|h| h.wants(event)) else {
            return;
        };
        let mut e = Emit::new(event, p);
        e.fs_path = self.host_path(p);
        e.target = target.map(|t| (t, self.host_path(t)));
        e.size = size;
        e.error = outcome.as_ref().err();
        h.emit_detached(e);
    }
}
