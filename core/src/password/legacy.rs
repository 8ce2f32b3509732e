//! Verification of the password hash formats SFTPGo accepts besides its own argon2id and
//! bcrypt, so users imported from other systems can log in (and get their hash upgraded,
//! see `Authenticator`):
//! - PBKDF2: `$pbkdf2-sha1$`, `$pbkdf2-sha256$`, `$pbkdf2-sha512$` followed by
//!   `iterations$salt$base64(key)`, and `$pbkdf2-b64salt-sha256$` whose salt is base64;
//! - Unix crypt: md5crypt `$1$`, Apache `$apr1$`, sha256crypt `$5$`, sha512crypt `$6$`;
//! - plain digests `{MD5}`, `{SHA256}`, `{SHA512}` followed by the lowercase hex digest.
//!
//! Every comparison of derived bytes is constant-time.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use md5::{Digest, Md5};
use subtle::ConstantTimeEq;

/// Hash prefixes handled here.
pub const PREFIXES: &[&str] = &[
    "$pbkdf2-sha1$",
    "$pbkdf2-sha256$",
    "$pbkdf2-sha512$",
    "$pbkdf2-b64salt-sha256$",
    "$1$",
    "$apr1$",
    "$5$",
    "$6$",
    "{MD5}",
    "{SHA256}",
    "{SHA512}",
];

/// Upper bound on PBKDF2 iterations accepted from a stored hash (a hostile dump must not
/// make a login take minutes).
const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;

/// Checks `plain` against a stored hash in one of `PREFIXES`; unknown or malformed
/// hashes never match.
pub fn verify(plain: &str, stored: &str) -> bool {
    if stored.starts_with("$pbkdf2-") {
        return pbkdf2(plain, stored).unwrap_or(false);
    }
    if stored.starts_with("$1$") || stored.starts_with("$apr1$") {
        return md5_crypt_check(plain, stored);
    }
    if let Some(rest) = stored.strip_prefix("$5$") {
        return sha_crypt_check(plain, rest, false).unwrap_or(false);
    }
    if let Some(rest) = stored.strip_prefix("$6$") {
        return sha_crypt_check(plain, rest, true).unwrap_or(false);
    }
    digest(plain, stored).unwrap_or(false)
}

fn pbkdf2(plain: &str, stored: &str) -> Option<bool> {
    // "", "pbkdf2-<alg>", iterations, salt, key
    let mut parts = stored.split('$');
    let _ = parts.next()?;
    let kind = parts.next()?;
    let iterations: u32 = parts.next()?.parse().ok()?;
    let salt_field = parts.next()?;
    let expected = STANDARD.decode(parts.next()?).ok()?;
    if parts.next().is_some()
        || iterations == 0
        || iterations > MAX_PBKDF2_ITERATIONS
        || expected.is_empty()
        || expected.len() > 1024
    {
        return None;
    }
    let salt = if kind == "pbkdf2-b64salt-sha256" {
        STANDARD.decode(salt_field).ok()?
    } else {
        salt_field.as_bytes().to_vec()
    };
    let mut derived = vec![0u8; expected.len()];
    let pw = plain.as_bytes();
    match kind {
        "pbkdf2-sha1" => pbkdf2::pbkdf2_hmac::<sha1::Sha1>(pw, &salt, iterations, &mut derived),
        "pbkdf2-sha256" | "pbkdf2-b64salt-sha256" => {
            pbkdf2::pbkdf2_hmac::<sha2::Sha256>(pw, &salt, iterations, &mut derived)
        }
        "pbkdf2-sha512" => pbkdf2::pbkdf2_hmac::<sha2::Sha512>(pw, &salt, iterations, &mut derived),
        _ => return None,
    }
    Some(bool::from(derived.ct_eq(&expected)))
}

