//! What is stored of a photo: its pixels, upright, encoded again in the
//! format it came in, and nothing else. A phone's photo carries EXIF (the
//! GPS position where it was taken, the device, the time) and often XMP;
//! the stored photo is served to every role through `photo_url`, so none of
//! it is kept. The EXIF orientation is applied by [`check`] before it is
//! dropped, so the photo still shows the right way up.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{DynamicImage, ImageResult};

use super::decode::{PhotoError, check};
use super::format::PhotoFormat;

/// The quality a JPEG photo is encoded again with: the loss is not seen on
/// a tablet or a souvenir, and a 12-megapixel photo stays a few megabytes.
pub const JPEG_QUALITY: u8 = 88;

/// A photo as it is stored: checked, upright, re-encoded without metadata.
#[derive(Clone, Debug)]
pub struct Cleaned {
    /// A JPEG (with only the encoder's JFIF header) or a PNG (with only the
    /// chunks of its pixels).
    pub bytes: Vec<u8>,
    pub format: PhotoFormat,
    /// After the EXIF orientation.
    pub width: u32,
    pub height: u32,
}

/// Checks an uploaded photo ([`check`]) and encodes it again: JPEG in, JPEG
/// out; PNG in, PNG out. CPU and memory work: call it inside
/// `gate::run`.
pub fn clean(bytes: &[u8]) -> Result<Cleaned, PhotoError> {
    let photo = check(bytes)?;
    let (width, height, format) = (photo.width, photo.height, photo.format);
    let bytes = encode(photo.image, format).map_err(|source| PhotoError::Encode { source })?;
    Ok(Cleaned {
        bytes,
        format,
        width,
        height,
    })
}

/// Writes the pixels alone: the encoders are given no EXIF, ICC profile or
/// text, so they write none.
fn encode(image: DynamicImage, format: PhotoFormat) -> ImageResult<Vec<u8>> {
    let mut out = Cursor::new(Vec::new());
    match format {
        PhotoFormat::Jpeg => {
            // A JPEG decodes to 8-bit grey or RGB; anything else (grey or
            // RGB with alpha) is written as RGB.
            let image = match image {
                DynamicImage::ImageLuma8(_) | DynamicImage::ImageRgb8(_) => image,
                other => DynamicImage::ImageRgb8(other.into_rgb8()),
            };
            let encoder = JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY);
            image.write_with_encoder(encoder)?;
        }
        PhotoFormat::Png => {
            // Any PNG the decoder gives (8 or 16 bits, grey or RGB, with or
            // without alpha) is written as it is.
            let encoder = PngEncoder::new_with_quality(
                &mut out,
                CompressionType::Default,
                FilterType::Adaptive,
            );
            image.write_with_encoder(encoder)?;
        }
    }
    Ok(out.into_inner())
}
