//! How large a photo may be, and the reading of its header that refuses a
//! larger one before any pixel buffer exists.
//!
//! A souvenir needs no more than a phone photo: 12 megapixels, 8 bits a
//! channel. The limits are set for that, with room for the 4032×3024 and
//! 4080×3072 of common phone cameras, so that one decode needs at most
//! [`MAX_DECODE_ALLOC`] however the file is made: a small, highly
//! compressed PNG can claim a large, 16-bit image, and the header says so.

use image::Limits;

use super::format::PhotoFormat;

/// The largest body `PUT /api/v1/players/{id}/photo` accepts.
pub const MAX_PHOTO_BYTES: usize = 10 * 1024 * 1024;
/// The largest width or height accepted, in pixels.
pub const MAX_SIDE: u32 = 4096;
/// The largest number of pixels accepted: 4096×3072, about 12.6 megapixels.
pub const MAX_PIXELS: u64 = 4096 * 3072;
/// What one decode may need for its pixels: a [`MAX_PIXELS`] photo at
/// 8-bit RGBA (48 MiB) and some headroom. A 16-bit image or a progressive
/// JPEG needs more per pixel, and so must be smaller.
pub const MAX_DECODE_ALLOC: u64 = 64 * 1024 * 1024;

/// What a header states: the size, and the most bytes each pixel can take
/// while decoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Header {
    pub width: u32,
    pub height: u32,
    pub bytes_per_pixel: u64,
}

impl Header {
    /// What decoding it may need for its pixels, in bytes.
    pub fn decode_bytes(&self) -> u64 {
        u64::from(self.width) * u64::from(self.height) * self.bytes_per_pixel
    }
}

/// What the decoder itself enforces (its output buffer included).
pub(super) fn limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    limits
}

/// Width and height as the header states them, or `None` when the header
/// cannot be read (the decoder then says why).
#[cfg(test)]
pub(super) fn header_dimensions(bytes: &[u8], format: PhotoFormat) -> Option<(u32, u32)> {
    header(bytes, format).map(|h| (h.width, h.height))
}

/// The header, read by hand (nothing is allocated), or `None` when it
/// cannot be read (the decoder then says why).
pub(super) fn header(bytes: &[u8], format: PhotoFormat) -> Option<Header> {
    let be16 = |at: usize| Some(u16::from_be_bytes(bytes.get(at..at + 2)?.try_into().ok()?));
    let be32 = |at: usize| Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?));
    match format {
        // The IHDR chunk comes first: length 13, "IHDR", width, height, bit
        // depth, colour type.
        PhotoFormat::Png => {
            if be32(8)? != 13 || bytes.get(12..16)? != b"IHDR" {
                return None;
            }
            let depth = *bytes.get(24)?;
            // Channels after the decoder's expansion: a palette becomes RGB
            // or RGBA, and a transparent colour (tRNS) adds an alpha channel.
            let channels = match *bytes.get(25)? {
                0 | 4 => 2,
                2 | 3 | 6 => 4,
                _ => return None,
            };
            let sample = if depth == 16 { 2 } else { 1 };
            Some(Header {
                width: be32(16)?,
                height: be32(20)?,
                bytes_per_pixel: channels * sample,
            })
        }
        // Walk the marker segments up to the first start-of-frame.
        PhotoFormat::Jpeg => {
            let mut at = 2; // after SOI
            loop {
                if *bytes.get(at)? != 0xFF {
                    return None;
                }
                // Fill bytes may pad a marker.
                while *bytes.get(at + 1)? == 0xFF {
                    at += 1;
                }
                let marker = *bytes.get(at + 1)?;
                at += 2;
                match marker {
                    // Markers without a length.
                    0x01 | 0xD0..=0xD7 => continue,
                    // Start of scan or end of image before any frame header.
                    0xDA | 0xD9 => return None,
                    _ => {}
                }
                let len = usize::from(be16(at)?);
                if len < 2 {
                    return None;
                }
                // SOF0–SOF15, except DHT (C4), JPG (C8) and DAC (CC).
                if matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) {
                    // Length, precision, height, width, components.
                    let precision = *bytes.get(at + 2)?;
                    let height = be16(at + 3)?;
                    let width = be16(at + 5)?;
                    let components = u64::from(*bytes.get(at + 7)?).clamp(1, 4);
                    let sample = if precision > 8 { 2 } else { 1 };
                    // A progressive frame (SOF2, 6, 10, 14) keeps every
                    // coefficient of the whole image, two bytes each, until
                    // its last scan.
                    let progressive = if matches!(marker, 0xC2 | 0xC6 | 0xCA | 0xCE) {
                        2 * components
                    } else {
                        0
                    };
                    return Some(Header {
                        width: u32::from(width),
                        height: u32::from(height),
                        bytes_per_pixel: components * sample + progressive,
                    });
                }
                at += len;
            }
        }
    }
}
