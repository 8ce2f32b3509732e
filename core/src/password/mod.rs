//! Password hashing (`data_provider.password_hashing`): new hashes with argon2id (the
//! default) or bcrypt; verification of those and of every other format SFTPGo accepts
//! (`legacy`). Hashes in a legacy format are upgraded to the configured algorithm after
//! a successful login (see `Authenticator::password`). Comparisons are constant-time, and
//! a login that has no hash to check (unknown, disabled or password-less account) checks
//! a decoy instead ([`verify_decoy`]), so response times do not tell which names exist.

mod cache;
mod legacy;

use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use serde::{Deserialize, Serialize};

pub use cache::PasswordCache;

use crate::{Error, ErrorKind, Result};

/// Algorithm for new hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum HashAlgo {
    /// argon2id (default).
    #[default]
    Argon2id,
    /// bcrypt.
    Bcrypt,
}

/// `password_hashing.bcrypt_options`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BcryptOptions {
    /// Cost 4–31 (SFTPGo default 10).
    pub cost: u32,
}

impl Default for BcryptOptions {
    fn default() -> Self {
        Self { cost: 10 }
    }
}

/// `password_hashing.argon2_options`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Argon2Options {
    /// Memory in KiB (SFTPGo default 65536).
    pub memory: u32,
    /// Iterations (default 1).
    pub iterations: u32,
    /// Lanes (default 2).
    pub parallelism: u8,
}

impl Default for Argon2Options {
    fn default() -> Self {
        Self {
            memory: 65536,
            iterations: 1,
            parallelism: 2,
        }
    }
}

/// `data_provider.password_hashing`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordHashing {
    /// bcrypt settings.
    pub bcrypt_options: BcryptOptions,
    /// argon2id settings.
    pub argon2_options: Argon2Options,
    /// Algorithm for new hashes.
    pub algo: HashAlgo,
}

impl PasswordHashing {
    /// Checks the values serde cannot.
    pub fn validate(&self) -> std::result::Result<(), String> {
        if !(4..=31).contains(&self.bcrypt_options.cost) {
            return Err("data_provider.password_hashing.bcrypt_options.cost: must be 4–31".into());
        }
        let a = self.argon2_options;
        Params::new(a.memory, a.iterations, u32::from(a.parallelism), None)
            .map_err(|e| format!("data_provider.password_hashing.argon2_options: {e}"))?;
        Ok(())
    }
}

static HASHING: RwLock<PasswordHashing> = RwLock::new(PasswordHashing {
    bcrypt_options: BcryptOptions { cost: 10 },
    argon2_options: Argon2Options {
        memory: 65536,
        iterations: 1,
        parallelism: 2,
    },
    algo: HashAlgo::Argon2id,
});

/// Hash verifications run since start (real and decoy).
static VERIFICATIONS: AtomicU64 = AtomicU64::new(0);

/// The decoy hash: a random password hashed with the configured algorithm.
static DECOY: RwLock<Option<String>> = RwLock::new(None);

/// Sets how new hashes are made (once at start).
pub fn configure(hashing: PasswordHashing) {
    *HASHING.write().unwrap_or_else(|e| e.into_inner()) = hashing;
    *DECOY.write().unwrap_or_else(|e| e.into_inner()) = None;
}

/// Hash verifications run since start, decoys included.
pub fn verifications() -> u64 {
    VERIFICATIONS.load(Ordering::Relaxed)
}

fn decoy_hash() -> Option<String> {
    if let Some(h) = DECOY.read().unwrap_or_else(|e| e.into_inner()).clone() {
        return Some(h);
    }
    let mut secret = [0u8; 16];
    rand::fill(&mut secret);
    let made = hash(&hex::encode(secret)).ok()?;
    let mut slot = DECOY.write().unwrap_or_else(|e| e.into_inner());
    Some(slot.get_or_insert(made).clone())
}

/// Verifies `plain` against a hash nobody knows the password of, made with the
/// configured algorithm and cost, and drops the result: a login that fails before it
/// has a hash to check then takes as long as a wrong password (the decoy is made on
/// first use, so that first call costs a hash more).
pub async fn verify_decoy(plain: &str) {
    let Ok(_permit) = hash_permits().acquire().await else {
        return;
    };
    let plain = plain.to_string();
    let _ = tokio::task::spawn_blocking(move || {
        if let Some(decoy) = decoy_hash() {
            verify(&plain, &decoy);
        }
    })
    .await;
}

fn hashing() -> PasswordHashing {
    *HASHING.read().unwrap_or_else(|e| e.into_inner())
}

