//! One FTP control connection: the command loop, login (RFC 959 §4.1.1, RFC 4217 §4
//! `AUTH TLS`), transfer-parameter commands (§4.1.2, RFC 2428) and the data-transfer
//! driver that keeps reading the control connection so `ABOR` works mid-transfer.
//! File commands live in `commands.rs`.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use sftpgo_core::auth::{AuthError, CertLogin, Client};
use sftpgo_core::connection::{Connection, Transfer};
use sftpgo_core::defender::HostEvent;
use sftpgo_core::hash::HashAlgo;
use sftpgo_core::path::VirtualPath;
use sftpgo_core::sessions::{Activity, Closer, NewConnection, SessionGuard};

use super::FtpListener;
use super::config::TlsMode;
use super::data::{self, DataPlan, DataPolicy};
use super::pump::{self, PumpError};
use super::stream::{Control, Line, MaybeTls};

/// Consecutive failed logins after which the connection is closed.
const MAX_LOGIN_FAILURES: u32 = 3;
/// Commands a client may send during a transfer before it ends.
const MAX_QUEUED: usize = 16;
/// Time a connection has to log in, as SFTPGo (activity does not extend it).
const LOGIN_DEADLINE: Duration = Duration::from_secs(120);

/// What the command loop does next.
#[derive(Debug, PartialEq, Eq)]
pub enum Flow {
    /// Read the next command.
    Continue,
    /// Close the connection.
    Quit,
}

/// A logged-in user.
pub struct LoggedIn {
    pub conn: Arc<Connection>,
    _guard: SessionGuard,
    /// The user's `ftp_security` asks for TLS on the control and data connections.
    pub tls_required: bool,
}

/// What a data connection carries.
pub enum Work {
    /// A download from an offset.
    SendFile(Transfer, u64),
    /// An upload from an offset.
    Receive(Transfer, u64),
    /// A listing.
    SendBytes(Vec<u8>),
}

/// How a data transfer ended.
enum JobResult {
    Done,
    NoConnection(io::Error),
    Failed(PumpError),
}

type Job = Pin<Box<dyn Future<Output = JobResult> + Send>>;

/// State of one control connection.
pub struct Session {
    pub(super) listener: Arc<FtpListener>,
    pub(super) ctrl: Control,
    pub(super) peer: SocketAddr,
    pub(super) local: SocketAddr,
    pub(super) conn_id: String,
    closer: Closer,
    activity: Activity,
    pending_user: Option<String>,
    pub(super) login: Option<LoggedIn>,
    pub(super) cwd: VirtualPath,
    pub(super) rest: u64,
    pub(super) rename_from: Option<VirtualPath>,
    protect_data: bool,
    pbsz: bool,
    plan: Option<DataPlan>,
    epsv_all: bool,
    failures: u32,
    /// A USER or PASS was sent (a connection that ends without one scores
    /// `defender.score_no_auth`).
    tried_login: bool,
    queued: VecDeque<String>,
    pub(super) hash_algo: HashAlgo,
    quit_after_transfer: bool,
    connected: std::time::Instant,
}

impl Session {
    /// A session on an accepted control connection.
    pub fn new(
        listener: Arc<FtpListener>,
        ctrl: Control,
        peer: SocketAddr,
        local: SocketAddr,
    ) -> Self {
        let conn_id = listener.server.sessions.connection_id("FTP");
        Self {
            listener,
            ctrl,
            peer,
            local,
            conn_id,
            closer: Closer::default(),
            activity: Activity::default(),
            pending_user: None,
            login: None,
            cwd: VirtualPath::root(),
            rest: 0,
            rename_from: None,
            protect_data: false,
            pbsz: false,
            plan: None,
            epsv_all: false,
            failures: 0,
            tried_login: false,
            queued: VecDeque::new(),
            hash_algo: HashAlgo::Sha256,
            quit_after_transfer: false,
            connected: std::time::Instant::now(),
        }
    }

    fn idle_timeout(&self) -> Duration {
        self.listener
            .server
            .common
            .idle_limit()
            .unwrap_or(Duration::from_secs(365 * 86_400))
    }

    /// Sends a reply, logging it in debug mode.
    pub(super) async fn reply(&mut self, code: u16, text: &str) -> io::Result<()> {
        if self.listener.binding.debug {
            tracing::debug!(sender = "FTP", connection_id = %self.conn_id, code, text, "reply");
        }
        self.ctrl.reply(code, text).await
    }

