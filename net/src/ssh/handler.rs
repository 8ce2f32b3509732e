//! The russh server handler: authentication through `sftpgo_core::auth`, session
//! channels, and dispatch of the `sftp` subsystem and exec requests. Everything not
//! listed here (shells, PTYs, forwarding, agent, X11) is refused by russh's defaults.

use std::collections::HashMap;
use std::sync::Arc;

use russh::server::{
    Auth, ChannelOpenHandle, Handler, Msg, PublicKeyOffer, Session, VerifiedPublicKey,
};
use russh::{Channel, ChannelId};
use sftpgo_core::auth::{AuthError, Client};
use sftpgo_core::connection::Connection;
use sftpgo_core::defender::HostEvent;
use sftpgo_core::model::User;
use sftpgo_core::sessions::{Activity, Closer, NewConnection, SessionGuard};

use super::SshServer;

/// One SSH connection.
pub struct SshHandler {
    srv: Arc<SshServer>,
    peer: String,
    peer_ip: std::net::IpAddr,
    conn_id: String,
    user: Option<Arc<User>>,
    guard: Option<SessionGuard>,
    closer: Closer,
    activity: Activity,
    channels: HashMap<ChannelId, Channel<Msg>>,
    auth_tried: Arc<std::sync::atomic::AtomicBool>,
}

fn key_parts(key: &russh::keys::PublicKey) -> Option<(String, String)> {
    let line = key.to_openssh().ok()?;
    let mut it = line.split_whitespace();
    Some((it.next()?.to_string(), it.next()?.to_string()))
}

impl SshHandler {
    /// A handler for a client at `peer`; `closer` is how an admin ends the connection
    /// once it is registered at login.
    pub fn new(srv: Arc<SshServer>, peer: std::net::SocketAddr, closer: Closer) -> Self {
        let conn_id = srv.sessions.connection_id("SSH");
        Self {
            srv,
            peer: peer.to_string(),
            peer_ip: peer.ip(),
            conn_id,
            user: None,
            guard: None,
            closer,
            activity: Activity::default(),
            channels: HashMap::new(),
            auth_tried: Arc::default(),
        }
    }

    /// Set once the client tries to authenticate (a connection that ends without
    /// trying scores `defender.score_no_auth`).
    pub fn auth_tried(&self) -> Arc<std::sync::atomic::AtomicBool> {
        self.auth_tried.clone()
    }

    fn login(&mut self, user: User, method: &str) -> Auth {
        let registered = NewConnection {
            id: self.conn_id.clone(),
            username: user.username.clone(),
            role: user.role.clone(),
            protocol: "SSH".into(),
            remote: self.peer.clone(),
            closer: self.closer.clone(),
            activity: self.activity.clone(),
        };
        let Some(guard) = self.srv.sessions.try_acquire(registered, user.max_sessions) else {
            tracing::warn!(connection_id = %self.conn_id, username = %user.username, remote = %self.peer,
                "login refused: too many open sessions");
            return self.reject();
        };
        tracing::info!(sender = "SSH", connection_id = %self.conn_id, username = %user.username,
            remote = %self.peer, method, "login succeeded");
        let store = self.srv.auth.store().clone();
        let name = user.username.clone();
        tokio::spawn(async move {
            let _ = store.set_last_login(&name, sftpgo_core::now_millis()).await;
        });
        self.guard = Some(guard);
        self.user = Some(Arc::new(user));
        Auth::Accept
    }

    fn client(&self) -> Client<'static> {
        Client {
            protocol: "SSH",
            ip: self.peer_ip,
        }
    }

    fn failed(&self, username: &str, method: &str, e: &AuthError) -> Auth {
        tracing::warn!(sender = "SSH", connection_id = %self.conn_id, username, remote = %self.peer,
            method, reason = %e, "login failed");
        let event = match e {
            AuthError::UnknownUser => HostEvent::UserNotFound,
            AuthError::Store(_) => return self.reject(),
            _ => HostEvent::LoginFailed,
        };
        self.srv.defender.add_event(self.peer_ip, "SSH", event);
        self.reject()
    }

    /// A refusal that keeps every configured method available, so a client can retry
    /// (a mistyped password, another key) until `max_auth_tries`. russh's plain
    /// `Auth::reject()` would withdraw the method after one failure.
    fn reject(&self) -> Auth {
        Auth::Reject {
            proceed_with_methods: Some(self.srv.russh.methods.clone()),
            partial_success: false,
        }
    }

    fn connection(&self, protocol: &'static str) -> Option<Connection> {
        let user = self.user.clone()?;
        let username = user.username.clone();
        let conn =
            match self
                .srv
                .opener
                .open(self.conn_id.clone(), protocol, self.peer.clone(), user)
            {
                Ok(conn) => conn,
                Err(e) => {
                    tracing::error!(connection_id = %self.conn_id, username = %username, error = %e,
                    "cannot open the user's file system");
                    return None;
                }
            };
        if let Some(guard) = &self.guard {
            guard.describe(Some(protocol), None);
        }
        Some(conn.with_activity(self.activity.clone()))
    }
}

