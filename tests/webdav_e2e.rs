//! WebDAV against the real binary: the litmus conformance suites, curl with every
//! verb, byte-compared transfers read back over SFTP, authentication, permissions,
//! and paths that must not escape the home directory.

mod common;

use std::fs;
use std::process::Command;
use std::time::Duration;

use common::dav::*;
use common::*;

#[test]
fn litmus_suites_pass() {
    require_tools(&["litmus"]);
    let d = start_dav(Server::builder());
    d.srv.ensure_home();
    let out = run(
        Command::new("litmus")
            .arg(format!("{}/", d.base))
            .args([USER, PASSWORD])
            .current_dir(d.srv.local()),
        BIG_TIMEOUT,
    );
    let summaries: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.contains("summary for"))
        .collect();
    for suite in ["basic", "copymove", "props", "locks", "http"] {
        let line = summaries
            .iter()
            .find(|l| l.contains(&format!("`{suite}'")))
            .unwrap_or_else(|| panic!("suite {suite} did not run\n{}", out.report()));
        assert!(line.contains(" 0 failed"), "{line}\n{}", out.report());
    }
    out.assert_ok("litmus");
}

#[test]
fn verbs_transfers_and_policy() {
    let d = start_dav(Server::builder());
    let home = d.srv.ensure_home();
    let local = d.srv.local();
    // No credentials, or wrong ones: 401 with a Basic challenge.
    let anon = run(
        Command::new("curl")
            .args(["-s", "-D", "-", "-o", "/dev/null"])
            .arg(format!("{}/", d.base)),
        CLIENT_TIMEOUT,
    );
    assert!(anon.stdout.starts_with("HTTP/1.1 401"), "{}", anon.stdout);
    assert!(
        anon.stdout
            .to_lowercase()
            .contains("www-authenticate: basic"),
        "{}",
        anon.stdout
    );
    let bad = run(
        Command::new("curl")
            .args([
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--user",
                "alice:wrong",
            ])
            .arg(format!("{}/", d.base)),
        CLIENT_TIMEOUT,
    );
    assert_eq!(bad.stdout, "401");
    // 100 MiB PUT and GET, byte-compared, and read back over SFTP.
    let data = write_data(&local.join("big.bin"), 100 * MIB, 9);
    assert_eq!(
        d.status("/big.bin", &["-T", "big.bin", "-o", "/dev/null"]),
        201
    );
    assert_file_eq(&home.join("big.bin"), &data, "PUT");
    assert_eq!(d.status("/big.bin", &["-o", "got.bin"]), 200);
    assert_file_eq(&local.join("got.bin"), &data, "GET");
    d.srv
        .sftp_batch(&["get big.bin sftp.bin"])
        .assert_ok("sftp get");
    assert_file_eq(&local.join("sftp.bin"), &data, "SFTP read-back");
    let log = d.srv.log_tail();
    assert!(
        log.lines().any(|l| l.contains("\"protocol\":\"DAV\"")
            && l.contains("\"sender\":\"Download\"")
            && l.contains("\"ok\":true")),
        "a complete GET is logged as a finished download:\n{log}"
    );
    write_file(&local.join("x.txt"), b"x");
    // X-OC-Mtime sets the modification time of a PUT (Nextcloud-style clients).
    let put = d.curl(
        "/dated.txt",
        &[
            "-T",
            "x.txt",
            "-H",
            "X-OC-Mtime: 1600000000",
            "-D",
            "-",
            "-o",
            "/dev/null",
        ],
    );
    assert!(
        put.stdout.to_lowercase().contains("x-oc-mtime: accepted"),
        "{}",
        put.report()
    );
    assert_eq!(mtime_secs(&home.join("dated.txt")), 1_600_000_000);
    // Range.
    let range = d.curl("/big.bin", &["-r", "10-19", "-o", "part.bin"]);
    assert!(range.stdout.ends_with("206"), "{}", range.report());
    assert_eq!(fs::read(local.join("part.bin")).unwrap(), &data[10..20]);
    // MKCOL (405 when it exists), PROPFIND Depth 1, COPY, MOVE, DELETE.
    assert_eq!(d.status("/dir", &["-X", "MKCOL", "-o", "/dev/null"]), 201);
    assert_eq!(d.status("/dir", &["-X", "MKCOL", "-o", "/dev/null"]), 405);
    write_file(&home.join("dir/a.txt"), b"alpha");
    let listing = d.curl("/dir/", &["-X", "PROPFIND", "-H", "Depth: 1"]);
    assert!(
        listing.stdout.contains("/dir/a.txt") && listing.stdout.ends_with("207"),
        "{}",
        listing.report()
    );
    let dest = format!("Destination: {}/dir/b.txt", d.base);
    assert_eq!(
        d.status(
            "/dir/a.txt",
            &["-X", "COPY", "-H", &dest, "-o", "/dev/null"]
        ),
        201
    );
    let dest = format!("Destination: {}/moved.txt", d.base);
    assert_eq!(
        d.status(
            "/dir/b.txt",
            &["-X", "MOVE", "-H", &dest, "-o", "/dev/null"]
        ),
        201
    );
    assert_eq!(fs::read(home.join("moved.txt")).unwrap(), b"alpha");
    assert!(!home.join("dir/b.txt").exists());
    assert_eq!(d.status("/dir/", &["-X", "DELETE", "-o", "/dev/null"]), 204);
    assert!(!home.join("dir").exists());
    // Per-directory permissions: /ro is list+download only.
    write_file(&home.join("ro/r.txt"), b"read only");
    write_file(&local.join("x.txt"), b"x");
    assert_eq!(
        d.status("/ro/x.txt", &["-T", "x.txt", "-o", "/dev/null"]),
        403
    );
    assert_eq!(
        d.status("/ro/r.txt", &["-X", "DELETE", "-o", "/dev/null"]),
        403
    );
    assert_eq!(d.status("/ro/r.txt", &["-o", "r.txt"]), 200);
    assert!(!home.join("ro/x.txt").exists() && home.join("ro/r.txt").exists());
    // A directory with its own rules cannot be moved out from under them.
    let dest = format!("Destination: {}/opened", d.base);
    assert_eq!(
        d.status("/ro", &["-X", "MOVE", "-H", &dest, "-o", "/dev/null"]),
        403
    );
}

