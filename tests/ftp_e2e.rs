//! FTP/FTPS against the real binary with lftp, curl and a raw control connection:
//! transfers in every data-connection mode, resume both ways, listings, TLS (explicit,
//! implicit, required), anonymous users, and bad input that must not escape the home
//! directory or take the server down.

mod common;

use std::fs;
use std::io::{Read, Write};
use std::process::Command;
use std::time::Duration;

use common::ftp::*;
use common::*;

fn alice_ftp() -> FtpServer {
    start_ftp(Server::builder())
}

#[test]
fn lftp_transfers_100_mib_in_passive_epsv_and_active_modes() {
    let f = alice_ftp();
    let local = f.srv.local();
    let data = write_data(&local.join("big.bin"), 100 * MIB, 7);
    for (mode, settings) in [
        ("epsv", "set ftp:passive-mode on; set ftp:prefer-epsv yes;"),
        ("pasv", "set ftp:passive-mode on; set ftp:prefer-epsv no;"),
        (
            "active",
            "set ftp:passive-mode off; set ftp:port-ipv4 127.0.0.1;",
        ),
    ] {
        let out = f.lftp_as(
            USER,
            &format!("{LFTP_PLAIN} {settings}"),
            &format!(
                "mkdir {mode}; put big.bin -o {mode}/up.bin; get {mode}/up.bin -o down-{mode}.bin"
            ),
        );
        out.assert_ok(&format!("lftp {mode}"));
        assert_file_eq(
            &f.srv.home().join(mode).join("up.bin"),
            &data,
            &format!("{mode} upload"),
        );
        assert_file_eq(
            &local.join(format!("down-{mode}.bin")),
            &data,
            &format!("{mode} download"),
        );
    }
    // The same file read back over SFTP: one policy engine, one storage.
    f.srv
        .sftp_batch(&["get epsv/up.bin sftp-copy.bin"])
        .assert_ok("sftp reads the FTP upload");
    assert_file_eq(&local.join("sftp-copy.bin"), &data, "sftp copy");
}

#[test]
fn directory_commands_and_listings() {
    let f = alice_ftp();
    let home = f.srv.ensure_home();
    write_file(&home.join("docs/a.txt"), b"alpha");
    write_file(&home.join("docs/b b.txt"), b"bravo!");
    let out = f.lftp(
        "cd docs; mkdir sub; mv a.txt sub/renamed.txt; rm 'b b.txt'; cls -l; \
         mkdir gone; rmdir gone; set ftp:use-mlsd on; cls -l sub",
    );
    out.assert_ok("lftp directory commands");
    assert!(out.stdout.contains("renamed.txt"), "{}", out.report());
    assert!(home.join("docs/sub/renamed.txt").is_file());
    assert!(!home.join("docs/b b.txt").exists());
    assert!(!home.join("docs/gone").exists());
    // LIST (ls -l lines), NLST and MLSD through curl.
    let list = f.curl("/docs/sub/", &[]);
    list.assert_ok("LIST");
    assert!(list.stdout.starts_with("-rw"), "{}", list.stdout);
    assert!(
        list.stdout.trim_end().ends_with(" renamed.txt"),
        "{}",
        list.stdout
    );
    let names = f.curl("/docs/", &["--list-only"]);
    assert_eq!(names.stdout.trim(), "sub", "{}", names.report());
    let mlsd = f.curl("/docs/sub/", &["-X", "MLSD"]);
    assert!(
        mlsd.stdout.contains("type=file;size=5;") && mlsd.stdout.contains("; renamed.txt"),
        "{}",
        mlsd.report()
    );
    // SIZE, MDTM and MFMT on the control connection.
    let mut raw = f.raw();
    raw.login(USER, PASSWORD);
    assert_eq!(
        raw.cmd("SIZE /docs/sub/renamed.txt"),
        (213, "213 5\r\n".into())
    );
    let (c, t) = raw.cmd("MFMT 20200102030405 docs/sub/renamed.txt");
    assert_eq!(c, 213, "{t}");
    assert_eq!(
        mtime_secs(&home.join("docs/sub/renamed.txt")),
        1_577_934_245
    );
    assert_eq!(
        raw.cmd("MDTM docs/sub/renamed.txt").1,
        "213 20200102030405\r\n"
    );
    assert_eq!(raw.cmd("CWD docs").0, 250);
    assert_eq!(
        raw.cmd("PWD").1,
        "257 \"/docs\" is the current directory\r\n"
    );
    assert_eq!(raw.cmd("CDUP").0, 250);
    // STOU picks the name.
    let mut data = raw.epsv();
    let (c, t) = raw.cmd("STOU");
    assert_eq!(c, 150, "{t}");
    let name = t.trim().rsplit(' ').next().unwrap().to_string();
    data.write_all(b"unique").unwrap();
    drop(data);
    assert_eq!(raw.reply().0, 226);
    assert_eq!(fs::read(home.join(&name)).unwrap(), b"unique");
    let (c, t) = raw.cmd("MLST docs/sub/renamed.txt");
    assert!(
        c == 250 && t.contains("type=file;size=5;modify=20200102030405;"),
        "{t}"
    );
    let (c, t) = raw.cmd("FEAT");
    assert!(
        c == 211 && t.contains(" MLST ") && t.contains(" EPSV"),
        "{t}"
    );
    assert!(
        !t.contains("AUTH TLS"),
        "no certificate, no TLS offered: {t}"
    );
}

