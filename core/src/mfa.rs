//! Two-factor authentication with time-based one-time passwords (RFC 6238), as SFTPGo
//! does it: the `mfa.totp` configurations (name, issuer, HMAC algorithm), secrets as
//! unpadded base32, 6 digits, 30 s steps, one step of clock skew either way, and each
//! passcode accepted once (replays within its validity are refused). Also the account
//! recovery codes (`RC-` plus 20 random characters).

use std::collections::HashMap;
use std::sync::Mutex;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Seconds per step.
const PERIOD: i64 = 30;
/// Steps of skew accepted either way.
const SKEW: i64 = 1;
/// Digits of a passcode.
const DIGITS: u32 = 6;
/// Secret length of new configurations, in bytes (160 bits, as RFC 4226 advises).
const SECRET_BYTES: usize = 20;

/// One `mfa.totp` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TotpConfig {
    /// Name accounts refer to (`config_name`).
    pub name: String,
    /// Issuer shown by authenticator apps.
    pub issuer: String,
    /// `sha1`, `sha256` or `sha512`.
    pub algo: String,
}

/// The `mfa` configuration section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MfaConfig {
    /// Available TOTP configurations.
    pub totp: Vec<TotpConfig>,
}

impl Default for MfaConfig {
    fn default() -> Self {
        Self {
            totp: vec![TotpConfig {
                name: "Default".into(),
                issuer: "SFTPGo".into(),
                algo: "sha1".into(),
            }],
        }
    }
}

impl MfaConfig {
    /// Names, issuers and algorithms must be usable and names unique.
    pub fn validate(&self) -> std::result::Result<(), String> {
        let mut seen = std::collections::HashSet::new();
        for (i, c) in self.totp.iter().enumerate() {
            if c.name.is_empty() || c.issuer.is_empty() {
                return Err(format!("mfa.totp[{i}]: name and issuer are mandatory"));
            }
            if !["sha1", "sha256", "sha512"].contains(&c.algo.as_str()) {
                return Err(format!(
                    "mfa.totp[{i}].algo: {:?} is not supported (sha1, sha256, sha512)",
                    c.algo
                ));
            }
            if !seen.insert(c.name.as_str()) {
                return Err(format!("mfa.totp[{i}].name: {:?} is repeated", c.name));
            }
        }
        Ok(())
    }
}

/// A freshly generated TOTP secret.
#[derive(Debug, Clone, Serialize)]
pub struct NewSecret {
    /// The configuration it belongs to.
    pub config_name: String,
    /// The configuration's issuer.
    pub issuer: String,
    /// Base32 secret.
    pub secret: String,
    /// `otpauth://` URL for authenticator apps.
    pub url: String,
}

/// TOTP checks with replay protection.
#[derive(Debug, Default)]
pub struct Totp {
    config: MfaConfig,
    /// `secret_passcode` → Unix seconds until which it stays refused.
    used: Mutex<HashMap<String, i64>>,
}

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Unpadded RFC 4648 base32.
pub fn base32_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(5) * 8);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in data {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(BASE32[((acc >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(BASE32[((acc << (5 - bits)) & 31) as usize]));
    }
    out
}

/// RFC 4648 base32, case-insensitive, padding and spaces ignored.
pub fn base32_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 5 / 8);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.chars().filter(|c| *c != '=' && !c.is_whitespace()) {
        let v = BASE32
            .iter()
            .position(|b| char::from(*b) == c.to_ascii_uppercase())?;
        acc = (acc << 5) | u32::try_from(v).ok()?;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((acc >> bits) & 0xff).ok()?);
        }
    }
    Some(out)
}

fn mac_code<M: Mac + hmac::digest::KeyInit>(key: &[u8], counter: u64) -> Option<u32> {
    let mut mac = <M as hmac::digest::KeyInit>::new_from_slice(key).ok()?;
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest.last()? & 0x0f);
    let word = digest.get(offset..offset + 4)?;
    let bin = u32::from_be_bytes(word.try_into().ok()?) & 0x7fff_ffff;
    Some(bin)
}

