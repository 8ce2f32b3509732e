//! Secrets at rest: SFTPGo's `Secret` JSON object (`status`, `payload`, `key`,
//! `additional_data`, `mode`) and its local key store, so secrets written by SFTPGo
//! decrypt here and the other way round.
//!
//! A `Plain` secret is sealed as `Secretbox`: a random 32-byte data key (stored hex in
//! `key`) and the additional data give, through HKDF-SHA256, the key of an XSalsa20-
//! Poly1305 box (NaCl `secretbox`) over the payload; `payload` is base64 of
//! nonce ‖ tag ‖ ciphertext. Without a master key (mode 0) the HKDF input key is
//! SHA-256(data key ‖ additional data ‖ data key); with `kms.secrets.master_key`
//! (mode 1) it is the master key, so the database alone does not reveal the secret.
//! The box is built from the `salsa20` and `poly1305` crates already used by the SSH
//! stack.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use poly1305::Poly1305;
use poly1305::universal_hash::KeyInit;
use salsa20::XSalsa20;
use salsa20::cipher::{KeyIvInit, StreamCipher};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::{Error, Result};

/// `kms.secrets`.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecretsConfig {
    /// KMS URL: empty (or `local`) for the local key store; others are not supported.
    pub url: String,
    /// Master key for new secrets (mode 1). Prefer `master_key_path`.
    pub master_key: String,
    /// File holding the master key (relative to the config dir); replaces `master_key`.
    pub master_key_path: String,
}

impl std::fmt::Debug for SecretsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretsConfig")
            .field("url", &self.url)
            .field("master_key", &redacted(&self.master_key))
            .field("master_key_path", &self.master_key_path)
            .finish()
    }
}

/// `<redacted>` for a set secret, `""` for an empty one: for `Debug` output.
pub fn redacted(secret: &str) -> &'static str {
    if secret.is_empty() { "" } else { "<redacted>" }
}

/// The `kms` configuration section.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KmsConfig {
    /// How secrets are encrypted.
    pub secrets: SecretsConfig,
}

impl KmsConfig {
    /// Checks values serde cannot.
    pub fn validate(&self) -> std::result::Result<(), String> {
        match self.secrets.url.as_str() {
            "" | "local" | "local://" => Ok(()),
            other => Err(format!(
                "kms.secrets.url: {other:?} is not supported yet (only the local key store)"
            )),
        }
    }
}

const STATUS_PLAIN: &str = "Plain";
const STATUS_SECRETBOX: &str = "Secretbox";
const STATUS_REDACTED: &str = "Redacted";
const SECRET_FIELDS: [&str; 5] = ["status", "payload", "key", "additional_data", "mode"];
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

/// The local key store.
#[derive(Clone, Default)]
pub struct Kms {
    master_key: Option<Vec<u8>>,
}

impl std::fmt::Debug for Kms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kms")
            .field("master_key", &self.master_key.as_ref().map(|_| "<set>"))
            .finish()
    }
}

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC takes keys of any length: this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// HKDF-SHA256 (RFC 5869) with a 32-byte output: one expand block.
fn hkdf_sha256(ikm: &[u8], salt: &[u8], info: &[u8]) -> [u8; 32] {
    let prk = hmac_sha256(salt, &[ikm]);
    hmac_sha256(&prk, &[info, &[1u8]])
}

/// NaCl `secretbox`: nonce ‖ tag ‖ ciphertext.
fn seal(key: &[u8; 32], plain: &[u8]) -> Vec<u8> {
    let mut nonce = [0u8; NONCE_LEN];
    rand::fill(&mut nonce);
    let mut cipher = XSalsa20::new(key.into(), (&nonce).into());
    let mut poly_key = [0u8; 32];
    cipher.apply_keystream(&mut poly_key);
    let mut body = plain.to_vec();
    cipher.apply_keystream(&mut body);
    let tag = Poly1305::new((&poly_key).into()).compute_unpadded(&body);
    let mut out = Vec::with_capacity(NONCE_LEN + TAG_LEN + body.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&tag);
    out.extend_from_slice(&body);
    out
}

