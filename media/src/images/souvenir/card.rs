//! What goes on a souvenir ([`Souvenir`]), the sides it may have, and what
//! can go wrong rendering it.

use image::DynamicImage;

/// The side of a souvenir when `SOUVENIR_SIZE` is not set.
pub const DEFAULT_SIZE: u32 = 1080;
/// The smallest side [`render`](super::render) accepts (below it the text
/// is not legible).
pub const MIN_SIZE: u32 = 200;
/// The largest side [`render`](super::render) accepts.
pub const MAX_SIZE: u32 = 4096;

/// What goes on a souvenir.
#[derive(Clone, Copy, Debug)]
pub struct Souvenir<'a> {
    pub first_name: &'a str,
    pub last_name: Option<&'a str>,
    pub team: Option<&'a str>,
    pub show: &'a str,
    pub score: i32,
    pub distance: i32,
    pub homeruns: i32,
    pub photo: Option<&'a DynamicImage>,
}

impl<'a> Souvenir<'a> {
    /// A typical souvenir, for tests and the render benchmark.
    pub fn sample(photo: Option<&'a DynamicImage>) -> Self {
        Souvenir {
            first_name: "Ada",
            last_name: Some("Lovelace"),
            team: Some("Sluggers"),
            show: "Friday Night Lights",
            score: 1234,
            distance: 410,
            homeruns: 4,
            photo,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("souvenir size {0} is outside {MIN_SIZE}..={MAX_SIZE}")]
    InvalidSize(u32),
    #[error("the embedded font cannot be read")]
    Font,
    #[error("encoding the souvenir failed")]
    Encode(#[from] image::ImageError),
    #[error("encoding the souvenir as JPEG failed")]
    EncodeJpeg(#[from] jpeg_encoder::EncodingError),
}
