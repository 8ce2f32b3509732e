//! Client certificates as logins use them: the subject's common name read from a DER
//! X.509 certificate, and the match of a certificate to a user (`tls_certs`, or
//! `tls_username` = `CommonName`). The TLS layer has already verified the chain and
//! checked the revocation lists; this only maps a verified certificate to an account.
//!
//! The parser is a small DER walk over the fields it needs (RFC 5280 §4.1: the
//! `TBSCertificate` up to `subject`), so no X.509 crate is pulled in for one field.

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::model::User;

/// DER tags used on the way to the subject.
const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;
const VERSION: u8 = 0xa0;
/// `id-at-commonName` (2.5.4.3), encoded.
const CN_OID: [u8; 3] = [0x55, 0x04, 0x03];

/// One DER element: its tag and contents, and what follows it.
fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    if tag & 0x1f == 0x1f {
        return None; // high tag numbers never occur in the fields read here
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let (bytes, rest) = rest.split_at(n);
        let len = bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, rest)
    };
    if rest.len() < len {
        return None;
    }
    let (contents, after) = rest.split_at(len);
    Some((tag, contents, after))
}

/// The contents of an element that must carry `tag`, and what follows it.
fn expect(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (t, contents, after) = element(input)?;
    (t == tag).then_some((contents, after))
}

/// A directory string (UTF8String, PrintableString, IA5String, T61String as Latin-1,
/// BMPString) as text.
fn directory_string(tag: u8, bytes: &[u8]) -> Option<String> {
    match tag {
        0x0c | 0x13 | 0x16 => std::str::from_utf8(bytes).ok().map(str::to_string),
        0x14 => Some(bytes.iter().map(|&b| char::from(b)).collect()),
        0x1e => {
            if !bytes.len().is_multiple_of(2) {
                return None;
            }
            let units: Vec<u16> = bytes
                .chunks_exact(2)
                .map(|p| u16::from_be_bytes([p[0], p[1]]))
                .collect();
            String::from_utf16(&units).ok()
        }
        _ => None,
    }
}

/// The subject's common name of a DER certificate; with several, the last one (as
/// Go's `x509` package, which SFTPGo uses). `None` when the certificate has none or
/// cannot be read.
pub fn subject_common_name(der: &[u8]) -> Option<String> {
    let (cert, _) = expect(der, SEQUENCE)?;
    let (tbs, _) = expect(cert, SEQUENCE)?;
    let mut rest = tbs;
    if rest.first() == Some(&VERSION) {
        rest = element(rest)?.2;
    }
    // serialNumber, signature, issuer, validity: skipped.
    for _ in 0..4 {
        rest = element(rest)?.2;
    }
    let (mut rdns, _) = expect(rest, SEQUENCE)?;
    let mut found = None;
    while !rdns.is_empty() {
        let (set, after) = expect(rdns, SET)?;
        rdns = after;
        let mut attrs = set;
        while !attrs.is_empty() {
            let (attr, after) = expect(attrs, SEQUENCE)?;
            attrs = after;
            let (oid, value) = expect(attr, OID)?;
            if oid == CN_OID {
                let (tag, text, _) = element(value)?;
                found = Some(directory_string(tag, text)?);
            }
        }
    }
    found
}

/// Whether the user's certificates (`filters.tls_certs`) or the name mapping
/// (`filters.tls_username` = `CommonName`) make a client certificate part of the login.
pub fn verification_enabled(user: &User) -> bool {
    !user_certificates(user).is_empty() || maps_common_name(user)
}

fn maps_common_name(user: &User) -> bool {
    user.filters
        .extra
        .get("tls_username")
        .and_then(serde_json::Value::as_str)
        == Some("CommonName")
}

/// The PEM certificates in `filters.tls_certs`, as DER.
fn user_certificates(user: &User) -> Vec<CertificateDer<'static>> {
    let Some(list) = user
        .filters
        .extra
        .get("tls_certs")
        .and_then(serde_json::Value::as_array)
    else {
        return Vec::new();
    };
    list.iter()
        .filter_map(serde_json::Value::as_str)
        .filter_map(|pem| CertificateDer::from_pem_slice(pem.as_bytes()).ok())
        .collect()
}

/// Why a certificate does not identify a user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Mismatch {
    /// `tls_username` is `CommonName` and the subject's CN is another name.
    #[error("certificate CN {cn:?} does not match the username")]
    CommonName {
        /// The name in the certificate.
        cn: String,
    },
    /// Neither one of the user's certificates nor a CN mapping.
    #[error("the certificate is not one of the user's certificates")]
    NotListed,
}