#[test]
fn resume_downloads_and_uploads_with_curl_and_lftp() {
    let f = alice_ftp();
    let local = f.srv.local();
    let home = f.srv.ensure_home();
    let data = write_data(&home.join("file.bin"), 3 * MIB + 123, 11);
    // Download resume (REST + RETR): curl continues a partial local copy.
    write_file(&local.join("part.bin"), &data[..MIB]);
    f.curl("/file.bin", &["-C", "-", "-o", "part.bin"])
        .assert_ok("curl resume download");
    assert_file_eq(&local.join("part.bin"), &data, "resumed download");
    // Upload resume with APPE: curl -C - asks SIZE then appends.
    write_file(&home.join("up.bin"), &data[..2 * MIB]);
    write_file(&local.join("whole.bin"), &data);
    f.curl("/up.bin", &["-C", "-", "-T", "whole.bin"])
        .assert_ok("curl resume upload");
    assert_file_eq(&home.join("up.bin"), &data, "appended upload");
    // Upload resume with REST + STOR: lftp put -c.
    write_file(&home.join("up2.bin"), &data[..MIB + 7]);
    f.lftp("put -c whole.bin -o up2.bin")
        .assert_ok("lftp put -c");
    assert_file_eq(&home.join("up2.bin"), &data, "REST+STOR upload");
    // lftp get -c.
    write_file(&local.join("part2.bin"), &data[..5]);
    f.lftp("get -c file.bin -o part2.bin")
        .assert_ok("lftp get -c");
    assert_file_eq(&local.join("part2.bin"), &data, "lftp resumed download");
}

#[test]
fn explicit_and_implicit_tls() {
    require_tools(&["openssl"]);
    let builder = Server::builder()
        .env("SFTPGO_FTPD__CERTIFICATE_FILE", "server.crt")
        .env("SFTPGO_FTPD__CERTIFICATE_KEY_FILE", "server.key");
    make_pki(&builder.root().join("cfg"));
    let implicit = free_port();
    let f = start_ftp(
        builder
            .env("SFTPGO_FTPD__BINDINGS__1__PORT", &implicit.to_string())
            .env("SFTPGO_FTPD__BINDINGS__1__ADDRESS", "127.0.0.1")
            .env("SFTPGO_FTPD__BINDINGS__1__TLS_MODE", "2"),
    );
    let local = f.srv.local();
    let data = write_data(&local.join("s.bin"), 20 * MIB, 3);
    let out = f.lftp_as(
        USER,
        LFTP_TLS,
        "put s.bin -o tls.bin; get tls.bin -o back.bin; cls",
    );
    out.assert_ok("lftp over explicit TLS");
    assert_file_eq(&f.srv.home().join("tls.bin"), &data, "TLS upload");
    assert_file_eq(&local.join("back.bin"), &data, "TLS download");
    // curl: explicit (AUTH TLS, PROT P) and implicit (ftps://).
    f.curl("/tls.bin", &["--ssl-reqd", "-k", "-o", "curl-explicit.bin"])
        .assert_ok("curl explicit TLS");
    assert_file_eq(&local.join("curl-explicit.bin"), &data, "curl explicit");
    let out = run(
        Command::new("curl")
            .args([
                "-sS",
                "-k",
                "--user",
                &format!("{USER}:{PASSWORD}"),
                "-o",
                "curl-implicit.bin",
            ])
            .arg(format!("ftps://127.0.0.1:{implicit}/tls.bin"))
            .current_dir(&local),
        CLIENT_TIMEOUT,
    );
    out.assert_ok("curl implicit TLS");
    assert_file_eq(&local.join("curl-implicit.bin"), &data, "curl implicit");
    // The greeting is followed by AUTH TLS in FEAT; commands pipelined after AUTH TLS
    // (a STARTTLS injection) end the connection.
    let mut raw = f.raw();
    assert!(raw.cmd("FEAT").1.contains("AUTH TLS"));
    raw.send_raw(b"AUTH TLS\r\nUSER alice\r\n");
    let (c, _) = raw.reply();
    assert_eq!(c, 234);
    assert!(
        raw.is_closed(),
        "pipelined commands after AUTH TLS must close the connection"
    );
}

