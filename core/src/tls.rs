//! Server-side TLS settings every TLS front-end shares (HTTPS, FTPS): PEM certificate
//! chains and keys, the lowest protocol version, and client certificates verified
//! against configured CAs. rustls with aws-lc-rs, like the SSH and database stacks.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

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

impl ServerTls {
    /// Builds the rustls configuration; errors name the file or key at fault.
    pub fn server_config(&self) -> Result<ServerConfig, String> {
        let section = self.section;
        let chain = certs(&self.cert)?;
        let key = PrivateKeyDer::from_pem_file(&self.key)
            .map_err(|e| format!("cannot read the private key {}: {e}", self.key.display()))?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
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
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
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
