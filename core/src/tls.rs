//! Server-side TLS settings every TLS front-end shares (HTTPS, FTPS, WebDAV): PEM
//! certificate chains and keys, the lowest protocol version, the TLS 1.2 cipher suites
//! (SFTPGo's Go names), and client certificates verified against configured CAs and
//! their revocation lists. rustls with aws-lc-rs, like the SSH and database stacks.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::aws_lc_rs::cipher_suite as suite;
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, SupportedCipherSuite};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};

/// Whether clients present certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// Not asked for.
    Off,
    /// Required and verified.
    Required,
    /// Verified when the client sends one.
    Optional,
}

/// What a TLS listener is configured with.
#[derive(Debug, Clone)]
pub struct ServerTls {
    /// PEM certificate chain.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
    /// Lowest version: 12 (TLS 1.2) or 13.
    pub min_version: u8,
    /// Client certificates.
    pub client_auth: ClientAuth,
    /// PEM CA files that verify client certificates.
    pub client_cas: Vec<PathBuf>,
    /// Certificate revocation lists (PEM or DER) client certificates are checked
    /// against.
    pub crls: Vec<PathBuf>,
    /// TLS 1.2 cipher suites by their Go (IANA) names, in order of preference; empty:
    /// the defaults. TLS 1.3 suites are always offered.
    pub cipher_suites: Vec<String>,
    /// Configuration section named in errors (`httpd`, `ftpd`).
    pub section: &'static str,
}

fn certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let list: Result<Vec<_>, _> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?
        .collect();
    let list = list.map_err(|e| format!("{}: {e}", path.display()))?;
    if list.is_empty() {
        return Err(format!("{}: no certificate found", path.display()));
    }
    Ok(list)
}

/// The TLS 1.2 suite a Go (IANA) name stands for. Names rustls has no suite for (CBC,
/// RSA key exchange, 3DES, RC4) and TLS 1.3 names give `None`.
fn tls12_suite(name: &str) -> Option<SupportedCipherSuite> {
    Some(match name {
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256" => suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384" => suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256" => {
            suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
        }
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" => suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384" => suite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256" => {
            suite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
        }
        _ => return None,
    })
}

/// Names SFTPGo (Go's crypto/tls) knows that rustls does not implement: accepted and
/// left out, as SFTPGo leaves out names it does not know.
const UNSUPPORTED_SUITES: [&str; 19] = [
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
    "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
    "TLS_RSA_WITH_RC4_128_SHA",
    "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384",
];

/// Checks `tls_cipher_suites` of a binding. As SFTPGo, names it does not know are
/// left out rather than refused (they are logged when the listener starts), so this
/// accepts every list.
pub fn validate_cipher_suites(_key: &str, _names: &[String]) -> Result<(), String> {
    Ok(())
}

/// The provider's suites: every TLS 1.3 suite, then the TLS 1.2 suites `names` picks
/// (in their order) or, when none, the defaults.
fn suites(names: &[String]) -> Vec<SupportedCipherSuite> {
    let mut out = vec![
        suite::TLS13_AES_128_GCM_SHA256,
        suite::TLS13_AES_256_GCM_SHA384,
        suite::TLS13_CHACHA20_POLY1305_SHA256,
    ];
    let mut chosen: Vec<SupportedCipherSuite> = Vec::new();
    for n in names.iter().map(|n| n.trim()) {
        match tls12_suite(n) {
            Some(s) if !chosen.contains(&s) => chosen.push(s),
            Some(_) => {}
            None if UNSUPPORTED_SUITES.contains(&n) => {
                tracing::info!(
                    suite = n,
                    "cipher suite not implemented by rustls: left out"
                );
            }
            None => tracing::warn!(suite = n, "unknown cipher suite: left out"),
        }
    }
    if chosen.is_empty() {
        chosen = [
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        ]
        .iter()
        .filter_map(|n| tls12_suite(n))
        .collect();
    }
    out.extend(chosen);
    out
}

/// Certificate revocation lists from PEM (`X509 CRL`) or DER files.
fn crls(
    section: &str,
    paths: &[PathBuf],
) -> Result<Vec<CertificateRevocationListDer<'static>>, String> {
    let mut out = Vec::new();
    for p in paths {
        let bytes = std::fs::read(p).map_err(|e| {
            format!(
                "{section}.ca_revocation_lists: cannot read {}: {e}",
                p.display()
            )
        })?;
        if bytes.starts_with(b"-----BEGIN") {
            let crl = CertificateRevocationListDer::from_pem_slice(&bytes)
                .map_err(|e| format!("{section}.ca_revocation_lists: {}: {e}", p.display()))?;
            out.push(crl);
        } else {
            out.push(CertificateRevocationListDer::from(bytes));
        }
    }
    Ok(out)
}

/// Configured file names (CAs, revocation lists) resolved against the config directory;
/// absolute names stay as they are.
pub fn under(config_dir: &std::path::Path, files: &[String]) -> Vec<PathBuf> {
    files.iter().map(|f| config_dir.join(f)).collect()
}

impl ServerTls {
    /// Builds the rustls configuration; errors name the file or key at fault.
    pub fn server_config(&self) -> Result<ServerConfig, String> {
        let section = self.section;
        let chain = certs(&self.cert)?;
        let key = PrivateKeyDer::from_pem_file(&self.key)
            .map_err(|e| format!("cannot read the private key {}: {e}", self.key.display()))?;
        let provider = Arc::new(rustls::crypto::CryptoProvider {
            cipher_suites: suites(&self.cipher_suites),
            ..rustls::crypto::aws_lc_rs::default_provider()
        });
        let versions: &[&rustls::SupportedProtocolVersion] = if self.min_version == 13 {
            &[&rustls::version::TLS13]
        } else {
            &[&rustls::version::TLS13, &rustls::version::TLS12]
        };
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(versions)
            .map_err(|e| format!("TLS versions: {e}"))?;
        let builder = if self.client_auth == ClientAuth::Off {
            builder.with_no_client_auth()
        } else {
            let mut roots = RootCertStore::empty();
            for ca in &self.client_cas {
                for c in certs(ca)? {
                    roots
                        .add(c)
                        .map_err(|e| format!("{section}.ca_certificates: {}: {e}", ca.display()))?;
                }
            }
            // As SFTPGo: a certificate is refused when a list of its issuer revokes it;
            // issuers without a list, and lists past their next update, do not refuse.
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .with_crls(crls(section, &self.crls)?)
                .allow_unknown_revocation_status();
            let verifier = if self.client_auth == ClientAuth::Optional {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            let verifier = verifier
                .build()
                .map_err(|e| format!("{section}.ca_certificates: {e}"))?;
            builder.with_client_cert_verifier(verifier)
        };
        builder
            .with_single_cert(chain, key)
            .map_err(|e| format!("{}: {e}", self.cert.display()))
    }
}