/// RFC 4226 HOTP value (all 31 bits; reduce modulo 10^digits).
fn hotp(algo: &str, key: &[u8], counter: u64) -> Option<u32> {
    match algo {
        "sha1" => mac_code::<Hmac<sha1::Sha1>>(key, counter),
        "sha256" => mac_code::<Hmac<sha2::Sha256>>(key, counter),
        "sha512" => mac_code::<Hmac<sha2::Sha512>>(key, counter),
        _ => None,
    }
}

/// The passcode for Unix time `now` (testing and tools).
pub fn passcode_at(algo: &str, secret_b32: &str, now: i64) -> Option<String> {
    let key = base32_decode(secret_b32)?;
    let code = hotp(algo, &key, u64::try_from(now.div_euclid(PERIOD)).ok()?)?;
    Some(format!("{:06}", code % 10u32.pow(DIGITS)))
}

/// A new recovery code.
pub fn recovery_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut raw = [0u8; 20];
    rand::fill(&mut raw[..]);
    let body: String = raw
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect();
    format!("RC-{body}")
}

impl Totp {
    /// Checks for `config` (see [`MfaConfig::validate`]).
    pub fn new(config: MfaConfig) -> std::result::Result<Self, String> {
        config.validate()?;
        Ok(Self {
            config,
            used: Mutex::new(HashMap::new()),
        })
    }

    /// The configurations, for `GET .../totp/configs`.
    pub fn configs(&self) -> &[TotpConfig] {
        &self.config.totp
    }

    fn config(&self, name: &str) -> Result<&TotpConfig> {
        self.config
            .totp
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| Error::invalid(format!("totp: no configuration named {name:?}")))
    }

    /// A new secret for `account` (shown in authenticator apps) under configuration
    /// `config_name` (empty: the first one).
    pub fn generate(&self, config_name: &str, account: &str) -> Result<NewSecret> {
        let cfg = if config_name.is_empty() {
            self.config
                .totp
                .first()
                .ok_or_else(|| Error::invalid("totp: no configuration is defined"))?
        } else {
            self.config(config_name)?
        };
        let mut raw = [0u8; SECRET_BYTES];
        rand::fill(&mut raw[..]);
        let secret = base32_encode(&raw);
        let enc = |s: &str| {
            s.bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                        char::from(b).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect::<String>()
        };
        let url = format!(
            "otpauth://totp/{}:{}?algorithm={}&digits={DIGITS}&issuer={}&period={PERIOD}&secret={secret}",
            enc(&cfg.issuer),
            enc(account),
            cfg.algo.to_uppercase(),
            enc(&cfg.issuer),
        );
        Ok(NewSecret {
            config_name: cfg.name.clone(),
            issuer: cfg.issuer.clone(),
            secret,
            url,
        })
    }

    /// Whether `secret` is usable: base32 of at least 160 bits, as SFTPGo requires
    /// (checked before it is saved).
    pub fn validate_secret(secret: &str) -> Result<()> {
        match base32_decode(secret) {
            Some(k) if k.len() >= SECRET_BYTES => Ok(()),
            Some(_) => Err(Error::invalid(format!(
                "totp: the secret must hold at least {SECRET_BYTES} bytes"
            ))),
            None => Err(Error::invalid("totp: the secret is not valid base32")),
        }
    }

    /// Checks `passcode` against `secret` under configuration `config_name` at Unix
    /// time `now`. A passcode that matched once is refused for as long as it could match.
    pub fn check(&self, config_name: &str, passcode: &str, secret: &str, now: i64) -> Result<bool> {
        let cfg = self.config(config_name)?;
        let key = base32_decode(secret)
            .filter(|k| !k.is_empty())
            .ok_or_else(|| Error::invalid("totp: the secret is not valid base32"))?;
        let passcode = passcode.trim();
        if passcode.len() != DIGITS as usize || !passcode.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(false);
        }
        let step = now.div_euclid(PERIOD);
        let mut matched = false;
        for s in step - SKEW..=step + SKEW {
            let Some(code) = u64::try_from(s).ok().and_then(|c| hotp(&cfg.algo, &key, c)) else {
                continue;
            };
            let expected = format!("{:06}", code % 10u32.pow(DIGITS));
            matched |= bool::from(subtle::ConstantTimeEq::ct_eq(
                expected.as_bytes(),
                passcode.as_bytes(),
            ));
        }
        if !matched {
            return Ok(false);
        }
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        used.retain(|_, until| *until >= now);
        let replay_key = format!("{secret}_{passcode}");
        if used.contains_key(&replay_key) {
            return Ok(false);
        }
        used.insert(replay_key, now + PERIOD * (2 * SKEW + 2));
        Ok(true)
    }
}

