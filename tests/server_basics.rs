//! Black-box checks of start-up behaviour: stored password hashes, the login banner,
//! JSON log lines, and the provider commands.

mod common;

use std::fs;
use std::process::Command;
use std::time::Duration;

use common::*;
use serde_json::Value;

/// A bcrypt hash of "bcrypt-pass-9" (cost 4), as SFTPGo would have stored it.
const BCRYPT_HASH: &str = "$2b$04$nQn7DpGanxHVOmoq7geyoO66RgbHQ.AZGCDT7eQ1Iuw59nslg737m";

/// Logs in with paramiko and a password; returns (success, banner).
fn paramiko_login(port: u16, user: &str, password: &str) -> (bool, String) {
    require_paramiko();
    let script = "import sys, paramiko\n\
        t = paramiko.Transport(('127.0.0.1', int(sys.argv[1])))\n\
        try:\n    t.connect(username=sys.argv[2], password=sys.argv[3])\n\
        except paramiko.AuthenticationException:\n    sys.exit(3)\n\
        print(t.get_banner().decode() if t.get_banner() else '')\n\
        t.close()\n";
    let out = run(
        Command::new("python3").args(["-c", script, &port.to_string(), user, password]),
        Duration::from_secs(60),
    );
    assert!(
        out.success() || out.status.and_then(|s| s.code()) == Some(3),
        "paramiko login crashed\n{}",
        out.report()
    );
    (out.success(), out.stdout)
}

#[test]
fn stored_hashes_are_kept_and_plain_passwords_are_hashed() {
    let srv = Server::builder()
        .user("bob", |u| u["password"] = BCRYPT_HASH.into())
        .start();
    assert!(
        paramiko_login(srv.port, "bob", "bcrypt-pass-9").0,
        "bcrypt hash from a dump verifies"
    );
    assert!(
        !paramiko_login(srv.port, "bob", "bcrypt-pass-8").0,
        "wrong password refused"
    );
    assert!(
        paramiko_login(srv.port, USER, PASSWORD).0,
        "plain password from the dump works"
    );
    // The plain-text password is never stored: only its argon2id hash is.
    let mut stored = Vec::new();
    for name in ["sftpgo.db", "sftpgo.db-wal"] {
        if let Ok(bytes) = fs::read(srv.config_dir().join(name)) {
            stored.extend(bytes);
        }
    }
    let text = String::from_utf8_lossy(&stored);
    assert!(text.contains("$argon2id$"), "an argon2id hash is stored");
    assert!(
        text.contains(BCRYPT_HASH),
        "the bcrypt hash is kept as it was"
    );
    assert!(
        !text.contains(PASSWORD),
        "the plain-text password must not be stored"
    );
}

#[test]
fn login_banner_is_sent_before_authentication() {
    let dir = tempfile::tempdir().unwrap();
    let banner = dir.path().join("banner.txt");
    fs::write(&banner, "Authorised users only\n").unwrap();
    let srv = Server::builder()
        .env("SFTPGO_SFTPD__LOGIN_BANNER_FILE", banner.to_str().unwrap())
        .start();
    let (ok, shown) = paramiko_login(srv.port, USER, PASSWORD);
    assert!(ok);
    assert!(shown.contains("Authorised users only"), "banner: {shown:?}");
}

#[test]
fn logs_are_json_lines_with_transfer_entries() {
    let srv = Server::start_default();
    write_data(&srv.local().join("log.bin"), 100_000, 5);
    srv.sftp_batch(&["put log.bin /log.bin", "get /log.bin back.bin"])
        .assert_ok("transfers");
    std::thread::sleep(Duration::from_millis(300));
    let lines: Vec<Value> = srv
        .log_tail()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    for l in &lines {
        for key in ["level", "time", "sender", "message"] {
            assert!(l.get(key).is_some(), "log line without {key}: {l}");
        }
    }
    for sender in ["Upload", "Download"] {
        let t = lines
            .iter()
            .find(|l| l["sender"] == sender && l["file_path"] == "/log.bin")
            .unwrap_or_else(|| panic!("no {sender} transfer line"));
        assert_eq!(t["size_bytes"], 100_000);
        assert!(t["connection_id"].is_string() && t["elapsed_ms"].is_u64());
    }
    assert!(
        !srv.log_tail().contains(PASSWORD),
        "secrets never appear in logs"
    );
}

