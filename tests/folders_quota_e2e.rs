//! Virtual folders and disk quotas through the real binary: OpenSSH `sftp` for routing,
//! listings, cross-folder moves and the folder fences (no rename/removal of a mount
//! point, no links across folders, no symlink escape from a folder); then quota limits
//! and usage counters with SFTP, FTP (curl), WebDAV (curl) and the user REST API, read
//! back through the admin API.

mod common;

use std::fs;
use std::process::Command;

use common::api::*;
use common::*;
use serde_json::{Value, json};

const VF: &str = "vf";
const KIB: usize = 1024;

/// The folder's directory on the host.
fn folder_dir(srv: &Server, name: &str) -> std::path::PathBuf {
    srv.root().join("folders").join(name)
}

fn folder_record(b: &ServerBuilder, name: &str) -> Value {
    json!({
        "name": name,
        "mapped_path": b.root().join("folders").join(name),
        "filesystem": {"provider": 0}
    })
}

fn sftp_as(srv: &Server, user: &str, lines: &[&str]) -> CmdOutput {
    srv.sftp_batch_as(user, &srv.client_key, lines, CLIENT_TIMEOUT)
}

/// Runs one command expected to fail, and checks the batch did fail.
fn refused(srv: &Server, user: &str, line: &str) {
    let out = sftp_as(srv, user, &[line]);
    assert!(
        !out.success(),
        "{line:?} should be refused: {}",
        out.report()
    );
}

#[test]
fn virtual_folders_are_routed_listed_and_fenced() {
    let b = Server::builder();
    let folders = json!([folder_record(&b, "shared"), folder_record(&b, "deep")]);
    let srv = b
        .dump_section("folders", folders)
        .user(VF, |u| {
            u["virtual_folders"] = json!([
                {"name": "shared", "virtual_path": "/shared", "quota_size": -1, "quota_files": -1},
                {"name": "deep", "virtual_path": "/a/b/deep", "quota_size": 0, "quota_files": 0}
            ]);
        })
        .start();
    let data = write_data(&srv.local().join("one.bin"), 300 * KIB, 7);
    let out = sftp_as(
        &srv,
        VF,
        &[
            "put one.bin /shared/one.bin",
            "put one.bin /a/b/deep/two.bin",
            "put one.bin /home.bin",
            "ls -1 /",
            "ls -1 /a",
            "ls -1 /a/b",
            "ls -1 /shared",
            "get /shared/one.bin back.bin",
        ],
    );
    out.assert_ok("uploads into folders");
    let home = srv.home_of(VF);
    assert_file_eq(
        &folder_dir(&srv, "shared").join("one.bin"),
        &data,
        "folder upload",
    );
    assert_file_eq(
        &folder_dir(&srv, "deep").join("two.bin"),
        &data,
        "deep folder upload",
    );
    assert_file_eq(&home.join("home.bin"), &data, "home upload");
    assert_file_eq(
        &srv.local().join("back.bin"),
        &data,
        "download from a folder",
    );
    assert!(
        !home.join("shared").exists(),
        "folder data must not land in the home"
    );
    for name in ["shared", "a", "home.bin", "b", "deep", "one.bin"] {
        assert!(
            out.stdout.lines().any(|l| l.trim().ends_with(name)),
            "listing lacks {name}: {}",
            out.stdout
        );
    }

    // Renames across folders move the data (files and trees); the source goes away.
    let out = sftp_as(
        &srv,
        VF,
        &[
            "rename /home.bin /shared/moved.bin",
            "rename /shared/moved.bin /a/b/deep/moved.bin",
            "mkdir /dir",
            "mkdir /dir/sub",
            "put one.bin /dir/sub/x.bin",
            "rename /dir /shared/dir",
        ],
    );
    out.assert_ok("cross-folder renames");
    assert!(!home.join("home.bin").exists());
    assert!(!folder_dir(&srv, "shared").join("moved.bin").exists());
    assert_file_eq(
        &folder_dir(&srv, "deep").join("moved.bin"),
        &data,
        "moved twice",
    );
    assert_file_eq(
        &folder_dir(&srv, "shared").join("dir/sub/x.bin"),
        &data,
        "tree moved into a folder",
    );
    assert!(!home.join("dir").exists(), "the moved tree left the home");

    // Mount points and the directories above them cannot be renamed or removed, and
    // links cannot join two folders.
    sftp_as(&srv, VF, &["put one.bin /plain.bin"]).assert_ok("plain upload");
    for line in [
        "rename /shared /elsewhere",
        "rename /a /z",
        "rename /plain.bin /a",
        "rmdir /shared",
        "rmdir /a/b",
        "rm /shared",
        "mkdir /shared",
        "put one.bin /a/b",
        "ln -s /plain.bin /shared/link",
        "ln /plain.bin /shared/hard",
        "ln -s /shared/one.bin /link-to-folder",
    ] {
        refused(&srv, VF, line);
    }
    assert!(folder_dir(&srv, "shared").join("one.bin").exists());
    // A link inside one folder works and resolves inside it.
    sftp_as(
        &srv,
        VF,
        &[
            "ln -s /shared/one.bin /shared/inside",
            "get /shared/inside via-link.bin",
        ],
    )
    .assert_ok("link within a folder");
    assert_file_eq(
        &srv.local().join("via-link.bin"),
        &data,
        "link inside a folder",
    );

    // A link moved out of its folder would lead elsewhere: refused.
    refused(&srv, VF, "rename /shared/inside /moved-link");

    // A host symlink planted in the folder cannot lead out of it.
    std::os::unix::fs::symlink("/etc", folder_dir(&srv, "shared").join("out")).unwrap();
    refused(&srv, VF, "get /shared/out/passwd stolen");
    refused(&srv, VF, "get /shared/../../etc/passwd stolen");
    assert!(!srv.local().join("stolen").exists());
}

