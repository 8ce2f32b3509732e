//! Connections shared by all workers and protocols: the caps checked when a TCP
//! connection is accepted ([`ConnectionLimiter`]), and the registry of authenticated
//! connections ([`SessionRegistry`]): per-user counts for `max_sessions`, ids for logs,
//! the listing behind `GET /api/v2/connections`, and a [`Closer`] per connection so an
//! admin can end it.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use serde::Serialize;

/// Caps on concurrent client connections, checked when a connection is accepted and
/// before any protocol byte is read (`common.max_total_connections`,
/// `common.max_per_host_connections`).
#[derive(Debug, Default)]
pub struct ConnectionLimiter {
    max_total: u32,
    max_per_host: u32,
    state: Mutex<(u32, HashMap<std::net::IpAddr, u32>)>,
}

/// A counted connection; dropping it frees the slot.
#[derive(Debug)]
pub struct ConnectionSlot {
    limiter: Arc<ConnectionLimiter>,
    ip: std::net::IpAddr,
}

impl ConnectionLimiter {
    /// A limiter; 0 means unlimited.
    pub fn new(max_total: u32, max_per_host: u32) -> Self {
        Self {
            max_total,
            max_per_host,
            state: Mutex::new((0, HashMap::new())),
        }
    }

    /// Counts a new connection from `ip`, or says why it is refused.
    pub fn try_acquire(
        self: &Arc<Self>,
        ip: std::net::IpAddr,
    ) -> Result<ConnectionSlot, &'static str> {
        self.try_acquire_from(ip, true)
    }

    /// Like [`ConnectionLimiter::try_acquire`]; without `per_host`, only the total cap
    /// applies (a trusted reverse proxy carries many clients on its one address).
    pub fn try_acquire_from(
        self: &Arc<Self>,
        ip: std::net::IpAddr,
        per_host: bool,
    ) -> Result<ConnectionSlot, &'static str> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if self.max_total > 0 && st.0 >= self.max_total {
            return Err("too many open connections");
        }
        let host_count = st.1.get(&ip).copied().unwrap_or(0);
        if per_host && self.max_per_host > 0 && host_count >= self.max_per_host {
            return Err("too many open connections from this address");
        }
        st.0 += 1;
        st.1.insert(ip, host_count + 1);
        Ok(ConnectionSlot {
            limiter: Arc::clone(self),
            ip,
        })
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut st = self.limiter.state.lock().unwrap_or_else(|e| e.into_inner());
        st.0 = st.0.saturating_sub(1);
        if let Some(c) = st.1.get_mut(&self.ip) {
            *c = c.saturating_sub(1);
            if *c == 0 {
                st.1.remove(&self.ip);
            }
        }
    }
}

/// Asks a connection to end. The connection's owner waits on [`Closer::closed`] (or
/// polls [`Closer::is_closed`]) and tears the connection down.
#[derive(Debug, Clone)]
pub struct Closer(Arc<tokio::sync::watch::Sender<bool>>);

impl Default for Closer {
    fn default() -> Self {
        Self(Arc::new(tokio::sync::watch::Sender::new(false)))
    }
}

impl Closer {
    /// Requests the close.
    pub fn close(&self) {
        self.0.send_replace(true);
    }

    /// Whether a close was requested.
    pub fn is_closed(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once a close is requested.
    pub async fn closed(&self) {
        let mut rx = self.0.subscribe();
        let _ = rx.wait_for(|closed| *closed).await;
    }
}

/// Time of a connection's last request, shared between its owner (which touches it)
/// and the registry (which reports it).
#[derive(Debug, Clone)]
pub struct Activity(Arc<AtomicI64>);

impl Default for Activity {
    fn default() -> Self {
        Self(Arc::new(AtomicI64::new(crate::now_millis())))
    }
}

impl Activity {
    /// Records activity now.
    pub fn touch(&self) {
        self.0.store(crate::now_millis(), Ordering::Relaxed);
    }

