//! Confinement and basic operation tests for the local back-end.

use std::future::Future;

use super::*;

fn setup() -> (tempfile::TempDir, LocalFs) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    std::fs::create_dir(&root).unwrap();
    std::fs::write(tmp.path().join("secret"), b"outside").unwrap();
    let fs = LocalFs::new(&root).unwrap();
    (tmp, fs)
}

#[tokio::test(flavor = "current_thread")]
async fn absolute_symlink_resolves_inside_root() {
    let (tmp, fs) = setup();
    let secret = tmp.path().join("secret");
    std::os::unix::fs::symlink(&secret, tmp.path().join("root/link")).unwrap();
    let err = fs.stat("link").await.unwrap_err();
    assert_eq!(err.kind, FsErrorKind::NotFound);
    let opts = OpenOptions {
        read: true,
        ..Default::default()
    };
    assert!(fs.open("link", &opts).await.is_err());
}

#[tokio::test(flavor = "current_thread")]
async fn relative_symlink_cannot_climb_out() {
    let (tmp, fs) = setup();
    std::os::unix::fs::symlink("../secret", tmp.path().join("root/up")).unwrap();
    // `..` at the root stays at the root, so this names root/secret, which is missing.
    assert_eq!(fs.stat("up").await.unwrap_err().kind, FsErrorKind::NotFound);
    std::os::unix::fs::symlink("/", tmp.path().join("root/rootlink")).unwrap();
    let list = fs.read_dir("rootlink").await.unwrap();
    assert!(list.iter().all(|e| e.name != "secret"));
}

#[tokio::test(flavor = "current_thread")]
async fn symlinked_parent_cannot_redirect_mkdir() {
    let (tmp, fs) = setup();
    std::os::unix::fs::symlink(tmp.path(), tmp.path().join("root/out")).unwrap();
    let err = fs.mkdir("out/newdir", 0o755).await.unwrap_err();
    assert_eq!(err.kind, FsErrorKind::NotFound);
    assert!(!tmp.path().join("newdir").exists());
}