/// sha256crypt/sha512crypt (Ulrich Drepper's spec): `[rounds=N$]salt$hash` after the
/// `$5$`/`$6$` prefix; 5000 rounds when not given, salt truncated to 16 characters.
fn sha_crypt_check(plain: &str, rest: &str, sha512: bool) -> Option<bool> {
    let (rounds, rest) = match rest.strip_prefix("rounds=") {
        Some(r) => {
            let (n, rest) = r.split_once('$')?;
            let n: usize = n.parse().ok()?;
            (n.clamp(1000, MAX_PBKDF2_ITERATIONS as usize), rest)
        }
        None => (5000, rest),
    };
    let (salt, expected) = rest.split_once('$')?;
    let salt = salt.get(..salt.len().min(16))?;
    let computed = if sha512 {
        let params = sha_crypt::Sha512Params::new(rounds).ok()?;
        sha_crypt::sha512_crypt_b64(plain.as_bytes(), salt.as_bytes(), &params).ok()?
    } else {
        let params = sha_crypt::Sha256Params::new(rounds).ok()?;
        sha_crypt::sha256_crypt_b64(plain.as_bytes(), salt.as_bytes(), &params).ok()?
    };
    Some(bool::from(computed.as_bytes().ct_eq(expected.as_bytes())))
}

fn digest(plain: &str, stored: &str) -> Option<bool> {
    let (computed, hex_digest) = if let Some(h) = stored.strip_prefix("{MD5}") {
        (hex::encode(Md5::digest(plain.as_bytes())), h)
    } else if let Some(h) = stored.strip_prefix("{SHA256}") {
        (hex::encode(sha2::Sha256::digest(plain.as_bytes())), h)
    } else if let Some(h) = stored.strip_prefix("{SHA512}") {
        (hex::encode(sha2::Sha512::digest(plain.as_bytes())), h)
    } else {
        return None;
    };
    Some(bool::from(computed.as_bytes().ct_eq(hex_digest.as_bytes())))
}

/// The crypt(3) base-64 alphabet.
const CRYPT64: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn push_crypt64(out: &mut String, mut v: u32, chars: usize) {
    for _ in 0..chars {
        out.push(char::from(CRYPT64[(v & 0x3f) as usize]));
        v >>= 6;
    }
}

/// md5crypt (`$1$`) and its Apache variant (`$apr1$`), which differ only in the magic
/// string: Poul-Henning Kamp's algorithm as documented for FreeBSD's crypt(3).
fn md5_crypt(plain: &[u8], magic: &str, salt: &[u8]) -> String {
    let salt = &salt[..salt.len().min(8)];
    let alternate = Md5::new()
        .chain_update(plain)
        .chain_update(salt)
        .chain_update(plain)
        .finalize();
    let mut ctx = Md5::new()
        .chain_update(plain)
        .chain_update(magic.as_bytes())
        .chain_update(salt);
    let mut left = plain.len();
    while left > 0 {
        let n = left.min(16);
        ctx.update(&alternate[..n]);
        left -= n;
    }
    let mut bits = plain.len();
    while bits > 0 {
        if bits & 1 == 1 {
            ctx.update([0u8]);
        } else {
            ctx.update(&plain[..1]);
        }
        bits >>= 1;
    }
    let mut digest = ctx.finalize();
    for round in 0..1000 {
        let mut c = Md5::new();
        if round & 1 == 1 {
            c.update(plain);
        } else {
            c.update(digest);
        }
        if round % 3 != 0 {
            c.update(salt);
        }
        if round % 7 != 0 {
            c.update(plain);
        }
        if round & 1 == 1 {
            c.update(digest);
        } else {
            c.update(plain);
        }
        digest = c.finalize();
    }
    let d = |i: usize| u32::from(digest[i]);
    let mut out = format!("{magic}{}$", String::from_utf8_lossy(salt));
    for (a, b, c) in [(0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5)] {
        push_crypt64(&mut out, (d(a) << 16) | (d(b) << 8) | d(c), 4);
    }
    push_crypt64(&mut out, d(11), 2);
    out
}

