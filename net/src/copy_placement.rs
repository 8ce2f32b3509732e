//! Where file data goes inside our send buffers, so the copies around it stay fast.
//!
//! Outgoing file bytes are copied twice: the kernel copies them from the page cache
//! into our buffer (`pread`), and the transport copies them from our buffer into its
//! packet or record buffer (russh's SSH packets, rustls' TLS records) behind a short
//! header. Both copies are `rep movsb` for these sizes (glibc's memcpy and the kernel's
//! user copies). On AMD Zen CPUs `rep movsb` runs about 20 times slower when the
//! destination lies 1 to 15 bytes past the source modulo 4096: on the project's EPYC
//! VM a 16 KiB memcpy gives 3 GB/s in that window and 40–55 GB/s outside it.
//!
//! Page-aligned buffers hit that window every time: a page-aligned page-cache page read
//! into a buffer 13 bytes in (an SFTP DATA reply), or a page-aligned buffer copied into
//! a record 5 bytes in (TLS). FTPS downloads spent 35–40% of the server's time in that
//! one memcpy. Placing the data at a page offset `DATA_SKEW` bytes past the file offset
//! keeps the page-cache copy far outside the window, and because `DATA_SKEW` is 5
//! modulo 16, a 16-byte-aligned record buffer with a 5-byte header sits at a multiple of
//! 16 bytes from the data (never 1 to 15). SSH packets need no rule of their own: russh
//! copies each 32 KiB packet twice at offsets that drift from packet to packet, and a
//! probe on its copies found 20 of 6,639 in the window.

/// Page offset of the data, relative to the file offset's page offset: 5 modulo 16,
/// and well clear of the first cache lines.
pub const DATA_SKEW: usize = 165;

/// Extra bytes a buffer needs so [`data_start`] always finds its place.
pub const SLACK: usize = 4096;

/// The index in a buffer starting at address `base` where data read from `file_offset`
/// should start, leaving at least `header` bytes before it. The result is at most
/// `header + SLACK - 1`.
pub fn data_start(base: usize, header: usize, file_offset: u64) -> usize {
    const PAGE: usize = 4096;
    // Page offsets fit in usize whatever the width of u64.
    let file_page_offset = (file_offset % PAGE as u64) as usize;
    let want = (file_page_offset + DATA_SKEW) % PAGE;
    let earliest = base.wrapping_add(header) % PAGE;
    header + (want + PAGE - earliest) % PAGE
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The slow window: destination 1 to 15 bytes past the source, modulo 4096.
    fn slow(src: usize, dst: usize) -> bool {
        (1..16).contains(&(dst.wrapping_sub(src) % 4096))
    }

    #[test]
    fn page_cache_copies_and_record_copies_stay_out_of_the_slow_window() {
        for base in [0usize, 16, 48, 4080, 65536 + 32] {
            for header in [0usize, 13] {
                for offset in [0u64, 4096, 1 << 30, 262_144 * 7] {
                    let start = data_start(base, header, offset);
                    assert!(start >= header && start < header + SLACK);
                    let data = base + start;
                    // Page cache → buffer: the source page offset is the file offset's.
                    assert!(
                        !slow(offset as usize % 4096, data),
                        "{base} {header} {offset}"
                    );
                    // Buffer → a 16-byte-aligned record with a 5-byte header.
                    for record in [0usize, 16, 4096, 8192 + 48] {
                        assert!(!slow(data, record + 5), "{base} {offset} {record}");
                    }
                }
            }
        }
    }

    #[test]
    fn the_window_is_hit_without_the_skew() {
        // What the placement avoids: page-aligned data and a record 5 bytes in.
        assert!(slow(0, 5));
        assert!(slow(0, 13));
    }
}
