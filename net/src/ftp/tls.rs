//! FTPS (RFC 4217) server TLS: the binding's or the section's certificate, TLS 1.2 or
//! 1.3 as the lowest version, optional client certificates (see `sftpgo_core::tls`).
//! Control and data connections share one configuration with a session cache, so data
//! connections resume the control connection's TLS session, as FileZilla and other
//! clients ask.

use std::path::Path;
use std::sync::Arc;

use sftpgo_core::tls::{ClientAuth, ServerTls, under};
use tokio_rustls::TlsAcceptor;

use super::config::{Binding, Config};

/// The acceptor of a binding, or `None` when no certificate is configured (then
/// `AUTH TLS` is not offered). Paths are relative to `config_dir`.
pub fn acceptor(
    cfg: &Config,
    binding: &Binding,
    config_dir: &Path,
) -> Result<Option<TlsAcceptor>, String> {
    let (cert, key) = if binding.certificate_file.is_empty() {
        (&cfg.certificate_file, &cfg.certificate_key_file)
    } else {
        (&binding.certificate_file, &binding.certificate_key_file)
    };
    if cert.is_empty() {
        return Ok(None);
    }
    let settings = ServerTls {
        cert: config_dir.join(cert),
        key: config_dir.join(key),
        min_version: binding.min_tls_version,
        client_auth: match binding.client_auth_type {
            0 => ClientAuth::Off,
            1 => ClientAuth::Required,
            _ => ClientAuth::Optional,
        },
        client_cas: under(config_dir, &cfg.ca_certificates),
        crls: under(config_dir, &cfg.ca_revocation_lists),
        cipher_suites: binding.tls_cipher_suites.clone(),
        section: "ftpd",
    };
    let mut config = settings.server_config()?;
    config.session_storage = rustls::server::ServerSessionMemoryCache::new(4096);
    Ok(Some(TlsAcceptor::from(Arc::new(config))))
}