#[test]
fn a_folder_mounted_at_the_root_replaces_the_home() {
    let b = Server::builder();
    let folders = json!([folder_record(&b, "everything")]);
    let srv = b
        .dump_section("folders", folders)
        .user(VF, |u| {
            u["virtual_folders"] = json!([
                {"name": "everything", "virtual_path": "/", "quota_size": 0, "quota_files": 0}
            ]);
        })
        .start();
    let data = write_data(&srv.local().join("f.bin"), 64 * KIB, 3);
    sftp_as(&srv, VF, &["mkdir /d", "put f.bin /d/f.bin", "ls -1 /d"]).assert_ok("root mount");
    assert_file_eq(
        &folder_dir(&srv, "everything").join("d/f.bin"),
        &data,
        "root folder",
    );
    assert!(!srv.home_of(VF).exists(), "the home is never used");
}

// ------------------------------------------------------------------------------ quotas

const Q: &str = "q";

struct QuotaServer {
    srv: Server,
    api: Api,
    admin: String,
    ftp_port: u16,
    dav_port: u16,
}

impl QuotaServer {
    /// `(used bytes, used files)` of a user or folder, from the admin API.
    fn usage(&self, what: &str) -> (u64, u64) {
        let r = self.api.call("GET", what, &bearer(&self.admin), None);
        assert_eq!(r.status, 200, "{what}: {}", r.raw);
        (
            r.body["used_quota_size"].as_u64().unwrap(),
            r.body["used_quota_files"].as_u64().unwrap(),
        )
    }

    fn user_usage(&self) -> (u64, u64) {
        self.usage(&format!("/api/v2/users/{Q}"))
    }

    fn folder_usage(&self, name: &str) -> (u64, u64) {
        self.usage(&format!("/api/v2/folders/{name}"))
    }

    fn curl(&self, args: &[&str], url: &str) -> CmdOutput {
        run(
            Command::new("curl")
                .args([
                    "-sS",
                    "-w",
                    "\n%{http_code}",
                    "--user",
                    &format!("{Q}:{PASSWORD}"),
                ])
                .args(args)
                .arg(url)
                .current_dir(self.srv.local()),
            CLIENT_TIMEOUT,
        )
    }
}

fn start_quota_server() -> QuotaServer {
    require_tools(&["curl"]);
    let b = Server::builder();
    let folders = json!([folder_record(&b, "limited"), folder_record(&b, "counted")]);
    let (ftp_port, dav_port) = (free_port(), free_port());
    let b = b
        .dump_section("folders", folders)
        .user(Q, |u| {
            u["quota_size"] = json!(MIB);
            u["quota_files"] = json!(6);
            u["virtual_folders"] = json!([
                {"name": "limited", "virtual_path": "/limited", "quota_size": 256 * KIB, "quota_files": 0},
                {"name": "counted", "virtual_path": "/counted", "quota_size": -1, "quota_files": -1}
            ]);
        })
        .env("SFTPGO_COMMON__UPLOAD_MODE", "1")
        .env("SFTPGO_FTPD__BINDINGS__0__PORT", &ftp_port.to_string())
        .env("SFTPGO_FTPD__BINDINGS__0__ADDRESS", "127.0.0.1")
        .env("SFTPGO_WEBDAVD__BINDINGS__0__PORT", &dav_port.to_string())
        .env("SFTPGO_WEBDAVD__BINDINGS__0__ADDRESS", "127.0.0.1");
    let (srv, api) = start_api_with(b);
    let admin = api.token("root", "root-pass-1");
    QuotaServer {
        srv,
        api,
        admin,
        ftp_port,
        dav_port,
    }
}