impl Totp {
    /// Checks `passcode` against an account's stored `totp_config` (`config_name` and
    /// the KMS-sealed `secret`) at Unix time `now`. A secret that cannot be opened is an
    /// error (logged by the caller), never a match.
    pub fn check_account(
        &self,
        kms: &crate::kms::Kms,
        totp_config: &serde_json::Value,
        passcode: &str,
        now: i64,
    ) -> Result<bool> {
        let config_name = totp_config
            .get("config_name")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default();
        let secret = match totp_config.get("secret") {
            Some(s) => kms.decrypt(s)?,
            None => return Ok(false),
        };
        self.check(config_name, passcode, &secret, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_vectors() {
        // RFC 6238 appendix B (8 digits there; the last 6 here).
        let sha1 = base32_encode(b"12345678901234567890");
        let sha256 = base32_encode(b"12345678901234567890123456789012");
        let sha512 =
            base32_encode(b"1234567890123456789012345678901234567890123456789012345678901234");
        for (t, a, b, c) in [
            (59, "287082", "119246", "693936"),
            (1_111_111_109, "081804", "084774", "091201"),
            (2_000_000_000, "279037", "698825", "618901"),
        ] {
            assert_eq!(passcode_at("sha1", &sha1, t).unwrap(), a);
            assert_eq!(passcode_at("sha256", &sha256, t).unwrap(), b);
            assert_eq!(passcode_at("sha512", &sha512, t).unwrap(), c);
        }
    }

    #[test]
    fn base32_round_trips() {
        for data in [&b""[..], b"f", b"fo", b"foo", b"foob", b"fooba", b"foobar"] {
            assert_eq!(base32_decode(&base32_encode(data)).unwrap(), data);
        }
        assert_eq!(base32_encode(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32_decode("mzxw6ytboi======").unwrap(), b"foobar");
        assert!(base32_decode("1!").is_none());
    }

    #[test]
    fn passcodes_skew_and_replay() {
        let totp = Totp::new(MfaConfig::default()).unwrap();
        let s = totp.generate("", "User \"alice\"").unwrap();
        assert_eq!(s.config_name, "Default");
        assert!(
            s.url
                .starts_with("otpauth://totp/SFTPGo:User%20%22alice%22?algorithm=SHA1")
        );
        let now = 1_700_000_000;
        let code = passcode_at("sha1", &s.secret, now).unwrap();
        assert!(totp.check("Default", &code, &s.secret, now).unwrap());
        assert!(
            !totp.check("Default", &code, &s.secret, now).unwrap(),
            "replay"
        );
        let next = passcode_at("sha1", &s.secret, now + 30).unwrap();
        assert!(
            totp.check("Default", &next, &s.secret, now).unwrap(),
            "one step of skew"
        );
        let far = passcode_at("sha1", &s.secret, now + 90).unwrap();
        assert!(!totp.check("Default", &far, &s.secret, now).unwrap());
        assert!(!totp.check("Default", "12345", &s.secret, now).unwrap());
        assert!(totp.check("nope", &code, &s.secret, now).is_err());
        assert!(recovery_code().starts_with("RC-") && recovery_code().len() == 23);
        assert!(Totp::validate_secret(&s.secret).is_ok());
        assert!(Totp::validate_secret("AB").is_err(), "too short to be safe");
        assert!(Totp::validate_secret("!!").is_err());
        assert!(
            MfaConfig {
                totp: vec![TotpConfig {
                    name: "x".into(),
                    issuer: "y".into(),
                    algo: "md5".into()
                }]
            }
            .validate()
            .is_err()
        );
    }
}
