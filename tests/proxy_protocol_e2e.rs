//! PROXY protocol (`common.proxy_protocol`) through the real binary: HAProxy in front of
//! SFTP (v2 headers) and FTP (v1 headers, control and passive data connections) with
//! OpenSSH `sftp` and lftp; then raw headers for what HAProxy never sends (spoofed
//! sources, malformed headers, missing headers when one is required).

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::ftp::*;
use common::*;
use serde_json::json;

/// HAProxy's upstream address: the only source allowed to send headers in the
/// HAProxy test. Clients connect from 127.0.0.1.
const PROXY_SOURCE: &str = "127.0.0.2";
/// Where HAProxy relays passive FTP data ports.
const PROXY_DATA_IP: &str = "127.0.0.3";

fn haproxy_bin() -> std::path::PathBuf {
    find_tool("haproxy")
        .or_else(|| {
            let p = std::path::PathBuf::from("/usr/sbin/haproxy");
            p.exists().then_some(p)
        })
        .unwrap_or_else(|| {
            panic!("haproxy is missing: install the test clients with `sudo bash scripts/install-test-deps.sh`")
        })
}

/// A running HAProxy, killed on drop.
struct Haproxy(Child);

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_haproxy(dir: &std::path::Path, config: &str, ports: &[u16]) -> Haproxy {
    let path = dir.join("haproxy.cfg");
    std::fs::write(&path, config).unwrap();
    let check = run(
        Command::new(haproxy_bin()).arg("-c").arg("-f").arg(&path),
        Duration::from_secs(30),
    );
    check.assert_ok("haproxy -c");
    let child = Command::new(haproxy_bin())
        .arg("-db")
        .arg("-f")
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start haproxy");
    let proxy = Haproxy(child);
    for port in ports {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", *port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "haproxy did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    proxy
}

#[test]
fn haproxy_relays_sftp_and_ftp_with_the_client_address() {
    require_tools(&["sftp", "curl"]);
    let (ftp_port, ssh_port) = (free_port(), free_port());
    // A window of passive ports of our own, relayed by HAProxy on another address.
    let data_lo = 41000 + (std::process::id() % 400) as u16 * 10;
    let data_hi = data_lo + 9;
    let builder = Server::builder()
        .user("px", |u| {
            // Only the client's own address may log in: the proxy's would be refused,
            // so a login proves the header was used.
            u["filters"]["allowed_ip"] = json!(["127.0.0.1/32"]);
        })
        .env("SFTPGO_COMMON__PROXY_PROTOCOL", "2")
        .env("SFTPGO_COMMON__PROXY_ALLOWED", PROXY_SOURCE)
        // The test harness probes binding 0 directly; HAProxy relays to binding 1.
        .env("SFTPGO_SFTPD__BINDINGS__0__APPLY_PROXY_CONFIG", "false")
        .env("SFTPGO_SFTPD__BINDINGS__1__PORT", &ssh_port.to_string())
        .env("SFTPGO_SFTPD__BINDINGS__1__ADDRESS", "127.0.0.1")
        .env("SFTPGO_FTPD__BINDINGS__0__PORT", &ftp_port.to_string())
        .env("SFTPGO_FTPD__BINDINGS__0__ADDRESS", "127.0.0.1")
        .env("SFTPGO_FTPD__BINDINGS__0__FORCE_PASSIVE_IP", PROXY_DATA_IP)
        .env(
            "SFTPGO_FTPD__PASSIVE_PORT_RANGE__START",
            &data_lo.to_string(),
        )
        .env("SFTPGO_FTPD__PASSIVE_PORT_RANGE__END", &data_hi.to_string());
    let srv = builder.start();
    let (front_ssh, front_ftp) = (free_port(), free_port());
    let config = format!(
        "global\n  maxconn 200\n\
         defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 120s\n  timeout server 120s\n\
         frontend ssh\n  bind 127.0.0.1:{front_ssh}\n  default_backend ssh_be\n\
         backend ssh_be\n  server s1 127.0.0.1:{ssh} send-proxy-v2 source {PROXY_SOURCE}\n\
         frontend ftp\n  bind 127.0.0.1:{front_ftp}\n  default_backend ftp_be\n\
         backend ftp_be\n  server f1 127.0.0.1:{ftp_port} send-proxy source {PROXY_SOURCE}\n\
         frontend ftp_data\n  bind {PROXY_DATA_IP}:{data_lo}-{data_hi}\n  default_backend data_be\n\
         backend data_be\n  server d1 127.0.0.1 send-proxy source {PROXY_SOURCE}\n",
        ssh = ssh_port,
    );
    let _haproxy = start_haproxy(srv.root(), &config, &[front_ssh, front_ftp]);

    // SFTP through HAProxy.
    let data = write_data(&srv.local().join("up.bin"), 3 * MIB, 11);
    let batch = srv.root().join("proxied-batch.txt");
    std::fs::write(&batch, "put up.bin /up.bin\nget /up.bin back.bin\n").unwrap();
    let out = run(
        Command::new("sftp")
            .arg("-b")
            .arg(&batch)
            .arg("-P")
            .arg(front_ssh.to_string())
            .args(ssh_client_opts(&srv.client_key))
            .arg("px@127.0.0.1")
            .current_dir(srv.local()),
        CLIENT_TIMEOUT,
    );
    out.assert_ok("sftp through haproxy");
    assert_file_eq(&srv.local().join("back.bin"), &data, "SFTP round trip");

    // FTP through HAProxy, passive data connections included.
    let ftp = FtpServer {
        srv,
        port: front_ftp,
    };
    // curl with PASV (not EPSV) and the address it announces, as a client behind
    // the balancer gets it (lftp "fixes" such addresses).
    let url = format!("ftp://127.0.0.1:{front_ftp}/ftp.bin");
    for args in [
        vec!["-T", "up.bin", url.as_str()],
        vec!["-o", "ftp-back.bin", url.as_str()],
    ] {
        run(
            Command::new("curl")
                .args(["-sS", "--disable-epsv", "--no-ftp-skip-pasv-ip", "--user"])
                .arg(format!("px:{PASSWORD}"))
                .args(&args)
                .current_dir(ftp.srv.local()),
            CLIENT_TIMEOUT,
        )
        .assert_ok("curl through haproxy");
    }
    assert_file_eq(
        &ftp.srv.local().join("ftp-back.bin"),
        &data,
        "FTP round trip",
    );
    assert_file_eq(&ftp.srv.home_of("px").join("ftp.bin"), &data, "FTP upload");

    // Mode 2: a direct connection (no header, not from the proxy) is refused.
    let batch = ftp.srv.root().join("direct-batch.txt");
    std::fs::write(&batch, "ls /\n").unwrap();
    let direct = run(
        Command::new("sftp")
            .arg("-b")
            .arg(&batch)
            .arg("-P")
            .arg(ssh_port.to_string())
            .args(ssh_client_opts(&ftp.srv.client_key))
            .arg("px@127.0.0.1"),
        CLIENT_TIMEOUT,
    );
    assert!(
        !direct.success(),
        "a direct SFTP connection must be refused"
    );
    let (_, code, text) = Raw::open(ftp_port, b"");
    assert_eq!(code, 0, "a direct FTP connection must be closed: {text}");
}

fn v2_header(src: [u8; 4], port: u16) -> Vec<u8> {
    let mut h = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    h.extend([0x21, 0x11, 0, 12]);
    h.extend(src);
    h.extend([127, 0, 0, 1]);
    h.extend(port.to_be_bytes());
    h.extend(21u16.to_be_bytes());
    h
}

#[test]
fn headers_from_allowed_sources_set_the_client_address() {
    let b = Server::builder()
        .user("no10", |u| {
            u["filters"]["denied_ip"] = json!(["10.0.0.0/8"])
        })
        .env("SFTPGO_COMMON__PROXY_PROTOCOL", "1")
        .env("SFTPGO_COMMON__PROXY_ALLOWED", "127.0.0.1")
        .env("SFTPGO_SFTPD__BINDINGS__0__APPLY_PROXY_CONFIG", "false");
    let ftp = start_ftp(b);
    let v1 = b"PROXY TCP4 10.1.2.3 127.0.0.1 5555 21\r\n".to_vec();
    let v2 = v2_header([10, 1, 2, 3], 5555);
    for header in [&v1, &v2] {
        let (mut raw, code, text) = Raw::open(ftp.port, header);
        assert_eq!(code, 220, "greeting after a header: {text}");
        let (c, _) = raw.cmd("USER no10");
        assert_eq!(c, 331);
        let (c, t) = raw.cmd(&format!("PASS {PASSWORD}"));
        assert_eq!(c, 530, "the relayed 10.1.2.3 is denied: {t}");
        let (mut raw, code, _) = Raw::open(ftp.port, header);
        assert_eq!(code, 220);
        raw.login(USER, PASSWORD);
    }
    // LOCAL/UNKNOWN headers keep the real address.
    let (mut raw, code, _) = Raw::open(ftp.port, b"PROXY UNKNOWN\r\n");
    assert_eq!(code, 220);
    raw.login("no10", PASSWORD);
    // Malformed headers close the connection before the greeting.
    for bad in [
        &b"PROXY TCP4 999.1.2.3 127.0.0.1 5555 21\r\n"[..],
        b"PROXY TCP4 10.1.2.3 127.0.0.1 5555\r\n",
        b"PROXY TCP6 10.1.2.3 127.0.0.1 1 2\r\n",
        &[b"PROXY ".as_slice(), &[b'9'; 200]].concat(),
        b"\r\n\r\n\0\r\nQUIT\n\x21\x12\x00\x0c012345678901",
    ] {
        let (_, code, text) = Raw::open(ftp.port, bad);
        assert_eq!(code, 0, "{bad:?} must close the connection: {text}");
    }
    // The server stays up for everyone else.
    let mut raw = ftp.raw();
    raw.login(USER, PASSWORD);
}

#[test]
fn required_headers_and_untrusted_sources() {
    // Mode 2 with 127.0.0.1 allowed: no header, no service.
    let ftp = start_ftp(
        Server::builder()
            .env("SFTPGO_COMMON__PROXY_PROTOCOL", "2")
            .env("SFTPGO_COMMON__PROXY_ALLOWED", "127.0.0.1")
            .env("SFTPGO_SFTPD__BINDINGS__0__APPLY_PROXY_CONFIG", "false"),
    );
    let (_, code, text) = Raw::open(ftp.port, b"USER alice\r\n");
    assert_eq!(code, 0, "no header: {text}");
    let (mut raw, code, _) = Raw::open(ftp.port, &v2_header([127, 0, 0, 1], 4000));
    assert_eq!(code, 220);
    raw.login(USER, PASSWORD);
    drop(ftp);

    // Mode 1 from a source that is not allowed: a header is read and dropped (its
    // address is not believed), and the session works from the real address.
    let ftp = start_ftp(
        Server::builder()
            .user("no10", |u| {
                u["filters"]["denied_ip"] = json!(["10.0.0.0/8"])
            })
            .env("SFTPGO_COMMON__PROXY_PROTOCOL", "1")
            .env("SFTPGO_COMMON__PROXY_ALLOWED", "192.0.2.1")
            .env("SFTPGO_SFTPD__BINDINGS__0__APPLY_PROXY_CONFIG", "false"),
    );
    let (mut raw, code, _) = Raw::open(ftp.port, b"PROXY TCP4 10.1.2.3 127.0.0.1 5555 21\r\n");
    assert_eq!(code, 220);
    raw.login("no10", PASSWORD);
    // Skipped sources are never read for a header.
    let skipped = start_ftp(
        Server::builder()
            .env("SFTPGO_COMMON__PROXY_PROTOCOL", "2")
            .env("SFTPGO_COMMON__PROXY_SKIPPED", "127.0.0.1"),
    );
    let mut raw = skipped.raw();
    raw.login(USER, PASSWORD);
}