#[test]
fn tls_required_by_binding_or_by_user() {
    require_tools(&["openssl"]);
    let builder = Server::builder()
        .env("SFTPGO_FTPD__CERTIFICATE_FILE", "server.crt")
        .env("SFTPGO_FTPD__CERTIFICATE_KEY_FILE", "server.key")
        .user("bob", |u| {
            u["filters"]["ftp_security"] = serde_json::json!(1)
        });
    make_pki(&builder.root().join("cfg"));
    let required = free_port();
    let f = start_ftp(
        builder
            .env("SFTPGO_FTPD__BINDINGS__1__PORT", &required.to_string())
            .env("SFTPGO_FTPD__BINDINGS__1__ADDRESS", "127.0.0.1")
            .env("SFTPGO_FTPD__BINDINGS__1__TLS_MODE", "1"),
    );
    // bob needs TLS on the optional binding (refused at USER, before his password
    // travels in clear text); alice does not.
    let mut raw = f.raw();
    let (c, t) = raw.cmd("USER bob");
    assert_eq!(c, 530, "{t}");
    f.lftp_as("bob", LFTP_PLAIN, "cls")
        .assert_refused("bob over plain FTP");
    f.lftp_as("bob", LFTP_TLS, "cls").assert_ok("bob over TLS");
    f.lftp("cls").assert_ok("alice over plain FTP");
    // On the TLS-required binding nobody logs in in clear text, and data must be
    // encrypted too.
    let mut raw = Raw::connect(required);
    let (c, t) = raw.cmd("USER alice");
    assert_eq!(c, 530, "{t}");
    let tls_only = FtpServer {
        srv: f.srv,
        port: required,
    };
    tls_only
        .lftp_as(USER, LFTP_TLS, "cls")
        .assert_ok("alice over TLS on the required binding");
    let clear_data = LFTP_TLS
        .replace(
            "set ftp:ssl-protect-data yes;",
            "set ftp:ssl-protect-data no;",
        )
        .replace(
            "set ftp:ssl-protect-list yes;",
            "set ftp:ssl-protect-list no;",
        );
    tls_only
        .lftp_as(USER, &clear_data, "cls")
        .assert_refused("clear-text data on the required binding");
}

/// curl over explicit TLS presenting the client certificate `cert` (`<cert>.crt` and
/// `.key` in the config dir; none when empty), logged in as `user` with `password`,
/// listing `/`.
fn curl_with_cert(f: &FtpServer, cert: &str, user: &str, password: &str) -> CmdOutput {
    let cfg = f.srv.config_dir();
    let mut cmd = Command::new("curl");
    cmd.args([
        "-sS",
        "--ssl-reqd",
        "-k",
        "--user",
        &format!("{user}:{password}"),
    ]);
    if !cert.is_empty() {
        cmd.arg("--cert")
            .arg(cfg.join(format!("{cert}.crt")))
            .arg("--key")
            .arg(cfg.join(format!("{cert}.key")));
    }
    cmd.arg(format!("ftp://127.0.0.1:{}/", f.port));
    run(&mut cmd, CLIENT_TIMEOUT)
}