    /// Serves the connection: greeting, then commands until the client quits.
    pub async fn run(mut self) {
        let banner = self.listener.server.banner.clone();
        if self.reply(220, &banner).await.is_err() {
            return;
        }
        if let Err(e) = self.command_loop().await {
            tracing::debug!(sender = "FTP", connection_id = %self.conn_id, error = %e, "control connection ended");
        }
        if !self.tried_login && self.login.is_none() {
            self.listener.server.defender.add_event(
                self.peer.ip().to_canonical(),
                "FTP",
                HostEvent::NoLoginTried,
            );
        }
        self.ctrl.shutdown().await;
    }

    async fn command_loop(&mut self) -> io::Result<()> {
        loop {
            let line = match self.queued.pop_front() {
                Some(l) => Line::Command(l),
                None => {
                    let (wait, why) = if self.login.is_some() {
                        (
                            self.idle_timeout(),
                            "Idle timeout, closing the control connection",
                        )
                    } else {
                        (
                            LOGIN_DEADLINE.saturating_sub(self.connected.elapsed()),
                            "Login timeout, closing the control connection",
                        )
                    };
                    let closer = self.closer.clone();
                    tokio::select! {
                        l = self.ctrl.read_line() => l?,
                        () = closer.closed() => {
                            self.reply(421, "Connection closed by the administrator").await?;
                            return Ok(());
                        }
                        () = tokio::time::sleep(wait) => {
                            self.reply(421, why).await?;
                            return Ok(());
                        }
                    }
                }
            };
            let text = match line {
                Line::Command(t) => t,
                Line::Closed => return Ok(()),
                Line::TooLong => {
                    self.reply(500, "Command line too long").await?;
                    return Ok(());
                }
                Line::NotUtf8 => {
                    self.reply(501, "Commands must be UTF-8").await?;
                    continue;
                }
            };
            if self.handle(&text).await? == Flow::Quit {
                return Ok(());
            }
        }
    }

    async fn handle(&mut self, text: &str) -> io::Result<Flow> {
        let (verb, arg) = split_command(text);
        if self.listener.binding.debug {
            let shown = if verb == "PASS" { "********" } else { arg };
            tracing::debug!(sender = "FTP", connection_id = %self.conn_id, verb, arg = shown, "command");
        }
        match verb.as_str() {
            "USER" => {
                self.tried_login = true;
                return self.user(arg).await;
            }
            "PASS" => {
                self.tried_login = true;
                return self.pass(arg).await;
            }
            "QUIT" => {
                self.reply(221, "Goodbye").await?;
                return Ok(Flow::Quit);
            }
            "AUTH" => return self.auth_tls(arg).await,
            "PBSZ" => self.pbsz(arg).await?,
            "PROT" => self.prot(arg).await?,
            "CCC" => {
                self.reply(534, "The control connection stays encrypted")
                    .await?
            }
            "FEAT" => {
                let feat = self.features();
                self.reply(211, &feat).await?;
            }
            "SYST" => self.reply(215, "UNIX Type: L8").await?,
            "NOOP" => self.reply(200, "NOOP ok").await?,
            "OPTS" => self.opts(arg).await?,
            "HELP" => self.reply(214, HELP).await?,
            "CLNT" => self.reply(200, "Noted").await?,
            _ if self.login.is_none() => {
                self.reply(530, "Please log in with USER and PASS").await?;
            }
            _ => return self.logged_in_command(&verb, arg).await,
        }
        Ok(Flow::Continue)
    }

    async fn logged_in_command(&mut self, verb: &str, arg: &str) -> io::Result<Flow> {
        match verb {
            "TYPE" => {
                let t = arg.to_ascii_uppercase();
                if matches!(t.as_str(), "A" | "A N" | "I" | "L 8") {
                    self.reply(200, &format!("Type set to {t}")).await?;
                } else {
                    self.reply(504, "Type not supported").await?;
                }
            }
            "MODE" => self.only(arg, "S", "Mode").await?,
            "STRU" => self.only(arg, "F", "Structure").await?,
            "ALLO" => self.reply(202, "No storage allocation needed").await?,
            "REST" => match arg.trim().parse::<u64>() {
                Ok(n) => {
                    self.rest = n;
                    self.reply(350, &format!("Restarting at {n}; send STORE or RETRIEVE"))
                        .await?;
                }
                Err(_) => self.reply(501, "REST needs a byte offset").await?,
            },
            "PASV" => self.pasv().await?,
            "EPSV" => self.epsv(arg).await?,
            "PORT" => self.port(data::parse_port(arg)).await?,
            "EPRT" => self.port(data::parse_eprt(arg)).await?,
            "ABOR" => self.reply(225, "No transfer to abort").await?,
            "STAT" if arg.is_empty() => {
                let status = format!(
                    "FTP server status:\nConnected to {}\nLogged in as {}\nEnd of status",
                    self.peer.ip(),
                    self.login
                        .as_ref()
                        .map(|l| l.conn.user().username.as_str())
                        .unwrap_or("")
                );
                self.reply(211, &status).await?;
            }
            _ => return self.file_command(verb, arg).await,
        }
        Ok(Flow::Continue)
    }

