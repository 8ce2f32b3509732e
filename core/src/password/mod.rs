//! Password hashing (`data_provider.password_hashing`): new hashes with argon2id (the
//! default) or bcrypt; verification of those and of every other format SFTPGo accepts
//! (`legacy`). Hashes in a legacy format are upgraded to the configured algorithm after
//! a successful login (see `Authenticator::password`). Comparisons are constant-time.

mod cache;
mod legacy;

use std::sync::RwLock;

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

/// Sets how new hashes are made (once at start).
pub fn configure(hashing: PasswordHashing) {
    *HASHING.write().unwrap_or_else(|e| e.into_inner()) = hashing;
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