#[test]
fn paths_never_leave_the_home_directory() {
    let d = start_dav(Server::builder());
    let home = d.srv.ensure_home();
    write_file(&home.join("mine.txt"), b"mine");
    let outside = d.srv.root().join("outside.txt");
    write_file(&outside, b"secret outside the home");
    std::os::unix::fs::symlink(&outside, home.join("escape")).unwrap();
    for p in [
        "/../outside.txt",
        "/%2e%2e/outside.txt",
        "/..%2foutside.txt",
        "/a/../../outside.txt",
    ] {
        let out = d.curl(p, &["--path-as-is", "-o", "leak.txt"]);
        let code = out
            .stdout
            .rsplit('\n')
            .next()
            .unwrap_or_default()
            .trim()
            .to_string();
        assert_ne!(
            code,
            "200",
            "{p} must not reach outside the home\n{}",
            out.report()
        );
        let leaked = fs::read(d.srv.local().join("leak.txt")).unwrap_or_default();
        assert!(
            !leaked.windows(6).any(|w| w == b"secret"),
            "{p} leaked the file"
        );
    }
    let out = d.curl("/escape", &["-o", "leak2.txt"]);
    assert!(
        !out.stdout.ends_with("200"),
        "symlink escape: {}",
        out.report()
    );
    assert_eq!(d.status("/mine.txt", &["-o", "mine.txt"]), 200);
}

#[test]
fn https_binding_with_a_prefix() {
    let d = start_dav_https(
        Server::builder().env("SFTPGO_WEBDAVD__BINDINGS__0__PREFIX", "/dav"),
        "/dav",
    );
    let home = d.srv.ensure_home();
    write_file(&d.srv.local().join("s.txt"), b"over tls");
    assert_eq!(d.status("/s.txt", &["-T", "s.txt", "-o", "/dev/null"]), 201);
    assert_eq!(fs::read(home.join("s.txt")).unwrap(), b"over tls");
    let listing = d.curl("/", &["-X", "PROPFIND", "-H", "Depth: 1"]);
    assert!(
        listing.stdout.contains("/dav/s.txt"),
        "{}",
        listing.report()
    );
    // Only paths under the prefix, at a segment boundary.
    let outside = run(
        Command::new("curl")
            .args([
                "-sk",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--user",
                &format!("{USER}:{PASSWORD}"),
            ])
            .arg(format!("https://127.0.0.1:{}/davs.txt", d.port)),
        CLIENT_TIMEOUT,
    );
    assert_eq!(outside.stdout, "404");
    // Plain HTTP is not served on an HTTPS binding.
    let plain = run(
        Command::new("curl")
            .args([
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--max-time",
                "10",
            ])
            .arg(format!("http://127.0.0.1:{}/dav/s.txt", d.port)),
        CLIENT_TIMEOUT,
    );
    assert_ne!(plain.stdout.trim(), "200", "{}", plain.report());
}

/// The HTTP status of a GET of `/` over HTTPS with the client certificate `cert`
/// (`<cert>.crt`/`.key` in the config dir) and, when given, Basic credentials.
fn status_with_cert(d: &DavServer, cert: &str, credentials: Option<(&str, &str)>) -> String {
    let cfg = d.srv.config_dir();
    let mut cmd = Command::new("curl");
    cmd.args([
        "-sk",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-X",
        "PROPFIND",
    ])
    .args(["-H", "Depth: 1", "--cert"])
    .arg(cfg.join(format!("{cert}.crt")))
    .arg("--key")
    .arg(cfg.join(format!("{cert}.key")));
    if let Some((user, password)) = credentials {
        cmd.args(["--user", &format!("{user}:{password}")]);
    }
    cmd.arg(format!("{}/", d.base));
    run(&mut cmd, CLIENT_TIMEOUT).stdout
}

