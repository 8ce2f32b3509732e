//! File I/O of the local back-end: the production path (`LocalFile`, page-cache reads
//! inline, the rest through the worker's io_uring) against the thread's raw io_uring
//! and plain `pread`/`pwrite`, 256 KiB at a time (the size of an SFTP READ), on a file
//! in the page cache under the system temp dir and, where present, on /dev/shm (tmpfs).

use std::hint::black_box;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::Path;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sftpgo_vfs::local::LocalFs;
use sftpgo_vfs::local::uring::Ring;
use sftpgo_vfs::{Fs, OpenOptions};

const FILE_SIZE: usize = 32 * 1024 * 1024;
const CHUNK: usize = 256 * 1024;

fn dirs() -> Vec<(&'static str, tempfile::TempDir)> {
    let mut out = vec![("disk", tempfile::tempdir().unwrap())];
    if Path::new("/dev/shm").is_dir() {
        out.push(("tmpfs", tempfile::tempdir_in("/dev/shm").unwrap()));
    }
    out
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn reads(c: &mut Criterion) {
    let rt = runtime();
    let mut g = c.benchmark_group("file_read_256k");
    g.throughput(Throughput::Bytes(FILE_SIZE as u64));
    g.sample_size(20);
    for (label, dir) in dirs() {
        let path = dir.path().join("data");
        std::fs::write(&path, vec![7u8; FILE_SIZE]).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let mut buf = vec![0u8; CHUNK];
        g.bench_function(BenchmarkId::new("pread", label), |b| {
            b.iter(|| {
                for off in (0..FILE_SIZE).step_by(CHUNK) {
                    black_box(file.read_at(&mut buf, off as u64).unwrap());
                }
            })
        });
        g.bench_function(BenchmarkId::new("io_uring", label), |b| {
            b.iter(|| {
                rt.block_on(async {
                    let ring = Ring::current().expect("io_uring available");
                    for off in (0..FILE_SIZE).step_by(CHUNK) {
                        black_box(
                            ring.read_at(file.as_raw_fd(), &mut buf, off as u64)
                                .await
                                .unwrap(),
                        );
                    }
                })
            })
        });
        let fs = LocalFs::new(dir.path()).unwrap();
        let opts = OpenOptions {
            read: true,
            ..Default::default()
        };
        let local = rt.block_on(fs.open("data", &opts)).unwrap();
        g.bench_function(BenchmarkId::new("local_file", label), |b| {
            b.iter(|| {
                rt.block_on(async {
                    for off in (0..FILE_SIZE).step_by(CHUNK) {
                        black_box(local.read_at(&mut buf, off as u64).await.unwrap());
                    }
                })
            })
        });
    }
    g.finish();
}

fn writes(c: &mut Criterion) {
    let rt = runtime();
    let mut g = c.benchmark_group("file_write_256k");
    g.throughput(Throughput::Bytes(FILE_SIZE as u64));
    g.sample_size(20);
    let data = vec![9u8; CHUNK];
    for (label, dir) in dirs() {
        let path = dir.path().join("out");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&path)
            .unwrap();
        g.bench_function(BenchmarkId::new("pwrite", label), |b| {
            b.iter(|| {
                for off in (0..FILE_SIZE).step_by(CHUNK) {
                    file.write_all_at(&data, off as u64).unwrap();
                }
            })
        });
        g.bench_function(BenchmarkId::new("io_uring", label), |b| {
            b.iter(|| {
                rt.block_on(async {
                    let ring = Ring::current().expect("io_uring available");
                    for off in (0..FILE_SIZE).step_by(CHUNK) {
                        black_box(
                            ring.write_at(file.as_raw_fd(), &data, off as u64)
                                .await
                                .unwrap(),
                        );
                    }
                })
            })
        });
        let fs = LocalFs::new(dir.path()).unwrap();
        let opts = OpenOptions {
            write: true,
            create: true,
            ..Default::default()
        };
        let local = rt.block_on(fs.open("out", &opts)).unwrap();
        g.bench_function(BenchmarkId::new("local_file", label), |b| {
            b.iter(|| {
                rt.block_on(async {
                    for off in (0..FILE_SIZE).step_by(CHUNK) {
                        local.write_at(&data, off as u64).await.unwrap();
                    }
                })
            })
        });
    }
    g.finish();
}

criterion_group!(benches, reads, writes);
criterion_main!(benches);
