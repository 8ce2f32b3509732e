//! `serve`: wiring the layers together.

use std::sync::Arc;
use std::time::Duration;

use sftpgo_core::auth::Authenticator;
use sftpgo_core::connection::Opener;
use sftpgo_core::sessions::{ConnectionLimiter, SessionRegistry};
use sftpgo_net::ftp::{FtpListener, FtpServer};
use sftpgo_net::ssh::SshServer;
use sftpgo_net::workers::{Listen, Workers};

use crate::cli::{ConfigArgs, LoadDataArgs};
use crate::config::{self, AppConfig};

/// Loads the configuration and starts logging.
pub fn setup(args: &ConfigArgs) -> Result<AppConfig, String> {
    let dir = &args.config_dir;
    let loaded = config::load(dir, args.config_file.as_deref())?;
    let log_path = if args.log_file_path.is_empty()
        || std::path::Path::new(&args.log_file_path).is_absolute()
    {
        args.log_file_path.clone()
    } else {
        dir.join(&args.log_file_path).display().to_string()
    };
    crate::logging::init(&log_path, &args.log_level)?;
    if let Some(f) = &loaded.file {
        tracing::info!(file = %f.display(), "configuration loaded");
    } else {
        tracing::info!(dir = %dir.display(), "no configuration file found, using defaults");
    }
    for w in &loaded.warnings {
        tracing::warn!("{w}");
    }
    sftpgo_core::password::configure(loaded.config.data_provider.password_hashing);
    Ok(loaded.config)
}

/// The multi-thread runtime for the provider, the REST API and cloud back-ends.
pub fn side_runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("side")
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start runtime: {e}"))
}