#[test]
fn client_certificates_log_users_in() {
    require_tools(&["openssl", "curl"]);
    let builder = Server::builder()
        .env("SFTPGO_WEBDAVD__CERTIFICATE_FILE", "server.crt")
        .env("SFTPGO_WEBDAVD__CERTIFICATE_KEY_FILE", "server.key")
        .env("SFTPGO_WEBDAVD__CA_CERTIFICATES", "ca.crt")
        .env("SFTPGO_WEBDAVD__BINDINGS__0__ENABLE_HTTPS", "true")
        .env("SFTPGO_WEBDAVD__BINDINGS__0__CLIENT_AUTH_TYPE", "1");
    let cfg = builder.root().join("cfg");
    make_pki(&cfg);
    for name in ["carl", "bob", "alice"] {
        make_client_cert(&cfg, name, name);
    }
    // alice (the default user) maps no certificate.
    let builder = builder
        .user("carl", |u| {
            u["filters"]["tls_username"] = "CommonName".into()
        })
        .user("bob", |u| {
            u["filters"]["tls_username"] = "CommonName".into();
            u["filters"]["denied_login_methods"] =
                serde_json::json!(["TLSCertificate", "password"]);
        });
    let mut d = start_dav(builder);
    d.base = format!("https://127.0.0.1:{}", d.port);
    d.srv.ensure_home();
    for user in ["bob", "carl"] {
        fs::create_dir_all(d.srv.home_of(user)).unwrap();
    }
    // carl: the certificate alone, named by its CN or by Basic with no password.
    assert_eq!(status_with_cert(&d, "carl", None), "207");
    assert_eq!(status_with_cert(&d, "carl", Some(("carl", ""))), "207");
    assert_eq!(
        status_with_cert(&d, "carl", Some(("carl", PASSWORD))),
        "207"
    );
    assert_eq!(status_with_cert(&d, "bob", Some(("carl", PASSWORD))), "401");
    // bob: certificate and password.
    assert_eq!(status_with_cert(&d, "bob", Some(("bob", PASSWORD))), "207");
    assert_eq!(status_with_cert(&d, "bob", Some(("bob", "wrong"))), "401");
    assert_eq!(status_with_cert(&d, "bob", None), "401");
    assert_eq!(status_with_cert(&d, "carl", Some(("bob", PASSWORD))), "401");
    // alice maps no certificate: password logins as usual, never the certificate alone.
    assert_eq!(status_with_cert(&d, "carl", Some((USER, PASSWORD))), "207");
    assert_eq!(status_with_cert(&d, "alice", None), "401");
    // The binding requires a certificate: none, no handshake.
    let bare = run(
        Command::new("curl")
            .args(["-sk", "-o", "/dev/null", "-w", "%{http_code}", "--user"])
            .arg(format!("{USER}:{PASSWORD}"))
            .arg(format!("{}/", d.base)),
        CLIENT_TIMEOUT,
    );
    assert_eq!(bare.stdout, "000", "{}", bare.report());
}

/// Response headers (lowercased) of curl with `args` against `path`, no credentials.
fn dav_head(d: &DavServer, path: &str, args: &[&str]) -> String {
    let out = run(
        Command::new("curl")
            .args(["-sS", "-D", "-", "-o", "/dev/null"])
            .args(args)
            .arg(format!("{}{path}", d.base)),
        CLIENT_TIMEOUT,
    );
    out.assert_ok("curl");
    out.stdout.to_ascii_lowercase()
}

#[test]
fn cors_for_browser_clients() {
    let d = start_dav(
        Server::builder()
            .env("SFTPGO_WEBDAVD__CORS__ENABLED", "true")
            .env(
                "SFTPGO_WEBDAVD__CORS__ALLOWED_ORIGINS",
                "https://*.example.com",
            )
            .env("SFTPGO_WEBDAVD__CORS__ALLOWED_METHODS", "GET,PUT,PROPFIND")
            .env(
                "SFTPGO_WEBDAVD__CORS__ALLOWED_HEADERS",
                "Authorization,Depth",
            )
            .env("SFTPGO_WEBDAVD__CORS__EXPOSED_HEADERS", "ETag")
            .env("SFTPGO_WEBDAVD__CORS__ALLOW_CREDENTIALS", "true")
            .env("SFTPGO_WEBDAVD__CORS__MAX_AGE", "300"),
    );
    d.srv.ensure_home();
    let origin = "Origin: https://app.example.com";
    // A preflight is answered without credentials.
    let head = dav_head(
        &d,
        "/",
        &[
            "-X",
            "OPTIONS",
            "-H",
            origin,
            "-H",
            "Access-Control-Request-Method: PROPFIND",
            "-H",
            "Access-Control-Request-Headers: authorization, depth",
        ],
    );
    assert!(head.starts_with("http/1.1 204"), "{head}");
    for want in [
        "access-control-allow-origin: https://app.example.com",
        "access-control-allow-methods: propfind",
        "access-control-allow-credentials: true",
        "access-control-max-age: 300",
    ] {
        assert!(head.contains(want), "{want} missing in {head}");
    }
    // A method or origin outside the lists gets no grant.
    let head = dav_head(
        &d,
        "/",
        &[
            "-X",
            "OPTIONS",
            "-H",
            origin,
            "-H",
            "Access-Control-Request-Method: DELETE",
        ],
    );
    assert!(!head.contains("access-control-allow-origin"), "{head}");
    // Actual requests: granted on success and on 401 (the page can read it), not for
    // other origins.
    let authed = d.curl(
        "/",
        &[
            "-D",
            "-",
            "-o",
            "/dev/null",
            "-X",
            "PROPFIND",
            "-H",
            "Depth: 1",
            "-H",
            origin,
        ],
    );
    let head = authed.stdout.to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 207"), "{head}");
    assert!(
        head.contains("access-control-allow-origin: https://app.example.com"),
        "{head}"
    );
    assert!(
        head.contains("access-control-expose-headers: etag"),
        "{head}"
    );
    let head = dav_head(&d, "/", &["-X", "PROPFIND", "-H", origin]);
    assert!(head.starts_with("http/1.1 401"), "{head}");
    assert!(
        head.contains("access-control-allow-origin: https://app.example.com"),
        "{head}"
    );
    let head = dav_head(
        &d,
        "/",
        &["-X", "PROPFIND", "-H", "Origin: https://example.org"],
    );
    assert!(!head.contains("access-control-allow-origin"), "{head}");
    // A plain OPTIONS is WebDAV's capability probe, answered by the server as before.
    let probe = d.curl(
        "/",
        &["-D", "-", "-o", "/dev/null", "-X", "OPTIONS", "-H", origin],
    );
    let head = probe.stdout.to_ascii_lowercase();
    assert!(head.contains("\ndav: "), "{head}");
}