#[test]
fn client_certificates_log_users_in() {
    require_tools(&["openssl", "curl"]);
    let builder = Server::builder()
        .env("SFTPGO_FTPD__CERTIFICATE_FILE", "server.crt")
        .env("SFTPGO_FTPD__CERTIFICATE_KEY_FILE", "server.key")
        .env("SFTPGO_FTPD__CA_CERTIFICATES", "ca.crt")
        .env("SFTPGO_FTPD__BINDINGS__0__CLIENT_AUTH_TYPE", "2");
    let cfg = builder.root().join("cfg");
    make_pki(&cfg);
    for name in ["carl", "bob", "alice", "erin"] {
        make_client_cert(&cfg, name, name);
    }
    let listed = fs::read_to_string(cfg.join("client.crt")).unwrap();
    // alice (the default user) maps no certificate: her password as usual.
    let builder = builder
        // carl: his certificate alone (TLSCertificate).
        .user("carl", |u| {
            u["filters"]["tls_username"] = "CommonName".into()
        })
        // bob: certificate and password, nothing less.
        .user("bob", |u| {
            u["filters"]["tls_username"] = "CommonName".into();
            u["filters"]["denied_login_methods"] =
                serde_json::json!(["TLSCertificate", "password"]);
        })
        // dave: one listed certificate, whatever its CN.
        .user("dave", |u| {
            u["filters"]["tls_certs"] = serde_json::json!([listed])
        })
        // erin maps certificates but allows neither certificate method.
        .user("erin", |u| {
            u["filters"]["tls_username"] = "CommonName".into();
            u["filters"]["denied_login_methods"] =
                serde_json::json!(["TLSCertificate", "TLSCertificate+password"]);
        });
    let f = start_ftp(builder);
    for user in ["carl", "bob", "dave"] {
        let home = f.srv.home_of(user);
        fs::create_dir_all(&home).unwrap();
        fs::write(home.join(format!("{user}s.txt")), b"x").unwrap();
    }
    f.srv.ensure_home();

    let out = curl_with_cert(&f, "carl", "carl", "");
    out.assert_ok("carl by certificate, no password");
    assert!(out.stdout.contains("carls.txt"), "{}", out.report());
    curl_with_cert(&f, "carl", "carl", "wrong-password")
        .assert_ok("the certificate logs carl in before any password");
    curl_with_cert(&f, "bob", "carl", PASSWORD).assert_refused("carl with bob's certificate");
    curl_with_cert(&f, "", "carl", PASSWORD).assert_ok("carl by password, no certificate");

    let out = curl_with_cert(&f, "bob", "bob", PASSWORD);
    out.assert_ok("bob with certificate and password");
    assert!(out.stdout.contains("bobs.txt"), "{}", out.report());
    curl_with_cert(&f, "bob", "bob", "wrong-password")
        .assert_refused("bob's certificate with a wrong password");
    curl_with_cert(&f, "bob", "bob", "").assert_refused("bob's certificate alone");
    curl_with_cert(&f, "", "bob", PASSWORD).assert_refused("bob's password alone");
    curl_with_cert(&f, "carl", "bob", PASSWORD)
        .assert_refused("bob's password with carl's certificate");

    curl_with_cert(&f, "carl", USER, PASSWORD).assert_ok("alice's password with any certificate");
    curl_with_cert(&f, "alice", USER, "").assert_refused("alice without her password");

    let out = curl_with_cert(&f, "client", "dave", "");
    out.assert_ok("dave by his listed certificate");
    assert!(out.stdout.contains("daves.txt"), "{}", out.report());
    curl_with_cert(&f, "carl", "dave", "").assert_refused("dave with an unlisted certificate");

    curl_with_cert(&f, "erin", "erin", PASSWORD)
        .assert_refused("erin: both certificate methods denied");
    assert!(
        f.srv.log_tail().contains("TLSCertificate+password"),
        "the login method is logged"
    );
}