fn argon2(o: Argon2Options) -> Argon2<'static> {
    let params =
        Params::new(o.memory, o.iterations, u32::from(o.parallelism), None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn is_argon2id(s: &str) -> bool {
    s.starts_with("$argon2id$")
}

fn is_bcrypt(s: &str) -> bool {
    ["$2a$", "$2b$", "$2y$", "$2x$", "$2$"]
        .iter()
        .any(|p| s.starts_with(p))
}

/// True when `s` already looks like a hash this server can verify (so a dump's value is
/// stored as is instead of being hashed as a plain password).
pub fn is_hashed(s: &str) -> bool {
    is_argon2id(s) || is_bcrypt(s) || legacy::PREFIXES.iter().any(|p| s.starts_with(p))
}

/// True for hashes in a format this server verifies but does not write (PBKDF2, Unix
/// crypt, plain digests): they are replaced after the next successful login.
pub fn needs_upgrade(stored: &str) -> bool {
    !is_argon2id(stored) && !is_bcrypt(stored) && is_hashed(stored)
}

/// Hashes a plain-text password with the configured algorithm.
pub fn hash(plain: &str) -> Result<String> {
    let cfg = hashing();
    match cfg.algo {
        HashAlgo::Bcrypt => bcrypt::hash(plain, cfg.bcrypt_options.cost)
            .map_err(|_| Error::new(ErrorKind::Internal, "cannot hash password")),
        HashAlgo::Argon2id => {
            let mut salt_bytes = [0u8; 16];
            rand::fill(&mut salt_bytes);
            let salt = SaltString::encode_b64(&salt_bytes)
                .map_err(|_| Error::new(ErrorKind::Internal, "cannot encode salt"))?;
            argon2(cfg.argon2_options)
                .hash_password(plain.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|_| Error::new(ErrorKind::Internal, "cannot hash password"))
        }
    }
}

/// Checks `plain` against a stored hash. Unknown formats never match.
pub fn verify(plain: &str, stored: &str) -> bool {
    VERIFICATIONS.fetch_add(1, Ordering::Relaxed);
    if is_argon2id(stored) {
        // The parameters are read from the hash itself.
        return PasswordHash::new(stored)
            .map(|h| {
                Argon2::default()
                    .verify_password(plain.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false);
    }
    if is_bcrypt(stored) {
        return bcrypt::verify(plain, stored).unwrap_or(false);
    }
    legacy::verify(plain, stored)
}

/// Hash computations allowed at once. An argon2id check can take tens of MiB and
/// a core for its duration, so a flood of login attempts queues here instead of
/// exhausting memory or the blocking pool.
fn hash_permits() -> &'static tokio::sync::Semaphore {
    static PERMITS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    PERMITS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        tokio::sync::Semaphore::new(cores.max(2))
    })
}

/// [`verify`] on the blocking pool, at most one per core at a time.
pub async fn verify_async(plain: &str, stored: &str) -> bool {
    let Ok(_permit) = hash_permits().acquire().await else {
        return false;
    };
    let (plain, stored) = (plain.to_string(), stored.to_string());
    tokio::task::spawn_blocking(move || verify(&plain, &stored))
        .await
        .unwrap_or(false)
}

/// [`hash`] on the blocking pool, at most one per core at a time.
pub async fn hash_async(plain: &str) -> Result<String> {
    let _permit = hash_permits()
        .acquire()
        .await
        .map_err(|e| crate::Error::new(crate::ErrorKind::Internal, e.to_string()))?;
    let plain = plain.to_string();
    tokio::task::spawn_blocking(move || hash(&plain))
        .await
        .map_err(|e| crate::Error::new(crate::ErrorKind::Internal, e.to_string()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2id_round_trip() {
        let h = hash("s3cret").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("s3cret", &h));
        assert!(!verify("s3cret!", &h));
    }

    #[test]
    fn legacy_formats_are_hashed_and_need_an_upgrade() {
        let md5 = "{MD5}45bd8dc03d699fef3cd698b3d1949e44";
        assert!(is_hashed(md5) && needs_upgrade(md5));
        let h = hash("x").unwrap();
        assert!(is_hashed(&h) && !needs_upgrade(&h));
        assert!(!is_hashed("{MD4}abc") && !needs_upgrade("plain"));
    }

    #[test]
    fn bcrypt_hashes_from_sftpgo_verify() {
        let h = bcrypt::hash("password", 4).unwrap();
        assert!(verify("password", &h));
        assert!(!verify("Password", &h));
        assert!(!verify("password", "plain-text-is-never-a-hash"));
    }
}