/// GETs `user`'s `big.bin` of `size` bytes with curl (`extra` args), truncates it to
/// 1000 bytes 1.5 s in, and checks that curl saw a short body without padding.
fn shrink_during_get(d: &DavServer, user: &str, size: usize, extra: &[&str]) {
    let home = d.srv.home_of(user);
    fs::create_dir_all(&home).unwrap();
    write_data(&home.join("big.bin"), size, 9);
    let out_path = d.srv.local().join("got.bin");
    let mut curl = Command::new("curl")
        .args(["-sS", "-o"])
        .arg(&out_path)
        .args(extra)
        .args(["--user", &format!("{user}:{PASSWORD}")])
        .arg(format!("{}/big.bin", d.base))
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    fs::OpenOptions::new()
        .write(true)
        .open(home.join("big.bin"))
        .unwrap()
        .set_len(1000)
        .unwrap();
    let status = curl.wait().unwrap();
    assert!(!status.success(), "curl must see a short body, not padding");
    let got = fs::read(&out_path).unwrap_or_default();
    assert!(got.len() < size, "{} bytes received", got.len());
    assert!(
        !got.ends_with(&[0u8; 4096]),
        "the body must not be padded with zeros"
    );
    let log = d.srv.log_tail();
    assert!(log.contains("response cut short"), "{log}");
}

#[test]
fn a_file_that_shrinks_during_a_get_cuts_the_response_short() {
    // 256 KB/s: a 2 MiB GET takes about 8 s, time enough to truncate the file. The
    // limit counts every byte as it is read, so the body goes through buffers.
    let d = start_dav(Server::builder().user("slow", |u| u["download_bandwidth"] = 256.into()));
    shrink_during_get(&d, "slow", 2 * MIB, &[]);
}

#[test]
fn a_file_that_shrinks_during_a_zero_copy_get_cuts_the_response_short() {
    // No server-side limit, so the file goes out with sendfile; curl reads slowly.
    let d = start_dav(Server::builder());
    shrink_during_get(&d, USER, 64 * MIB, &["--limit-rate", "2M"]);
}

#[test]
fn rclone_copy_sync_and_check() {
    require_tools(&["rclone"]);
    let d = start_dav(Server::builder());
    let home = d.srv.ensure_home();
    let local = d.srv.local();
    let src = local.join("tree");
    write_data(&src.join("a.bin"), 3 * MIB, 1);
    write_file(&src.join("sub/b.txt"), b"bee");
    write_file(&src.join("sub/deep/c.txt"), b"sea");
    let config = d.srv.root().join("rclone.conf");
    fs::write(&config, "").unwrap();
    let obscured = run(
        Command::new("rclone").args(["obscure", PASSWORD]),
        CLIENT_TIMEOUT,
    );
    obscured.assert_ok("rclone obscure");
    let rclone = |args: &[&str]| {
        run(
            Command::new("rclone")
                .arg("--config")
                .arg(&config)
                .args(args)
                .env("RCLONE_CONFIG_DAV_TYPE", "webdav")
                .env("RCLONE_CONFIG_DAV_URL", &d.base)
                .env("RCLONE_CONFIG_DAV_VENDOR", "other")
                .env("RCLONE_CONFIG_DAV_USER", USER)
                .env("RCLONE_CONFIG_DAV_PASS", obscured.stdout.trim())
                .current_dir(&local),
            BIG_TIMEOUT,
        )
    };
    rclone(&["copy", "tree", "dav:tree"]).assert_ok("rclone copy");
    assert_trees_eq(&src, &home.join("tree"));
    fs::remove_file(src.join("sub/b.txt")).unwrap();
    write_file(&src.join("new.txt"), b"new file");
    rclone(&["sync", "tree", "dav:tree"]).assert_ok("rclone sync");
    assert_trees_eq(&src, &home.join("tree"));
    rclone(&["check", "--download", "tree", "dav:tree"]).assert_ok("rclone check");
    // A difference is found.
    write_file(&home.join("tree/new.txt"), b"changed!");
    rclone(&["check", "--download", "tree", "dav:tree"])
        .assert_refused("rclone check finds the change");
}

#[test]
fn hostile_requests_are_refused_and_users_are_isolated() {
    let d = start_dav(Server::builder().user("bob", |_| {}));
    let home = d.srv.ensure_home();
    write_file(&home.join("f.txt"), b"mine");
    write_file(&home.join("ro/r.txt"), b"read only");
    fs::create_dir_all(d.srv.home_of("bob")).unwrap();
    // Deeply nested XML (it would exhaust a recursive parser's stack) gets 400, and
    // the server goes on serving.
    let deep = format!("<?xml version=\"1.0\"?>{}", "<a>".repeat(20_000));
    write_file(&d.srv.local().join("deep.xml"), deep.as_bytes());
    assert_eq!(
        d.status(
            "/",
            &[
                "-X",
                "PROPFIND",
                "-H",
                "Depth: 0",
                "--data-binary",
                "@deep.xml",
                "-o",
                "/dev/null"
            ]
        ),
        400
    );
    assert_eq!(d.status("/f.txt", &["-o", "/dev/null"]), 200);
    // Depth: infinity and PATCH are refused.
    assert_eq!(
        d.status(
            "/",
            &["-X", "PROPFIND", "-H", "Depth: infinity", "-o", "/dev/null"]
        ),
        403
    );
    let patch = d.status(
        "/f.txt",
        &[
            "-X",
            "PATCH",
            "-H",
            "X-Update-Range: append",
            "--data-binary",
            "more",
            "-o",
            "/dev/null",
        ],
    );
    assert!(patch == 405 || patch == 501, "PATCH: {patch}");
    assert_eq!(fs::read(home.join("f.txt")).unwrap(), b"mine");
    // Locks need a permission that could change the resource, and belong to their
    // user: alice's lock on /f.txt does not block bob's /f.txt.
    let lock_body = r#"<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>"#;
    assert_eq!(
        d.status(
            "/ro/r.txt",
            &["-X", "LOCK", "--data-binary", lock_body, "-o", "/dev/null"]
        ),
        403
    );
    assert_eq!(
        d.status(
            "/f.txt",
            &["-X", "LOCK", "--data-binary", lock_body, "-o", "/dev/null"]
        ),
        200
    );
    write_file(&d.srv.local().join("b.txt"), b"bob's");
    let bob = d.curl_as("bob", "/f.txt", &["-T", "b.txt", "-o", "/dev/null"]);
    assert!(bob.stdout.ends_with("201"), "{}", bob.report());
    let alice = d.curl("/f.txt", &["-T", "b.txt", "-o", "/dev/null"]);
    assert!(
        alice.stdout.ends_with("423"),
        "alice's own lock holds: {}",
        alice.report()
    );
}