fn status_of(out: &CmdOutput) -> u16 {
    out.stdout
        .rsplit('\n')
        .next()
        .and_then(|c| c.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn quotas_are_enforced_and_counted_on_every_protocol() {
    let qs = start_quota_server();
    let srv = &qs.srv;
    let k400 = 400 * KIB as u64;
    let big = write_data(&srv.local().join("400k.bin"), 400 * KIB, 1);
    write_data(&srv.local().join("200k.bin"), 200 * KIB, 2);
    write_data(&srv.local().join("1k.bin"), KIB, 3);
    assert_eq!(qs.user_usage(), (0, 0));

    // Home and a folder counted in the user's quota both charge the user.
    sftp_as(
        srv,
        Q,
        &["put 400k.bin /a.bin", "put 400k.bin /counted/b.bin"],
    )
    .assert_ok("uploads within quota");
    assert_eq!(qs.user_usage(), (2 * k400, 2));
    assert_eq!(qs.folder_usage("counted"), (k400, 1));

    // The next 400 KiB would pass 1 MiB: refused by every protocol, nothing kept.
    refused(srv, Q, "put 400k.bin /c.bin");
    let ftp = qs.curl(
        &["-T", "400k.bin"],
        &format!("ftp://127.0.0.1:{}/c.bin", qs.ftp_port),
    );
    assert!(!ftp.success(), "FTP STOR over quota: {}", ftp.report());
    let dav = qs.curl(
        &["-T", "400k.bin"],
        &format!("http://127.0.0.1:{}/c.bin", qs.dav_port),
    );
    assert_eq!(
        status_of(&dav),
        507,
        "WebDAV PUT over quota: {}",
        dav.report()
    );
    let user = qs.api.user_token(Q, PASSWORD);
    let rest = upload(
        &qs.api,
        &user,
        "%2Fc.bin",
        &["--data-binary", "@400k.bin"],
        &srv.local(),
    );
    assert!(
        rest.stdout.ends_with("413"),
        "REST upload over quota: {}",
        rest.report()
    );
    assert!(
        !srv.home_of(Q).join("c.bin").exists(),
        "a refused upload leaves nothing"
    );
    assert_eq!(
        qs.user_usage(),
        (2 * k400, 2),
        "refused uploads are not charged"
    );

    // Deleting gives the room back; then an FTP upload fits.
    sftp_as(srv, Q, &["rm /a.bin"]).assert_ok("delete");
    assert_eq!(qs.user_usage(), (k400, 1));
    qs.curl(
        &["-T", "400k.bin"],
        &format!("ftp://127.0.0.1:{}/c.bin", qs.ftp_port),
    )
    .assert_ok("FTP upload within quota");
    assert_file_eq(&srv.home_of(Q).join("c.bin"), &big, "FTP upload");
    assert_eq!(qs.user_usage(), (2 * k400, 2));

    // Files quota (6): four more small files fit, the fifth does not; overwriting an
    // existing file needs no new file slot.
    sftp_as(
        srv,
        Q,
        &[
            "put 1k.bin /s1",
            "put 1k.bin /s2",
            "put 1k.bin /s3",
            "put 1k.bin /s4",
        ],
    )
    .assert_ok("small files");
    assert_eq!(qs.user_usage(), (2 * k400 + 4 * KIB as u64, 6));
    refused(srv, Q, "put 1k.bin /s5");
    let put = qs.curl(
        &["-T", "1k.bin"],
        &format!("http://127.0.0.1:{}/s5", qs.dav_port),
    );
    assert_eq!(
        status_of(&put),
        507,
        "WebDAV over the files quota: {}",
        put.report()
    );
    // 804 KiB used: replacing the 1 KiB /s1 by 400 KiB would end above 1 MiB, by
    // 200 KiB fits.
    refused(srv, Q, "put 400k.bin /s1");
    sftp_as(srv, Q, &["put 200k.bin /s1"]).assert_ok("overwrite within quota");
    assert_eq!(qs.user_usage(), (2 * k400 + 203 * KIB as u64, 6));
    sftp_as(srv, Q, &["rm /s1", "rm /s2", "rm /s3", "rm /s4"]).assert_ok("cleanup");
    assert_eq!(qs.user_usage(), (2 * k400, 2));

    // A folder with its own quota: counted apart from the user.
    sftp_as(srv, Q, &["put 200k.bin /limited/x.bin"]).assert_ok("folder upload");
    assert_eq!(qs.folder_usage("limited"), (200 * KIB as u64, 1));
    assert_eq!(
        qs.user_usage(),
        (2 * k400, 2),
        "own-quota folders do not charge the user"
    );
    refused(srv, Q, "put 200k.bin /limited/y.bin");
    assert_eq!(qs.folder_usage("limited"), (200 * KIB as u64, 1));

    // Moving out of the folder moves the charge.
    sftp_as(srv, Q, &["rename /limited/x.bin /x.bin"]).assert_ok("move out of a folder");
    assert_eq!(qs.folder_usage("limited"), (0, 0));
    assert_eq!(qs.user_usage(), (2 * k400 + 200 * KIB as u64, 3));
    // Moving in again when the folder has room; a move that does not fit is refused
    // and leaves the source in place.
    sftp_as(srv, Q, &["rename /x.bin /limited/x.bin"]).assert_ok("move into a folder");
    assert_eq!(qs.folder_usage("limited"), (200 * KIB as u64, 1));
    refused(srv, Q, "rename /c.bin /limited/c.bin");
    assert!(
        srv.home_of(Q).join("c.bin").exists(),
        "a refused move keeps its source"
    );
    assert_eq!(qs.user_usage(), (2 * k400, 2));
    // Replacing a file in the folder: the move fails half way, and both the source
    // and the file it would have replaced are intact.
    let x = fs::read(folder_dir(srv, "limited").join("x.bin")).unwrap();
    refused(srv, Q, "rename /c.bin /limited/x.bin");
    assert_file_eq(
        &folder_dir(srv, "limited").join("x.bin"),
        &x,
        "replaced file kept",
    );
    assert_file_eq(&srv.home_of(Q).join("c.bin"), &big, "source kept");
    assert_eq!(qs.folder_usage("limited"), (200 * KIB as u64, 1));
    // One folder cannot be mapped twice.
    let r = qs.api.call(
        "PUT",
        &format!("/api/v2/users/{Q}"),
        &bearer(&qs.admin),
        Some(&json!({"virtual_folders": [
            {"name": "limited", "virtual_path": "/l1"},
            {"name": "limited", "virtual_path": "/l2"}
        ]})),
    );
    assert_eq!(r.status, 400, "a folder mapped twice: {}", r.raw);

    // Overwriting with a smaller file releases the difference.
    let put = qs.curl(
        &["-T", "1k.bin"],
        &format!("http://127.0.0.1:{}/c.bin", qs.dav_port),
    );
    assert_eq!(status_of(&put), 204, "WebDAV overwrite: {}", put.report());
    let expected = (k400 + KIB as u64, 2);
    assert_eq!(qs.user_usage(), expected);

    // A quota scan (home plus the folders counted in the user's quota) agrees with
    // the counters kept along the way.
    qs.api.call(
        "PUT",
        &format!("/api/v2/quotas/users/{Q}/usage"),
        &bearer(&qs.admin),
        Some(&json!({"used_quota_size": 1, "used_quota_files": 1})),
    );
    assert_eq!(qs.user_usage(), (1, 1), "reset by an admin");
    let r = qs.api.call(
        "POST",
        &format!("/api/v2/quotas/users/{Q}/scan"),
        &bearer(&qs.admin),
        None,
    );
    assert_eq!(r.status, 202, "{}", r.raw);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while qs.user_usage() != expected && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(qs.user_usage(), expected, "the scan counts the same");
    let _ = fs::metadata(srv.home_of(Q));
}

// ------------------------------------------------------------------ transfer limits

#[test]
fn data_transfer_limits_and_bandwidth_apply_to_transfers() {
    require_tools(&["curl"]);
    let b = Server::builder()
        .user("t", |u| {
            u["upload_data_transfer"] = json!(1);
            u["download_data_transfer"] = json!(1);
        })
        .user("slow", |u| {
            u["download_bandwidth"] = json!(256);
        })
        .user("near", |u| {
            // 1 KiB/s would take minutes; the override for loopback lifts it.
            u["download_bandwidth"] = json!(1);
            u["filters"]["bandwidth_limits"] = json!([
                {"sources": ["10.0.0.0/8"], "upload_bandwidth": 1, "download_bandwidth": 1},
                {"sources": ["127.0.0.0/8", "::1/128"], "upload_bandwidth": 0, "download_bandwidth": 0}
            ]);
        });
    let (srv, api) = start_api_with(b);
    let admin = api.token("root", "root-pass-1");
    let counters = || {
        let r = api.call("GET", "/api/v2/users/t", &bearer(&admin), None);
        assert_eq!(r.status, 200, "{}", r.raw);
        (
            r.body["used_upload_data_transfer"].as_u64().unwrap(),
            r.body["used_download_data_transfer"].as_u64().unwrap(),
        )
    };
    let data = write_data(&srv.local().join("600k.bin"), 600 * KIB, 5);

    // Uploads: 600 KiB fit in 1 MiB, the next 600 KiB stop at the limit, and then
    // nothing more is accepted.
    sftp_as(&srv, "t", &["put 600k.bin /one.bin"]).assert_ok("upload within the limit");
    assert_eq!(counters().0, 600 * KIB as u64);
    refused(&srv, "t", "put 600k.bin /two.bin");
    let (up, _) = counters();
    assert!(
        up > 600 * KIB as u64 && up <= MIB as u64,
        "upload counter {up}"
    );
    refused(&srv, "t", "put 600k.bin /three.bin");
    assert_file_eq(
        &srv.home_of("t").join("one.bin"),
        &data,
        "first upload intact",
    );

    // Downloads have their own limit.
    sftp_as(&srv, "t", &["get /one.bin back1.bin"]).assert_ok("download within the limit");
    assert_file_eq(&srv.local().join("back1.bin"), &data, "download");
    assert_eq!(counters().1, 600 * KIB as u64);
    refused(&srv, "t", "get /one.bin back2.bin");
    refused(&srv, "t", "get /one.bin back3.bin");
    let (_, down) = counters();
    assert!(down > 600 * KIB as u64, "download counter {down}");

    // An admin resets the counters: transfers work again.
    let r = api.call(
        "PUT",
        "/api/v2/quotas/users/t/transfer-usage",
        &bearer(&admin),
        Some(&json!({"used_upload_data_transfer": 0, "used_download_data_transfer": 0})),
    );
    assert!(r.status < 300, "{}", r.raw);
    sftp_as(&srv, "t", &["get /one.bin back4.bin"]).assert_ok("after the reset");

    // Bandwidth: 512 KiB at 256 KiB/s cannot take less than about two seconds.
    let home = srv.home_of("slow");
    fs::create_dir_all(&home).unwrap();
    write_data(&home.join("512k.bin"), 512 * KIB, 6);
    let started = std::time::Instant::now();
    sftp_as(&srv, "slow", &["get /512k.bin slow.bin"]).assert_ok("throttled download");
    let took = started.elapsed();
    assert!(
        took >= std::time::Duration::from_millis(1500),
        "512 KiB at 256 KiB/s took {took:?}"
    );
    // The loopback override lifts a 1 KiB/s limit (else this would outlast the
    // client's timeout).
    let home = srv.home_of("near");
    fs::create_dir_all(&home).unwrap();
    write_data(&home.join("512k.bin"), 512 * KIB, 6);
    sftp_as(&srv, "near", &["get /512k.bin near.bin"]).assert_ok("override for loopback");
}

#[test]
fn quota_counters_survive_links_and_staged_uploads() {
    let (srv, api) = start_api_with(
        Server::builder()
            .user(Q, |u| u["quota_size"] = json!(10 * MIB))
            .env("SFTPGO_COMMON__UPLOAD_MODE", "1"),
    );
    let admin = api.token("root", "root-pass-1");
    let usage = || {
        let r = api.call("GET", &format!("/api/v2/users/{Q}"), &bearer(&admin), None);
        (
            r.body["used_quota_size"].as_u64().unwrap(),
            r.body["used_quota_files"].as_u64().unwrap(),
        )
    };
    let k = KIB as u64;
    write_data(&srv.local().join("100k.bin"), 100 * KIB, 1);
    write_data(&srv.local().join("1k.bin"), KIB, 2);

    // A hard link counts as one more file of the same size; removing a name
    // releases one.
    sftp_as(&srv, Q, &["put 100k.bin /f", "ln /f /g"]).assert_ok("hard link");
    assert_eq!(usage(), (200 * k, 2));
    // Renaming a name onto another name of the same file changes nothing.
    sftp_as(&srv, Q, &["rename /f /g"]).assert_ok("rename onto a hard link");
    assert_eq!(usage(), (200 * k, 2));
    sftp_as(&srv, Q, &["rm /g"]).assert_ok("remove one name");
    assert_eq!(usage(), (100 * k, 1));

    // A staged upload onto a symlink replaces the link, not the file behind it.
    sftp_as(&srv, Q, &["ln -s /f /l", "put 1k.bin /l"]).assert_ok("upload onto a link");
    assert_eq!(
        fs::metadata(srv.home_of(Q).join("f")).unwrap().len(),
        100 * k
    );
    assert_eq!(usage(), (101 * k, 2));
}

#[test]
fn uploads_in_flight_share_the_room_left() {
    require_paramiko();
    let (srv, api) = start_api_with(Server::builder().user(Q, |u| {
        u["quota_size"] = json!(MIB);
        u["quota_files"] = json!(2);
    }));
    let admin = api.token("root", "root-pass-1");
    // Two files open at once in one session: the first takes 600 KiB of the 1 MiB,
    // so the second cannot take another 600 KiB while the first is still running;
    // and with two new files pending, a third cannot even open.
    let script = "import sys, paramiko\n\
        t = paramiko.Transport(('127.0.0.1', int(sys.argv[1])))\n\
        t.connect(username=sys.argv[2], password=sys.argv[3])\n\
        s = paramiko.SFTPClient.from_transport(t)\n\
        a = s.open('/a', 'wb'); b = s.open('/b', 'wb')\n\
        a.write(b'a' * 600 * 1024); a.flush()\n\
        try:\n    s.open('/c', 'wb')\n    print('third open: ok')\n\
        except IOError as e:\n    print('third open: refused', e)\n\
        try:\n    b.write(b'b' * 600 * 1024); b.flush()\n    print('second write: ok')\n\
        except IOError as e:\n    print('second write: refused', e)\n\
        a.close()\n\
        try:\n    b.close()\n\
        except IOError:\n    pass\n\
        t.close()\n";
    let out = run(
        Command::new("python3").args(["-c", script, &srv.port.to_string(), Q, PASSWORD]),
        CLIENT_TIMEOUT,
    );
    out.assert_ok("paramiko concurrent uploads");
    assert!(
        out.stdout.contains("third open: refused"),
        "files quota counts pending files\n{}",
        out.report()
    );
    assert!(
        out.stdout.contains("second write: refused"),
        "size quota counts running uploads\n{}",
        out.report()
    );
    let r = api.call("GET", &format!("/api/v2/users/{Q}"), &bearer(&admin), None);
    let used = r.body["used_quota_size"].as_u64().unwrap();
    assert!(
        (600 * KIB as u64..=MIB as u64).contains(&used),
        "the first upload is charged, the refused one adds at most its first part: {used}"
    );
}

#[test]
fn moved_links_keep_their_targets() {
    let srv = Server::start_default();
    write_data(&srv.local().join("x.bin"), 10, 1);
    let home = srv.ensure_home();
    srv.sftp_batch(&[
        "mkdir /a",
        "mkdir /a/t",
        "ln -s /a/t /a/l",
        "rename /a/l /l",
        "put x.bin /x.bin",
        "mkdir /d1",
        "ln -s /x.bin /d1/l",
        "mkdir /d2",
    ])
    .assert_ok("links");
    assert_eq!(
        fs::read_link(home.join("l")).unwrap(),
        std::path::PathBuf::from("a/t"),
        "the moved link was rewritten to keep its target"
    );
    // The default user has per-directory rules: a directory holding a link that
    // leads out of it cannot change parents, but can be renamed in place.
    refused(&srv, USER, "rename /d1 /d2/d1");
    srv.sftp_batch(&["rename /d1 /d1b"])
        .assert_ok("rename in place");
    assert_eq!(
        fs::read_link(home.join("d1b/l")).unwrap(),
        std::path::PathBuf::from("../x.bin")
    );
}
