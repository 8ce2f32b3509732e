//! The SFTP read and write path in process, over a real russh connection on loopback:
//! our server (`SshServer::serve_connection`, SFTP engine, `core::Connection`, local
//! back-end) on its own worker thread, and a minimal pipelined SFTP client built on
//! russh's client in the bench thread. 64 MiB per iteration, 256 KiB requests, 16 in
//! flight, aes128-gcm.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use russh::client;
use russh::keys::PublicKeyOrCertificate;
use sftpgo_core::auth::Authenticator;
use sftpgo_core::config::CommonConfig;
use sftpgo_core::connection::{FsFactory, Opener};
use sftpgo_core::model::User;
use sftpgo_core::sessions::{ConnectionLimiter, SessionRegistry};
use sftpgo_core::store::{StoreResult, UserStore};
use sftpgo_net::ssh::SshServer;
use sftpgo_net::ssh::sftp::codec::{Packet, Reader, kind, pflags, status};
use sftpgo_vfs::Fs;
use sftpgo_vfs::local::LocalFs;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const FILE_SIZE: u64 = 64 * 1024 * 1024;
const CHUNK: u32 = 256 * 1024;
const IN_FLIGHT: usize = 16;
const PASSWORD: &str = "bench-password";

/// One user, kept in memory.
struct OneUser(User);

#[async_trait]
impl UserStore for OneUser {
    async fn user_by_name(&self, username: &str) -> StoreResult<Option<User>> {
        Ok((username == self.0.username).then(|| self.0.clone()))
    }
    async fn add_user(&self, user: &User) -> StoreResult<User> {
        Ok(user.clone())
    }
    async fn update_user(&self, _: &User) -> StoreResult<()> {
        Ok(())
    }
    async fn delete_user(&self, _: &str) -> StoreResult<()> {
        Ok(())
    }
    async fn list_users(&self, _: i64, _: i64) -> StoreResult<Vec<User>> {
        Ok(vec![self.0.clone()])
    }
    async fn set_last_login(&self, _: &str, _: i64) -> StoreResult<()> {
        Ok(())
    }
}

struct HomeDirs;

impl FsFactory for HomeDirs {
    fn fs_for(&self, user: &User) -> sftpgo_core::Result<Arc<dyn Fs>> {
        Ok(Arc::new(LocalFs::new(std::path::Path::new(
            &user.home_dir,
        ))?))
    }
}

/// Starts the server on a worker thread; returns its port.
fn start_server(home: &std::path::Path, config_dir: &std::path::Path) -> u16 {
    let mut user = User {
        username: "bench".into(),
        status: 1,
        home_dir: home.display().to_string(),
        password: sftpgo_core::password::hash(PASSWORD).unwrap(),
        ..Default::default()
    };
    user.permissions.insert("/".into(), vec!["*".into()]);
    let config = sftpgo_net::ssh::Config::default();
    let keys = sftpgo_net::ssh::keys::load_or_generate(config_dir, &[]).unwrap();
    let server = Arc::new(SshServer {
        russh: Arc::new(config.russh_config(keys, 0, None)),
        config,
        common: CommonConfig::default(),
        auth: Authenticator::new(Arc::new(OneUser(user))),
        sessions: Arc::new(SessionRegistry::default()),
        limiter: Arc::new(ConnectionLimiter::new(0, 0)),
        defender: Arc::default(),
        opener: Arc::new(Opener::new(Arc::new(HomeDirs), Default::default())),
        banner: None,
        sftp_limits: Default::default(),
    });
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let (stream, peer) = listener.accept().await.unwrap();
                tokio::spawn(server.clone().serve_connection(stream, peer));
            }
        });
    });
    port
}

struct AcceptAny;

impl client::Handler for AcceptAny {
    type Error = russh::Error;
    async fn check_server_key(&mut self, _: &PublicKeyOrCertificate) -> Result<bool, Self::Error> {
        Ok(true)
    }
}

/// A pipelined SFTP client over one channel.
struct Client {
    stream: russh::ChannelStream<client::Msg>,
    next_id: u32,
    _session: client::Handle<AcceptAny>,
}

impl Client {
    async fn connect(port: u16) -> Self {
        let mut config = client::Config::default();
        config.preferred.cipher = std::borrow::Cow::Owned(vec![russh::cipher::AES_128_GCM]);
        config.window_size = 16 * 1024 * 1024;
        config.maximum_packet_size = 256 * 1024;
        config.nodelay = true;
        let mut session = client::connect(Arc::new(config), ("127.0.0.1", port), AcceptAny)
            .await
            .unwrap();
        assert!(
            session
                .authenticate_password("bench", PASSWORD)
                .await
                .unwrap()
                .success()
        );
        let channel = session.channel_open_session().await.unwrap();
        channel.request_subsystem(true, "sftp").await.unwrap();
        let mut c = Client {
            stream: channel.into_stream(),
            next_id: 0,
            _session: session,
        };
        c.stream
            .write_all(&[0, 0, 0, 5, 1, 0, 0, 0, 3])
            .await
            .unwrap();
        let (ty, _) = c.recv().await;
        assert_eq!(ty, kind::VERSION);
        c
    }

