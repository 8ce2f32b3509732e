//! A streaming ZIP writer (the REST `streamzip` and the Event Manager's compress
//! action): entries are written as their
//! data arrives (deflated, sizes and CRC in a data descriptor after the data), so an
//! archive of any size is sent with a small, fixed buffer. ZIP64 records are used where
//! sizes, offsets or the entry count need them; names are UTF-8 (flag bit 11).

use std::io::Write;

use flate2::Compression;
use flate2::write::DeflateEncoder;

const LOCAL_HEADER: u32 = 0x0403_4b50;
const DATA_DESCRIPTOR: u32 = 0x0807_4b50;
const CENTRAL_HEADER: u32 = 0x0201_4b50;
const ZIP64_END: u32 = 0x0606_4b50;
const ZIP64_LOCATOR: u32 = 0x0706_4b50;
const END: u32 = 0x0605_4b50;
/// Data descriptor follows the data; names are UTF-8.
const FLAGS: u16 = 0x0008 | 0x0800;
const DEFLATE: u16 = 8;
const STORE: u16 = 0;
/// Files this large (or larger) get ZIP64 local records: deflate can grow
/// incompressible data slightly, so the switch comes well before 4 GiB.
const ZIP64_FROM: u64 = 0xF000_0000;

struct Entry {
    name: String,
    method: u16,
    time: u16,
    date: u16,
    crc: u32,
    compressed: u64,
    uncompressed: u64,
    offset: u64,
    mode: u32,
    zip64_local: bool,
}

struct Open {
    entry: Entry,
    crc: crc32fast::Hasher,
    encoder: DeflateEncoder<Vec<u8>>,
}

/// Builds an archive; the caller sends [`ZipWriter::take`] after each step.
pub struct ZipWriter {
    out: Vec<u8>,
    offset: u64,
    entries: Vec<Entry>,
    open: Option<Open>,
}

/// MS-DOS (time, date) of Unix seconds, UTC; clamped to the format's 1980–2107.
fn dos_time(secs: i64) -> (u16, u16) {
    let c = crate::clock::Civil::from_unix(secs.max(315_532_800));
    let y = u32::try_from(c.year.clamp(1980, 2107) - 1980).unwrap_or(0);
    let time = (c.hour << 11) | (c.minute << 5) | (c.second / 2);
    let date = (y << 9) | (c.month << 5) | c.day;
    (
        u16::try_from(time).unwrap_or(0),
        u16::try_from(date).unwrap_or(0),
    )
}

