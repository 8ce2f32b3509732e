//! The login path: looking the user up in the data provider (SQLite here) and checking a
//! password, with and without the two caches (`CachedUserStore` for the lookup,
//! `PasswordCache` for argon2id). Reported as logins per second.

use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sftpgo_core::auth::Authenticator;
use sftpgo_core::catalog::Catalog;
use sftpgo_core::model::NamingRules;
use sftpgo_core::model::User;
use sftpgo_core::store::{CachedUserStore, UserStore};
use sftpgo_providers::{Config, Provider};

const PASSWORD: &str = "bench-login-password";

/// The client every bench login comes from.
const CLIENT: sftpgo_core::auth::Client<'static> = sftpgo_core::auth::Client {
    protocol: "SSH",
    ip: std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
};

fn logins(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let catalog: Catalog = rt.block_on(async {
        let p = sftpgo_providers::open(&Config::default(), dir.path())
            .await
            .unwrap();
        p.initialize().await.unwrap();
        let p: Arc<dyn Provider> = p;
        let catalog = Catalog::new(p, NamingRules::default());
        let mut u = User {
            username: "bench".into(),
            status: 1,
            home_dir: "/srv/bench".into(),
            password: sftpgo_core::password::hash(PASSWORD).unwrap(),
            ..Default::default()
        };
        u.permissions.insert("/".into(), vec!["*".into()]);
        catalog.add_user(&u).await.unwrap();
        catalog
    });
    let store: Arc<dyn UserStore> = Arc::new(catalog);
    let cached: Arc<dyn UserStore> =
        Arc::new(CachedUserStore::new(store.clone(), Duration::from_secs(60)));
    let variants = [
        (
            "no_caches",
            Authenticator::new(store.clone()).with_password_caching(false),
        ),
        ("password_cache", Authenticator::new(store)),
        ("password_and_user_cache", Authenticator::new(cached)),
    ];
    let mut g = c.benchmark_group("password_login_sqlite");
    g.throughput(Throughput::Elements(1));
    for (name, auth) in variants {
        if name == "no_caches" {
            g.sample_size(10);
        } else {
            g.sample_size(50);
        }
        g.bench_function(name, |b| {
            b.iter(|| {
                rt.block_on(auth.password("bench", PASSWORD, CLIENT))
                    .expect("login")
            })
        });
    }
    g.finish();
}

criterion_group!(benches, logins);
criterion_main!(benches);