fn md5_crypt_check(plain: &str, stored: &str) -> bool {
    let magic = if stored.starts_with("$apr1$") {
        "$apr1$"
    } else {
        "$1$"
    };
    let Some(rest) = stored.strip_prefix(magic) else {
        return false;
    };
    let Some((salt, _)) = rest.split_once('$') else {
        return false;
    };
    let computed = md5_crypt(plain.as_bytes(), magic, salt.as_bytes());
    bool::from(computed.as_bytes().ct_eq(stored.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hashes made with `openssl passwd` and Python's hashlib.
    const VECTORS: &[(&str, &str)] = &[
        ("pässword1", "$1$saltsalt$ERNpRN/8OUFOCXVDM0pqE0"),
        ("secret", "$apr1$abcdefgh$h9FWgUz3n9YxylKLlR5SQ/"),
        (
            "secret5",
            "$5$saltysalt$a5/Ft8RY7prmSSXjpSdzgHLD2suejVzbZIJiym5al83",
        ),
        (
            "rounds5",
            "$5$rounds=2000$saltsalt$qIhb0E.bzuvrs26Ch4x9Z5j87re.5qIzzpdmaRV7dWD",
        ),
        (
            "secret6",
            "$6$saltysalt$QF7p9IpyKWgy6we4Q.Q14EuymHQn2qRQ1tTH5/czU2fqQVS0EqlvM5AD.E/4N0mM4g96MX.v.bFJaZ53seCpM/",
        ),
        (
            "pbkdf-pass",
            "$pbkdf2-sha1$1000$NaClsalt$qrUC3FsKzgH/dsIbgSIxB57W+dY=",
        ),
        (
            "pbkdf-pass",
            "$pbkdf2-sha256$1000$NaClsalt$zSrHn95NNoev0Hn1DJXAfI5QFwrcmRTLqnEBuFUsadE=",
        ),
        (
            "pbkdf-pass",
            "$pbkdf2-sha512$1000$NaClsalt$R0P7Ob88w8R+bMy4px4uI1hu88Z6Wk+4dEwlYSrLKFyH8N7P6Piq8idmVmbPf0mkFL1arK5ZnXRkMGelZFPsZw==",
        ),
        (
            "b64salt-pass",
            "$pbkdf2-b64salt-sha256$1200$AQJiaW5hcnn/$RjxYJCEFxbqSIxRuOzOug/YTfAQcz0FZHsAEsRl/9Sc=",
        ),
        ("digest-md5", "{MD5}45bd8dc03d699fef3cd698b3d1949e44"),
        (
            "digest-256",
            "{SHA256}b8b8ef20ceef758b05fd83c38942b43ec842fca03f78f751334f04d7a794910f",
        ),
        (
            "digest-512",
            "{SHA512}2793359d1e593c1440aa9a21e352360e47a782d628e3115edb83fc611a48e0d383c63de40aad52a738317576c4e0a9240794d698f75eac6cd6cdae87e4942329",
        ),
    ];

    #[test]
    fn every_format_verifies_and_rejects_a_wrong_password() {
        for (plain, stored) in VECTORS {
            assert!(verify(plain, stored), "{stored} should accept {plain:?}");
            assert!(
                !verify(&format!("{plain}x"), stored),
                "{stored} accepts a wrong password"
            );
            assert!(!verify("", stored), "{stored} accepts an empty password");
        }
    }

    #[test]
    fn malformed_hashes_never_match() {
        for stored in [
            "$pbkdf2-sha256$0$salt$AAAA",
            "$pbkdf2-sha256$99999999999$salt$AAAA",
            "$pbkdf2-sha256$1000$salt$not base64!",
            "$pbkdf2-md5$1000$salt$AAAA",
            "$1$nosalt",
            "{MD5}",
            "{SHA256}zz",
        ] {
            assert!(!verify("", stored) && !verify("x", stored), "{stored}");
        }
    }
}
