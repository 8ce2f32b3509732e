//! sftpgo-net: per-core workers, listeners and the protocol front-ends.
//!
//! Contract:
//! - [`workers`] starts one OS thread per core, each with its own tokio current-thread
//!   runtime and its own `SO_REUSEPORT` listener per binding; the kernel spreads accepted
//!   connections across workers and a connection never moves.
//! - [`ssh`] is the SSH front-end (SFTP engine, SCP, SSH commands). It authenticates and
//!   performs every file operation through `sftpgo-core`; it never touches a back-end
//!   directly.
//! - [`ftp`] is the FTP/FTPS front-end (our own RFC 959 server); like SSH, every login
//!   and file operation goes through `sftpgo-core`.
//! - [`webdav`] is the WebDAV front-end (dav-server over `sftpgo-core`'s Connection),
//!   served by our own HTTP/1.1 connection loop ([`http1`]).
//! - [`listing`] holds the listing formats SFTP and FTP share; [`tls_stream`] the
//!   plain-or-TLS stream FTPS and WebDAV share; [`reply_buf`] the recycled buffers
//!   SFTP and WebDAV send file data from; [`copy_placement`] where file data sits in
//!   send buffers so the copies around it stay fast; [`file_send`] the `sendfile(2)`
//!   path FTP and WebDAV downloads share; [`idle_stream`] the inactivity limit on
//!   WebDAV connections.
//! - This crate knows nothing of SQL, HTTP or concrete storage back-ends.

pub mod admission;
pub mod busy_poll;
pub mod copy_placement;
pub mod file_send;
pub mod ftp;
pub mod http1;
pub mod idle_stream;
pub mod listing;
pub mod outbound;
pub mod proxy_protocol;
pub mod reply_buf;
pub mod ssh;
pub mod tls_stream;
pub mod webdav;
pub mod workers;