    async fn send(&mut self, p: Packet) {
        self.stream.write_all(&p.finish()).await.unwrap();
    }

    fn id(&mut self) -> u32 {
        self.next_id = self.next_id.wrapping_add(1);
        self.next_id
    }

    /// Next reply: (type, body after the type byte).
    async fn recv(&mut self) -> (u8, Bytes) {
        let len = self.stream.read_u32().await.unwrap() as usize;
        let mut body = vec![0u8; len];
        self.stream.read_exact(&mut body).await.unwrap();
        let ty = body[0];
        (ty, Bytes::from(body).slice(1..))
    }

    async fn open(&mut self, path: &str, flags: u32) -> Vec<u8> {
        let id = self.id();
        let mut p = Packet::new(kind::OPEN, Some(id), 64);
        p.bytes(path.as_bytes()).u32(flags).u32(0);
        self.send(p).await;
        let (ty, body) = self.recv().await;
        assert_eq!(ty, kind::HANDLE);
        let mut r = Reader::new(&body);
        r.u32().unwrap();
        r.bytes().unwrap().to_vec()
    }

    async fn close(&mut self, handle: &[u8]) {
        let id = self.id();
        let mut p = Packet::new(kind::CLOSE, Some(id), 16);
        p.bytes(handle);
        self.send(p).await;
        self.expect_status(status::OK).await;
    }

    async fn expect_status(&mut self, code: u32) -> u32 {
        let (ty, body) = self.recv().await;
        assert_eq!(ty, kind::STATUS);
        let mut r = Reader::new(&body);
        let id = r.u32().unwrap();
        assert_eq!(r.u32().unwrap(), code);
        id
    }

    /// Downloads the whole file with IN_FLIGHT reads outstanding; returns bytes read.
    async fn download(&mut self, path: &str) -> u64 {
        let handle = self.open(path, pflags::READ).await;
        let mut next_offset = 0u64;
        let mut pending = HashMap::new();
        let mut total = 0u64;
        loop {
            while pending.len() < IN_FLIGHT && next_offset < FILE_SIZE {
                let id = self.id();
                let mut p = Packet::new(kind::READ, Some(id), 32);
                p.bytes(&handle).u64(next_offset).u32(CHUNK);
                self.send(p).await;
                pending.insert(id, next_offset);
                next_offset += u64::from(CHUNK);
            }
            if pending.is_empty() {
                break;
            }
            let (ty, body) = self.recv().await;
            let mut r = Reader::new(&body);
            let id = r.u32().unwrap();
            pending.remove(&id).expect("reply to a pending read");
            assert_eq!(ty, kind::DATA);
            total += r.bytes().unwrap().len() as u64;
        }
        self.close(&handle).await;
        total
    }

    /// Uploads FILE_SIZE bytes with IN_FLIGHT writes outstanding.
    async fn upload(&mut self, path: &str, chunk: &[u8]) {
        let handle = self
            .open(path, pflags::WRITE | pflags::CREAT | pflags::TRUNC)
            .await;
        let mut next_offset = 0u64;
        let mut pending = 0usize;
        while next_offset < FILE_SIZE || pending > 0 {
            while pending < IN_FLIGHT && next_offset < FILE_SIZE {
                let id = self.id();
                let mut p = Packet::new(kind::WRITE, Some(id), 32 + chunk.len());
                p.bytes(&handle).u64(next_offset).bytes(chunk);
                self.send(p).await;
                pending += 1;
                next_offset += chunk.len() as u64;
            }
            self.expect_status(status::OK).await;
            pending -= 1;
        }
        self.close(&handle).await;
    }
}

fn transfers(c: &mut Criterion) {
    let home = tempfile::tempdir().unwrap();
    let config_dir = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("big.bin"), vec![5u8; FILE_SIZE as usize]).unwrap();
    let port = start_server(home.path(), config_dir.path());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // russh's channel stream needs a runtime when it is dropped at the end.
    let _enter = rt.enter();
    let mut client = rt.block_on(Client::connect(port));
    let chunk = vec![3u8; CHUNK as usize];

    let mut g = c.benchmark_group("sftp_in_process");
    g.throughput(Throughput::Bytes(FILE_SIZE));
    g.sample_size(10);
    g.bench_function("download_64MiB", |b| {
        b.iter(|| assert_eq!(rt.block_on(client.download("/big.bin")), FILE_SIZE))
    });
    g.bench_function("upload_64MiB", |b| {
        b.iter(|| rt.block_on(client.upload("/up.bin", &chunk)))
    });
    g.finish();
}

criterion_group!(benches, transfers);
criterion_main!(benches);