#[test]
fn paths_never_leave_the_home_directory() {
    let f = alice_ftp();
    let home = f.srv.ensure_home();
    write_file(&home.join("mine.txt"), b"mine");
    let outside = f.srv.root().join("outside.txt");
    write_file(&outside, b"secret outside the home");
    std::os::unix::fs::symlink(&outside, home.join("escape")).unwrap();
    std::os::unix::fs::symlink(f.srv.root(), home.join("escape-dir")).unwrap();
    let mut raw = f.raw();
    raw.login(USER, PASSWORD);
    // `..` past the root stays at the root; encoded dots are names, not parents.
    for p in [
        "../../../../etc/passwd",
        "/../../etc/passwd",
        "..%2f..%2fetc%2fpasswd",
        "%2e%2e/%2e%2e/etc/passwd",
    ] {
        let (c, t) = raw.cmd(&format!("SIZE {p}"));
        assert_eq!(c, 550, "SIZE {p}: {t}");
    }
    assert_eq!(raw.cmd("CWD ../../..").0, 250);
    assert_eq!(raw.cmd("PWD").1, "257 \"/\" is the current directory\r\n");
    assert_eq!(raw.cmd("SIZE mine.txt").1, "213 4\r\n");
    // Symlinks to outside the home are not followed.
    let (c, t) = raw.cmd("SIZE escape");
    assert_ne!(c, 213, "a symlink escape must not resolve: {t}");
    let (c, t) = raw.cmd("CWD escape-dir");
    assert_ne!(c, 250, "a directory symlink escape must not resolve: {t}");
    let out = f.curl("/escape", &["-o", "stolen.txt"]);
    out.assert_refused("RETR through a symlink escape");
    assert!(
        !f.srv.local().join("stolen.txt").exists()
            || fs::read(f.srv.local().join("stolen.txt"))
                .unwrap()
                .is_empty()
    );
    // Per-directory permissions: /ro is list+download only.
    write_file(&home.join("ro/r.txt"), b"read only");
    write_file(&f.srv.local().join("x.txt"), b"x");
    f.curl("/ro/x.txt", &["-T", "x.txt"])
        .assert_refused("upload into /ro");
    f.curl("/ro/r.txt", &["-o", "r.txt"])
        .assert_ok("download from /ro");
    assert!(!home.join("ro/x.txt").exists());
    // A directory with its own rules cannot be moved out from under them (it would
    // inherit the permissions of its new place).
    assert_eq!(raw.cmd("RNFR ro").0, 350);
    assert_eq!(raw.cmd("RNTO opened").0, 550);
    assert!(home.join("ro/r.txt").exists() && !home.join("opened").exists());
    // A FIFO planted in the home is refused at once (opening it must not park the
    // worker until a writer appears).
    run(
        Command::new("mkfifo").arg(home.join("pipe")),
        Duration::from_secs(10),
    )
    .assert_ok("mkfifo");
    let _data = raw.epsv();
    let (c, t) = raw.cmd("RETR pipe");
    assert!(c == 553 || c == 550, "RETR of a FIFO: {t}");
    assert_eq!(raw.cmd("NOOP").0, 200);
    // Temp names of atomic uploads are not reachable.
    let (c, _) = raw.cmd("DELE .sftpgo-upload.x.mine.txt");
    assert_eq!(c, 550);
}

#[test]
fn bounce_oversized_lines_and_bad_commands_get_errors() {
    let f = alice_ftp();
    let mut raw = f.raw();
    assert_eq!(raw.cmd("LIST").0, 530, "commands need a login");
    raw.login(USER, PASSWORD);
    // FTP bounce: PORT/EPRT to a third-party address or a privileged port.
    assert_eq!(raw.cmd("PORT 10,1,2,3,195,80").0, 504);
    assert_eq!(raw.cmd("EPRT |1|192.0.2.1|50000|").0, 504);
    assert_eq!(raw.cmd("PORT 127,0,0,1,0,25").0, 504);
    assert_eq!(raw.cmd("PORT 127,0,0,1,999,1").0, 501);
    assert_eq!(raw.cmd("EPRT |9|x|1|").0, 501);
    assert_eq!(raw.cmd("RETR nothing-here").0, 550);
    assert_eq!(raw.cmd("STOR x").0, 425, "no data connection set up");
    assert_eq!(raw.cmd("RNTO x").0, 503);
    assert_eq!(raw.cmd("BOGUS").0, 502);
    assert_eq!(raw.cmd("REST abc").0, 501);
    // Invalid UTF-8 is refused; the connection lives on.
    raw.send_raw(b"CWD \xc3\x28\xa0\r\n");
    assert_eq!(raw.reply().0, 501);
    assert_eq!(raw.cmd("NOOP").0, 200);
    // An oversized line gets an error and the connection ends.
    raw.send_raw(&vec![b'A'; 20_000]);
    let (c, _) = raw.reply();
    assert_eq!(c, 500);
    assert!(raw.is_closed());
    // An unterminated command does not block other clients.
    let mut stuck = f.raw();
    stuck.send_raw(b"USER alice");
    let mut other = f.raw();
    other.login(USER, PASSWORD);
    assert_eq!(other.cmd("NOOP").0, 200);
    // Three wrong passwords end the connection.
    let mut guess = f.raw();
    for i in 0..3 {
        assert_eq!(guess.cmd(&format!("USER {USER}")).0, 331);
        let (c, t) = guess.cmd("PASS wrong");
        assert_eq!(c, 530, "attempt {i}: {t}");
    }
    let (c, _) = guess.reply();
    assert_eq!(c, 421);
    assert!(guess.is_closed());
}

