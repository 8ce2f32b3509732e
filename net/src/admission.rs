//! Admission of accepted connections, the same for every front-end: the allow list,
//! defender bans and deny list, and connection caps are checked before any protocol
//! byte is read (DESIGN §3 step 2).

use std::net::SocketAddr;
use std::sync::Arc;

use sftpgo_core::defender::{Defender, HostEvent};
use sftpgo_core::sessions::{ConnectionLimiter, ConnectionSlot};

/// The slot a connection holds while open, or `None` when it must be closed at once:
/// the client is banned, or a cap is reached (which the defender scores). `sender`
/// names the front-end in logs, `protocol` in defender events.
pub fn admit(
    defender: &Defender,
    limiter: &Arc<ConnectionLimiter>,
    peer: SocketAddr,
    sender: &'static str,
    protocol: &'static str,
) -> Option<ConnectionSlot> {
    let ip = peer.ip().to_canonical();
    if let Some(why) = defender.refusal(ip, protocol) {
        tracing::debug!(sender, remote = %peer, reason = why, "connection refused");
        return None;
    }
    match limiter.try_acquire(ip) {
        Ok(slot) => Some(slot),
        Err(why) => {
            tracing::warn!(sender, remote = %peer, reason = why, "connection refused");
            defender.add_event(ip, protocol, HostEvent::LimitExceeded);
            None
        }
    }
}

/// [`admit`], then the rate limiters of `protocol`, for the protocols limited per
/// connection (SSH, FTP): a connection over the rate is closed at once.
pub async fn admit_rated(
    defender: &Defender,
    limiter: &Arc<ConnectionLimiter>,
    peer: SocketAddr,
    sender: &'static str,
    protocol: &'static str,
) -> Option<ConnectionSlot> {
    let slot = admit(defender, limiter, peer, sender, protocol)?;
    if let Err(limited) = defender
        .rate_limit(peer.ip().to_canonical(), protocol)
        .await
    {
        tracing::debug!(sender, remote = %peer, wait_ms = limited.wait.as_millis() as u64,
            "connection refused: rate limit");
        return None;
    }
    Some(slot)
}