#[test]
fn locks_expire_proxies_name_clients_and_mime_types_are_configurable() {
    let dav = start_dav(
        Server::builder()
            .user("pat", |u| {
                u["filters"]["allowed_ip"] = serde_json::json!(["10.7.0.0/16"])
            })
            .env("SFTPGO_WEBDAVD__BINDINGS__0__PROXY_ALLOWED", "127.0.0.1")
            .env(
                "SFTPGO_WEBDAVD__BINDINGS__0__CLIENT_IP_PROXY_HEADER",
                "X-Forwarded-For",
            )
            .env(
                "SFTPGO_WEBDAVD__CACHE__MIME_TYPES__CUSTOM_MAPPINGS__0__EXT",
                ".log",
            )
            .env(
                "SFTPGO_WEBDAVD__CACHE__MIME_TYPES__CUSTOM_MAPPINGS__0__MIME",
                "text/x-sftpgo-log",
            ),
    );
    let code = |out: &CmdOutput| -> u16 {
        out.stdout
            .rsplit('\n')
            .next()
            .and_then(|c| c.trim().parse().ok())
            .unwrap_or(0)
    };
    // A user allowed only from 10.7/16 gets in when the trusted proxy names such a
    // client, not otherwise.
    let direct = dav.curl_as("pat", "/", &["-X", "PROPFIND", "-H", "Depth: 0"]);
    assert_eq!(code(&direct), 401, "{}", direct.report());
    let proxied = dav.curl_as(
        "pat",
        "/",
        &[
            "-X",
            "PROPFIND",
            "-H",
            "Depth: 0",
            "-H",
            "X-Forwarded-For: 10.7.1.2",
        ],
    );
    assert_eq!(code(&proxied), 207, "{}", proxied.report());

    // A lock with a one-second timeout blocks a second lock, then expires.
    let body = "<?xml version=\"1.0\"?><D:lockinfo xmlns:D=\"DAV:\"><D:lockscope><D:exclusive/>\
        </D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>";
    assert_eq!(dav.status("/locked.txt", &["-T", "/dev/null"]), 201);
    let lock = |timeout: &str| {
        dav.curl(
            "/locked.txt",
            &[
                "-X",
                "LOCK",
                "-H",
                &format!("Timeout: {timeout}"),
                "--data",
                body,
            ],
        )
    };
    assert_eq!(code(&lock("Second-1")), 200);
    assert_eq!(code(&lock("Second-60")), 423, "still locked");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert_eq!(code(&lock("Second-60")), 200, "the first lock expired");

    // Custom MIME types by extension.
    std::fs::write(dav.srv.local().join("app.log"), "line\n").unwrap();
    assert_eq!(dav.status("/app.log", &["-T", "app.log"]), 201);
    let head = dav.curl("/app.log", &["-I"]);
    assert!(
        head.stdout
            .to_lowercase()
            .contains("content-type: text/x-sftpgo-log"),
        "{}",
        head.report()
    );
}

#[test]
fn a_stalled_upload_ends_after_the_idle_timeout() {
    use std::io::Read;
    // One minute, the smallest idle timeout the configuration can express.
    let d = start_dav(Server::builder().env("SFTPGO_COMMON__IDLE_TIMEOUT", "1"));
    d.srv.ensure_home();
    let mut tcp = stalled_put(d.port, "/stalled.bin");
    tcp.set_read_timeout(Some(Duration::from_secs(150)))
        .unwrap();
    let started = std::time::Instant::now();
    let mut reply = Vec::new();
    let read = tcp.read_to_end(&mut reply);
    let waited = started.elapsed();
    let reply = String::from_utf8_lossy(&reply);
    assert!(
        read.is_ok() || waited < Duration::from_secs(150),
        "the stalled upload was still open after {waited:?}"
    );
    assert!(
        waited >= Duration::from_secs(55),
        "ended after {waited:?}: {reply}"
    );
    assert!(
        !reply.contains(" 201 "),
        "a stalled upload must not succeed: {reply}"
    );
    // The server goes on serving.
    assert_eq!(
        d.status(
            "/",
            &["-X", "PROPFIND", "-H", "Depth: 0", "-o", "/dev/null"]
        ),
        207
    );
}

#[test]
fn a_chunked_put_must_carry_the_length_it_declares() {
    // Atomic uploads: a refused body leaves nothing behind.
    let d = start_dav(Server::builder().env("SFTPGO_COMMON__UPLOAD_MODE", "1"));
    let home = d.srv.ensure_home();
    write_file(&d.srv.local().join("fifty.bin"), &[7u8; 50]);
    let chunked = [
        "-X",
        "PUT",
        "--data-binary",
        "@fifty.bin",
        "-H",
        "Transfer-Encoding: chunked",
    ];
    let put = |path: &str, header: &str| {
        let mut args = chunked.to_vec();
        args.extend(["-H", header, "-o", "/dev/null"]);
        d.status(path, &args)
    };
    // Shorter than declared, by X-Expected-Entity-Length (macOS Finder's header) or by a
    // Content-Range span: refused, and the file is never committed.
    assert_eq!(put("/short.bin", "X-Expected-Entity-Length: 100"), 400);
    assert!(
        !home.join("short.bin").exists(),
        "a short body was committed"
    );
    assert_eq!(put("/range.bin", "Content-Range: bytes 0-99/100"), 400);
    assert!(
        !home.join("range.bin").exists(),
        "a short range was committed"
    );
    // Longer than declared: refused too, not cut to the declared length and kept.
    assert_eq!(put("/long.bin", "Content-Range: bytes 0-9/10"), 400);
    assert!(!home.join("long.bin").exists(), "a long body was committed");
    // The declared length, exactly: stored.
    assert_eq!(put("/exact.bin", "X-Expected-Entity-Length: 50"), 201);
    assert_eq!(fs::read(home.join("exact.bin")).unwrap(), vec![7u8; 50]);
    let log = d.srv.log_tail();
    assert!(
        log.contains("the body's length differs from the declared one"),
        "{log}"
    );
}