#[tokio::test(flavor = "current_thread")]
async fn write_read_rename_remove() {
    let (_tmp, fs) = setup();
    fs.mkdir("d", 0o755).await.unwrap();
    let w = OpenOptions {
        write: true,
        create: true,
        truncate: true,
        ..Default::default()
    };
    let f = fs.open("d/a.txt", &w).await.unwrap();
    f.write_at(b"hello world", 0).await.unwrap();
    drop(f);
    fs.rename("d/a.txt", "d/b.txt", false).await.unwrap();
    let r = fs
        .open(
            "d/b.txt",
            &OpenOptions {
                read: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let mut buf = [0u8; 32];
    let n = r.read_at(&mut buf, 6).await.unwrap();
    assert_eq!(&buf[..n], b"world");
    assert_eq!(fs.stat("d/b.txt").await.unwrap().size, 11);
    let names: Vec<_> = fs
        .read_dir("d")
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names, vec!["b.txt".to_string()]);
    assert_eq!(
        fs.remove_dir("d").await.unwrap_err().kind,
        FsErrorKind::DirectoryNotEmpty
    );
    fs.remove_file("d/b.txt").await.unwrap();
    fs.remove_dir("d").await.unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn rename_without_replace_refuses_existing_target() {
    let (_tmp, fs) = setup();
    let w = OpenOptions {
        write: true,
        create: true,
        ..Default::default()
    };
    drop(fs.open("a", &w).await.unwrap());
    drop(fs.open("b", &w).await.unwrap());
    let err = fs.rename("a", "b", false).await.unwrap_err();
    assert_eq!(err.kind, FsErrorKind::AlreadyExists);
    fs.rename("a", "b", true).await.unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn io_uring_reads_and_writes_large_files() {
    assert!(
        uring::Ring::current().is_some(),
        "io_uring must be available here (kernel >= 5.6, not blocked by seccomp)"
    );
    let (_tmp, fs) = setup();
    let w = OpenOptions {
        read: true,
        write: true,
        create: true,
        ..Default::default()
    };
    let f = fs.open("big", &w).await.unwrap();
    let data: Vec<u8> = (0..3 * 1024 * 1024 + 17)
        .map(|i| (i * 31 % 251) as u8)
        .collect();
    for (i, chunk) in data.chunks(256 * 1024).enumerate() {
        f.write_at(chunk, (i * 256 * 1024) as u64).await.unwrap();
    }
    let mut back = vec![0u8; data.len() + 100];
    let n = f.read_at(&mut back, 0).await.unwrap();
    assert_eq!(n, data.len(), "a read fills the buffer up to end of file");
    assert_eq!(&back[..n], &data[..]);
    let mut tail = [0u8; 10];
    assert_eq!(f.read_at(&mut tail, data.len() as u64).await.unwrap(), 0);
}

#[tokio::test(flavor = "current_thread")]
async fn io_uring_many_reads_in_flight_and_a_dropped_one() {
    let (tmp, fs) = setup();
    let data: Vec<u8> = (0..1024 * 1024).map(|i| (i % 253) as u8).collect();
    std::fs::write(tmp.path().join("root/f"), &data).unwrap();
    let r = OpenOptions {
        read: true,
        ..Default::default()
    };
    let f = std::sync::Arc::new(fs.open("f", &r).await.unwrap());
    // A read dropped before completion must not corrupt later ones.
    {
        let mut buf = vec![0u8; 65536];
        let fut = f.read_at(&mut buf, 0);
        let mut fut = std::pin::pin!(fut);
        let waker = std::task::Waker::noop();
        let _ = fut
            .as_mut()
            .poll(&mut std::task::Context::from_waker(waker));
    }
    let mut tasks = Vec::new();
    for i in 0..32u64 {
        let f = f.clone();
        tasks.push(tokio::spawn(async move {
            let mut buf = vec![0u8; 32768];
            let n = f.read_at(&mut buf, i * 32768).await.unwrap();
            (i, n, buf)
        }));
    }
    for t in tasks {
        let (i, n, buf) = t.await.unwrap();
        let start = (i * 32768) as usize;
        assert_eq!(n, 32768);
        assert_eq!(&buf[..], &data[start..start + 32768]);
    }
}

/// Every I/O path of `LocalFile` (page-cache fast path and ring on disk file systems,
/// inline pread/pwrite on tmpfs) returns the same bytes, full reads up to end of file
/// and 0 past it.
#[tokio::test(flavor = "current_thread")]
async fn reads_match_on_disk_and_memory_backed_file_systems() {
    let mut dirs = vec![tempfile::tempdir().unwrap()];
    if std::path::Path::new("/dev/shm").is_dir() {
        dirs.push(tempfile::tempdir_in("/dev/shm").unwrap());
    }
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    for dir in dirs {
        let fs = LocalFs::new(dir.path()).unwrap();
        let w = OpenOptions {
            write: true,
            create: true,
            truncate: true,
            ..Default::default()
        };
        let f = fs.open("f", &w).await.unwrap();
        for (i, chunk) in data.chunks(65_536).enumerate() {
            f.write_at(chunk, (i * 65_536) as u64).await.unwrap();
        }
        f.sync().await.unwrap();
        drop(f);
        let r = OpenOptions {
            read: true,
            ..Default::default()
        };
        let f = fs.open("f", &r).await.unwrap();
        let mut got = Vec::new();
        let mut buf = vec![0u8; 262_144];
        loop {
            let n = f.read_at(&mut buf, got.len() as u64).await.unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got.len(), data.len(), "in {}", dir.path().display());
        assert!(got == data, "content differs in {}", dir.path().display());
        // A read straddling the end returns the tail, not an error.
        let n = f.read_at(&mut buf, data.len() as u64 - 10).await.unwrap();
        assert_eq!(&buf[..n], &data[data.len() - 10..]);
        // Zero-copy sends only where they cannot wait for a device.
        let memory_backed = rustix::fs::statfs(dir.path())
            .is_ok_and(|st| matches!(st.f_type, 0x0102_1994 | 0x8584_58f6));
        assert_eq!(
            f.zero_copy_source(0, 65_536).is_some(),
            memory_backed,
            "zero-copy source in {}",
            dir.path().display()
        );
    }
}

/// A thread that outlives its runtime (tests, benches, a restarted worker) must not keep
/// a ring whose completion driver died with the old runtime: operations completed by
/// the kernel's workers would never wake their task.
#[test]
fn a_new_runtime_on_the_same_thread_gets_a_driven_ring() {
    let dir = tempfile::tempdir().unwrap();
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(dir.path().join("f"))
        .unwrap();
    let data = vec![1u8; 256 * 1024];
    for round in 0..2 {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let ring = uring::Ring::current().expect("io_uring");
            let work = async {
                for i in 0..64u64 {
                    let fd = std::os::fd::AsRawFd::as_raw_fd(&file);
                    ring.write_at(fd, &data, i * data.len() as u64)
                        .await
                        .unwrap();
                }
                file.sync_all().unwrap();
            };
            tokio::time::timeout(std::time::Duration::from_secs(20), work)
                .await
                .unwrap_or_else(|_| panic!("io_uring writes stalled in runtime {round}"));
        });
    }
}

#[tokio::test(flavor = "current_thread")]
async fn user_xattrs_are_kept_per_file_and_stay_inside_the_root() {
    let (tmp, fs) = setup();
    std::fs::write(tmp.path().join("root/f"), b"x").unwrap();
    match fs.set_xattr("f", "user.sftpgo.test", Some(b"v1")).await {
        Err(e) if e.kind == FsErrorKind::Unsupported => {
            eprintln!("skipped: the temp dir's file system has no user xattrs");
            return;
        }
        other => other.unwrap(),
    }
    assert_eq!(
        fs.get_xattr("f", "user.sftpgo.test")
            .await
            .unwrap()
            .unwrap(),
        b"v1"
    );
    // A value larger than the first read buffer.
    let big = vec![7u8; 10_000];
    match fs.set_xattr("f", "user.sftpgo.test", Some(&big)).await {
        // ext4 keeps at most a block of attributes per inode.
        Err(e) if e.kind == FsErrorKind::NoSpace => {}
        other => {
            other.unwrap();
            assert_eq!(
                fs.get_xattr("f", "user.sftpgo.test")
                    .await
                    .unwrap()
                    .unwrap(),
                big
            );
        }
    }
    // They follow a rename and go away with the file.
    fs.rename("f", "g", false).await.unwrap();
    assert!(
        fs.get_xattr("g", "user.sftpgo.test")
            .await
            .unwrap()
            .is_some()
    );
    fs.set_xattr("g", "user.sftpgo.test", None).await.unwrap();
    assert!(
        fs.get_xattr("g", "user.sftpgo.test")
            .await
            .unwrap()
            .is_none()
    );
    fs.set_xattr("g", "user.sftpgo.test", None).await.unwrap();
    // Only the user namespace.
    for name in [
        "trusted.x",
        "security.x",
        "system.posix_acl_access",
        "user.",
        "user.a\0b",
    ] {
        let e = fs.set_xattr("g", name, Some(b"v")).await.unwrap_err();
        assert_eq!(e.kind, FsErrorKind::InvalidInput, "{name}");
        assert!(fs.get_xattr("g", name).await.is_err(), "{name}");
    }
    // A symlink out of the root reaches nothing outside.
    std::os::unix::fs::symlink(tmp.path().join("secret"), tmp.path().join("root/out")).unwrap();
    assert_eq!(
        fs.set_xattr("out", "user.sftpgo.test", Some(b"v"))
            .await
            .unwrap_err()
            .kind,
        FsErrorKind::NotFound
    );
    assert!(
        rustix::fs::getxattr(
            tmp.path().join("secret").as_path(),
            "user.sftpgo.test",
            &mut [0u8; 16][..]
        )
        .is_err()
    );
}
