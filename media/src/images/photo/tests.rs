//! The photo module's tests: decoding under the limits, the header's
//! reading, and the re-encoding that drops metadata.

use std::io::Cursor;

use super::format::{JPEG_MAGIC, PNG_MAGIC};
use super::limits::{Header, header, header_dimensions};
use super::*;
use image::{ImageBuffer, ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};
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
    // Within each side's limit, but 4000×4000 = 16 megapixels.
    let err = check(&png_claiming(4000, 4000)).expect_err("too many pixels");
    assert!(
        matches!(
            err,
            PhotoError::TooManyPixels {
                width: 4000,
                height: 4000
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("4000×4000"), "{err}");
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
        // Where the longer side at MAX_SIDE meets MAX_PIXELS.
        ((MAX_PIXELS / u64::from(MAX_SIDE)) as u32 - 10)
            ..=((MAX_PIXELS / u64::from(MAX_SIDE)) as u32 + 10),
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
        width in prop_oneof![1u16..=96, 4086u16..=4106, any::<u16>()],
        height in prop_oneof![1u16..=96, 4086u16..=4106, any::<u16>()],
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

/// A PNG signature and IHDR: `w`×`h`, this bit depth and colour type,
/// and no pixel data.
fn png_ihdr(w: u32, h: u32, depth: u8, colour: u8) -> Vec<u8> {
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend(h.to_be_bytes());
    ihdr.extend([depth, colour, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend(chunk(b"IHDR", &ihdr));
    out
}

#[test]
fn sixteen_bits_count_double_before_decoding() {
    // 3000×3000 is within the pixel limits: as 8-bit RGB it gets to the
    // decoder (which finds no pixels), as 16-bit RGB (72 MB) it does not.
    let eight = check(&png_ihdr(3000, 3000, 8, 2)).expect_err("no pixels");
    assert!(matches!(eight, PhotoError::Corrupt { .. }), "{eight:?}");
    let sixteen = check(&png_ihdr(3000, 3000, 16, 2)).expect_err("too much");
    assert!(matches!(sixteen, PhotoError::TooMuchMemory), "{sixteen:?}");
    let header = header(&png_ihdr(3000, 3000, 16, 6), PhotoFormat::Png).expect("reads");
    assert_eq!(header.bytes_per_pixel, 8);
    // The largest photo at 8 bits, with alpha, fits.
    let most = Header {
        width: MAX_SIDE,
        height: (MAX_PIXELS / u64::from(MAX_SIDE)) as u32,
        bytes_per_pixel: 4,
    };
    assert!(most.decode_bytes() <= MAX_DECODE_ALLOC);
}

#[test]
fn a_progressive_jpeg_counts_its_coefficients() {
    // SOI, then a frame header: length 17, 8-bit, 3072×4096, 3 components.
    let frame = |marker: u8| {
        let mut jpeg = vec![
            0xFF, 0xD8, 0xFF, marker, 0x00, 0x11, 8, 0x0C, 0x00, 0x10, 0x00, 3,
        ];
        jpeg.extend([1, 0x11, 0, 2, 0x11, 1, 3, 0x11, 1]);
        jpeg
    };
    let baseline = header(&frame(0xC0), PhotoFormat::Jpeg).expect("reads");
    assert_eq!((baseline.width, baseline.height), (4096, 3072));
    assert_eq!(baseline.bytes_per_pixel, 3);
    assert!(baseline.decode_bytes() <= MAX_DECODE_ALLOC);
    let progressive = header(&frame(0xC2), PhotoFormat::Jpeg).expect("reads");
    assert_eq!(progressive.bytes_per_pixel, 9);
    assert!(progressive.decode_bytes() > MAX_DECODE_ALLOC);
    assert!(matches!(
        check(&frame(0xC2)),
        Err(PhotoError::TooMuchMemory)
    ));
}

/// A JPEG's segments before its scan: (marker, payload).
fn segments(jpeg: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    let mut at = 2;
    while at + 4 <= jpeg.len() && jpeg[at] == 0xFF {
        let marker = jpeg[at + 1];
        let len = usize::from(u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]));
        out.push((marker, jpeg[at + 4..at + 2 + len].to_vec()));
        if marker == 0xDA {
            break;
        }
        at += 2 + len;
    }
    out
}

/// A TIFF (big-endian) with one IFD: the orientation, a GPS IFD
/// pointer, and a GPS IFD with a latitude reference.
fn exif(orientation: u16) -> Vec<u8> {
    let mut tiff = b"MM\x00\x2A\x00\x00\x00\x08".to_vec();
    let entry = |tag: u16, kind: u16, count: u32, value: u32| {
        let mut e = tag.to_be_bytes().to_vec();
        e.extend(kind.to_be_bytes());
        e.extend(count.to_be_bytes());
        e.extend(value.to_be_bytes());
        e
    };
    tiff.extend(2u16.to_be_bytes());
    // Orientation: SHORT, left-justified in the value field.
    tiff.extend(entry(0x0112, 3, 1, u32::from(orientation) << 16));
    // GPSInfo: the GPS IFD at offset 38 (8 + 2 + 2×12 + 4).
    tiff.extend(entry(0x8825, 4, 1, 38));
    tiff.extend(0u32.to_be_bytes());
    tiff.extend(1u16.to_be_bytes());
    // GPSLatitudeRef "N".
    tiff.extend(entry(0x0001, 2, 2, u32::from_be_bytes(*b"N\0\0\0")));
    tiff.extend(0u32.to_be_bytes());
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend(tiff);
    app1
}

/// `jpeg` with an APP1 EXIF segment right after SOI.
fn with_exif(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    let payload = exif(orientation);
    let mut out = jpeg[..2].to_vec();
    out.extend([0xFF, 0xE1]);
    out.extend(
        u16::try_from(payload.len() + 2)
            .expect("small")
            .to_be_bytes(),
    );
    out.extend(payload);
    out.extend_from_slice(&jpeg[2..]);
    out
}

fn jpeg(w: u32, h: u32) -> Vec<u8> {
    let img = RgbImage::from_fn(w, h, |x, _| Rgb([if x < w / 2 { 250 } else { 5 }, 90, 40]));
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Jpeg).expect("encodes");
    out.into_inner()
}

#[test]
fn a_jpeg_loses_its_exif_and_is_turned_upright() {
    let uploaded = with_exif(&jpeg(20, 10), 6);
    assert!(
        segments(&uploaded)
            .iter()
            .any(|(m, p)| *m == 0xE1 && p.starts_with(b"Exif")),
        "the upload carries EXIF"
    );
    let cleaned = clean(&uploaded).expect("cleans");
    assert_eq!(cleaned.format, PhotoFormat::Jpeg);
    // Orientation 6: turned a quarter clockwise, so 20×10 becomes 10×20.
    assert_eq!((cleaned.width, cleaned.height), (10, 20));
    let segments = segments(&cleaned.bytes);
    let app: Vec<u8> = segments
        .iter()
        .map(|(m, _)| *m)
        .filter(|m| (0xE1..=0xEF).contains(m) || *m == 0xFE)
        .collect();
    assert!(app.is_empty(), "no APP1–APP15 or COM: {app:x?}");
    assert!(!cleaned.bytes.windows(4).any(|w| w == b"Exif"));
    let back =
        image::load_from_memory_with_format(&cleaned.bytes, ImageFormat::Jpeg).expect("decodes");
    assert_eq!((back.width(), back.height()), (10, 20));
    // The bright left half of the upload is now the top half.
    let rgb = back.to_rgb8();
    assert!(rgb.get_pixel(5, 2)[0] > 200, "{:?}", rgb.get_pixel(5, 2));
    assert!(rgb.get_pixel(5, 17)[0] < 60, "{:?}", rgb.get_pixel(5, 17));
    // What is stored checks again as the same photo, with nothing to turn.
    let again = clean(&cleaned.bytes).expect("cleans again");
    assert_eq!((again.width, again.height), (10, 20));
}

#[test]
fn a_png_keeps_its_pixels_and_loses_its_text() {
    let img = RgbaImage::from_fn(30, 20, |x, y| Rgba([x as u8 * 8, y as u8 * 12, 7, 200]));
    let mut png = Cursor::new(Vec::new());
    img.write_to(&mut png, ImageFormat::Png).expect("encodes");
    let mut png = png.into_inner();
    // A tEXt chunk (which a camera app may fill) before IEND.
    let iend = png.len() - 12;
    png.splice(iend..iend, chunk(b"tEXt", b"Comment\0taken at 51.5N 0.1W"));
    assert!(png.windows(4).any(|w| w == b"tEXt"));
    let cleaned = clean(&png).expect("cleans");
    assert_eq!(cleaned.format, PhotoFormat::Png);
    assert!(!cleaned.bytes.windows(4).any(|w| w == b"tEXt"));
    let back =
        image::load_from_memory_with_format(&cleaned.bytes, ImageFormat::Png).expect("decodes");
    assert_eq!(back.to_rgba8(), img, "the same pixels");
}