fn u32_or_max(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

impl Default for ZipWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl ZipWriter {
    /// An empty archive.
    pub fn new() -> Self {
        Self {
            out: Vec::with_capacity(64 * 1024),
            offset: 0,
            entries: Vec::new(),
            open: None,
        }
    }

    /// The bytes produced since the last call.
    pub fn take(&mut self) -> Vec<u8> {
        let bytes = std::mem::take(&mut self.out);
        self.offset += bytes.len() as u64;
        bytes
    }

    fn position(&self) -> u64 {
        self.offset + self.out.len() as u64
    }

    fn put16(&mut self, v: u16) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }

    fn put32(&mut self, v: u32) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }

    fn put64(&mut self, v: u64) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }

    fn local_header(&mut self, e: &Entry) {
        self.put32(LOCAL_HEADER);
        self.put16(if e.zip64_local { 45 } else { 20 });
        self.put16(FLAGS);
        self.put16(e.method);
        self.put16(e.time);
        self.put16(e.date);
        self.put32(0);
        let unknown = if e.zip64_local { u32::MAX } else { 0 };
        self.put32(unknown);
        self.put32(unknown);
        self.put16(u16::try_from(e.name.len()).unwrap_or(u16::MAX));
        self.put16(if e.zip64_local { 20 } else { 0 });
        self.out.extend_from_slice(e.name.as_bytes());
        if e.zip64_local {
            self.put16(1);
            self.put16(16);
            self.put64(0);
            self.put64(0);
        }
    }

    /// A new entry starting at the current position.
    fn entry(&self, name: String, method: u16, mtime_secs: i64, mode: u32, zip64: bool) -> Entry {
        let (time, date) = dos_time(mtime_secs);
        Entry {
            name,
            method,
            time,
            date,
            crc: 0,
            compressed: 0,
            uncompressed: 0,
            offset: self.position(),
            mode,
            zip64_local: zip64,
        }
    }

    /// Adds a directory entry (`name` without the trailing `/`).
    pub fn add_dir(&mut self, name: &str, mtime_secs: i64) {
        self.finish_file();
        let entry = self.entry(
            format!("{}/", name.trim_end_matches('/')),
            STORE,
            mtime_secs,
            0o040_755,
            false,
        );
        self.local_header(&entry);
        self.put32(DATA_DESCRIPTOR);
        self.put32(0);
        self.put32(0);
        self.put32(0);
        self.entries.push(entry);
    }

    /// Starts a file entry; `size_hint` is the size the caller will write at most.
    pub fn start_file(&mut self, name: &str, mtime_secs: i64, size_hint: u64) {
        self.finish_file();
        let entry = self.entry(
            name.to_string(),
            DEFLATE,
            mtime_secs,
            0o100_644,
            size_hint >= ZIP64_FROM,
        );
        self.local_header(&entry);
        self.open = Some(Open {
            entry,
            crc: crc32fast::Hasher::new(),
            encoder: DeflateEncoder::new(Vec::with_capacity(64 * 1024), Compression::fast()),
        });
    }

    /// Data of the file started last.
    pub fn write(&mut self, data: &[u8]) -> std::io::Result<()> {
        let Some(open) = self.open.as_mut() else {
            return Err(std::io::Error::other("no open zip entry"));
        };
        open.crc.update(data);
        open.encoder.write_all(data)?;
        let produced = std::mem::take(open.encoder.get_mut());
        self.out.extend_from_slice(&produced);
        Ok(())
    }

    /// Ends the open file entry, if any: the rest of the deflate stream and the data
    /// descriptor.
    pub fn finish_file(&mut self) {
        let Some(open) = self.open.take() else {
            return;
        };
        let Open {
            mut entry,
            crc,
            encoder,
        } = open;
        let total_in = encoder.total_in();
        let tail = encoder.finish().unwrap_or_default();
        self.out.extend_from_slice(&tail);
        entry.crc = crc.finalize();
        entry.uncompressed = total_in;
        entry.compressed = self.position() - entry.offset - self.local_header_len(&entry);
        self.put32(DATA_DESCRIPTOR);
        self.put32(entry.crc);
        if entry.zip64_local {
            self.put64(entry.compressed);
            self.put64(entry.uncompressed);
        } else {
            self.put32(u32_or_max(entry.compressed));
            self.put32(u32_or_max(entry.uncompressed));
        }
        self.entries.push(entry);
    }

    fn local_header_len(&self, e: &Entry) -> u64 {
        30 + e.name.len() as u64 + if e.zip64_local { 20 } else { 0 }
    }

    /// Ends the archive: the central directory and the end records.
    pub fn finish(&mut self) {
        self.finish_file();
        let cd_start = self.position();
        let entries = std::mem::take(&mut self.entries);
        for e in &entries {
            let mut extra: Vec<u64> = Vec::new();
            if e.uncompressed >= u64::from(u32::MAX) || e.zip64_local {
                extra.push(e.uncompressed);
            }
            if e.compressed >= u64::from(u32::MAX) || e.zip64_local {
                extra.push(e.compressed);
            }
            if e.offset >= u64::from(u32::MAX) {
                extra.push(e.offset);
            }
            let zip64 = !extra.is_empty();
            self.put32(CENTRAL_HEADER);
            // Made by Unix (3), spec 4.5, so the mode in the external attributes counts.
            self.put16(0x0300 | 45);
            self.put16(if zip64 { 45 } else { 20 });
            self.put16(FLAGS);
            self.put16(e.method);
            self.put16(e.time);
            self.put16(e.date);
            self.put32(e.crc);
            let big = |v: u64| {
                if zip64 && (v >= u64::from(u32::MAX) || e.zip64_local) {
                    u32::MAX
                } else {
                    u32_or_max(v)
                }
            };
            self.put32(big(e.compressed));
            self.put32(big(e.uncompressed));
            self.put16(u16::try_from(e.name.len()).unwrap_or(u16::MAX));
            let extra_len = if zip64 { 4 + 8 * extra.len() } else { 0 };
            self.put16(u16::try_from(extra_len).unwrap_or(0));
            self.put16(0);
            self.put16(0);
            self.put16(0);
            let dos_dir = if e.mode & 0o040_000 != 0 { 0x10 } else { 0 };
            self.put32((e.mode << 16) | dos_dir);
            self.put32(if e.offset >= u64::from(u32::MAX) {
                u32::MAX
            } else {
                u32_or_max(e.offset)
            });
            self.out.extend_from_slice(e.name.as_bytes());
            if zip64 {
                self.put16(1);
                self.put16(u16::try_from(8 * extra.len()).unwrap_or(0));
                for v in extra {
                    self.put64(v);
                }
            }
        }
        let cd_end = self.position();
        let (count, cd_size) = (entries.len() as u64, cd_end - cd_start);
        if count >= 0xFFFF || cd_start >= u64::from(u32::MAX) || cd_size >= u64::from(u32::MAX) {
            self.put32(ZIP64_END);
            self.put64(44);
            self.put16(0x0300 | 45);
            self.put16(45);
            self.put32(0);
            self.put32(0);
            self.put64(count);
            self.put64(count);
            self.put64(cd_size);
            self.put64(cd_start);
            self.put32(ZIP64_LOCATOR);
            self.put32(0);
            self.put64(cd_end);
            self.put32(1);
        }
        self.put32(END);
        self.put16(0);
        self.put16(0);
        let n16 = u16::try_from(count).unwrap_or(u16::MAX);
        self.put16(n16);
        self.put16(n16);
        self.put32(u32_or_max(cd_size));
        self.put32(u32_or_max(cd_start));
        self.put16(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(big_hint: bool) -> Vec<u8> {
        let mut z = ZipWriter::new();
        let mut out = Vec::new();
        z.add_dir("docs", 1_700_000_000);
        out.extend_from_slice(&z.take());
        let hint = if big_hint { ZIP64_FROM } else { 11 };
        z.start_file("docs/héllo.txt", 1_700_000_000, hint);
        z.write(b"hello ").unwrap();
        z.write(b"world").unwrap();
        out.extend_from_slice(&z.take());
        z.start_file("empty", 0, 0);
        z.finish();
        out.extend_from_slice(&z.take());
        out
    }

    /// Checked by Python's `zipfile` (CRCs, sizes, names, ZIP64 records), when
    /// Python is installed; the structure checks below run everywhere.
    fn python_lists(zip: &[u8]) -> Option<String> {
        let dir = std::env::temp_dir().join(format!("zip-test-{}", crate::catalog::random_id(8)));
        std::fs::write(&dir, zip).unwrap();
        let script = "import sys,zipfile\nz=zipfile.ZipFile(sys.argv[1])\nassert z.testzip() is None\nfor i in z.infolist(): print(i.filename, i.file_size, z.read(i).decode())";
        let out = std::process::Command::new("python3")
            .args(["-c", script])
            .arg(&dir)
            .output()
            .ok();
        let _ = std::fs::remove_file(&dir);
        let out = out?;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    #[test]
    fn archives_are_well_formed() {
        for big in [false, true] {
            let zip = build(big);
            assert_eq!(zip.get(..4), Some(&LOCAL_HEADER.to_le_bytes()[..]));
            let end = zip.len() - 22;
            assert_eq!(zip.get(end..end + 4), Some(&END.to_le_bytes()[..]));
            assert_eq!(zip.get(end + 8..end + 10), Some(&3u16.to_le_bytes()[..]));
            if let Some(listing) = python_lists(&zip) {
                assert_eq!(
                    listing,
                    "docs/ 0 \ndocs/héllo.txt 11 hello world\nempty 0 \n"
                );
            }
        }
    }

    #[test]
    fn dos_times() {
        // 2023-11-14 22:13:20 UTC.
        let (t, d) = dos_time(1_700_000_000);
        assert_eq!((t >> 11, (t >> 5) & 63, (t & 31) * 2), (22, 13, 20));
        assert_eq!((1980 + (d >> 9), (d >> 5) & 15, d & 31), (2023, 11, 14));
        assert_eq!(dos_time(0), dos_time(315_532_800), "clamped to 1980");
    }
}
