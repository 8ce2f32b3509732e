//! QR codes of TOTP enrolment links (`qr_code` of `totp/generate`): the link encoded
//! with error correction level M, drawn with a 4-module quiet zone on a 200×200 8-bit
//! grayscale PNG, as SFTPGo returns it (base64 in the JSON).

use std::io::Write;

use flate2::Compression;
use flate2::write::ZlibEncoder;
use qrcode::{Color, EcLevel, QrCode};

/// Image side in pixels.
const SIDE: usize = 200;
/// Light modules around the symbol, as the QR specification asks.
const QUIET: usize = 4;

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&u32::try_from(data.len()).unwrap_or(0).to_be_bytes());
    let mut crc = crc32fast::Hasher::new();
    crc.update(kind);
    crc.update(data);
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    out.extend_from_slice(&crc.finalize().to_be_bytes());
}

/// A PNG of the QR code of `text`.
pub fn png(text: &str) -> Result<Vec<u8>, String> {
    let code = QrCode::with_error_correction_level(text, EcLevel::M).map_err(|e| e.to_string())?;
    let width = code.width();
    let colors = code.to_colors();
    let modules = width + 2 * QUIET;
    let dark = |x: usize, y: usize| -> bool {
        let (mx, my) = (x * modules / SIDE, y * modules / SIDE);
        if mx < QUIET || my < QUIET || mx >= QUIET + width || my >= QUIET + width {
            return false;
        }
        colors.get((my - QUIET) * width + (mx - QUIET)) == Some(&Color::Dark)
    };
    let mut raw = Vec::with_capacity(SIDE * (SIDE + 1));
    for y in 0..SIDE {
        raw.push(0); // filter: none
        raw.extend((0..SIDE).map(|x| if dark(x, y) { 0u8 } else { 255u8 }));
    }
    let mut z = ZlibEncoder::new(Vec::new(), Compression::default());
    z.write_all(&raw).map_err(|e| e.to_string())?;
    let idat = z.finish().map_err(|e| e.to_string())?;
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let side = u32::try_from(SIDE).unwrap_or(0).to_be_bytes();
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&side);
    ihdr.extend_from_slice(&side);
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]); // 8-bit grayscale, deflate, no interlace
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &idat);
    chunk(&mut out, b"IEND", &[]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_image_is_a_200_pixel_png() {
        let p = png("otpauth://totp/SFTPGo:alice?secret=ABC").unwrap();
        assert!(p.starts_with(b"\x89PNG\r\n\x1a\n"));
        assert_eq!(p.get(16..24), Some(&[0, 0, 0, 200, 0, 0, 0, 200][..]));
        assert!(p.ends_with(&[0xAE, 0x42, 0x60, 0x82]), "IEND CRC");
    }
}
