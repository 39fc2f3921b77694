//! Player photos, as uploaded with `PUT /api/v1/players/{id}/photo`.
//!
//! [`check`] accepts a JPEG or PNG body and decodes it under hard limits: the
//! format is sniffed from the magic bytes (the `Content-Type` a client sends
//! is not trusted), the dimensions are read from the header and refused
//! above [`MAX_SIDE`] and [`MAX_PIXELS`] *before* any pixel buffer is
//! allocated, and the decode itself runs under [`image::Limits`]. A corrupt,
//! truncated or hostile file is an error, never a panic or an unbounded
//! allocation. The messages of [`PhotoError`] are fit to show a client in a
//! 422.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};

/// The largest body `PUT /api/v1/players/{id}/photo` accepts.
pub const MAX_PHOTO_BYTES: usize = 10 * 1024 * 1024;
/// The largest width or height accepted, in pixels.
pub const MAX_SIDE: u32 = 8000;
/// The largest number of pixels accepted (40 megapixels).
pub const MAX_PIXELS: u64 = 40_000_000;
/// What the decoder may allocate, output buffer included.
pub const MAX_DECODE_ALLOC: u64 = 256 * 1024 * 1024;

const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";
const JPEG_MAGIC: &[u8] = &[0xFF, 0xD8, 0xFF];

/// The formats a photo may have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PhotoFormat {
    Jpeg,
    Png,
}

impl PhotoFormat {
    /// Sniffs the format from the magic bytes.
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        if bytes.starts_with(JPEG_MAGIC) {
            Some(Self::Jpeg)
        } else if bytes.starts_with(PNG_MAGIC) {
            Some(Self::Png)
        } else {
            None
        }
    }

    /// `image/jpeg` or `image/png`.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
        }
    }

    /// `jpg` or `png`.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Jpeg => "jpg",
            Self::Png => "png",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Jpeg => "JPEG",
            Self::Png => "PNG",
        }
    }

    fn image_format(self) -> ImageFormat {
        match self {
            Self::Jpeg => ImageFormat::Jpeg,
            Self::Png => ImageFormat::Png,
        }
    }
}

/// A photo that decoded within the limits.
#[derive(Clone, Debug)]
pub struct Photo {
    /// The decoded pixels, turned upright when a JPEG carries an EXIF
    /// orientation (as phone cameras write).
    pub image: DynamicImage,
    pub format: PhotoFormat,
    /// Width and height of `image` (after the EXIF orientation).
    pub width: u32,
    pub height: u32,
}

impl Photo {
    /// `image/jpeg` or `image/png`.
    pub fn content_type(&self) -> &'static str {
        self.format.content_type()
    }
}

/// Why a photo was refused. The messages complete "the photo …" and are
/// meant for a client (a 422); the source of a decode error is for logs.
#[derive(Debug, thiserror::Error)]
pub enum PhotoError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most 10 MiB (this one is {bytes} bytes)")]
    TooLarge { bytes: usize },
    #[error("must be a JPEG or PNG image")]
    UnsupportedFormat,
    #[error(
        "must be at most {MAX_SIDE} pixels a side and 40 megapixels \
         (this one is {width}×{height})"
    )]
    TooManyPixels { width: u32, height: u32 },
    #[error("has an invalid size ({width}×{height})")]
    InvalidDimensions { width: u32, height: u32 },
    #[error("is too large to decode")]
    TooMuchMemory,
    #[error("could not be decoded: the {format} file is corrupt or truncated")]
    Corrupt {
        format: &'static str,
        #[source]
        source: image::ImageError,
    },
}

