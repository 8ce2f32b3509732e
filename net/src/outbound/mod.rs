//! Outbound connections of event actions: HTTP requests ([`http`]) and mail
//! ([`smtp`], the `smtp` section), with TLS through rustls.

pub mod http;
pub mod smtp;
mod tls;
