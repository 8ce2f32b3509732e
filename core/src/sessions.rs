//! Registry of active sessions shared by all workers: per-user counts for
//! `max_sessions`, and ids for logs.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

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
