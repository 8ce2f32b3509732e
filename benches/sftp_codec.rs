//! SFTP packet encoding and decoding: the per-request work of the engine that does not
//! touch the network or the disk.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sftpgo_net::listing::long_name;
use sftpgo_net::ssh::sftp::codec::{Packet, Reader, kind, status, status_packet};
use sftpgo_vfs::{FileInfo, FileKind};

fn entry(i: usize) -> FileInfo {
    FileInfo {
        name: format!("file-{i:05}.dat"),
        kind: FileKind::File,
        size: 4096 + i as u64,
        perm: 0o644,
        uid: 1000,
        gid: 1000,
        atime: 1_790_000_000,
        mtime: 1_790_000_000 + i as i64,
        nlink: 1,
        id: (0, 0),
    }
}

/// A WRITE request as the OpenSSH client sends it: id, handle, offset, data.
fn write_request(data: &[u8]) -> Vec<u8> {
    let mut p = Packet::new(kind::WRITE, Some(7), 32 + data.len());
    p.bytes(&1u32.to_be_bytes()).u64(1 << 20).bytes(data);
    let wire = p.finish();
    wire[4..].to_vec()
}

fn decode(c: &mut Criterion) {
    let mut g = c.benchmark_group("sftp_decode");
    let data = vec![0xa5u8; 256 * 1024];
    let write = write_request(&data);
    g.throughput(Throughput::Elements(1));
    g.bench_function("write_request_256k", |b| {
        b.iter(|| {
            let mut r = Reader::new(black_box(&write));
            let ty = r.u8().unwrap();
            let id = r.u32().unwrap();
            let handle = r.bytes().unwrap();
            let offset = r.u64().unwrap();
            let payload = r.bytes().unwrap();
            black_box((ty, id, handle, offset, payload.len()))
        })
    });
    let mut setstat = Packet::new(kind::SETSTAT, Some(9), 64);
    setstat.bytes(b"/some/dir/file.txt");
    setstat.attrs(&entry(1));
    let setstat = setstat.finish()[4..].to_vec();
    g.bench_function("setstat_with_attrs", |b| {
        b.iter(|| {
            let mut r = Reader::new(black_box(&setstat));
            r.u8().unwrap();
            r.u32().unwrap();
            let path = r.string().unwrap();
            black_box((path, r.attrs().unwrap()))
        })
    });
    g.finish();
}

fn encode(c: &mut Criterion) {
    let mut g = c.benchmark_group("sftp_encode");
    g.throughput(Throughput::Elements(1));
    g.bench_function("status_ok", |b| {
        b.iter(|| black_box(status_packet(black_box(42), status::OK, "OK")))
    });
    let entries: Vec<FileInfo> = (0..128).map(entry).collect();
    g.throughput(Throughput::Elements(entries.len() as u64));
    g.bench_function("readdir_128_entries", |b| {
        b.iter(|| {
            let mut p = Packet::new(kind::NAME, Some(3), entries.len() * 128);
            p.u32(entries.len() as u32);
            for e in &entries {
                p.bytes(e.name.as_bytes());
                p.bytes(long_name(e, 1_700_000_000).as_bytes());
                p.attrs(e);
            }
            black_box(p.finish())
        })
    });
    g.finish();
}

criterion_group!(benches, decode, encode);
criterion_main!(benches);