    async fn only(&mut self, arg: &str, accepted: &str, what: &str) -> io::Result<()> {
        if arg.eq_ignore_ascii_case(accepted) {
            self.reply(200, &format!("{what} set to {accepted}")).await
        } else {
            self.reply(504, &format!("{what} not supported")).await
        }
    }

    fn tls_available(&self) -> bool {
        self.listener.tls.is_some()
    }

    fn features(&self) -> String {
        let srv = &self.listener.server;
        let mut f = vec!["Features:"];
        if self.tls_available() {
            f.extend(["AUTH TLS", "PBSZ", "PROT"]);
        }
        f.extend([
            "UTF8",
            "SIZE",
            "MDTM",
            "MFMT",
            "REST STREAM",
            "TVFS",
            "EPSV",
            "MLST type*;size*;modify*;perm*;UNIX.mode*;",
            "AVBL",
        ]);
        if !srv.config.disable_active_mode {
            f.push("EPRT");
        }
        if srv.config.hash_support {
            f.push("HASH SHA-256*;SHA-512;SHA-1;MD5");
        }
        if srv.config.combine_support {
            f.push("COMB");
        }
        if srv.config.enable_site {
            f.push("SITE CHMOD;SYMLINK");
        }
        f.push("End");
        f.join("\n")
    }

    async fn opts(&mut self, arg: &str) -> io::Result<()> {
        let (name, value) = split_command(arg);
        match name.as_str() {
            "UTF8" | "UTF-8" => self.reply(200, "UTF8 mode is always on").await,
            "MLST" => {
                self.reply(200, "MLST OPTS type;size;modify;perm;UNIX.mode;")
                    .await
            }
            "HASH" if value.is_empty() => {
                let name = hash_name(self.hash_algo);
                self.reply(200, name).await
            }
            "HASH" => match parse_hash_name(value) {
                Some(a) => {
                    self.hash_algo = a;
                    self.reply(200, hash_name(a)).await
                }
                None => self.reply(501, "Unknown hash algorithm").await,
            },
            _ => self.reply(501, "Option not understood").await,
        }
    }

    // --- Login -------------------------------------------------------------------

    fn tls_mandatory(&self) -> bool {
        self.listener.binding.tls_mode == TlsMode::ExplicitRequired
    }

    async fn user(&mut self, arg: &str) -> io::Result<Flow> {
        if self.login.is_some() {
            self.reply(503, "Already logged in").await?;
            return Ok(Flow::Continue);
        }
        if self.tls_mandatory() && !self.ctrl.is_tls() {
            self.reply(530, "TLS is required: send AUTH TLS first")
                .await?;
            return Ok(Flow::Continue);
        }
        if arg.is_empty() {
            self.reply(501, "USER needs a user name").await?;
            return Ok(Flow::Continue);
        }
        // A user who must use TLS is stopped before sending the password in clear text
        // (as SFTPGo's pre-authentication check).
        if !self.ctrl.is_tls()
            && let Ok(Some(u)) = self.listener.server.auth.store().login_user(arg).await
            && requires_tls(&u)
        {
            self.reply(530, "TLS is required for this account: send AUTH TLS first")
                .await?;
            return Ok(Flow::Continue);
        }
        if let Some(cert) = self.ctrl.peer_certificate() {
            return self.user_with_certificate(arg, &cert).await;
        }
        self.pending_user = Some(arg.to_string());
        self.reply(331, "User name okay, need password").await?;
        Ok(Flow::Continue)
    }