/// `sftpgo serve`.
pub fn serve(args: &ConfigArgs, load: &LoadDataArgs, grace_time: u64) -> Result<(), String> {
    let cfg = setup(args)?;
    let rt = side_runtime()?;
    let catalog = rt.block_on(async {
        let catalog = crate::provider_cmds::open(&cfg, args, false).await?;
        crate::provider_cmds::load_data(&catalog, load).await?;
        crate::provider_cmds::ensure_default_admin(&cfg, &catalog).await?;
        Ok::<_, String>(catalog)
    })?;
    let keys = sftpgo_net::ssh::keys::load_or_generate(&args.config_dir, &cfg.sftpd.host_keys)?;
    let banner =
        if cfg.sftpd.login_banner_file.is_empty() {
            None
        } else {
            let p = args.config_dir.join(&cfg.sftpd.login_banner_file);
            Some(std::fs::read_to_string(&p).map_err(|e| {
                format!("sftpd.login_banner_file: cannot read {}: {e}", p.display())
            })?)
        };
    let russh = Arc::new(
        cfg.sftpd
            .russh_config(keys, cfg.common.idle_timeout, banner.clone()),
    );
    let sessions = Arc::new(SessionRegistry::default());
    let store: Arc<dyn sftpgo_core::store::UserStore> =
        provider_as_store(catalog.clone(), cfg.data_provider.driver);
    // One set of connection caps for every protocol, as SFTPGo counts them.
    let limiter = Arc::new(ConnectionLimiter::new(
        cfg.common.max_total_connections,
        cfg.common.max_per_host_connections,
    ));
    // The defender, with the allow list and its own lists loaded before the first
    // connection and kept current on the side runtime.
    let defender = Arc::new(
        sftpgo_core::defender::Defender::new(cfg.common.defender.clone())
            .with_allowlist(cfg.common.allowlist_status == 1)
            .with_rate_limiters(&cfg.common.rate_limiters),
    );
    defender.set_lists(
        rt.block_on(sftpgo_core::iplists::load(&catalog))
            .map_err(|e| format!("cannot load the IP lists: {e}"))?,
    );
    // One TOTP checker (and its replay memory) for every protocol.
    let totp =
        Arc::new(sftpgo_core::mfa::Totp::new(cfg.mfa.clone()).map_err(|e| format!("mfa: {e}"))?);
    // One authenticator (and password cache) for SSH and FTP.
    let auth = Authenticator::new(store.clone())
        .with_password_caching(cfg.data_provider.password_caching)
        .with_passcodes(totp.clone(), catalog.kms().clone());
    // One way to open a user's session (storage, upload mode, quota) for every
    // protocol.
    let track = sftpgo_core::usage::TrackQuota::try_from(i64::from(cfg.data_provider.track_quota))
        .map_err(|e| format!("data_provider.{e}"))?;
    let opener = Arc::new(
        Opener::new(
            Arc::new(crate::fs_factory::Backends),
            cfg.common.upload_mode,
        )
        .with_quota(Arc::new(sftpgo_core::usage::QuotaTracker::new(
            Arc::new(catalog.clone()),
            track,
        ))),
    );
    // The Event Manager: file events of every session, on-demand runs through the REST
    // API, schedules on the side runtime, quota scans shared with the REST API.
    sftpgo_core::events::set_enabled_commands(&cfg.common.event_manager.enabled_commands);
    let scans = Arc::new(sftpgo_core::quota::QuotaScans::default());
    let events = sftpgo_core::events::EventManager::new(
        catalog.clone(),
        opener.clone(),
        scans.clone(),
        args.config_dir.join(&cfg.data_provider.backups_path),
        Some(Arc::new(crate::outbound::ServerOutbound {
            smtp: cfg.smtp.clone(),
        })),
        rt.handle().clone(),
    );
    let ban_listener: std::sync::Weak<dyn sftpgo_core::defender::BanListener> =
        Arc::downgrade(&events) as _;
    defender.set_listener(ban_listener);
    let shared = Shared {
        limiter,
        sessions,
        defender,
        totp,
        opener,
        scans,
        events,
        proxy: sftpgo_net::proxy_protocol::ProxyProtocol::from_config(&cfg.common).map(Arc::new),
    };
    let server = Arc::new(SshServer {
        config: cfg.sftpd.clone(),
        common: cfg.common.clone(),
        russh,
        auth: auth.clone(),
        sessions: shared.sessions.clone(),
        limiter: shared.limiter.clone(),
        defender: shared.defender.clone(),
        opener: shared.opener.clone(),
        banner,
        sftp_limits: Default::default(),
    });
    let mut listens = Vec::new();
    for b in cfg.sftpd.bindings.iter().filter(|b| b.port != 0) {
        let addr = socket_addr("sftpd", &b.address, b.port)?;
        let proxy = shared.proxy.clone().filter(|_| b.apply_proxy_config);
        tracing::info!(sender = "sftpd", address = %addr, proxy_protocol = proxy.is_some(),
            "SFTP server listening");
        listens.push(Listen {
            addr,
            service: server.clone(),
            proxy,
        });
    }
    listens.extend(ftp_listeners(&cfg, args, &auth, &shared)?);
    listens.extend(dav_listeners(&cfg, args, &auth, &shared)?);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    rt.spawn(shared.events.clone().schedule_loop(stop_rx.clone()));
    rt.spawn(sftpgo_core::iplists::watch(
        catalog.clone(),
        shared.defender.clone(),
        stop_rx.clone(),
    ));
    start_http(&rt, &cfg, args, catalog, store, shared, &stop_rx)?;
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let running = if listens.is_empty() {
        tracing::warn!("no SFTP, FTP or WebDAV binding enabled");
        None
    } else {
        let addrs: Vec<_> = listens.iter().map(|l| l.addr).collect();
        let busy_poll = Duration::from_micros(cfg.common.busy_poll_us);
        let w = Workers::start(
            workers,
            &listens,
            stop_rx,
            Duration::from_secs(grace_time),
            busy_poll,
        )
        .map_err(|e| format!("cannot listen on {addrs:?}: {e}"))?;
        tracing::info!(workers, "workers started");
        Some(w)
    };
    rt.block_on(wait_for_signal());
    tracing::info!("shutdown requested");
    let _ = stop_tx.send(true);
    if let Some(w) = running {
        w.join();
    }
    tracing::info!("stopped");
    Ok(())
}

