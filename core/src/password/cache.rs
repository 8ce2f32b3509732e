//! `data_provider.password_caching`: remembers recent successful password checks so a
//! client that logs in again and again does not pay for argon2id/bcrypt every time.
//!
//! Entries are keyed by username and the stored hash (a password change or a hash
//! upgrade makes old entries useless) and hold only a keyed digest of the password
//! (HMAC-SHA256 with a random key made at start), never the password. The cache is
//! bounded; when full, an arbitrary entry makes room.

use std::collections::HashMap;
use std::sync::Mutex;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Entries kept at most.
const MAX_ENTRIES: usize = 4096;

/// Cache of verified (user, stored hash, password) triples.
pub struct PasswordCache {
    key: [u8; 32],
    entries: Mutex<HashMap<(String, String), [u8; 32]>>,
}

impl Default for PasswordCache {
    fn default() -> Self {
        let mut key = [0u8; 32];
        rand::fill(&mut key);
        Self {
            key,
            entries: Mutex::new(HashMap::new()),
        }
    }
}

impl PasswordCache {
    fn tag(&self, password: &str) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(password.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// True when this exact password was verified before against `stored`.
    pub fn check(&self, username: &str, stored: &str, password: &str) -> bool {
        let tag = self.tag(password);
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(&(username.to_string(), stored.to_string()))
            .is_some_and(|t| bool::from(t.ct_eq(&tag)))
    }

    /// Records a successful verification.
    pub fn insert(&self, username: &str, stored: &str, password: &str) {
        let tag = self.tag(password);
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES
            && let Some(victim) = entries.keys().next().cloned()
        {
            entries.remove(&victim);
        }
        entries.insert((username.to_string(), stored.to_string()), tag);
    }

    /// Number of entries (for tests and metrics).
    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_only_the_verified_triple_and_stays_bounded() {
        let c = PasswordCache::default();
        c.insert("alice", "$hash1", "pw");
        assert!(c.check("alice", "$hash1", "pw"));
        assert!(!c.check("alice", "$hash1", "pw2"));
        assert!(
            !c.check("alice", "$hash2", "pw"),
            "a new stored hash is a miss"
        );
        assert!(!c.check("bob", "$hash1", "pw"));
        for i in 0..MAX_ENTRIES + 10 {
            c.insert(&format!("u{i}"), "$h", "pw");
        }
        assert!(c.len() <= MAX_ENTRIES);
    }
}
