//! The decode of an uploaded photo under the limits, and why one is refused.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageReader};

use super::format::PhotoFormat;
use super::limits::{self, MAX_DECODE_ALLOC, MAX_PHOTO_BYTES, MAX_PIXELS, MAX_SIDE};

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
        "must be at most {MAX_SIDE} pixels a side and 4096×3072 pixels in all \
         (this one is {width}×{height})"
    )]
    TooManyPixels { width: u32, height: u32 },
    #[error("has an invalid size ({width}×{height})")]
    InvalidDimensions { width: u32, height: u32 },
    #[error(
        "is too large to decode: at this size it must be an 8-bit image \
         (and a JPEG must not be progressive)"
    )]
    TooMuchMemory,
    #[error("could not be decoded: the {format} file is corrupt or truncated")]
    Corrupt {
        format: &'static str,
        #[source]
        source: image::ImageError,
    },
    /// Not the client's doing: the decoded photo could not be written again.
    #[error("could not be stored")]
    Encode {
        #[source]
        source: image::ImageError,
    },
}

/// Checks and decodes an uploaded photo: a JPEG or a PNG of at most
/// [`MAX_PHOTO_BYTES`], [`MAX_SIDE`] pixels a side, [`MAX_PIXELS`] pixels
/// and [`MAX_DECODE_ALLOC`] bytes decoded that decodes completely. CPU and
/// memory work: call it inside [`gate::run`].
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

    // First from our own reading of the header, which allocates nothing,
    // gives the client the actual dimensions in the message, and counts
    // what the decoder will need beyond its output (a progressive JPEG's
    // coefficients)…
    if let Some(header) = limits::header(bytes, format) {
        check_dimensions(header.width, header.height)?;
        if header.decode_bytes() > MAX_DECODE_ALLOC {
            return Err(PhotoError::TooMuchMemory);
        }
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format.image_format());
    reader.limits(limits::limits());
    // …then from the decoder's, which has read the header and nothing else:
    // no pixel buffer exists yet.
    let mut decoder = reader.into_decoder().map_err(corrupt)?;
    let (width, height) = decoder.dimensions();
    check_dimensions(width, height)?;
    // e.g. a 16-bit RGBA PNG of 12 megapixels needs 96 MB.
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

pub(super) fn check_dimensions(width: u32, height: u32) -> Result<(), PhotoError> {
    if width == 0 || height == 0 {
        return Err(PhotoError::InvalidDimensions { width, height });
    }
    if width > MAX_SIDE || height > MAX_SIDE || u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(PhotoError::TooManyPixels { width, height });
    }
    Ok(())
}
