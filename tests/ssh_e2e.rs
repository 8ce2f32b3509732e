//! End-to-end tests: the real OpenSSH clients (ssh, sftp, scp), paramiko and ssh-audit
//! against `sftpgo serve`. Each test starts its own server in its own temp dir.
//!
//! The client tools come from `scripts/install-test-deps.sh`; a missing client fails the
//! test (ssh-audit only skips).

mod common;

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;
use serde_json::json;

const SUMS: [&str; 5] = ["md5sum", "sha1sum", "sha256sum", "sha384sum", "sha512sum"];
const SECRET_NEAR: &[u8] = b"E2E-SECRET-next-to-the-home-dirs\n";
const SECRET_TOP: &[u8] = b"E2E-SECRET-at-the-top-of-the-temp-dir\n";

/// Lines printed by `sftp -b` for the batch command `command` (up to the next `sftp>` echo).
fn sftp_section(stdout: &str, command: &str) -> String {
    let marker = format!("sftp> {command}");
    let mut lines = stdout.lines().skip_while(|line| line.trim_end() != marker);
    assert!(
        lines.next().is_some(),
        "command `{command}` not echoed in sftp output:\n{stdout}"
    );
    lines
        .take_while(|line| !line.starts_with("sftp> "))
        .collect::<Vec<_>>()
        .join("\n")
}

fn path_str(path: &Path) -> String {
    path.to_str().expect("temp paths are UTF-8").to_string()
}

/// True if something (even a dangling symlink) exists at `path`.
fn exists_at(path: &Path) -> bool {
    path.symlink_metadata().is_ok()
}

fn mode_of(path: &Path) -> u32 {
    fs::metadata(path).expect("metadata").permissions().mode() & 0o777
}

/// Neither the command output nor a downloaded file shows content from outside the home.
#[track_caller]
fn assert_no_leak(out: &CmdOutput, downloaded: &Path, what: &str) {
    let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
    let first_passwd_line = passwd.lines().next().unwrap_or("root:x:0:0:");
    for secret in [
        String::from_utf8_lossy(SECRET_NEAR).trim().to_string(),
        String::from_utf8_lossy(SECRET_TOP).trim().to_string(),
        first_passwd_line.to_string(),
    ] {
        assert!(
            !out.stdout.contains(&secret) && !out.stderr.contains(&secret),
            "{what}: output shows content from outside the home dir\n{}",
            out.report()
        );
        if let Ok(data) = fs::read(downloaded) {
            let text = String::from_utf8_lossy(&data);
            assert!(
                !text.contains(&secret),
                "{what}: downloaded {} holds content from outside the home dir",
                downloaded.display()
            );
        }
    }
}

// ----------------------------------------------------------------------------------- sftp

#[test]
fn sftp_transfers_and_file_operations() {
    require_tools(&["sftp", "ssh"]);
    let srv = Server::start_default();
    let cfg = srv.config_dir();
    for generated in ["sftpgo.db", "id_ed25519", "id_rsa"] {
        assert!(
            cfg.join(generated).exists(),
            "{generated} not created in the config dir"
        );
    }
    let local = srv.local();
    let small = write_data(&local.join("small.bin"), MIB, 1);
    let big = write_data(&local.join("big.bin"), 100 * MIB, 2);

    let out = srv.sftp_batch_timeout(
        &[
            "put small.bin /small.bin",
            "put big.bin /big.bin",
            "get /small.bin small_dl.bin",
            "get /big.bin big_dl.bin",
            "ls -l /big.bin",
            "mkdir /dir1",
            "mkdir /dir1/sub",
            "mkdir /dir1/gone",
            "rmdir /dir1/gone",
            "rename /small.bin /dir1/moved.bin",
            "chmod 600 /dir1/moved.bin",
            "symlink /dir1/moved.bin /link.bin",
            "get /link.bin link_dl.bin",
            "put small.bin /todelete.bin",
            "rm /todelete.bin",
            "ls -1 /",
            "ls -1 /dir1",
            "df /",
            "df -i /",
        ],
        BIG_TIMEOUT,
    );
    out.assert_ok("sftp batch");

    let home = srv.home();
    assert_file_eq(&home.join("big.bin"), &big, "sftp upload of 100 MiB");
    assert_file_eq(&local.join("big_dl.bin"), &big, "sftp download of 100 MiB");
    assert_file_eq(
        &local.join("small_dl.bin"),
        &small,
        "sftp download of 1 MiB",
    );
    assert!(
        !exists_at(&home.join("small.bin")),
        "rename left its source behind"
    );
    assert_file_eq(&home.join("dir1/moved.bin"), &small, "renamed file");
    assert!(home.join("dir1/sub").is_dir(), "mkdir /dir1/sub");
    assert!(!exists_at(&home.join("dir1/gone")), "rmdir /dir1/gone");
    assert_eq!(mode_of(&home.join("dir1/moved.bin")), 0o600, "chmod 600");
    assert!(!exists_at(&home.join("todelete.bin")), "rm /todelete.bin");

    let link = home.join("link.bin");
    let link_meta = link
        .symlink_metadata()
        .expect("symlink /link.bin exists on disk");
    assert!(
        link_meta.file_type().is_symlink(),
        "/link.bin is not a symlink on disk"
    );
    let resolved = fs::canonicalize(&link).expect("the symlink resolves on disk");
    assert_eq!(
        resolved,
        fs::canonicalize(home.join("dir1/moved.bin")).unwrap(),
        "the symlink must point at /dir1/moved.bin inside the home dir"
    );
    assert_file_eq(
        &local.join("link_dl.bin"),
        &small,
        "download through a symlink",
    );

    assert!(
        sftp_section(&out.stdout, "ls -l /big.bin").contains("104857600"),
        "{}",
        out.report()
    );
    let root_list = sftp_section(&out.stdout, "ls -1 /");
    for name in ["big.bin", "dir1", "link.bin"] {
        assert!(
            root_list.contains(name),
            "`ls -1 /` misses {name}:\n{root_list}"
        );
    }
    let dir_list = sftp_section(&out.stdout, "ls -1 /dir1");
    assert!(
        dir_list.contains("moved.bin") && dir_list.contains("sub"),
        "{dir_list}"
    );
    assert!(
        sftp_section(&out.stdout, "df /").contains("Avail"),
        "{}",
        out.report()
    );
    assert!(
        sftp_section(&out.stdout, "df -i /").contains("Inodes"),
        "{}",
        out.report()
    );
}

