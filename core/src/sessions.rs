//! Registry of active sessions shared by all workers: per-user counts for
//! `max_sessions`, and ids for logs.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

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
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if self.max_total > 0 && st.0 >= self.max_total {
            return Err("too many open connections");
        }
        let per_host = st.1.get(&ip).copied().unwrap_or(0);
        if self.max_per_host > 0 && per_host >= self.max_per_host {
            return Err("too many open connections from this address");
        }
        st.0 += 1;
        st.1.insert(ip, per_host + 1);
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

/// Process-wide session registry.
#[derive(Debug, Default)]
pub struct SessionRegistry {
    next_id: AtomicU64,
    per_user: Mutex<HashMap<String, u32>>,
}

/// A registered session; dropping it frees the slot.
#[derive(Debug)]
pub struct SessionGuard {
    registry: Arc<SessionRegistry>,
    username: String,
}

impl SessionRegistry {
    /// A new unique connection id, e.g. `SFTP_5f3a…`.
    pub fn connection_id(&self, protocol: &str) -> String {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        format!("{protocol}_{:x}_{n}", std::process::id())
    }

    /// Takes a session slot for `username` unless `max` (> 0) are already open.
    pub fn try_acquire(self: &Arc<Self>, username: &str, max: i32) -> Option<SessionGuard> {
        let mut map = self.per_user.lock().unwrap_or_else(|e| e.into_inner());
        let count = map.entry(username.to_string()).or_insert(0);
        if max > 0 && *count >= u32::try_from(max).unwrap_or(u32::MAX) {
            return None;
        }
        *count += 1;
        Some(SessionGuard {
            registry: Arc::clone(self),
            username: username.to_string(),
        })
    }

    /// Open sessions of all users.
    pub fn total(&self) -> u32 {
        let map = self.per_user.lock().unwrap_or_else(|e| e.into_inner());
        map.values().sum()
    }

    /// Open sessions of `username`.
    pub fn count(&self, username: &str) -> u32 {
        let map = self.per_user.lock().unwrap_or_else(|e| e.into_inner());
        map.get(username).copied().unwrap_or(0)
    }
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        let mut map = self
            .registry
            .per_user
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(c) = map.get_mut(&self.username) {
            *c = c.saturating_sub(1);
            if *c == 0 {
                map.remove(&self.username);
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
    }
}