#[test]
fn resetprovider_needs_force_and_gen_man_writes_pages() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = |cmd: &mut Command| {
        cmd.arg("-c")
            .arg(tmp.path())
            .args(["-l", ""])
            .current_dir(tmp.path());
    };
    let mut init = sftpgo_cmd();
    init.arg("initprovider");
    cfg(&mut init);
    run(&mut init, Duration::from_secs(60)).assert_ok("initprovider");
    let mut reset = sftpgo_cmd();
    reset.arg("resetprovider");
    cfg(&mut reset);
    let out = run(&mut reset, Duration::from_secs(60));
    out.assert_refused("resetprovider without --force");
    assert!(out.stderr.contains("--force"), "{}", out.report());
    let mut reset = sftpgo_cmd();
    reset.args(["resetprovider", "--force"]);
    cfg(&mut reset);
    run(&mut reset, Duration::from_secs(60)).assert_ok("resetprovider --force");
    let man = tmp.path().join("man");
    run(
        sftpgo_cmd().args(["gen", "man", "-d"]).arg(&man),
        Duration::from_secs(60),
    )
    .assert_ok("gen man");
    assert!(man.join("sftpgo.1").is_file(), "sftpgo.1 written");
}

#[test]
fn created_entries_belong_to_the_users_uid_and_gid() {
    use std::os::unix::fs::MetadataExt;
    let me = fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(1);
    if me != 0 {
        eprintln!("SKIPPED: needs root to give files away (CI runs as root)");
        return;
    }
    let srv = Server::builder()
        .user("owned", |u| {
            u["uid"] = 4321.into();
            u["gid"] = 4322.into();
        })
        .start();
    write_data(&srv.local().join("o.bin"), 1000, 1);
    let key = srv.client_key.clone();
    srv.sftp_batch_as(
        "owned",
        &key,
        &["put o.bin /o.bin", "mkdir /d", "symlink /o.bin /l"],
        Duration::from_secs(60),
    )
    .assert_ok("uploads as the owned user");
    let home = srv.home_of("owned");
    for name in ["", "o.bin", "d"] {
        let m = fs::metadata(home.join(name)).unwrap();
        assert_eq!((m.uid(), m.gid()), (4321, 4322), "owner of {name:?}");
    }
    let l = fs::symlink_metadata(home.join("l")).unwrap();
    assert_eq!((l.uid(), l.gid()), (4321, 4322), "owner of the symlink");
}

/// Opens `/up.bin` for writing, writes 100 kB, then drops the connection without
/// closing the file.
fn interrupted_upload(port: u16) {
    require_paramiko();
    let script = "import sys, time, paramiko\n\
        t = paramiko.Transport(('127.0.0.1', int(sys.argv[1])))\n\
        t.connect(username=sys.argv[2], password=sys.argv[3])\n\
        s = paramiko.SFTPClient.from_transport(t)\n\
        f = s.open('/up.bin', 'wb')\n\
        f.set_pipelined(False)\n\
        f.write(b'N' * 100000)\n\
        f.flush()\n\
        s.stat('/')\n\
        t.sock.close()\n";
    run(
        Command::new("python3").args(["-c", script, &port.to_string(), USER, PASSWORD]),
        Duration::from_secs(60),
    )
    .assert_ok("interrupted upload script");
    std::thread::sleep(Duration::from_millis(700));
}

#[test]
fn atomic_upload_modes_protect_the_target_on_interrupted_uploads() {
    let old = b"previous content that must survive".to_vec();
    // Mode 1: the old file stays intact and no temporary file is left behind.
    let srv = Server::builder()
        .env("SFTPGO_COMMON__UPLOAD_MODE", "1")
        .start();
    let home = srv.ensure_home();
    fs::write(home.join("up.bin"), &old).unwrap();
    interrupted_upload(srv.port);
    assert_eq!(
        fs::read(home.join("up.bin")).unwrap(),
        old,
        "mode 1 keeps the old file"
    );
    let leftovers: Vec<_> = fs::read_dir(&home)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".sftpgo-upload."))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    // A complete upload in mode 1 replaces the file.
    write_data(&srv.local().join("new.bin"), 5000, 9);
    srv.sftp_batch(&["put new.bin /up.bin"])
        .assert_ok("atomic upload");
    assert_eq!(fs::read(home.join("up.bin")).unwrap().len(), 5000);

    // Mode 2: the partial upload is kept under the target name, to be resumed.
    let srv = Server::builder()
        .env("SFTPGO_COMMON__UPLOAD_MODE", "2")
        .start();
    let home = srv.ensure_home();
    fs::write(home.join("up.bin"), &old).unwrap();
    interrupted_upload(srv.port);
    assert_eq!(
        fs::read(home.join("up.bin")).unwrap(),
        vec![b'N'; 100000],
        "mode 2 keeps the partial upload"
    );

    // Mode 0 writes in place: the partial data is what is there.
    let srv = Server::start_default();
    let home = srv.ensure_home();
    fs::write(home.join("up.bin"), &old).unwrap();
    interrupted_upload(srv.port);
    assert_eq!(fs::read(home.join("up.bin")).unwrap().len(), 100000);
}