    /// `USER` over TLS with a client certificate: a user who maps certificates
    /// (`tls_username`, `tls_certs`) is logged in by it (230, as SFTPGo; every client
    /// takes a 2xx reply to `USER` as logged in) or, with
    /// only `TLSCertificate+password` allowed, asked for the password; the others go
    /// on with the password as usual.
    async fn user_with_certificate(&mut self, username: &str, cert: &[u8]) -> io::Result<Flow> {
        let auth = self.listener.server.auth.clone();
        match auth.tls_certificate(username, cert, self.client()).await {
            Ok(CertLogin::LoggedIn(user)) => {
                self.establish(*user, "TLSCertificate", 230, "TLS certificate ok, continue")
                    .await
            }
            Ok(CertLogin::NotUsed | CertLogin::NeedsPassword) => {
                self.pending_user = Some(username.to_string());
                self.reply(331, "User name okay, need password").await?;
                Ok(Flow::Continue)
            }
            Err(e) => self.login_failed(username, &e).await,
        }
    }

    fn client(&self) -> Client<'static> {
        Client {
            protocol: "FTP",
            ip: self.peer.ip().to_canonical(),
        }
    }

    async fn pass(&mut self, password: &str) -> io::Result<Flow> {
        if self.login.is_some() {
            self.reply(503, "Already logged in").await?;
            return Ok(Flow::Continue);
        }
        let Some(username) = self.pending_user.take() else {
            self.reply(503, "Log in with USER first").await?;
            return Ok(Flow::Continue);
        };
        let auth = self.listener.server.auth.clone();
        let client = self.client();
        let (checked, method) = match self.ctrl.peer_certificate() {
            Some(cert) => (
                auth.tls_certificate_and_password(&username, password, &cert, client)
                    .await,
                "TLSCertificate+password",
            ),
            None => (auth.password(&username, password, client).await, "password"),
        };
        match checked {
            Ok(user) => {
                self.establish(user, method, 230, "User logged in, proceed")
                    .await
            }
            Err(e) => self.login_failed(&username, &e).await,
        }
    }

    /// Opens the session of an authenticated user and sends the login reply.
    async fn establish(
        &mut self,
        user: sftpgo_core::model::User,
        method: &str,
        code: u16,
        text: &str,
    ) -> io::Result<Flow> {
        let srv = self.listener.server.clone();
        let username = user.username.clone();
        let tls_required = requires_tls(&user);
        if tls_required && !self.ctrl.is_tls() {
            tracing::warn!(sender = "FTP", connection_id = %self.conn_id, username = %username,
                remote = %self.peer, "login refused: the user requires TLS");
            self.reply(530, "TLS is required for this account: send AUTH TLS first")
                .await?;
            return Ok(Flow::Continue);
        }
        let registered = NewConnection {
            id: self.conn_id.clone(),
            username: user.username.clone(),
            role: user.role.clone(),
            protocol: "FTP".into(),
            remote: self.peer.to_string(),
            closer: self.closer.clone(),
            activity: self.activity.clone(),
        };
        let Some(guard) = srv.sessions.try_acquire(registered, user.max_sessions) else {
            tracing::warn!(sender = "FTP", connection_id = %self.conn_id, username = %username,
                remote = %self.peer, "login refused: too many open sessions");
            self.reply(530, "Too many open sessions").await?;
            return Ok(Flow::Continue);
        };
        let conn = match srv.opener.open(
            self.conn_id.clone(),
            "FTP",
            self.peer.to_string(),
            Arc::new(user),
        ) {
            Ok(conn) => conn.with_activity(self.activity.clone()),
            Err(e) => {
                tracing::error!(sender = "FTP", connection_id = %self.conn_id, username = %username,
                    error = %e, "cannot open the user's file system");
                self.reply(421, "Service not available").await?;
                return Ok(Flow::Quit);
            }
        };
        self.cwd = conn.start_dir().clone();
        tracing::info!(sender = "FTP", connection_id = %self.conn_id, username = %username,
            remote = %self.peer, tls = self.ctrl.is_tls(), method, "login succeeded");
        let store = srv.auth.store().clone();
        let name = username.clone();
        tokio::spawn(async move {
            let _ = store.set_last_login(&name, sftpgo_core::now_millis()).await;
        });
        self.login = Some(LoggedIn {
            conn: Arc::new(conn),
            _guard: guard,
            tls_required,
        });
        self.failures = 0;
        srv.defender.delay_login(true).await;
        self.reply(code, text).await?;
        Ok(Flow::Continue)
    }

    async fn login_failed(&mut self, username: &str, e: &AuthError) -> io::Result<Flow> {
        let srv = self.listener.server.clone();
        tracing::warn!(sender = "FTP", connection_id = %self.conn_id, username, remote = %self.peer,
            reason = %e, "login failed");
        let event = match e {
            AuthError::UnknownUser => Some(HostEvent::UserNotFound),
            AuthError::Store(_) => None,
            _ => Some(HostEvent::LoginFailed),
        };
        if let Some(ev) = event {
            srv.defender
                .add_event(self.peer.ip().to_canonical(), "FTP", ev);
        }
        srv.defender.delay_login(false).await;
        self.failures += 1;
        self.reply(530, "Authentication failed").await?;
        if self.failures >= MAX_LOGIN_FAILURES {
            self.reply(421, "Too many failed logins, closing the connection")
                .await?;
            return Ok(Flow::Quit);
        }
        Ok(Flow::Continue)
    }

    /// `AUTH TLS` (RFC 4217 §4): the handshake starts right after the 234 reply.
    async fn auth_tls(&mut self, arg: &str) -> io::Result<Flow> {
        let mechanism = arg.trim().to_ascii_uppercase();
        let Some(acceptor) = self.listener.tls.clone() else {
            self.reply(502, "TLS is not configured on this server")
                .await?;
            return Ok(Flow::Continue);
        };
        if !matches!(mechanism.as_str(), "TLS" | "TLS-C" | "SSL") {
            self.reply(504, "Unknown security mechanism").await?;
            return Ok(Flow::Continue);
        }
        if self.ctrl.is_tls() || self.login.is_some() {
            self.reply(503, "AUTH is only accepted once, before login")
                .await?;
            return Ok(Flow::Continue);
        }
        self.reply(234, "AUTH TLS successful").await?;
        if self.ctrl.has_buffered() {
            // Bytes sent before the handshake would be taken as commands of the
            // encrypted session: refuse the connection (command injection).
            tracing::warn!(sender = "FTP", connection_id = %self.conn_id, remote = %self.peer,
                "commands pipelined after AUTH TLS, closing");
            return Ok(Flow::Quit);
        }
        if let Err(e) = tokio::time::timeout(data::CONNECT_TIMEOUT, self.ctrl.upgrade(&acceptor))
            .await
            .unwrap_or_else(|_| {
                Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "handshake timed out",
                ))
            })
        {
            tracing::debug!(sender = "FTP", connection_id = %self.conn_id, error = %e, "TLS handshake failed");
            return Ok(Flow::Quit);
        }
        self.pending_user = None;
        Ok(Flow::Continue)
    }

    async fn pbsz(&mut self, arg: &str) -> io::Result<()> {
        if !self.ctrl.is_tls() {
            return self
                .reply(503, "PBSZ needs a secure control connection")
                .await;
        }
        self.pbsz = true;
        if arg.trim() == "0" {
            self.reply(200, "PBSZ=0").await
        } else {
            self.reply(200, "PBSZ=0 (buffer size ignored for TLS)")
                .await
        }
    }

    async fn prot(&mut self, arg: &str) -> io::Result<()> {
        if !self.ctrl.is_tls() {
            return self
                .reply(503, "PROT needs a secure control connection")
                .await;
        }
        if !self.pbsz {
            return self.reply(503, "Send PBSZ first").await;
        }
        match arg.trim().to_ascii_uppercase().as_str() {
            "P" => {
                self.protect_data = true;
                self.reply(200, "Data connections will be encrypted").await
            }
            "C" if self.tls_mandatory() || self.login.as_ref().is_some_and(|l| l.tls_required) => {
                self.reply(534, "Data connections must be encrypted").await
            }
            "C" => {
                self.protect_data = false;
                self.reply(200, "Data connections will be clear text").await
            }
            "S" | "E" => self.reply(536, "Protection level not supported").await,
            _ => self.reply(504, "Unknown protection level").await,
        }
    }

    // --- Data connections ------------------------------------------------------

    /// The address data listeners bind to: the one the client reached.
    fn local_ip(&self) -> IpAddr {
        self.local.ip().to_canonical()
    }

    async fn new_listener(&mut self) -> Option<tokio::net::TcpListener> {
        match self.listener.server.passive_ports.listen(self.local_ip()) {
            Ok(l) => Some(l),
            Err(e) => {
                tracing::warn!(sender = "FTP", connection_id = %self.conn_id, error = %e, "cannot open a passive port");
                let _ = self.reply(425, "Cannot open a passive port").await;
                None
            }
        }
    }

    /// The IPv4 address announced in `PASV` replies.
    async fn passive_ip(&self) -> Option<std::net::Ipv4Addr> {
        let b = &self.listener.binding;
        let client = self.peer.ip().to_canonical();
        for o in &b.passive_ip_overrides {
            if o.networks
                .iter()
                .any(|n| sftpgo_core::model::ip_list::contains(n, client))
            {
                if let Ok(ip) = o.ip.parse() {
                    return Some(ip);
                }
                break;
            }
        }
        if let Ok(ip) = b.force_passive_ip.parse() {
            return Some(ip);
        }
        if !b.passive_host.is_empty()
            && let Ok(addrs) = tokio::net::lookup_host((b.passive_host.as_str(), 0)).await
        {
            for a in addrs {
                if let IpAddr::V4(ip) = a.ip() {
                    return Some(ip);
                }
            }
        }
        match self.local_ip() {
            IpAddr::V4(ip) => Some(ip),
            IpAddr::V6(_) => None,
        }
    }

    async fn pasv(&mut self) -> io::Result<()> {
        if self.epsv_all {
            return self
                .reply(503, "Only EPSV is accepted after EPSV ALL")
                .await;
        }
        let Some(ip) = self.passive_ip().await else {
            return self.reply(522, "PASV is IPv4 only; use EPSV").await;
        };
        let Some(listener) = self.new_listener().await else {
            return Ok(());
        };
        let port = listener.local_addr()?.port();
        self.plan = Some(DataPlan::Passive(listener));
        self.reply(227, &data::pasv_reply(ip, port)).await
    }

    /// `EPSV`, `EPSV ALL`, `EPSV 1|2` (RFC 2428 §3).
    async fn epsv(&mut self, arg: &str) -> io::Result<()> {
        let arg = arg.trim();
        if arg.eq_ignore_ascii_case("ALL") {
            self.epsv_all = true;
            return self.reply(200, "EPSV ALL accepted").await;
        }
        let wanted_v6 = match arg {
            "" => self.local_ip().is_ipv6(),
            "1" => false,
            "2" => true,
            _ => {
                return self
                    .reply(522, "Network protocol not supported, use (1,2)")
                    .await;
            }
        };
        if wanted_v6 != self.local_ip().is_ipv6() {
            return self
                .reply(522, "Network protocol not supported, use (1,2)")
                .await;
        }
        let Some(listener) = self.new_listener().await else {
            return Ok(());
        };
        let port = listener.local_addr()?.port();
        self.plan = Some(DataPlan::Passive(listener));
        self.reply(229, &format!("Entering Extended Passive Mode (|||{port}|)"))
            .await
    }

    /// `PORT`/`EPRT`: checked against FTP bounce (RFC 2577 §3): only the client's own
    /// address and an unprivileged port.
    async fn port(&mut self, target: Option<SocketAddr>) -> io::Result<()> {
        let srv = self.listener.server.clone();
        if srv.config.disable_active_mode {
            return self.reply(502, "Active mode is disabled").await;
        }
        if self.epsv_all {
            return self
                .reply(503, "Only EPSV is accepted after EPSV ALL")
                .await;
        }
        let Some(addr) = target else {
            return self.reply(501, "Malformed address").await;
        };
        if self.listener.binding.active_connections_security == 0
            && !data::same_host(addr.ip(), self.peer.ip())
        {
            tracing::warn!(sender = "FTP", connection_id = %self.conn_id, remote = %self.peer,
                target = %addr, "active connection to another host refused (FTP bounce)");
            return self
                .reply(504, "Data connections go to your own address only")
                .await;
        }
        if addr.port() < 1024 {
            return self
                .reply(504, "Data connections to privileged ports are refused")
                .await;
        }
        let addr = SocketAddr::new(addr.ip().to_canonical(), addr.port());
        self.plan = Some(DataPlan::Active(addr));
        self.reply(200, "Active data connection set").await
    }

    /// Checks that a data connection can be opened with the current settings, then
    /// takes the plan.
    pub(super) async fn take_plan(&mut self) -> io::Result<Option<DataPlan>> {
        let must_encrypt =
            self.tls_mandatory() || self.login.as_ref().is_some_and(|l| l.tls_required);
        if must_encrypt && !self.protect_data {
            self.reply(521, "Data connections must be encrypted: send PROT P")
                .await?;
            return Ok(None);
        }
        match self.plan.take() {
            Some(p) => Ok(Some(p)),
            None => {
                self.reply(425, "Use PORT, EPRT, PASV or EPSV first")
                    .await?;
                Ok(None)
            }
        }
    }

    /// Runs a data transfer already announced with 150, answering the control
    /// connection meanwhile: `ABOR` cancels, `NOOP`/`STAT` answer at once, anything
    /// else waits for the transfer to end.
    pub(super) async fn transfer(&mut self, plan: DataPlan, work: Work) -> io::Result<Flow> {
        let policy = DataPolicy {
            client_ip: self.peer.ip(),
            local_ip: self.local_ip(),
            same_ip_passive: self.listener.binding.passive_connections_security == 0,
            active_from_port_20: !self.listener.server.config.active_transfers_port_non_20,
            proxy: self.listener.proxy.clone(),
        };
        let tls = if self.protect_data {
            self.listener.tls.clone()
        } else {
            None
        };
        let idle = self.idle_timeout();
        let mut job: Job = Box::pin(run_job(plan, policy, tls, work, idle));
        let closer = self.closer.clone();
        loop {
            tokio::select! {
                result = &mut job => {
                    self.report(result).await?;
                    if self.quit_after_transfer {
                        self.reply(221, "Goodbye").await?;
                        return Ok(Flow::Quit);
                    }
                    return Ok(Flow::Continue);
                }
                () = closer.closed() => {
                    drop(job);
                    self.reply(421, "Connection closed by the administrator").await?;
                    return Ok(Flow::Quit);
                }
                line = self.ctrl.read_line() => {
                    let text = match line? {
                        Line::Command(t) => t,
                        Line::Closed | Line::TooLong => return Ok(Flow::Quit),
                        Line::NotUtf8 => {
                            self.reply(501, "Commands must be UTF-8").await?;
                            continue;
                        }
                    };
                    let (verb, _) = split_command(&text);
                    match verb.as_str() {
                        "ABOR" => {
                            drop(job);
                            self.reply(426, "Transfer aborted").await?;
                            self.reply(226, "ABOR successful").await?;
                            return Ok(Flow::Continue);
                        }
                        "NOOP" => self.reply(200, "NOOP ok").await?,
                        "STAT" => self.reply(213, "Transfer in progress").await?,
                        "QUIT" => self.quit_after_transfer = true,
                        _ if self.queued.len() >= MAX_QUEUED => {
                            self.reply(421, "Too many commands during a transfer").await?;
                            return Ok(Flow::Quit);
                        }
                        _ => self.queued.push_back(text),
                    }
                }
            }
        }
    }

    async fn report(&mut self, result: JobResult) -> io::Result<()> {
        match result {
            JobResult::Done => self.reply(226, "Transfer complete").await,
            JobResult::NoConnection(e) => {
                tracing::debug!(sender = "FTP", connection_id = %self.conn_id, error = %e, "data connection failed");
                self.reply(425, "Cannot open the data connection").await
            }
            JobResult::Failed(PumpError::Net(e)) => {
                tracing::debug!(sender = "FTP", connection_id = %self.conn_id, error = %e, "data connection broke");
                self.reply(426, "Data connection closed; transfer aborted")
                    .await
            }
            JobResult::Failed(PumpError::File(e)) => {
                let (code, text) = super::reply::for_transfer(&e);
                self.reply(code, &text).await
            }
        }
    }
}

