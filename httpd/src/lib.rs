//! sftpgo-httpd: REST API v2, WebAdmin, WebClient and public shares.
//!
//! Contract: runs on the tokio side runtime, shares state with the protocol workers only
//! through `sftpgo-core` (store traits, session registry), and never imports
//! `sftpgo-net`. Not implemented yet: the REST API is tracked as its own issue; the
//! crate exists so the layering of DESIGN.md holds from the start.

/// Name of the configuration section this crate will own.
pub const CONFIG_SECTION: &str = "httpd";
