//! The real binary on each data provider engine: users loaded from a dump, SFTP login
//! and transfers, then `resetprovider` cleaning up. PostgreSQL (127.0.0.1:5432, user
//! `postgres`, db `test`) and MariaDB/MySQL (127.0.0.1:3306, user `root`, db `test`) are
//! skipped with a message where they are not running.

mod common;

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::*;

fn reachable(port: u16) -> bool {
    TcpStream::connect_timeout(
        &SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(2),
    )
    .is_ok()
}

/// Serves from the given provider settings and checks a login and a round trip.
fn serve_and_transfer(label: &str, env: &[(&str, &str)]) {
    let mut builder = Server::builder();
    for (k, v) in env {
        builder = builder.env(k, v);
    }
    let mut srv = builder.start();
    let data = write_data(&srv.local().join("up.bin"), 300_000, 7);
    srv.sftp_batch(&["put up.bin /up.bin", "get /up.bin down.bin"])
        .assert_ok(&format!("sftp on the {label} provider"));
    assert_file_eq(&srv.home().join("up.bin"), &data, "uploaded file");
    assert_file_eq(&srv.local().join("down.bin"), &data, "downloaded file");
    let mut reset = sftpgo_cmd();
    reset
        .args(["resetprovider", "--force", "-l", "", "-c"])
        .arg(srv.config_dir())
        .envs(env.iter().copied());
    // Stop the server first: an embedded store's file is locked while it runs.
    srv.terminate();
    srv.wait_exit(Duration::from_secs(20))
        .expect("server stops on SIGTERM");
    run(&mut reset, Duration::from_secs(60)).assert_ok(&format!("resetprovider on {label}"));
}

#[test]
fn postgresql_provider_serves_logins() {
    if !reachable(5432) {
        eprintln!("SKIP postgresql_provider_serves_logins: nothing listens on 127.0.0.1:5432");
        return;
    }
    let prefix = format!("e2e{}_", std::process::id());
    serve_and_transfer(
        "PostgreSQL",
        &[
            ("SFTPGO_DATA_PROVIDER__DRIVER", "postgresql"),
            ("SFTPGO_DATA_PROVIDER__NAME", "test"),
            ("SFTPGO_DATA_PROVIDER__HOST", "127.0.0.1"),
            ("SFTPGO_DATA_PROVIDER__PORT", "5432"),
            ("SFTPGO_DATA_PROVIDER__USERNAME", "postgres"),
            ("SFTPGO_DATA_PROVIDER__SQL_TABLES_PREFIX", &prefix),
        ],
    );
}

#[test]
fn mysql_provider_serves_logins() {
    if !reachable(3306) {
        eprintln!("SKIP mysql_provider_serves_logins: nothing listens on 127.0.0.1:3306");
        return;
    }
    let prefix = format!("e2e{}_", std::process::id());
    serve_and_transfer(
        "MariaDB/MySQL",
        &[
            ("SFTPGO_DATA_PROVIDER__DRIVER", "mysql"),
            ("SFTPGO_DATA_PROVIDER__NAME", "test"),
            ("SFTPGO_DATA_PROVIDER__USERNAME", "root"),
            ("SFTPGO_DATA_PROVIDER__SQL_TABLES_PREFIX", &prefix),
        ],
    );
}

#[test]
fn redb_provider_serves_logins() {
    serve_and_transfer(
        "redb",
        &[
            ("SFTPGO_DATA_PROVIDER__DRIVER", "bolt"),
            ("SFTPGO_DATA_PROVIDER__NAME", "sftpgo.redb"),
        ],
    );
}

#[test]
fn memory_provider_serves_logins() {
    serve_and_transfer("memory", &[("SFTPGO_DATA_PROVIDER__DRIVER", "memory")]);
}

#[test]
fn unreachable_database_stops_start_up_with_the_cause() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = sftpgo_cmd();
    cmd.args(["initprovider", "-l", "", "-c"])
        .arg(tmp.path())
        .env("SFTPGO_DATA_PROVIDER__DRIVER", "postgresql")
        .env("SFTPGO_DATA_PROVIDER__NAME", "test")
        .env("SFTPGO_DATA_PROVIDER__PORT", free_port().to_string());
    let out = run(&mut cmd, Duration::from_secs(60));
    out.assert_refused("initprovider against a closed port");
    assert!(
        out.stderr.to_lowercase().contains("refused"),
        "the error names the cause: {}",
        out.report()
    );
}

#[test]
fn password_file_is_read_and_its_errors_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let init = |extra: &[(&str, &str)]| {
        let mut cmd = sftpgo_cmd();
        cmd.args(["initprovider", "-l", "", "-c"])
            .arg(tmp.path())
            .env("SFTPGO_DATA_PROVIDER__DRIVER", "mysql")
            .env("SFTPGO_DATA_PROVIDER__NAME", "test")
            .env("SFTPGO_DATA_PROVIDER__USERNAME", "root")
            .env("SFTPGO_DATA_PROVIDER__SQL_TABLES_PREFIX", "pwfile_")
            .envs(extra.iter().copied());
        run(&mut cmd, Duration::from_secs(60))
    };
    let out = init(&[("SFTPGO_DATA_PROVIDER__PASSWORD_FILE", "missing.txt")]);
    out.assert_refused("a password file that does not exist");
    assert!(out.stderr.contains("password_file"), "{}", out.report());
    if !reachable(3306) {
        eprintln!("SKIP password_file against MariaDB: nothing listens on 127.0.0.1:3306");
        return;
    }
    // root has no password on the test database: a password from the file must be sent
    // (and refused), proving the file is used.
    std::fs::write(tmp.path().join("db-pass.txt"), "not-the-password\n").unwrap();
    let out = init(&[("SFTPGO_DATA_PROVIDER__PASSWORD_FILE", "db-pass.txt")]);
    out.assert_refused("a wrong password from the file");
    assert!(
        out.stderr.to_lowercase().contains("access denied"),
        "{}",
        out.report()
    );
}

