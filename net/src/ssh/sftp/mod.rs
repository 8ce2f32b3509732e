//! Our SFTP v3 server engine over a russh channel.
//!
//! Why not russh-sftp's server loop: it serves one request at a time, awaiting the
//! channel write before reading the next request, copies every payload through serde and
//! uses `String` handles (see shared/reference/ssh-transport-measurements.md). Here a
//! reader loop parses packets zero-copy out of the channel stream; READs and WRITEs run
//! concurrently and complete out of order (`pipeline`), other requests in order; a
//! separate writer task drains replies into the channel, so the client's pipelined
//! requests keep flowing while earlier replies wait for window space. READ replies are
//! filled in place: the file is read straight into a recycled reply buffer
//! (`crate::reply_buf`).
//!
//! Every file operation goes through `sftpgo_core::connection::Connection`.

#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

pub mod codec;
mod engine;
mod extensions;
mod pipeline;
mod requests;

pub use engine::{Limits, serve};
