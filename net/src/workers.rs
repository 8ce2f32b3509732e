//! Thread-per-core workers: a current-thread tokio runtime per core, each accepting on
//! its own `SO_REUSEPORT` socket of every binding of every protocol.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::sync::watch;

use crate::proxy_protocol::ProxyProtocol;

/// Stack of a worker thread.
const WORKER_STACK: usize = 16 * 1024 * 1024;

/// The future serving one connection.
pub type ServeFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Something that serves accepted TCP connections.
pub trait Service: Send + Sync + 'static {
    /// Serves one connection from client `peer` to its end.
    fn serve(self: Arc<Self>, stream: tokio::net::TcpStream, peer: SocketAddr) -> ServeFuture;
}

impl Service for crate::ssh::SshServer {
    fn serve(self: Arc<Self>, stream: tokio::net::TcpStream, peer: SocketAddr) -> ServeFuture {
        Box::pin(self.serve_connection(stream, peer))
    }
}

impl Service for crate::ftp::FtpListener {
    fn serve(self: Arc<Self>, stream: tokio::net::TcpStream, peer: SocketAddr) -> ServeFuture {
        Box::pin(self.serve_connection(stream, peer))
    }
}

impl Service for crate::webdav::DavListener {
    fn serve(self: Arc<Self>, stream: tokio::net::TcpStream, peer: SocketAddr) -> ServeFuture {
        Box::pin(self.serve_connection(stream, peer))
    }
}

/// A listening address and the service behind it.
#[derive(Clone)]
pub struct Listen {
    /// Where to listen.
    pub addr: SocketAddr,
    /// What serves its connections.
    pub service: Arc<dyn Service>,
    /// PROXY protocol settings, when the binding applies them.
    pub proxy: Option<Arc<ProxyProtocol>>,
}

/// Binds a listening socket with `SO_REUSEPORT` so every worker can own one.
pub fn bind_reuseport(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(false).ok();
    }
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// Running workers.
pub struct Workers {
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Workers {
    /// Starts `count` workers, each accepting on its own socket of every address in
    /// `listens`. All sockets are bound before any thread starts, so a bind error is
    /// reported here. On shutdown each worker stops accepting and lets open connections
    /// finish for up to `grace`. Before sleeping, a worker spins for up to `busy_poll`
    /// on sockets in the middle of an exchange ([`crate::busy_poll`]; zero: never).
    pub fn start(
        count: usize,
        listens: &[Listen],
        shutdown: watch::Receiver<bool>,
        grace: Duration,
        busy_poll: Duration,
    ) -> std::io::Result<Self> {
        let mut per_worker = Vec::with_capacity(count);
        for _ in 0..count.max(1) {
            let listeners = listens
                .iter()
                .map(|l| Ok((bind_reuseport(l.addr)?, l.clone())))
                .collect::<std::io::Result<Vec<_>>>()?;
            per_worker.push(listeners);
        }
        let mut threads = Vec::new();
        for (i, listeners) in per_worker.into_iter().enumerate() {
            let shutdown = shutdown.clone();
            let t = std::thread::Builder::new()
                .name(format!("worker-{i}"))
                // Headroom for recursive parsers in protocol crates (inputs are also
                // bounded before they reach them).
                .stack_size(WORKER_STACK)
                .spawn(move || {
                    crate::busy_poll::enable(busy_poll);
                    worker_main(i, listeners, shutdown, grace);
                })?;
            threads.push(t);
        }
        Ok(Self { threads })
    }

    /// Waits for every worker to stop.
    pub fn join(self) {
        for t in self.threads {
            let _ = t.join();
        }
    }
}

fn worker_main(
    index: usize,
    listeners: Vec<(std::net::TcpListener, Listen)>,
    mut shutdown: watch::Receiver<bool>,
    grace: Duration,
) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .on_thread_park(crate::busy_poll::before_park)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(worker = index, error = %e, "cannot start worker runtime");
            return;
        }
    };
    let active = Arc::new(AtomicUsize::new(0));
    let active_conns = active.clone();
    rt.block_on(async move {
        let mut accept_tasks = Vec::new();
        for (l, Listen { service, proxy, .. }) in listeners {
            let listener = match tokio::net::TcpListener::from_std(l) {
                Ok(l) => l,
                Err(e) => {
                    tracing::error!(worker = index, error = %e, "cannot register listener");
                    continue;
                }
            };
            let active = active_conns.clone();
            let mut stop = shutdown.clone();
            accept_tasks.push(tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = stop.changed() => break,
                        res = listener.accept() => match res {
                            Ok((mut stream, upstream)) => {
                                let (service, proxy) = (service.clone(), proxy.clone());
                                let guard = ActiveGuard::new(active.clone());
                                tokio::spawn(async move {
                                    let peer = match &proxy {
                                        Some(p) => p.client_of(&mut stream, upstream).await,
                                        None => Some(upstream),
                                    };
                                    if let Some(peer) = peer {
                                        service.serve(stream, peer).await;
                                    }
                                    drop(guard);
                                });
                            }
                            Err(e) => {
                                tracing::warn!(worker = index, error = %e, "accept failed");
                                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                            }
                        }
                    }
                }
            }));
        }
        let _ = shutdown.changed().await;
        for t in accept_tasks {
            let _ = t.await;
        }
        let deadline = tokio::time::Instant::now() + grace;
        while active_conns.load(Ordering::Acquire) > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let left = active_conns.load(Ordering::Acquire);
        if left > 0 {
            tracing::info!(
                worker = index,
                connections = left,
                "closing connections still open after the grace time"
            );
        }
    });
    // Dropping the runtime cancels the remaining connection tasks.
}

/// Counts a connection as active until dropped.
struct ActiveGuard(Arc<AtomicUsize>);

impl ActiveGuard {
    fn new(counter: Arc<AtomicUsize>) -> Self {
        counter.fetch_add(1, Ordering::AcqRel);
        Self(counter)
    }
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}