/// Opens a NaCl `secretbox`; `None` when it was altered or the key is wrong.
fn open(key: &[u8; 32], sealed: &[u8]) -> Option<Vec<u8>> {
    let nonce: &[u8; NONCE_LEN] = sealed.get(..NONCE_LEN)?.try_into().ok()?;
    let tag = sealed.get(NONCE_LEN..NONCE_LEN + TAG_LEN)?;
    let body = sealed.get(NONCE_LEN + TAG_LEN..)?;
    let mut cipher = XSalsa20::new(key.into(), nonce.into());
    let mut poly_key = [0u8; 32];
    cipher.apply_keystream(&mut poly_key);
    let expected = Poly1305::new((&poly_key).into()).compute_unpadded(body);
    if !bool::from(expected.as_slice().ct_eq(tag)) {
        return None;
    }
    let mut plain = body.to_vec();
    cipher.apply_keystream(&mut plain);
    Some(plain)
}

/// True when `v` has the shape of a `Secret` object.
pub fn is_secret(v: &Value) -> bool {
    v.as_object().is_some_and(|o| {
        o.get("status").is_some_and(Value::is_string)
            && o.keys().all(|k| SECRET_FIELDS.contains(&k.as_str()))
    })
}

impl Kms {
    /// A key store; `master_key` seals new secrets in mode 1.
    pub fn new(master_key: Option<String>) -> Self {
        Self {
            master_key: master_key.filter(|k| !k.is_empty()).map(String::into_bytes),
        }
    }

    /// Builds the key store from `kms.secrets`, reading `master_key_path` relative to
    /// `config_dir`.
    pub fn from_config(cfg: &KmsConfig, config_dir: &std::path::Path) -> Result<Self> {
        let path = &cfg.secrets.master_key_path;
        if path.is_empty() {
            return Ok(Self::new(Some(cfg.secrets.master_key.clone())));
        }
        let file = config_dir.join(path);
        let key = std::fs::read_to_string(&file).map_err(|e| {
            Error::invalid(format!(
                "kms.secrets.master_key_path: cannot read {}: {e}",
                file.display()
            ))
        })?;
        Ok(Self::new(Some(key.trim().to_string())))
    }

    fn derive(&self, data_key: &[u8], ad: &str, mode: i64) -> Result<[u8; 32]> {
        let ikm: Vec<u8> = match (mode, &self.master_key) {
            (0, _) => Sha256::new()
                .chain_update(data_key)
                .chain_update(ad.as_bytes())
                .chain_update(data_key)
                .finalize()
                .to_vec(),
            (_, Some(master)) => master.clone(),
            (_, None) => {
                return Err(Error::invalid(
                    "the secret was sealed with a master key and kms.secrets has none",
                ));
            }
        };
        Ok(hkdf_sha256(&ikm, data_key, ad.as_bytes()))
    }

    /// Seals `plain` as a `Secretbox` secret bound to `additional_data`.
    pub fn encrypt(&self, plain: &str, additional_data: &str) -> Result<Value> {
        let mut data_key = [0u8; 32];
        rand::fill(&mut data_key);
        let mode = i64::from(self.master_key.is_some());
        let key = self.derive(&data_key, additional_data, mode)?;
        let mut secret = Map::new();
        secret.insert("status".into(), STATUS_SECRETBOX.into());
        secret.insert(
            "payload".into(),
            STANDARD.encode(seal(&key, plain.as_bytes())).into(),
        );
        secret.insert("key".into(), hex::encode(data_key).into());
        if !additional_data.is_empty() {
            secret.insert("additional_data".into(), additional_data.into());
        }
        if mode != 0 {
            secret.insert("mode".into(), mode.into());
        }
        Ok(Value::Object(secret))
    }

    /// The plain text of a `Plain` or `Secretbox` secret.
    pub fn decrypt(&self, secret: &Value) -> Result<String> {
        let field = |k: &str| secret.get(k).and_then(Value::as_str).unwrap_or_default();
        let payload = field("payload");
        match field("status") {
            STATUS_PLAIN => Ok(payload.to_string()),
            STATUS_SECRETBOX => {
                let bad = |what: &str| Error::invalid(format!("secret: {what}"));
                let data_key = hex::decode(field("key")).map_err(|_| bad("key is not hex"))?;
                let sealed = STANDARD
                    .decode(payload)
                    .map_err(|_| bad("payload is not base64"))?;
                let mode = secret.get("mode").and_then(Value::as_i64).unwrap_or(0);
                let key = self.derive(&data_key, field("additional_data"), mode)?;
                let plain = open(&key, &sealed)
                    .ok_or_else(|| bad("cannot be decrypted (altered, or another master key)"))?;
                String::from_utf8(plain).map_err(|_| bad("plain text is not UTF-8"))
            }
            other => Err(Error::invalid(format!(
                "secret: status {other:?} cannot be decrypted by the local key store"
            ))),
        }
    }