fn hold_connection(port: u16) -> std::net::TcpStream {
    use std::io::BufRead;
    let s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut line = String::new();
    std::io::BufReader::new(s.try_clone().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(
        line.starts_with("SSH-2.0-"),
        "held connection got the banner: {line:?}"
    );
    s
}

fn works_again(srv: &Server) {
    for _ in 0..50 {
        if srv.sftp_batch(&["pwd"]).success() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("sessions never worked again after the held connection closed");
}

#[test]
fn connection_caps_refuse_before_the_handshake() {
    for var in [
        "SFTPGO_COMMON__MAX_TOTAL_CONNECTIONS",
        "SFTPGO_COMMON__MAX_PER_HOST_CONNECTIONS",
    ] {
        let srv = Server::builder().env(var, "1").start();
        works_again(&srv);
        let held = hold_connection(srv.port);
        srv.sftp_batch(&["pwd"])
            .assert_refused(&format!("second connection with {var}=1"));
        drop(held);
        works_again(&srv);
    }
}

#[test]
fn configured_host_key_and_ciphers_are_honoured() {
    require_tools(&["ssh", "ssh-keyscan", "ssh-keygen"]);
    let dir = tempfile::tempdir().unwrap();
    let (key_path, key_pub) = gen_key(dir.path(), "host_ed25519");
    let srv = Server::builder()
        .env("SFTPGO_SFTPD__HOST_KEYS", key_path.to_str().unwrap())
        .env("SFTPGO_SFTPD__CIPHERS", "aes256-ctr,aes256-gcm@openssh.com")
        .start();
    let scan = run(
        Command::new("ssh-keyscan").args([
            "-t",
            "ed25519",
            "-p",
            &srv.port.to_string(),
            "127.0.0.1",
        ]),
        Duration::from_secs(30),
    );
    let blob = key_pub.split_whitespace().nth(1).unwrap();
    assert!(
        scan.stdout.contains(blob),
        "the configured host key is served\n{}",
        scan.report()
    );
    assert!(
        !srv.config_dir().join("id_ed25519").exists(),
        "no key is generated when host_keys is set"
    );
    let with_cipher = |cipher: &str| {
        run(
            Command::new("ssh")
                .args(["-p", &srv.port.to_string(), "-c", cipher])
                .args(ssh_client_opts(&srv.client_key))
                .arg(format!("{USER}@127.0.0.1"))
                .arg("pwd"),
            Duration::from_secs(60),
        )
    };
    with_cipher("aes256-ctr").assert_ok("a configured cipher");
    with_cipher("aes128-gcm@openssh.com").assert_refused("a cipher left out of sftpd.ciphers");
}

/// Runs OpenSSH `ssh` with password auth only, answering every prompt with a wrong
/// password through SSH_ASKPASS; returns (prompts answered, ssh stderr).
fn wrong_password_prompts(srv: &Server, prompts: u32) -> (usize, String) {
    require_tools(&["ssh"]);
    let dir = tempfile::tempdir().unwrap();
    let count = dir.path().join("count");
    let askpass = dir.path().join("askpass.sh");
    fs::write(
        &askpass,
        format!(
            "#!/bin/sh\necho x >> '{}'\necho wrong-password\n",
            count.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&askpass, fs::Permissions::from_mode(0o755)).unwrap();
    let out = run(
        Command::new("setsid")
            .args(["-w", "ssh", "-p", &srv.port.to_string()])
            .args([
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "PreferredAuthentications=password",
                "-o",
                "PubkeyAuthentication=no",
                "-o",
                &format!("NumberOfPasswordPrompts={prompts}"),
            ])
            .arg(format!("{USER}@127.0.0.1"))
            .arg("pwd")
            .env("SSH_ASKPASS", &askpass)
            .env("SSH_ASKPASS_REQUIRE", "force")
            .env("DISPLAY", ":0")
            .stdin(std::process::Stdio::null()),
        Duration::from_secs(60),
    );
    assert!(
        !out.success(),
        "a wrong password must not log in\n{}",
        out.report()
    );
    let answered = fs::read_to_string(&count)
        .unwrap_or_default()
        .lines()
        .count();
    (answered, out.stderr)
}

#[test]
fn password_retries_are_allowed_up_to_max_auth_tries() {
    // Default limit (6): OpenSSH may ask three times on one connection, like with sshd.
    let srv = Server::start_default();
    let (answered, _) = wrong_password_prompts(&srv, 3);
    assert_eq!(
        answered, 3,
        "each wrong password may be retried on the same connection"
    );
    // With max_auth_tries = 2 the server disconnects after the second failure.
    let srv = Server::builder()
        .env("SFTPGO_SFTPD__MAX_AUTH_TRIES", "2")
        .start();
    let (answered, stderr) = wrong_password_prompts(&srv, 5);
    assert!(
        answered <= 3,
        "the connection must end after 2 failures, {answered} prompts answered; {stderr}"
    );
}

/// Reads `username → password hash` from the SQLite provider's user documents with Python's sqlite3
/// (WAL-aware, so it sees committed writes the server has not checkpointed).
fn stored_hashes(db: &std::path::Path) -> std::collections::HashMap<String, String> {
    let script = "import sqlite3, sys, json\n\
        c = sqlite3.connect(sys.argv[1])\n\
        rows = c.execute('select name, data from objects where kind = 1')\n\
        print(json.dumps({n: json.loads(d).get('password', '') for n, d in rows}))\n";
    let out = run(
        Command::new("python3").args(["-c", script]).arg(db),
        Duration::from_secs(30),
    );
    out.assert_ok("read the users table");
    serde_json::from_str(out.stdout.trim()).expect("json from sqlite3")
}

#[test]
fn legacy_password_hashes_log_in_and_are_upgraded() {
    let legacy = [
        (
            "carol",
            "digest-256",
            "{SHA256}b8b8ef20ceef758b05fd83c38942b43ec842fca03f78f751334f04d7a794910f",
        ),
        (
            "dave",
            "pbkdf-pass",
            "$pbkdf2-sha256$1000$NaClsalt$zSrHn95NNoev0Hn1DJXAfI5QFwrcmRTLqnEBuFUsadE=",
        ),
        ("erin", "secret", "$apr1$abcdefgh$h9FWgUz3n9YxylKLlR5SQ/"),
        (
            "frank",
            "secret6",
            "$6$saltysalt$QF7p9IpyKWgy6we4Q.Q14EuymHQn2qRQ1tTH5/czU2fqQVS0EqlvM5AD.E/4N0mM4g96MX.v.bFJaZ53seCpM/",
        ),
    ];
    let mut builder = Server::builder();
    for (name, _, hash) in legacy {
        builder = builder.user(name, |u| u["password"] = hash.into());
    }
    let srv = builder.start();
    let db = srv.config_dir().join("sftpgo.db");
    let before = stored_hashes(&db);
    for (name, plain, hash) in legacy {
        assert_eq!(
            before[name], hash,
            "{name}: the dump's hash is stored as is"
        );
        assert!(
            !paramiko_login(srv.port, name, &format!("{plain}-wrong")).0,
            "{name}: wrong password refused"
        );
        assert_eq!(
            stored_hashes(&db)[name],
            hash,
            "a failed login changes nothing"
        );
        assert!(
            paramiko_login(srv.port, name, plain).0,
            "{name}: {hash} verifies"
        );
    }
    let after = stored_hashes(&db);
    for (name, plain, _) in legacy {
        assert!(
            after[name].starts_with("$argon2id$"),
            "{name}: upgraded to argon2id after login, got {}",
            after[name]
        );
        assert!(
            paramiko_login(srv.port, name, plain).0,
            "{name}: logs in with the upgraded hash"
        );
    }
}