    /// The last activity, Unix ms.
    pub fn last(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// An authenticated connection as listed by `GET /api/v2/connections` (SFTPGo's
/// `ConnectionStatus`, without `current_time`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct ConnectionStatus {
    /// Logged-in user.
    pub username: String,
    /// Unique id.
    pub connection_id: String,
    /// The client's software version, when known (SSH identification string).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub client_version: String,
    /// `ip:port` of the client.
    pub remote_address: String,
    /// Login time, Unix ms.
    pub connection_time: i64,
    /// Last request, Unix ms.
    pub last_activity: i64,
    /// `SSH`, `SFTP`, `SCP`, `HTTP`, ...
    pub protocol: String,
    /// The user's role (for role-scoped admins; not serialised).
    #[serde(skip)]
    pub role: String,
}

/// A connection being registered.
#[derive(Debug, Clone)]
pub struct NewConnection {
    /// Unique id (see [`SessionRegistry::connection_id`]).
    pub id: String,
    /// The authenticated user.
    pub username: String,
    /// The user's role.
    pub role: String,
    /// Protocol at login.
    pub protocol: String,
    /// `ip:port` of the client.
    pub remote: String,
    /// How the registry asks the connection to end.
    pub closer: Closer,
    /// Where the connection records its activity.
    pub activity: Activity,
}

#[derive(Debug)]
struct Entry {
    status: ConnectionStatus,
    closer: Closer,
    activity: Activity,
}

#[derive(Debug, Default)]
struct Registered {
    per_user: HashMap<String, u32>,
    connections: HashMap<String, Entry>,
}

/// Process-wide registry of authenticated connections, shared by all workers and
/// protocols: per-user counts for `max_sessions`, listing, and closing.
#[derive(Debug, Default)]
pub struct SessionRegistry {
    next_id: AtomicU64,
    state: Mutex<Registered>,
}

/// A registered connection; dropping it unregisters it.
#[derive(Debug)]
pub struct SessionGuard {
    registry: Arc<SessionRegistry>,
    username: String,
    id: String,
}

impl SessionRegistry {
    fn lock(&self) -> std::sync::MutexGuard<'_, Registered> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new unique connection id, e.g. `SFTP_5f3a_1`.
    pub fn connection_id(&self, protocol: &str) -> String {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        format!("{protocol}_{:x}_{n}", std::process::id())
    }

    /// Registers `conn` unless its user already has `max` (> 0) connections.
    pub fn try_acquire(self: &Arc<Self>, conn: NewConnection, max: i32) -> Option<SessionGuard> {
        let mut st = self.lock();
        let count = st.per_user.get(&conn.username).copied().unwrap_or(0);
        if max > 0 && count >= u32::try_from(max).unwrap_or(u32::MAX) {
            return None;
        }
        st.per_user.insert(conn.username.clone(), count + 1);
        let now = crate::now_millis();
        let status = ConnectionStatus {
            username: conn.username.clone(),
            connection_id: conn.id.clone(),
            client_version: String::new(),
            remote_address: conn.remote,
            connection_time: now,
            last_activity: now,
            protocol: conn.protocol,
            role: conn.role,
        };
        st.connections.insert(
            conn.id.clone(),
            Entry {
                status,
                closer: conn.closer,
                activity: conn.activity,
            },
        );
        Some(SessionGuard {
            registry: Arc::clone(self),
            username: conn.username,
            id: conn.id,
        })
    }

    /// Every registered connection, oldest first.
    pub fn list(&self) -> Vec<ConnectionStatus> {
        let st = self.lock();
        let mut out: Vec<ConnectionStatus> = st
            .connections
            .values()
            .map(|e| ConnectionStatus {
                last_activity: e.activity.last().max(e.status.connection_time),
                ..e.status.clone()
            })
            .collect();
        out.sort_by(|a, b| {
            (a.connection_time, &a.connection_id).cmp(&(b.connection_time, &b.connection_id))
        });
        out
    }