/// Opens the data connection and moves the bytes. A transfer that fails is aborted
/// (an atomic upload's temporary file is discarded); dropping this future does the
/// same through the transfer's drop guard.
async fn run_job(
    plan: DataPlan,
    policy: DataPolicy,
    tls: Option<tokio_rustls::TlsAcceptor>,
    work: Work,
    idle: Duration,
) -> JobResult {
    use tokio::io::AsyncWriteExt;
    let mut stream: MaybeTls = match data::open(plan, &policy, tls.as_ref()).await {
        Ok(s) => s,
        Err(e) => {
            match work {
                Work::SendFile(t, _) | Work::Receive(t, _) => t.abort().await,
                Work::SendBytes(_) => {}
            }
            return JobResult::NoConnection(e);
        }
    };
    let (result, transfer) = match work {
        Work::SendFile(t, offset) => {
            let sent = match &mut stream {
                MaybeTls::Plain(tcp) => pump::send_plain(&t, offset, tcp, idle).await,
                MaybeTls::Tls(_) => pump::send(&t, offset, &mut stream, idle).await,
            };
            (sent.map(drop), Some(t))
        }
        Work::Receive(t, offset) => {
            let received = match &mut stream {
                MaybeTls::Plain(tcp) => pump::receive_plain(&t, offset, tcp, idle).await,
                MaybeTls::Tls(_) => pump::receive(&t, offset, &mut stream, idle).await,
            };
            (received.map(drop), Some(t))
        }
        Work::SendBytes(bytes) => (
            pump::within(idle, stream.write_all(&bytes))
                .await
                .map_err(PumpError::Net),
            None,
        ),
    };
    // Close the data connection (TLS close_notify, then FIN) before the final reply.
    let closed = match tokio::time::timeout(data::CONNECT_TIMEOUT, stream.shutdown()).await {
        Ok(r) => r,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "shutdown timed out",
        )),
    };
    // An upload that reached a clean end of data is complete even if the close then
    // fails (the client may reset right after); for a download or a listing, a failed
    // close means the client may not have everything, so it is reported.
    let upload = transfer
        .as_ref()
        .is_some_and(|t| t.kind() == sftpgo_core::connection::TransferKind::Upload);
    let result = match (result, closed) {
        (Ok(()), Err(e)) if !upload => Err(PumpError::Net(e)),
        (r, _) => r,
    };
    match (result, transfer) {
        (Ok(()), Some(t)) => match t.close().await {
            Ok(()) => JobResult::Done,
            Err(e) => JobResult::Failed(PumpError::File(e)),
        },
        (Ok(()), None) => JobResult::Done,
        (Err(e), Some(t)) => {
            t.abort().await;
            JobResult::Failed(e)
        }
        (Err(e), None) => JobResult::Failed(e),
    }
}