/// One listener per enabled `ftpd` binding, sharing one FTP server.
fn ftp_listeners(
    cfg: &AppConfig,
    args: &ConfigArgs,
    auth: &Authenticator,
    shared: &Shared,
) -> Result<Vec<Listen>, String> {
    let bindings: Vec<_> = cfg.ftpd.bindings.iter().filter(|b| b.port != 0).collect();
    if bindings.is_empty() {
        return Ok(Vec::new());
    }
    let banner = if cfg.ftpd.banner_file.is_empty() {
        sftpgo_net::ftp::DEFAULT_BANNER.to_string()
    } else {
        let p = args.config_dir.join(&cfg.ftpd.banner_file);
        std::fs::read_to_string(&p)
            .map_err(|e| format!("ftpd.banner_file: cannot read {}: {e}", p.display()))?
            .trim_end()
            .to_string()
    };
    let server = Arc::new(FtpServer {
        config: cfg.ftpd.clone(),
        common: cfg.common.clone(),
        auth: auth.clone(),
        sessions: shared.sessions.clone(),
        limiter: shared.limiter.clone(),
        defender: shared.defender.clone(),
        opener: shared.opener.clone(),
        banner,
        passive_ports: sftpgo_net::ftp::PassivePorts::new(cfg.ftpd.passive_port_range),
    });
    let mut out = Vec::new();
    for b in bindings {
        let addr = socket_addr("ftpd", &b.address, b.port)?;
        let tls = sftpgo_net::ftp::tls::acceptor(&cfg.ftpd, b, &args.config_dir)
            .map_err(|e| format!("ftpd: {e}"))?;
        let proxy = shared.proxy.clone().filter(|_| b.apply_proxy_config);
        tracing::info!(sender = "ftpd", address = %addr, tls_mode = ?b.tls_mode,
            tls = tls.is_some(), proxy_protocol = proxy.is_some(), "FTP server listening");
        out.push(Listen {
            addr,
            service: Arc::new(FtpListener {
                server: server.clone(),
                binding: b.clone(),
                tls,
                proxy: proxy.clone(),
            }),
            proxy,
        });
    }
    Ok(out)
}

/// One listener per enabled `webdavd` binding, sharing one lock table.
fn dav_listeners(
    cfg: &AppConfig,
    args: &ConfigArgs,
    auth: &Authenticator,
    shared: &Shared,
) -> Result<Vec<Listen>, String> {
    let bindings: Vec<_> = cfg
        .webdavd
        .bindings
        .iter()
        .filter(|b| b.port != 0)
        .collect();
    if bindings.is_empty() {
        return Ok(Vec::new());
    }
    let server = Arc::new(sftpgo_net::webdav::DavServer {
        common: cfg.common.clone(),
        auth: auth.clone(),
        sessions: shared.sessions.clone(),
        limiter: shared.limiter.clone(),
        defender: shared.defender.clone(),
        opener: shared.opener.clone(),
        locks: Default::default(),
        props: Default::default(),
        cache: cfg.webdavd.cache.clone(),
        cors: cfg.webdavd.cors.clone(),
    });
    let mut out = Vec::new();
    for b in bindings {
        let addr = socket_addr("webdavd", &b.address, b.port)?;
        let tls = sftpgo_net::webdav::acceptor(&cfg.webdavd, b, &args.config_dir)
            .map_err(|e| format!("webdavd: {e}"))?;
        tracing::info!(sender = "webdavd", address = %addr, https = tls.is_some(),
            prefix = %b.prefix, "WebDAV server listening");
        let proxy = if b.proxy_mode == 1 {
            Some(shared.proxy.clone().ok_or_else(|| {
                "webdavd.bindings.proxy_mode 1 needs common.proxy_protocol 1 or 2".to_string()
            })?)
        } else {
            None
        };
        out.push(Listen {
            addr,
            service: Arc::new(sftpgo_net::webdav::DavListener::new(server.clone(), b, tls)),
            proxy,
        });
    }
    Ok(out)
}