    /// Asks connection `id` to close; false when there is no such connection.
    pub fn close(&self, id: &str) -> bool {
        let closer = self.lock().connections.get(id).map(|e| e.closer.clone());
        closer.map(|c| c.close()).is_some()
    }

    /// Registered connections of all users.
    pub fn total(&self) -> u32 {
        self.lock().per_user.values().sum()
    }

    /// Registered connections of `username`.
    pub fn count(&self, username: &str) -> u32 {
        self.lock().per_user.get(username).copied().unwrap_or(0)
    }
}

impl SessionGuard {
    /// The connection's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Updates what the listing shows: the protocol in use (`SFTP`, `SCP`, ...) and,
    /// when known, the client's version.
    pub fn describe(&self, protocol: Option<&str>, client_version: Option<&str>) {
        let mut st = self.registry.lock();
        if let Some(e) = st.connections.get_mut(&self.id) {
            if let Some(p) = protocol {
                p.clone_into(&mut e.status.protocol);
            }
            if let Some(v) = client_version {
                v.clone_into(&mut e.status.client_version);
            }
        }
    }
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        let mut st = self.registry.lock();
        st.connections.remove(&self.id);
        if let Some(c) = st.per_user.get_mut(&self.username) {
            *c = c.saturating_sub(1);
            if *c == 0 {
                st.per_user.remove(&self.username);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_caps() {
        let l = Arc::new(ConnectionLimiter::new(3, 2));
        let a: std::net::IpAddr = "127.0.0.1".parse().unwrap();
        let b: std::net::IpAddr = "::1".parse().unwrap();
        let s1 = l.try_acquire(a).unwrap();
        let _s2 = l.try_acquire(a).unwrap();
        assert!(l.try_acquire(a).is_err(), "per-host cap");
        let _s3 = l.try_acquire(b).unwrap();
        assert!(l.try_acquire(b).is_err(), "total cap");
        drop(s1);
        assert!(l.try_acquire(a).is_ok(), "slot freed on drop");
        let l = Arc::new(ConnectionLimiter::new(0, 1));
        let _p1 = l.try_acquire_from(a, false).unwrap();
        assert!(
            l.try_acquire_from(a, false).is_ok(),
            "a trusted proxy has no per-host cap"
        );
    }

    fn conn(id: &str, user: &str) -> NewConnection {
        NewConnection {
            id: id.into(),
            username: user.into(),
            role: String::new(),
            protocol: "SSH".into(),
            remote: "127.0.0.1:1".into(),
            closer: Closer::default(),
            activity: Activity::default(),
        }
    }

    #[test]
    fn registry_counts_lists_and_closes() {
        let r = Arc::new(SessionRegistry::default());
        let a = r.try_acquire(conn("a", "u"), 2).unwrap();
        let c = conn("b", "u");
        let closer = c.closer.clone();
        let b = r.try_acquire(c, 2).unwrap();
        assert!(r.try_acquire(conn("c", "u"), 2).is_none(), "max_sessions");
        assert!(
            r.try_acquire(conn("d", "v"), 0)
                .is_some_and(|g| g.id() == "d")
        );
        b.describe(Some("SFTP"), Some("SSH-2.0-x"));
        let list = r.list();
        assert_eq!(list.len(), 2, "d was dropped at once");
        let listed_b = list.iter().find(|s| s.connection_id == "b").unwrap();
        assert_eq!(
            (listed_b.protocol.as_str(), listed_b.client_version.as_str()),
            ("SFTP", "SSH-2.0-x")
        );
        assert!(!closer.is_closed());
        assert!(r.close("b"));
        assert!(closer.is_closed());
        assert!(!r.close("nope"));
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(closer.closed());
        drop((a, b));
        assert_eq!((r.total(), r.list().len()), (0, 0));
    }
}
