//! The REST API over loopback HTTP/1.1 keep-alive, in-process against SQLite:
//! `GET /api/v2/users?limit=100` with a Bearer token (100 users with folders joined),
//! `GET /api/v2/users/{username}`, and `GET /api/v2/token` (Basic auth, argon2id).
//! Reported as requests per second of one client connection.

use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sftpgo_core::catalog::Catalog;
use sftpgo_core::model::{Admin, NamingRules, User};
use sftpgo_providers::{Config, Provider};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// One request on a keep-alive connection; returns the status code.
async fn request(conn: &mut BufReader<TcpStream>, path: &str, auth: &str) -> u16 {
    let req = format!("GET {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: {auth}\r\n\r\n");
    conn.get_mut().write_all(req.as_bytes()).await.unwrap();
    let mut head = Vec::with_capacity(512);
    while !head.ends_with(b"\r\n\r\n") {
        head.push(conn.read_u8().await.unwrap());
    }
    let head = String::from_utf8(head).unwrap();
    let status: u16 = head[9..12].parse().unwrap();
    let len: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .unwrap();
    let mut body = vec![0u8; len];
    conn.read_exact(&mut body).await.unwrap();
    status
}

fn rest(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (addr, token, _stop) = rt.block_on(async {
        let p = sftpgo_providers::open(&Config::default(), dir.path())
            .await
            .unwrap();
        p.initialize().await.unwrap();
        let p: Arc<dyn Provider> = p;
        let catalog = Catalog::new(p, NamingRules::default());
        catalog
            .add(&Admin {
                username: "bench".into(),
                password: "bench-pass".into(),
                permissions: vec!["*".into()],
                ..Admin::default()
            })
            .await
            .unwrap();
        for i in 0..100 {
            let mut u = User {
                username: format!("user{i:03}"),
                home_dir: format!("/srv/user{i:03}"),
                password: "$2b$04$unused".into(),
                ..User::default()
            };
            u.permissions.insert("/".into(), vec!["*".into()]);
            catalog.add(&u).await.unwrap();
        }
        let cfg = sftpgo_httpd::Config::default();
        let state = Arc::new(sftpgo_httpd::HttpState::new(catalog, &cfg, "bench-key"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop_tx, stop) = tokio::sync::watch::channel(false);
        let (token, _) = state.tokens.issue(
            "bench",
            sftpgo_httpd::auth::API_AUDIENCE,
            std::net::IpAddr::from([127, 0, 0, 1]),
            0,
        );
        tokio::spawn(sftpgo_httpd::server::serve(
            listener,
            state,
            sftpgo_httpd::server::ListenerSettings {
                tls: None,
                proxy: sftpgo_httpd::proxy::ProxyPolicy::default(),
                security: sftpgo_httpd::security::Security::default(),
                preamble: None,
            },
            stop,
        ));
        (addr, format!("Bearer {token}"), stop_tx)
    });
    let mut conn = rt.block_on(async { BufReader::new(TcpStream::connect(addr).await.unwrap()) });
    let mut g = c.benchmark_group("rest_api");
    g.throughput(Throughput::Elements(1));
    g.measurement_time(Duration::from_secs(5));
    g.bench_function("list_100_users", |b| {
        b.iter(|| {
            rt.block_on(async {
                assert_eq!(
                    request(&mut conn, "/api/v2/users?limit=100", &token).await,
                    200
                );
            })
        })
    });
    g.bench_function("get_one_user", |b| {
        b.iter(|| {
            rt.block_on(async {
                assert_eq!(
                    request(&mut conn, "/api/v2/users/user042", &token).await,
                    200
                );
            })
        })
    });
    g.sample_size(10);
    g.bench_function("token_basic_auth_argon2id", |b| {
        let basic = "Basic YmVuY2g6YmVuY2gtcGFzcw=="; // bench:bench-pass
        b.iter(|| {
            rt.block_on(async {
                assert_eq!(request(&mut conn, "/api/v2/token", basic).await, 200);
            })
        })
    });
    g.finish();
}

criterion_group!(benches, rest);
criterion_main!(benches);