/// Sends `raw` on a new connection, closes the sending side and returns everything
/// the server wrote before it closed.
fn raw_exchange(port: u16, raw: &[u8]) -> String {
    use std::io::{Read, Write};
    let mut tcp = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    tcp.write_all(raw).unwrap();
    tcp.shutdown(std::net::Shutdown::Write).unwrap();
    let mut out = Vec::new();
    tcp.read_to_end(&mut out)
        .expect("the server ends the connection");
    String::from_utf8_lossy(&out).into_owned()
}

fn basic_auth() -> String {
    use base64::Engine as _;
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
    format!("Authorization: Basic {token}\r\n")
}

#[test]
fn downloads_ranges_keep_alive_and_pipelining() {
    let d = start_dav(Server::builder());
    let home = d.srv.ensure_home();
    // Clear text: whole files and single ranges go out with sendfile.
    let data = write_data(&home.join("big.bin"), 3 * MIB + 123, 4);
    let out = d.curl("/big.bin", &["-o", "got.bin"]);
    assert!(out.stdout.ends_with("200"), "{}", out.report());
    assert!(fs::read(d.srv.local().join("got.bin")).unwrap() == data);
    let out = d.curl("/big.bin", &["-r", "1000-200999", "-o", "part.bin"]);
    assert!(out.stdout.ends_with("206"), "{}", out.report());
    assert!(fs::read(d.srv.local().join("part.bin")).unwrap() == data[1000..201_000]);
    let out = d.curl("/big.bin", &["-r", "-5000", "-o", "tail.bin"]);
    assert!(out.stdout.ends_with("206"), "{}", out.report());
    assert!(fs::read(d.srv.local().join("tail.bin")).unwrap() == data[data.len() - 5000..]);
    // Several ranges: a multipart body, read through buffers.
    let out = d.curl(
        "/big.bin",
        &["-r", "0-9,3145728-3145737", "-o", "multi.bin"],
    );
    assert!(out.stdout.ends_with("206"), "{}", out.report());
    let multi = fs::read(d.srv.local().join("multi.bin")).unwrap();
    for part in [&data[0..10], &data[3_145_728..3_145_738]] {
        assert!(multi.windows(10).any(|w| w == part), "a range is missing");
    }
    // An empty file.
    write_file(&home.join("empty.txt"), b"");
    let out = d.curl("/empty.txt", &["-o", "empty.out"]);
    assert!(out.stdout.ends_with("200"), "{}", out.report());
    assert!(
        fs::read(d.srv.local().join("empty.out"))
            .unwrap()
            .is_empty()
    );

    // curl keeps one connection for three requests (a PUT between two GETs).
    write_file(
        &d.srv.local().join("up.txt"),
        b"uploaded on a kept-alive connection",
    );
    let user = format!("{USER}:{PASSWORD}");
    let each = [
        "-sS",
        "-w",
        "%{num_connects}:%{http_code} ",
        "--user",
        &user,
    ];
    let out = run(
        Command::new("curl")
            .args(each)
            .args(["-o", "/dev/null", &format!("{}/big.bin", d.base), "--next"])
            .args(each)
            .args(["-T", "up.txt", &format!("{}/up.txt", d.base), "--next"])
            .args(each)
            .args(["-o", "/dev/null", &format!("{}/up.txt", d.base)])
            .current_dir(d.srv.local()),
        CLIENT_TIMEOUT,
    );
    assert_eq!(out.stdout.trim(), "1:200 0:201 0:200", "{}", out.report());
    assert_eq!(
        fs::read(home.join("up.txt")).unwrap(),
        b"uploaded on a kept-alive connection"
    );

    // Pipelined: three requests in one write, three responses in order.
    let auth = basic_auth();
    let raw = format!(
        "GET /up.txt HTTP/1.1\r\nHost: x\r\n{auth}\r\n\
         PUT /p.txt HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: 5\r\n\r\nhello\
         GET /p.txt HTTP/1.1\r\nHost: x\r\n{auth}\r\n"
    );
    let out = raw_exchange(d.port, raw.as_bytes());
    let first = out
        .find("uploaded on a kept-alive connection")
        .unwrap_or(usize::MAX);
    let second = out.find("HTTP/1.1 201 Created").unwrap_or(0);
    assert!(first < second, "{out}");
    assert!(out.ends_with("\r\n\r\nhello"), "{out}");
}