/// Checks and decodes an uploaded photo: a JPEG or a PNG of at most
/// [`MAX_PHOTO_BYTES`], [`MAX_SIDE`] pixels a side and [`MAX_PIXELS`] pixels
/// that decodes completely.
pub fn check(bytes: &[u8]) -> Result<Photo, PhotoError> {
    if bytes.is_empty() {
        return Err(PhotoError::Empty);
    }
    if bytes.len() > MAX_PHOTO_BYTES {
        return Err(PhotoError::TooLarge { bytes: bytes.len() });
    }
    let format = PhotoFormat::sniff(bytes).ok_or(PhotoError::UnsupportedFormat)?;
    let corrupt = |source: image::ImageError| match source {
        image::ImageError::Limits(_) => PhotoError::TooMuchMemory,
        source => PhotoError::Corrupt {
            format: format.name(),
            source,
        },
    };

    // First from our own reading of the header, which allocates nothing and
    // gives the client the actual dimensions in the message…
    if let Some((width, height)) = header_dimensions(bytes, format) {
        check_dimensions(width, height)?;
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format.image_format());
    reader.limits(limits());
    // …then from the decoder's, which has read the header and nothing else:
    // no pixel buffer exists yet.
    let mut decoder = reader.into_decoder().map_err(corrupt)?;
    let (width, height) = decoder.dimensions();
    check_dimensions(width, height)?;
    // e.g. a 16-bit RGBA PNG of 40 megapixels needs 320 MB.
    if decoder.total_bytes() > MAX_DECODE_ALLOC {
        return Err(PhotoError::TooMuchMemory);
    }
    // A missing or unreadable EXIF orientation is not worth refusing a photo.
    let orientation = decoder.orientation().ok();
    let mut image = DynamicImage::from_decoder(decoder).map_err(corrupt)?;
    if let Some(orientation) = orientation {
        image.apply_orientation(orientation);
    }
    Ok(Photo {
        width: image.width(),
        height: image.height(),
        image,
        format,
    })
}

fn check_dimensions(width: u32, height: u32) -> Result<(), PhotoError> {
    if width == 0 || height == 0 {
        return Err(PhotoError::InvalidDimensions { width, height });
    }
    if width > MAX_SIDE || height > MAX_SIDE || u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(PhotoError::TooManyPixels { width, height });
    }
    Ok(())
}

/// Width and height as the header states them, or `None` when the header
/// cannot be read (the decoder then says why).
fn header_dimensions(bytes: &[u8], format: PhotoFormat) -> Option<(u32, u32)> {
    let be16 = |at: usize| Some(u16::from_be_bytes(bytes.get(at..at + 2)?.try_into().ok()?));
    let be32 = |at: usize| Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?));
    match format {
        // The IHDR chunk comes first: length 13, "IHDR", width, height.
        PhotoFormat::Png => {
            if be32(8)? != 13 || bytes.get(12..16)? != b"IHDR" {
                return None;
            }
            Some((be32(16)?, be32(20)?))
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
                    // Length, precision, then height and width.
                    let height = be16(at + 3)?;
                    let width = be16(at + 5)?;
                    return Some((u32::from(width), u32::from(height)));
                }
                at += len;
            }
        }
    }
}