/// The user's `filters.ftp_security` asks for TLS.
fn requires_tls(user: &sftpgo_core::model::User) -> bool {
    user.filters
        .extra
        .get("ftp_security")
        .and_then(serde_json::Value::as_i64)
        == Some(1)
}

/// `VERB argument` with the verb upper-cased (RFC 959 §5.3: verbs are
/// case-insensitive; the argument is kept as sent, spaces included).
pub fn split_command(text: &str) -> (String, &str) {
    let text = text.trim_start();
    match text.split_once(' ') {
        Some((verb, arg)) => (verb.to_ascii_uppercase(), arg),
        None => (text.to_ascii_uppercase(), ""),
    }
}

/// The HASH draft's name of an algorithm.
pub fn hash_name(a: HashAlgo) -> &'static str {
    match a {
        HashAlgo::Md5 => "MD5",
        HashAlgo::Sha1 => "SHA-1",
        HashAlgo::Sha256 => "SHA-256",
        HashAlgo::Sha384 => "SHA-384",
        HashAlgo::Sha512 => "SHA-512",
    }
}

fn parse_hash_name(s: &str) -> Option<HashAlgo> {
    match s.trim().to_ascii_uppercase().as_str() {
        "MD5" => Some(HashAlgo::Md5),
        "SHA-1" => Some(HashAlgo::Sha1),
        "SHA-256" => Some(HashAlgo::Sha256),
        "SHA-512" => Some(HashAlgo::Sha512),
        _ => None,
    }
}

const HELP: &str = "Commands recognised:
ABOR ALLO APPE AUTH AVBL CDUP CLNT CWD DELE EPRT EPSV FEAT HASH HELP LIST MDTM MFMT
MKD MLSD MLST MODE NLST NOOP OPTS PASS PASV PBSZ PORT PROT PWD QUIT REST RETR RMD
RNFR RNTO SITE SIZE STAT STOR STOU STRU SYST TYPE USER XCUP XCWD XMD5 XMKD XPWD XRMD
XSHA1 XSHA256 XSHA512
Help OK";

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn commands_split_into_verb_and_raw_argument() {
        assert_eq!(split_command("retr a  b.txt"), ("RETR".into(), "a  b.txt"));
        assert_eq!(split_command("NOOP"), ("NOOP".into(), ""));
        assert_eq!(split_command("  cwd /x"), ("CWD".into(), "/x"));
    }
}
