//! Directory listing formats shared by the front-ends: the `ls -l` line of SFTP's
//! READDIR long names and FTP's `LIST`, and the RFC 3659 facts of `MLSD`/`MLST`.

use sftpgo_core::clock::Civil;
use sftpgo_vfs::{FileInfo, FileKind};

/// Six months, the age after which `ls -l` shows the year instead of the time.
const HALF_YEAR_SECS: i64 = 183 * 86_400;

/// `ls -l` line for `info` (`now` decides between time and year, as `ls` does).
pub fn long_name(info: &FileInfo, now: i64) -> String {
    let mode = info.mode();
    let mut s = String::with_capacity(64 + info.name.len());
    s.push(match mode & 0o170000 {
        0o040000 => 'd',
        0o120000 => 'l',
        0o100000 => '-',
        _ => '?',
    });
    for shift in [6u32, 3, 0] {
        let bits = (mode >> shift) & 7;
        s.push(if bits & 4 != 0 { 'r' } else { '-' });
        s.push(if bits & 2 != 0 { 'w' } else { '-' });
        s.push(if bits & 1 != 0 { 'x' } else { '-' });
    }
    let c = Civil::from_unix(info.mtime);
    let when = if (now - info.mtime).abs() < HALF_YEAR_SECS {
        format!(
            "{} {:>2} {:02}:{:02}",
            c.month_name(),
            c.day,
            c.hour,
            c.minute
        )
    } else {
        format!("{} {:>2}  {}", c.month_name(), c.day, c.year)
    };
    s.push_str(&format!(
        " {:>4} {:<8} {:<8} {:>8} {} {}",
        info.nlink, info.uid, info.gid, info.size, when, info.name
    ));
    s
}

/// `YYYYMMDDHHMMSS` in UTC (RFC 3659 §2.3 `time-val`, FTP `MDTM`).
pub fn time_val(secs: i64) -> String {
    let c = Civil::from_unix(secs);
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    )
}

/// Parses a `time-val` (fractions of a second are accepted and dropped).
pub fn parse_time_val(s: &str) -> Option<i64> {
    let digits = s.split('.').next()?;
    if digits.len() != 14 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let num = |from: usize, to: usize| digits.get(from..to)?.parse::<u32>().ok();
    Civil {
        year: i64::from(num(0, 4)?),
        month: num(4, 6)?,
        day: num(6, 8)?,
        hour: num(8, 10)?,
        minute: num(10, 12)?,
        second: num(12, 14)?,
    }
    .to_unix()
}

/// RFC 3659 §7 facts and name of one entry: `type=file;size=3;modify=…;perm=…; name`.
/// `perm` lists what the user may do there (`r` read, `w` write, `a` append, `d`
/// delete, `f` rename, `c` create, `m` make dir, `e` enter, `l` list).
pub fn mlsx_line(info: &FileInfo, kind_override: Option<&str>, perm: &str) -> String {
    let kind = kind_override.unwrap_or(match info.kind {
        FileKind::Dir => "dir",
        FileKind::File => "file",
        FileKind::Symlink => "OS.unix=symlink",
        FileKind::Other => "OS.unix=special",
    });
    format!(
        "type={kind};size={};modify={};perm={perm};UNIX.mode=0{:o}; {}",
        info.size,
        time_val(info.mtime),
        info.perm & 0o7777,
        info.name
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(kind: FileKind, mtime: i64) -> FileInfo {
        FileInfo {
            name: "a b.txt".into(),
            kind,
            size: 42,
            perm: 0o644,
            uid: 1000,
            gid: 1000,
            atime: 0,
            mtime,
            nlink: 1,
            id: (0, 0),
        }
    }

    #[test]
    fn ls_lines_show_time_when_recent_and_year_when_old() {
        let now = 1_700_000_000;
        let recent = long_name(&entry(FileKind::File, now - 3600), now);
        assert!(recent.starts_with("-rw-r--r--"), "{recent}");
        assert!(recent.ends_with("Nov 14 21:13 a b.txt"), "{recent}");
        let old = long_name(&entry(FileKind::Dir, 0), now);
        assert!(old.starts_with("drw-r--r--"), "{old}");
        assert!(old.ends_with("Jan  1  1970 a b.txt"), "{old}");
    }

    #[test]
    fn time_vals_round_trip_and_reject_garbage() {
        assert_eq!(time_val(1_700_000_000), "20231114221320");
        assert_eq!(parse_time_val("20231114221320"), Some(1_700_000_000));
        assert_eq!(parse_time_val("20231114221320.123"), Some(1_700_000_000));
        assert_eq!(parse_time_val("2023111422132"), None);
        assert_eq!(parse_time_val("20231314221320"), None);
        assert_eq!(parse_time_val("2023111422132x"), None);
    }

    #[test]
    fn mlsx_facts() {
        let line = mlsx_line(&entry(FileKind::File, 0), None, "adfrw");
        assert_eq!(
            line,
            "type=file;size=42;modify=19700101000000;perm=adfrw;UNIX.mode=0644; a b.txt"
        );
    }
}