#[test]
fn sftp_cannot_escape_the_home_dir() {
    require_tools(&["sftp", "ssh", "sha256sum"]);
    let srv = Server::start_default();
    let home = srv.ensure_home();
    let homes = srv.homes_dir();
    let top = srv.root().to_path_buf();
    let local = srv.local();

    // Bait outside the home dir, and symlinks inside it pointing out.
    write_file(&homes.join("secret-near.txt"), SECRET_NEAR);
    write_file(&top.join("secret-top.txt"), SECRET_TOP);
    fs::set_permissions(
        top.join("secret-top.txt"),
        fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    fs::create_dir(top.join("outside_dir")).unwrap();
    symlink("/etc/passwd", home.join("link_passwd")).unwrap();
    symlink("/etc", home.join("link_etc")).unwrap();
    symlink("../secret-near.txt", home.join("link_rel_secret")).unwrap();
    symlink(top.join("secret-top.txt"), home.join("link_abs_secret")).unwrap();
    symlink(top.join("outside_dir"), home.join("link_outside_dir")).unwrap();
    write_file(&local.join("x.txt"), b"payload\n");

    // Reads: each one fails with a message and returns nothing from outside.
    let reads = [
        "../../etc/passwd",
        "/../../../etc/passwd",
        "../../../../../../../../../../../../etc/passwd",
        "/etc/passwd",
        "../secret-near.txt",
        "../../secret-top.txt",
        "link_passwd",
        "link_etc/passwd",
        "link_rel_secret",
        "link_abs_secret",
    ];
    for (i, remote) in reads.iter().enumerate() {
        let dest = format!("leak{i}.bin");
        let out = srv.sftp_batch(&[&format!("get {remote} {dest}")]);
        out.assert_refused_with_message(&format!("get {remote}"));
        assert_no_leak(&out, &local.join(&dest), &format!("get {remote}"));
    }

    // An absolute symlink is resolved inside the home (chroot semantics): `/etc` means
    // `<home>/etc`, which does not exist, so the link lists as a dangling entry at most
    // and nothing of the real /etc is ever shown or read through it.
    let out = srv.sftp_batch(&["ls link_etc/"]);
    srv.sftp_batch(&["get link_etc/passwd leak_etc.bin"])
        .assert_refused_with_message("get through a symlink to /etc");
    assert!(!local.join("leak_etc.bin").exists());
    assert!(
        !sftp_section(&out.stdout, "ls link_etc/").contains("passwd"),
        "{}",
        out.report()
    );
    srv.sftp_batch(&["ls /etc"])
        .assert_refused_with_message("ls /etc (not in the home)");
    let out = srv.sftp_batch(&["ls -1 /.."]);
    out.assert_ok("ls /.. lists the home root");
    let listing = sftp_section(&out.stdout, "ls -1 /..");
    assert!(
        !listing.contains("secret-near.txt"),
        "`ls /..` shows the homes dir:\n{listing}"
    );

    // Writes: each one fails or stays inside the home dir.
    let etc_name = format!("sftpgo-e2e-escape-{}.txt", std::process::id());
    let out = srv.sftp_batch(&[
        "-put x.txt ../escape.txt",
        "-put x.txt ../../escape2.txt",
        "-mkdir ../escaped_dir",
        "-put x.txt link_outside_dir/x.txt",
        "-mkdir link_outside_dir/sub",
        "-put x.txt link_abs_secret",
        "-chmod 777 link_abs_secret",
        &format!("-put x.txt link_etc/{etc_name}"),
        "-symlink /etc/passwd /abs_link",
        "-get abs_link abs_link.bin",
    ]);
    out.assert_ok("batch of ignored-error writes");
    let etc_file = Path::new("/etc").join(&etc_name);
    let wrote_etc = exists_at(&etc_file);
    if wrote_etc {
        let _ = fs::remove_file(&etc_file);
    }
    assert!(
        !wrote_etc,
        "an upload through a symlink created {}",
        etc_file.display()
    );
    for escaped in [
        homes.join("escape.txt"),
        top.join("escape.txt"),
        homes.join("escape2.txt"),
        top.join("escape2.txt"),
        homes.join("escaped_dir"),
        top.join("escaped_dir"),
    ] {
        assert!(
            !exists_at(&escaped),
            "{} was created outside the home",
            escaped.display()
        );
    }
    let outside: Vec<_> = fs::read_dir(top.join("outside_dir")).unwrap().collect();
    assert!(
        outside.is_empty(),
        "something was written through link_outside_dir: {outside:?}"
    );
    assert_file_eq(
        &top.join("secret-top.txt"),
        SECRET_TOP,
        "file behind link_abs_secret",
    );
    assert_eq!(
        mode_of(&top.join("secret-top.txt")),
        0o600,
        "chmod followed a symlink out"
    );
    if let Ok(target) = fs::read_link(home.join("abs_link")) {
        let on_disk = if target.is_absolute() {
            target
        } else {
            home.join(target)
        };
        assert!(
            on_disk.starts_with(&home),
            "sftp symlink /etc/passwd was stored pointing outside the home: {}",
            on_disk.display()
        );
    }
    assert_no_leak(
        &out,
        &local.join("abs_link.bin"),
        "get of a user-made symlink",
    );

    // Percent-encoded dots are literal names.
    let out = srv.sftp_batch(&["mkdir %2e%2e", "put x.txt %2e%2e/pct.txt", "ls -1 %2e%2e"]);
    out.assert_ok("%2e%2e is a plain name");
    assert!(
        home.join("%2e%2e").is_dir(),
        "mkdir %2e%2e did not create a literal dir"
    );
    assert_file_eq(
        &home.join("%2e%2e/pct.txt"),
        b"payload\n",
        "upload into %2e%2e",
    );
    assert!(
        !exists_at(&homes.join("pct.txt")),
        "%2e%2e was decoded as .."
    );

    // Hash commands cannot read outside the home either.
    let passwd_hash = local_digest("sha256sum", Path::new("/etc/passwd"));
    let secret_hash = local_digest("sha256sum", &homes.join("secret-near.txt"));
    for path in [
        "../../etc/passwd",
        "../../../../../../../../../../../../etc/passwd",
        "/etc/passwd",
        "link_passwd",
        "../secret-near.txt",
    ] {
        let out = srv.ssh(&["sha256sum", path]);
        out.assert_refused_with_message(&format!("sha256sum {path}"));
        assert!(
            !out.stdout.contains(&passwd_hash) && !out.stdout.contains(&secret_hash),
            "sha256sum {path} hashed a file outside the home dir\n{}",
            out.report()
        );
    }
}

#[test]
fn sftp_per_directory_permissions_and_file_patterns() {
    require_tools(&["sftp", "scp", "ssh"]);
    let srv = Server::start_default();
    let home = srv.ensure_home();
    let local = srv.local();
    write_file(&home.join("ro/readme.txt"), b"read only\n");
    write_file(&home.join("ro/sub/deep.txt"), b"deep read only\n");
    write_file(&home.join("noaccess/hidden.txt"), b"hidden\n");
    write_file(&home.join("top.txt"), b"top\n");
    fs::create_dir_all(home.join("patterns")).unwrap();
    write_file(&local.join("x.txt"), b"text file\n");
    write_file(&local.join("x.bin"), b"binary file\n");

    // /ro: list + download only, inherited by /ro/sub.
    srv.sftp_batch(&["put x.txt /ro/x.txt"])
        .assert_refused_with_message("upload into /ro");
    srv.sftp_batch(&["put x.txt /ro/sub/x.txt"])
        .assert_refused_with_message("upload into /ro/sub");
    srv.sftp_batch(&["rm /ro/readme.txt"])
        .assert_refused_with_message("delete in /ro");
    srv.sftp_batch(&["mkdir /ro/newdir"])
        .assert_refused_with_message("mkdir in /ro");
    srv.sftp_batch(&["rename /top.txt /ro/top.txt"])
        .assert_refused_with_message("rename into /ro");
    assert!(!exists_at(&home.join("ro/x.txt")) && !exists_at(&home.join("ro/sub/x.txt")));
    assert!(!exists_at(&home.join("ro/newdir")) && !exists_at(&home.join("ro/top.txt")));
    assert!(home.join("ro/readme.txt").exists() && home.join("top.txt").exists());
    let out = srv.sftp_batch(&[
        "ls -1 /ro",
        "get /ro/readme.txt ro_dl.txt",
        "get /ro/sub/deep.txt deep_dl.txt",
    ]);
    out.assert_ok("list and download in /ro");
    assert!(
        sftp_section(&out.stdout, "ls -1 /ro").contains("readme.txt"),
        "{}",
        out.report()
    );
    assert_file_eq(
        &local.join("ro_dl.txt"),
        b"read only\n",
        "download from /ro",
    );
    assert_file_eq(
        &local.join("deep_dl.txt"),
        b"deep read only\n",
        "download from /ro/sub",
    );
    srv.scp(&["-O", "x.txt", srv.remote("/ro/scp.txt").as_str()])
        .assert_refused_with_message("scp upload into /ro");
    assert!(!exists_at(&home.join("ro/scp.txt")));

    // /noaccess: nothing allowed.
    let out = srv.sftp_batch(&["ls /noaccess"]);
    out.assert_refused_with_message("ls /noaccess");
    assert!(
        !sftp_section(&out.stdout, "ls /noaccess").contains("hidden.txt"),
        "{}",
        out.report()
    );
    let out = srv.sftp_batch(&["get /noaccess/hidden.txt hidden_dl.txt"]);
    out.assert_refused_with_message("download from /noaccess");
    assert!(
        !exists_at(&local.join("hidden_dl.txt")),
        "a denied download created a file"
    );
    srv.scp(&[
        "-O",
        srv.remote("/noaccess/hidden.txt").as_str(),
        "hidden_scp.txt",
    ])
    .assert_refused_with_message("scp download from /noaccess");

    // /patterns: only *.txt.
    srv.sftp_batch(&["put x.bin /patterns/x.bin"])
        .assert_refused_with_message("upload *.bin");
    assert!(
        !exists_at(&home.join("patterns/x.bin")),
        "denied pattern was stored"
    );
    srv.sftp_batch(&["put x.txt /patterns/x.txt"])
        .assert_ok("upload *.txt into /patterns");
    assert_file_eq(
        &home.join("patterns/x.txt"),
        b"text file\n",
        "allowed pattern",
    );

    // A failed command does not break the session.
    let out = srv.sftp_batch(&[
        "-get /missing.bin missing.bin",
        "put x.txt /after_error.txt",
    ]);
    out.assert_ok("put after a failed get in the same session");
    let stderr = out.stderr.to_lowercase();
    assert!(
        stderr.contains("not found") || stderr.contains("no such file"),
        "no 'not found' error for the missing file\n{}",
        out.report()
    );
    assert_file_eq(
        &home.join("after_error.txt"),
        b"text file\n",
        "upload after an error",
    );
}

// ------------------------------------------------------------------------------------ scp

#[test]
fn scp_legacy_transfers() {
    require_tools(&["scp", "ssh"]);
    let srv = Server::start_default();
    let local = srv.local();
    let small = write_data(&local.join("small.bin"), MIB, 3);
    let big = write_data(&local.join("big.bin"), 100 * MIB, 4);
    let home = srv.home();

    srv.scp_timeout(
        &["-O", "small.bin", "big.bin", srv.remote("/").as_str()],
        BIG_TIMEOUT,
    )
    .assert_ok("scp -O upload of two files");
    assert_file_eq(&home.join("small.bin"), &small, "scp -O upload of 1 MiB");
    assert_file_eq(&home.join("big.bin"), &big, "scp -O upload of 100 MiB");

    srv.scp_timeout(
        &["-O", srv.remote("/big.bin").as_str(), "big_dl.bin"],
        BIG_TIMEOUT,
    )
    .assert_ok("scp -O download of 100 MiB");
    assert_file_eq(
        &local.join("big_dl.bin"),
        &big,
        "scp -O download of 100 MiB",
    );
    srv.scp(&["-O", srv.remote("/small.bin").as_str(), "small_dl.bin"])
        .assert_ok("scp -O download of 1 MiB");
    assert_file_eq(
        &local.join("small_dl.bin"),
        &small,
        "scp -O download of 1 MiB",
    );

    srv.scp(&["-O", "small.bin", srv.remote("/renamed.bin").as_str()])
        .assert_ok("scp -O upload to a new name");
    assert_file_eq(
        &home.join("renamed.bin"),
        &small,
        "scp -O upload to a new name",
    );

    srv.scp(&["-O", srv.remote("/missing.bin").as_str(), "missing.bin"])
        .assert_refused_with_message("scp -O download of a missing file");
    srv.scp(&["-O", srv.remote("../../etc/passwd").as_str(), "passwd.bin"])
        .assert_refused_with_message("scp -O download of ../../etc/passwd");
    let leaked = fs::read_to_string(local.join("passwd.bin")).unwrap_or_default();
    assert!(!leaked.contains("root:"), "scp -O returned /etc/passwd");
}

#[test]
fn scp_legacy_recursive_and_preserve_times() {
    require_tools(&["scp", "ssh"]);
    let srv = Server::start_default();
    let local = srv.local();
    let home = srv.home();
    let tree = local.join("tree");
    write_data(&tree.join("a.txt"), 1000, 10);
    write_data(&tree.join("b.bin"), MIB, 11);
    write_data(&tree.join("sub/c.txt"), 5000, 12);
    write_data(&tree.join("sub/deeper/d.bin"), 300_000, 13);
    write_file(&tree.join("sub/deeper/empty.bin"), b"");
    fs::create_dir_all(tree.join("empty_dir")).unwrap();

    srv.scp(&["-O", "-r", "tree", srv.remote("/").as_str()])
        .assert_ok("scp -O -r upload");
    assert_trees_eq(&tree, &home.join("tree"));

    fs::create_dir(local.join("dl")).unwrap();
    srv.scp(&["-O", "-r", srv.remote("/tree").as_str(), "dl"])
        .assert_ok("scp -O -r download");
    assert_trees_eq(&tree, &local.join("dl/tree"));

    // -p on single files, both directions.
    write_data(&local.join("old.txt"), 4096, 14);
    set_mtime(&local.join("old.txt"), 1_000_000_000);
    srv.scp(&["-O", "-p", "old.txt", srv.remote("/old.txt").as_str()])
        .assert_ok("scp -O -p upload");
    assert_eq!(
        mtime_secs(&home.join("old.txt")),
        1_000_000_000,
        "server-side mtime"
    );
    set_mtime(&home.join("old.txt"), 1_200_000_000);
    srv.scp(&["-O", "-p", srv.remote("/old.txt").as_str(), "old_dl.txt"])
        .assert_ok("scp -O -p download");
    assert_eq!(
        mtime_secs(&local.join("old_dl.txt")),
        1_200_000_000,
        "downloaded mtime"
    );

    // -r -p into a directory that does not exist yet: it takes the source's place.
    set_mtime(&tree.join("sub/c.txt"), 1_100_000_000);
    srv.scp(&["-O", "-r", "-p", "tree", srv.remote("/tree_p").as_str()])
        .assert_ok("scp -O -r -p upload");
    assert_trees_eq(&tree, &home.join("tree_p"));
    assert_eq!(
        mtime_secs(&home.join("tree_p/sub/c.txt")),
        1_100_000_000,
        "mtime under -r -p"
    );
}

#[test]
fn scp_sftp_mode_transfers() {
    require_tools(&["scp", "sftp", "ssh"]);
    let srv = Server::start_default();
    let local = srv.local();
    let home = srv.home();
    let data = write_data(&local.join("file.bin"), MIB, 20);
    write_data(&local.join("tree/one.txt"), 777, 21);
    write_data(&local.join("tree/sub/two.bin"), 70_000, 22);

    srv.scp(&["file.bin", srv.remote("/file.bin").as_str()])
        .assert_ok("scp (sftp) upload");
    assert_file_eq(&home.join("file.bin"), &data, "scp (sftp) upload");
    srv.scp(&[srv.remote("/file.bin").as_str(), "file_dl.bin"])
        .assert_ok("scp (sftp) download");
    assert_file_eq(&local.join("file_dl.bin"), &data, "scp (sftp) download");

    srv.scp(&["-r", "tree", srv.remote("/").as_str()])
        .assert_ok("scp (sftp) -r upload");
    assert_trees_eq(&local.join("tree"), &home.join("tree"));
    fs::create_dir(local.join("dl")).unwrap();
    srv.scp(&["-r", srv.remote("/tree").as_str(), "dl"])
        .assert_ok("scp (sftp) -r download");
    assert_trees_eq(&local.join("tree"), &local.join("dl/tree"));
}

// ------------------------------------------------------------------------------- commands

#[test]
fn ssh_hash_and_builtin_commands() {
    require_tools(&["ssh"]);
    let srv = Server::builder()
        .env("SFTPGO_SFTPD__ENABLED_SSH_COMMANDS", "*")
        .start();
    let home = srv.ensure_home();
    let local = srv.local();
    let data = write_data(&local.join("file.bin"), MIB, 30);
    write_file(&home.join("file.bin"), &data);
    write_file(&home.join("dir/nested.bin"), &data[..1000]);
    write_file(&local.join("nested.bin"), &data[..1000]);
    write_file(&srv.homes_dir().join("keep-outside.txt"), b"keep\n");

    for tool in SUMS {
        let expected = local_digest(tool, &local.join("file.bin"));
        let out = srv.ssh(&[tool, "/file.bin"]);
        out.assert_ok(tool);
        assert_eq!(
            out.stdout.trim_end(),
            format!("{expected}  /file.bin"),
            "{}",
            out.report()
        );
    }
    let expected = local_digest("sha256sum", &local.join("nested.bin"));
    let out = srv.ssh(&["sha256sum", "dir/nested.bin"]);
    out.assert_ok("sha256sum of a relative path");
    assert_eq!(
        out.stdout.trim_end(),
        format!("{expected}  dir/nested.bin"),
        "{}",
        out.report()
    );
    srv.ssh(&["sha256sum", "/missing.bin"])
        .assert_refused_with_message("sha256sum missing");

    let out = srv.ssh(&["pwd"]);
    out.assert_ok("pwd");
    assert_eq!(out.stdout.trim_end(), "/", "pwd output");
    let out = srv.ssh(&["cd"]);
    out.assert_ok("cd");
    assert!(
        out.stdout.trim().is_empty(),
        "cd printed something\n{}",
        out.report()
    );

    let out = srv.ssh(&["sftpgo-copy", "/file.bin", "/copy.bin"]);
    out.assert_ok("sftpgo-copy");
    assert_eq!(out.stdout.trim(), "OK", "sftpgo-copy output");
    assert_file_eq(&home.join("copy.bin"), &data, "sftpgo-copy result");
    assert_file_eq(&home.join("file.bin"), &data, "sftpgo-copy source");

    let out = srv.ssh(&["sftpgo-remove", "/dir"]);
    out.assert_ok("sftpgo-remove");
    assert_eq!(out.stdout.trim(), "OK", "sftpgo-remove output");
    assert!(!exists_at(&home.join("dir")), "sftpgo-remove left /dir");

    srv.ssh(&["sftpgo-remove", "../keep-outside.txt"])
        .assert_refused_with_message("sftpgo-remove outside the home");
    assert!(
        srv.homes_dir().join("keep-outside.txt").exists(),
        "removed a file outside home"
    );
    srv.ssh(&["sftpgo-copy", "../keep-outside.txt", "/stolen.txt"])
        .assert_refused_with_message("sftpgo-copy from outside the home");
    assert!(
        !exists_at(&home.join("stolen.txt")),
        "copied a file from outside the home"
    );

    // Not a supported command even with "*"; and no shell.
    srv.ssh(&["ls", "/"]).assert_refused_with_message("ls");
    let out = srv.ssh(&["cat", "/etc/passwd"]);
    out.assert_refused_with_message("cat /etc/passwd");
    assert!(
        !out.stdout.contains("root:"),
        "cat returned /etc/passwd\n{}",
        out.report()
    );
    srv.ssh(&["sh", "-c", "id"])
        .assert_refused_with_message("sh -c id");
    srv.ssh(&[]).assert_refused("shell request");
}

#[test]
fn ssh_commands_outside_the_enabled_list_are_refused() {
    require_tools(&["ssh", "scp", "sftp"]);
    let srv = Server::builder()
        .env("SFTPGO_SFTPD__ENABLED_SSH_COMMANDS", "sha256sum")
        .start();
    let home = srv.ensure_home();
    let local = srv.local();
    let data = write_data(&local.join("file.bin"), 4096, 40);
    write_file(&home.join("file.bin"), &data);

    let expected = local_digest("sha256sum", &local.join("file.bin"));
    let out = srv.ssh(&["sha256sum", "/file.bin"]);
    out.assert_ok("enabled sha256sum");
    assert_eq!(
        out.stdout.trim_end(),
        format!("{expected}  /file.bin"),
        "{}",
        out.report()
    );

    let md5 = local_digest("md5sum", &local.join("file.bin"));
    let out = srv.ssh(&["md5sum", "/file.bin"]);
    out.assert_refused_with_message("disabled md5sum");
    assert!(
        !out.stdout.contains(&md5),
        "disabled md5sum printed a digest"
    );
    srv.ssh(&["pwd"])
        .assert_refused_with_message("disabled pwd");
    srv.ssh(&["sftpgo-copy", "/file.bin", "/copy.bin"])
        .assert_refused_with_message("copy");
    assert!(
        !exists_at(&home.join("copy.bin")),
        "disabled sftpgo-copy copied"
    );
    srv.scp(&["-O", "file.bin", srv.remote("/scp.bin").as_str()])
        .assert_refused_with_message("scp -O with scp disabled");
    assert!(
        !exists_at(&home.join("scp.bin")),
        "disabled scp stored a file"
    );

    // The SFTP subsystem does not depend on the command list.
    srv.sftp_batch(&["put file.bin /via_sftp.bin"])
        .assert_ok("sftp with scp disabled");
    assert_file_eq(&home.join("via_sftp.bin"), &data, "sftp upload");
}

#[test]
fn ssh_default_enabled_commands() {
    require_tools(&["ssh"]);
    let srv = Server::start_default();
    let home = srv.ensure_home();
    let local = srv.local();
    let data = write_data(&local.join("file.bin"), 10_000, 50);
    write_file(&home.join("file.bin"), &data);

    for tool in ["md5sum", "sha1sum", "sha256sum"] {
        let expected = local_digest(tool, &local.join("file.bin"));
        let out = srv.ssh(&[tool, "/file.bin"]);
        out.assert_ok(tool);
        assert_eq!(
            out.stdout.trim_end(),
            format!("{expected}  /file.bin"),
            "{}",
            out.report()
        );
    }
    let out = srv.ssh(&["pwd"]);
    out.assert_ok("pwd");
    assert_eq!(out.stdout.trim_end(), "/");
    srv.ssh(&["cd"]).assert_ok("cd");

    for tool in ["sha384sum", "sha512sum"] {
        srv.ssh(&[tool, "/file.bin"])
            .assert_refused_with_message(tool);
    }
    srv.ssh(&["sftpgo-copy", "/file.bin", "/copy.bin"])
        .assert_refused_with_message("copy");
    srv.ssh(&["sftpgo-remove", "/file.bin"])
        .assert_refused_with_message("sftpgo-remove");
    assert!(
        !exists_at(&home.join("copy.bin")),
        "sftpgo-copy is not enabled by default"
    );
    assert!(
        home.join("file.bin").exists(),
        "sftpgo-remove is not enabled by default"
    );
}

// ------------------------------------------------------------------------------- paramiko

#[test]
fn paramiko_sftp_extensions() {
    require_paramiko();
    let srv = Server::start_default();
    let key = path_str(&srv.client_key);
    let home = path_str(&srv.home());
    let out = srv.paramiko(&[
        "--user",
        USER,
        "--key",
        key.as_str(),
        "--password",
        PASSWORD,
        "--home",
        home.as_str(),
    ]);
    println!("{}", out.stdout);
    out.assert_ok("tests/paramiko_ext.py");
}

#[test]
fn malformed_sftp_packets_only_close_their_channel() {
    require_paramiko();
    require_tools(&["sftp", "ssh"]);
    let srv = Server::start_default();
    let key = path_str(&srv.client_key);
    let out = srv.paramiko(&["--user", USER, "--key", key.as_str(), "--malformed"]);
    println!("{}", out.stdout);
    out.assert_ok("tests/paramiko_ext.py --malformed");

    write_file(&srv.local().join("ok.txt"), b"still serving\n");
    let out = srv.sftp_batch(&["put ok.txt /ok.txt", "ls -1 /"]);
    out.assert_ok("a normal sftp session after the malformed ones");
    assert_file_eq(
        &srv.home().join("ok.txt"),
        b"still serving\n",
        "upload after garbage",
    );
}

// ----------------------------------------------------------------------------------- auth

#[test]
fn authentication_failures_are_refused() {
    require_tools(&["ssh", "sftp"]);
    require_paramiko();
    let srv = Server::builder()
        .user("bob", |u| u["status"] = json!(0))
        .user("carol", |u| {
            u["expiration_date"] = json!(now_millis() - 86_400_000)
        })
        .start();
    let key = srv.client_key.clone();

    let out = srv.ssh(&["pwd"]);
    out.assert_ok("alice with her key (control)");
    assert_eq!(out.stdout.trim_end(), "/");

    let (wrong_key, _) = srv.new_key("wrong_key");
    let out = srv.ssh_as(USER, &wrong_key, &["pwd"]);
    out.assert_refused("alice with a key she does not own");
    assert!(
        out.stdout.trim().is_empty(),
        "a refused login ran the command\n{}",
        out.report()
    );
    srv.ssh_as("nobody", &key, &["pwd"])
        .assert_refused("unknown user");
    srv.ssh_as("bob", &key, &["pwd"])
        .assert_refused("disabled user");
    srv.ssh_as("carol", &key, &["pwd"])
        .assert_refused("expired user");
    srv.sftp_batch_as("bob", &key, &["ls"], CLIENT_TIMEOUT)
        .assert_refused("sftp, disabled user");
    srv.sftp_batch_as("carol", &key, &["ls"], CLIENT_TIMEOUT)
        .assert_refused("sftp, expired");

    let wrong_password = format!("{PASSWORD}-wrong");
    let key_str = path_str(&key);
    let wrong_key_str = path_str(&wrong_key);
    let refusals: [(&str, Vec<&str>); 5] = [
        ("alice", vec!["--password", wrong_password.as_str()]),
        ("alice", vec!["--key", wrong_key_str.as_str()]),
        (
            "bob",
            vec!["--password", PASSWORD, "--key", key_str.as_str()],
        ),
        (
            "carol",
            vec!["--password", PASSWORD, "--key", key_str.as_str()],
        ),
        (
            "nobody",
            vec!["--password", PASSWORD, "--key", key_str.as_str()],
        ),
    ];
    for (user, creds) in refusals {
        let mut args = vec!["--user", user, "--expect-auth-failure"];
        args.extend(creds);
        let out = srv.paramiko(&args);
        println!("{}", out.stdout);
        out.assert_ok(&format!("paramiko logins of {user} must all be refused"));
    }

    // The server still serves good logins after all the failures.
    srv.ssh(&["pwd"])
        .assert_ok("alice after the failed attempts");
}

// ----------------------------------------------------------------------------- CLI/config

#[test]
fn cli_version() {
    let out = run(sftpgo_cmd().arg("--version"), Duration::from_secs(60));
    out.assert_ok("sftpgo --version");
    assert!(
        out.stdout.chars().any(|c| c.is_ascii_digit()),
        "no version number\n{}",
        out.report()
    );
}

#[test]
fn cli_unknown_config_key_is_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    write_file(
        &tmp.path().join("sftpgo.json"),
        br#"{"sftpd": {"bogus_key": 1}}"#,
    );
    let out = run(
        sftpgo_cmd()
            .arg("serve")
            .arg("-c")
            .arg(tmp.path())
            .args(["-l", "", "--log-level", "debug"])
            .env("SFTPGO_SFTPD__BINDINGS__0__PORT", free_port().to_string())
            .env("SFTPGO_SFTPD__BINDINGS__0__ADDRESS", "127.0.0.1")
            .current_dir(tmp.path()),
        Duration::from_secs(15),
    );
    assert!(
        !out.timed_out(),
        "serve kept running with an unknown config key\n{}",
        out.report()
    );
    out.assert_refused("serve with an unknown config key");
    assert!(
        out.stderr.contains("bogus_key") || out.stdout.contains("bogus_key"),
        "the error does not name the unknown key\n{}",
        out.report()
    );
}