/// `address:port` of a binding; an empty address means every interface.
fn socket_addr(section: &str, address: &str, port: u16) -> Result<std::net::SocketAddr, String> {
    let host = if address.is_empty() {
        "0.0.0.0"
    } else {
        address
    };
    format!("{host}:{port}")
        .parse()
        .or_else(|_| format!("[{host}]:{port}").parse())
        .map_err(|_| format!("{section}.bindings: invalid address {host:?}"))
}

/// Starts the REST API on the side runtime for every `httpd` binding that serves it.
/// What every protocol shares about connections.
struct Shared {
    /// Caps checked when a connection is accepted.
    limiter: Arc<ConnectionLimiter>,
    /// Authenticated connections (max_sessions, listing, closing).
    sessions: Arc<SessionRegistry>,
    /// Brute-force protection.
    defender: Arc<sftpgo_core::defender::Defender>,
    /// TOTP passcode checks.
    totp: Arc<sftpgo_core::mfa::Totp>,
    /// Opens users' sessions (storage, upload mode, quota).
    opener: Arc<Opener>,
    /// `common.proxy_protocol` for SSH and FTP bindings that apply it.
    proxy: Option<Arc<sftpgo_net::proxy_protocol::ProxyProtocol>>,
    /// Quota scans running (REST API and event actions).
    scans: Arc<sftpgo_core::quota::QuotaScans>,
    /// The Event Manager.
    events: Arc<sftpgo_core::events::EventManager>,
}