    /// Hides every secret in `data` for display: status kept, payload, key and
    /// additional data emptied (what SFTPGo's API returns).
    pub fn hide_all(data: &mut Value) {
        if is_secret(data) {
            if let Some(obj) = data.as_object_mut() {
                for k in ["payload", "key", "additional_data"] {
                    if obj.contains_key(k) {
                        obj.insert(k.into(), Value::String(String::new()));
                    }
                }
            }
            return;
        }
        match data {
            Value::Object(map) => map.values_mut().for_each(Self::hide_all),
            Value::Array(items) => items.iter_mut().for_each(Self::hide_all),
            _ => {}
        }
    }

    /// Seals every `Plain` secret inside `data` with `additional_data`, and replaces
    /// every `Redacted` one with the secret at the same place in `old` (the stored
    /// object), as SFTPGo does when an admin saves an object without retyping its
    /// secrets. Other statuses are kept as they are. With `allow_redacted` false (a
    /// dump being restored), a `Redacted` secret is refused: a dump must carry the
    /// secrets themselves.
    pub fn seal_all(
        &self,
        data: &mut Value,
        old: Option<&Value>,
        additional_data: &str,
        allow_redacted: bool,
    ) -> Result<()> {
        self.walk(data, old, additional_data, "", allow_redacted)
    }

