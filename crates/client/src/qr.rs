//! QR codes of `otpauth://` URIs: PNG for the app, Unicode half blocks for
//! the terminal; and the secret in groups of four for typing by hand.

use image::{ImageEncoder, Luma};
use qrcode::{Color, EcLevel, QrCode};

use crate::error::ClientError;

/// Light modules around the code, as the QR specification requires.
pub const QUIET_ZONE: usize = 4;

fn encode(data: &str) -> Result<QrCode, ClientError> {
    QrCode::with_error_correction_level(data.as_bytes(), EcLevel::M)
        .map_err(|e| ClientError::Internal(format!("cannot make a QR code: {e}")))
}

/// The module matrix, quiet zone included: `true` is dark.
pub fn matrix(data: &str) -> Result<Vec<Vec<bool>>, ClientError> {
    let code = encode(data)?;
    let width = code.width();
    let colors = code.to_colors();
    let size = width + 2 * QUIET_ZONE;
    let mut m = vec![vec![false; size]; size];
    for y in 0..width {
        for x in 0..width {
            m[y + QUIET_ZONE][x + QUIET_ZONE] = colors[y * width + x] == Color::Dark;
        }
    }
    Ok(m)
}

/// A PNG of the code, `scale` pixels per module, black on white.
pub fn png(data: &str, scale: u32) -> Result<Vec<u8>, ClientError> {
    let scale = scale.clamp(1, 32);
    let m = matrix(data)?;
    let side = m.len() as u32 * scale;
    let img = image::ImageBuffer::from_fn(side, side, |x, y| {
        let dark = m[(y / scale) as usize][(x / scale) as usize];
        Luma([if dark { 0u8 } else { 255u8 }])
    });
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            image::ExtendedColorType::L8,
        )
        .map_err(|e| ClientError::Internal(format!("cannot encode the PNG: {e}")))?;
    Ok(out)
}

/// The code drawn with Unicode half blocks, two module rows per line.
///
/// Light modules are drawn (█▀▄) and dark ones left blank, which reads
/// correctly on the usual light-on-dark terminal; `invert` draws the dark
/// modules instead, for dark-on-light terminals.
pub fn terminal(data: &str, invert: bool) -> Result<String, ClientError> {
    let m = matrix(data)?;
    let ink = |dark: bool| dark == invert;
    let mut out = String::new();
    for pair in m.chunks(2) {
        let top = &pair[0];
        let bottom = pair.get(1);
        for x in 0..top.len() {
            let t = ink(top[x]);
            // An odd last row pairs with a quiet-zone (light) row.
            let b = bottom.map(|r| ink(r[x])).unwrap_or(ink(false));
            out.push(match (t, b) {
                (true, true) => '█',
                (true, false) => '▀',
                (false, true) => '▄',
                (false, false) => ' ',
            });
        }
        out.push('\n');
    }
    Ok(out)
}

/// `JBSWY3DPEHPK3PXP` → `JBSW Y3DP EHPK 3PXP`.
pub fn group_secret(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().filter(|c| !c.is_whitespace()).collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const URI: &str = "otpauth://totp/Tessera:alice?secret=JBSWY3DPEHPK3PXP&issuer=Tessera&algorithm=SHA1&digits=6&period=30";

    /// Reads the terminal drawing back into a module matrix.
    fn unrender(s: &str, invert: bool) -> Vec<Vec<bool>> {
        let mut rows = Vec::new();
        for line in s.lines() {
            let (mut top, mut bottom) = (Vec::new(), Vec::new());
            for c in line.chars() {
                let (t, b) = match c {
                    '█' => (true, true),
                    '▀' => (true, false),
                    '▄' => (false, true),
                    ' ' => (false, false),
                    other => panic!("unexpected {other:?}"),
                };
                // Ink marks light modules unless inverted.
                top.push(t == invert);
                bottom.push(b == invert);
            }
            rows.push(top);
            rows.push(bottom);
        }
        rows
    }

    #[test]
    fn terminal_rendering_matches_the_module_matrix() {
        let m = matrix(URI).unwrap();
        for invert in [false, true] {
            let drawn = unrender(&terminal(URI, invert).unwrap(), invert);
            assert_eq!(&drawn[..m.len()], &m[..], "invert={invert}");
            // The padding row of an odd matrix is light.
            assert!(drawn[m.len()..].iter().all(|r| r.iter().all(|d| !d)));
        }
        // The finder pattern's corner module is dark, right inside the quiet zone.
        assert!(m[QUIET_ZONE][QUIET_ZONE]);
        assert!(!m[0][0]);
    }

    #[test]
    fn png_has_the_expected_size_and_pixels() {
        let m = matrix(URI).unwrap();
        let bytes = png(URI, 4).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        let img = image::load_from_memory(&bytes).unwrap().to_luma8();
        assert_eq!(img.width() as usize, m.len() * 4);
        assert_eq!(img.height() as usize, m.len() * 4);
        // Every module's pixel matches the matrix.
        for (y, row) in m.iter().enumerate() {
            for (x, &dark) in row.iter().enumerate() {
                let p = img.get_pixel(x as u32 * 4 + 1, y as u32 * 4 + 1)[0];
                assert_eq!(p < 128, dark, "module ({x},{y})");
            }
        }
    }

    /// Decodes a QR code from a luminance image with an independent reader.
    fn decode(width: usize, height: usize, dark_at: impl Fn(usize, usize) -> bool) -> String {
        let mut img = rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| {
            if dark_at(x, y) { 0 } else { 255 }
        });
        let grids = img.detect_grids();
        assert_eq!(grids.len(), 1, "one QR code in the picture");
        grids[0].decode().expect("a readable QR code").1
    }

    #[test]
    fn png_decodes_back_to_the_uri() {
        let bytes = png(URI, 4).unwrap();
        let img = image::load_from_memory(&bytes).unwrap().to_luma8();
        let (w, h) = (img.width() as usize, img.height() as usize);
        assert_eq!(
            decode(w, h, |x, y| img.get_pixel(x as u32, y as u32)[0] < 128),
            URI
        );
    }

    #[test]
    fn terminal_drawing_decodes_back_to_the_uri() {
        for invert in [false, true] {
            let m = unrender(&terminal(URI, invert).unwrap(), invert);
            // Each module as a 3×3 pixel block, as a camera would see it.
            let side = m[0].len() * 3;
            let got = decode(side, m.len() * 3, |x, y| m[y / 3][x / 3]);
            assert_eq!(got, URI, "invert={invert}");
        }
    }

    #[test]
    fn secret_in_groups_of_four() {
        assert_eq!(group_secret("JBSWY3DPEHPK3PXP"), "JBSW Y3DP EHPK 3PXP");
        assert_eq!(group_secret("ABCDEF"), "ABCD EF");
        assert_eq!(group_secret(" AB CD "), "ABCD");
        assert_eq!(group_secret(""), "");
    }
}