/// Whether the client certificate `der` identifies `user`: one of the user's
/// certificates, byte for byte, or (with `tls_username` = `CommonName`) a subject CN
/// equal to the username.
pub fn matches_user(user: &User, der: &[u8]) -> Result<(), Mismatch> {
    if user_certificates(user).iter().any(|c| c.as_ref() == der) {
        return Ok(());
    }
    if maps_common_name(user) {
        let cn = subject_common_name(der).unwrap_or_default();
        return if cn == user.username {
            Ok(())
        } else {
            Err(Mismatch::CommonName { cn })
        };
    }
    Err(Mismatch::NotListed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A DER element with a short or long length.
    fn tlv(tag: u8, contents: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let n = contents.len();
        if n < 0x80 {
            out.push(n as u8);
        } else if n < 0x100 {
            out.extend([0x81, n as u8]);
        } else {
            out.extend([0x82, (n >> 8) as u8, n as u8]);
        }
        out.extend_from_slice(contents);
        out
    }

    fn name(attrs: &[(&[u8], u8, &[u8])]) -> Vec<u8> {
        let mut rdns = Vec::new();
        for (oid, tag, value) in attrs {
            let attr = [tlv(OID, oid), tlv(*tag, value)].concat();
            rdns.extend(tlv(SET, &tlv(SEQUENCE, &attr)));
        }
        tlv(SEQUENCE, &rdns)
    }

    fn cert(subject: &[u8], with_version: bool) -> Vec<u8> {
        let mut tbs = Vec::new();
        if with_version {
            tbs.extend(tlv(VERSION, &tlv(0x02, &[2])));
        }
        tbs.extend(tlv(0x02, &[0x01, 0x02]));
        tbs.extend(tlv(SEQUENCE, &tlv(OID, &[0x2a, 0x86, 0x48])));
        tbs.extend(name(&[(&CN_OID, 0x0c, b"Issuing CA")]));
        tbs.extend(tlv(SEQUENCE, &[0u8; 30]));
        tbs.extend_from_slice(subject);
        tbs.extend(tlv(SEQUENCE, &[0u8; 200])); // public key, long form length
        let body = [tlv(SEQUENCE, &tbs), tlv(SEQUENCE, &[]), tlv(0x03, &[0])].concat();
        tlv(SEQUENCE, &body)
    }

    #[test]
    fn the_subject_cn_is_read_not_the_issuer_cn() {
        let org: &[u8] = &[0x55, 0x04, 0x0a];
        let subject = name(&[(org, 0x13, b"Example"), (&CN_OID, 0x0c, b"alice")]);
        assert_eq!(
            subject_common_name(&cert(&subject, true)).as_deref(),
            Some("alice")
        );
        assert_eq!(
            subject_common_name(&cert(&subject, false)).as_deref(),
            Some("alice")
        );
    }

    #[test]
    fn string_types_and_the_last_cn_win() {
        let bmp: Vec<u8> = "bé".encode_utf16().flat_map(u16::to_be_bytes).collect();
        let subject = name(&[(&CN_OID, 0x13, b"first"), (&CN_OID, 0x1e, &bmp)]);
        assert_eq!(
            subject_common_name(&cert(&subject, true)).as_deref(),
            Some("bé")
        );
    }

    #[test]
    fn truncated_or_cn_less_certificates_give_none() {
        let subject = name(&[(&[0x55, 0x04, 0x0a], 0x13, b"Example")]);
        assert_eq!(subject_common_name(&cert(&subject, true)), None);
        let full = cert(&name(&[(&CN_OID, 0x0c, b"alice")]), true);
        for cut in [0, 1, 5, full.len() / 2, full.len() - 1] {
            assert_eq!(subject_common_name(&full[..cut]), None, "cut at {cut}");
        }
        assert_eq!(subject_common_name(&[0x30, 0x85, 1, 1, 1, 1, 1]), None);
    }

    fn user_with(extra: serde_json::Value) -> User {
        let mut user: User =
            serde_json::from_value(serde_json::json!({"username": "alice"})).unwrap();
        if let serde_json::Value::Object(m) = extra {
            user.filters.extra = m;
        }
        user
    }

    #[test]
    fn users_match_by_common_name_or_listed_certificate() {
        let alice = cert(&name(&[(&CN_OID, 0x0c, b"alice")]), true);
        let bob = cert(&name(&[(&CN_OID, 0x0c, b"bob")]), true);
        let by_cn = user_with(serde_json::json!({"tls_username": "CommonName"}));
        assert!(verification_enabled(&by_cn));
        assert_eq!(matches_user(&by_cn, &alice), Ok(()));
        assert_eq!(
            matches_user(&by_cn, &bob),
            Err(Mismatch::CommonName { cn: "bob".into() })
        );

        let none = user_with(serde_json::json!({"tls_username": "None"}));
        assert!(!verification_enabled(&none));
        assert_eq!(matches_user(&none, &alice), Err(Mismatch::NotListed));

        let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &bob);
        let listed = user_with(serde_json::json!({
            "tls_certs": [format!("-----BEGIN CERTIFICATE-----\n{b64}\n-----END CERTIFICATE-----\n")]
        }));
        assert!(verification_enabled(&listed));
        assert_eq!(matches_user(&listed, &bob), Ok(()));
        assert_eq!(matches_user(&listed, &alice), Err(Mismatch::NotListed));
    }
}