impl Handler for SshHandler {
    type Error = russh::Error;

    async fn auth_password(&mut self, user: &str, password: &str) -> Result<Auth, Self::Error> {
        self.auth_tried
            .store(true, std::sync::atomic::Ordering::Relaxed);
        if !self.srv.config.password_authentication {
            return Ok(Auth::reject());
        }
        Ok(
            match self.srv.auth.password(user, password, self.client()).await {
                Ok(u) => {
                    let auth = self.login(u, "password");
                    if matches!(auth, Auth::Accept) {
                        self.srv.defender.delay_login(true).await;
                    }
                    auth
                }
                Err(e) => {
                    // Slows password guessing (`common.defender.login_delay`).
                    self.srv.defender.delay_login(false).await;
                    self.failed(user, "password", &e)
                }
            },
        )
    }

    async fn auth_publickey_offered(
        &mut self,
        user: &str,
        offer: PublicKeyOffer<'_>,
    ) -> Result<Auth, Self::Error> {
        self.auth_tried
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let Some((algo, blob)) = key_parts(offer.public_key) else {
            return Ok(Auth::reject());
        };
        // A key that is not the user's is refused quietly (clients offer several);
        // any other refusal (disabled, expired, address, 2FA, ...) is logged.
        Ok(
            match self
                .srv
                .auth
                .public_key(user, &algo, &blob, self.client())
                .await
            {
                Ok(_) => Auth::Accept,
                Err(AuthError::InvalidCredentials) => self.reject(),
                Err(e) => self.failed(user, "publickey", &e),
            },
        )
    }

    async fn auth_publickey(
        &mut self,
        user: &str,
        key: VerifiedPublicKey<'_>,
    ) -> Result<Auth, Self::Error> {
        let Some((algo, blob)) = key_parts(key.public_key) else {
            return Ok(Auth::reject());
        };
        Ok(
            match self
                .srv
                .auth
                .public_key(user, &algo, &blob, self.client())
                .await
            {
                Ok(u) => {
                    let auth = self.login(u, "publickey");
                    if matches!(auth, Auth::Accept) {
                        self.srv.defender.delay_login(true).await;
                    }
                    auth
                }
                Err(e) => self.failed(user, "publickey", &e),
            },
        )
    }

    async fn authentication_banner(&mut self) -> Result<Option<String>, Self::Error> {
        Ok(self.srv.banner.clone())
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: ChannelOpenHandle,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        if self.user.is_none() {
            return Ok(());
        }
        if let Some(guard) = &self.guard {
            let version = String::from_utf8_lossy(session.remote_sshid());
            guard.describe(None, Some(version.trim()));
        }
        self.channels.insert(channel.id(), channel);
        reply.accept().await;
        Ok(())
    }

    async fn subsystem_request(
        &mut self,
        id: ChannelId,
        name: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        if name != "sftp" {
            return session.channel_failure(id);
        }
        let (Some(channel), Some(conn)) = (self.channels.remove(&id), self.connection("SFTP"))
        else {
            return session.channel_failure(id);
        };
        session.channel_success(id)?;
        let limits = self.srv.sftp_limits;
        tokio::spawn(super::sftp::serve(channel, conn, limits));
        Ok(())
    }

    async fn exec_request(
        &mut self,
        id: ChannelId,
        data: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let Some(channel) = self.channels.remove(&id) else {
            return session.channel_failure(id);
        };
        let line = String::from_utf8_lossy(data).into_owned();
        let protocol = if line.trim_start().starts_with("scp ") {
            "SCP"
        } else {
            "SSH"
        };
        let Some(conn) = self.connection(protocol) else {
            return session.channel_failure(id);
        };
        session.channel_success(id)?;
        tokio::spawn(super::commands::run(self.srv.clone(), channel, conn, line));
        Ok(())
    }

    async fn shell_request(
        &mut self,
        id: ChannelId,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        tracing::warn!(connection_id = %self.conn_id, "shell request refused");
        session.channel_failure(id)
    }

    async fn channel_close(
        &mut self,
        id: ChannelId,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.channels.remove(&id);
        Ok(())
    }
}