#[test]
fn abort_mid_transfer_and_keep_the_session() {
    let f = start_ftp(Server::builder().env("SFTPGO_COMMON__UPLOAD_MODE", "1"));
    let home = f.srv.ensure_home();
    write_data(&home.join("big.bin"), 64 * MIB, 5);
    let mut raw = f.raw();
    raw.login(USER, PASSWORD);
    let mut data = raw.epsv();
    let (c, t) = raw.cmd("RETR big.bin");
    assert_eq!(c, 150, "{t}");
    let mut buf = vec![0u8; 64 * 1024];
    data.read_exact(&mut buf).unwrap();
    // Stop reading; the server is blocked on a full socket when ABOR arrives.
    raw.send_raw(b"\xff\xf4\xff\xf2ABOR\r\n");
    let (c1, t1) = raw.reply();
    assert_eq!(c1, 426, "{t1}");
    let (c2, t2) = raw.reply();
    assert_eq!(c2, 226, "{t2}");
    drop(data);
    assert_eq!(raw.cmd("NOOP").0, 200);
    // With atomic uploads, one aborted halfway leaves no partial file under the final
    // name and no temporary file.
    let mut data = raw.epsv();
    assert_eq!(raw.cmd("STOR partial.bin").0, 150);
    data.write_all(&vec![1u8; MIB]).unwrap();
    raw.send_raw(b"ABOR\r\n");
    assert_eq!(raw.reply().0, 426);
    assert_eq!(raw.reply().0, 226);
    drop(data);
    assert_eq!(raw.cmd("NOOP").0, 200);
    assert!(!home.join("partial.bin").exists());
    let leftovers: Vec<_> = fs::read_dir(&home)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(".sftpgo-upload")
        })
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn anonymous_users_only_list_and_download() {
    let f = start_ftp(Server::builder().user("guest", |u| {
        u["filters"]["is_anonymous"] = serde_json::json!(true);
    }));
    let home = f.srv.home_of("guest");
    write_file(&home.join("pub.txt"), b"public");
    write_file(&f.srv.local().join("up.txt"), b"upload");
    let out = run(
        Command::new("curl")
            .args([
                "-sS",
                "--user",
                "guest:any-password-at-all",
                "-o",
                "pub.txt",
            ])
            .arg(format!("ftp://127.0.0.1:{}/pub.txt", f.port))
            .current_dir(f.srv.local()),
        CLIENT_TIMEOUT,
    );
    out.assert_ok("anonymous download");
    assert_file_eq(
        &f.srv.local().join("pub.txt"),
        b"public",
        "anonymous download",
    );
    let mut raw = f.raw();
    raw.login("guest", "whatever");
    assert_eq!(raw.cmd("MKD newdir").0, 550);
    assert_eq!(raw.cmd("DELE pub.txt").0, 550);
    assert!(home.join("pub.txt").exists());
    // SSH is denied to anonymous users.
    f.srv
        .ssh_as("guest", &f.srv.client_key, &["pwd"])
        .assert_refused("anonymous over SSH");
}