fn start_http(
    rt: &tokio::runtime::Runtime,
    cfg: &AppConfig,
    args: &ConfigArgs,
    catalog: sftpgo_core::catalog::Catalog,
    store: Arc<dyn sftpgo_core::store::UserStore>,
    shared: Shared,
    stop: &tokio::sync::watch::Receiver<bool>,
) -> Result<(), String> {
    let proxy = shared.proxy.clone();
    let bindings: Vec<_> = cfg
        .httpd
        .bindings
        .iter()
        .filter(|b| b.port != 0 && b.enable_rest_api)
        .collect();
    if bindings.is_empty() {
        return Ok(());
    }
    let signing = if cfg.httpd.signing_passphrase_file.is_empty() {
        cfg.httpd.signing_passphrase.clone()
    } else {
        let file = args.config_dir.join(&cfg.httpd.signing_passphrase_file);
        std::fs::read_to_string(&file)
            .map_err(|e| {
                format!(
                    "httpd.signing_passphrase_file: cannot read {}: {e}",
                    file.display()
                )
            })?
            .trim()
            .to_string()
    };
    let ssh_bindings: Vec<serde_json::Value> = cfg
        .sftpd
        .bindings
        .iter()
        .filter(|b| b.port != 0)
        .map(|b| serde_json::json!({"address": b.address, "port": b.port}))
        .collect();
    let ftp_bindings: Vec<serde_json::Value> = cfg
        .ftpd
        .bindings
        .iter()
        .filter(|b| b.port != 0)
        .map(|b| serde_json::json!({"address": b.address, "port": b.port, "tls_mode": b.tls_mode}))
        .collect();
    let dav_bindings: Vec<serde_json::Value> = cfg
        .webdavd
        .bindings
        .iter()
        .filter(|b| b.port != 0)
        .map(|b| serde_json::json!({"address": b.address, "port": b.port, "enable_https": b.enable_https, "prefix": b.prefix}))
        .collect();
    let status = serde_json::json!({
        "ssh": {"is_active": !ssh_bindings.is_empty(), "bindings": ssh_bindings},
        "ftp": {"is_active": !ftp_bindings.is_empty(), "bindings": ftp_bindings},
        "webdav": {"is_active": !dav_bindings.is_empty(), "bindings": dav_bindings},
        "data_provider": {"driver": cfg.data_provider.driver.as_str()},
        "defender": {"is_active": cfg.common.defender.enabled},
        "mfa": {"is_active": false},
    });
    let state = Arc::new(
        sftpgo_httpd::HttpState::new(catalog, &cfg.httpd, &signing)
            .with_backups_dir(args.config_dir.join(&cfg.data_provider.backups_path))
            .with_status(status)
            .with_limiter(shared.limiter)
            .with_sessions(shared.sessions)
            .with_defender(shared.defender)
            .with_totp(shared.totp)
            .with_events(shared.scans, shared.events)
            .with_user_api(sftpgo_httpd::routes::user::UserApi {
                auth: Authenticator::new(store)
                    .with_password_caching(cfg.data_provider.password_caching),
                opener: shared.opener,
            }),
    );
    for b in bindings {
        let addr = socket_addr("httpd", &b.address, b.port)?;
        let tls = if b.enable_https {
            Some(
                sftpgo_httpd::tls::acceptor(&cfg.httpd, b, &args.config_dir)
                    .map_err(|e| format!("httpd: {e}"))?,
            )
        } else {
            None
        };
        let https = tls.is_some();
        let listener = rt
            .block_on(tokio::net::TcpListener::bind(addr))
            .map_err(|e| format!("httpd: cannot listen on {addr}: {e}"))?;
        let preamble: Option<Arc<dyn sftpgo_httpd::server::Preamble>> = if b.proxy_mode == 1 {
            let proxy = proxy.clone().ok_or_else(|| {
                "httpd.bindings.proxy_mode 1 needs common.proxy_protocol 1 or 2".to_string()
            })?;
            Some(Arc::new(ProxyPreamble(proxy)))
        } else {
            None
        };
        let settings = sftpgo_httpd::server::ListenerSettings {
            tls,
            proxy: sftpgo_httpd::proxy::ProxyPolicy::of(b),
            security: sftpgo_httpd::security::Security::new(b.security.clone())
                .map_err(|e| format!("httpd.bindings.security: {e}"))?,
            preamble,
        };
        rt.spawn(sftpgo_httpd::server::serve(
            listener,
            state.clone(),
            settings,
            stop.clone(),
        ));
        tracing::info!(sender = "httpd", address = %addr, https,
            proxy_protocol = b.proxy_mode == 1, "REST API listening");
    }
    Ok(())
}

/// `proxy_mode` 1 of an HTTP binding: the PROXY header, read by the same code as for
/// SSH and FTP.
struct ProxyPreamble(Arc<sftpgo_net::proxy_protocol::ProxyProtocol>);

#[async_trait::async_trait]
impl sftpgo_httpd::server::Preamble for ProxyPreamble {
    async fn client(
        &self,
        stream: &mut tokio::net::TcpStream,
        peer: std::net::SocketAddr,
    ) -> Option<std::net::SocketAddr> {
        self.0.client_of(stream, peer).await
    }
}

/// The login path's view of the provider: a user cache in front of it. Embedded
/// databases only change through this process, so cached users live a minute; a
/// PostgreSQL/MySQL database may be shared with other servers, so there the cache only
/// absorbs bursts (see `CachedUserStore`).
fn provider_as_store(
    catalog: sftpgo_core::catalog::Catalog,
    driver: sftpgo_providers::Driver,
) -> Arc<dyn sftpgo_core::store::UserStore> {
    use sftpgo_providers::Driver;
    let ttl = match driver {
        Driver::Postgresql | Driver::Mysql | Driver::Cockroachdb => Duration::from_secs(2),
        Driver::Sqlite | Driver::Bolt | Driver::Memory => Duration::from_secs(60),
    };
    Arc::new(sftpgo_core::store::CachedUserStore::new(
        Arc::new(catalog),
        ttl,
    ))
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
