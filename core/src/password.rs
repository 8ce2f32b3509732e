//! Password hashing: argon2id for new hashes, verification of argon2id and bcrypt
//! (`$2a$`/`$2b$`/`$2y$`) hashes as SFTPGo writes them. Comparisons are constant-time.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::{Error, ErrorKind, Result};

/// SFTPGo's argon2id defaults: 64 MiB, 1 iteration, 2 lanes.
fn argon2() -> Argon2<'static> {
    let params = Params::new(65536, 1, 2, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// True when `s` already looks like a hash this server can verify.
pub fn is_hashed(s: &str) -> bool {
    s.starts_with("$argon2id$") || is_bcrypt(s)
}

fn is_bcrypt(s: &str) -> bool {
    s.starts_with("$2a$") || s.starts_with("$2b$") || s.starts_with("$2y$")
}

/// Hashes a plain-text password with argon2id.
pub fn hash(plain: &str) -> Result<String> {
    let mut salt_bytes = [0u8; 16];
    rand::fill(&mut salt_bytes);
    let salt = SaltString::encode_b64(&salt_bytes)
        .map_err(|_| Error::new(ErrorKind::Internal, "cannot encode salt"))?;
    argon2()
        .hash_password(plain.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| Error::new(ErrorKind::Internal, "cannot hash password"))
}

/// Checks `plain` against a stored hash. Unknown formats never match.
pub fn verify(plain: &str, stored: &str) -> bool {
    if stored.starts_with("$argon2id$") {
        return PasswordHash::new(stored)
            .map(|h| argon2().verify_password(plain.as_bytes(), &h).is_ok())
            .unwrap_or(false);
    }
    if is_bcrypt(stored) {
        return bcrypt::verify(plain, stored).unwrap_or(false);
    }
    false
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
    fn bcrypt_hashes_from_sftpgo_verify() {
        let h = bcrypt::hash("password", 4).unwrap();
        assert!(verify("password", &h));
        assert!(!verify("Password", &h));
        assert!(!verify("password", "plain-text-is-never-a-hash"));
    }
}