#[test]
fn malformed_http_is_refused_and_the_server_goes_on() {
    let d = start_dav(Server::builder());
    let home = d.srv.ensure_home();
    let auth = basic_auth();
    // A request smuggled behind an ambiguous body: refused, never run.
    let raw = format!(
        "PUT /a.txt HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: 4\r\n\
         Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n\
         PUT /smuggled.txt HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: 1\r\n\r\nx"
    );
    let out = raw_exchange(d.port, raw.as_bytes());
    assert!(out.starts_with("HTTP/1.1 400 "), "{out}");
    assert!(!home.join("smuggled.txt").exists());
    assert!(!home.join("a.txt").exists());
    // Two different lengths.
    let raw = format!(
        "PUT /a.txt HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: 1\r\nContent-Length: 2\r\n\r\nxx"
    );
    assert!(raw_exchange(d.port, raw.as_bytes()).starts_with("HTTP/1.1 400 "));
    // A head larger than 64 KiB.
    let raw = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(70_000)
    );
    assert!(raw_exchange(d.port, raw.as_bytes()).starts_with("HTTP/1.1 431 "));
    // A bad chunk size ends the connection before any byte is stored.
    let raw = format!(
        "PUT /c.txt HTTP/1.1\r\nHost: x\r\n{auth}Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"
    );
    let out = raw_exchange(d.port, raw.as_bytes());
    assert!(!out.contains(" 201 "), "{out}");
    assert!(fs::read(home.join("c.txt")).unwrap_or_default().is_empty());
    // A missing or repeated Host (two readers could route the request differently).
    for hosts in ["", "Host: a\r\nHost: b\r\n", "Host: u@b\r\n"] {
        let raw = format!("PUT /h.txt HTTP/1.1\r\n{hosts}{auth}Content-Length: 1\r\n\r\nx");
        let out = raw_exchange(d.port, raw.as_bytes());
        assert!(out.starts_with("HTTP/1.1 400 "), "{hosts}: {out}");
    }
    assert!(!home.join("h.txt").exists());
    // HTTP/1.0 gets its response and the close.
    let out = raw_exchange(
        d.port,
        format!("OPTIONS / HTTP/1.0\r\n{auth}\r\n").as_bytes(),
    );
    assert!(out.starts_with("HTTP/1.1 200 "), "{out}");
    assert!(
        out.to_ascii_lowercase().contains("connection: close"),
        "{out}"
    );
    // Not HTTP at all.
    let out = raw_exchange(
        d.port,
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
    );
    assert!(out.starts_with("HTTP/1.1 400 "), "{out}");
    assert_eq!(
        d.status(
            "/",
            &["-X", "PROPFIND", "-H", "Depth: 0", "-o", "/dev/null"]
        ),
        207
    );
}

/// The `Download` transfer lines the server logged for `file` (JSON log lines).
fn download_lines(d: &DavServer, file: &str) -> Vec<serde_json::Value> {
    d.srv
        .log_text()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|l| l["sender"] == "Download" && l["file_path"] == file)
        .collect()
}

/// Each GET that sent file bytes is logged once as a complete download with the
/// bytes it sent (ranges that stop before the end too); HEAD and 304 are no
/// transfers. Over clear text (sendfile for large bodies) and HTTPS (buffers).
fn downloads_are_logged_with_their_outcome(d: &DavServer) {
    let home = d.srv.ensure_home();
    let data = write_data(&home.join("whole.bin"), 300_000, 3);
    for name in [
        "range.bin",
        "small.bin",
        "multi.bin",
        "head.bin",
        "cached.bin",
    ] {
        fs::copy(home.join("whole.bin"), home.join(name)).unwrap();
    }
    assert_eq!(d.status("/whole.bin", &["-o", "w.bin"]), 200);
    assert_file_eq(&d.srv.local().join("w.bin"), &data, "GET");
    assert_eq!(
        d.status("/range.bin", &["-r", "1000-200999", "-o", "/dev/null"]),
        206
    );
    assert_eq!(
        d.status("/small.bin", &["-r", "0-99", "-o", "/dev/null"]),
        206
    );
    assert_eq!(
        d.status("/multi.bin", &["-r", "0-9,100-109", "-o", "/dev/null"]),
        206
    );
    assert_eq!(d.status("/head.bin", &["-I"]), 200);
    let etag = d.curl("/cached.bin", &["-I"]);
    let etag = etag
        .stdout
        .lines()
        .find_map(|l| {
            l.strip_prefix("etag: ")
                .or_else(|| l.strip_prefix("ETag: "))
        })
        .unwrap_or_else(|| panic!("no ETag: {}", etag.report()))
        .trim()
        .to_string();
    assert_eq!(
        d.status(
            "/cached.bin",
            &["-H", &format!("If-None-Match: {etag}"), "-o", "/dev/null"]
        ),
        304
    );
    let expected = [
        ("/whole.bin", 300_000u64),
        ("/range.bin", 200_000),
        ("/small.bin", 100),
        ("/multi.bin", 20),
    ];
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while expected
        .iter()
        .any(|(f, _)| download_lines(d, f).is_empty())
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(300));
    for (file, size) in expected {
        let lines = download_lines(d, file);
        assert_eq!(lines.len(), 1, "{file}: {lines:?}");
        assert_eq!(lines[0]["ok"], true, "{file}: {lines:?}");
        // A multipart body counts the file bytes read, not the part headers.
        assert_eq!(lines[0]["size_bytes"], size, "{file}: {lines:?}");
    }
    for file in ["/head.bin", "/cached.bin"] {
        let lines = download_lines(d, file);
        assert!(lines.is_empty(), "{file} is no download: {lines:?}");
    }
    // A client that goes away mid-body: a failed download of fewer bytes.
    write_data(&home.join("cut.bin"), 64 * MIB, 4);
    let cut = d.curl(
        "/cut.bin",
        &["--limit-rate", "4M", "--max-time", "1", "-o", "/dev/null"],
    );
    assert!(!cut.success(), "{}", cut.report());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while download_lines(d, "/cut.bin").is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let lines = download_lines(d, "/cut.bin");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["ok"], false, "{lines:?}");
    assert!(
        lines[0]["size_bytes"].as_u64().unwrap() < (64 * MIB) as u64,
        "{lines:?}"
    );
}