#[test]
fn cli_gen_completion_bash() {
    let out = run(
        sftpgo_cmd().args(["gen", "completion", "bash"]),
        Duration::from_secs(60),
    );
    out.assert_ok("sftpgo gen completion bash");
    assert!(
        out.stdout.contains("sftpgo"),
        "completion script does not mention sftpgo"
    );
}

#[test]
fn cli_initprovider_creates_the_database() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run(
        sftpgo_cmd()
            .arg("initprovider")
            .arg("-c")
            .arg(tmp.path())
            .current_dir(tmp.path()),
        Duration::from_secs(60),
    );
    out.assert_ok("sftpgo initprovider");
    assert!(
        tmp.path().join("sftpgo.db").is_file(),
        "sftpgo.db not created\n{}",
        out.report()
    );
}

// ---------------------------------------------------------------------------- algorithms

#[test]
fn default_algorithms_pass_ssh_audit() {
    if find_tool("ssh-audit").is_none() {
        eprintln!("SKIPPED: ssh-audit is not installed (scripts/install-test-deps.sh installs it)");
        return;
    }
    let srv = Server::start_default();
    let out = run(
        Command::new("ssh-audit").args(["-n", "-p", &srv.port.to_string(), "127.0.0.1"]),
        CLIENT_TIMEOUT,
    );
    assert!(!out.timed_out(), "ssh-audit hung\n{}", out.report());
    println!("{}", out.stdout);
    for cipher in [
        "aes128-gcm@openssh.com",
        "aes256-gcm@openssh.com",
        "chacha20-poly1305@openssh.com",
    ] {
        assert!(
            out.stdout.contains(cipher),
            "{cipher} not offered\n{}",
            out.report()
        );
    }
    let failing: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.contains("[fail]") || l.starts_with("(sec)") || l.starts_with("(cve)"))
        .collect();
    assert!(
        failing.is_empty(),
        "ssh-audit failures:\n{}",
        failing.join("\n")
    );
}