#[test]
fn optional_commands_follow_the_config() {
    let f = start_ftp(
        Server::builder()
            .env("SFTPGO_FTPD__HASH_SUPPORT", "true")
            .env("SFTPGO_FTPD__ENABLE_SITE", "true")
            .env("SFTPGO_FTPD__COMBINE_SUPPORT", "true"),
    );
    let home = f.srv.ensure_home();
    write_file(&home.join("h.txt"), b"hash me");
    write_file(&home.join("p1"), b"first-");
    write_file(&home.join("p2"), b"second");
    let mut raw = f.raw();
    raw.login(USER, PASSWORD);
    let sha256 = local_digest("sha256sum", &home.join("h.txt"));
    assert_eq!(raw.cmd("XSHA256 h.txt").1, format!("250 {sha256}\r\n"));
    assert_eq!(
        raw.cmd("HASH h.txt").1,
        format!("213 SHA-256 0-7 {sha256} h.txt\r\n")
    );
    assert_eq!(raw.cmd("OPTS HASH MD5").0, 200);
    let md5 = local_digest("md5sum", &home.join("h.txt"));
    assert!(raw.cmd("HASH h.txt").1.contains(&md5));
    assert_eq!(raw.cmd("SITE CHMOD 600 h.txt").0, 200);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        fs::metadata(home.join("h.txt"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    assert_eq!(raw.cmd("SITE SYMLINK h.txt link.txt").0, 200);
    assert_eq!(fs::read(home.join("link.txt")).unwrap(), b"hash me");
    // Links may not reach a tree with its own rules, nor the root, nor a file whose
    // directory forbids links (/ro is list+download).
    write_file(&home.join("ro/r.txt"), b"r");
    assert_eq!(raw.cmd("SITE SYMLINK ro ro-link").0, 550);
    assert_eq!(raw.cmd("SITE SYMLINK / root-link").0, 550);
    assert_eq!(raw.cmd("SITE SYMLINK ro/r.txt r-link").0, 550);
    assert!(!home.join("ro-link").exists() && !home.join("r-link").exists());
    assert_eq!(raw.cmd("COMB joined p1 p2").0, 200);
    assert_eq!(fs::read(home.join("joined")).unwrap(), b"first-second");
    assert!(!home.join("p1").exists() && !home.join("p2").exists());
    // An existing target is appended to; a target among the parts is refused.
    write_file(&home.join("p3"), b"-third");
    assert_eq!(raw.cmd("COMB joined p3").0, 200);
    assert_eq!(
        fs::read(home.join("joined")).unwrap(),
        b"first-second-third"
    );
    assert_eq!(raw.cmd("COMB joined joined").0, 501);
    // Off by default.
    let plain = alice_ftp();
    let mut raw = plain.raw();
    raw.login(USER, PASSWORD);
    assert_eq!(raw.cmd("XSHA256 h.txt").0, 502);
    assert_eq!(raw.cmd("SITE CHMOD 600 h.txt").0, 502);
    assert_eq!(raw.cmd("COMB a b").0, 502);
}

#[test]
fn sessions_are_listed_limited_and_closed() {
    let port = free_port();
    let rest = free_port();
    let both = Server::builder()
        .user("bob", |u| u["max_sessions"] = serde_json::json!(1))
        .env("SFTPGO_FTPD__BINDINGS__0__PORT", &port.to_string())
        .env("SFTPGO_FTPD__BINDINGS__0__ADDRESS", "127.0.0.1")
        .env("SFTPGO_HTTPD__BINDINGS__0__PORT", &rest.to_string())
        .env("SFTPGO_HTTPD__BINDINGS__0__ADDRESS", "127.0.0.1")
        .env("SFTPGO_DATA_PROVIDER__CREATE_DEFAULT_ADMIN", "true")
        .env("SFTPGO_DEFAULT_ADMIN_USERNAME", "root")
        .env("SFTPGO_DEFAULT_ADMIN_PASSWORD", "root-pass-1")
        .start();
    let api = common::api::Api {
        base: format!("http://127.0.0.1:{rest}"),
    };
    let mut first = Raw::connect(port);
    first.login("bob", PASSWORD);
    let mut second = Raw::connect(port);
    assert_eq!(second.cmd("USER bob").0, 331);
    let (c, t) = second.cmd(&format!("PASS {PASSWORD}"));
    assert_eq!(c, 530, "max_sessions=1: {t}");
    let token = api.token("root", "root-pass-1");
    let list = api.call(
        "GET",
        "/api/v2/connections",
        &common::api::bearer(&token),
        None,
    );
    let conns = list.body.as_array().cloned().unwrap_or_default();
    let ftp = conns
        .iter()
        .find(|c| c["protocol"] == "FTP" && c["username"] == "bob")
        .unwrap_or_else(|| panic!("FTP session not listed: {}", list.raw));
    let id = ftp["connection_id"].as_str().unwrap().to_string();
    let closed = api.call(
        "DELETE",
        &format!("/api/v2/connections/{id}"),
        &common::api::bearer(&token),
        None,
    );
    assert_eq!(closed.status, 200, "{}", closed.raw);
    let (c, _) = first.reply();
    assert_eq!(c, 421, "the closed session is told why");
    assert!(first.is_closed());
    std::thread::sleep(Duration::from_millis(200));
    let mut third = Raw::connect(port);
    third.login("bob", PASSWORD);
    drop(both);
}

#[test]
fn two_factor_users_append_the_passcode_to_the_password() {
    let secret = sftpgo_core::mfa::base32_encode(b"ftp-two-factor-secret-20");
    let f = start_ftp(Server::builder().user("tina", |u| {
        u["filters"]["totp_config"] = serde_json::json!({
            "enabled": true,
            "config_name": "Default",
            "secret": {"status": "Plain", "payload": secret},
            "protocols": ["FTP"]
        });
    }));
    let now = || now_millis() / 1000;
    let code = sftpgo_core::mfa::passcode_at("sha1", &secret, now()).unwrap();
    let attempt = |pass: &str| {
        let mut raw = f.raw();
        assert_eq!(raw.cmd("USER tina").0, 331);
        raw.cmd(&format!("PASS {pass}")).0
    };
    assert_eq!(attempt(PASSWORD), 530, "the password alone is not enough");
    assert_eq!(
        attempt(&format!("{PASSWORD}000000")),
        530,
        "a wrong passcode"
    );
    assert_eq!(
        attempt(&format!("{PASSWORD}{code}")),
        230,
        "password + passcode"
    );
    assert_eq!(
        attempt(&format!("{PASSWORD}{code}")),
        530,
        "a passcode is accepted once"
    );
    assert_eq!(attempt(&format!("wrong-pass{code}")), 530);
}

/// A directory on a tmpfs (`/dev/shm`), where plain uploads are spliced from the socket
/// into the file; `None` where there is no such file system.
fn tmpfs_dir() -> Option<tempfile::TempDir> {
    let out = Command::new("stat")
        .args(["-f", "-c", "%T", "/dev/shm"])
        .output()
        .ok()?;
    if String::from_utf8_lossy(&out.stdout).trim() != "tmpfs" {
        return None;
    }
    tempfile::Builder::new()
        .prefix("sftpgo-e2e-shm-")
        .tempdir_in("/dev/shm")
        .ok()
}

#[test]
fn spliced_uploads_into_a_tmpfs_home_keep_every_byte_and_the_quota() {
    let Some(shm) = tmpfs_dir() else {
        eprintln!("SKIP: /dev/shm is not a tmpfs here, so uploads are not spliced");
        return;
    };
    let quota = MIB + 100;
    let f = start_ftp(
        Server::builder()
            .user("ram", |u| {
                u["home_dir"] = serde_json::json!(shm.path().join("ram"));
            })
            .user("tight", |u| {
                u["home_dir"] = serde_json::json!(shm.path().join("tight"));
                u["quota_size"] = serde_json::json!(quota);
            }),
    );
    let local = f.srv.local();
    let data = write_data(&local.join("big.bin"), 40 * MIB + 5, 9);
    let ram = shm.path().join("ram");
    // Whole uploads, and REST + STOR from an odd offset into a partial file.
    f.lftp_as("ram", LFTP_PLAIN, "put big.bin -o up.bin")
        .assert_ok("lftp put to tmpfs");
    assert_file_eq(&ram.join("up.bin"), &data, "spliced upload");
    write_file(&ram.join("part.bin"), &data[..7 * MIB + 3]);
    f.lftp_as("ram", LFTP_PLAIN, "put -c big.bin -o part.bin")
        .assert_ok("lftp put -c to tmpfs");
    assert_file_eq(&ram.join("part.bin"), &data, "spliced REST+STOR");
    // APPE (the file is opened for appending: written through the buffered path).
    write_file(&ram.join("app.bin"), &data[..MIB]);
    run(
        Command::new("curl")
            .args(["-sS", "--user", &format!("ram:{PASSWORD}"), "-C", "-"])
            .args(["-T", "big.bin"])
            .arg(format!("ftp://127.0.0.1:{}/app.bin", f.port))
            .current_dir(&local),
        CLIENT_TIMEOUT,
    )
    .assert_ok("curl APPE to tmpfs");
    assert_file_eq(&ram.join("app.bin"), &data, "appended upload");
    // The same bytes over SFTP.
    f.srv
        .sftp_batch_as(
            "ram",
            &f.srv.client_key,
            &["get up.bin sftp-copy.bin"],
            CLIENT_TIMEOUT,
        )
        .assert_ok("sftp reads the spliced upload");
    assert_file_eq(&local.join("sftp-copy.bin"), &data, "sftp copy");

    // Quota: a file of exactly the room left fits; one byte more is refused.
    let tight = shm.path().join("tight");
    write_file(&local.join("exact.bin"), &data[..quota]);
    f.lftp_as("tight", LFTP_PLAIN, "put exact.bin -o exact.bin")
        .assert_ok("upload filling the quota");
    assert_file_eq(
        &tight.join("exact.bin"),
        &data[..quota],
        "upload at the quota",
    );
    f.lftp_as("tight", LFTP_PLAIN, "put big.bin -o over.bin")
        .assert_refused("upload past the quota");
    let over = fs::metadata(tight.join("over.bin")).map_or(0, |m| m.len());
    assert_eq!(
        over, 0,
        "nothing of the refused upload stays past the quota"
    );
}