#[test]
fn downloads_are_logged_once_with_their_outcome_over_http() {
    let d = start_dav(Server::builder());
    downloads_are_logged_with_their_outcome(&d);
}

#[test]
fn downloads_are_logged_once_with_their_outcome_over_https() {
    let d = start_dav_https(Server::builder(), "");
    downloads_are_logged_with_their_outcome(&d);
}

const PROPPATCH_COLOR: &str = r#"<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="http://example.com/ns"><D:set><D:prop><Z:color>red</Z:color></D:prop></D:set></D:propertyupdate>"#;

/// The dead properties of `path` as `user` (an allprop PROPFIND's response).
fn all_props(d: &DavServer, user: &str, path: &str) -> String {
    let out = d.curl_as(user, path, &["-X", "PROPFIND", "-H", "Depth: 0"]);
    assert!(out.stdout.ends_with("207"), "{}", out.report());
    out.stdout
}

/// Whether the file system under `dir` keeps user extended attributes.
fn user_xattrs_work(dir: &std::path::Path) -> bool {
    let probe = dir.join(".xattr-probe");
    fs::write(&probe, b"").unwrap();
    let ok =
        rustix::fs::setxattr(&probe, "user.probe", b"1", rustix::fs::XattrFlags::empty()).is_ok();
    let _ = fs::remove_file(&probe);
    ok
}

#[test]
fn dead_properties_live_with_the_file() {
    let d = start_dav(Server::builder());
    let home = d.srv.ensure_home();
    if !user_xattrs_work(&home) {
        eprintln!(
            "skipped: {} keeps no user extended attributes",
            home.display()
        );
        return;
    }
    write_file(&home.join("a.txt"), b"a");
    let set = d.curl(
        "/a.txt",
        &["-X", "PROPPATCH", "--data-binary", PROPPATCH_COLOR],
    );
    assert!(set.stdout.ends_with("207"), "{}", set.report());
    assert!(all_props(&d, USER, "/a.txt").contains(">red<"));
    // Stored with the file, so another server on the same directory (as this one
    // after a restart) reads them.
    let mut probe = [0u8; 256];
    assert!(
        rustix::fs::getxattr(
            home.join("a.txt").as_path(),
            "user.sftpgo.dav.props",
            &mut probe[..]
        )
        .is_ok()
    );
    let other = start_dav(
        Server::builder().user("bob", |u| u["home_dir"] = serde_json::json!(home.clone())),
    );
    assert!(all_props(&other, "bob", "/a.txt").contains(">red<"));
    // A rename by another protocol takes them along.
    d.srv
        .sftp_batch(&["rename a.txt b.txt"])
        .assert_ok("sftp rename");
    assert!(all_props(&d, USER, "/b.txt").contains(">red<"));
    // COPY copies them.
    let dest = format!("Destination: {}/c.txt", d.base);
    assert_eq!(
        d.status("/b.txt", &["-X", "COPY", "-H", &dest, "-o", "/dev/null"]),
        201
    );
    assert!(all_props(&d, USER, "/c.txt").contains(">red<"));
    // A collection's COPY copies its own properties and its members'.
    fs::create_dir_all(home.join("col/sub")).unwrap();
    write_file(&home.join("col/sub/f.txt"), b"f");
    for path in ["/col/", "/col/sub/", "/col/sub/f.txt"] {
        let set = d.curl(path, &["-X", "PROPPATCH", "--data-binary", PROPPATCH_COLOR]);
        assert!(set.stdout.contains(" 200 OK"), "{path}: {}", set.report());
    }
    let dest = format!("Destination: {}/col2/", d.base);
    assert_eq!(
        d.status("/col/", &["-X", "COPY", "-H", &dest, "-o", "/dev/null"]),
        201
    );
    for path in ["/col2/", "/col2/sub/", "/col2/sub/f.txt"] {
        assert!(all_props(&d, USER, path).contains(">red<"), "{path}");
    }
    // A file deleted and created again under the same name starts without them.
    write_file(&d.srv.local().join("new.txt"), b"new");
    d.srv
        .sftp_batch(&["rm b.txt", "put new.txt b.txt"])
        .assert_ok("sftp rm and put");
    assert!(!all_props(&d, USER, "/b.txt").contains(">red<"));
    assert!(all_props(&d, USER, "/c.txt").contains(">red<"));
    // PROPPATCH needs `overwrite` where the resource is; `/ro` only lists and reads.
    fs::create_dir_all(home.join("ro")).unwrap();
    write_file(&home.join("ro/r.txt"), b"r");
    let denied = d.curl(
        "/ro/r.txt",
        &["-X", "PROPPATCH", "--data-binary", PROPPATCH_COLOR],
    );
    assert!(
        denied.stdout.contains(" 403 ") || denied.stdout.ends_with("403"),
        "{}",
        denied.report()
    );
    assert!(!all_props(&d, USER, "/ro/r.txt").contains(">red<"));
    // An attribute that cannot be read shows no properties and is not overwritten.
    let garbage = b"\x09not a property set";
    rustix::fs::setxattr(
        home.join("c.txt").as_path(),
        "user.sftpgo.dav.props",
        garbage,
        rustix::fs::XattrFlags::empty(),
    )
    .unwrap();
    assert!(!all_props(&d, USER, "/c.txt").contains(">red<"));
    let refused = d.curl(
        "/c.txt",
        &["-X", "PROPPATCH", "--data-binary", PROPPATCH_COLOR],
    );
    assert!(!refused.stdout.contains(" 200 OK"), "{}", refused.report());
    let mut kept = [0u8; 64];
    let n = rustix::fs::getxattr(
        home.join("c.txt").as_path(),
        "user.sftpgo.dav.props",
        &mut kept[..],
    )
    .unwrap();
    assert_eq!(&kept[..n], garbage);
}
