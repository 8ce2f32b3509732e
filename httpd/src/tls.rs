//! HTTPS for a binding: the binding's or the section's certificate, TLS 1.2 or 1.3 as
//! the lowest version, and optional client certificates checked against
//! `ca_certificates` (see `sftpgo_core::tls`).

use std::path::Path;
use std::sync::Arc;

use sftpgo_core::tls::{ClientAuth, ServerTls, under};
use tokio_rustls::TlsAcceptor;

use crate::{Binding, Config};

/// The acceptor for an HTTPS binding; paths are relative to `config_dir`.
pub fn acceptor(cfg: &Config, binding: &Binding, config_dir: &Path) -> Result<TlsAcceptor, String> {
    let pick =
        |own: &String, shared: &String| config_dir.join(if own.is_empty() { shared } else { own });
    let settings = ServerTls {
        cert: pick(&binding.certificate_file, &cfg.certificate_file),
        key: pick(&binding.certificate_key_file, &cfg.certificate_key_file),
        min_version: binding.min_tls_version,
        client_auth: if binding.client_auth_type == 1 {
            ClientAuth::Required
        } else {
            ClientAuth::Off
        },
        client_cas: under(config_dir, &cfg.ca_certificates),
        crls: under(config_dir, &cfg.ca_revocation_lists),
        cipher_suites: binding.tls_cipher_suites.clone(),
        section: "httpd",
    };
    let mut config = settings.server_config()?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
