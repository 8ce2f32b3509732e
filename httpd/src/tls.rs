//! HTTPS for a binding: rustls (aws-lc-rs, shared with the SSH and database stacks)
//! with the binding's or the section's certificate, TLS 1.2 or 1.3 as the lowest
//! version, and optional client certificates checked against `ca_certificates`.

use std::path::Path;
use std::sync::Arc;

use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::{Binding, Config};

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

/// The acceptor for an HTTPS binding; paths are relative to `config_dir`.
pub fn acceptor(cfg: &Config, binding: &Binding, config_dir: &Path) -> Result<TlsAcceptor, String> {
    let pick =
        |own: &String, shared: &String| config_dir.join(if own.is_empty() { shared } else { own });
    let cert_path = pick(&binding.certificate_file, &cfg.certificate_file);
    let key_path = pick(&binding.certificate_key_file, &cfg.certificate_key_file);
    let chain = certs(&cert_path)?;
    let key = PrivateKeyDer::from_pem_file(&key_path)
        .map_err(|e| format!("cannot read the private key {}: {e}", key_path.display()))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let versions: &[&rustls::SupportedProtocolVersion] = if binding.min_tls_version == 13 {
        &[&rustls::version::TLS13]
    } else {
        &[&rustls::version::TLS13, &rustls::version::TLS12]
    };
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(|e| format!("TLS versions: {e}"))?;
    let builder = if binding.client_auth_type == 1 {
        let mut roots = RootCertStore::empty();
        for ca in &cfg.ca_certificates {
            for cert in certs(&config_dir.join(ca))? {
                roots
                    .add(cert)
                    .map_err(|e| format!("httpd.ca_certificates: {ca}: {e}"))?;
            }
        }
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| format!("httpd.ca_certificates: {e}"))?;
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|e| format!("{}: {e}", cert_path.display()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