    fn walk(
        &self,
        v: &mut Value,
        old: Option<&Value>,
        ad: &str,
        path: &str,
        allow_redacted: bool,
    ) -> Result<()> {
        if is_secret(v) {
            let status = v.get("status").and_then(Value::as_str).unwrap_or_default();
            let payload = v.get("payload").and_then(Value::as_str).unwrap_or_default();
            match status {
                STATUS_PLAIN if payload.is_empty() => *v = Value::Object(Map::new()),
                STATUS_PLAIN => *v = self.encrypt(payload, ad)?,
                // A secret shown to a client comes back hidden (encrypted status, no
                // payload): it means "unchanged", like Redacted.
                _ if status != STATUS_PLAIN && status != STATUS_REDACTED && payload.is_empty() => {
                    if let Some(stored) = old.filter(|o| is_secret(o)) {
                        *v = stored.clone();
                    }
                }
                STATUS_REDACTED if !allow_redacted => {
                    return Err(Error::invalid(format!(
                        "{path}: a redacted secret cannot be restored; the dump must hold it"
                    )));
                }
                STATUS_REDACTED => match old.filter(|o| is_secret(o)) {
                    Some(stored) => *v = stored.clone(),
                    None => {
                        return Err(Error::invalid(format!(
                            "{path}: a redacted secret needs a stored value to keep"
                        )));
                    }
                },
                _ => {}
            }
            return Ok(());
        }
        match v {
            Value::Object(map) => {
                for (k, child) in map.iter_mut() {
                    let old_child = old.and_then(|o| o.get(k));
                    let child_path = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    self.walk(child, old_child, ad, &child_path, allow_redacted)?;
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter_mut().enumerate() {
                    let old_child = old.and_then(|o| o.get(i));
                    self.walk(
                        child,
                        old_child,
                        ad,
                        &format!("{path}[{i}]"),
                        allow_redacted,
                    )?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn seal_and_open_round_trip_and_detect_changes() {
        for kms in [Kms::default(), Kms::new(Some("master-key-1".into()))] {
            let secret = kms.encrypt("s3cr3t ✓", "folder_x").unwrap();
            assert_eq!(secret["status"], "Secretbox");
            assert_ne!(secret["payload"], "s3cr3t ✓");
            assert_eq!(kms.decrypt(&secret).unwrap(), "s3cr3t ✓");
            let mut other_ad = secret.clone();
            other_ad["additional_data"] = json!("folder_y");
            assert!(
                kms.decrypt(&other_ad).is_err(),
                "bound to its additional data"
            );
            let mut altered = secret.clone();
            let mut raw = STANDARD
                .decode(secret["payload"].as_str().unwrap())
                .unwrap();
            let last = raw.len() - 1;
            raw[last] ^= 1;
            altered["payload"] = json!(STANDARD.encode(raw));
            assert!(kms.decrypt(&altered).is_err(), "tampering is detected");
        }
        let sealed = Kms::new(Some("k1".into())).encrypt("x", "").unwrap();
        assert!(Kms::new(Some("k2".into())).decrypt(&sealed).is_err());
        assert!(Kms::default().decrypt(&sealed).is_err());
    }

    #[test]
    fn hkdf_matches_rfc_5869_case_1() {
        // RFC 5869 A.1 (first 32 bytes of the 42-byte output).
        let ikm = [0x0b; 22];
        let salt: Vec<u8> = (0u8..=0x0c).collect();
        let info: Vec<u8> = (0xf0u8..=0xf9).collect();
        assert_eq!(
            hex::encode(hkdf_sha256(&ikm, &salt, &info)),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
        );
    }

    #[test]
    fn secretbox_matches_nacl() {
        // NaCl's crypto_secretbox test vector (tests/secretbox.c), checked against
        // libsodium's crypto_secretbox_easy: tag ‖ ciphertext.
        let key: [u8; 32] =
            hex::decode("1b27556473e985d462cd51197a9a46c76009549eac6474f206c4ee0844f68389")
                .unwrap()
                .try_into()
                .unwrap();
        let nonce = hex::decode("69696ee955b62b73cd62bda875fc73d68219e0036b7a0b37").unwrap();
        let plain = hex::decode(
            "be075fc53c81f2d5cf141316ebeb0c7b5228c52a4c62cbd44b66849b64244ffce5ecbaaf33bd751a\
             1ac728d45e6c61296cdc3c01233561f41db66cce314adb310e3be8250c46f06dceea3a7fa1348057\
             e2f6556ad6b1318a024a838f21af1fde048977eb48f59ffd4924ca1c60902e52f0a089bc76897040\
             e082f937763848645e0705",
        )
        .unwrap();
        let expected = "f3ffc7703f9400e52a7dfb4b3d3305d98e993b9f48681273c29650ba32fc76ce\
            48332ea7164d96a4476fb8c531a1186ac0dfc17c98dce87b4da7f011ec48c97271d2c20f9b928fe2\
            270d6fb863d51738b48eeee314a7cc8ab932164548e526ae90224368517acfeabd6bb3732bc0e9da\
            99832b61ca01b6de56244a9e88d5f9b37973f622a43d14a6599b1f654cb45a74e355a5";
        let mut sealed = nonce.clone();
        sealed.extend_from_slice(&hex::decode(expected).unwrap());
        assert_eq!(open(&key, &sealed).unwrap(), plain, "opens libsodium's box");
        // Our sealing with a random nonce opens again; the layout matches.
        let ours = seal(&key, &plain);
        assert_eq!(ours.len(), sealed.len());
        assert_eq!(open(&key, &ours).unwrap(), plain);
    }

    #[test]
    fn plain_secrets_are_sealed_and_redacted_ones_keep_the_stored_value() {
        let kms = Kms::default();
        let stored =
            json!({"s3config": {"bucket": "b", "access_secret": kms.encrypt("old", "u").unwrap()}});
        let mut data = json!({"s3config": {"bucket": "b",
            "access_secret": {"status": "Redacted", "payload": ""},
            "sse_customer_key": {"status": "Plain", "payload": "new"},
            "session_token": {"status": "Plain", "payload": ""}}});
        kms.seal_all(&mut data.clone(), Some(&stored), "u", false)
            .expect_err("a dump cannot carry a redacted secret");
        kms.seal_all(&mut data, Some(&stored), "u", true).unwrap();
        assert_eq!(
            data["s3config"]["access_secret"],
            stored["s3config"]["access_secret"]
        );
        assert_eq!(
            kms.decrypt(&data["s3config"]["sse_customer_key"]).unwrap(),
            "new"
        );
        assert_eq!(data["s3config"]["session_token"], json!({}));
        let mut fresh = json!({"x": {"status": "Redacted"}});
        let err = kms.seal_all(&mut fresh, None, "u", true).unwrap_err();
        assert!(err.message.contains("x: a redacted secret"), "{err}");
    }
}
