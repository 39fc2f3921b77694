//! How a souvenir is encoded: JPEG or PNG (`SOUVENIR_FORMAT`).

use std::fmt;
use std::str::FromStr;

use image::codecs::png::{CompressionType, FilterType as PngFilter, PngEncoder};
use image::{ImageEncoder, RgbImage};

use super::card::RenderError;

/// JPEG quality: small enough for a crowded stadium network, no visible blocking.
pub const JPEG_QUALITY: u8 = 85;

/// The encoding of a souvenir (`SOUVENIR_FORMAT`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    #[default]
    Jpeg,
    Png,
}

impl Format {
    /// `jpg` or `png`, as in `souvenirs/{game_id}.jpg`.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Jpeg => "jpg",
            Self::Png => "png",
        }
    }

    /// `image/jpeg` or `image/png`.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Jpeg => "jpeg",
            Self::Png => "png",
        })
    }
}

/// Parses `jpeg`, `jpg` or `png` (any case), as `SOUVENIR_FORMAT` holds.
impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "jpeg" | "jpg" => Ok(Self::Jpeg),
            "png" => Ok(Self::Png),
            _ => Err(UnknownFormat(s.to_owned())),
        }
    }
}

/// A souvenir format other than `jpeg` or `png`.
#[derive(Debug, thiserror::Error)]
#[error("unknown souvenir format {0:?}: expected jpeg or png")]
pub struct UnknownFormat(pub String);

/// Encodes a souvenir: JPEG at [`JPEG_QUALITY`] (baseline, chroma at half
/// resolution both ways, as cameras and browsers expect), or PNG with fast
/// compression. JPEG goes through the `jpeg-encoder` crate, with its AVX2
/// code where the processor has it: about three times faster than
/// `image`'s own encoder.
pub fn encode(image: &RgbImage, format: Format) -> Result<Vec<u8>, RenderError> {
    let (w, h) = image.dimensions();
    // A photographic 1080² JPEG is ~200–400 KB; PNG several MB.
    let mut out = Vec::with_capacity(match format {
        Format::Jpeg => 512 * 1024,
        Format::Png => 3 * 1024 * 1024,
    });
    match format {
        Format::Jpeg => {
            let (w, h) = (
                u16::try_from(w).map_err(|_| RenderError::InvalidSize(w))?,
                u16::try_from(h).map_err(|_| RenderError::InvalidSize(h))?,
            );
            let mut encoder = jpeg_encoder::Encoder::new(&mut out, JPEG_QUALITY);
            encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::R_4_2_0);
            encoder.encode(image.as_raw(), w, h, jpeg_encoder::ColorType::Rgb)?;
        }
        Format::Png => {
            PngEncoder::new_with_quality(&mut out, CompressionType::Fast, PngFilter::Adaptive)
                .write_image(image.as_raw(), w, h, image::ExtendedColorType::Rgb8)?
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_and_name_their_files() {
        assert_eq!("png".parse::<Format>().ok(), Some(Format::Png));
        assert_eq!("JPG".parse::<Format>().ok(), Some(Format::Jpeg));
        assert!("gif".parse::<Format>().is_err());
        assert_eq!(Format::Jpeg.extension(), "jpg");
        assert_eq!(Format::Png.content_type(), "image/png");
    }
}
