//! What the Event Manager reaches outside core through: HTTP and mail from
//! `sftpgo-net`, the log file from [`crate::logging`].

use sftpgo_core::events::{HttpRequest, Mail, Outbound};
use sftpgo_net::outbound::smtp::SmtpConfig;

/// The server's outbound side.
pub struct ServerOutbound {
    /// The `smtp` section.
    pub smtp: SmtpConfig,
}

#[async_trait::async_trait]
impl Outbound for ServerOutbound {
    async fn http(&self, req: HttpRequest) -> Result<u16, String> {
        sftpgo_net::outbound::http::send(req).await
    }

    async fn mail(&self, mail: Mail) -> Result<(), String> {
        sftpgo_net::outbound::smtp::send(&self.smtp, mail).await
    }

    fn rotate_log(&self) -> Result<(), String> {
        crate::logging::rotate()
    }
}
