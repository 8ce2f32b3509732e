//! sftpgo-core: the domain model and the policy every protocol goes through.
//!
//! Contract:
//! - Owns users and their permissions, file patterns, canonical virtual paths, password and
//!   public-key authentication, the session registry and the [`connection::Connection`]
//!   API. Every file operation of every front-end goes through a `Connection`, which
//!   canonicalises the client path once, checks permissions and patterns, and only then
//!   calls the user's [`sftpgo_vfs::Fs`].
//! - Defines the store traits ([`store::UserStore`]) that data providers implement.
//! - Owns admission policy every front-end applies: the defender, IP lists
//!   ([`iplists`]) and rate limiters ([`ratelimit`]); and the policies the HTTP
//!   front-ends share as plain text, so neither needs the other: trusted proxy headers
//!   ([`forwarded`]) and CORS ([`cors`]).
//! - Owns the Event Manager ([`events`]): rules fired by file events (raised by every
//!   `Connection`), provider changes, schedules, bans and on-demand runs, and the
//!   actions they run. Command actions spawn processes; outbound HTTP and mail go
//!   through the [`events::Outbound`] trait, implemented outside core.
//! - Knows nothing of sockets, SSH, HTTP or SQL. [`tls`] only builds rustls server
//!   configurations (certificates, versions, cipher suites, client CAs and revocation
//!   lists) for the front-ends that speak TLS.
//!
//! Entry points: [`auth::Authenticator`], [`connection::Connection`], [`dump::Dump`],
//! [`config::CommonConfig`].

pub mod auth;
pub mod catalog;
pub mod clock;
pub mod config;
pub mod connection;
pub mod cors;
pub mod defender;
pub mod dump;
pub mod error;
pub mod events;
pub mod forwarded;
pub mod hash;
pub mod iplists;
pub mod kms;
pub mod mfa;
pub mod model;
pub mod password;
pub mod path;
pub mod pattern;
pub mod quota;
pub mod ratelimit;
pub mod sessions;
pub mod store;
pub mod tls;
pub mod usage;
pub mod x509;
pub mod zip;

pub use error::{Error, ErrorKind, Result};

/// Current Unix time in milliseconds (SFTPGo's timestamp unit).
pub fn now_millis() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