fn limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    limits
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageBuffer, Rgb, RgbImage};
    use proptest::prelude::*;

    fn sample_image(w: u32, h: u32) -> RgbImage {
        ImageBuffer::from_fn(w, h, |x, y| Rgb([(x * 7) as u8, (y * 5) as u8, 128]))
    }

    fn encode(img: &RgbImage, format: ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, format).expect("encodes");
        out.into_inner()
    }

    fn png(w: u32, h: u32) -> Vec<u8> {
        encode(&sample_image(w, h), ImageFormat::Png)
    }

    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                let mask = (crc & 1).wrapping_neg();
                crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
            }
        }
        !crc
    }

    fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&u32::try_from(data.len()).expect("small").to_be_bytes());
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let mut crc_input = kind.to_vec();
        crc_input.extend_from_slice(data);
        out.extend_from_slice(&crc32(&crc_input).to_be_bytes());
        out
    }

    /// A PNG whose IHDR claims `w`×`h` 8-bit RGB, with a tiny (short) IDAT.
    fn png_claiming(w: u32, h: u32) -> Vec<u8> {
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&w.to_be_bytes());
        ihdr.extend_from_slice(&h.to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
        let mut out = PNG_MAGIC.to_vec();
        out.extend(chunk(b"IHDR", &ihdr));
        // A zlib stream of a few zero bytes: far fewer than the header promises.
        out.extend(chunk(
            b"IDAT",
            &[0x78, 0x9C, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01],
        ));
        out.extend(chunk(b"IEND", &[]));
        out
    }

    #[test]
    fn header_dimensions_match_the_decoder() {
        let jpeg = encode(&sample_image(64, 48), ImageFormat::Jpeg);
        assert_eq!(header_dimensions(&jpeg, PhotoFormat::Jpeg), Some((64, 48)));
        assert_eq!(
            header_dimensions(&png(40, 30), PhotoFormat::Png),
            Some((40, 30))
        );
        assert_eq!(header_dimensions(&jpeg[..20], PhotoFormat::Jpeg), None);
        assert_eq!(
            header_dimensions(&png(40, 30)[..20], PhotoFormat::Png),
            None
        );
    }

    #[test]
    fn refuses_a_huge_jpeg_header_before_decoding() {
        let mut jpeg = encode(&sample_image(64, 48), ImageFormat::Jpeg);
        let sof = jpeg
            .windows(2)
            .position(|w| w == [0xFF, 0xC0])
            .expect("a baseline JPEG has SOF0");
        // Length (2), precision (1), then height and width.
        jpeg[sof + 5..sof + 9].copy_from_slice(&[0xEA, 0x60, 0xEA, 0x60]);
        let err = check(&jpeg).expect_err("too large");
        assert!(
            matches!(
                err,
                PhotoError::TooManyPixels {
                    width: 60_000,
                    height: 60_000
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn crc32_matches_the_known_value() {
        assert_eq!(crc32(b"IEND"), 0xAE42_6082);
    }

    #[test]
    fn accepts_a_png() {
        let photo = check(&png(40, 30)).expect("valid PNG");
        assert_eq!(photo.format, PhotoFormat::Png);
        assert_eq!((photo.width, photo.height), (40, 30));
        assert_eq!(photo.image.width(), 40);
        assert_eq!(photo.content_type(), "image/png");
    }

    #[test]
    fn accepts_a_jpeg() {
        let bytes = encode(&sample_image(64, 48), ImageFormat::Jpeg);
        let photo = check(&bytes).expect("valid JPEG");
        assert_eq!(photo.format, PhotoFormat::Jpeg);
        assert_eq!((photo.width, photo.height), (64, 48));
        assert_eq!(photo.content_type(), "image/jpeg");
    }

    #[test]
    fn refuses_empty_input() {
        assert!(matches!(check(&[]), Err(PhotoError::Empty)));
    }

    #[test]
    fn refuses_a_body_over_the_cap() {
        let mut bytes = png(2, 2);
        bytes.resize(MAX_PHOTO_BYTES + 1, 0);
        assert!(matches!(check(&bytes), Err(PhotoError::TooLarge { .. })));
    }

    #[test]
    fn refuses_a_truncated_png() {
        let bytes = png(100, 100);
        for len in [8, 20, 33, bytes.len() / 2, bytes.len() - 13] {
            let err = check(&bytes[..len]).expect_err("truncated");
            assert!(
                matches!(err, PhotoError::Corrupt { format: "PNG", .. }),
                "{len}: {err:?}"
            );
        }
    }

    #[test]
    fn refuses_a_huge_png_header_before_decoding() {
        let err = check(&png_claiming(30_000, 30_000)).expect_err("too large");
        assert!(
            matches!(
                err,
                PhotoError::TooManyPixels {
                    width: 30_000,
                    height: 30_000
                }
            ),
            "{err:?}"
        );
        // Within each side's limit, but 8000×6000 = 48 megapixels.
        let err = check(&png_claiming(8000, 6000)).expect_err("too many pixels");
        assert!(
            matches!(
                err,
                PhotoError::TooManyPixels {
                    width: 8000,
                    height: 6000
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("8000×6000"), "{err}");
    }

    #[test]
    fn a_header_within_limits_with_too_little_data_is_corrupt() {
        let err = check(&png_claiming(2000, 2000)).expect_err("short IDAT");
        assert!(matches!(err, PhotoError::Corrupt { .. }), "{err:?}");
    }

    #[test]
    fn refuses_a_gif() {
        let gif = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";
        let err = check(gif).expect_err("GIF");
        assert!(matches!(err, PhotoError::UnsupportedFormat));
        assert_eq!(err.to_string(), "must be a JPEG or PNG image");
    }

    #[test]
    fn refuses_random_bytes() {
        let bytes: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        assert!(matches!(check(&bytes), Err(PhotoError::UnsupportedFormat)));
        // Random bytes behind a JPEG or PNG signature.
        for magic in [JPEG_MAGIC, PNG_MAGIC] {
            let mut forged = magic.to_vec();
            forged.extend_from_slice(&bytes);
            assert!(check(&forged).is_err());
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = check(&bytes);
        }

        #[test]
        fn arbitrary_bytes_behind_a_signature_never_panic(
            jpeg in any::<bool>(),
            bytes in proptest::collection::vec(any::<u8>(), 0..2048),
        ) {
            let mut input = if jpeg { JPEG_MAGIC.to_vec() } else { PNG_MAGIC.to_vec() };
            input.extend_from_slice(&bytes);
            let _ = check(&input);
        }

        #[test]
        fn mutations_of_a_valid_png_never_panic(
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..16),
            cut in any::<prop::sample::Index>(),
            truncate in any::<bool>(),
        ) {
            let mut bytes = png(32, 24);
            for (at, value) in edits {
                let i = at.index(bytes.len());
                bytes[i] = value;
            }
            if truncate {
                let len = cut.index(bytes.len());
                bytes.truncate(len);
            }
            if let Ok(photo) = check(&bytes) {
                prop_assert!(photo.width <= MAX_SIDE && photo.height <= MAX_SIDE);
            }
        }

        #[test]
        fn mutations_of_a_valid_jpeg_never_panic(
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..16),
        ) {
            let mut bytes = encode(&sample_image(32, 24), ImageFormat::Jpeg);
            for (at, value) in edits {
                let i = at.index(bytes.len());
                bytes[i] = value;
            }
            let _ = check(&bytes);
        }
    }

    /// Widths and heights around the limits, small ones, and anything.
    fn any_side() -> impl Strategy<Value = u32> {
        prop_oneof![
            0u32..=64,
            (MAX_SIDE - 3)..=(MAX_SIDE + 3),
            4990u32..=5010,
            any::<u32>(),
        ]
    }

    fn within_limits(width: u32, height: u32) -> bool {
        width > 0
            && height > 0
            && width <= MAX_SIDE
            && height <= MAX_SIDE
            && u64::from(width) * u64::from(height) <= MAX_PIXELS
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Whatever size a PNG header claims, the answer is the right
        /// refusal: a zero side is invalid, a size beyond the limits is
        /// refused with the claimed size (before any pixel buffer exists),
        /// and a size within them fails on the missing pixel data.
        #[test]
        fn any_png_header_size_is_refused_for_the_right_reason(width in any_side(), height in any_side()) {
            let err = check(&png_claiming(width, height)).expect_err("no pixel data");
            if width == 0 || height == 0 {
                prop_assert!(matches!(err, PhotoError::InvalidDimensions { .. }), "{:?}", err);
            } else if !within_limits(width, height) {
                prop_assert!(
                    matches!(err, PhotoError::TooManyPixels { width: w, height: h } if w == width && h == height),
                    "{:?}", err
                );
            } else {
                prop_assert!(
                    matches!(err, PhotoError::Corrupt { .. } | PhotoError::TooMuchMemory),
                    "{:?}", err
                );
            }
        }

        /// A real JPEG whose frame header is rewritten to any size: never a
        /// panic, never a decode beyond the limits, and what decodes has
        /// the size the header states.
        #[test]
        fn any_jpeg_frame_size_stays_within_the_limits(
            width in prop_oneof![1u16..=96, 7990u16..=8010, any::<u16>()],
            height in prop_oneof![1u16..=96, 7990u16..=8010, any::<u16>()],
        ) {
            let mut jpeg = encode(&sample_image(64, 48), ImageFormat::Jpeg);
            let sof = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).expect("SOF0");
            jpeg[sof + 5..sof + 7].copy_from_slice(&height.to_be_bytes());
            jpeg[sof + 7..sof + 9].copy_from_slice(&width.to_be_bytes());
            let (width, height) = (u32::from(width), u32::from(height));
            match check(&jpeg) {
                Ok(photo) => {
                    prop_assert!(within_limits(width, height), "decoded {}×{}", width, height);
                    prop_assert_eq!((photo.width, photo.height), (width, height));
                    prop_assert_eq!((photo.image.width(), photo.image.height()), (width, height));
                }
                Err(PhotoError::TooManyPixels { width: w, height: h }) => {
                    prop_assert!(!within_limits(width, height));
                    prop_assert_eq!((w, h), (width, height));
                }
                Err(e) => {
                    prop_assert!(within_limits(width, height), "{}×{}: {:?}", width, height, e);
                    prop_assert!(matches!(e, PhotoError::Corrupt { .. } | PhotoError::TooMuchMemory), "{:?}", e);
                }
            }
        }
    }
}