/// Connections from the server to PostgreSQL that use TLS, as PostgreSQL reports them.
fn pg_tls_connections() -> Option<u32> {
    let out = run(
        std::process::Command::new("psql").args([
            "host=127.0.0.1 user=postgres dbname=test sslmode=disable",
            "-Atc",
            "select count(*) from pg_stat_ssl join pg_stat_activity using (pid) \
             where ssl and datname = 'test' and pid <> pg_backend_pid()",
        ]),
        Duration::from_secs(30),
    );
    out.success()
        .then(|| out.stdout.trim().parse().ok())
        .flatten()
}

#[test]
fn postgresql_over_tls() {
    if !reachable(5432) || find_tool("psql").is_none() || pg_tls_connections().is_none() {
        eprintln!("SKIP postgresql_over_tls: no PostgreSQL on 127.0.0.1:5432 or no psql");
        return;
    }
    let psql_tls = run(
        std::process::Command::new("psql").args([
            "host=127.0.0.1 user=postgres dbname=test sslmode=require",
            "-Atc",
            "select 1",
        ]),
        Duration::from_secs(30),
    );
    if !psql_tls.success() {
        eprintln!("SKIP postgresql_over_tls: this PostgreSQL has TLS turned off");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let pg = |prefix: &str| {
        [
            ("SFTPGO_DATA_PROVIDER__DRIVER", "postgresql".to_string()),
            ("SFTPGO_DATA_PROVIDER__NAME", "test".to_string()),
            ("SFTPGO_DATA_PROVIDER__USERNAME", "postgres".to_string()),
            (
                "SFTPGO_DATA_PROVIDER__SQL_TABLES_PREFIX",
                prefix.to_string(),
            ),
        ]
    };
    let provider_cmd = |args: &[&str], dir: &std::path::Path, prefix: &str| {
        let mut cmd = sftpgo_cmd();
        cmd.args(args)
            .args(["-l", "", "-c"])
            .arg(dir)
            .envs(pg(prefix));
        cmd
    };
    let init = |mode: &str| {
        let mut cmd = provider_cmd(&["initprovider"], tmp.path(), "tls_");
        cmd.env("SFTPGO_DATA_PROVIDER__SSLMODE", mode);
        run(&mut cmd, Duration::from_secs(60))
    };
    // verify-full against a server certificate no public CA signed must fail.
    let out = init("3");
    out.assert_refused("sslmode 3 (verify-full) without a trusted certificate");
    init("1").assert_ok("sslmode 1 (require)");
    // client_cert/client_key reach the TLS layer: garbage is refused by name, a real
    // certificate is offered (this server does not ask for one) and the login works.
    std::fs::write(tmp.path().join("bad.pem"), "not a certificate").unwrap();
    let mut cmd = provider_cmd(&["initprovider"], tmp.path(), "tls_");
    cmd.env("SFTPGO_DATA_PROVIDER__SSLMODE", "1")
        .env("SFTPGO_DATA_PROVIDER__CLIENT_CERT", "bad.pem")
        .env("SFTPGO_DATA_PROVIDER__CLIENT_KEY", "bad.pem");
    let out = run(&mut cmd, Duration::from_secs(60));
    out.assert_refused("a client certificate that is not one");
    assert!(
        out.stderr.to_lowercase().contains("cert") || out.stderr.to_lowercase().contains("pem"),
        "the error is about the certificate\n{}",
        out.report()
    );
    if find_tool("openssl").is_some() {
        run(
            std::process::Command::new("openssl")
                .args([
                    "req",
                    "-x509",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-256",
                ])
                .args(["-nodes", "-subj", "/CN=postgres", "-days", "1"])
                .arg("-keyout")
                .arg(tmp.path().join("client.key"))
                .arg("-out")
                .arg(tmp.path().join("client.crt")),
            Duration::from_secs(30),
        )
        .assert_ok("openssl makes a client certificate");
        let mut cmd = provider_cmd(&["initprovider"], tmp.path(), "tls_");
        cmd.env("SFTPGO_DATA_PROVIDER__SSLMODE", "1")
            .env("SFTPGO_DATA_PROVIDER__CLIENT_CERT", "client.crt")
            .env("SFTPGO_DATA_PROVIDER__CLIENT_KEY", "client.key");
        run(&mut cmd, Duration::from_secs(60)).assert_ok("a valid client certificate");
    }
    let prefix = format!("tls{}_", std::process::id());
    let mut builder = Server::builder().env("SFTPGO_DATA_PROVIDER__SSLMODE", "1");
    for (k, v) in pg(&prefix) {
        builder = builder.env(k, &v);
    }
    let srv = builder.start();
    srv.sftp_batch(&["ls /"])
        .assert_ok("sftp with the provider over TLS");
    assert!(
        pg_tls_connections().unwrap_or(0) >= 1,
        "the server's database connections use TLS"
    );
    let mut reset = provider_cmd(&["resetprovider", "--force"], &srv.config_dir(), &prefix);
    drop(srv);
    run(&mut reset, Duration::from_secs(60)).assert_ok("resetprovider");
    let mut reset = provider_cmd(&["resetprovider", "--force"], tmp.path(), "tls_");
    run(&mut reset, Duration::from_secs(60)).assert_ok("resetprovider");
}