#[test]
fn shutdown_waits_for_open_sessions_up_to_the_grace_time() {
    use std::io::{BufRead, BufReader, Write};
    use std::process::Stdio;

    require_tools(&["sftp", "ssh"]);
    let mut srv = Server::builder().env("SFTPGO_GRACE_TIME", "60").start();
    let local = srv.local();
    let data = write_data(&local.join("late.bin"), 1024 * 1024, 7);
    let mut child = Command::new("sftp")
        .args(["-b", "-", "-P", &srv.port.to_string()])
        .args(ssh_client_opts(&srv.client_key))
        .arg(format!("{USER}@127.0.0.1"))
        .current_dir(&local)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start sftp");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    writeln!(stdin, "pwd").expect("write pwd");
    let mut line = String::new();
    while !line.contains("Remote working directory") {
        line.clear();
        assert!(
            stdout.read_line(&mut line).expect("read sftp output") > 0,
            "sftp ended early"
        );
    }

    srv.terminate();
    std::thread::sleep(Duration::from_millis(800));
    assert!(
        srv.wait_exit(Duration::from_millis(10)).is_none(),
        "the server must wait for the open session during the grace time"
    );
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", srv.port)).is_err(),
        "no new connections are accepted after SIGTERM"
    );
    writeln!(stdin, "put late.bin /late.bin\nbye").expect("write put");
    drop(stdin);
    let status = child.wait().expect("wait sftp");
    assert!(
        status.success(),
        "the open session finishes its upload during the grace time"
    );
    assert_file_eq(
        &srv.home().join("late.bin"),
        &data,
        "upload during the grace time",
    );
    let status = srv
        .wait_exit(Duration::from_secs(20))
        .expect("the server exits once the last session ends");
    assert!(status.success(), "clean exit: {status}");
}

#[test]
fn local_file_io_goes_through_io_uring() {
    let srv = Server::start_default();
    let data = write_data(&srv.ensure_home().join("u.bin"), 4 * 1024 * 1024, 3);
    srv.sftp_batch(&["get u.bin u.bin", "put u.bin u2.bin"])
        .assert_ok("transfer");
    assert_file_eq(&srv.local().join("u.bin"), &data, "download");
    assert_file_eq(&srv.home().join("u2.bin"), &data, "upload");
    let fds = fs::read_dir(format!("/proc/{}/fd", srv.pid())).expect("read /proc/PID/fd");
    let rings = fds
        .filter_map(|e| fs::read_link(e.ok()?.path()).ok())
        .filter(|target| target.to_string_lossy().contains("io_uring"))
        .count();
    assert!(
        rings >= 1,
        "the worker that served the transfer owns an io_uring"
    );
}
