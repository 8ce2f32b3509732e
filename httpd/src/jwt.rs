//! Access tokens: compact JWS with HMAC-SHA256 (RFC 7519/7515), with SFTPGo's claims
//! (`Authorization: Bearer <token>`). Only HS256 is accepted, the signature is compared
//! in constant time, and `exp`/`nbf` are enforced. The audience is a pair, the token's
//! use (`API`, `APIUser`) and the client address it was issued to, and `sub` is the
//! account's signature (its `updated_at`), so callers can bind tokens to an address and
//! to an account version (`httpd.token_validation`).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// What a token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// `[use, client address]`: `API` for admin tokens, `APIUser` for user tokens.
    pub aud: Vec<String>,
    /// The account's name.
    pub username: String,
    /// The account's signature when the token was issued (`updated_at`, Unix ms).
    pub sub: String,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// Not valid before, Unix seconds.
    pub nbf: i64,
    /// Expires at, Unix seconds.
    pub exp: i64,
    /// Token id (for logout).
    pub jti: String,
}

impl Claims {
    /// True when the token is for `aud` (its use).
    pub fn is_for(&self, aud: &str) -> bool {
        self.aud.first().is_some_and(|a| a == aud)
    }

    /// True when the token was issued to client `ip`.
    pub fn issued_to(&self, ip: &str) -> bool {
        self.aud.iter().skip(1).any(|a| a == ip)
    }
}

/// Signs and checks tokens with one key.
pub struct Signer {
    key: Vec<u8>,
}

const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

impl Signer {
    /// A signer with `key`.
    pub fn new(key: Vec<u8>) -> Self {
        Self { key }
    }

    fn mac(&self, data: &[u8]) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
        mac.update(data);
        mac.finalize().into_bytes().into()
    }

    /// The token for `claims`.
    pub fn sign(&self, claims: &Claims) -> String {
        let header = URL_SAFE_NO_PAD.encode(HEADER);
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
        let signing_input = format!("{header}.{body}");
        let sig = URL_SAFE_NO_PAD.encode(self.mac(signing_input.as_bytes()));
        format!("{signing_input}.{sig}")
    }

    /// The claims of a token signed with this key, current at `now_secs`.
    pub fn verify(&self, token: &str, now_secs: i64) -> Option<Claims> {
        let mut parts = token.split('.');
        let (header, body, sig) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
        if header.get("alg")?.as_str()? != "HS256" {
            return None;
        }
        let expected = self.mac(format!("{}.{body}", token.split('.').next()?).as_bytes());
        let given = URL_SAFE_NO_PAD.decode(sig).ok()?;
        if !bool::from(expected.as_slice().ct_eq(&given)) {
            return None;
        }
        let claims: Claims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(body).ok()?).ok()?;
        (claims.exp > now_secs && claims.nbf <= now_secs).then_some(claims)
    }
}

/// RFC 3339 UTC time for Unix seconds (`expires_at` in token responses).
pub fn rfc3339(secs: i64) -> String {
    let c = sftpgo_core::clock::Civil::from_unix(secs);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> Claims {
        Claims {
            aud: vec!["API".into(), "127.0.0.1".into()],
            username: "admin".into(),
            sub: "1".into(),
            iat: 0,
            nbf: 10,
            exp,
            jti: "j".into(),
        }
    }

    #[test]
    fn tokens_verify_and_reject_tampering_expiry_and_other_keys() {
        let s = Signer::new(b"k1".to_vec());
        let t = s.sign(&claims(100));
        assert_eq!(s.verify(&t, 50), Some(claims(100)));
        assert!(s.verify(&t, 100).is_none(), "expired");
        assert!(s.verify(&t, 5).is_none(), "not valid yet");
        let c = s.verify(&t, 50).unwrap();
        assert!(c.is_for("API") && !c.is_for("APIUser"));
        assert!(c.issued_to("127.0.0.1") && !c.issued_to("API") && !c.issued_to("::1"));
        assert!(Signer::new(b"k2".to_vec()).verify(&t, 50).is_none());
        let mut forged = t.clone();
        forged.replace_range(t.len() - 2.., "AA");
        assert!(s.verify(&forged, 50).is_none());
        let none_alg = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
            t.split('.').nth(1).unwrap()
        );
        assert!(s.verify(&none_alg, 50).is_none(), "alg none refused");
    }

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_555_682), "2026-11-24T21:28:02Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }
}
